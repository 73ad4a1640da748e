//! The engine: turns targets into verdicts and streams them, in a deterministic order, to the
//! outputs.
//!
//! ```text
//! targets (walk | endpoints | hosts) ──> pipeline (N workers: judge::judge per target)
//!        ──> in target order ──> Recorder (digest, counts) ──> sinks (JSON, SARIF, ...)
//! ```
//!
//! Files are judged on one worker per core, endpoints on `concurrency` workers (they wait on the
//! network), hosts one at a time. Each target's verdicts are sorted and fingerprinted by the worker
//! that made them; the pipeline releases them in target order, so the output does not depend on
//! scheduling, and nothing holds more than a bounded window of targets. A target with more verdicts
//! than [`ScanOptions::verdicts_in_memory`] hands them over in a temporary file instead.

pub(crate) mod cache;
mod judge;
pub(crate) mod patterns;
mod pipeline;
mod plan;
mod shard;

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Instant;

use time::OffsetDateTime;

pub use cache::{CacheError, CacheOptions, CacheStats, Strategy as CacheStrategy};
pub use judge::PassEvidence;
pub use plan::PlanError;
pub use shard::Shard;

use judge::{Judged, Spilled, Verdict};
use plan::Plan;

use crate::clock::rfc3339;
use crate::collect::buffer::{self, Budget, Buffer};
use crate::collect::walk::{self, WalkError, WalkOptions};
use crate::collect::{Endpoint, Host, Registry, Settings, Source, Target};
use crate::policy::pattern::Expect;
use crate::policy::{Check, Control, PolicySet};
use crate::results::{
    ControlInfo, Finding, Header, Inventory, PolicyInfo, Recorder, RunInfo, SCHEMA_VERSION,
    ScanError, ShardRecord, Sink, State, Tool, Trailer,
};

pub use judge::VERDICTS_IN_MEMORY;

/// Default for `--max-file-size`: the gate's, 64 MiB.
pub use crate::collect::gate::DEFAULT_MAX_FILE_SIZE;

/// Default for `--concurrency`: network targets probed at once.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Files a worker takes at a time: handing targets over one by one would cost more in locking and
/// waking threads than judging a small file does.
const FILES_PER_BATCH: usize = 32;

/// Batches taken and not yet written, per worker thread: bounds the memory of the pipeline.
const WINDOW_PER_THREAD: usize = 8;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files and directories to scan.
    pub paths: Vec<PathBuf>,
    /// Network endpoints to probe.
    pub endpoints: Vec<Endpoint>,
    /// Hosts to audit.
    pub hosts: Vec<Host>,
    /// Walk settings: symlinks, include and exclude globs.
    pub walk: WalkOptions,
    /// Files larger than this are not read; each applicable control reports an `error`.
    pub max_file_size: u64,
    /// Bytes the files larger than 1 MiB that the workers are judging may hold at once
    /// ([`buffer::DEFAULT_BUDGET`]); a worker whose file does not fit waits. Tests lower it.
    pub read_budget: u64,
    /// The evaluation clock (`--at`); the scan's start time when `None`.
    pub at: Option<OffsetDateTime>,
    /// Worker threads for files; one per core when `None`.
    pub threads: Option<usize>,
    /// Network targets judged at once.
    pub concurrency: usize,
    /// Time limits of network probes.
    pub net: crate::collect::net::Limits,
    /// Accepted risks (`--waivers`), applied to failures and errors as they are recorded.
    pub waivers: Option<std::sync::Arc<crate::workflow::waivers::Waivers>>,
    /// Known failures (`--baseline`), recorded `baselined`.
    pub baseline: Option<std::sync::Arc<crate::workflow::baseline::Baseline>>,
    /// Told of each target as its verdicts are written (a progress bar).
    pub progress: Option<Progress>,
    /// Trust anchors for certificate chains (`--trust-store FILE|DIR`); the system store when
    /// `None`.
    pub trust_store: Option<PathBuf>,
    /// How much evidence passing verdicts carry.
    pub pass_evidence: PassEvidence,
    /// Apply the `vigil:ignore` comments of scanned files to their failures (recorded
    /// `suppressed`, with the reason). `vigil scan --no-inline-suppressions` turns it off. The
    /// built-in pack `vigil-suppressions` ([`crate::policy::SUPPRESSIONS`]), which `vigil scan`
    /// adds to scans of files, reports the suppressions that give no reason or name no control.
    pub inline_suppressions: bool,
    /// Control ids a suppression may name besides those of the scan's policies (the controls left
    /// out by `--control`, the built-in packs): a suppression naming none of them is reported.
    pub known_controls: Vec<String>,
    /// Judge only this shard of the targets (`--shard I/N`).
    pub shard: Option<Shard>,
    /// The command line, recorded in the result.
    pub arguments: Vec<String>,
    /// The host name recorded (`--host-name`); the machine's own name when `None`.
    pub host_name: Option<String>,
    /// The audited machine's machine-id, recorded in the result.
    pub machine_id: Option<String>,
    /// Labels recorded in the result (`--tag`).
    pub tags: Vec<String>,
    /// Reuse the verdicts of unchanged files from this cache, and keep this scan's there
    /// (`--cache`).
    pub cache: Option<CacheOptions>,
    /// Verdicts one target holds in memory before the rest of them go to a temporary file, so
    /// that a file with a million findings costs disk, not memory. Tests lower it to spill every
    /// target.
    pub verdicts_in_memory: usize,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            paths: Vec::new(),
            endpoints: Vec::new(),
            hosts: Vec::new(),
            walk: WalkOptions::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            read_budget: buffer::DEFAULT_BUDGET,
            at: None,
            threads: None,
            concurrency: DEFAULT_CONCURRENCY,
            net: Default::default(),
            waivers: None,
            baseline: None,
            progress: None,
            trust_store: None,
            pass_evidence: PassEvidence::default(),
            inline_suppressions: true,
            verdicts_in_memory: VERDICTS_IN_MEMORY,
            known_controls: Vec::new(),
            shard: None,
            arguments: Vec::new(),
            host_name: None,
            machine_id: None,
            tags: Vec::new(),
            cache: None,
        }
    }
}

