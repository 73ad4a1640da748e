//! SARIF 2.1.0: one run, one rule per control, one result per finding that is not a pass (or not
//! applicable).
//!
//! - Rules carry the control's title, rationale and remediation as help text, its references as
//!   properties, and a `security-severity` (critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0) that
//!   code-scanning dashboards rank by.
//! - Results keep the finding's state: `fail` and `error` as `kind: fail` and `kind: review`,
//!   `waived` and `baselined` as a failure with an external suppression, `suppressed` as a failure
//!   with an `inSource` suppression whose justification is the comment's reason.
//! - Passing and not-applicable verdicts are left out, and counted in the run's properties
//!   (`verdictsLeftOut`): code-scanning services raise an alert for every result whatever its
//!   `kind` (GitHub's does), and refuse a run of more than 25,000 results, which the passes of a
//!   few thousand files reach. The JSON keeps them. With `--sarif-passes` they are results too, as
//!   `kind: pass` and `notApplicable` with level `none`, for viewers that read `kind`.
//! - File findings have a physical location (file, line, columns); endpoints and hosts, objects
//!   inside targets (a Kubernetes workload, a certificate), their elements (a container) and
//!   whole-scan verdicts have logical locations.
//! - Results are written as findings arrive, one per line; the invocation (which needs the end
//!   time) follows them.
//! - `partialFingerprints` holds the finding's fingerprint, which does not depend on line numbers, so
//!   a finding keeps its identity when lines shift.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::message;
use crate::policy::Severity;
use crate::results::{ControlInfo, Finding, Header, Sink, State, Trailer};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

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
    /// The passing and not-applicable verdicts left out of the results, counted; absent when they
    /// are results.
    #[serde(skip_serializing_if = "Option::is_none")]
    verdicts_left_out: Option<LeftOut>,
}

/// The verdicts a SARIF log leaves out, by state.
#[derive(Serialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct LeftOut {
    not_applicable: u64,
    pass: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    kind: &'static str,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    partial_fingerprints: BTreeMap<&'static str, &'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    properties: ResultProperties<'a>,
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
struct ResultProperties<'a> {
    state: State,
    severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed: Option<&'a str>,
    expected: &'a str,
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

fn result<'a>(f: &'a Finding<'_>, c: &'a ControlInfo, rule_index: usize) -> SarifResult<'a> {
    let (kind, level) = match f.state {
        State::Fail | State::Waived | State::Suppressed | State::Baselined => {
            ("fail", level(f.severity))
        }
        State::Error => ("review", "error"),
        State::Pass => ("pass", "none"),
        State::NotApplicable => ("notApplicable", "none"),
    };
    let mut location = Location {
        physical_location: None,
        logical_locations: Vec::new(),
    };
    let t = &f.target;
    if let Some(file) = &t.file {
        let file = f
            .location
            .as_ref()
            .and_then(|l| l.path.clone())
            .unwrap_or_else(|| file.to_string());
        location.physical_location = Some(PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(&file) },
            region: f.location.as_ref().map(|l| Region {
                start_line: l.line,
                start_column: l.column,
                end_column: l.end_column,
            }),
        });
    } else if let Some(name) = t.endpoint.as_deref().or(t.host.as_deref()) {
        location.logical_locations.push(LogicalLocation {
            fully_qualified_name: name.to_string(),
            kind: "resource",
        });
    } else {
        location.logical_locations.push(LogicalLocation {
            fully_qualified_name: "scan".into(),
            kind: "module",
        });
    }
    if let Some(object) = &t.object {
        location.logical_locations.push(LogicalLocation {
            fully_qualified_name: object.clone(),
            kind: "object",
        });
    }
    if let Some(element) = &t.element {
        let parent = t.object.as_deref().or(t.name()).unwrap_or("scan");
        location.logical_locations.push(LogicalLocation {
            fully_qualified_name: format!("{parent}/{element}"),
            kind: "member",
        });
    }
    let text = message(f, c);
    let suppressions = if f.state == State::Waived {
        vec![Suppression {
            kind: "external",
            justification: super::waiver_words(f).unwrap_or_else(|| text.clone()),
        }]
    } else if let (State::Suppressed, Some(s)) = (f.state, &f.suppression) {
        vec![Suppression {
            kind: "inSource",
            justification: s.reason.clone(),
        }]
    } else if f.state == State::Baselined {
        vec![Suppression {
            kind: "external",
            justification: "known failure, accepted in the baseline given with --baseline".into(),
        }]
    } else {
        Vec::new()
    };
    SarifResult {
        rule_id: &f.control,
        rule_index,
        kind,
        level,
        message: Text { text },
        locations: vec![location],
        partial_fingerprints: f
            .fingerprint
            .as_deref()
            .map(|fp| BTreeMap::from([("vigilFingerprint/v1", fp)]))
            .unwrap_or_default(),
        suppressions,
        properties: ResultProperties {
            state: f.state,
            severity: f.severity,
            observed: f.observed.as_deref(),
            expected: &c.expected,
        },
    }
}

