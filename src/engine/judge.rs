//! Judging one file: read it once, then run every control that applies to it.

use std::collections::BTreeMap;

use super::plan::Plan;
use crate::collect::config::{Format, ParseError};
use crate::collect::walk::{Entry, EntryKind};
use crate::collect::{Document, file};
use crate::doc::Node;
use crate::policy::eval::{self, Verdict, clip};
use crate::policy::pattern::{Expect, PatternCheck};
use crate::policy::{Check, Control, TargetKind};
use crate::redact::redact;
use crate::results::{Evidence, Finding, Location, State, Target};

/// Everything one file contributed to the scan.
#[derive(Debug, Default)]
pub struct FileResult {
    /// Findings, in no particular order (the engine sorts).
    pub findings: Vec<Finding>,
    /// Controls with `expect: absent` patterns that scanned this file and found nothing.
    pub clean: Vec<usize>,
    /// Whether the file was read.
    pub read: bool,
    /// Bytes read.
    pub bytes: u64,
    /// Whether text checks skipped it as binary.
    pub binary_skipped: bool,
    /// Whether it exceeded the size limit.
    pub too_large: bool,
    /// Documents parsed, by format.
    pub documents: BTreeMap<Format, u64>,
}

/// Judges `entry` against the controls at `applicable` (indices into `plan.controls`).
pub fn judge(plan: &Plan<'_>, entry: &Entry, applicable: &[usize], max_size: u64) -> FileResult {
    let mut out = FileResult::default();
    let controls = || applicable.iter().map(|&i| (i, plan.controls[i]));
    let size = match &entry.kind {
        EntryKind::File { size } => *size,
        EntryKind::Symlink => return out,
        EntryKind::Error(message) => {
            for (_, c) in controls() {
                out.findings.push(error(c, entry, None, message.clone()));
            }
            return out;
        }
    };
    if size > max_size {
        out.too_large = true;
        for (_, c) in controls() {
            out.findings.push(error(
                c,
                entry,
                None,
                format!("file is {size} bytes, above the --max-file-size limit of {max_size} bytes; it was not read"),
            ));
        }
        return out;
    }
    let bytes = match file::read(&entry.path, size, max_size) {
        Ok(b) => b,
        Err(e) => {
            for (_, c) in controls() {
                out.findings
                    .push(error(c, entry, None, format!("cannot read file: {e}")));
            }
            return out;
        }
    };
    out.read = true;
    out.bytes = bytes.len() as u64;
    let binary = file::is_binary(&bytes);
    let mut file_facts: Option<Node> = None;
    let mut facts = || {
        file_facts
            .get_or_insert_with(|| file::facts(&entry.path, &entry.display, &bytes))
            .clone()
    };

    // Controls of kind `file`: patterns over the raw bytes, conditions over the metadata.
    let mut pattern_controls = Vec::new();
    for (i, c) in controls().filter(|(_, c)| c.target.kind == TargetKind::File) {
        if let Some(w) = &c.target.when {
            if !eval::evaluate(w, &facts()).passed {
                continue;
            }
        }
        match &c.check {
            Check::Pattern(_) => pattern_controls.push(i),
            Check::Condition(cond) => {
                let doc = Document::new(facts());
                let v = eval::evaluate(cond, &doc.root);
                out.findings.push(verdict(c, entry, &doc, None, v));
            }
        }
    }
    if !pattern_controls.is_empty() {
        if binary {
            out.binary_skipped = true;
        } else {
            run_patterns(plan, entry, &bytes, &pattern_controls, &mut out);
        }
    }

    // Controls of kind `config`: parse once per format, judge every document.
    let mut by_format: BTreeMap<Format, Vec<&Control>> = BTreeMap::new();
    for (_, c) in controls().filter(|(_, c)| c.target.kind == TargetKind::Config) {
        match c.target.format.or_else(|| Format::infer(&entry.path)) {
            Some(f) => by_format.entry(f).or_default().push(c),
            None => out.findings.push(error(
                c,
                entry,
                None,
                "cannot tell the config format from the file name; set `format:` in the control's target".into(),
            )),
        }
    }
    if by_format.is_empty() {
        return out;
    }
    let text = if binary {
        Err("binary file: a config format cannot be parsed from it".to_string())
    } else {
        std::str::from_utf8(&bytes).map_err(|e| {
            format!("not valid UTF-8 text (invalid byte at offset {}): a config format cannot be parsed from it", e.valid_up_to())
        })
    };
    for (format, cs) in by_format {
        let docs = match &text {
            Err(m) => {
                for c in cs {
                    out.findings.push(error(c, entry, None, m.clone()));
                }
                continue;
            }
            Ok(text) => format.parse_text(&entry.path, text),
        };
        let docs = match docs {
            Ok(d) => d,
            Err(e) => {
                for c in cs {
                    out.findings.push(parse_error(c, entry, format, &e));
                }
                continue;
            }
        };
        *out.documents.entry(format).or_default() += docs.len() as u64;
        let many = docs.len() > 1;
        for (n, doc) in docs.iter().enumerate() {
            let object = doc
                .label
                .clone()
                .or_else(|| many.then(|| format!("document {}", n + 1)));
            for c in &cs {
                if let Some(w) = &c.target.when {
                    if !eval::evaluate(w, &doc.root).passed {
                        continue;
                    }
                }
                let Check::Condition(cond) = &c.check else {
                    continue;
                };
                let v = eval::evaluate(cond, &doc.root);
                out.findings.push(verdict(c, entry, doc, object.clone(), v));
            }
        }
    }
    out
}

