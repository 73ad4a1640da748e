//! Opening a history: telling a vigil history from a damaged or foreign file before anything is
//! written, and bringing an older one up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::db::{Db, DbError, Value};
use super::schema::{self, APPLICATION_ID};

/// Why a history cannot be used. Each names the file; none of them leaves the file changed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: not a vigil history: {why}; the file was left untouched")]
    Foreign { path: String, why: String },
    #[error(
        "{path}: the history is damaged ({why}); the file was left untouched: restore it from a \
         backup, or give --history a new file"
    )]
    Damaged { path: String, why: String },
    #[error(
        "{path}: written by a newer vigil (history schema {found}); this vigil reads schema \
         {supported} and older"
    )]
    Newer {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("{path}: {why}")]
    Io { path: String, why: String },
    #[error("{0}")]
    Usage(String),
}

/// What a history is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reading: the file must exist; it is migrated only if it is older.
    Read,
    /// Storing runs: created when absent.
    Write,
}

/// An open history.
pub struct Store {
    pub(crate) conn: Db,
    /// Where it is, as shown to the user: the file, or the PostgreSQL URL without its password.
    pub(crate) path: String,
}

/// How long a writer waits for another writer's transaction before giving up. Transactions are
/// short (a batch of verdicts), so this is ample for many concurrent scans.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// How many times a PostgreSQL transaction that lost a lock to another writer (a deadlock) is run
/// again before the error is reported.
const RETRIES: u32 = 8;

impl Store {
    /// Opens the history at `path`: an SQLite file, or a `postgres://` URL.
    pub fn open(path: &Path, mode: Mode) -> Result<Store, HistoryError> {
        if let Some(url) = path.to_str().filter(|p| super::postgres::is_url(p)) {
            return super::postgres::open(url, mode);
        }
        let shown = path.display().to_string();
        check_file(path, mode, &shown)?;
        let flags = match mode {
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Mode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| classify(&shown, DbError::Sqlite(e)))?;
        Store::sqlite(conn, shown)
    }

    /// A history in memory (for `vigil diff` of two result files).
    pub fn in_memory() -> Result<Store, HistoryError> {
        let conn =
            Connection::open_in_memory().map_err(|e| classify(":memory:", DbError::Sqlite(e)))?;
        Store::sqlite(conn, "(memory)".into())
    }

    /// The file, or the URL without its password.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn err(&self, e: DbError) -> HistoryError {
        classify(&self.path, e)
    }

    /// Runs `f` in a write transaction and commits it; on an error nothing of it is stored. A
    /// PostgreSQL transaction that lost a lock to another writer is run again.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnMut(&Db) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        self.transaction(false, f)
    }

    /// [`Store::write`], alone: no other writer of a PostgreSQL history runs meanwhile.
    pub(crate) fn write_alone<T>(
        &mut self,
        f: impl FnMut(&Db) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        self.transaction(true, f)
    }

    fn transaction<T>(
        &mut self,
        exclusive: bool,
        mut f: impl FnMut(&Db) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        let mut attempt = 0;
        loop {
            let outcome = self
                .conn
                .begin(exclusive)
                .and_then(|()| f(&self.conn))
                .and_then(|v| self.conn.commit().map(|()| v));
            match outcome {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.conn.rollback();
                    attempt += 1;
                    if !e.retryable() || attempt > RETRIES {
                        return Err(self.err(e));
                    }
                }
            }
        }
    }

    /// Checks the file is a vigil history (or an empty database), sets the connection up and
    /// applies the migrations it lacks.
    fn sqlite(conn: Connection, path: String) -> Result<Store, HistoryError> {
        let err = |e: rusqlite::Error| classify(&path, DbError::Sqlite(e));
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let (app, tables) = owner_and_tables(&conn).map_err(err)?;
        if app != APPLICATION_ID && app != 0 {
            return Err(HistoryError::Foreign {
                path,
                why: format!("an SQLite database of another application (id {app:#x})"),
            });
        }
        if app == 0 && tables > 0 {
            return Err(HistoryError::Foreign {
                path,
                why: "an SQLite database with tables of its own".into(),
            });
        }
        if app == 0 {
            // A new history: pages are reused and freed incrementally after `history prune`. This
            // must be set before the first table exists.
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
                .map_err(err)?;
        }
        // Readers never block the writer, and one writer at a time appends; a crash loses at most
        // the last transaction, never the file. The page cache may grow to 32 MiB: most of the index
        // of verdicts a run looks up stays in memory on a large history. The write-ahead log is copied
        // into the file every 64 MiB rather than every 4 MiB: a first run of a million verdicts
        // writes half a gigabyte, and each copy ends with an fsync.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 16384;",
        )
        .map_err(err)?;
        let mut store = Store {
            conn: Db::Sqlite(conn),
            path,
        };
        store.bring_up_to_date()?;
        Ok(store)
    }

    /// Refuses a history written by a newer vigil, and applies the migrations an older one lacks.
    pub(crate) fn bring_up_to_date(&mut self) -> Result<(), HistoryError> {
        let version = version(&self.conn).map_err(|e| self.err(e))?;
        if version > schema::current() {
            return Err(HistoryError::Newer {
                path: self.path.clone(),
                found: version,
                supported: schema::current(),
            });
        }
        if version < schema::current() {
            self.migrate()?;
        }
        Ok(())
    }

    /// Applies the migrations the history lacks, in one transaction that no other writer shares:
    /// two processes opening a new history at once apply them once.
    fn migrate(&mut self) -> Result<(), HistoryError> {
        let now = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
        self.write_alone(|db| {
            if db.is_postgres() {
                db.batch("CREATE SCHEMA IF NOT EXISTS vigil")?;
            }
            let version = version(db)?;
            for m in schema::MIGRATIONS.iter().filter(|m| m.version > version) {
                db.batch(if db.is_postgres() { m.postgres } else { m.sql })?;
                db.execute(
                    "INSERT INTO schema_version (version, applied_at, tool_version) \
                     VALUES (?1, ?2, ?3)",
                    &[
                        Value::Int(m.version),
                        Value::Text(&now),
                        Value::Text(env!("CARGO_PKG_VERSION")),
                    ],
                )?;
            }
            if !db.is_postgres() {
                db.batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))?;
            }
            Ok(())
        })
    }
}

