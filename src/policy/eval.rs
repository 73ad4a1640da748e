//! Evaluates a [`Condition`] over a fact document, producing a verdict with its evidence.
//!
//! Evidence is the set of concrete values that decided the verdict: on failure, the values that
//! failed (every failing container, not only the first); on success, the values that passed. Each
//! piece names its concrete path and position, so a finding can say "line 14: `yes`".
//!
//! Where a check requires something of *every* element of a list of objects (each container, each
//! server block), each piece of evidence also names the element it belongs to, so that the engine can
//! give every failing element a finding of its own. Where the failure is about the list as a whole
//! (`some` element must match, `any` of several tests, `not`), the attribution is dropped: no single
//! element is at fault.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::compare::{compare, loose_eq};
use super::condition::{Condition, Each, FieldTest, Operator, Quantifier};
use super::path::{Candidate, Element, FieldPath, Segment};
use crate::doc::{Node, Pos, Value};

/// Longest observed value kept in evidence; longer values are cut with a marker.
const MAX_OBSERVED: usize = 240;

/// The outcome of a condition over one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the condition holds.
    pub passed: bool,
    /// The values that decided it.
    pub evidence: Vec<Evidence>,
}

/// One observed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Concrete field path, e.g. `spec.containers[1].securityContext.privileged`.
    pub path: String,
    /// The value as text, `(absent)`, or `(absent; default: x)`.
    pub observed: String,
    /// Where the value is, or where its nearest parent is when absent.
    pub pos: Pos,
    /// The element of a list of objects the value belongs to, when the check requires something of
    /// every element.
    pub element: Option<Element>,
    /// Whether a failure's one-line message names this value: the first of a test's values, the
    /// first failing test's of an `all`, and one from each alternative of an `any` (each says why
    /// that alternative does not hold, and none alone says why the check fails).
    pub head: bool,
}

/// Drops element attribution: the verdict is about the whole, not about one element.
fn collective(mut v: Verdict) -> Verdict {
    for e in &mut v.evidence {
        e.element = None;
    }
    v
}

/// Evaluates `cond` over `doc`.
pub fn evaluate(cond: &Condition, doc: &Node) -> Verdict {
    match cond {
        Condition::All(items) => {
            let verdicts: Vec<Verdict> = items.iter().map(|c| evaluate(c, doc)).collect();
            let passed = verdicts.iter().all(|v| v.passed);
            // The first item that gives evidence heads it; the heads of the rest are dropped.
            let mut evidence: Vec<Evidence> = Vec::new();
            let mut headed = false;
            for v in verdicts.into_iter().filter(|v| passed || !v.passed) {
                let had = headed;
                headed |= v.evidence.iter().any(|e| e.head);
                evidence.extend(v.evidence.into_iter().map(|mut e| {
                    e.head &= !had;
                    e
                }));
            }
            Verdict { passed, evidence }
        }
        Condition::Any(items) => {
            let verdicts: Vec<Verdict> = items.iter().map(|c| evaluate(c, doc)).collect();
            match verdicts.iter().position(|v| v.passed) {
                Some(i) => verdicts.into_iter().nth(i).expect("index from position"),
                // Every alternative failed, each for its own reason: the message names each.
                None => collective(Verdict {
                    passed: false,
                    evidence: verdicts.into_iter().flat_map(|v| v.evidence).collect(),
                }),
            }
        }
        Condition::Not(inner) => {
            let v = collective(evaluate(inner, doc));
            Verdict {
                passed: !v.passed,
                evidence: v.evidence,
            }
        }
        Condition::Field(test) => evaluate_field(test, doc),
        Condition::Each(each) => evaluate_each(each, doc),
    }
}

/// What [`lean`] found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lean {
    /// The condition holds; the evidence [`evaluate`] gives would first point at this position
    /// (its first one with a line), or nowhere in the document.
    Pass(Option<Pos>),
    /// The condition does not hold.
    Fail,
    /// A `not` or an `each`, whose evidence only [`evaluate`] finds.
    Unknown,
}

