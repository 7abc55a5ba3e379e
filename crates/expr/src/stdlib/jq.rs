//! `jq(value, "query")` with the jaq interpreter: always a list of all results.
//!
//! The query runs on its own thread (with a large stack) so that a runaway query cannot
//! block the caller for more than [`TIMEOUT`] nor overflow the caller's stack; it may emit
//! at most [`MAX_RESULTS`] results. A query that loops forever without producing results
//! keeps its thread busy after the timeout (jaq offers no way to interrupt it).

use std::sync::mpsc;
use std::time::Duration;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::{Num, Val};
use serde_json::{Map, Value};

use super::Args;
use crate::error::EvalError;
use crate::value::number_value;

/// Most results one query may produce.
pub(crate) const MAX_RESULTS: usize = 10_000;
/// Longest a query may run.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
/// Deepest result structure converted back.
const MAX_DEPTH: usize = 128;
const STACK_SIZE: usize = 256 << 20;

pub(super) fn jq(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(2, 2)?;
    let input = args.get(0).clone();
    let query = args.string(1);
    run(input, query).map_err(|m| args.err(m))
}

/// Runs a query on a value, bounded in time and in number of results.
pub(crate) fn run(input: Value, query: String) -> Result<Value, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("testwerk-jq".into())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let result = run_here(&input, &query);
            let _ = tx.send(result);
        })
        .map_err(|e| format!("could not start the query: {e}"))?;
    match rx.recv_timeout(TIMEOUT) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "query did not finish within {} s",
            TIMEOUT.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("query failed".to_string()),
    }
}

fn run_here(input: &Value, query: &str) -> Result<Value, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: query,
                path: (),
            },
        )
        .map_err(|errs| {
            let details: Vec<String> = errs.iter().map(|(_, e)| format!("{e:?}")).collect();
            format!("invalid query `{query}`: {}", details.join("; "))
        })?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let details: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter().map(|(name, u)| format!("{name}: {u:?}")))
                .collect();
            format!("invalid query `{query}`: undefined {}", details.join(", "))
        })?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for item in filter.id.run((ctx, to_val(input))).map(unwrap_valr) {
        let v = item.map_err(|e| format!("query failed: {e}"))?;
        if out.len() >= MAX_RESULTS {
            return Err(format!("query produced more than {MAX_RESULTS} results"));
        }
        out.push(from_val(&v, 0)?);
    }
    Ok(Value::Array(out))
}

fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Val::Num(Num::from_integral(i))
            } else if let Some(u) = n.as_u64() {
                Val::Num(Num::from_integral(u))
            } else {
                Val::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Val::utf8_str(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => {
            let mut m = jaq_json::Map::default();
            for (k, v) in map {
                m.insert(Val::utf8_str(k.clone()), to_val(v));
            }
            Val::obj(m)
        }
    }
}

fn from_num(n: &Num) -> Value {
    let f = match n {
        Num::Int(i) => return Value::from(*i as i64),
        Num::Float(f) => *f,
        other => other.to_string().parse::<f64>().unwrap_or(f64::NAN),
    };
    number_value(f).unwrap_or(Value::Null)
}

fn from_val(v: &Val, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("query result is nested too deeply".to_string());
    }
    Ok(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => from_num(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(
            items
                .iter()
                .map(|i| from_val(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Val::Obj(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                let key = match k {
                    Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.to_string(),
                };
                out.insert(key, from_val(v, depth + 1)?);
            }
            Value::Object(out)
        }
    })
}
