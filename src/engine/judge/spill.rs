//! The verdicts of a target with too many to hold: a Deployment of 100,000 containers, a file of a
//! million secrets. Past [`VERDICTS_IN_MEMORY`] of them, the judge moves a target's verdicts to an
//! unnamed temporary file, encoded as the cache encodes them ([`super::codec`]), so that one
//! hostile file costs disk, not memory.
//!
//! Verdicts leave the worker sorted by control, stably, and finished. What finishing does to one
//! verdict alone (suppression, fingerprint, redaction) is done before it is moved out, so the file
//! holds nothing that the results would not. Verdicts moved out as the target is judged are kept
//! as runs of one control each ([`Spill`]); the emitter reads the runs back control by control,
//! which is the sorted order, and ranks identical fingerprints as it goes ([`Spilled`]). The file
//! lives only as long as its value: it has no name, so nothing is left behind.
//!
//! When no temporary file can be made or written, the encoded runs stay in memory: still a few
//! times smaller than the verdicts themselves.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::codec;
use super::verdicts::{Ranks, Verdict};

/// Verdicts a target holds in memory before it moves them to a temporary file.
pub const VERDICTS_IN_MEMORY: usize = 16_384;

/// Encoded bytes written at a time.
const RUN_BYTES: usize = 1 << 20;

/// Encoded verdicts out of memory: appended to an unnamed temporary file, or held when no file
/// could be made or written.
#[derive(Debug, Default)]
struct Store {
    file: Option<File>,
    /// Bytes written to the file.
    written: u64,
    /// Making or writing the file failed once: keep the rest in memory.
    failed: bool,
}

/// Where one run of encoded verdicts is.
#[derive(Debug)]
enum Run {
    Written { offset: u64, len: usize },
    Held(Vec<u8>),
}

impl Store {
    fn put(&mut self, bytes: Vec<u8>) -> Run {
        if !self.failed {
            if self.file.is_none() {
                self.file = tempfile::tempfile().ok();
            }
            match &mut self.file {
                Some(f) if f.write_all_at(&bytes, self.written).is_ok() => {
                    let run = Run::Written {
                        offset: self.written,
                        len: bytes.len(),
                    };
                    self.written += bytes.len() as u64;
                    return run;
                }
                _ => self.failed = true,
            }
        }
        Run::Held(bytes)
    }

    /// The bytes of `run`, in `buf` (cleared first) or held.
    fn get<'r>(&self, run: &'r Run, buf: &'r mut Vec<u8>) -> io::Result<&'r [u8]> {
        match run {
            Run::Held(bytes) => Ok(bytes),
            Run::Written { offset, len } => {
                let file = self
                    .file
                    .as_ref()
                    .ok_or_else(|| damaged("the file is gone"))?;
                buf.clear();
                buf.resize(*len, 0);
                file.read_exact_at(buf, *offset)?;
                Ok(buf)
            }
        }
    }
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Encodes verdicts into runs of at most about [`RUN_BYTES`] each.
#[derive(Default)]
struct Runs {
    bytes: Vec<u8>,
}

impl Runs {
    /// Adds `v`; a full run is handed back to be stored.
    fn add(&mut self, v: &Verdict) -> Option<Vec<u8>> {
        codec::append_verdict(v, &mut self.bytes);
        (self.bytes.len() >= RUN_BYTES).then(|| std::mem::take(&mut self.bytes))
    }

    /// The last, partial run.
    fn rest(&mut self) -> Option<Vec<u8>> {
        (!self.bytes.is_empty()).then(|| std::mem::take(&mut self.bytes))
    }
}

/// A target's verdicts moved out of memory while it is judged: runs of one control's verdicts
/// each, in the order they were made.
#[derive(Debug, Default)]
pub struct Spill {
    store: Store,
    runs: Vec<(usize, Run)>,
    count: u64,
}

impl Spill {
    /// Moves `verdicts` out of memory, each prepared by `prepare` (what finishing does to a
    /// verdict alone).
    pub fn take(&mut self, verdicts: &mut Vec<Verdict>, mut prepare: impl FnMut(&mut Verdict)) {
        // Stable: within a control, the order they were made in.
        verdicts.sort_by(Verdict::order);
        let mut runs = Runs::default();
        let mut control = None;
        for mut v in verdicts.drain(..) {
            prepare(&mut v);
            self.count += 1;
            if control != Some(v.control) {
                if let (Some(c), Some(bytes)) = (control, runs.rest()) {
                    self.runs.push((c, self.store.put(bytes)));
                }
                control = Some(v.control);
            }
            if let Some(bytes) = runs.add(&v) {
                self.runs.push((v.control, self.store.put(bytes)));
            }
        }
        if let (Some(c), Some(bytes)) = (control, runs.rest()) {
            self.runs.push((c, self.store.put(bytes)));
        }
    }

