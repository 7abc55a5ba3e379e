//! Operator and property-access semantics on static values.

use serde_json::Value;

use crate::ast::BinOp;
use crate::value::{describe, kind, number_value, to_number, to_string_form, truthy};

/// Applies a binary operator other than `&&`/`||` (those short-circuit in the evaluator).
pub(crate) fn binary(op: BinOp, l: &Value, r: &Value) -> Result<Value, String> {
    let num = |f: f64| number_value(f).ok_or_else(|| "result is not a finite number".to_string());
    match op {
        BinOp::And => Ok(if truthy(l) { r.clone() } else { l.clone() }),
        BinOp::Or => Ok(if truthy(l) { l.clone() } else { r.clone() }),
        BinOp::Eq => Ok(Value::Bool(to_string_form(l) == to_string_form(r))),
        BinOp::Ne => Ok(Value::Bool(to_string_form(l) != to_string_form(r))),
        BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => {
            let (a, b) = (to_number(l)?, to_number(r)?);
            Ok(Value::Bool(match op {
                BinOp::Gt => a > b,
                BinOp::Ge => a >= b,
                BinOp::Lt => a < b,
                _ => a <= b,
            }))
        }
        BinOp::Add if l.is_string() || r.is_string() => {
            Ok(Value::String(to_string_form(l) + &to_string_form(r)))
        }
        BinOp::Add => num(to_number(l)? + to_number(r)?),
        BinOp::Sub => num(to_number(l)? - to_number(r)?),
        BinOp::Mul => num(to_number(l)? * to_number(r)?),
        BinOp::Div | BinOp::Mod => {
            let (a, b) = (to_number(l)?, to_number(r)?);
            if b == 0.0 {
                return Err(if op == BinOp::Div {
                    "division by zero".to_string()
                } else {
                    "modulo by zero".to_string()
                });
            }
            num(if op == BinOp::Div { a / b } else { a % b })
        }
        BinOp::Pow => num(to_number(l)?.powf(to_number(r)?)),
    }
}

fn index(key: &str, len: usize, what: &str) -> Result<usize, String> {
    let i: i64 = key
        .parse()
        .map_err(|_| format!("cannot read property `{key}` of {what}: expected an index"))?;
    usize::try_from(i)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| format!("index {i} out of bounds (length {len})"))
}

/// Property access `base.key`: list index, map key (missing → `null`), or character of a
/// string (by Unicode scalar value).
pub(crate) fn property(base: &Value, key: &str) -> Result<Value, String> {
    match base {
        Value::Array(items) => {
            let i = index(key, items.len(), "a list")?;
            Ok(items.get(i).cloned().unwrap_or(Value::Null))
        }
        Value::Object(map) => Ok(map.get(key).cloned().unwrap_or(Value::Null)),
        Value::String(s) => {
            let i = index(key, s.chars().count(), "a string")?;
            Ok(s.chars()
                .nth(i)
                .map(|c| Value::String(c.to_string()))
                .unwrap_or(Value::Null))
        }
        other => Err(format!(
            "cannot read property `{key}` of {} ({})",
            kind(other),
            describe(other)
        )),
    }
}

/// The items a wildcard iterates: list elements, map values; `null` gives none.
pub(crate) fn wildcard_items(base: &Value) -> Result<Vec<Value>, String> {
    match base {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.clone()),
        Value::Object(map) => Ok(map.values().cloned().collect()),
        other => Err(format!(
            "wildcard `.*` needs a list or a map, got {} ({})",
            kind(other),
            describe(other)
        )),
    }
}
