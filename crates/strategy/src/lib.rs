//! # testwerk-strategy: one block, many instances
//!
//! A `parallel` step, a service and an `execute` entry may each run as several instances
//! (Testkube's "strategy", `shared/spec/testkube-workflows.md` §5.2):
//!
//! - `matrix: {browser: [chrome, firefox], size: [s, m, l]}`: one instance per combination
//!   (here 6). The last key varies fastest. An empty list is left out.
//! - `shards: {files: [...]}` with `count: 3`: the lists are dealt into 3 shards of nearly
//!   equal size, the first shards taking the remainder (10 items: 4, 3, 3). With `maxCount`
//!   alone, there are as many shards as the shortest list has items, at most `maxCount`.
//! - `count` alone: that many identical instances; neither `count` nor `maxCount`: one.
//!
//! The instances are every shard of every combination: instance `i` is shard
//! `i % shardCount` of combination `i / shardCount`. Each instance sees the variables
//! `index`, `count`, `matrixIndex`, `matrixCount`, `matrix.<key>`, `shardIndex`, `shardCount`
//! and `shard.<key>` (a list) — see [`Instance::machine`].
//!
//! Lists and numbers may be expressions, evaluated with the machine the caller gives
//! (`count: config.workers`, `matrix: {browser: 'config.browsers'}`); a list's string items are
//! templates.
//!
//! ## Better than upstream
//!
//! - Keys keep their written order, so `matrix.<key>` of instance `i` is the same on every run
//!   (Testkube walks a Go map, whose order is random).
//! - The number of instances is checked against a limit before anything is built: a
//!   `matrix` of 1,000 × 1,000 is an error naming the field, not a million Jobs.

use indexmap::IndexMap;
use testwerk_expr::{Machine, MapMachine, Value};
use testwerk_spec::{DynamicList, ParamValue, Strategy};

/// The most instances one block may have unless the caller says otherwise.
pub const DEFAULT_LIMIT: usize = 1000;

/// Why the instances of a block cannot be listed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StrategyError {
    /// The field at fault, e.g. `matrix.browser`, `count`, `shards.files`.
    pub field: String,
    pub message: String,
}

impl StrategyError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> StrategyError {
        StrategyError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One instance of a block, with the values it sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub index: usize,
    pub count: usize,
    pub matrix_index: usize,
    pub matrix_count: usize,
    pub matrix: IndexMap<String, Value>,
    pub shard_index: usize,
    pub shard_count: usize,
    pub shard: IndexMap<String, Vec<Value>>,
}

impl Instance {
    /// The instance's variables: `index`, `count`, `matrixIndex`, `matrixCount`, `matrix`
    /// (`matrix.<key>`), `shardIndex`, `shardCount`, `shard` (`shard.<key>`).
    pub fn variables(&self) -> Vec<(&'static str, Value)> {
        let shard: serde_json::Map<String, Value> = self
            .shard
            .iter()
            .map(|(k, v)| (k.clone(), Value::Array(v.clone())))
            .collect();
        let matrix: serde_json::Map<String, Value> = self
            .matrix
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        vec![
            ("index", Value::from(self.index)),
            ("count", Value::from(self.count)),
            ("matrixIndex", Value::from(self.matrix_index)),
            ("matrixCount", Value::from(self.matrix_count)),
            ("matrix", Value::Object(matrix)),
            ("shardIndex", Value::from(self.shard_index)),
            ("shardCount", Value::from(self.shard_count)),
            ("shard", Value::Object(shard)),
        ]
    }

    /// A machine answering the instance's [`variables`](Instance::variables).
    pub fn machine(&self) -> MapMachine {
        MapMachine::new(self.variables())
    }
}

