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

use super::db::{Db, DbError, Value};
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
    /// Whether the run is marked complete once its trailer is stored; `false` leaves that to the
    /// caller, who checks something the sink cannot see first (see [`Recording::held`]).
    complete: bool,
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
    fn read(&mut self, db: &Db, run: i64) -> Result<(), DbError> {
        let mut got = 0;
        db.each(
            "SELECT seq, sha256, finding_id, failing FROM run_findings \
             WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
            &[
                Value::Int(run),
                Value::Int(self.next_seq),
                Value::Int(BATCH as i64),
            ],
            |row| {
                let seq = row.int(0)?;
                let hash = row.blob(1)?;
                let id = row.int(2)?;
                let failing = row.int(3)? != 0;
                if let Ok(hash) = <[u8; 16]>::try_from(hash.as_slice()) {
                    self.queue.push_back((hash, id));
                }
                self.seen.push(id << 1 | i64::from(failing));
                self.next_seq = seq + 1;
                got += 1;
                Ok(())
            },
        )?;
        self.done = got < BATCH;
        Ok(())
    }

    /// Every verdict of the previous run (reading what is left of it).
    fn all(&mut self, conn: &Db) -> Result<Option<(i64, Vec<i64>)>, DbError> {
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
    fn take(&mut self, conn: &Db, sha: &[u8; 16]) -> Result<Option<i64>, DbError> {
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
            complete: true,
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

    /// Leaves the stored run incomplete, for the caller to [`Store::confirm`] or
    /// [`Store::discard`]: importing a result stores it in the pass that checks its digest, and
    /// only the end of that pass tells whether the document was altered. `slot` names the run as
    /// soon as it is started, so that a document that fails midway is discarded too.
    pub fn held(mut self) -> Self {
        self.complete = false;
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
        let run = self.store.write(|db| {
            let header_id = match db.opt(
                "SELECT id FROM headers WHERE sha256 = ?1",
                &[Value::Blob(sha.as_ref())],
                |r| r.int(0),
            )? {
                Some(id) => id,
                None => stored_id(
                    db,
                    "INSERT INTO headers (sha256, body) VALUES (?1, ?2) \
                     ON CONFLICT (sha256) DO NOTHING RETURNING id",
                    &[Value::Blob(sha.as_ref()), Value::Text(&body)],
                    "SELECT id FROM headers WHERE sha256 = ?1",
                )?,
            };
            db.one(
                "INSERT INTO runs (header_id, host, started_at, evaluated_at, arguments, \
                 tool_version) VALUES (?1, ?2, ?3, ?3, '[]', ?4) RETURNING id",
                &[
                    Value::Int(header_id),
                    Value::Text(&host),
                    Value::Text(&now),
                    Value::Text(env!("CARGO_PKG_VERSION")),
                ],
                |r| r.int(0),
            )
        })?;
        self.run = run;
        self.previous.run = self.store.previous(self.run)?;
        if !self.complete {
            *self.slot.borrow_mut() = Some(Stored { run, drift: None });
        }
        Ok(())
    }

    /// Stores the waiting verdicts and their links in one transaction. Verdicts new to the
    /// history are stored in the order of their keys, so that writers storing the same verdicts
    /// at once take their locks in one order and never deadlock.
    fn flush(&mut self) -> Result<(), HistoryError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let (run, seq, previous, batch) = (self.run, self.seq, self.previous.run, &self.batch);
        let ids = self.store.write(|db| {
            // Verdicts linked from the previous run are still stored only if that run is: a prune
            // deleting it meanwhile would have deleted them too.
            if let Some(prev) = previous
                && batch.iter().any(|p| matches!(p.verdict, Verdict::Known(_)))
                && db
                    .opt(
                        "SELECT 1 FROM runs WHERE id = ?1",
                        &[Value::Int(prev)],
                        |r| r.int(0),
                    )?
                    .is_none()
            {
                return Err(DbError::Refused(format!(
                    "run {prev}, which this run builds on, was pruned while this run was \
                     stored; nothing of this run counts: run the scan again"
                )));
            }
            let mut ids: Vec<i64> = batch
                .iter()
                .map(|p| match p.verdict {
                    Verdict::Known(id) => id,
                    Verdict::New(_) => 0,
                })
                .collect();
            let mut new: Vec<usize> = (0..batch.len())
                .filter(|&i| matches!(batch[i].verdict, Verdict::New(_)))
                .collect();
            new.sort_by_key(|&i| batch[i].key);
            store_new(db, batch, &new, &mut ids)?;
            link(db, run, seq, batch, &ids)?;
            Ok(ids)
        })?;
        self.seq += self.batch.len() as i64;
        for (p, id) in self.batch.drain(..).zip(ids) {
            if self.drift {
                self.current.push(id << 1 | i64::from(p.failing));
            }
        }
        Ok(())
    }

    fn finish_run(&mut self, header: &Header, trailer: &Trailer) -> Result<(), HistoryError> {
        self.flush()?;
        let arguments = serde_json::to_string(&trailer.run.arguments)
            .map_err(|e| HistoryError::Usage(e.to_string()))?;
        let rest =
            serde_json::to_string(trailer).map_err(|e| HistoryError::Usage(e.to_string()))?;
        let (run, seq, counts, complete) = (self.run, self.seq, &self.counts, self.complete);
        self.store.write(|db| {
            for p in &header.policies {
                db.execute(
                    "INSERT INTO policies (run_id, policy, version, sha256, source) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, policy) DO UPDATE SET \
                     version = excluded.version, sha256 = excluded.sha256, source = excluded.source",
                    &[
                        Value::Int(run),
                        Value::from(&p.id),
                        Value::from(&p.version),
                        Value::from(&p.sha256),
                        Value::from(&p.source),
                    ],
                )?;
            }
            for tag in &trailer.run.tags {
                db.execute(
                    "INSERT INTO run_tags (run_id, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    &[Value::Int(run), Value::from(tag)],
                )?;
            }
            for ((state, severity), n) in counts {
                db.execute(
                    "INSERT INTO run_counts (run_id, state, severity, n) VALUES (?1, ?2, ?3, ?4)",
                    &[
                        Value::Int(run),
                        Value::Text(state),
                        Value::Text(severity),
                        Value::Int(*n),
                    ],
                )?;
            }
            db.execute(
                "UPDATE runs SET host = ?2, started_at = ?3, finished_at = ?4, evaluated_at = ?5, \
                 arguments = ?6, findings = ?7, digest = ?8, trailer = ?9, machine_id = ?10, \
                 complete = ?11 WHERE id = ?1",
                &[
                    Value::Int(run),
                    Value::from(&trailer.run.host),
                    Value::from(&trailer.run.started_at),
                    Value::from(&trailer.run.finished_at),
                    Value::from(&trailer.run.evaluated_at),
                    Value::Text(&arguments),
                    Value::Int(seq),
                    Value::from(&trailer.integrity.digest),
                    Value::Text(&rest),
                    Value::from(&trailer.run.machine_id),
                    Value::Int(i64::from(complete)),
                ],
            )?;
            Ok(())
        })?;
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

/// The id of the row an `INSERT ... ON CONFLICT DO NOTHING RETURNING id` stored, or of the row
/// already there (`find`, given the same first parameter).
fn stored_id(db: &Db, insert: &str, values: &[Value<'_>], find: &str) -> Result<i64, DbError> {
    match db.opt(insert, values, |r| r.int(0))? {
        Some(id) => Ok(id),
        None => db.one(find, &values[..1], |r| r.int(0)),
    }
}

/// Stores the verdicts `new` (indices into `batch`, in key order) that the history lacks, and sets
/// `ids` to the stored id of each. Most verdicts not in place in the previous run are new: each is
/// stored first, and looked up only if it was there after all. PostgreSQL takes the whole batch in
/// two statements.
fn store_new(db: &Db, batch: &[Pending], new: &[usize], ids: &mut [i64]) -> Result<(), DbError> {
    let verdict = |i: usize| match &batch[i].verdict {
        Verdict::New(n) => Some((&batch[i].key, n)),
        Verdict::Known(_) => None,
    };
    if let Db::Sqlite(c) = db {
        // In process, a statement per verdict costs little; SQLite hands the new row's id back
        // without a result set.
        let mut add = c.prepare_cached(
            "INSERT INTO findings (sha256, control, state, severity, target, fingerprint, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (sha256) DO NOTHING",
        )?;
        let mut find = c.prepare_cached("SELECT id FROM findings WHERE sha256 = ?1")?;
        for &i in new {
            let Some((key, n)) = verdict(i) else { continue };
            let stored = add.execute((
                &key[..],
                &n.control,
                n.state,
                n.severity,
                &n.target,
                &n.fingerprint,
                &n.body,
            ))?;
            ids[i] = if stored == 1 {
                c.last_insert_rowid()
            } else {
                find.query_row([&key[..]], |r| r.get(0))?
            };
        }
        return Ok(());
    }
    if new.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<(&[u8; 16], &NewVerdict)> = new.iter().filter_map(|&i| verdict(i)).collect();
    rows.dedup_by_key(|(key, _)| *key);
    let keys: Vec<&[u8]> = rows.iter().map(|(k, _)| &k[..]).collect();
    let column = |f: fn(&NewVerdict) -> Option<&str>| -> Vec<Option<&str>> {
        rows.iter().map(|(_, n)| f(n)).collect()
    };
    let mut found: std::collections::HashMap<[u8; 16], i64> =
        std::collections::HashMap::with_capacity(rows.len());
    let note = |found: &mut std::collections::HashMap<[u8; 16], i64>, r: &super::db::Row<'_>| {
        let key = <[u8; 16]>::try_from(r.blob(1)?.as_slice())
            .map_err(|_| DbError::Refused("a stored verdict's key is not 16 bytes".into()))?;
        found.insert(key, r.int(0)?);
        Ok(())
    };
    db.pg_rows(
        "INSERT INTO findings (sha256, control, state, severity, target, fingerprint, body) \
         SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[]) ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256",
        &[
            &keys,
            &column(|n| Some(&n.control)),
            &column(|n| Some(n.state)),
            &column(|n| Some(n.severity)),
            &column(|n| n.target.as_deref()),
            &column(|n| n.fingerprint.as_deref()),
            &column(|n| Some(&n.body)),
        ],
        |r| note(&mut found, r),
    )?;
    if found.len() < keys.len() {
        let missing: Vec<&[u8]> = rows
            .iter()
            .filter(|(k, _)| !found.contains_key(*k))
            .map(|(k, _)| &k[..])
            .collect();
        db.pg_rows(
            "SELECT id, sha256 FROM findings WHERE sha256 = ANY($1::bytea[])",
            &[&missing],
            |r| note(&mut found, r),
        )?;
    }
    for &i in new {
        ids[i] = *found
            .get(&batch[i].key)
            .ok_or_else(|| DbError::Refused("a verdict was neither stored nor found".into()))?;
    }
    Ok(())
}

/// Links a run to a batch of its verdicts, numbered from `seq`. PostgreSQL takes the whole batch
/// in one statement (a round trip per verdict would dominate); SQLite, in process, one at a time.
fn link(db: &Db, run: i64, seq: i64, batch: &[Pending], ids: &[i64]) -> Result<(), DbError> {
    if db.is_postgres() {
        let too_far = || DbError::Refused(format!("run {run} holds more than 2^31 verdicts"));
        let run = i32::try_from(run).map_err(|_| too_far())?;
        let first = i32::try_from(seq).map_err(|_| too_far())?;
        let seqs: Vec<i32> = (0..batch.len())
            .map(|i| i32::try_from(i).ok().and_then(|i| first.checked_add(i)))
            .collect::<Option<_>>()
            .ok_or_else(too_far)?;
        let keys: Vec<&[u8]> = batch.iter().map(|p| &p.key[..]).collect();
        let failing: Vec<i16> = batch.iter().map(|p| i16::from(p.failing)).collect();
        db.pg_execute(
            "INSERT INTO run_findings (run_id, seq, finding_id, sha256, failing) \
             SELECT $1, * FROM unnest($2::integer[], $3::bigint[], $4::bytea[], $5::smallint[])",
            &[&run, &seqs, &ids, &keys, &failing],
        )?;
        return Ok(());
    }
    db.execute_all(
        "INSERT INTO run_findings (run_id, seq, finding_id, sha256, failing) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        batch.iter().zip(ids).enumerate().map(|(i, (p, id))| {
            [
                Value::Int(run),
                Value::Int(seq + i as i64),
                Value::Int(*id),
                Value::Blob(&p.key),
                Value::Int(i64::from(p.failing)),
            ]
        }),
    )?;
    Ok(())
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
