//! Scan history: every run a scan stores with `--history` (an SQLite file, or a PostgreSQL server
//! many hosts share: `db.rs` is the one interface over both), and what can be asked of it: the runs (`vigil history list`), one run's result (`vigil history show`), what
//! changed between two runs (`vigil diff`), the trend of the last runs (the HTML report), and
//! pruning old runs. `docs/history.md` documents the tables.

mod db;
mod diff;
pub mod fleet;
mod postgres;
mod record;
mod schema;
mod store;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use db::{DbError, Value};

pub use diff::{Counts, DIFF_VERSION, Diff, Item, RunRef};
pub use postgres::{is_url as is_postgres_url, redact};
pub use record::{Recording, Stored, StoredSlot};
pub use schema::{APPLICATION_ID, MIGRATIONS};
pub use store::{HistoryError, Mode, Store};

use crate::policy::Severity;
use crate::results::{Finding, Header, Sink, State, Trailer};

/// How many runs the trend covers.
pub const TREND_RUNS: usize = 30;

/// How many findings of each class the drift of a scan's report lists (the counts are exact).
pub const DRIFT_ITEMS: usize = 50;

/// Which runs a command reads: those of one host, those carrying a tag (both when both are given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Select {
    /// The host name recorded with the run (`vigil scan --host-name`, or the machine's name).
    pub host: Option<String>,
    /// A tag recorded with the run (`vigil scan --tag`).
    pub tag: Option<String>,
}

/// The SQL condition on `runs` for a [`Select`] bound as `?1` (host) and `?2` (tag).
pub(crate) const SELECTED: &str = "(CAST(?1 AS TEXT) IS NULL OR host = ?1) AND (CAST(?2 AS TEXT) IS NULL OR id IN (SELECT run_id FROM run_tags WHERE tag = ?2))";

impl Select {
    /// The parameters [`SELECTED`] is bound to.
    pub(crate) fn values(&self) -> [Value<'_>; 2] {
        [
            Value::OptText(self.host.as_deref()),
            Value::OptText(self.tag.as_deref()),
        ]
    }
}

/// One run, as `vigil history list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRow {
    pub run: i64,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// False for a run whose scan stopped before its end: it is never compared.
    pub complete: bool,
    pub findings: i64,
    /// Verdicts by state.
    pub states: BTreeMap<String, i64>,
    /// Pass rate over pass, fail and error verdicts, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The policies applied, as `id@version`.
    pub policies: Vec<String>,
}

/// One run of a trend.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub run: i64,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
    /// `fail` verdicts by severity, most severe first.
    pub failures: Vec<(Severity, i64)>,
}

/// What changed since the previous run of the same host, with the trend: the HTML report's
/// "since the last run" section.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The comparison with the previous run (lists cut to [`DRIFT_ITEMS`]); `None` for the first
    /// run of a host.
    pub diff: Option<Diff>,
    /// The last [`TREND_RUNS`] complete runs of the host, oldest first, this one last.
    pub trend: Vec<TrendPoint>,
}

impl Store {
    pub(crate) fn q<T>(&self, r: Result<T, DbError>) -> Result<T, HistoryError> {
        r.map_err(|e| self.err(e))
    }

    /// The runs `select` names, the most recently started first.
    pub fn runs(&self, select: &Select) -> Result<Vec<RunRow>, HistoryError> {
        let rows = self.q(self.conn.rows(
            &format!(
                "SELECT id, host, started_at, finished_at, complete, findings, digest, machine_id \
                 FROM runs WHERE {SELECTED} ORDER BY started_at DESC, id DESC"
            ),
            &select.values(),
            |r| {
                Ok(RunRow {
                    run: r.int(0)?,
                    host: r.text(1)?,
                    machine_id: r.opt_text(7)?,
                    tags: Vec::new(),
                    started_at: r.text(2)?,
                    finished_at: r.opt_text(3)?,
                    complete: r.int(4)? != 0,
                    findings: r.int(5)?,
                    states: BTreeMap::new(),
                    pass_rate: None,
                    digest: r.opt_text(6)?,
                    policies: Vec::new(),
                })
            },
        ))?;
        rows.into_iter()
            .map(|mut row| {
                row.states = self.states(row.run)?;
                row.pass_rate = pass_rate(&row.states);
                row.policies = self.policies(row.run)?;
                row.tags = self.tags(row.run)?;
                Ok(row)
            })
            .collect()
    }

    pub(crate) fn tags(&self, run: i64) -> Result<Vec<String>, HistoryError> {
        self.q(self.conn.rows(
            "SELECT tag FROM run_tags WHERE run_id = ?1 ORDER BY tag",
            &[Value::Int(run)],
            |r| r.text(0),
        ))
    }

