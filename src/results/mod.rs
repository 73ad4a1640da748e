//! The result of a scan, as a stream: a header (the policies and controls that judged), every
//! finding with its evidence, in a deterministic order, and a trailer (inventory, summary, run
//! metadata, integrity digest). This is what `--format json` writes (see
//! `docs/results.schema.json`) and what every report is rendered from.
//!
//! Nothing holds every finding of a scan: the engine hands each finding to a [`Recorder`], which
//! feeds the integrity digest, the counts and every output [`Sink`] as the finding is made.
//! Everything except `run` is a pure function of the inputs, so the document is byte-identical
//! whatever the thread count.
//!
//! Schema 2.0 (this version) against 1.0: findings are ordered by target (the order targets are
//! walked or named), then by control; a target names its file, endpoint or host; a failing element
//! (a container, a server block) has a finding of its own; passing verdicts are recorded compactly
//! (control, target, location) unless full evidence is asked for; a control's texts (`expected`,
//! its policy) live once on the control; `summary`, `inventory` and `run` follow the findings.
//! [`read`] reads both versions.

mod compact;
mod frame;
pub mod integrity;
pub mod merge;
pub mod read;
mod stream;
mod tally;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policy::Severity;
use integrity::Integrity;

pub use stream::{Capture, Recorder, Sink};
pub use tally::Tally;

/// Version of the result document's shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: &str = "2.0";

/// Everything known before the first finding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Shape version of the document.
    pub schema_version: String,
    /// The tool that produced it.
    pub tool: Tool,
    /// The policies applied, with the digests of their exact text.
    pub policies: Vec<PolicyInfo>,
    /// Every control applied, with its documentation, so a report can be rendered from the
    /// document alone.
    pub controls: Vec<ControlInfo>,
}

impl Header {
    /// The control with this id, with its index.
    pub fn control(&self, id: &str) -> Option<(usize, &ControlInfo)> {
        self.controls.iter().enumerate().find(|(_, c)| c.id == id)
    }
}

/// Everything known only once the last finding is made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trailer {
    /// Problems not tied to a control (a trust store that could not be read).
    pub scan_errors: Vec<ScanError>,
    /// What was scanned.
    pub inventory: Inventory,
    /// Counts of findings.
    pub summary: Summary,
    /// When, where and how the scan ran.
    pub run: RunInfo,
    /// SHA-256 over the canonical form of the document (see [`crate::integrity`]).
    pub integrity: Integrity,
    /// The waivers given with `--waivers`, and how each fared (empty without a waiver file).
    pub waivers: Vec<WaiverStatus>,
    /// What became of the baseline's failures (`--baseline`).
    pub known_failures: Option<KnownFailures>,
}

/// The tool's name and version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    /// Always `vigil`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

impl Tool {
    /// This build of vigil.
    pub fn this() -> Tool {
        Tool {
            name: "vigil".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
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
    /// The audited machine's `/etc/machine-id` (of the root given with `--root`), when readable:
    /// tells hosts apart in a fleet's history whatever their names.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub machine_id: Option<String>,
    /// Labels given with `--tag` (environment, team, region), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<String>,
    /// For one shard of a sharded scan (`--shard I/N`): what `vigil merge` needs to put the parts
    /// back in the order one scan would have written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<ShardRecord>,
}

/// How one shard of a scan was cut, and what it judged.
///
/// Targets are numbered in scan order (files as walked, then endpoints, then hosts) and dealt in
/// blocks of `block` consecutive targets: block `b` goes to shard `b % count`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards the scan was cut into.
    pub count: u64,
    /// Targets per block.
    pub block: u64,
    /// Targets the scan numbered (all shards' together): every part of one scan has the same.
    pub targets: u64,
    /// The findings of each block this shard judged, in order (blocks `index`, `index + count`...).
    pub blocks: Vec<u64>,
    /// The controls that judged at least one target of this shard.
    pub judged: Vec<String>,
    /// Per control with an `expect: absent` pattern, the files it searched without a match.
    pub clean: BTreeMap<String, u64>,
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
    /// The kind of fact document it judges.
    pub target_kind: String,
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
    /// Network endpoints judged.
    #[serde(default)]
    pub endpoints: u64,
    /// Hosts judged.
    #[serde(default)]
    pub hosts: u64,
    /// Targets with at least one verdict, by kind of fact document (`config`, `certificate`).
    #[serde(default)]
    pub targets: BTreeMap<String, u64>,
    /// Fact documents judged, by config format or kind (`sshd`, `certificate`...).
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
    /// A failure already known: its fingerprint is in the baseline given (`--baseline`).
    Baselined,
    /// A failure accepted by a `vigil:ignore` comment in the file itself, with its reason.
    Suppressed,
}

impl State {
    /// Every state, in report order.
    pub const ALL: [State; 7] = [
        State::Fail,
        State::Error,
        State::Waived,
        State::Suppressed,
        State::Baselined,
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
            State::Baselined => "baselined",
            State::Suppressed => "suppressed",
        }
    }

