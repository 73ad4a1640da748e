//! Baselines: the failures a team has already seen and accepted as its starting point, so that a
//! CI gate fails only on what is new. A baseline is made from a result (`vigil baseline create`)
//! and holds each failure's fingerprint, which depends on the control, the target, the object and
//! element, the observed value and the fields of the evidence, never on line numbers: moving lines
//! keeps a finding known, changing the offending value makes it new. A scan given the baseline
//! records known failures as `baselined` (not counted by `--fail-on`) and reports the known ones
//! that no longer fail as fixed.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::results::{Finding, Header, KnownFailures, Sink, State, Trailer};

/// The version of the baseline file's shape.
pub const BASELINE_VERSION: u32 = 1;

/// A baseline file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    pub baseline_version: u32,
    /// The integrity digest of the result it was made from.
    pub made_from: String,
    /// The known failures, sorted.
    pub findings: Vec<Known>,
}

/// One known failure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Known {
    pub control: String,
    pub fingerprint: String,
    /// The file, endpoint or host, for people reading the baseline.
    pub target: String,
}

/// A loaded baseline, for a scan.
#[derive(Debug)]
pub struct Baseline {
    file: String,
    known: Vec<Known>,
    index: HashMap<String, usize>,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let b: BaselineFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not a vigil baseline: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if b.baseline_version != BASELINE_VERSION {
            return Err(format!(
                "{}: baseline version {} is not supported (this vigil reads {BASELINE_VERSION})",
                path.display(),
                b.baseline_version
            ));
        }
        let index = b
            .findings
            .iter()
            .enumerate()
            .map(|(i, k)| (k.fingerprint.clone(), i))
            .collect();
        Ok(Baseline {
            file: path.display().to_string(),
            known: b.findings,
            index,
        })
    }

    /// How many failures it knows.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The known failure `f` is, as an index.
    pub fn find(&self, f: &Finding<'_>) -> Option<usize> {
        if !matches!(f.state, State::Fail | State::Error) {
            return None;
        }
        let i = *self.index.get(f.fingerprint.as_deref()?)?;
        (self.known[i].control == f.control).then_some(i)
    }

    /// What became of the known failures, given which were seen again.
    pub fn report(&self, seen: &[bool]) -> KnownFailures {
        let fixed: Vec<crate::results::KnownFailure> = self
            .known
            .iter()
            .zip(seen)
            .filter(|(_, s)| !**s)
            .map(|(k, _)| crate::results::KnownFailure {
                control: k.control.clone(),
                fingerprint: k.fingerprint.clone(),
                target: k.target.clone(),
            })
            .collect();
        KnownFailures {
            baseline: self.file.clone(),
            known: self.known.len() as u64,
            still_failing: seen.iter().filter(|s| **s).count() as u64,
            fixed,
        }
    }
}

/// Makes a baseline from a saved result: every failure and error with a fingerprint.
pub fn create(results: &Path) -> Result<BaselineFile, String> {
    let mut known = Vec::new();
    let trailer = crate::results::read::replay(results, vec![Box::new(Collect(&mut known))])
        .map_err(|e| format!("{}: {e}", results.display()))?;
    known.sort();
    known.dedup();
    Ok(BaselineFile {
        baseline_version: BASELINE_VERSION,
        made_from: trailer.integrity.digest,
        findings: known,
    })
}

/// A sink that keeps the failures of a result.
struct Collect<'k>(&'k mut Vec<Known>);

impl Sink for Collect<'_> {
    fn begin(&mut self, _header: &Header) -> io::Result<()> {
        Ok(())
    }

    fn finding(&mut self, f: &Finding<'_>, _control: usize, _canonical: &[u8]) -> io::Result<()> {
        // Known failures stay known: a finding baselined in the result is kept too.
        if matches!(f.state, State::Fail | State::Error | State::Baselined)
            && let Some(fp) = &f.fingerprint
        {
            self.0.push(Known {
                control: f.control.to_string(),
                fingerprint: fp.clone(),
                target: f.target.name().unwrap_or("*").to_string(),
            });
        }
        Ok(())
    }

    fn finish(&mut self, _header: &Header, _trailer: &Trailer) -> io::Result<()> {
        Ok(())
    }
}
