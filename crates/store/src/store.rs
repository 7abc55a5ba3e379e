//! [`Store`]: opening the database, and recording executions, steps and outputs.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::error::StoreError;
use crate::id::{is_execution_id, new_execution_id};
use crate::mask::Masker;
use crate::model::{Execution, ExecutionStatus, NewExecution, StepResult};
use crate::schema::{self, MigrateError, SCHEMA_VERSION};
use crate::time::Timestamp;

/// How long a write waits for another process's write to finish before failing with
/// [`StoreError::Locked`]. Change it with [`Store::set_busy_timeout`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The results store: one SQLite database file.
///
/// A `Store` is `Send + Sync`; share it between threads by reference or `Arc`. Several
/// processes may open the same file at once: readers never block, writers take turns.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Sensitive values per execution id. Kept in memory only.
    maskers: Mutex<HashMap<String, Arc<Masker>>>,
    /// Failed reads and writes since it was opened, for `/metrics`.
    errors: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the store at `path`, creating the file, its directories and the schema as needed,
    /// and migrating a store written by an older testwerk.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let sqlite = |e| StoreError::sqlite(&path, e);
        let mut conn = Connection::open(&path).map_err(sqlite)?;
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(sqlite)? {
            return Err(StoreError::ReadOnly { path });
        }
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(sqlite)?;
        // WAL: readers do not block the writer and the writer does not block readers; a commit
        // is one append to the log. `synchronous = NORMAL` keeps every committed transaction
        // across a crash of the process; after a power loss the last few may be rolled back,
        // but the database stays consistent.
        patiently(
            || conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get::<_, String>(0)),
            is_busy,
        )
        .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "normal")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite)?;
        patiently(
            || schema::migrate(&mut conn),
            |e| matches!(e, MigrateError::Sqlite(e) if is_busy(e)),
        )
        .map_err(|e| match e {
            MigrateError::NotAStore(detail) => StoreError::NotAStore {
                path: path.clone(),
                detail,
            },
            MigrateError::Newer(found) => StoreError::NewerSchema {
                path: path.clone(),
                found,
                supported: SCHEMA_VERSION,
            },
            MigrateError::Sqlite(e) => StoreError::sqlite(&path, e),
        })?;
        Ok(Store {
            path,
            conn: Mutex::new(conn),
            maskers: Mutex::new(HashMap::new()),
            errors: Default::default(),
        })
    }

    /// Opens the store at [`Store::default_path`].
    pub fn open_default() -> Result<Store, StoreError> {
        Store::open(Store::default_path()?)
    }

    /// `$XDG_DATA_HOME/testwerk/testwerk.db`, or `~/.local/share/testwerk/testwerk.db` when
    /// `XDG_DATA_HOME` is unset, empty or relative.
    pub fn default_path() -> Result<PathBuf, StoreError> {
        default_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets how long an operation waits for another process's write before failing with
    /// [`StoreError::Locked`] (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.conn()
            .busy_timeout(timeout)
            .map_err(|e| self.sqlite(e))
    }

    /// Registers sensitive values of execution `id` (the full unique id): from now on, every
    /// log line, output, reason and step error this `Store` writes for the execution has them
    /// replaced by `****` and their last two characters. Values shorter than four characters
    /// are ignored.
    ///
    /// This is a second line of defence behind the runner's own masking. The values are kept
    /// in this `Store`'s memory only: another process writing to the same execution must
    /// register them itself.
    pub fn register_secrets<S: AsRef<str>>(&self, id: &str, values: impl IntoIterator<Item = S>) {
        let mut maskers = self.maskers.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::make_mut(maskers.entry(id.to_owned()).or_default()).add(values);
    }

    /// The number the next execution of `workflow` will get (if no other process creates one
    /// first; [`Store::create_execution`] assigns numbers atomically).
    pub fn next_execution_number(&self, workflow: &str) -> Result<u64, StoreError> {
        let last: Option<i64> = self
            .conn()
            .query_row(
                "SELECT last_number FROM workflow_counters WHERE workflow = ?1",
                [workflow],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        Ok(to_u64(last.unwrap_or(0)) + 1)
    }

    /// Records a new `queued` execution and returns it, with its unique id, its number (the
    /// workflow's next) and its name `<workflow>-<number>`.
    pub fn create_execution(&self, mut new: NewExecution) -> Result<Execution, StoreError> {
        validate_workflow_name(&new.workflow)?;
        let id = match new.id.take() {
            Some(id) if is_execution_id(&id) => id,
            Some(id) => {
                return Err(StoreError::InvalidInput(format!(
                    "`{id}` is not an execution id: expected 24 hexadecimal digits from new_execution_id()"
                )));
            }
            None => new_execution_id(),
        };
        self.register_secrets(&id, &new.secrets);
        let masker = self.masker(&id);
        let source = masker.mask(&new.source).into_owned();
        let plan = masker.mask_json(&new.plan).to_string();
        let tags: Vec<(String, String)> = new
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), masker.mask(v).into_owned()))
            .collect();
        let created_at = Timestamp::now();
        let runner = new.runner;
        let number = self.write(|tx| {
            let number: i64 = tx.query_row(
                "INSERT INTO workflow_counters (workflow, last_number) VALUES (?1, 1)
                 ON CONFLICT (workflow) DO UPDATE SET last_number = last_number + 1
                 RETURNING last_number",
                [&new.workflow],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO executions (id, workflow, number, name, status, created_at,
                     runner_host, runner_pid, runner_start, source, plan)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    new.workflow,
                    number,
                    format!("{}-{number}", new.workflow),
                    created_at.to_string(),
                    runner.hostname,
                    runner.pid,
                    runner.process_start,
                    source,
                    plan,
                ],
            )?;
            let pk = tx.last_insert_rowid();
            let mut insert_tag = tx.prepare_cached(
                "INSERT INTO execution_tags (execution, key, value) VALUES (?1, ?2, ?3)",
            )?;
            for (key, value) in &tags {
                insert_tag.execute(params![pk, key, value])?;
            }
            Ok(to_u64(number))
        })?;
        Ok(Execution {
            name: format!("{}-{number}", new.workflow),
            id,
            workflow: new.workflow,
            number,
            status: ExecutionStatus::Queued,
            reason: None,
            created_at,
            started_at: None,
            finished_at: None,
            runner,
            tags: tags.into_iter().collect(),
        })
    }

    /// Replaces the resolved plan of execution `id` (the full unique id): a backend may record
    /// the execution first (to have its number) and compile it afterwards.
    pub fn set_plan(&self, id: &str, plan: &serde_json::Value) -> Result<(), StoreError> {
        let plan = self.masker(id).mask_json(plan).to_string();
        self.write_with(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.execute(
                "UPDATE executions SET plan = ?2 WHERE pk = ?1",
                params![pk, plan],
            )
            .map_err(|e| self.sqlite(e))?;
            Ok(())
        })
    }

    /// Sets the status of execution `id` (the full unique id), and its reason if one is given.
    ///
    /// The first move to `running` records the start time; the first move to a final status
    /// records the finish time. A final status never changes (see
    /// [`ExecutionStatus::can_become`]); trying fails with [`StoreError::InvalidTransition`].
    pub fn set_status(
        &self,
        id: &str,
        status: ExecutionStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let reason = reason.map(|r| self.masker(id).mask(r).into_owned());
        let now = Timestamp::now().to_string();
        self.write_with(|tx| {
            let (pk, current) = self.execution_pk(tx, id)?;
            if !current.can_become(status) {
                return Err(StoreError::InvalidTransition {
                    id: id.to_owned(),
                    from: current,
                    to: status,
                });
            }
            tx.execute(
                "UPDATE executions SET
                     status = ?2,
                     reason = coalesce(?3, reason),
                     started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4)
                                       ELSE started_at END,
                     finished_at = CASE WHEN ?5 THEN coalesce(finished_at, ?4)
                                        ELSE finished_at END
                 WHERE pk = ?1",
                params![pk, status.as_str(), reason, now, status.is_final()],
            )
            .map_err(|e| self.sqlite(e))?;
            Ok(())
        })
    }

    /// Records the result of one step of execution `id` (the full unique id), replacing what
    /// was recorded for the same `step_ref` before. Steps keep the order in which they were
    /// first recorded.
    pub fn upsert_step(&self, id: &str, step: &StepResult) -> Result<(), StoreError> {
        if step.step_ref.is_empty() {
            return Err(StoreError::InvalidInput(
                "a step result needs a non-empty step ref".to_owned(),
            ));
        }
        let error = step
            .error
            .as_deref()
            .map(|e| self.masker(id).mask(e).into_owned());
        self.write_with(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.prepare_cached(
                "INSERT INTO steps (execution, ref, step_id, name, parent_ref, status, exit_code,
                     started_at, finished_at, duration_ms, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (execution, ref) DO UPDATE SET
                     step_id = excluded.step_id, name = excluded.name,
                     parent_ref = excluded.parent_ref, status = excluded.status,
                     exit_code = excluded.exit_code, started_at = excluded.started_at,
                     finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                     error = excluded.error",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    pk,
                    step.step_ref,
                    step.id,
                    step.name,
                    step.parent_ref,
                    step.status.as_str(),
                    step.exit_code,
                    step.started_at.map(|t| t.to_string()),
                    step.finished_at.map(|t| t.to_string()),
                    step.duration_ms().map(to_i64),
                    error,
                ])
            })
            .map_err(|e| self.sqlite(e))?;
            Ok(())
        })
    }

    /// Sets output `name` of step `step_ref` of execution `id` (the full unique id), replacing
    /// an earlier value.
    pub fn set_output(
        &self,
        id: &str,
        step_ref: &str,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        if name.is_empty() {
            return Err(StoreError::InvalidInput(
                "an output needs a non-empty name".to_owned(),
            ));
        }
        let value = self.masker(id).mask_json(value).to_string();
        self.write_with(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.execute(
                "INSERT INTO outputs (execution, step_ref, name, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (execution, step_ref, name) DO UPDATE SET value = excluded.value",
                params![pk, step_ref, name, value],
            )
            .map_err(|e| self.sqlite(e))?;
            Ok(())
        })
    }

    // ---- helpers shared by the other modules ----

    /// The connection, even if another thread panicked while holding it (a transaction it
    /// left open was rolled back when it was dropped).
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn sqlite(&self, error: rusqlite::Error) -> StoreError {
        self.count_error();
        StoreError::sqlite(&self.path, error)
    }

    fn count_error(&self) {
        self.errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many reads and writes failed (SQLite errors and damage found) since it was opened.
    pub fn error_count(&self) -> u64 {
        self.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The row key and status of the execution with unique id `id`.
    pub(crate) fn execution_pk(
        &self,
        tx: &Transaction<'_>,
        id: &str,
    ) -> Result<(i64, ExecutionStatus), StoreError> {
        let row: Option<(i64, String)> = tx
            .prepare_cached("SELECT pk, status FROM executions WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.sqlite(e))?;
        let (pk, status) = row.ok_or_else(|| StoreError::NotFound {
            query: id.to_owned(),
        })?;
        let status = status
            .parse()
            .map_err(|e| self.corrupt(format!("execution {id}: {e}")))?;
        Ok((pk, status))
    }

    pub(crate) fn corrupt(&self, detail: String) -> StoreError {
        self.count_error();
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }

    /// The masker of execution `id` (empty if nothing was registered).
    pub(crate) fn masker(&self, id: &str) -> Arc<Masker> {
        let maskers = self.maskers.lock().unwrap_or_else(PoisonError::into_inner);
        maskers.get(id).cloned().unwrap_or_default()
    }

    /// Runs `f` in a write transaction and commits it, or rolls it back if `f` fails.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.write_with(|tx| f(tx).map_err(|e| self.sqlite(e)))
    }

    /// [`Store::write`] for closures that fail with a [`StoreError`].
    ///
    /// The transaction takes the write lock at once (`BEGIN IMMEDIATE`), so it waits for other
    /// writers under the busy timeout instead of failing when it upgrades from reading.
    pub(crate) fn write_with<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sqlite(e))?;
        let value = f(&tx)?;
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(value)
    }

    /// Runs `f` in a read transaction, so that it sees one consistent state of the database.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let value = f(&tx)?;
        tx.finish().map_err(|e| self.sqlite(e))?;
        Ok(value)
    }
}

