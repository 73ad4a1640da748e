//! Verdicts: what a control concluded about a target, with its evidence, before it is written.
//!
//! A failing check gives one verdict per failing element (each container, each server block) and
//! one for what failed outside any element; a passing check gives one verdict. A verdict carries
//! its control as an index and no copy of the control's texts: those are written once, with the
//! control.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::PassEvidence;
use crate::collect::{Document, Target};
use crate::doc::Pos;
use crate::engine::plan::Plan;
use crate::policy::Control;
use crate::policy::eval::{self, clip};
use crate::policy::path::Element;
use crate::redact::redact;
use crate::results::{Evidence, Location, State, SuppressionRef};

/// One control's conclusion about one target (or one object or element in it).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The control's index in the plan.
    pub control: usize,
    /// The outcome.
    pub state: State,
    /// The object inside the target (`Deployment/prod/web`).
    pub object: Option<String>,
    /// The element of the object (`container "web"`).
    pub element: Option<String>,
    /// Where the evidence is.
    pub location: Option<Location>,
    /// What was observed.
    pub observed: Option<String>,
    /// Why, in one sentence.
    pub message: Option<String>,
    /// The values that decided it.
    pub evidence: Vec<Evidence>,
    /// Identity across runs (failures and errors).
    pub fingerprint: Option<String>,
    /// For an error that kept several controls from judging the target: all of them (plan
    /// indices, `control` among them).
    pub blocks: Vec<usize>,
    /// The kind of target the finding names, when it is not the control's own (a file that could
    /// not be read is a `file`, whatever kinds of facts the blocked controls wanted from it).
    pub kind: Option<&'static str>,
    /// The `vigil:ignore` comment that accepted this failure (state `suppressed`).
    pub suppression: Option<SuppressionRef>,
}

impl Verdict {
    /// A verdict with nothing but its control and state.
    pub fn new(control: usize, state: State) -> Verdict {
        Verdict {
            control,
            state,
            object: None,
            element: None,
            location: None,
            observed: None,
            message: None,
            evidence: Vec::new(),
            fingerprint: None,
            blocks: Vec::new(),
            kind: None,
            suppression: None,
        }
    }

    /// One `error` for every control in `controls` that `message` kept from judging the target: a
    /// single verdict, under the most severe of them, that names them all.
    pub fn blocking(
        plan: &Plan<'_>,
        controls: &[usize],
        location: Option<Location>,
        message: &str,
        hint: &str,
    ) -> Verdict {
        let first = controls
            .iter()
            .copied()
            .max_by(|a, b| {
                plan.controls[*a]
                    .severity
                    .cmp(&plan.controls[*b].severity)
                    .then(b.cmp(a))
            })
            .expect("an error blocks at least one control");
        let message = if controls.len() == 1 {
            format!("{message}{hint}")
        } else {
            let mut ids: Vec<&str> = controls
                .iter()
                .take(3)
                .map(|c| plan.controls[*c].id.as_str())
                .collect();
            if controls.len() > 3 {
                ids.push("…");
            }
            format!(
                "{message}; {} controls could not judge it ({}){hint}",
                controls.len(),
                ids.join(", ")
            )
        };
        let mut blocks = controls.to_vec();
        blocks.sort_unstable();
        Verdict {
            location,
            message: Some(message),
            blocks: if controls.len() > 1 {
                blocks
            } else {
                Vec::new()
            },
            ..Verdict::new(first, State::Error)
        }
    }

    /// An `error`: the target (or `object` in it) could not be judged.
    pub fn error(
        control: usize,
        object: Option<String>,
        location: Option<Location>,
        message: String,
    ) -> Verdict {
        Verdict {
            object,
            location,
            message: Some(message),
            ..Verdict::new(control, State::Error)
        }
    }

    /// The order of verdicts within a target: by control. A stable sort keeps, within a control,
    /// the order they were made in, which is the target's own order (documents in file order,
    /// elements in list order, matches by position) and does not depend on scheduling.
    pub fn order(&self, other: &Verdict) -> std::cmp::Ordering {
        self.control.cmp(&other.control)
    }
}

/// The location of a position: in the target itself, or in `included` (an sshd `Include`d file).
pub fn location(pos: Pos, included: Option<&Document>) -> Location {
    Location {
        column: (pos.col > 0).then_some(pos.col),
        end_column: None,
        line: pos.line,
        path: source_file(pos, included),
    }
}

