//! Hostile input: trees and files an attacker or an unlucky user prepared. Each case asserts the
//! behaviour (an `error` for that file, the rest of the scan intact, nothing quoted that must not
//! be); how fast the scan stays is measured in `bench/`, not here.

mod common;

use std::fs;
use std::path::Path;

use common::{scan_json, vigil};
use serde_json::Value;

fn findings(r: &Value) -> &Vec<Value> {
    r["findings"].as_array().unwrap()
}

/// The findings about files whose path ends with `suffix`.
fn about<'r>(r: &'r Value, suffix: &str) -> Vec<&'r Value> {
    findings(r)
        .iter()
        .filter(|f| {
            f["target"]["file"]
                .as_str()
                .is_some_and(|p| p.ends_with(suffix))
        })
        .collect()
}

/// Makes a FIFO at `path` (with the system's mkfifo: no unsafe code in tests).
fn mkfifo(path: &Path) -> std::path::PathBuf {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
    path.to_path_buf()
}

fn ssh_pack(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        dir.to_str().unwrap(),
        "--policy",
        "policies/ssh-hardening.yaml",
        "--fail-on",
        "none",
    ];
    args.extend_from_slice(extra);
    scan_json(&args)
}

#[test]
fn deep_nginx_nesting_is_an_error_for_that_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep/nginx.conf");
    fs::create_dir_all(deep.parent().unwrap()).unwrap();
    let depth = 10_000;
    let text = format!(
        "http {{ server {{ {} {} }} }}\n",
        "location /a { ".repeat(depth),
        "} ".repeat(depth)
    );
    fs::write(&deep, text).unwrap();
    let good = dir.path().join("good/nginx.conf");
    fs::create_dir_all(good.parent().unwrap()).unwrap();
    fs::copy(common::root("testdata/nginx/hardened/nginx.conf"), &good).unwrap();
    let (_, r) = scan_json(&[
        dir.path().to_str().unwrap(),
        "--policy",
        "policies/nginx-tls.yaml",
        "--fail-on",
        "none",
    ]);
    let deep = about(&r, "deep/nginx.conf");
    assert_eq!(deep.len(), 1, "{deep:?}");
    assert_eq!(deep[0]["state"], "error");
    assert!(
        deep[0]["message"]
            .as_str()
            .unwrap()
            .contains("nested more than 256 levels deep")
    );
    assert!(
        about(&r, "good/nginx.conf")
            .iter()
            .all(|f| f["state"] == "pass"),
        "the good file in the same tree is judged"
    );
}

#[test]
fn includes_of_devices_fifos_and_files_outside_the_scan_are_not_read() {
    let secret_dir = tempfile::tempdir().unwrap();
    let shadow = secret_dir.path().join("shadow");
    fs::write(
        &shadow,
        "root:$6$saltsalt$hashhashhashhash:19000:0:99999:7:::\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(&dir.path().join("pipe.conf"));
    for (name, include) in [
        ("zero", "/dev/zero".to_string()),
        ("fifo", fifo.display().to_string()),
        ("shadow", shadow.display().to_string()),
    ] {
        let d = dir.path().join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("sshd_config"),
            format!("PermitRootLogin no\nInclude {include}\n"),
        )
        .unwrap();
    }
    let (_, r) = ssh_pack(dir.path(), &[]);
    let text = r.to_string();
    assert!(
        !text.contains("saltsalt") && !text.contains("root:"),
        "no quote of the file"
    );
    for (name, why) in [
        (
            "zero/sshd_config",
            "outside the paths named on the command line",
        ),
        ("fifo/sshd_config", "not a regular file (a FIFO)"),
        (
            "shadow/sshd_config",
            "outside the paths named on the command line",
        ),
    ] {
        let found = about(&r, name);
        assert_eq!(found.len(), 1, "{name}: one error, not one per control");
        assert_eq!(found[0]["state"], "error");
        let message = found[0]["message"].as_str().unwrap();
        assert!(message.contains(why), "{name}: {message}");
    }
}

#[test]
fn drop_ins_obey_the_size_limit_and_messages_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    fs::create_dir_all(etc.join("sysctl.d")).unwrap();
    fs::write(etc.join("sysctl.conf"), "net.ipv4.ip_forward = 0\n").unwrap();
    fs::write(
        etc.join("sysctl.d/99-big.conf"),
        format!("kernel.x = {}\n", "y".repeat(200_000)),
    )
    .unwrap();
    let (_, r) = scan_json(&[
        etc.to_str().unwrap(),
        "--policy",
        "policies/linux-sysctl.yaml",
        "--max-file-size",
        "100K",
        "--fail-on",
        "none",
    ]);
    let errors: Vec<&Value> = findings(&r)
        .iter()
        .filter(|f| f["state"] == "error")
        .collect();
    assert!(!errors.is_empty());
    for e in &errors {
        let m = e["message"].as_str().unwrap();
        assert!(m.contains("above the --max-file-size limit"), "{m}");
    }

    // A line quoted by a parse error is cut, with its length.
    let long = dir.path().join("long");
    fs::create_dir_all(&long).unwrap();
    fs::write(
        long.join("sshd_config"),
        format!("{}\n", "x".repeat(100_000)),
    )
    .unwrap();
    let (_, r) = ssh_pack(&long, &[]);
    for f in findings(&r) {
        if let Some(m) = f["message"].as_str() {
            assert!(m.chars().count() < 1100, "{} characters", m.len());
        }
    }
    assert!(
        r.to_string().len() < 200_000,
        "the result does not copy the line"
    );
}

