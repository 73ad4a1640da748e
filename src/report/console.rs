//! Console output: failures and errors grouped by severity, most severe first, each with its
//! evidence. Rendered at the end from the aggregate: every control shows its first findings and
//! says how many more the JSON result holds. The one-line summary for CI logs is
//! [`summary_line`].

use std::io::{self, Write};

use super::aggregate::{Aggregate, ControlFindings};
use super::{Style, message, observed, printable};
use crate::policy::Severity;
use crate::results::{ControlInfo, Finding, Header, Inventory, Sink, State, Summary, Trailer};
use crate::text::counted;

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
        State::Waived | State::Suppressed | State::Baselined | State::NotApplicable => "\x1b[2m",
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

/// The console report, written when the result is complete.
pub struct ConsoleSink<'w> {
    out: Box<dyn Write + 'w>,
    color: bool,
    verbose: bool,
    aggregate: Aggregate,
}

impl<'w> ConsoleSink<'w> {
    /// A sink writing to `out` with `style`'s colour and verbosity.
    pub fn new(out: Box<dyn Write + 'w>, style: &Style) -> ConsoleSink<'w> {
        ConsoleSink {
            out,
            color: style.color,
            verbose: style.verbose,
            aggregate: Aggregate::default(),
        }
    }
}

impl Sink for ConsoleSink<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.aggregate = Aggregate::new(header);
        Ok(())
    }

    fn finding(&mut self, f: &Finding<'_>, control: usize, _canonical: &[u8]) -> io::Result<()> {
        self.aggregate.add(f, control);
        Ok(())
    }

    fn finish(&mut self, header: &Header, _trailer: &Trailer) -> io::Result<()> {
        let p = Painter { on: self.color };
        for sev in Severity::ALL_DESCENDING {
            let group: Vec<(&ControlInfo, &ControlFindings)> = header
                .controls
                .iter()
                .zip(&self.aggregate.controls)
                .filter(|(c, _)| c.severity == sev)
                .collect();
            // The same words and counts as the summary line: "failed" is fail findings only.
            let shown: &[State] = if self.verbose {
                &State::ALL
            } else {
                &[State::Fail, State::Error]
            };
            let counts: Vec<String> = shown
                .iter()
                .filter_map(|state| {
                    let n: u64 = group.iter().map(|(_, f)| f.count(*state)).sum();
                    (n > 0).then(|| state_count(n, *state))
                })
                .collect();
            if counts.is_empty() {
                continue;
            }
            let title = format!("{}: {}", sev.as_str().to_uppercase(), counts.join(", "));
            writeln!(self.out, "{}", p.paint(severity_color(sev), &title))?;
            for (c, found) in group {
                let mut shown = 0u64;
                let rows = found.bad.iter().chain(
                    self.verbose
                        .then_some(found.rest.iter().chain(&self.aggregate.waived))
                        .into_iter()
                        .flatten()
                        .filter(|f| f.control == c.id),
                );
                for f in rows {
                    write_finding(&mut self.out, &p, c, f)?;
                    shown += 1;
                }
                let all = if self.verbose {
                    found.counts.values().sum()
                } else {
                    found.bad_count()
                };
                if all > shown {
                    writeln!(
                        self.out,
                        "  {}",
                        p.paint(
                            DIM,
                            &format!(
                                "… {} more {} findings are in the JSON result",
                                all - shown,
                                c.id
                            )
                        )
                    )?;
                }
            }
            writeln!(self.out)?;
        }
        self.out.flush()
    }
}

fn write_finding(
    out: &mut dyn Write,
    p: &Painter,
    c: &ControlInfo,
    f: &Finding<'_>,
) -> io::Result<()> {
    let state = p.paint(state_color(f.state), &format!("{:<5}", f.state.as_str()));
    writeln!(out, "  {state} {} {}", p.paint(BOLD, &f.control), c.title)?;
    let mut place = f.target.name().unwrap_or("(whole scan)").to_string();
    if let Some(loc) = &f.location {
        if let Some(other) = &loc.path {
            place = format!("{place} (via {other})");
        }
        place.push_str(&format!(":{}", loc.line));
        if let Some(col) = loc.column {
            place.push_str(&format!(":{col}"));
        }
    }
    if let Some(obj) = &f.target.object {
        place.push_str(&format!(" [{obj}]"));
    }
    if let Some(el) = &f.target.element {
        place.push_str(&format!(" {el}"));
    }
    writeln!(out, "        {}", printable(&place))?;
    writeln!(out, "        {}", printable(&message(f, c)))?;
    if f.state == State::Fail && f.evidence.is_empty() {
        writeln!(out, "        observed: {}", printable(observed(f)))?;
    }
    if f.state == State::Fail {
        writeln!(
            out,
            "        {}",
            p.paint(DIM, &format!("expected: {}", c.expected))
        )?;
    }
    Ok(())
}

/// One line for CI logs: counts by state and severity and, when given, the `--fail-on` threshold and
/// the exit code.
pub fn summary_line(
    controls: usize,
    inventory: &Inventory,
    summary: &Summary,
    verdict: Option<(&str, u8)>,
) -> String {
    let sev: Vec<String> = Severity::ALL_DESCENDING
        .iter()
        .filter_map(|s| {
            let n = summary.failures(*s);
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    let mut targets = counted(inventory.files_read, "file read", "files read");
    if inventory.endpoints > 0 {
        targets.push_str(&format!(
            ", {}",
            counted(inventory.endpoints, "endpoint", "endpoints")
        ));
    }
    if inventory.hosts > 0 {
        targets.push_str(&format!(", {}", counted(inventory.hosts, "host", "hosts")));
    }
    let mut line = format!(
        "vigil: {}, {targets}: {} failed{}, {}, {} passed, {} waived, {} not applicable",
        counted(controls as u64, "control", "controls"),
        summary.count(State::Fail),
        if sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", sev.join(", "))
        },
        counted(summary.count(State::Error), "error", "errors"),
        summary.count(State::Pass),
        summary.count(State::Waived),
        summary.count(State::NotApplicable),
    );
    for state in [State::Suppressed, State::Baselined] {
        let n = summary.count(state);
        if n > 0 {
            line.push_str(&format!(", {}", state_count(n, state)));
        }
    }
    if let Some((threshold, code)) = verdict {
        line.push_str(&format!("; fail-on {threshold}; exit {code}"));
    }
    line
}

/// `n` findings of a state, in the summary line's words: "3 failed", "1 error".
fn state_count(n: u64, state: State) -> String {
    match state {
        State::Fail => format!("{n} failed"),
        State::Error => counted(n, "error", "errors"),
        State::Pass => format!("{n} passed"),
        State::Waived => format!("{n} waived"),
        State::Baselined => format!("{n} baselined"),
        State::Suppressed => format!("{n} suppressed"),
        State::NotApplicable => format!("{n} not applicable"),
    }
}