/// A callback told the name of each target once its verdicts are written, in target order.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Why a scan could not run, or could not write its outputs (targets that fail are findings).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A path or glob on the command line is unusable.
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// The policies cannot be compiled, or a collector cannot start (an unreadable
    /// `--trust-store`).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An output could not be written.
    #[error("cannot write the results: {0}")]
    Output(#[from] std::io::Error),
    /// The cache given with `--cache` could not be written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A target's verdicts could not be read back from its temporary file.
    #[error("cannot read back a target's verdicts from its temporary file: {0}")]
    Spill(std::io::Error),
}

/// What a finished scan wrote.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The header of the result.
    pub header: Header,
    /// Its trailer: inventory, summary, run metadata, digest.
    pub trailer: Trailer,
    /// What the cache did, when one was given.
    pub cache: Option<CacheStats>,
}

/// Runs a scan with the built-in collectors, streaming the result to `sinks`.
pub fn scan(
    policies: &PolicySet,
    opts: &ScanOptions,
    sinks: Vec<Box<dyn Sink + '_>>,
) -> Result<Outcome, EngineError> {
    scan_with(&Registry::builtin(), policies, opts, sinks)
}

/// Runs a scan with the collectors of `registry`, streaming the result to `sinks`.
pub fn scan_with(
    registry: &Registry,
    policies: &PolicySet,
    opts: &ScanOptions,
    sinks: Vec<Box<dyn Sink + '_>>,
) -> Result<Outcome, EngineError> {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let settings = Settings {
        at: opts.at.unwrap_or(started),
        trust_store: opts.trust_store.clone(),
        // Collectors may read the named paths and the roots of the hosts audited.
        gate: crate::collect::gate::Gate::for_paths(
            &opts
                .paths
                .iter()
                .chain(opts.hosts.iter().map(|h| &h.root))
                .cloned()
                .collect::<Vec<_>>(),
            opts.max_file_size,
        ),
        net: opts.net,
        control_ids: {
            let mut ids: Vec<String> = policies
                .controls()
                .map(|c| c.id.clone())
                .chain(opts.known_controls.iter().cloned())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into()
        },
    };
    let sources: Vec<Source> = [
        (!opts.paths.is_empty()).then_some(Source::File),
        (!opts.endpoints.is_empty()).then_some(Source::Endpoint),
        (!opts.hosts.is_empty()).then_some(Source::Host),
    ]
    .into_iter()
    .flatten()
    .collect();
    let plan = Plan::new(policies, registry, &settings, &sources)?;
    // Every root is checked before anything is written.
    let walk = if opts.paths.is_empty() {
        None
    } else {
        Some(walk::walk(&opts.paths, &opts.walk)?)
    };
    let scan_errors: Vec<ScanError> = plan
        .prepared
        .iter()
        .flatten()
        .flat_map(|p| p.warnings.iter())
        .map(|(path, message)| ScanError {
            path: path.clone(),
            message: message.clone(),
        })
        .collect();
    let header = header(policies, &plan);
    // The cache is opened before anything is written: one that cannot be written stops the scan.
    let mut previous = None;
    let mut cache = None;
    let mut next = None;
    let mut own = None;
    if let (Some(c), true) = (&opts.cache, walk.is_some()) {
        let options = format!(
            "{:?}",
            (
                opts.max_file_size,
                opts.pass_evidence,
                opts.inline_suppressions,
                &settings.control_ids,
                &opts.paths,
                opts.walk.follow_symlinks,
                &settings.gate.roots,
                registry.kinds().len(),
            )
        );
        let described = serde_json::to_vec(&header).unwrap_or_default();
        let fingerprint = cache::fingerprint(&[&described, options.as_bytes()]);
        let (p, n) = cache::open(&c.path, c.strategy, &fingerprint)?;
        own = Some(n.own_files());
        previous = Some(p);
        next = Some(n);
        cache = Some(cache::Cache::new(
            c.strategy,
            plan.controls.len(),
            &plan.prepared,
            started,
        ));
    }
    let mut emitter = Emitter {
        plan: &plan,
        recorder: Recorder::new(&header, sinks)?,
        inventory: Inventory {
            paths: opts
                .paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            ..Inventory::default()
        },
        judged: vec![false; plan.controls.len()],
        clean: vec![0; plan.controls.len()],
        waivers: opts.waivers.as_deref(),
        waiver_hits: vec![0; opts.waivers.as_ref().map_or(0, |w| w.len())],
        baseline: opts.baseline.as_deref(),
        baseline_seen: vec![false; opts.baseline.as_ref().map_or(0, |b| b.len())],
        progress: opts.progress.as_ref(),
        shard: opts.shard,
        blocks: Vec::new(),
        block: None,
        cache: next,
        cache_stats: CacheStats::default(),
    };
    let read_budget = Budget::new(opts.read_budget, buffer::UNMETERED);
    let ctx = judge::Context {
        plan: &plan,
        settings: &settings,
        read_budget: &read_budget,
        max_file_size: opts.max_file_size,
        pass_evidence: opts.pass_evidence,
        inline_suppressions: opts.inline_suppressions,
        verdicts_in_memory: opts.verdicts_in_memory.max(1),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let file_threads = opts.threads.unwrap_or(cores).max(1);
    // Every target is numbered in scan order; a sharded scan judges only its own.
    let ordinal = std::sync::atomic::AtomicU64::new(0);
    let deal = |t: Target| -> Option<(u64, Target)> {
        let k = ordinal.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        opts.shard.is_none_or(|s| s.owns(k)).then_some((k, t))
    };
    if let Some(entries) = walk {
        let files = entries
            .filter(|e| !own.as_ref().is_some_and(|o| o.holds(&e.path)))
            .map(Target::File)
            .filter_map(deal)
            .map(|(k, t)| {
                let kept = previous
                    .as_mut()
                    .zip(t.file())
                    .and_then(|(p, e)| p.take(&e.path));
                (k, t, kept)
            });
        let cache = cache.as_ref();
        run(
            &ctx,
            cache,
            files,
            file_threads,
            FILES_PER_BATCH,
            &mut emitter,
        )?;
    }
    // Network targets one at a time: each may wait on its peer.
    let endpoints = opts
        .endpoints
        .iter()
        .cloned()
        .map(Target::Endpoint)
        .filter_map(deal)
        .map(|(k, t)| (k, t, None));
    let probes = opts.concurrency.clamp(1, opts.endpoints.len().max(1));
    run(&ctx, None, endpoints, probes, 1, &mut emitter)?;
    let hosts = opts
        .hosts
        .iter()
        .cloned()
        .map(Target::Host)
        .filter_map(deal)
        .map(|(k, t)| (k, t, None));
    run(&ctx, None, hosts, 1, 1, &mut emitter)?;
    let shard = emitter.shard_record(ordinal.load(std::sync::atomic::Ordering::Relaxed));
    emitter.whole_scan_verdicts()?;
    let Emitter {
        recorder,
        inventory,
        waivers,
        waiver_hits,
        baseline,
        baseline_seen,
        cache: next,
        cache_stats,
        ..
    } = emitter;
    let waivers = waivers.map_or_else(Vec::new, |w| w.report(&waiver_hits));
    let known_failures = baseline.map(|b| b.report(&baseline_seen));
    let finished = OffsetDateTime::now_utc();
    let run_info = RunInfo {
        started_at: rfc3339(started),
        finished_at: rfc3339(finished),
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        evaluated_at: rfc3339(settings.at),
        host: opts.host_name.clone().unwrap_or_else(|| {
            hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into())
        }),
        arguments: opts.arguments.clone(),
        machine_id: opts.machine_id.clone(),
        tags: {
            let mut t = opts.tags.clone();
            t.sort();
            t.dedup();
            t
        },
        shard,
    };
    let trailer = recorder.finish(scan_errors, inventory, run_info, waivers, known_failures)?;
    // Kept only once the results are whole: a scan that stopped leaves the previous cache.
    let cache = match next {
        Some(next) => Some(CacheStats {
            rewritten: next.finish()?,
            ..cache_stats
        }),
        None => None,
    };
    Ok(Outcome {
        header,
        trailer,
        cache,
    })
}

