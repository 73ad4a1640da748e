//! Judging one target: read a file once, ask the collectors that the applicable controls need for
//! their documents, and run every control over the documents of its kind.
//!
//! Nothing here knows a collector: the plan says which collector produces a control's kind for the
//! target's source, and the collector says what it found. One submodule builds verdicts from
//! evaluations ([`verdicts`]), one runs `pattern` checks over raw text ([`pattern`]), and one moves
//! the verdicts of a target with too many to hold to a temporary file ([`spill`]), in the binary
//! form the verdict cache keeps them in too ([`codec`]).

pub mod codec;
mod pattern;
mod spill;
mod verdicts;

use std::borrow::Cow;
use std::collections::BTreeMap;

pub use spill::{Spilled, VERDICTS_IN_MEMORY};
pub use verdicts::Verdict;

use spill::Spill;

use super::plan::Plan;
use crate::collect::buffer::{Budget, Buffer};
use crate::collect::walk::{self, EntryKind};
use crate::collect::{Collected, Input, Request, Settings, Target, Wanted, file};
use crate::policy::{Check, eval};
use crate::results::{State, SuppressionRef};
use crate::workflow::suppressions;

/// How much evidence passing verdicts carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PassEvidence {
    /// Control, target and location only; a pattern that matched nowhere is one verdict for the
    /// whole scan.
    #[default]
    Compact,
    /// Observed values, evidence and a message, and a verdict for every file a pattern was
    /// searched in.
    Full,
}

/// What judging needs besides the target.
pub struct Context<'a> {
    /// The compiled policies.
    pub plan: &'a Plan<'a>,
    /// Scan-wide settings for collectors.
    pub settings: &'a Settings,
    /// What the workers' large files share of memory.
    pub read_budget: &'a Budget,
    /// Larger files are not read.
    pub max_file_size: u64,
    /// Evidence of passing verdicts.
    pub pass_evidence: PassEvidence,
    /// Apply the `vigil:ignore` comments of each file to its failures.
    pub inline_suppressions: bool,
    /// Verdicts a target holds in memory before it moves them to a temporary file
    /// ([`spill::VERDICTS_IN_MEMORY`] unless a test asks for fewer).
    pub verdicts_in_memory: usize,
}

/// The kind a verdict names when it is about a file that could not be read, whatever kinds of
/// facts its controls wanted from it.
pub const FILE_KIND: &str = "file";

/// What one target contributed to the inventory.
#[derive(Debug, Default)]
pub struct Stats {
    /// A regular file was found.
    pub file_seen: bool,
    /// A symbolic link was not followed.
    pub symlink_skipped: bool,
    /// The file was read.
    pub read: bool,
    /// Bytes read.
    pub bytes: u64,
    /// Text checks skipped it as binary.
    pub binary_skipped: bool,
    /// It exceeded the size limit.
    pub too_large: bool,
    /// Documents judged, by variant or kind (`sshd`, `certificate`).
    pub documents: BTreeMap<Cow<'static, str>, u64>,
}

/// Everything one target contributed to the scan.
#[derive(Debug, Default)]
pub struct Judged {
    /// Verdicts, sorted (control, object, element, location) and fingerprinted; none when they
    /// are in `spilled`.
    pub verdicts: Vec<Verdict>,
    /// The verdicts of a target with too many to hold: out of memory, prepared, in sorted order,
    /// and ranked as they are read back ([`Spilled::for_each`]).
    pub spilled: Option<Spilled>,
    /// While the target is judged: verdicts already moved out of memory, prepared but not yet in
    /// sorted order.
    spill: Option<Spill>,
    /// Controls with `expect: absent` patterns that searched this file and found nothing.
    pub clean: Vec<usize>,
    /// Inventory counts.
    pub stats: Stats,
    /// The target's name as findings show it, when it had to be redacted.
    pub shown_name: Option<String>,
    /// The collectors (plan indices, ascending) whose environment its documents depend on
    /// ([`crate::collect::Environment`]).
    pub environments: Vec<usize>,
}

impl Judged {
    /// Moves the verdicts out of memory, prepared by `f`, once there are as many as the scan
    /// lets a target hold.
    fn make_room(&mut self, f: &mut Finisher<'_>) {
        let limit = f.ctx.verdicts_in_memory;
        if self.verdicts.len() >= limit {
            self.spill
                .get_or_insert_with(Spill::default)
                .take(&mut self.verdicts, |v| f.prepare(v));
            self.verdicts.shrink_to(limit);
        }
    }

