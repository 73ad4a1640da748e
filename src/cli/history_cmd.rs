//! `vigil history` (list, show and prune the runs of a history) and `vigil diff` (what changed
//! between two runs or two result files).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::output::{OutputArgs, print_summary};
use super::scan::{FailOn, parse_fail_on};
use super::{EXIT_FINDINGS, EXIT_OK, emit, usage_error};
use crate::history::{Diff, HistoryError, Mode, Recording, Select, Store, StoredSlot};

/// The history file a command reads.
#[derive(Debug, Clone, Args)]
pub struct HistoryFile {
    /// The history (written by `vigil scan --history`): an SQLite file or a `postgres://` URL.
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "VIGIL_HISTORY",
        hide_env_values = true
    )]
    history: PathBuf,
}

/// Which runs: those of one host, those with a tag.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Only the runs of this host (the name `vigil scan` recorded, or its `--host-name`).
    #[arg(long, value_name = "NAME")]
    host_name: Option<String>,
    /// Only the runs carrying this tag (`vigil scan --tag`).
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
}

impl SelectArgs {
    fn select(&self) -> Select {
        Select {
            host: self.host_name.clone(),
            tag: self.tag.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// List the runs of a history, newest first: when, where, how many verdicts in each state.
    List {
        #[command(flatten)]
        file: HistoryFile,
        #[command(flatten)]
        select: SelectArgs,
        /// `console` (a table) or `json`.
        #[arg(long, short = 'f', value_enum, default_value = "console")]
        format: ListFormat,
    },
    /// Render one stored run as `vigil report` renders a result file (its digest is checked).
    Show {
        /// The run: its number (`vigil history list`), `latest`, or `latest~N`.
        run: String,
        #[command(flatten)]
        file: HistoryFile,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Store saved JSON results as runs (their digests are checked): results a fleet's hosts
    /// uploaded, or scans made before the history existed.
    Import {
        /// JSON results written by `vigil scan --format json`.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        #[command(flatten)]
        file: HistoryFile,
    },
    /// Delete the runs older than `--keep`, and the verdicts no remaining run refers to.
    Prune {
        #[command(flatten)]
        file: HistoryFile,
        /// Keep the runs of this last period: `90d`, `12w`, `36h`.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        keep: time::Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Console,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum DiffFormat {
    Console,
    Json,
    Markdown,
}

/// `vigil diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older side: a run of the history (`12`, `latest~1`) or a result JSON file. Default:
    /// the run before the latest.
    old: Option<String>,

    /// The newer side, likewise. Default: the latest run.
    new: Option<String>,

    /// The history the runs are in.
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "VIGIL_HISTORY",
        hide_env_values = true
    )]
    history: Option<PathBuf>,

    /// Which runs `latest` and `latest~N` count among (a fleet's history holds many hosts).
    #[command(flatten)]
    select: SelectArgs,

    /// Formats, comma-separated: console, json, markdown.
    #[arg(
        long,
        short = 'f',
        value_delimiter = ',',
        value_enum,
        default_value = "console"
    )]
    format: Vec<DiffFormat>,

    /// Write the (single, non-console) format to this file instead of standard output (`-` is
    /// standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// Exit 1 when a new failure is at or above this severity (default: never).
    #[arg(long, default_value = "none", value_parser = parse_fail_on)]
    fail_on: FailOn,
}

fn parse_age(s: &str) -> Result<time::Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| *n <= 1_000_000)
        .ok_or_else(|| format!("`{s}` is not an age such as 90d"))?;
    match unit {
        "d" => Ok(time::Duration::days(n)),
        "w" => Ok(time::Duration::weeks(n)),
        "h" => Ok(time::Duration::hours(n)),
        _ => Err(format!("unknown unit in `{s}` (use d, w or h)")),
    }
}

/// Runs a `vigil history` command.
pub fn run(cmd: HistoryCommand) -> u8 {
    match cmd {
        HistoryCommand::List {
            file,
            select,
            format,
        } => list(&file.history, &select.select(), format),
        HistoryCommand::Show {
            run,
            file,
            select,
            output,
        } => show(&file.history, &run, &select.select(), &output),
        HistoryCommand::Import { results, file } => import(&file.history, &results),
        HistoryCommand::Prune { file, keep } => prune(&file.history, keep),
    }
}

