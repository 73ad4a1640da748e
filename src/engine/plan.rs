//! The scan plan: policies compiled once into the structures the per-file work needs, so that no
//! glob or regex is built while scanning.

use globset::GlobSet;

use super::patterns::PatternScanner;
use crate::collect::walk::{WalkError, glob_set};
use crate::policy::{Check, Control, PolicySet};

/// Compiled policies.
pub struct Plan<'p> {
    /// Every control, in policy order; indices into this list identify controls during the scan.
    pub controls: Vec<&'p Control>,
    /// All `paths` globs of all target groups.
    paths: GlobSet,
    /// For each glob of `paths`, the target group it belongs to.
    path_owner: Vec<usize>,
    /// Controls that share the same `paths` and `exclude` (a whole pack, usually) are matched once.
    targets: Vec<TargetGroup>,
    /// Every pattern of every pattern control.
    pub patterns: PatternScanner,
}

/// Controls with identical `paths` and `exclude` globs.
struct TargetGroup {
    exclude: Option<GlobSet>,
    controls: Vec<usize>,
}

impl<'p> Plan<'p> {
    /// Compiles the policies. Globs and regexes were validated when the policies were loaded, so
    /// failures here are limited to resource limits on the combined set.
    pub fn new(policies: &'p PolicySet) -> Result<Plan<'p>, WalkError> {
        let controls: Vec<&Control> = policies.controls().collect();
        let mut keys: Vec<(&[String], &[String])> = Vec::new();
        let mut targets: Vec<TargetGroup> = Vec::new();
        let mut globs = Vec::new();
        let mut path_owner = Vec::new();
        let mut patterns = Vec::new();
        for (i, c) in controls.iter().enumerate() {
            let key = (c.target.paths.as_slice(), c.target.exclude.as_slice());
            match keys.iter().position(|k| *k == key) {
                Some(g) => targets[g].controls.push(i),
                None => {
                    let g = targets.len();
                    keys.push(key);
                    for glob in &c.target.paths {
                        globs.push(glob.clone());
                        path_owner.push(g);
                    }
                    targets.push(TargetGroup {
                        exclude: if c.target.exclude.is_empty() {
                            None
                        } else {
                            Some(glob_set(&c.target.exclude)?)
                        },
                        controls: vec![i],
                    });
                }
            }
            if let Check::Pattern(p) = &c.check {
                patterns.push((p.source.clone(), i));
            }
        }
        let patterns = PatternScanner::new(&patterns).map_err(|e| WalkError::Glob {
            glob: "(combined policy patterns)".into(),
            message: e.to_string(),
        })?;
        Ok(Plan {
            paths: glob_set(&globs)?,
            controls,
            path_owner,
            targets,
            patterns,
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
        let mut groups: Vec<usize> = self
            .paths
            .matches(display)
            .into_iter()
            .chain(self.paths.matches(relative))
            .map(|g| self.path_owner[g])
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let mut hits: Vec<usize> = groups
            .into_iter()
            .map(|g| &self.targets[g])
            .filter(|t| {
                t.exclude
                    .as_ref()
                    .is_none_or(|ex| !ex.is_match(display) && !ex.is_match(relative))
            })
            .flat_map(|t| t.controls.iter().copied())
            .collect();
        hits.sort_unstable();
        hits
    }
}