fn validate_workflow_name(workflow: &str) -> Result<(), StoreError> {
    if workflow.is_empty()
        || workflow
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(StoreError::InvalidInput(format!(
            "`{workflow}` is not a workflow name: it must be non-empty, without spaces or control characters"
        )));
    }
    Ok(())
}

fn default_path_from(
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, StoreError> {
    let data_dir = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })
        .ok_or(StoreError::NoDataDir)?;
    Ok(data_dir.join("testwerk").join("testwerk.db"))
}

/// Database integers are `i64`; counts and durations are never negative.
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Whether `e` is SQLite saying another connection holds the database.
fn is_busy(e: &rusqlite::Error) -> bool {
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
    mut step: impl FnMut() -> Result<T, E>,
    busy: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let deadline = std::time::Instant::now() + DEFAULT_BUSY_TIMEOUT;
    loop {
        match step() {
            Err(e) if busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_prefers_an_absolute_xdg_data_home() {
        let path = default_path_from(Some("/data".into()), Some("/home/me".into()));
        assert_eq!(path.ok(), Some(PathBuf::from("/data/testwerk/testwerk.db")));
        for xdg in [None, Some(OsString::new()), Some("relative".into())] {
            let path = default_path_from(xdg, Some("/home/me".into()));
            assert_eq!(
                path.ok(),
                Some(PathBuf::from("/home/me/.local/share/testwerk/testwerk.db"))
            );
        }
        assert!(matches!(
            default_path_from(None, None),
            Err(StoreError::NoDataDir)
        ));
    }

    #[test]
    fn workflow_names_are_checked() {
        assert!(validate_workflow_name("smoke-test").is_ok());
        for bad in ["", "two words", "tab\there", "nl\n"] {
            assert!(validate_workflow_name(bad).is_err(), "{bad:?}");
        }
    }
}
