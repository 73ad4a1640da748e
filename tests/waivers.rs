//! Waivers (`--waivers`): accepted risks turn matching failures into `waived` findings that carry
//! who accepted them, why and until when, in every output; expired ones stop applying; the run
//! reports each waiver's status; a malformed file is refused with file:line:column.

mod common;

use common::{scan_json, vigil};
use serde_json::Value;

const WAIVERS: &str = r#"waivers:
  - control: SSH-001
    target: "testdata/ssh/weak/*"
    justification: The backup job logs in as root until it moves to a service account.
    approved_by: jane.doe@example.org
    expires: 2030-06-30
    ticket: SEC-1234
  - control: "SSH-00[23]"
    target: "testdata/ssh/weak/*"
    justification: Password logins stay for the migration window.
    approved_by: ciso@example.org
    expires: 2030-01-20
  - control: SSH-004
    justification: An old exception.
    approved_by: old.admin@example.org
    expires: 2029-12-31
  - control: LNX-060
    target: "testdata/roots/*"
    justification: toor is the vendor's recovery account on this appliance image.
    approved_by: ciso@example.org
    expires: 2031-01-01
  - control: K8S-001
    justification: Matches nothing.
    approved_by: someone@example.org
    expires: 2031-01-01
"#;

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("waivers.yaml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn finding<'v>(v: &'v Value, control: &str) -> &'v Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["control"] == control && f["state"] != "pass")
        .unwrap_or_else(|| panic!("no {control} failure"))
}

#[test]
fn waivers_accept_failures_with_their_words_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, WAIVERS);
    let (code, v) = scan_json(&[
        "testdata/ssh/weak",
        "--root",
        "testdata/roots/weak",
        "--policy",
        "policies/ssh-hardening.yaml",
        "--policy",
        "policies/linux-baseline.yaml",
        "--waivers",
        &file,
        "--control",
        "SSH-00[1-4]",
        "--control",
        "LNX-060",
    ]);
    // The high failures are waived, so the gate (`--fail-on high`) passes; SSH-004 (medium) still
    // fails, its waiver having expired.
    assert_eq!(code, 0);
    let (without, _) = scan_json(&[
        "testdata/ssh/weak",
        "--policy",
        "policies/ssh-hardening.yaml",
        "--control",
        "SSH-00[1-4]",
    ]);
    assert_eq!(
        without, 1,
        "without the waivers the same failures fail the gate"
    );
    let f = finding(&v, "SSH-001");
    assert_eq!(f["state"], "waived");
    assert_eq!(
        f["waiver"],
        serde_json::json!({
            "approved_by": "jane.doe@example.org",
            "expires": "2030-06-30",
            "justification": "The backup job logs in as root until it moves to a service account.",
            "ticket": "SEC-1234"
        })
    );
    assert_eq!(finding(&v, "SSH-003")["state"], "waived");
    assert_eq!(
        finding(&v, "SSH-004")["state"],
        "fail",
        "expired waivers do not apply"
    );
    assert_eq!(
        finding(&v, "LNX-060")["state"],
        "waived",
        "hosts are waived too"
    );
    let statuses: Vec<(String, String, u64)> = v["waivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["control"].as_str().unwrap().to_string(),
                w["status"].as_str().unwrap().to_string(),
                w["matched"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("SSH-001".to_string(), "active".to_string(), 1),
            ("SSH-00[23]".to_string(), "expiring".to_string(), 2),
            ("SSH-004".to_string(), "expired".to_string(), 0),
            ("LNX-060".to_string(), "active".to_string(), 1),
            ("K8S-001".to_string(), "unused".to_string(), 0),
        ]
    );
    assert_eq!(v["summary"]["by_state"]["waived"], 4);
    // The document is valid and its digest covers the waivers.
    let schema: Value = serde_json::from_str(include_str!("../docs/results.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let saved = dir.path().join("results.json");
    std::fs::write(&saved, v.to_string()).unwrap();
    let out = vigil(&["verify", saved.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn every_format_shows_who_accepted_what() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, WAIVERS);
    let out_dir = dir.path().join("out");
    let out = vigil(&[
        "scan",
        "testdata/ssh/weak",
        "--policy",
        "policies/ssh-hardening.yaml",
        "--waivers",
        &file,
        "--at",
        common::AT,
        "--format",
        "json,sarif,junit,markdown,html",
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "SSH-00[23] on testdata/ssh/weak/* (approved by ciso@example.org) expires on 2030-01-20"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("for SSH-004 (approved by old.admin@example.org) expired on 2029-12-31; it no longer applies"), "{stderr}");
    assert!(
        stderr.contains("for K8S-001 (approved by someone@example.org) matched no finding"),
        "{stderr}"
    );
    let words = "accepted by jane.doe@example.org until 2030-06-30 (SEC-1234): The backup job logs in as root";
    let read = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap();
    let sarif: Value = serde_json::from_str(&read("results.sarif")).unwrap();
    let suppressed: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .collect();
    assert_eq!(suppressed.len(), 3);
    assert!(suppressed.iter().any(|r| {
        r["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .starts_with(words)
    }));
    assert!(read("junit.xml").contains(words));
    let md = read("summary.md");
    assert!(md.contains(words), "{md}");
    assert!(
        md.contains("| SSH-004 | any | old.admin@example.org | 2029-12-31 | expired | 0 |"),
        "{md}"
    );
    let html = read("report.html");
    assert!(html.contains("accepted by jane.doe@example.org until 2030-06-30 (SEC-1234)"));
    assert!(html.contains(r#"data-status="expiring""#));
}

#[test]
fn a_malformed_waiver_file_is_refused_with_its_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "waivers:\n  - control: SSH-001\n    justifcation: x\n    approved_by: a\n    expires: 2030-13-01\n",
    );
    let out = vigil(&["scan", "testdata/ssh/weak", "--waivers", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "waivers.yaml:3:5: error: unknown key `justifcation`; did you mean `justification`?"
        ),
        "{err}"
    );
    assert!(
        err.contains("waivers.yaml:2:5: error: a waiver needs `justification`"),
        "{err}"
    );
    assert!(
        err.contains(
            "waivers.yaml:5:14: error: `expires` is a date (YYYY-MM-DD), found `2030-13-01`"
        ),
        "{err}"
    );
}
