//! The compatibility corpus: every TestWorkflow Testkube ships compiles, and the ones meant to
//! fail fail for their reason. The corpus comes from `$TESTWERK_COMPAT_DIR`
//! (default `../shared/compat/testkube` beside the repository).

mod support;

use std::collections::BTreeMap;

use support::*;
use testwerk_cli::pipeline;

/// Workflows meant not to compile, and a word their error must contain.
const EXPECTED_FAILURES: [(&str, &str); 4] = [
    (
        "expected-fail-missing-template",
        "some-non-existant-template-name",
    ),
    (
        "expected-fail-template-missing-config-options",
        "config.message",
    ),
    (
        "expected-fail-template-not-defined-config-options",
        "config.message",
    ),
    // The image does not exist, so nothing can tell its entrypoint: upstream fails at
    // initialisation, before any Job is created; so do we, at compile time.
    (
        "expected-fail-cypress-incorrect-image-name",
        "cypress/some-incorrect-name:13.6.4",
    ),
];

#[test]
fn every_corpus_workflow_compiles_except_those_meant_to_fail() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let images = corpus_images();
    let template_dirs = vec![compat.join("k8s/templates"), compat.join("test")];
    let templates = pipeline::load_templates(&template_dirs, None)
        .unwrap_or_else(|e| panic!("corpus templates do not load: {}", join(&e)));
    let mut outcomes: BTreeMap<String, Result<usize, String>> = BTreeMap::new();
    for file in workflow_files(&compat.join("test")) {
        let inputs = pipeline::load_file(&file, &templates)
            .unwrap_or_else(|e| panic!("{} does not load: {}", file.display(), join(&e)));
        for doc in &inputs.workflows {
            let name = doc.value.metadata.name.clone().unwrap_or_default();
            let outcome = pipeline::compile(doc, &inputs.templates, &settings(&images))
                .map(|c| {
                    c.bundle
                        .job
                        .spec
                        .and_then(|s| s.template.spec)
                        .map_or(0, |p| 1 + p.init_containers.map_or(0, |i| i.len()))
                })
                .map_err(|e| join(&e));
            assert!(
                outcomes.insert(name.clone(), outcome).is_none(),
                "two workflows named {name}"
            );
        }
    }
    let failed: BTreeMap<&String, &String> = outcomes
        .iter()
        .filter_map(|(n, o)| o.as_ref().err().map(|e| (n, e)))
        .collect();
    for (name, word) in EXPECTED_FAILURES {
        let error = failed
            .get(&name.to_owned())
            .unwrap_or_else(|| panic!("{name} compiled but must fail"));
        assert!(
            error.contains(word),
            "{name} fails, but not naming `{word}`:\n{error}"
        );
    }
    let unexpected: Vec<_> = failed
        .iter()
        .filter(|(n, _)| !EXPECTED_FAILURES.iter().any(|(e, _)| *e == n.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures:\n{unexpected:#?}"
    );
    let compiled = outcomes.len() - failed.len();
    eprintln!(
        "corpus: {} workflows, {compiled} compiled, {} failed as expected",
        outcomes.len(),
        failed.len()
    );
    assert!(
        outcomes.len() >= 200,
        "the corpus holds about 207 workflows, found {}",
        outcomes.len()
    );
}
