//! The corpus workflows of [`CONTENT_CORPUS`] through `testwerk run`, unchanged: their Git
//! content cloned from upstream's `test/` folder served by `git http-backend` through
//! `--git-mirror`, their images the stand-ins from the test registry, their artifacts kept and
//! their JUnit reports read into test cases. (The same list runs on the cluster in
//! `agent_cluster.rs`.)

mod support;

use support::*;
use testwerk_testregistry::{Registry, push_corpus_standins, push_standins};

#[test]
fn content_corpus_workflows_reach_their_expected_results_locally() {
    let Some(_toolkit) = toolkit_binary() else {
        return;
    };
    let Some(compat) = compat_dir() else {
        return;
    };
    let Some(upstream) = testwerk_testcontent::testkube_repo_dir() else {
        return;
    };
    let Some(repos) = testwerk_testcontent::Repos::new() else {
        return;
    };
    repos.from_tree("kubeshop/testkube", &upstream);
    let Some(git) = testwerk_testcontent::GitServer::start(repos.root()) else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let (Some(_standins), Some(_corpus)) =
        (push_standins(&registry), push_corpus_standins(&registry))
    else {
        return;
    };
    let names: Vec<&'static str> = CONTENT_CORPUS.iter().map(|(n, _, _)| *n).collect();
    let files = files_declaring(&compat, &names);
    let dir = scratch("corpus-content");
    let db = dir.join("db");
    let registry_mirror = format!("docker.io={}", registry.host);
    let git_mirror = format!("https://github.com/={}", git.base_url());
    let templates = compat.join("test");
    let mut failures = Vec::new();
    for (name, should_pass, has_cases) in CONTENT_CORPUS {
        let file = files
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        let (code, out, err) = testwerk_run(
            &db,
            &[
                file.to_str().unwrap_or_default(),
                "--workflow",
                name,
                "--templates",
                templates.to_str().unwrap_or_default(),
                "--registry-mirror",
                &registry_mirror,
                "--insecure",
                &registry.host,
                "--git-mirror",
                &git_mirror,
                "--image-cache",
                dir.join("images").to_str().unwrap_or_default(),
            ],
        );
        let expected = if should_pass { Some(0) } else { Some(1) };
        if code != expected {
            failures.push(format!("{name}: exit {code:?}\n{}\n{err}", tail(&out)));
            continue;
        }
        let execution = format!("{name}-1");
        let (_, artifacts, _) = testwerk_with_store(&db, &["artifacts", &execution]);
        if has_cases.is_some() && artifacts.contains("no artifacts") {
            failures.push(format!("{name}: no artifacts kept\n{}", tail(&out)));
        }
        let (_, json, _) = testwerk_with_store(&db, &["tests", &execution, "--output", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let cases = doc["cases"].as_array().map_or(0, Vec::len);
        if let Some(expect_cases) = has_cases
            && (cases > 0) != expect_cases
        {
            failures.push(format!("{name}: {cases} test cases stored\n{json}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} content corpus workflows ended otherwise than expected:\n{}",
        failures.len(),
        CONTENT_CORPUS.len(),
        failures.join("\n\n")
    );
}
