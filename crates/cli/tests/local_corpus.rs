//! The corpus workflows that need only shell images and no toolkit feature run on this machine
//! to their expected result: `special-cases-*` pass, `expected-fail-*` fail for their reason.

mod support;

use support::*;

#[test]
fn shell_only_corpus_workflows_run_locally_to_their_expected_result() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let templates = [compat.join("k8s/templates"), compat.join("test")];
    let files = corpus_files(&compat);
    let dir = scratch("local-corpus");
    // Two at a time: the machine has two cores, and most of these wait on sleeps.
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, should_pass, reason)) = SHELL_CORPUS.get(i).copied() else {
                        break;
                    };
                    let file = files
                        .get(name)
                        .unwrap_or_else(|| panic!("{name} is not in the corpus"));
                    let store = dir.join(format!("{name}.db"));
                    let mut args = vec![
                        file.to_str().unwrap_or_default(),
                        "--workflow",
                        name,
                        "--output",
                        "json",
                    ];
                    for t in &templates {
                        args.extend(["--templates", t.to_str().unwrap_or_default()]);
                    }
                    let (code, out, err) = testwerk_run(&store, &args);
                    let passed = code == Some(0);
                    let explained = should_pass || format!("{out}{err}").contains(reason);
                    if passed != should_pass || !explained || !matches!(code, Some(0 | 1)) {
                        let expected = if should_pass { "pass" } else { "failure" };
                        let report = format!(
                            "{name}: exit {code:?}, expected {expected}\n{}\n{}",
                            tail(&out),
                            tail(&err)
                        );
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(report);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        failures.is_empty(),
        "{} of {} workflows did not end as expected:\n{}",
        failures.len(),
        SHELL_CORPUS.len(),
        failures.join("\n---\n")
    );
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}