    /// How much a state weighs when a control's states are summed up into one: fail > error >
    /// waived, suppressed, baselined > pass > not_applicable.
    pub fn rank(self) -> u8 {
        match self {
            State::NotApplicable => 0,
            State::Pass => 1,
            State::Waived | State::Baselined | State::Suppressed => 2,
            State::Error => 3,
            State::Fail => 4,
        }
    }

    /// The worst of several states (`not_applicable` when there are none).
    pub fn worst(states: impl IntoIterator<Item = State>) -> State {
        states
            .into_iter()
            .max_by_key(|s| s.rank())
            .unwrap_or(State::NotApplicable)
    }
}

/// One verdict: a control, a target, a state, and the evidence for it.
///
/// The fields are declared, and therefore serialized, in alphabetical order, and every map is
/// ordered: the compact JSON of a finding is its RFC 8785 canonical form, so the integrity digest
/// hashes the very bytes the JSON output holds (`tests` in this module check it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Finding<'a> {
    /// For an `error` that kept several controls from judging the target (a file that could not be
    /// read, a document that could not be parsed): every control it blocked, `control` among them.
    /// The error is one finding, counted once; each of these controls is in `error`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocked_controls: Vec<Cow<'a, str>>,
    /// The control that judged (for a blocking error, the most severe control it blocked).
    pub control: Cow<'a, str>,
    /// Every value that decided the verdict, in document order (fail, error, and passes with full
    /// evidence).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub evidence: Vec<Evidence>,
    /// Identifies a failure across runs without depending on line numbers (baselines, SARIF).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fingerprint: Option<String>,
    /// Where in the target the evidence is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<Location>,
    /// One sentence for people: why it failed, why it could not be judged.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// What was observed (redacted for secret controls).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub observed: Option<String>,
    /// The control's severity (repeated here so a consumer can filter findings alone).
    pub severity: Severity,
    /// The verdict.
    pub state: State,
    /// The inline suppression that accepted this failure (state `suppressed`): the line of the
    /// `vigil:ignore` comment in the target and the reason it gives.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suppression: Option<SuppressionRef>,
    /// What was judged.
    pub target: Target<'a>,
    /// The waiver that accepted this failure (state `waived`): who accepted it, why, until when.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub waiver: Option<WaiverRef>,
}

/// The waiver a finding was accepted under, as the waiver file states it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct WaiverRef {
    /// Who approved it.
    pub approved_by: String,
    /// The last day it applies (YYYY-MM-DD).
    pub expires: String,
    /// Why the risk is accepted.
    pub justification: String,
    /// The change or risk ticket, when given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ticket: Option<String>,
}

/// The inline suppression a finding was accepted under: a `vigil:ignore` comment of the file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct SuppressionRef {
    /// The comment's line in the target.
    pub line: u32,
    /// Why, as the comment gives it.
    pub reason: String,
}

/// What became of the failures of the baseline given with `--baseline`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KnownFailures {
    /// The baseline file, as given.
    pub baseline: String,
    /// Known failures that no longer fail.
    pub fixed: Vec<KnownFailure>,
    /// How many failures it knows.
    pub known: u64,
    /// How many of them failed again (recorded `baselined`).
    pub still_failing: u64,
}

/// One failure of a baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KnownFailure {
    pub control: String,
    pub fingerprint: String,
    pub target: String,
}

