//! The corpus workflows that need only shell images and no toolkit feature run on this machine
//! to their expected result: `special-cases-*` pass, `expected-fail-*` fail for their reason.
//! In image mode their `alpine`, `busybox` and `bash` images come from a real `docker-registry`
//! on loopback (stand-ins built from busybox-static and bash-static) through
//! `--registry-mirror docker.io=…`; in host mode this machine's tools run them.

mod support;

use support::*;
use testwerk_testregistry::{Registry, push_standins};

#[test]
fn shell_only_corpus_workflows_run_in_image_mode_from_a_registry_mirror() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_standins(&registry) else {
        return;
    };
    let cache = scratch("local-corpus-images");
    let mirror = format!("docker.io={}", registry.host);
    let cache_dir = cache.to_str().unwrap_or_default().to_owned();
    let extra = [
        "--registry-mirror",
        mirror.as_str(),
        "--insecure",
        registry.host.as_str(),
        "--image-cache",
        cache_dir.as_str(),
    ];
    run_corpus(&compat, "image", &extra);
    // The images really came from the registry: their roots are in the image store.
    let roots = std::fs::read_dir(cache.join("roots"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        roots >= 2,
        "expected alpine and bash roots in the store, found {roots}"
    );
}

#[test]
fn shell_only_corpus_workflows_run_in_host_mode() {
    let Some(compat) = compat_dir() else {
        return;
    };
    run_corpus(&compat, "host", &["--host"]);
}

fn run_corpus(compat: &std::path::Path, mode: &str, extra: &[&str]) {
    let templates = [compat.join("k8s/templates"), compat.join("test")];
    let files = corpus_files(compat);
    let dir = scratch(&format!("local-corpus-{mode}"));
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
                    args.extend(extra);
                    let (code, out, err) = testwerk_run(&store, &args);
                    let passed = code == Some(0);
                    let explained = should_pass || format!("{out}{err}").contains(reason);
                    if passed != should_pass || !explained || !matches!(code, Some(0 | 1)) {
                        let expected = if should_pass { "pass" } else { "failure" };
                        let report = format!(
                            "{name} ({mode} mode): exit {code:?}, expected {expected}\n{}\n{}",
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