fn list(path: &Path, select: &Select, format: ListFormat) -> u8 {
    let runs = match Store::open(path, Mode::Read).and_then(|s| s.runs(select)) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    if format == ListFormat::Json {
        return match serde_json::to_string_pretty(&runs) {
            Ok(t) => emit(&(t + "\n")),
            Err(e) => usage_error(e),
        };
    }
    let mut out = format!(
        "{:>5}  {:<20}  {:<16}  {:>8}  {:>6}  {:>6}  {:>9}  {}\n",
        "RUN", "STARTED", "HOST", "VERDICTS", "FAIL", "ERROR", "PASS RATE", "POLICIES"
    );
    for r in &runs {
        let get = |s: &str| r.states.get(s).copied().unwrap_or(0);
        let rate = match (r.complete, r.pass_rate) {
            (false, _) => "incomplete".to_string(),
            (true, Some(p)) => format!("{p:.1}%"),
            (true, None) => "n/a".to_string(),
        };
        out.push_str(&format!(
            "{:>5}  {:<20}  {:<16}  {:>8}  {:>6}  {:>6}  {:>9}  {}\n",
            r.run,
            r.started_at,
            crate::report::printable(&r.host),
            r.findings,
            get("fail"),
            get("error"),
            rate,
            r.policies.join(", ")
        ));
    }
    emit(&out)
}

fn show(path: &Path, run: &str, select: &Select, output: &OutputArgs) -> u8 {
    if let Err(e) = output.validate() {
        return usage_error(e);
    }
    let store = match Store::open(path, Mode::Read) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let id = match store.resolve(run, select) {
        Ok(id) => id,
        Err(e) => return usage_error(e),
    };
    // As `vigil report`: nothing is written unless the stored run matches its digest.
    let (sinks, held) = match output.held_sinks() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    match store.replay(id, sinks) {
        Ok(trailer) => {
            if let Err(e) = held.commit() {
                return usage_error(format!("cannot write the report: {e}"));
            }
            let controls: u64 = trailer.summary.controls_by_state.values().sum();
            let line = crate::report::console::summary_line(
                usize::try_from(controls).unwrap_or(usize::MAX),
                &trailer.inventory,
                &trailer.summary,
                None,
            );
            print_summary(output, &format!("{line} (run {id})"));
            EXIT_OK
        }
        Err(e) => usage_error(e),
    }
}

fn import(path: &Path, results: &[PathBuf]) -> u8 {
    let mut store = match Store::open(path, Mode::Write) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    for r in results {
        match store.import(r) {
            Ok(run) => eprintln!(
                "vigil: history {}: {} stored as run {run}",
                store.path(),
                r.display()
            ),
            Err(e) => return usage_error(e),
        }
    }
    EXIT_OK
}

fn prune(path: &Path, keep: time::Duration) -> u8 {
    let now = time::OffsetDateTime::now_utc();
    // An age beyond the calendar keeps everything.
    let before = now
        .checked_sub(keep)
        .map_or_else(|| "0000-01-01T00:00:00Z".to_string(), crate::clock::rfc3339);
    // A run that never completed and is over a day old belongs to a scan that died.
    let stale = crate::clock::rfc3339(now - time::Duration::days(1));
    match Store::open(path, Mode::Read).and_then(|mut s| Ok((s.prune(&before, &stale)?, s))) {
        Ok(((runs, verdicts), store)) => {
            eprintln!(
                "vigil: history {}: {runs} runs started before {before} deleted, with {verdicts} \
                 verdicts no remaining run refers to",
                store.path()
            );
            EXIT_OK
        }
        Err(e) => usage_error(e),
    }
}

/// One side of a comparison, as given.
enum Side<'a> {
    Run(&'a str),
    File(&'a Path),
}

fn side(s: &str) -> Side<'_> {
    let p = Path::new(s);
    if p.is_file() || s.ends_with(".json") {
        Side::File(p)
    } else {
        Side::Run(s)
    }
}

