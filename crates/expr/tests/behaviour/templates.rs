//! Templates and list expansion.

use serde_json::json;
use testwerk_expr::{
    NoMachine, Template, escape_template, expand_list, expand_list_final, finalize_template,
    resolve_template,
};

use crate::vars;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn static_templates() {
    let t = |s: &str| Template::parse(s).unwrap().finalize(&NoMachine).unwrap();
    assert_eq!(t(""), "");
    assert_eq!(t("abc"), "abc");
    assert_eq!(t(r#"abc{{ "xyz" }}{{ 5 }}"#), "abcxyz5");
    assert_eq!(t("abc{{ 5 + 45 }}def"), "abc50def");
    assert_eq!(
        t("{{ [1, 2] }}-{{ null }}-{{ {\"a\": {\"b\": 1}} }}"),
        r#"1,2--{"a":{"b":1}}"#
    );
    assert_eq!(t("}} {"), "}} {");
}

#[test]
fn partial_templates() {
    assert_eq!(
        resolve_template("a{{1+1}}{{x}}", &NoMachine).unwrap(),
        "a2{{x}}"
    );
    assert_eq!(
        resolve_template("abc{{ 5 + 45 }}def{{env.abc * 5}}20", &NoMachine).unwrap(),
        "abc50def{{env.abc*5}}20"
    );
    assert_eq!(
        resolve_template("{{ env.TEST }}", &NoMachine).unwrap(),
        "{{env.TEST}}"
    );
    let m = vars(&[("env.TEST", json!("value"))]);
    assert_eq!(resolve_template("x={{ env.TEST }}", &m).unwrap(), "x=value");
}

#[test]
fn escaped_braces() {
    let input = r#"{{"{{"}}- with secret "internal/data/database/config" -}}{{"{{"}} .Data.data.username }}@{{"{{"}} .Data.data.password }}{{"{{"}}- end -}}"#;
    let output = r#"{{- with secret "internal/data/database/config" -}}{{ .Data.data.username }}@{{ .Data.data.password }}{{- end -}}"#;
    let t = Template::parse(input).unwrap();
    assert_eq!(t.to_string(), input);
    assert_eq!(t.resolve(&NoMachine).unwrap().to_string(), input);
    assert_eq!(t.static_string().unwrap(), output);
    assert_eq!(finalize_template(input, &NoMachine).unwrap(), output);
    assert_eq!(
        resolve_template(r#"foo{{"{{bar"}}baz{{"{{"}}"#, &NoMachine).unwrap(),
        r#"foo{{"{{"}}barbaz{{"{{"}}"#
    );
}

#[test]
fn text_before_an_expression_ending_in_a_brace_is_escaped() {
    let t = Template::parse(r#"a{{"{"}}{{x}}"#)
        .unwrap()
        .resolve(&NoMachine)
        .unwrap();
    let printed = t.to_string();
    assert_eq!(printed, r#"a{{"{"}}{{x}}"#);
    let m = vars(&[("x", json!(1))]);
    assert_eq!(
        Template::parse(&printed).unwrap().finalize(&m).unwrap(),
        "a{1"
    );
    assert_eq!(escape_template("x{{y}}"), r#"x{{"{{"}}y}}"#);
}

#[test]
fn single_expr_and_helpers() {
    let t = Template::parse("{{ x }}").unwrap();
    assert_eq!(t.single_expr().unwrap().to_string(), "x");
    assert!(Template::parse(" {{ x }}").unwrap().single_expr().is_none());
    assert!(
        Template::parse("{{ x }}{{ y }}")
            .unwrap()
            .single_expr()
            .is_none()
    );
    let t = Template::parse("{{a}}-{{b + a}}").unwrap();
    assert_eq!(t.variables(), vec!["a", "b"]);
    assert_eq!(t.static_string(), None);
    assert_eq!(
        Template::parse("x{{1}}")
            .unwrap()
            .static_string()
            .as_deref(),
        Some("x1")
    );
}

#[test]
fn template_parse_errors() {
    let e = Template::parse("abc {{ x ").unwrap_err();
    assert_eq!(e.offset, 9);
    assert!(e.message.contains("missing `}}`"), "{e}");
    let e = Template::parse("abc {{ x } }").unwrap_err();
    assert_eq!(e.offset, 9);
    let e = Template::parse("{{}}").unwrap_err();
    assert_eq!(e.offset, 2);
    let e = Template::parse("ok {{ 1 + }} ").unwrap_err();
    assert_eq!(e.offset, 10);
}

#[test]
fn list_expansion() {
    let m = vars(&[
        ("args", json!(["--a", "b c"])),
        ("one", json!("x")),
        (
            "services.slave",
            json!([{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}]),
        ),
    ]);
    let out = expand_list(
        &strings(&[
            "run",
            "{{ args }}",
            "{{ one }}",
            "pre-{{ args }}",
            "{{ services.slave.*.ip }}",
            "{{ later }}",
            "{{ map(args, \"_.value + later\") }}",
        ]),
        &m,
    )
    .unwrap();
    assert_eq!(
        out,
        strings(&[
            "run",
            "--a",
            "b c",
            "x",
            "pre---a,b c",
            "1.1.1.1,2.2.2.2",
            "{{later}}",
            "{{[\"--a\"+later,\"b c\"+later]}}",
        ])
    );
    // A later phase expands what was left.
    let later = vars(&[("later", json!("!"))]);
    assert_eq!(
        expand_list_final(&out[6..], &later).unwrap(),
        strings(&["!", "--a!", "b c!"])
    );
    // Expanded items are template text.
    let m = vars(&[("l", json!(["{{x", 1]))]);
    assert_eq!(
        expand_list(&strings(&["{{l}}"]), &m).unwrap(),
        strings(&[r#"{{"{{"}}x"#, "1"])
    );
    assert_eq!(
        expand_list_final(&strings(&["{{l}}", "{{ [] }}"]), &m).unwrap(),
        strings(&["{{x", "1"])
    );
}
