//! Storing a run as it is made: a [`Sink`] that writes each verdict to the history in short
//! transactions (other scans writing the same history interleave with it) and marks the run
//! complete only once its last verdict and its trailer are stored, so a scan that dies midway
//! never leaves a run that looks whole.
//!
//! A verdict is stored once, however many runs share it: `findings` holds each distinct verdict
//! (its canonical JSON, keyed by its SHA-256), and `run_findings` links a run to its verdicts in
//! order. A night where little changed costs one small row per verdict.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;

use rusqlite::{Connection, OptionalExtension};

use super::store::{HistoryError, Store};
use crate::results::{Finding, Header, Sink, State, Trailer};

/// Verdicts written per transaction: large enough to amortise the commit, small enough that a
/// concurrent writer never waits long.
const BATCH: usize = 8192;

/// What a stored run left for the rest of the scan (the summary line, the HTML drift section).
#[derive(Debug, Clone)]
pub struct Stored {
    /// The run's id in the history.
    pub run: i64,
    /// What changed since the previous complete run of the same host, with the trend.
    pub drift: Option<super::Drift>,
}

/// Shared between the history sink, which fills it once the run is stored, and whoever reports it.
pub type StoredSlot = Rc<RefCell<Option<Stored>>>;

/// The sink that stores a run.
pub struct Recording<'s> {
    store: &'s mut Store,
    run: i64,
    seq: i64,
    batch: Vec<Pending>,
    previous: Previous,
    /// This run's verdicts as `id << 1 | failing`, for the drift.
    current: Vec<i64>,
    counts: BTreeMap<(&'static str, &'static str), i64>,
    slot: StoredSlot,
    /// Whether to compare the run with the previous one once stored.
    drift: bool,
    /// The host the run is recorded under (`--host-name`), when not this machine's name.
    host: Option<String>,
}

/// The verdicts of the host's previous run, read in order a chunk at a time: a verdict identical
/// to the one the previous run had at about the same place is linked without a look-up, so a
/// night where little changed reads the previous run once, in order, and little else.
#[derive(Default)]
struct Previous {
    run: Option<i64>,
    next_seq: i64,
    done: bool,
    queue: std::collections::VecDeque<([u8; 16], i64)>,
    /// Every verdict of the previous run read so far, as `id << 1 | failing`: with the current
    /// run's, what the drift compares, without reading either run again.
    seen: Vec<i64>,
}

/// How far ahead in the previous run a verdict is looked for: verdicts removed since then are
/// skipped, as long as fewer than this many went in one place.
const LOOKAHEAD: usize = 64;

impl Previous {
    /// Reads the next chunk of the previous run.
    fn read(&mut self, conn: &Connection, run: i64) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, sha256, finding_id, failing FROM run_findings \
             WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = stmt.query((run, self.next_seq, BATCH as i64))?;
        let mut got = 0;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let hash: Vec<u8> = row.get(1)?;
            let id: i64 = row.get(2)?;
            let failing: bool = row.get(3)?;
            if let Ok(hash) = <[u8; 16]>::try_from(hash.as_slice()) {
                self.queue.push_back((hash, id));
            }
            self.seen.push(id << 1 | i64::from(failing));
            self.next_seq = seq + 1;
            got += 1;
        }
        self.done = got < BATCH;
        Ok(())
    }

    /// Every verdict of the previous run (reading what is left of it).
    fn all(&mut self, conn: &Connection) -> rusqlite::Result<Option<(i64, Vec<i64>)>> {
        let Some(run) = self.run else {
            return Ok(None);
        };
        while !self.done {
            self.read(conn, run)?;
        }
        self.queue.clear();
        Ok(Some((run, std::mem::take(&mut self.seen))))
    }

    /// The id of the previous run's verdict with this hash near the current position, if any;
    /// the position moves past it.
    fn take(&mut self, conn: &Connection, sha: &[u8; 16]) -> rusqlite::Result<Option<i64>> {
        let Some(run) = self.run else {
            return Ok(None);
        };
        if self.queue.len() < LOOKAHEAD && !self.done {
            self.read(conn, run)?;
        }
        let found = self
            .queue
            .iter()
            .take(LOOKAHEAD)
            .position(|(h, _)| h == sha);
        Ok(found.map(|k| {
            let id = self.queue[k].1;
            self.queue.drain(..=k);
            id
        }))
    }
}

