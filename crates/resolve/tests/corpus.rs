//! The Testkube corpus: with every template of `k8s/templates` and `test/` loaded, every
//! TestWorkflow under `test/` resolves, except the three that are meant to fail at compile time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use testwerk_expr::{Expr, Template};
use testwerk_resolve::walk::{self, Rewriter};
use testwerk_resolve::{ResolveOptions, TemplateSet, resolve};
use testwerk_spec::{AnyDocument, Document, TestWorkflow, load_path};

/// The corpus ([`testwerk_testinputs::corpus`]): `None` when absent, after recording the
/// skip (or failing, in CI); the test then returns before its assertions.
fn corpus_dir() -> Option<PathBuf> {
    testwerk_testinputs::corpus()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                pending.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn load_corpus() -> Option<(TemplateSet, Vec<Document<TestWorkflow>>)> {
    let dir = corpus_dir()?;
    let mut files = yaml_files(&dir.join("k8s/templates"));
    files.extend(yaml_files(&dir.join("test")));
    Some(load_files(&files))
}

fn load_files(files: &[PathBuf]) -> (TemplateSet, Vec<Document<TestWorkflow>>) {
    let mut set = TemplateSet::new();
    let mut workflows = Vec::new();
    for file in files {
        let docs = load_path(file).unwrap_or_else(|e| panic!("{}: {}", file.display(), e[0]));
        for doc in docs {
            match doc {
                AnyDocument::Template(t) => set.add(t).unwrap_or_else(|e| panic!("{e}")),
                AnyDocument::Workflow(w) => workflows.push(w),
                AnyDocument::Execution(_) => {}
            }
        }
    }
    (set, workflows)
}

/// Workflows meant to fail at compile time, and what their error must mention.
const EXPECTED_FAILURES: &[(&str, &[&str])] = &[
    (
        "expected-fail-missing-template",
        &["template \"some-non-existant-template-name\" not found"],
    ),
    (
        "expected-fail-template-missing-config-options",
        &[
            "expected-fail-required-config-template",
            "config.message: unknown variable",
        ],
    ),
    (
        "expected-fail-template-not-defined-config-options",
        &[
            "expected-fail-required-config-template",
            "config.message: unknown variable",
        ],
    ),
];

#[test]
fn every_corpus_workflow_resolves_except_the_expected_failures() {
    let Some((set, workflows)) = load_corpus() else {
        return;
    };
    assert_eq!(set.len(), 24, "18 official templates and 6 in test/");
    assert_eq!(workflows.len(), 212);

    // The check below is not vacuous: many corpus workflows do refer to config.
    let referring = workflows
        .iter()
        .filter(|w| !config_references(&w.value.spec).is_empty())
        .count();
    assert!(
        referring >= 10,
        "only {referring} workflows refer to config"
    );

    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut resolved = 0;
    for doc in &workflows {
        let name = doc.value.metadata.name.clone().unwrap_or_default();
        // Every workflow declaring parameters without defaults would need values; give the
        // required ones a placeholder so the whole corpus is exercised.
        let mut opts = ResolveOptions {
            secret_name: format!("{name}-secrets"),
            ..ResolveOptions::default()
        };
        for (k, p) in &doc.value.spec.body.config {
            if p.default.is_none() {
                opts.config.insert(k.clone(), "1".into());
            }
        }
        match resolve(doc, &set, &opts) {
            Ok(r) => {
                resolved += 1;
                let text = serde_json::to_string(&r.workflow.spec).unwrap_or_default();
                let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                assert!(!has_key(&value, "use"), "{name}: `use` left in {text}");
                assert!(
                    !has_key(&value, "template"),
                    "{name}: `template` left in {text}"
                );
                assert!(
                    config_references(&r.workflow.spec).is_empty(),
                    "{name}: config left in {text}"
                );
            }
            Err(errors) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                failures.insert(name, all.join("\n"));
            }
        }
    }

    let unexpected: Vec<String> = failures
        .iter()
        .filter(|(name, _)| !EXPECTED_FAILURES.iter().any(|(n, _)| n == name))
        .map(|(name, e)| format!("{name}:\n{e}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures:\n{}",
        unexpected.join("\n\n")
    );
    for (name, needles) in EXPECTED_FAILURES {
        let message = failures
            .get(*name)
            .unwrap_or_else(|| panic!("{name} resolved but must fail"));
        for needle in *needles {
            assert!(
                message.contains(needle),
                "{name}: {message:?} lacks {needle:?}"
            );
        }
    }
    assert_eq!(resolved, 212 - EXPECTED_FAILURES.len());
}

/// Every `config` variable still referenced by a template or an expression of `spec`.
fn config_references(spec: &testwerk_spec::WorkflowSpec) -> Vec<String> {
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    let mut finder = ConfigFinder(Vec::new());
    let errors = walk::spec(&mut value, "spec", &mut finder);
    assert!(errors.is_empty(), "{errors:?}");
    finder.0
}

fn is_config(v: &str) -> bool {
    v == "config" || v.starts_with("config.")
}

/// Collects every `config.*` variable still referenced by a template or an expression.
struct ConfigFinder(Vec<String>);

impl Rewriter for ConfigFinder {
    fn template(&mut self, text: &str) -> Result<Option<String>, String> {
        let t = Template::parse(text).map_err(|e| e.to_string())?;
        self.0
            .extend(t.variables().into_iter().filter(|v| is_config(v)));
        Ok(None)
    }
    fn expression(&mut self, text: &str) -> Result<Option<String>, String> {
        if let Ok(e) = Expr::parse(text) {
            self.0
                .extend(e.variables().into_iter().filter(|v| is_config(v)));
        }
        Ok(None)
    }
}

fn has_key(v: &serde_json::Value, key: &str) -> bool {
    match v {
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| k == key || has_key(v, key)),
        serde_json::Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

/// `soapui-workflow-smoke-template` uses `official/soapui/beta`, which upstream does not ship
/// in `k8s/templates` but which the workflow's own file defines: it resolves with the
/// templates of its file, and fails naming the template with the official ones alone.
#[test]
fn soapui_template_comes_from_its_own_file() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let soapui = dir.join("test/soapui/crd-workflow/smoke.yaml");
    let (with_own, workflows) = load_files(std::slice::from_ref(&soapui));
    let wf = workflows
        .iter()
        .find(|w| w.value.metadata.name.as_deref() == Some("soapui-workflow-smoke-template"))
        .unwrap_or_else(|| panic!("soapui-workflow-smoke-template not in {}", soapui.display()));
    let opts = ResolveOptions::default();
    let resolved = resolve(wf, &with_own, &opts).unwrap_or_else(|e| panic!("{}", e[0]));
    let text = serde_json::to_string(&resolved.workflow.spec).unwrap_or_default();
    assert!(
        text.contains("smartbear/soapuios-testrunner:5.9.1"),
        "{text}"
    );

    let (official, _) = load_files(&yaml_files(&dir.join("k8s/templates")));
    let errors = resolve(wf, &official, &opts).err().unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .contains("template \"official/soapui/beta\" not found"),
        "{}",
        errors[0]
    );
}
