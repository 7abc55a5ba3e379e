//! Parse errors, evaluation errors and limits.

use serde_json::json;
use testwerk_expr::{
    Error, EvalError, Expr, FnMachine, Lookup, MapMachine, NoMachine, resolve_template,
};

fn parse_err(src: &str) -> (usize, String) {
    let e = Expr::parse(src).unwrap_err();
    (e.offset, e.message)
}

#[test]
fn parse_error_offsets() {
    assert_eq!(parse_err("1 +").0, 3);
    assert_eq!(parse_err("1 + * 2").0, 4);
    assert_eq!(parse_err("(1 + 2").0, 6);
    assert_eq!(parse_err("a b").0, 2);
    assert_eq!(parse_err("\"abc").0, 0);
    assert_eq!(parse_err("x ? 1").0, 5);
    assert_eq!(parse_err("f(1 2)").0, 4);
    assert_eq!(parse_err("[1, 2").0, 5);
    assert_eq!(parse_err("{a: 1}").0, 1);
    assert_eq!(parse_err("a & b").0, 2);
    assert_eq!(parse_err("a.b(1)").0, 3);
    assert_eq!(parse_err("  #").0, 2);
    assert_eq!(parse_err("1.5x").0, 0);
    assert_eq!(parse_err("").0, 0);
    assert_eq!(parse_err("a.").0, 2);
    assert_eq!(parse_err("1e999").0, 0);
}

#[test]
fn parse_error_display() {
    let e = Expr::parse("1 + * 2").unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected an expression, found `*` at column 5 in `1 + * 2`"
    );
    let e = Expr::parse("\"é\" + ").unwrap_err();
    assert_eq!(e.column(), 7);
}

#[test]
fn unknown_names_when_finalizing() {
    let e = Expr::parse("config.department + 1")
        .unwrap()
        .finalize(&NoMachine)
        .unwrap_err();
    assert_eq!(e, EvalError::UnknownVariable("config.department".into()));
    assert_eq!(e.to_string(), "config.department: unknown variable");
    assert!(e.is_unknown());
    let e = Expr::parse("foo(1)")
        .unwrap()
        .finalize(&NoMachine)
        .unwrap_err();
    assert_eq!(e.to_string(), "foo: unknown function");
}

#[test]
fn machine_function_errors_name_the_function() {
    let m = FnMachine::functions(|name, _| {
        (name == "secret").then(|| Err("no such secret".to_string()))
    });
    let e = Expr::parse("secret(\"a\", \"b\")")
        .unwrap()
        .finalize(&m)
        .unwrap_err();
    assert_eq!(e.to_string(), "secret: no such secret");
}

#[test]
fn errors_in_properties_name_the_path() {
    let m = MapMachine::new([("a", json!({"b": 5}))]);
    let e = Expr::parse("a.b.c").unwrap().finalize(&m).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.b.c: cannot read property `c` of a number (5)"
    );
}

#[test]
fn error_type_wraps_both() {
    let e = resolve_template("{{ 1 + }}", &NoMachine).unwrap_err();
    assert!(matches!(e, Error::Parse(_)));
    let e = resolve_template("{{ 1 / 0 }}", &NoMachine).unwrap_err();
    assert!(matches!(e, Error::Eval(EvalError::Operation { .. })));
}

#[test]
fn recursion_is_bounded() {
    let loops = FnMachine::new(|name| match name {
        "a" => Some(Lookup::Expr(Expr::var("b"))),
        "b" => Some(Lookup::Expr(Expr::parse("a + 1").ok()?)),
        _ => None,
    })
    .with_call(|name, _| (name == "self").then(|| Ok(Lookup::Expr(Expr::call("self", vec![])))));
    for src in ["a", "self()"] {
        let e = Expr::parse(src).unwrap().resolve(&loops).unwrap_err();
        assert!(e.to_string().contains("call stack exceeded"), "{e}");
    }
    // eval of itself
    let quine = FnMachine::new(|name| (name == "q").then(|| Lookup::Value(json!("eval(q)"))));
    let e = Expr::parse("eval(q)")
        .unwrap()
        .finalize(&quine)
        .unwrap_err();
    assert!(e.to_string().contains("call stack exceeded"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(
        Expr::parse(&deep)
            .unwrap_err()
            .message
            .contains("nested too deeply")
    );
    let long = vec!["1"; 100_000].join("+");
    assert!(Expr::parse(&long).is_err());
    let nots = format!("{}x", "!".repeat(10_000));
    assert!(Expr::parse(&nots).is_err());
    let lists = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(Expr::parse(&lists).is_err());
    // Big but reasonable expressions evaluate and print without trouble.
    let ok = vec!["x"; 100].join("+");
    let e = Expr::parse(&ok).unwrap();
    let m = MapMachine::new([("x", json!(1))]);
    assert_eq!(e.finalize(&m).unwrap(), json!(100));
    assert_eq!(e.resolve(&NoMachine).unwrap().to_string(), ok);
    let nested = format!("{}x{}", "f(".repeat(30), ")".repeat(30));
    let e = Expr::parse(&nested).unwrap();
    assert_eq!(e.resolve(&NoMachine).unwrap().to_string(), nested);
}

/// Inputs at (and past) every limit, on a thread with a 2 MiB stack (the test harness
/// default), must end with a value or an error, never a stack overflow.
#[test]
fn limits_hold_on_a_small_stack() {
    let run = || {
        let sources = [
            format!("{}1{}", "(".repeat(99), ")".repeat(99)),
            format!("{}x{}", "f(".repeat(99), ")".repeat(99)),
            format!("{}x{}", "[".repeat(99), "]".repeat(99)),
            format!("{}x", "!".repeat(99)),
            format!("{}x", "- ".repeat(99)),
            vec!["x"; 160].join("+"),
            vec!["x"; 160].join("**"),
            (0..99).map(|_| "x ? y : ").collect::<String>() + "z",
            "eval(\"x + eval(\\\"x\\\")\")".to_string(),
        ];
        let m = MapMachine::new([("x", json!(1)), ("y", json!(2)), ("z", json!(3))]);
        for src in &sources {
            if let Ok(e) = Expr::parse(src) {
                let _ = e.resolve(&m);
                let _ = e.finalize(&m);
                let _ = e.to_string();
            }
            let _ = testwerk_expr::Template::parse(&format!("{{{{{src}}}}}"));
        }
        let loops = FnMachine::new(|name| Some(Lookup::Expr(Expr::var(&format!("{name}x")))));
        assert!(Expr::var("a").resolve(&loops).is_err());
        let quine =
            FnMachine::new(|name| (name == "q").then(|| Lookup::Value(json!("eval(q) + 1"))));
        assert!(Expr::parse("eval(q)").unwrap().finalize(&quine).is_err());
        let deep_map =
            FnMachine::new(|name| (name == "q").then(|| Lookup::Value(json!("map([1], q)"))));
        assert!(
            Expr::parse("map([1], q)")
                .unwrap()
                .finalize(&deep_map)
                .is_err()
        );
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn work_is_bounded() {
    let e = Expr::parse(r#"map(range(2000), "map(range(2000), \"_.value * 2\")")"#).unwrap();
    let err = e.finalize(&NoMachine).unwrap_err();
    assert!(err.is_limit(), "{err}");
}
