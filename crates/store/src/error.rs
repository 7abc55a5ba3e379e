//! [`StoreError`]: what can go wrong, and what to do about it.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use crate::db::DbError;

/// An error of the results store. Each message names the store's file where it matters and
/// says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Neither `XDG_DATA_HOME` nor `HOME` is set.
    #[error(
        "cannot find a data directory for the results store: set XDG_DATA_HOME or HOME, or pass --store PATH"
    )]
    NoDataDir,

    /// The directory for the database could not be created.
    #[error("cannot create the directory {} for the results store: {source}; create it, or pass --store PATH", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The database file could not be opened.
    #[error("cannot open the results store {}: {detail}; check that the path is a writable file, or pass --store PATH", path.display())]
    CannotOpen {
        /// The database file.
        path: PathBuf,
        /// SQLite's explanation.
        detail: String,
    },

    /// The file is not a testwerk results store.
    #[error("{} is not a testwerk results store ({detail}); move it away, or pass --store PATH", path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },

    /// The database was written by a newer testwerk.
    #[error("the results store {} was written by a newer testwerk (schema version {found}; this testwerk knows versions up to {supported}); upgrade testwerk, or pass --store PATH to use another store", path.display())]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },

    /// Another process held the database longer than the busy timeout.
    #[error("the results store {} is locked by another process; wait for it to finish (another `testwerk run`?) and retry, or pass --store PATH to use another store", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
    },

    /// The database file or its directory is read-only.
    #[error("the results store {} is read-only; make the file and its directory writable, or pass --store PATH to use another store", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },

    /// The disk is full.
    #[error("the disk holding the results store {} is full; free some space and retry", path.display())]
    DiskFull {
        /// The database file.
        path: PathBuf,
    },

    /// The database holds something this build cannot read.
    #[error("the results store {} is damaged: {detail}; move it away to start a new one, or pass --store PATH", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// No execution has that id or name.
    #[error("no execution has the id or name `{query}`; list the executions to find it")]
    NotFound {
        /// What was looked for.
        query: String,
    },

    /// An id prefix matches several executions.
    #[error("`{query}` is the start of several execution ids ({}); give more of the id, or the execution's name", candidates.join(", "))]
    Ambiguous {
        /// What was looked for.
        query: String,
        /// Some of the ids it matches.
        candidates: Vec<String>,
    },

    /// A final status cannot be changed, and statuses only move forward.
    #[error("execution {id} is {from}; it cannot become {to}")]
    InvalidTransition {
        /// The execution's id.
        id: String,
        /// Its status.
        from: crate::ExecutionStatus,
        /// The status asked for.
        to: crate::ExecutionStatus,
    },

    /// An argument is not acceptable.
    #[error("{0}")]
    InvalidInput(String),

    /// Any other database error.
    #[error("results store {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },

    /// The PostgreSQL server could not be reached, or went away.
    #[error("cannot reach the results store {}: {detail}; check that PostgreSQL runs there and the URL's user, password and database are right", path.display())]
    Unreachable {
        /// The URL, without its password.
        path: PathBuf,
        /// What the connection said.
        detail: String,
    },

    /// Any other PostgreSQL error.
    #[error("results store {}: {}", path.display(), postgres_detail(source))]
    Postgres {
        /// The URL, without its password.
        path: PathBuf,
        /// The error.
        source: tokio_postgres::Error,
    },
}

/// `error: its cause: its cause's cause` (`tokio_postgres::Error` says "error connecting to
/// server" and keeps "Connection refused" as its source).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text = format!("{text}: {e}");
        cause = e.source();
    }
    text
}

/// The server's own message where there is one (`tokio_postgres::Error` alone says only
/// "db error").
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

impl StoreError {
    /// Classifies an error of the database at `path` (a file, or a URL without password).
    pub(crate) fn from_db(path: &Path, error: DbError) -> StoreError {
        match error {
            DbError::Sqlite(e) => StoreError::sqlite(path, e),
            DbError::Postgres(e) => StoreError::postgres(path, e),
            DbError::Io(e) => StoreError::Unreachable {
                path: path.to_owned(),
                detail: e.to_string(),
            },
        }
    }

    fn postgres(path: &Path, error: tokio_postgres::Error) -> StoreError {
        use tokio_postgres::error::SqlState;
        let path = path.to_owned();
        let Some(code) = error.code() else {
            // No SQL state: the connection (refused, closed, timed out, TLS, authentication
            // before the server answered).
            return StoreError::Unreachable {
                path,
                detail: with_causes(&error),
            };
        };
        match code {
            c if *c == SqlState::DISK_FULL => StoreError::DiskFull { path },
            c if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
            {
                StoreError::Locked { path }
            }
            c if *c == SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::ReadOnly { path },
            c if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                || *c == SqlState::INVALID_CATALOG_NAME
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::TOO_MANY_CONNECTIONS
                || *c == SqlState::ADMIN_SHUTDOWN =>
            {
                StoreError::Unreachable {
                    path,
                    detail: postgres_detail(&error),
                }
            }
            _ => StoreError::Postgres {
                path,
                source: error,
            },
        }
    }

    /// Classifies an SQLite error on the database at `path`.
    fn sqlite(path: &Path, error: rusqlite::Error) -> StoreError {
        let path = path.to_owned();
        let Some(code) = error.sqlite_error_code() else {
            return match error {
                rusqlite::Error::FromSqlConversionFailure(_, _, inner) => StoreError::Corrupt {
                    path,
                    detail: inner.to_string(),
                },
                rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt {
                    path,
                    detail: error.to_string(),
                },
                source => StoreError::Sqlite { path, source },
            };
        };
        match code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Locked { path },
            ErrorCode::ReadOnly => StoreError::ReadOnly { path },
            ErrorCode::DiskFull => StoreError::DiskFull { path },
            ErrorCode::NotADatabase => StoreError::NotAStore {
                path,
                detail: "not an SQLite database".to_owned(),
            },
            ErrorCode::DatabaseCorrupt => StoreError::Corrupt {
                path,
                detail: error.to_string(),
            },
            ErrorCode::CannotOpen | ErrorCode::PermissionDenied => StoreError::CannotOpen {
                path,
                detail: error.to_string(),
            },
            _ => StoreError::Sqlite {
                path,
                source: error,
            },
        }
    }
}
