//! Writing a result in the formats asked for, shared by `vigil scan` and `vigil report`.
//!
//! - `--output-dir DIR`: every non-console format goes to `DIR/<name>` (`report.html`,
//!   `results.json`, `results.sarif`, `junit.xml`, `summary.md`);
//! - `--output FILE`: the one non-console format goes to FILE;
//! - otherwise to standard output (one non-console format at most).
//!
//! The console format always goes to standard output. When it is not asked for, the one-line summary
//! goes to standard error so that CI logs still show the verdict.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{EXIT_USAGE, usage_error};
use crate::report::{self, Format, Style};
use crate::results::ScanRun;

/// Output options common to `scan` and `report`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output formats, comma-separated: console, json, html, sarif, junit, markdown.
    #[arg(long, short = 'f', value_delimiter = ',', default_value = "console")]
    pub format: Vec<Format>,

    /// Write the (single, non-console) format to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,

    /// Write every non-console format into this directory (created if needed).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// HTML: a directory whose report.html.hbs, report.css or report.js replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,

    /// Console: also list passing, waived and not-applicable verdicts.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

impl OutputArgs {
    /// Checks the combination of options before any work is done.
    pub fn validate(&self) -> Result<(), String> {
        let files: Vec<Format> = self.non_console();
        if self.output.is_some() && (self.format.len() != 1 || files.len() != 1) {
            return Err(
                "--output takes exactly one non-console --format; use --output-dir for several"
                    .into(),
            );
        }
        if self.output.is_none() && self.output_dir.is_none() && files.len() > 1 {
            return Err(
                "only one non-console format can go to standard output; use --output-dir".into(),
            );
        }
        if let Some(dir) = &self.template_dir {
            if !dir.is_dir() {
                return Err(format!(
                    "--template-dir {} is not a directory",
                    dir.display()
                ));
            }
        }
        Ok(())
    }

    fn non_console(&self) -> Vec<Format> {
        let mut f: Vec<Format> = self
            .format
            .iter()
            .copied()
            .filter(|f| *f != Format::Console)
            .collect();
        f.sort();
        f.dedup();
        f
    }
}

/// Writes `run` as asked. `verdict` (threshold, exit code) ends the console summary line. Returns
/// `Err(exit code)` when an output could not be written.
pub fn write_outputs(
    run: &ScanRun,
    args: &OutputArgs,
    verdict: Option<(&str, u8)>,
) -> Result<(), u8> {
    let style = Style::plain(args.verbose).with_templates(args.template_dir.as_deref());
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| usage_error(format!("cannot create {}: {e}", dir.display())))?;
    }
    for format in args.non_console() {
        let result = match (&args.output, &args.output_dir) {
            (Some(path), _) => to_file(path, format, run, &style),
            (None, Some(dir)) => to_file(&dir.join(format.file_name()), format, run, &style),
            (None, None) => to_stdout(|out| report::write(format, run, out, &style)),
        };
        result?;
    }
    let summary = report::console::summary_line(run, verdict);
    if args.format.contains(&Format::Console) {
        let style = Style {
            template_dir: None,
            ..Style::for_stdout(args.verbose)
        };
        to_stdout(|out| {
            report::console::write_findings(run, out, &style)?;
            writeln!(out, "{summary}")
        })?;
    } else {
        eprintln!("{summary}");
    }
    Ok(())
}

fn to_file(path: &Path, format: Format, run: &ScanRun, style: &Style) -> Result<(), u8> {
    let written = std::fs::File::create(path).and_then(|file| {
        let mut w = std::io::BufWriter::new(file);
        report::write(format, run, &mut w, style)?;
        w.flush()
    });
    written.map_err(|e| usage_error(format!("cannot write {}: {e}", path.display())))
}

fn to_stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), u8> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match f(&mut lock).and_then(|()| lock.flush()) {
        Ok(()) => Ok(()),
        // A reader that closed the pipe early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("vigil: cannot write to standard output: {e}");
            Err(EXIT_USAGE)
        }
    }
}