/// Whether `cond` holds over `doc`, and where [`evaluate`]'s evidence would start, without building
/// that evidence: a passing verdict recorded compactly needs no more, and most verdicts pass. The
/// caller evaluates in full what does not pass here.
pub fn lean(cond: &Condition, doc: &Node) -> Lean {
    match cond {
        Condition::All(items) => {
            let mut first = None;
            for c in items {
                match lean(c, doc) {
                    Lean::Pass(at) => first = first.or(at),
                    other => return other,
                }
            }
            Lean::Pass(first)
        }
        Condition::Any(items) => {
            for c in items {
                match lean(c, doc) {
                    Lean::Fail => continue,
                    other => return other,
                }
            }
            Lean::Fail
        }
        Condition::Not(_) | Condition::Each(_) => Lean::Unknown,
        Condition::Field(test) => {
            let (mut first, mut passing, mut failing) = (None, false, false);
            test_each(test, doc, |ok, pos| {
                if ok {
                    passing = true;
                    if first.is_none() && pos.line > 0 {
                        first = Some(pos);
                    }
                } else {
                    failing = true;
                }
                true
            });
            let passed = match test.quantifier {
                Quantifier::Every => !failing,
                Quantifier::Some => passing,
            };
            if passed {
                Lean::Pass(first)
            } else {
                Lean::Fail
            }
        }
    }
}

/// Whether `cond` holds over `doc`: [`evaluate`]'s `passed`, without gathering evidence. Used
/// where only the answer counts (a control's `when`, an `each` filter), so that a pod spec is not
/// written out as evidence for every control that asks whether the document has one.
pub fn holds(cond: &Condition, doc: &Node) -> bool {
    match cond {
        Condition::All(items) => items.iter().all(|c| holds(c, doc)),
        Condition::Any(items) => items.iter().any(|c| holds(c, doc)),
        Condition::Not(inner) => !holds(inner, doc),
        Condition::Field(test) => {
            // A path without wildcards leads to one value, and `every` or `some` of one value is
            // that value's answer.
            if test.split.is_none() {
                if let Some(node) = test.path.value(doc) {
                    return test_value(test, with_default(test, node).0);
                }
            }
            // `every` holds until a value fails, `some` from the first value that passes.
            let every = matches!(test.quantifier, Quantifier::Every);
            let mut answer = every;
            test_each(test, doc, |ok, _| {
                if ok != every {
                    answer = ok;
                }
                ok == every
            });
            answer
        }
        Condition::Each(each) => {
            let mut results = each
                .path
                .resolve_values(doc)
                .into_iter()
                .filter_map(|c| c.node)
                .filter(|e| each.filter.as_ref().is_none_or(|w| holds(w, e)))
                .map(|e| holds(&each.check, e));
            match each.quantifier {
                Quantifier::Every => results.all(|ok| ok),
                Quantifier::Some => results.any(|ok| ok),
            }
        }
    }
}

fn evaluate_each(each: &Each, doc: &Node) -> Verdict {
    let mut passing: Vec<Evidence> = Vec::new();
    let mut failing = Vec::new();
    // Whether the path led to any element, and whether the filter let any through: a `some` that
    // fails with nothing visited says which of the two it met.
    let (mut found, mut selected) = (false, false);
    for candidate in each.path.resolve(doc) {
        let Some(element) = candidate.node else {
            continue;
        };
        found = true;
        if each.filter.as_ref().is_some_and(|w| !holds(w, element)) {
            continue;
        }
        selected = true;
        let v = evaluate(&each.check, element);
        // Under `every`, a failure is this element's own; an element reached through an earlier
        // wildcard of the `each` path (the pod of a list of pods) takes precedence.
        let owner = (each.quantifier == Quantifier::Every)
            .then(|| {
                candidate
                    .element
                    .clone()
                    .or_else(|| Element::of(&candidate.path, element))
            })
            .flatten();
        let mut evidence: Vec<Evidence> = v
            .evidence
            .into_iter()
            .map(|mut e| {
                e.path = format!("{}.{}", candidate.path, e.path);
                if e.pos.line == 0 {
                    e.pos = element.pos;
                }
                e.element = owner.clone();
                e
            })
            .collect();
        if evidence.is_empty() {
            // An element judged without evidence of its own (a vacuous `every`) still points at
            // the element.
            evidence.push(Evidence {
                path: candidate.path.clone(),
                observed: if v.passed {
                    "(satisfies the check)"
                } else {
                    "(does not satisfy the check)"
                }
                .into(),
                pos: element.pos,
                element: owner,
                head: true,
            });
        }
        let side = if v.passed { &mut passing } else { &mut failing };
        // Elements under `every` each get a finding of their own, and their own head; under
        // `some`, the message is about the list, and names the first element's values.
        if each.quantifier == Quantifier::Some && side.iter().any(|e| e.head) {
            for e in &mut evidence {
                e.head = false;
            }
        }
        side.extend(evidence);
    }
    let passed = match each.quantifier {
        Quantifier::Every => failing.is_empty(),
        Quantifier::Some => !passing.is_empty(),
    };
    if !passed && failing.is_empty() {
        failing.push(Evidence {
            path: each.path.to_string(),
            observed: if found && !selected {
                "(no element selected)"
            } else {
                nothing_at(&each.path, doc)
            }
            .into(),
            pos: Pos::default(),
            element: None,
            head: true,
        });
    }
    Verdict {
        passed,
        evidence: if passed { passing } else { failing },
    }
}

