//! The authoring commands: `policy list`, `policy explain`, `facts`.

mod common;

use common::vigil;
use serde_json::Value;

fn stdout(args: &[&str]) -> (i32, String) {
    let out = vigil(args);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn policy_list_shows_every_bundled_control_with_references() {
    let (code, text) = stdout(&["policy", "list"]);
    assert_eq!(code, 0);
    for header in [
        "ssh-hardening 1.0.0 (OpenSSH server hardening): 18 controls",
        "secrets 1.5.0 (Secrets in files): 37 controls",
        "kubernetes-pod-security 1.2.0 (Kubernetes Pod Security Standards): 16 controls",
        "linux-sysctl 1.1.0 (Linux kernel and network parameters): 22 controls",
        "nginx-tls 1.3.0 (nginx TLS configuration): 7 controls",
        "docker-compose 1.0.0 (Docker Compose services): 8 controls",
        "dockerfile 1.0.0 (Dockerfile builds): 4 controls",
        "terraform 1.0.0 (Terraform infrastructure): 18 controls",
        "certificates 1.2.0 (X.509 certificates and private keys): 19 controls",
        "linux-baseline 1.0.0 (Linux host baseline (Debian)): 62 controls",
    ] {
        assert!(text.contains(header), "missing {header:?}");
    }
    assert!(text.contains("  SSH-001      high     Root login over SSH is disabled\n"));
    assert!(
        text.contains("PCI-DSS-v4.0 8.6.2"),
        "secret controls cite PCI DSS 8.6.2"
    );
    // References are listed one framework per line, wrapped to 100 columns.
    let refs: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("                        "))
        .collect();
    assert!(refs.len() > 100);
    for line in refs {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.len()
        );
    }
}

#[test]
fn policy_explain_prints_the_documentation_of_a_control() {
    let (code, text) = stdout(&["policy", "explain", "K8S-001"]);
    assert_eq!(code, 0);
    assert!(text.starts_with("K8S-001: Containers are not privileged\npolicy:      kubernetes-pod-security 1.2.0 (builtin:kubernetes-pod-security)\nseverity:    critical\n"), "{text}");
    assert!(text.contains("applies when: podSpec is set\n"));
    assert!(text.contains("check:       every containers[*].securityContext.privileged equals false (default when unset: false)\n"));
    assert!(text.contains("  Kubernetes-PSS: Baseline: Privileged Containers\n"));
    let out = vigil(&["policy", "explain", "K8S-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `K8S-001`?"));
    // Ids are matched regardless of case, and so are suggestions.
    let (code, lower) = stdout(&["policy", "explain", "k8s-001"]);
    assert_eq!(code, 0);
    assert_eq!(lower, text);
    let out = vigil(&["policy", "explain", "ssh-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `SSH-001`?"));
}

