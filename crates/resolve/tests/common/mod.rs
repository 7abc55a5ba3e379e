//! Helpers shared by the integration tests: load inline YAML, resolve, read results.
#![allow(dead_code)]

use indexmap::IndexMap;
use testwerk_resolve::{ResolveOptions, ResolvedWorkflow, TemplateSet, resolve};
use testwerk_spec::{AnyDocument, Diagnostic, Document, Step, TestWorkflow, load_str};

/// Loads a multi-document YAML text: every template goes into the set, the one workflow is
/// returned.
pub fn load(yaml: &str) -> (Document<TestWorkflow>, TemplateSet) {
    let docs = load_str("test.yaml", yaml).unwrap_or_else(|e| panic!("load failed: {e:#?}"));
    let mut set = TemplateSet::new();
    let mut workflow = None;
    for doc in docs {
        match doc {
            AnyDocument::Template(t) => set.add(t).unwrap_or_else(|e| panic!("{e}")),
            AnyDocument::Workflow(w) => workflow = Some(w),
            AnyDocument::Execution(_) => {}
        }
    }
    (
        workflow.unwrap_or_else(|| panic!("no workflow in the test YAML")),
        set,
    )
}

pub fn options(config: &[(&str, &str)]) -> ResolveOptions<'static> {
    ResolveOptions {
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<IndexMap<_, _>>(),
        secret_name: "wf-secret".into(),
        ..ResolveOptions::default()
    }
}

pub fn ok(yaml: &str) -> ResolvedWorkflow {
    ok_with(yaml, &options(&[]))
}

pub fn ok_with(yaml: &str, opts: &ResolveOptions) -> ResolvedWorkflow {
    let (doc, set) = load(yaml);
    resolve(&doc, &set, opts).unwrap_or_else(|e| {
        let all: Vec<String> = e.iter().map(|d| d.to_string()).collect();
        panic!("resolve failed:\n{}", all.join("\n"))
    })
}

pub fn err(yaml: &str) -> Vec<Diagnostic> {
    err_with(yaml, &options(&[]))
}

pub fn err_with(yaml: &str, opts: &ResolveOptions) -> Vec<Diagnostic> {
    let (doc, set) = load(yaml);
    match resolve(&doc, &set, opts) {
        Ok(r) => panic!("expected an error, got {:#?}", r.workflow.spec),
        Err(e) => e,
    }
}

pub fn names(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| s.name.clone().unwrap_or_else(|| "<unnamed>".into()))
        .collect()
}

pub fn yaml_of(r: &ResolvedWorkflow) -> String {
    serde_json::to_string(&r.workflow).unwrap_or_default()
}