#[test]
fn secrets_are_redacted_from_every_control_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("ghp_{}", "Zx9Qw8Er7Ty6".repeat(3));
    let aws = "AKIAZ7QWERTYUIOPLKJH";
    fs::create_dir_all(dir.path().join("ssh")).unwrap();
    fs::write(
        dir.path().join("ssh/sshd_config"),
        format!("PermitRootLogin {token}\nBanner /etc/{aws}\n"),
    )
    .unwrap();
    fs::write(dir.path().join("dup.yaml"), format!("{aws}: 1\n{aws}: 2\n")).unwrap();
    let out = vigil(&[
        "scan",
        dir.path().to_str().unwrap(),
        "--format",
        "console,json,markdown,sarif,junit,html",
        "--output-dir",
        dir.path().join("out").to_str().unwrap(),
        "--fail-on",
        "none",
        "--verbose",
    ]);
    assert!(out.status.success() || out.status.code() == Some(1));
    let mut everything = String::from_utf8_lossy(&out.stdout).into_owned();
    everything.push_str(&String::from_utf8_lossy(&out.stderr));
    for f in fs::read_dir(dir.path().join("out")).unwrap() {
        everything.push_str(&fs::read_to_string(f.unwrap().path()).unwrap());
    }
    assert!(everything.contains("…[redacted, "));
    assert!(!everything.contains(&token[4..]), "the GitHub token leaks");
    assert!(!everything.contains(&aws[4..]), "the AWS key id leaks");
}

#[test]
fn control_characters_in_names_are_escaped_on_the_console_and_in_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\u{1b}[2J\rvigil: 0 controls; exit 0\n.txt";
    fs::write(dir.path().join(name), "TODO\n").unwrap();
    let policy = dir.path().join("p.yaml");
    fs::write(
        &policy,
        "policy: p\ntitle: t\nversion: '1'\ncontrols:\n  - id: P-1\n    title: No TODO\n    severity: high\n    references: {CWE: [CWE-1]}\n    rationale: r\n    remediation: m\n    target: {kind: file, paths: ['**/*.txt']}\n    check: {pattern: TODO}\n",
    )
    .unwrap();
    let md = dir.path().join("summary.md");
    for (format, output) in [("console", None), ("markdown", Some(&md))] {
        let mut args = vec![
            "scan",
            dir.path().to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            format,
        ];
        if let Some(o) = output {
            args.extend(["--output", o.to_str().unwrap()]);
        }
        let out = vigil(&args);
        let text = match output {
            Some(o) => fs::read_to_string(o).unwrap(),
            None => String::from_utf8(out.stdout).unwrap(),
        };
        assert!(!text.contains('\u{1b}'), "{format}: raw ESC");
        assert!(!text.contains('\r'), "{format}: raw CR");
        assert!(text.contains("\\x1b"), "{format}: {text}");
        let forged = text
            .lines()
            .filter(|l| l.starts_with("vigil: 0 controls"))
            .count();
        assert_eq!(forged, 0, "{format}: a forged summary line");
    }
}

#[test]
fn a_special_file_named_on_the_command_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(&dir.path().join("pipe"));
    let (_, r) = scan_json(&[fifo.to_str().unwrap(), "--fail-on", "none"]);
    let found: Vec<&Value> = findings(&r)
        .iter()
        .filter(|f| f["state"] != "not_applicable")
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["state"], "error");
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("a FIFO, not a regular file")
    );
}

/// A pattern too large for the scan's pattern sets is a policy error at its line and column, from
/// `vigil policy lint` as from `vigil scan`, not a scan that stops with no location.
#[test]
fn a_pattern_too_large_to_compile_is_reported_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = (0..150_000u32)
        .map(|i| format!("w{:08x}", i.wrapping_mul(2_654_435_761)))
        .collect();
    let policy = dir.path().join("p.yaml");
    fs::write(
        &policy,
        format!(
            "policy: a\ntitle: t\nversion: '1'\ncontrols:\n  - id: A-1\n    title: t\n    severity: low\n    references: {{CWE: [CWE-1]}}\n    rationale: r\n    remediation: m\n    target: {{kind: file, paths: ['**']}}\n    check: {{pattern: '(?:{})'}}\n",
            words.join("|")
        ),
    )
    .unwrap();
    for args in [
        vec!["policy", "lint", policy.to_str().unwrap()],
        vec!["scan", "testdata/ssh", "--policy", policy.to_str().unwrap()],
    ] {
        let out = vigil(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "p.yaml:12:22: error: invalid regular expression: Compiled regex exceeds size limit"
            ),
            "{err}"
        );
        assert!(err.len() < 5_000, "the excerpt is cut: {} bytes", err.len());
    }
}

