//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use testwerk_store::{NewExecution, Store};

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("dir").join("testwerk.db");
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

/// A store for a test that runs on both databases: what `Store::open` was given (a path, or
/// a URL with its password), the store, and what keeps it alive.
pub struct TestStore {
    pub store: Store,
    pub location: String,
    /// The PostgreSQL database's name; `None` on SQLite.
    database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    /// The PostgreSQL database's name; `None` on SQLite.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The first column of the first row `sql` returns, as text, read beneath the API: with
    /// SQLite from the file, with PostgreSQL through `psql`.
    pub fn scalar(&self, sql: &str) -> String {
        match &self.database {
            None => raw(Path::new(&self.location))
                .query_row(sql, [], |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                        other => format!("{other:?}"),
                    })
                })
                .unwrap(),
            Some(database) => testwerk_testpostgres::server()
                .unwrap()
                .sql(database, sql)
                .unwrap(),
        }
    }
}

/// A fresh SQLite store.
pub fn sqlite_store() -> TestStore {
    let (dir, path, store) = temp_store();
    TestStore {
        store,
        location: path.to_string_lossy().into_owned(),
        database: None,
        _dir: Some(dir),
    }
}

/// A store in a fresh database of the test process's PostgreSQL server; `None` when
/// PostgreSQL is not installed (the test is reported as skipped, and fails under `CI`).
#[track_caller]
pub fn postgres_store() -> Option<TestStore> {
    let db = testwerk_testpostgres::server()?.database();
    let store = Store::open(&db.url).unwrap_or_else(|e| panic!("{e}"));
    Some(TestStore {
        store,
        location: db.url,
        database: Some(db.name),
        _dir: None,
    })
}

/// Runs each named test function (`fn name(t: TestStore)`) once on SQLite
/// (`on_sqlite::name`) and once on PostgreSQL (`on_postgres::name`). Once per test file.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::common::sqlite_store())
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(store) = $crate::common::postgres_store() {
                        super::$name(store)
                    }
                }
            )*
        }
    };
}

/// A new execution of `workflow` by this process with a small source and plan.
pub fn new_execution(workflow: &str) -> NewExecution {
    NewExecution::new(
        workflow,
        format!("kind: TestWorkflow\nmetadata:\n  name: {workflow}\n"),
        serde_json::json!({"version": 1, "workflow": workflow, "steps": [{"ref": "r1"}]}),
    )
}

/// A raw SQLite connection to the store's file, for checks beneath the API.
pub fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

pub fn user_version(path: &Path) -> u32 {
    raw(path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}
