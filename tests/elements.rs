//! One finding per failing element: every container of a workload (init and ephemeral ones too) and
//! every server block of an nginx file is judged on its own, with its own line, name and
//! fingerprint; fingerprints stay the same when lines shift.

mod common;

use common::{assert_lines, lines, scan_json};
use serde_json::Value;

fn failures(r: &Value) -> Vec<(String, String, u64, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "fail")
        .map(|f| {
            (
                f["control"].as_str().unwrap().to_string(),
                f["target"]["element"].as_str().unwrap_or("").to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The result of scanning `dir` with `policy`, and its failures as `lines` shows them.
fn scan_failures(dir: &str, policy: &str) -> (Value, Vec<String>) {
    let (_, r) = scan_json(&[dir, "--policy", policy]);
    let failed = lines(&r)
        .into_iter()
        .filter(|l| l.contains(" fail "))
        .collect();
    (r, failed)
}

#[test]
fn every_failing_container_has_its_own_finding() {
    let (r, failed) = scan_failures(
        "testdata/elements/k8s",
        "policies/kubernetes-pod-security.yaml",
    );
    assert_lines(
        &failed,
        &[
            "K8S-001 fail testdata/elements/k8s/deployment.yaml:38 [Deployment/prod/shop] container \"sidecar\"",
            "K8S-007 fail testdata/elements/k8s/deployment.yaml:32 [Deployment/prod/shop] container \"web\"",
            "K8S-007 fail testdata/elements/k8s/deployment.yaml:38 [Deployment/prod/shop] container \"sidecar\"",
            "K8S-007 fail testdata/elements/k8s/deployment.yaml:25 [Deployment/prod/shop] init container \"migrate\"",
            "K8S-007 fail testdata/elements/k8s/deployment.yaml:62 [Pod/debug] ephemeral container \"debugger\"",
        ],
    );
    // Each container's finding carries its own evidence, not its neighbours'.
    let web = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["control"] == "K8S-007" && f["target"]["element"] == "container \"web\"")
        .unwrap();
    assert_eq!(web["observed"], "(absent)");
    assert_eq!(
        web["evidence"][0]["field"],
        "containers[0].securityContext.allowPrivilegeEscalation"
    );
    assert_eq!(web["evidence"].as_array().unwrap().len(), 1);
    // Elements that pass are summarised in one pass verdict per object and control.
    let passes = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["control"] == "K8S-001" && f["state"] == "pass")
        .count();
    assert_eq!(passes, 1, "the Pod passes K8S-001 once");
}

#[test]
fn every_failing_server_block_has_its_own_finding() {
    let (r, failed) = scan_failures("testdata/elements/nginx", "policies/nginx-tls.yaml");
    assert_lines(
        &failed,
        &[
            "NGX-001 fail testdata/elements/nginx/nginx.conf:25 server \"legacy.example.org\" listen 443 ssl",
            "NGX-001 fail testdata/elements/nginx/nginx.conf:34 server \"admin.example.org\" listen 8443 ssl",
            "NGX-004 fail testdata/elements/nginx/nginx.conf:28 server \"legacy.example.org\" listen 443 ssl",
        ],
    );
    let observed: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["control"] == "NGX-001" && f["state"] == "fail")
        .map(|f| f["observed"].as_str().unwrap())
        .collect();
    assert_eq!(observed, ["TLSv1", "SSLv3"]);
}

#[test]
fn element_fingerprints_survive_line_shifts_and_tell_elements_apart() {
    let dir = tempfile::tempdir().unwrap();
    let scan = |k8s: &str, nginx: &str| {
        std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
        std::fs::create_dir_all(dir.path().join("nginx")).unwrap();
        std::fs::write(dir.path().join("k8s/deployment.yaml"), k8s).unwrap();
        std::fs::write(dir.path().join("nginx/nginx.conf"), nginx).unwrap();
        let (_, r) = scan_json(&[
            dir.path().to_str().unwrap(),
            "--policy",
            "policies/kubernetes-pod-security.yaml",
            "--policy",
            "policies/nginx-tls.yaml",
        ]);
        failures(&r)
    };
    let k8s =
        std::fs::read_to_string(common::root("testdata/elements/k8s/deployment.yaml")).unwrap();
    let nginx =
        std::fs::read_to_string(common::root("testdata/elements/nginx/nginx.conf")).unwrap();
    let before = scan(&k8s, &nginx);
    let after = scan(
        &format!("# moved\n# down\n# three lines\n{k8s}"),
        &format!("# one more line\n{nginx}"),
    );
    assert_eq!(before.len(), 8);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            (&b.0, &b.1, &b.3),
            (&a.0, &a.1, &a.3),
            "same finding, same fingerprint"
        );
        let shift = if b.0.starts_with("K8S") { 3 } else { 1 };
        assert_eq!(a.2, b.2 + shift, "{} moved", b.1);
    }
    let mut fingerprints: Vec<&str> = before.iter().map(|f| f.3.as_str()).collect();
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(
        fingerprints.len(),
        before.len(),
        "every element's finding has its own fingerprint"
    );
}
