//! The HTML evidence report: one self-contained file for auditors.
//!
//! The template, stylesheet and script live in `reports/` and are compiled into the binary; a
//! `--template-dir` holding `report.html.hbs`, `report.css` or `report.js` replaces them. The page
//! fetches nothing: its Content-Security-Policy allows only the inline stylesheet and script it
//! carries (by SHA-256 hash), so even markup that slipped into a value could not load or run
//! anything. Every value taken from a scan goes through handlebars' HTML escaping (the template never
//! uses the triple-stash on such data) and is never placed inside `<script>`, a URL or an unquoted
//! attribute.
//!
//! Long evidence lists are cut: a control shows its first [`VISIBLE_ROWS`] findings, folds the next
//! ones up to [`MAX_ROWS`], and states how many more the JSON result holds. A report of 100,000
//! findings therefore stays small enough to open in a browser; full evidence stays in the JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use handlebars::Handlebars;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::policy::Severity;
use crate::results::{ControlInfo, Finding, ScanRun, State};

/// Findings shown per control before the fold.
pub const VISIBLE_ROWS: usize = 10;
/// Findings rendered per control at most; the rest are counted and left to the JSON.
pub const MAX_ROWS: usize = 200;

const TEMPLATE: &str = include_str!("../../reports/report.html.hbs");
const CSS: &str = include_str!("../../reports/report.css");
const JS: &str = include_str!("../../reports/report.js");

#[derive(Serialize)]
struct View<'a> {
    csp: String,
    css: String,
    js: String,
    tool_version: &'a str,
    schema_version: &'a str,
    digest: &'a str,
    run: RunView<'a>,
    policies: Vec<PolicyView<'a>>,
    inventory: Vec<Pair>,
    targets: Vec<Pair>,
    pass_rate: String,
    state_chart: Chart,
    severity_chart: Chart,
    frameworks: Vec<FrameworkView<'a>>,
    groups: Vec<GroupView<'a>>,
    waived: Vec<RowView>,
    severities: Vec<&'static str>,
    states: Vec<&'static str>,
    control_count: usize,
    finding_count: usize,
}

#[derive(Serialize)]
struct RunView<'a> {
    started_at: &'a str,
    finished_at: &'a str,
    duration: String,
    evaluated_at: &'a str,
    host: &'a str,
    arguments: String,
}

#[derive(Serialize)]
struct PolicyView<'a> {
    id: &'a str,
    title: &'a str,
    version: &'a str,
    source: &'a str,
    sha256: &'a str,
    controls: usize,
}

#[derive(Serialize)]
struct Pair {
    label: String,
    value: String,
}

#[derive(Serialize)]
struct Chart {
    height: u32,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    count: u64,
    y: u32,
    text_y: u32,
    width: u32,
    class: String,
}

#[derive(Serialize)]
struct FrameworkView<'a> {
    name: &'a str,
    requirements: Vec<RequirementView<'a>>,
}

#[derive(Serialize)]
struct RequirementView<'a> {
    id: &'a str,
    state: &'static str,
    controls: Vec<ControlRef<'a>>,
}

#[derive(Serialize)]
struct ControlRef<'a> {
    id: &'a str,
    title: &'a str,
    state: &'static str,
}

#[derive(Serialize)]
struct GroupView<'a> {
    policy: &'a str,
    title: &'a str,
    version: &'a str,
    controls: Vec<ControlView<'a>>,
}

#[derive(Serialize)]
struct ControlView<'a> {
    id: &'a str,
    title: &'a str,
    policy: &'a str,
    severity: &'static str,
    state: &'static str,
    rationale: &'a str,
    remediation: &'a str,
    expected: &'a str,
    references: Vec<Pair>,
    counts: String,
    visible: Vec<RowView>,
    folded: Vec<RowView>,
    folded_count: usize,
    omitted: usize,
}

#[derive(Serialize, Clone)]
struct RowView {
    control: String,
    state: &'static str,
    target: String,
    location: String,
    observed: String,
    message: String,
}

/// The worst state of a set of findings: fail > error > waived > pass > not_applicable.
fn worst(states: impl IntoIterator<Item = State>) -> State {
    let rank = |s: State| match s {
        State::NotApplicable => 0,
        State::Pass => 1,
        State::Waived => 2,
        State::Error => 3,
        State::Fail => 4,
    };
    states
        .into_iter()
        .max_by_key(|s| rank(*s))
        .unwrap_or(State::NotApplicable)
}

