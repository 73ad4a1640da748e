//! `vigil fleet report`: the fleet (`history::fleet::Fleet`) as a self-contained HTML page (the
//! same style sheet and Content-Security-Policy as the scan report, no script), as Markdown, and
//! as JSON (the `Fleet` itself).

use std::fmt::Write as _;

// Names come from scanned trees and hosts: no link, image or markup of theirs renders.
use crate::report::markdown::escape as cell;
use std::io;

use handlebars::Handlebars;
use serde::Serialize;

use super::drift::{Point, TrendView, chart};
use crate::history::fleet::Fleet;
use crate::policy::Severity;

const TEMPLATE: &str = include_str!("../../reports/fleet.html.hbs");
const CSS: &str = include_str!("../../reports/report.css");

#[derive(Serialize)]
struct View<'a> {
    csp: String,
    css: &'static str,
    tool_version: &'static str,
    history: &'a str,
    fleet: &'a Fleet,
    pass_rate: String,
    severities: Vec<&'static str>,
    failures: Vec<i64>,
    trend: TrendView,
    hosts: Vec<HostView<'a>>,
}

#[derive(Serialize)]
struct HostView<'a> {
    host: &'a str,
    tags: String,
    run: i64,
    started_at: &'a str,
    pass_rate: String,
    failures: Vec<i64>,
    errors: i64,
}

fn rate(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.1}%"))
}

fn counts(f: &[(Severity, i64)]) -> Vec<i64> {
    f.iter().map(|(_, n)| *n).collect()
}

/// The HTML page.
pub fn html(fleet: &Fleet, history: &str) -> io::Result<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let css_hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(CSS));
    let points: Vec<Point<'_>> = fleet
        .trend
        .iter()
        .map(|n| Point {
            name: n.night.clone(),
            date: &n.night,
            pass_rate: n.pass_rate,
            failures: &n.failures,
        })
        .collect();
    let view = View {
        csp: format!(
            "default-src 'none'; style-src 'sha256-{css_hash}'; script-src 'none'; img-src data:; \
             base-uri 'none'; form-action 'none'"
        ),
        css: CSS,
        tool_version: env!("CARGO_PKG_VERSION"),
        history,
        fleet,
        pass_rate: rate(fleet.pass_rate),
        severities: Severity::ALL_DESCENDING
            .iter()
            .map(|s| s.as_str())
            .collect(),
        failures: counts(&fleet.failures),
        trend: chart(&points),
        hosts: fleet
            .ranking
            .iter()
            .map(|h| HostView {
                host: &h.host,
                tags: h.tags.join(", "),
                run: h.run,
                started_at: &h.started_at,
                pass_rate: rate(h.pass_rate),
                failures: counts(&h.failures),
                errors: h.errors,
            })
            .collect(),
    };
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_template_string("fleet", TEMPLATE)
        .map_err(|e| io::Error::other(format!("invalid fleet template: {e}")))?;
    hb.render("fleet", &view)
        .map_err(|e| io::Error::other(format!("cannot render the fleet report: {e}")))
}

/// The Markdown form.
pub fn markdown(f: &Fleet) -> String {
    let mut out = String::new();
    let sev = |v: &[(Severity, i64)]| {
        v.iter()
            .map(|(_, n)| n.to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let _ = writeln!(out, "# vigil fleet report\n");
    let _ = writeln!(
        out,
        "{} hosts{}, as of {}: pass rate **{}**, failures {} (critical to info), {} errors.\n",
        f.hosts,
        f.tag
            .as_deref()
            .map(|t| format!(" tagged `{}`", cell(t)))
            .unwrap_or_default(),
        f.generated_at,
        rate(f.pass_rate),
        f.failures
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        f.errors
    );
    let _ = writeln!(out, "## Hosts, most failures first\n");
    let _ = writeln!(
        out,
        "| Host | Last run | Pass rate | Critical | High | Medium | Low | Info | Errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for h in &f.ranking {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&h.host),
            h.started_at,
            rate(h.pass_rate),
            sev(&h.failures),
            h.errors
        );
    }
    let _ = writeln!(out, "\n## Controls failing on the most hosts\n");
    let _ = writeln!(out, "| Control | Severity | Hosts | Findings | Title |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for c in &f.top_controls {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&c.control),
            c.severity,
            c.hosts,
            c.findings,
            cell(&c.title)
        );
    }
    let _ = writeln!(
        out,
        "\n## Since each host's previous run\n\n{} new and {} resolved failures over {} hosts compared.\n",
        f.changes.new, f.changes.resolved, f.changes.compared
    );
    if !f.changes.items.is_empty() {
        let _ = writeln!(out, "| Host | Change | Control | Severity | Target |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for c in &f.changes.items {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&c.host),
                c.class,
                cell(&c.control),
                c.severity,
                cell(&c.target)
            );
        }
    }
    let _ = writeln!(out, "\n## Hosts silent for more than 36 hours\n");
    if f.silent.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for s in &f.silent {
        let _ = writeln!(
            out,
            "- {}: last run {} started {}",
            cell(&s.host),
            s.last_run,
            s.last_started_at
        );
    }
    let _ = writeln!(out, "\n## Waivers ending within 14 days\n");
    if f.expiring_waivers.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for w in &f.expiring_waivers {
        let _ = writeln!(
            out,
            "- {}: {}{} expires {} (approved by {})",
            cell(&w.host),
            cell(&w.control),
            w.target
                .as_deref()
                .map(|t| format!(" on {}", cell(t)))
                .unwrap_or_default(),
            w.expires,
            cell(&w.approved_by)
        );
    }
    out
}
