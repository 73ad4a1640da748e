//! Opening a history: telling a vigil history from a damaged or foreign file before anything is
//! written, and bringing an older one up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

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
    pub(crate) conn: Connection,
    pub(crate) path: String,
}

/// How long a writer waits for another writer's transaction before giving up. Transactions are
/// short (a batch of verdicts), so this is ample for many concurrent scans.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

impl Store {
    /// Opens the history at `path`.
    pub fn open(path: &Path, mode: Mode) -> Result<Store, HistoryError> {
        let shown = path.display().to_string();
        check_file(path, mode, &shown)?;
        let flags = match mode {
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Mode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(&shown, e))?;
        let mut store = Store { conn, path: shown };
        store.prepare()?;
        Ok(store)
    }

    /// A history in memory (for `vigil diff` of two result files).
    pub fn in_memory() -> Result<Store, HistoryError> {
        let conn = Connection::open_in_memory().map_err(|e| classify(":memory:", e))?;
        let mut store = Store {
            conn,
            path: "(memory)".into(),
        };
        store.prepare()?;
        Ok(store)
    }

    /// The file, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> HistoryError {
        classify(&self.path, e)
    }

    /// Starts a write transaction. It takes the write lock at once, so a busy history makes it
    /// wait (up to the busy timeout) rather than fail halfway through.
    pub(crate) fn write(&mut self) -> Result<rusqlite::Transaction<'_>, HistoryError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, e))
    }

    /// Checks the file is a vigil history (or an empty database), sets the connection up and
    /// applies the migrations it lacks.
    fn prepare(&mut self) -> Result<(), HistoryError> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.err(e))?;
        let app: i64 = self
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if app != APPLICATION_ID && app != 0 {
            return Err(HistoryError::Foreign {
                path: self.path.clone(),
                why: format!("an SQLite database of another application (id {app:#x})"),
            });
        }
        if app == 0 && self.table_count()? > 0 {
            return Err(HistoryError::Foreign {
                path: self.path.clone(),
                why: "an SQLite database with tables of its own".into(),
            });
        }
        let version = self.version()?;
        if version > schema::current() {
            return Err(HistoryError::Newer {
                path: self.path.clone(),
                found: version,
                supported: schema::current(),
            });
        }
        if app == 0 {
            // A new history: pages are reused and freed incrementally after `history prune`. This
            // must be set before the first table exists.
            self.conn
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
                .map_err(|e| self.err(e))?;
        }
        // Readers never block the writer, and one writer at a time appends; a crash loses at most
        // the last transaction, never the file. The page cache may grow to 32 MiB: most of the index
        // of verdicts a run looks up stays in memory on a large history. The write-ahead log is copied
        // into the file every 64 MiB rather than every 4 MiB: a first run of a million verdicts
        // writes half a gigabyte, and each copy ends with an fsync.
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 16384;",
            )
            .map_err(|e| self.err(e))?;
        if version < schema::current() {
            self.migrate()?;
        }
        Ok(())
    }

    fn table_count(&self) -> Result<i64, HistoryError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The schema version recorded in the file (0 for an empty database).
    pub fn version(&self) -> Result<i64, HistoryError> {
        let exists: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if exists.is_none() {
            return Ok(0);
        }
        self.conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Applies the migrations the file lacks, in one write transaction: two processes opening a
    /// new history at once apply them once.
    fn migrate(&mut self) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let tx = self.write()?;
        let has_table: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| classify(&path, e))?
            > 0;
        let version: i64 = if has_table {
            tx.query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(|e| classify(&path, e))?
        } else {
            0
        };
        let now = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
        for m in schema::MIGRATIONS.iter().filter(|m| m.version > version) {
            tx.execute_batch(m.sql).map_err(|e| classify(&path, e))?;
            tx.execute(
                "INSERT INTO schema_version (version, applied_at, tool_version) VALUES (?1, ?2, ?3)",
                (m.version, &now, env!("CARGO_PKG_VERSION")),
            )
            .map_err(|e| classify(&path, e))?;
        }
        tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))
            .map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))
    }
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

/// Names what SQLite reported, by what the user can do about it.
pub(crate) fn classify(path: &str, e: rusqlite::Error) -> HistoryError {
    use rusqlite::ErrorCode;
    let why = e.to_string();
    match e.sqlite_error_code() {
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
