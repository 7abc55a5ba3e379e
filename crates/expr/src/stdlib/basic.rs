//! Conversions (`int`, `float`, `bool`, `floor`, `ceil`, `round`) and serialisation
//! (`tojson`, `json`, `toyaml`, `yaml`).

use serde_json::Value;

use super::Args;
use crate::error::EvalError;
use crate::value::{number_value, truthy};

pub(super) fn convert(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 1)?;
    if args.name == "bool" {
        return Ok(Value::Bool(truthy(args.get(0))));
    }
    let f = args.number(0)?;
    let out = match args.name {
        "int" => f.trunc(),
        "floor" => f.floor(),
        "ceil" => f.ceil(),
        "round" => f.round(),
        _ => f,
    };
    number_value(out).ok_or_else(|| args.err("result is not a finite number"))
}

pub(super) fn serial(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 1)?;
    let v = args.get(0);
    match args.name {
        "tojson" => serde_json::to_string(v)
            .map(Value::String)
            .map_err(|e| args.err(format!("cannot serialise: {e}"))),
        #[cfg(feature = "yaml")]
        "toyaml" => serde_saphyr::to_string(v)
            .map(Value::String)
            .map_err(|e| args.err(format!("cannot serialise: {e}"))),
        "json" => {
            let Value::String(s) = v else {
                return Err(args.wrong_type(0, "a string", v));
            };
            serde_json::from_str(s).map_err(|e| args.err(format!("invalid JSON: {e}")))
        }
        #[cfg(feature = "yaml")]
        "yaml" => {
            let Value::String(s) = v else {
                return Err(args.wrong_type(0, "a string", v));
            };
            // serde-saphyr bounds depth, nodes, aliases and scalar bytes itself; map keys
            // become strings (`1: one` → `{"1": "one"}`). Booleans are YAML 1.2's only, as
            // upstream's Go reader has them: `yes` stays a string.
            let options = serde_saphyr::options! {
                strict_booleans: true,
                with_snippet: false,
            };
            serde_saphyr::from_str_with_options::<Value>(s, options)
                .map_err(|e| args.err(format!("invalid YAML: {e}")))
        }
        other => Err(args.err(format!("{other} is not a serialisation function"))),
    }
}
