//! `vigil merge`: the results of the shards of one scan (`vigil scan --shard I/N`) joined into
//! the result one unsharded scan would have written: the same header, the findings in the same
//! order, the same whole-scan verdicts, inventory, summary, waivers and known failures. Only `run`
//! (when, where, how) differs, and so the integrity digest, which is computed afresh and sealed.
//!
//! Each part's digest is checked as it is read, and parts that do not belong together are refused:
//! another policy or control set, other arguments, another clock (`--at`), or a set of shards that
//! is not exactly 0..N of one N. Findings are spooled to temporary files while the parts are read,
//! so memory stays flat however large the parts are.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use super::{
    Finding, Header, Inventory, KnownFailures, Recorder, RunInfo, ScanError, ShardRecord, Sink,
    State, Trailer, WaiverStatus,
};

/// Why parts cannot be merged. Each names the part.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {why}")]
    Part { path: String, why: String },
    #[error("{0}")]
    Mismatch(String),
    #[error("cannot merge: {0}")]
    Io(#[from] io::Error),
}

/// One part, read and checked.
struct Part {
    path: String,
    header: Header,
    trailer: Trailer,
    shard: ShardRecord,
    findings: BufReader<File>,
}

/// Options that change neither the findings nor their order (where outputs go, the gate, the
/// run's labels): parts may differ in them.
const OUTPUT_OPTIONS: &[&str] = &[
    "--output",
    "-o",
    "--output-dir",
    "--format",
    "-f",
    "--history",
    "--template-dir",
    "--threads",
    "-j",
    "--concurrency",
    "--shard",
    "--fail-on",
    "--host-name",
    "--tag",
];
const OUTPUT_FLAGS: &[&str] = &[
    "--quiet",
    "-q",
    "--verbose",
    "-v",
    "--allow-errors",
    "--allow-empty",
];

/// The arguments of a scan without the program name and without what only says where outputs go.
fn judging_arguments(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        if OUTPUT_FLAGS.contains(&w.as_str()) {
            continue;
        }
        if OUTPUT_OPTIONS.contains(&w.as_str()) {
            words.next();
            continue;
        }
        let attached = OUTPUT_OPTIONS.iter().any(|o| {
            w.strip_prefix(o).is_some_and(|rest| {
                rest.starts_with('=') || (!o.starts_with("--") && !rest.is_empty())
            })
        });
        if !attached {
            out.push(w.clone());
        }
    }
    out
}

/// The arguments with `--shard` left out: the command one unsharded scan would have been.
fn unsharded(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.iter();
    while let Some(w) = words.next() {
        if w == "--shard" {
            words.next();
        } else if !w.starts_with("--shard=") {
            out.push(w.clone());
        }
    }
    out
}

/// A sink that keeps the header and spools each finding's canonical JSON, one per line.
struct Spooler<'a> {
    out: BufWriter<&'a mut File>,
    header: &'a mut Option<Header>,
}

impl Sink for Spooler<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        *self.header = Some(header.clone());
        Ok(())
    }

    fn finding(&mut self, _f: &Finding<'_>, _control: usize, canonical: &[u8]) -> io::Result<()> {
        self.out.write_all(canonical)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self, _header: &Header, _trailer: &Trailer) -> io::Result<()> {
        self.out.flush()
    }
}

fn read_part(path: &Path) -> Result<Part, MergeError> {
    let shown = path.display().to_string();
    let err = |why: String| MergeError::Part {
        path: shown.clone(),
        why,
    };
    let mut spool = tempfile::tempfile()?;
    let mut header = None;
    let sink = Spooler {
        out: BufWriter::new(&mut spool),
        header: &mut header,
    };
    let (trailer, _) = super::integrity::replay_verified(path, vec![Box::new(sink)])
        .map_err(|e| err(e.to_string()))?;
    let header = header.ok_or_else(|| err("no header".into()))?;
    let shard = trailer.run.shard.clone().ok_or_else(|| {
        err("not the result of a sharded scan (vigil scan --shard I/N wrote none)".into())
    })?;
    spool.rewind()?;
    Ok(Part {
        path: shown,
        header,
        trailer,
        shard,
        findings: BufReader::new(spool),
    })
}

