//! The standard functions.

use serde_json::json;
use testwerk_expr::{Expr, FUNCTIONS, MapMachine, NoMachine};

use crate::{ev, ev_err, ev_with, res, simp};

#[test]
fn conversions() {
    assert_eq!(ev("bool(0)"), json!(false));
    assert_eq!(ev("bool(500)"), json!(true));
    assert_eq!(ev("bool(\"off\")"), json!(false));
    assert_eq!(ev("string(500)"), json!("500"));
    assert_eq!(
        ev("string(1, \"a\", null, [1, 2], true)"),
        json!("1a1,2true")
    );
    assert_eq!(ev("string()"), json!(""));
    assert_eq!(ev("int(500)"), json!(500));
    assert_eq!(ev("int(500.888)"), json!(500));
    assert_eq!(ev("int(-2.5)"), json!(-2));
    assert_eq!(ev("int(\"500\")"), json!(500));
    assert_eq!(ev("int(null)"), json!(0));
    assert_eq!(ev("float(\"500.44\")"), json!(500.44));
    assert!(ev_err("int(\"abc\")").starts_with("int: argument 1: cannot use \"abc\""));
    assert_eq!(ev_err("int(1, 2)"), "int: expects 1 argument, 2 provided");
}

#[test]
fn rounding() {
    assert_eq!(ev("floor(2.6)"), json!(2));
    assert_eq!(ev("floor(-2.1)"), json!(-3));
    assert_eq!(ev("ceil(1.2)"), json!(2));
    assert_eq!(ev("round(1.5)"), json!(2));
    assert_eq!(ev("round(1.4)"), json!(1));
    assert_eq!(ev("round(-1.5)"), json!(-2));
}