fn evaluate_field(test: &FieldTest, doc: &Node) -> Verdict {
    let mut passing = Vec::new();
    let mut failing = Vec::new();
    for candidate in expand(test, test.path.resolve(doc)) {
        let ok = test_value(test, candidate.node.as_deref());
        let ev = Evidence {
            path: candidate.path,
            observed: observed_text(candidate.node.as_deref(), candidate.defaulted),
            pos: candidate.pos,
            element: candidate
                .element
                .filter(|_| test.quantifier == Quantifier::Every),
            head: false,
        };
        if ok {
            passing.push(ev);
        } else {
            failing.push(ev);
        }
    }
    let passed = match test.quantifier {
        Quantifier::Every => failing.is_empty(),
        Quantifier::Some => !passing.is_empty(),
    };
    if !passed && failing.is_empty() {
        // `some` over a path that leads nowhere: say so rather than give no evidence.
        failing.push(Evidence {
            path: test.path.to_string(),
            observed: nothing_at(&test.path, doc).into(),
            pos: Pos::default(),
            element: None,
            head: false,
        });
    }
    let mut evidence = if passed { passing } else { failing };
    if let Some(first) = evidence.first_mut() {
        first.head = true;
    }
    Verdict { passed, evidence }
}

/// What a path that led to no value met: `(empty list)` when it ends in `[*]` over lists that are
/// there and empty (a limits file without entries), else `(no value)`.
fn nothing_at(path: &FieldPath, doc: &Node) -> &'static str {
    let Some((Segment::Wildcard, parent)) = path.segments.split_last() else {
        return "(no value)";
    };
    let parent = FieldPath {
        segments: parent.to_vec(),
    };
    let lists = parent.resolve_values(doc);
    let empty = !lists.is_empty()
        && lists.iter().all(|c| {
            c.node
                .and_then(Node::as_list)
                .is_some_and(<[Node]>::is_empty)
        });
    if empty { "(empty list)" } else { "(no value)" }
}

/// A value under test after `default` and `split` were applied: the document's own node where
/// possible, so that testing a value never copies it.
struct Expanded<'d> {
    path: String,
    node: Option<Cow<'d, Node>>,
    pos: Pos,
    defaulted: bool,
    element: Option<Element>,
}

/// Tests each value `test` is about in `doc` (the default standing in for an absent one, split
/// when the test splits) and hands `visit` the answer and where the value lies, until `visit`
/// returns `false`: what [`lean`] and [`holds`] need, without the evidence [`evaluate`] builds. A
/// value that is not split is tested where it lies, without a list of copies.
fn test_each(test: &FieldTest, doc: &Node, mut visit: impl FnMut(bool, Pos) -> bool) {
    let candidates = test.path.resolve_values(doc);
    if test.split.is_some() {
        for c in expand(test, candidates) {
            if !visit(test_value(test, c.node.as_deref()), c.pos) {
                return;
            }
        }
    } else {
        for c in candidates {
            let (node, pos, _) = placed(test, c.node, c.pos);
            if !visit(test_value(test, node), pos) {
                return;
            }
        }
    }
}