/// Runs `vigil diff`.
pub fn diff(args: DiffArgs) -> u8 {
    let non_console = args
        .format
        .iter()
        .filter(|f| **f != DiffFormat::Console)
        .count();
    if non_console > 1 || (args.output.is_some() && non_console != 1) {
        return usage_error(
            "--output takes exactly one of json and markdown; without it, one at most goes to \
             standard output",
        );
    }
    let d = match compare(&args) {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let mut formats = args.format.clone();
    formats.sort();
    formats.dedup();
    for f in formats {
        let text = match f {
            DiffFormat::Console => crate::report::changes::console(&d),
            DiffFormat::Markdown => crate::report::changes::markdown(&d),
            DiffFormat::Json => match serde_json::to_string_pretty(&d) {
                Ok(t) => t + "\n",
                Err(e) => return usage_error(e),
            },
        };
        match (super::output_file(&args.output), f) {
            (Some(path), DiffFormat::Json | DiffFormat::Markdown) => {
                if let Err(e) = std::fs::write(path, text) {
                    return usage_error(format!("cannot write {}: {e}", path.display()));
                }
            }
            _ => {
                let code = emit(&text);
                if code != EXIT_OK {
                    return code;
                }
            }
        }
    }
    if !args.format.contains(&DiffFormat::Console) {
        eprintln!("vigil diff: {}", crate::report::changes::counts(&d));
    }
    let failing = match args.fail_on {
        FailOn::At(t) => d.new.iter().any(|i| i.severity >= t),
        FailOn::Never => false,
    };
    if failing { EXIT_FINDINGS } else { EXIT_OK }
}

/// Builds the comparison the arguments ask for. Two runs of one history are compared in place;
/// anything else (a result file on either side) is copied into a scratch history first.
fn compare(args: &DiffArgs) -> Result<Diff, HistoryError> {
    let (old, new) = match (&args.old, &args.new) {
        (None, None) => ("latest~1", "latest"),
        (Some(o), None) => (o.as_str(), "latest"),
        (Some(o), Some(n)) => (o.as_str(), n.as_str()),
        (None, Some(_)) => unreachable!("clap fills positionals in order"),
    };
    let defaults = args.old.is_none();
    let (old, new) = (side(old), side(new));
    let history = || -> Result<Store, HistoryError> {
        let path = args.history.as_deref().ok_or_else(|| {
            HistoryError::Usage(
                "name the history with --history FILE (or VIGIL_HISTORY), or compare two result \
                 files"
                    .into(),
            )
        })?;
        Store::open(path, Mode::Read)
    };
    if let (Side::Run(a), Side::Run(b)) = (&old, &new) {
        let store = history()?;
        let select = args.select.select();
        // By default the latest run and the run before it of the same host: a fleet's history
        // interleaves hosts.
        let b = store.resolve(b, &select)?;
        let a = if defaults {
            store.previous(b)?.ok_or_else(|| {
                HistoryError::Usage(format!(
                    "{}: run {b} is the first complete run of its host: nothing to compare it with",
                    store.path()
                ))
            })?
        } else {
            store.resolve(a, &select)?
        };
        return store.diff(a, b, None);
    }
    let source = match (&old, &new) {
        (Side::File(_), Side::File(_)) => None,
        _ => Some(history()?),
    };
    let scratch = tempfile::NamedTempFile::new().map_err(|e| HistoryError::Io {
        path: "a scratch history".into(),
        why: e.to_string(),
    })?;
    let mut store = Store::open(scratch.path(), Mode::Write)?;
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for s in [&old, &new] {
        match s {
            Side::File(p) => {
                ids.push(store.import(p)?);
                files.push(Some(p.display().to_string()));
            }
            Side::Run(r) => {
                let src = source.as_ref().expect("a history for runs");
                let id = src.resolve(r, &args.select.select())?;
                let slot = StoredSlot::default();
                let sink = Recording::new(&mut store, slot.clone()).without_drift();
                src.replay(id, vec![Box::new(sink)])?;
                let stored = slot.borrow_mut().take().map(|s| s.run);
                ids.push(stored.ok_or_else(|| HistoryError::Usage(format!("run {id} is empty")))?);
                files.push(None);
            }
        }
    }
    let mut d = store.diff(ids[0], ids[1], None)?;
    // The scratch history's run numbers mean nothing to the user: name the files or runs given.
    for (r, (file, s)) in [&mut d.from, &mut d.to]
        .into_iter()
        .zip(files.into_iter().zip([&old, &new]))
    {
        r.file = file;
        r.run = match s {
            Side::Run(spec) => source
                .as_ref()
                .and_then(|src| src.resolve(spec, &args.select.select()).ok()),
            Side::File(_) => None,
        };
    }
    Ok(d)
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// The fleet in one report: pass rate and trend, hosts ranked by failures, the controls
    /// failing on the most hosts, what changed since each host's previous run, hosts silent for
    /// 36 hours, waivers ending within 14 days.
    Report(FleetArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum FleetFormat {
    Html,
    Json,
    Markdown,
}

impl FleetFormat {
    fn file_name(self) -> &'static str {
        match self {
            FleetFormat::Html => "fleet.html",
            FleetFormat::Json => "fleet.json",
            FleetFormat::Markdown => "fleet.md",
        }
    }
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    file: HistoryFile,

    /// Only the hosts whose runs carry this tag (`vigil scan --tag`).
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,

    /// The moment "silent for 36 hours" and "ending within 14 days" are judged against
    /// (RFC 3339 or YYYY-MM-DD; default: now).
    #[arg(long, value_name = "TIMESTAMP", value_parser = super::parse_at)]
    at: Option<time::OffsetDateTime>,

    /// Formats, comma-separated: html, json, markdown.
    #[arg(
        long,
        short = 'f',
        value_delimiter = ',',
        value_enum,
        default_value = "html"
    )]
    format: Vec<FleetFormat>,

    /// Write the (single) format to this file instead of standard output (`-` is standard output).
    #[arg(long, short = 'o', value_name = "FILE", conflicts_with = "output_dir")]
    output: Option<PathBuf>,

    /// Write every format into this directory (fleet.html, fleet.json, fleet.md).
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

/// Runs `vigil fleet report`.
pub fn fleet(cmd: FleetCommand) -> u8 {
    let FleetCommand::Report(args) = cmd;
    let mut formats = args.format.clone();
    formats.sort();
    formats.dedup();
    if formats.len() > 1 && args.output_dir.is_none() {
        return usage_error("several formats go to --output-dir DIR");
    }
    let store = match Store::open(&args.file.history, Mode::Read) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let select = Select {
        host: None,
        tag: args.tag.clone(),
    };
    let now = args.at.unwrap_or_else(time::OffsetDateTime::now_utc);
    let fleet = match store.fleet(&select, now) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    let history = store.path().to_string();
    for f in formats {
        let text = match f {
            FleetFormat::Html => match crate::report::fleet::html(&fleet, &history) {
                Ok(t) => t,
                Err(e) => return usage_error(e),
            },
            FleetFormat::Markdown => crate::report::fleet::markdown(&fleet),
            FleetFormat::Json => match serde_json::to_string_pretty(&fleet) {
                Ok(t) => t + "\n",
                Err(e) => return usage_error(e),
            },
        };
        let target = match (super::output_file(&args.output), &args.output_dir) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(dir)) => {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    return usage_error(format!("cannot create {}: {e}", dir.display()));
                }
                Some(dir.join(f.file_name()))
            }
            (None, None) => None,
        };
        match target {
            Some(p) => {
                if let Err(e) = std::fs::write(&p, text) {
                    return usage_error(format!("cannot write {}: {e}", p.display()));
                }
            }
            None => {
                let code = emit(&text);
                if code != EXIT_OK {
                    return code;
                }
            }
        }
    }
    eprintln!(
        "vigil fleet: {} hosts, pass rate {}, {} new and {} resolved failures since their previous runs, {} silent, {} waivers ending within 14 days",
        fleet.hosts,
        fleet
            .pass_rate
            .map_or("n/a".to_string(), |r| format!("{r:.1}%")),
        fleet.changes.new,
        fleet.changes.resolved,
        fleet.silent.len(),
        fleet.expiring_waivers.len()
    );
    EXIT_OK
}
