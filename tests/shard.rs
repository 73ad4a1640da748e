//! Sharded scans: `vigil scan --shard I/N` judges a deterministic 1/N of the targets, and
//! `vigil merge` joins the parts into exactly the result one unsharded scan writes (everything but
//! the run metadata and the digest that covers it), for N = 1, 3 and 8 on a generated tree.
//! Parts that are not the shards of one scan are refused.

mod common;

use std::path::Path;

use common::{AT, vigil, vigil_ok};
use serde_json::Value;

/// A tree of about 1,300 files: copies of the fixtures of every format, some edited so that the
/// copies differ.
fn tree(dir: &Path) {
    for copy in 0..12 {
        for sub in [
            "ssh",
            "k8s",
            "nginx",
            "secrets",
            "certs",
            "elements",
            "sysctl",
            "suppressions",
        ] {
            common::copy_tree(
                &common::root(&format!("testdata/{sub}")),
                &dir.join(format!("copy-{copy}/{sub}")),
            );
        }
        if copy % 3 == 1 {
            let config = dir.join(format!("copy-{copy}/ssh/weak/sshd_config"));
            let text = std::fs::read_to_string(&config).unwrap();
            std::fs::write(
                &config,
                text.replace("X11Forwarding yes", "X11Forwarding no"),
            )
            .unwrap();
        }
    }
}

const WAIVERS: &str = "waivers:
  - control: SSH-004
    target: \"**/copy-2/**\"
    justification: Lab host.
    approved_by: jane.doe@example.org
    expires: 2030-06-30
  - control: K8S-001
    target: \"**/nowhere/**\"
    justification: Matches nothing.
    approved_by: jane.doe@example.org
    expires: 2030-06-30
";

