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
//! The report is rendered at the end of the scan from the aggregate (counts and the first findings
//! of every control), so it costs the same memory for ten findings or ten million. A control shows
//! its first [`VISIBLE_ROWS`] findings, folds the next ones up to [`MAX_ROWS`], and states how many
//! more the JSON result holds. A report of 100,000 findings therefore stays small enough to open in a
//! browser; full evidence stays in the JSON.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use handlebars::Handlebars;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::aggregate::{Aggregate, ControlFindings, SAMPLES_PER_CONTROL};
use super::{message, observed};
use crate::policy::Severity;
use crate::results::{ControlInfo, Finding, Header, Sink, State, Trailer};

/// Findings shown per control before the fold.
pub const VISIBLE_ROWS: usize = 10;
/// Findings rendered per control at most; the rest are counted and left to the JSON.
pub const MAX_ROWS: usize = SAMPLES_PER_CONTROL;

const TEMPLATE: &str = include_str!("../../reports/report.html.hbs");
const CSS: &str = include_str!("../../reports/report.css");
const JS: &str = include_str!("../../reports/report.js");

/// One waiver of the waiver file, as the report shows it.
#[derive(Serialize)]
struct WaiverView<'a> {
    control: &'a str,
    target: &'a str,
    approved_by: &'a str,
    expires: &'a str,
    status: &'a str,
    matched: u64,
    location: &'a str,
}

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
    /// The waiver file's entries and how each fared (`--waivers`).
    waivers: Vec<WaiverView<'a>>,
    severities: Vec<&'static str>,
    states: Vec<&'static str>,
    control_count: usize,
    finding_count: u64,
    judged_count: u64,
    passed_count: u64,
    unjudged: String,
    /// What changed since the previous run in the history (`--history`).
    drift: Option<super::drift::DriftView>,
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
    /// "1 requirement", "12 requirements".
    count: String,
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
    omitted: u64,
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

