//! The engine: walks the targets, judges every file in parallel, and assembles a sorted result.
//!
//! Work is spread over files with rayon; each file is read once and judged by every control whose
//! globs match it. Results are collected in walk order and then sorted, so the output does not
//! depend on scheduling.

mod judge;
mod patterns;
mod plan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use judge::expected;
use judge::finding;
use plan::Plan;

use crate::collect::cert::{CertContext, StoreError, TrustStore};
use crate::collect::walk::{self, WalkError, WalkOptions};
use crate::integrity::Integrity;
use crate::policy::pattern::Expect;
use crate::policy::{Check, PolicySet, TargetKind};
use crate::results::{
    ControlInfo, Finding, Inventory, PolicyInfo, RunInfo, SCHEMA_VERSION, ScanError, ScanRun,
    State, Target, Tool,
};

/// Default for `--max-file-size`: 64 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files and directories to scan.
    pub paths: Vec<PathBuf>,
    /// Walk settings: symlinks, include and exclude globs.
    pub walk: WalkOptions,
    /// Files larger than this are not read; each applicable control reports an `error`.
    pub max_file_size: u64,
    /// The evaluation clock (`--at`); the scan's start time when `None`.
    pub at: Option<OffsetDateTime>,
    /// Worker threads; rayon's default (one per core) when `None`.
    pub threads: Option<usize>,
    /// Trust anchors for certificate chains (`--trust-store FILE|DIR`); the system store when
    /// `None`.
    pub trust_store: Option<PathBuf>,
    /// The command line, recorded in the result.
    pub arguments: Vec<String>,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            paths: Vec::new(),
            walk: WalkOptions::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            at: None,
            threads: None,
            trust_store: None,
            arguments: Vec::new(),
        }
    }
}

