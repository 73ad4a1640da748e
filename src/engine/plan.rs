//! The scan plan: policies compiled once into what the per-target work needs, so that no glob or
//! regex is built while scanning, and each control knows which collector produces its facts for
//! each source of targets.

use std::collections::BTreeMap;

use globset::{Candidate, GlobSet};

use super::patterns::PatternScanner;
use crate::collect::walk::{WalkError, glob_set};
use crate::collect::{
    Collector, Fields, KindFields, PrepareError, Registry, Settings, Source, Target,
};
use crate::policy::{Check, Control, PolicySet};

/// Compiled policies.
pub struct Plan<'p> {
    /// Every control, in policy order; indices into this list identify controls during the scan.
    pub controls: Vec<&'p Control>,
    /// For each control, its kind as registered.
    pub kinds: Vec<&'static str>,
    /// For each control, whether its kind comes from companion collectors only
    /// ([`Collector::companion`]): judged only on targets another control applies to.
    pub companion: Vec<bool>,
    /// For each control and source, the collector (index into `collectors`) that produces its kind.
    producers: Vec<BTreeMap<Source, usize>>,
    /// The registry's collectors.
    pub collectors: Vec<&'p dyn Collector>,
    /// What each collector prepared for this scan (`None` for collectors no control uses, and for
    /// those whose kind of target the scan does not have).
    pub prepared: Vec<Option<crate::collect::Prepared>>,
    /// For each collector, the fact fields its controls read.
    pub fields: Vec<KindFields>,
    /// All `paths` globs of all target groups.
    paths: GlobSet,
    /// For each glob of `paths`, the target group it belongs to.
    path_owner: Vec<usize>,
    /// Controls that share the same `paths` and `exclude` (a whole pack, usually) are matched once.
    targets: Vec<TargetGroup>,
    /// Controls that judge endpoints or hosts, by source.
    non_file: BTreeMap<Source, Vec<usize>>,
    /// Every pattern of every pattern control.
    pub patterns: PatternScanner,
}

/// Controls with identical `paths` and `exclude` globs.
struct TargetGroup {
    exclude: Option<GlobSet>,
    controls: Vec<usize>,
}

