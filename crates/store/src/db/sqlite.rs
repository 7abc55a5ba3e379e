//! The SQLite side: one file, WAL, writers taking turns under a busy timeout.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::sqlite_schema;
use super::sqlite_schema::SCHEMA_VERSION;
use super::{Access, ColumnError, DbError, MigrateError, Param, QueryError, Row};
use crate::error::StoreError;

/// Opens (creating the file, its directories and the schema as needed) the SQLite store at
/// `path`, migrating one written by an older testwerk.
pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let sqlite = |e: rusqlite::Error| StoreError::from_db(path, DbError::Sqlite(e));
    let mut conn = Connection::open(path).map_err(sqlite)?;
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(sqlite)? {
        return Err(StoreError::ReadOnly {
            path: path.to_owned(),
        });
    }
    conn.busy_timeout(busy_timeout).map_err(sqlite)?;
    conn.set_prepared_statement_cache_capacity(64);
    // WAL: readers do not block the writer and the writer does not block readers; a commit
    // is one append to the log. `synchronous = NORMAL` keeps every committed transaction
    // across a crash of the process; after a power loss the last few may be rolled back,
    // but the database stays consistent.
    patiently(
        busy_timeout,
        || conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get::<_, String>(0)),
        is_busy,
    )
    .map_err(sqlite)?;
    conn.pragma_update(None, "synchronous", "normal")
        .map_err(sqlite)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sqlite)?;
    patiently(
        busy_timeout,
        || sqlite_schema::migrate(&mut conn),
        |e| matches!(e, MigrateError::Db(e) if is_busy(e)),
    )
    .map_err(|e| e.into_store_error(path, SCHEMA_VERSION))?;
    Ok(conn)
}

/// A write transaction takes the write lock at once (`BEGIN IMMEDIATE`), so it waits for
/// other writers under the busy timeout instead of failing when it upgrades from reading.
pub(super) fn begin(
    conn: &mut Connection,
    access: Access,
) -> Result<rusqlite::Transaction<'_>, DbError> {
    let behavior = match access {
        Access::Read => TransactionBehavior::Deferred,
        Access::Write => TransactionBehavior::Immediate,
    };
    Ok(conn.transaction_with_behavior(behavior)?)
}

pub(super) fn execute(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, DbError> {
    let changed = tx
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(changed as u64)
}

pub(super) fn query<T>(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
    read: &mut impl FnMut(&Row<'_>) -> Result<T, ColumnError>,
) -> Result<Vec<T>, QueryError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(&Row::Sqlite(row)).map_err(QueryError::Column)?);
    }
    Ok(out)
}

/// Whether `e` is SQLite saying another connection holds the database.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Runs `step` of opening a store again while another connection holds the database, as long
/// as any write would wait. Switching to WAL and migrating take the database for themselves,
/// and SQLite may answer "busy" at once, without waiting, while another process opens the same
/// new store (several `testwerk run` started together on a fresh store).
fn patiently<T, E>(
    timeout: Duration,
    mut step: impl FnMut() -> Result<T, E>,
    busy: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match step() {
            Err(e) if busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}
