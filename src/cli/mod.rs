//! The command line: argument definitions and the mapping from outcomes to exit codes.
//!
//! Exit codes are a contract (README, "Exit codes"):
//! - 0: no finding at or above `--fail-on`, and no `error` finding (unless `--allow-errors`);
//! - 1: findings at or above `--fail-on`, or `error` findings;
//! - 2: usage, policy or input errors before anything was scanned.

mod facts;
mod history_cmd;
mod output;
mod policy_cmd;
mod report_cmd;
mod scan;

pub use crate::clock::parse_at;
pub use scan::parse_size;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit code: nothing at or above the threshold.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings at or above the threshold, or errors.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: unusable input before scanning (usage, policy, paths).
pub const EXIT_USAGE: u8 = 2;

/// vigil: security and compliance audit scanner.
///
/// Checks configs, files and secrets against declarative YAML policies and reports every verdict
/// with its evidence.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files and directories against policies.
    Scan(Box<scan::ScanArgs>),
    /// Inspect, validate and explain policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the fact documents collectors produce for targets, as JSON (for policy authors),
    /// with what the secrets pack recognises redacted.
    Facts(facts::FactsArgs),
    /// Render a saved JSON result in other formats (html, sarif, junit, markdown, console).
    Report(report_cmd::ReportArgs),
    /// Make or inspect baselines of known failures.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// List, show, import and prune the runs stored with `vigil scan --history FILE`.
    #[command(subcommand)]
    History(history_cmd::HistoryCommand),
    /// What changed between two runs of a history (default: the last two) or two result files:
    /// new failures, resolved ones, changed states, failures still there.
    Diff(history_cmd::DiffArgs),
    /// Reports over a history that many hosts write to.
    #[command(subcommand)]
    Fleet(history_cmd::FleetCommand),
    /// Join the JSON results of the shards of one scan (`vigil scan --shard I/N`) into the result
    /// one unsharded scan would have written; each part's digest is checked first.
    Merge {
        /// The parts: the JSON results of shards 0 to N-1, in any order.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Where to write the merged JSON result.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Check the integrity digest of a saved JSON result; exit 1 when the file was altered.
    Verify {
        /// The JSON result file.
        results: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BaselineCommand {
    /// Record the failures of a saved JSON result (their fingerprints) as known.
    Create {
        /// The JSON result of a scan.
        results: PathBuf,
        /// Where to write the baseline.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate policy files; print every problem as file:line:column.
    Lint {
        /// Policy files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List controls: id, severity, title, references.
    List(PolicySource),
    /// Show everything about one control: rationale, remediation, references, target and check.
    Explain {
        /// The control id, e.g. SSH-001.
        control: String,
        #[command(flatten)]
        source: PolicySource,
    },
}

/// Where policies come from: the built-in packs, or `--policy` files and directories.
#[derive(Debug, Clone, Args)]
pub struct PolicySource {
    /// Policy file or directory (repeatable). Without it, the built-in packs apply.
    #[arg(long = "policy", short = 'p', value_name = "PATH")]
    pub policies: Vec<PathBuf>,

    /// Only these controls: an id or a glob over ids such as `CERT-00*` (repeatable)
    #[arg(long = "control", value_name = "ID|GLOB")]
    pub only: Vec<String>,

    /// Leave out these controls: an id or a glob over ids (repeatable)
    #[arg(long = "skip-control", value_name = "ID|GLOB")]
    pub skip: Vec<String>,
}

impl PolicySource {
    /// Loads the policies this source names, keeping the selected controls.
    pub fn load(&self) -> Result<crate::policy::PolicySet, crate::policy::PolicyError> {
        let mut set = if self.policies.is_empty() {
            crate::policy::PolicySet::builtin()
        } else {
            crate::policy::PolicySet::load(&self.policies)
        }?;
        set.select(&self.only, &self.skip)?;
        Ok(set)
    }

    /// Loads the policies for a scan of targets from `sources`: the built-in packs that judge
    /// such targets, or every policy given with `--policy`. With `inline_suppressions`, a scan of
    /// files also gets the pack that judges `vigil:ignore` comments
    /// ([`crate::policy::SUPPRESSIONS`]); without, it never has it.
    pub fn load_for(
        &self,
        sources: &[crate::collect::Source],
        inline_suppressions: bool,
    ) -> Result<ScanPolicies, crate::policy::PolicyError> {
        use crate::policy::{PolicyError, PolicySet, SUPPRESSIONS};
        // With `--policy`, the other built-in packs are not compiled: only their ids are needed.
        let built_in = "the suppressions pack is built in";
        let (mut set, builtin_ids, pack) = if self.policies.is_empty() {
            let mut set = PolicySet::builtin()?;
            let ids: Vec<String> = set.controls().map(|c| c.id.clone()).collect();
            let source = format!("builtin:{SUPPRESSIONS}");
            let pack = set.policies.iter().find(|p| p.source == source).cloned();
            set.keep_sources(&crate::collect::Registry::builtin(), sources);
            (set, ids, pack.expect(built_in))
        } else {
            let pack = PolicySet::builtin_pack(SUPPRESSIONS).expect(built_in)?;
            (
                PolicySet::load(&self.policies)?,
                crate::policy::builtin_control_ids(),
                pack.policies.into_iter().next().expect(built_in),
            )
        };
        // By its id: `--policy policies/` loads it from its file.
        let wanted = inline_suppressions && sources.contains(&crate::collect::Source::File);
        set.policies.retain(|p| wanted || p.id != pack.id);
        if wanted && !set.policies.iter().any(|p| p.id == pack.id) {
            // Its control ids must stay unambiguous in the result.
            if let Some((owner, _)) = pack.controls.iter().find_map(|c| set.find(&c.id)) {
                return Err(PolicyError::Selection {
                    option: "policy",
                    pattern: owner.source.clone(),
                    reason: format!(
                        "a control id of the built-in pack `{}` ({}), which judges inline \
                         suppressions, is used by this policy; rename it, or scan with \
                         --no-inline-suppressions",
                        pack.id,
                        pack.controls
                            .iter()
                            .map(|c| c.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            set.policies.push(pack);
        }
        // Before the selection: a suppression naming a control left out by --control is no typo.
        let mut known: Vec<String> = set
            .controls()
            .map(|c| c.id.clone())
            .chain(builtin_ids)
            .collect();
        known.sort_unstable();
        known.dedup();
        set.select(&self.only, &self.skip)?;
        Ok(ScanPolicies {
            set,
            known_controls: known,
        })
    }
}

/// The policies of a scan, and every control id an inline suppression may name.
#[derive(Debug)]
pub struct ScanPolicies {
    /// The policies that judge, after `--control` and `--skip-control`.
    pub set: crate::policy::PolicySet,
    /// The ids of every control loaded before the selection, and of the built-in packs.
    pub known_controls: Vec<String>,
}

/// `vigil baseline create RESULTS -o FILE`.
fn baseline_create(results: &std::path::Path, output: &std::path::Path) -> u8 {
    let baseline = match crate::workflow::baseline::create(results) {
        Ok(b) => b,
        Err(e) => return usage_error(e),
    };
    let text = match serde_json::to_string_pretty(&baseline) {
        Ok(t) => t + "\n",
        Err(e) => return usage_error(e),
    };
    if let Err(e) = std::fs::write(output, text) {
        return usage_error(format!("cannot write {}: {e}", output.display()));
    }
    eprintln!(
        "vigil: {} known failures written to {}",
        baseline.findings.len(),
        output.display()
    );
    EXIT_OK
}

/// `vigil merge PART... -o FILE`. Nothing is written unless every part could be merged.
fn merge(parts: &[PathBuf], output: &std::path::Path) -> u8 {
    let tmp = match tempfile::NamedTempFile::new_in(
        output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new(".")),
    ) {
        Ok(t) => t,
        Err(e) => return usage_error(format!("cannot write {}: {e}", output.display())),
    };
    let out = std::io::BufWriter::new(match tmp.reopen() {
        Ok(f) => f,
        Err(e) => return usage_error(format!("cannot write {}: {e}", output.display())),
    });
    let sink = crate::report::sink(
        crate::report::Format::Json,
        Box::new(out),
        &crate::report::Style::plain(false),
    );
    let trailer = match crate::results::merge::merge(parts, vec![sink]) {
        Ok(t) => t,
        Err(e) => return usage_error(e),
    };
    if let Err(e) = tmp.persist(output) {
        return usage_error(format!("cannot write {}: {e}", output.display()));
    }
    let controls: u64 = trailer.summary.controls_by_state.values().sum();
    eprintln!(
        "{} (merged from {} parts into {})",
        crate::report::console::summary_line(
            usize::try_from(controls).unwrap_or(usize::MAX),
            &trailer.inventory,
            &trailer.summary,
            None,
        ),
        parts.len(),
        output.display()
    );
    EXIT_OK
}

/// Parses the command line and runs it; the entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Scan(args) => scan::run(*args),
        Command::Policy(PolicyCommand::Lint { files }) => policy_cmd::lint(&files),
        Command::Policy(PolicyCommand::List(source)) => policy_cmd::list(&source),
        Command::Policy(PolicyCommand::Explain { control, source }) => {
            policy_cmd::explain(&control, &source)
        }
        Command::Facts(args) => facts::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Verify { results } => report_cmd::verify(&results),
        Command::History(cmd) => history_cmd::run(cmd),
        Command::Fleet(cmd) => history_cmd::fleet(cmd),
        Command::Merge { parts, output } => merge(&parts, &output),
        Command::Diff(args) => history_cmd::diff(args),
        Command::Baseline(BaselineCommand::Create { results, output }) => {
            baseline_create(&results, &output)
        }
    };
    ExitCode::from(code)
}

/// The file an `--output` option names: none for `-`, which is standard output, as for most tools.
pub fn output_file(output: &Option<std::path::PathBuf>) -> Option<&std::path::Path> {
    output.as_deref().filter(|p| p.as_os_str() != "-")
}

/// Writes a command's output to standard output. A reader that closed the pipe early
/// (`vigil policy list | head`) is not an error.
pub fn emit(text: &str) -> u8 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            usage_error(format!("cannot write to standard output: {e}"))
        }
        _ => EXIT_OK,
    }
}

/// Prints an error that stops a command before it did anything, and returns exit code 2.
pub fn usage_error(e: impl std::fmt::Display) -> u8 {
    eprintln!("vigil: {e}");
    EXIT_USAGE
}