/// Why a plan cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A glob or the combined pattern set does not compile.
    #[error(transparent)]
    Glob(#[from] WalkError),
    /// A control names a kind no collector of the registry produces.
    #[error("control {control}: no collector produces kind `{kind}`")]
    UnknownKind {
        /// The control.
        control: String,
        /// Its kind.
        kind: String,
    },
    /// A collector could not prepare (an unreadable `--trust-store`).
    #[error(transparent)]
    Prepare(#[from] PrepareError),
}

impl<'p> Plan<'p> {
    /// Compiles the policies against `registry` and prepares every collector a control needs for
    /// the kinds of target this scan has (`sources`): a collector that will see no target is not
    /// prepared, so a scan of files never loads the trust store a second time for TLS endpoints.
    /// Globs and regexes were validated when the policies were loaded, so failures here are limited
    /// to resource limits on the combined sets and to collectors that cannot start.
    pub fn new(
        policies: &'p PolicySet,
        registry: &'p Registry,
        settings: &Settings,
        sources: &[Source],
    ) -> Result<Plan<'p>, PlanError> {
        let controls: Vec<&Control> = policies.controls().collect();
        let collectors: Vec<&dyn Collector> =
            registry.collectors().iter().map(|c| c.as_ref()).collect();
        let mut kinds = Vec::new();
        let mut companion = Vec::new();
        let mut producers = Vec::new();
        let mut used = vec![false; collectors.len()];
        let mut fields = vec![KindFields::default(); collectors.len()];
        let mut non_file: BTreeMap<Source, Vec<usize>> = BTreeMap::new();
        let mut keys: Vec<(&[String], &[String])> = Vec::new();
        let mut targets: Vec<TargetGroup> = Vec::new();
        let mut globs = Vec::new();
        let mut path_owner = Vec::new();
        let mut patterns = Vec::new();
        for (i, c) in controls.iter().enumerate() {
            let kind = registry
                .kind(&c.target.kind)
                .ok_or_else(|| PlanError::UnknownKind {
                    control: c.id.clone(),
                    kind: c.target.kind.clone(),
                })?;
            kinds.push(kind);
            companion.push(registry.producers(kind).all(|(_, c)| c.companion()));
            let mut by_source = BTreeMap::new();
            for (ci, coll) in registry.producers(kind) {
                by_source.entry(coll.source()).or_insert(ci);
            }
            let mut read = match &c.check {
                Check::Condition(cond) => cond.fields(),
                Check::Pattern(_) => Fields::none(),
            };
            if let Some(when) = &c.target.when {
                read.merge(&when.fields());
            }
            for (&source, &ci) in &by_source {
                used[ci] = true;
                fields[ci].add(kind, &read);
                if source != Source::File {
                    non_file.entry(source).or_default().push(i);
                }
            }
            if by_source.contains_key(&Source::File) && !c.target.paths.is_empty() {
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
            }
            producers.push(by_source);
            if let Check::Pattern(p) = &c.check {
                patterns.push((p.source.clone(), i));
            }
        }
        let patterns = PatternScanner::new(&patterns).map_err(|e| WalkError::Glob {
            glob: "(combined policy patterns)".into(),
            message: e.to_string(),
        })?;
        let mut prepared = Vec::new();
        for (c, used) in collectors.iter().zip(used) {
            prepared.push(if used && sources.contains(&c.source()) {
                Some(c.prepare(settings)?)
            } else {
                None
            });
        }
        Ok(Plan {
            paths: glob_set(&globs)?,
            controls,
            kinds,
            companion,
            producers,
            collectors,
            prepared,
            fields,
            path_owner,
            targets,
            non_file,
            patterns,
        })
    }

    /// The collector (index) that produces control `control`'s kind for targets of `source`.
    pub fn producer(&self, control: usize, source: Source) -> Option<usize> {
        self.producers[control].get(&source).copied()
    }

    /// The controls that apply to a target, sorted: by `paths` for files (matched as displayed and
    /// relative to its root), by `tags` for endpoints and hosts. Companion controls apply only
    /// along with another control.
    pub fn applicable(&self, target: &Target) -> Vec<usize> {
        let mut hits = self.selected(target);
        if hits.iter().all(|&i| self.companion[i]) {
            hits.clear();
        }
        hits
    }

    /// The controls of `applicable` that a target that cannot be read keeps from judging: all but
    /// the companion ones, which judge along with them and would only repeat their error.
    pub fn blockable(&self, applicable: &[usize]) -> Vec<usize> {
        applicable
            .iter()
            .copied()
            .filter(|&i| !self.companion[i])
            .collect()
    }

    fn selected(&self, target: &Target) -> Vec<usize> {
        match target {
            Target::File(entry) => self.applicable_file(&entry.display, &entry.relative),
            other => {
                let tags = other.tags();
                self.non_file
                    .get(&other.source())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&i| {
                        let wanted = &self.controls[i].target.tags;
                        wanted.is_empty() || wanted.iter().any(|t| tags.contains(t))
                    })
                    .collect()
            }
        }
    }

    fn applicable_file(&self, display: &str, relative: &str) -> Vec<usize> {
        // One candidate per spelling of the path, shared by every glob set: building a candidate
        // normalises the path and finds its name and extension.
        let shown = Candidate::new(display);
        let rel = Candidate::new(relative);
        let mut groups = Vec::new();
        let mut more = Vec::new();
        self.paths.matches_candidate_into(&shown, &mut groups);
        self.paths.matches_candidate_into(&rel, &mut more);
        groups.append(&mut more);
        for g in &mut groups {
            *g = self.path_owner[*g];
        }
        groups.sort_unstable();
        groups.dedup();
        let mut hits: Vec<usize> = groups
            .into_iter()
            .map(|g| &self.targets[g])
            .filter(|t| {
                t.exclude
                    .as_ref()
                    .is_none_or(|ex| !ex.is_match_candidate(&shown) && !ex.is_match_candidate(&rel))
            })
            .flat_map(|t| t.controls.iter().copied())
            .collect();
        hits.sort_unstable();
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which collectors (by source) the certificates pack gets prepared for a scan of `sources`.
    fn prepared_sources(sources: &[Source]) -> Vec<Source> {
        let policies = PolicySet::load(&[std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/certificates.yaml"
        ))])
        .unwrap();
        let registry = Registry::builtin();
        let settings = Settings {
            at: time::OffsetDateTime::UNIX_EPOCH,
            trust_store: Some(
                concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/certs/ca/root.pem").into(),
            ),
            gate: crate::collect::gate::Gate::for_paths(&[], 1 << 20),
            net: Default::default(),
            control_ids: Vec::new().into(),
        };
        let plan = Plan::new(&policies, &registry, &settings, sources).unwrap();
        let mut out: Vec<Source> = plan
            .collectors
            .iter()
            .zip(&plan.prepared)
            .filter(|(_, p)| p.is_some())
            .map(|(c, _)| c.source())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn collectors_are_prepared_only_for_the_targets_a_scan_has() {
        // Certificates come from files and from TLS endpoints; each loads the trust store.
        assert_eq!(prepared_sources(&[Source::File]), vec![Source::File]);
        assert_eq!(
            prepared_sources(&[Source::Endpoint]),
            vec![Source::Endpoint]
        );
        assert_eq!(
            prepared_sources(&[Source::File, Source::Endpoint]),
            vec![Source::File, Source::Endpoint]
        );
        assert!(prepared_sources(&[]).is_empty());
    }
}