fn row(f: &Finding<'_>, c: &ControlInfo) -> RowView {
    let mut target = f.target.name().unwrap_or("(whole scan)").to_string();
    if let Some(o) = &f.target.object {
        target.push_str(&format!(" [{o}]"));
    }
    if let Some(e) = &f.target.element {
        target.push_str(&format!(" {e}"));
    }
    RowView {
        control: f.control.to_string(),
        state: f.state.as_str(),
        target,
        location: f
            .location
            .as_ref()
            .map(|l| l.describe())
            .unwrap_or_default(),
        observed: observed(f).to_string(),
        message: message(f, c),
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

fn control_view<'a>(c: &'a ControlInfo, found: &ControlFindings) -> ControlView<'a> {
    // Failures and errors first, then the rest, each in result order.
    let rows: Vec<RowView> = found
        .bad
        .iter()
        .chain(&found.rest)
        .take(MAX_ROWS)
        .map(|f| row(f, c))
        .collect();
    let omitted = found.shown_count().saturating_sub(rows.len() as u64);
    let (visible, folded) = if rows.len() > VISIBLE_ROWS {
        let mut v = rows;
        let f = v.split_off(VISIBLE_ROWS);
        (v, f)
    } else {
        (rows, Vec::new())
    };
    let counts: Vec<String> = State::ALL
        .iter()
        .filter_map(|&s| {
            let n = found.count(s);
            (n > 0).then(|| format!("{n} {}", s.as_str().replace('_', " ")))
        })
        .collect();
    ControlView {
        id: &c.id,
        title: &c.title,
        policy: &c.policy,
        severity: c.severity.as_str(),
        state: found.state().as_str(),
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
}

fn build<'a>(
    header: &'a Header,
    agg: &Aggregate,
    trailer: &'a Trailer,
    css: &str,
    js: &str,
    drift: Option<&crate::history::Stored>,
) -> View<'a> {
    let summary = &trailer.summary;
    let control_state: BTreeMap<&str, State> = header
        .controls
        .iter()
        .zip(&agg.controls)
        .map(|(c, f)| (c.id.as_str(), f.state()))
        .collect();
    let state_of = |c: &ControlInfo| {
        control_state
            .get(c.id.as_str())
            .copied()
            .unwrap_or(State::NotApplicable)
    };
    let pass_rate = summary
        .pass_rate()
        .map_or("n/a".to_string(), |r| format!("{r:.1}%"));

    let mut frameworks: BTreeMap<&str, BTreeMap<&str, Vec<&ControlInfo>>> = BTreeMap::new();
    for c in &header.controls {
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

    let groups = header
        .policies
        .iter()
        .map(|p| GroupView {
            policy: &p.id,
            title: &p.title,
            version: &p.version,
            controls: header
                .controls
                .iter()
                .zip(&agg.controls)
                .filter(|(c, _)| c.policy == p.id)
                .map(|(c, found)| control_view(c, found))
                .collect(),
        })
        .collect();

    let inv = &trailer.inventory;
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
    for (label, n) in [("endpoints", inv.endpoints), ("hosts", inv.hosts)] {
        if n > 0 {
            inventory.push(Pair {
                label: label.into(),
                value: n.to_string(),
            });
        }
    }
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
    let run = &trailer.run;
    View {
        csp,
        css: css.to_string(),
        js: js.to_string(),
        tool_version: &header.tool.version,
        schema_version: &header.schema_version,
        digest: &trailer.integrity.digest,
        run: RunView {
            started_at: &run.started_at,
            finished_at: &run.finished_at,
            duration: human_duration(run.duration_ms),
            evaluated_at: &run.evaluated_at,
            host: &run.host,
            arguments: quote_args(&run.arguments),
        },
        policies: header
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
        targets: inv
            .targets
            .iter()
            .map(|(k, n)| Pair {
                label: k.clone(),
                value: n.to_string(),
            })
            .collect(),
        pass_rate,
        state_chart: chart(
            State::ALL
                .iter()
                // `baselined` only exists in scans given a baseline, `suppressed` in scans of files
                // with inline suppressions.
                .filter(|s| {
                    !matches!(**s, State::Baselined | State::Suppressed) || summary.count(**s) > 0
                })
                .map(|s| {
                    (
                        s.as_str().replace('_', " "),
                        summary.count(*s),
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
                        summary.failures(*s),
                        format!("sev-{}", s.as_str()),
                    )
                })
                .collect(),
        ),
        frameworks: frameworks
            .into_iter()
            .map(|(name, reqs)| FrameworkView {
                name,
                count: crate::text::counted(reqs.len() as u64, "requirement", "requirements"),
                requirements: reqs
                    .into_iter()
                    .map(|(id, cs)| RequirementView {
                        id,
                        state: State::worst(cs.iter().map(|c| state_of(c))).as_str(),
                        controls: cs
                            .iter()
                            .map(|c| ControlRef {
                                id: &c.id,
                                title: &c.title,
                                state: state_of(c).as_str(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        groups,
        waived: agg
            .waived
            .iter()
            .filter_map(|f| header.control(&f.control).map(|(_, c)| row(f, c)))
            .collect(),
        waivers: trailer
            .waivers
            .iter()
            .map(|w| WaiverView {
                control: &w.control,
                target: w.target.as_deref().unwrap_or("any"),
                approved_by: &w.approved_by,
                expires: &w.expires,
                status: &w.status,
                matched: w.matched,
                location: &w.location,
            })
            .collect(),
        severities: Severity::ALL_DESCENDING
            .iter()
            .map(|s| s.as_str())
            .collect(),
        states: State::ALL.iter().map(|s| s.as_str()).collect(),
        control_count: header.controls.len(),
        finding_count: summary.total,
        judged_count: summary.judged(),
        passed_count: summary.count(State::Pass),
        unjudged: unjudged(summary),
        drift: drift.and_then(|s| s.drift.as_ref().map(|d| super::drift::view(s.run, d))),
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

/// Renders the report from the header, the aggregate and the trailer.
pub fn render(
    header: &Header,
    agg: &Aggregate,
    trailer: &Trailer,
    template_dir: Option<&Path>,
    drift: Option<&crate::history::Stored>,
) -> io::Result<String> {
    let template = load(template_dir, "report.html.hbs", TEMPLATE)?;
    let css = load(template_dir, "report.css", CSS)?;
    let js = load(template_dir, "report.js", JS)?;
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_helper("state_words", Box::new(state_words_helper));
    hb.register_helper("prose", Box::new(prose_helper));
    hb.register_template_string("report", template)
        .map_err(|e| io::Error::other(format!("invalid report template: {e}")))?;
    hb.render("report", &build(header, agg, trailer, &css, &js, drift))
        .map_err(|e| io::Error::other(format!("cannot render the report: {e}")))
}

/// The HTML report, rendered when the result is complete.
pub struct HtmlSink<'w> {
    out: Box<dyn Write + 'w>,
    template_dir: Option<PathBuf>,
    aggregate: Aggregate,
    drift: Option<crate::history::StoredSlot>,
}

impl<'w> HtmlSink<'w> {
    /// A sink writing to `out`, with templates from `template_dir` where it has them.
    pub fn new(out: Box<dyn Write + 'w>, template_dir: Option<PathBuf>) -> HtmlSink<'w> {
        HtmlSink {
            out,
            template_dir,
            aggregate: Aggregate::default(),
            drift: None,
        }
    }

    /// Shows the drift the history sink leaves in `slot` once the run is stored.
    pub fn with_drift(mut self, slot: Option<crate::history::StoredSlot>) -> Self {
        self.drift = slot;
        self
    }
}

impl Sink for HtmlSink<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.aggregate = Aggregate::new(header);
        Ok(())
    }

    fn finding(&mut self, f: &Finding<'_>, control: usize, _canonical: &[u8]) -> io::Result<()> {
        self.aggregate.add(f, control);
        Ok(())
    }

    fn blocked(&mut self, f: &Finding<'_>, control: usize) -> io::Result<()> {
        self.aggregate.block(f, control);
        Ok(())
    }

    fn finish(&mut self, header: &Header, trailer: &Trailer) -> io::Result<()> {
        let stored = self.drift.as_ref().and_then(|s| s.borrow().clone());
        let html = render(
            header,
            &self.aggregate,
            trailer,
            self.template_dir.as_deref(),
            stored.as_ref(),
        )?;
        self.out.write_all(html.as_bytes())?;
        self.out.flush()
    }
}

/// `{{state_words state}}`: a state as words (`not applicable`, not `not_applicable`).
fn state_words_helper(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    text_helper(h, out, |s| handlebars::html_escape(&s.replace('_', " ")))
}

/// `{{prose text}}`: policy text (rationale, remediation) escaped, with its `code spans` shown as
/// code: the one piece of Markdown policy authors use. Everything else stays text.
fn prose_helper(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    text_helper(h, out, prose)
}

/// Writes `render` of a helper's first parameter, which is text.
fn text_helper(
    h: &handlebars::Helper<'_>,
    out: &mut dyn handlebars::Output,
    render: impl Fn(&str) -> String,
) -> handlebars::HelperResult {
    let text = h.param(0).and_then(|p| p.value().as_str()).unwrap_or("");
    out.write(&render(text))?;
    Ok(())
}

/// Escapes `text` for HTML and turns each pair of backticks into a `<code>` element.
fn prose(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 16);
    let mut parts = text.split('`');
    let mut in_code = false;
    if let Some(first) = parts.next() {
        html.push_str(&handlebars::html_escape(first));
    }
    let rest: Vec<&str> = parts.collect();
    for (i, part) in rest.iter().enumerate() {
        let last_unpaired = !in_code && i == rest.len() - 1;
        if last_unpaired {
            // A lone backtick is text.
            html.push('`');
            html.push_str(&handlebars::html_escape(part));
            break;
        }
        in_code = !in_code;
        if in_code {
            html.push_str("<code>");
            html.push_str(&handlebars::html_escape(part));
            html.push_str("</code>");
        } else {
            html.push_str(&handlebars::html_escape(part));
        }
    }
    html
}

/// The findings a pass rate leaves out, in words: "; 3 waived and 12 not applicable, not judged".
fn unjudged(summary: &crate::results::Summary) -> String {
    let parts: Vec<String> = [
        (State::Waived, "waived"),
        (State::Suppressed, "suppressed"),
        (State::Baselined, "baselined"),
        (State::NotApplicable, "not applicable"),
    ]
    .iter()
    .filter(|(s, _)| summary.count(*s) > 0)
    .map(|(s, word)| format!("{} {word}", summary.count(*s)))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}, not judged", parts.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_prose_shows_code_spans_and_escapes_the_rest() {
        assert_eq!(
            prose("Set `ssh_protocols TLSv1.3;` then run `nginx -t` & reload <now>."),
            "Set <code>ssh_protocols TLSv1.3;</code> then run <code>nginx -t</code> &amp; reload &lt;now&gt;."
        );
        assert_eq!(prose("`<script>`"), "<code>&lt;script&gt;</code>");
        assert_eq!(prose("a lone ` stays"), "a lone ` stays");
        assert_eq!(prose("`a` and ` b"), "<code>a</code> and ` b");
    }

    #[test]
    fn helpers() {
        assert_eq!(human_duration(1500), "1.5 s");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(
            quote_args(&["vigil".into(), "a b".into(), "--at=x".into()]),
            "vigil 'a b' --at=x"
        );
        assert_eq!(
            State::worst([State::Pass, State::Error, State::NotApplicable]),
            State::Error
        );
    }
}
