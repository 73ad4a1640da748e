//! A target with more verdicts than it may hold in memory moves them to a temporary file; the
//! result is the same as when every verdict stays in memory (every member but the run's times and
//! the digest over them): the same order, fingerprints (ranks included), suppressions, redaction
//! and errors, on one thread or several, with the verdict cache or without.

mod common;

use std::fs;
use std::path::Path;

use common::Shared;
use serde_json::Value;
use vigil::engine::{self, CacheOptions, CacheStrategy, ScanOptions};
use vigil::policy::PolicySet;
use vigil::report::{self, Format, Style};

/// A Deployment of `n` containers, every third hardened; a `vigil:ignore` comment accepts one
/// container's missing limits; two containers are identical, so their findings are told apart by
/// rank.
fn deployment(name: &str, n: usize) -> String {
    let mut s = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: prod\n\
         spec:\n  template:\n    spec:\n      initContainers:\n        - name: setup\n          \
         image: registry.example/setup:1\n      containers:\n"
    );
    for i in 0..n {
        let name = if i == n - 1 {
            "c0".to_string()
        } else {
            format!("c{i}")
        };
        s.push_str(&format!("        - name: {name}\n"));
        s.push_str(&format!(
            "          image: registry.example/app:{}\n",
            i % 4
        ));
        if i % 3 == 0 {
            s.push_str(
                "          securityContext:\n            runAsNonRoot: true\n            \
                 allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            \
                 capabilities: {drop: [ALL]}\n          resources:\n            limits: {cpu: 500m, \
                 memory: 128Mi}\n",
            );
        }
        if i == 7 {
            s.push_str(
                "          # vigil:ignore K8S-013 limits come from the namespace's LimitRange\n",
            );
        }
    }
    s
}

/// A made-up AWS access key id, different for each `i`.
fn key(i: u64) -> String {
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let tail: String = (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            B32[(x % 32) as usize] as char
        })
        .collect();
    format!("AKIA{tail}")
}

/// A tree with targets of many verdicts (manifests, a file of secrets), and of few.
fn tree(dir: &Path) {
    let big = format!("{}---\n{}", deployment("web", 120), deployment("api", 40));
    fs::write(dir.join("deploy.yaml"), big).unwrap();
    fs::write(
        dir.join("keys.env"),
        (0..150)
            .map(|i| format!("key{i} = {}\n", key(i)))
            .collect::<String>(),
    )
    .unwrap();
    fs::write(
        dir.join("sshd_config"),
        "PermitRootLogin yes\nPasswordAuthentication yes\nX11Forwarding yes\n",
    )
    .unwrap();
    fs::write(
        dir.join("nginx.conf"),
        "http {\n  server { listen 443 ssl; server_name a.example; ssl_protocols TLSv1 TLSv1.2; }\n  \
         server { listen 443 ssl; server_name b.example; ssl_protocols TLSv1.3; }\n}\n",
    )
    .unwrap();
    fs::write(
        dir.join("broken.yaml"),
        "apiVersion: v1\nkind: Pod\nspec: [unclosed\n",
    )
    .unwrap();
    // Larger than the scan's limit: an error that names the file's own kind.
    fs::write(dir.join("large.yaml"), "x: y\n".repeat(30_000)).unwrap();
    common::copy_tree(&common::root("testdata/certs"), &dir.join("certs"));
}

/// Scans `dir` with every bundled pack and returns the JSON result without its `run` and
/// `integrity` members (times, and the digest over them).
fn scan(dir: &Path, in_memory: usize, threads: usize, cache: Option<&Path>) -> Value {
    let policies = PolicySet::load(&[common::root("policies")]).unwrap();
    let opts = ScanOptions {
        paths: vec![dir.to_path_buf()],
        at: Some(vigil::cli::parse_at(common::AT).unwrap()),
        threads: Some(threads),
        max_file_size: 100_000,
        verdicts_in_memory: in_memory,
        cache: cache.map(|path| CacheOptions {
            path: path.to_path_buf(),
            strategy: CacheStrategy::Content,
        }),
        ..ScanOptions::default()
    };
    let out = Shared::default();
    let sink = report::sink(Format::Json, Box::new(out.clone()), &Style::plain(false));
    engine::scan(&policies, &opts, vec![sink]).expect("the scan runs");
    let mut json: Value = serde_json::from_slice(&out.bytes()).unwrap();
    let members = json.as_object_mut().unwrap();
    members.remove("run").unwrap();
    members.remove("integrity").unwrap();
    json
}

#[test]
fn verdicts_moved_out_of_memory_come_back_as_if_they_had_stayed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    fs::create_dir(&root).unwrap();
    tree(&root);
    let held = scan(&root, engine::VERDICTS_IN_MEMORY, 1, None);

    // What the comparison covers: many findings per target, ranks, a suppression, a redacted
    // secret, a parse error and a file too large to read.
    let findings = held["findings"].as_array().unwrap();
    let deploy = |f: &&Value| common::target_name(f).ends_with("deploy.yaml");
    assert!(findings.iter().filter(deploy).count() > 500);
    assert!(
        findings
            .iter()
            .any(|f| f["fingerprint"].as_str().is_some_and(|p| p.ends_with("-2")))
    );
    assert!(findings.iter().any(|f| f["state"] == "suppressed"));
    let keys = |f: &&Value| common::target_name(f).ends_with("keys.env");
    assert!(findings.iter().filter(keys).count() >= 150);
    let text = serde_json::to_string(&held).unwrap();
    assert!((0..150).all(|i| !text.contains(&key(i))));
    let errors: Vec<&str> = findings
        .iter()
        .filter(|f| f["state"] == "error")
        .map(common::target_name)
        .collect();
    assert!(
        errors.iter().any(|t| t.ends_with("broken.yaml")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|t| t.ends_with("large.yaml")),
        "{errors:?}"
    );

    for (in_memory, threads) in [(1, 1), (1, 3), (7, 2), (100, 1)] {
        let spilled = scan(&root, in_memory, threads, None);
        assert!(
            spilled == held,
            "{in_memory} verdicts in memory on {threads} threads changed the result"
        );
    }

    // A target whose verdicts went to disk is not cached: the next scan judges it afresh, with
    // the same result.
    let cache = dir.path().join("verdicts.cache");
    assert!(scan(&root, 5, 2, Some(&cache)) == held);
    assert!(scan(&root, 5, 2, Some(&cache)) == held);
}
