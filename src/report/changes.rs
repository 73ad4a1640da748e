//! `vigil diff` in words: what changed between two runs, for a terminal and for a pull request.
//! The JSON form is the [`Diff`] itself.

use std::fmt::Write as _;

// Names come from scanned trees and hosts: no link, image or markup of theirs renders.
use crate::report::markdown::escape as cell;

use crate::history::{Diff, Item};

/// How many findings still failing the console and Markdown list (the JSON has them all).
const STILL_FAILING_SHOWN: usize = 20;

fn side(r: &crate::history::RunRef) -> String {
    match (&r.run, &r.file) {
        (_, Some(f)) => format!(
            "{} ({}, {})",
            crate::report::printable(f),
            crate::report::printable(&r.host),
            r.started_at
        ),
        (Some(id), None) => format!(
            "run {id} ({}, {})",
            crate::report::printable(&r.host),
            r.started_at
        ),
        (None, None) => r.started_at.clone(),
    }
}

fn line(i: &Item) -> String {
    // Names come from scanned trees and hosts: no terminal escape reaches the console.
    let mut s = format!(
        "{} [{}] {}",
        crate::report::printable(&i.control),
        i.severity,
        crate::report::printable(&i.target)
    );
    if let Some(l) = &i.location {
        s.push_str(&format!(" ({l})"));
    }
    if let Some(was) = i.was {
        s.push_str(&format!(": {} -> {}", was.as_str(), i.state.as_str()));
    } else {
        s.push_str(&format!(": {}", i.state.as_str()));
    }
    if let Some(o) = i.observed.as_deref().filter(|o| !o.is_empty()) {
        s.push_str(&format!(", observed `{}`", crate::report::printable(o)));
    }
    s
}

/// The one-line count: `2 new, 1 resolved, 0 changed, 10 still failing, 1200 unchanged`.
pub fn counts(d: &Diff) -> String {
    format!(
        "{} new, {} resolved, {} changed, {} still failing, {} unchanged",
        d.counts.new,
        d.counts.resolved,
        d.counts.changed,
        d.counts.still_failing,
        d.counts.unchanged
    )
}

/// The console form.
pub fn console(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "vigil diff: {} -> {}", side(&d.from), side(&d.to));
    let _ = writeln!(out, "{}", counts(d));
    for (title, list) in [
        ("New", &d.new),
        ("Resolved", &d.resolved),
        ("Changed state", &d.changed),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({}):", list.len());
        for i in list {
            let _ = writeln!(out, "  {}", line(i));
        }
    }
    if d.counts.still_failing > 0 {
        let _ = writeln!(out, "\nStill failing ({}):", d.counts.still_failing);
        for i in d.still_failing.iter().take(STILL_FAILING_SHOWN) {
            let _ = writeln!(out, "  {}", line(i));
        }
        let more = d.counts.still_failing as usize - d.still_failing.len().min(STILL_FAILING_SHOWN);
        if more > 0 {
            let _ = writeln!(out, "  ... and {more} more (--format json lists them all)");
        }
    }
    out
}

/// The Markdown form, for a pull request or a ticket.
pub fn markdown(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## vigil: changes since the last run\n");
    let _ = writeln!(
        out,
        "{} → {}\n\n**{}**\n",
        cell(&side(&d.from)),
        cell(&side(&d.to)),
        counts(d)
    );
    let still: Vec<Item> = d
        .still_failing
        .iter()
        .take(STILL_FAILING_SHOWN)
        .cloned()
        .collect();
    for (title, list) in [
        ("New failures", &d.new),
        ("Resolved", &d.resolved),
        ("Changed state", &d.changed),
        ("Still failing", &still),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| Control | Severity | State | Target | Location | Observed |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for i in list {
            let state = match i.was {
                Some(w) => format!("{} → {}", w.as_str(), i.state.as_str()),
                None => i.state.as_str().to_string(),
            };
            let observed = i
                .observed
                .as_deref()
                .filter(|o| !o.is_empty())
                .map(|o| format!("`{}`", cell(o)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&i.control),
                i.severity,
                state,
                cell(&i.target),
                cell(i.location.as_deref().unwrap_or("")),
                observed
            );
        }
        out.push('\n');
    }
    if d.counts.still_failing as usize > still.len() {
        let _ = writeln!(
            out,
            "{} further findings still failing are in the JSON form (`vigil diff --format json`).",
            d.counts.still_failing as usize - still.len()
        );
    }
    out
}
