//! `testwerk tests <id>`: an execution's test cases as a table (failures and errors first)
//! with a summary line, and as JSON with every field.
#![allow(clippy::unwrap_used)]

mod support;

use support::testwerk_with_store;
use testwerk_store::{CaseStatus, NewExecution, Store, TestCase};

fn case(suite: &str, name: &str, status: CaseStatus, message: Option<&str>) -> TestCase {
    TestCase {
        suite: suite.into(),
        class: Some(format!("com.example.{suite}Tests")),
        name: name.into(),
        time_ms: Some(1500),
        status,
        message: message.map(str::to_owned),
    }
}

#[test]
fn tests_shows_failures_first_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("testwerk.db");
    let store = Store::open(&db).unwrap();
    let execution = store
        .create_execution(NewExecution::new(
            "junit",
            "kind: TestWorkflow",
            serde_json::json!({}),
        ))
        .unwrap();
    let empty = store
        .create_execution(NewExecution::new(
            "junit",
            "kind: TestWorkflow",
            serde_json::json!({}),
        ))
        .unwrap();
    store
        .record_test_cases(
            &execution.id,
            "rstep1",
            "reports/TEST-a.xml",
            &[
                case("AAA", "passes", CaseStatus::Passed, None),
                case("AAA", "is skipped", CaseStatus::Skipped, Some("not on Linux")),
                case(
                    "BBB",
                    "throws",
                    CaseStatus::Error,
                    Some("NullPointerException\n\tat com.example.BBBTests.throws(BBBTests.java:9)"),
                ),
                case(
                    "BBB",
                    "compares",
                    CaseStatus::Failed,
                    Some("\nExpected value X but got Y\n\tat com.example.BBBTests.compares(BBBTests.java:42)"),
                ),
                case("BBB", "passes too", CaseStatus::Passed, None),
            ],
        )
        .unwrap();
    drop(store);

    let (code, out, err) = testwerk_with_store(&db, &["tests", "junit-1"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["STATUS", "SUITE", "CLASS", "NAME", "TIME", "MESSAGE"]
    );
    let first_words: Vec<&str> = lines[1..6]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        first_words,
        ["failed", "error", "skipped", "passed", "passed"]
    );
    assert!(
        lines[1].contains("com.example.BBBTests")
            && lines[1].contains("compares")
            && lines[1].contains("1.500s")
            && lines[1].ends_with("Expected value X but got Y"),
        "the failure's line shows its first message line: {}",
        lines[1]
    );
    assert!(lines[2].ends_with("NullPointerException"), "{}", lines[2]);
    assert!(!out.contains("BBBTests.java"), "only the first line: {out}");
    assert_eq!(lines[6], "2 passed, 1 failed, 1 error, 1 skipped");

    // JSON: every field, the whole message.
    let (code, out, err) = testwerk_with_store(&db, &["tests", &execution.id, "--output", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["execution"], execution.id.as_str());
    assert_eq!(
        json["counts"],
        serde_json::json!({"passed": 2, "failed": 1, "error": 1, "skipped": 1})
    );
    let first = &json["cases"][0];
    assert_eq!(first["status"], "failed");
    assert_eq!(first["suite"], "BBB");
    assert_eq!(first["class"], "com.example.BBBTests");
    assert_eq!(first["name"], "compares");
    assert_eq!(first["time_ms"], 1500);
    assert_eq!(first["step_ref"], "rstep1");
    assert_eq!(first["report"], "reports/TEST-a.xml");
    assert_eq!(first["seq"], 3);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("BBBTests.java:42")
    );

    // `executions <id>` says how many, and where to see them.
    let (code, out, err) = testwerk_with_store(&db, &["executions", "junit-1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("  tests:    2 passed, 1 failed, 1 error, 1 skipped (`testwerk tests junit-1` lists them)"),
        "{out}"
    );
    let (_, out, _) = testwerk_with_store(&db, &["executions", "junit-2"]);
    assert!(!out.contains("tests:"), "no line without cases: {out}");

    // An execution without cases, and no execution at all.
    let (code, out, _) = testwerk_with_store(&db, &["tests", &empty.name]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("no test cases in junit-2"), "{out}");
    let (code, _, err) = testwerk_with_store(&db, &["tests", "junit-9"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no execution `junit-9`"), "{err}");
}
