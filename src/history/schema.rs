//! The history's tables and their migrations. Each migration is applied once, in order, inside the
//! transaction that records it in `schema_version`; a history written by an older vigil is brought
//! up to date when it is opened for writing. `docs/history.md` documents every table.

/// `PRAGMA application_id` of a vigil history ("VGIL"): tells a vigil history from any other
/// SQLite file.
pub const APPLICATION_ID: i64 = 0x5647_494C;

/// One migration: the schema version it brings the history to, and its SQL.
pub struct Migration {
    pub version: i64,
    pub what: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Never edit a released one: add another.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        what: "runs, their policies, and verdicts stored once however many runs share them",
        sql: "
CREATE TABLE IF NOT EXISTS schema_version (
    version      INTEGER PRIMARY KEY,
    applied_at   TEXT NOT NULL,
    tool_version TEXT NOT NULL
);
CREATE TABLE headers (
    id     INTEGER PRIMARY KEY,
    sha256 BLOB NOT NULL UNIQUE,
    body   TEXT NOT NULL
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    header_id    INTEGER NOT NULL REFERENCES headers(id),
    host         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    evaluated_at TEXT NOT NULL,
    arguments    TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    complete     INTEGER NOT NULL DEFAULT 0,
    findings     INTEGER NOT NULL DEFAULT 0,
    digest       TEXT,
    trailer      TEXT
);
CREATE INDEX runs_by_host ON runs(host, id);
CREATE TABLE policies (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    policy  TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    source  TEXT NOT NULL,
    PRIMARY KEY (run_id, policy)
) WITHOUT ROWID;
CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    sha256      BLOB NOT NULL UNIQUE,
    control     TEXT NOT NULL,
    state       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    target      TEXT,
    fingerprint TEXT,
    body        TEXT NOT NULL
);
CREATE TABLE run_findings (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    sha256     BLOB NOT NULL,
    failing    INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
",
    },
    Migration {
        version: 2,
        what: "counts of each run's verdicts by state and severity, for trends without reading verdicts",
        sql: "
CREATE TABLE run_counts (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    state    TEXT NOT NULL,
    severity TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (run_id, state, severity)
) WITHOUT ROWID;
INSERT INTO run_counts (run_id, state, severity, n)
    SELECT rf.run_id, f.state, f.severity, count(*)
    FROM run_findings rf JOIN findings f ON f.id = rf.finding_id
    GROUP BY rf.run_id, f.state, f.severity;
",
    },
    Migration {
        version: 3,
        what: "host identity of a run: its machine-id and its tags",
        sql: "
ALTER TABLE runs ADD COLUMN machine_id TEXT;
CREATE TABLE run_tags (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag    TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
) WITHOUT ROWID;
CREATE INDEX run_tags_by_tag ON run_tags(tag, run_id);
",
    },
];

/// The schema version this vigil writes.
pub fn current() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}