/// The value under test for a candidate found at `at`, where its evidence points, and whether the
/// default stood in: the value's own position, or `at` (the nearest position on the way to it) when
/// the value is absent or unplaced, or is the default, which comes from the policy, not the target.
fn placed<'d>(
    test: &'d FieldTest,
    node: Option<&'d Node>,
    at: Pos,
) -> (Option<&'d Node>, Pos, bool) {
    let (node, defaulted) = with_default(test, node);
    let pos = node
        .filter(|n| n.pos.line > 0 && !defaulted)
        .map_or(at, |n| n.pos);
    (node, pos, defaulted)
}

/// The value under test: the document's, else the test's `default` (except for `exists`, which
/// asks about the document itself), and whether the default stood in.
fn with_default<'d>(test: &'d FieldTest, node: Option<&'d Node>) -> (Option<&'d Node>, bool) {
    match (node, &test.default) {
        (Some(n), _) => (Some(n), false),
        (None, Some(d)) if !matches!(test.op, Operator::Exists(_)) => (Some(d), true),
        (None, _) => (None, false),
    }
}

fn expand<'d>(test: &'d FieldTest, candidates: Vec<Candidate<'d>>) -> Vec<Expanded<'d>> {
    let mut out = Vec::new();
    for c in candidates {
        let (node, pos, defaulted) = placed(test, c.node, c.pos);
        let split = match (&test.split, node) {
            (
                Some(sep),
                Some(Node {
                    value: Value::Str(s),
                    ..
                }),
            ) => Some((sep, s)),
            _ => None,
        };
        match split {
            Some((sep, s)) => {
                for (i, part) in s
                    .split(sep.as_str())
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .enumerate()
                {
                    out.push(Expanded {
                        path: format!("{}[{i}]", c.path),
                        node: Some(Cow::Owned(Node::str(pos, part))),
                        pos,
                        defaulted,
                        element: c.element.clone(),
                    });
                }
            }
            None => {
                out.push(Expanded {
                    path: c.path,
                    node: node.map(Cow::Borrowed),
                    pos,
                    defaulted,
                    element: c.element,
                });
            }
        }
    }
    out
}

fn test_value(test: &FieldTest, node: Option<&Node>) -> bool {
    let ic = test.ignore_case;
    let Some(node) = node else {
        // An absent value (and no default) passes only tests about absence: fail closed.
        return match test.op {
            Operator::Exists(want) => !want,
            Operator::Excludes(_) => true,
            _ => false,
        };
    };
    let v = &node.value;
    let ordered = |want: &Node, accept: fn(Ordering) -> bool| {
        compare(v, &want.value, test.conversion).is_some_and(accept)
    };
    match &test.op {
        Operator::Exists(want) => *want,
        Operator::Equals(x) => loose_eq(v, &x.value, ic),
        Operator::In(xs) => xs.iter().any(|x| loose_eq(v, &x.value, ic)),
        Operator::NotIn(xs) => !xs.iter().any(|x| loose_eq(v, &x.value, ic)),
        Operator::Matches(re) => v.scalar_text().is_some_and(|t| re.is_match(&t)),
        Operator::Lt(x) => ordered(x, |o| o == Ordering::Less),
        Operator::Lte(x) => ordered(x, |o| o != Ordering::Greater),
        Operator::Gt(x) => ordered(x, |o| o == Ordering::Greater),
        Operator::Gte(x) => ordered(x, |o| o != Ordering::Less),
        Operator::Contains(x) => contains(v, &x.value, ic),
        Operator::Excludes(x) => !contains(v, &x.value, ic),
        Operator::Covers(port) => covers(v, *port),
    }
}

/// Whether a port specification includes `port`: a number, a range `N-M` (`22-22`), or `*`.
/// Anything else (an expression, `var.ssh_port`) is not known to, and fails.
fn covers(spec: &Value, port: u16) -> bool {
    let text = match spec {
        Value::Int(n) => return *n == i64::from(port),
        Value::Str(s) => s.trim(),
        _ => return false,
    };
    if text == "*" {
        return true;
    }
    let number = |s: &str| s.trim().parse::<u16>().ok();
    match text.split_once('-') {
        Some((low, high)) => match (number(low), number(high)) {
            (Some(low), Some(high)) => (low..=high).contains(&port),
            _ => false,
        },
        None => number(text) == Some(port),
    }
}

