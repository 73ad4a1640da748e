//! What changed between two runs: new failures, resolved ones, verdicts whose state changed, and
//! failures that are still there.
//!
//! Verdicts stored identically in both runs are never read: only those that differ (by their
//! canonical form) are compared, so comparing two nights where little changed reads little. Two
//! differing verdicts are the same finding when they share their control and fingerprint (a
//! failure whose lines moved), or, when the newer one has no fingerprint (a pass), their control
//! and target (a control that failed and now passes on the same element).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::policy::Severity;
use crate::results::{Finding, State};

/// Version of the diff document's shape.
pub const DIFF_VERSION: u32 = 1;

/// One side of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RunRef {
    /// The run's id in the history (absent for a result file compared directly).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run: Option<i64>,
    /// The result file, when a file was compared.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// The machine that ran the scan.
    pub host: String,
    /// When the scan started.
    pub started_at: String,
    /// The result's integrity digest.
    pub digest: String,
}

/// A finding in a comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub control: String,
    pub severity: Severity,
    /// Its state in the newer run (in the older one for a resolved failure).
    pub state: State,
    /// Its state in the older run, for a changed verdict.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub was: Option<State>,
    /// The file, endpoint or host, with object and element.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub observed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fingerprint: Option<String>,
}

impl Item {
    /// The item for a finding.
    pub fn of(f: &Finding<'_>) -> Item {
        Item {
            control: f.control.to_string(),
            severity: f.severity,
            state: f.state,
            was: None,
            target: f.target.describe(),
            location: f.location.as_ref().map(|l| l.describe()),
            observed: f.observed.clone(),
            message: f.message.clone(),
            fingerprint: f.fingerprint.clone(),
        }
    }

    /// Report order: most severe first, then control, then target.
    fn order(a: &Item, b: &Item) -> std::cmp::Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.control.cmp(&b.control))
            .then_with(|| a.target.cmp(&b.target))
            .then_with(|| a.location.cmp(&b.location))
    }
}

/// How many findings fell in each class.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Failing now (fail or error), passing, not applicable or absent before.
    pub new: u64,
    /// Failing before, passing, not applicable or absent now.
    pub resolved: u64,
    /// In both runs with another state (a failure now waived, a waiver that expired).
    pub changed: u64,
    /// Failing in both runs.
    pub still_failing: u64,
    /// In both runs with the same state, and not failing.
    pub unchanged: u64,
}

/// A comparison of two runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    pub diff_version: u32,
    /// The older run.
    pub from: RunRef,
    /// The newer run.
    pub to: RunRef,
    pub counts: Counts,
    pub new: Vec<Item>,
    pub resolved: Vec<Item>,
    pub changed: Vec<Item>,
    /// Failing in both runs (the first `limit` when the caller asked for fewer).
    pub still_failing: Vec<Item>,
}

fn failing(s: State) -> bool {
    matches!(s, State::Fail | State::Error)
}

fn judged_clean(s: State) -> bool {
    matches!(s, State::Pass | State::NotApplicable)
}

