//! `vigil scan`.

use std::path::PathBuf;

use clap::Args;
use time::OffsetDateTime;

use super::output::{OutputArgs, print_summary};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, PolicySource, usage_error};
use crate::clock::parse_at;
use crate::collect::Host;
use crate::collect::walk::WalkOptions;
use crate::engine::{self, PassEvidence, ScanOptions};
use crate::policy::Severity;
use crate::report::console::summary_line;
use crate::results::{State, Summary};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan.
    #[arg(required_unless_present_any = ["root", "host", "targets"], value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Probe a network endpoint: HOST:PORT, [IPv6]:PORT, or NAME@ADDRESS:PORT to connect to
    /// ADDRESS and use NAME as the server's name (repeatable). Only the endpoints named are
    /// contacted.
    #[arg(long = "host", value_name = "HOST:PORT", value_parser = crate::collect::inventory::parse_host)]
    host: Vec<crate::collect::Endpoint>,

    /// Probes to run on the `--host` endpoints: `ssh`, `tls`, `http` (HSTS over TLS); by default
    /// by port (22 is SSH, anything else TLS).
    #[arg(long, value_name = "PROBE", value_delimiter = ',', value_parser = ["ssh", "tls", "http"])]
    probe: Vec<String>,

    /// Upgrade the `--host` connections to TLS with this protocol's STARTTLS first.
    #[arg(long, value_name = "PROTOCOL", value_parser = crate::collect::inventory::STARTTLS)]
    starttls: Option<String>,

    /// An inventory of endpoints (YAML: hosts with name, address, ports, probes, tags).
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,

    /// Endpoints probed at once.
    #[arg(long, value_name = "N", default_value_t = crate::engine::DEFAULT_CONCURRENCY)]
    concurrency: usize,

    #[command(flatten)]
    limits: NetLimitArgs,

    /// Audit a machine through its root filesystem: `/` for the live machine (live kernel
    /// parameters and mounts), or a mounted image, chroot or container filesystem. Read-only: no
    /// command is run and nothing is written. Controls of the host kinds judge it.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    #[command(flatten)]
    source: PolicySource,

    #[command(flatten)]
    output: OutputArgs,

    /// Lowest severity that fails the run (exit 1): critical, high, medium, low, info, or none.
    #[arg(long, default_value = "high", value_parser = parse_fail_on)]
    fail_on: FailOn,

    /// Print nothing but the outputs asked for: no summary line, no notes on waivers and
    /// baselines, no progress bar (errors are still printed).
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Do not fail the run because of `error` findings (targets that could not be read or parsed).
    #[arg(long)]
    allow_errors: bool,

    /// Exit 0 when nothing was judged (an empty directory, globs that match nothing) instead of 2.
    #[arg(long)]
    allow_empty: bool,

    /// Accepted risks (YAML): failures and errors they match are recorded `waived`, with the
    /// justification, approver and expiry, until the waiver expires.
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,

    /// Ignore the `vigil:ignore` comments of scanned files: every failure they would suppress is
    /// reported `fail`, and the pack that judges them (vigil-suppressions) is not applied. For
    /// auditors who want to see through what the files' owners accepted.
    #[arg(long)]
    no_inline_suppressions: bool,

    /// Known failures (made by `vigil baseline create`): recorded `baselined`, not counted by
    /// `--fail-on`; those that no longer fail are reported as fixed.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Store the run in this history: an SQLite file (created when absent) or a PostgreSQL server
    /// (`postgres://user@host/db`, shared by many hosts; pass a URL holding a password through
    /// VIGIL_HISTORY, not on the command line). Every verdict, the policies and the run's metadata. The HTML report then shows what changed since the previous run of
    /// this host and the trend of the last 30 runs; `vigil diff` and `vigil history` read it.
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "VIGIL_HISTORY",
        hide_env_values = true
    )]
    history: Option<PathBuf>,

    /// Judge only shard I of N (counted from 0) of the targets, so that N processes cover them
    /// exactly once; `vigil merge` joins their JSON results. Give every shard the same arguments
    /// and `--at`.
    #[arg(long, value_name = "I/N", value_parser = crate::engine::Shard::parse)]
    shard: Option<crate::engine::Shard>,

    /// The host name recorded in the result and the history (default: this machine's name): a
    /// fleet's hosts by the names its team uses, or the node a `--root /host` scan audits.
    #[arg(long, value_name = "NAME")]
    host_name: Option<String>,

    /// A label recorded with the run (repeatable): `env=prod`, `team=payments`. `vigil history
    /// list --tag` and `vigil fleet report --tag` select runs by it.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,

    /// Evaluate time-dependent checks at this instant (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "TIMESTAMP", value_parser = parse_at)]
    at: Option<OffsetDateTime>,

    /// Trust anchors for certificate chains: a PEM/DER file or a directory of them (default: the
    /// system store, read from disk).
    #[arg(long, value_name = "FILE|DIR")]
    trust_store: Option<PathBuf>,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    threads: Option<usize>,

    /// Only scan files matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,

    /// Skip files and directories matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,

    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    follow_symlinks: bool,

    /// Largest file read; larger files give an `error` finding. Accepts K, M, G (and KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    max_file_size: u64,

    /// Memory the files over 1 MiB being judged may take at once, whatever the number of threads:
    /// a worker whose file does not fit waits for another to finish (a file larger than it is
    /// judged alone). Accepts K, M, G (and KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "128MiB")]
    read_budget: u64,

    /// Evidence recorded for passing verdicts: `compact` (control, target, location) or `full`
    /// (observed values and a message, and a verdict for every file a pattern was searched in).
    #[arg(long, value_name = "LEVEL", default_value = "compact", value_parser = parse_pass_evidence)]
    pass_evidence: PassEvidence,

    /// Keep each file's verdicts in FILE and reuse them for the files unchanged since, when the
    /// policies, options and vigil are the same; the results are the same as judging afresh.
    #[arg(long, value_name = "FILE")]
    cache: Option<std::path::PathBuf>,

    /// How `--cache` tells a file unchanged: `content` (SHA-256 of its bytes, with owner and mode;
    /// every file is read) or `metadata` (inode, size, modification and change times; unchanged
    /// files are not opened).
    #[arg(long, value_name = "STRATEGY", default_value = "content", value_parser = parse_cache_strategy, requires = "cache")]
    cache_strategy: engine::CacheStrategy,
}