/// Judges `targets`, `batch` at a time, on `threads` workers and writes their verdicts in target
/// order. Each target comes with what the cache kept for it.
fn run(
    ctx: &judge::Context<'_>,
    cache: Option<&cache::Cache>,
    mut targets: impl Iterator<Item = (u64, Target, Option<cache::Record>)> + Send,
    threads: usize,
    batch: usize,
    emitter: &mut Emitter<'_, '_>,
) -> Result<(), EngineError> {
    let batches = std::iter::from_fn(move || {
        let b: Vec<_> = targets.by_ref().take(batch).collect();
        (!b.is_empty()).then_some(b)
    });
    pipeline::ordered(
        batches,
        threads,
        threads * WINDOW_PER_THREAD,
        || Buffer::new(ctx.read_budget),
        |buf, batch| {
            batch
                .into_iter()
                .map(|(ordinal, target, kept)| {
                    // A collector that panics on a hostile target costs that target, not the scan.
                    let judgement = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        cache::judge(ctx, cache, &target, kept, buf)
                    }))
                    .unwrap_or_else(|_| cache::Judgement {
                        judged: internal_error(ctx, &target),
                        record: None,
                        reused: false,
                    });
                    // The target is judged: what it took of the read budget goes back.
                    buf.trim();
                    (ordinal, target, judgement)
                })
                .collect::<Vec<_>>()
        },
        |judged| {
            judged.into_iter().try_for_each(|(ordinal, target, j)| {
                emitter.keep(&target, &j)?;
                emitter.emit(ordinal, &target, j.judged)
            })
        },
    )
}

