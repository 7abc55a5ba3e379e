//! Literals, operators, precedence and printing.

use serde_json::json;
use testwerk_expr::Expr;

use crate::{ev, ev_err, simp};

#[test]
fn literals() {
    assert_eq!(ev("null"), json!(null));
    assert_eq!(ev("true"), json!(true));
    assert_eq!(ev("false"), json!(false));
    assert_eq!(ev("42"), json!(42));
    assert_eq!(ev("2.5"), json!(2.5));
    assert_eq!(ev("1e3"), json!(1000));
    assert_eq!(ev("-4"), json!(-4));
    assert_eq!(ev(r#""a\tb""#), json!("a\tb"));
    assert_eq!(ev("'single \"quoted\"'"), json!("single \"quoted\""));
    assert_eq!(ev("\"multi\nline\""), json!("multi\nline"));
    assert_eq!(ev("[1, \"a\", [true]]"), json!([1, "a", [true]]));
    assert_eq!(
        ev(r#"{"a": 1, "b": {"c": null}}"#),
        json!({"a": 1, "b": {"c": null}})
    );
    assert_eq!(ev("[]"), json!([]));
    assert_eq!(ev("{}"), json!({}));
}

#[test]
fn arithmetic() {
    assert_eq!(ev("2 + 3"), json!(5));
    assert_eq!(ev("3 / 5"), json!(0.6));
    assert_eq!(ev("7 - 10"), json!(-3));
    assert_eq!(ev("2 ** 10"), json!(1024));
    assert_eq!(ev("7 % 3"), json!(1));
    assert_eq!(ev("-7 % 3"), json!(-1));
    assert_eq!(ev("\"4\" * \"2.5\""), json!(10));
    assert_eq!(ev("null + 1"), json!(1));
}

#[test]
fn division_and_modulo_by_zero_fail() {
    assert_eq!(ev_err("1 / 0"), "1/0: division by zero");
    assert_eq!(ev_err("1 % (2 - 2)"), "1%(2-2): modulo by zero");
}

#[test]
fn non_numbers_in_arithmetic_fail() {
    assert!(ev_err("\"abc\" - 1").contains("cannot use \"abc\" as a number"));
    assert!(ev_err("true * 2").contains("as a number"));
    assert!(ev_err("10 > 2 > 3").contains("as a number"));
}

#[test]
fn plus_concatenates_when_either_side_is_a_string() {
    assert_eq!(ev("\"a\" + 1"), json!("a1"));
    assert_eq!(ev("1 + \"a\""), json!("1a"));
    assert_eq!(ev("\"1\" + 1"), json!("11"));
    assert_eq!(ev("\"x\" + null"), json!("x"));
    assert_eq!(ev("\"l:\" + [1,2]"), json!("l:1,2"));
    assert_eq!(ev("3 + \"/\" + 5"), json!("3/5"));
    assert_eq!(ev("1 + 2 + \"x\""), json!("3x"));
}

#[test]
fn equality_compares_string_forms() {
    assert_eq!(ev("1 == \"1\""), json!(true));
    assert_eq!(ev("1 = 1.0"), json!(true));
    assert_eq!(ev("null == \"\""), json!(true));
    assert_eq!(ev("[1,2] == \"1,2\""), json!(true));
    assert_eq!(ev("true == \"true\""), json!(true));
    assert_eq!(ev("3 != 5"), json!(true));
    assert_eq!(ev("3 <> 3"), json!(false));
    assert_eq!(ev("\"a\" == \"b\""), json!(false));
}

#[test]
fn comparisons_are_numeric() {
    assert_eq!(ev("10 > 9"), json!(true));
    assert_eq!(ev("\"10\" > \"9\""), json!(true));
    assert_eq!(ev("5 <= 5"), json!(true));
    assert_eq!(ev("5 < 5"), json!(false));
    assert_eq!(ev("5 >= 6"), json!(false));
    assert_eq!(ev("null < 1"), json!(true));
}

#[test]
fn logical_operators_return_operands() {
    assert_eq!(ev("1 && 0 && 2"), json!(0));
    assert_eq!(ev("1 && 0 || 2"), json!(2));
    assert_eq!(ev("1 || 0 || 2"), json!(1));
    assert_eq!(ev("\"\" || \"fallback\""), json!("fallback"));
    assert_eq!(ev("\"a\" && \"b\""), json!("b"));
    assert_eq!(ev("!0 && 500"), json!(500));
    assert_eq!(ev("!5 && 500"), json!(false));
    assert_eq!(ev("true && false || false && true"), json!(false));
    // Short-circuit: the failing right side is never evaluated.
    assert_eq!(ev("false && 1/0"), json!(false));
    assert_eq!(ev("true || 1/0"), json!(true));
}

#[test]
fn not_uses_truthiness() {
    assert_eq!(ev("!\"off\""), json!(true));
    assert_eq!(ev("!\"0\""), json!(true));
    assert_eq!(ev("![]"), json!(true));
    assert_eq!(ev("!{\"a\":1}"), json!(false));
    assert_eq!(ev("!!\"x\""), json!(true));
}

#[test]
fn precedence() {
    assert_eq!(ev("1 + 2 * 3"), json!(7));
    assert_eq!(ev("1 + (2 * 3) + 4"), json!(11));
    assert_eq!(ev("1 + 2 * 3 * 4 + 5"), json!(30));
    assert_eq!(ev("1 + 2 * 3 * 4 + 5 = 2 + 3 * 6 + 10"), json!(true));
    assert_eq!(ev("5 + 3 / 3 * 3"), json!(8));
    assert_eq!(ev("1 + 2 * 3 ** 4 * 5 + 6"), json!(817));
    assert_eq!(ev("72 / 2 ** 4"), json!(4.5));
    assert_eq!(ev("10 > 2 && 5 <= 5"), json!(true));
    assert_eq!(ev("10 > 2 && 5 < 5"), json!(false));
    // && and || share one level, left to right.
    assert_eq!(ev("true || false && false"), json!(false));
    // ** is left-associative like the other operators.
    assert_eq!(ev("2 ** 3 ** 2"), json!(64));
    assert_eq!(ev("10 - 3 - 2"), json!(5));
    assert_eq!(ev("64 / 4 / 2"), json!(8));
}

#[test]
fn unary_minus_binds_tightly() {
    // Deliberate difference: upstream gives -3 here.
    assert_eq!(ev("-1 + 2"), json!(1));
    assert_eq!(ev("5 - -3 * 2"), json!(11));
    assert_eq!(ev("-2 ** 2"), json!(4));
    assert_eq!(ev("-(1 + 2)"), json!(-3));
    assert_eq!(ev("--3"), json!(3));
    assert_eq!(ev("-\"2\""), json!(-2));
}

#[test]
fn ternary() {
    assert_eq!(ev(r#"true ? "value" : "another""#), json!("value"));
    assert_eq!(ev(r#"5 == 3 ? "value" : "another""#), json!("another"));
    assert_eq!(
        ev(r#"5 == 3 && 2 == 4 ? "value" : "another""#),
        json!("another")
    );
    assert_eq!(
        ev(r#"3 == 3 || 2 == 4 ? "value" : "another""#),
        json!("value")
    );
    assert_eq!(
        ev(r#"false ? "value" : true ? "xyz" : "another""#),
        json!("xyz")
    );
    assert_eq!(ev("false ? 3 : (true ? 5.78 : 2)"), json!(5.78));
    assert_eq!(ev("true ? false ? 1 : 2 : 3"), json!(2));
    assert_eq!(ev("1 ? 2 : 1/0"), json!(2));
}

#[test]
fn property_access() {
    assert_eq!(ev(r#"["v1", "v2"].0"#), json!("v1"));
    assert_eq!(ev(r#"{"k": "v", "k2": "v2"}.k"#), json!("v"));
    assert_eq!(ev(r#"{"k": {"a": "v"}}.k.a"#), json!("v"));
    assert_eq!(ev(r#"{"k": 1}.missing"#), json!(null));
    assert_eq!(ev(r#""héllo".1"#), json!("é"));
    assert_eq!(ev(r#"([[1, 2], [3]]).0.1"#), json!(2));
    assert_eq!(ev_err("[1].5"), "[1].5: index 5 out of bounds (length 1)");
    assert!(ev_err("(5).x").contains("cannot read property `x` of a number"));
    assert!(ev_err("null.x").contains("of null"));
}

#[test]
fn wildcards() {
    assert_eq!(ev(r#"[{"a": 1}, {"a": 2}].*.a"#), json!([1, 2]));
    assert_eq!(
        ev(r#"{"x": {"ip": "1"}, "y": {"ip": "2"}}.*.ip"#),
        json!(["1", "2"])
    );
    assert_eq!(ev("[1, 2].*"), json!([1, 2]));
    assert_eq!(ev("null.*"), json!([]));
    // A second `*` iterates the list made by the first.
    assert_eq!(
        ev(r#"[{"b": [{"c": 1}]}, {"b": [{"c": 2}]}].*.b.*.0"#),
        json!([{"c": 1}, {"c": 2}])
    );
    assert!(ev_err("(5).*").contains("needs a list or a map"));
}

#[test]
fn spread_arguments() {
    assert_eq!(
        ev(r#"shellquote(["a", "b", "c", "a b c"]...)"#),
        json!("a b c 'a b c'")
    );
    assert_eq!(
        ev("shellquote(shellparse(\"a b c\n'a b c'\")...)"),
        json!("a b c 'a b c'")
    );
    assert_eq!(ev(r#"join([["a", "b"], "x"]...)"#), json!("axb"));
    assert_eq!(ev("list(1, [2, 3]..., null...)"), json!([1, 2, 3]));
    assert!(ev_err("list(5...)").contains("spread operator"));
}

#[test]
fn printing_is_minimal_and_parses_back() {
    for (src, printed) in [
        ("1 + 2 * x", "1+2*x"),
        ("(1 + x) * 2", "(1+x)*2"),
        ("a - (b - c)", "a-(b-c)"),
        ("(a - b) - c", "a-b-c"),
        ("a ** (b ** c)", "a**(b**c)"),
        ("!(a && b)", "!(a&&b)"),
        ("-(a + b)", "-(a+b)"),
        ("a - -b", "a--b"),
        ("(a ? b : c) ? d : e", "(a?b:c)?d:e"),
        ("a ? b : c ? d : e", "a?b:c?d:e"),
        ("(a ? b : c) + 1", "(a?b:c)+1"),
        ("x.y.*.z", "x.y.*.z"),
        ("(x).y", "(x).y"),
        ("(x.*.y).0", "(x.*.y).0"),
        ("f(a, b...)", "f(a,b...)"),
        ("f(x).0.ip", "f(x).0.ip"),
        ("[a, 1]", "[a,1]"),
        (r#"{"k": a}"#, r#"{"k":a}"#),
        ("'it\"s'", r#""it\"s""#),
        ("\"a\nb\"", r#""a\nb""#),
        (
            "A + B * (C + D) / E * F + G <> H ** I * J ** K",
            "A+B*(C+D)/E*F+G!=H**I*J**K",
        ),
        ("env . HOME", "env.HOME"),
    ] {
        let e = Expr::parse(src).unwrap();
        assert_eq!(e.to_string(), printed, "printing `{src}`");
        assert_eq!(Expr::parse(printed).unwrap(), e, "reparsing `{printed}`");
    }
}

#[test]
fn numbers_print_like_go() {
    assert_eq!(simp("1e21"), "1e+21");
    assert_eq!(simp("0.00001"), "1e-05");
    assert_eq!(simp("1000000"), "1000000");
    assert_eq!(simp("0.1 + 0.2"), "0.30000000000000004");
    assert_eq!(simp("1 / 3"), "0.3333333333333333");
    assert_eq!(simp("5 * 1e20"), "500000000000000000000");
}
