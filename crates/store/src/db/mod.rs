//! The two databases a store can live in, behind one small interface: SQL text with `?N`
//! placeholders, integer and text values, and transactions.
//!
//! - **SQLite** ([`sqlite`]): one file, embedded; the default.
//! - **PostgreSQL** ([`postgres`]): a server, named by a `postgres://` URL; for several agents
//!   sharing one store.
//!
//! The store's queries are written once, in the SQL both understand. The few places where the
//! two differ ask the transaction's [`Dialect`]; the schemas are written once per database.

pub(crate) mod postgres;
pub(crate) mod postgres_schema;
pub(crate) mod sqlite;
pub(crate) mod sqlite_schema;
mod value;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use value::{ColumnError, Param, Row};

use crate::error::StoreError;

/// An error of the database itself (not of the data it returned).
#[derive(Debug)]
pub(crate) enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(tokio_postgres::Error),
    /// Reaching the database failed below it (a thread or runtime could not start).
    Io(std::io::Error),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e)
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> DbError {
        DbError::Postgres(e)
    }
}

/// Why a database cannot be brought to the schema version this build writes; `E` is the
/// database's own error.
#[derive(Debug)]
pub(crate) enum MigrateError<E> {
    /// It holds another application's tables.
    NotAStore(String),
    /// It was written by a newer testwerk (its schema version).
    Newer(u32),
    Db(E),
}

impl<E> From<E> for MigrateError<E> {
    fn from(e: E) -> MigrateError<E> {
        MigrateError::Db(e)
    }
}

impl<E: Into<DbError>> MigrateError<E> {
    /// The error for the store at `path`, whose build knows schema versions up to `supported`.
    pub(crate) fn into_store_error(self, path: &Path, supported: u32) -> StoreError {
        let path = path.to_owned();
        match self {
            MigrateError::NotAStore(detail) => StoreError::NotAStore { path, detail },
            MigrateError::Newer(found) => StoreError::NewerSchema {
                path,
                found,
                supported,
            },
            MigrateError::Db(e) => StoreError::from_db(&path, e.into()),
        }
    }
}

/// What failed while running a query and reading its rows.
enum QueryError {
    Db(DbError),
    Column(ColumnError),
}

impl<E: Into<DbError>> From<E> for QueryError {
    fn from(e: E) -> QueryError {
        QueryError::Db(e.into())
    }
}

/// Which database a transaction talks to, where their SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// What a `SELECT` of the row a write transaction is about to change ends with, so that
    /// concurrent writers of the same execution take turns. SQLite's write transactions
    /// already hold the whole database.
    pub(crate) fn lock_row(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// An open connection to either database.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::PgConn>),
}

/// Whether a transaction writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Sees one consistent state of the database and changes nothing.
    Read,
    /// Waits for other writers first.
    Write,
}

impl Conn {
    /// Begins a transaction. `location` (the file, or the URL without its password) names
    /// the store in errors; `errors` counts the failures for `/metrics`.
    pub(crate) fn begin<'a>(
        &'a mut self,
        access: Access,
        location: &'a Path,
        errors: &'a AtomicU64,
    ) -> Result<Tx<'a>, StoreError> {
        let inner = match self {
            Conn::Sqlite(conn) => sqlite::begin(conn, access).map(TxInner::Sqlite),
            Conn::Postgres(conn) => postgres::begin(conn, access).map(TxInner::Postgres),
        };
        match inner {
            Ok(inner) => Ok(Tx {
                inner,
                location,
                errors,
            }),
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::from_db(location, e))
            }
        }
    }
}

enum TxInner<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::PgTx<'a>),
}

/// A transaction on either database. Dropped without [`Tx::commit`], it is rolled back.
pub(crate) struct Tx<'a> {
    inner: TxInner<'a>,
    location: &'a Path,
    errors: &'a AtomicU64,
}

impl Tx<'_> {
    pub(crate) fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite(_) => Dialect::Sqlite,
            TxInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let changed = match &mut self.inner {
            TxInner::Sqlite(tx) => sqlite::execute(tx, sql, params),
            TxInner::Postgres(tx) => postgres::execute(tx, sql, params),
        };
        changed.map_err(|e| self.db_error(e))
    }

    /// Runs a query and reads every row with `read`.
    pub(crate) fn query<T>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        mut read: impl FnMut(&Row<'_>) -> Result<T, ColumnError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = match &mut self.inner {
            TxInner::Sqlite(tx) => sqlite::query(tx, sql, params, &mut read),
            TxInner::Postgres(tx) => postgres::query(tx, sql, params, &mut read),
        };
        rows.map_err(|e| match e {
            QueryError::Db(e) => self.db_error(e),
            QueryError::Column(e) => self.corrupt(format!("column {}: {}", e.index, e.detail)),
        })
    }

    /// The first row of a query, if there is one.
    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        read: impl FnMut(&Row<'_>) -> Result<T, ColumnError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.query(sql, params, read)?.into_iter().next())
    }

    /// The first row of a query that always returns one (an aggregate, a row just locked).
    pub(crate) fn query_one<T>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        read: impl FnMut(&Row<'_>) -> Result<T, ColumnError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, read)?
            .ok_or_else(|| self.corrupt(format!("a query returned no row: {sql}")))
    }

    /// Makes the transaction's changes permanent.
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        let done = match self.inner {
            TxInner::Sqlite(tx) => tx.commit().map_err(DbError::from),
            TxInner::Postgres(tx) => postgres::commit(tx),
        };
        done.map_err(|e| {
            self.errors.fetch_add(1, Ordering::Relaxed);
            StoreError::from_db(self.location, e)
        })
    }

    /// Damage found in what the database holds.
    pub(crate) fn corrupt(&self, detail: String) -> StoreError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        StoreError::Corrupt {
            path: self.location.to_owned(),
            detail,
        }
    }

    fn db_error(&self, e: DbError) -> StoreError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        StoreError::from_db(self.location, e)
    }
}
