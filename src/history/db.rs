//! One interface over the two databases a history can live in: an SQLite file, or a PostgreSQL
//! server that many hosts write to. The history's statements are written once, in the SQL both
//! understand, with `?1`-style parameters (numbered `$1` for PostgreSQL); values and columns go
//! through [`Value`] and [`Row`], which convert integers to the width each column has.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// A parameter of a statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Int(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Blob(&'a [u8]),
}

impl<'a> From<i64> for Value<'a> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::OptText(v.as_deref())
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Blob(v)
    }
}

/// What went wrong in the database, as the backend reported it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// A value that does not fit the column (a run number beyond 32 bits, an unexpected type).
    #[error("{0}")]
    Convert(String),
    /// What the history refuses to do, and why.
    #[error("{0}")]
    Refused(String),
    /// A query expected to find a row found none.
    #[error("no such row")]
    NoRow,
}

impl DbError {
    /// Whether the transaction may simply be run again: another writer won a lock it needed.
    pub(crate) fn retryable(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            DbError::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
            ),
            _ => false,
        }
    }
}

/// A connection to either database.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

/// A PostgreSQL connection and the statements it has prepared, by their SQL.
pub(crate) struct Pg {
    pub(crate) client: postgres::Client,
    prepared: HashMap<String, postgres::Statement>,
}