/// An `error` for every control that applied to a target whose judging panicked.
fn internal_error(ctx: &judge::Context<'_>, target: &Target) -> Judged {
    let mut out = Judged::default();
    for c in ctx.plan.blockable(&ctx.plan.applicable(target)) {
        out.verdicts.push(Verdict::error(
            c,
            None,
            None,
            "internal error while judging this target; please report it".into(),
        ));
    }
    out
}

/// The header of a scan: the policies and controls that judge.
fn header(policies: &PolicySet, plan: &Plan<'_>) -> Header {
    Header {
        schema_version: SCHEMA_VERSION.into(),
        tool: Tool::this(),
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
        controls: plan
            .controls
            .iter()
            .zip(&plan.kinds)
            .map(|(c, kind)| ControlInfo {
                id: c.id.clone(),
                policy: c.policy.clone(),
                title: c.title.clone(),
                severity: c.severity,
                tags: c.tags.clone(),
                references: c.references.clone(),
                rationale: c.rationale.clone(),
                remediation: c.remediation.clone(),
                target_kind: (*kind).to_string(),
                expected: expected(c),
                secret: c.secret,
            })
            .collect(),
    }
}

/// The control's check in words.
pub fn expected(c: &Control) -> String {
    match &c.check {
        Check::Condition(cond) => cond.to_string(),
        Check::Pattern(p) => p.describe(),
    }
}

