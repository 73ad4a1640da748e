//! A Markdown summary for pull-request comments: the verdict in one line, a table by severity, the
//! top failures, and every failure and error folded in `<details>`.
//!
//! Scanned content is escaped for Markdown and for the HTML that Markdown renderers pass through, so a
//! scanned `<img onerror=...>` or a `|` cannot change the comment.

use std::io::{self, Write};

use super::aggregate::{Aggregate, ControlFindings, SAMPLES_PER_CONTROL};
use crate::policy::Severity;
use crate::results::{ControlInfo, Finding, Header, Sink, State, Trailer};

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
            // Other control characters (ESC, BEL, DEL, C1) and bidirectional overrides: escaped,
            // never passed to a terminal or a log that shows the summary.
            c if super::unsafe_char(c) => {
                out.push_str(&super::printable(&c.to_string()));
            }
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '{' | '}' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn place(f: &Finding<'_>) -> String {
    let mut s = f.target.name().unwrap_or("(whole scan)").to_string();
    if let Some(l) = &f.location {
        s.push_str(&format!(":{}", l.line));
    }
    if let Some(o) = &f.target.object {
        s.push_str(&format!(" ({o})"));
    }
    if let Some(e) = &f.target.element {
        s.push_str(&format!(" {e}"));
    }
    escape(&s)
}

fn row(f: &Finding<'_>, c: &ControlInfo) -> String {
    format!(
        "| {} | {} | `{}` {} | {} | {} |\n",
        c.severity.as_str(),
        f.state.as_str(),
        escape(&f.control),
        escape(&c.title),
        place(f),
        escape(f.observed.as_deref().unwrap_or("(not evaluated)"))
    )
}

/// The Markdown summary, written when the result is complete.
pub struct MarkdownSink<'w> {
    out: Box<dyn Write + 'w>,
    aggregate: Aggregate,
}

impl<'w> MarkdownSink<'w> {
    /// A sink writing to `out`.
    pub fn new(out: Box<dyn Write + 'w>) -> MarkdownSink<'w> {
        MarkdownSink {
            out,
            aggregate: Aggregate::default(),
        }
    }
}

impl Sink for MarkdownSink<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.aggregate = Aggregate::new(header);
        Ok(())
    }

    fn finding(&mut self, f: &Finding<'_>, control: usize, _canonical: &[u8]) -> io::Result<()> {
        self.aggregate.add(f, control);
        Ok(())
    }

    fn finish(&mut self, header: &Header, trailer: &Trailer) -> io::Result<()> {
        let text = render(header, &self.aggregate, trailer);
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

fn render(header: &Header, agg: &Aggregate, trailer: &Trailer) -> String {
    let summary = &trailer.summary;
    let controls: Vec<(&ControlInfo, &ControlFindings)> =
        header.controls.iter().zip(&agg.controls).collect();
    // Most severe first; within a severity, control order, then result order.
    let mut bad: Vec<(&ControlInfo, &Finding<'static>)> = Vec::new();
    for sev in Severity::ALL_DESCENDING {
        for (c, found) in controls.iter().filter(|(c, _)| c.severity == sev) {
            bad.extend(found.bad.iter().map(|f| (*c, f)));
        }
    }
    let bad_total: u64 = controls.iter().map(|(_, f)| f.bad_count()).sum();
    let mark = if bad_total == 0 { "✅" } else { "❌" };
    let mut s = format!(
        "## {mark} vigil: {} failed, {}, {} passed\n\n",
        summary.count(State::Fail),
        crate::text::counted(summary.count(State::Error), "error", "errors"),
        summary.count(State::Pass)
    );
    let digest = &trailer.integrity.digest;
    s.push_str(&format!(
        "{} from {} · {} · evaluated at {} on `{}` · result digest `{}`\n\n",
        crate::text::counted(header.controls.len() as u64, "control", "controls"),
        header
            .policies
            .iter()
            .map(|p| format!("`{}` {}", escape(&p.id), escape(&p.version)))
            .collect::<Vec<_>>()
            .join(", "),
        crate::text::counted(trailer.inventory.files_read, "file read", "files read"),
        trailer.run.evaluated_at,
        escape(&trailer.run.host),
        &digest[..digest.len().min(16)]
    ));
    s.push_str("| severity | failed | errors |\n|---|---:|---:|\n");
    for sev in Severity::ALL_DESCENDING {
        let of = |st: State| -> u64 {
            controls
                .iter()
                .filter(|(c, _)| c.severity == sev)
                .map(|(_, f)| f.count(st))
                .sum()
        };
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            sev.as_str(),
            of(State::Fail),
            of(State::Error)
        ));
    }
    let header_row = "| severity | state | control | target | observed |\n|---|---|---|---|---|\n";
    if !bad.is_empty() {
        s.push_str(&format!("\n### Top {}\n\n{header_row}", TOP.min(bad.len())));
        for (c, f) in bad.iter().take(TOP) {
            s.push_str(&row(f, c));
        }
        s.push_str(&format!(
            "\n<details><summary>All {bad_total} failures and errors</summary>\n\n{header_row}"
        ));
        for (c, f) in &bad {
            s.push_str(&row(f, c));
        }
        let left_out = bad_total.saturating_sub(bad.len() as u64);
        if left_out > 0 {
            s.push_str(&format!(
                "\n{left_out} more are in the JSON result ({SAMPLES_PER_CONTROL} are shown per control).\n"
            ));
        }
        s.push_str("\n</details>\n");
    }
    if agg.waived_total > 0 {
        let counts: Vec<String> = [State::Waived, State::Suppressed, State::Baselined]
            .iter()
            .filter(|st| summary.count(**st) > 0)
            .map(|st| format!("{} {}", summary.count(*st), st.as_str()))
            .collect();
        s.push_str(&format!(
            "\n<details><summary>{}</summary>\n\n| severity | control | target | observed | accepted |\n|---|---|---|---|---|\n",
            if counts.is_empty() {
                format!("{} accepted", agg.waived_total)
            } else {
                counts.join(", ")
            }
        ));
        for f in &agg.waived {
            if let Some((_, c)) = header.control(&f.control) {
                s.push_str(&format!(
                    "| {} | `{}` {} | {} | {} | {} |\n",
                    c.severity.as_str(),
                    escape(&f.control),
                    escape(&c.title),
                    place(f),
                    escape(f.observed.as_deref().unwrap_or("(not evaluated)")),
                    escape(
                        &super::waiver_words(f)
                            .or_else(
                                || super::suppression_words(f).map(|w| format!("suppressed {w}"))
                            )
                            .unwrap_or_default()
                    )
                ));
            }
        }
        s.push_str("\n</details>\n");
    }
    if !trailer.waivers.is_empty() {
        s.push_str("\n### Waivers\n\n| control | target | approved by | expires | status | findings |\n|---|---|---|---|---|---|\n");
        for w in &trailer.waivers {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                escape(&w.control),
                escape(w.target.as_deref().unwrap_or("any")),
                escape(&w.approved_by),
                escape(&w.expires),
                escape(&w.status),
                w.matched
            ));
        }
    }
    s
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