fn json_error(e: serde_json::Error) -> io::Error {
    match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    }
}

/// Pretty JSON of `v`, its lines after the first indented by `indent` spaces.
fn nested(v: &impl Serialize, indent: usize) -> io::Result<String> {
    let text = serde_json::to_string_pretty(v).map_err(json_error)?;
    Ok(text.replace('\n', &format!("\n{}", " ".repeat(indent))))
}

/// The SARIF log.
pub struct SarifSink<'w> {
    out: Box<dyn Write + 'w>,
    controls: Vec<ControlInfo>,
    results: u64,
    /// Counts of the passing and not-applicable verdicts left out; `None` when they are results.
    left_out: Option<LeftOut>,
}

impl<'w> SarifSink<'w> {
    /// A sink writing to `out`; passing and not-applicable verdicts are results only with
    /// `passes`.
    pub fn new(out: Box<dyn Write + 'w>, passes: bool) -> SarifSink<'w> {
        SarifSink {
            out,
            controls: Vec::new(),
            results: 0,
            left_out: (!passes).then(LeftOut::default),
        }
    }
}

impl Sink for SarifSink<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.controls = header.controls.clone();
        let tool = Tool {
            driver: Driver {
                name: "vigil",
                version: &header.tool.version,
                semantic_version: &header.tool.version,
                rules: header.controls.iter().map(rule).collect(),
            },
        };
        write!(
            self.out,
            "{{\n  \"$schema\": \"{SCHEMA}\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"tool\": {},\n      \"results\": [",
            nested(&tool, 6)?
        )
    }

    fn finding(&mut self, f: &Finding<'_>, control: usize, _canonical: &[u8]) -> io::Result<()> {
        let Some(c) = self.controls.get(control) else {
            return Ok(());
        };
        let left_out = self.left_out.as_mut().and_then(|l| match f.state {
            State::Pass => Some(&mut l.pass),
            State::NotApplicable => Some(&mut l.not_applicable),
            _ => None,
        });
        if let Some(count) = left_out {
            *count += 1;
            return Ok(());
        }
        let r = result(f, c, control);
        self.out.write_all(if self.results == 0 {
            b"\n        "
        } else {
            b",\n        "
        })?;
        serde_json::to_writer(&mut self.out, &r).map_err(json_error)?;
        self.results += 1;
        Ok(())
    }

    fn finish(&mut self, header: &Header, trailer: &Trailer) -> io::Result<()> {
        let run = &trailer.run;
        let invocations = vec![Invocation {
            execution_successful: trailer.scan_errors.is_empty(),
            start_time_utc: &run.started_at,
            end_time_utc: &run.finished_at,
            arguments: &run.arguments,
            machine: &run.host,
        }];
        let properties = RunProperties {
            evaluated_at: &run.evaluated_at,
            result_digest: &trailer.integrity.digest,
            policies: header
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
                .collect(),
            verdicts_left_out: self.left_out,
        };
        let close = if self.results == 0 { "]" } else { "\n      ]" };
        write!(
            self.out,
            "{close},\n      \"invocations\": {},\n      \"properties\": {}\n    }}\n  ]\n}}\n",
            nested(&invocations, 6)?,
            nested(&properties, 6)?
        )?;
        self.out.flush()
    }
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
