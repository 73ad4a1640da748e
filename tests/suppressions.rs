//! Inline suppressions (`# vigil:ignore CONTROL-ID reason`): a failure on the line a suppression
//! covers is recorded `suppressed` with the comment's line and reason, in every comment syntax of
//! the config formats and in every output; a suppression without a reason or naming no known
//! control is a finding of the vigil-suppressions pack and suppresses nothing; errors are never
//! suppressed; `--no-inline-suppressions` shows every failure as it is.

mod common;

use common::{AT, assert_lines, scan_json, vigil};
use serde_json::Value;

/// The fixtures of `testdata/suppressions/`, judged by the packs of their formats.
const FIXTURES: &[&str] = &[
    "testdata/suppressions",
    "--policy",
    "testdata/policies/suppressions-app.yaml",
    "--policy",
    "policies/ssh-hardening.yaml",
    "--policy",
    "policies/nginx-tls.yaml",
    "--policy",
    "policies/kubernetes-pod-security.yaml",
    "--policy",
    "policies/linux-sysctl.yaml",
    "--policy",
    "policies/secrets.yaml",
];

fn scan(extra: &[&str]) -> (i32, Value) {
    let mut args = FIXTURES.to_vec();
    args.extend_from_slice(extra);
    scan_json(&args)
}

fn findings(r: &Value) -> &Vec<Value> {
    r["findings"].as_array().unwrap()
}

/// `CONTROL state file:line` of every failing or suppressed finding that has a line, with
/// `(line N: reason)` for a suppressed one, in result order (files in walk order).
fn located(r: &Value) -> Vec<String> {
    findings(r)
        .iter()
        .filter(|f| matches!(f["state"].as_str(), Some("fail" | "suppressed" | "error")))
        .filter(|f| f["location"]["line"].is_u64())
        .map(|f| {
            let file = f["target"]["file"].as_str().unwrap();
            let mut s = format!(
                "{} {} {}:{}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                file.strip_prefix("testdata/suppressions/").unwrap_or(file),
                f["location"]["line"]
            );
            if let Some(sup) = f.get("suppression") {
                s.push_str(&format!(
                    " (line {}: {})",
                    sup["line"],
                    sup["reason"].as_str().unwrap()
                ));
            }
            s
        })
        .collect()
}

fn the<'r>(r: &'r Value, control: &str, file: &str, line: u64) -> &'r Value {
    findings(r)
        .iter()
        .find(|f| {
            f["control"] == control
                && f["target"]["file"] == format!("testdata/suppressions/{file}")
                && f["location"]["line"] == line
        })
        .unwrap_or_else(|| panic!("no {control} finding at {file}:{line}"))
}

