//! Every bundled pack against its fixtures: the exact findings (control, state, file, line), so a
//! change in a parser, an operator or a policy shows up as a reviewed diff of this file.

mod common;

use common::{assert_lines, lines, scan_json};

/// Whether a finding is of the pack that judges inline suppressions, which `vigil scan` adds to
/// every scan of files.
fn is_suppression_pack(f: &serde_json::Value) -> bool {
    f["control"].as_str().is_some_and(|c| c.starts_with("SUP-"))
}

/// The findings of that pack, as `CONTROL state`.
fn suppression_pack(r: &serde_json::Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| is_suppression_pack(f))
        .map(|f| {
            format!(
                "{} {}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap()
            )
        })
        .collect()
}

/// The findings of `controls` of `policy` over `dir`, one line each as [`lines`] writes them,
/// whatever the exit code.
fn judged(dir: &std::path::Path, policy: &str, controls: &[&str]) -> Vec<String> {
    let mut args = vec![
        dir.to_str().unwrap(),
        "--policy",
        policy,
        "--fail-on",
        "none",
    ];
    for control in controls {
        args.extend(["--control", control]);
    }
    lines(&scan_json(&args).1)
}

/// A temporary directory holding `files` (paths relative to it, parents created).
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn ssh_hardening_pack() {
    let (code, r) = scan_json(&["testdata/ssh", "--policy", "policies/ssh-hardening.yaml"]);
    assert_eq!(code, 1, "high failures and errors fail the run");
    assert_lines(
        &lines(&r),
        &[
            "SSH-001 error testdata/ssh/broken/sshd_config:3",
            "SSH-001 pass testdata/ssh/hardened/sshd_config:13",
            "SSH-001 fail testdata/ssh/weak/sshd_config:5",
            "SSH-002 pass testdata/ssh/hardened/sshd_config:22",
            "SSH-002 fail testdata/ssh/weak/sshd_config:10",
            "SSH-003 pass testdata/ssh/hardened/sshd_config:23",
            "SSH-003 fail testdata/ssh/weak/sshd_config:11",
            "SSH-004 pass testdata/ssh/hardened/sshd_config:30",
            "SSH-004 fail testdata/ssh/weak/sshd_config:14",
            "SSH-005 pass testdata/ssh/hardened/sshd_config:15",
            "SSH-005 fail testdata/ssh/weak/sshd_config:8",
            "SSH-006 pass testdata/ssh/hardened/sshd_config:12",
            "SSH-006 fail testdata/ssh/weak/sshd_config:9",
            "SSH-007 pass testdata/ssh/hardened/sshd_config:33",
            "SSH-007 fail testdata/ssh/weak/sshd_config:16",
            "SSH-008 pass testdata/ssh/hardened/sshd_config:34",
            "SSH-008 pass testdata/ssh/weak/sshd_config",
            "SSH-009 pass testdata/ssh/hardened/sshd_config:2 in testdata/ssh/hardened/sshd_config.d/10-crypto.conf",
            "SSH-009 fail testdata/ssh/weak/sshd_config:17",
            "SSH-010 pass testdata/ssh/hardened/sshd_config:3 in testdata/ssh/hardened/sshd_config.d/10-crypto.conf",
            "SSH-010 fail testdata/ssh/weak/sshd_config:18",
            "SSH-011 pass testdata/ssh/hardened/sshd_config:4 in testdata/ssh/hardened/sshd_config.d/10-crypto.conf",
            "SSH-011 fail testdata/ssh/weak/sshd_config:19",
            "SSH-012 pass testdata/ssh/hardened/sshd_config:11",
            "SSH-012 fail testdata/ssh/weak/sshd_config:4",
            "SSH-013 pass testdata/ssh/hardened/sshd_config:19",
            "SSH-013 fail testdata/ssh/weak/sshd_config:12",
            "SSH-014 pass testdata/ssh/hardened/sshd_config:21",
            "SSH-014 fail testdata/ssh/weak/sshd_config:13",
            "SSH-015 pass testdata/ssh/hardened/sshd_config:31",
            "SSH-015 fail testdata/ssh/weak/sshd_config:15",
            "SSH-016 pass testdata/ssh/hardened/sshd_config:35",
            "SSH-016 fail testdata/ssh/weak/sshd_config",
            "SSH-017 pass testdata/ssh/hardened/sshd_config:14",
            "SSH-017 pass testdata/ssh/weak/sshd_config",
            "SSH-018 pass testdata/ssh/hardened/sshd_config:39",
            "SSH-018 fail testdata/ssh/weak/sshd_config:24 Match User deploy",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn linux_sysctl_pack() {
    let (_, r) = scan_json(&["testdata/sysctl", "--policy", "policies/linux-sysctl.yaml"]);
    assert_lines(
        &lines(&r),
        &[
            "SYS-001 pass testdata/sysctl/hardened/sysctl.conf:2",
            "SYS-001 fail testdata/sysctl/weak/sysctl.conf:2",
            "SYS-002 pass testdata/sysctl/hardened/sysctl.conf:3",
            "SYS-002 fail testdata/sysctl/weak/sysctl.conf:3",
            "SYS-003 pass testdata/sysctl/hardened/sysctl.conf:4",
            "SYS-003 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-004 pass testdata/sysctl/hardened/sysctl.conf:5",
            "SYS-004 fail testdata/sysctl/weak/sysctl.conf:4",
            "SYS-005 pass testdata/sysctl/hardened/sysctl.conf:6",
            "SYS-005 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-006 pass testdata/sysctl/hardened/sysctl.conf:7",
            "SYS-006 fail testdata/sysctl/weak/sysctl.conf:5",
            "SYS-007 pass testdata/sysctl/hardened/sysctl.conf:9",
            "SYS-007 fail testdata/sysctl/weak/sysctl.conf:6",
            "SYS-008 pass testdata/sysctl/hardened/sysctl.conf:10",
            "SYS-008 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-009 pass testdata/sysctl/hardened/sysctl.conf:11",
            "SYS-009 pass testdata/sysctl/weak/sysctl.conf",
            "SYS-010 pass testdata/sysctl/hardened/sysctl.conf:12",
            "SYS-010 pass testdata/sysctl/weak/sysctl.conf",
            "SYS-011 pass testdata/sysctl/hardened/sysctl.conf:13",
            "SYS-011 fail testdata/sysctl/weak/sysctl.conf:7",
            "SYS-012 pass testdata/sysctl/hardened/sysctl.conf:14",
            "SYS-012 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-013 pass testdata/sysctl/hardened/sysctl.conf:15",
            "SYS-013 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-014 pass testdata/sysctl/hardened/sysctl.conf:16",
            "SYS-014 fail testdata/sysctl/weak/sysctl.conf:8",
            "SYS-015 pass testdata/sysctl/hardened/sysctl.conf:17",
            "SYS-015 fail testdata/sysctl/weak/sysctl.conf:10",
            "SYS-016 pass testdata/sysctl/hardened/sysctl.conf:18",
            "SYS-016 fail testdata/sysctl/weak/sysctl.conf:9",
            "SYS-017 pass testdata/sysctl/hardened/sysctl.conf:19",
            "SYS-017 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-018 pass testdata/sysctl/hardened/sysctl.conf:20",
            "SYS-018 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-019 pass testdata/sysctl/hardened/sysctl.conf:2 in testdata/sysctl/hardened/sysctl.d/60-kernel.conf",
            "SYS-019 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-020 pass testdata/sysctl/hardened/sysctl.conf:3 in testdata/sysctl/hardened/sysctl.d/60-kernel.conf",
            "SYS-020 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-021 pass testdata/sysctl/hardened/sysctl.conf:4 in testdata/sysctl/hardened/sysctl.d/60-kernel.conf",
            "SYS-021 fail testdata/sysctl/weak/sysctl.conf",
            "SYS-022 pass testdata/sysctl/hardened/sysctl.conf:5 in testdata/sysctl/hardened/sysctl.d/60-kernel.conf",
            "SYS-022 fail testdata/sysctl/weak/sysctl.conf",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn nginx_tls_pack() {
    let (_, r) = scan_json(&["testdata/nginx", "--policy", "policies/nginx-tls.yaml"]);
    assert_lines(
        &lines(&r),
        &[
            "NGX-001 error testdata/nginx/broken/nginx.conf:3",
            "NGX-001 pass testdata/nginx/hardened/nginx.conf:11",
            "NGX-001 fail testdata/nginx/weak/nginx.conf:7 server \"legacy.example.org\" listen 443 ssl",
            "NGX-001 fail testdata/nginx/weak/nginx.conf:24 stream server (no server_name) listen 5433 ssl",
            "NGX-002 pass testdata/nginx/hardened/nginx.conf:12",
            "NGX-002 fail testdata/nginx/weak/nginx.conf:8 server \"legacy.example.org\" listen 443 ssl",
            "NGX-003 pass testdata/nginx/hardened/nginx.conf:10",
            "NGX-003 fail testdata/nginx/weak/nginx.conf:15 server \"legacy.example.org\" listen 443 ssl",
            "NGX-004 pass testdata/nginx/hardened/nginx.conf:28",
            "NGX-004 fail testdata/nginx/weak/nginx.conf:10 server \"legacy.example.org\" listen 443 ssl",
            "NGX-005 pass testdata/nginx/hardened/nginx.conf:13",
            "NGX-005 fail testdata/nginx/weak/nginx.conf:10 server \"legacy.example.org\" listen 443 ssl",
            "NGX-005 fail testdata/nginx/weak/nginx.conf:21 stream server (no server_name) listen 5433 ssl",
            "NGX-006 pass testdata/nginx/hardened/nginx.conf:14",
            "NGX-006 fail testdata/nginx/weak/nginx.conf:10 server \"legacy.example.org\" listen 443 ssl",
            "NGX-006 fail testdata/nginx/weak/nginx.conf:21 stream server (no server_name) listen 5433 ssl",
            "NGX-007 pass testdata/nginx/hardened/nginx.conf:26",
            "NGX-007 pass testdata/nginx/weak/nginx.conf:13",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn kubernetes_pod_security_pack() {
    let (_, r) = scan_json(&[
        "testdata/k8s",
        "--policy",
        "policies/kubernetes-pod-security.yaml",
    ]);
    assert_lines(
        &lines(&r),
        &[
            "K8S-001 error testdata/k8s/broken.yaml:10",
            "K8S-001 pass testdata/k8s/cronjob.yaml:19 [CronJob/nightly-report]",
            "K8S-001 pass testdata/k8s/hardened-deployment.yaml:46 [Deployment/shop/web]",
            "K8S-001 fail testdata/k8s/privileged-daemonset.yaml:34 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-002 pass testdata/k8s/cronjob.yaml:12 [CronJob/nightly-report]",
            "K8S-002 pass testdata/k8s/hardened-deployment.yaml:26 [Deployment/shop/web]",
            "K8S-002 fail testdata/k8s/privileged-daemonset.yaml:14 [DaemonSet/kube-system/node-agent]",
            "K8S-003 pass testdata/k8s/cronjob.yaml:12 [CronJob/nightly-report]",
            "K8S-003 pass testdata/k8s/hardened-deployment.yaml:26 [Deployment/shop/web]",
            "K8S-003 fail testdata/k8s/privileged-daemonset.yaml:15 [DaemonSet/kube-system/node-agent]",
            "K8S-004 pass testdata/k8s/cronjob.yaml:12 [CronJob/nightly-report]",
            "K8S-004 pass testdata/k8s/hardened-deployment.yaml:26 [Deployment/shop/web]",
            "K8S-004 fail testdata/k8s/privileged-daemonset.yaml:16 [DaemonSet/kube-system/node-agent]",
            "K8S-005 pass testdata/k8s/cronjob.yaml [CronJob/nightly-report]",
            "K8S-005 pass testdata/k8s/hardened-deployment.yaml [Deployment/shop/web]",
            "K8S-005 fail testdata/k8s/privileged-daemonset.yaml:24 [DaemonSet/kube-system/node-agent] volume \"root\"",
            "K8S-006 pass testdata/k8s/cronjob.yaml [CronJob/nightly-report]",
            "K8S-006 pass testdata/k8s/hardened-deployment.yaml:44 [Deployment/shop/web]",
            "K8S-006 fail testdata/k8s/privileged-daemonset.yaml:32 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-007 fail testdata/k8s/cronjob.yaml:19 [CronJob/nightly-report] container \"report\"",
            "K8S-007 pass testdata/k8s/hardened-deployment.yaml:46 [Deployment/shop/web]",
            "K8S-007 fail testdata/k8s/privileged-daemonset.yaml:34 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-008 pass testdata/k8s/cronjob.yaml:14 [CronJob/nightly-report]",
            "K8S-008 pass testdata/k8s/hardened-deployment.yaml:27 [Deployment/shop/web]",
            "K8S-008 fail testdata/k8s/privileged-daemonset.yaml:34 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-009 pass testdata/k8s/cronjob.yaml [CronJob/nightly-report]",
            "K8S-009 pass testdata/k8s/hardened-deployment.yaml:50 [Deployment/shop/web]",
            "K8S-009 fail testdata/k8s/privileged-daemonset.yaml:37 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-010 fail testdata/k8s/cronjob.yaml:19 [CronJob/nightly-report] container \"report\"",
            "K8S-010 pass testdata/k8s/hardened-deployment.yaml:49 [Deployment/shop/web]",
            "K8S-010 fail testdata/k8s/privileged-daemonset.yaml:37 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-011 fail testdata/k8s/cronjob.yaml:20 [CronJob/nightly-report] container \"report\"",
            "K8S-011 pass testdata/k8s/hardened-deployment.yaml:30 [Deployment/shop/web]",
            "K8S-011 fail testdata/k8s/privileged-daemonset.yaml:34 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-012 fail testdata/k8s/cronjob.yaml:17 [CronJob/nightly-report] container \"report\"",
            "K8S-012 pass testdata/k8s/hardened-deployment.yaml:42 [Deployment/shop/web]",
            "K8S-012 fail testdata/k8s/privileged-daemonset.yaml:29 [DaemonSet/kube-system/node-agent]",
            "K8S-013 fail testdata/k8s/cronjob.yaml:16 [CronJob/nightly-report] container \"report\"",
            "K8S-013 pass testdata/k8s/hardened-deployment.yaml:52 [Deployment/shop/web]",
            "K8S-013 fail testdata/k8s/privileged-daemonset.yaml:28 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-014 pass testdata/k8s/cronjob.yaml:19 [CronJob/nightly-report]",
            "K8S-014 pass testdata/k8s/hardened-deployment.yaml:46 [Deployment/shop/web]",
            "K8S-014 fail testdata/k8s/privileged-daemonset.yaml:35 [DaemonSet/kube-system/node-agent] container \"agent\"",
            "K8S-015 pass testdata/k8s/cronjob.yaml [CronJob/nightly-report]",
            "K8S-015 pass testdata/k8s/hardened-deployment.yaml [Deployment/shop/web]",
            "K8S-015 fail testdata/k8s/privileged-daemonset.yaml:19 [DaemonSet/kube-system/node-agent] sysctl \"kernel.msgmax\"",
            "K8S-016 pass testdata/k8s/cronjob.yaml:19 [CronJob/nightly-report]",
            "K8S-016 pass testdata/k8s/hardened-deployment.yaml:28 [Deployment/shop/web]",
            "K8S-016 pass testdata/k8s/privileged-daemonset.yaml:34 [DaemonSet/kube-system/node-agent]",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn secrets_pack() {
    let (_, r) = scan_json(&[
        "testdata/secrets",
        "testdata/misc",
        "--policy",
        "policies/secrets.yaml",
    ]);
    assert_lines(
        &lines(&r),
        &[
            "SEC-001 fail testdata/secrets/app/.env:3",
            "SEC-002 fail testdata/secrets/app/.env:4",
            "SEC-003 fail testdata/secrets/app/settings.py:6",
            "SEC-004 fail testdata/secrets/deploy/tokens.txt:4",
            "SEC-005 fail testdata/secrets/deploy/tokens.txt:5",
            "SEC-006 fail testdata/secrets/deploy/tokens.txt:3",
            "SEC-007 fail testdata/secrets/app/config.yaml:3",
            "SEC-007 fail testdata/secrets/app/config.yaml:4",
            "SEC-007 fail testdata/secrets/deploy/services.txt:2",
            "SEC-008 fail testdata/secrets/app/.env:7",
            "SEC-009 fail testdata/secrets/app/config.yaml:6",
            "SEC-010 fail testdata/secrets/deploy/id_ed25519:1 [ed25519 256-bit private key (openssh)]",
            "SEC-010 pass testdata/secrets/keys/id_rsa_encrypted:1 [rsa 3072-bit private key (openssh)]",
            "SEC-010 pass testdata/secrets/keys/rsa-pkcs1-encrypted.key:1 [rsa private key (pkcs1)]",
            "SEC-011 fail testdata/secrets/deploy/tokens.txt:2",
            "SEC-012 fail testdata/secrets/app/.env:4",
            "SEC-012 fail testdata/secrets/app/main.go:7",
            "SEC-012 fail testdata/secrets/app/settings.py:8",
            "SEC-012 fail testdata/secrets/app/settings.py:9",
            "SEC-013 fail testdata/secrets/app/.env:5",
            "SEC-014 fail testdata/secrets/app/config.yaml:8",
            "SEC-015 fail testdata/secrets/deploy/tokens.txt:6",
            "SEC-016 fail testdata/secrets/deploy/tokens.txt:7",
            "SEC-017 fail testdata/secrets/deploy/tokens.txt:8",
            "SEC-018 fail testdata/secrets/deploy/tokens.txt:9",
            "SEC-019 fail testdata/secrets/deploy/release-signing.asc:1",
            "SEC-020 fail testdata/secrets/deploy/services.txt:3",
            "SEC-021 fail testdata/secrets/deploy/services.txt:4",
            "SEC-022 fail testdata/secrets/deploy/services.txt:5",
            "SEC-022 fail testdata/secrets/deploy/services.txt:6",
            "SEC-023 fail testdata/secrets/deploy/services.txt:7",
            "SEC-024 fail testdata/secrets/deploy/services.txt:8",
            "SEC-025 fail testdata/secrets/deploy/services.txt:9",
            "SEC-026 fail testdata/secrets/deploy/services.txt:10",
            "SEC-027 fail testdata/secrets/deploy/services.txt:11",
            "SEC-028 fail testdata/secrets/deploy/services.txt:12",
            "SEC-029 fail testdata/secrets/deploy/services.txt:13",
            "SEC-030 fail testdata/secrets/deploy/services.txt:14",
            "SEC-031 fail testdata/secrets/deploy/services.txt:15",
            "SEC-032 fail testdata/secrets/deploy/services.txt:16",
            "SEC-033 fail testdata/secrets/deploy/services.txt:17",
            "SEC-034 fail testdata/secrets/deploy/services.txt:18",
            "SEC-035 fail testdata/secrets/deploy/services.txt:19",
            "SEC-036 fail testdata/secrets/deploy/services.txt:20",
            "SEC-037 fail testdata/secrets/deploy/services.txt:21",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
    assert_eq!(
        r["inventory"]["binary_files_skipped"], 1,
        "the binary blob is not searched"
    );
}

/// SEC-012 in source code: a literal is quoted, so an unquoted value is a name or a type and is
/// not reported there, while the same unquoted value in a configuration file is; a quoted one is
/// found after a type annotation and with a string prefix.
#[test]
fn password_assignments_in_code_are_quoted_literals() {
    let dir = tree(&[
        (
            "lib.rs",
            "pub struct Tls { secrets: ConnectionSecrets }\n\
             const API_KEY: &str = \"q7Vd9LmX2rTz8KwP\";\n\
             static DB_PASSWORD: &'static str = r#\"Zx9kq2Lm0Pq4\"#;\n",
        ),
        (
            "app.py",
            "def render(password: FilterOrBool = False):\n\
             \x20   token = connect(password=b'Q8vT2mKxL0pZ')\n\
             \x20   api_key: str = \"H2DBog0NyJJRFDa7\"\n",
        ),
        (
            "client.ts",
            "private readonly apiKey: string = \"Wq3Lx8Zp2Nv7\";\n",
        ),
        (
            "kdf.c",
            "static const char PASSWORD[] = \"Zx9!kq2Lm0Pq\";\nctx->pwdlen = (uint32_t)pwdlen;\n",
        ),
        (
            "settings.yaml",
            "secrets: ConnectionSecrets9\npassword: Tr0ub4dorK9qLm\n",
        ),
    ]);
    let (_, r) = scan_json(&[
        dir.path().to_str().unwrap(),
        "--policy",
        "policies/secrets.yaml",
        "--control",
        "SEC-012",
    ]);
    let mut found: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "fail")
        .map(|f| {
            let file = f["target"]["file"].as_str().unwrap();
            format!(
                "{}:{}:{} {}",
                file.rsplit('/').next().unwrap(),
                f["location"]["line"],
                f["location"]["column"],
                f["observed"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "app.py:2:32 Q8v…[redacted, 12 chars]",
            "app.py:3:21 H2DB…[redacted, 16 chars]",
            "client.ts:1:36 Wq3…[redacted, 12 chars]",
            "kdf.c:1:33 Zx9…[redacted, 12 chars]",
            "lib.rs:2:24 q7Vd…[redacted, 16 chars]",
            "lib.rs:3:39 Zx9…[redacted, 12 chars]",
            "settings.yaml:1:10 Conn…[redacted, 18 chars]",
            "settings.yaml:2:11 Tr0…[redacted, 14 chars]",
        ]
    );
}

/// YAML that cannot be parsed is an error for the Kubernetes pack only when it could be a manifest:
/// a CI configuration with a duplicate key names neither `apiVersion` nor `kind`.
#[test]
fn unparsable_yaml_fails_the_kubernetes_pack_only_when_it_names_a_kind() {
    let dir = tree(&[
        (
            ".cirrus.yml",
            "task:\n  script: cargo test\ntask:\n  script: cargo clippy\n",
        ),
        (
            "deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nmetadata: {name: api}\n",
        ),
    ]);
    let (_, r) = scan_json(&[
        dir.path().to_str().unwrap(),
        "--policy",
        "policies/kubernetes-pod-security.yaml",
        "--fail-on",
        "none",
    ]);
    let errors: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "error")
        .map(|f| {
            let file = f["target"]["file"].as_str().unwrap();
            format!("{} {}", file.rsplit('/').next().unwrap(), f["message"])
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("deployment.yaml ") && errors[0].contains("duplicate key"),
        "{errors:?}"
    );
}

/// Workloads of other kinds keep their pods where Kubernetes' own do: an Argo Rollout, an OpenShift
/// DeploymentConfig in a list and a Knative Service are judged like a Deployment, where no control
/// applied to them before.
#[test]
fn custom_workloads_with_a_pod_template_are_judged() {
    let dir = tree(&[
        (
            "rollout.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n  strategy: {canary: {steps: [{setWeight: 20}]}}\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web:1.2\n          securityContext: {privileged: true}\n",
        ),
        (
            "apps.yaml",
            "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps.openshift.io/v1\n    kind: DeploymentConfig\n    metadata: {name: legacy}\n    spec:\n      template:\n        spec:\n          hostNetwork: true\n          containers: [{name: app, image: app:3}]\n  - apiVersion: serving.knative.dev/v1\n    kind: Service\n    metadata: {name: hello, namespace: web}\n    spec:\n      template:\n        spec:\n          containers:\n            - image: hello:1\n              securityContext: {privileged: true}\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: web}\n    spec: {ports: [{port: 80}]}\n",
        ),
    ]);
    let d = dir.path().display();
    assert_lines(
        &judged(
            dir.path(),
            "policies/kubernetes-pod-security.yaml",
            &["K8S-001", "K8S-002"],
        ),
        &[
            &format!("K8S-001 pass {d}/apps.yaml:11 [DeploymentConfig/legacy]"),
            &format!("K8S-001 fail {d}/apps.yaml:20 [Service/web/hello] container #1"),
            &format!("K8S-001 fail {d}/rollout.yaml:11 [Rollout/web] container \"web\""),
            &format!("K8S-002 fail {d}/apps.yaml:10 [DeploymentConfig/legacy]"),
            &format!("K8S-002 pass {d}/apps.yaml:18 [Service/web/hello]"),
            &format!("K8S-002 pass {d}/rollout.yaml:8 [Rollout/web]"),
        ],
    );
}

/// `kubectl apply -f` takes JSON manifests as it takes YAML ones, so the Kubernetes pack judges
/// them, per container and at their lines; a JSON file that is no manifest (a `package.json`, a
/// JSON schema naming both keys below its top level) gives no verdict, and one that names both
/// keys but does not parse is an error (one per file, as for YAML).
#[test]
fn json_manifests_are_judged() {
    let dir = tree(&[
        (
            "deploy.json",
            r#"{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "api", "namespace": "shop"},
  "spec": {
    "template": {
      "spec": {
        "hostNetwork": true,
        "containers": [
          {"name": "api", "image": "api:2", "securityContext": {"privileged": false}},
          {"name": "agent", "image": "agent:1", "securityContext": {"privileged": true}}
        ]
      }
    }
  }
}
"#,
        ),
        (
            "package.json",
            r#"{"name": "web", "kind": "app", "scripts": {"build": "tsc"}}"#,
        ),
        (
            "schema.json",
            r#"{"properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}}"#,
        ),
        (
            "broken.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n",
        ),
    ]);
    let d = dir.path().display();
    assert_lines(
        &judged(
            dir.path(),
            "policies/kubernetes-pod-security.yaml",
            &["K8S-001", "K8S-002"],
        ),
        &[
            &format!("K8S-001 error {d}/broken.json:2"),
            &format!("K8S-001 fail {d}/deploy.json:11 [Deployment/shop/api] container \"agent\""),
            &format!("K8S-002 fail {d}/deploy.json:8 [Deployment/shop/api]"),
        ],
    );
}

#[test]
fn docker_compose_pack() {
    let (_, r) = scan_json(&[
        "testdata/compose",
        "--policy",
        "policies/docker-compose.yaml",
    ]);
    let app = "testdata/compose/app/docker-compose.yml";
    let ok = "testdata/compose/hardened/compose.yaml";
    // An override file is judged on its own, as written.
    let local = "testdata/compose/app/docker-compose.override.yml";
    assert_lines(
        &lines(&r),
        &[
            &format!("DC-001 fail {local}:7 services[\"debug\"]"),
            // Brought in by a merge key (`<<: *monitoring`): judged at the anchor's line.
            &format!("DC-001 fail {app}:3 services[\"agent\"]"),
            &format!("DC-001 pass {ok}:4"),
            &format!("DC-002 pass {local}:4"),
            &format!("DC-002 fail {app}:16 services[\"agent\"]"),
            &format!("DC-002 pass {ok}:4"),
            &format!("DC-003 pass {local}:4"),
            &format!("DC-003 fail {app}:4 services[\"agent\"]"),
            &format!("DC-003 fail {app}:30 services[\"api\"]"),
            &format!("DC-003 pass {ok}:4"),
            &format!("DC-004 pass {local}:4"),
            &format!("DC-004 fail {app}:18 services[\"agent\"]"),
            &format!("DC-004 pass {ok}:7"),
            &format!("DC-005 pass {local}:4"),
            &format!("DC-005 fail {app}:19 services[\"agent\"]"),
            // The long volume syntax: `source: /etc`.
            &format!("DC-005 fail {app}:25 services[\"db\"]"),
            &format!("DC-005 pass {ok}:7"),
            &format!("DC-006 pass {local}:4"),
            &format!("DC-006 fail {app}:5 services[\"agent\"]"),
            &format!("DC-006 pass {ok}:12"),
            &format!("DC-007 pass {local}:4"),
            &format!("DC-007 fail {app}:22 services[\"db\"]"),
            &format!("DC-007 pass {ok}:13"),
            &format!("DC-008 pass {local}:6"),
            // Untagged and `latest`; the service built from `./api` has no image to pin.
            &format!("DC-008 fail {app}:15 services[\"agent\"]"),
            &format!("DC-008 fail {app}:21 services[\"db\"]"),
            &format!("DC-008 pass {ok}:4"),
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn dockerfile_pack() {
    let (_, r) = scan_json(&["testdata/docker", "--policy", "policies/dockerfile.yaml"]);
    let api = "testdata/docker/api/Dockerfile";
    // Its shipped stage builds on `base`, whose USER it inherits; its base is pinned by digest.
    let worker = "testdata/docker/worker/Containerfile";
    // Its shipped stage sets no USER, but distroless' `:nonroot` tag runs as uid 65532.
    let distroless = "testdata/docker/distroless/Dockerfile";
    assert_lines(
        &lines(&r),
        &[
            // The shipped stage (`FROM alpine`) sets no USER: judged as root.
            &format!("DF-001 fail {api}:12 stage 1 (alpine)"),
            &format!("DF-001 pass {distroless}:7"),
            &format!("DF-001 pass {worker}:3"),
            // `FROM ${NODE}` takes the global ARG's pinned default; `alpine` is latest.
            &format!("DF-002 fail {api}:12 stage 1 (alpine)"),
            &format!("DF-002 pass {distroless}:1"),
            &format!("DF-002 pass {worker}:1"),
            // The ADD with --checksum passes.
            &format!("DF-003 fail {api}:13 ADD at line 13"),
            &format!("DF-003 pass {distroless}"),
            &format!("DF-003 pass {worker}"),
            &format!("DF-004 fail {api}:15 RUN at line 15"),
            &format!("DF-004 pass {distroless}:4"),
            &format!("DF-004 pass {worker}:2"),
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
}

#[test]
fn terraform_pack() {
    let (_, r) = scan_json(&["testdata/terraform", "--policy", "policies/terraform.yaml"]);
    let iam = "testdata/terraform/aws/iam.tf";
    let modules = "testdata/terraform/aws/modules.tf";
    let net = "testdata/terraform/aws/network.tf";
    let store = "testdata/terraform/aws/storage.tf";
    let azure = "testdata/terraform/azure/storage.tf";
    let nsg = "testdata/terraform/azure/network.tf";
    let gcp = "testdata/terraform/gcp/network.tf";
    let broken = "testdata/terraform/broken/main.tf";
    let ok = "testdata/terraform/hardened/main.tf";
    // Its values come from its variables: defaults in variables.tf, overridden by terraform.tfvars.
    let module = "testdata/terraform/module/main.tf";
    let defaults = "testdata/terraform/module/variables.tf";
    let tfvars = "testdata/terraform/module/terraform.tfvars";
    let want = [
        // The second ingress block opens 22; the HTTPS one and the bastion's office range pass.
        format!("TF-001 fail {net}:18 aws_security_group.web"),
        // 3000-4000 covers 3389, from ::/0.
        format!("TF-001 fail {net}:46 aws_security_group_rule.rdp"),
        // Every protocol, so every port.
        format!("TF-001 fail {net}:65 aws_vpc_security_group_ingress_rule.everything"),
        format!("TF-001 pass {ok}:9"),
        format!("TF-002 fail {store}:5 aws_s3_bucket.assets"),
        // A file that does not parse is one error, at the parser's position, for every control.
        format!("TF-002 error {broken}:7"),
        format!("TF-002 pass {ok}:75"),
        format!("TF-003 fail {store}:11 aws_s3_bucket_public_access_block.assets"),
        format!("TF-003 pass {ok}:86"),
        format!("TF-004 fail {store}:16 aws_ebs_volume.data"),
        // A value known only at plan time fails, and the finding shows it.
        format!("TF-004 fail {store}:24 aws_ebs_volume.scratch"),
        format!("TF-004 pass {ok}:95"),
        format!("TF-004 fail {module}:8 in {defaults} aws_ebs_volume.data"),
        format!("TF-005 fail {store}:27 aws_db_instance.orders"),
        // The read replica is not judged.
        format!("TF-005 pass {ok}:102"),
        format!("TF-005 pass {module}:19"),
        format!("TF-006 fail {store}:31 aws_db_instance.orders"),
        format!("TF-006 pass {ok}:98"),
        // `"${var.public_database}"`, the older syntax of the same reference.
        format!("TF-006 fail {module}:18 in {defaults} aws_db_instance.app"),
        format!("TF-007 fail {net}:92 aws_instance.web"),
        // `http_tokens = "required"`, and a launch template with the endpoint disabled.
        format!("TF-007 pass {ok}:63"),
        // No ssl_policy: ELBSecurityPolicy-2016-08.
        format!("TF-008 fail {net}:72 aws_lb_listener.https"),
        format!("TF-008 pass {ok}:33"),
        format!("TF-009 fail {net}:87 aws_lb_listener.http"),
        format!("TF-009 pass {ok}:48"),
        format!("TF-010 fail {store}:38 aws_cloudtrail.main"),
        format!("TF-010 pass {ok}:124"),
        // Through a local whose value is a variable's default.
        format!("TF-010 fail {module}:23 in {defaults} aws_cloudtrail.main"),
        format!("TF-011 fail {store}:34 aws_kms_key.orders"),
        // The asymmetric signing key cannot rotate and is not judged.
        format!("TF-011 pass {ok}:112"),
        format!("TF-011 pass {module}:1 in {tfvars}"),
        format!("TF-012 fail {azure}:7 azurerm_storage_account.legacy"),
        // Without min_tls_version, the provider's default: TLS 1.0 before azurerm 3.0.
        format!("TF-012 fail {azure}:12 azurerm_storage_account.unstated"),
        // TLS 1.2 set; HTTPS only by the provider's default.
        format!("TF-012 pass {ok}:133"),
        format!("TF-013 fail {gcp}:8 google_compute_firewall.ssh"),
        // Its range 1000-4000 covers 3389; the hardened one opens 80, 443 and 8000-8100.
        format!("TF-013 fail {gcp}:33 google_compute_firewall.wide"),
        format!("TF-013 pass {ok}:142"),
        format!("TF-014 fail {gcp}:37 google_storage_bucket.assets"),
        format!("TF-014 pass {ok}:150"),
        // Registry without version, Git without ref, Git at a branch; a constraint, a tag
        // (`v1.4.2`, `tags/1.4.2`) and a local path pass.
        format!("TF-015 fail {modules}:4 module.vpc"),
        format!("TF-015 fail {modules}:14 module.lambda"),
        format!("TF-015 fail {modules}:26 module.lambda_branch"),
        format!("TF-015 pass {ok}:154"),
        // `22-22` from 0.0.0.0/0; a group whose second rule opens 3000-4000, which covers 3389,
        // from the Internet tag. HTTPS from anywhere and SSH from the office pass.
        format!("TF-016 fail {nsg}:38 azurerm_network_security_rule.ssh"),
        format!("TF-016 fail {nsg}:25 azurerm_network_security_group.web"),
        format!("TF-016 pass {ok}"),
        // No `endpoint_public_access`: public, from anywhere. A private endpoint, and a public
        // one restricted to an office, pass.
        format!("TF-017 fail {net}:101 aws_eks_cluster.main"),
        format!("TF-017 pass {ok}:169"),
        // `*` on `*`: a heredoc's single statement, the second statement of a `jsonencode`, a
        // policy document's second statement block. A Deny of everything passes.
        format!("TF-018 fail {iam}:5 aws_iam_policy.admin"),
        format!("TF-018 fail {iam}:30 aws_iam_role_policy.deploy"),
        format!("TF-018 fail {iam}:53 data.aws_iam_policy_document.ops"),
        format!("TF-018 pass {ok}:204"),
        "SUP-001 not_applicable *".to_string(),
        "SUP-002 not_applicable *".to_string(),
    ];
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_lines(&lines(&r), &want);
    let scratch = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"]["element"] == "aws_ebs_volume.scratch")
        .unwrap();
    assert_eq!(scratch["observed"], "var.encrypt_scratch");
}

/// A scan of a machine's `etc` alone cannot know what its vendor drop-ins set: the sysctl root is
/// an error that names the directory to scan, where it was judged on `etc`'s files as if the
/// vendor's did not exist. Named whole, the root is judged with every drop-in.
#[test]
fn a_sysctl_root_with_unread_vendor_drop_ins_is_an_error() {
    let dir = tree(&[
        ("etc/sysctl.conf", "net.ipv4.ip_forward = 0\n"),
        (
            "usr/lib/sysctl.d/99-protect-links.conf",
            "fs.protected_hardlinks = 1\n",
        ),
    ]);
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc/sysctl.d")).unwrap();
    let judge = |path: &std::path::Path| {
        let (_, r) = scan_json(&[
            path.to_str().unwrap(),
            "--policy",
            "policies/linux-sysctl.yaml",
            "--control",
            "SYS-017",
            "--fail-on",
            "none",
        ]);
        let f = &r["findings"][0];
        (
            f["state"].as_str().unwrap().to_string(),
            f["message"].as_str().unwrap_or("").to_string(),
        )
    };
    let (state, message) = judge(&root.join("etc"));
    assert_eq!(state, "error");
    assert!(
        message.contains(&format!(
            "`{}` is outside the paths named",
            root.join("usr/lib/sysctl.d").display()
        )) && message.contains(&format!("name `{}`", root.display())),
        "{message}"
    );
    assert_eq!(judge(root).0, "pass", "the vendor drop-in sets it");
}

/// nginx's own reading of a configuration: `${VAR}` is a variable (an envsubst template's
/// placeholder), a backslash escapes a brace, and the block of a `*_by_lua_block` is Lua, whose
/// braces and `;` are the code's. Each was a parse error of the whole file once.
#[test]
fn nginx_configurations_are_read_as_nginx_reads_them() {
    let dir = tree(&[(
        "nginx.conf",
        r#"# OpenResty, from an envsubst template
http {
    ssl_protocols TLSv1 TLSv1.2;
    server {
        listen 443 ssl;
        server_name ${SERVER_NAME};
        location /api/ {
            proxy_pass http://${BACKEND}:8000;
        }
        location ~ ^/static/(.+)\.(css|js)$ {
            root /srv;
        }
        location /\{legacy\} { return 404; }
        access_by_lua_block {
            local ok = ngx.var.http_x_token ~= "{";
            if not ok then ngx.exit(403) end  -- } in a comment
        }
        content_by_lua_block {
            local t = { a = [[ } ]] }
            ngx.say(t.a)
        }
    }
}
"#,
    )]);
    let conf = dir.path().join("nginx.conf");
    let shown = conf.display().to_string();
    assert_lines(
        &judged(
            dir.path(),
            "policies/nginx-tls.yaml",
            &["NGX-001", "NGX-007"],
        ),
        &[
            &format!("NGX-001 fail {shown}:3 server \"${{SERVER_NAME}}\" listen 443 ssl"),
            &format!("NGX-007 fail {shown}:4 server \"${{SERVER_NAME}}\" listen 443 ssl"),
        ],
    );
    let out = common::vigil(&["facts", conf.to_str().unwrap()]);
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let server = &facts[0]["documents"][1]["facts"]["http"][0]["server"][0];
    let locations: Vec<&str> = server["location"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["args"].as_str().unwrap())
        .collect();
    assert_eq!(
        locations,
        ["/api/", r"~ ^/static/(.+)\.(css|js)$", r"/\{legacy\}"]
    );
    let code = server["content_by_lua_block"][0]["code"].as_str().unwrap();
    assert!(code.contains("local t = { a = [[ } ]] }"), "{code:?}");
}

/// A configuration without a TLS server is not judged by the TLS controls, and one without an HTTP
/// server not by NGX-003: a pass there would tell an auditor its TLS settings were checked. A TLS
/// server anywhere in the configuration brings the TLS controls back, and a broken one is still an
/// error.
#[test]
fn nginx_controls_judge_only_configurations_with_their_servers() {
    let dir = tree(&[
        (
            "plain/nginx.conf",
            "events {}\nhttp {\n  server_tokens off;\n  server {\n    listen 80;\n    server_name plain.example;\n  }\n}\n",
        ),
        (
            "proxy/nginx.conf",
            "events {}\nstream {\n  server {\n    listen 5432;\n    proxy_pass db:5432;\n  }\n}\n",
        ),
        (
            "shop/nginx.conf",
            "events {}\nhttp {\n  server {\n    listen 80;\n  }\n  server {\n    listen 443 ssl;\n    ssl_protocols TLSv1.2;\n  }\n}\n",
        ),
        ("broken/nginx.conf", "events {}\nhttp {\n  server {\n"),
    ]);
    let d = dir.path().display();
    assert_lines(
        &judged(
            dir.path(),
            "policies/nginx-tls.yaml",
            &["NGX-001", "NGX-003", "NGX-007"],
        ),
        &[
            &format!("NGX-001 error {d}/broken/nginx.conf:3"),
            &format!("NGX-001 pass {d}/shop/nginx.conf:8"),
            &format!("NGX-003 pass {d}/plain/nginx.conf:3"),
            &format!("NGX-003 fail {d}/shop/nginx.conf:3 server (no server_name) listen 80"),
            &format!("NGX-003 fail {d}/shop/nginx.conf:6 server (no server_name) listen 443 ssl"),
            &format!("NGX-007 fail {d}/shop/nginx.conf:6 server (no server_name) listen 443 ssl"),
        ],
    );
}

/// A repository keeps its `nginx.conf` without the files nginx installs beside it (`mime.types`,
/// `fastcgi_params`): those hold nothing a control judges, so the configuration is judged and the
/// files are listed as not read. Any other include that is missing is still an error.
#[test]
fn nginx_stock_files_missing_beside_a_configuration_are_not_errors() {
    let text = "http {\n    include mime.types;\n    include /etc/nginx/fastcgi_params;\n    ssl_protocols TLSv1.2;\n    server {\n        listen 443 ssl;\n    }\n}\n";
    let dir = tree(&[("nginx.conf", text)]);
    let conf = dir.path().join("nginx.conf");
    let scan = || judged(dir.path(), "policies/nginx-tls.yaml", &["NGX-001"]);
    let shown = conf.display().to_string();
    assert_lines(&scan(), &[&format!("NGX-001 pass {shown}:4")]);
    let out = common::vigil(&["facts", conf.to_str().unwrap()]);
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let unread = &facts[0]["documents"][1]["facts"]["stock_includes_not_read"];
    assert_eq!(
        unread.as_array().unwrap().len(),
        2,
        "{}",
        facts[0]["documents"][1]
    );
    assert!(unread[0].as_str().unwrap().ends_with("mime.types"));
    assert!(unread[1].as_str().unwrap().ends_with("fastcgi_params"));
    std::fs::write(&conf, text.replace("mime.types", "h5bp/basic.conf")).unwrap();
    assert_lines(&scan(), &[&format!("NGX-001 error {shown}:2")]);
}

/// sshd ends a line at a `#` that starts an argument: `PermitRootLogin no # root stays out` is `no`,
/// and a suppression may follow the value on its line. Read as part of the value, the comment
/// failed every such control once.
#[test]
fn sshd_comments_after_a_value_are_comments() {
    let dir = tree(&[(
        "sshd_config",
        "PermitRootLogin no # root stays out\nPasswordAuthentication yes # vigil:ignore SSH-002 the lab's kiosk logs in with a password (LAB-3)\nMaxAuthTries 3 #three\n",
    )]);
    let conf = dir.path().join("sshd_config");
    let shown = conf.display().to_string();
    assert_lines(
        &judged(dir.path(), "policies/ssh-hardening.yaml", &["SSH-00[125]"]),
        &[
            &format!("SSH-001 pass {shown}:1"),
            &format!("SSH-002 suppressed {shown}:2"),
            &format!("SSH-005 pass {shown}:3"),
        ],
    );
}

/// A setting merged from an anchor (`<<: *privileged`) is the container's, as kubectl applies it:
/// kept as a literal `<<` key, it let a privileged container pass and failed an image that was set.
#[test]
fn yaml_merge_keys_are_applied() {
    let dir = tree(&[(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web:1.2\n          securityContext: &privileged\n            privileged: true\n        - <<: {name: sidecar, image: proxy:2}\n          securityContext:\n            <<: *privileged\n",
    )]);
    let path = dir.path().join("deploy.yaml");
    let shown = path.display().to_string();
    assert_lines(
        &judged(
            dir.path(),
            "policies/kubernetes-pod-security.yaml",
            &["K8S-001", "K8S-012"],
        ),
        &[
            &format!("K8S-001 fail {shown}:11 [Deployment/web] container \"web\""),
            &format!("K8S-001 fail {shown}:11 [Deployment/web] container \"sidecar\""),
            &format!("K8S-012 pass {shown}:9 [Deployment/web]"),
        ],
    );
}

/// A default applies because the file does not set a key: it has no line in the file, and the
/// finding must not borrow the position of the policy's `default:` (line 258 of the ssh pack once).
#[test]
fn a_defaulted_value_has_no_line_in_the_target() {
    let dir = tree(&[("sshd_config", "PermitRootLogin no\n")]);
    let config = dir.path().join("sshd_config");
    let (_, r) = scan_json(&[
        config.to_str().unwrap(),
        "--policy",
        "policies/ssh-hardening.yaml",
        "--fail-on",
        "none",
    ]);
    let findings = r["findings"].as_array().unwrap();
    let macs = findings
        .iter()
        .find(|f| f["control"] == "SSH-010")
        .expect("SSH-010 judged");
    assert_eq!(macs["state"], "fail");
    assert!(macs.get("location").is_none(), "{macs}");
    assert!(
        macs["observed"]
            .as_str()
            .unwrap()
            .starts_with("(absent; default: ")
    );
    for f in findings {
        if let Some(line) = f["location"]["line"].as_u64() {
            assert_eq!(line, 1, "only line 1 exists: {f}");
        }
    }
}

/// The secrets pack and the certificates pack judge a private key from the same facts: an
/// encrypted key (PKCS#1 with `Proc-Type: 4,ENCRYPTED`, encrypted PKCS#8, OpenSSH with a cipher)
/// passes both, an unencrypted one fails both.
#[test]
fn secrets_and_certificates_agree_on_every_key() {
    let (_, r) = scan_json(&[
        "testdata/certs/keys",
        "--control",
        "SEC-010",
        "--control",
        "CERT-015",
        "--fail-on",
        "none",
    ]);
    let mut by_key: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for f in r["findings"].as_array().unwrap() {
        let key = format!(
            "{}:{}",
            f["target"]["file"].as_str().unwrap(),
            f["location"]["line"]
        );
        by_key.entry(key).or_default().push((
            f["control"].as_str().unwrap().to_string(),
            f["state"].as_str().unwrap().to_string(),
        ));
    }
    let encrypted = [
        "testdata/certs/keys/id_rsa_encrypted:1",
        "testdata/certs/keys/rsa-pkcs1-encrypted.key:1",
        "testdata/certs/keys/rsa-pkcs8-encrypted.pem:1",
    ];
    assert!(by_key.len() >= 8, "{by_key:?}");
    for (key, verdicts) in &by_key {
        let want = if encrypted.contains(&key.as_str()) {
            "pass"
        } else {
            "fail"
        };
        assert_eq!(verdicts.len(), 2, "{key}: {verdicts:?}");
        for (control, state) in verdicts {
            assert_eq!(state, want, "{control} on {key}");
        }
    }
}

/// A Debian root as its packages leave it: systemd's vendor drop-in (globs, `-key` exclusions)
/// merged with the site's own by file name; a parameter no file sets is judged by the kernel's
/// default and says so; one whose default depends on the kernel build fails when unset.
#[test]
fn linux_sysctl_pack_on_a_debian_root() {
    let (_, r) = scan_json(&[
        "testdata/real/sysctl",
        "--policy",
        "policies/linux-sysctl.yaml",
        "--pass-evidence",
        "full",
    ]);
    let vendor = "testdata/real/sysctl/debian-13/usr/lib/sysctl.d/50-default.conf";
    let site = "testdata/real/sysctl/debian-13/etc/sysctl.d/99-hardening.conf";
    assert_eq!(
        suppression_pack(&r),
        ["SUP-001 not_applicable", "SUP-002 not_applicable"],
        "no file has inline suppressions"
    );
    let got: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !is_suppression_pack(f))
        .map(|f| {
            assert_eq!(f["target"]["file"], vendor, "the root is judged once");
            let at = match (
                f["location"]["line"].as_u64(),
                f["location"]["path"].as_str(),
            ) {
                (Some(l), Some(p)) if p == site => format!(" site:{l}"),
                (Some(l), None) => format!(" vendor:{l}"),
                _ => String::new(),
            };
            format!(
                "{} {}{at} {}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                f["observed"].as_str().unwrap()
            )
        })
        .collect();
    assert_lines(
        &got,
        &[
            "SYS-001 pass (absent; default: 0)",
            "SYS-002 pass site:2 0",
            "SYS-003 pass site:3 0",
            "SYS-004 fail (absent; default: 1)",
            "SYS-005 fail (absent; default: 1)",
            "SYS-006 pass (absent; default: 0)",
            "SYS-007 fail (absent; default: 0)",
            "SYS-008 pass site:4 1",
            "SYS-009 pass (absent; default: 1)",
            "SYS-010 pass (absent; default: 1)",
            "SYS-011 pass (absent; default: 1)",
            "SYS-012 fail (absent; default: 1)",
            "SYS-013 fail (absent; default: 1)",
            "SYS-014 pass (absent; default: 2)",
            "SYS-015 pass site:5 1",
            "SYS-016 pass (absent; default: 0)",
            "SYS-017 pass vendor:23 1",
            "SYS-018 pass vendor:24 1",
            "SYS-019 fail (absent)",
            "SYS-020 fail (absent)",
            "SYS-021 fail (absent)",
            "SYS-022 fail (absent; default: 0)",
        ],
    );
}

/// Debian's and Ubuntu's layout: the drop-in directory included first by absolute path, so
/// cloud-init's `PasswordAuthentication yes` beats the administrator's later `no`; the drop-in's
/// `Match` ends with it; `MACs -hmac-sha1*,umac-64*` leaves only strong MACs.
#[test]
fn ssh_pack_on_a_cloud_image_root() {
    let (_, r) = scan_json(&[
        "testdata/real/ssh",
        "--policy",
        "policies/ssh-hardening.yaml",
        "--control",
        "SSH-00[124]",
        "--control",
        "SSH-010",
    ]);
    assert_lines(
        &lines(&r),
        &[
            "SSH-001 pass testdata/real/ssh/ubuntu-cloud/etc/ssh/sshd_config:17",
            "SSH-002 fail testdata/real/ssh/ubuntu-cloud/etc/ssh/sshd_config:1 in testdata/real/ssh/ubuntu-cloud/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "SSH-004 fail testdata/real/ssh/ubuntu-cloud/etc/ssh/sshd_config:10",
            "SSH-010 pass testdata/real/ssh/ubuntu-cloud/etc/ssh/sshd_config:18",
        ],
    );
}

/// Helm-rendered output (`# Source:` comments, empty documents) and a typed list from the API
/// (`PodList`, items without `kind`):
/// each container is judged with the pod's security context where it sets none of its own, a
/// container's `runAsUser: 0` is found at its line, ephemeral containers are judged but not held
/// to resource limits.
#[test]
fn kubernetes_pack_on_rendered_and_listed_workloads() {
    let (_, r) = scan_json(&[
        "testdata/real/k8s",
        "--policy",
        "policies/kubernetes-pod-security.yaml",
    ]);
    let failed: Vec<String> = lines(&r)
        .into_iter()
        .filter(|l| !l.contains(" pass "))
        .collect();
    assert_lines(
        &failed,
        &[
            "K8S-007 fail testdata/real/k8s/kubectl-get.yaml:27 [Pod/prod/cache-0] ephemeral container \"debugger\"",
            "K8S-008 fail testdata/real/k8s/kubectl-get.yaml:27 [Pod/prod/cache-0] ephemeral container \"debugger\"",
            "K8S-010 fail testdata/real/k8s/kubectl-get.yaml:27 [Pod/prod/cache-0] ephemeral container \"debugger\"",
            "K8S-011 fail testdata/real/k8s/kubectl-get.yaml:28 [Pod/prod/cache-0] ephemeral container \"debugger\"",
            "K8S-016 fail testdata/real/k8s/helm-rendered.yaml:43 [Deployment/shop] container \"metrics\"",
            "SUP-001 not_applicable *",
            "SUP-002 not_applicable *",
        ],
    );
    assert_eq!(
        lines(&r).iter().filter(|l| l.contains(" pass ")).count(),
        15 + 12,
        "every other control passes on both workloads"
    );
}

/// Debian's nginx layout: `include /etc/nginx/conf.d/*.conf` and `sites-enabled/*` read in place
/// inside the scanned root, so each site inherits the http-level TLS settings and conf.d's
/// hardening, a site's own `ssl_protocols` overrides them, a location's own `add_header` drops the
/// inherited HSTS header there, and the included files are judged once, through nginx.conf, each
/// value at its own file and line.
#[test]
fn nginx_pack_on_a_debian_root() {
    let (_, r) = scan_json(&[
        "testdata/real/nginx",
        "--policy",
        "policies/nginx-tls.yaml",
        "--pass-evidence",
        "full",
    ]);
    let root = "testdata/real/nginx/debian/etc/nginx/";
    assert_eq!(
        suppression_pack(&r),
        ["SUP-001 not_applicable", "SUP-002 not_applicable"],
        "no file has inline suppressions"
    );
    let got: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !is_suppression_pack(f))
        .map(|f| {
            assert_eq!(
                f["target"]["file"].as_str().unwrap(),
                format!("{root}nginx.conf")
            );
            let file = f["location"]["path"]
                .as_str()
                .map_or("nginx.conf", |p| p.strip_prefix(root).unwrap());
            format!(
                "{} {} {file}:{} {}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                f["location"]["line"],
                f["target"]["element"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_lines(
        &got,
        &[
            "NGX-001 fail sites-enabled/legacy:5 server \"legacy.example.org\" listen 8443 ssl",
            "NGX-002 pass conf.d/security.conf:3 -",
            "NGX-003 pass conf.d/security.conf:2 -",
            "NGX-004 fail sites-enabled/shop:10 server \"shop.example.org\" listen 443 ssl, [::]:443 ssl",
            "NGX-005 pass nginx.conf:17 -",
            "NGX-006 pass nginx.conf:18 -",
            "NGX-007 pass sites-enabled/legacy:6 -",
        ],
    );
}
