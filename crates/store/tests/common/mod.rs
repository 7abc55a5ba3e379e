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
