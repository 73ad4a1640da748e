//! Reports: renderings of a [`ScanRun`]. Every format is a pure function of the result document, so
//! a report rendered later from saved JSON (`vigil report`) is the same as one written at scan time.
//!
//! Scanned content (paths, observed values, messages) reaches every format already redacted where the
//! control is a secret check; each renderer escapes it for its own syntax (HTML, XML, Markdown), so a
//! scanned `<script>` is shown as text.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use crate::results::ScanRun;

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
    /// A directory whose `report.html.hbs`, `report.css` or `report.js` replace the built-in ones
    /// (html).
    pub template_dir: Option<std::path::PathBuf>,
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
            template_dir: None,
        }
    }

    /// Sets the template override directory.
    pub fn with_templates(mut self, dir: Option<&Path>) -> Style {
        self.template_dir = dir.map(Path::to_path_buf);
        self
    }
}

/// Writes `run` in `format`.
pub fn write(format: Format, run: &ScanRun, out: &mut dyn Write, style: &Style) -> io::Result<()> {
    match format {
        Format::Console => console::write(run, out, style),
        Format::Json => json::write(run, out),
        Format::Html => html::write(run, out, style.template_dir.as_deref()),
        Format::Sarif => sarif::write(run, out),
        Format::Junit => junit::write(run, out),
        Format::Markdown => markdown::write(run, out),
    }
}