/// A pattern whose automaton thrashes on a file is an `error` for that control on that file, found
/// at once (the matching budget), while the same pattern still judges a small file, and a pattern
/// too large for the regex crate's own search of that file is searched by the budgeted engines.
#[test]
fn a_pattern_over_its_matching_budget_is_an_error_for_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir(&tree).unwrap();
    fs::write(
        tree.join("letters.txt"),
        "a".repeat(1 << 20) + "\nmarker-42 marker-7\n",
    )
    .unwrap();
    fs::write(tree.join("small.txt"), "b".repeat(10_000) + "\n").unwrap();
    let control = |id: &str, pattern: &str| {
        format!(
            "  - id: {id}\n    title: t\n    severity: low\n    references: {{CWE: [CWE-1]}}\n    rationale: r\n    remediation: m\n    target: {{kind: file, paths: ['**']}}\n    check: {{pattern: '{pattern}'}}\n"
        )
    };
    let policy = dir.path().join("p.yaml");
    fs::write(
        &policy,
        format!(
            "policy: a\ntitle: t\nversion: '1'\ncontrols:\n{}{}",
            control("A-1", "(?:[a-z]{100}){100}"),
            control("A-2", "marker-[0-9]{1,300}")
        ),
    )
    .unwrap();
    let (code, r) = scan_json(&[
        tree.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--pass-evidence",
        "full",
    ]);
    assert_eq!(code, 1, "{r}");
    let verdict = |file: &str, control: &str| -> Vec<(String, String)> {
        about(&r, file)
            .into_iter()
            .filter(|f| f["control"] == control)
            .map(|f| {
                (
                    f["state"].as_str().unwrap().to_string(),
                    f["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let letters = verdict("letters.txt", "A-1");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].0, "error");
    assert!(
        letters[0].1.contains("exceeded its matching budget")
            && letters[0].1.contains("over 1048596 bytes"),
        "{letters:?}"
    );
    let small = verdict("small.txt", "A-1");
    assert_eq!(small.len(), 1, "{small:?}");
    assert_eq!(small[0].0, "fail", "a small file is judged: {small:?}");
    let found: Vec<(String, Value, String)> = about(&r, "letters.txt")
        .into_iter()
        .filter(|f| f["control"] == "A-2")
        .map(|f| {
            (
                f["state"].as_str().unwrap().to_string(),
                f["location"].clone(),
                f["observed"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "fail");
    assert_eq!(found[0].1["line"], 2);
    assert_eq!(found[0].1["column"], 1);
    assert_eq!(found[0].2, "marker-42");
    assert_eq!(found[1].1["column"], 11);
    assert_eq!(found[1].2, "marker-7");
}

/// Findings cost in proportion to their input: a file of 2,000 invalid PEM blocks gives one
/// `error` per block that names the controls it blocks in one short message (not one error per
/// control and block), and a Deployment of 2,000 containers one finding per failing container;
/// the whole result stays within a fixed number of bytes per block or container. How fast is in
/// `bench/hostile.sh`.
#[test]
fn findings_stay_proportional_to_hostile_input() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2_000;
    fs::write(
        dir.path().join("bundle.pem"),
        (0..n)
            .map(|i| {
                format!(
                    "-----BEGIN CERTIFICATE-----\nnot base64 {i} !!\n-----END CERTIFICATE-----\n"
                )
            })
            .collect::<String>(),
    )
    .unwrap();
    let containers: String = (0..n)
        .map(|i| format!("        - name: c{i}\n          image: registry.example/app:{i}\n"))
        .collect();
    fs::write(
        dir.path().join("deploy.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n  template:\n    spec:\n      containers:\n{containers}"),
    )
    .unwrap();
    let out = vigil(&[
        "scan",
        dir.path().to_str().unwrap(),
        "--policy",
        "policies/certificates.yaml",
        "--policy",
        "policies/kubernetes-pod-security.yaml",
        "--format",
        "json",
        "--fail-on",
        "none",
        "--allow-errors",
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pem = about(&r, "bundle.pem");
    assert_eq!(pem.len(), n, "one error per invalid block");
    assert!(
        pem.iter()
            .all(|f| f["state"] == "error" && f["message"].as_str().unwrap().len() < 400)
    );
    let deploy = about(&r, "deploy.yaml");
    let per_container = deploy
        .iter()
        .filter(|f| {
            f["target"]["element"]
                .as_str()
                .is_some_and(|e| e.starts_with("container \"c"))
        })
        .count();
    assert!(
        per_container >= n && per_container <= 16 * n,
        "{per_container}"
    );
    assert!(
        out.stdout.len() < (n + per_container) * 1_000,
        "{} bytes for {} findings",
        out.stdout.len(),
        n + per_container
    );
}
