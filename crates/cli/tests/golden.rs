//! Reviewed golden files: the plan and the Kubernetes objects of chosen corpus workflows.
//! A change shows up as a snapshot diff to review (`cargo insta review`), never to accept blindly.

mod support;

use std::collections::HashMap;

use support::*;
use testwerk_cli::{pipeline, render};

/// A spread of features: plain shells, templates, git, services, parallel, execute, matrix,
/// conditions, retries, negative and optional steps, security contexts, env, custom volumes.
const GOLDEN: [&str; 24] = [
    "curl-workflow-smoke",
    "curl-with-nginx-service",
    "k6-workflow-smoke",
    "k6-workflow-smoke-template",
    "distributed-k6-workflow-smoke",
    "postman-workflow-smoke-template",
    "gradle-workflow-smoke-jdk11-default-command",
    "maven-workflow-smoke-jdk11-from-template",
    "cypress-workflow-smoke-template-sub-step",
    "playwright-workflow-smoke",
    "special-cases-global-env",
    "special-cases-step-env-override",
    "special-cases-workingdir-override",
    "special-cases-securitycontext-runasuser-runasgroup",
    "special-cases-multiple-git-repositories-custommountpath",
    "special-cases-optional-step-failed",
    "special-cases-conditional-step-skipped",
    "special-cases-step-retry",
    "special-cases-negative-step",
    "special-cases-custom-shared-volume-steps",
    "special-cases-parallel-steps-matrix",
    "special-cases-execute-workflows-selector-matchlabels",
    "special-cases-step-sharing",
    "expected-fail-timeout-step",
];

#[test]
fn golden_plans_and_objects() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let images = corpus_images();
    let templates =
        pipeline::load_templates(&[compat.join("k8s/templates"), compat.join("test")], None)
            .unwrap_or_else(|e| panic!("{}", join(&e)));
    let mut found = HashMap::new();
    for file in workflow_files(&compat.join("test")) {
        let inputs =
            pipeline::load_file(&file, &templates).unwrap_or_else(|e| panic!("{}", join(&e)));
        for doc in inputs.workflows.iter() {
            let name = doc.value.metadata.name.clone().unwrap_or_default();
            if GOLDEN.contains(&name.as_str()) {
                found.insert(name, (doc.clone(), inputs.templates.clone()));
            }
        }
    }
    for name in GOLDEN {
        let (doc, templates) = found
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        let compiled = pipeline::compile(doc, templates, &settings(&images))
            .unwrap_or_else(|e| panic!("{name}: {}", join(&e)));
        let settings = insta_settings();
        settings.bind(|| {
            insta::assert_snapshot!(
                format!("{name}.plan"),
                testwerk_plan::explain::explain(&compiled.plan)
            );
            let mut objects = compiled.bundle.objects();
            render::redact_secrets(&mut objects);
            insta::assert_snapshot!(
                format!("{name}.objects"),
                render::yaml(&objects).unwrap_or_else(|e| panic!("{e}"))
            );
        });
    }
}

fn insta_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}
