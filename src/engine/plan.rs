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
    /// Whether every `paths` and `exclude` glob is `**` or starts with `**/`, as every bundled
    /// pack's does. Such a glob that matches a file's relative name also matches its shown name,
    /// which ends with it, so the relative name need not be matched at all.
    suffix_globs_only: bool,
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
        let suffix_globs_only = keys
            .iter()
            .flat_map(|(paths, exclude)| paths.iter().chain(exclude.iter()))
            .all(|g| g == "**" || g.starts_with("**/"));
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
            suffix_globs_only,
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
        let rel = (!(self.suffix_globs_only && ends_with_name(display, relative)))
            .then(|| Candidate::new(relative));
        let mut groups = Vec::new();
        self.paths.matches_candidate_into(&shown, &mut groups);
        if let Some(rel) = &rel {
            let mut more = Vec::new();
            self.paths.matches_candidate_into(rel, &mut more);
            groups.append(&mut more);
        }
        for g in &mut groups {
            *g = self.path_owner[*g];
        }
        groups.sort_unstable();
        groups.dedup();
        let mut hits: Vec<usize> = groups
            .into_iter()
            .map(|g| &self.targets[g])
            .filter(|t| {
                t.exclude.as_ref().is_none_or(|ex| {
                    !ex.is_match_candidate(&shown)
                        && !rel.as_ref().is_some_and(|r| ex.is_match_candidate(r))
                })
            })
            .flat_map(|t| t.controls.iter().copied())
            .collect();
        hits.sort_unstable();
        hits
    }
}

/// Whether `display` is `relative`, or ends with `/` and `relative`: then a glob of the form
/// `**/…` that matches `relative` matches `display` too, its leading `**/` taking the rest.
fn ends_with_name(display: &str, relative: &str) -> bool {
    display
        .strip_suffix(relative)
        .is_some_and(|head| head.is_empty() || head.ends_with('/'))
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

    /// A plan of one policy holding `controls` (YAML list items), with the builtin registry.
    fn plan_of(controls: &str, test: impl FnOnce(&mut Plan<'_>)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            format!("policy: p\ntitle: t\nversion: '1'\ncontrols:\n{controls}"),
        )
        .unwrap();
        let policies = PolicySet::load(&[path]).unwrap();
        let registry = Registry::builtin();
        let settings = Settings {
            at: time::OffsetDateTime::UNIX_EPOCH,
            trust_store: None,
            gate: crate::collect::gate::Gate::for_paths(&[], 1 << 20),
            net: Default::default(),
            control_ids: Vec::new().into(),
        };
        let mut plan = Plan::new(&policies, &registry, &settings, &[Source::File]).unwrap();
        test(&mut plan);
    }

    fn control(id: &str, target: &str) -> String {
        format!(
            "  - id: {id}\n    title: t\n    severity: low\n    references: {{CWE: [CWE-1]}}\n    rationale: r\n    remediation: m\n    target: {target}\n    check: {{key: k, equals: 0}}\n"
        )
    }

    /// Shown and relative names of one file, as the walk gives them for various roots.
    const NAMES: &[(&str, &str)] = &[
        ("/etc/nginx/conf.d/a.conf", "a.conf"),
        ("srv/nginx/conf.d/a.conf", "nginx/conf.d/a.conf"),
        ("srv/nginx/conf.d/a.conf", "srv/nginx/conf.d/a.conf"),
        ("srv/.git/nginx/conf.d/a.conf", "nginx/conf.d/a.conf"),
        ("srv/.git/nginx/conf.d/a.conf", ".git/nginx/conf.d/a.conf"),
        ("repo/x/.git/config", "x/.git/config"),
        ("a.conf", "a.conf"),
        ("srv/conf.d/a.conf", "conf.d/a.conf"),
        ("/mnt/root/etc/ssh/sshd_config", "etc/ssh/sshd_config"),
        ("/mnt/root/etc/ssh/sshd_config", "sshd_config"),
        ("mnt/rootetc/ssh/sshd_config", "etc/ssh/sshd_config"),
    ];

    /// The controls that apply to each of [`NAMES`], matching both names and, when the plan
    /// allows it, the shown name only.
    fn both_ways(plan: &mut Plan<'_>) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        let quick = NAMES
            .iter()
            .map(|(d, r)| plan.applicable_file(d, r))
            .collect();
        plan.suffix_globs_only = false;
        let full = NAMES
            .iter()
            .map(|(d, r)| plan.applicable_file(d, r))
            .collect();
        (quick, full)
    }

    #[test]
    fn suffix_globs_match_the_shown_name_only_and_select_the_same_controls() {
        let controls = [
            control(
                "A-1",
                "{kind: config, paths: ['**/nginx/conf.d/*.conf'], exclude: ['**/.git/**']}",
            ),
            control(
                "A-2",
                "{kind: config, paths: ['**/conf.d/*.conf', '**/config']}",
            ),
            control("A-3", "{kind: config, paths: ['**']}"),
        ]
        .concat();
        plan_of(&controls, |plan| {
            assert!(plan.suffix_globs_only);
            let (quick, full) = both_ways(plan);
            assert_eq!(quick, full);
            // And they are not all the same: the globs and the exclusion do select.
            assert_eq!(full[0], vec![0, 1, 2]);
            assert_eq!(
                full[3],
                vec![1, 2],
                "inside .git: A-1 excluded by its shown name"
            );
            assert_eq!(full[5], vec![1, 2]);
            assert_eq!(full[8], vec![2]);
        });
    }

    #[test]
    fn a_glob_of_relative_names_still_matches_the_relative_name() {
        let controls = [
            control("B-1", "{kind: config, paths: ['etc/ssh/sshd_config']}"),
            control("B-2", "{kind: config, paths: ['**/nginx/conf.d/*.conf']}"),
        ]
        .concat();
        plan_of(&controls, |plan| {
            assert!(!plan.suffix_globs_only);
            let (quick, full) = both_ways(plan);
            assert_eq!(quick, full);
            // Found by its relative name under a mounted root, not by its shown name.
            assert_eq!(full[8], vec![0]);
            assert_eq!(full[9], Vec::<usize>::new());
            assert_eq!(full[10], vec![0]);
        });
    }

    #[test]
    fn a_shown_name_ends_with_a_relative_one_only_at_a_separator() {
        assert!(ends_with_name("a/b/c", "b/c"));
        assert!(ends_with_name("b/c", "b/c"));
        assert!(!ends_with_name("ab/c", "b/c"));
        assert!(!ends_with_name("a/b/c", "x/c"));
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
