//! On a generated tree of a few thousand files of every kind (configs, manifests, secrets,
//! certificates): the JSON result is byte-identical whatever the thread count (apart from the run
//! metadata), its integrity digest verifies and detects a change in any finding, and a result
//! rendered again from the saved JSON is the same document, digest included.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{AT, vigil};
use serde_json::Value;

/// A tree of `n` projects, each with an sshd_config, a manifest, an nginx file, a source file with
/// a seeded credential now and then, and a certificate. Deterministic: file `i` depends on `i` only.
fn generate(root: &Path, n: usize) {
    let certs: Vec<Vec<u8>> = [
        "good/server-rsa.pem",
        "defects/expired.pem",
        "defects/rsa-1024.pem",
    ]
    .iter()
    .map(|p| std::fs::read(common::root(&format!("testdata/certs/{p}"))).unwrap())
    .collect();
    for i in 0..n {
        let dir = root.join(format!("project-{i:04}"));
        std::fs::create_dir_all(dir.join("etc/ssh")).unwrap();
        std::fs::create_dir_all(dir.join("deploy")).unwrap();
        std::fs::create_dir_all(dir.join("etc/nginx")).unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let sshd = format!(
            "Port 22\nPermitRootLogin {}\nPasswordAuthentication {}\nMaxAuthTries {}\nX11Forwarding no\n",
            if i % 3 == 0 { "yes" } else { "no" },
            if i % 5 == 0 { "yes" } else { "no" },
            3 + i % 4
        );
        std::fs::write(dir.join("etc/ssh/sshd_config"), sshd).unwrap();
        let mut k8s = String::new();
        for d in 0..(1 + i % 3) {
            let _ = write!(
                k8s,
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}-{d}}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: app:{}\n          securityContext: {{privileged: {}}}\n        - name: sidecar\n          image: proxy:1.{d}\n",
                if i % 4 == 0 { "latest" } else { "1.0" },
                i % 7 == 0
            );
        }
        std::fs::write(dir.join("deploy/app.yaml"), k8s).unwrap();
        let nginx = format!(
            "events {{}}\nhttp {{\n  server_tokens off;\n  server {{\n    listen 443 ssl;\n    server_name s{i}.example.org;\n    ssl_protocols {};\n  }}\n  server {{\n    listen 80;\n  }}\n}}\n",
            if i % 6 == 0 {
                "TLSv1 TLSv1.2"
            } else {
                "TLSv1.2 TLSv1.3"
            }
        );
        std::fs::write(dir.join("etc/nginx/nginx.conf"), nginx).unwrap();
        let mut src = format!("# module {i}\nimport os\n\nTIMEOUT = {}\n", i % 60);
        if i % 10 == 0 {
            // An AWS-shaped access key id, different per file.
            let id: String = (0..16)
                .map(|k| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[(i * 7 + k * 13) % 32] as char)
                .collect();
            let _ = writeln!(src, "AWS_ACCESS_KEY_ID = \"AKIA{id}\"");
        }
        std::fs::write(dir.join("src/settings.py"), src).unwrap();
        std::fs::write(dir.join("deploy/tls.pem"), &certs[i % certs.len()]).unwrap();
    }
}