#[test]
fn each_comment_syntax_suppresses_the_failure_on_the_line_it_covers() {
    let (_, r) = scan(&[]);
    assert_lines(
        &located(&r),
        &[
            // TOML: `#` after the value covers its own line, not the next one.
            "APPX-001 suppressed app/config.toml:3 (line 3: behind the cluster's ingress, which filters by source)",
            "APPX-002 fail app/config.toml:4",
            // XML: `<!-- vigil:ignore-file ... -->` covers the whole file.
            "SEC-001 suppressed app/descriptor.xml:5 (line 3: the vendor manual's sample key, never issued (SEC-90))",
            // INI: a glob over ids, file-wide.
            "APPX-003 suppressed app/legacy.ini:3 (line 1: legacy service, switched off with the Q4 migration (OPS-31))",
            "APPX-004 suppressed app/legacy.ini:4 (line 1: legacy service, switched off with the Q4 migration (OPS-31))",
            // A secret in Go: `//` on the secret's line.
            "SEC-012 suppressed app/main.go:5 (line 5: throwaway password of the local test database)",
            // INI: `;` and `#` on the line above.
            "APPX-003 suppressed app/settings.ini:5 (line 4: the reporting replica takes plain connections on the private VLAN only)",
            "APPX-004 suppressed app/settings.ini:7 (line 6: dumps go to an encrypted volume (OPS-19))",
            // Python: `#` on the token's line; the line-above one covers the next line only.
            "SEC-003 suppressed app/tokens.py:3 (line 3: revoked; kept to test the token parser)",
            "SEC-003 fail app/tokens.py:6",
            // Kubernetes YAML: above the failing field, and after the image.
            "K8S-001 suppressed k8s/deployment.yaml:20 (line 19: raw sockets for the network probe; reviewed in SEC-77)",
            "K8S-012 suppressed k8s/deployment.yaml:17 (line 17: the tag is re-pinned by the release job (REL-4))",
            // nginx: after the directive, and above it.
            "NGX-001 suppressed nginx/nginx.conf:8 (line 8: the label printers speak TLS 1.1 only; replaced in Q3 (OPS-7))",
            "NGX-003 suppressed nginx/nginx.conf:13 (line 12: the version is shown on the intranet only, for the support desk)",
            "NGX-004 fail nginx/nginx.conf:5",
            "NGX-005 fail nginx/nginx.conf:5",
            "NGX-006 fail nginx/nginx.conf:5",
            // sshd: above; another control, a missing reason and an unknown id suppress nothing.
            "SSH-001 suppressed ssh/sshd_config:4 (line 3: the nightly backup logs in as root until it moves to a service account (OPS-12))",
            "SSH-002 fail ssh/sshd_config:6",
            "SSH-003 fail ssh/sshd_config:8",
            "SSH-004 fail ssh/sshd_config:10",
            "SUP-001 fail ssh/sshd_config:7",
            "SUP-002 fail ssh/sshd_config:9",
            // sysctl: `;` above; one naming the control of another line covers nothing there.
            "SYS-001 suppressed sysctl/sysctl.conf:4 (line 3: this host routes between the lab VLANs (NET-3))",
            "SYS-002 fail sysctl/sysctl.conf:6",
        ],
    );
    // Suppressed findings keep the fingerprint and evidence of the failure, and are no failure.
    let ssh = the(&r, "SSH-001", "ssh/sshd_config", 4);
    assert_eq!(ssh["observed"], "yes");
    assert!(ssh["fingerprint"].is_string());
    let summary = &r["summary"];
    assert_eq!(summary["by_state"]["suppressed"], 14);
    assert_eq!(
        summary["failures_by_severity"]["critical"], 1,
        "only the unsuppressed token is a critical failure"
    );
}

#[test]
fn a_suppression_without_a_reason_or_with_an_unknown_id_is_a_finding() {
    let (_, r) = scan(&[]);
    let no_reason = the(&r, "SUP-001", "ssh/sshd_config", 7);
    assert_eq!(no_reason["state"], "fail");
    assert_eq!(no_reason["severity"], "medium");
    assert_eq!(no_reason["target"]["kind"], "suppression");
    assert_eq!(no_reason["target"]["object"], "vigil:ignore SSH-003");
    assert_eq!(no_reason["location"]["column"], 1);
    assert_eq!(
        no_reason["message"],
        "Not satisfied: `reason` is \"\" at line 7."
    );
    // ... and the failure it meant to suppress still fails.
    assert_eq!(the(&r, "SSH-003", "ssh/sshd_config", 8)["state"], "fail");
    let unknown = the(&r, "SUP-002", "ssh/sshd_config", 9);
    assert_eq!(unknown["state"], "fail");
    assert_eq!(unknown["observed"], "SSH-04");
    assert_eq!(the(&r, "SSH-004", "ssh/sshd_config", 10)["state"], "fail");
    // Well-formed suppressions pass both controls.
    let passes = |control: &str| {
        findings(&r)
            .iter()
            .filter(|f| f["control"] == control && f["state"] == "pass")
            .count()
    };
    assert_eq!(passes("SUP-001"), 17);
    assert_eq!(passes("SUP-002"), 17);
    let controls: Vec<&str> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["policy"] == "vigil-suppressions")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(controls, ["SUP-001", "SUP-002"]);
}

