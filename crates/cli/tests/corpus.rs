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

/// Every file of the corpus, loaded with the corpus's templates; `None` (a counted skip) without
/// the corpus.
fn corpus_inputs() -> Option<Vec<pipeline::Inputs>> {
    let compat = compat_dir()?;
    let template_dirs = vec![compat.join("k8s/templates"), compat.join("test")];
    let templates = pipeline::load_templates(&template_dirs, None)
        .unwrap_or_else(|e| panic!("corpus templates do not load: {}", join(&e)));
    Some(
        workflow_files(&compat.join("test"))
            .iter()
            .map(|file| {
                pipeline::load_file(file, &templates)
                    .unwrap_or_else(|e| panic!("{} does not load: {}", file.display(), join(&e)))
            })
            .collect(),
    )
}

#[test]
fn every_corpus_workflow_compiles_except_those_meant_to_fail() {
    let Some(corpus) = corpus_inputs() else {
        return;
    };
    let images = corpus_images();
    let mut outcomes: BTreeMap<String, Result<usize, String>> = BTreeMap::new();
    for inputs in &corpus {
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

/// The containers of a compiled workflow's Pod.
fn containers(c: &pipeline::Compiled) -> usize {
    c.bundle
        .job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map_or(0, |p| {
            p.containers.len() + p.init_containers.as_ref().map_or(0, Vec::len)
        })
}

/// With our images mounted as image volumes, a workflow loses exactly the setup container that
/// upstream's layout (ours when copying) starts with whenever its first step runs a user's
/// image, and nothing else changes in its Pod's shape.
#[test]
fn image_volumes_save_the_setup_container_of_every_corpus_workflow_that_has_one() {
    let Some(corpus) = corpus_inputs() else {
        return;
    };
    let images = corpus_images();
    let copy = settings(&images);
    let mut mounted = settings(&images);
    mounted.images.delivery = testwerk_plan::BinaryDelivery::ImageVolume;
    let (mut compiled, mut fewer, mut copied_total, mut mounted_total) = (0, 0, 0, 0);
    for inputs in &corpus {
        for doc in &inputs.workflows {
            let Ok(a) = pipeline::compile(doc, &inputs.templates, &copy) else {
                continue; // the four meant to fail (checked above)
            };
            let b = pipeline::compile(doc, &inputs.templates, &mounted)
                .unwrap_or_else(|e| panic!("{} fails on image volumes: {}", a.name, join(&e)));
            let setup_alone = a.plan.groups.first().is_some_and(|g| {
                !g.iter()
                    .any(|x| matches!(x, testwerk_plan::Action::Container { .. }))
            });
            let (n_copy, n_mounted) = (containers(&a), containers(&b));
            assert_eq!(
                n_mounted + usize::from(setup_alone),
                n_copy,
                "{}: {n_copy} containers when copying, {n_mounted} on image volumes",
                a.name
            );
            compiled += 1;
            fewer += usize::from(n_mounted < n_copy);
            copied_total += n_copy;
            mounted_total += n_mounted;
        }
    }
    eprintln!(
        "corpus on image volumes: {fewer} of {compiled} workflows use one container fewer than upstream; {mounted_total} containers instead of {copied_total}"
    );
    assert!(compiled >= 200, "only {compiled} corpus workflows compiled");
    // Workflows that start by cloning (most of the corpus) already run the setup in the
    // toolkit's container; those that start in a user's image save one.
    assert!(fewer > 0, "no corpus workflow saved a container");
}