/// A verdict waiting for the next write transaction.
struct Pending {
    /// The first half of the SHA-256 of its canonical form: the key verdicts are stored under.
    key: [u8; 16],
    failing: bool,
    verdict: Verdict,
}

enum Verdict {
    /// The stored verdict it is: the previous run had it at about this place.
    Known(i64),
    /// A verdict to look up, and to store if it is not there.
    New(NewVerdict),
}

struct NewVerdict {
    body: String,
    control: String,
    state: &'static str,
    severity: &'static str,
    target: Option<String>,
    fingerprint: Option<String>,
}

impl<'s> Recording<'s> {
    /// A sink storing the run into `store`; `slot` receives the outcome.
    pub fn new(store: &'s mut Store, slot: StoredSlot) -> Recording<'s> {
        Recording {
            store,
            run: 0,
            seq: 0,
            batch: Vec::with_capacity(BATCH),
            previous: Previous::default(),
            current: Vec::new(),
            counts: BTreeMap::new(),
            slot,
            drift: true,
            host: None,
        }
    }

    /// Records the run under this host name (`--host-name`, or an imported result's host): its
    /// previous run is that host's.
    pub fn for_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }

    /// Stores the run without comparing it with the previous one (importing a result file).
    pub fn without_drift(mut self) -> Self {
        self.drift = false;
        self
    }

    fn begin_run(&mut self, header: &Header) -> Result<(), HistoryError> {
        let body = serde_json::to_string(header).map_err(|e| HistoryError::Usage(e.to_string()))?;
        let sha = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
        let now = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
        let host = self.host.clone().unwrap_or_else(|| {
            hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let path = self.store.path.clone();
        let err = |e| super::store::classify(&path, e);
        let tx = self.store.write()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM headers WHERE sha256 = ?1",
                [sha.as_ref()],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        let header_id = match existing {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO headers (sha256, body) VALUES (?1, ?2)",
                    (sha.as_ref(), &body),
                )
                .map_err(err)?;
                tx.last_insert_rowid()
            }
        };
        tx.execute(
            "INSERT INTO runs (header_id, host, started_at, evaluated_at, arguments, tool_version) \
             VALUES (?1, ?2, ?3, ?3, '[]', ?4)",
            (header_id, &host, &now, env!("CARGO_PKG_VERSION")),
        )
        .map_err(err)?;
        self.run = tx.last_insert_rowid();
        tx.commit().map_err(err)?;
        self.previous.run = self.store.previous(self.run)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), HistoryError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let path = self.store.path.clone();
        let err = |e| super::store::classify(&path, e);
        let tx = self.store.write()?;
        // Verdicts linked from the previous run are still stored only if that run is: a prune
        // deleting it meanwhile would have deleted them too.
        if let Some(prev) = self.previous.run
            && self
                .batch
                .iter()
                .any(|p| matches!(p.verdict, Verdict::Known(_)))
        {
            let there: Option<i64> = tx
                .query_row("SELECT 1 FROM runs WHERE id = ?1", [prev], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if there.is_none() {
                return Err(HistoryError::Io {
                    path: path.clone(),
                    why: format!(
                        "run {prev}, which this run builds on, was pruned while this run was \
                         stored; nothing of this run counts: run the scan again"
                    ),
                });
            }
        }
        {
            let mut find = tx
                .prepare_cached("SELECT id FROM findings WHERE sha256 = ?1")
                .map_err(err)?;
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO findings (sha256, control, state, severity, target, fingerprint, \
                     body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (sha256) DO NOTHING",
                )
                .map_err(err)?;
            let mut link = tx
                .prepare_cached(
                    "INSERT INTO run_findings (run_id, seq, finding_id, sha256, failing) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err)?;
            for p in self.batch.drain(..) {
                let key = p.key;
                let id: i64 = match p.verdict {
                    Verdict::Known(id) => id,
                    // Most verdicts not in place in the previous run are new: try to store
                    // first, and look up only the ones that were there after all.
                    Verdict::New(n) => {
                        let stored = add
                            .execute((
                                &key[..],
                                &n.control,
                                n.state,
                                n.severity,
                                &n.target,
                                &n.fingerprint,
                                &n.body,
                            ))
                            .map_err(err)?;
                        if stored == 1 {
                            tx.last_insert_rowid()
                        } else {
                            find.query_row([&key[..]], |r| r.get(0)).map_err(err)?
                        }
                    }
                };
                link.execute((self.run, self.seq, id, &key[..], p.failing))
                    .map_err(err)?;
                if self.drift {
                    self.current.push(id << 1 | i64::from(p.failing));
                }
                self.seq += 1;
            }
        }
        tx.commit().map_err(err)
    }

    fn finish_run(&mut self, header: &Header, trailer: &Trailer) -> Result<(), HistoryError> {
        self.flush()?;
        let path = self.store.path.clone();
        let err = |e| super::store::classify(&path, e);
        let arguments = serde_json::to_string(&trailer.run.arguments)
            .map_err(|e| HistoryError::Usage(e.to_string()))?;
        let rest =
            serde_json::to_string(trailer).map_err(|e| HistoryError::Usage(e.to_string()))?;
        let tx = self.store.write()?;
        for p in &header.policies {
            tx.execute(
                "INSERT OR REPLACE INTO policies (run_id, policy, version, sha256, source) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (self.run, &p.id, &p.version, &p.sha256, &p.source),
            )
            .map_err(err)?;
        }
        for tag in &trailer.run.tags {
            tx.execute(
                "INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?1, ?2)",
                (self.run, tag),
            )
            .map_err(err)?;
        }
        for ((state, severity), n) in &self.counts {
            tx.execute(
                "INSERT INTO run_counts (run_id, state, severity, n) VALUES (?1, ?2, ?3, ?4)",
                (self.run, state, severity, n),
            )
            .map_err(err)?;
        }
        tx.execute(
            "UPDATE runs SET host = ?2, started_at = ?3, finished_at = ?4, evaluated_at = ?5, \
             arguments = ?6, findings = ?7, digest = ?8, trailer = ?9, machine_id = ?10, \
             complete = 1 WHERE id = ?1",
            (
                self.run,
                &trailer.run.host,
                &trailer.run.started_at,
                &trailer.run.finished_at,
                &trailer.run.evaluated_at,
                &arguments,
                self.seq,
                &trailer.integrity.digest,
                &rest,
                &trailer.run.machine_id,
            ),
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        let drift = if self.drift {
            let previous = self
                .previous
                .all(&self.store.conn)
                .map_err(|e| self.store.err(e))?;
            let known = previous.map(|(run, seen)| (run, seen, std::mem::take(&mut self.current)));
            super::drift(self.store, self.run, known)?
        } else {
            None
        };
        *self.slot.borrow_mut() = Some(Stored {
            run: self.run,
            drift,
        });
        Ok(())
    }
}

fn io_err(e: HistoryError) -> io::Error {
    io::Error::other(e.to_string())
}

impl Sink for Recording<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.begin_run(header).map_err(io_err)
    }

