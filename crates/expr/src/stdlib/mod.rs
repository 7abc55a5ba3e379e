//! The standard library of functions. Each is called with static arguments (spreads already
//! expanded); `any` is handled lazily by the evaluator itself.

mod basic;
mod collections;
mod date;
#[cfg(feature = "jq")]
mod jq;
mod path;
mod text;

use serde_json::Value;

use crate::ast::Node;
use crate::error::EvalError;
use crate::eval::Ctx;
use crate::value::{describe, kind, to_int, to_number, to_string_form};

/// What a standard function produced.
pub(crate) enum Outcome {
    /// A value.
    Value(Value),
    /// An expression to evaluate further (`eval`, partially resolved `map`).
    Node(Node),
    /// Not computable yet (partial mode): keep the call as it is.
    Keep,
}

/// Names of the built-in functions (`file`, `glob`, `secret`, `credential` come from machines).
pub const FUNCTIONS: &[&str] = &[
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
    "range",
    "map",
    "filter",
    "entries",
    "eval",
    "jq",
    "tojson",
    "json",
    "toyaml",
    "yaml",
    "shellquote",
    "shellparse",
    "relpath",
    "abspath",
    "makepath",
    "date",
    "any",
];

/// Built-in functions behind an optional feature of this crate (`jq`; `yaml` for `toyaml` and
/// `yaml`), whichever features this build has. A build without them (`testwerk-init`) knows
/// them but cannot call them; see [`UNAVAILABLE`].
pub const OPTIONAL: &[&str] = &["jq", "toyaml", "yaml"];

/// Built-in functions this build leaves out (those of [`OPTIONAL`] whose feature is off): they
/// are known, so they parse and stay symbolic while partial, but calling one fails naming it.
pub const UNAVAILABLE: &[&str] = &[
    #[cfg(not(feature = "jq"))]
    "jq",
    #[cfg(not(feature = "yaml"))]
    "toyaml",
    #[cfg(not(feature = "yaml"))]
    "yaml",
];

pub(crate) fn exists(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

/// Arguments of one call, with helpers that produce messages naming the function and the
/// argument.
pub(crate) struct Args<'a> {
    pub name: &'a str,
    pub values: &'a [Value],
}

const NULL: Value = Value::Null;

impl Args<'_> {
    pub(crate) fn err(&self, message: impl Into<String>) -> EvalError {
        EvalError::call(self.name, message)
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Checks the number of arguments.
    pub(crate) fn count(&self, min: usize, max: usize) -> Result<(), EvalError> {
        let n = self.values.len();
        if (min..=max).contains(&n) {
            return Ok(());
        }
        let expected = if min == max {
            format!("{min} argument{}", if min == 1 { "" } else { "s" })
        } else {
            format!("{min}-{max} arguments")
        };
        Err(self.err(format!("expects {expected}, {n} provided")))
    }

    pub(crate) fn get(&self, i: usize) -> &Value {
        self.values.get(i).unwrap_or(&NULL)
    }

    pub(crate) fn string(&self, i: usize) -> String {
        to_string_form(self.get(i))
    }

    pub(crate) fn number(&self, i: usize) -> Result<f64, EvalError> {
        to_number(self.get(i)).map_err(|m| self.err(format!("argument {}: {m}", i + 1)))
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, EvalError> {
        to_int(self.get(i)).map_err(|m| self.err(format!("argument {}: {m}", i + 1)))
    }

    /// A list argument; `null` counts as an empty list.
    pub(crate) fn list(&self, i: usize) -> Result<&[Value], EvalError> {
        match self.get(i) {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(&[]),
            other => Err(self.wrong_type(i, "a list", other)),
        }
    }

    pub(crate) fn wrong_type(&self, i: usize, expected: &str, got: &Value) -> EvalError {
        self.err(format!(
            "argument {} must be {expected}, got {} ({})",
            i + 1,
            kind(got),
            describe(got)
        ))
    }
}

/// Calls a standard function with static arguments.
pub(crate) fn call(ctx: &Ctx<'_>, name: &str, values: &[Value]) -> Result<Outcome, EvalError> {
    let args = Args { name, values };
    // What a function builds counts against the evaluation's memory budget.
    let value = |r: Result<Value, EvalError>| {
        let v = r?;
        ctx.charge(&v)?;
        Ok(Outcome::Value(v))
    };
    match name {
        "string" => value(Ok(Value::String(
            args.values.iter().map(to_string_form).collect(),
        ))),
        "list" => value(Ok(Value::Array(args.values.to_vec()))),
        "int" | "float" | "bool" | "floor" | "ceil" | "round" => value(basic::convert(&args)),
        "tojson" | "json" => value(basic::serial(&args)),
        #[cfg(feature = "yaml")]
        "toyaml" | "yaml" => value(basic::serial(&args)),
        #[cfg(not(feature = "yaml"))]
        "toyaml" | "yaml" => Err(args.err(
            "not available in this build: testwerk-init carries no YAML engine, so yaml() and \
             toyaml() work only on values known when the workflow is compiled",
        )),
        "join" => value(collections::join(&args)),
        "split" => value(collections::split(&args)),
        "len" => value(collections::len(&args)),
        "at" => value(collections::at(&args)),
        "chunk" => value(collections::chunk(&args)),
        // Charged before it is built.
        "range" => collections::range(ctx, &args).map(Outcome::Value),
        "entries" => value(collections::entries(&args)),
        "map" => collections::map(ctx, &args),
        "filter" => collections::filter(ctx, &args),
        "eval" => collections::eval(&args),
        #[cfg(feature = "jq")]
        "jq" => value(jq::jq(&args)),
        #[cfg(not(feature = "jq"))]
        "jq" => Err(args.err(
            "not available in this build: testwerk-init carries no jq engine, so jq() works \
             only on values known when the workflow is compiled",
        )),
        "trim" => value(text::trim(&args)),
        "shellquote" => value(Ok(text::shellquote(&args))),
        "shellparse" => value(text::shellparse(&args)),
        "relpath" | "abspath" | "makepath" => path::call(ctx, &args),
        "date" => value(date::date(&args)),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}
