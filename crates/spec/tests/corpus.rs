//! The Testkube corpus: every document must load, round-trip through our serializer, and pass
//! the CRDs we generate.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;
use testwerk_spec::{AnyDocument, Kind, crds, load_path, load_str, parse_values, schema, to_yaml};

fn load_all(files: Vec<std::path::PathBuf>) -> Vec<(String, Vec<AnyDocument>)> {
    let mut failures = Vec::new();
    let mut loaded = Vec::new();
    for file in files {
        match load_path(&file) {
            Ok(docs) => loaded.push((file.display().to_string(), docs)),
            Err(errors) => failures.extend(errors.iter().map(ToString::to_string)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    loaded
}

#[test]
fn every_corpus_document_loads() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let Some(files) = common::corpus_files() else {
        return;
    };
    // The corpus README says 207 workflows in 65 files; the snapshot holds 212 in 67.
    assert_eq!(common::yaml_files(&dir.join("k8s/templates")).len(), 18);
    assert_eq!(common::yaml_files(&dir.join("test")).len(), 67);

    let mut counts = BTreeMap::new();
    let mut largest = 0;
    for (file, docs) in load_all(files) {
        let area = if file.contains("k8s/templates") {
            "k8s/templates"
        } else {
            "test"
        };
        for d in docs {
            *counts.entry((area, d.kind().as_str())).or_insert(0) += 1;
            largest = largest.max(d.source().locations.len());
            assert!(
                !d.name().is_empty(),
                "{file}: document {} has no name",
                d.index()
            );
        }
    }
    let counts: Vec<_> = counts.into_iter().collect();
    assert_eq!(
        counts,
        vec![
            (("k8s/templates", "TestWorkflowTemplate"), 18),
            (("test", "TestWorkflow"), 212),
            (("test", "TestWorkflowTemplate"), 6),
        ]
    );
    // The loader's expansion limit (250 000 values) must stay far above real documents.
    assert!(
        (100..25_000).contains(&largest),
        "largest document has {largest} fields"
    );
}

/// The value of a document as JSON, through its typed model.
fn to_json(d: &AnyDocument) -> Value {
    let value = match d {
        AnyDocument::Workflow(d) => serde_json::to_value(&d.value),
        AnyDocument::Template(d) => serde_json::to_value(&d.value),
        AnyDocument::Execution(d) => serde_json::to_value(&d.value),
    };
    value.expect("the model serializes")
}

#[test]
fn every_corpus_document_round_trips() {
    let mut checked = 0;
    let Some(files) = common::corpus_files() else {
        return;
    };
    for (file, docs) in load_all(files) {
        for d in docs {
            let first = to_json(&d);
            let text = to_yaml(&first);
            let again = load_str(&file, &text).unwrap_or_else(|e| {
                panic!("{file}: our own output does not load:\n{}\n{text}", e[0])
            });
            assert_eq!(again.len(), 1);
            let second = &again[0];
            let same = match (&d, second) {
                (AnyDocument::Workflow(a), AnyDocument::Workflow(b)) => a.value == b.value,
                (AnyDocument::Template(a), AnyDocument::Template(b)) => a.value == b.value,
                (AnyDocument::Execution(a), AnyDocument::Execution(b)) => a.value == b.value,
                _ => false,
            };
            assert!(
                same,
                "{file}: document {} changed in a round trip",
                d.index()
            );
            assert_eq!(to_json(second), first, "{file}: document {}", d.index());
            checked += 1;
        }
    }
    assert_eq!(checked, 236);
}

fn crd_schema(kind: Kind) -> Value {
    let crds = crds();
    let crd = crds
        .iter()
        .find(|c| c["spec"]["names"]["kind"] == kind.as_str())
        .expect("a CRD per kind");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn every_corpus_document_passes_the_generated_crds() {
    let schemas: Vec<(Kind, Value)> = Kind::ALL.into_iter().map(|k| (k, crd_schema(k))).collect();
    let mut checked = 0;
    let mut failures = Vec::new();
    let Some(files) = common::corpus_files() else {
        return;
    };
    for file in files {
        let text = std::fs::read_to_string(&file).expect("corpus file is readable");
        let values = parse_values(&text).unwrap_or_else(|e| panic!("{}: {}", file.display(), e[0]));
        for value in values {
            let kind = value["kind"]
                .as_str()
                .and_then(Kind::parse)
                .expect("a known kind");
            let (_, schema) = schemas.iter().find(|(k, _)| *k == kind).expect("schema");
            for d in schema::check_value(schema, &value) {
                failures.push(format!("{}: {} at {}", file.display(), d.message, d.path));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 236);
}

#[test]
fn the_crds_reject_what_they_should() {
    let schema = crd_schema(Kind::TestWorkflow);
    let bad = serde_json::json!({
        "apiVersion": "testworkflows.testkube.io/v1",
        "kind": "TestWorkflow",
        "metadata": {"name": "x"},
        "spec": {
            "steps": [{"shel": "echo", "retry": {"count": "x"}}],
            "pod": {"securityContext": {"runAsUser": 1, "bogus": true}},
            "container": {"resources": {"requests": {"cpu": 1, "memory": "1Gi"}}}
        }
    });
    let mut found: Vec<String> = schema::check_value(&schema, &bad)
        .into_iter()
        .map(|d| d.path)
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            "spec.pod.securityContext.bogus",
            "spec.steps[0].retry.count",
            "spec.steps[0].shel"
        ]
    );
}