fn target(c: &Control, entry: &Entry, object: Option<String>) -> Target {
    Target {
        kind: c.target.kind,
        path: entry.display.clone(),
        object,
    }
}

/// Builds a finding with an empty fingerprint (filled once all findings are sorted).
pub fn finding(
    c: &Control,
    state: State,
    target: Target,
    location: Option<Location>,
    observed: String,
    message: String,
    evidence: Vec<Evidence>,
) -> Finding {
    Finding {
        control: c.id.clone(),
        policy: c.policy.clone(),
        severity: c.severity,
        state,
        target,
        location,
        observed,
        expected: expected(c),
        message,
        evidence,
        fingerprint: String::new(),
    }
}

/// The control's check in words.
pub fn expected(c: &Control) -> String {
    match &c.check {
        Check::Condition(cond) => cond.to_string(),
        Check::Pattern(p) => p.describe(),
    }
}

fn error(c: &Control, entry: &Entry, location: Option<Location>, message: String) -> Finding {
    finding(
        c,
        State::Error,
        target(c, entry, None),
        location,
        "(not evaluated)".into(),
        message,
        Vec::new(),
    )
}

fn parse_error(c: &Control, entry: &Entry, format: Format, e: &ParseError) -> Finding {
    let location = (e.line > 0).then_some(Location {
        path: None,
        line: e.line,
        column: (e.col > 0).then_some(e.col),
        end_column: None,
    });
    error(
        c,
        entry,
        location,
        format!("cannot parse as {format}: {}", e.message),
    )
}

fn verdict(
    c: &Control,
    entry: &Entry,
    doc: &Document,
    object: Option<String>,
    v: Verdict,
) -> Finding {
    let show = |s: &str| if c.secret { redact(s) } else { s.to_string() };
    let source = |file: u16| -> Option<String> {
        (file > 0)
            .then(|| doc.included.get(usize::from(file) - 1))
            .flatten()
            .map(|p| p.to_string_lossy().to_string())
    };
    let evidence: Vec<Evidence> = v
        .evidence
        .iter()
        .map(|e| Evidence {
            field: e.path.clone(),
            observed: show(&e.observed),
            line: e.pos.known_line(),
            path: source(e.pos.file),
        })
        .collect();
    let first = v.evidence.iter().find(|e| e.pos.line > 0);
    let location = first.map(|e| Location {
        path: source(e.pos.file),
        line: e.pos.line,
        column: (e.pos.col > 0).then_some(e.pos.col),
        end_column: None,
    });
    let observed = match evidence.as_slice() {
        [] => "(nothing to check)".to_string(),
        [one] => one.observed.clone(),
        many => {
            let shown: Vec<&str> = many.iter().take(5).map(|e| e.observed.as_str()).collect();
            let more = many.len().saturating_sub(5);
            let mut s = shown.join(", ");
            if more > 0 {
                s.push_str(&format!(" (+{more} more)"));
            }
            s
        }
    };
    let (state, message) = if v.passed {
        (State::Pass, format!("Satisfied: {}.", c.title))
    } else {
        let at = match (evidence.first(), location.as_ref()) {
            (Some(e), Some(l)) => format!("`{}` is {} at line {}", e.field, e.observed, l.line),
            (Some(e), None) => format!("`{}` is {}", e.field, e.observed),
            _ => "nothing satisfies the check".to_string(),
        };
        let more = evidence.len().saturating_sub(1);
        let more = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        (State::Fail, format!("Not satisfied: {at}{more}."))
    };
    finding(
        c,
        state,
        target(c, entry, object),
        location,
        clip(&observed),
        message,
        evidence,
    )
}

