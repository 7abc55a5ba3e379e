//! The corpus workflows that need only shell images and no toolkit feature run on this machine
//! to their expected result: `special-cases-*` pass, `expected-fail-*` fail for their reason.

mod support;

use support::*;

/// (workflow, expected to pass, for a failure: a word the failing step or reason must contain)
const LOCAL: [(&str, bool, &str); 26] = [
    ("special-cases-step-sharing", true, ""),
    ("special-cases-env-expression-env-not-set", true, ""),
    ("special-cases-workingdir-override", true, ""),
    ("special-cases-optional-step-failed", true, ""),
    ("special-cases-optional-step-timed-out", true, ""),
    ("special-cases-optional-step-passed", true, ""),
    ("special-cases-conditional-step-skipped", true, ""),
    ("special-cases-conditional-step-passed", true, ""),
    (
        "special-cases-conditional-step-failed-but-optional",
        true,
        "",
    ),
    ("special-cases-step-retry", true, ""),
    ("special-cases-negative-step", true, ""),
    ("special-cases-step-timeout-ok", true, ""),
    ("special-cases-missing-env-secret", true, ""),
    ("special-cases-missing-configmap-key", true, ""),
    ("special-cases-no-initial-output", true, ""),
    ("special-cases-execution-tags", true, ""),
    ("special-cases-unique-labels", true, ""),
    ("special-cases-silent-workflow", true, ""),
    ("special-cases-cron-trigger-with-timezone", true, ""),
    ("large-logs-1mb-no-delay", true, ""),
    ("large-logs-11mb-no-delay", true, ""),
    ("expected-fail-step-retry", false, "failed"),
    ("expected-fail-negative-step", false, "failed"),
    ("expected-fail-volume-not-mounted", false, "missing-volume"),
    ("expected-fail-conditional-step-failed", false, "failed"),
    ("special-cases-30s", true, ""),
];
// Not here, because of how long they take: special-cases-long-lasting-30m, -90m and
// -sleep-90m (30 to 90 minutes of sleep), large-logs-*-1s/-2s (the same logs, slower); and
// write-read-100mb, which installs `pv` with alpine's package manager (`apk add`).

#[test]
fn shell_only_corpus_workflows_run_locally_to_their_expected_result() {
    let compat = compat_dir();
    let templates = [compat.join("k8s/templates"), compat.join("test")];
    let mut files = std::collections::HashMap::new();
    for file in workflow_files(&compat.join("test")) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (name, _, _) in LOCAL {
            let declares = text
                .lines()
                .any(|l| l.split('#').next().map(str::trim) == Some(&format!("name: {name}")));
            if declares {
                files.entry(name).or_insert_with(|| file.clone());
            }
        }
    }
    let dir = scratch("local-corpus");
    // Two at a time: the machine has two cores, and most of these wait on sleeps.
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, should_pass, reason)) = LOCAL.get(i).copied() else {
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
        LOCAL.len(),
        failures.join("\n---\n")
    );
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}
