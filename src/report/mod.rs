//! Reports: renderings of a [`ScanRun`]. Every format is a pure function of the result document, so
//! a report rendered later from saved JSON is the same as one written at scan time.

pub mod console;
pub mod json;

use std::io::{self, IsTerminal, Write};

use crate::results::ScanRun;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text, grouped by severity, with a one-line summary for CI logs.
    Console,
    /// The result document (see `docs/results.schema.json`).
    Json,
}

/// Presentation settings for text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// List passing and not-applicable verdicts too.
    pub verbose: bool,
}

impl Style {
    /// No colour.
    pub fn plain(verbose: bool) -> Style {
        Style {
            color: false,
            verbose,
        }
    }

    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout(verbose: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: io::stdout().is_terminal() && !no_color,
            verbose,
        }
    }
}

/// Writes `run` in `format`.
pub fn write(format: Format, run: &ScanRun, out: &mut dyn Write, style: Style) -> io::Result<()> {
    match format {
        Format::Console => console::write(run, out, style),
        Format::Json => json::write(run, out),
    }
}
