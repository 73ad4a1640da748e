//! The validated policy model: what a loaded, checked policy pack looks like in memory.
//!
//! Everything here has passed validation (see [`super::load`]), so the engine never meets an unknown
//! operator, a bad regex or a check that does not fit its target.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::pattern::PatternCheck;
use crate::doc::Pos;

/// A policy pack: a versioned set of controls loaded from one YAML file.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Unique pack id, e.g. `ssh-hardening`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// The pack's own version, recorded in every result so an auditor knows which rules judged.
    pub version: String,
    /// What the pack is for.
    pub description: String,
    /// Where the pack came from: a path, or `builtin:<name>` for packs embedded in the binary.
    pub source: String,
    /// SHA-256 of the pack's bytes, hex: proves which exact text produced a result.
    pub sha256: String,
    /// The controls, in file order.
    pub controls: Vec<Control>,
}

/// One control: a single requirement, the targets it applies to and the check that judges them.
#[derive(Debug, Clone)]
pub struct Control {
    /// Unique id across all loaded packs, e.g. `SSH-001`. Never reused for another meaning.
    pub id: String,
    /// Id of the pack that holds the control.
    pub policy: String,
    /// One-line statement of the requirement, phrased as the compliant state.
    pub title: String,
    /// How bad a failure is.
    pub severity: Severity,
    /// Free-form labels for filtering.
    pub tags: Vec<String>,
    /// Framework name to requirement ids, e.g. `NIST-800-53r5: [AC-6(2)]`.
    pub references: BTreeMap<String, Vec<String>>,
    /// Why the requirement matters.
    pub rationale: String,
    /// How to fix a failure.
    pub remediation: String,
    /// When set, matched values are redacted in every output: the control looks for secrets.
    pub secret: bool,
    /// Which targets the control applies to.
    pub target: TargetSpec,
    /// The predicate that decides pass or fail.
    pub check: Check,
    /// Where the control starts in its policy file, for diagnostics.
    pub pos: Pos,
}

/// Severity of a failed control, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational only.
    Info,
    /// Low risk.
    Low,
    /// Medium risk.
    Medium,
    /// High risk: fails CI by default.
    High,
    /// Critical risk.
    Critical,
}

impl Severity {
    /// All severities, most severe first (the order reports list them in).
    pub const ALL_DESCENDING: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lowercase name used in policies, results and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL_DESCENDING
            .into_iter()
            .find(|sev| sev.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which targets a control applies to.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The kind of fact document judged (`config`, `certificate`...), as a collector of the
    /// registry names it.
    pub kind: String,
    /// File targets: globs matched against each walked path (relative to the scan root and as
    /// given). Without them the control judges no file.
    pub paths: Vec<String>,
    /// File targets: globs that remove paths matched by `paths`.
    pub exclude: Vec<String>,
    /// Endpoint and host targets: the control applies only to those carrying one of these tags
    /// (to all when empty).
    pub tags: Vec<String>,
    /// Fields of the target that the kind's collector defines (`format` for `config`), validated
    /// against it.
    pub options: BTreeMap<String, String>,
    /// Applicability filter: documents for which it is false are not judged by this control.
    pub when: Option<Condition>,
}

/// The check a control runs.
#[derive(Debug, Clone)]
pub enum Check {
    /// A predicate over fields of the fact document.
    Condition(Condition),
    /// A regular expression run over a file's raw bytes.
    Pattern(PatternCheck),
}
