//! Every evaluation has a budget of steps and memory: hostile expressions fail fast, naming
//! what ran out, and ordinary large ones still work.

use std::time::{Duration, Instant};

use serde_json::json;
use testwerk_expr::{EvalError, Expr, MapMachine, NoMachine, Resource, Template, Value};

const MEMORY: u64 = 128 << 20;

fn finalize_err(src: &str, m: &MapMachine) -> (EvalError, Duration) {
    let e = Expr::parse(src).unwrap();
    let started = Instant::now();
    let err = match e.finalize(m) {
        Ok(v) => panic!("`{src}` should run out of budget, gave {}", kind(&v)),
        Err(err) => err,
    };
    (err, started.elapsed())
}

/// The evaluation ran out of its memory budget (whatever the limit).
#[track_caller]
fn assert_out_of_memory(err: &EvalError) {
    assert!(
        matches!(
            err,
            EvalError::Budget {
                resource: Resource::Memory,
                ..
            }
        ),
        "{err}"
    );
}

fn kind(v: &Value) -> String {
    match v {
        Value::Array(items) => format!("a list of {}", items.len()),
        other => other.to_string(),
    }
}

#[test]
fn hostile_nested_ranges_fail_fast_on_memory() {
    let src = r#"len(map(range(1000000), "range(1000000)"))"#;
    let (err, took) = finalize_err(src, &MapMachine::default());
    assert_eq!(
        err,
        EvalError::Budget {
            resource: Resource::Memory,
            limit: MEMORY
        }
    );
    assert_eq!(
        err.to_string(),
        "expression too costly: evaluation built more than 128 MiB of values"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // Partial evaluation (the compiler's) is bounded the same way, also inside a template.
    let started = Instant::now();
    let err = Template::parse(&format!("{{{{ {src} }}}}"))
        .unwrap()
        .resolve(&NoMachine)
        .unwrap_err();
    assert_out_of_memory(&err);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Nor can the error be dodged by `any` or an untaken-looking branch.
    let (err, _) = finalize_err(&format!("any({src}, 1)"), &MapMachine::default());
    assert!(err.is_limit(), "{err}");
}

#[test]
fn copies_of_a_big_variable_count() {
    // 100,000 items is fine once; reading it a thousand times builds 8 GB of copies.
    let big = Value::Array((0..100_000).map(Value::from).collect());
    let m = MapMachine::new([("big", big)]);
    assert_eq!(
        Expr::parse("len(big)").unwrap().finalize(&m).unwrap(),
        json!(100_000)
    );
    let (err, took) = finalize_err(r#"len(map(range(1000), "big"))"#, &m);
    assert_out_of_memory(&err);
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn string_growth_counts() {
    // 1 MB of text concatenated in a loop of 1,000: a gigabyte of strings.
    let m = MapMachine::new([("s", Value::String("x".repeat(1 << 20)))]);
    let (err, _) = finalize_err(r#"len(join(map(range(1000), "s + s"), ""))"#, &m);
    assert_out_of_memory(&err);
}

#[test]
fn steps_run_out_without_memory() {
    // Three steps per item (the comparison and its two operands), nothing kept.
    let (err, _) = finalize_err(
        r#"len(filter(range(700000), "1 < 0"))"#,
        &MapMachine::default(),
    );
    assert_eq!(
        err,
        EvalError::Budget {
            resource: Resource::Steps,
            limit: 2_000_000
        }
    );
    assert_eq!(
        err.to_string(),
        "expression too costly: evaluation took more than 2000000 steps"
    );
}

#[test]
fn large_but_reasonable_work_fits_the_budget() {
    let m = MapMachine::default();
    let ev = |src: &str| Expr::parse(src).unwrap().finalize(&m).unwrap();
    assert_eq!(ev("len(range(1000000))"), json!(1_000_000));
    assert_eq!(
        ev(r#"len(join(map(range(100000), "string(_.value)"), ","))"#),
        json!(588_889)
    );
    assert_eq!(
        ev(r#"len(filter(map(range(300), "range(300)"), "len(_.value) == 300"))"#),
        json!(300)
    );
    // Every evaluation gets its own budget: the same expression again works.
    assert_eq!(ev("len(range(1000000))"), json!(1_000_000));
}
