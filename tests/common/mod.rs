//! Helpers shared by the integration tests: run the real binary, read its JSON, and reduce findings
//! to one comparable line each.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

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

/// One line per finding: `CONTROL state path[:line][ in included-file] [object]`, in result order.
pub fn lines(result: &Value) -> Vec<String> {
    result["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let mut s = format!(
                "{} {} {}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                f["target"]["path"].as_str().unwrap()
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

/// Path to a file under the crate root.
pub fn root(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