/// Positions of newlines, built only for files with matches.
struct LineIndex<'a> {
    bytes: &'a [u8],
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(bytes: &'a [u8]) -> LineIndex<'a> {
        LineIndex {
            bytes,
            newlines: memchr::memchr_iter(b'\n', bytes).collect(),
        }
    }

    /// 1-based line and character column of a byte offset.
    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.newlines.partition_point(|&nl| nl < offset);
        let start = if line == 0 {
            0
        } else {
            self.newlines[line - 1] + 1
        };
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(char_count(&self.bytes[start..offset]) + 1).unwrap_or(u32::MAX),
        )
    }
}

/// Characters in UTF-8 bytes (invalid bytes count as one each).
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// One kept match of a pattern.
struct Hit {
    start: usize,
    end: usize,
    value: String,
}

fn matches_of(check: &PatternCheck, bytes: &[u8]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for caps in check.regex.captures_iter(bytes) {
        let Some(whole) = caps.get(0) else { continue };
        let judged = caps.get(check.capture).unwrap_or(whole);
        if !check.keeps(judged.as_bytes()) {
            continue;
        }
        // The location is the judged value (the secret), not the context around it.
        hits.push(Hit {
            start: judged.start(),
            end: judged.end(),
            value: String::from_utf8_lossy(judged.as_bytes()).into_owned(),
        });
    }
    hits
}

fn run_patterns(
    plan: &Plan<'_>,
    entry: &Entry,
    bytes: &[u8],
    wanted: &[usize],
    out: &mut FileResult,
) {
    let set_hits = plan.patterns.matches(bytes);
    let mut lines: Option<LineIndex> = None;
    for (set_idx, &ci) in plan.pattern_owner.iter().enumerate() {
        if !wanted.contains(&ci) {
            continue;
        }
        let c = plan.controls[ci];
        let Check::Pattern(check) = &c.check else {
            continue;
        };
        let hits = if set_hits.matched(set_idx) {
            matches_of(check, bytes)
        } else {
            Vec::new()
        };
        if hits.is_empty() {
            match check.expect {
                Expect::Absent => out.clean.push(ci),
                Expect::Present => out.findings.push(finding(
                    c,
                    State::Fail,
                    target(c, entry, None),
                    None,
                    "(no match)".into(),
                    "Not satisfied: the file has no line matching the required pattern.".into(),
                    Vec::new(),
                )),
            }
            continue;
        }
        let index = lines.get_or_insert_with(|| LineIndex::new(bytes));
        let located: Vec<(Location, String)> = hits
            .iter()
            .map(|h| {
                let (line, column) = index.position(h.start);
                let line_end = index
                    .newlines
                    .get(usize::try_from(line).unwrap_or(0).saturating_sub(1))
                    .copied()
                    .unwrap_or(bytes.len())
                    .min(h.end);
                let end_column =
                    column + u32::try_from(char_count(&bytes[h.start..line_end])).unwrap_or(0);
                let shown = if c.secret {
                    redact(&h.value)
                } else {
                    clip(&h.value)
                };
                (
                    Location {
                        path: None,
                        line,
                        column: Some(column),
                        end_column: Some(end_column),
                    },
                    shown,
                )
            })
            .collect();
        match check.expect {
            Expect::Absent => {
                for (loc, shown) in located {
                    let message = format!(
                        "Not satisfied: pattern matched at line {}, column {}.",
                        loc.line,
                        loc.column.unwrap_or(0)
                    );
                    out.findings.push(finding(
                        c,
                        State::Fail,
                        target(c, entry, None),
                        Some(loc),
                        shown,
                        message,
                        Vec::new(),
                    ));
                }
            }
            Expect::Present => {
                let (loc, shown) = located.into_iter().next().expect("hits is not empty");
                let message = format!("Satisfied: {} (line {}).", c.title, loc.line);
                out.findings.push(finding(
                    c,
                    State::Pass,
                    target(c, entry, None),
                    Some(loc),
                    shown,
                    message,
                    Vec::new(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_positions() {
        let text = "ab\ncé d\n\nx".as_bytes();
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(7), (2, 4), "é is one character");
        assert_eq!(idx.position(10), (4, 1));
    }
}
