//! # testwerk-expr: the workflow expression language
//!
//! TestWorkflows embed a small expression language, compatible with Testkube's: conditions
//! (`condition: passed && config.enabled`), computed values (`count: config.workers * 2`) and
//! templates in strings (`args: ["--url", "http://{{ services.db.0.ip }}:5432"]`). Values are
//! JSON values ([`Value`]); numbers follow float semantics.
//!
//! The defining feature is **partial evaluation**: an expression is evaluated in several
//! phases (scheduling, bundle creation, the runtime inside the pod), each knowing only some
//! variables. Unknown variables stay symbolic, and the partially evaluated expression prints
//! back to source that later phases parse and finish:
//!
//! ```
//! use testwerk_expr::{resolve_template, Expr, MapMachine, NoMachine, Value};
//! let config = MapMachine::with_prefix("config", [("enabled", Value::Bool(true))]);
//!
//! // `passed` is only known at runtime: it stays.
//! let e = Expr::parse("config.enabled && passed").unwrap().resolve(&config).unwrap();
//! assert_eq!(e.to_string(), "passed");
//! let e = Expr::parse("!config.enabled && passed").unwrap().resolve(&config).unwrap();
//! assert_eq!(e.to_string(), "false");
//!
//! // Templates resolve to template text.
//! assert_eq!(resolve_template("a{{1+1}}{{env.X}}", &NoMachine).unwrap(), "a2{{env.X}}");
//! ```
//!
//! ## Syntax
//!
//! * literals: `null`, `true`, `false`, numbers (`1`, `2.5`, `1e-3`), strings in double or
//!   single quotes with JSON escapes (raw newlines allowed), JSON lists and maps (`[1,2]`,
//!   `{"a":1}`; elements may be any expressions).
//! * accessors: `env.HOME`, `services.db.0.ip`; `.name` after any expression reads a
//!   property (list index, map key, character of a string); `x.*.y` is the list of `.y` of
//!   every element (or map value) of `x`.
//! * operators, loosest first: `a ? b : c` (right-associative) < `&&` `||` < `==` `=` `!=`
//!   `<>` `<` `<=` `>` `>=` < `+` `-` < `*` `/` `%` < `**` < prefix `!` and `-`. Binary
//!   operators are left-associative.
//! * calls: `fn(a, b)`, with spread `fn(list...)`.
//!
//! ## Semantics
//!
//! * `==`/`!=` compare string forms; `<` `<=` `>` `>=` compare as numbers; `+` concatenates
//!   when either side is a string, else adds; `- * / % **` are float operations (division or
//!   modulo by zero is an error).
//! * `&&`/`||` return an operand like JavaScript and short-circuit, also while partial:
//!   `false && x` is `false`, `true && x` is `x`.
//! * truthiness ([`truthy`]): `null` is false, lists and maps when non-empty, anything else
//!   unless its string form is `""`, `"false"`, `"0"` or `"off"`.
//! * string form ([`to_string_form`]): `null` → `""`, lists joined with `,`, maps as JSON,
//!   numbers like Go's `%v` (`1`, `0.5`, `1e+21`, `1e-05`).
//! * an accessor `a.b.c` first asks the machine for `a.b.c`, then for `a.b` and reads `.c`,
//!   then for `a` and reads `.b.c`, so machines may expose flat names or nested maps.
//!
//! ## Templates
//!
//! [`Template`]s are text with `{{ expr }}` segments; the result concatenates the text and the
//! string forms. A literal `{{` is written `{{"{{"}}`. [`expand_list`] implements list
//! expansion for commands and arguments: an element that is exactly one `{{expr}}` whose
//! value is a list becomes one element per item (except for a bare wildcard accessor such as
//! `{{services.db.*.ip}}`, which is joined with commas).
//!
//! ## Machines
//!
//! Variables and custom functions come from a [`Machine`]: [`MapMachine`] (a map of values,
//! optionally under a prefix), [`FnMachine`] (closures), [`Chain`] or `[&dyn Machine; N]`
//! (several, tried in order), [`NoMachine`]. A machine may answer with a value or with an
//! expression ([`Lookup::Expr`]), e.g. an alias `passed` → `status == "passed"`.
//! The filesystem functions `file()`, `glob()` and the variable `workingDir` are runtime
//! hooks: a machine provides them. Unknown functions stay symbolic while partial and are an
//! error when finalizing.
//!
//! ## Standard functions
//!
//! `string(..)`, `int`, `float`, `bool`, `list(..)`, `join(list[, sep])`, `split(str[, sep])`,
//! `trim`, `len`, `floor`, `ceil`, `round`, `at(coll, index|key)`, `chunk(list, size)`,
//! `range([start,] end)`, `map(list, "expr")`, `filter(list, "expr")` (the expression sees
//! `_.value`, `_.index`, `_.key`), `entries(map)`, `eval("expr")`, `jq(value, "query")`,
//! `tojson`, `json(str)`, `toyaml`, `yaml(str)`, `shellquote(args..)`, `shellparse(str)`,
//! `relpath(path[, base])`, `abspath(path[, base])`, `makepath(parent, child)`,
//! `date([go layout])`, `any(args..)`. See [`FUNCTIONS`].
//!
//! `jq` needs the `jq` feature, `yaml` and `toyaml` the `yaml` feature (both on by default).
//! Without them (as in `testwerk-init`), they are still known functions, but calling one fails
//! with an error naming it; see [`OPTIONAL`] and [`UNAVAILABLE`].
//!
//! ## Deliberate differences from Testkube
//!
//! * **Unary minus binds tightly**, like `!`: `-1 + 2` is `1`. Testkube negates the whole
//!   rest of the sub-expression (`-3`).
//! * **Large integral numbers print in full**: the exponent form starts at `1e21` (as in Go's
//!   JSON encoding and JavaScript), so `1000000` prints as `1000000`, not Go's `%v` `1e+06`.
//!   Non-integral numbers follow `%v` (`0.5`, `1e-05`).
//! * `len` of a string counts characters, not bytes, consistent with `at`, which indexes
//!   characters.
//! * Lists and maps may contain expressions (`[a, 1]`), not only JSON.
//! * `relpath`/`abspath` without a base use the machine's `workingDir`; while it is unknown
//!   the call stays symbolic (the process directory is used only when finalizing).
//! * `toyaml` indents with two spaces; `shellquote` single-quotes words with special
//!   characters instead of backslash-escaping them (same meaning to a shell).
//! * `filter` whose condition cannot be decided yet stays symbolic instead of failing.
//! * Expressions print without spaces and with minimal parentheses, which is not always the
//!   same text as Testkube prints, but parses to the same meaning.
//!
//! ## Limits
//!
//! Nothing panics on any input. Parsing rejects expressions nested deeper than 100 levels
//! (parentheses, calls, lists, prefix operators, ternaries) or with syntax trees taller than
//! 160; evaluation stops at a depth of 300 (so recursive aliases or `eval` loops fail with
//! "maximum call stack exceeded"). Independently of those counts, one parse or evaluation
//! (with everything nested in it) may use at most 1 MiB of stack, which keeps debug builds on
//! 2 MiB test threads safe.
//!
//! Each `resolve`/`finalize` has a **budget**: 2,000,000 steps and 128 MiB of values built
//! (lists, maps and strings, estimated from their size in memory; a value read from a machine
//! counts when it is read, as the evaluator copies it). Sizes known in advance (`range`,
//! string concatenation) are charged before anything is allocated. When either runs out the
//! evaluation stops with [`EvalError::Budget`], naming the [`Resource`]: the agent compiles
//! submissions in its own process, so `len(map(range(1000000), "range(1000000)"))` must fail
//! in milliseconds instead of growing to gigabytes. `range` builds at most 1,000,000 items;
//! `jq` runs on its own thread, for at most 10 seconds and 10,000 results.
//!
//! ## API notes
//!
//! [`Expr::parse`] does not simplify: `Expr::parse("1+1")` has no static value until it is
//! resolved (`resolve(&NoMachine)`). Resolving is idempotent. [`Template::parse`] keeps its
//! `{{ }}` segments; [`Template::static_string`] already counts literal segments such as
//! `{{"{{"}}` as text.