fn parse_cache_strategy(s: &str) -> Result<engine::CacheStrategy, String> {
    match s {
        "content" => Ok(engine::CacheStrategy::Content),
        "metadata" => Ok(engine::CacheStrategy::Metadata),
        _ => Err("expected `content` or `metadata`".into()),
    }
}

/// Time limits of network probes, shared by `scan` and `facts`.
#[derive(Debug, Args)]
pub struct NetLimitArgs {
    /// Time allowed to establish a TCP connection (`5s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    connect_timeout: std::time::Duration,

    /// Time allowed for a peer to send the next bytes of its answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    timeout: std::time::Duration,

    /// Time allowed for all the probes of one endpoint.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    deadline: std::time::Duration,
}

impl NetLimitArgs {
    /// The limits the collectors apply.
    pub fn limits(&self) -> crate::collect::net::Limits {
        crate::collect::net::Limits {
            connect: self.connect_timeout,
            read: self.timeout,
            deadline: self.deadline,
        }
    }
}

fn parse_pass_evidence(s: &str) -> Result<PassEvidence, String> {
    match s {
        "compact" => Ok(PassEvidence::Compact),
        "full" => Ok(PassEvidence::Full),
        _ => Err("expected `compact` or `full`".into()),
    }
}

/// The `--fail-on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Fail on findings at or above this severity.
    At(Severity),
    /// Never fail because of findings.
    Never,
}

pub(crate) fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    if s == "none" {
        return Ok(FailOn::Never);
    }
    Severity::parse(s)
        .map(FailOn::At)
        .ok_or_else(|| "expected one of: critical, high, medium, low, info, none".to_string())
}