#[test]
fn json_and_yaml() {
    assert_eq!(ev("json(\"500\")"), json!(500));
    assert_eq!(ev(r#"json("{\"a\": 500}")"#), json!({"a": 500}));
    assert_eq!(ev(r#"tojson({"a": 500})"#), json!(r#"{"a":500}"#));
    assert_eq!(ev("tojson(500.8)"), json!("500.8"));
    assert_eq!(ev(r#"tojson("500.8")"#), json!(r#""500.8""#));
    assert!(ev_err("json(\"{\")").starts_with("json: invalid JSON"));
    assert!(ev_err("json(5)").contains("argument 1 must be a string"));
}

#[cfg(feature = "yaml")]
#[test]
fn yaml_reads_and_writes() {
    assert_eq!(ev(r#"yaml("\"abc\"")"#), json!("abc"));
    assert_eq!(
        ev(r#"yaml("foo:\n  bar: 'baz'")"#),
        json!({"foo": {"bar": "baz"}})
    );
    assert_eq!(ev("yaml(\"\na:\n- b\n- v\n\")"), json!({"a": ["b", "v"]}));
    assert_eq!(
        ev(r#"yaml("1: one\ntrue: yes")"#),
        json!({"1": "one", "true": "yes"})
    );
    assert_eq!(
        ev(r#"toyaml({"foo": {"bar": "baz"}})"#),
        json!("foo:\n  bar: baz\n")
    );
    assert!(ev_err("yaml(\"a: [\")").starts_with("yaml: invalid YAML"));
}

#[test]
fn lists_and_strings() {
    assert_eq!(ev(r#"list("a", 10, ["a", 4])"#), json!(["a", 10, ["a", 4]]));
    assert_eq!(ev(r#"join(["a", 10, ["a", 4]])"#), json!("a,10,a,4"));
    assert_eq!(
        ev(r#"join(["a", 10, ["a", 4]], "---")"#),
        json!("a---10---a,4")
    );
    assert_eq!(ev("join(null)"), json!(null));
    assert!(ev_err("join(\"a\")").contains("must be a list"));
    assert_eq!(ev("split(null)"), json!([""]));
    assert_eq!(ev(r#"split("a,b,c")"#), json!(["a", "b", "c"]));
    assert_eq!(ev(r#"split("a---b---c", "---")"#), json!(["a", "b", "c"]));
    assert_eq!(ev(r#"split("héj", "")"#), json!(["h", "é", "j"]));
    assert_eq!(ev(r#"trim("   abc  d  \n  ")"#), json!("abc  d"));
    assert_eq!(ev("trim(5)"), json!("5"));
    assert_eq!(ev(r#"len("abcde")"#), json!(5));
    assert_eq!(ev(r#"len("héllo")"#), json!(5));
    assert_eq!(ev(r#"len(["a", "b"])"#), json!(2));
    assert_eq!(ev(r#"len({"a": "b", "b": "c"})"#), json!(2));
    assert!(ev_err("len(5)").starts_with("len: argument 1 must be a string, a list or a map"));
}

#[test]
fn at_indexes_lists_maps_and_strings() {
    assert_eq!(ev("at([1,2,3,4,5], 4)"), json!(5));
    assert_eq!(ev(r#"at({"x": "value"}, "x")"#), json!("value"));
    assert_eq!(ev(r#"at({"x": "value"}, "unknown-key")"#), json!(null));
    assert_eq!(ev(r#"at("añb", 1)"#), json!("ñ"));
    assert_eq!(
        ev(r#"at({"service-name-with-dash": [{"ip": "1.2.3.4"}]}, "service-name-with-dash").0.ip"#),
        json!("1.2.3.4")
    );
    assert_eq!(ev_err("at([1], 1)"), "at: index 1 out of bounds (length 1)");
    assert_eq!(
        ev_err("at([1], -1)"),
        "at: index -1 out of bounds (length 1)"
    );
    assert!(ev_err("at(5, 1)").contains("must be a list, a map or a string"));
}

#[test]
fn chunk_and_range() {
    assert_eq!(ev("chunk([1,2,3,4,5], 2)"), json!([[1, 2], [3, 4], [5]]));
    assert_eq!(ev("chunk([], 2)"), json!([]));
    assert!(ev_err("chunk([1], 0)").contains("must be at least 1"));
    assert_eq!(ev("range(0, 0)"), json!([]));
    assert_eq!(ev("range(0)"), json!([]));
    assert_eq!(ev("range(0, -3)"), json!([]));
    assert_eq!(ev("range(5, 3)"), json!([]));
    assert_eq!(ev("range(5)"), json!([0, 1, 2, 3, 4]));
    assert_eq!(ev("range(5, 8)"), json!([5, 6, 7]));
    assert!(ev_err("range(1e12)").contains("larger than the limit"));
}

#[test]
fn map_filter_entries() {
    assert_eq!(
        ev(r#"map([1,2,3,4,5], "_.value * 2")"#),
        json!([2, 4, 6, 8, 10])
    );
    assert_eq!(
        ev(r#"map([10,20,30,40,50], "_.index * 2")"#),
        json!([0, 2, 4, 6, 8])
    );
    assert_eq!(ev(r#"map(["a"], "_.key + _.value")"#), json!(["0a"]));
    assert_eq!(ev(r#"map([{"a": 1}], "_.value.a")"#), json!([1]));
    assert_eq!(
        ev(r#"map(["v1", "v2"], "_.value + \"abc\"").0"#),
        json!("v1abc")
    );
    assert_eq!(ev(r#"map(null, "_.value")"#), json!([]));
    assert_eq!(
        ev(r#"filter([1,2,3,4,5], "_.value > 2")"#),
        json!([3, 4, 5])
    );
    assert_eq!(
        ev(r#"filter(["a", "", "b"], "_.value")"#),
        json!(["a", "b"])
    );
    assert_eq!(
        ev(r#"entries({"A": "B", "C": 5})"#),
        json!([{"key": "A", "value": "B"}, {"key": "C", "value": 5}])
    );
    assert!(ev_err(r#"map([1], "_.value +")"#).starts_with("map: invalid expression"));
    assert!(ev_err(r#"map([1], "_.value / 0")"#).starts_with("map: item 0:"));
    assert_eq!(
        ev(
            r#"join(map(["cypress/e2e/a.js", "cypress/e2e/b/c.js"], "relpath(_.value, \"cypress/e2e\")"), ", ")"#
        ),
        json!("a.js, b/c.js")
    );
    // Nested map: the inner expression is a string, seen by the inner map only.
    assert_eq!(
        ev(r#"map([[1, 2], [3]], "map(_.value, \"_.value * 10\")")"#),
        json!([[10, 20], [30]])
    );
}

#[test]
fn map_sees_outer_variables() {
    let m = MapMachine::new([("k", json!(3))]);
    assert_eq!(ev_with(r#"map([1, 2], "_.value * k")"#, &m), json!([3, 6]));
    assert_eq!(
        ev_with(r#"filter([1, 2, 4], "_.value >= k")"#, &m),
        json!([4])
    );
}

#[test]
fn eval_parses_and_evaluates() {
    assert_eq!(ev(r#"eval("\"abc\"")"#), json!("abc"));
    assert_eq!(ev(r#"eval("5 * 10")"#), json!(50));
    assert!(ev_err(r#"eval("(")"#).starts_with("eval: invalid expression"));
}

#[cfg(feature = "jq")]
#[test]
fn jq_returns_all_results() {
    assert_eq!(ev(r#"jq([1,2,3,4,5], ". | max")"#), json!([5]));
    assert_eq!(
        ev(r#"jq([{"a":{"v": 1}},{"b":{"v": 2}}], ". | max_by(.v)")"#),
        json!([{"b": {"v": 2}}])
    );
    assert_eq!(
        ev(r#"jq([1,2,3,4,5], "map(select(. > 2))")"#),
        json!([[3, 4, 5]])
    );
    assert_eq!(ev(r#"jq({"a": [1, 2]}, ".a[]")"#), json!([1, 2]));
    assert_eq!(ev(r#"jq(null, "empty")"#), json!([]));
    assert_eq!(ev(r#"jq("x", "ascii_upcase")"#), json!(["X"]));
    assert!(ev_err(r#"jq(1, "|||")"#).starts_with("jq: invalid query"));
    assert!(ev_err(r#"jq(1, "nosuchfn")"#).starts_with("jq: invalid query"));
    assert!(ev_err(r#"jq(1, "error(\"boom\")")"#).contains("boom"));
    assert!(ev_err(r#"jq(1, "repeat(.)")"#).contains("more than 10000 results"));
}

/// Without the `jq` feature (as `testwerk-init` is built) `jq` is still a known function, but
/// calling it fails with an error that names it and says why.
#[cfg(not(feature = "jq"))]
#[test]
fn jq_without_the_feature_fails_naming_the_function() {
    let err = ev_err(r#"jq([1, 2], ".[0]")"#);
    assert!(err.starts_with("jq: not available in this build"), "{err}");
    assert!(err.contains("testwerk-init carries no jq engine"), "{err}");
    assert!(ev_err(r#"string(jq({"a": 1}, ".a"))"#).starts_with("jq: not available"));
    assert!(testwerk_expr::UNAVAILABLE.contains(&"jq"));
}

/// Without the `yaml` feature (as `testwerk-init` is built) `yaml` and `toyaml` are known
/// functions, but calling one fails naming it and saying why.
#[cfg(not(feature = "yaml"))]
#[test]
fn yaml_without_the_feature_fails_naming_the_function() {
    let err = ev_err(r#"yaml("a: 1")"#);
    assert!(
        err.starts_with("yaml: not available in this build"),
        "{err}"
    );
    assert!(
        err.contains("testwerk-init carries no YAML engine"),
        "{err}"
    );
    let err = ev_err(r#"toyaml([1])"#);
    assert!(
        err.starts_with("toyaml: not available in this build"),
        "{err}"
    );
    // JSON needs no engine of its own.
    assert_eq!(ev(r#"tojson(json("[1]"))"#), json!("[1]"));
}

#[test]
fn optional_functions_are_known_with_or_without_their_engines() {
    for name in testwerk_expr::OPTIONAL {
        assert!(FUNCTIONS.contains(name), "{name}");
    }
    assert_eq!(
        testwerk_expr::UNAVAILABLE.contains(&"yaml"),
        cfg!(not(feature = "yaml"))
    );
    assert_eq!(
        testwerk_expr::UNAVAILABLE.contains(&"toyaml"),
        cfg!(not(feature = "yaml"))
    );
    // While partial, a call with unknown arguments stays as it is in both builds.
    assert_eq!(simp("toyaml(a)"), "toyaml(a)");
}

#[test]
fn jq_is_known_with_or_without_the_engine() {
    assert!(FUNCTIONS.contains(&"jq"));
    assert_eq!(
        testwerk_expr::UNAVAILABLE.contains(&"jq"),
        cfg!(not(feature = "jq"))
    );
    // While partial, a call with unknown arguments stays as it is in both builds.
    assert_eq!(simp(r#"jq(a, ".x")"#), r#"jq(a,".x")"#);
}

#[test]
fn shell_functions() {
    assert_eq!(ev(r#"shellquote("abc")"#), json!("abc"));
    assert_eq!(ev(r#"shellquote("a b c")"#), json!("'a b c'"));
    assert_eq!(
        ev(r#"shellquote("a b c", "d e f")"#),
        json!("'a b c' 'd e f'")
    );
    assert_eq!(ev("shellquote(null)"), json!("''"));
    assert_eq!(ev(r#"shellquote("it's")"#), json!(r"'it'\''s'"));
    assert_eq!(
        ev(r#"shellparse("a b c 'a b c'")"#),
        json!(["a", "b", "c", "a b c"])
    );
    assert!(ev_err(r#"shellparse("'open")"#).starts_with("shellparse: unterminated"));
}

#[test]
fn paths() {
    assert_eq!(ev(r#"relpath("xyz/abc", "xyz")"#), json!("abc"));
    assert_eq!(ev(r#"relpath("/xyz/../xyz/abc", "/xyz")"#), json!("abc"));
    assert_eq!(ev(r#"relpath("/xyz", "/xyz")"#), json!("."));
    assert_eq!(ev(r#"relpath("/abc", "/xyz")"#), json!("../abc"));
    assert_eq!(ev(r#"relpath("/data/abc/def", "/data")"#), json!("abc/def"));
    assert_eq!(
        ev(r#"relpath("/data/abc/def", "/data/abc/def/xyz")"#),
        json!("..")
    );
    assert_eq!(
        ev(r#"relpath("/data/abc/def/ccc", "/data/abc/def/xyz")"#),
        json!("../ccc")
    );
    assert_eq!(
        ev(r#"abspath("/data/abc/def/ccc", "/data")"#),
        json!("/data/abc/def/ccc")
    );
    assert_eq!(
        ev(r#"abspath("/data/abc/def/ccc", "/abc")"#),
        json!("/data/abc/def/ccc")
    );
    assert_eq!(
        ev(r#"abspath("def/ccc", "/data/abc")"#),
        json!("/data/abc/def/ccc")
    );
    assert_eq!(ev(r#"abspath("..", "/data/abc")"#), json!("/data"));
    assert_eq!(ev(r#"makepath("/data", "x/y")"#), json!("/data/x/y"));
    assert_eq!(ev(r#"makepath("/data", "/abs")"#), json!("/abs"));
    assert_eq!(ev(r#"makepath("", "rel")"#), json!("rel"));
    assert_eq!(ev(r#"makepath("a/", "./b")"#), json!("a/b"));
}

#[test]
fn paths_relative_to_the_working_dir() {
    // Unknown working directory: the call waits for a machine that knows it.
    assert_eq!(simp(r#"relpath("/data/x")"#), r#"relpath("/data/x")"#);
    let m = MapMachine::new([("workingDir", json!("/data"))]);
    assert_eq!(res(r#"relpath("/data/x")"#, &m), r#""x""#);
    assert_eq!(res(r#"abspath("x/y")"#, &m), r#""/data/x/y""#);
    // A relative path against an absolute base also needs it.
    assert_eq!(simp(r#"relpath("a", "/x")"#), r#"relpath("a","/x")"#);
    assert_eq!(res(r#"relpath("a", "/data/x")"#, &m), r#""../a""#);
    assert_eq!(res(r#"abspath("a", "b")"#, &m), r#""/data/b/a""#);
    // Finalizing without one uses the process directory.
    let cwd = std::env::current_dir().unwrap();
    let expected = cwd.join("x");
    assert_eq!(
        Expr::parse(r#"abspath("x")"#)
            .unwrap()
            .finalize(&NoMachine)
            .unwrap(),
        json!(expected.to_str().unwrap())
    );
}

#[test]
fn date_formats_now() {
    let v = ev("date()");
    let s = v.as_str().unwrap();
    assert_eq!(s.len(), "2024-01-02T03:04:05.678Z".len(), "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T', "{s}");
    let day = ev(r#"date("2006-01-02")"#);
    assert_eq!(&s[..10], day.as_str().unwrap());
    assert!(ev_err("date(1, 2)").contains("expects 0-1 arguments"));
}

#[test]
fn any_function() {
    assert_eq!(ev("any(1, 2)"), json!(1));
    assert_eq!(ev("any(null, 2)"), json!(null));
    assert_eq!(ev("any([]..., [3, 4]...)"), json!(3));
    assert_eq!(ev("any()"), json!(null));
}

#[test]
fn unknown_function() {
    assert_eq!(ev_err("foo(1)"), "foo: unknown function");
    assert_eq!(simp("foo(1)"), "foo(1)");
    assert!(FUNCTIONS.contains(&"jq") && !FUNCTIONS.contains(&"file"));
}
