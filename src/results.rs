//! The result document of a scan: run metadata, the policies and controls that judged, every finding
//! with its evidence, and summaries. This is what `--format json` writes (see
//! `docs/results.schema.json`) and what every report is rendered from.
//!
//! Everything except `run` is a pure function of the inputs: findings are sorted, maps are ordered,
//! so the document is byte-identical whatever the thread count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::integrity::Integrity;
use crate::policy::{Severity, TargetKind};

/// Version of the result document's shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: &str = "1.0";

/// A complete scan result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScanRun {
    /// Shape version of this document.
    pub schema_version: String,
    /// The tool that produced it.
    pub tool: Tool,
    /// When, where and how the scan ran.
    pub run: RunInfo,
    /// The policies applied, with the digests of their exact text.
    pub policies: Vec<PolicyInfo>,
    /// Every control applied, with its documentation, so a report can be rendered from this file
    /// alone.
    pub controls: Vec<ControlInfo>,
    /// What was scanned.
    pub inventory: Inventory,
    /// Counts of findings.
    pub summary: Summary,
    /// Every verdict, sorted by policy, control, target, line, column.
    pub findings: Vec<Finding>,
    /// Problems not tied to a control (a directory that could not be listed).
    pub scan_errors: Vec<ScanError>,
    /// SHA-256 over the canonical form of everything above (see [`crate::integrity`]).
    pub integrity: Integrity,
}

/// The tool's name and version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    /// Always `vigil`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

/// Run metadata: the only part of the document that changes between identical scans.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// Wall-clock end, RFC 3339 UTC.
    pub finished_at: String,
    /// Elapsed milliseconds.
    pub duration_ms: u64,
    /// The time checks were evaluated against (`--at`, or the start time).
    pub evaluated_at: String,
    /// Host name of the machine that ran the scan.
    pub host: String,
    /// The command line, as given.
    pub arguments: Vec<String>,
}

/// A policy applied in the scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyInfo {
    /// Pack id.
    pub id: String,
    /// Pack title.
    pub title: String,
    /// Pack version.
    pub version: String,
    /// Where it came from (path, or `builtin:<name>`).
    pub source: String,
    /// SHA-256 of the pack's text.
    pub sha256: String,
    /// Number of controls in the pack.
    pub controls: usize,
}

/// A control applied in the scan, with the text auditors read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ControlInfo {
    /// Control id.
    pub id: String,
    /// Id of its policy.
    pub policy: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Tags.
    pub tags: Vec<String>,
    /// Framework to requirement ids.
    pub references: BTreeMap<String, Vec<String>>,
    /// Why it matters.
    pub rationale: String,
    /// How to fix it.
    pub remediation: String,
    /// The collector it uses.
    pub target_kind: TargetKind,
    /// The check in words.
    pub expected: String,
    /// Whether matched values are redacted.
    pub secret: bool,
}

/// Counts of what the scan looked at.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    /// The paths given on the command line.
    pub paths: Vec<String>,
    /// Regular files found by the walk.
    pub files_seen: u64,
    /// Files read (those at least one control applied to).
    pub files_read: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Binary files skipped by text checks.
    pub binary_files_skipped: u64,
    /// Symbolic links not followed.
    pub symlinks_skipped: u64,
    /// Files larger than `--max-file-size`.
    pub files_too_large: u64,
    /// Fact documents judged, by format (`sshd`, `kubernetes`...).
    pub documents: BTreeMap<String, u64>,
}

/// The outcome of one control for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The target satisfies the control.
    Pass,
    /// The target violates the control.
    Fail,
    /// The target could not be read, parsed or reached: never counted as a pass.
    Error,
    /// The control applied to no target in this scan.
    NotApplicable,
    /// A failure covered by a waiver.
    Waived,
}

impl State {
    /// Every state, in report order.
    pub const ALL: [State; 5] = [
        State::Fail,
        State::Error,
        State::Waived,
        State::Pass,
        State::NotApplicable,
    ];

    /// The name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pass => "pass",
            State::Fail => "fail",
            State::Error => "error",
            State::NotApplicable => "not_applicable",
            State::Waived => "waived",
        }
    }
}

/// One verdict: a control, a target, a state, and the evidence for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// The control that judged.
    pub control: String,
    /// Its policy.
    pub policy: String,
    /// Its severity.
    pub severity: Severity,
    /// The verdict.
    pub state: State,
    /// What was judged.
    pub target: Target,
    /// Where in the target the evidence is (absent for whole-target verdicts).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<Location>,
    /// What was observed (redacted for secret controls).
    pub observed: String,
    /// The requirement, in words.
    pub expected: String,
    /// One sentence for people.
    pub message: String,
    /// Every value that decided the verdict (config checks), in document order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub evidence: Vec<Evidence>,
    /// A hash that identifies the finding across runs without depending on line numbers, for
    /// baselines and SARIF.
    pub fingerprint: String,
}

/// What a finding is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// The collector: `file`, `config`.
    pub kind: TargetKind,
    /// The file (as shown), or `*` for a verdict about the whole scan (not applicable).
    pub path: String,
    /// The object inside the file (`Deployment/prod/web`, `document 2`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub object: Option<String>,
}

/// A position in a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The file the position is in, when it is not the target itself (an sshd `Include`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column of the start, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u32>,
    /// 1-based column just past the end (pattern matches).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_column: Option<u32>,
}

/// One observed value behind a config verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// The concrete field path.
    pub field: String,
    /// The value (redacted for secret controls).
    pub observed: String,
    /// Its line, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    /// The file it is in, when not the target itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
}

/// Counts of findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// All findings.
    pub total: u64,
    /// Findings by state.
    pub by_state: BTreeMap<State, u64>,
    /// Failed (and error) findings by severity.
    pub failures_by_severity: BTreeMap<Severity, u64>,
    /// Controls by their worst state (fail > error > waived > pass > not_applicable).
    pub controls_by_state: BTreeMap<State, u64>,
}

/// A problem not tied to any control.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScanError {
    /// The path concerned.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl ScanRun {
    /// Recomputes the integrity record; called whenever the document is complete.
    pub fn seal(&mut self) {
        let value = serde_json::to_value(&*self).expect("a result document serializes");
        self.integrity = crate::integrity::compute(&value);
    }

    /// Recomputes [`Summary`] from the findings.
    pub fn summarize(findings: &[Finding], controls: &[ControlInfo]) -> Summary {
        let mut s = Summary {
            total: findings.len() as u64,
            ..Summary::default()
        };
        let mut worst: BTreeMap<&str, State> = BTreeMap::new();
        for f in findings {
            *s.by_state.entry(f.state).or_default() += 1;
            if matches!(f.state, State::Fail | State::Error) {
                *s.failures_by_severity.entry(f.severity).or_default() += 1;
            }
            let w = worst.entry(&f.control).or_insert(f.state);
            if rank(f.state) > rank(*w) {
                *w = f.state;
            }
        }
        for c in controls {
            let st = worst
                .get(c.id.as_str())
                .copied()
                .unwrap_or(State::NotApplicable);
            *s.controls_by_state.entry(st).or_default() += 1;
        }
        s
    }
}

fn rank(s: State) -> u8 {
    match s {
        State::NotApplicable => 0,
        State::Pass => 1,
        State::Waived => 2,
        State::Error => 3,
        State::Fail => 4,
    }
}
