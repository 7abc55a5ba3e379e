//! Property tests: printing round-trips, partial evaluation agrees with full evaluation,
//! and nothing panics on arbitrary input.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use testwerk_expr::{Expr, MapMachine, NoMachine, Template, escape_template, to_string_form};

/// Variables the generated expressions use, with their values.
fn variables() -> Vec<(&'static str, Value)> {
    vec![
        ("n0", json!(3)),
        ("n1", json!(-2.5)),
        ("z", json!(0)),
        ("s0", json!("ab")),
        ("s1", json!("7")),
        ("e", json!("")),
        ("b0", json!(true)),
        ("l0", json!([1, "x", null, [2]])),
        ("m0", json!({"a": 1, "b": [2, 3], "0": "zero"})),
        ("cfg.x", json!(5)),
        ("cfg.list", json!([{"a": 1}, {"a": 2}])),
    ]
}

fn machine(mask: u32) -> MapMachine {
    MapMachine::new(
        variables()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, kv)| kv),
    )
}

fn leaf(names: Vec<&'static str>) -> BoxedStrategy<String> {
    prop_oneof![
        (-20i64..20).prop_map(|n| n.to_string()),
        (-200i64..200).prop_map(|n| format!("{}", n as f64 / 8.0)),
        prop::sample::select(vec![
            "\"\"", "\"a\"", "\"0\"", "\"off\"", "\"1.5\"", "'x y'", "\"{{\""
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec![
            "true",
            "false",
            "null",
            "[]",
            "{}",
            "[1,2]",
            "{\"a\":2}"
        ])
        .prop_map(str::to_string),
        prop::sample::select(names).prop_map(str::to_string),
    ]
    .boxed()
}

const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "%", "**", "==", "!=", "<>", "=", "<", "<=", ">", ">=", "&&", "||",
];
const FUNCS: &[&str] = &[
    "string",
    "int",
    "float",
    "bool",
    "list",
    "join",
    "split",
    "trim",
    "len",
    "floor",
    "ceil",
    "round",
    "at",
    "chunk",
    "entries",
    "tojson",
    "shellquote",
    "unknownfn",
];
const ITEM_EXPRS: &[&str] = &[
    "_.value",
    "_.index * 2",
    "_.value + n0",
    "string(_.value) + s0",
    "_.value > 1",
    "_.key == 1",
];

/// Expressions in fully parenthesised source form.
fn expr(names: Vec<&'static str>) -> BoxedStrategy<String> {
    leaf(names)
        .prop_recursive(4, 48, 3, |inner| {
            prop_oneof![
                (inner.clone(), prop::sample::select(BINOPS), inner.clone())
                    .prop_map(|(l, op, r)| format!("({l} {op} {r})")),
                (prop::sample::select(vec!["!", "-"]), inner.clone())
                    .prop_map(|(op, x)| format!("{op}({x})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
                (
                    prop::sample::select(FUNCS),
                    prop::collection::vec(inner.clone(), 0..3)
                )
                    .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
                (inner.clone(), any::<bool>()).prop_map(|(x, spread)| if spread {
                    format!("list({x}...)")
                } else {
                    format!("string({x})")
                }),
                (
                    prop::sample::select(vec!["map", "filter"]),
                    inner.clone(),
                    prop::sample::select(ITEM_EXPRS)
                )
                    .prop_map(|(f, l, e)| format!("{f}({l}, {e:?})")),
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| format!("{{\"k\": {a}, \"j\": {b}}}")),
                (
                    inner.clone(),
                    prop::sample::select(vec!["0", "1", "a", "b"])
                )
                    .prop_map(|(b, p)| format!("({b}).{p}")),
                (inner, prop::sample::select(vec!["", ".a", ".0"]))
                    .prop_map(|(b, p)| format!("({b}).*{p}")),
            ]
        })
        .boxed()
}

fn known_names() -> Vec<&'static str> {
    variables()
        .into_iter()
        .map(|(k, _)| k)
        .chain(["m0.a", "cfg.list.*.a"])
        .collect()
}

fn with_unknowns() -> Vec<&'static str> {
    let mut names = known_names();
    names.extend(["u0", "u1.x", "env.HOME"]);
    names
}

/// Evaluation results compared as text (so that e.g. 2 and 2.0 compare equal) or as errors.
fn outcome(r: Result<Value, testwerk_expr::EvalError>) -> Result<String, ()> {
    r.map(|v| serde_json::to_string(&normalize(&v)).unwrap())
        .map_err(|_| ())
}

fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(|f| {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    json!(f as i64)
                } else {
                    json!(f)
                }
            })
            .unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// print(parse(s)) parses back to the same tree, and printing is idempotent.
    #[test]
    fn print_parse_round_trip(src in expr(with_unknowns())) {
        let e = Expr::parse(&src).unwrap();
        let printed = e.to_string();
        let again = Expr::parse(&printed)
            .unwrap_or_else(|err| panic!("printed `{printed}` of `{src}` does not parse: {err}"));
        prop_assert_eq!(&again, &e, "printed: {}", printed);
        prop_assert_eq!(again.to_string(), printed);
    }

    /// Partially resolved expressions print to text that parses and re-prints identically.
    #[test]
    fn resolved_expressions_round_trip(src in expr(with_unknowns()), mask in any::<u32>()) {
        let e = Expr::parse(&src).unwrap();
        if let Ok(r) = e.resolve(&machine(mask)) {
            let printed = r.to_string();
            let again = Expr::parse(&printed)
                .unwrap_or_else(|err| panic!("printed `{printed}` of `{src}` does not parse: {err}"));
            prop_assert_eq!(again.to_string(), printed);
            // Resolving is stable.
            let twice = r.resolve(&machine(mask)).unwrap();
            prop_assert_eq!(twice.to_string(), r.to_string());
        }
    }

    /// Partial evaluation with some variables, then full evaluation with all, gives what full
    /// evaluation gives directly (or both fail).
    #[test]
    fn partial_then_full_equals_full(src in expr(known_names()), mask in any::<u32>()) {
        let all = machine(u32::MAX);
        let e = Expr::parse(&src).unwrap();
        let direct = outcome(e.finalize(&all));
        let staged = match e.resolve(&machine(mask)) {
            Ok(partial) => {
                let text = partial.to_string();
                let reparsed = Expr::parse(&text)
                    .unwrap_or_else(|err| panic!("`{text}` (from `{src}`) does not parse: {err}"));
                outcome(reparsed.finalize(&all))
            }
            Err(_) => Err(()),
        };
        prop_assert_eq!(staged, direct, "source: {}", src);
    }

    /// Same for templates, and literal text survives printing.
    #[test]
    fn templates_round_trip(
        parts in prop::collection::vec(
            prop_oneof![
                "[a{} \"x]{0,6}".prop_map(|t| (true, t)),
                expr(known_names()).prop_map(|e| (false, e)),
            ],
            0..5,
        ),
        mask in any::<u32>(),
    ) {
        let all = machine(u32::MAX);
        let src: String = parts
            .iter()
            .map(|(text, s)| if *text { escape_template(s) } else { format!("{{{{ {s} }}}}") })
            .collect();
        let t = Template::parse(&src).unwrap_or_else(|err| panic!("`{src}`: {err}"));
        prop_assert_eq!(Template::parse(&t.to_string()).unwrap(), t.clone());
        let mut expected = Ok(String::new());
        for (text, s) in &parts {
            expected = match (expected, text) {
                (Ok(acc), true) => Ok(acc + s),
                (Ok(acc), false) => Expr::parse(s)
                    .unwrap()
                    .finalize(&all)
                    .map(|v| acc + &to_string_form(&v))
                    .map_err(|_| ()),
                (Err(()), _) => Err(()),
            };
        }
        prop_assert_eq!(t.finalize(&all).map_err(|_| ()), expected.clone());
        if let Ok(partial) = t.resolve(&machine(mask)) {
            let text = partial.to_string();
            let reparsed = Template::parse(&text).unwrap_or_else(|err| panic!("`{text}`: {err}"));
            prop_assert_eq!(reparsed.finalize(&all).map_err(|_| ()), expected);
        } else {
            prop_assert!(expected.is_err());
        }
    }

    /// Arbitrary text never panics the parser or the evaluator.
    #[test]
    fn arbitrary_strings_do_not_panic(src in any::<String>()) {
        if let Ok(e) = Expr::parse(&src) {
            let _ = e.resolve(&NoMachine);
            let _ = e.finalize(&machine(u32::MAX));
            let _ = e.to_string();
        }
        let _ = Template::parse(&src).map(|t| t.resolve(&NoMachine));
    }

    /// Token soup (much more likely to reach deep into the parser) never panics either, and
    /// every error points inside the input.
    #[test]
    fn token_soup_does_not_panic(
        tokens in prop::collection::vec(
            prop::sample::select(vec![
                "(", ")", "[", "]", "{", "}", "{{", "}}", ",", ":", "?", ".", "...", "*", "**",
                "!", "-", "+", "&&", "||", "==", "<>", "<", "1", "2.5", "1e3", "\"s\"", "'t",
                "\"", "a", "b.c", "x.*.y", "_", "map", "eval", "jq", "len", "null", "true",
                " ", "\n", "\\", "é", "\"{{\"", "\"_.value\"", "range", "at",
            ]),
            0..24,
        )
    ) {
        let src: String = tokens.concat();
        match Expr::parse(&src) {
            Ok(e) => {
                let _ = e.resolve(&machine(u32::MAX));
                let _ = e.finalize(&machine(u32::MAX));
                let printed = e.to_string();
                prop_assert!(Expr::parse(&printed).is_ok(), "`{}` printed as `{}`", src, printed);
            }
            Err(err) => prop_assert!(err.offset <= src.len()),
        }
        match Template::parse(&src) {
            Ok(t) => {
                let _ = t.resolve(&machine(u32::MAX));
                let printed = t.to_string();
                prop_assert_eq!(Template::parse(&printed).unwrap(), t);
            }
            Err(err) => prop_assert!(err.offset <= src.len()),
        }
    }
}
