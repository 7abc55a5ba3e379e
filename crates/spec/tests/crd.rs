//! The generated CRDs: well-formed for Kubernetes, and field-for-field the upstream ones.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;
use testwerk_spec::{crds, crds_yaml, parse_values};

#[test]
fn three_namespaced_crds_with_status_where_upstream_has_it() {
    let crds = crds();
    let summary: Vec<(String, String, String, bool)> = crds
        .iter()
        .map(|c| {
            (
                c["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c["spec"]["names"]["plural"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c["spec"]["scope"].as_str().unwrap_or_default().to_owned(),
                c["spec"]["versions"][0]["subresources"]["status"].is_object(),
            )
        })
        .collect();
    let expect =
        |n: &str, p: &str, s: bool| (n.to_owned(), p.to_owned(), "Namespaced".to_owned(), s);
    assert_eq!(
        summary,
        vec![
            expect(
                "testworkflows.testworkflows.testkube.io",
                "testworkflows",
                true
            ),
            expect(
                "testworkflowtemplates.testworkflows.testkube.io",
                "testworkflowtemplates",
                false
            ),
            expect(
                "testworkflowexecutions.testworkflows.testkube.io",
                "testworkflowexecutions",
                true
            ),
        ]
    );
    for c in &crds {
        assert_eq!(c["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(c["spec"]["group"], "testworkflows.testkube.io");
        assert_eq!(c["spec"]["versions"][0]["name"], "v1");
        // etcd refuses objects over 1.5 MiB; stay well below.
        let size = serde_json::to_string(c)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        assert!(size < 600_000, "{} is {size} bytes", c["metadata"]["name"]);
    }
}

#[test]
fn yaml_form_reads_back_as_the_values() {
    let text = crds_yaml();
    assert!(text.starts_with("---\napiVersion: apiextensions.k8s.io/v1\n"));
    assert_eq!(parse_values(&text).expect("our YAML parses"), crds());
}

/// Structural-schema rules the API server enforces.
fn check_structural(node: &Value, at: &str, problems: &mut Vec<String>) {
    let Value::Object(s) = node else {
        problems.push(format!("{at}: not a schema object"));
        return;
    };
    for forbidden in [
        "$ref", "$defs", "oneOf", "allOf", "default", "const", "$schema", "title",
    ] {
        if s.contains_key(forbidden) {
            problems.push(format!("{at}: has `{forbidden}`"));
        }
    }
    let typed = s.get("type").and_then(Value::as_str).is_some();
    let marker = |k: &str| s.get(k) == Some(&Value::Bool(true));
    if !typed
        && !marker("x-kubernetes-preserve-unknown-fields")
        && !marker("x-kubernetes-int-or-string")
    {
        problems.push(format!("{at}: no type"));
    }
    if s.get("type").is_some_and(|t| !t.is_string()) {
        problems.push(format!("{at}: type is not a single name"));
    }
    if s.contains_key("properties") && s.contains_key("additionalProperties") {
        problems.push(format!("{at}: both properties and additionalProperties"));
    }
    if s.get("type") == Some(&Value::from("array")) && !s.contains_key("items") {
        problems.push(format!("{at}: array without items"));
    }
    if let Some(Value::Object(props)) = s.get("properties") {
        for (k, v) in props {
            check_structural(v, &format!("{at}.{k}"), problems);
        }
    }
    if let Some(items) = s.get("items") {
        check_structural(items, &format!("{at}[]"), problems);
    }
    if let Some(extra @ Value::Object(_)) = s.get("additionalProperties") {
        check_structural(extra, &format!("{at}{{}}"), problems);
    }
}

#[test]
fn schemas_are_structural() {
    for c in crds() {
        let mut problems = Vec::new();
        let root = &c["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        check_structural(root, "", &mut problems);
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            c["metadata"]["name"],
            problems.join("\n")
        );
        assert_eq!(
            root["properties"]["metadata"],
            serde_json::json!({"type": "object"})
        );
        if c["spec"]["names"]["kind"] == "TestWorkflowExecution" {
            continue;
        }
        // Doc comments of the model become descriptions.
        let steps = &root["properties"]["spec"]["properties"]["steps"]["items"];
        assert!(
            steps["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("One step."))
        );
        // Steps inside steps are cut, not expanded forever.
        assert_eq!(
            steps["properties"]["steps"]["items"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
    }
}

/// Property names that differ from upstream's, each on purpose:
/// - templates: upstream's CRD leaves `use`/`template` out of template steps and services; our
///   model shares the types and rejects those fields with a clear message at load time instead;
///   upstream also cuts a template's `parallel` at its operations, where we keep the nested spec.
/// - `parallel.concurrency`: our parallel block shares the spec body type, and the loader
///   rejects this one field.
fn expected_difference(kind: &str, at: &str, ours_only: &BTreeSet<String>) -> bool {
    let names = |list: &[&str]| ours_only.iter().all(|n| list.contains(&n.as_str()));
    let parallel_spec = [
        "after",
        "concurrency",
        "config",
        "container",
        "content",
        "events",
        "execution",
        "job",
        "notifications",
        "pod",
        "pvcs",
        "services",
        "setup",
        "steps",
        "system",
        "template",
        "timeouts",
        "use",
    ];
    match kind {
        "testworkflowtemplates" if at.ends_with("parallel") => names(&parallel_spec),
        "testworkflowtemplates" if at.ends_with("[]") => names(&["use", "template"]),
        "testworkflowtemplates" if at.ends_with("{}") => names(&["use"]),
        _ if at.ends_with("parallel") => names(&["concurrency"]),
        _ => false,
    }
}

fn compare(ours: &Value, upstream: &Value, kind: &str, at: &str, problems: &mut Vec<String>) {
    if let (Some(Value::Object(a)), Some(Value::Object(b))) =
        (ours.get("properties"), upstream.get("properties"))
    {
        let missing: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{at}: upstream fields missing from the model: {missing:?}"
            ));
        }
        let extra: BTreeSet<String> = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
        if !extra.is_empty() && !expected_difference(kind, at, &extra) {
            problems.push(format!("{at}: fields upstream does not have: {extra:?}"));
        }
        for (k, v) in a {
            if let Some(u) = b.get(k) {
                compare(v, u, kind, &format!("{at}.{k}"), problems);
            }
        }
    }
    if let (Some(a), Some(b)) = (ours.get("items"), upstream.get("items")) {
        compare(a, b, kind, &format!("{at}[]"), problems);
    }
    if let (Some(a @ Value::Object(_)), Some(b @ Value::Object(_))) = (
        ours.get("additionalProperties"),
        upstream.get("additionalProperties"),
    ) {
        compare(a, b, kind, &format!("{at}{{}}"), problems);
    }
}

#[test]
fn field_names_match_the_upstream_crds() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let dir = corpus.join("k8s/crd");
    for c in crds() {
        let plural = c["spec"]["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let file = dir.join(format!("testworkflows.testkube.io_{plural}.yaml"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let upstream = parse_values(&text).expect("upstream CRD parses").remove(0);
        let mut problems = Vec::new();
        compare(
            &c["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            &upstream["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            &plural,
            "",
            &mut problems,
        );
        assert!(problems.is_empty(), "{plural}:\n{}", problems.join("\n"));
    }
}
