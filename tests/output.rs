//! Properties of the outputs: determinism across thread counts, redaction of every seeded secret in
//! every format, conformance to the published JSON Schema, and exit codes.

mod common;

use common::{AT, scan_json, vigil};
use serde_json::Value;

/// The fake credentials seeded into testdata/secrets (format-valid, never issued by anyone).
const SEEDED: &[&str] = &[
    include_str!("../testdata/secrets/app/.env"),
    include_str!("../testdata/secrets/app/settings.py"),
    include_str!("../testdata/secrets/app/config.yaml"),
    include_str!("../testdata/secrets/app/main.go"),
    include_str!("../testdata/secrets/deploy/tokens.txt"),
    include_str!("../testdata/secrets/deploy/services.txt"),
    include_str!("../testdata/secrets/deploy/id_ed25519"),
    include_str!("../testdata/secrets/deploy/release-signing.asc"),
];

/// Every secret value in the fixtures: the value after `=`, `: ` or `:` on lines the secrets pack
/// reports, taken from the fixture files themselves so the list cannot drift from them.
fn seeded_secrets() -> Vec<String> {
    let (_, r) = scan_json(&["testdata/secrets", "--policy", "policies/secrets.yaml"]);
    let mut secrets = Vec::new();
    for f in r["findings"].as_array().unwrap() {
        if f["location"]["end_column"].is_null() || f["control"] == "SEC-019" {
            // Judged from facts (a private key's encryption), or a match on an armor header line,
            // not a span of secret text: their key material is added below.
            continue;
        }
        let path = f["target"]["file"].as_str().unwrap();
        let line = f["location"]["line"].as_u64().unwrap() as usize;
        let col = f["location"]["column"].as_u64().unwrap() as usize;
        let end = f["location"]["end_column"].as_u64().unwrap() as usize;
        let text = std::fs::read_to_string(common::root(path)).unwrap();
        let l: Vec<char> = text.lines().nth(line - 1).unwrap().chars().collect();
        let secret: String = l[col - 1..end - 1].iter().collect();
        assert!(
            secret.len() >= 8,
            "{path}:{line} gives a short secret {secret:?}"
        );
        secrets.push(secret);
    }
    assert!(
        secrets.len() >= 18,
        "every seeded format is found: {}",
        secrets.len()
    );
    // The key material of the private keys SEC-010 and SEC-019 report, line by line.
    for key in ["id_ed25519", "release-signing.asc"] {
        let key = std::fs::read_to_string(common::root(&format!("testdata/secrets/deploy/{key}")))
            .unwrap();
        secrets.extend(
            key.lines()
                .filter(|l| l.len() >= 8 && !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    secrets
}

#[test]
fn no_seeded_secret_appears_in_any_output() {
    let secrets = seeded_secrets();
    // Each secret's line really is in the fixtures (the list is not made up of redacted text).
    let all_fixtures = SEEDED.concat();
    for s in &secrets {
        assert!(
            all_fixtures.contains(s.as_str()) || s.starts_with("-----BEGIN"),
            "{s}"
        );
    }
    for format in ["json", "console"] {
        let out = vigil(&[
            "scan",
            "testdata",
            "--format",
            format,
            "--verbose",
            "--at",
            AT,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("…[redacted, "),
            "{format} output shows redactions"
        );
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{format} output leaks {s}");
            // Not even the first half of a secret.
            let half: String = s.chars().take(s.chars().count() / 2).collect();
            assert!(
                !text.contains(&half),
                "{format} output leaks the start of {s}"
            );
        }
    }
}

fn without_run(mut v: Value) -> String {
    // The run metadata (times, arguments) and the digest over it differ between any two runs.
    v.as_object_mut().unwrap().remove("run");
    v.as_object_mut().unwrap().remove("integrity");
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn json_is_identical_whatever_the_thread_count() {
    let (_, one) = scan_json(&["testdata", "--threads", "1"]);
    let (_, eight) = scan_json(&["testdata", "--threads", "8"]);
    assert!(one["findings"].as_array().unwrap().len() > 100);
    assert_eq!(without_run(one), without_run(eight));
}

#[test]
fn json_output_matches_the_published_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../docs/results.schema.json")).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema is valid");
    let (_, r) = scan_json(&["testdata"]);
    let errors: Vec<String> = validator
        .iter_errors(&r)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is strict: an unknown field is rejected.
    let mut bad = r.clone();
    bad["findings"][0]["surprise"] = Value::Bool(true);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn run_metadata_records_policies_and_clock() {
    let (_, r) = scan_json(&["testdata/ssh/hardened"]);
    assert_eq!(r["schema_version"], "2.0");
    assert_eq!(r["run"]["evaluated_at"], AT);
    let ids: Vec<&str> = r["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "ssh-hardening",
            "secrets",
            "kubernetes-pod-security",
            "linux-sysctl",
            "nginx-tls",
            "docker-compose",
            "dockerfile",
            "terraform",
            "certificates",
            "vigil-suppressions"
        ]
    );
    for p in r["policies"].as_array().unwrap() {
        assert!(p["source"].as_str().unwrap().starts_with("builtin:"));
        assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
    }
    assert!(
        r["run"]["arguments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "testdata/ssh/hardened")
    );
}

#[test]
fn exit_codes_follow_fail_on() {
    let run = |args: &[&str]| {
        let mut all = vec![
            "scan",
            "testdata/ssh/weak",
            "--policy",
            "policies/ssh-hardening.yaml",
            "--at",
            AT,
        ];
        all.extend_from_slice(args);
        vigil(&all).status.code().unwrap()
    };
    assert_eq!(run(&[]), 1, "high failures fail by default");
    assert_eq!(
        run(&["--fail-on", "critical"]),
        0,
        "no critical control in the ssh pack fails"
    );
    assert_eq!(run(&["--fail-on", "none"]), 0);
    assert_eq!(run(&["--fail-on", "bogus"]), 2);
    let hardened = vigil(&[
        "scan",
        "testdata/ssh/hardened",
        "--policy",
        "policies/ssh-hardening.yaml",
    ]);
    assert_eq!(hardened.status.code(), Some(0));
}

#[test]
fn console_summary_line_for_ci_logs() {
    let out = vigil(&[
        "scan",
        "testdata/ssh/weak",
        "--policy",
        "policies/ssh-hardening.yaml",
        "--at",
        AT,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "no colour when not a terminal");
    let last = text.lines().last().unwrap();
    assert_eq!(
        last,
        "vigil: 20 controls, 1 file read: 16 failed (6 high, 8 medium, 2 low), 0 errors, 2 passed, 0 waived, 2 not applicable; fail-on high; exit 1"
    );
    assert!(text.starts_with("HIGH: 6 failed\n  fail  SSH-001 Root login over SSH is disabled\n        testdata/ssh/weak/sshd_config:5:1\n"), "{text}");
}

/// `--output -` is standard output, as for most tools, not a file named `-`.
#[test]
fn output_dash_is_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let weak = common::root("testdata/ssh/weak");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["scan", weak.to_str().unwrap(), "--policy"])
        .arg(common::root("policies/ssh-hardening.yaml"))
        .args(["--at", AT, "--format", "json", "-o", "-"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("the JSON result on stdout");
    assert_eq!(v["summary"]["by_state"]["fail"], 16, "{}", v["summary"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("vigil: 20 controls"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file was written"
    );
}

/// One definition of each count in every format: "failed" is `fail` findings, errors are counted
/// apart, and a pass rate is over judged verdicts (pass, fail, error) only.
#[test]
fn every_format_counts_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let out = vigil(&[
        "scan",
        "testdata",
        "--at",
        AT,
        "--fail-on",
        "none",
        "--allow-errors",
        "--format",
        "console,json,html,markdown",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let console = String::from_utf8(out.stdout).unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let findings = json["findings"].as_array().unwrap();
    let count = |state: &str, severity: Option<&str>| {
        findings
            .iter()
            .filter(|f| f["state"] == state && severity.is_none_or(|s| f["severity"] == s))
            .count() as u64
    };
    let errors = count("error", None);
    assert!(
        errors > 0,
        "the fixtures include unreadable and broken files"
    );
    for sev in ["critical", "high", "medium", "low"] {
        let failed = count("fail", Some(sev));
        assert_eq!(
            json["summary"]["failures_by_severity"][sev], failed,
            "{sev}"
        );
        // The console's heading for the severity and the summary line say the same.
        let heading = console
            .lines()
            .find(|l| l.starts_with(&format!("{}: ", sev.to_uppercase())))
            .unwrap_or_else(|| panic!("no {sev} heading in {console}"));
        assert!(
            heading.starts_with(&format!("{}: {failed} failed", sev.to_uppercase())),
            "{heading}"
        );
        let errors_here = count("error", Some(sev));
        if errors_here > 0 {
            assert!(
                heading.ends_with(&format!(
                    ", {errors_here} error{}",
                    if errors_here == 1 { "" } else { "s" }
                )),
                "{heading}"
            );
        }
        assert!(
            console
                .lines()
                .last()
                .unwrap()
                .contains(&format!("{failed} {sev}"))
        );
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let (pass, fail) = (count("pass", None), count("fail", None));
    let judged = pass + fail + errors;
    let rate = format!("{:.1}%", pass as f64 * 100.0 / judged as f64);
    assert!(
        html.contains(&format!(
            "Pass rate: <strong>{rate}</strong> of judged verdicts ({pass} passed of {judged} judged"
        )),
        "the pass rate and its counts agree"
    );
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains(&format!(
        "vigil: {fail} failed, {errors} errors, {pass} passed"
    )));
}

/// A scan that judged nothing says so and does not pass for a clean one.
#[test]
fn an_empty_scan_says_so_and_exits_2() {
    let empty = tempfile::tempdir().unwrap();
    let out = vigil(&["scan", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was scanned: no file found under"),
        "{err}"
    );
    let allowed = vigil(&["scan", empty.path().to_str().unwrap(), "--allow-empty"]);
    assert_eq!(allowed.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&allowed.stderr).contains("nothing was scanned"));

    // Files, but none a control applies to.
    let none = vigil(&[
        "scan",
        "testdata/ssh",
        "--policy",
        "policies/nginx-tls.yaml",
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .contains("files found under testdata/ssh, and no control applies to any of them")
    );
}