fn scan(dir: &Path, shard: Option<(u64, u64)>, at: &str, out: &Path) {
    let tree = dir.join("tree");
    let waivers = dir.join("waivers.yaml");
    let mut args: Vec<String> = [
        "scan",
        tree.to_str().unwrap(),
        "--at",
        at,
        "--trust-store",
        "testdata/certs/ca/root.pem",
        "--waivers",
        waivers.to_str().unwrap(),
        "--fail-on",
        "none",
        "--allow-errors",
        "--quiet",
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    if let Some((i, n)) = shard {
        args.extend(["--shard".into(), format!("{i}/{n}")]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    vigil_ok(&a);
}

fn merge(parts: &[std::path::PathBuf], out: &Path) -> std::process::Output {
    let mut args = vec!["merge".to_string()];
    args.extend(parts.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    vigil(&a)
}

/// The document without what only says when, where and how it ran.
fn content(path: &Path) -> String {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("run");
    o.remove("integrity");
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn merged_shards_are_the_unsharded_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("tree"));
    std::fs::write(d.join("waivers.yaml"), WAIVERS).unwrap();
    let whole = d.join("whole.json");
    scan(d, None, AT, &whole);
    let expected = content(&whole);
    let whole_json: Value =
        serde_json::from_str(&std::fs::read_to_string(&whole).unwrap()).unwrap();
    assert!(whole_json["inventory"]["files_seen"].as_u64().unwrap() > 1000);
    assert_eq!(whole_json["waivers"][0]["status"], "active");
    assert_eq!(whole_json["waivers"][1]["status"], "unused");

    let schema: Value = serde_json::from_str(include_str!("../docs/results.schema.json")).unwrap();
    let schema = jsonschema::validator_for(&schema).expect("the schema compiles");
    for n in [1u64, 3, 8] {
        let parts: Vec<_> = (0..n)
            .map(|i| d.join(format!("part-{n}-{i}.json")))
            .collect();
        let mut files = 0;
        for (i, p) in parts.iter().enumerate() {
            scan(d, Some((i as u64, n)), AT, p);
            let part: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            let errors: Vec<String> = schema
                .iter_errors(&part)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "a part follows the result schema: {errors:#?}"
            );
            assert_eq!(part["run"]["shard"]["index"], i as u64);
            files += part["inventory"]["files_seen"].as_u64().unwrap();
            if n == 8 {
                assert!(
                    part["inventory"]["files_seen"].as_u64().unwrap() > 0,
                    "every shard has work: {part:#}"
                );
            }
        }
        assert_eq!(
            Some(files),
            whole_json["inventory"]["files_seen"].as_u64(),
            "the shards cover every file once"
        );
        // Given in reverse order: merge puts them in shard order. For N = 3, also parts whose
        // members were sorted (`jq -S`).
        let reversed: Vec<_> = parts.iter().rev().cloned().collect();
        let mut inputs = vec![("reversed", reversed)];
        if n == 3 {
            let sorted = parts.iter().map(|p| {
                let to = p.with_extension("sorted.json");
                let text = std::fs::read_to_string(p).unwrap();
                std::fs::write(&to, common::members_sorted(&text)).unwrap();
                to
            });
            inputs.push(("sorted", sorted.collect()));
        }
        let merged = d.join(format!("merged-{n}.json"));
        for (how, parts) in inputs {
            let o = merge(&parts, &merged);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "{how}: {stderr}");
            assert_eq!(content(&merged), expected, "N = {n}, {how}");
        }
        // Sealed: its own digest verifies, and it reports like any result.
        assert_eq!(
            vigil(&["verify", merged.to_str().unwrap()]).status.code(),
            Some(0)
        );
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        assert!(m["run"].get("shard").is_none());
        assert!(
            !m["run"]["arguments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "--shard")
        );
    }
}

#[test]
fn parts_of_different_scans_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("tree"));
    std::fs::write(d.join("waivers.yaml"), WAIVERS).unwrap();
    let p: Vec<_> = (0..3).map(|i| d.join(format!("p{i}.json"))).collect();
    for (i, part) in p.iter().enumerate() {
        scan(d, Some((i as u64, 3)), AT, part);
    }
    let out = d.join("merged.json");
    let refused = |parts: &[std::path::PathBuf], why: &str| {
        let o = merge(parts, &out);
        assert_eq!(o.status.code(), Some(2), "{why}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{err}");
        assert!(!out.exists(), "nothing is written");
    };
    // A shard missing, or given twice.
    refused(&p[..2], "the parts must be shards 0 to N-1 of one N");
    refused(&[p[0].clone(), p[1].clone(), p[1].clone()], "each once");
    // Another clock.
    let late = d.join("late.json");
    scan(d, Some((2, 3)), "2031-01-01", &late);
    refused(&[p[0].clone(), p[1].clone(), late], "their clocks");
    // An unsharded result.
    let whole = d.join("whole.json");
    scan(d, None, AT, &whole);
    refused(&[whole], "not the result of a sharded scan");
    // A part of another tree: a file was removed between the shards' scans.
    let gone = d.join("tree/copy-3/ssh/weak/sshd_config");
    std::fs::remove_file(&gone).unwrap();
    let changed = d.join("changed.json");
    scan(d, Some((1, 3)), AT, &changed);
    refused(&[p[0].clone(), changed, p[2].clone()], "their targets");
    // A part stored in a history is refused at once.
    let history = d.join("h.db");
    let o = vigil(&[
        "scan",
        d.join("tree").to_str().unwrap(),
        "--shard",
        "0/3",
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vigil history import"));
    // So is a part imported into a history, and nothing of it is kept.
    let h = history.to_str().unwrap();
    let o = vigil(&["history", "import", p[0].to_str().unwrap(), "--history", h]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("one shard of a sharded scan: vigil merge the parts"),
        "{err}"
    );
    let o = vigil(&["history", "list", "--history", h, "-f", "json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    // A part altered after the scan.
    let text = std::fs::read_to_string(&p[1]).unwrap();
    std::fs::write(&p[1], text.replacen("\"fail\"", "\"pass\"", 1)).unwrap();
    refused(&p, "digest");
}
