//! The PostgreSQL side: a `postgres://` URL, one connection per [`Store`](crate::Store),
//! driven on a thread of its own so that the store's callers (threads, or tasks of any async
//! runtime) simply block on each query, as they do with SQLite.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use futures_executor::block_on;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, IsolationLevel, NoTls, Statement};

use super::postgres_schema::{self, POSTGRES_SCHEMA_VERSION};
use super::{Access, ColumnError, DbError, Param, QueryError, Row};
use crate::error::StoreError;

/// How long connecting may take unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection; past that the cache starts again (the list
/// filters make new query texts).
const STATEMENT_CACHE: usize = 256;

/// Whether `location` names a PostgreSQL store rather than a file.
pub(crate) fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A connection, and what it needs to connect again after the server went away.
pub(crate) struct PgConn {
    client: Client,
    config: Config,
    statements: HashMap<String, Statement>,
    busy_timeout: Duration,
}

/// The URL without its password, to name the store in messages.
#[cfg(test)]
fn display_location(url: &str) -> Result<PathBuf, StoreError> {
    let config = parse(url)?;
    Ok(PathBuf::from(describe(&config)))
}

fn parse(url: &str) -> Result<Config, StoreError> {
    // The URL may hold a password: the message does not repeat it.
    Config::from_str(url).map_err(|e| {
        StoreError::InvalidInput(format!(
            "the results store's URL is not a PostgreSQL URL ({e}); write postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        ))
    })
}

fn describe(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}:{port}/{db}")
}

/// Connects to the store at `url` and brings its schema up to date; returns the URL without
/// its password too, to name the store in messages.
pub(crate) fn open(url: &str, busy_timeout: Duration) -> Result<(PathBuf, PgConn), StoreError> {
    let mut config = parse(url)?;
    let location = PathBuf::from(describe(&config));
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let mut conn = PgConn {
        client: connect(&config).map_err(|e| StoreError::from_db(&location, e))?,
        config,
        statements: HashMap::new(),
        busy_timeout,
    };
    conn.apply_busy_timeout()
        .map_err(|e| StoreError::from_db(&location, e))?;
    postgres_schema::migrate(&mut conn.client)
        .map_err(|e| e.into_store_error(&location, POSTGRES_SCHEMA_VERSION))?;
    Ok((location, conn))
}

impl PgConn {
    /// How long a statement waits for another connection's lock before failing.
    pub(crate) fn set_busy_timeout(&mut self, timeout: Duration) -> Result<(), DbError> {
        self.busy_timeout = timeout;
        self.apply_busy_timeout()
    }

    fn apply_busy_timeout(&mut self) -> Result<(), DbError> {
        let ms = self.busy_timeout.as_millis().max(1);
        block_on(
            self.client
                .batch_execute(&format!("SET lock_timeout = {ms}")),
        )?;
        Ok(())
    }
}

/// Starts the connection on its own thread, with a small runtime for its socket, and returns
/// the client. The thread ends when the client is dropped or the server goes away; a lost
/// connection shows as an error of the next query, and [`begin`] connects again.
fn connect(config: &Config) -> Result<Client, DbError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let config = config.clone();
    let spawned = std::thread::Builder::new()
        .name("testwerk-store-postgres".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = sender.send(Err(Lost::Runtime(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                match config.connect(NoTls).await {
                    Ok((client, connection)) => {
                        if sender.send(Ok(client)).is_ok() {
                            // Its error reaches the store as the failure of the query that
                            // was waiting, or as a closed client.
                            let _ = connection.await;
                        }
                    }
                    Err(e) => {
                        let _ = sender.send(Err(Lost::Postgres(e)));
                    }
                }
            });
        });
    if let Err(e) = spawned {
        return Err(DbError::Io(e));
    }
    match receiver.recv() {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(Lost::Postgres(e))) => Err(DbError::Postgres(e)),
        Ok(Err(Lost::Runtime(e))) => Err(DbError::Io(e)),
        Err(_) => Err(DbError::Io(std::io::Error::other(
            "the PostgreSQL connection thread stopped",
        ))),
    }
}

enum Lost {
    Postgres(tokio_postgres::Error),
    Runtime(std::io::Error),
}

/// A transaction, with the connection's prepared statements.
pub(crate) struct PgTx<'a> {
    tx: tokio_postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

/// Reads run in `REPEATABLE READ`: one snapshot, like SQLite's read transactions, so that a
/// log and its line count are read from the same state. Writes run in `READ COMMITTED` and
/// lock the execution's row (see [`super::Dialect::lock_row`]).
pub(super) fn begin(conn: &mut PgConn, access: Access) -> Result<PgTx<'_>, DbError> {
    if conn.client.is_closed() {
        conn.client = connect(&conn.config)?;
        conn.statements.clear();
        conn.apply_busy_timeout()?;
    }
    let builder = conn.client.build_transaction();
    let builder = match access {
        Access::Read => builder
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true),
        Access::Write => builder.isolation_level(IsolationLevel::ReadCommitted),
    };
    let tx = block_on(builder.start())?;
    Ok(PgTx {
        tx,
        statements: &mut conn.statements,
    })
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = block_on(self.tx.prepare(&numbered_placeholders(sql)))?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

fn as_params<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

pub(super) fn execute(tx: &mut PgTx<'_>, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
    let statement = tx.statement(sql)?;
    Ok(block_on(tx.tx.execute(&statement, &as_params(params)))?)
}

pub(super) fn query<T>(
    tx: &mut PgTx<'_>,
    sql: &str,
    params: &[Param<'_>],
    read: &mut impl FnMut(&Row<'_>) -> Result<T, ColumnError>,
) -> Result<Vec<T>, QueryError> {
    let statement = tx.statement(sql)?;
    let rows = block_on(tx.tx.query(&statement, &as_params(params)))?;
    rows.iter()
        .map(|row| read(&Row::Postgres(row)).map_err(QueryError::Column))
        .collect()
}

pub(super) fn commit(tx: PgTx<'_>) -> Result<(), DbError> {
    Ok(block_on(tx.tx.commit())?)
}

/// The store's SQL numbers its placeholders `?1`, `?2`… (SQLite's way); PostgreSQL's are
/// `$1`, `$2`…. Quoted text is left alone.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_outside_quotes() {
        assert_eq!(
            numbered_placeholders("SELECT ?1, '?2', ?10 || 'it''s ?3' WHERE x = ?2"),
            "SELECT $1, '?2', $10 || 'it''s ?3' WHERE x = $2"
        );
    }

    #[test]
    fn locations_never_show_the_password() {
        let shown = display_location("postgres://tw:hunter22@db.example:6543/results")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            shown,
            PathBuf::from("postgres://tw@db.example:6543/results")
        );
        let Err(e) = display_location("postgres://tw:hunter22@db:notaport/x") else {
            panic!("a bad port is refused");
        };
        assert!(!e.to_string().contains("hunter22"), "{e}");
    }
}
