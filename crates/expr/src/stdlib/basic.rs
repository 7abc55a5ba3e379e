//! Conversions (`int`, `float`, `bool`, `floor`, `ceil`, `round`) and serialisation
//! (`tojson`, `json`, `toyaml`, `yaml`).

use serde_json::{Map, Value};

use super::Args;
use crate::error::EvalError;
use crate::value::{number_value, to_string_form, truthy};

/// Deepest structure `yaml()` converts.
const MAX_YAML_DEPTH: usize = 128;

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
        "toyaml" => serde_yaml::to_string(v)
            .map(Value::String)
            .map_err(|e| args.err(format!("cannot serialise: {e}"))),
        "json" => {
            let Value::String(s) = v else {
                return Err(args.wrong_type(0, "a string", v));
            };
            serde_json::from_str(s).map_err(|e| args.err(format!("invalid JSON: {e}")))
        }
        _ => {
            let Value::String(s) = v else {
                return Err(args.wrong_type(0, "a string", v));
            };
            let parsed: serde_yaml::Value =
                serde_yaml::from_str(s).map_err(|e| args.err(format!("invalid YAML: {e}")))?;
            from_yaml(&parsed, 0).map_err(|m| args.err(m))
        }
    }
}

fn yaml_key(k: &serde_yaml::Value) -> Result<String, String> {
    Ok(match k {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Null => "null".to_string(),
        other => to_string_form(&from_yaml(other, MAX_YAML_DEPTH.saturating_sub(4))?),
    })
}

/// Converts parsed YAML to JSON; map keys become strings, tags are dropped.
fn from_yaml(v: &serde_yaml::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_YAML_DEPTH {
        return Err("YAML is nested too deeply".to_string());
    }
    Ok(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(number_value).unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s.clone()),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .iter()
                .map(|i| from_yaml(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(yaml_key(k)?, from_yaml(v, depth + 1)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => from_yaml(&t.value, depth + 1)?,
    })
}
