//! Policies: declarative YAML packs of controls, validated once and compiled before a scan.
//!
//! The format is documented in `docs/policy-format.md`. Loading turns a file into the model of
//! [`model`], reporting every problem with its file, line and column ([`diag`]). The condition
//! language lives in [`condition`] and is evaluated by [`eval`]; pattern checks in [`pattern`].

pub mod budget;
pub mod compare;
pub mod condition;
pub mod diag;
pub mod eval;
mod fields;
pub mod load;
pub mod model;
pub mod path;
pub mod pattern;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::collect::Registry;

pub use diag::{Diagnostic, Level};
pub use model::{Check, Control, Policy, Severity, TargetSpec};

/// The built-in pack that judges inline suppressions (`vigil:ignore` comments): `vigil scan`
/// adds it to every scan of files, with or without `--policy`, unless `--no-inline-suppressions`.
pub const SUPPRESSIONS: &str = "inline-suppressions";

/// The packs shipped inside the binary, applied when no `--policy` is given.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "ssh-hardening",
        include_str!("../../policies/ssh-hardening.yaml"),
    ),
    ("secrets", include_str!("../../policies/secrets.yaml")),
    (
        "kubernetes-pod-security",
        include_str!("../../policies/kubernetes-pod-security.yaml"),
    ),
    (
        "linux-sysctl",
        include_str!("../../policies/linux-sysctl.yaml"),
    ),
    ("nginx-tls", include_str!("../../policies/nginx-tls.yaml")),
    (
        "docker-compose",
        include_str!("../../policies/docker-compose.yaml"),
    ),
    ("dockerfile", include_str!("../../policies/dockerfile.yaml")),
    ("terraform", include_str!("../../policies/terraform.yaml")),
    (
        "certificates",
        include_str!("../../policies/certificates.yaml"),
    ),
    (
        "linux-baseline",
        include_str!("../../policies/linux-baseline.yaml"),
    ),
    (
        "ssh-baseline",
        include_str!("../../policies/ssh-baseline.yaml"),
    ),
    (
        "tls-baseline",
        include_str!("../../policies/tls-baseline.yaml"),
    ),
    (
        SUPPRESSIONS,
        include_str!("../../policies/inline-suppressions.yaml"),
    ),
];

/// The control ids of every built-in pack, read from the packs' text without compiling their
/// checks: a scan with `--policy` needs only the ids (an inline suppression naming a built-in
/// control is no typo), and compiling every pack's patterns would cost more than a small scan.
/// Every built-in pack lists its controls as `  - id: ID` lines, the first key of each item of
/// `controls:`; reading those lines costs a fraction of a millisecond where parsing the packs' YAML
/// cost three quarters of such a scan's startup. A test holds the packs to that shape: the ids read
/// here must be exactly the ids of the fully loaded packs, in order.
pub fn builtin_control_ids() -> Vec<String> {
    BUILTIN
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter_map(|line| line.strip_prefix("  - id: "))
        .map(|id| id.trim().trim_matches(['"', '\'']).to_string())
        .collect()
}

/// A set of loaded policies whose control ids are unique across all of them.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The policies, in the order they were given.
    pub policies: Vec<Policy>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Vec<Diagnostic>,
}

/// Why policies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy file or directory could not be read.
    #[error("cannot read policy {path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// One or more policy files are invalid; every problem is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// A control selection is not a valid glob, or selects no control: a typo must not silently
    /// drop a check from an audit.
    #[error("--{option} {pattern}: {reason}")]
    Selection {
        /// `control` or `skip-control`.
        option: &'static str,
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn render(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.level == Level::Error).count();
    let mut s: Vec<String> = diags.iter().map(ToString::to_string).collect();
    s.push(crate::text::counted(
        errors as u64,
        "error in policy files",
        "errors in policy files",
    ));
    s.join("\n")
}

impl PolicySet {
    /// The packs embedded in the binary.
    pub fn builtin() -> Result<PolicySet, PolicyError> {
        PolicySet::from_texts(
            BUILTIN
                .iter()
                .map(|(name, text)| (format!("builtin:{name}"), (*text).to_string())),
        )
    }