/// Parses a duration: `5` or `5s` (seconds), `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in `{s}` (use ms, s or m)")),
    };
    if !(secs > 0.0 && secs < 86_400.0) {
        return Err(format!("`{s}` is not a duration between 0 and a day"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Parses a size: `1048576`, `64M`, `64MiB`, `1G`, `512k`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a size"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown size unit in `{s}` (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

pub fn run(args: ScanArgs) -> u8 {
    if let Err(e) = args.output.validate() {
        return usage_error(e);
    }
    let mut endpoints = args.host.clone();
    for e in &mut endpoints {
        e.probes = args.probe.clone();
        e.starttls = args.starttls.clone();
    }
    if let Some(file) = &args.targets {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return usage_error(format!("cannot read {}: {e}", file.display())),
        };
        match crate::collect::inventory::load(&file.display().to_string(), &text) {
            Ok(found) => endpoints.extend(found),
            Err(errors) => return usage_error(errors.join("\n")),
        }
    }
    if let Some(root) = &args.root
        && let Err(e) = check_root(root)
    {
        return usage_error(e);
    }
    let waivers = match &args.waivers {
        None => None,
        Some(file) => {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => return usage_error(format!("cannot read {}: {e}", file.display())),
            };
            let at = args.at.unwrap_or_else(OffsetDateTime::now_utc);
            match crate::workflow::waivers::Waivers::load(&file.display().to_string(), &text, at) {
                Ok(w) => Some(std::sync::Arc::new(w)),
                Err(e) => return usage_error(e),
            }
        }
    };
    let baseline = match &args.baseline {
        None => None,
        Some(file) => match crate::workflow::baseline::Baseline::load(file) {
            Ok(b) => Some(std::sync::Arc::new(b)),
            Err(e) => return usage_error(e),
        },
    };
    let mut sources = Vec::new();
    if !args.paths.is_empty() {
        sources.push(crate::collect::Source::File);
    }
    if !endpoints.is_empty() {
        sources.push(crate::collect::Source::Endpoint);
    }
    if args.root.is_some() {
        sources.push(crate::collect::Source::Host);
    }
    let inline_suppressions = !args.no_inline_suppressions;
    let (policies, known_controls) = match args.source.load_for(&sources, inline_suppressions) {
        Ok(p) => (p.set, p.known_controls),
        Err(e) => return usage_error(e),
    };
    for w in &policies.warnings {
        eprintln!("{w}");
    }
    if args.shard.is_some() && args.history.is_some() {
        return usage_error(
            "--shard writes one part of a scan, which is no run of a host: store the merged \
             result with vigil history import (VIGIL_HISTORY may be set in the environment)",
        );
    }
    // The history is opened (and a damaged or foreign file refused) before anything is scanned.
    let mut store = match &args.history {
        Some(path) => match crate::history::Store::open(path, crate::history::Mode::Write) {
            Ok(s) => Some(s),
            Err(e) => return usage_error(e),
        },
        None => None,
    };
    let stored = crate::history::StoredSlot::default();
    let outputs = match &store {
        Some(_) => args.output.sinks_with_drift(stored.clone()),
        None => args.output.sinks(),
    };
    let outputs = match outputs {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    // The history comes first: the HTML report, rendered last, shows what it found.
    let mut sinks: Vec<Box<dyn crate::results::Sink + '_>> = Vec::new();
    if let Some(store) = store.as_mut() {
        let mut recording = crate::history::Recording::new(store, stored.clone());
        if let Some(name) = &args.host_name {
            recording = recording.for_host(name);
        }
        sinks.push(Box::new(recording));
    }
    for s in outputs {
        sinks.push(s);
    }
    let bar = progress_bar(args.quiet);
    let opts = ScanOptions {
        paths: args.paths.clone(),
        walk: WalkOptions {
            follow_symlinks: args.follow_symlinks,
            include: args.include.clone(),
            exclude: args.exclude.clone(),
        },
        max_file_size: args.max_file_size,
        read_budget: args.read_budget,
        at: args.at,
        threads: args.threads,
        trust_store: args.trust_store.clone(),
        pass_evidence: args.pass_evidence,
        inline_suppressions,
        verdicts_in_memory: engine::VERDICTS_IN_MEMORY,
        known_controls,
        hosts: args.root.iter().map(|r| host_of(r)).collect(),
        endpoints,
        concurrency: args.concurrency.max(1),
        net: args.limits.limits(),
        waivers,
        baseline,
        progress: bar
            .clone()
            .map(|b| crate::engine::Progress(std::sync::Arc::new(move |_name: &str| b.inc(1)))),
        // A PostgreSQL URL's password is never recorded (VIGIL_HISTORY keeps it off the command
        // line; this keeps it out of results given it anyway).
        arguments: std::env::args_os()
            .map(|a| crate::history::redact(&a.to_string_lossy()))
            .collect(),
        shard: args.shard,
        host_name: args.host_name.clone(),
        machine_id: machine_id(args.root.as_deref()),
        tags: args.tags.clone(),
        cache: args.cache.clone().map(|path| engine::CacheOptions {
            path,
            strategy: args.cache_strategy,
        }),
    };
    let outcome = engine::scan(&policies, &opts, sinks);
    // The bar is cleared before anything else is printed.
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return usage_error(e),
    };
    let t = &outcome.trailer;
    if let (Some(c), Some(path)) = (outcome.cache.filter(|_| !args.quiet), &args.cache) {
        eprintln!(
            "vigil: cache {}: {} files reused, {} judged afresh, {} kept{}",
            path.display(),
            c.reused,
            c.judged,
            c.kept,
            if c.rewritten { "" } else { " (unchanged)" }
        );
    }
    if let Some(k) = t.known_failures.as_ref().filter(|_| !args.quiet) {
        eprintln!(
            "vigil: baseline {}: {} known failures, {} still failing, {} fixed",
            k.baseline,
            k.known,
            k.still_failing,
            k.fixed.len()
        );
    }
    // Waivers that need someone's attention, on standard error (the result has them all).
    for w in t
        .waivers
        .iter()
        .filter(|w| w.status != "active" && !args.quiet)
    {
        let what = match w.status.as_str() {
            "expired" => format!("expired on {}; it no longer applies", w.expires),
            "expiring" => format!("expires on {}", w.expires),
            _ => "matched no finding".to_string(),
        };
        eprintln!(
            "vigil: waiver {} for {}{} (approved by {}) {what}",
            w.location,
            w.control,
            w.target
                .as_deref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default(),
            w.approved_by
        );
    }
    if let (Some(s), false) = (stored.borrow().as_ref(), args.quiet) {
        eprintln!("{}", history_line(args.history.as_deref(), s));
    }
    let mut code = exit_code(
        &t.summary,
        !t.scan_errors.is_empty(),
        args.fail_on,
        args.allow_errors,
    );
    // A shard may be dealt no target of a small tree: the other shards judge them.
    let nothing = nothing_judged(t).filter(|_| args.shard.is_none());
    if let Some(why) = &nothing {
        eprintln!("vigil: nothing was scanned: {why}");
        if !args.allow_empty {
            code = EXIT_USAGE;
        }
    }
    let threshold = describe_threshold(args.fail_on);
    let line = summary_line(
        outcome.header.controls.len(),
        &t.inventory,
        &t.summary,
        Some((&threshold, code)),
    );
    if !args.quiet {
        print_summary(&args.output, &line);
    }
    code
}

/// The audited machine's id: `/etc/machine-id` of the root given with `--root`, or of this
/// machine; `None` when it is missing or not a machine-id (32 hexadecimal digits).
fn machine_id(root: Option<&std::path::Path>) -> Option<String> {
    let path = root
        .unwrap_or(std::path::Path::new("/"))
        .join("etc/machine-id");
    let mut buf = Vec::new();
    crate::collect::gate::read(&path, 64, &mut buf).ok()?;
    let id = std::str::from_utf8(&buf).ok()?.trim();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// The note on the stored run: `vigil: history h.db: run 7 stored; since run 6: 2 new, ...`.
fn history_line(path: Option<&std::path::Path>, s: &crate::history::Stored) -> String {
    let path = path
        .map(|p| crate::history::redact(&p.display().to_string()))
        .unwrap_or_default();
    let since = match s.drift.as_ref().and_then(|d| d.diff.as_ref()) {
        Some(d) => format!(
            "since run {}: {} new, {} resolved, {} changed, {} still failing",
            d.from.run.unwrap_or(0),
            d.counts.new,
            d.counts.resolved,
            d.counts.changed,
            d.counts.still_failing
        ),
        None => "the first run of this host in it".to_string(),
    };
    format!("vigil: history {path}: run {} stored; {since}", s.run)
}

/// A progress bar on standard error, counting targets, when standard error is a terminal and the
/// run is neither quiet nor in CI (`CI` set): a log or a pipe gets only the summary line.
fn progress_bar(quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || std::env::var_os("CI").is_some() || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} targets judged ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// Refuses a `--root` that is not a root filesystem (a mount point whose image did not mount):
/// an empty directory would pass the controls that judge absence.
pub(crate) fn check_root(root: &std::path::Path) -> Result<(), String> {
    if !root.is_dir() {
        return Err(format!("--root {}: not a directory", root.display()));
    }
    if !root.join("etc").is_dir() {
        return Err(format!(
            "--root {}: not a root filesystem (it has no etc/ directory)",
            root.display()
        ));
    }
    Ok(())
}

/// The host a `--root` names: the machine's host name for the live root, else the directory.
pub(crate) fn host_of(root: &std::path::Path) -> Host {
    let live = std::fs::canonicalize(root).is_ok_and(|r| r == std::path::Path::new("/"));
    let name = if live {
        hostname::get().map_or_else(
            |_| "localhost".to_string(),
            |h| h.to_string_lossy().into_owned(),
        )
    } else {
        root.display().to_string()
    };
    Host {
        name,
        root: root.to_path_buf(),
        tags: Vec::new(),
    }
}

/// Why a scan judged nothing at all, when it did not: a run that checked nothing must not look
/// like a clean one.
fn nothing_judged(t: &crate::results::Trailer) -> Option<String> {
    if t.summary.judged() > 0 || !t.scan_errors.is_empty() {
        return None;
    }
    let inv = &t.inventory;
    let paths = inv.paths.join(", ");
    Some(
        if inv.files_seen == 0 && inv.endpoints == 0 && inv.hosts == 0 {
            format!(
                "no file found under {paths} (after --include and --exclude); \
             --allow-empty accepts an empty scan"
            )
        } else {
            format!(
                "{} found under {paths}, and no control applies to any of them; \
             --allow-empty accepts an empty scan",
                crate::text::counted(inv.files_seen, "file", "files")
            )
        },
    )
}

fn describe_threshold(f: FailOn) -> String {
    match f {
        FailOn::At(s) => s.as_str().to_string(),
        FailOn::Never => "none".to_string(),
    }
}

/// The exit code of a finished scan: its summary, and whether it had scan errors.
pub fn exit_code(summary: &Summary, scan_errors: bool, fail_on: FailOn, allow_errors: bool) -> u8 {
    let failing = match fail_on {
        FailOn::At(t) => Severity::ALL_DESCENDING
            .iter()
            .any(|&s| s >= t && summary.failures(s) > 0),
        FailOn::Never => false,
    };
    let errors = !allow_errors && (summary.count(State::Error) > 0 || scan_errors);
    if failing || errors {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DEFAULT_MAX_FILE_SIZE;

    #[test]
    fn the_default_size_shown_in_help_is_the_engine_default() {
        assert_eq!(parse_size("64MiB"), Ok(DEFAULT_MAX_FILE_SIZE));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10k"), Ok(10240));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("12X").is_err());
    }
}