fn contains(haystack: &Value, needle: &Value, ic: bool) -> bool {
    match haystack {
        Value::List(items) => items.iter().any(|i| loose_eq(&i.value, needle, ic)),
        Value::Map(m) => needle.scalar_text().is_some_and(|k| m.contains_key(&k)),
        Value::Str(s) => {
            let n = needle.scalar_text().unwrap_or_default();
            if ic {
                s.to_ascii_lowercase().contains(&n.to_ascii_lowercase())
            } else {
                s.contains(&n)
            }
        }
        _ => false,
    }
}

fn observed_text(node: Option<&Node>, defaulted: bool) -> String {
    match (node, defaulted) {
        (None, _) => "(absent)".to_string(),
        (Some(n), true) => format!("(absent; default: {})", observed_value(&n.value)),
        (Some(n), false) => observed_value(&n.value),
    }
}

/// A value as evidence text, cut like [`clip`]. A map or a list (a whole pod spec, say) is written
/// as JSON only as far as it is shown, without copying it; its full length is still counted.
fn observed_value(value: &Value) -> String {
    match value.scalar_str() {
        // Most values are short: the text itself, not a copy of it.
        Some(s) if s.len() <= MAX_OBSERVED => s.into_owned(),
        Some(s) => clip(&s),
        None => {
            let mut out = Clipped::default();
            // Writing into memory cannot fail, and the value serializes infallibly.
            let _ = serde_json::to_writer(&mut out, value);
            out.finish()
        }
    }
}

/// A writer that keeps the first [`MAX_OBSERVED`] characters and counts the rest.
#[derive(Default)]
struct Clipped {
    kept: Vec<u8>,
    chars: usize,
}

