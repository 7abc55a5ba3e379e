//! Accessor lookup through machines.

use std::collections::BTreeMap;

use serde_json::json;
use testwerk_expr::{Chain, Expr, FnMachine, Lookup, Machine, MapMachine, NoMachine};

use crate::{ev_with, res, vars};

#[test]
fn full_name_then_shorter_prefixes() {
    // Flat names.
    let flat = vars(&[("services.db.0.ip", json!("10.0.0.1"))]);
    assert_eq!(ev_with("services.db.0.ip", &flat), json!("10.0.0.1"));
    // A map under a prefix.
    let nested = vars(&[("services", json!({"db": [{"ip": "10.0.0.2"}]}))]);
    assert_eq!(ev_with("services.db.0.ip", &nested), json!("10.0.0.2"));
    // Mixed: `a.b` is flat, `.c` read from its value.
    let mixed = vars(&[("a.b", json!({"c": 3}))]);
    assert_eq!(ev_with("a.b.c", &mixed), json!(3));
    // The longest known prefix wins.
    let both = vars(&[("a", json!({"b": {"c": 1}})), ("a.b", json!({"c": 2}))]);
    assert_eq!(ev_with("a.b.c", &both), json!(2));
    assert_eq!(ev_with("(a).b.c", &both), json!(1));
}

#[test]
fn prefix_answering_an_expression() {
    let m =
        FnMachine::new(|name| (name == "step").then(|| Lookup::Expr(Expr::var("runtime.step"))));
    assert_eq!(res("step.outputs.x", &m), "(runtime.step).outputs.x");
    let later = vars(&[("runtime.step", json!({"outputs": {"x": "ok"}}))]);
    assert_eq!(ev_with("(runtime.step).outputs.x", &later), json!("ok"));
}

#[test]
fn map_machine_from_collections() {
    let mut b = BTreeMap::new();
    b.insert("x".to_string(), json!(1));
    let config = MapMachine::with_prefix("config", b);
    let obj = json!({"name": "wf", "labels": {"app": "x"}});
    let workflow =
        MapMachine::with_prefix("workflow", obj.as_object().cloned().unwrap_or_default());
    let env = MapMachine::new(vec![("env.HOME", json!("/root"))]).with("env.USER", json!("me"));
    let chain = Chain::new(vec![&config, &workflow]).with(&env);
    assert_eq!(ev_with("config.x + 1", &chain), json!(2));
    assert_eq!(ev_with("workflow.labels.app", &chain), json!("x"));
    assert_eq!(ev_with("tojson(config)", &chain), json!(r#"{"x":1}"#));
    assert_eq!(ev_with("env.HOME + env.USER", &chain), json!("/rootme"));
    let boxed: Box<dyn Machine> = Box::new(env);
    assert_eq!(ev_with("env.USER", &boxed), json!("me"));
}

#[test]
fn machine_functions_override_and_extend() {
    let m = FnMachine::functions(|name, args| match name {
        "file" => Some(Ok(Lookup::Value(json!(format!(
            "content of {}",
            args.first()?
        ))))),
        "len" => Some(Ok(Lookup::Value(json!(-1)))),
        // A rewrite: secret(name, key) → env.<key>, resolved later.
        "secret" => {
            let key = args.get(1)?.static_value()?.as_str()?.to_string();
            Some(Ok(Lookup::Expr(Expr::var(&format!("env.{key}")))))
        }
        _ => None,
    });
    assert_eq!(ev_with("file(\"/a\")", &m), json!("content of \"/a\""));
    assert_eq!(ev_with("len(\"abc\")", &m), json!(-1));
    assert_eq!(res("secret(\"s\", \"KEY\") + 1", &m), "env.KEY+1");
    // Not answered (symbolic argument): stays a call.
    assert_eq!(res("secret(\"s\", k)", &m), "secret(\"s\",k)");
    // Spread arguments arrive expanded.
    let count = FnMachine::functions(|name, args| {
        (name == "count").then(|| Ok(Lookup::Value(json!(args.len()))))
    });
    assert_eq!(ev_with("count([1, 2, 3]..., 4)", &count), json!(4));
    assert_eq!(res("count(x...)", &count), "count(x...)");
    assert_eq!(
        Expr::parse("count()")
            .unwrap()
            .finalize(&NoMachine)
            .unwrap_err()
            .to_string(),
        "count: unknown function"
    );
}

#[test]
fn builders_and_from_str() {
    let e: Expr = "1 + x".parse().unwrap();
    assert_eq!(e.to_string(), "1+x");
    let t: testwerk_expr::Template = "a{{x}}".parse().unwrap();
    assert_eq!(t.to_string(), "a{{x}}");
    let call = Expr::call(
        "join",
        vec![Expr::value(json!(["a", "b"])), Expr::var("sep")],
    );
    assert_eq!(call.to_string(), "join([\"a\",\"b\"],sep)");
    let m = vars(&[("sep", json!("-"))]);
    assert_eq!(call.finalize(&m).unwrap(), json!("a-b"));
    assert!(Expr::parse("a.*.b").unwrap().is_wildcard());
    assert!(!Expr::parse("(a.*.b).c").unwrap().is_wildcard());
}