fn row(f: &Finding) -> RowView {
    let mut target = f.target.path.clone();
    if let Some(o) = &f.target.object {
        target.push_str(&format!(" [{o}]"));
    }
    let location = match &f.location {
        None => String::new(),
        Some(l) => {
            let mut s = String::new();
            if let Some(p) = &l.path {
                s.push_str(&format!("{p}:"));
            }
            s.push_str(&format!("line {}", l.line));
            if let Some(c) = l.column {
                s.push_str(&format!(", column {c}"));
            }
            s
        }
    };
    RowView {
        control: f.control.clone(),
        state: f.state.as_str(),
        target,
        location,
        observed: f.observed.clone(),
        message: f.message.clone(),
    }
}

fn chart(items: Vec<(String, u64, String)>) -> Chart {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let bars: Vec<Bar> = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, count, class))| {
            let y = u32::try_from(i).unwrap_or(0) * 26;
            Bar {
                label,
                count,
                y,
                text_y: y + 15,
                // Scaled to 300 px; a non-zero count is always visible.
                width: if count == 0 {
                    0
                } else {
                    u32::try_from((count * 300 / max).max(2)).unwrap_or(300)
                },
                class,
            }
        })
        .collect();
    Chart {
        height: u32::try_from(bars.len()).unwrap_or(0) * 26,
        bars,
    }
}

fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Shell-style quoting for the recorded command line (display only).
fn quote_args(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn build<'a>(run: &'a ScanRun, css: &str, js: &str) -> View<'a> {
    let mut by_control: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &run.findings {
        by_control.entry(f.control.as_str()).or_default().push(f);
    }
    let control_state = |c: &ControlInfo| {
        worst(
            by_control
                .get(c.id.as_str())
                .into_iter()
                .flatten()
                .map(|f| f.state),
        )
    };
    let count = |s: State| run.summary.by_state.get(&s).copied().unwrap_or(0);
    let judged = count(State::Pass) + count(State::Fail) + count(State::Error);
    let pass_rate = if judged == 0 {
        "n/a".to_string()
    } else {
        format!("{:.1}%", count(State::Pass) as f64 * 100.0 / judged as f64)
    };

    let mut frameworks: BTreeMap<&str, BTreeMap<&str, Vec<&ControlInfo>>> = BTreeMap::new();
    for c in &run.controls {
        for (fw, ids) in &c.references {
            for id in ids {
                frameworks
                    .entry(fw.as_str())
                    .or_default()
                    .entry(id.as_str())
                    .or_default()
                    .push(c);
            }
        }
    }

    let mut groups = Vec::new();
    for p in &run.policies {
        let controls =
            run.controls
                .iter()
                .filter(|c| c.policy == p.id)
                .map(|c| {
                    let findings = by_control.get(c.id.as_str()).cloned().unwrap_or_default();
                    // Failures and errors first, then the rest, each in result order.
                    let mut ordered: Vec<&Finding> = findings
                        .iter()
                        .copied()
                        .filter(|f| matches!(f.state, State::Fail | State::Error))
                        .collect();
                    ordered.extend(findings.iter().copied().filter(|f| {
                        !matches!(f.state, State::Fail | State::Error | State::Waived)
                    }));
                    let rows: Vec<RowView> =
                        ordered.iter().take(MAX_ROWS).map(|f| row(f)).collect();
                    let omitted = ordered.len().saturating_sub(MAX_ROWS);
                    let (visible, folded) = if rows.len() > VISIBLE_ROWS {
                        let mut v = rows;
                        let f = v.split_off(VISIBLE_ROWS);
                        (v, f)
                    } else {
                        (rows, Vec::new())
                    };
                    let mut counts = Vec::new();
                    for s in State::ALL {
                        let n = findings.iter().filter(|f| f.state == s).count();
                        if n > 0 {
                            counts.push(format!("{n} {}", s.as_str().replace('_', " ")));
                        }
                    }
                    ControlView {
                        id: &c.id,
                        title: &c.title,
                        policy: &c.policy,
                        severity: c.severity.as_str(),
                        state: control_state(c).as_str(),
                        rationale: &c.rationale,
                        remediation: &c.remediation,
                        expected: &c.expected,
                        references: c
                            .references
                            .iter()
                            .map(|(fw, ids)| Pair {
                                label: fw.clone(),
                                value: ids.join(", "),
                            })
                            .collect(),
                        counts: counts.join(" · "),
                        folded_count: folded.len(),
                        visible,
                        folded,
                        omitted,
                    }
                })
                .collect();
        groups.push(GroupView {
            policy: &p.id,
            title: &p.title,
            version: &p.version,
            controls,
        });
    }

    let mut targets: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in run.findings.iter().filter(|f| f.target.path != "*") {
        targets
            .entry(f.target.kind.as_str())
            .or_default()
            .insert(f.target.path.as_str());
    }
    let inv = &run.inventory;
    let mut inventory = vec![
        Pair {
            label: "paths scanned".into(),
            value: inv.paths.join(", "),
        },
        Pair {
            label: "files seen".into(),
            value: inv.files_seen.to_string(),
        },
        Pair {
            label: "files read".into(),
            value: inv.files_read.to_string(),
        },
        Pair {
            label: "bytes read".into(),
            value: human_bytes(inv.bytes_read),
        },
        Pair {
            label: "binary files skipped".into(),
            value: inv.binary_files_skipped.to_string(),
        },
        Pair {
            label: "symbolic links not followed".into(),
            value: inv.symlinks_skipped.to_string(),
        },
        Pair {
            label: "files over the size limit".into(),
            value: inv.files_too_large.to_string(),
        },
    ];
    for (format, n) in &inv.documents {
        inventory.push(Pair {
            label: format!("{format} documents"),
            value: n.to_string(),
        });
    }

    let csp = format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'",
        b64_sha256(css),
        b64_sha256(js)
    );
    View {
        csp,
        css: css.to_string(),
        js: js.to_string(),
        tool_version: &run.tool.version,
        schema_version: &run.schema_version,
        digest: &run.integrity.digest,
        run: RunView {
            started_at: &run.run.started_at,
            finished_at: &run.run.finished_at,
            duration: human_duration(run.run.duration_ms),
            evaluated_at: &run.run.evaluated_at,
            host: &run.run.host,
            arguments: quote_args(&run.run.arguments),
        },
        policies: run
            .policies
            .iter()
            .map(|p| PolicyView {
                id: &p.id,
                title: &p.title,
                version: &p.version,
                source: &p.source,
                sha256: &p.sha256,
                controls: p.controls,
            })
            .collect(),
        inventory,
        targets: targets
            .into_iter()
            .map(|(k, v)| Pair {
                label: k.to_string(),
                value: v.len().to_string(),
            })
            .collect(),
        pass_rate,
        state_chart: chart(
            State::ALL
                .iter()
                .map(|s| {
                    (
                        s.as_str().replace('_', " "),
                        count(*s),
                        format!("state-{}", s.as_str()),
                    )
                })
                .collect(),
        ),
        severity_chart: chart(
            Severity::ALL_DESCENDING
                .iter()
                .map(|s| {
                    (
                        s.as_str().to_string(),
                        run.summary
                            .failures_by_severity
                            .get(s)
                            .copied()
                            .unwrap_or(0),
                        format!("sev-{}", s.as_str()),
                    )
                })
                .collect(),
        ),
        frameworks: frameworks
            .into_iter()
            .map(|(name, reqs)| FrameworkView {
                name,
                requirements: reqs
                    .into_iter()
                    .map(|(id, cs)| RequirementView {
                        id,
                        state: worst(cs.iter().map(|c| control_state(c))).as_str(),
                        controls: cs
                            .iter()
                            .map(|c| ControlRef {
                                id: &c.id,
                                title: &c.title,
                                state: control_state(c).as_str(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        groups,
        waived: run
            .findings
            .iter()
            .filter(|f| f.state == State::Waived)
            .map(row)
            .collect(),
        severities: Severity::ALL_DESCENDING
            .iter()
            .map(|s| s.as_str())
            .collect(),
        states: State::ALL.iter().map(|s| s.as_str()).collect(),
        control_count: run.controls.len(),
        finding_count: run.findings.len(),
    }
}

fn b64_sha256(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
}

fn load(dir: Option<&Path>, name: &str, builtin: &str) -> io::Result<String> {
    match dir.map(|d| d.join(name)) {
        Some(p) if p.is_file() => std::fs::read_to_string(&p)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", p.display()))),
        _ => Ok(builtin.to_string()),
    }
}

/// Renders the report to a string.
pub fn render(run: &ScanRun, template_dir: Option<&Path>) -> io::Result<String> {
    let template = load(template_dir, "report.html.hbs", TEMPLATE)?;
    let css = load(template_dir, "report.css", CSS)?;
    let js = load(template_dir, "report.js", JS)?;
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_template_string("report", template)
        .map_err(|e| io::Error::other(format!("invalid report template: {e}")))?;
    hb.render("report", &build(run, &css, &js))
        .map_err(|e| io::Error::other(format!("cannot render the report: {e}")))
}

/// Writes the report.
pub fn write(run: &ScanRun, out: &mut dyn Write, template_dir: Option<&Path>) -> io::Result<()> {
    out.write_all(render(run, template_dir)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(human_duration(1500), "1.5 s");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(
            quote_args(&["vigil".into(), "a b".into(), "--at=x".into()]),
            "vigil 'a b' --at=x"
        );
        assert_eq!(
            worst([State::Pass, State::Error, State::NotApplicable]),
            State::Error
        );
    }
}
