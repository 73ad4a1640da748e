//! Helpers shared by the integration tests: run the real binary, read its JSON, and reduce findings
//! to one comparable line each.
#![allow(dead_code)]

pub mod postgres;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A fixed evaluation time, so no test depends on today's date.
pub const AT: &str = "2030-01-15T00:00:00Z";

/// Runs `vigil` with `args` from the crate root.
pub fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the vigil binary runs")
}

/// Runs `vigil` with `args` and requires exit 0, showing its standard error otherwise.
pub fn vigil_ok(args: &[&str]) -> Output {
    let out = vigil(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "vigil {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `vigil scan ... --format json --at AT` and returns (exit code, parsed result).
pub fn scan_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["scan", "--format", "json", "--at", AT];
    all.extend_from_slice(args);
    let out = vigil(&all);
    let text = String::from_utf8(out.stdout).expect("JSON output is UTF-8");
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), json)
}

/// The file, endpoint or host a finding is about, or `*` for the whole scan.
pub fn target_name(f: &Value) -> &str {
    let t = &f["target"];
    t["file"]
        .as_str()
        .or(t["endpoint"].as_str())
        .or(t["host"].as_str())
        .unwrap_or("*")
}

/// One line per finding: `CONTROL state target[:line][ in included-file] [object] element`, grouped
/// by control in control order; within a control, in result order (target order).
pub fn lines(result: &Value) -> Vec<String> {
    let order: Vec<&str> = result["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let mut findings: Vec<&Value> = result["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .collect();
    findings.sort_by_key(|f| {
        order
            .iter()
            .position(|c| *c == f["control"].as_str().unwrap())
    });
    findings
        .iter()
        .map(|f| {
            let mut s = format!(
                "{} {} {}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                target_name(f)
            );
            if let Some(l) = f["location"]["line"].as_u64() {
                s.push_str(&format!(":{l}"));
            }
            if let Some(p) = f["location"]["path"].as_str() {
                s.push_str(&format!(" in {p}"));
            }
            if let Some(o) = f["target"]["object"].as_str() {
                s.push_str(&format!(" [{o}]"));
            }
            if let Some(e) = f["target"]["element"].as_str() {
                s.push_str(&format!(" {e}"));
            }
            s
        })
        .collect()
}

/// Asserts that two lists are equal, printing both in full when they are not.
pub fn assert_lines(actual: &[String], expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    assert!(
        actual == expected,
        "findings differ\n--- actual ---\n{}\n--- expected ---\n{}\n",
        actual.join("\n"),
        expected.join("\n")
    );
}

/// `text` with its top-level members in sorted order, as `jq -S` writes a document: the findings
/// then come before `schema_version`, the header's `policies` and `tool`.
pub fn members_sorted(text: &str) -> String {
    let Value::Object(doc) = serde_json::from_str(text).unwrap() else {
        panic!("a result is an object")
    };
    let mut members: Vec<(String, Value)> = doc.into_iter().collect();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    serde_json::to_string_pretty(&Value::Object(members.into_iter().collect())).unwrap()
}

/// Path to a file under the crate root.
pub fn root(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Copies a directory tree (regular files and directories; links are recreated as links).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Runs `openssl args` in `dir` (the tests make their certificates with it); it must succeed.
pub fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A writer whose bytes the test can read after the sink that wrote them is gone.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).unwrap()
    }
}
