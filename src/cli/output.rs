//! Where a result is written, shared by `vigil scan` and `vigil report`.
//!
//! - `--output-dir DIR`: every non-console format goes to `DIR/<name>` (`report.html`,
//!   `results.json`, `results.sarif`, `junit.xml`, `summary.md`);
//! - `--output FILE`: the one non-console format goes to FILE (`-`: standard output);
//! - otherwise to standard output (one non-console format at most).
//!
//! The console format always goes to standard output. When it is not asked for, the one-line summary
//! goes to standard error so that CI logs still show the verdict. Files are created when the first
//! byte is written, so a scan that stops before it starts (a missing path) leaves none behind.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::Args;

use crate::report::spool::Spool;
use crate::report::{self, Format, Style};
use crate::results::Sink;

/// Output options common to `scan` and `report`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output formats, comma-separated: console, json, html, sarif, junit, markdown.
    #[arg(long, short = 'f', value_delimiter = ',', default_value = "console")]
    pub format: Vec<Format>,

    /// Write the (single, non-console) format to this file instead of standard output (`-` is
    /// standard output).
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

    /// SARIF: also give passing and not-applicable verdicts a result each (`kind: pass`,
    /// `notApplicable`). Left out by default: code-scanning services raise an alert for every
    /// result, and refuse a run of more than 25,000.
    #[arg(long)]
    pub sarif_passes: bool,
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

    /// Whether the console report is asked for.
    pub fn console(&self) -> bool {
        self.format.contains(&Format::Console)
    }

    /// The sinks for every format asked for: files first, then standard output (a streamed format,
    /// then the console report, which is written at the end).
    pub fn sinks(&self) -> Result<Vec<Box<dyn Sink + 'static>>, String> {
        self.build(None, None)
    }

    /// [`OutputArgs::sinks`] for a scan stored in a history: the HTML report shows the drift the
    /// history sink leaves in `drift`.
    pub fn sinks_with_drift(
        &self,
        drift: crate::history::StoredSlot,
    ) -> Result<Vec<Box<dyn Sink + 'static>>, String> {
        self.build(None, Some(drift))
    }

    /// [`OutputArgs::sinks`] whose output is held back until [`Held::commit`]: nothing reaches a
    /// file or standard output before then.
    pub fn held_sinks(&self) -> Result<(Vec<Box<dyn Sink + 'static>>, Held), String> {
        let mut held = Held::default();
        let sinks = self.build(Some(&mut held), None)?;
        Ok((sinks, held))
    }

    fn build(
        &self,
        mut held: Option<&mut Held>,
        drift: Option<crate::history::StoredSlot>,
    ) -> Result<Vec<Box<dyn Sink + 'static>>, String> {
        let mut route = |out: Box<dyn Write>| -> Result<Box<dyn Write>, String> {
            match held.as_deref_mut() {
                Some(h) => h.hold(out).map_err(|e| format!("cannot hold output: {e}")),
                None => Ok(out),
            }
        };
        if let Some(dir) = &self.output_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut style = Style::plain(self.verbose).with_templates(self.template_dir.as_deref());
        style.drift = drift;
        style.sarif_passes = self.sarif_passes;
        let mut sinks = Vec::new();
        for format in self.non_console() {
            let out: Box<dyn Write> = match (super::output_file(&self.output), &self.output_dir) {
                (Some(path), _) => Box::new(LazyFile::new(path)),
                (None, Some(dir)) => Box::new(LazyFile::new(&dir.join(format.file_name()))),
                (None, None) => Box::new(Stdout::new()),
            };
            sinks.push(report::sink(format, route(out)?, &style));
        }
        if self.console() {
            let style = Style::for_stdout(self.verbose);
            sinks.push(report::sink(
                Format::Console,
                route(Box::new(Stdout::new()))?,
                &style,
            ));
        }
        Ok(sinks)
    }
}

/// Outputs held back in anonymous temporary files until [`Held::commit`] writes them to their
/// destinations: `vigil report` checks a result's digest while it renders it, and writes nothing
/// from a result that turns out to have been altered.
#[derive(Default)]
pub struct Held {
    parts: Vec<HeldOutput>,
}

/// One held output: where it goes, and what was written so far.
struct HeldOutput {
    destination: Box<dyn Write>,
    spool: Rc<RefCell<Spool>>,
}

impl Held {
    fn hold(&mut self, destination: Box<dyn Write>) -> io::Result<Box<dyn Write>> {
        let spool = Rc::new(RefCell::new(Spool::new()?));
        self.parts.push(HeldOutput {
            destination,
            spool: Rc::clone(&spool),
        });
        Ok(Box::new(HeldWriter(spool)))
    }

    /// Writes every held output to its destination, in the order the sinks were made.
    pub fn commit(self) -> io::Result<()> {
        for mut part in self.parts {
            part.spool.borrow_mut().drain_into(&mut *part.destination)?;
            part.destination.flush()?;
        }
        Ok(())
    }
}

/// The writer a held sink writes to.
struct HeldWriter(Rc<RefCell<Spool>>);

impl Write for HeldWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// A file created on its first write.
struct LazyFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl LazyFile {
    fn new(path: &Path) -> LazyFile {
        LazyFile {
            path: path.to_path_buf(),
            file: None,
        }
    }

    fn file(&mut self) -> io::Result<&mut BufWriter<File>> {
        if self.file.is_none() {
            let f = File::create(&self.path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot write {}: {e}", self.path.display()),
                )
            })?;
            self.file = Some(BufWriter::with_capacity(1 << 16, f));
        }
        Ok(self.file.as_mut().expect("just created"))
    }
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Standard output, buffered. A reader that closed the pipe early (`vigil scan . | head`) is not
/// an error: the rest of the output is dropped and the scan still ends with its exit code.
struct Stdout {
    out: BufWriter<io::Stdout>,
    closed: bool,
}

impl Stdout {
    fn new() -> Stdout {
        Stdout {
            out: BufWriter::with_capacity(1 << 16, io::stdout()),
            closed: false,
        }
    }

    fn tolerate(&mut self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.closed {
            let r = self.out.write_all(buf);
            self.tolerate(r)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.out.flush();
        self.tolerate(r)
    }
}

/// Prints the summary line: on standard output after the console report, else on standard error.
pub fn print_summary(args: &OutputArgs, line: &str) {
    if args.console() {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    } else {
        eprintln!("{line}");
    }
}