fn source_file(pos: Pos, doc: Option<&Document>) -> Option<String> {
    let doc = doc?;
    (pos.file > 0)
        .then(|| doc.included.get(usize::from(pos.file) - 1))
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Appends to `out` the verdicts of one evaluation of control `c` (index `ci`) over `doc`.
pub fn from_evaluation(
    c: &Control,
    ci: usize,
    doc: &Document,
    object: Option<String>,
    v: eval::Verdict,
    pass_evidence: PassEvidence,
    out: &mut impl Extend<Verdict>,
) {
    if v.passed {
        let mut pass = compact_pass(ci, doc, object, evidence_start(&v.evidence));
        if pass_evidence == PassEvidence::Full {
            let evidence = convert(c, doc, &v.evidence);
            pass.observed = Some(observed(&evidence));
            pass.message = Some(format!("Satisfied: {}.", c.title));
            pass.evidence = evidence;
        }
        out.extend([pass]);
        return;
    }
    // One verdict per failing element, in the order the elements fail; what failed outside any
    // element comes first.
    let mut groups: Vec<(Option<&Element>, Vec<&eval::Evidence>)> = Vec::new();
    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    let mut ordered: Vec<&eval::Evidence> = v.evidence.iter().collect();
    ordered.sort_by_key(|e| e.element.is_some());
    for e in ordered {
        let key = e.element.as_ref();
        let g = *index
            .entry(key.map(|k| k.path.as_str()))
            .or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
        groups[g].1.push(e);
    }
    if groups.is_empty() {
        groups.push((None, Vec::new()));
    }
    out.extend(groups.into_iter().map(|(element, items)| {
        let items: Vec<eval::Evidence> = items.into_iter().cloned().collect();
        let evidence = convert(c, doc, &items);
        let mut heads: Vec<usize> = (0..items.len()).filter(|i| items[*i].head).collect();
        if heads.is_empty() && !items.is_empty() {
            heads.push(0);
        }
        // The finding points where its message's first value is, else at the first value placed.
        let at = heads
            .iter()
            .map(|i| items[*i].pos)
            .find(|p| p.line > 0)
            .or_else(|| evidence_start(&items));
        let location = located(at, doc).or_else(|| {
            element
                .filter(|e| e.pos.line > 0)
                .map(|e| location(e.pos, Some(doc)))
        });
        let message = fail_message(&evidence, &heads);
        Verdict {
            object: object.clone(),
            element: element.map(|e| e.name().to_string()),
            observed: Some(observed(&evidence)),
            message: Some(message),
            location,
            evidence,
            ..Verdict::new(ci, State::Fail)
        }
    }));
}

/// A passing verdict as recorded by default: control, object and location. `at` is where its
/// evidence starts ([`eval::lean`] finds it without building the evidence).
pub fn compact_pass(ci: usize, doc: &Document, object: Option<String>, at: Option<Pos>) -> Verdict {
    Verdict {
        object,
        location: located(at, doc),
        ..Verdict::new(ci, State::Pass)
    }
}

/// The first evidence position in the target.
fn evidence_start(evidence: &[eval::Evidence]) -> Option<Pos> {
    evidence.iter().map(|e| e.pos).find(|p| p.line > 0)
}

/// The location of `at`, else of the document's anchor.
fn located(at: Option<Pos>, doc: &Document) -> Option<Location> {
    at.map(|p| location(p, Some(doc)))
        .or_else(|| doc.anchor.filter(|p| p.line > 0).map(|p| location(p, None)))
}

fn convert(c: &Control, doc: &Document, evidence: &[eval::Evidence]) -> Vec<Evidence> {
    evidence
        .iter()
        .map(|e| Evidence {
            field: e.path.clone(),
            line: e.pos.known_line(),
            observed: if c.secret {
                redact(&e.observed)
            } else {
                e.observed.clone()
            },
            path: source_file(e.pos, Some(doc)),
        })
        .collect()
}

/// The observed values in one line: the first five, and how many more.
fn observed(evidence: &[Evidence]) -> String {
    let s = match evidence {
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
    clip(&s)
}

/// An observed value as a message quotes it, so that a value that is itself a sentence ("not yet
/// valid: ...") does not read as part of the message; markers such as `(absent)` stay as they are,
/// and an empty text reads `""`.
fn quoted(observed: &str) -> String {
    if observed.is_empty() {
        "\"\"".to_string()
    } else if observed.starts_with('(') {
        observed.to_string()
    } else if observed.contains('`') {
        format!("\"{observed}\"")
    } else {
        format!("`{observed}`")
    }
}

/// How many values a failure's message names at most; the rest are counted.
const MESSAGE_VALUES: usize = 3;

/// A failure's one-line message: the values `heads` picks out of `evidence` (what failed; one for
/// each alternative of an `any`), each once and at its line, and how many other values the
/// evidence holds.
fn fail_message(evidence: &[Evidence], heads: &[usize]) -> String {
    let mut named: Vec<&Evidence> = Vec::new();
    for e in heads.iter().filter_map(|i| evidence.get(*i)) {
        if named.len() < MESSAGE_VALUES && !named.iter().any(|n| same_value(n, e)) {
            named.push(e);
        }
    }
    let at = if named.is_empty() {
        "nothing satisfies the check".to_string()
    } else {
        let parts: Vec<String> = named
            .iter()
            .map(|e| match e.line {
                Some(line) => format!("`{}` is {} at line {line}", e.field, quoted(&e.observed)),
                None => format!("`{}` is {}", e.field, quoted(&e.observed)),
            })
            .collect();
        parts.join(" and ")
    };
    let more = evidence
        .iter()
        .filter(|e| !named.iter().any(|n| same_value(n, e)))
        .count();
    let more = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    format!("Not satisfied: {at}{more}.")
}

/// Whether two pieces of evidence show the same field with the same value.
fn same_value(a: &Evidence, b: &Evidence) -> bool {
    a.field == b.field && a.observed == b.observed
}

/// Gives a failure or an error its fingerprint: control, kind, target, object, element and what
/// was observed, but no line, so that a finding keeps its identity when lines shift. Identical
/// verdicts in one target are then told apart by their rank ([`Ranks`]).
pub fn fingerprint(plan: &Plan<'_>, target: &Target, v: &mut Verdict) {
    if matches!(v.state, State::Pass | State::NotApplicable) {
        return;
    }
    let mut h = Sha256::new();
    for part in [
        plan.controls[v.control].id.as_str(),
        plan.kinds[v.control],
        target.name(),
        v.object.as_deref().unwrap_or(""),
        v.element.as_deref().unwrap_or(""),
        v.observed.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for e in &v.evidence {
        h.update(e.field.as_bytes());
        h.update([0]);
    }
    v.fingerprint = Some(crate::text::hex(&h.finalize()[..16]));
}

/// Tells identical fingerprints of one target apart: the second is `-2`, and so on. One `Ranks`
/// serves one target and is given its verdicts in their sorted order.
#[derive(Default)]
pub struct Ranks {
    /// The control of the verdicts ranked so far: identical verdicts are of one control, so the
    /// ranks start again with each, and memory holds one control's fingerprints at most.
    control: Option<usize>,
    seen: HashMap<String, u32>,
}

impl Ranks {
    /// Ranks `v`, the next verdict of the target in sorted order.
    pub fn rank(&mut self, v: &mut Verdict) {
        let Some(fingerprint) = &mut v.fingerprint else {
            return;
        };
        if self.control != Some(v.control) {
            self.control = Some(v.control);
            self.seen.clear();
        }
        let n = self.seen.entry(fingerprint.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            fingerprint.push_str(&format!("-{n}"));
        }
    }
}

/// The longest message a finding carries; a longer one (a parse error quoting a 10 MB line) is cut
/// with its full length shown.
pub const MAX_MESSAGE: usize = 1000;

pub fn clip_message(m: String) -> String {
    // Most messages are short: no copy, and no count of characters, for them.
    if m.len() <= MAX_MESSAGE {
        return m;
    }
    eval::clip_to(&m, MAX_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(field: &str, observed: &str, line: Option<u32>) -> Evidence {
        Evidence {
            field: field.into(),
            line,
            observed: observed.into(),
            path: None,
        }
    }

    #[test]
    fn a_message_names_its_heads_once_each_and_counts_the_rest() {
        let evidence = [
            piece("a", "1", Some(3)),
            piece("b", "(absent)", None),
            piece("a", "1", Some(3)),
            piece("c", "x", Some(9)),
            piece("d", "y", None),
            piece("e", "z", None),
        ];
        assert_eq!(
            fail_message(&evidence, &[0]),
            "Not satisfied: `a` is `1` at line 3 (and 4 more)."
        );
        // A value named once, however many alternatives fail on it; at most three named.
        assert_eq!(
            fail_message(&evidence, &[0, 1, 2, 3, 4]),
            "Not satisfied: `a` is `1` at line 3 and `b` is (absent) and `c` is `x` at line 9 \
             (and 2 more)."
        );
        assert_eq!(
            fail_message(&evidence[..2], &[0, 1]),
            "Not satisfied: `a` is `1` at line 3 and `b` is (absent)."
        );
        assert_eq!(
            fail_message(&[], &[]),
            "Not satisfied: nothing satisfies the check."
        );
    }
}
