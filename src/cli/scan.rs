//! `vigil scan`.

use std::path::PathBuf;

use clap::Args;
use time::OffsetDateTime;

use super::output::{OutputArgs, write_outputs};
use super::{EXIT_FINDINGS, EXIT_OK, PolicySource, usage_error};
use crate::collect::walk::WalkOptions;
use crate::engine::{self, DEFAULT_MAX_FILE_SIZE, ScanOptions};
use crate::policy::Severity;
use crate::results::{ScanRun, State};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    #[command(flatten)]
    source: PolicySource,

    #[command(flatten)]
    output: OutputArgs,

    /// Lowest severity that fails the run (exit 1): critical, high, medium, low, info, or none.
    #[arg(long, default_value = "high", value_parser = parse_fail_on)]
    fail_on: FailOn,

    /// Do not fail the run because of `error` findings (targets that could not be read or parsed).
    #[arg(long)]
    allow_errors: bool,

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
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
}

/// The `--fail-on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Fail on findings at or above this severity.
    At(Severity),
    /// Never fail because of findings.
    Never,
}

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    if s == "none" {
        return Ok(FailOn::Never);
    }
    Severity::parse(s)
        .map(FailOn::At)
        .ok_or_else(|| "expected one of: critical, high, medium, low, info, none".to_string())
}

/// Parses `--at`: RFC 3339 (`2026-01-31T12:00:00Z`) or a date (`2026-01-31`, midnight UTC).
pub fn parse_at(s: &str) -> Result<OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            "expected an RFC 3339 timestamp (2026-01-31T12:00:00Z) or a date (2026-01-31)".into()
        })
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
    let policies = match args.source.load() {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    for w in &policies.warnings {
        eprintln!("{w}");
    }
    let opts = ScanOptions {
        paths: args.paths.clone(),
        walk: WalkOptions {
            follow_symlinks: args.follow_symlinks,
            include: args.include.clone(),
            exclude: args.exclude.clone(),
        },
        max_file_size: args.max_file_size,
        at: args.at,
        threads: args.threads,
        trust_store: args.trust_store.clone(),
        arguments: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    };
    let run = match engine::scan(&policies, &opts) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let code = exit_code(&run, args.fail_on, args.allow_errors);
    let threshold = describe_threshold(args.fail_on);
    match write_outputs(&run, &args.output, Some((&threshold, code))) {
        Ok(()) => code,
        Err(c) => c,
    }
}

fn describe_threshold(f: FailOn) -> String {
    match f {
        FailOn::At(s) => s.as_str().to_string(),
        FailOn::Never => "none".to_string(),
    }
}

/// The exit code of a finished scan.
pub fn exit_code(run: &ScanRun, fail_on: FailOn, allow_errors: bool) -> u8 {
    let failing = run
        .findings
        .iter()
        .any(|f| f.state == State::Fail && matches!(fail_on, FailOn::At(t) if f.severity >= t));
    let errors = !allow_errors
        && (run.findings.iter().any(|f| f.state == State::Error) || !run.scan_errors.is_empty());
    if failing || errors {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10k"), Ok(10240));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("12X").is_err());
        assert_eq!(
            engine::rfc3339(parse_at("2030-01-02").unwrap()),
            "2030-01-02T00:00:00Z"
        );
        assert_eq!(
            engine::rfc3339(parse_at("2030-01-02T03:04:05+01:00").unwrap()),
            "2030-01-02T02:04:05Z"
        );
        assert!(parse_at("yesterday").is_err());
    }
}
