//! SARIF 2.1.0: one run, one rule per control, one result per finding.
//!
//! - Rules carry the control's title, rationale and remediation as help text, its references as
//!   properties, and a `security-severity` (critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0) that
//!   code-scanning dashboards rank by.
//! - Results keep the finding's state: `fail` and `error` as `kind: fail` and `kind: review`, `pass` and
//!   `not_applicable` as `pass` and `notApplicable` with level `none`, `waived` as a failure with an
//!   external suppression, so nothing in the result document is dropped.
//! - File findings have a physical location (file, line, columns); objects inside files (a Kubernetes
//!   workload, a certificate) and whole-scan verdicts have logical locations.
//! - `partialFingerprints` holds the finding's fingerprint, which does not depend on line numbers, so
//!   a finding keeps its identity when lines shift.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::policy::Severity;
use crate::results::{ControlInfo, Finding, ScanRun, State};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    invocations: Vec<Invocation<'a>>,
    results: Vec<SarifResult>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'a str,
    semantic_version: &'a str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties<'a> {
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    severity: Severity,
    policy: &'a str,
    tags: Vec<&'a str>,
    references: &'a BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    start_time_utc: &'a str,
    end_time_utc: &'a str,
    arguments: &'a [String],
    machine: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    evaluated_at: &'a str,
    result_digest: &'a str,
    policies: Vec<BTreeMap<&'static str, &'a str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    kind: &'static str,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

#[derive(Serialize)]
struct ResultProperties {
    state: State,
    severity: Severity,
    observed: String,
    expected: String,
}

/// SARIF `level` for a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// `RootLoginOverSshIsDisabled` from "Root login over SSH is disabled": SARIF's rule names are
/// identifiers.
fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A path as a URI reference: absolute paths become `file://` URIs; characters outside the
/// unreserved set and `/` are percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn rule(c: &ControlInfo) -> Rule<'_> {
    let refs: Vec<String> = c
        .references
        .iter()
        .map(|(fw, ids)| format!("{fw}: {}", ids.join(", ")))
        .collect();
    Rule {
        id: &c.id,
        name: pascal_case(&c.title),
        short_description: Text {
            text: c.title.clone(),
        },
        full_description: Text {
            text: c.rationale.clone(),
        },
        help: Help {
            text: format!(
                "{}\n\nRemediation: {}\n\nReferences: {}",
                c.rationale,
                c.remediation,
                refs.join("; ")
            ),
            markdown: format!(
                "{}\n\n**Remediation:** {}\n\n**References:** {}",
                c.rationale,
                c.remediation,
                refs.join("; ")
            ),
        },
        default_configuration: Configuration {
            level: level(c.severity),
        },
        properties: RuleProperties {
            security_severity: security_severity(c.severity),
            severity: c.severity,
            policy: &c.policy,
            tags: c.tags.iter().map(String::as_str).collect(),
            references: &c.references,
        },
    }
}

fn result(f: &Finding, rule_index: usize) -> SarifResult {
    let (kind, level) = match f.state {
        State::Fail | State::Waived => ("fail", level(f.severity)),
        State::Error => ("review", "error"),
        State::Pass => ("pass", "none"),
        State::NotApplicable => ("notApplicable", "none"),
    };
    let mut location = Location {
        physical_location: None,
        logical_locations: Vec::new(),
    };
    if f.target.path == "*" {
        location.logical_locations.push(LogicalLocation {
            fully_qualified_name: "scan".into(),
            kind: "module",
        });
    } else {
        let file = f
            .location
            .as_ref()
            .and_then(|l| l.path.clone())
            .unwrap_or_else(|| f.target.path.clone());
        location.physical_location = Some(PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(&file) },
            region: f.location.as_ref().map(|l| Region {
                start_line: l.line,
                start_column: l.column,
                end_column: l.end_column,
            }),
        });
    }
    if let Some(object) = &f.target.object {
        location.logical_locations.push(LogicalLocation {
            fully_qualified_name: object.clone(),
            kind: "object",
        });
    }
    let suppressions = if f.state == State::Waived {
        vec![Suppression {
            kind: "external",
            justification: f.message.clone(),
        }]
    } else {
        Vec::new()
    };
    SarifResult {
        rule_id: f.control.clone(),
        rule_index,
        kind,
        level,
        message: Text {
            text: f.message.clone(),
        },
        locations: vec![location],
        partial_fingerprints: BTreeMap::from([("vigilFingerprint/v1", f.fingerprint.clone())]),
        suppressions,
        properties: ResultProperties {
            state: f.state,
            severity: f.severity,
            observed: f.observed.clone(),
            expected: f.expected.clone(),
        },
    }
}

/// Writes the SARIF log.
pub fn write(run: &ScanRun, out: &mut dyn Write) -> io::Result<()> {
    let index: BTreeMap<&str, usize> = run
        .controls
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let policies = run
        .policies
        .iter()
        .map(|p| {
            BTreeMap::from([
                ("id", p.id.as_str()),
                ("version", p.version.as_str()),
                ("sha256", p.sha256.as_str()),
                ("source", p.source.as_str()),
            ])
        })
        .collect();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "vigil",
                    version: &run.tool.version,
                    semantic_version: &run.tool.version,
                    rules: run.controls.iter().map(rule).collect(),
                },
            },
            invocations: vec![Invocation {
                execution_successful: run.scan_errors.is_empty(),
                start_time_utc: &run.run.started_at,
                end_time_utc: &run.run.finished_at,
                arguments: &run.run.arguments,
                machine: &run.run.host,
            }],
            results: run
                .findings
                .iter()
                .map(|f| result(f, index.get(f.control.as_str()).copied().unwrap_or(0)))
                .collect(),
            properties: RunProperties {
                evaluated_at: &run.run.evaluated_at,
                result_digest: &run.integrity.digest,
                policies,
            },
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log).map_err(|e| match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    })?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris() {
        assert_eq!(
            pascal_case("Root login over SSH is disabled"),
            "RootLoginOverSSHIsDisabled"
        );
        assert_eq!(uri("testdata/a b/é.conf"), "testdata/a%20b/%C3%A9.conf");
        assert_eq!(uri("/etc/ssh/sshd_config"), "file:///etc/ssh/sshd_config");
    }
}
