//! The scan plan: policies compiled once into the structures the per-file work needs, so that no
//! glob or regex is built while scanning.

use globset::GlobSet;
use regex::bytes::{RegexSet, RegexSetBuilder};

use crate::collect::walk::{WalkError, glob_set};
use crate::policy::condition::REGEX_SIZE_LIMIT;
use crate::policy::{Check, Control, PolicySet};

/// Compiled policies.
pub struct Plan<'p> {
    /// Every control, in policy order; indices into this list identify controls during the scan.
    pub controls: Vec<&'p Control>,
    /// All `paths` globs of all controls.
    paths: GlobSet,
    /// For each glob of `paths`, the control it belongs to.
    path_owner: Vec<usize>,
    /// Per control, its `exclude` globs (if any).
    excludes: Vec<Option<GlobSet>>,
    /// Every pattern of every pattern control, matched in one pass over a file.
    pub patterns: RegexSet,
    /// For each pattern of `patterns`, the control it belongs to.
    pub pattern_owner: Vec<usize>,
}

impl<'p> Plan<'p> {
    /// Compiles the policies. Globs and regexes were validated when the policies were loaded, so
    /// failures here are limited to resource limits on the combined set.
    pub fn new(policies: &'p PolicySet) -> Result<Plan<'p>, WalkError> {
        let controls: Vec<&Control> = policies.controls().collect();
        let mut globs = Vec::new();
        let mut path_owner = Vec::new();
        let mut excludes = Vec::new();
        let mut sources = Vec::new();
        let mut pattern_owner = Vec::new();
        for (i, c) in controls.iter().enumerate() {
            for g in &c.target.paths {
                globs.push(g.clone());
                path_owner.push(i);
            }
            excludes.push(if c.target.exclude.is_empty() {
                None
            } else {
                Some(glob_set(&c.target.exclude)?)
            });
            if let Check::Pattern(p) = &c.check {
                sources.push(p.source.clone());
                pattern_owner.push(i);
            }
        }
        let patterns = RegexSetBuilder::new(&sources)
            .unicode(false)
            .size_limit(REGEX_SIZE_LIMIT * sources.len().max(1))
            .dfa_size_limit(REGEX_SIZE_LIMIT * 4)
            .build()
            .map_err(|e| WalkError::Glob {
                glob: "(combined policy patterns)".into(),
                message: e.to_string(),
            })?;
        Ok(Plan {
            paths: glob_set(&globs)?,
            controls,
            path_owner,
            excludes,
            patterns,
            pattern_owner,
        })
    }

    /// Control id to its index in [`Plan::controls`]: the order findings are sorted in.
    pub fn control_index(&self) -> std::collections::BTreeMap<&'p str, usize> {
        self.controls
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect()
    }

    /// The controls that apply to a path (matched as displayed and relative to its root), sorted.
    pub fn applicable(&self, display: &str, relative: &str) -> Vec<usize> {
        let mut hits: Vec<usize> = self
            .paths
            .matches(display)
            .into_iter()
            .chain(self.paths.matches(relative))
            .map(|g| self.path_owner[g])
            .collect();
        hits.sort_unstable();
        hits.dedup();
        hits.retain(|&c| {
            self.excludes[c]
                .as_ref()
                .is_none_or(|ex| !ex.is_match(display) && !ex.is_match(relative))
        });
        hits
    }
}
