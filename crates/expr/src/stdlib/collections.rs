//! Lists and maps: `join`, `split`, `len`, `at`, `chunk`, `range`, `entries`, `map`,
//! `filter`, and `eval`.

use serde_json::{Map, Value};

use super::{Args, Outcome};
use crate::ast::{Expr, Node};
use crate::error::EvalError;
use crate::eval::{Ctx, SLOT};
use crate::machine::{Lookup, Machine};
use crate::ops;
use crate::value::{to_string_form, truthy};

/// Largest list `range` builds.
const MAX_RANGE: i64 = 1_000_000;

pub(super) fn join(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 2)?;
    let items = match args.get(0) {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items,
        other => return Err(args.wrong_type(0, "a list", other)),
    };
    let sep = if args.len() == 2 {
        args.string(1)
    } else {
        ",".to_string()
    };
    Ok(Value::String(
        items
            .iter()
            .map(to_string_form)
            .collect::<Vec<_>>()
            .join(&sep),
    ))
}

pub(super) fn split(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 2)?;
    let s = args.string(0);
    let sep = if args.len() == 2 {
        args.string(1)
    } else {
        ",".to_string()
    };
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}

pub(super) fn len(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 1)?;
    match args.get(0) {
        Value::String(s) => Ok(Value::from(s.chars().count())),
        Value::Array(items) => Ok(Value::from(items.len())),
        Value::Object(map) => Ok(Value::from(map.len())),
        other => Err(args.wrong_type(0, "a string, a list or a map", other)),
    }
}

pub(super) fn at(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(2, 2)?;
    let key = match (args.get(0), args.get(1)) {
        (Value::Array(_) | Value::String(_), _) => args.int(1)?.to_string(),
        (Value::Object(_), k) => to_string_form(k),
        (other, _) => return Err(args.wrong_type(0, "a list, a map or a string", other)),
    };
    ops::property(args.get(0), &key).map_err(|m| args.err(m))
}

pub(super) fn chunk(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(2, 2)?;
    let items = args.list(0)?;
    let size = args.int(1)?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| args.err(format!("argument 2 must be at least 1, got {size}")))?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

/// `range` charges its list before building it (the generic charge after a call would come
/// too late to keep the memory from being taken).
pub(super) fn range(ctx: &Ctx<'_>, args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 2)?;
    let (start, end) = if args.len() == 1 {
        (0, args.int(0)?)
    } else {
        (args.int(0)?, args.int(1)?)
    };
    let count = end.saturating_sub(start).max(0);
    if count > MAX_RANGE {
        return Err(args.err(format!(
            "range of {count} items is larger than the limit of {MAX_RANGE}"
        )));
    }
    ctx.reserve(SLOT.saturating_mul(count.unsigned_abs()))?;
    Ok(Value::Array((start..end).map(Value::from).collect()))
}

pub(super) fn entries(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 1)?;
    let map = match args.get(0) {
        Value::Object(map) => map,
        Value::Null => return Ok(Value::Array(Vec::new())),
        other => return Err(args.wrong_type(0, "a map", other)),
    };
    Ok(Value::Array(
        map.iter()
            .map(|(k, v)| {
                let mut e = Map::new();
                e.insert("key".into(), Value::String(k.clone()));
                e.insert("value".into(), v.clone());
                Value::Object(e)
            })
            .collect(),
    ))
}

/// Parses the expression argument of `eval`, `map` or `filter`.
fn parse_arg(args: &Args<'_>, src: &str) -> Result<Expr, EvalError> {
    if crate::stack::exhausted() {
        return Err(EvalError::Limit(
            "maximum call stack exceeded (nested evaluation)".to_string(),
        ));
    }
    Expr::parse(src).map_err(|e| args.err(format!("invalid expression: {e}")))
}

pub(super) fn eval(args: &Args<'_>) -> Result<Outcome, EvalError> {
    args.count(1, 1)?;
    let expr = parse_arg(args, &args.string(0))?;
    Ok(Outcome::Node(expr.node))
}

/// The `_` variables seen by `map` and `filter` expressions.
struct Item<'a> {
    value: &'a Value,
    index: usize,
}

impl Machine for Item<'_> {
    fn get(&self, name: &str) -> Option<Lookup> {
        let v = match name {
            "_.value" => self.value.clone(),
            "_.index" | "_.key" => Value::from(self.index),
            "_" => {
                let mut m = Map::new();
                m.insert("value".into(), self.value.clone());
                m.insert("index".into(), Value::from(self.index));
                m.insert("key".into(), Value::from(self.index));
                Value::Object(m)
            }
            _ => return None,
        };
        Some(Lookup::Value(v))
    }
}

/// `_` first, then the surrounding machine.
struct Scoped<'a>(&'a dyn Machine, &'a dyn Machine);

impl Machine for Scoped<'_> {
    fn get(&self, name: &str) -> Option<Lookup> {
        self.0.get(name).or_else(|| self.1.get(name))
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        self.1.call(name, args)
    }
}

fn per_item(
    ctx: &Ctx<'_>,
    args: &Args<'_>,
    f: &mut dyn FnMut(&Value, Node) -> Result<bool, EvalError>,
) -> Result<(), EvalError> {
    args.count(2, 2)?;
    let items = args.list(0)?;
    let src = match args.get(1) {
        Value::String(s) => s,
        other => return Err(args.wrong_type(1, "an expression string", other)),
    };
    let expr = parse_arg(args, src)?;
    for (index, value) in items.iter().enumerate() {
        let item = Item { value, index };
        let scoped = Scoped(&item, ctx.machine);
        let out = match ctx.with_machine(&scoped).eval(&expr.node) {
            Ok(out) => out,
            Err(e) if e.is_unknown() || e.is_limit() => return Err(e),
            Err(e) => return Err(args.err(format!("item {index}: {e}"))),
        };
        if !f(value, out)? {
            break;
        }
    }
    Ok(())
}

pub(super) fn map(ctx: &Ctx<'_>, args: &Args<'_>) -> Result<Outcome, EvalError> {
    let mut out = Vec::new();
    per_item(ctx, args, &mut |_, node| {
        out.push(node);
        Ok(true)
    })?;
    // The items were charged as they were evaluated; this is the list holding them.
    ctx.reserve(SLOT.saturating_mul(out.len() as u64))?;
    if out.iter().all(|n| n.as_value().is_some()) {
        let values = out
            .into_iter()
            .filter_map(|n| match n {
                Node::Value(v) => Some(v),
                _ => None,
            })
            .collect();
        return Ok(Outcome::Value(Value::Array(values)));
    }
    Ok(Outcome::Node(Node::List(out)))
}

pub(super) fn filter(ctx: &Ctx<'_>, args: &Args<'_>) -> Result<Outcome, EvalError> {
    let mut out = Vec::new();
    let mut pending = false;
    per_item(ctx, args, &mut |value, node| match node {
        Node::Value(v) => {
            if truthy(&v) {
                ctx.charge(value)?;
                out.push(value.clone());
            }
            Ok(true)
        }
        _ => {
            pending = true;
            Ok(false)
        }
    })?;
    if pending {
        return Ok(Outcome::Keep);
    }
    Ok(Outcome::Value(Value::Array(out)))
}