    fn states(&self, run: i64) -> Result<BTreeMap<String, i64>, HistoryError> {
        self.q(self.conn.rows(
            "SELECT state, CAST(sum(n) AS BIGINT) FROM run_counts WHERE run_id = ?1 GROUP BY state",
            &[Value::Int(run)],
            |r| Ok((r.text(0)?, r.int(1)?)),
        ))
        .map(|rows| rows.into_iter().collect())
    }

    fn policies(&self, run: i64) -> Result<Vec<String>, HistoryError> {
        self.q(self.conn.rows(
            "SELECT policy || '@' || version FROM policies WHERE run_id = ?1 ORDER BY policy",
            &[Value::Int(run)],
            |r| r.text(0),
        ))
    }

    /// The run a user names: its id, `latest`, or `latest~N` (N runs before the latest), among
    /// the complete runs `select` names.
    pub fn resolve(&self, spec: &str, select: &Select) -> Result<i64, HistoryError> {
        let back = if spec == "latest" {
            Some(0)
        } else {
            spec.strip_prefix("latest~")
                .and_then(|n| n.parse::<i64>().ok())
        };
        let [host, tag] = select.values();
        let found: Option<i64> = match back {
            Some(n) => self.q(self.conn.opt(
                &format!(
                    "SELECT id FROM runs WHERE complete = 1 AND {SELECTED} \
                     ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?3"
                ),
                &[host, tag, Value::Int(n)],
                |r| r.int(0),
            ))?,
            None => {
                let id: i64 = spec.parse().map_err(|_| {
                    HistoryError::Usage(format!(
                        "`{spec}` is not a run: give its number (vigil history list), `latest` \
                         or `latest~1`"
                    ))
                })?;
                self.q(self.conn.opt(
                    &format!("SELECT id FROM runs WHERE id = ?3 AND complete = 1 AND {SELECTED}"),
                    &[host, tag, Value::Int(id)],
                    |r| r.int(0),
                ))?
            }
        };
        found.ok_or_else(|| HistoryError::Usage(format!("{}: no complete run `{spec}`", self.path)))
    }

    fn run_ref(&self, run: i64) -> Result<RunRef, HistoryError> {
        self.q(self.conn.one(
            "SELECT host, started_at, coalesce(digest, '') FROM runs WHERE id = ?1",
            &[Value::Int(run)],
            |r| {
                Ok(RunRef {
                    run: Some(run),
                    file: None,
                    host: r.text(0)?,
                    started_at: r.text(1)?,
                    digest: r.text(2)?,
                })
            },
        ))
    }

    /// The distinct verdicts of a run, sorted, each as `id << 1 | failing`: 8 bytes a verdict,
    /// so two runs of a million verdicts compare in 16 MiB.
    fn verdict_ids(&self, run: i64) -> Result<Vec<i64>, HistoryError> {
        let count = self.q(self.conn.one(
            "SELECT findings FROM runs WHERE id = ?1",
            &[Value::Int(run)],
            |r| r.int(0),
        ))?;
        let mut ids = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        self.q(self.conn.each(
            "SELECT finding_id, failing FROM run_findings WHERE run_id = ?1",
            &[Value::Int(run)],
            |r| {
                ids.push(r.int(0)? << 1 | i64::from(r.int(1)? != 0));
                Ok(())
            },
        ))?;
        // A run may hold the same verdict twice (the same file named twice): a multiset.
        ids.sort_unstable();
        Ok(ids)
    }

