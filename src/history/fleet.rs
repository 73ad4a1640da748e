//! The fleet's view of a history that many hosts write to (or that their results were imported
//! into): where each host stands, what fails on the most hosts, what changed since each host's
//! previous run, who stopped reporting, which waivers run out soon. `vigil fleet report` renders
//! it (`report::fleet`).
//!
//! Every figure reads the latest complete run of each host (per night, for the trend) through the
//! per-run counts and the failing links of `run_findings`; comparisons read only what changed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use super::db::Value;
use super::{HistoryError, SELECTED, Select, Store, pass_rate};
use crate::policy::Severity;
use crate::results::{Header, Trailer};

/// Version of the fleet document's shape.
pub const FLEET_VERSION: u32 = 1;

/// A host that has not reported for this long is listed as silent.
pub const SILENT_AFTER: time::Duration = time::Duration::hours(36);

/// Waivers that end within this many days are listed.
pub const EXPIRING_WITHIN: time::Duration = time::Duration::days(14);

/// Nights in the trend.
pub const TREND_NIGHTS: usize = 30;

/// How many controls, and changed findings, the report lists (the counts are exact).
pub const TOP_CONTROLS: usize = 20;
pub const CHANGES_LISTED: usize = 200;

/// The fleet, as `vigil fleet report` renders it.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub fleet_version: u32,
    /// The moment the report judges "silent" and "expiring" against (`--at`, or now).
    pub generated_at: String,
    /// The tag the runs were selected by, if any.
    pub tag: Option<String>,
    pub hosts: u64,
    /// Pass rate over the latest run of every host (pass / pass, fail and error).
    pub pass_rate: Option<f64>,
    /// `fail` verdicts of the latest runs by severity, most severe first.
    pub failures: Vec<(Severity, i64)>,
    pub errors: i64,
    /// One point a night (the date runs started, UTC), the latest run of each host that night.
    pub trend: Vec<Night>,
    /// Every host, most failures first (critical, then high...).
    pub ranking: Vec<HostRow>,
    /// The controls failing on the most hosts.
    pub top_controls: Vec<ControlRow>,
    /// What changed between each host's previous run and its latest.
    pub changes: Changes,
    /// Hosts whose latest run started more than 36 hours before `generated_at`.
    pub silent: Vec<Silent>,
    /// Waivers of the latest runs that end within 14 days of `generated_at` (or ended already).
    pub expiring_waivers: Vec<Expiring>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Night {
    pub night: String,
    pub hosts: u64,
    pub pass_rate: Option<f64>,
    pub failures: Vec<(Severity, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostRow {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub run: i64,
    pub started_at: String,
    pub pass_rate: Option<f64>,
    pub failures: Vec<(Severity, i64)>,
    pub errors: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    pub control: String,
    pub title: String,
    pub severity: Severity,
    /// Hosts whose latest run fails it.
    pub hosts: u64,
    /// Its failing findings over those runs.
    pub findings: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    /// Hosts with a previous run to compare with.
    pub compared: u64,
    pub new: u64,
    pub resolved: u64,
    /// The first findings that changed, most severe first.
    pub items: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub host: String,
    /// `new` or `resolved`.
    pub class: &'static str,
    pub control: String,
    pub severity: Severity,
    pub target: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Silent {
    pub host: String,
    pub last_run: i64,
    pub last_started_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Expiring {
    pub host: String,
    pub control: String,
    pub target: Option<String>,
    pub expires: String,
    pub approved_by: String,
}

/// A latest run.
struct Latest {
    host: String,
    run: i64,
    started_at: String,
    machine_id: Option<String>,
}

fn by_severity(counts: &BTreeMap<(String, String), i64>, state: &str) -> Vec<(Severity, i64)> {
    Severity::ALL_DESCENDING
        .iter()
        .map(|s| {
            let n = counts
                .get(&(state.to_string(), s.as_str().to_string()))
                .copied()
                .unwrap_or(0);
            (*s, n)
        })
        .collect()
}

fn states_of(counts: &BTreeMap<(String, String), i64>) -> BTreeMap<String, i64> {
    let mut states = BTreeMap::new();
    for ((state, _), n) in counts {
        *states.entry(state.clone()).or_default() += n;
    }
    states
}

impl Store {
    /// Counts of a run by (state, severity).
    fn counts(&self, run: i64) -> Result<BTreeMap<(String, String), i64>, HistoryError> {
        let rows = self.q(self.conn.rows(
            "SELECT state, severity, n FROM run_counts WHERE run_id = ?1",
            &[Value::Int(run)],
            |r| Ok(((r.text(0)?, r.text(1)?), r.int(2)?)),
        ))?;
        Ok(rows.into_iter().collect())
    }

    /// The fleet as of `now`, over the runs `select` names.
    pub fn fleet(&self, select: &Select, now: OffsetDateTime) -> Result<Fleet, HistoryError> {
        let latest = self.latest_runs(select)?;
        let mut ranking = Vec::with_capacity(latest.len());
        let mut total: BTreeMap<(String, String), i64> = BTreeMap::new();
        for l in &latest {
            let counts = self.counts(l.run)?;
            for (k, n) in &counts {
                *total.entry(k.clone()).or_default() += n;
            }
            let states = states_of(&counts);
            ranking.push(HostRow {
                host: l.host.clone(),
                machine_id: l.machine_id.clone(),
                tags: self.tags(l.run)?,
                run: l.run,
                started_at: l.started_at.clone(),
                pass_rate: pass_rate(&states),
                failures: by_severity(&counts, "fail"),
                errors: states.get("error").copied().unwrap_or(0),
            });
        }
        // Most failures first, severity by severity; then errors; then by name.
        ranking.sort_by(|a, b| {
            let key = |h: &HostRow| h.failures.iter().map(|(_, n)| *n).collect::<Vec<_>>();
            key(b)
                .cmp(&key(a))
                .then(b.errors.cmp(&a.errors))
                .then(a.host.cmp(&b.host))
        });
        let states = states_of(&total);
        let silent_before = crate::clock::rfc3339(now - SILENT_AFTER);
        let silent = latest
            .iter()
            .filter(|l| l.started_at < silent_before)
            .map(|l| Silent {
                host: l.host.clone(),
                last_run: l.run,
                last_started_at: l.started_at.clone(),
            })
            .collect();
        Ok(Fleet {
            fleet_version: FLEET_VERSION,
            generated_at: crate::clock::rfc3339(now),
            tag: select.tag.clone(),
            hosts: latest.len() as u64,
            pass_rate: pass_rate(&states),
            failures: by_severity(&total, "fail"),
            errors: states.get("error").copied().unwrap_or(0),
            trend: self.nights(select)?,
            top_controls: self.top_controls(&latest)?,
            changes: self.changes(&latest)?,
            silent,
            expiring_waivers: self.expiring(&latest, now)?,
            ranking,
        })
    }

    /// The latest complete run of every host, by host name.
    fn latest_runs(&self, select: &Select) -> Result<Vec<Latest>, HistoryError> {
        self.q(self.conn.rows(
            &format!(
                "SELECT host, id, started_at, machine_id FROM (SELECT host, id, started_at, \
                 machine_id, row_number() OVER (PARTITION BY host ORDER BY started_at DESC, id \
                 DESC) AS latest FROM runs WHERE complete = 1 AND {SELECTED}) AS ranked \
                 WHERE latest = 1 ORDER BY host"
            ),
            &select.values(),
            |r| {
                Ok(Latest {
                    host: r.text(0)?,
                    run: r.int(1)?,
                    started_at: r.text(2)?,
                    machine_id: r.opt_text(3)?,
                })
            },
        ))
    }

    /// The last nights: each host's latest run of the night, summed.
    fn nights(&self, select: &Select) -> Result<Vec<Night>, HistoryError> {
        let [host, tag] = select.values();
        let rows: Vec<(String, String, String, i64)> = self.q(self.conn.rows(
            &format!(
                "WITH ranked AS (SELECT substr(started_at, 1, 10) AS night, id, row_number() OVER \
             (PARTITION BY substr(started_at, 1, 10), host ORDER BY started_at DESC, id DESC) AS k \
             FROM runs WHERE complete = 1 AND {SELECTED}), \
             last AS (SELECT night, id FROM ranked WHERE k = 1), \
             nights AS (SELECT DISTINCT night FROM last ORDER BY night DESC LIMIT ?3) \
             SELECT l.night, c.state, c.severity, CAST(sum(c.n) AS BIGINT) \
             FROM last l JOIN nights USING (night) JOIN run_counts c ON c.run_id = l.id \
             GROUP BY l.night, c.state, c.severity ORDER BY l.night"
            ),
            &[host, tag, Value::Int(TREND_NIGHTS as i64)],
            |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.int(3)?)),
        ))?;
        let mut nights: BTreeMap<String, BTreeMap<(String, String), i64>> = BTreeMap::new();
        for (night, state, severity, n) in rows {
            *nights
                .entry(night)
                .or_default()
                .entry((state, severity))
                .or_default() += n;
        }
        let per_night: BTreeMap<String, i64> = self
            .q(self.conn.rows(
                &format!(
                    "SELECT substr(started_at, 1, 10) AS night, count(DISTINCT host) FROM runs \
                     WHERE complete = 1 AND {SELECTED} GROUP BY night"
                ),
                &select.values(),
                |r| Ok((r.text(0)?, r.int(1)?)),
            ))?
            .into_iter()
            .collect();
        Ok(nights
            .into_iter()
            .map(|(night, counts)| Night {
                hosts: per_night.get(&night).copied().unwrap_or(0) as u64,
                pass_rate: pass_rate(&states_of(&counts)),
                failures: by_severity(&counts, "fail"),
                night,
            })
            .collect())
    }

    /// The controls failing on the most hosts, over the latest runs.
    fn top_controls(&self, latest: &[Latest]) -> Result<Vec<ControlRow>, HistoryError> {
        let mut hosts: BTreeMap<String, (BTreeSet<usize>, u64, String)> = BTreeMap::new();
        for (i, l) in latest.iter().enumerate() {
            let rows: Vec<(String, String)> = self.q(self.conn.rows(
                "SELECT f.control, f.severity FROM run_findings rf JOIN findings f \
                 ON f.id = rf.finding_id WHERE rf.run_id = ?1 AND rf.failing = 1 \
                 AND f.state = 'fail'",
                &[Value::Int(l.run)],
                |r| Ok((r.text(0)?, r.text(1)?)),
            ))?;
            for (control, severity) in rows {
                let e = hosts.entry(control).or_default();
                e.0.insert(i);
                e.1 += 1;
                e.2 = severity;
            }
        }
        let titles = self.titles(latest)?;
        let mut rows: Vec<ControlRow> = hosts
            .into_iter()
            .map(|(control, (on, findings, severity))| ControlRow {
                title: titles.get(&control).cloned().unwrap_or_default(),
                severity: Severity::parse(&severity).unwrap_or(Severity::Info),
                hosts: on.len() as u64,
                findings,
                control,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.hosts
                .cmp(&a.hosts)
                .then(b.severity.cmp(&a.severity))
                .then(b.findings.cmp(&a.findings))
                .then(a.control.cmp(&b.control))
        });
        rows.truncate(TOP_CONTROLS);
        Ok(rows)
    }

    /// Control titles from the headers of the latest runs.
    fn titles(&self, latest: &[Latest]) -> Result<BTreeMap<String, String>, HistoryError> {
        let mut ids: BTreeSet<i64> = BTreeSet::new();
        for l in latest {
            ids.insert(self.q(self.conn.one(
                "SELECT header_id FROM runs WHERE id = ?1",
                &[Value::Int(l.run)],
                |r| r.int(0),
            ))?);
        }
        let mut titles = BTreeMap::new();
        for id in ids {
            let text = self.q(self.conn.one(
                "SELECT body FROM headers WHERE id = ?1",
                &[Value::Int(id)],
                |r| r.text(0),
            ))?;
            let header: Header =
                serde_json::from_str(&text).map_err(|e| HistoryError::Damaged {
                    path: self.path.clone(),
                    why: format!("header {id}: {e}"),
                })?;
            for c in header.controls {
                titles.entry(c.id).or_insert(c.title);
            }
        }
        Ok(titles)
    }

    /// What changed from each host's previous run to its latest.
    fn changes(&self, latest: &[Latest]) -> Result<Changes, HistoryError> {
        let mut changes = Changes::default();
        for l in latest {
            let Some(prev) = self.previous(l.run)? else {
                continue;
            };
            changes.compared += 1;
            let d = self.diff(prev, l.run, Some(0))?;
            changes.new += d.counts.new;
            changes.resolved += d.counts.resolved;
            for (class, list) in [("new", d.new), ("resolved", d.resolved)] {
                changes.items.extend(list.into_iter().map(|i| Change {
                    host: l.host.clone(),
                    class,
                    control: i.control,
                    severity: i.severity,
                    target: i.target,
                }));
            }
        }
        changes.items.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.class.cmp(b.class))
                .then(a.host.cmp(&b.host))
                .then(a.control.cmp(&b.control))
                .then(a.target.cmp(&b.target))
        });
        changes.items.truncate(CHANGES_LISTED);
        Ok(changes)
    }

    /// Waivers of the latest runs that end by `now` + 14 days.
    fn expiring(
        &self,
        latest: &[Latest],
        now: OffsetDateTime,
    ) -> Result<Vec<Expiring>, HistoryError> {
        let horizon = crate::clock::rfc3339(now + EXPIRING_WITHIN);
        let horizon = &horizon[..10];
        let mut out = Vec::new();
        for l in latest {
            let text = self.q(self.conn.one(
                "SELECT trailer FROM runs WHERE id = ?1",
                &[Value::Int(l.run)],
                |r| r.opt_text(0),
            ))?;
            let Some(text) = text else { continue };
            let trailer: Trailer =
                serde_json::from_str(&text).map_err(|e| HistoryError::Damaged {
                    path: self.path.clone(),
                    why: format!("run {} trailer: {e}", l.run),
                })?;
            for w in trailer.waivers {
                if w.expires.as_str() <= horizon {
                    out.push(Expiring {
                        host: l.host.clone(),
                        control: w.control,
                        target: w.target,
                        expires: w.expires,
                        approved_by: w.approved_by,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.expires.cmp(&b.expires).then(a.host.cmp(&b.host)));
        Ok(out)
    }
}
