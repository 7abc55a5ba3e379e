//! Partial evaluation: unknowns stay symbolic, results print back and finish later.

use serde_json::json;
use testwerk_expr::{Expr, FnMachine, Lookup, MapMachine, NoMachine};

use crate::{ev_with, res, simp, vars};

#[test]
fn unknown_variables_stay_symbolic() {
    assert_eq!(simp("env.TEST"), "env.TEST");
    assert_eq!(simp("env.TEST + 1 * 2"), "env.TEST+2");
    assert_eq!(simp("3 + env.xyz + env.abc"), "3+env.xyz+env.abc");
    assert_eq!(
        simp(r#""3" + (env.xyz + env.abc)"#),
        r#""3"+(env.xyz+env.abc)"#
    );
}

#[test]
fn logical_short_circuit_while_partial() {
    assert_eq!(simp("!(false && r1)"), "true");
    assert_eq!(simp("!true && r1"), "false");
    assert_eq!(simp("true && r1"), "r1");
    assert_eq!(simp("!true || r1"), "r1");
    assert_eq!(simp("true || r1"), "true");
    assert_eq!(simp("false && r1.x.y"), "false");
    assert_eq!(simp("r1 && false"), "r1&&false");
    assert_eq!(simp("r1 || false"), "r1||false");
    assert_eq!(simp("r1 || true"), "r1||true");
    // A boolean-valued left side lets the constant right side fold.
    assert_eq!(simp("!r1 && true"), "!r1");
    assert_eq!(simp("r1 == 2 && false"), "false");
    assert_eq!(simp("r1 != 2 || true"), "true");
    assert_eq!(simp("r1 != 2 || false"), "r1!=2");
}

#[test]
fn passed_and_config() {
    let config = MapMachine::with_prefix("config", [("enabled", json!(true))]);
    // JS-like `&&` returns `passed` itself only when it is falsy: it stays.
    assert_eq!(res("passed && config.enabled", &config), "passed&&true");
    // With an alias known to be boolean, the constant folds away.
    let aliases = FnMachine::new(|name| {
        (name == "passed").then(|| Lookup::Expr(Expr::parse("status == \"passed\"").unwrap()))
    });
    let both = [&config as &dyn testwerk_expr::Machine, &aliases];
    assert_eq!(res("passed && config.enabled", &both), "status==\"passed\"");
    let disabled = MapMachine::with_prefix("config", [("enabled", json!(false))]);
    assert_eq!(res("passed && config.enabled", &disabled), "passed&&false");
    assert_eq!(res("config.enabled && passed", &disabled), "false");
}

#[test]
fn errors_in_undecided_branches_wait() {
    assert_eq!(simp("x ? 1 / 0 : 2"), "x?1/0:2");
    assert_eq!(simp("x && 1 / 0"), "x&&1/0");
    let m = vars(&[("x", json!(false))]);
    assert_eq!(ev_with(&simp("x ? 1 / 0 : 2"), &m), json!(2));
    assert!(
        Expr::parse("1 / 0 + x")
            .unwrap()
            .resolve(&NoMachine)
            .is_err()
    );
}

#[test]
fn calls_with_unknown_arguments_are_simplified() {
    assert_eq!(simp("string(1 + 2, x)"), "string(3,x)");
    assert_eq!(simp("join(split(x), 1 + 1)"), "join(split(x),2)");
    assert_eq!(simp("foo(1 + 1)"), "foo(2)");
    assert_eq!(simp("eval(\"5 * 10 * something\")"), "50*something");
    assert_eq!(simp("eval(\"5 * 10\")"), "50");
    assert_eq!(simp("shellquote(a...)"), "shellquote(a...)");
}

#[test]
fn phases_compose() {
    let phase_a = MapMachine::with_prefix("config", [("n", json!(3))]);
    let text = res("config.n * index + offset", &phase_a);
    assert_eq!(text, "3*index+offset");
    let phase_b = vars(&[("index", json!(2)), ("offset", json!(1))]);
    assert_eq!(ev_with(&text, &phase_b), json!(7));
}

#[test]
fn machine_expressions_are_resolved_further() {
    let aliases = FnMachine::new(|name| match name {
        "passed" => Some(Lookup::Expr(Expr::parse("status == \"passed\"").ok()?)),
        "secrets.token" => Some(Lookup::Expr(Expr::var("env.TOKEN"))),
        _ => None,
    });
    assert_eq!(res("passed", &aliases), "status==\"passed\"");
    assert_eq!(res("secrets.token", &aliases), "env.TOKEN");
    let runtime = FnMachine::new(|name| match name {
        "status" => Some(Lookup::from("passed")),
        "env.TOKEN" => Some(Lookup::from("")),
        _ => None,
    });
    let both = [&aliases as &dyn testwerk_expr::Machine, &runtime];
    assert_eq!(ev_with("passed && !secrets.token", &both), json!(true));
}

#[test]
fn wildcard_over_unknown_stays() {
    assert_eq!(simp("a.b.c.*.d.e"), "a.b.c.*.d.e");
    assert_eq!(simp("a.b.c.*.*.d.e"), "a.b.c.*.*.d.e");
    let m = vars(&[("a.b.c", json!([{"d": {"e": "v1"}}, {"d": {"e": "v2"}}]))]);
    assert_eq!(res("a.b.c.*.d.e", &m), r#"["v1","v2"]"#);
}

#[test]
fn map_resolves_what_it_can() {
    let m = vars(&[("list", json!([1, 2]))]);
    assert_eq!(res("map(list, \"_.value * k\")", &m), "[1*k,2*k]");
    let later = vars(&[("k", json!(10))]);
    assert_eq!(ev_with("[1*k,2*k]", &later), json!([10, 20]));
    assert_eq!(
        res("filter(list, \"_.value > k\")", &m),
        "filter([1,2],\"_.value > k\")"
    );
    assert_eq!(res("map(x, \"_.value\")", &m), "map(x,\"_.value\")");
}

#[test]
fn any_takes_the_first_available() {
    assert_eq!(simp("any(x, 5)"), "5");
    assert_eq!(simp("any(x, y)"), "any(x,y)");
    assert_eq!(simp("any([]..., 3)"), "3");
    assert_eq!(simp("any([7, 8]...)"), "7");
    assert_eq!(simp("any()"), "null");
    assert_eq!(ev_with("any(missing, 2)", &NoMachine), json!(2));
    assert!(
        Expr::parse("any(missing)")
            .unwrap()
            .finalize(&NoMachine)
            .is_err()
    );
}

#[test]
fn resolving_is_stable() {
    let m = vars(&[("a", json!(2))]);
    for src in [
        "a + b",
        "x ? a : b",
        "map([1, 2], \"_.value + q\")",
        "f(a, g(b))",
        "b.*.c",
    ] {
        let once = Expr::parse(src).unwrap().resolve(&m).unwrap();
        let twice = once.resolve(&m).unwrap();
        assert_eq!(once, twice, "{src}");
        assert_eq!(
            Expr::parse(&once.to_string()).unwrap().resolve(&m).unwrap(),
            once
        );
    }
}

#[test]
fn variables_and_functions_are_listed() {
    let e = Expr::parse("calling(something, 5 * (other + 3), !another, something.x.*.y)").unwrap();
    assert_eq!(
        e.variables(),
        vec!["something", "other", "another", "something.x"]
    );
    let e = Expr::parse("calling(something(), 45 + string(abc * a(c)))").unwrap();
    assert_eq!(e.functions(), vec!["calling", "something", "string", "a"]);
}

#[test]
fn static_helpers() {
    let e = Expr::parse("1 + 1").unwrap();
    assert_eq!(e.static_value(), None);
    let r = e.resolve(&NoMachine).unwrap();
    assert_eq!(r.static_value(), Some(&json!(2)));
    assert_eq!(r.is_truthy_static(), Some(true));
    assert_eq!(Expr::parse("x").unwrap().is_truthy_static(), None);
    assert_eq!(Expr::value(json!("a{{b")).to_template(), r#"a{{"{{"}}b"#);
    assert_eq!(Expr::parse("x + 1").unwrap().to_template(), "{{x+1}}");
}
