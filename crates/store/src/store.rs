//! [`Store`]: opening the database, and recording executions, steps and outputs.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::db::{self, Access, Conn, Tx};
use crate::error::StoreError;
use crate::id::{is_execution_id, new_execution_id};
use crate::mask::Masker;
use crate::model::{Execution, ExecutionStatus, NewExecution, StepResult};
use crate::time::Timestamp;

/// How long a write waits for another process's write to finish before failing with
/// [`StoreError::Locked`]. Change it with [`Store::set_busy_timeout`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The results store: one SQLite database file, or a PostgreSQL database.
///
/// A `Store` is `Send + Sync`; share it between threads by reference or `Arc`. Several
/// processes may open the same store at once: readers never block, writers take turns.
pub struct Store {
    /// The file, or the URL without its password.
    path: PathBuf,
    /// What [`Store::open`] was given (a URL with its password).
    given: PathBuf,
    conn: Mutex<Conn>,
    /// Sensitive values per execution id. Kept in memory only.
    maskers: Mutex<HashMap<String, Arc<Masker>>>,
    /// Failed reads and writes since it was opened, for `/metrics`.
    errors: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the store at `path`: a file path for SQLite (creating the file, its directories
    /// and the schema as needed), or a `postgres://USER:PASSWORD@HOST:PORT/DATABASE` URL for
    /// PostgreSQL (creating the schema in that database). A store written by an older testwerk
    /// is migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let given = path.as_ref();
        let (path, conn) = match given.to_str().filter(|s| db::postgres::is_url(s)) {
            Some(url) => {
                let (location, conn) = db::postgres::open(url, DEFAULT_BUSY_TIMEOUT)?;
                (location, Conn::Postgres(Box::new(conn)))
            }
            None => (
                given.to_owned(),
                Conn::Sqlite(db::sqlite::open(given, DEFAULT_BUSY_TIMEOUT)?),
            ),
        };
        Ok(Store {
            path,
            given: given.to_owned(),
            conn: Mutex::new(conn),
            maskers: Mutex::new(HashMap::new()),
            errors: AtomicU64::new(0),
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

    /// The database file, or the PostgreSQL URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What [`Store::open`] was given: the file, or the PostgreSQL URL **with its password**.
    /// For handing the store to another testwerk process; never print it ([`Store::path`]
    /// names the store in messages).
    pub fn location(&self) -> &Path {
        &self.given
    }

    /// The path that files belonging with the store (local artifacts, the artifact token
    /// key, run directories) are kept beside: the SQLite file itself; for PostgreSQL, which
    /// has no file here, [`Store::default_path`] (or `./testwerk.db` without a data
    /// directory).
    pub fn files_beside(&self) -> PathBuf {
        if self.is_postgres() {
            Store::default_path().unwrap_or_else(|_| PathBuf::from("testwerk.db"))
        } else {
            self.path.clone()
        }
    }

    /// Sets how long an operation waits for another process's write before failing with
    /// [`StoreError::Locked`] (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        let set = match &mut *self.conn() {
            Conn::Sqlite(conn) => conn.busy_timeout(timeout).map_err(db::DbError::from),
            Conn::Postgres(conn) => conn.set_busy_timeout(timeout),
        };
        set.map_err(|e| {
            self.count_error();
            StoreError::from_db(&self.path, e)
        })
    }

    /// Whether the store is a PostgreSQL database (rather than an SQLite file).
    pub fn is_postgres(&self) -> bool {
        matches!(*self.conn(), Conn::Postgres(_))
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
        let last: Option<i64> = self.read(|tx| {
            tx.query_opt(
                "SELECT last_number FROM workflow_counters WHERE workflow = ?1",
                &[workflow.into()],
                |r| r.get(0),
            )
        })?;
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
        let created = created_at.to_string();
        let number = self.write(|tx| {
            let number: i64 = tx.query_one(
                "INSERT INTO workflow_counters (workflow, last_number) VALUES (?1, 1)
                 ON CONFLICT (workflow) DO UPDATE
                     SET last_number = workflow_counters.last_number + 1
                 RETURNING last_number",
                &[(&new.workflow).into()],
                |r| r.get(0),
            )?;
            let name = format!("{}-{number}", new.workflow);
            let pk: i64 = tx.query_one(
                "INSERT INTO executions (id, workflow, number, name, status, created_at,
                     runner_host, runner_pid, runner_start, source, plan)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?10)
                 RETURNING pk",
                &[
                    (&id).into(),
                    (&new.workflow).into(),
                    number.into(),
                    (&name).into(),
                    (&created).into(),
                    (&runner.hostname).into(),
                    runner.pid.into(),
                    runner.process_start.as_deref().into(),
                    (&source).into(),
                    (&plan).into(),
                ],
                |r| r.get(0),
            )?;
            for (key, value) in &tags {
                tx.execute(
                    "INSERT INTO execution_tags (execution, key, value) VALUES (?1, ?2, ?3)",
                    &[pk.into(), key.into(), value.into()],
                )?;
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
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.execute(
                "UPDATE executions SET plan = ?2 WHERE pk = ?1",
                &[pk.into(), (&plan).into()],
            )?;
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
        self.write(|tx| {
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
                &[
                    pk.into(),
                    status.as_str().into(),
                    reason.as_deref().into(),
                    (&now).into(),
                    status.is_final().into(),
                ],
            )?;
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
        let started_at = step.started_at.map(|t| t.to_string());
        let finished_at = step.finished_at.map(|t| t.to_string());
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.execute(
                "INSERT INTO steps (execution, ref, step_id, name, parent_ref, status, exit_code,
                     started_at, finished_at, duration_ms, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (execution, ref) DO UPDATE SET
                     step_id = excluded.step_id, name = excluded.name,
                     parent_ref = excluded.parent_ref, status = excluded.status,
                     exit_code = excluded.exit_code, started_at = excluded.started_at,
                     finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                     error = excluded.error",
                &[
                    pk.into(),
                    (&step.step_ref).into(),
                    step.id.as_deref().into(),
                    step.name.as_deref().into(),
                    step.parent_ref.as_deref().into(),
                    step.status.as_str().into(),
                    step.exit_code.into(),
                    started_at.as_deref().into(),
                    finished_at.as_deref().into(),
                    step.duration_ms().map(to_i64).into(),
                    error.as_deref().into(),
                ],
            )?;
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
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.execute(
                "INSERT INTO outputs (execution, step_ref, name, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (execution, step_ref, name) DO UPDATE SET value = excluded.value",
                &[pk.into(), step_ref.into(), name.into(), (&value).into()],
            )?;
            Ok(())
        })
    }

    // ---- helpers shared by the other modules ----

    /// The connection, even if another thread panicked while holding it (a transaction it
    /// left open was rolled back when it was dropped).
    fn conn(&self) -> MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// How many reads and writes failed (database errors and damage found) since it was
    /// opened.
    pub fn error_count(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The row key and status of the execution with unique id `id`. In a write transaction
    /// the row stays locked until the end, so writers of one execution take turns.
    pub(crate) fn execution_pk(
        &self,
        tx: &mut Tx<'_>,
        id: &str,
    ) -> Result<(i64, ExecutionStatus), StoreError> {
        let lock = tx.dialect().lock_row();
        let row: Option<(i64, String)> = tx.query_opt(
            &format!("SELECT pk, status FROM executions WHERE id = ?1{lock}"),
            &[id.into()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (pk, status) = row.ok_or_else(|| StoreError::NotFound {
            query: id.to_owned(),
        })?;
        let status = status
            .parse()
            .map_err(|e| tx.corrupt(format!("execution {id}: {e}")))?;
        Ok((pk, status))
    }

    /// The masker of execution `id` (empty if nothing was registered).
    pub(crate) fn masker(&self, id: &str) -> Arc<Masker> {
        let maskers = self.maskers.lock().unwrap_or_else(PoisonError::into_inner);
        maskers.get(id).cloned().unwrap_or_default()
    }

    /// Runs `f` in a write transaction and commits it, or rolls it back if `f` fails.
    ///
    /// Writers take turns: on SQLite the transaction takes the write lock at once; on
    /// PostgreSQL [`Store::execution_pk`] locks the execution's row.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(Access::Write, f)
    }

    /// Runs `f` in a read transaction, so that it sees one consistent state of the database.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(Access::Read, f)
    }

    fn transaction<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.begin(access, &self.path, &self.errors)?;
        let value = f(&mut tx)?;
        tx.commit()?;
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
