//! Judging one file: read it once, then run every control that applies to it.
//!
//! One submodule per kind of check: [`pattern`] (raw bytes), [`config`] (parsed config documents)
//! and [`cert`] (certificates and private keys). They share the verdict and finding helpers here.

mod cert;
mod config;
mod pattern;

use std::collections::BTreeMap;

use super::plan::Plan;
use crate::collect::cert::CertContext;
use crate::collect::walk::{Entry, EntryKind};
use crate::collect::{Document, file};
use crate::doc::Node;
use crate::policy::eval::{self, Verdict, clip};
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
    /// Documents judged, by config format or collector (`sshd`, `certificate`, `private_key`).
    pub documents: BTreeMap<&'static str, u64>,
}

/// What judging needs besides the plan and the file.
pub struct Context<'a> {
    /// Larger files are not read.
    pub max_size: u64,
    /// The clock and trust store of the certificate collector; `None` when no control needs it.
    pub certs: Option<&'a CertContext>,
}

/// Judges `entry` against the controls at `applicable` (indices into `plan.controls`). `buf` is the
/// calling thread's read buffer, reused from file to file.
pub fn judge(
    plan: &Plan<'_>,
    entry: &Entry,
    applicable: &[usize],
    ctx: &Context<'_>,
    buf: &mut Vec<u8>,
) -> FileResult {
    let mut out = FileResult::default();
    let controls = || applicable.iter().map(|&i| (i, plan.controls[i]));
    let max_size = ctx.max_size;
    match &entry.kind {
        EntryKind::File => {}
        EntryKind::Symlink => return out,
        EntryKind::Error(message) => {
            for (_, c) in controls() {
                out.findings.push(error(c, entry, None, message.clone()));
            }
            return out;
        }
    }
    match file::read_into(&entry.path, max_size, buf) {
        Ok(file::Loaded::Read) => {}
        Ok(file::Loaded::TooLarge { size }) => {
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
        Err(e) => {
            for (_, c) in controls() {
                out.findings
                    .push(error(c, entry, None, format!("cannot read file: {e}")));
            }
            return out;
        }
    }
    let bytes: &[u8] = buf;
    out.read = true;
    out.bytes = bytes.len() as u64;
    let binary = file::is_binary(bytes);
    let mut file_facts: Option<Node> = None;
    let mut facts = || {
        file_facts
            .get_or_insert_with(|| file::facts(&entry.path, &entry.display, bytes))
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
            pattern::run(plan, entry, bytes, &pattern_controls, &mut out);
        }
    }

    let of_kind = |kind: TargetKind| -> Vec<&Control> {
        controls()
            .filter(|(_, c)| c.target.kind == kind)
            .map(|(_, c)| c)
            .collect()
    };
    config::judge(&of_kind(TargetKind::Config), entry, bytes, binary, &mut out);
    let certificate = of_kind(TargetKind::Certificate);
    let key = of_kind(TargetKind::PrivateKey);
    if let Some(certs) = ctx.certs {
        cert::judge(&certificate, &key, entry, bytes, certs, &mut out);
    }
    out
}

/// Judges every document with every control whose `when` admits it, naming documents by their
/// label (or their rank, when a file holds several unlabelled ones).
fn judge_documents(cs: &[&Control], entry: &Entry, docs: &[Document], out: &mut FileResult) {
    let many = docs.len() > 1;
    for (n, doc) in docs.iter().enumerate() {
        let object = doc
            .label
            .clone()
            .or_else(|| many.then(|| format!("document {}", n + 1)));
        for c in cs {
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

/// The target of a finding about `entry`.
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

/// An `error` finding: the target could not be judged.
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