    /// One pack embedded in the binary, by name (`inline-suppressions`); `None` for an unknown
    /// name. Loading one pack compiles only its own patterns, not every pack's.
    pub fn builtin_pack(name: &str) -> Option<Result<PolicySet, PolicyError>> {
        let (name, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Some(PolicySet::from_texts([(
            format!("builtin:{name}"),
            (*text).to_string(),
        )]))
    }

    /// Loads policy files, or every `*.yaml`/`*.yml` file of a directory (sorted by name),
    /// against the built-in collectors.
    pub fn load(paths: &[PathBuf]) -> Result<PolicySet, PolicyError> {
        PolicySet::load_with(&Registry::builtin(), paths)
    }

    /// Loads policy files against the collectors of `registry`.
    pub fn load_with(registry: &Registry, paths: &[PathBuf]) -> Result<PolicySet, PolicyError> {
        let mut texts = Vec::new();
        for path in policy_files(paths)? {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
                path: path.display().to_string(),
                source,
            })?;
            texts.push((path.display().to_string(), text));
        }
        PolicySet::from_texts_with(registry, texts)
    }

    /// Loads policies from (source name, text) pairs against the built-in collectors.
    pub fn from_texts(
        texts: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PolicySet, PolicyError> {
        PolicySet::from_texts_with(&Registry::builtin(), texts)
    }

    /// Loads policies from (source name, text) pairs, checking kinds against `registry` and ids
    /// across the policies.
    pub fn from_texts_with(
        registry: &Registry,
        texts: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PolicySet, PolicyError> {
        let texts: Vec<(String, String)> = texts.into_iter().collect();
        // Their regexes are most of a small scan's start-up time: the files compile on every core,
        // and come back in the order given.
        let loaded = crate::parallel::in_parallel(&texts, |(source, text)| {
            load::load_policy(source, text, registry)
        });
        let mut policies: Vec<Policy> = Vec::new();
        let mut diagnostics = Vec::new();
        let mut control_owner: HashMap<String, String> = HashMap::new();
        let mut failed = false;
        for ((source, text), loaded) in texts.into_iter().zip(loaded) {
            failed |= loaded.policy.is_none();
            diagnostics.extend(loaded.diagnostics);
            let Some(policy) = loaded.policy else {
                continue;
            };
            let mut d = diag::Diagnostics::new(&source, &text);
            if let Some(other) = policies.iter().find(|p| p.id == policy.id) {
                d.error(
                    crate::doc::Pos::new(1, 1),
                    format!(
                        "policy id `{}` is already used by {}",
                        policy.id, other.source
                    ),
                );
            }
            for c in &policy.controls {
                if let Some(owner) = control_owner.get(&c.id) {
                    d.error(
                        c.pos,
                        format!(
                            "duplicate control id `{}`: already defined in {owner}",
                            c.id
                        ),
                    );
                }
            }
            failed |= d.has_errors();
            diagnostics.extend(d.items);
            for c in &policy.controls {
                control_owner
                    .entry(c.id.clone())
                    .or_insert_with(|| source.clone());
            }
            policies.push(policy);
        }
        if failed {
            return Err(PolicyError::Invalid(diagnostics));
        }
        Ok(PolicySet {
            policies,
            warnings: diagnostics,
        })
    }

    /// Every control, in policy order then file order.
    pub fn controls(&self) -> impl Iterator<Item = &Control> {
        self.policies.iter().flat_map(|p| p.controls.iter())
    }

    /// Keeps the policies with a control that judges targets from one of `sources`: the built-in
    /// packs of a scan of files do not list the host baseline as not applicable, and an audit of a
    /// host alone does not list the packs of files.
    pub fn keep_sources(&mut self, registry: &Registry, sources: &[crate::collect::Source]) {
        self.policies.retain(|p| {
            p.controls.iter().any(|c| {
                registry
                    .producers(&c.target.kind)
                    .any(|(_, collector)| sources.contains(&collector.source()))
            })
        });
    }

    /// Keeps the controls whose id matches a pattern of `only` (every control when `only` is
    /// empty) and no pattern of `skip`; a policy left without controls is dropped. Patterns are
    /// globs over control ids (`CERT-00[1-3]`, `K8S-*`), matched regardless of case, as
    /// `vigil policy explain` matches ids.
    pub fn select(&mut self, only: &[String], skip: &[String]) -> Result<(), PolicyError> {
        let only = ControlPatterns::new("control", only)?;
        let skip = ControlPatterns::new("skip-control", skip)?;
        only.each_matches_some(self)?;
        skip.each_matches_some(self)?;
        for p in &mut self.policies {
            p.controls
                .retain(|c| (only.is_empty() || only.matches(&c.id)) && !skip.matches(&c.id));
        }
        self.policies.retain(|p| !p.controls.is_empty());
        Ok(())
    }

    /// The control with this id, and its policy.
    pub fn find(&self, id: &str) -> Option<(&Policy, &Control)> {
        self.policies
            .iter()
            .find_map(|p| p.controls.iter().find(|c| c.id == id).map(|c| (p, c)))
    }
}

/// The `--control` or `--skip-control` patterns.
struct ControlPatterns {
    option: &'static str,
    patterns: Vec<(String, globset::GlobMatcher)>,
}

impl ControlPatterns {
    fn new(option: &'static str, patterns: &[String]) -> Result<Self, PolicyError> {
        let patterns = patterns
            .iter()
            .map(|p| {
                globset::GlobBuilder::new(p)
                    .literal_separator(false)
                    .case_insensitive(true)
                    .build()
                    .map(|g| (p.clone(), g.compile_matcher()))
                    .map_err(|e| PolicyError::Selection {
                        option,
                        pattern: p.clone(),
                        reason: e.kind().to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ControlPatterns { option, patterns })
    }

    fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn matches(&self, id: &str) -> bool {
        self.patterns.iter().any(|(_, g)| g.is_match(id))
    }

    fn each_matches_some(&self, set: &PolicySet) -> Result<(), PolicyError> {
        for (pattern, glob) in &self.patterns {
            if !set.controls().any(|c| glob.is_match(&c.id)) {
                return Err(PolicyError::Selection {
                    option: self.option,
                    pattern: pattern.clone(),
                    reason: "matches no control of the policies loaded (`vigil policy list` \
                             shows them)"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

/// Expands policy arguments into files: files as given, directories into their sorted YAML files.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PolicyError> {
    let mut out = Vec::new();
    for p in paths {
        let io = |source| PolicyError::Io {
            path: p.display().to_string(),
            source,
        };
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_yaml(f))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            std::fs::metadata(p).map_err(io)?;
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_read_lightly_are_the_loaded_ones() {
        let loaded: Vec<String> = PolicySet::builtin()
            .unwrap()
            .controls()
            .map(|c| c.id.clone())
            .collect();
        assert!(loaded.len() > 100, "{}", loaded.len());
        assert_eq!(builtin_control_ids(), loaded);
    }

    /// A small valid policy with one control.
    fn policy_text(policy: &str, control: &str) -> String {
        format!(
            "policy: {policy}\ntitle: T\nversion: 1.0.0\ncontrols:\n  - id: {control}\n    title: C\n    \
             severity: low\n    rationale: R\n    remediation: M\n    references: {{CIS: [\"1\"]}}\n    target: {{kind: config, paths: [\"**/*.conf\"], format: keyvalue}}\n    \
             check: {{key: a, equals: b}}\n"
        )
    }

    #[test]
    fn many_files_load_in_the_order_given_and_ids_are_checked_across_them() {
        // More files than cores: every thread takes several.
        let texts: Vec<(String, String)> = (0..23)
            .map(|i| {
                (
                    format!("p{i}.yaml"),
                    policy_text(&format!("p{i}"), &format!("C-{i}")),
                )
            })
            .collect();
        let set = PolicySet::from_texts(texts.clone()).unwrap();
        let ids: Vec<&str> = set.policies.iter().map(|p| p.id.as_str()).collect();
        let expected: Vec<String> = (0..23).map(|i| format!("p{i}")).collect();
        assert_eq!(ids, expected);
        // A control id used twice is reported in the later file, naming the earlier one.
        let mut texts = texts;
        texts.push(("late.yaml".into(), policy_text("late", "C-3")));
        let Err(PolicyError::Invalid(diags)) = PolicySet::from_texts(texts) else {
            panic!("a duplicate control id must fail");
        };
        let text = diags
            .iter()
            .map(|d| format!("{d:?}"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("late.yaml") && text.contains("p3.yaml"),
            "{text}"
        );
    }

    #[test]
    fn one_builtin_pack_loads_alone() {
        let set = PolicySet::builtin_pack(SUPPRESSIONS).unwrap().unwrap();
        assert_eq!(set.policies.len(), 1);
        assert_eq!(set.policies[0].source, format!("builtin:{SUPPRESSIONS}"));
        assert!(PolicySet::builtin_pack("no-such-pack").is_none());
    }
}