impl std::io::Write for Clipped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let starts_char = |b: &u8| b & 0xC0 != 0x80;
        if self.chars > MAX_OBSERVED {
            self.chars += buf.iter().filter(|b| starts_char(b)).count();
            return Ok(buf.len());
        }
        for b in buf {
            if starts_char(b) {
                self.chars += 1;
            }
            if self.chars <= MAX_OBSERVED {
                self.kept.push(*b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Clipped {
    fn finish(self) -> String {
        // Bytes are kept up to a character boundary of valid UTF-8 (serde_json writes UTF-8).
        let text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.chars <= MAX_OBSERVED {
            text
        } else {
            format!("{text}… ({} characters)", self.chars)
        }
    }
}

/// Cuts a long observed value to [`MAX_OBSERVED`] characters.
pub fn clip(s: &str) -> String {
    clip_to(s, MAX_OBSERVED)
}

/// Cuts `s` to `max` characters, marking the cut with the full length: `abc… (4000 characters)`.
pub fn clip_to(s: &str, max: usize) -> String {
    let total = s.chars().count();
    if total <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}… ({total} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::diag::Diagnostics;
    use crate::yaml::parse_documents;

    fn check(cond: &str, doc: &str) -> Verdict {
        let c = &parse_documents(cond).unwrap()[0];
        let mut d = Diagnostics::new("t", cond);
        let c = Condition::parse(c, &mut d).unwrap_or_else(|| panic!("{:?}", d.items));
        let doc = &parse_documents(doc).unwrap()[0];
        let verdict = evaluate(&c, doc);
        // Every case below also checks that the evidence-free answers agree.
        assert_eq!(holds(&c, doc), verdict.passed, "holds disagrees on {cond}");
        let start = verdict.evidence.iter().map(|e| e.pos).find(|p| p.line > 0);
        match lean(&c, doc) {
            Lean::Pass(at) => assert!(verdict.passed && at == start, "lean disagrees on {cond}"),
            Lean::Fail => assert!(!verdict.passed, "lean disagrees on {cond}"),
            Lean::Unknown => assert!(matches!(c, Condition::Not(_) | Condition::Each(_))),
        }
        verdict
    }

    #[test]
    fn lean_finds_where_passing_evidence_starts() {
        let c = |text: &str| {
            let node = &parse_documents(text).unwrap()[0];
            Condition::parse(node, &mut Diagnostics::new("t", text)).unwrap()
        };
        let doc = &parse_documents(POD).unwrap()[0];
        let names = c(
            "{all: [{key: nothing, exists: false}, {key: 'spec.containers[*].name', \
                       quantifier: some, equals: c}]}",
        );
        assert_eq!(lean(&names, doc), Lean::Pass(Some(Pos::new(6, 13))));
        assert_eq!(evidence_start(&names, doc), Some(Pos::new(6, 13)));
        let first = c("{any: [{key: spec.x, equals: 1}, {key: spec, exists: true}]}");
        assert_eq!(lean(&first, doc), Lean::Pass(Some(Pos::new(2, 3))));
        assert_eq!(lean(&c("{key: spec.x, equals: 1}"), doc), Lean::Fail);
        assert_eq!(
            lean(&c("{not: {key: spec.x, exists: true}}"), doc),
            Lean::Unknown
        );
    }

    /// Where [`evaluate`]'s evidence starts, when the condition passes.
    fn evidence_start(cond: &Condition, doc: &Node) -> Option<Pos> {
        let v = evaluate(cond, doc);
        assert!(v.passed);
        v.evidence.iter().map(|e| e.pos).find(|p| p.line > 0)
    }

    /// The values a failure's message names: path and observed value of each head.
    fn heads(v: &Verdict) -> Vec<(String, String)> {
        v.evidence
            .iter()
            .filter(|e| e.head)
            .map(|e| (e.path.clone(), e.observed.clone()))
            .collect()
    }

    fn pair(path: &str, observed: &str) -> (String, String) {
        (path.to_string(), observed.to_string())
    }

    #[test]
    fn a_failing_any_heads_each_alternative_and_a_failing_all_its_first_failure() {
        // A guard and a requirement: the message names why each does not hold, so the mode shows
        // beside the directory's existence.
        let guard = "{any: [{key: cron.exists, equals: false}, \
                     {all: [{key: cron.mode, equals: '0700'}, {key: cron.owner, equals: root}]}]}";
        let v = check(guard, "cron: {exists: true, mode: '0755', owner: root}\n");
        assert!(!v.passed);
        assert_eq!(
            heads(&v),
            [pair("cron.exists", "true"), pair("cron.mode", "0755")]
        );
        // Of an `all`, the first failing test is named, whatever fails after it.
        let v = check(
            "{all: [{key: a, equals: 1}, {key: b, equals: 2}, {key: c, equals: 3}]}",
            "{a: 1, b: 0, c: 0}\n",
        );
        assert_eq!(v.evidence.len(), 2);
        assert_eq!(heads(&v), [pair("b", "0")]);
        // An `all` of guarded requirements: the first failing one's alternatives.
        let two = format!("{{all: [{guard}, {}]}}", guard.replace("cron", "at"));
        let doc = "cron: {exists: true, mode: '0755', owner: root}\nat: {exists: true, mode: '0750', owner: daemon}\n";
        let v = check(&two, doc);
        assert_eq!(v.evidence.len(), 5);
        assert_eq!(
            heads(&v),
            [pair("cron.exists", "true"), pair("cron.mode", "0755")]
        );
    }

    #[test]
    fn covers_reads_ports_as_firewall_rules_write_them() {
        let passes = |port_spec: &str| {
            let text = format!("p: {port_spec}\n");
            check("{key: p, covers: 22}", &text).passed
        };
        for spec in ["22", "'22'", "'22-22'", "'1-65535'", "' 20 - 25 '", "'*'"] {
            assert!(passes(spec), "{spec} covers 22");
        }
        for spec in [
            "23",
            "'80-443'",
            "'23-21'",
            "var.ssh_port",
            "'22,23'",
            "'-22'",
            "true",
        ] {
            assert!(!passes(spec), "{spec} does not cover 22");
        }
        // Over a list, with a quantifier, as Azure's `destination_port_ranges` and GCP's `ports`.
        let some = "{key: 'ports[*]', quantifier: some, covers: 3389}";
        assert!(check(some, "ports: ['80', '3000-4000']\n").passed);
        assert!(!check(some, "ports: ['80', '443']\n").passed);
        let e = Condition::parse(
            &parse_documents("{key: p, covers: ssh}").unwrap()[0],
            &mut Diagnostics::new("t", "{key: p, covers: ssh}"),
        );
        assert!(e.is_none());
    }

    #[test]
    fn a_some_each_with_nothing_to_visit_says_so() {
        let some = "{each: 'entries[*]', quantifier: some, check: {key: item, equals: core}}";
        let v = check(some, "entries: []\n");
        assert!(!v.passed);
        assert_eq!(heads(&v), [pair("entries[*]", "(empty list)")]);
        let v = check(some, "other: 1\n");
        assert_eq!(heads(&v), [pair("entries[*]", "(no value)")]);
        let field = "{key: 'entries[*].item', quantifier: some, equals: core}";
        assert_eq!(
            heads(&check(field, "entries: []\n")),
            [pair("entries[*].item", "(no value)")]
        );
        let field = "{key: 'items[*]', quantifier: some, equals: core}";
        assert_eq!(
            heads(&check(field, "items: []\n")),
            [pair("items[*]", "(empty list)")]
        );
        let filtered = "{each: 'entries[*]', quantifier: some, where: {key: domain, equals: '*'}, \
                        check: {key: item, equals: core}}";
        let v = check(filtered, "entries: [{domain: admin, item: core}]\n");
        assert!(!v.passed);
        assert_eq!(heads(&v), [pair("entries[*]", "(no element selected)")]);
        // Elements that were visited and failed are the evidence, the first one heading it.
        let v = check(some, "entries: [{item: nofile}, {item: nproc}]\n");
        assert_eq!(v.evidence.len(), 2);
        assert_eq!(heads(&v), [pair("entries[0].item", "nofile")]);
    }

    const POD: &str = "spec:\n  containers:\n    - name: a\n      securityContext: {privileged: true}\n    - name: b\n    - name: c\n      securityContext: {privileged: true}\n";

    #[test]
    fn every_reports_all_failing_elements() {
        let v = check(
            "{key: 'spec.containers[*].securityContext.privileged', default: false, equals: false}",
            POD,
        );
        assert!(!v.passed);
        let lines: Vec<u32> = v.evidence.iter().map(|e| e.pos.line).collect();
        assert_eq!(lines, vec![4, 7]);
        assert_eq!(v.evidence[0].observed, "true");
    }

    #[test]
    fn some_needs_one_match() {
        let v = check(
            "{key: 'spec.containers[*].name', quantifier: some, equals: b}",
            POD,
        );
        assert!(v.passed);
        assert_eq!(v.evidence[0].path, "spec.containers[1].name");
    }

    #[test]
    fn defaults_stand_in_for_absent_keys() {
        let v = check(
            "{key: PermitRootLogin, default: prohibit-password, in: ['no']}",
            "Port: 22\n",
        );
        assert!(!v.passed);
        assert_eq!(
            v.evidence[0].observed,
            "(absent; default: prohibit-password)"
        );
        let v = check("{key: x, in: ['no']}", "Port: 22\n");
        assert!(!v.passed, "absent without default fails closed");
        assert_eq!(v.evidence[0].observed, "(absent)");
    }

    #[test]
    fn split_lists_are_quantified() {
        let doc = "Ciphers: 'aes256-gcm@openssh.com,3des-cbc'\n";
        let v = check(
            "{key: Ciphers, split: ',', in: ['aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com']}",
            doc,
        );
        assert!(!v.passed);
        assert_eq!(v.evidence[0].observed, "3des-cbc");
        assert_eq!(v.evidence[0].path, "Ciphers[1]");
        let v = check(
            "{key: MACs, split: ',', default: 'hmac-md5', in: ['hmac-sha2-512']}",
            doc,
        );
        assert!(!v.passed);
        assert_eq!(
            v.evidence[0].pos.line, 0,
            "a default has no line in the target (not the policy's line)"
        );
    }

    #[test]
    fn every_attributes_failures_to_their_elements_and_some_does_not() {
        let v = check(
            "{key: 'spec.containers[*].securityContext.privileged', default: false, equals: false}",
            POD,
        );
        let owners: Vec<&str> = v
            .evidence
            .iter()
            .map(|e| e.element.as_ref().unwrap().path.as_str())
            .collect();
        assert_eq!(owners, ["spec.containers[0]", "spec.containers[2]"]);
        let v = check(
            "{key: 'spec.containers[*].name', quantifier: some, equals: z}",
            POD,
        );
        assert!(!v.passed);
        assert!(v.evidence.iter().all(|e| e.element.is_none()));
        let v = check(
            "each: 'spec.containers[*]'\ncheck: {key: securityContext.privileged, default: false, equals: false}\n",
            POD,
        );
        let owners: Vec<(&str, u32)> = v
            .evidence
            .iter()
            .map(|e| {
                let el = e.element.as_ref().unwrap();
                (el.path.as_str(), el.pos.line)
            })
            .collect();
        assert_eq!(
            owners,
            [("spec.containers[0]", 3), ("spec.containers[2]", 6)]
        );
        let v = check("not: {key: 'spec.containers[*].name', equals: a}", POD);
        assert!(v.evidence.iter().all(|e| e.element.is_none()));
    }

    #[test]
    fn each_checks_selected_elements_relative_to_themselves() {
        let doc = "servers:\n  - {tls: true, p: 'TLSv1.2'}\n  - {tls: false, p: 'TLSv1'}\n  - {tls: true, p: 'TLSv1 TLSv1.2'}\n";
        let v = check(
            "each: 'servers[*]'\nwhere: {key: tls, equals: true}\ncheck: {key: p, split: ' ', not_in: [TLSv1]}\n",
            doc,
        );
        assert!(!v.passed);
        assert_eq!(v.evidence.len(), 1);
        assert_eq!(v.evidence[0].path, "servers[2].p[0]");
        assert_eq!(v.evidence[0].pos.line, 4);
    }

    #[test]
    fn comparisons_and_composition() {
        assert!(check("{key: n, lte: 4}", "n: '4'\n").passed);
        assert!(!check("{key: n, lt: 4}", "n: '4'\n").passed);
        assert!(
            !check("{key: n, lt: 4}", "n: many\n").passed,
            "incomparable fails"
        );
        assert!(check("{key: v, gte: '1.10'}", "v: 1.10.1\n").passed);
        assert!(check("{key: t, as: duration, lte: 60}", "t: 1m\n").passed);
        assert!(check("any: [{key: a, equals: 1}, {key: b, equals: 2}]", "b: 2\n").passed);
        assert!(!check("all: [{key: a, equals: 1}, {key: b, equals: 2}]", "b: 2\n").passed);
        assert!(check("not: {key: a, exists: true}", "b: 2\n").passed);
        assert!(check("{key: a, absent: true}", "b: 2\n").passed);
        assert!(check("{key: l, contains: x}", "l: [y, x]\n").passed);
        assert!(check("{key: l, excludes: z}", "l: [y, x]\n").passed);
        assert!(check("{key: s, matches: '^TLSv1\\.[23]$'}", "s: TLSv1.3\n").passed);
        assert!(check("{key: s, equals: NO, ignore_case: true}", "s: no\n").passed);
    }

    #[test]
    fn a_long_map_is_shown_as_clipped_json_with_its_full_length() {
        let doc = format!(
            "m:\n{}",
            (0..100)
                .map(|i| format!("  k{i}: é{i}\n"))
                .collect::<String>()
        );
        let v = check("{key: m, equals: 1}", &doc);
        let observed = &v.evidence[0].observed;
        let parsed = &parse_documents(&doc).unwrap()[0];
        let m = parsed.as_map().and_then(|m| m.get("m")).unwrap();
        let full = serde_json::to_string(&m.value).unwrap();
        let shown: String = full.chars().take(MAX_OBSERVED).collect();
        assert_eq!(
            observed,
            &format!("{shown}… ({} characters)", full.chars().count())
        );
        assert!(full.starts_with(r#"{"k0":"é0","k1":"é1""#));
    }
}