/// Why a scan could not run at all (as opposed to targets that failed, which are findings).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A path or glob on the command line is unusable.
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// The trust store given with `--trust-store` could not be loaded.
    #[error(transparent)]
    TrustStore(#[from] StoreError),
    /// The thread pool could not be built.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

/// Formats a time as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Runs a scan.
pub fn scan(policies: &PolicySet, opts: &ScanOptions) -> Result<ScanRun, EngineError> {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = opts.threads {
        builder = builder.num_threads(n);
    }
    let pool = builder
        .build()
        .map_err(|e| EngineError::Threads(e.to_string()))?;
    let at = opts.at.unwrap_or(started);
    let (findings, inventory, scan_errors) = pool.install(|| run(policies, opts, at))?;
    let controls = control_infos(policies);
    let summary = ScanRun::summarize(&findings, &controls);
    let finished = OffsetDateTime::now_utc();
    let mut run = ScanRun {
        schema_version: SCHEMA_VERSION.into(),
        tool: Tool {
            name: "vigil".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run: RunInfo {
            started_at: rfc3339(started),
            finished_at: rfc3339(finished),
            duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            evaluated_at: rfc3339(at),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            arguments: opts.arguments.clone(),
        },
        policies: policies
            .policies
            .iter()
            .map(|p| PolicyInfo {
                id: p.id.clone(),
                title: p.title.clone(),
                version: p.version.clone(),
                source: p.source.clone(),
                sha256: p.sha256.clone(),
                controls: p.controls.len(),
            })
            .collect(),
        controls,
        inventory,
        summary,
        findings,
        scan_errors,
        integrity: Integrity {
            algorithm: String::new(),
            canonicalization: String::new(),
            digest: String::new(),
        },
    };
    run.seal();
    Ok(run)
}

fn control_infos(policies: &PolicySet) -> Vec<ControlInfo> {
    policies
        .controls()
        .map(|c| ControlInfo {
            id: c.id.clone(),
            policy: c.policy.clone(),
            title: c.title.clone(),
            severity: c.severity,
            tags: c.tags.clone(),
            references: c.references.clone(),
            rationale: c.rationale.clone(),
            remediation: c.remediation.clone(),
            target_kind: c.target.kind,
            expected: expected(c),
            secret: c.secret,
        })
        .collect()
}

/// The certificate collector's context, when a control needs it: the clock, and the trust store
/// loaded once. An unreadable `--trust-store` stops the scan; a system store that cannot be read
/// leaves no anchor (every chain fails) and is reported as a scan error.
fn cert_context(
    plan: &Plan<'_>,
    opts: &ScanOptions,
    at: OffsetDateTime,
    scan_errors: &mut Vec<ScanError>,
) -> Result<Option<CertContext>, EngineError> {
    if !plan.controls.iter().any(|c| {
        matches!(
            c.target.kind,
            TargetKind::Certificate | TargetKind::PrivateKey
        )
    }) {
        return Ok(None);
    }
    let store = match &opts.trust_store {
        Some(path) => TrustStore::from_path(path)?,
        None => TrustStore::system().unwrap_or_else(|e| {
            scan_errors.push(ScanError {
                path: "(system trust store)".into(),
                message: format!("{e}; certificate chains cannot validate (use --trust-store)"),
            });
            TrustStore::default()
        }),
    };
    Ok(Some(CertContext { at, store }))
}

type Outcome = (Vec<Finding>, Inventory, Vec<ScanError>);

fn run(
    policies: &PolicySet,
    opts: &ScanOptions,
    at: OffsetDateTime,
) -> Result<Outcome, EngineError> {
    let plan = Plan::new(policies)?;
    let mut scan_errors = Vec::new();
    let certs = cert_context(&plan, opts, at, &mut scan_errors)?;
    let ctx = judge::Context {
        max_size: opts.max_file_size,
        certs: certs.as_ref(),
    };
    // The walk is consumed as it goes: files are judged while directories are still being read,
    // and each worker keeps one accumulator (and one read buffer) rather than a result per file.
    // Order does not matter here: findings are sorted below.
    let totals = walk::walk(&opts.paths, &opts.walk)?
        .par_bridge()
        .fold(
            || Totals::new(plan.controls.len()),
            |mut t, entry| {
                t.add(&plan, &entry, &ctx);
                t
            },
        )
        .reduce(|| Totals::new(plan.controls.len()), Totals::merge);
    let Totals {
        mut findings,
        clean,
        mut inventory,
        ..
    } = totals;
    inventory.paths = opts
        .paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let order = plan.control_index();
    add_control_level_findings(&plan, &order, &clean, &mut findings);
    // A total order, so that the result does not depend on the order workers finished in.
    findings.sort_by(|a, b| {
        (
            order.get(a.control.as_str()),
            &a.target,
            &a.location,
            &a.observed,
            &a.message,
        )
            .cmp(&(
                order.get(b.control.as_str()),
                &b.target,
                &b.location,
                &b.observed,
                &b.message,
            ))
    });
    assign_fingerprints(&mut findings);
    Ok((findings, inventory, scan_errors))
}

/// What the workers accumulate: findings, per-control counts of clean files, and the inventory.
struct Totals {
    findings: Vec<Finding>,
    clean: Vec<u64>,
    inventory: Inventory,
    buf: Vec<u8>,
}

impl Totals {
    fn new(controls: usize) -> Totals {
        Totals {
            findings: Vec::new(),
            clean: vec![0; controls],
            inventory: Inventory::default(),
            buf: Vec::new(),
        }
    }

    fn add(&mut self, plan: &Plan<'_>, entry: &walk::Entry, ctx: &judge::Context<'_>) {
        let inv = &mut self.inventory;
        match entry.kind {
            walk::EntryKind::File => inv.files_seen += 1,
            walk::EntryKind::Symlink => inv.symlinks_skipped += 1,
            walk::EntryKind::Error(_) => {}
        }
        let applicable = plan.applicable(&entry.display, &entry.relative);
        if applicable.is_empty() {
            return;
        }
        let r = judge::judge(plan, entry, &applicable, ctx, &mut self.buf);
        inv.files_read += u64::from(r.read);
        inv.bytes_read += r.bytes;
        inv.binary_files_skipped += u64::from(r.binary_skipped);
        inv.files_too_large += u64::from(r.too_large);
        for (f, n) in r.documents {
            *inv.documents.entry(f.to_string()).or_default() += n;
        }
        for c in r.clean {
            self.clean[c] += 1;
        }
        self.findings.extend(r.findings);
    }

    fn merge(mut self, other: Totals) -> Totals {
        self.findings.extend(other.findings);
        for (a, b) in self.clean.iter_mut().zip(other.clean) {
            *a += b;
        }
        let (a, b) = (&mut self.inventory, other.inventory);
        a.files_seen += b.files_seen;
        a.files_read += b.files_read;
        a.bytes_read += b.bytes_read;
        a.binary_files_skipped += b.binary_files_skipped;
        a.symlinks_skipped += b.symlinks_skipped;
        a.files_too_large += b.files_too_large;
        for (f, n) in b.documents {
            *a.documents.entry(f).or_default() += n;
        }
        self
    }
}

/// Adds, per control, the verdicts that are about the scan as a whole: a pass for a pattern that
/// matched nowhere, and `not_applicable` for a control that judged nothing.
fn add_control_level_findings(
    plan: &Plan<'_>,
    index: &BTreeMap<&str, usize>,
    clean: &[u64],
    findings: &mut Vec<Finding>,
) {
    let mut judged = vec![false; plan.controls.len()];
    for f in findings.iter() {
        if let Some(&i) = index.get(f.control.as_str()) {
            judged[i] = true;
        }
    }
    for (i, c) in plan.controls.iter().enumerate() {
        let whole_scan = Target {
            kind: c.target.kind,
            path: "*".into(),
            object: None,
        };
        let absent_pattern = matches!(&c.check, Check::Pattern(p) if p.expect == Expect::Absent);
        if !judged[i] && absent_pattern && clean[i] > 0 {
            findings.push(finding(
                c,
                State::Pass,
                whole_scan,
                None,
                format!("no match in {} file(s)", clean[i]),
                format!("Satisfied: {} ({} file(s) checked).", c.title, clean[i]),
                Vec::new(),
            ));
        } else if !judged[i] {
            findings.push(finding(
                c,
                State::NotApplicable,
                whole_scan,
                None,
                "(no target)".into(),
                format!(
                    "No target in this scan matched the control (paths: {}).",
                    c.target.paths.join(", ")
                ),
                Vec::new(),
            ));
        }
    }
}

/// Fingerprints identify a finding across runs: control, target and what was observed, but not the
/// line, so that a finding keeps its identity when lines shift. Identical findings in one target are
/// told apart by their rank.
fn assign_fingerprints(findings: &mut [Finding]) {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for f in findings.iter_mut() {
        let mut h = Sha256::new();
        for part in [
            f.control.as_str(),
            f.target.kind.as_str(),
            f.target.path.as_str(),
            f.target.object.as_deref().unwrap_or(""),
            f.observed.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for e in &f.evidence {
            h.update(e.field.as_bytes());
            h.update([0]);
        }
        let base = crate::integrity::hex(&h.finalize()[..16]);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        f.fingerprint = if *n == 1 { base } else { format!("{base}-{n}") };
    }
}
