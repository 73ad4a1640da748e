//! The verdicts of a target with too many to hold: a Deployment of 100,000 containers, a file of a
//! million secrets. Past [`VERDICTS_IN_MEMORY`] of them, the judge moves a target's verdicts to an
//! unnamed temporary file, encoded as the cache encodes them ([`super::codec`]), so that one
//! hostile file costs disk, not memory.
//!
//! Verdicts leave the worker sorted by control, stably, and finished ([`Finish`]). What finishing
//! does to one verdict alone (suppression, fingerprint, redaction) is done before it is moved out,
//! so the files hold nothing that the results would not; verdicts moved out while the target is
//! judged are kept as runs of one control each ([`Spill`]). Finishing then reads the runs back
//! control by control, which is the sorted order, ranks identical fingerprints and writes each
//! verdict to a second file ([`Spilled`]), which the emitter reads in order. Either file lives
//! only as long as its value: it has no name, so nothing is left behind.
//!
//! When no temporary file can be made or written, the encoded runs stay in memory: still a few
//! times smaller than the verdicts themselves.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::Verdict;
use super::codec;

/// Verdicts a target holds in memory before it moves them to a temporary file.
pub const VERDICTS_IN_MEMORY: usize = 16_384;

/// What finishing a verdict does: [`Finish::prepare`] to each verdict alone, in any order, then
/// [`Finish::rank`] to each in sorted order.
pub trait Finish {
    /// What finishing does to `v` alone.
    fn prepare(&mut self, v: &mut Verdict);
    /// What finishing does to `v` given the verdicts before it, in sorted order.
    fn rank(&mut self, v: &mut Verdict);
}

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
                let file = self.file.as_ref().ok_or_else(|| damaged("no file"))?;
                buf.clear();
                buf.resize(*len, 0);
                file.read_exact_at(buf, *offset)?;
                Ok(buf)
            }
        }
    }
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a target's verdicts could not be read back from its temporary file: {what}"),
    )
}