    fn finding(&self, id: i64) -> Result<Finding<'static>, HistoryError> {
        let body = self.q(self.conn.one(
            "SELECT body FROM findings WHERE id = ?1",
            &[Value::Int(id)],
            |r| r.text(0),
        ))?;
        serde_json::from_str(&body).map_err(|e| HistoryError::Damaged {
            path: self.path.clone(),
            why: format!("verdict {id} is not a finding: {e}"),
        })
    }

    /// What changed from run `old` to run `new`. `limit` cuts the list of findings still failing
    /// (their count stays exact).
    pub fn diff(&self, old: i64, new: i64, limit: Option<usize>) -> Result<Diff, HistoryError> {
        let a = self.verdict_ids(old)?;
        let b = self.verdict_ids(new)?;
        self.diff_ids(old, new, &a, &b, limit)
    }

    /// [`Store::diff`] of two runs whose verdicts are known (sorted `id << 1 | failing`, as
    /// [`Store::verdict_ids`] gives them).
    fn diff_ids(
        &self,
        old: i64,
        new: i64,
        a: &[i64],
        b: &[i64],
        limit: Option<usize>,
    ) -> Result<Diff, HistoryError> {
        let (mut old_only, mut new_only, mut shared_failing) = (Vec::new(), Vec::new(), Vec::new());
        let mut unchanged = 0u64;
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(&x), Some(&y)) if x == y => {
                    if x & 1 == 1 {
                        shared_failing.push(x >> 1);
                    } else {
                        unchanged += 1;
                    }
                    i += 1;
                    j += 1;
                }
                (Some(&x), Some(&y)) if x < y => {
                    old_only.push(x >> 1);
                    i += 1;
                }
                (Some(&x), None) => {
                    old_only.push(x >> 1);
                    i += 1;
                }
                (_, Some(&y)) => {
                    new_only.push(y >> 1);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        let load = |ids: &[i64]| -> Result<Vec<Finding<'static>>, HistoryError> {
            ids.iter().map(|&id| self.finding(id)).collect()
        };
        let mut diff = Diff {
            diff_version: DIFF_VERSION,
            from: self.run_ref(old)?,
            to: self.run_ref(new)?,
            counts: Counts {
                unchanged,
                still_failing: shared_failing.len() as u64,
                ..Counts::default()
            },
            new: Vec::new(),
            resolved: Vec::new(),
            changed: Vec::new(),
            still_failing: Vec::new(),
        };
        let shown = limit.unwrap_or(usize::MAX).min(shared_failing.len());
        for f in load(&shared_failing[..shown])? {
            diff.still_failing.push(Item::of(&f));
        }
        diff::classify(load(&old_only)?, load(&new_only)?, &mut diff);
        if let Some(n) = limit {
            diff.still_failing.truncate(n);
        }
        Ok(diff)
    }

    /// The previous complete run of the host that ran `run`: the one started last before it (a
    /// result imported late takes its place by when it ran, not when it was stored).
    pub fn previous(&self, run: i64) -> Result<Option<i64>, HistoryError> {
        self.q(self.conn.opt(
            "SELECT p.id FROM runs p JOIN runs r ON r.id = ?1 \
             WHERE p.host = r.host AND p.complete = 1 \
             AND (p.started_at, p.id) < (r.started_at, r.id) \
             ORDER BY p.started_at DESC, p.id DESC LIMIT 1",
            &[Value::Int(run)],
            |r| r.int(0),
        ))
    }

    /// The last `n` complete runs of the host that ran `run`, up to it, oldest first.
    pub fn trend(&self, run: i64, n: usize) -> Result<Vec<TrendPoint>, HistoryError> {
        let runs: Vec<(i64, String)> = self.q(self.conn.rows(
            "SELECT p.id, p.started_at FROM runs p JOIN runs r ON r.id = ?1 \
             WHERE p.host = r.host AND p.complete = 1 \
             AND (p.started_at, p.id) <= (r.started_at, r.id) \
             ORDER BY p.started_at DESC, p.id DESC LIMIT ?2",
            &[Value::Int(run), Value::Int(n as i64)],
            |r| Ok((r.int(0)?, r.text(1)?)),
        ))?;
        let mut points = Vec::with_capacity(runs.len());
        for (id, started_at) in runs.into_iter().rev() {
            let by: BTreeMap<String, i64> = self
                .q(self.conn.rows(
                    "SELECT severity, n FROM run_counts WHERE run_id = ?1 AND state = 'fail'",
                    &[Value::Int(id)],
                    |r| Ok((r.text(0)?, r.int(1)?)),
                ))?
                .into_iter()
                .collect();
            let failures = Severity::ALL_DESCENDING
                .iter()
                .map(|s| (*s, by.get(s.as_str()).copied().unwrap_or(0)))
                .collect();
            points.push(TrendPoint {
                run: id,
                started_at,
                pass_rate: pass_rate(&self.states(id)?),
                failures,
            });
        }
        Ok(points)
    }

    /// Feeds a stored run to `sinks` as `vigil report` feeds a result file, and checks that the
    /// digest recomputed from what is stored is the one recorded when it ran.
    pub fn replay(
        &self,
        run: i64,
        sinks: Vec<Box<dyn Sink + '_>>,
    ) -> Result<Trailer, HistoryError> {
        let (header, trailer, complete) = self.q(self.conn.one(
            "SELECT h.body, r.trailer, r.complete FROM runs r JOIN headers h ON h.id = r.header_id \
             WHERE r.id = ?1",
            &[Value::Int(run)],
            |r| Ok((r.text(0)?, r.opt_text(1)?, r.int(2)?)),
        ))?;
        let damaged = |why: String| HistoryError::Damaged {
            path: self.path.clone(),
            why,
        };
        let (Some(trailer), 1) = (trailer, complete) else {
            return Err(HistoryError::Usage(format!(
                "{}: run {run} did not complete; it has no result",
                self.path
            )));
        };
        let header: Header =
            serde_json::from_str(&header).map_err(|e| damaged(format!("run {run} header: {e}")))?;
        let trailer: Trailer = serde_json::from_str(&trailer)
            .map_err(|e| damaged(format!("run {run} trailer: {e}")))?;
        let io = |e: std::io::Error| HistoryError::Io {
            path: self.path.clone(),
            why: e.to_string(),
        };
        let mut rec = crate::results::Recorder::new(&header, sinks).map_err(io)?;
        // A verdict that is not a finding, or a sink that fails, stops the replay with its error.
        let mut failed: Option<HistoryError> = None;
        let streamed = self.conn.each(
            "SELECT f.body FROM run_findings rf JOIN findings f ON f.id = rf.finding_id \
             WHERE rf.run_id = ?1 ORDER BY rf.seq",
            &[Value::Int(run)],
            |r| {
                let body = r.text(0)?;
                let outcome = serde_json::from_str::<Finding<'_>>(&body)
                    .map_err(|e| damaged(format!("run {run}: a verdict is not a finding: {e}")))
                    .and_then(|f| rec.record(&f).map_err(io));
                match outcome {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        failed = Some(e);
                        Err(DbError::Convert("stopped".into()))
                    }
                }
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
        self.q(streamed)?;
        let again = rec
            .finish(
                trailer.scan_errors.clone(),
                trailer.inventory.clone(),
                trailer.run.clone(),
                trailer.waivers.clone(),
                trailer.known_failures.clone(),
            )
            .map_err(io)?;
        if again.integrity.digest != trailer.integrity.digest {
            return Err(damaged(format!(
                "run {run} no longer matches its digest (recorded {}, computed {})",
                trailer.integrity.digest, again.integrity.digest
            )));
        }
        Ok(again)
    }

    /// Deletes complete runs that started before `before` (RFC 3339) and incomplete runs that
    /// started more than a day before it ran, then the verdicts no run refers to any more; the
    /// freed pages are returned to the file system. Returns (runs, verdicts) deleted.
    pub fn prune(&mut self, before: &str, stale_before: &str) -> Result<(u64, u64), HistoryError> {
        // run_findings, policies, run_counts and run_tags follow their run (ON DELETE CASCADE).
        let runs = self.write(|db| {
            db.execute(
                "DELETE FROM runs WHERE (complete = 1 AND started_at < ?1) \
                 OR (complete = 0 AND started_at < ?2)",
                &[Value::Text(before), Value::Text(stale_before)],
            )
        })?;
        let verdicts = self.delete_orphans()?;
        if !self.conn.is_postgres() {
            self.q(self
                .conn
                .batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"))?;
        }
        Ok((runs, verdicts))
    }

    /// Deletes the verdicts and headers no run refers to any more. Returns the verdicts deleted.
    fn delete_orphans(&mut self) -> Result<u64, HistoryError> {
        // The verdicts no run refers to any more, found in one pass: with foreign keys checked,
        // every deleted row would search the links for a reference (they have no index by
        // verdict). A writer links a verdict only inside its own write transaction, after checking
        // that the run it took it from still exists, and this transaction runs alone (SQLite has
        // one writer; in PostgreSQL it takes the history's lock that every writer shares), so none
        // of these can be in use.
        let sqlite = !self.conn.is_postgres();
        if sqlite {
            self.q(self.conn.batch("PRAGMA foreign_keys = OFF;"))?;
        }
        // Each database's fastest anti-join: SQLite indexes the subquery's ids once for NOT IN;
        // PostgreSQL plans NOT EXISTS as a hash anti-join, where NOT IN over more ids than fit
        // its working memory would search the list for every verdict.
        let (verdicts_sql, headers_sql) = if sqlite {
            (
                "DELETE FROM findings WHERE id NOT IN (SELECT finding_id FROM run_findings)",
                "DELETE FROM headers WHERE id NOT IN (SELECT header_id FROM runs)",
            )
        } else {
            (
                "DELETE FROM findings f WHERE NOT EXISTS \
                 (SELECT 1 FROM run_findings rf WHERE rf.finding_id = f.id)",
                "DELETE FROM headers h WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.header_id = h.id)",
            )
        };
        let orphans = self.write_alone(|db| {
            let verdicts = db.execute(verdicts_sql, &[])?;
            db.execute(headers_sql, &[])?;
            Ok(verdicts)
        });
        if sqlite {
            self.q(self.conn.batch("PRAGMA foreign_keys = ON;"))?;
        }
        orphans
    }

    /// Stores a saved result file as a run (for comparing result files), checking its integrity
    /// digest in the same pass. Returns the run.
    ///
    /// The run is marked complete only once the digest checks: an altered result never becomes a
    /// run. The bytes stored are the bytes checked, even if the file changes meanwhile, unless
    /// the document's members come in an order that needs a second pass for the digest (neither
    /// vigil's order nor sorted: see [`crate::results::integrity::replay_verified`]).
    pub fn import(&mut self, results: &Path) -> Result<i64, HistoryError> {
        let refuse = |why: String| HistoryError::Usage(format!("{}: {why}", results.display()));
        let slot = StoredSlot::default();
        let mut sink = Recording::new(self, slot.clone()).without_drift().held();
        // The document names its host only at its end; the host's previous run, which lets
        // verdicts it already holds be linked without a look-up, is found from a look at the
        // tail. The host stored is the one the checked trailer gives.
        if let Some(host) = crate::results::read::host_hint(results) {
            sink = sink.for_host(&host);
        }
        let outcome = crate::results::integrity::replay_verified(results, vec![Box::new(sink)])
            .map_err(|e| refuse(e.to_string()))
            .and_then(|(trailer, _)| match trailer.run.shard {
                Some(_) => Err(refuse(
                    "one shard of a sharded scan: vigil merge the parts, then import the result"
                        .into(),
                )),
                None => Ok(()),
            });
        let run = slot.borrow_mut().take().map(|s| s.run);
        match (outcome, run) {
            (Ok(()), Some(run)) => {
                self.confirm(run)?;
                Ok(run)
            }
            (Ok(()), None) => Err(refuse("not a vigil result".into())),
            (Err(e), run) => {
                // A run left behind by a failed discard is incomplete: no comparison or report
                // shows it, and `prune` deletes it a day on, as it does a scan that died.
                if let Some(run) = run {
                    let _ = self.discard(run);
                }
                Err(e)
            }
        }
    }

    /// Marks a run stored by a [`Recording::held`] sink complete.
    fn confirm(&mut self, run: i64) -> Result<(), HistoryError> {
        self.write(|db| {
            db.execute(
                "UPDATE runs SET complete = 1 WHERE id = ?1",
                &[Value::Int(run)],
            )
        })?;
        Ok(())
    }

    /// Deletes an incomplete run, with the verdicts only it referred to.
    fn discard(&mut self, run: i64) -> Result<(), HistoryError> {
        self.write(|db| {
            db.execute(
                "DELETE FROM runs WHERE id = ?1 AND complete = 0",
                &[Value::Int(run)],
            )
        })?;
        self.delete_orphans()?;
        Ok(())
    }
}

pub(crate) fn pass_rate(states: &BTreeMap<String, i64>) -> Option<f64> {
    let get = |s: State| states.get(s.as_str()).copied().unwrap_or(0);
    let judged = get(State::Pass) + get(State::Fail) + get(State::Error);
    (judged > 0).then(|| get(State::Pass) as f64 * 100.0 / judged as f64)
}

/// The drift of a stored run: the comparison with the previous run of its host, and the trend.
///
/// `known` gives the verdicts of the previous run and of this one when the caller already has them
/// (the history sink reads both while it stores the run), as unsorted `id << 1 | failing`.
pub fn drift(
    store: &Store,
    run: i64,
    known: Option<(i64, Vec<i64>, Vec<i64>)>,
) -> Result<Option<Drift>, HistoryError> {
    let diff = match store.previous(run)? {
        Some(prev) => {
            let mut d = match known.filter(|k| k.0 == prev) {
                Some((_, mut a, mut b)) => {
                    for ids in [&mut a, &mut b] {
                        ids.sort_unstable();
                    }
                    store.diff_ids(prev, run, &a, &b, Some(DRIFT_ITEMS))?
                }
                None => store.diff(prev, run, Some(DRIFT_ITEMS))?,
            };
            for list in [&mut d.new, &mut d.resolved, &mut d.changed] {
                list.truncate(DRIFT_ITEMS);
            }
            Some(d)
        }
        None => None,
    };
    Ok(Some(Drift {
        diff,
        trend: store.trend(run, TREND_RUNS)?,
    }))
}
