//! The summary of a scan, counted as findings stream past.

use super::{Finding, Header, State, Summary};

/// Counts findings by state, failures by severity, and each control's worst state.
#[derive(Debug, Clone)]
pub struct Tally {
    summary: Summary,
    /// For each control of the header, its worst state so far (`None` before its first finding).
    worst: Vec<Option<State>>,
}

impl Tally {
    /// An empty tally for the controls of `header`.
    pub fn new(header: &Header) -> Tally {
        Tally {
            summary: Summary::default(),
            worst: vec![None; header.controls.len()],
        }
    }

    /// Counts one finding of control `control` (its index in the header).
    pub fn add(&mut self, f: &Finding<'_>, control: usize) {
        let s = &mut self.summary;
        s.total += 1;
        *s.by_state.entry(f.state).or_default() += 1;
        if f.state == State::Fail {
            *s.failures_by_severity.entry(f.severity).or_default() += 1;
        }
        if let Some(w) = self.worst.get_mut(control) {
            if w.is_none_or(|w| f.state.rank() > w.rank()) {
                *w = Some(f.state);
            }
        }
    }

    /// Records that an error finding of another control kept `control` from judging a target:
    /// the control is in `error`, and no finding is counted.
    pub fn block(&mut self, control: usize) {
        if let Some(w) = self.worst.get_mut(control) {
            if w.is_none_or(|w| State::Error.rank() > w.rank()) {
                *w = Some(State::Error);
            }
        }
    }

    /// The worst state of control `control` so far.
    pub fn worst(&self, control: usize) -> Option<State> {
        self.worst.get(control).copied().flatten()
    }

    /// The summary of everything counted.
    pub fn summary(&self) -> Summary {
        let mut s = self.summary.clone();
        s.controls_by_state.clear();
        for w in &self.worst {
            *s.controls_by_state
                .entry(w.unwrap_or(State::NotApplicable))
                .or_default() += 1;
        }
        s
    }
}
