//! The dependencies between the crate's modules, as `docs/ARCHITECTURE.md` draws them, checked
//! against the `crate::` paths the code names: a module that reaches up into a layer above it
//! (a collector into the engine, a policy into a report) fails here, not in a reader's head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module (a top-level module, or one file of one where it is used on its own) and the
/// modules it may name. `cli`, `harness` and the crate root may name any.
const ALLOWED: &[(&str, &[&str])] = &[
    ("clock", &[]),
    ("doc", &[]),
    ("parallel", &[]),
    ("redact", &[]),
    ("text", &[]),
    ("yaml", &["doc"]),
    ("workflow::suppressions", &[]),
    (
        "collect",
        &[
            "clock",
            "doc",
            "parallel",
            "text",
            "yaml",
            "workflow::suppressions",
        ],
    ),
    ("policy", &["collect", "doc", "parallel", "text", "yaml"]),
    ("results", &["policy", "text"]),
    ("workflow", &["doc", "policy", "results", "yaml"]),
    ("history", &["clock", "policy", "results"]),
    ("scrub", &["policy", "redact"]),
    ("report", &["history", "policy", "results", "text"]),
    (
        "engine",
        &[
            "clock", "collect", "doc", "parallel", "policy", "redact", "results", "scrub", "text",
            "workflow",
        ],
    ),
];

/// Modules at the edge, which may name any other.
const EDGE: &[&str] = &["cli", "harness", "layering"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file belongs to, as named in [`ALLOWED`].
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
    let top = parts[0].trim_end_matches(".rs");
    if matches!(top, "lib" | "main") {
        return None;
    }
    if parts.len() == 2 {
        let sub = format!("{top}::{}", parts[1].trim_end_matches(".rs"));
        if ALLOWED.iter().any(|(m, _)| *m == sub) {
            return Some(sub);
        }
    }
    Some(top.to_string())
}

/// The modules (`top` or `top::file` when that is listed on its own) that a line names through
/// `crate::`, outside comments.
fn named(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut segments = path.split("::").filter(|s| !s.is_empty());
        let Some(top) = segments.next() else { continue };
        let sub = segments.next().map(|s| format!("{top}::{s}"));
        match sub {
            Some(sub) if ALLOWED.iter().any(|(m, _)| *m == sub) => out.push(sub),
            _ => out.push(top.to_string()),
        }
    }
    out
}

fn allows(module: &str, target: &str) -> bool {
    if module == target || EDGE.contains(&module) {
        return true;
    }
    // A module's own files may name each other, and a file listed on its own names its module.
    if target.split("::").next() == module.split("::").next() {
        return true;
    }
    // A module that may name another may name each of its files.
    let whole = target.split("::").next().unwrap_or(target);
    ALLOWED
        .iter()
        .find(|(m, _)| *m == module)
        .is_some_and(|(_, deps)| deps.contains(&target) || deps.contains(&whole))
}

#[test]
fn modules_name_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        assert!(
            EDGE.contains(&module.as_str()) || ALLOWED.iter().any(|(m, _)| *m == module),
            "{} is in module `{module}`, which the layering does not list",
            file.display()
        );
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for target in named(line) {
                if !allows(&module, &target) {
                    wrong.push(format!(
                        "{}:{}: `{module}` names `crate::{target}`",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules reaching outside their layer (docs/ARCHITECTURE.md):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_allowed_dependencies_have_no_cycle() {
    let graph: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    // Kahn's algorithm: what is left once every module without dependencies is taken away is a
    // cycle.
    let mut left = graph.clone();
    loop {
        let free: Vec<&str> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(m, _)| *m)
            .collect();
        if free.is_empty() {
            break;
        }
        for m in free {
            left.remove(m);
        }
    }
    assert!(left.is_empty(), "a cycle among {:?}", left.keys());
}

#[test]
fn a_reach_into_the_engine_from_a_collector_is_caught() {
    assert_eq!(
        named("    max: crate::engine::DEFAULT_MAX_FILE_SIZE, // crate::cli"),
        ["engine"]
    );
    assert!(!allows("collect", "engine"));
    assert!(allows("collect", "workflow::suppressions"));
    assert!(!allows("collect", "workflow"));
    assert!(allows("engine", "collect"));
    assert!(allows("engine", "workflow::suppressions"));
    assert_eq!(
        named("use crate::workflow::suppressions::{self, Scope};"),
        ["workflow::suppressions"]
    );
}