/// Checks that the parts are the shards of one scan, and puts them in shard order.
fn check(parts: &mut [Part]) -> Result<(), MergeError> {
    parts.sort_by_key(|p| p.shard.index);
    let first = &parts[0];
    let count = first.shard.count;
    let indexes: Vec<u64> = parts.iter().map(|p| p.shard.index).collect();
    let complete = parts.len() as u64 == count
        && parts.iter().all(|p| p.shard.count == count)
        && indexes.iter().copied().eq(0..count);
    if !complete {
        let found: Vec<String> = parts
            .iter()
            .map(|p| format!("{} (shard {}/{})", p.path, p.shard.index, p.shard.count))
            .collect();
        return Err(MergeError::Mismatch(format!(
            "the parts must be shards 0 to N-1 of one N, each once; got {}",
            found.join(", ")
        )));
    }
    let args = judging_arguments(&first.trailer.run.arguments);
    for p in &parts[1..] {
        let differs = |what: &str| {
            MergeError::Mismatch(format!(
                "{} and {} are not shards of one scan: their {what} differ",
                first.path, p.path
            ))
        };
        if p.header != first.header {
            return Err(differs("policies or controls"));
        }
        if p.trailer.run.evaluated_at != first.trailer.run.evaluated_at {
            return Err(differs(
                "clocks (give every shard the same --at, or the time checks of one part would \
                 judge another moment than the others')",
            ));
        }
        if judging_arguments(&p.trailer.run.arguments) != args {
            return Err(differs("arguments"));
        }
        if p.shard.block != first.shard.block {
            return Err(differs("block sizes (a different vigil?)"));
        }
        if p.shard.targets != first.shard.targets {
            return Err(differs(
                "targets (the tree changed between the shards' scans)",
            ));
        }
        let accepted = |t: &Trailer| -> Vec<(String, Option<String>, String, String, String)> {
            t.waivers
                .iter()
                .map(|w| {
                    (
                        w.control.clone(),
                        w.target.clone(),
                        w.expires.clone(),
                        w.approved_by.clone(),
                        w.location.clone(),
                    )
                })
                .collect()
        };
        if accepted(&p.trailer) != accepted(&first.trailer) {
            return Err(differs("waivers"));
        }
        let known = |t: &Trailer| {
            t.known_failures
                .as_ref()
                .map(|k| (k.baseline.clone(), k.known))
        };
        if known(&p.trailer) != known(&first.trailer) {
            return Err(differs("baselines"));
        }
    }
    // Each part judged exactly the blocks dealt to it.
    let (block, targets) = (first.shard.block.max(1), first.shard.targets);
    let blocks = targets.div_ceil(block);
    for p in parts.iter() {
        let dealt = blocks / count + u64::from(p.shard.index < blocks % count);
        if p.shard.blocks.len() as u64 != dealt {
            return Err(MergeError::Part {
                path: p.path.clone(),
                why: format!(
                    "records {} blocks where shard {} of {count} has {dealt}",
                    p.shard.blocks.len(),
                    p.shard.index
                ),
            });
        }
    }
    Ok(())
}

fn next_finding(part: &mut Part, line: &mut String) -> Result<Finding<'static>, MergeError> {
    line.clear();
    if part.findings.read_line(line)? == 0 {
        return Err(MergeError::Part {
            path: part.path.clone(),
            why: "fewer findings than its shard record counts".into(),
        });
    }
    serde_json::from_str(line.trim_end()).map_err(|e| MergeError::Part {
        path: part.path.clone(),
        why: format!("a finding cannot be read back: {e}"),
    })
}

/// Merges the parts into `sinks`; returns the trailer written.
pub fn merge(paths: &[PathBuf], sinks: Vec<Box<dyn Sink + '_>>) -> Result<Trailer, MergeError> {
    if paths.is_empty() {
        return Err(MergeError::Mismatch("no part to merge".into()));
    }
    let mut parts = paths
        .iter()
        .map(|p| read_part(p))
        .collect::<Result<Vec<_>, _>>()?;
    check(&mut parts)?;
    let header = parts[0].header.clone();
    let mut rec = Recorder::new(&header, sinks)?;
    let mut line = String::new();

    // The findings of targets, block by block: block b was shard b % N's.
    let n = parts.len();
    let mut taken = vec![0usize; n];
    let mut block = 0usize;
    while (0..n).any(|i| taken[i] < parts[i].shard.blocks.len()) {
        let i = block % n;
        let part = &mut parts[i];
        let Some(&count) = part.shard.blocks.get(taken[i]) else {
            break;
        };
        for _ in 0..count {
            let f = next_finding(part, &mut line)?;
            rec.record(&f)?;
        }
        taken[i] += 1;
        block += 1;
    }

    // What is left of each part are its verdicts about the whole scan: one per control it did not
    // judge. A control judged by no shard gets one, as a single scan would have made it.
    let judged: BTreeSet<String> = parts
        .iter()
        .flat_map(|p| p.shard.judged.iter().cloned())
        .collect();
    let mut whole: Vec<Vec<Finding<'static>>> = Vec::with_capacity(n);
    for part in &mut parts {
        // One verdict about the scan for each control this part did not judge, and nothing else.
        let expected = header
            .controls
            .iter()
            .filter(|c| !part.shard.judged.contains(&c.id))
            .count();
        let mut rest = Vec::new();
        loop {
            line.clear();
            if part.findings.read_line(&mut line)? == 0 {
                break;
            }
            rest.push(
                serde_json::from_str(line.trim_end()).map_err(|e| MergeError::Part {
                    path: part.path.clone(),
                    why: format!("a finding cannot be read back: {e}"),
                })?,
            );
        }
        if rest.len() != expected {
            return Err(MergeError::Part {
                path: part.path.clone(),
                why: format!(
                    "{} findings after its blocks where {expected} verdicts about the scan belong",
                    rest.len()
                ),
            });
        }
        whole.push(rest);
    }
    for c in &header.controls {
        if judged.contains(&c.id) {
            continue;
        }
        let clean: u64 = parts
            .iter()
            .map(|p| p.shard.clean.get(&c.id).copied().unwrap_or(0))
            .sum();
        // Every part has a verdict of its own for this control; a clean pattern's pass is
        // counted over every part's files.
        let template = whole
            .iter()
            .flatten()
            .filter(|f| f.control == c.id)
            .find(|f| clean == 0 || f.state == State::Pass)
            .ok_or_else(|| {
                MergeError::Mismatch(format!("no part has a verdict of {} about the scan", c.id))
            })?;
        let mut f = template.clone();
        if clean > 0 {
            let (observed, message) = super::clean_words(&c.title, clean);
            f.observed = Some(observed);
            f.message = Some(message);
        }
        rec.record(&f)?;
    }

    let trailers: Vec<&Trailer> = parts.iter().map(|p| &p.trailer).collect();
    Ok(rec.finish(
        scan_errors(&trailers),
        inventory(&trailers),
        run(&trailers),
        waivers(&trailers),
        known_failures(&trailers),
    )?)
}

