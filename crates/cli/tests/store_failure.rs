//! A results store that cannot record, or cannot be read, is an error with its own exit
//! code, never a run that says PASSED with most of its log missing or a `logs` that prints
//! nothing: on a real full tmpfs and a real damaged database file.

use testwerk_testinputs::tmpfs;

mod support;

use std::path::Path;

use support::*;

fn workflow(dir: &Path, name: &str, shell: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: {name}\nspec:\n  steps:\n  - name: Print\n    shell: {shell}\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

fn testwerk(store: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    testwerk_with_store(store, args)
}

/// `12,345` → 12345.
fn number(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

#[test]
fn a_run_whose_store_fills_up_stops_with_exit_3_and_says_what_was_not_stored() {
    let Some(fs) = tmpfs::Tmpfs::mount("3m") else {
        return;
    };
    let dir = scratch("store-full");
    let wf = workflow(&dir, "flood", "seq 1 200000");
    let store = fs.dir.join("db");
    let (code, out, err) = testwerk_run(&store, &[&wf]);
    assert_eq!(code, Some(3), "stdout:\n{}\nstderr:\n{err}", tail(&out));
    assert!(
        err.contains("the results of flood-1 could not be stored in")
            && err.contains("is full")
            && err.contains("the run was stopped"),
        "{err}"
    );
    // "not stored: 190,796 of 200,004 log lines": every line is stored or counted.
    let counts = err
        .split("not stored: ")
        .nth(1)
        .and_then(|rest| rest.split(" log lines").next())
        .unwrap_or_else(|| panic!("no count of lines not stored: {err}"));
    let (missing, seen) = counts
        .split_once(" of ")
        .unwrap_or_else(|| panic!("`{counts}`"));
    let (missing, seen) = (number(missing), number(seen));
    assert!(missing > 0 && seen >= missing, "{counts}");
    let (code, logs, log_err) = testwerk(&store, &["logs", "flood-1"]);
    assert_eq!(code, Some(0), "{log_err}");
    // `logs` marks where each step starts (`── name (ref)`): not a stored line.
    let stored = logs.lines().filter(|l| !l.starts_with("── ")).count() as u64;
    assert_eq!(
        stored + missing,
        seen,
        "stored lines and lines reported missing add up to what the run printed"
    );
    // Apart from init's own lines, the numbers printed: 1, 2, 3, … with no hole.
    let printed: Vec<&str> = logs.lines().filter(|l| l.parse::<u64>().is_ok()).collect();
    assert!(!printed.is_empty());
    for (n, line) in printed.iter().enumerate() {
        assert_eq!(
            *line,
            (n + 1).to_string(),
            "the stored log is a prefix, no hole"
        );
    }
}

#[test]
fn a_damaged_store_is_an_error_not_an_empty_log() {
    let dir = scratch("store-damaged");
    let store = dir.join("db");
    let wf = workflow(&dir, "lines", "seq 1 20000");
    let (code, out, err) = testwerk_run(&store, &[&wf]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (code, logs, _) = testwerk(&store, &["logs", "lines-1"]);
    assert_eq!(code, Some(0));
    let printed = logs.lines().filter(|l| l.parse::<u64>().is_ok()).count();
    assert_eq!(printed, 20000);

    // Damage eight pages in the middle of the file. The log's table and its index by step
    // fill most of it, their pages interleaved: one page could be the index's alone (which
    // reading a whole log does not touch), eight always hold some of the table's.
    let mut bytes = std::fs::read(&store).unwrap_or_else(|e| panic!("{e}"));
    let page = 4096;
    let middle = (bytes.len() / page / 2) * page;
    for b in &mut bytes[middle..middle + 8 * page] {
        *b = 0x5a;
    }
    std::fs::write(&store, &bytes).unwrap_or_else(|e| panic!("{e}"));

    let (code, logs, err) = testwerk(&store, &["logs", "lines-1"]);
    assert_ne!(
        code,
        Some(0),
        "a damaged store read as a success:\n{}",
        tail(&logs)
    );
    assert!(
        err.contains("is damaged") && err.contains("move it away"),
        "the error says what is wrong and what to do: {err}"
    );
    let (code, _, err) = testwerk(&store, &["logs", "lines-1", "--step", "Print"]);
    assert_ne!(code, Some(0), "one step's log of a damaged store: {err}");
    assert!(err.contains("is damaged"), "{err}");
}
