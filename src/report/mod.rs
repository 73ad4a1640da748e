//! Reports: the outputs a result is written to, each a [`Sink`] fed as the scan runs.
//!
//! - JSON, SARIF and JUnit are written as findings arrive (JUnit groups test cases per policy
//!   through a [`spool`] on disk);
//! - console, Markdown and HTML are rendered at the end from an [`aggregate`]: counts of every
//!   control's findings and the first of them; the full list is in the JSON result.
//!
//! Every format is a function of the result alone, so a report rendered later from saved JSON
//! (`vigil report`) is the same as one written at scan time. Scanned content (paths, observed
//! values, messages) reaches every format already redacted where the control is a secret check;
//! each renderer escapes it for its own syntax (HTML, XML, Markdown), so a scanned `<script>` is
//! shown as text.

pub mod aggregate;
pub mod changes;
pub mod console;
mod drift;
pub mod fleet;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub(crate) mod spool;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use crate::results::{ControlInfo, Document, Finding, Sink};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text, grouped by severity, with a one-line summary for CI logs.
    Console,
    /// The result document (see `docs/results.schema.json`).
    Json,
    /// A self-contained HTML evidence report for auditors.
    Html,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// JUnit XML for CI test views.
    Junit,
    /// A Markdown summary for pull-request comments.
    Markdown,
}

impl Format {
    /// The file a format is written to under `--output-dir`.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Console => "console.txt",
            Format::Json => "results.json",
            Format::Html => "report.html",
            Format::Sarif => "results.sarif",
            Format::Junit => "junit.xml",
            Format::Markdown => "summary.md",
        }
    }
}

/// Presentation settings.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// Use ANSI colours (console).
    pub color: bool,
    /// List passing and not-applicable verdicts too (console).
    pub verbose: bool,
    /// Give passing and not-applicable verdicts a result each (sarif).
    pub sarif_passes: bool,
    /// A directory whose `report.html.hbs`, `report.css` or `report.js` replace the built-in ones
    /// (html).
    pub template_dir: Option<std::path::PathBuf>,
    /// Filled once the run is stored in a history (`--history`): the HTML report shows what
    /// changed since the previous run, and the trend.
    pub drift: Option<crate::history::StoredSlot>,
}

impl Style {
    /// No colour.
    pub fn plain(verbose: bool) -> Style {
        Style {
            verbose,
            ..Style::default()
        }
    }

    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout(verbose: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: io::stdout().is_terminal() && !no_color,
            verbose,
            ..Style::default()
        }
    }

    /// Sets the template override directory.
    pub fn with_templates(mut self, dir: Option<&Path>) -> Style {
        self.template_dir = dir.map(Path::to_path_buf);
        self
    }
}

/// The sink that writes `format` to `out`.
pub fn sink<'w>(format: Format, out: Box<dyn Write + 'w>, style: &Style) -> Box<dyn Sink + 'w> {
    match format {
        Format::Console => Box::new(console::ConsoleSink::new(out, style)),
        Format::Json => Box::new(json::JsonSink::new(out)),
        Format::Html => Box::new(
            html::HtmlSink::new(out, style.template_dir.clone()).with_drift(style.drift.clone()),
        ),
        Format::Sarif => Box::new(sarif::SarifSink::new(out, style.sarif_passes)),
        Format::Junit => Box::new(junit::JunitSink::new(out)),
        Format::Markdown => Box::new(markdown::MarkdownSink::new(out)),
    }
}

/// Renders a result held in memory in one format.
pub fn render(doc: &Document, format: Format, style: &Style) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    doc.replay(vec![sink(format, Box::new(&mut out), style)])?;
    Ok(out)
}

/// The message of a finding: its own, or for a compact pass the control's title.
pub fn message(f: &Finding<'_>, control: &ControlInfo) -> String {
    let text = match &f.message {
        Some(m) => m.clone(),
        None => format!("Satisfied: {}.", control.title),
    };
    match (waiver_words(f), suppression_words(f)) {
        (Some(w), _) => format!("{text} Waived: {w}"),
        (None, Some(s)) => format!("{text} Suppressed {s}"),
        (None, None) => text,
    }
}

/// Where a suppressed finding was accepted and why: "by vigil:ignore at line 12: the backup job
/// logs in as root until Q3".
pub fn suppression_words(f: &Finding<'_>) -> Option<String> {
    let s = f.suppression.as_ref()?;
    Some(format!("by vigil:ignore at line {}: {}", s.line, s.reason))
}

/// Who accepted a waived finding, until when and why: "accepted by jane@example.org until
/// 2027-03-31 (SEC-1234): the host is isolated."
pub fn waiver_words(f: &Finding<'_>) -> Option<String> {
    let w = f.waiver.as_ref()?;
    let ticket = w
        .ticket
        .as_deref()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    Some(format!(
        "accepted by {} until {}{ticket}: {}",
        w.approved_by, w.expires, w.justification
    ))
}

/// The observed value of a finding, or `-` when it records none (a compact pass).
pub fn observed<'f>(f: &'f Finding<'_>) -> &'f str {
    f.observed.as_deref().unwrap_or("-")
}

/// Text from a scanned target made safe for a terminal or a log: control characters (ESC, CR, LF,
/// BEL, DEL, the C1 range) and the bidirectional overrides that reorder what a reader sees are
/// written as escapes (`\x1b`, `\r`, `\u{202e}`), so a file name cannot clear a screen, recolour
/// the output or forge a line of it.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Control characters and the bidirectional overrides: what [`printable`] escapes.
pub fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