#[test]
fn no_inline_suppressions_shows_every_failure() {
    let (code, with) = scan(&["--fail-on", "critical"]);
    let (code_without, without) = scan(&["--fail-on", "critical", "--no-inline-suppressions"]);
    assert_eq!(code, 1, "the unsuppressed token is critical");
    assert_eq!(code_without, 1);
    let states =
        |r: &Value, state: &str| findings(r).iter().filter(|f| f["state"] == state).count();
    assert_eq!(states(&without, "suppressed"), 0);
    assert!(
        findings(&without)
            .iter()
            .all(|f| f.get("suppression").is_none())
    );
    // Every suppressed failure fails again, with the same identity; nothing else changes but the
    // findings of the suppressions pack, which is not applied.
    let fingerprints = |r: &Value, state: &str| {
        let mut v: Vec<String> = findings(r)
            .iter()
            .filter(|f| f["state"] == state && !f["control"].as_str().unwrap().starts_with("SUP-"))
            .map(|f| f["fingerprint"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut expected = fingerprints(&with, "fail");
    expected.extend(fingerprints(&with, "suppressed"));
    expected.sort();
    assert_eq!(fingerprints(&without, "fail"), expected);
    assert_eq!(expected.len(), states(&without, "fail"));
    assert!(
        !without["controls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["policy"] == "vigil-suppressions")
    );
    assert!(
        !without["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "vigil-suppressions")
    );
}

#[test]
fn suppressed_failures_do_not_fail_the_gate() {
    // config.toml: APPX-001 (high) is suppressed, APPX-002 (medium) fails.
    let args = [
        "testdata/suppressions/app/config.toml",
        "--policy",
        "testdata/policies/suppressions-app.yaml",
    ];
    let (code, _) = scan_json(&args);
    assert_eq!(code, 0, "nothing at or above high fails");
    let mut seeing = args.to_vec();
    seeing.push("--no-inline-suppressions");
    let (code, _) = scan_json(&seeing);
    assert_eq!(code, 1, "an auditor sees the high failure");
}

#[test]
fn the_pack_joins_every_scan_of_files_and_never_makes_a_file_read() {
    // The built-in packs: the pack is there, as with --policy.
    let (_, r) = scan_json(&["testdata/suppressions/ssh"]);
    let ids: Vec<&str> = r["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.last(), Some(&"vigil-suppressions"));
    assert_eq!(the(&r, "SUP-001", "ssh/sshd_config", 7)["state"], "fail");
    assert_eq!(
        the(&r, "SSH-001", "ssh/sshd_config", 4)["state"],
        "suppressed"
    );
    // A file no other control reads is not read for its suppressions.
    let (_, r) = scan_json(&[
        "testdata/suppressions/ssh",
        "--policy",
        "testdata/policies/suppressions-app.yaml",
        "--allow-empty",
    ]);
    assert_eq!(r["inventory"]["files_read"], 0);
    let sup: Vec<&str> = findings(&r)
        .iter()
        .filter(|f| f["control"].as_str().unwrap().starts_with("SUP-"))
        .map(|f| f["state"].as_str().unwrap())
        .collect();
    assert_eq!(sup, ["not_applicable", "not_applicable"]);
    // A suppression naming a control left out by --control is no typo.
    let (_, r) = scan_json(&[
        "testdata/suppressions/ssh",
        "--control",
        "SUP-*",
        "--control",
        "SSH-002",
    ]);
    let sup002: Vec<(&str, u64)> = findings(&r)
        .iter()
        .filter(|f| f["control"] == "SUP-002" && f["state"] == "fail")
        .map(|f| {
            (
                f["observed"].as_str().unwrap(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sup002, [("SSH-04", 9)]);
}

/// A file of its own for each case below, judged by the sshd pack and the secrets pack.
fn scan_dir(files: &[(&str, &str)], extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let root = dir.path().to_str().unwrap().to_string();
    let mut args = vec![
        root.as_str(),
        "--policy",
        "policies/ssh-hardening.yaml",
        "--policy",
        "policies/secrets.yaml",
    ];
    args.extend_from_slice(extra);
    let (_, mut r) = scan_json(&args);
    // Paths relative to the directory, for the assertions.
    for f in r["findings"].as_array_mut().unwrap() {
        if let Some(file) = f["target"]["file"].as_str() {
            let rel = file.strip_prefix(&format!("{root}/")).unwrap().to_string();
            f["target"]["file"] = Value::String(rel);
        }
        if let Some(path) = f["location"]["path"].as_str() {
            let rel = path.strip_prefix(&format!("{root}/")).unwrap().to_string();
            f["location"]["path"] = Value::String(rel);
        }
    }
    r
}

fn state_of(r: &Value, control: &str) -> Vec<String> {
    findings(r)
        .iter()
        .filter(|f| f["control"] == control)
        .map(|f| {
            format!(
                "{} {}:{}{}",
                f["state"].as_str().unwrap(),
                f["target"]["file"].as_str().unwrap_or("*"),
                f["location"]["line"],
                f["location"]["path"]
                    .as_str()
                    .map(|p| format!(" in {p}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn errors_and_findings_in_other_files_are_not_suppressed() {
    let r = scan_dir(
        &[
            // A parse error stays an error, whatever the file suppresses.
            (
                "broken/sshd_config",
                "# vigil:ignore-file SSH-* this daemon is being rebuilt\nPermitRootLogin no\nPasswordAuthentication\n",
            ),
            // A value read from an included file is that file's: the main file's suppression
            // does not reach it.
            (
                "included/sshd_config",
                "# vigil:ignore-file SSH-002 password logins stay for the migration window\nInclude sshd_config.d/*.conf\nPermitRootLogin no\n",
            ),
            (
                "included/sshd_config.d/50-cloud-init.conf",
                "PasswordAuthentication yes\n",
            ),
        ],
        &["--control", "SSH-00[12]"],
    );
    assert_eq!(
        state_of(&r, "SSH-001"),
        ["error broken/sshd_config:3", "pass included/sshd_config:3"]
    );
    assert_eq!(
        state_of(&r, "SSH-002"),
        ["fail included/sshd_config:1 in included/sshd_config.d/50-cloud-init.conf"]
    );
}

#[test]
fn a_secret_in_a_reason_is_redacted() {
    let token = "ghp_Q8wErTy7UiOp3AsDfGh2JkLz9XcVbNm4Pq6R";
    let r = scan_dir(
        &[(
            "notes.txt",
            &format!("rotated = \"{token}\"  # vigil:ignore SEC-003 rotated, was {token}\n"),
        )],
        &["--control", "SEC-003"],
    );
    let f = findings(&r)
        .iter()
        .find(|f| f["control"] == "SEC-003" && f["state"] == "suppressed")
        .expect("the token is suppressed");
    let reason = f["suppression"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("rotated, was ghp_"), "{reason}");
    assert!(reason.contains("[redacted, 40 chars]"), "{reason}");
    assert!(!r.to_string().contains(token));
}

#[test]
fn every_format_shows_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["scan"];
    args.extend_from_slice(FIXTURES);
    args.extend_from_slice(&[
        "--at",
        AT,
        "--verbose",
        "--format",
        "console,json,sarif,junit,markdown,html",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ]);
    let out = vigil(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let reason = "the nightly backup logs in as root until it moves to a service account (OPS-12)";

    // JSON, valid against the published schema.
    let json: Value = serde_json::from_str(&read("results.json")).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../docs/results.schema.json")).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let ssh = the(&json, "SSH-001", "ssh/sshd_config", 4);
    assert_eq!(ssh["state"], "suppressed");
    assert_eq!(
        ssh["suppression"],
        serde_json::json!({"line": 3, "reason": reason})
    );
    // `vigil verify` accepts the result: suppressed findings are canonical JSON too.
    let verify = vigil(&["verify", dir.path().join("results.json").to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0));

    // SARIF: a failure with an in-source suppression whose justification is the reason.
    let sarif: Value = serde_json::from_str(&read("results.sarif")).unwrap();
    let sarif_schema: Value =
        serde_json::from_str(include_str!("../testdata/sarif-schema-2.1.0.json")).unwrap();
    let sarif_validator = jsonschema::validator_for(&sarif_schema).unwrap();
    assert!(sarif_validator.is_valid(&sarif));
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "SSH-001" && r["properties"]["state"] == "suppressed")
        .expect("the suppressed SSH-001 result");
    assert_eq!(result["kind"], "fail");
    assert_eq!(
        result["suppressions"],
        serde_json::json!([{"kind": "inSource", "justification": reason}])
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        4
    );

    // JUnit: skipped, with the reason.
    let junit = read("junit.xml");
    assert!(
        junit.contains(&format!(
            "<skipped message=\"suppressed: Not satisfied: `PermitRootLogin` is `yes` at line 4. Suppressed by vigil:ignore at line 3: {reason}\"/>"
        )),
        "{junit}"
    );

    // Markdown: counted with the waived and baselined ones, with the reason.
    let md = read("summary.md");
    assert!(
        md.contains("<details><summary>14 suppressed</summary>"),
        "{md}"
    );
    assert!(md.contains("suppressed by vigil:ignore at line 3: the nightly backup logs in as root until it moves to a service account (OPS-12)"), "{md}");

    // HTML: its own state, colour and label, and the reason.
    let html = read("report.html");
    assert!(html.contains(".state-suppressed {"));
    assert!(html.contains("<span class=\"badge state-suppressed\">suppressed</span>"));
    assert!(html.contains("Suppressed by vigil:ignore at line 3: the nightly backup logs in as root until it moves to a service account (OPS-12)"));
    assert!(html.contains("14 suppressed"));

    // Console: listed with --verbose, with the reason, and counted in the summary line.
    let console = String::from_utf8(out.stdout).unwrap();
    assert!(console.contains("  suppressed SSH-001 Root login over SSH is disabled\n        testdata/suppressions/ssh/sshd_config:4:1\n        Not satisfied: `PermitRootLogin` is `yes` at line 4. Suppressed by vigil:ignore at line 3: the nightly backup logs in as root until it moves to a service account (OPS-12)\n"), "{console}");
    let summary = console.lines().last().unwrap();
    assert!(summary.contains(", 14 suppressed;"), "{summary}");
}

#[test]
fn the_json_is_the_same_whatever_the_thread_count() {
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("run");
        v.as_object_mut().unwrap().remove("integrity");
        serde_json::to_string_pretty(&v).unwrap()
    };
    let (_, one) = scan(&["-j", "1"]);
    let (_, four) = scan(&["-j", "4"]);
    assert_eq!(findings(&one).len(), findings(&four).len());
    assert_eq!(strip(one), strip(four));
}

#[test]
fn past_the_limit_suppressions_are_not_read_and_the_file_is_an_error_for_their_checks() {
    let mut text = "# vigil:ignore SSH-001 accepted\n".repeat(1000);
    text.push_str("# vigil:ignore SSH-001 one too many\nPermitRootLogin yes\n");
    let r = scan_dir(
        &[("sshd_config", &text)],
        &["--control", "SSH-001", "--control", "SUP-*"],
    );
    // The thousand comments read cover the setting; the checks of the suppressions cannot judge
    // the one left unread.
    assert_eq!(state_of(&r, "SSH-001"), ["suppressed sshd_config:1002"]);
    let errors: Vec<&Value> = findings(&r)
        .iter()
        .filter(|f| f["state"] == "error")
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0]["message"],
        "more than 1000 inline suppressions in the file: 1 past the first 1000 was not read, and suppresses nothing; 2 controls could not judge it (SUP-001, SUP-002)"
    );
}

#[test]
fn the_pack_loaded_from_its_file_is_not_added_twice() {
    let (_, r) = scan_json(&["testdata/suppressions/ssh", "--policy", "policies"]);
    let sup: Vec<&Value> = r["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == "vigil-suppressions")
        .collect();
    assert_eq!(sup.len(), 1);
    assert_eq!(sup[0]["source"], "policies/inline-suppressions.yaml");
    assert_eq!(the(&r, "SUP-002", "ssh/sshd_config", 9)["state"], "fail");
    let (_, r) = scan_json(&[
        "testdata/suppressions/ssh",
        "--policy",
        "policies",
        "--no-inline-suppressions",
    ]);
    assert!(
        !r["controls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["policy"] == "vigil-suppressions")
    );
    // A policy of one's own that uses the pack's ids is refused: findings must name one control.
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.yaml");
    std::fs::write(
        &own,
        "policy: own\ntitle: t\nversion: '1'\ncontrols:\n  - id: SUP-001\n    title: t\n    severity: low\n    references: {CWE: [CWE-1]}\n    rationale: r\n    remediation: m\n    target: {kind: file, paths: ['**']}\n    check: {pattern: 'x'}\n",
    )
    .unwrap();
    let out = vigil(&[
        "scan",
        "testdata/suppressions/ssh",
        "--policy",
        own.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a control id of the built-in pack `vigil-suppressions` (SUP-001, SUP-002), which judges inline suppressions, is used by this policy"),
        "{err}"
    );
    let out = vigil(&[
        "scan",
        "testdata/suppressions/ssh",
        "--policy",
        own.to_str().unwrap(),
        "--no-inline-suppressions",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = text.lines().last().unwrap_or("");
    assert!(
        summary.starts_with("vigil: 1 control, 1 file read:"),
        "{summary}"
    );
}