/// Writes verdicts in target order and keeps what the trailer and the whole-scan verdicts need.
struct Emitter<'p, 's> {
    plan: &'p Plan<'p>,
    recorder: Recorder<'s>,
    inventory: Inventory,
    /// Controls with at least one verdict.
    judged: Vec<bool>,
    /// Per control, files an `expect: absent` pattern was searched in without a match.
    clean: Vec<u64>,
    /// The accepted risks (`--waivers`), and how many findings each accepted.
    waivers: Option<&'p crate::workflow::waivers::Waivers>,
    waiver_hits: Vec<u64>,
    /// The known failures (`--baseline`), and which were seen again.
    baseline: Option<&'p crate::workflow::baseline::Baseline>,
    baseline_seen: Vec<bool>,
    progress: Option<&'p Progress>,
    /// The shard this scan judges, the findings of each of its blocks, and the current block.
    shard: Option<Shard>,
    blocks: Vec<u64>,
    block: Option<u64>,
    /// The new cache, and what it did.
    cache: Option<cache::Next>,
    cache_stats: CacheStats,
}

impl Emitter<'_, '_> {
    /// Keeps a file's verdicts in the new cache, in target order.
    fn keep(&mut self, target: &Target, j: &cache::Judgement) -> Result<(), EngineError> {
        let (Some(next), Target::File(entry)) = (&mut self.cache, target) else {
            return Ok(());
        };
        if entry.kind != crate::collect::walk::EntryKind::File {
            return Ok(());
        }
        if j.reused {
            self.cache_stats.reused += 1;
        } else if j.judged.stats.read {
            self.cache_stats.judged += 1;
        }
        if let Some(record) = &j.record {
            next.put(&entry.path, record)?;
            self.cache_stats.kept += 1;
        }
        Ok(())
    }

    fn emit(&mut self, ordinal: u64, target: &Target, judged: Judged) -> Result<(), EngineError> {
        let has_verdicts = judged.has_verdicts();
        let Judged {
            verdicts,
            spilled,
            clean,
            stats,
            shown_name: shown,
            ..
        } = judged;
        let inv = &mut self.inventory;
        inv.files_seen += u64::from(stats.file_seen);
        inv.symlinks_skipped += u64::from(stats.symlink_skipped);
        inv.files_read += u64::from(stats.read);
        inv.bytes_read += stats.bytes;
        inv.binary_files_skipped += u64::from(stats.binary_skipped);
        inv.files_too_large += u64::from(stats.too_large);
        for (d, n) in stats.documents {
            count(&mut inv.documents, &d, n);
        }
        for c in clean {
            self.clean[c] += 1;
        }
        let spilled_controls = spilled.as_ref().map_or(&[][..], |s| s.controls());
        if has_verdicts {
            match target.source() {
                Source::File => {}
                Source::Endpoint => inv.endpoints += 1,
                Source::Host => inv.hosts += 1,
            }
            // A target counts once for each kind it has verdicts of.
            let mut seen: Vec<&str> = Vec::new();
            let controls = verdicts.iter().map(|v| v.control);
            for control in controls.chain(spilled_controls.iter().copied()) {
                let kind = self.plan.kinds[control];
                if !seen.contains(&kind) {
                    seen.push(kind);
                    count(&mut inv.targets, kind, 1);
                }
            }
        }
        if self.shard.is_some() {
            let block = ordinal / Shard::BLOCK;
            if self.block != Some(block) {
                self.block = Some(block);
                self.blocks.push(0);
            }
            if let Some(n) = self.blocks.last_mut() {
                *n += verdicts.len() as u64 + spilled.as_ref().map_or(0, Spilled::count);
            }
        }
        for v in verdicts {
            self.record(target, shown.as_deref(), v)?;
        }
        if let Some(spilled) = spilled {
            let kinds = judge::verdict_kinds(self.plan);
            let controls = self.plan.controls.len();
            spilled.for_each(controls, &kinds, EngineError::Spill, |v| {
                self.record(target, shown.as_deref(), v)
            })?;
        }
        if let Some(p) = self.progress {
            (p.0)(target.name());
        }
        Ok(())
    }

    /// Records one verdict about `target`, as accepted by the waivers and the baseline.
    fn record(
        &mut self,
        target: &Target,
        shown: Option<&str>,
        v: Verdict,
    ) -> Result<(), EngineError> {
        let control = v.control;
        self.judged[control] = true;
        // An error that kept several controls from judging the target was about each of them:
        // none of them is "not applicable".
        for &blocked in &v.blocks {
            self.judged[blocked] = true;
        }
        let mut f = finding(self.plan, Some(target), shown, v);
        if let Some(w) = self.waivers
            && let Some(i) = w.find(&f, target.tags())
        {
            f.state = State::Waived;
            f.waiver = Some(w.words(i));
            self.waiver_hits[i] += 1;
        }
        if let Some(b) = self.baseline
            && let Some(i) = b.find(&f)
        {
            f.state = State::Baselined;
            self.baseline_seen[i] = true;
        }
        self.recorder.record_indexed(&f, control)?;
        Ok(())
    }

