//! Bad input: clear errors, nothing lost. A malformed policy stops the run with file:line:column;
//! a malformed, oversize, unreadable or looping target becomes an `error` finding and the scan goes on.

mod common;

use std::fs;

use common::{AT, assert_lines, lines, scan_json, vigil};

const POLICY: &str = r#"policy: t
title: Test
version: "1"
controls:
  - id: T-1
    title: No TODO markers
    severity: high
    references: {NIST-800-53r5: [CM-6]}
    rationale: r
    remediation: m
    target: {kind: file, paths: ["**"]}
    check: {pattern: 'TODO'}
  - id: T-2
    title: Port is 22
    severity: medium
    references: {NIST-800-53r5: [CM-6]}
    rationale: r
    remediation: m
    target: {kind: config, paths: ["**/*.json"]}
    check: {key: port, equals: 22}
"#;

fn write_policy(dir: &std::path::Path) -> String {
    let p = dir.join("policy.yaml");
    fs::write(&p, POLICY).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn malformed_policy_exits_2_naming_file_line_and_column() {
    let out = vigil(&[
        "scan",
        "testdata/ssh",
        "--policy",
        "testdata/policies/invalid.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "testdata/policies/invalid.yaml:8:5: error: unknown field `sevrity` in control; did you mean `severity`?",
        "testdata/policies/invalid.yaml:7:15: error: unknown severity `urgent`",
        "testdata/policies/invalid.yaml:14:7: error: unknown operator `equal`; did you mean `equals`?",
        "testdata/policies/invalid.yaml:23:16: error: invalid regular expression: unclosed group",
        "testdata/policies/invalid.yaml:24:5: error: duplicate control id `BAD-1` (first defined at line 5)",
        "testdata/policies/invalid.yaml:40:7: error: a `pattern` check reads raw text and needs a target of kind `file`, not `config`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(out.stdout.is_empty(), "nothing is scanned");
}

#[test]
fn policy_lint_reports_every_problem() {
    let out = vigil(&["policy", "lint", "testdata/policies/invalid.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with("1 policy file checked: 6 errors, 1 warning\n"),
        "{err}"
    );
    let ok = vigil(&["policy", "lint", "policies"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn malformed_configs_are_errors_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path());
    let d = dir.path().join("t");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("a.json"), "{\"port\": 22}\n").unwrap();
    fs::write(d.join("b.json"), "{\n  \"port\": 22,\n}\n").unwrap();
    fs::write(d.join("c.json"), "{\"port\": 2222}\n").unwrap();
    let target = d.to_string_lossy().into_owned();
    let (code, r) = scan_json(&[&target, "--policy", &policy]);
    assert_eq!(code, 1, "an error finding fails the run");
    let shown: Vec<String> = lines(&r)
        .into_iter()
        .map(|l| l.replace(&target, "T"))
        .collect();
    assert_lines(
        &shown,
        &[
            "T-1 pass *",
            "T-2 pass T/a.json:1",
            "T-2 error T/b.json:3",
            "T-2 fail T/c.json:1",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
    let err = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["state"] == "error")
        .unwrap();
    assert_eq!(err["location"]["column"], 1);
    assert!(
        err["message"].as_str().unwrap().contains("trailing comma"),
        "{err}"
    );
    let (code, _) = scan_json(&[
        &target,
        "--policy",
        &policy,
        "--allow-errors",
        "--fail-on",
        "none",
    ]);
    assert_eq!(
        code, 0,
        "--allow-errors and --fail-on none accept the result"
    );
}

#[test]
fn oversize_binary_and_empty_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path());
    let d = dir.path().join("t");
    fs::create_dir_all(d.join("empty")).unwrap();
    fs::write(d.join("big.txt"), "TODO\n".repeat(1000)).unwrap();
    fs::write(d.join("blob.bin"), b"\x00\x01TODO\x02").unwrap();
    fs::write(d.join("ok.txt"), "nothing to see\n").unwrap();
    let target = d.to_string_lossy().into_owned();
    let (_, r) = scan_json(&[&target, "--policy", &policy, "--max-file-size", "1K"]);
    let shown: Vec<String> = lines(&r)
        .into_iter()
        .map(|l| l.replace(&target, "T"))
        .collect();
    assert_lines(
        &shown,
        &[
            "T-1 error T/big.txt",
            "T-2 not_applicable *",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert_eq!(
        msg,
        "file is 5000 bytes, above the --max-file-size limit of 1024 bytes; it was not read"
    );
    assert_eq!(r["inventory"]["binary_files_skipped"], 1);
    assert_eq!(r["inventory"]["files_too_large"], 1);

    let empty = d.join("empty").to_string_lossy().into_owned();
    // Nothing judged: the result is still written, and the exit code says the scan was empty.
    let (code, r) = scan_json(&[&empty, "--policy", &policy]);
    assert_eq!(code, 2);
    let (code, _) = scan_json(&[&empty, "--policy", &policy, "--allow-empty"]);
    assert_eq!(code, 0);
    assert_lines(
        &lines(&r),
        &[
            "T-1 not_applicable *",
            "T-2 not_applicable *",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn symlinks_broken_and_looping() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path());
    let d = dir.path().join("t");
    fs::create_dir_all(d.join("sub")).unwrap();
    fs::write(d.join("sub/a.txt"), "TODO here\n").unwrap();
    std::os::unix::fs::symlink(d.join("missing.txt"), d.join("broken.txt")).unwrap();
    std::os::unix::fs::symlink(&d, d.join("sub/loop")).unwrap();
    let target = d.to_string_lossy().into_owned();

    let (code, r) = scan_json(&[&target, "--policy", &policy]);
    let shown: Vec<String> = lines(&r)
        .into_iter()
        .map(|l| l.replace(&target, "T"))
        .collect();
    assert_lines(
        &shown,
        &[
            "T-1 fail T/sub/a.txt:1",
            "T-2 not_applicable *",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
    assert_eq!(
        r["inventory"]["symlinks_skipped"], 2,
        "links are not followed by default"
    );
    assert_eq!(code, 1);

    let (_, r) = scan_json(&[&target, "--policy", &policy, "--follow-symlinks"]);
    let shown: Vec<String> = lines(&r)
        .into_iter()
        .map(|l| l.replace(&target, "T"))
        .collect();
    assert_lines(
        &shown,
        &[
            "T-1 error T/broken.txt",
            "T-1 fail T/sub/a.txt:1",
            "T-1 error T/sub/loop",
            "T-2 not_applicable *",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
    let messages: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "error")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("broken symbolic link"), "{messages:?}");
    assert!(messages[1].contains("symbolic link loop"), "{messages:?}");
}

#[test]
fn non_utf8_paths_and_contents() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path());
    let d = dir.path().join("t");
    fs::create_dir(&d).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-TODO.txt");
    fs::write(d.join(name), b"latin-1 \xe9t\xe9 TODO\n").unwrap();
    let target = d.to_string_lossy().into_owned();
    let (_, r) = scan_json(&[&target, "--policy", &policy]);
    let f = &r["findings"][0];
    assert_eq!(f["state"], "fail");
    assert!(
        f["target"]["file"]
            .as_str()
            .unwrap()
            .ends_with("caf\u{fffd}-TODO.txt")
    );
    assert_eq!(
        f["location"]["column"], 13,
        "columns count characters, an invalid byte as one"
    );
}

#[test]
fn missing_target_is_a_usage_error() {
    let out = vigil(&["scan", "does/not/exist", "--at", AT]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read does/not/exist"));
}

/// A target that cannot be read gives one error, not one per control: the error names every
/// control it blocked, is counted once, and puts each of those controls in `error`.
#[test]
fn an_unreadable_target_is_one_error_that_names_the_controls_it_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("t");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("sshd_config"), "PermitRootLogin no\n".repeat(100)).unwrap();
    let target = d.to_string_lossy().into_owned();
    let (code, r) = scan_json(&[&target, "--max-file-size", "1K", "--fail-on", "none"]);
    assert_eq!(code, 1, "an error fails the run without --allow-errors");
    let errors: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0];
    assert_eq!(e["target"]["kind"], "file");
    let blocked: Vec<&str> = e["blocked_controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert!(
        blocked.contains(&"SSH-001") && blocked.contains(&"SEC-001"),
        "{blocked:?}"
    );
    assert!(blocked.contains(&e["control"].as_str().unwrap()));
    assert_eq!(
        e["severity"], "critical",
        "the most severe blocked control names it"
    );
    assert!(e["message"].as_str().unwrap().contains(&format!(
        "; {} controls could not judge it (",
        blocked.len()
    )));
    assert_eq!(r["summary"]["by_state"]["error"], 1);
    assert!(r["summary"]["controls_by_state"]["error"].as_u64().unwrap() >= blocked.len() as u64);
}

/// Files with tens of thousands of keys parse (in linear time: `bench/parsers.sh` measures 1 MB
/// against 10 MB) and keep every key's own line and column.
#[test]
fn files_with_many_keys_keep_every_position() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40_000;
    let lines = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<String>();
    let files = [
        ("app.env", lines(&|i| format!("KEY{i}=v{i}\n")), "KEY39999"),
        (
            "sysctl.conf",
            lines(&|i| format!("net.k{i} = {i}\n")),
            "net.k39999",
        ),
        (
            "keys.toml",
            lines(&|i| format!("key{i} = {i}\n")),
            "key39999",
        ),
        (
            "keys.yaml",
            lines(&|i| format!("key{i}: {i}\n")),
            "key39999",
        ),
        (
            "keys.ini",
            format!("[s]\n{}", lines(&|i| format!("key{i} = {i}\n"))),
            "s",
        ),
    ];
    for (name, text, key) in &files {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        let out = common::vigil(&["facts", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let doc = v[0]["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "config")
            .unwrap_or_else(|| panic!("{name} is parsed"));
        let facts = doc["facts"].as_object().unwrap();
        assert!(facts.contains_key(*key), "{name}: {key}");
    }
    // Positions, through a check that fails on the last key of the largest files.
    let policy = dir.path().join("p.yaml");
    fs::write(
        &policy,
        "policy: p\ntitle: t\nversion: '1'\ncontrols:\n  - id: P-1\n    title: t\n    severity: low\n    references: {CWE: [CWE-1]}\n    rationale: r\n    remediation: m\n    target: {kind: config, paths: ['**/keys.toml', '**/keys.yaml']}\n    check: {key: key39999, equals: 0}\n",
    )
    .unwrap();
    let (_, r) = scan_json(&[
        dir.path().to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--fail-on",
        "none",
    ]);
    let at: Vec<(u64, u64)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["control"] == "P-1")
        .map(|f| {
            (
                f["location"]["line"].as_u64().unwrap(),
                f["location"]["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(at, [(40_000, 12), (40_000, 11)]);
}

/// A live tree changes while it is scanned: a directory and a file listed by the walk are removed
/// before they are read. Each gives an `error` that says so (not "broken symbolic link", not a bare
/// "No such file or directory"), with what to do about it, and the scan goes on. The removal
/// happens when the first target is written: the pipeline has then taken at most a window of a few
/// hundred files from the walk, so the two, listed after 3,000 files of their directory, are still
/// ahead of it.
#[test]
fn a_directory_and_a_file_removed_during_the_scan_are_errors_that_say_so() {
    use std::sync::{Arc, Once};
    use vigil::engine::{self, Progress, ScanOptions};
    use vigil::report::{self, Format, Style};

    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    fs::create_dir_all(b.join("sub")).unwrap();
    for i in 0..3000 {
        fs::write(b.join(format!("f{i:04}.txt")), "ok\n").unwrap();
    }
    fs::write(b.join("sub/inner.txt"), "TODO\n").unwrap();
    fs::write(b.join("z.txt"), "TODO\n").unwrap();
    let policies =
        vigil::policy::PolicySet::from_texts([("t.yaml".to_string(), POLICY.to_string())]).unwrap();
    let once = Arc::new(Once::new());
    let removed = b.clone();
    let opts = ScanOptions {
        paths: vec![dir.path().to_path_buf()],
        threads: Some(1),
        at: Some(vigil::cli::parse_at(AT).unwrap()),
        progress: Some(Progress(Arc::new(move |_| {
            once.call_once(|| {
                fs::remove_dir_all(removed.join("sub")).unwrap();
                fs::remove_file(removed.join("z.txt")).unwrap();
            })
        }))),
        ..ScanOptions::default()
    };
    let out = common::Shared::default();
    let sink = report::sink(Format::Json, Box::new(out.clone()), &Style::plain(false));
    let registry = vigil::collect::Registry::builtin();
    let outcome = engine::scan_with(&registry, &policies, &opts, vec![sink]).unwrap();
    assert_eq!(outcome.trailer.inventory.files_read, 3000);
    let r: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
    let errors: Vec<(String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "error")
        .map(|f| {
            (
                common::target_name(f)
                    .strip_prefix(&format!("{}/", dir.path().display()))
                    .unwrap()
                    .to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let gone = "removed during the scan: it was listed, then gone before it could be read";
    let hint = "; leave out what changes while it is scanned (--exclude), or accept the gap with \
                --allow-errors";
    assert_eq!(
        errors,
        [
            ("b/sub".to_string(), format!("{gone}{hint}")),
            ("b/z.txt".to_string(), format!("{gone}{hint}")),
        ]
    );
}