/// How a waiver of the waiver file fared in the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WaiverStatus {
    /// Who approved it.
    pub approved_by: String,
    /// The control id or glob it names.
    pub control: String,
    /// The last day it applies (YYYY-MM-DD).
    pub expires: String,
    /// Where it is written: `waivers.yaml:12`.
    pub location: String,
    /// How many findings it accepted.
    pub matched: u64,
    /// `active`, `expiring` (applies, ends within 14 days), `expired` (no longer applies) or
    /// `unused` (applies, matched nothing).
    pub status: String,
    /// The target it names, when it names one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
}

impl Finding<'_> {
    /// A copy that owns its strings.
    pub fn into_owned(self) -> Finding<'static> {
        Finding {
            blocked_controls: self
                .blocked_controls
                .into_iter()
                .map(|c| Cow::Owned(c.into_owned()))
                .collect(),
            control: Cow::Owned(self.control.into_owned()),
            evidence: self.evidence,
            fingerprint: self.fingerprint,
            location: self.location,
            message: self.message,
            observed: self.observed,
            severity: self.severity,
            state: self.state,
            suppression: self.suppression,
            target: self.target.into_owned(),
            waiver: self.waiver,
        }
    }
}

/// What a finding is about: a file, an endpoint or a host (none of them for a verdict about the
/// whole scan), and inside it an object and an element.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Target<'a> {
    /// The element of the object that failed: `container "web"`, `server "example.com"`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub element: Option<String>,
    /// The network endpoint, as named: `example.com:443`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub endpoint: Option<Cow<'a, str>>,
    /// The file, as shown (relative to the path given).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<Cow<'a, str>>,
    /// The host.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<Cow<'a, str>>,
    /// The kind of fact document judged (`config`, `certificate`, `file`).
    pub kind: Cow<'a, str>,
    /// The object inside the target (`Deployment/prod/web`, a certificate, `document 2`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub object: Option<String>,
}

impl<'a> Target<'a> {
    /// The file, endpoint or host, or `None` for a verdict about the whole scan.
    pub fn name(&self) -> Option<&str> {
        self.file
            .as_deref()
            .or(self.endpoint.as_deref())
            .or(self.host.as_deref())
    }

    /// The target in one line: `path [object] element`, or `(whole scan)`.
    pub fn describe(&self) -> String {
        let mut s = self.name().unwrap_or("(whole scan)").to_string();
        if let Some(o) = &self.object {
            s.push_str(&format!(" [{o}]"));
        }
        if let Some(e) = &self.element {
            s.push_str(&format!(" {e}"));
        }
        s
    }

    fn into_owned(self) -> Target<'static> {
        let own = |c: Option<Cow<'a, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        Target {
            element: self.element,
            endpoint: own(self.endpoint),
            file: own(self.file),
            host: own(self.host),
            kind: Cow::Owned(self.kind.into_owned()),
            object: self.object,
        }
    }
}

/// A position in a file. Ordered by file, line, then column (not by field name, the order they are
/// serialized in).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// 1-based column of the start, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u32>,
    /// 1-based column just past the end (pattern matches).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_column: Option<u32>,
    /// 1-based line.
    pub line: u32,
    /// The file the position is in, when it is not the target itself (an sshd `Include`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
}

impl Ord for Location {
    fn cmp(&self, other: &Location) -> std::cmp::Ordering {
        (&self.path, self.line, self.column, self.end_column).cmp(&(
            &other.path,
            other.line,
            other.column,
            other.end_column,
        ))
    }
}

impl PartialOrd for Location {
    fn partial_cmp(&self, other: &Location) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Location {
    /// `line 4, column 2` (with the file first when it is not the target).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.path {
            s.push_str(&format!("{p}:"));
        }
        s.push_str(&format!("line {}", self.line));
        if let Some(c) = self.column {
            s.push_str(&format!(", column {c}"));
        }
        s
    }
}

/// One observed value behind a verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The concrete field path.
    pub field: String,
    /// Its line, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    /// The value (redacted for secret controls).
    pub observed: String,
    /// The file it is in, when not the target itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
}

/// Counts of findings. One definition of each count, used by every report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// All findings.
    pub total: u64,
    /// Findings by state.
    pub by_state: BTreeMap<State, u64>,
    /// `fail` findings by severity (errors are counted in `by_state`).
    pub failures_by_severity: BTreeMap<Severity, u64>,
    /// Controls by their worst state (fail > error > waived, suppressed, baselined > pass >
    /// not_applicable).
    pub controls_by_state: BTreeMap<State, u64>,
}

