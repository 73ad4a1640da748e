//! What the console, Markdown and HTML reports are rendered from: per control, the count of findings
//! in each state and the first findings of each (bounded samples); the full list stays in the JSON
//! result. Memory does not grow with the number of findings.

use std::collections::BTreeMap;

use crate::results::{Finding, Header, State};

/// Findings kept per control and per group (failures and errors; the rest).
pub const SAMPLES_PER_CONTROL: usize = 200;

/// Waived, suppressed and baselined findings kept for the section they share.
pub const WAIVED_SAMPLES: usize = 1000;

/// Whether a state is a failure someone accepted: waived, suppressed inline, or baselined.
pub fn accepted(state: State) -> bool {
    matches!(state, State::Waived | State::Suppressed | State::Baselined)
}

/// One control's findings: counts and samples.
#[derive(Debug, Clone, Default)]
pub struct ControlFindings {
    /// Findings by state.
    pub counts: BTreeMap<State, u64>,
    /// The first failures and errors, in result order.
    pub bad: Vec<Finding<'static>>,
    /// The first passing and not-applicable findings, in result order.
    pub rest: Vec<Finding<'static>>,
    /// Errors of other controls that also kept this one from judging a target (counted there).
    pub blocked: u64,
}

impl ControlFindings {
    /// Findings in `state`.
    pub fn count(&self, state: State) -> u64 {
        self.counts.get(&state).copied().unwrap_or(0)
    }

    /// The control's worst state: a control blocked by an unreadable target is in error.
    pub fn state(&self) -> State {
        let blocked = (self.blocked > 0).then_some(State::Error);
        State::worst(self.counts.keys().copied().chain(blocked))
    }

    /// Failures and errors.
    pub fn bad_count(&self) -> u64 {
        self.count(State::Fail) + self.count(State::Error)
    }

    /// Everything but accepted findings: waived, suppressed and baselined ones have a section of
    /// their own.
    pub fn shown_count(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(s, _)| !accepted(**s))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Counts and samples of a whole result.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    /// Per control of the header, in header order.
    pub controls: Vec<ControlFindings>,
    /// The first accepted findings: waived, suppressed and baselined.
    pub waived: Vec<Finding<'static>>,
    /// All accepted findings.
    pub waived_total: u64,
}

impl Aggregate {
    /// An empty aggregate for the controls of `header`.
    pub fn new(header: &Header) -> Aggregate {
        Aggregate {
            controls: vec![ControlFindings::default(); header.controls.len()],
            ..Aggregate::default()
        }
    }

    /// Counts a finding of the control at `control`, and keeps it if its group has room.
    pub fn add(&mut self, f: &Finding<'_>, control: usize) {
        let Some(c) = self.controls.get_mut(control) else {
            return;
        };
        *c.counts.entry(f.state).or_default() += 1;
        let group = match f.state {
            State::Fail | State::Error => &mut c.bad,
            State::Waived | State::Suppressed | State::Baselined => {
                self.waived_total += 1;
                if self.waived.len() < WAIVED_SAMPLES {
                    self.waived.push(f.clone().into_owned());
                }
                return;
            }
            State::Pass | State::NotApplicable => &mut c.rest,
        };
        if group.len() < SAMPLES_PER_CONTROL {
            group.push(f.clone().into_owned());
        }
    }

    /// Notes an error of another control that also blocked the control at `control`: the control
    /// shows it among its failures and errors, without counting it again.
    pub fn block(&mut self, f: &Finding<'_>, control: usize) {
        let Some(c) = self.controls.get_mut(control) else {
            return;
        };
        c.blocked += 1;
        if c.bad.len() < SAMPLES_PER_CONTROL {
            c.bad.push(f.clone().into_owned());
        }
    }
}
