//! The database schema and its migrations, versioned with `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

/// `PRAGMA application_id` of a testwerk results store: `TWRS` in ASCII.
pub(crate) const APPLICATION_ID: i32 = 0x5457_5253;

/// The schema version this build writes. A database with a higher `user_version` was written
/// by a newer testwerk and is refused.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// `MIGRATIONS[n]` takes a database from schema version `n` to `n + 1`. Never edit a released
/// migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: executions, steps, outputs, logs.
    r#"
    CREATE TABLE executions (
        pk           INTEGER PRIMARY KEY,
        id           TEXT    NOT NULL UNIQUE,
        workflow     TEXT    NOT NULL,
        number       INTEGER NOT NULL CHECK (number > 0),
        name         TEXT    NOT NULL UNIQUE,
        status       TEXT    NOT NULL CHECK (status IN
                         ('queued', 'running', 'passed', 'failed', 'aborted', 'canceled')),
        reason       TEXT,
        created_at   TEXT    NOT NULL,
        started_at   TEXT,
        finished_at  TEXT,
        runner_host  TEXT    NOT NULL,
        runner_pid   INTEGER NOT NULL,
        runner_start TEXT,
        source       TEXT    NOT NULL,
        plan         TEXT    NOT NULL CHECK (json_valid(plan)),
        UNIQUE (workflow, number)
    );
    CREATE INDEX executions_by_created ON executions (created_at);
    CREATE INDEX executions_by_status ON executions (status);

    CREATE TABLE workflow_counters (
        workflow    TEXT    PRIMARY KEY,
        last_number INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE steps (
        execution   INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        ref         TEXT    NOT NULL,
        step_id     TEXT,
        name        TEXT,
        parent_ref  TEXT,
        status      TEXT    NOT NULL CHECK (status IN
                        ('queued', 'running', 'paused', 'passed', 'failed', 'timeout', 'skipped', 'aborted')),
        exit_code   INTEGER,
        started_at  TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        error       TEXT,
        UNIQUE (execution, ref)
    );

    CREATE TABLE outputs (
        execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        step_ref  TEXT    NOT NULL,
        name      TEXT    NOT NULL,
        value     TEXT    NOT NULL CHECK (json_valid(value)),
        UNIQUE (execution, step_ref, name)
    );

    CREATE TABLE logs (
        execution       INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        seq             INTEGER NOT NULL,
        step_ref        TEXT,
        time            TEXT    NOT NULL,
        text            TEXT    NOT NULL,
        truncated_bytes INTEGER,
        PRIMARY KEY (execution, seq)
    );
    "#,
    // 2: tags, and reading one step's logs without scanning the execution's.
    r#"
    CREATE TABLE execution_tags (
        execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        key       TEXT    NOT NULL,
        value     TEXT    NOT NULL,
        PRIMARY KEY (execution, key)
    ) WITHOUT ROWID;
    CREATE INDEX execution_tags_by_key ON execution_tags (key, value);
    CREATE INDEX logs_by_step ON logs (execution, step_ref, seq);
    "#,
    // 3: what the cluster said about an execution's objects (Kubernetes events). One row per
    // event and count, so a backend that reads the same events again after a restart adds
    // nothing twice.
    r#"
    CREATE TABLE events (
        execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        uid       TEXT    NOT NULL,
        count     INTEGER NOT NULL,
        time      TEXT    NOT NULL,
        warning   INTEGER NOT NULL CHECK (warning IN (0, 1)),
        object    TEXT    NOT NULL,
        reason    TEXT    NOT NULL,
        message   TEXT    NOT NULL,
        UNIQUE (execution, uid, count)
    );
    "#,
    // 4: how many log lines an execution has, kept with every append: SQLite has no page
    // checksums, and a damaged index can end a log early without an error; reads compare.
    // NULL for executions logged before.
    r#"
    ALTER TABLE executions ADD COLUMN log_lines INTEGER;
    "#,
    // 5: artifacts (the files live in artifact storage; a row says where and what) and the
    // test cases read from JUnit/xUnit reports among them.
    r#"
    CREATE TABLE artifacts (
        execution    INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        step_ref     TEXT    NOT NULL,
        name         TEXT    NOT NULL,
        size         INTEGER NOT NULL CHECK (size >= 0),
        content_type TEXT    NOT NULL,
        storage_key  TEXT    NOT NULL,
        created_at   TEXT    NOT NULL,
        UNIQUE (execution, step_ref, name)
    );

    CREATE TABLE test_cases (
        execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
        seq       INTEGER NOT NULL,
        step_ref  TEXT    NOT NULL,
        report    TEXT    NOT NULL,
        suite     TEXT    NOT NULL,
        class     TEXT,
        name      TEXT    NOT NULL,
        time_ms   INTEGER,
        status    TEXT    NOT NULL CHECK (status IN ('passed', 'failed', 'error', 'skipped')),
        message   TEXT,
        PRIMARY KEY (execution, seq)
    );
    CREATE INDEX test_cases_by_status ON test_cases (execution, status);
    "#,
    // 6: the schedule ticks an agent claimed (each tick of a cron event runs once, whichever
    // replica claims it).
    r#"
    CREATE TABLE schedule_ticks (
        key        TEXT NOT NULL,
        tick       TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        PRIMARY KEY (key, tick)
    ) WITHOUT ROWID;
    "#,
];

type MigrateError = super::MigrateError<rusqlite::Error>;

/// Brings the database to [`SCHEMA_VERSION`], one migration per transaction.
///
/// Safe to run from several processes at once: each migration takes the write lock and checks
/// the version again before applying itself.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let application_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if application_id != APPLICATION_ID && application_id != 0 {
            return Err(MigrateError::NotAStore(format!(
                "its application id is {application_id:#x}"
            )));
        }
        if version == 0 {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                return Err(MigrateError::NotAStore(
                    "it is an SQLite database with other tables".to_owned(),
                ));
            }
        }
        let Some(migration) = MIGRATIONS.get(version as usize) else {
            return if version > SCHEMA_VERSION {
                Err(MigrateError::Newer(version))
            } else {
                Ok(())
            };
        };
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_to_the_latest_version_once() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        migrate(&mut conn).expect("migrate");
        migrate(&mut conn).expect("migrating again changes nothing");
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 6);
    }

    #[test]
    fn refuses_newer_and_foreign_databases() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        migrate(&mut conn).expect("migrate");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("set version");
        assert!(matches!(migrate(&mut conn), Err(MigrateError::Newer(7))));

        let mut other = Connection::open_in_memory().expect("in-memory database");
        other
            .execute_batch("CREATE TABLE notes (text TEXT)")
            .expect("create");
        assert!(matches!(
            migrate(&mut other),
            Err(MigrateError::NotAStore(_))
        ));
    }
}
