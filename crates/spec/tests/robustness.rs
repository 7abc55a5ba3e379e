//! Damaged input must produce diagnostics, never a panic or a stack overflow.

mod common;

use proptest::prelude::*;
use testwerk_spec::{Diagnostic, load_str};

/// Loads `text`; on failure, checks the diagnostics are well-formed and that none comes from
/// the YAML parser panicking (which the loader would catch, but which we want to know about).
fn load_checked(text: &str) {
    if let Err(errors) = load_str("m.yaml", text) {
        assert!(!errors.is_empty());
        let lines = text.lines().count() + 1;
        for d in &errors {
            check(d, lines);
        }
    }
}

fn check(d: &Diagnostic, lines: usize) {
    assert_eq!(d.file, "m.yaml");
    assert!(!d.message.is_empty());
    assert!(
        !d.message.contains("the parser failed"),
        "the YAML parser panicked"
    );
    if let Some(l) = d.location {
        assert!(l.line >= 1 && l.line <= lines && l.column >= 1, "{d}");
    }
}

fn corpus_texts() -> Option<Vec<String>> {
    let files = common::corpus_files()?;
    Some(
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("corpus file is readable"))
            .collect(),
    )
}

#[test]
fn truncated_corpus_files() {
    let Some(texts) = corpus_texts() else {
        return;
    };
    let mut loads = 0;
    for text in &texts {
        let cuts: Vec<usize> = (0..=24).map(|i| text.len() * i / 24).collect();
        for mut cut in cuts {
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            load_checked(&text[..cut]);
            loads += 1;
        }
    }
    assert_eq!(loads, texts.len() * 25);
}

#[test]
fn deep_nesting_is_refused_or_loaded_without_overflow() {
    let nested = |depth: usize| {
        let mut text = String::from(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata: {name: deep}\nspec:\n",
        );
        for level in 0..depth {
            let pad = "  ".repeat(level + 1);
            text.push_str(&format!("{pad}steps:\n{pad}- name: s{level}\n"));
        }
        text
    };
    // Test threads have 2 MiB stacks; unoptimized builds need the most: the limit must fit.
    let deepest = testwerk_spec::checks::MAX_STEP_DEPTH;
    assert!(load_str("m.yaml", &nested(deepest)).is_ok());
    let e = load_str("m.yaml", &nested(deepest + 1)).expect_err("too deep");
    assert_eq!(
        e[0].message,
        format!("steps nested deeper than {deepest} levels")
    );
    assert_eq!(e[0].location.map(|l| l.line), Some(6 + 2 * deepest));
    for depth in [50, 150, 199, 400] {
        let mut text = String::from(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata: {name: deep}\nspec:\n",
        );
        for level in 0..depth {
            let pad = "  ".repeat(level + 1);
            text.push_str(&format!("{pad}steps:\n{pad}- name: s{level}\n"));
        }
        load_checked(&text);
        let flow = format!("{}{}", "{a: [".repeat(depth), "]}".repeat(depth));
        load_checked(&flow);
        // Free-form fields (status, matrix values) are not walked by the schema, only by serde.
        let free = format!(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata: {{name: x}}\n\
             status: {}1{}\nspec:\n  services:\n    s:\n      matrix:\n        m: {}1{}\n",
            "{a: [".repeat(depth / 2),
            "]}".repeat(depth / 2),
            "[".repeat(depth - 10),
            "]".repeat(depth - 10),
        );
        load_checked(&free);
    }
}

/// A byte-level edit of a corpus file.
#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let piece = prop::sample::select(vec![
        ":", "- ", "[", "]", "{", "}", "&a ", "*a", "!!str ", "|", ">-", "\t", "\n", "'", "\"",
        "#", "%", "@", "`", " ", "x", "0", "<<: *a\n", "? ", "---\n", "...\n", "\u{feff}", "é",
        "  ", "steps:", "id: X\n",
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(piece, 1..4)).prop_map(|(at, pieces)| {
            Edit::Insert {
                at,
                text: pieces.concat(),
            }
        }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let boundary = |at: usize| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match edit {
        Edit::Delete { at, len } => {
            let start = boundary(*at);
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            format!("{}{}", &text[..start], &text[end..])
        }
        Edit::Insert { at, text: piece } => {
            let at = boundary(*at);
            format!("{}{piece}{}", &text[..at], &text[at..])
        }
        Edit::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = line % lines.len();
                lines.insert(i, lines[i]);
            }
            lines.join("\n")
        }
        Edit::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let n = lines.len();
                lines.swap(a % n, b % n);
            }
            lines.join("\n")
        }
    }
}

/// A property test over the corpus, run by hand so that a missing corpus is one counted skip
/// (not one per case) and the corpus is read once.
#[test]
fn mutated_corpus_files() {
    let Some(texts) = corpus_texts() else {
        return;
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    });
    let cases = (
        any::<prop::sample::Index>(),
        prop::collection::vec(edit(), 1..6),
    );
    let result = runner.run(&cases, |(file, edits)| {
        let mut text = texts[file.index(texts.len())].clone();
        for e in &edits {
            text = apply(&text, e);
        }
        load_checked(&text);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

proptest! {
    #[test]
    fn duration_parsers_never_panic(s in "[0-9.hmsuµn+ -]{0,24}") {
        let _ = testwerk_spec::duration::parse_go(&s);
        let _ = testwerk_spec::duration::parse_delay(&s);
    }

    #[test]
    fn go_durations_add_up(h in 0u64..1000, m in 0u64..1000, s in 0u64..1000, ms in 0u64..1000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let want = std::time::Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
        prop_assert_eq!(testwerk_spec::duration::parse_go(&text), Ok(want));
        prop_assert_eq!(testwerk_spec::duration::parse_delay(&text), Ok(want));
    }
}