    /// What a part of a sharded scan records for `vigil merge`, once its targets are judged.
    fn shard_record(&mut self, targets: u64) -> Option<ShardRecord> {
        let shard = self.shard?;
        let controls = &self.plan.controls;
        Some(ShardRecord {
            index: shard.index,
            count: shard.count,
            block: Shard::BLOCK,
            targets,
            blocks: std::mem::take(&mut self.blocks),
            judged: controls
                .iter()
                .zip(&self.judged)
                .filter(|(_, j)| **j)
                .map(|(c, _)| c.id.clone())
                .collect(),
            clean: controls
                .iter()
                .zip(&self.clean)
                .filter(|(_, n)| **n > 0)
                .map(|(c, n)| (c.id.clone(), *n))
                .collect(),
        })
    }

    /// Per control, the verdicts about the scan as a whole: a pass for a pattern that matched
    /// nowhere, and `not_applicable` for a control that judged nothing.
    fn whole_scan_verdicts(&mut self) -> Result<(), EngineError> {
        for (i, c) in self.plan.controls.iter().enumerate() {
            if self.judged[i] {
                continue;
            }
            let absent_pattern =
                matches!(&c.check, Check::Pattern(p) if p.expect == Expect::Absent);
            let v = if absent_pattern && self.clean[i] > 0 {
                let (observed, message) = crate::results::clean_words(&c.title, self.clean[i]);
                Verdict {
                    observed: Some(observed),
                    message: Some(message),
                    ..Verdict::new(i, State::Pass)
                }
            } else {
                Verdict {
                    message: Some(not_applicable_reason(c)),
                    ..Verdict::new(i, State::NotApplicable)
                }
            };
            let f = finding(self.plan, None, None, v);
            self.recorder.record_indexed(&f, i)?;
        }
        Ok(())
    }
}

fn not_applicable_reason(c: &Control) -> String {
    let t = &c.target;
    let mut selectors = Vec::new();
    if !t.paths.is_empty() {
        selectors.push(format!("paths: {}", t.paths.join(", ")));
    }
    if !t.tags.is_empty() {
        selectors.push(format!("tags: {}", t.tags.join(", ")));
    }
    if let Some(when) = &t.when {
        selectors.push(format!("when: {when}"));
    }
    if selectors.is_empty() {
        format!("No target of kind `{}` in this scan.", t.kind)
    } else {
        format!(
            "No target in this scan matched the control ({}).",
            selectors.join("; ")
        )
    }
}

/// Adds `n` under `key` without allocating the key when it is already counted.
fn count(map: &mut std::collections::BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(c) => *c += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

/// The finding of a verdict about `target` (`None`: the whole scan), named `shown` when the
/// target's name had to be redacted.
fn finding<'a>(
    plan: &'a Plan<'_>,
    target: Option<&'a Target>,
    shown: Option<&'a str>,
    v: Verdict,
) -> Finding<'a> {
    let c = plan.controls[v.control];
    let name = target.map(|t| Cow::Borrowed(shown.unwrap_or(t.name())));
    let source = target.map(Target::source);
    let is = |s: Source| {
        if source == Some(s) {
            name.clone()
        } else {
            None
        }
    };
    Finding {
        blocked_controls: v
            .blocks
            .iter()
            .map(|&b| Cow::Borrowed(plan.controls[b].id.as_str()))
            .collect(),
        control: Cow::Borrowed(&c.id),
        evidence: v.evidence,
        fingerprint: v.fingerprint,
        location: v.location,
        message: v.message,
        observed: v.observed,
        severity: c.severity,
        state: v.state,
        target: crate::results::Target {
            element: v.element,
            endpoint: is(Source::Endpoint),
            file: is(Source::File),
            host: is(Source::Host),
            kind: Cow::Borrowed(v.kind.unwrap_or(plan.kinds[v.control])),
            object: v.object,
        },
        suppression: v.suppression,
        waiver: None,
    }
}