/// The documents of `kind` that `vigil facts` printed for its first file.
fn documents<'v>(v: &'v Value, kind: &str) -> Vec<&'v Value> {
    v[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

#[test]
fn facts_show_the_documents_checks_can_name() {
    let (code, text) = stdout(&[
        "facts",
        "testdata/k8s/cronjob.yaml",
        "--format",
        "kubernetes",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&text).unwrap();
    let doc = documents(&v, "config")[0];
    assert_eq!(doc["format"], "kubernetes");
    assert_eq!(doc["object"], "CronJob/nightly-report");
    assert_eq!(doc["facts"]["containers"][0]["image"], "example/report");
    assert_eq!(
        doc["facts"]["podSpec"]["securityContext"]["runAsNonRoot"],
        true
    );
    let file = documents(&v, "file")[0];
    assert_eq!(file["facts"]["name"], "cronjob.yaml");

    let (_, text) = stdout(&["facts", "testdata/ssh/hardened/sshd_config"]);
    let v: Value = serde_json::from_str(&text).unwrap();
    let doc = documents(&v, "config")[0];
    assert_eq!(doc["format"], "sshd");
    let facts = &doc["facts"];
    assert_eq!(facts["permitrootlogin"], "no");
    assert_eq!(facts["match"][0]["criteria"], "Group sftp-only");
    assert_eq!(
        doc["included"][0],
        "testdata/ssh/hardened/sshd_config.d/10-crypto.conf"
    );

    let (_, text) = stdout(&["facts", "testdata/nginx/broken/nginx.conf"]);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(documents(&v, "config").is_empty());
    let error = &v[0]["errors"][0];
    assert_eq!(
        (error["kind"].as_str(), error["format"].as_str()),
        (Some("config"), Some("nginx"))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does not take a block")
    );
}

#[test]
fn facts_redact_what_the_secrets_pack_recognises() {
    let dir = tempfile::tempdir().unwrap();
    let key = "AKIAQWERTYUIOPASDFGH";
    let token = format!("ghp_{}", "a1B2c3D4".repeat(4) + "z9Y8");
    std::fs::write(
        dir.path().join("app.yaml"),
        format!("aws: {key}\n{token}: 1\nname: web\n"),
    )
    .unwrap();
    let path = dir.path().join("app.yaml");
    let (code, text) = stdout(&["facts", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        !text.contains(&key[4..]) && !text.contains(&token[4..]),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let facts = &documents(&v, "config")[0]["facts"];
    assert_eq!(facts["aws"], "AKIA…[redacted, 20 chars]");
    assert_eq!(facts["ghp_…[redacted, 40 chars]"], 1);
    assert_eq!(facts["name"], "web");
}

#[test]
fn the_documented_example_policy_is_valid() {
    let doc = include_str!("../docs/policy-format.md");
    let example = doc
        .split("## A complete example")
        .nth(1)
        .and_then(|s| s.split("```yaml\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("docs/policy-format.md has a complete example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.yaml");
    std::fs::write(&path, example).unwrap();
    let out = vigil(&["policy", "lint", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, text) = stdout(&["policy", "list", "--policy", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(text.contains("APP-002"));
}

#[test]
fn control_selection_keeps_only_the_controls_named_and_rejects_a_pattern_that_matches_none() {
    let (_, all) = common::scan_json(&["testdata/ssh", "--fail-on", "none"]);
    let (code, picked) = common::scan_json(&[
        "testdata/ssh",
        "--fail-on",
        "none",
        "--control",
        "SSH-00[1-3]",
        "--allow-errors",
        "--control",
        "k8s-*",
        "--skip-control",
        "SSH-002",
    ]);
    assert_eq!(code, 0);
    let ids = |v: &Value| {
        let mut ids: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["control"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let picked_ids = ids(&picked);
    let ssh: Vec<&String> = picked_ids
        .iter()
        .filter(|i| i.starts_with("SSH-"))
        .collect();
    assert_eq!(ssh, ["SSH-001", "SSH-003"]);
    assert!(
        picked_ids
            .iter()
            .all(|i| i.starts_with("SSH-") || i.starts_with("K8S-"))
    );
    assert!(
        ids(&all).len() > 10,
        "without a selection every control runs"
    );
    let policies: Vec<&str> = picked["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(policies, ["ssh-hardening", "kubernetes-pod-security"]);

    let out = vigil(&["scan", "testdata/ssh", "--control", "SSH-1*"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--control SSH-1*: matches no control"),
        "{err}"
    );
    let (code, listed) = stdout(&["policy", "list", "--control", "CERT-01?"]);
    assert_eq!(code, 0);
    assert!(
        listed.contains("CERT-017") && !listed.contains("CERT-001 "),
        "{listed}"
    );
}

/// The fields `vigil facts --fields` lists for a closed kind or format.
fn known_fields(name: &str) -> Vec<String> {
    let (code, text) = stdout(&["facts", "--fields", name]);
    assert_eq!(code, 0);
    text.lines().map(str::to_string).collect()
}

/// Every fact a collector produces from the fixtures is in the list `vigil facts --fields` gives
/// and `vigil policy lint` checks keys against: the lists cannot drift from the collectors.
#[test]
fn known_field_lists_cover_every_fact_of_the_fixtures() {
    for (args, wanted) in [
        (
            vec!["facts", "testdata/certs", "--at", "2030-01-15"],
            vec!["certificate", "private_key", "file"],
        ),
        (vec!["facts", "testdata/ssh"], vec!["sshd"]),
        (
            vec![
                "facts",
                "testdata/k8s",
                "testdata/elements/k8s",
                "--format",
                "kubernetes",
            ],
            vec!["kubernetes"],
        ),
    ] {
        let (_, text) = stdout(&args);
        let files: Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for file in files.as_array().unwrap() {
            for doc in file["documents"].as_array().unwrap() {
                let name = doc["format"].as_str().or(doc["kind"].as_str()).unwrap();
                if !wanted.contains(&name) {
                    continue;
                }
                let known = known_fields(name);
                for key in doc["facts"].as_object().unwrap().keys() {
                    assert!(
                        known.iter().any(|k| k.eq_ignore_ascii_case(key)),
                        "{name} fact `{key}` of {} is not in `vigil facts --fields {name}`",
                        file["path"]
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 2, "{args:?}: {checked} documents checked");
    }
}

#[test]
fn lint_warns_of_a_key_no_document_of_the_format_has() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        "policy: x\ntitle: t\nversion: '1'\ncontrols:\n  - id: A-1\n    title: a\n    severity: high\n    references: {CWE: [CWE-1]}\n    rationale: r\n    remediation: m\n    target: {kind: config, format: sshd, paths: ['**/sshd_config']}\n    check: {key: PasswrodAuthentication, default: 'no', equals: 'no'}\n  - id: A-2\n    title: b\n    severity: low\n    references: {CWE: [CWE-1]}\n    rationale: r\n    remediation: m\n    target: {kind: certificate, paths: ['**'], when: {key: is_ca, equals: false}}\n    check: {key: key_bitz, gte: 2048}\n",
    )
    .unwrap();
    let out = vigil(&["policy", "lint", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("p.yaml:12:12: warning: `PasswrodAuthentication` is not a field of config (sshd) documents, so it is always absent; did you mean `passwordauthentication`?"),
        "{err}"
    );
    assert!(
        err.contains("`key_bitz` is not a field of certificate documents"),
        "{err}"
    );
    assert!(err.contains("did you mean `key_bits`?"), "{err}");
    assert!(
        err.ends_with("1 policy file checked: 0 errors, 2 warnings\n"),
        "{err}"
    );
    // The bundled packs name only fields their documents have.
    let packs = vigil(&["policy", "lint", "policies"]);
    assert!(String::from_utf8_lossy(&packs.stderr).contains("0 errors, 0 warnings"));
}

/// `--quiet` prints nothing but the outputs asked for; without a terminal (CI, a pipe) there is no
/// progress bar, only the summary line.
#[test]
fn quiet_runs_print_only_their_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("r.json");
    let quiet = common::vigil(&[
        "scan",
        "testdata/ssh",
        "--quiet",
        "--format",
        "json",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(
        quiet.status.code(),
        Some(1),
        "the gate still decides the exit code"
    );
    assert!(quiet.stdout.is_empty());
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert!(out_file.exists());
    let loud = common::vigil(&[
        "scan",
        "testdata/ssh",
        "--format",
        "json",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&loud.stderr);
    assert!(
        err.starts_with("vigil: 151 controls, 4 files read:"),
        "{err}"
    );
    assert_eq!(
        err.lines().count(),
        1,
        "one summary line, no progress bar: {err}"
    );
    assert!(!err.contains('\x1b'));
}