/// The database's application id and its number of tables, read from one snapshot.
///
/// Read apart, another process creating a new history could commit between the two reads: the
/// id would still be 0 while its tables were already there, and the history would be refused as
/// another application's database.
fn owner_and_tables(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let snapshot = conn.unchecked_transaction()?;
    let app = snapshot.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let tables = snapshot.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    snapshot.finish()?;
    Ok((app, tables))
}

/// The schema version recorded in the history (0 for an empty database).
fn version(db: &Db) -> Result<i64, DbError> {
    let exists = if db.is_postgres() {
        "SELECT 1 WHERE to_regclass('vigil.schema_version') IS NOT NULL"
    } else {
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'"
    };
    if db.opt(exists, &[], |r| r.int(0))?.is_none() {
        return Ok(0);
    }
    db.one(
        "SELECT CAST(coalesce(max(version), 0) AS BIGINT) FROM schema_version",
        &[],
        |r| r.int(0),
    )
}

/// Refuses what is plainly not an SQLite database before SQLite opens it: a text file, a
/// truncated header. An absent file is refused when reading.
fn check_file(path: &Path, mode: Mode, shown: &str) -> Result<(), HistoryError> {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && mode == Mode::Write => {
            return match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(dir) if !dir.is_dir() => Err(HistoryError::Io {
                    path: shown.into(),
                    why: format!("its directory {} does not exist", dir.display()),
                }),
                _ => Ok(()),
            };
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HistoryError::Io {
                path: shown.into(),
                why: "no such history (a scan with --history creates it)".into(),
            });
        }
        Err(e) => {
            return Err(HistoryError::Io {
                path: shown.into(),
                why: format!("cannot open: {e}"),
            });
        }
    };
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(HistoryError::Io {
            path: shown.into(),
            why: "is a directory".into(),
        });
    }
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                return Err(HistoryError::Io {
                    path: shown.into(),
                    why: format!("cannot read: {e}"),
                });
            }
        }
    }
    if got == 0 {
        return Ok(());
    }
    if got < head.len() || &head != b"SQLite format 3\0" {
        return Err(HistoryError::Foreign {
            path: shown.into(),
            why: "not an SQLite database".into(),
        });
    }
    Ok(())
}

/// Names what the database reported, by what the user can do about it.
pub(crate) fn classify(path: &str, e: DbError) -> HistoryError {
    use rusqlite::ErrorCode;
    let why = e.to_string();
    let sqlite = match &e {
        DbError::Sqlite(e) => e.sqlite_error_code(),
        DbError::Postgres(e) => return super::postgres::classify(path, e),
        _ => None,
    };
    match sqlite {
        Some(ErrorCode::DatabaseCorrupt) => HistoryError::Damaged {
            path: path.into(),
            why,
        },
        Some(ErrorCode::NotADatabase) => HistoryError::Foreign {
            path: path.into(),
            why,
        },
        Some(ErrorCode::DatabaseBusy) => HistoryError::Io {
            path: path.into(),
            why: format!("{why}: another process held the history for too long"),
        },
        _ => HistoryError::Io {
            path: path.into(),
            why,
        },
    }
}
