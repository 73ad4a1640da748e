//! The HTML report's "since the last run" section: what changed since the previous run stored in
//! the history, and the trend of the last runs as an inline SVG chart (pass rate as a line,
//! failures by severity as stacked bars). Only numbers reach the SVG's attributes; every text goes
//! through the template's escaping.

use serde::Serialize;

use crate::history::{Counts, Drift, Item};
use crate::policy::Severity;

/// The section, as the template reads it.
#[derive(Serialize)]
pub struct DriftView {
    run: i64,
    /// The run compared with; `None` for the first run of a host.
    previous: Option<PreviousView>,
    counts: Counts,
    new: Vec<ItemView>,
    resolved: Vec<ItemView>,
    changed: Vec<ItemView>,
    /// "3 further new findings are in `vigil diff`", when the lists were cut.
    omitted: String,
    trend: TrendView,
}

#[derive(Serialize)]
struct PreviousView {
    run: i64,
    started_at: String,
    digest: String,
}

#[derive(Serialize)]
struct ItemView {
    control: String,
    severity: &'static str,
    state: &'static str,
    was: &'static str,
    target: String,
    location: String,
    observed: String,
}

#[derive(Serialize)]
pub(crate) struct TrendView {
    runs: usize,
    width: u32,
    height: u32,
    /// The pass-rate line: `x,y x,y ...`.
    line: String,
    dots: Vec<Dot>,
    bars: Vec<TrendBar>,
    max_failures: i64,
    first: String,
    last: String,
}

#[derive(Serialize)]
struct Dot {
    x: u32,
    y: u32,
    title: String,
}

#[derive(Serialize)]
struct TrendBar {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    class: &'static str,
    title: String,
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 180;
/// Room above and below the plot for the axis labels.
const PAD: u32 = 16;

fn item(i: &Item) -> ItemView {
    ItemView {
        control: i.control.clone(),
        severity: i.severity.as_str(),
        state: i.state.as_str(),
        was: i.was.map(|s| s.as_str()).unwrap_or(""),
        target: i.target.clone(),
        location: i.location.clone().unwrap_or_default(),
        observed: crate::report::printable(i.observed.as_deref().unwrap_or("")).into_owned(),
    }
}

/// The view of a run's drift.
pub fn view(run: i64, drift: &Drift) -> DriftView {
    let (previous, counts, new, resolved, changed, omitted) = match &drift.diff {
        Some(d) => {
            let cut: u64 = [
                (d.counts.new, d.new.len()),
                (d.counts.resolved, d.resolved.len()),
                (d.counts.changed, d.changed.len()),
            ]
            .iter()
            .map(|(n, shown)| n.saturating_sub(*shown as u64))
            .sum();
            (
                Some(PreviousView {
                    run: d.from.run.unwrap_or(0),
                    started_at: d.from.started_at.clone(),
                    digest: d.from.digest.clone(),
                }),
                d.counts.clone(),
                d.new.iter().map(item).collect(),
                d.resolved.iter().map(item).collect(),
                d.changed.iter().map(item).collect(),
                if cut > 0 {
                    format!("{cut} further findings are listed by vigil diff.")
                } else {
                    String::new()
                },
            )
        }
        None => (
            None,
            Counts::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            String::new(),
        ),
    };
    DriftView {
        run,
        previous,
        counts,
        new,
        resolved,
        changed,
        omitted,
        trend: trend(drift),
    }
}

fn trend(drift: &Drift) -> TrendView {
    let points: Vec<Point<'_>> = drift
        .trend
        .iter()
        .map(|p| Point {
            name: format!("run {}", p.run),
            date: &p.started_at,
            pass_rate: p.pass_rate,
            failures: &p.failures,
        })
        .collect();
    chart(&points)
}

/// One point of a trend chart: a run, or a night of a fleet.
pub(crate) struct Point<'a> {
    /// What the point is, for its tooltip: `run 12`, `2026-12-01`.
    pub name: String,
    /// When (RFC 3339 or a date); the chart shows the date.
    pub date: &'a str,
    pub pass_rate: Option<f64>,
    /// `fail` verdicts by severity, most severe first.
    pub failures: &'a [(Severity, i64)],
}

/// The chart of `points`, oldest first: pass rate as a line, failures by severity as stacked bars.
pub(crate) fn chart(points: &[Point<'_>]) -> TrendView {
    let n = points.len().max(1) as u32;
    let slot = WIDTH / n;
    let plot = HEIGHT - 2 * PAD;
    let max_failures = points
        .iter()
        .map(|p| p.failures.iter().map(|(_, c)| c).sum::<i64>())
        .max()
        .unwrap_or(0);
    let mut line = Vec::new();
    let mut dots = Vec::new();
    let mut bars = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let x0 = i as u32 * slot;
        let centre = x0 + slot / 2;
        let date = p.date.get(..10).unwrap_or(p.date);
        let label = if p.name == date {
            date.to_string()
        } else {
            format!("{} ({date})", p.name)
        };
        if let Some(rate) = p.pass_rate {
            let y = PAD + plot - (rate / 100.0 * plot as f64).round() as u32;
            line.push(format!("{centre},{y}"));
            dots.push(Dot {
                x: centre,
                y,
                title: format!("{label}: {rate:.1}% pass"),
            });
        }
        // Failures stack upwards from the baseline, most severe at the bottom.
        let mut top = PAD + plot;
        for (severity, count) in p.failures {
            if *count == 0 || max_failures == 0 {
                continue;
            }
            let h = ((*count as f64 / max_failures as f64) * plot as f64)
                .round()
                .max(1.0) as u32;
            let h = h.min(top - PAD);
            top -= h;
            bars.push(TrendBar {
                x: x0 + slot / 4,
                y: top,
                width: (slot / 2).max(1),
                height: h,
                class: class_of(*severity),
                title: format!("{label}: {count} {severity} failures"),
            });
        }
    }
    let date = |p: Option<&Point<'_>>| {
        p.map(|p| p.date.get(..10).unwrap_or(p.date).to_string())
            .unwrap_or_default()
    };
    TrendView {
        runs: points.len(),
        width: WIDTH,
        height: HEIGHT,
        line: line.join(" "),
        dots,
        bars,
        max_failures,
        first: date(points.first()),
        last: date(points.last()),
    }
}

fn class_of(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "sev-critical",
        Severity::High => "sev-high",
        Severity::Medium => "sev-medium",
        Severity::Low => "sev-low",
        Severity::Info => "sev-info",
    }
}