/// Reads every verdict of `runs`, in order, from `store`; `lost` tells what could not be read.
fn read_runs<'r, E>(
    store: &Store,
    runs: impl Iterator<Item = &'r Run>,
    controls: usize,
    kinds: &[&'static str],
    lost: impl Fn(io::Error) -> E,
    mut each: impl FnMut(Verdict) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = Vec::new();
    for run in runs {
        let mut bytes = store.get(run, &mut buf).map_err(&lost)?;
        while !bytes.is_empty() {
            let v = codec::take_verdict(&mut bytes, controls, kinds)
                .ok_or_else(|| lost(damaged("damaged bytes")))?;
            each(v)?;
        }
    }
    Ok(())
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

/// A target's verdicts moved out of memory while it is judged, not yet finished: runs of one
/// control's verdicts each, in the order they were made.
#[derive(Debug, Default)]
pub struct Spill {
    store: Store,
    runs: Vec<(usize, Run)>,
}

impl Spill {
    /// Moves `verdicts` out of memory, prepared by `f`.
    pub fn take(&mut self, verdicts: &mut Vec<Verdict>, f: &mut impl Finish) {
        // Stable: within a control, the order they were made in.
        verdicts.sort_by(Verdict::order);
        let mut runs = Runs::default();
        let mut control = None;
        for mut v in verdicts.drain(..) {
            f.prepare(&mut v);
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

    /// The controls with verdicts here, ascending.
    pub fn controls(&self) -> Vec<usize> {
        let mut controls: Vec<usize> = self.runs.iter().map(|(c, _)| *c).collect();
        controls.sort_unstable();
        controls.dedup();
        controls
    }

    /// Moves `rest` out too, then ranks every verdict with `f` in sorted order (by control,
    /// stably) and keeps them so.
    pub fn finish(
        mut self,
        mut rest: Vec<Verdict>,
        controls: usize,
        kinds: &[&'static str],
        f: &mut impl Finish,
    ) -> io::Result<Spilled> {
        self.take(&mut rest, f);
        // Stable: a control's runs stay in the order they were made.
        self.runs.sort_by_key(|(c, _)| *c);
        let mut out = Spilled::default();
        let mut runs = Runs::default();
        read_runs(
            &self.store,
            self.runs.iter().map(|(_, r)| r),
            controls,
            kinds,
            |e| e,
            |mut v| {
                f.rank(&mut v);
                if out.controls.last() != Some(&v.control) {
                    out.controls.push(v.control);
                }
                out.count += 1;
                if let Some(bytes) = runs.add(&v) {
                    out.runs.push(out.store.put(bytes));
                }
                Ok::<(), io::Error>(())
            },
        )?;
        if let Some(bytes) = runs.rest() {
            out.runs.push(out.store.put(bytes));
        }
        Ok(out)
    }
}

/// A target's finished verdicts, in order, out of memory.
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

    /// Hands every verdict to `each`, in order, for a plan of `controls` controls whose verdicts
    /// may name one of `kinds`; `lost` tells what could not be read back.
    pub fn for_each<E>(
        self,
        controls: usize,
        kinds: &[&'static str],
        lost: impl Fn(io::Error) -> E,
        each: impl FnMut(Verdict) -> Result<(), E>,
    ) -> Result<(), E> {
        read_runs(&self.store, self.runs.iter(), controls, kinds, lost, each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Evidence, Location, State};

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
            kind: (n == 0).then_some("file"),
            ..Verdict::new(control, State::Fail)
        }
    }

    /// Marks each verdict as prepared, and gives it its rank among all as its message.
    #[derive(Default)]
    struct Count(u32);

    impl Finish for Count {
        fn prepare(&mut self, v: &mut Verdict) {
            v.observed = v.observed.take().map(|o| format!("prepared {o}"));
        }

        fn rank(&mut self, v: &mut Verdict) {
            self.0 += 1;
            v.message = Some(self.0.to_string());
        }
    }

    fn finished(spill: Spill, rest: Vec<Verdict>, store_fails: bool) -> (Vec<Verdict>, Vec<usize>) {
        let mut spill = spill;
        spill.store.failed = store_fails;
        let spilled = spill
            .finish(rest, 3, &["config", "file"], &mut Count::default())
            .unwrap();
        let controls = spilled.controls().to_vec();
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
        (out, controls)
    }

    #[test]
    fn verdicts_come_back_finished_in_the_order_a_stable_sort_by_control_gives() {
        // Three controls, made interleaved, moved out in several batches, some left in memory.
        let made: Vec<Verdict> = (0..5_000)
            .map(|n| verdict([2, 0, 1][n as usize % 3], n))
            .collect();
        let mut expected = made.clone();
        expected.sort_by(Verdict::order);
        for (i, v) in expected.iter_mut().enumerate() {
            v.message = Some((i + 1).to_string());
            v.observed = Some("prepared (absent)".into());
        }
        for store_fails in [false, true] {
            let mut spill = Spill::default();
            let mut batches = made.chunks(1_300).map(<[Verdict]>::to_vec);
            let mut last = Vec::new();
            for mut batch in batches.by_ref() {
                if batch.len() < 1_300 {
                    last = batch;
                    break;
                }
                spill.take(&mut batch, &mut Count::default());
                assert!(batch.is_empty());
            }
            assert_eq!(spill.controls(), vec![0, 1, 2]);
            let (out, controls) = finished(spill, last, store_fails);
            assert_eq!(controls, vec![0, 1, 2]);
            assert!(out == expected, "store_fails: {store_fails}");
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
        spill.take(&mut made.clone(), &mut Count::default());
        assert!(spill.runs.len() > 1);
        let (out, _) = finished(spill, Vec::new(), false);
        assert_eq!(out.len(), made.len());
        assert!(
            out.iter()
                .all(|v| v.observed.as_deref() == Some(&format!("prepared {long}")[..]))
        );
    }
}
