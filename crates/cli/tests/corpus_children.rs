//! The corpus workflows that use `parallel`, `services` and `execute` with alpine images
//! ([`support::CHILDREN_CORPUS`]) reach their expected result through `testwerk run` in image
//! mode: images from a real `docker-registry` (busybox-static stand-ins), each worker,
//! service and executed workflow a child execution of its own.

mod support;

use support::*;
use testwerk_testregistry::{Registry, push_standins};

#[test]
fn corpus_workflows_with_parallel_services_and_execute_reach_their_expected_results() {
    let Some(compat) = compat_dir() else { return };
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_standins(&registry) else {
        return;
    };
    let names: Vec<&'static str> = CHILDREN_CORPUS.iter().map(|(n, _)| *n).collect();
    let files = files_declaring(&compat, &names);
    let dir = scratch("corpus-children");
    let db = dir.join("db");
    let mirror = format!("docker.io={}", registry.host);
    let templates = [compat.join("k8s/templates"), compat.join("test")];
    let mut failures = Vec::new();
    for (name, should_pass) in CHILDREN_CORPUS {
        let file = files
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        let mut args = vec![
            file.to_str().unwrap_or_default(),
            "--workflow",
            name,
            "--registry-mirror",
            &mirror,
            "--insecure",
            &registry.host,
        ];
        for t in &templates {
            args.extend(["--templates", t.to_str().unwrap_or_default()]);
        }
        let cache = dir.join("images");
        args.extend(["--image-cache", cache.to_str().unwrap_or_default()]);
        let started = std::time::Instant::now();
        let (code, out, err) = testwerk_run(&db, &args);
        println!("{name}: exit {code:?} in {:?}", started.elapsed());
        let expected = if should_pass { Some(0) } else { Some(1) };
        if code != expected {
            failures.push(format!(
                "{name}: exit {code:?}, expected {expected:?}\n{}\n{err}",
                tail(&out)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus workflows did not reach their result:\n\n{}",
        failures.len(),
        CHILDREN_CORPUS.len(),
        failures.join("\n\n")
    );
}
