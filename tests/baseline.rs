//! Baselines: `vigil baseline create` records the failures of a result; a scan given the baseline
//! records them `baselined` and fails the gate only on new ones. Shifting a file's lines keeps a
//! failure known, changing the offending value makes it new, and a known failure that is gone is
//! reported as fixed.

mod common;

use common::{scan_json, vigil};
use serde_json::Value;

fn scan(dir: &std::path::Path, baseline: Option<&str>) -> (i32, Value) {
    let tree = dir.join("tree");
    let mut args = vec![
        tree.to_str().unwrap().to_string(),
        "--policy".into(),
        "policies/ssh-hardening.yaml".into(),
    ];
    if let Some(b) = baseline {
        args.extend(["--baseline".into(), b.to_string()]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    scan_json(&a)
}

fn states(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] != "pass" && f["state"] != "not_applicable")
        .map(|f| {
            (
                f["control"].as_str().unwrap().to_string(),
                f["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_gate_fails_only_on_new_failures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("tree")).unwrap();
    let config = d.join("tree/sshd_config");
    let original = std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap();
    std::fs::write(&config, &original).unwrap();
    let (code, first) = scan(d, None);
    assert_eq!(code, 1, "the weak config fails the gate");
    let results = d.join("results.json");
    std::fs::write(&results, first.to_string()).unwrap();
    let base = d.join("baseline.json");
    let out = vigil(&[
        "baseline",
        "create",
        results.to_str().unwrap(),
        "-o",
        base.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let failures = states(&first).len();
    assert_eq!(b["findings"].as_array().unwrap().len(), failures);
    assert_eq!(b["made_from"], first["integrity"]["digest"]);
    let b = base.to_str().unwrap();

    // Lines shifted: every failure is still known, and the gate passes.
    std::fs::write(&config, format!("# moved down\n\n{original}")).unwrap();
    let (code, shifted) = scan(d, Some(b));
    assert_eq!(code, 0);
    assert!(
        states(&shifted).iter().all(|(_, s)| s == "baselined"),
        "{:?}",
        states(&shifted)
    );
    assert_eq!(shifted["summary"]["by_state"]["baselined"], failures as u64);
    assert_eq!(shifted["known_failures"]["fixed"], serde_json::json!([]));

    // The offending value changed: a new failure, and the old one is gone (fixed); a setting
    // corrected: fixed.
    let changed = original
        .replacen("PermitRootLogin yes", "PermitRootLogin without-password", 1)
        .replace("X11Forwarding yes", "X11Forwarding no");
    assert_ne!(changed, original);
    std::fs::write(&config, changed).unwrap();
    let (code, after) = scan(d, Some(b));
    assert_eq!(code, 1, "a new high failure fails the gate");
    let s = states(&after);
    assert!(s.contains(&("SSH-001".into(), "fail".into())), "{s:?}");
    assert_eq!(s.iter().filter(|(_, st)| st == "fail").count(), 1, "{s:?}");
    let fixed: Vec<&str> = after["known_failures"]["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["control"].as_str().unwrap())
        .collect();
    assert_eq!(fixed, ["SSH-001", "SSH-004"]);
    assert_eq!(
        after["known_failures"]["still_failing"],
        (failures - 2) as u64
    );
    // The document is valid and its digest covers what became of the baseline.
    let schema: Value = serde_json::from_str(include_str!("../docs/results.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&after)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let saved = d.join("after.json");
    std::fs::write(&saved, after.to_string()).unwrap();
    assert!(vigil(&["verify", saved.to_str().unwrap()]).status.success());
}

#[test]
fn a_file_that_is_not_a_baseline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("b.json");
    std::fs::write(&bad, "{\"findings\": 3}").unwrap();
    let out = vigil(&[
        "scan",
        "testdata/ssh/weak",
        "--baseline",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a vigil baseline"));
}