fn scan_errors(parts: &[&Trailer]) -> Vec<ScanError> {
    let mut out: Vec<ScanError> = Vec::new();
    for e in parts.iter().flat_map(|t| &t.scan_errors) {
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    out
}

fn inventory(parts: &[&Trailer]) -> Inventory {
    let mut inv = Inventory {
        paths: parts[0].inventory.paths.clone(),
        ..Inventory::default()
    };
    for t in parts {
        let p = &t.inventory;
        inv.files_seen += p.files_seen;
        inv.files_read += p.files_read;
        inv.bytes_read += p.bytes_read;
        inv.binary_files_skipped += p.binary_files_skipped;
        inv.symlinks_skipped += p.symlinks_skipped;
        inv.files_too_large += p.files_too_large;
        inv.endpoints += p.endpoints;
        inv.hosts += p.hosts;
        for (k, n) in &p.targets {
            *inv.targets.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &p.documents {
            *inv.documents.entry(k.clone()).or_default() += n;
        }
    }
    inv
}

fn run(parts: &[&Trailer]) -> RunInfo {
    let first = &parts[0].run;
    RunInfo {
        started_at: parts
            .iter()
            .map(|t| t.run.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: parts
            .iter()
            .map(|t| t.run.finished_at.clone())
            .max()
            .unwrap_or_default(),
        duration_ms: parts.iter().map(|t| t.run.duration_ms).max().unwrap_or(0),
        evaluated_at: first.evaluated_at.clone(),
        host: first.host.clone(),
        arguments: unsharded(&first.arguments),
        machine_id: first.machine_id.clone(),
        tags: first.tags.clone(),
        shard: None,
    }
}

/// A waiver's status over every part: expired in all if in one (they share the clock); otherwise
/// unused only if no part matched it.
fn waivers(parts: &[&Trailer]) -> Vec<WaiverStatus> {
    let mut out = parts[0].waivers.clone();
    for (i, w) in out.iter_mut().enumerate() {
        let each: Vec<&WaiverStatus> = parts.iter().filter_map(|t| t.waivers.get(i)).collect();
        w.matched = each.iter().map(|s| s.matched).sum();
        if each.iter().any(|s| s.status == "expired") {
            w.status = "expired".into();
        } else if let Some(used) = each.iter().find(|s| s.matched > 0) {
            w.status = used.status.clone();
        }
    }
    out
}

/// The baseline's known failures: fixed only if no part saw them fail.
fn known_failures(parts: &[&Trailer]) -> Option<KnownFailures> {
    let first = parts[0].known_failures.as_ref()?;
    let mut fixed = first.fixed.clone();
    for t in &parts[1..] {
        let theirs = t.known_failures.as_ref().map(|k| &k.fixed);
        fixed.retain(|f| theirs.is_some_and(|l| l.contains(f)));
    }
    Some(KnownFailures {
        baseline: first.baseline.clone(),
        still_failing: first.known.saturating_sub(fixed.len() as u64),
        known: first.known,
        fixed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_may_differ_only_in_where_outputs_go() {
        let a: Vec<String> =
            "vigil scan tree --at 2030-01-01 --shard 0/3 -o p0.json --format=json -q"
                .split(' ')
                .map(String::from)
                .collect();
        let b: Vec<String> = "vigil scan tree --at 2030-01-01 --shard=2/3 --output p2.json -j4"
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(judging_arguments(&a), judging_arguments(&b));
        assert_eq!(
            judging_arguments(&a),
            ["scan", "tree", "--at", "2030-01-01"]
        );
        assert_eq!(
            unsharded(&a),
            [
                "vigil",
                "scan",
                "tree",
                "--at",
                "2030-01-01",
                "-o",
                "p0.json",
                "--format=json",
                "-q"
            ]
        );
    }
}