    /// Whether the target has any verdict.
    pub fn has_verdicts(&self) -> bool {
        !self.verdicts.is_empty() || self.spilled.is_some()
    }
}

/// Adds verdicts to a target's, moving them out of memory as they grow: one evaluation over a
/// list of 100,000 containers gives as many verdicts.
struct Roomy<'j, 'f> {
    out: &'j mut Judged,
    finisher: &'j mut Finisher<'f>,
}

impl Extend<Verdict> for Roomy<'_, '_> {
    fn extend<I: IntoIterator<Item = Verdict>>(&mut self, verdicts: I) {
        for v in verdicts {
            self.out.verdicts.push(v);
            self.out.make_room(self.finisher);
        }
    }
}

/// Verdicts judged before, offered for a file before and after it is read (the verdict cache).
pub trait Memo {
    /// Before anything else: the verdicts of a file that is known not to have changed.
    fn before_read(&mut self, target: &Target) -> Option<Judged>;
    /// Once it is read: the verdicts judged before on the same bytes and owner.
    fn after_read(&mut self, bytes: &[u8], access: crate::collect::gate::Access) -> Option<Judged>;
    /// Whether [`Memo::after_read`] may answer for the file: it holds verdicts judged on the same
    /// path under the same policies, so some control applies to it.
    fn may_answer_after_read(&self) -> bool;
}

/// What to do about a file or directory removed while the scan ran: its contents are unknown, so
/// its controls are in `error` as for any target that could not be read.
const CHANGING_TREE_HINT: &str = "; leave out what changes while it is scanned (--exclude), or accept the gap with --allow-errors";