/// The classes of the findings that differ between two runs (`old_only`, `new_only`: those whose
/// canonical form is in one run only), added to `diff`.
pub fn classify(old_only: Vec<Finding<'static>>, new_only: Vec<Finding<'static>>, diff: &mut Diff) {
    let mut taken = vec![false; new_only.len()];
    let mut by_fp: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut by_target: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    for (i, f) in new_only.iter().enumerate() {
        // Two fingerprinted findings are the same only when their fingerprints are: a failure
        // whose value changed is another failure. A finding without one (a pass) is matched by
        // its control and target.
        match &f.fingerprint {
            Some(fp) => by_fp.entry((&f.control, fp)).or_default().push(i),
            None => by_target
                .entry((&f.control, f.target.describe()))
                .or_default()
                .push(i),
        }
    }
    let take = |list: Option<&Vec<usize>>, taken: &mut Vec<bool>| -> Option<usize> {
        let i = *list?.iter().find(|&&i| !taken[i])?;
        taken[i] = true;
        Some(i)
    };
    let mut pairs: Vec<(usize, Option<usize>)> = Vec::with_capacity(old_only.len());
    let mut unmatched = Vec::new();
    for (o, f) in old_only.iter().enumerate() {
        let hit = f
            .fingerprint
            .as_deref()
            .and_then(|fp| take(by_fp.get(&(&*f.control, fp)), &mut taken));
        match hit {
            Some(n) => pairs.push((o, Some(n))),
            None => unmatched.push(o),
        }
    }
    for o in unmatched {
        let f = &old_only[o];
        let n = take(
            by_target.get(&(&*f.control, f.target.describe())),
            &mut taken,
        );
        pairs.push((o, n));
    }
    // A target that could not be read now has one `error` naming every control it blocked: a
    // failure of one of them there is not resolved, it changed to `error` (and the error is not new).
    let mut covering = vec![false; new_only.len()];
    let blocker = |old: &Finding<'_>, covering: &mut Vec<bool>| -> Option<usize> {
        let i = new_only.iter().enumerate().position(|(i, f)| {
            !taken[i]
                && f.state == State::Error
                && f.target.name() == old.target.name()
                && (f.control == old.control || f.blocked_controls.contains(&old.control))
        })?;
        covering[i] = true;
        Some(i)
    };
    for (o, n) in pairs {
        let old = &old_only[o];
        let Some(n) = n else {
            if old.state == State::Fail
                && let Some(e) = blocker(old, &mut covering)
            {
                let mut item = Item::of(old);
                item.state = State::Error;
                item.was = Some(State::Fail);
                item.message = new_only[e].message.clone();
                diff.changed.push(item);
            } else if failing(old.state) {
                diff.resolved.push(Item::of(old));
            }
            continue;
        };
        let new = &new_only[n];
        let (a, b) = (old.state, new.state);
        if a == b {
            if failing(b) {
                diff.still_failing.push(Item::of(new));
                diff.counts.still_failing += 1;
            } else {
                diff.counts.unchanged += 1;
            }
        } else if failing(a) && judged_clean(b) {
            diff.resolved.push(Item::of(old));
        } else if judged_clean(a) && failing(b) {
            diff.new.push(Item::of(new));
        } else {
            let mut item = Item::of(new);
            item.was = Some(a);
            diff.changed.push(item);
        }
    }
    for (n, f) in new_only.iter().enumerate() {
        if !taken[n] && !covering[n] && failing(f.state) {
            diff.new.push(Item::of(f));
        }
    }
    diff.counts.new = diff.new.len() as u64;
    diff.counts.resolved = diff.resolved.len() as u64;
    diff.counts.changed = diff.changed.len() as u64;
    for list in [
        &mut diff.new,
        &mut diff.resolved,
        &mut diff.changed,
        &mut diff.still_failing,
    ] {
        list.sort_by(Item::order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Location, Target};

    fn finding(
        control: &str,
        file: &str,
        state: State,
        fp: Option<&str>,
        line: u32,
    ) -> Finding<'static> {
        Finding {
            blocked_controls: Vec::new(),
            control: control.to_string().into(),
            evidence: Vec::new(),
            fingerprint: fp.map(str::to_string),
            location: Some(Location {
                column: None,
                end_column: None,
                line,
                path: None,
            }),
            message: None,
            observed: None,
            severity: Severity::High,
            state,
            suppression: None,
            target: Target {
                element: None,
                endpoint: None,
                file: Some(file.to_string().into()),
                host: None,
                kind: "config".into(),
                object: None,
            },
            waiver: None,
        }
    }

    fn empty() -> Diff {
        let r = RunRef {
            run: None,
            file: None,
            host: String::new(),
            started_at: String::new(),
            digest: String::new(),
        };
        Diff {
            diff_version: DIFF_VERSION,
            from: r.clone(),
            to: r,
            counts: Counts::default(),
            new: Vec::new(),
            resolved: Vec::new(),
            changed: Vec::new(),
            still_failing: Vec::new(),
        }
    }

    #[test]
    fn moved_failure_is_still_failing_and_a_new_value_is_new() {
        let mut d = empty();
        classify(
            vec![
                finding("A", "x", State::Fail, Some("fp1"), 3),
                finding("B", "x", State::Fail, Some("fp2"), 5),
                finding("C", "x", State::Fail, Some("fp3"), 7),
                finding("D", "x", State::Pass, None, 9),
            ],
            vec![
                // A moved two lines down.
                finding("A", "x", State::Fail, Some("fp1"), 5),
                // B now fails with another value: its old failure is resolved, this one is new.
                finding("B", "x", State::Fail, Some("fp9"), 5),
                // C is waived now.
                finding("C", "x", State::Waived, Some("fp3"), 7),
                // D fails now.
                finding("D", "x", State::Fail, Some("fp4"), 9),
            ],
            &mut d,
        );
        let ids = |l: &[Item]| l.iter().map(|i| i.control.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.still_failing), ["A"]);
        assert_eq!(ids(&d.new), ["B", "D"]);
        assert_eq!(ids(&d.resolved), ["B"]);
        assert_eq!(ids(&d.changed), ["C"]);
        assert_eq!(d.changed[0].was, Some(State::Fail));
        assert_eq!(d.resolved[0].fingerprint.as_deref(), Some("fp2"));
    }

    #[test]
    fn a_failure_whose_file_became_unreadable_changed_to_error() {
        let mut d = empty();
        let mut error = finding("B", "x", State::Error, Some("fp9"), 1);
        error.blocked_controls = vec!["A".into(), "B".into()];
        classify(
            vec![finding("A", "x", State::Fail, Some("fp1"), 3)],
            vec![error],
            &mut d,
        );
        assert_eq!(d.counts.resolved, 0);
        assert_eq!(d.counts.new, 0);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].control, "A");
        assert_eq!(d.changed[0].was, Some(State::Fail));
        assert_eq!(d.changed[0].state, State::Error);
    }

    #[test]
    fn failure_that_now_passes_or_vanished_is_resolved() {
        let mut d = empty();
        classify(
            vec![
                finding("A", "x", State::Fail, Some("fp1"), 3),
                finding("B", "gone", State::Error, Some("fp2"), 1),
            ],
            vec![finding("A", "x", State::Pass, None, 3)],
            &mut d,
        );
        assert_eq!(d.counts.resolved, 2);
        assert_eq!(d.counts.new, 0);
        assert_eq!(d.counts.changed, 0);
    }
}