mod ast;
mod error;
mod eval;
mod lexer;
mod machine;
mod ops;
mod parser;
mod print;
mod stack;
mod stdlib;
mod template;
mod value;

pub use ast::Expr;
pub use error::{Error, EvalError, ParseError, Resource};
pub use machine::{Chain, FnMachine, Lookup, Machine, MapMachine, NoMachine};
pub use serde_json::Value;
pub use stdlib::{FUNCTIONS, OPTIONAL, UNAVAILABLE};
pub use template::{Template, escape_template};
pub use value::{format_number, to_string_form, truthy};

/// Resolves template text as far as the machine allows, returning template text:
/// `"a{{1+1}}{{x}}"` → `"a2{{x}}"`.
pub fn resolve_template(src: &str, m: &dyn Machine) -> Result<String, Error> {
    Ok(Template::parse(src)?.resolve(m)?.to_string())
}

/// Fully evaluates template text to its final string.
pub fn finalize_template(src: &str, m: &dyn Machine) -> Result<String, Error> {
    Ok(Template::parse(src)?.finalize(m)?)
}

/// Parses and partially evaluates an expression.
pub fn resolve_expression(src: &str, m: &dyn Machine) -> Result<Expr, Error> {
    Ok(Expr::parse(src)?.resolve(m)?)
}

/// Parses and fully evaluates an expression.
pub fn finalize_expression(src: &str, m: &dyn Machine) -> Result<Value, Error> {
    Ok(Expr::parse(src)?.finalize(m)?)
}

/// List expansion for commands and arguments, partial when possible.
///
/// Each item is template text. An item that is exactly one `{{expr}}` whose value is a list
/// becomes one item per element (each as escaped template text); a bare wildcard accessor
/// (`{{services.x.*.ip}}`) is joined with commas instead. Items that cannot be resolved yet
/// stay as (simplified) template text, to be expanded by a later phase.
pub fn expand_list(items: &[String], m: &dyn Machine) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let t = Template::parse(item)?;
        if let Some(e) = t.single_expr()
            && !template::is_bare_wildcard(e)
        {
            let r = e.resolve(m)?;
            match r.static_value() {
                Some(Value::Array(values)) => {
                    out.extend(values.iter().map(|v| escape_template(&to_string_form(v))));
                }
                Some(v) => out.push(escape_template(&to_string_form(v))),
                None => out.push(format!("{{{{{r}}}}}")),
            }
            continue;
        }
        out.push(t.resolve(m)?.to_string());
    }
    Ok(out)
}

/// Fully evaluated list expansion (see [`expand_list`]): the final strings.
pub fn expand_list_final(items: &[String], m: &dyn Machine) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let t = Template::parse(item)?;
        if let Some(e) = t.single_expr()
            && !template::is_bare_wildcard(e)
        {
            match e.finalize(m)? {
                Value::Array(values) => out.extend(values.iter().map(to_string_form)),
                v => out.push(to_string_form(&v)),
            }
            continue;
        }
        out.push(t.finalize(m)?);
    }
    Ok(out)
}