impl Summary {
    /// Findings in `state`.
    pub fn count(&self, state: State) -> u64 {
        self.by_state.get(&state).copied().unwrap_or(0)
    }

    /// `fail` findings of `severity`.
    pub fn failures(&self, severity: Severity) -> u64 {
        self.failures_by_severity
            .get(&severity)
            .copied()
            .unwrap_or(0)
    }

    /// Judged verdicts: pass, fail and error. Waived, suppressed, baselined and not-applicable
    /// verdicts are not judged.
    pub fn judged(&self) -> u64 {
        self.count(State::Pass) + self.count(State::Fail) + self.count(State::Error)
    }

    /// The pass rate over judged verdicts ([`Summary::judged`]), as a percentage.
    pub fn pass_rate(&self) -> Option<f64> {
        let judged = self.judged();
        (judged > 0).then(|| self.count(State::Pass) as f64 * 100.0 / judged as f64)
    }
}

/// A problem not tied to any control.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScanError {
    /// The path or component concerned.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// A whole result held in memory: for tests and small documents. Scans and `vigil report` stream
/// instead; [`Document::replay`] feeds a held document to sinks the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The header.
    pub header: Header,
    /// Every finding, in order.
    pub findings: Vec<Finding<'static>>,
    /// The trailer.
    pub trailer: Trailer,
}

impl Document {
    /// Feeds the document to `sinks` through a [`Recorder`], which recomputes the summary and the
    /// digest; returns the trailer as written.
    pub fn replay(&self, sinks: Vec<Box<dyn Sink + '_>>) -> std::io::Result<Trailer> {
        let mut rec = Recorder::new(&self.header, sinks)?;
        for f in &self.findings {
            rec.record(f)?;
        }
        rec.finish(
            self.trailer.scan_errors.clone(),
            self.trailer.inventory.clone(),
            self.trailer.run.clone(),
            self.trailer.waivers.clone(),
            self.trailer.known_failures.clone(),
        )
    }
}

/// The observed value and message of the pass of an `expect: absent` pattern found in none of
/// the `files` it searched (what a scan writes, and `vigil merge` for the shards together).
pub fn clean_words(title: &str, files: u64) -> (String, String) {
    let n = crate::text::counted(files, "file", "files");
    (
        format!("no match in {n}"),
        format!("Satisfied: {title} ({n} checked)."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_of_a_finding_is_its_canonical_form() {
        let f = Finding {
            blocked_controls: Vec::new(),
            control: "K8S-001".into(),
            evidence: vec![Evidence {
                field: "containers[1].securityContext.privileged".into(),
                line: Some(22),
                observed: "tab\t, quote \", nul \u{0}, é, 😀, <>&".into(),
                path: Some("inc/é.conf".into()),
            }],
            fingerprint: Some("ab".into()),
            location: Some(Location {
                column: Some(3),
                end_column: Some(9),
                line: 22,
                path: Some("x".into()),
            }),
            message: Some("Not satisfied.".into()),
            observed: Some("true\u{7f}\u{1f}".into()),
            severity: Severity::Critical,
            state: State::Fail,
            // So must a suppressed finding's, which sorts between `state` and `target`.
            suppression: Some(SuppressionRef {
                line: 21,
                reason: "Fixture for the \"privileged\" test, see <SEC-9>.".into(),
            }),
            target: Target {
                element: Some("container \"sidecar\"".into()),
                endpoint: None,
                file: Some("k8s/deploy.yaml".into()),
                host: None,
                kind: "config".into(),
                object: Some("Deployment/web".into()),
            },
            // A waived finding's extra member must keep the compact form canonical too.
            waiver: Some(WaiverRef {
                approved_by: "jane@example.org".into(),
                expires: "2030-06-30".into(),
                justification: "Isolated host.".into(),
                ticket: Some("SEC-1".into()),
            }),
        };
        let compact = serde_json::to_vec(&f).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&compact).unwrap();
        assert_eq!(
            String::from_utf8(compact).unwrap(),
            crate::results::integrity::canonical_string(&value)
        );
        let back: Finding<'static> = serde_json::from_value(value).unwrap();
        assert_eq!(back, f);
    }
}
