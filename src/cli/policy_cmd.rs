//! `vigil policy lint | list | explain`.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{EXIT_OK, EXIT_USAGE, PolicySource, emit, usage_error};
use crate::policy::{self, Check, Level, PolicyError, PolicySet};
use crate::text::counted;

/// Validates policy files and prints every diagnostic. Exit 2 when any file has errors.
pub fn lint(paths: &[PathBuf]) -> u8 {
    let files = match policy::policy_files(paths) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    let mut texts = Vec::new();
    for f in &files {
        match std::fs::read_to_string(f) {
            Ok(t) => texts.push((f.display().to_string(), t)),
            Err(e) => return usage_error(format!("cannot read {}: {e}", f.display())),
        }
    }
    let diagnostics = match PolicySet::from_texts(texts) {
        Ok(set) => set.warnings,
        Err(PolicyError::Invalid(d)) => d,
        Err(e) => return usage_error(e),
    };
    for d in &diagnostics {
        eprintln!("{d}");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    eprintln!(
        "{} checked: {}, {}",
        counted(files.len() as u64, "policy file", "policy files"),
        counted(errors as u64, "error", "errors"),
        counted(warnings as u64, "warning", "warnings")
    );
    if errors > 0 { EXIT_USAGE } else { EXIT_OK }
}

/// `writeln!` into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}

/// Lists controls as a table.
pub fn list(source: &PolicySource) -> u8 {
    let set = match source.load() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut out = String::new();
    for p in &set.policies {
        w!(
            out,
            "{} {} ({}): {} controls",
            p.id,
            p.version,
            p.title,
            p.controls.len()
        );
        for c in &p.controls {
            let refs: Vec<String> = c
                .references
                .iter()
                .map(|(fw, ids)| format!("{fw} {}", ids.join(" ")))
                .collect();
            w!(out, "  {:<12} {:<8} {}", c.id, c.severity.as_str(), c.title);
            // One framework per line, wrapped under the title.
            for r in refs {
                for line in wrap(&r, LIST_WIDTH - REFS_INDENT.len(), "  ") {
                    w!(out, "{REFS_INDENT}{line}");
                }
            }
        }
    }
    emit(&out)
}

/// Width of `vigil policy list` lines, and the indent of a control's references under its title.
const LIST_WIDTH: usize = 100;
const REFS_INDENT: &str = "                        ";

/// Greedy word wrap at `width` columns; continuation lines start with `hang`. A word longer than
/// the width stays whole on its own line.
fn wrap(text: &str, width: usize, hang: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let prefix = if lines.is_empty() { 0 } else { hang.len() };
        if !line.is_empty() && prefix + line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| if i == 0 { l } else { format!("{hang}{l}") })
        .collect()
}

/// Prints everything about one control.
pub fn explain(id: &str, source: &PolicySource) -> u8 {
    let set = match source.load() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    // Ids are matched exactly first, then regardless of case (`ssh-001` finds `SSH-001`).
    let found = set.find(id).or_else(|| {
        set.controls()
            .find(|c| c.id.eq_ignore_ascii_case(id))
            .and_then(|c| set.find(&c.id))
    });
    let Some((p, c)) = found else {
        let known: Vec<&str> = set.controls().map(|c| c.id.as_str()).collect();
        return usage_error(format!(
            "no control `{id}` in the loaded policies{}",
            policy::diag::suggest(id, known)
        ));
    };
    let mut out = String::new();
    w!(out, "{}: {}", c.id, c.title);
    w!(out, "policy:      {} {} ({})", p.id, p.version, p.source);
    w!(out, "severity:    {}", c.severity);
    if !c.tags.is_empty() {
        w!(out, "tags:        {}", c.tags.join(", "));
    }
    w!(
        out,
        "target:      {} {}",
        c.target.kind,
        c.target.paths.join(", ")
    );
    if !c.target.tags.is_empty() {
        w!(out, "tags:        {}", c.target.tags.join(", "));
    }
    for (name, value) in &c.target.options {
        w!(out, "{:<12} {value}", format!("{name}:"));
    }
    if let Some(w) = &c.target.when {
        w!(out, "applies when: {w}");
    }
    let check = match &c.check {
        Check::Condition(cond) => cond.to_string(),
        Check::Pattern(pat) => pat.describe(),
    };
    w!(out, "check:       {check}");
    if c.secret {
        w!(
            out,
            "secret:      yes (matches are redacted in every output)"
        );
    }
    w!(
        out,
        "\nrationale:\n  {}",
        c.rationale.trim().replace('\n', "\n  ")
    );
    w!(
        out,
        "\nremediation:\n  {}",
        c.remediation.trim().replace('\n', "\n  ")
    );
    if !c.references.is_empty() {
        w!(out, "\nreferences:");
        for (fw, ids) in &c.references {
            w!(out, "  {fw}: {}", ids.join(", "));
        }
    }
    emit(&out)
}
