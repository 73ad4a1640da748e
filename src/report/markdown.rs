//! A Markdown summary for pull-request comments: the verdict in one line, a table by severity, the
//! top failures, and every failure and error folded in `<details>`.
//!
//! Scanned content is escaped for Markdown and for the HTML that Markdown renderers pass through, so a
//! scanned `<img onerror=...>` or a `|` cannot change the comment.

use std::io::{self, Write};

use crate::policy::Severity;
use crate::results::{Finding, ScanRun, State};

/// How many failures are listed before the fold.
const TOP: usize = 10;

/// Escapes text for a Markdown table cell or paragraph.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '{' | '}' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn place(f: &Finding) -> String {
    let mut s = f.target.path.clone();
    if let Some(l) = &f.location {
        s.push_str(&format!(":{}", l.line));
    }
    if let Some(o) = &f.target.object {
        s.push_str(&format!(" ({o})"));
    }
    escape(&s)
}

fn row(f: &Finding, title: &str) -> String {
    format!(
        "| {} | {} | `{}` {} | {} | {} |\n",
        f.severity.as_str(),
        f.state.as_str(),
        escape(&f.control),
        escape(title),
        place(f),
        escape(&f.observed)
    )
}

/// Writes the summary.
pub fn write(run: &ScanRun, out: &mut dyn Write) -> io::Result<()> {
    let count = |s: State| run.summary.by_state.get(&s).copied().unwrap_or(0);
    let mut bad: Vec<&Finding> = run
        .findings
        .iter()
        .filter(|f| matches!(f.state, State::Fail | State::Error))
        .collect();
    // Most severe first; the result order (control, target) within a severity.
    bad.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mark = if bad.is_empty() { "✅" } else { "❌" };
    let mut s = format!(
        "## {mark} vigil: {} failed, {} errors, {} passed\n\n",
        count(State::Fail),
        count(State::Error),
        count(State::Pass)
    );
    s.push_str(&format!(
        "{} controls from {} · {} files read · evaluated at {} on `{}` · result digest `{}`\n\n",
        run.controls.len(),
        run.policies
            .iter()
            .map(|p| format!("`{}` {}", escape(&p.id), escape(&p.version)))
            .collect::<Vec<_>>()
            .join(", "),
        run.inventory.files_read,
        run.run.evaluated_at,
        escape(&run.run.host),
        &run.integrity.digest[..run.integrity.digest.len().min(16)]
    ));
    s.push_str("| severity | failed | errors |\n|---|---:|---:|\n");
    for sev in Severity::ALL_DESCENDING {
        let of = |st: State| {
            run.findings
                .iter()
                .filter(|f| f.severity == sev && f.state == st)
                .count()
        };
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            sev.as_str(),
            of(State::Fail),
            of(State::Error)
        ));
    }
    let title = |f: &Finding| {
        run.controls
            .iter()
            .find(|c| c.id == f.control)
            .map(|c| c.title.clone())
            .unwrap_or_default()
    };
    let header = "| severity | state | control | target | observed |\n|---|---|---|---|---|\n";
    if !bad.is_empty() {
        s.push_str(&format!("\n### Top {}\n\n{header}", TOP.min(bad.len())));
        for f in bad.iter().take(TOP) {
            s.push_str(&row(f, &title(f)));
        }
        s.push_str(&format!(
            "\n<details><summary>All {} failures and errors</summary>\n\n{header}",
            bad.len()
        ));
        for f in &bad {
            s.push_str(&row(f, &title(f)));
        }
        s.push_str("\n</details>\n");
    }
    let waived: Vec<&Finding> = run
        .findings
        .iter()
        .filter(|f| f.state == State::Waived)
        .collect();
    if !waived.is_empty() {
        s.push_str(&format!(
            "\n<details><summary>{} waived</summary>\n\n{header}",
            waived.len()
        ));
        for f in waived {
            s.push_str(&row(f, &title(f)));
        }
        s.push_str("\n</details>\n");
    }
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_table_syntax() {
        assert_eq!(
            escape("<img src=x onerror=alert(1)> a|b `c` {{x}}"),
            "&lt;img src=x onerror=alert(1)&gt; a\\|b \\`c\\` \\{\\{x\\}\\}"
        );
    }
}