impl Pg {
    pub(crate) fn new(client: postgres::Client) -> Pg {
        Pg {
            client,
            prepared: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(&numbered(sql))?;
        self.prepared.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// `?1` becomes `$1`: the history's statements hold no `?` anywhere else.
fn numbered(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The advisory lock key of a vigil history in PostgreSQL ("VGIL", as SQLite's application id).
const LOCK_KEY: i64 = super::schema::APPLICATION_ID;

/// A row of a result, from either database.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => {
                let ty = r.columns()[i].type_();
                Ok(match *ty {
                    Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
                    Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
                    Type::INT8 => r.try_get::<_, Option<i64>>(i)?,
                    Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(i64::from),
                    _ => {
                        return Err(DbError::Convert(format!(
                            "column {i} is {ty}, not an integer"
                        )));
                    }
                })
            }
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, DbError> {
        self.opt_int(i)?
            .ok_or_else(|| DbError::Convert(format!("column {i} is null")))
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, DbError> {
        self.opt_text(i)?
            .ok_or_else(|| DbError::Convert(format!("column {i} is null")))
    }

    pub(crate) fn blob(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => Ok(r.try_get(i)?),
        }
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::OptText(Some(s)) => ValueRef::Text(s.as_bytes()),
            Value::OptText(None) => ValueRef::Null,
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A parameter converted to the type PostgreSQL expects for it.
#[derive(Debug)]
enum PgValue<'a> {
    I16(i16),
    I32(i32),
    I64(i64),
    Bool(bool),
    Text(&'a str),
    Blob(&'a [u8]),
    Null,
}

impl ToSql for PgValue<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            PgValue::I16(v) => v.to_sql(ty, out),
            PgValue::I32(v) => v.to_sql(ty, out),
            PgValue::I64(v) => v.to_sql(ty, out),
            PgValue::Bool(v) => v.to_sql(ty, out),
            PgValue::Text(v) => v.to_sql(ty, out),
            PgValue::Blob(v) => v.to_sql(ty, out),
            PgValue::Null => Ok(IsNull::Yes),
        }
    }

    /// The conversion to the parameter's type is made before (see [`pg_params`]).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Converts `values` to the types the statement's parameters have.
fn pg_params<'a>(
    stmt: &postgres::Statement,
    values: &[Value<'a>],
) -> Result<Vec<PgValue<'a>>, DbError> {
    let types = stmt.params();
    if types.len() != values.len() {
        return Err(DbError::Convert(format!(
            "the statement takes {} parameters, {} given",
            types.len(),
            values.len()
        )));
    }
    let wide = |v: i64, ty: &Type| DbError::Convert(format!("{v} does not fit a {ty} column"));
    values
        .iter()
        .zip(types)
        .map(|(v, ty)| {
            Ok(match (v, ty) {
                (Value::Int(v), &Type::INT2) => {
                    PgValue::I16(i16::try_from(*v).map_err(|_| wide(*v, ty))?)
                }
                (Value::Int(v), &Type::INT4) => {
                    PgValue::I32(i32::try_from(*v).map_err(|_| wide(*v, ty))?)
                }
                (Value::Int(v), &Type::BOOL) => PgValue::Bool(*v != 0),
                (Value::Int(v), _) => PgValue::I64(*v),
                (Value::Text(s), _) | (Value::OptText(Some(s)), _) => PgValue::Text(s),
                (Value::OptText(None), _) => PgValue::Null,
                (Value::Blob(b), _) => PgValue::Blob(b),
            })
        })
        .collect()
}

impl Db {
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Runs statements without parameters or results (schema changes, settings).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(pg) => Ok(pg.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub(crate) fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))? as u64)
            }
            Db::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let stmt = pg.statement(sql)?;
                let params = pg_params(&stmt, values)?;
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                Ok(pg.client.execute(&stmt, &refs)?)
            }
        }
    }

    /// Runs one statement once for each set of values (the statement is looked up once); returns
    /// the rows changed.
    pub(crate) fn execute_all<'v, const N: usize>(
        &self,
        sql: &str,
        rows: impl IntoIterator<Item = [Value<'v>; N]>,
    ) -> Result<u64, DbError> {
        let mut changed = 0;
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                for values in rows {
                    changed += stmt.execute(rusqlite::params_from_iter(values.iter()))? as u64;
                }
            }
            Db::Postgres(_) => {
                for values in rows {
                    changed += self.execute(sql, &values)?;
                }
            }
        }
        Ok(changed)
    }

    /// Runs a query and hands each row to `f`, as the database streams them. `f` must not use
    /// the database.
    pub(crate) fn each(
        &self,
        sql: &str,
        values: &[Value<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                while let Some(r) = rows.next()? {
                    f(&Row::Sqlite(r))?;
                }
                Ok(())
            }
            Db::Postgres(pg) => {
                use postgres::fallible_iterator::FallibleIterator;
                let mut pg = pg.borrow_mut();
                let stmt = pg.statement(sql)?;
                let params = pg_params(&stmt, values)?;
                let mut rows = pg.client.query_raw(&stmt, params.iter())?;
                while let Some(r) = rows.next()? {
                    f(&Row::Postgres(&r))?;
                }
                Ok(())
            }
        }
    }

    /// Every row of a query, each made by `f`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        values: &[Value<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        let mut out = Vec::new();
        self.each(sql, values, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, if any.
    pub(crate) fn opt<T>(
        &self,
        sql: &str,
        values: &[Value<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, values, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The one row a query must find.
    pub(crate) fn one<T>(
        &self,
        sql: &str,
        values: &[Value<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.opt(sql, values, f)?.ok_or(DbError::NoRow)
    }

    /// Starts a write transaction. In SQLite it takes the write lock at once, so a busy history
    /// makes it wait (up to the busy timeout) rather than fail halfway. In PostgreSQL writers run
    /// at once; each holds the history's advisory lock shared, which `exclusive` takes alone
    /// (migrations, and deleting verdicts no run refers to).
    pub(crate) fn begin(&self, exclusive: bool) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch("BEGIN IMMEDIATE")?),
            Db::Postgres(pg) => {
                let lock = if exclusive {
                    "pg_advisory_xact_lock"
                } else {
                    "pg_advisory_xact_lock_shared"
                };
                Ok(pg
                    .borrow_mut()
                    .client
                    .batch_execute(&format!("BEGIN; SELECT {lock}({LOCK_KEY});"))?)
            }
        }
    }

    pub(crate) fn commit(&self) -> Result<(), DbError> {
        self.batch("COMMIT")
    }

    /// Ends a failed transaction. A connection that is gone has nothing to roll back.
    pub(crate) fn rollback(&self) {
        let _ = self.batch("ROLLBACK");
    }

    /// Runs a query with PostgreSQL's own parameter types (arrays, for storing or finding many
    /// rows in one statement) and hands each row to `f`.
    pub(crate) fn pg_rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        mut f: impl FnMut(&Row<'_>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        match self {
            Db::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let stmt = pg.statement(sql)?;
                for r in pg.client.query(&stmt, params)? {
                    f(&Row::Postgres(&r))?;
                }
                Ok(())
            }
            Db::Sqlite(_) => Err(DbError::Convert("a PostgreSQL statement on SQLite".into())),
        }
    }

    /// [`Db::pg_rows`] of a statement that returns nothing.
    pub(crate) fn pg_execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, DbError> {
        match self {
            Db::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let stmt = pg.statement(sql)?;
                Ok(pg.client.execute(&stmt, params)?)
            }
            Db::Sqlite(_) => Err(DbError::Convert("a PostgreSQL statement on SQLite".into())),
        }
    }
}
