//! What only the PostgreSQL store has to prove: its schema's guard, text PostgreSQL cannot
//! hold, a lost connection, and secrets that never reach the server. The behaviour both
//! databases share is tested on both by the other suites (`on_postgres::…`).

mod common;

use common::{new_execution, postgres_store};
use testwerk_store::{LogLine, POSTGRES_SCHEMA_VERSION, Store, StoreError};

#[test]
fn a_database_of_another_application_or_a_newer_testwerk_is_refused() {
    let Some(server) = testwerk_testpostgres::server() else {
        return;
    };
    let db = server.database();
    let url = db.url.clone();
    server
        .sql(&db.name, "CREATE TABLE executions (id TEXT)")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = Store::open(&url).expect_err("another application's tables");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(
        !err.to_string().contains(testwerk_testpostgres::PASSWORD),
        "{err}"
    );

    let Some(t) = postgres_store() else { return };
    assert_eq!(
        t.scalar("SELECT version FROM testwerk_schema"),
        POSTGRES_SCHEMA_VERSION.to_string()
    );
    t.scalar(&format!(
        "UPDATE testwerk_schema SET version = {} RETURNING version",
        POSTGRES_SCHEMA_VERSION + 1
    ));
    let err = Store::open(&t.location).expect_err("a newer schema");
    assert!(
        matches!(err, StoreError::NewerSchema { found, .. } if found == POSTGRES_SCHEMA_VERSION + 1),
        "{err}"
    );
}

#[test]
fn agents_opening_a_new_database_together_migrate_it_once() {
    let Some(server) = testwerk_testpostgres::server() else {
        return;
    };
    let db = server.database();
    let url = db.url.clone();
    let opened: Vec<Result<Store, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| Store::open(&url))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("opening panicked")))
            .collect()
    });
    for store in &opened {
        assert!(store.is_ok(), "{:?}", store.as_ref().err());
    }
    assert_eq!(
        server
            .sql(&db.name, "SELECT count(*) FROM testwerk_schema")
            .ok()
            .as_deref(),
        Some("1")
    );
}

#[test]
fn a_nul_in_a_log_line_is_stored_as_a_visible_stand_in() {
    let Some(t) = postgres_store() else { return };
    let id = t
        .store
        .create_execution(new_execution("w"))
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    t.store
        .append_logs(&id, &[LogLine::new(None, "before\0after")])
        .unwrap_or_else(|e| panic!("{e}"));
    let lines = t.store.logs(&id, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines[0].text, "before\u{2400}after");
}

#[test]
fn a_connection_the_server_closed_is_opened_again() {
    let Some(t) = postgres_store() else { return };
    let id = t
        .store
        .create_execution(new_execution("w"))
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let db = t.database().unwrap_or_default().to_owned();
    t.scalar(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = '{db}' AND pid <> pg_backend_pid()"
    ));
    // The first call after the cut may fail, with a clear error; the store then reconnects.
    let first = t.store.append_logs(&id, &[LogLine::new(None, "one")]);
    if let Err(e) = &first {
        assert!(
            matches!(
                e,
                StoreError::Unreachable { .. } | StoreError::Postgres { .. }
            ),
            "{e}"
        );
    }
    t.store
        .append_logs(&id, &[LogLine::new(None, "two")])
        .unwrap_or_else(|e| panic!("after reconnecting: {e}"));
    let texts: Vec<String> = t
        .store
        .logs(&id, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|l| l.text)
        .collect();
    let expected: Vec<&str> = if first.is_ok() {
        vec!["one", "two"]
    } else {
        vec!["two"]
    };
    assert_eq!(texts, expected);
}

#[test]
fn masked_values_never_reach_the_server() {
    let Some(server) = testwerk_testpostgres::server() else {
        return;
    };
    let Some(t) = postgres_store() else { return };
    let token = "tok-9f8e7d6c5b4a";
    let mut new = new_execution("masked");
    new.source = format!("env:\n  TOKEN: {token}\n");
    new.plan = serde_json::json!({"env": {"TOKEN": token}});
    new.tags.insert("auth".into(), format!("bearer {token}"));
    new.secrets = vec![token.into()];
    let id = t
        .store
        .create_execution(new)
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    t.store
        .append_logs(&id, &[LogLine::new(Some("r1"), format!("token={token}"))])
        .unwrap_or_else(|e| panic!("{e}"));
    t.store
        .set_output(&id, "r1", "t", &serde_json::json!(token))
        .unwrap_or_else(|e| panic!("{e}"));
    let db = t.database().unwrap_or_default();
    let dump = std::process::Command::new(server.bin().join("pg_dump"))
        .arg(server.url(db))
        .output()
        .unwrap_or_else(|e| panic!("pg_dump: {e}"));
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("****4a"), "the dump holds the execution");
    assert!(!dump.contains("9f8e7d6c5b"), "a secret reached PostgreSQL");
}