    /// Moves `rest` out too, and puts the runs in sorted order.
    pub fn finish(mut self, mut rest: Vec<Verdict>, prepare: impl FnMut(&mut Verdict)) -> Spilled {
        self.take(&mut rest, prepare);
        // Stable: a control's runs stay in the order they were made.
        self.runs.sort_by_key(|(c, _)| *c);
        let mut controls: Vec<usize> = self.runs.iter().map(|(c, _)| *c).collect();
        controls.dedup();
        Spilled {
            store: self.store,
            runs: self.runs.into_iter().map(|(_, r)| r).collect(),
            count: self.count,
            controls,
        }
    }
}

/// A target's prepared verdicts, in sorted order, out of memory.
#[derive(Debug, Default)]
pub struct Spilled {
    store: Store,
    runs: Vec<Run>,
    count: u64,
    /// The controls with verdicts here, ascending.
    controls: Vec<usize>,
}

impl Spilled {
    /// How many verdicts.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The controls with verdicts here, ascending.
    pub fn controls(&self) -> &[usize] {
        &self.controls
    }

    /// Hands every verdict to `each`, in order and ranked, for a plan of `controls` controls
    /// whose verdicts may name one of `kinds`; `lost` tells what could not be read back.
    pub fn for_each<E>(
        self,
        controls: usize,
        kinds: &[&'static str],
        lost: impl Fn(io::Error) -> E,
        mut each: impl FnMut(Verdict) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut ranks = Ranks::default();
        let mut buf = Vec::new();
        for run in &self.runs {
            let mut bytes = self.store.get(run, &mut buf).map_err(&lost)?;
            while !bytes.is_empty() {
                let mut v = codec::take_verdict(&mut bytes, controls, kinds)
                    .ok_or_else(|| lost(damaged("its bytes are damaged")))?;
                ranks.rank(&mut v);
                each(v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Evidence, Location, State};

    /// A failure of `control`; every fourth has the same fingerprint, so ranks tell them apart.
    fn verdict(control: usize, n: u32) -> Verdict {
        Verdict {
            object: Some(format!("Deployment/big/{n}")),
            element: Some(format!("container \"c{n}\"")),
            location: Some(Location {
                column: Some(3),
                end_column: None,
                line: n,
                path: None,
            }),
            observed: Some("(absent)".into()),
            evidence: vec![Evidence {
                field: format!("containers[{n}].image"),
                line: Some(n),
                observed: "x".repeat(n as usize % 7),
                path: None,
            }],
            fingerprint: Some(format!("{:032x}", n % 4)),
            kind: (n == 0).then_some("file"),
            ..Verdict::new(control, State::Fail)
        }
    }

    /// What the judge's preparing stands for here.
    fn prepare(v: &mut Verdict) {
        v.observed = v.observed.take().map(|o| format!("prepared {o}"));
    }

    /// Every verdict, as the emitter reads them.
    fn read_back(spilled: Spilled) -> Vec<Verdict> {
        let count = spilled.count();
        let mut out = Vec::new();
        spilled
            .for_each(
                3,
                &["config", "file"],
                |e| e,
                |v| {
                    out.push(v);
                    Ok::<(), io::Error>(())
                },
            )
            .unwrap();
        assert_eq!(out.len() as u64, count);
        out
    }

    #[test]
    fn verdicts_come_back_prepared_ranked_and_in_the_order_a_stable_sort_by_control_gives() {
        // Three controls, made interleaved, moved out in several batches, some left in memory.
        let made: Vec<Verdict> = (0..5_000)
            .map(|n| verdict([2, 0, 1][n as usize % 3], n))
            .collect();
        let mut expected = made.clone();
        expected.sort_by(Verdict::order);
        let mut ranks = Ranks::default();
        for v in &mut expected {
            prepare(v);
            ranks.rank(v);
        }
        assert!(
            expected
                .iter()
                .any(|v| v.fingerprint.as_ref().unwrap().ends_with("-2"))
        );
        for store_fails in [false, true] {
            let mut spill = Spill::default();
            spill.store.failed = store_fails;
            let mut batches = made.chunks(1_300).map(<[Verdict]>::to_vec);
            let mut last = Vec::new();
            for mut batch in batches.by_ref() {
                if batch.len() < 1_300 {
                    last = batch;
                    break;
                }
                spill.take(&mut batch, prepare);
                assert!(batch.is_empty());
            }
            let spilled = spill.finish(last, prepare);
            assert_eq!(spilled.controls(), [0, 1, 2]);
            assert!(read_back(spilled) == expected, "store_fails: {store_fails}");
        }
    }

    #[test]
    fn a_run_longer_than_a_write_is_cut_and_read_back_whole() {
        let long = "y".repeat(RUN_BYTES / 3);
        let made: Vec<Verdict> = (1..8)
            .map(|n| Verdict {
                observed: Some(long.clone()),
                ..verdict(1, n)
            })
            .collect();
        let mut spill = Spill::default();
        spill.take(&mut made.clone(), prepare);
        assert!(spill.runs.len() > 1);
        let out = read_back(spill.finish(Vec::new(), prepare));
        assert_eq!(out.len(), made.len());
        let prepared = format!("prepared {long}");
        assert!(
            out.iter()
                .all(|v| v.observed.as_deref() == Some(prepared.as_str()))
        );
    }
}
