//! Test cases kept with an execution: batches numbered on, listed failures first, counted,
//! masked.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestStore, new_execution};
use testwerk_store::{CaseStatus, StoreError, TestCase, TestCaseCounts};

on_both_databases!(
    a_generated_report_is_stored_in_batches,
    a_report_that_is_not_one_or_is_cut_short,
    cases_are_numbered_on_and_listed_failures_first,
    secrets_in_names_and_messages_are_masked
);

fn case(name: &str, status: CaseStatus, message: Option<&str>) -> TestCase {
    TestCase {
        suite: "suite".into(),
        class: Some("com.example.T".into()),
        name: name.into(),
        time_ms: Some(12),
        status,
        message: message.map(str::to_owned),
    }
}

fn cases_are_numbered_on_and_listed_failures_first(t: TestStore) {
    let store = t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    let other = store.create_execution(new_execution("w")).unwrap().id;
    store
        .record_test_cases(
            &id,
            "r1",
            "reports/a.xml",
            &[
                case("p1", CaseStatus::Passed, None),
                case("s1", CaseStatus::Skipped, Some("later")),
                case("e1", CaseStatus::Error, Some("NPE")),
            ],
        )
        .unwrap();
    store
        .record_test_cases(
            &id,
            "r2",
            "b.xml",
            &[
                case("f1", CaseStatus::Failed, Some("expected 1")),
                case("p2", CaseStatus::Passed, None),
                case("f2", CaseStatus::Failed, Some("expected 2")),
            ],
        )
        .unwrap();
    store
        .record_test_cases(
            &other,
            "r1",
            "c.xml",
            &[case("x", CaseStatus::Failed, None)],
        )
        .unwrap();

    let cases = store.test_cases(&id).unwrap();
    let order: Vec<(&str, u64)> = cases
        .iter()
        .map(|c| (c.case.name.as_str(), c.seq))
        .collect();
    assert_eq!(
        order,
        [
            ("f1", 3),
            ("f2", 5),
            ("e1", 2),
            ("s1", 1),
            ("p1", 0),
            ("p2", 4)
        ]
    );
    assert_eq!(cases[0].step_ref, "r2");
    assert_eq!(cases[0].report, "b.xml");
    assert_eq!(
        cases[0].case,
        case("f1", CaseStatus::Failed, Some("expected 1"))
    );

    let counts = store.test_case_counts(&id).unwrap();
    assert_eq!(
        counts,
        TestCaseCounts {
            passed: 2,
            failed: 2,
            error: 1,
            skipped: 1
        }
    );
    assert_eq!(counts.total(), 6);
    assert_eq!(counts.to_string(), "2 passed, 2 failed, 1 error, 1 skipped");
    assert_eq!(
        store.test_case_counts(&other).unwrap().to_string(),
        "1 failed"
    );

    // Cases and counts together, as the CLI and the API serve them.
    let report = store.test_case_report(&id).unwrap();
    assert_eq!(report.execution, id);
    assert_eq!(report.counts, counts);
    assert_eq!(report.cases, cases);

    // By name too; an execution without cases has none.
    let name = store.execution(&id).unwrap().unwrap().execution.name;
    assert_eq!(store.test_cases(&name).unwrap().len(), 6);
    let empty = store.create_execution(new_execution("w")).unwrap().id;
    assert!(store.test_cases(&empty).unwrap().is_empty());
    assert_eq!(
        store.test_case_counts(&empty).unwrap().to_string(),
        "no test cases"
    );
    assert!(matches!(
        store.test_cases("nope"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.record_test_cases("0000", "r", "a.xml", &[case("x", CaseStatus::Passed, None)]),
        Err(StoreError::NotFound { .. })
    ));
}

fn secrets_in_names_and_messages_are_masked(t: TestStore) {
    let store = t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    store.register_secrets(&id, ["hunter22"]);
    store
        .record_test_cases(
            &id,
            "r1",
            "a.xml",
            &[case(
                "logs in as hunter22",
                CaseStatus::Failed,
                Some("token hunter22 refused"),
            )],
        )
        .unwrap();
    let stored = &store.test_cases(&id).unwrap()[0].case;
    assert_eq!(stored.name, "logs in as ****22");
    assert_eq!(stored.message.as_deref(), Some("token ****22 refused"));
}

fn a_report_that_is_not_one_or_is_cut_short(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    let pom = dir.path().join("pom.xml");
    std::fs::write(&pom, "<project><testcase name=\"x\"/></project>").unwrap();
    let summary = store
        .record_report_file(&id, "r1", "pom.xml", &pom)
        .unwrap();
    assert_eq!((summary.format, summary.cases), (None, 0));
    let cut = dir.path().join("cut.xml");
    std::fs::write(
        &cut,
        "<testsuite name=\"s\"><testcase name=\"a\"/><testcase name=\"b\"><fail",
    )
    .unwrap();
    let summary = store
        .record_report_file(&id, "r1", "cut.xml", &cut)
        .unwrap();
    assert_eq!(summary.cases, 1);
    assert_eq!(summary.warnings.len(), 1);
    assert!(summary.warnings[0].to_string().contains("cut.xml"));
    assert_eq!(store.test_cases(&id).unwrap().len(), 1);
    let missing = store.record_report_file(&id, "r1", "gone.xml", &dir.path().join("gone.xml"));
    assert!(matches!(
        missing,
        Err(testwerk_reports::ReadReportError::Open { .. })
    ));
}

fn a_generated_report_is_stored_in_batches(t: TestStore) {
    use std::io::BufWriter;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xml");
    let mut file = BufWriter::new(std::fs::File::create(&path).unwrap());
    let written =
        testwerk_reports::sample::write_sample_junit(&mut file, 40 * 1024 * 1024).unwrap();
    drop(file);

    let store = t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    let summary = store
        .record_report_file(&id, "r1", "reports/big.xml", &path)
        .unwrap();
    assert_eq!(
        summary.cases,
        written.passed + written.failed + written.error + written.skipped
    );
    assert!(summary.warnings.is_empty());
    let stored = store.test_cases(&id).unwrap();
    assert_eq!(stored.len() as u64, summary.cases);
    assert!(
        stored
            .iter()
            .all(|c| c.report == "reports/big.xml" && c.step_ref == "r1")
    );
    // Numbered without a gap across the batches.
    let mut seqs: Vec<u64> = stored.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    assert!(seqs.iter().enumerate().all(|(i, s)| *s == i as u64));
    assert_eq!(
        store.test_case_counts(&id).unwrap(),
        TestCaseCounts {
            passed: written.passed,
            failed: written.failed,
            error: written.error,
            skipped: written.skipped,
        }
    );
}