/// Judges one target. `buf` is the calling worker's read buffer, reused from file to file (the
/// caller trims it once the target's verdicts are made); `memo` may answer for a file instead.
pub fn judge(
    ctx: &Context<'_>,
    target: &Target,
    buf: &mut Buffer<'_>,
    mut memo: Option<&mut dyn Memo>,
) -> Judged {
    let mut out = Judged::default();
    match target {
        Target::File(entry) => {
            // First, before matching the file's path against every control's: the memo keeps
            // only files that some control applied to, under the same policies.
            if entry.kind == EntryKind::File
                && let Some(judged) = memo.as_deref_mut().and_then(|m| m.before_read(target))
            {
                return judged;
            }
            // Matching the path against every control's waits when the memo may answer once the
            // file is read: it only holds files that some control applied to.
            let held = entry.kind == EntryKind::File
                && memo.as_deref().is_some_and(|m| m.may_answer_after_read());
            let mut applicable = if held {
                Vec::new()
            } else {
                ctx.plan.applicable(target)
            };
            match &entry.kind {
                EntryKind::File => out.stats.file_seen = true,
                EntryKind::Symlink => {
                    out.stats.symlink_skipped = true;
                    return out;
                }
                EntryKind::Error(message) => {
                    let blocked = ctx.plan.blockable(&applicable);
                    if !blocked.is_empty() {
                        let hint = if message.ends_with(walk::VANISHED) {
                            CHANGING_TREE_HINT
                        } else {
                            ""
                        };
                        let mut v = Verdict::blocking(ctx.plan, &blocked, None, message, hint);
                        v.kind = Some(FILE_KIND);
                        out.verdicts.push(v);
                    }
                    return finish(ctx, target, None, out);
                }
            }
            if !held && applicable.is_empty() {
                return out;
            }
            let max = ctx.max_file_size;
            let mut hint = "";
            let mut access = None;
            let failure = match file::read_into(&entry.path, max, buf) {
                Ok(file::Loaded::Read(a)) => {
                    access = Some(a);
                    None
                }
                Ok(file::Loaded::TooLarge { size }) => {
                    out.stats.too_large = true;
                    Some(format!(
                        "file is {size} bytes, above the --max-file-size limit of {max} bytes; it was not read"
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    hint = CHANGING_TREE_HINT;
                    Some(walk::VANISHED.to_string())
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    hint = "; run vigil as a user who can read it, or accept the gap with \
                            --allow-errors";
                    Some(format!("cannot read file: {e}"))
                }
                Err(e) => Some(format!("cannot read file: {e}")),
            };
            if let Some(message) = failure {
                if held {
                    applicable = ctx.plan.applicable(target);
                }
                let blocked = ctx.plan.blockable(&applicable);
                if blocked.is_empty() {
                    return out;
                }
                let mut v = Verdict::blocking(ctx.plan, &blocked, None, &message, hint);
                v.kind = Some(FILE_KIND);
                out.verdicts.push(v);
                return finish(ctx, target, None, out);
            }
            let buf = buf.bytes();
            if let (Some(m), Some(a)) = (memo, access)
                && let Some(judged) = m.after_read(buf, a)
            {
                return judged;
            }
            if held {
                applicable = ctx.plan.applicable(target);
                if applicable.is_empty() {
                    return out;
                }
            }
            out.stats.read = true;
            out.stats.bytes = buf.len() as u64;
            let input = Input {
                target,
                bytes: Some(buf),
                binary: file::is_binary(buf),
            };
            judge_input(ctx, &input, &applicable, &mut out);
            return finish(ctx, target, suppression_text(ctx, &input), out);
        }
        _ => {
            let applicable = ctx.plan.applicable(target);
            if applicable.is_empty() {
                return out;
            }
            let input = Input {
                target,
                bytes: None,
                binary: false,
            };
            judge_input(ctx, &input, &applicable, &mut out);
        }
    }
    finish(ctx, target, None, out)
}

/// A control waiting for the documents of its kind and variant.
struct Member {
    control: usize,
    wanted: Wanted,
}

fn judge_input(ctx: &Context<'_>, input: &Input<'_>, applicable: &[usize], out: &mut Judged) {
    let plan = ctx.plan;
    // Prepares the verdicts a target moves out of memory.
    let mut finisher = Finisher::new(ctx, input.target, suppression_text(ctx, input));
    let source = input.target.source();
    let mut patterns: Vec<usize> = Vec::new();
    let mut by_collector: BTreeMap<usize, Vec<Member>> = BTreeMap::new();
    for &ci in applicable {
        let c = plan.controls[ci];
        let Some(coll) = plan.producer(ci, source) else {
            continue;
        };
        // A pattern without `when` needs the raw text only, not the collector's document.
        if matches!(c.check, Check::Pattern(_)) && c.target.when.is_none() {
            patterns.push(ci);
            continue;
        }
        let kind = plan.kinds[ci];
        match plan.collectors[coll].variant(kind, &c.target.options, input.target) {
            Ok(variant) => by_collector.entry(coll).or_default().push(Member {
                control: ci,
                wanted: Wanted { kind, variant },
            }),
            Err(message) => out.verdicts.push(Verdict::error(ci, None, None, message)),
        }
    }
    // Most members give one verdict (a pass, or a failure of one element): room for them up front
    // saves the vector's regrowing, which was a percent of a first scan.
    out.verdicts
        .reserve(by_collector.values().map(Vec::len).sum::<usize>());
    let mut collected = Vec::new();
    for (coll, members) in by_collector {
        let mut wanted: Vec<Wanted> = members.iter().map(|m| m.wanted).collect();
        wanted.sort();
        wanted.dedup();
        debug_assert!(
            plan.prepared[coll].is_some(),
            "a collector judges a target of a kind the plan did not prepare it for"
        );
        let state = plan.prepared[coll]
            .as_ref()
            .map(|p| p.state.as_ref())
            .unwrap_or(&());
        let request = Request {
            wanted: &wanted,
            fields: &plan.fields[coll],
            settings: ctx.settings,
            state,
        };
        collected.clear();
        plan.collectors[coll].collect(input, &request, &mut collected);
        // Only documents of the kinds that depend on the collector's environment make the verdicts
        // depend on it (a text file without certificates does not depend on the clock).
        let environment = plan.prepared[coll]
            .as_ref()
            .and_then(|p| p.environment.as_ref());
        if environment.is_some_and(|e| {
            collected
                .iter()
                .any(|c| matches!(c, Collected::Document { kind, .. } if e.kinds.contains(kind)))
        }) {
            out.environments.push(coll);
        }
        judge_collected(ctx, &members, &collected, &mut patterns, out, &mut finisher);
    }
    if !patterns.is_empty() {
        if input.binary {
            out.stats.binary_skipped = true;
        } else if let Some(bytes) = input.bytes {
            patterns.sort_unstable();
            patterns.dedup();
            pattern::run(ctx, input.target, bytes, &patterns, out, &mut finisher);
        }
    }
}

/// Judges what one collector found with the controls that asked for it.
fn judge_collected(
    ctx: &Context<'_>,
    members: &[Member],
    collected: &[Collected],
    patterns: &mut Vec<usize>,
    out: &mut Judged,
    finisher: &mut Finisher<'_>,
) {
    // Several unlabelled documents of one kind (a multi-document YAML file) are told apart by rank.
    let mut totals: BTreeMap<Wanted, usize> = BTreeMap::new();
    for c in collected {
        if let Collected::Document { kind, variant, .. } = c {
            *totals
                .entry(Wanted {
                    kind,
                    variant: *variant,
                })
                .or_default() += 1;
        }
    }
    let mut ranks: BTreeMap<Wanted, usize> = BTreeMap::new();
    for c in collected {
        // Before each document or error (a bundle of 100,000 broken PEM blocks gives as many):
        // a document's lean passes are one per control, and its evaluations make room as they go.
        out.make_room(finisher);
        match c {
            Collected::Document {
                kind,
                variant,
                document,
            } => {
                let w = Wanted {
                    kind,
                    variant: *variant,
                };
                *out.stats
                    .documents
                    .entry(Cow::Borrowed(variant.unwrap_or(kind)))
                    .or_default() += 1;
                let rank = ranks.entry(w).or_default();
                *rank += 1;
                let object = document.label.clone().or_else(|| {
                    (totals.get(&w).copied().unwrap_or(0) > 1).then(|| format!("document {rank}"))
                });
                for m in members.iter().filter(|m| m.wanted == w) {
                    let c = ctx.plan.controls[m.control];
                    if let Some(when) = &c.target.when {
                        if !eval::holds(when, &document.root) {
                            continue;
                        }
                    }
                    match &c.check {
                        Check::Pattern(_) => patterns.push(m.control),
                        Check::Condition(cond) => {
                            if let Some(pass) = lean_pass(ctx, m.control, document, &object, cond) {
                                out.verdicts.push(pass);
                                continue;
                            }
                            let v = eval::evaluate(cond, &document.root);
                            verdicts::from_evaluation(
                                c,
                                m.control,
                                document,
                                object.clone(),
                                v,
                                ctx.pass_evidence,
                                &mut Roomy {
                                    out: &mut *out,
                                    finisher: &mut *finisher,
                                },
                            );
                        }
                    }
                }
            }
            Collected::Error {
                kind,
                variant,
                pos,
                message,
            } => {
                let blocked: Vec<usize> = members
                    .iter()
                    .filter(|m| {
                        kind.is_none_or(|k| k == m.wanted.kind)
                            && variant.is_none_or(|v| Some(v) == m.wanted.variant)
                    })
                    .map(|m| m.control)
                    .collect();
                if !blocked.is_empty() {
                    let location = pos
                        .filter(|p| p.line > 0)
                        .map(|p| verdicts::location(p, None));
                    out.verdicts
                        .push(Verdict::blocking(ctx.plan, &blocked, location, message, ""));
                }
            }
        }
    }
    out.make_room(finisher);
}

/// The verdict of a condition that passes, when passes are recorded compactly: found without
/// building the evidence that such a verdict leaves out (most verdicts pass). `None` when the
/// condition is to be evaluated in full.
fn lean_pass(
    ctx: &Context<'_>,
    control: usize,
    document: &crate::collect::Document,
    object: &Option<String>,
    cond: &crate::policy::condition::Condition,
) -> Option<Verdict> {
    if ctx.pass_evidence != PassEvidence::Compact {
        return None;
    }
    let eval::Lean::Pass(at) = eval::lean(cond, &document.root) else {
        return None;
    };
    let pass = verdicts::compact_pass(control, document, object.clone(), at);
    #[cfg(debug_assertions)]
    {
        // Every test run checks that the lean answer is the full evaluation's.
        let mut full = Vec::new();
        verdicts::from_evaluation(
            ctx.plan.controls[control],
            control,
            document,
            object.clone(),
            eval::evaluate(cond, &document.root),
            ctx.pass_evidence,
            &mut full,
        );
        assert_eq!(
            full,
            std::slice::from_ref(&pass),
            "lean and full evaluation disagree"
        );
    }
    Some(pass)
}

/// The text whose `vigil:ignore` comments apply to the failures of `input`: a file's, unless
/// it is binary or the scan ignores the comments.
fn suppression_text<'a>(ctx: &Context<'_>, input: &Input<'a>) -> Option<&'a [u8]> {
    input
        .bytes
        .filter(|_| ctx.inline_suppressions && !input.binary)
}

/// Sorts the verdicts of a target and makes them ready to leave the worker ([`Finisher`]); those
/// of a target with too many to hold were prepared as they left memory, and are ranked as the
/// emitter reads them back.
fn finish(ctx: &Context<'_>, target: &Target, text: Option<&[u8]>, mut out: Judged) -> Judged {
    let mut finisher = Finisher::new(ctx, target, text);
    match out.spill.take() {
        None => {
            out.verdicts.sort_by(Verdict::order);
            for v in &mut out.verdicts {
                finisher.prepare(v);
                finisher.rank(v);
            }
        }
        Some(spill) => {
            // Ranked as the emitter reads them back.
            let rest = std::mem::take(&mut out.verdicts);
            out.spilled = Some(spill.finish(rest, |v| finisher.prepare(v)));
        }
    }
    if out.has_verdicts() {
        if let std::borrow::Cow::Owned(s) = crate::scrub::scrub(target.name()) {
            out.shown_name = Some(s);
        }
    }
    out
}

/// The kinds a verdict of `plan` may name.
pub fn verdict_kinds(plan: &Plan<'_>) -> Vec<&'static str> {
    let mut kinds = plan.kinds.clone();
    kinds.push(FILE_KIND);
    kinds
}

/// Makes a target's verdicts ready to leave the worker: applies the file's `vigil:ignore` comments,
/// fingerprints failures and errors, clips messages and redacts every string
/// ([`Finisher::prepare`], in any order, so before a verdict is moved out of memory too), then
/// tells identical fingerprints apart ([`Finisher::rank`], in sorted order).
struct Finisher<'a> {
    ctx: &'a Context<'a>,
    target: &'a Target,
    /// The file's text, when its `vigil:ignore` comments apply.
    text: Option<&'a [u8]>,
    /// Its comments, read at the first failure they might cover.
    suppressions: Option<suppressions::Suppressions>,
    ranks: verdicts::Ranks,
    /// Every control's verdict about an object names it: each name is redacted once per target.
    objects: Vec<(String, String)>,
}

impl<'a> Finisher<'a> {
    fn new(ctx: &'a Context<'a>, target: &'a Target, text: Option<&'a [u8]>) -> Finisher<'a> {
        Finisher {
            ctx,
            target,
            text,
            suppressions: None,
            ranks: verdicts::Ranks::default(),
            objects: Vec::new(),
        }
    }

    /// Records `v` as `suppressed` when it is a failure that a `vigil:ignore` comment of the file
    /// covers: one naming the control and giving a reason, on the failure's line (or file-wide).
    /// A failure located in another file (an sshd `Include`) is that file's, and errors are never
    /// suppressed: what could not be judged stays visible. Controls of companion kinds (those that
    /// judge the suppressions themselves) cannot be suppressed.
    fn suppress(&mut self, v: &mut Verdict) {
        let plan = self.ctx.plan;
        let Some(text) = self.text else {
            return;
        };
        if v.state != State::Fail || plan.companion[v.control] {
            return;
        }
        let line = match &v.location {
            Some(l) if l.path.is_some() => return,
            Some(l) => Some(l.line),
            None => None,
        };
        let found = self
            .suppressions
            .get_or_insert_with(|| suppressions::parse(text));
        if let Some(s) = found.covering(&plan.controls[v.control].id, line) {
            v.state = State::Suppressed;
            v.suppression = Some(SuppressionRef {
                line: s.line,
                reason: s.reason.clone(),
            });
        }
    }

    /// What finishing does to `v` alone.
    fn prepare(&mut self, v: &mut Verdict) {
        self.suppress(v);
        verdicts::fingerprint(self.ctx.plan, self.target, v);
        // Whatever the control, nothing the secrets pack would recognise leaves the scanner:
        // every string a verdict carries is redacted here, on the worker, before it is written.
        let scrub = crate::scrub::scrub_owned;
        v.message = v.message.take().map(|m| scrub(verdicts::clip_message(m)));
        v.observed = v.observed.take().map(scrub);
        v.object = v.object.take().map(|o| {
            if let Some((_, shown)) = self.objects.iter().find(|(raw, _)| *raw == o) {
                return shown.clone();
            }
            let shown = scrub(o.clone());
            self.objects.push((o, shown.clone()));
            shown
        });
        v.element = v.element.take().map(scrub);
        if let Some(s) = &mut v.suppression {
            s.reason = scrub(std::mem::take(&mut s.reason));
        }
        for e in &mut v.evidence {
            e.observed = scrub(std::mem::take(&mut e.observed));
        }
    }

    /// Tells `v` apart from identical verdicts before it, in sorted order.
    fn rank(&mut self, v: &mut Verdict) {
        self.ranks.rank(v);
    }
}