/// The instances of a block, evaluating its expressions with `machine`; at most `limit`.
pub fn instances(
    strategy: &Strategy,
    machine: &dyn Machine,
    limit: usize,
) -> Result<Vec<Instance>, StrategyError> {
    let mut matrix: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, list) in &strategy.matrix {
        let values = list_of(&format!("matrix.{key}"), list, machine)?;
        if !values.is_empty() {
            matrix.push((key.clone(), values));
        }
    }
    let mut shards: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, list) in &strategy.shards {
        shards.push((
            key.clone(),
            list_of(&format!("shards.{key}"), list, machine)?,
        ));
    }
    let count = strategy
        .count
        .as_ref()
        .map(|c| number_of("count", c, machine))
        .transpose()?;
    let max_count = strategy
        .max_count
        .as_ref()
        .map(|c| number_of("maxCount", c, machine))
        .transpose()?;
    let shard_count = match (count, max_count) {
        (None, None) => 1,
        (Some(c), None) => c,
        (Some(c), Some(m)) => c.min(m),
        (None, Some(m)) => shards
            .iter()
            .map(|(_, v)| v.len())
            .min()
            .map_or(m, |shortest| shortest.min(m)),
    };
    let mut matrix_count: usize = 1;
    for (key, values) in &matrix {
        matrix_count = matrix_count
            .checked_mul(values.len())
            .filter(|n| *n <= limit)
            .ok_or_else(|| too_many(&format!("matrix.{key}"), limit))?;
    }
    let total = matrix_count
        .checked_mul(shard_count)
        .filter(|n| *n <= limit)
        .ok_or_else(|| {
            let field = if strategy.count.is_some() {
                "count"
            } else {
                "maxCount"
            };
            too_many(field, limit)
        })?;
    Ok((0..total)
        .map(|index| {
            let shard_index = index % shard_count.max(1);
            let matrix_index = index / shard_count.max(1);
            Instance {
                index,
                count: total,
                matrix_index,
                matrix_count,
                matrix: combination(&matrix, matrix_index),
                shard_index,
                shard_count,
                shard: shards
                    .iter()
                    .map(|(k, v)| (k.clone(), deal(v, shard_count, shard_index).to_vec()))
                    .collect(),
            }
        })
        .collect())
}

fn too_many(field: &str, limit: usize) -> StrategyError {
    StrategyError::new(
        field,
        format!("more than {limit} instances; split the work or lower the count"),
    )
}

/// The values of combination `n`: the last key varies fastest.
fn combination(matrix: &[(String, Vec<Value>)], n: usize) -> IndexMap<String, Value> {
    let mut out = IndexMap::new();
    let mut rest = n;
    for (key, values) in matrix.iter().rev() {
        out.insert(key.clone(), values[rest % values.len()].clone());
        rest /= values.len();
    }
    out.reverse();
    out
}

/// Shard `j` of `items` dealt into `count` shards, the first ones taking the remainder.
pub fn deal(items: &[Value], count: usize, j: usize) -> &[Value] {
    if count == 0 {
        return &[];
    }
    let size = items.len() / count;
    let extra = items.len() - size * count;
    let (start, len) = if j < extra {
        (j * (size + 1), size + 1)
    } else {
        (extra + j * size, size)
    };
    items
        .get(start..(start + len).min(items.len()))
        .unwrap_or(&[])
}

/// A list: literal (its strings are templates) or an expression that evaluates to one.
fn list_of(
    field: &str,
    list: &DynamicList,
    machine: &dyn Machine,
) -> Result<Vec<Value>, StrategyError> {
    let fail = |e: testwerk_expr::Error| StrategyError::new(field, e.to_string());
    match list {
        DynamicList::Static(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) if s.contains("{{") => {
                    testwerk_expr::finalize_template(s, machine)
                        .map(Value::String)
                        .map_err(fail)
                }
                other => Ok(other.clone()),
            })
            .collect(),
        DynamicList::Expression(src) => match evaluate(src, machine).map_err(fail)? {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            other => Err(StrategyError::new(
                field,
                format!("`{src}` is {other}, not a list; write a list or an expression giving one"),
            )),
        },
    }
}

/// A non-negative whole number, literal or computed.
fn number_of(
    field: &str,
    value: &ParamValue,
    machine: &dyn Machine,
) -> Result<usize, StrategyError> {
    let computed = match value {
        ParamValue::Int(i) => Value::from(*i),
        ParamValue::String(src) => {
            evaluate(src, machine).map_err(|e| StrategyError::new(field, e.to_string()))?
        }
    };
    let number = match &computed {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= usize::MAX as f64 => Ok(n as usize),
        _ => Err(StrategyError::new(
            field,
            format!("{computed} is not a whole number of 0 or more"),
        )),
    }
}

/// An expression, written bare (`config.n * 2`) or as one template (`{{ config.n * 2 }}`).
fn evaluate(src: &str, machine: &dyn Machine) -> Result<Value, testwerk_expr::Error> {
    let trimmed = src.trim();
    let bare = trimmed
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .filter(|inner| !inner.contains("{{") && !inner.contains("}}"));
    testwerk_expr::finalize_expression(bare.unwrap_or(trimmed), machine)
}

/// Resolves, in every string of `value`, what `machine` knows (e.g. an instance's `index`);
/// everything else stays for later phases.
pub fn substitute(value: &mut Value, machine: &dyn Machine) -> Result<(), testwerk_expr::Error> {
    match value {
        Value::String(s) if s.contains("{{") => {
            *s = testwerk_expr::resolve_template(s, machine)?;
        }
        Value::Array(items) => {
            for item in items {
                substitute(item, machine)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                substitute(item, machine)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