    fn finding(&mut self, f: &Finding<'_>, _control: usize, canonical: &[u8]) -> io::Result<()> {
        let sha256 = ring::digest::digest(&ring::digest::SHA256, canonical);
        let key: [u8; 16] = sha256.as_ref()[..16]
            .try_into()
            .expect("SHA-256 is 32 bytes");
        *self
            .counts
            .entry((f.state.as_str(), f.severity.as_str()))
            .or_default() += 1;
        // A verdict the previous run had here costs a comparison and a link, nothing more.
        let known = self
            .previous
            .take(&self.store.conn, &key)
            .map_err(|e| io_err(self.store.err(e)))?;
        let verdict = match known {
            Some(id) => Verdict::Known(id),
            None => Verdict::New(NewVerdict {
                body: std::str::from_utf8(canonical)
                    .map_err(io::Error::other)?
                    .to_string(),
                control: f.control.to_string(),
                state: f.state.as_str(),
                severity: f.severity.as_str(),
                target: f.target.name().map(str::to_string),
                fingerprint: f.fingerprint.clone(),
            }),
        };
        self.batch.push(Pending {
            key,
            failing: matches!(f.state, State::Fail | State::Error),
            verdict,
        });
        if self.batch.len() >= BATCH {
            self.flush().map_err(io_err)?;
        }
        Ok(())
    }

    fn finish(&mut self, header: &Header, trailer: &Trailer) -> io::Result<()> {
        self.finish_run(header, trailer).map_err(io_err)
    }
}