/// Scans `tree` with every pack and `options`, writing the JSON result to `out`.
fn scan(tree: &Path, options: &[&str], out: &Path) -> Value {
    let mut args = vec![
        "scan",
        tree.to_str().unwrap(),
        "--at",
        AT,
        "--fail-on",
        "none",
        "--allow-errors",
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(options);
    let o = vigil(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn without_run(mut v: Value) -> String {
    let m = v.as_object_mut().unwrap();
    m.remove("run");
    m.remove("integrity");
    serde_json::to_string(&v).unwrap()
}

#[test]
fn a_large_tree_gives_the_same_result_whatever_the_threads_and_the_digest_holds() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    generate(&tree, 400);
    let results: Vec<(std::path::PathBuf, Value)> = ["1", "3", "8"]
        .iter()
        .map(|t| {
            let out = dir.path().join(format!("results-{t}.json"));
            let v = scan(&tree, &["--threads", t], &out);
            (out, v)
        })
        .collect();
    let first = &results[0].1;
    let findings = first["findings"].as_array().unwrap();
    assert!(findings.len() > 5_000, "{} findings", findings.len());
    assert_eq!(first["inventory"]["files_read"], 2_000);
    for state in ["pass", "fail"] {
        assert!(findings.iter().any(|f| f["state"] == state));
    }
    for (_, other) in &results[1..] {
        assert!(
            without_run(first.clone()) == without_run(other.clone()),
            "results differ between thread counts"
        );
    }
    for (path, v) in &results {
        let o = vigil(&["verify", path.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let digest = v["integrity"]["digest"].as_str().unwrap();
        assert!(String::from_utf8_lossy(&o.stdout).contains(digest));
    }

    // Rendering the saved result again gives the same document, byte for byte.
    let (saved, _) = &results[1];
    let again = dir.path().join("again.json");
    let o = vigil(&[
        "report",
        saved.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::read(saved).unwrap() == std::fs::read(&again).unwrap());

    // Changing one verdict deep in the findings is detected.
    let text = std::fs::read_to_string(saved).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let target = lines
        .iter()
        .rposition(|l| l.contains("\"state\":\"fail\""))
        .unwrap();
    let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    tampered[target] = tampered[target].replace("\"state\":\"fail\"", "\"state\":\"pass\"");
    std::fs::write(saved, tampered.join("\n") + "\n").unwrap();
    let o = vigil(&["verify", saved.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

/// Files over 1 MiB are read into regions of a pool the workers share, within `--read-budget`.
/// However small the budget (here a file of 5 MiB is larger than all of it and is judged alone,
/// and the others wait for, reuse and unmap each other's regions on four threads), the results are
/// those of one thread with the default budget, down to a secret on the last line of each file.
#[test]
fn files_larger_than_a_megabyte_give_the_same_result_whatever_the_read_budget() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    generate(&tree, 20);
    let big = tree.join("big");
    std::fs::create_dir_all(&big).unwrap();
    let pem = std::fs::read(common::root("testdata/certs/defects/expired.pem")).unwrap();
    for i in 0..24usize {
        let size = (1 << 20) + i * 200_000;
        let mut text = String::with_capacity(size + 100);
        while text.len() < size {
            let _ = writeln!(text, "{i} {} request served in {} ms", text.len(), i % 7);
        }
        let id: String = (0..16)
            .map(|k| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[(i * 5 + k * 11) % 32] as char)
            .collect();
        let _ = writeln!(text, "key=AKIA{id}");
        std::fs::write(big.join(format!("app-{i:02}.log")), text).unwrap();
    }
    // A bundle of certificates over 1 MiB, and a file larger than the whole budget.
    let bundle: Vec<u8> = pem.iter().copied().cycle().take(pem.len() * 900).collect();
    assert!(bundle.len() > 1 << 20);
    std::fs::write(big.join("bundle.pem"), bundle).unwrap();
    std::fs::write(
        big.join("huge.log"),
        "x".repeat(5 << 20) + "\ntoken ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
    )
    .unwrap();

    let one = scan(&tree, &["--threads", "1"], &dir.path().join("one.json"));
    let tight = scan(
        &tree,
        &["--threads", "4", "--read-budget", "3MiB"],
        &dir.path().join("tight.json"),
    );
    // Every large file was read to its end.
    let secrets_in_big = |v: &Value| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["state"] == "fail"
                    && common::target_name(f).contains("/big/")
                    && ["SEC-001", "SEC-003"].contains(&f["control"].as_str().unwrap())
            })
            .count()
    };
    assert_eq!(secrets_in_big(&one), 25);
    assert!(
        without_run(one) == without_run(tight),
        "results differ with a tight read budget"
    );
}
