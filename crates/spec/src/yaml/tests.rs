use serde_json::json;

use super::*;

fn one(text: &str) -> RawDocument {
    let (mut docs, errors) = parse("t.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn at(doc: &RawDocument, path: &str) -> (usize, usize) {
    let loc = doc
        .locations
        .get(path)
        .unwrap_or_else(|| panic!("no location for {path}"));
    (loc.line, loc.column)
}

#[test]
fn records_keys_and_items() {
    let doc = one("a:\n  - value: x\n    b: 2\n  - [1, 2]\n  - {k: v}\nc: |\n  text\n\"d.e\": 1\n");
    assert_eq!(
        doc.value,
        json!({"a": [{"value": "x", "b": 2}, [1, 2], {"k": "v"}], "c": "text\n", "d.e": 1})
    );
    assert_eq!(at(&doc, ""), (1, 1));
    assert_eq!(at(&doc, "a"), (1, 1));
    assert_eq!(at(&doc, "a[0]"), (2, 5));
    assert_eq!(at(&doc, "a[0].b"), (3, 5));
    assert_eq!(at(&doc, "a[1]"), (4, 5));
    assert_eq!(at(&doc, "a[1][1]"), (4, 9));
    assert_eq!(at(&doc, "a[2].k"), (5, 6));
    assert_eq!(at(&doc, "c"), (6, 1));
    assert_eq!(at(&doc, r#"["d.e"]"#), (8, 1));
    // Nearest ancestor for what the file does not have.
    assert_eq!(
        doc.locations.nearest("a[0].b.missing[3]"),
        doc.locations.get("a[0].b")
    );
}

#[test]
fn several_documents_and_empty_ones() {
    let (docs, errors) = parse(
        "t.yaml",
        "---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n",
    );
    assert!(errors.is_empty());
    let values: Vec<_> = docs.iter().map(|d| d.value.clone()).collect();
    assert_eq!(values, vec![json!({"a": 1}), json!({"b": 2})]);
    assert_eq!(docs[1].start.line, 7);
}

#[test]
fn core_schema_and_tags() {
    let doc = one("a: on\nb: yes\nc: 'true'\nd: !!str 5\ne: 0x10\nf:\ng: 1.5\nh: \"012\"\n");
    // `f:` (null) is dropped, as Kubernetes drops null fields.
    assert_eq!(
        doc.value,
        json!({"a": "on", "b": "yes", "c": "true", "d": "5", "e": 16, "g": 1.5, "h": "012"})
    );
    assert!(doc.locations.get("f").is_some());
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let doc = one(
        "base: &b\n  image: alpine\n  env: &e [1, 2]\nuse: *b\nmerged:\n  <<: *b\n  image: busybox\nlist: *e\n",
    );
    assert_eq!(
        doc.value,
        json!({
            "base": {"image": "alpine", "env": [1, 2]},
            "use": {"image": "alpine", "env": [1, 2]},
            "merged": {"image": "busybox", "env": [1, 2]},
            "list": [1, 2]
        })
    );
    // The explicit key keeps its own line; merged keys point where they were written.
    assert_eq!(at(&doc, "merged.image"), (7, 3));
    assert_eq!(at(&doc, "merged.env"), (3, 3));
    let doc = one("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n");
    assert_eq!(doc.value["c"], json!({"x": 1, "y": 2}));
}

#[test]
fn duplicate_keys_are_errors() {
    let (_, errors) = parse("t.yaml", "a: 1\nb:\n  c: 1\n  c: 2\n");
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.message, "duplicate key `c`");
    assert_eq!(e.path, "b.c");
    assert_eq!(e.location, Some(Location { line: 4, column: 3 }));
    assert!(
        e.suggestion
            .as_deref()
            .is_some_and(|s| s.contains("line 3"))
    );
}

#[test]
fn syntax_errors_and_limits() {
    let (_, errors) = parse("t.yaml", "a: [1, 2\nb: 3\n");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.starts_with("not valid YAML"),
        "{}",
        errors[0].message
    );
    assert!(errors[0].location.is_some());

    let (_, errors) = parse("t.yaml", "a: *nowhere\n");
    assert!(
        errors[0].message.contains("unknown anchor"),
        "{}",
        errors[0].message
    );
    let (_, errors) = parse("t.yaml", "a: &x [1, *x]\n");
    assert_eq!(
        errors[0].message,
        "an alias cannot be used inside the node it names"
    );

    let (_, errors) = parse("t.yaml", "? [a]\n: 1\n");
    assert!(
        errors[0].message.contains("mapping key"),
        "{}",
        errors[0].message
    );

    for depth in [250, 5000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let (_, errors) = parse("t.yaml", &deep);
        let message = &errors[0].message;
        assert!(
            message.contains("nesting") || message.contains("recursion limit"),
            "{message}"
        );
    }

    // Each level doubles the size: 2^30 values if expanded.
    let mut bomb = String::from("a0: &a0 [x, x]\n");
    for i in 1..30 {
        bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}]\n", p = i - 1));
    }
    let (_, errors) = parse("t.yaml", &bomb);
    assert!(
        errors.iter().any(|e| e.message.contains("too many values")),
        "{errors:?}"
    );
}

#[test]
fn emitted_yaml_reads_back_identically() {
    let value = json!({
        "plain": "alpine:3.20",
        "words": ["yes", "no", "on", "true", "null", "~", "1h", "0", "-", "a b", "", "#x"],
        "script": "set -e\necho 'hi'\n\n  indented\ttab\n",
        "no_newline": "a\nb",
        "keep": "a\n\n\n",
        "leading": "  a\nb",
        "numbers": [1, -2, 1.5, 18446744073709551615u64],
        "empty": {"m": {}, "l": []},
        "nested": [[1, [2]], {"k": {"x": "y"}}],
        "app.kubernetes.io/name": "x",
        "1": true
    });
    let text = to_yaml(&value);
    let back = parse_values(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert_eq!(back, vec![value], "{text}");
}
