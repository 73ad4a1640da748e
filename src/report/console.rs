//! Console output: failures and errors grouped by severity, most severe first, each with its
//! evidence; then a one-line summary made for CI logs.

use std::io::{self, Write};

use super::Style;
use crate::policy::Severity;
use crate::results::{Finding, ScanRun, State};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;35m",
        Severity::High => "\x1b[1;31m",
        Severity::Medium => "\x1b[1;33m",
        Severity::Low => "\x1b[1;36m",
        Severity::Info => "\x1b[1;34m",
    }
}

fn state_color(s: State) -> &'static str {
    match s {
        State::Fail => "\x1b[31m",
        State::Error => "\x1b[35m",
        State::Pass => "\x1b[32m",
        State::Waived | State::NotApplicable => "\x1b[2m",
    }
}

struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// Writes the console report: the findings, then the summary line.
pub fn write(run: &ScanRun, out: &mut dyn Write, style: &Style) -> io::Result<()> {
    write_findings(run, out, style)?;
    writeln!(out, "{}", summary_line(run, None))
}

/// Writes failures and errors (everything with `verbose`) grouped by severity.
pub fn write_findings(run: &ScanRun, out: &mut dyn Write, style: &Style) -> io::Result<()> {
    let p = Painter { on: style.color };
    let shown = |f: &&Finding| style.verbose || matches!(f.state, State::Fail | State::Error);
    for sev in Severity::ALL_DESCENDING {
        let group: Vec<&Finding> = run
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .filter(shown)
            .collect();
        if group.is_empty() {
            continue;
        }
        let title = format!("{} ({})", sev.as_str().to_uppercase(), group.len());
        writeln!(out, "{}", p.paint(severity_color(sev), &title))?;
        for f in group {
            write_finding(out, &p, run, f)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_finding(out: &mut dyn Write, p: &Painter, run: &ScanRun, f: &Finding) -> io::Result<()> {
    let title = run
        .controls
        .iter()
        .find(|c| c.id == f.control)
        .map(|c| c.title.as_str())
        .unwrap_or("");
    let state = p.paint(state_color(f.state), &format!("{:<5}", f.state.as_str()));
    writeln!(out, "  {state} {} {}", p.paint(BOLD, &f.control), title)?;
    let mut place = f.target.path.clone();
    if let Some(loc) = &f.location {
        if let Some(other) = &loc.path {
            place = format!("{place} (via {other})");
        }
        place.push_str(&format!(":{}", loc.line));
        if let Some(c) = loc.column {
            place.push_str(&format!(":{c}"));
        }
    }
    if let Some(obj) = &f.target.object {
        place.push_str(&format!(" [{obj}]"));
    }
    writeln!(out, "        {place}")?;
    writeln!(out, "        {}", f.message)?;
    if f.state == State::Fail && f.evidence.is_empty() {
        writeln!(out, "        observed: {}", f.observed)?;
    }
    if f.state == State::Fail {
        writeln!(
            out,
            "        {}",
            p.paint(DIM, &format!("expected: {}", f.expected))
        )?;
    }
    Ok(())
}

/// One line for CI logs: counts by state and severity and, when given, the `--fail-on` threshold and
/// the exit code.
pub fn summary_line(run: &ScanRun, verdict: Option<(&str, u8)>) -> String {
    let count = |s: State| run.summary.by_state.get(&s).copied().unwrap_or(0);
    let sev: Vec<String> = Severity::ALL_DESCENDING
        .iter()
        .filter_map(|s| {
            let n = run
                .findings
                .iter()
                .filter(|f| f.state == State::Fail && f.severity == *s)
                .count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    let mut line = format!(
        "vigil: {} controls, {} files read: {} failed{}, {} errors, {} passed, {} waived, {} not applicable",
        run.controls.len(),
        run.inventory.files_read,
        count(State::Fail),
        if sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", sev.join(", "))
        },
        count(State::Error),
        count(State::Pass),
        count(State::Waived),
        count(State::NotApplicable),
    );
    if let Some((threshold, code)) = verdict {
        line.push_str(&format!("; fail-on {threshold}; exit {code}"));
    }
    line
}
