//! The evaluator: one recursive pass that computes what it can and keeps the rest symbolic
//! (partial mode) or fails on anything unknown (finalize mode).

use std::cell::Cell;

use serde_json::{Map, Value};

use crate::ast::{Arg, BinOp, Expr, Node, UnOp};
use crate::error::{EvalError, Resource};
use crate::machine::{Lookup, Machine};
use crate::ops;
use crate::stack;
use crate::stdlib::{self, Outcome};
use crate::value::{number_value, to_number, truthy};

/// Deepest evaluation recursion (nodes, aliases, `eval`, `map`...).
pub(crate) const MAX_DEPTH: usize = 300;
/// Most node evaluations in one `resolve`/`finalize`.
pub(crate) const MAX_STEPS: u64 = 2_000_000;
/// Most bytes of values one `resolve`/`finalize` may build. A million-item `range` (80 MB of
/// JSON values) still fits; a million of them, or a second one beside it, does not.
pub(crate) const MAX_MEMORY: u64 = 128 << 20;

/// Shared counters that bound one evaluation.
#[derive(Default)]
pub(crate) struct Limits {
    depth: Cell<usize>,
    steps: Cell<u64>,
    /// Bytes of values built so far (see [`weight`]).
    memory: Cell<u64>,
}

/// In-memory size of one value slot (a list item, a map value, a scalar).
pub(crate) const SLOT: u64 = std::mem::size_of::<Value>() as u64;

/// Estimated bytes of `v`, counted until it exceeds `cap` (so weighing a huge value costs no
/// more than the budget left): a slot per value, plus string bytes and map keys.
pub(crate) fn weight(v: &Value, cap: u64) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![v];
    while let Some(v) = pending.pop() {
        total = total.saturating_add(SLOT);
        match v {
            Value::String(s) => total = total.saturating_add(s.len() as u64),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                for (k, item) in map {
                    // The key's String and bytes, and the map's index entry.
                    total = total.saturating_add(k.len() as u64 + 32);
                    pending.push(item);
                }
            }
            _ => {}
        }
        if total > cap {
            break;
        }
    }
    total
}

struct DepthGuard<'a>(&'a Cell<usize>);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// An evaluation context: the machine, the mode and the limits.
pub(crate) struct Ctx<'a> {
    pub machine: &'a dyn Machine,
    pub finalize: bool,
    pub limits: &'a Limits,
}

fn op_err(node: &Node, message: String) -> EvalError {
    let mut expr = Expr::from_node(node.clone()).to_string();
    if expr.len() > 200 {
        let cut = (0..=197)
            .rev()
            .find(|i| expr.is_char_boundary(*i))
            .unwrap_or(0);
        expr.truncate(cut);
        expr.push_str("...");
    }
    EvalError::Operation { expr, message }
}

/// Whether a (non-static) node certainly evaluates to a boolean without failing once its
/// variables are known. Used to simplify `x && true` → `x` and `x || false` → `x`.
fn plain_bool(node: &Node) -> bool {
    let simple = |n: &Node| matches!(n, Node::Var(_) | Node::Value(_));
    match node {
        Node::Unary(UnOp::Not, n) => simple(n),
        Node::Binary(BinOp::Eq | BinOp::Ne, l, r) => simple(l) && simple(r),
        _ => false,
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(machine: &'a dyn Machine, finalize: bool, limits: &'a Limits) -> Self {
        Ctx {
            machine,
            finalize,
            limits,
        }
    }

    /// A context with another machine, sharing mode and limits.
    pub(crate) fn with_machine<'b>(&'b self, machine: &'b dyn Machine) -> Ctx<'b> {
        Ctx {
            machine,
            finalize: self.finalize,
            limits: self.limits,
        }
    }

    /// Charges `bytes` about to be built (or just built) to the memory budget.
    pub(crate) fn reserve(&self, bytes: u64) -> Result<(), EvalError> {
        let used = self.limits.memory.get().saturating_add(bytes);
        if used > MAX_MEMORY {
            return Err(EvalError::Budget {
                resource: Resource::Memory,
                limit: MAX_MEMORY,
            });
        }
        self.limits.memory.set(used);
        Ok(())
    }

    /// Charges a value just built or copied to the memory budget.
    pub(crate) fn charge(&self, v: &Value) -> Result<(), EvalError> {
        let left = MAX_MEMORY.saturating_sub(self.limits.memory.get());
        self.reserve(weight(v, left))
    }

    fn enter(&self) -> Result<DepthGuard<'a>, EvalError> {
        let depth = self.limits.depth.get() + 1;
        if depth > MAX_DEPTH || stack::exhausted() {
            return Err(EvalError::Limit(format!(
                "maximum call stack exceeded (evaluation nested deeper than {MAX_DEPTH})"
            )));
        }
        let steps = self.limits.steps.get() + 1;
        if steps > MAX_STEPS {
            return Err(EvalError::Budget {
                resource: Resource::Steps,
                limit: MAX_STEPS,
            });
        }
        self.limits.depth.set(depth);
        self.limits.steps.set(steps);
        Ok(DepthGuard(&self.limits.depth))
    }

    /// Evaluates a node as far as possible.
    pub(crate) fn eval(&self, node: &Node) -> Result<Node, EvalError> {
        let _guard = self.enter()?;
        match node {
            Node::Value(_) => Ok(node.clone()),
            Node::Var(name) => self.var(name),
            Node::Prop(base, key) => {
                let b = self.eval(base)?;
                self.prop(node, b, key)
            }
            Node::Wildcard(base, path) => self.wildcard(node, base, path),
            Node::Unary(op, operand) => self.unary(node, *op, operand),
            Node::Binary(BinOp::And | BinOp::Or, ..) => self.logical(node),
            Node::Binary(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                match (l.as_value(), r.as_value()) {
                    (Some(a), Some(b)) => {
                        if *op == BinOp::Add && (a.is_string() || b.is_string()) {
                            // Concatenation: the string forms, before they are built.
                            let left = MAX_MEMORY.saturating_sub(self.limits.memory.get());
                            self.reserve(weight(a, left).saturating_add(weight(b, left)))?;
                        }
                        ops::binary(*op, a, b)
                            .map(Node::Value)
                            .map_err(|m| op_err(node, m))
                    }
                    _ => Ok(Node::Binary(*op, Box::new(l), Box::new(r))),
                }
            }
            Node::Ternary(c, a, b) => {
                let c = self.eval(c)?;
                match c.as_value() {
                    Some(v) => self.eval(if truthy(v) { a } else { b }),
                    None => Ok(Node::Ternary(
                        Box::new(c),
                        Box::new(self.eval_deferred(a)?),
                        Box::new(self.eval_deferred(b)?),
                    )),
                }
            }
            Node::Call(name, args) => self.call(name, args),
            Node::List(items) => {
                let items = items
                    .iter()
                    .map(|n| self.eval(n))
                    .collect::<Result<Vec<_>, _>>()?;
                // The items were charged as they were evaluated; this is the list itself.
                self.reserve(SLOT.saturating_mul(items.len() as u64))?;
                if items.iter().all(|n| n.as_value().is_some()) {
                    let values = items.into_iter().filter_map(into_value).collect();
                    return Ok(Node::Value(Value::Array(values)));
                }
                Ok(Node::List(items))
            }
            Node::Object(pairs) => {
                let pairs = pairs
                    .iter()
                    .map(|(k, n)| Ok((k.clone(), self.eval(n)?)))
                    .collect::<Result<Vec<_>, EvalError>>()?;
                let keys: u64 = pairs.iter().map(|(k, _)| k.len() as u64 + SLOT + 32).sum();
                self.reserve(keys)?;
                if pairs.iter().all(|(_, n)| n.as_value().is_some()) {
                    let mut map = Map::new();
                    for (k, n) in pairs {
                        if let Node::Value(v) = n {
                            map.insert(k, v);
                        }
                    }
                    return Ok(Node::Value(Value::Object(map)));
                }
                Ok(Node::Object(pairs))
            }
        }
    }

    /// Evaluates a branch that may never be taken: in partial mode its errors (other than
    /// limits) are not raised now but left for the evaluation that decides the branch.
    fn eval_deferred(&self, node: &Node) -> Result<Node, EvalError> {
        match self.eval(node) {
            Err(e) if !self.finalize && !e.is_limit() => Ok(node.clone()),
            other => other,
        }
    }

    /// Turns a machine's answer into a node, evaluating expressions further.
    pub(crate) fn lookup(&self, found: Lookup) -> Result<Node, EvalError> {
        match found {
            Lookup::Value(v) => {
                // Machines hand out copies: reading a big value a million times costs.
                self.charge(&v)?;
                Ok(Node::Value(v))
            }
            Lookup::Expr(e) => {
                let _guard = self.enter()?;
                self.eval(&e.node)
            }
        }
    }

    fn var(&self, name: &str) -> Result<Node, EvalError> {
        if let Some(found) = self.machine.get(name) {
            return self.lookup(found);
        }
        let mut cut = name.len();
        while let Some(dot) = name.get(..cut).and_then(|s| s.rfind('.')) {
            cut = dot;
            let Some(found) = self.machine.get(&name[..cut]) else {
                continue;
            };
            let mut node = self.lookup(found)?;
            let mut path = name[..cut].to_string();
            for key in name[cut + 1..].split('.') {
                path.push('.');
                path.push_str(key);
                node = match node {
                    Node::Value(v) => {
                        ops::property(&v, key).map(Node::Value).map_err(|message| {
                            EvalError::Operation {
                                expr: path.clone(),
                                message,
                            }
                        })?
                    }
                    other => Node::Prop(Box::new(other), key.to_string()),
                };
            }
            return Ok(node);
        }
        if self.finalize {
            return Err(EvalError::UnknownVariable(name.to_string()));
        }
        Ok(Node::Var(name.to_string()))
    }

    fn prop(&self, node: &Node, base: Node, key: &str) -> Result<Node, EvalError> {
        match base {
            Node::Value(v) => {
                let found = ops::property(&v, key).map_err(|m| op_err(node, m))?;
                self.charge(&found)?;
                Ok(Node::Value(found))
            }
            other => Ok(Node::Prop(Box::new(other), key.to_string())),
        }
    }

    fn wildcard(&self, node: &Node, base: &Node, path: &[String]) -> Result<Node, EvalError> {
        let b = self.eval(base)?;
        let Node::Value(v) = b else {
            return Ok(Node::Wildcard(Box::new(b), path.to_vec()));
        };
        let items = ops::wildcard_items(&v).map_err(|m| op_err(node, m))?;
        let mut out = Vec::with_capacity(items.len());
        for mut item in items {
            for key in path {
                item = ops::property(&item, key).map_err(|m| op_err(node, m))?;
            }
            self.charge(&item)?;
            out.push(item);
        }
        self.reserve(SLOT.saturating_mul(out.len() as u64))?;
        Ok(Node::Value(Value::Array(out)))
    }

    fn unary(&self, node: &Node, op: UnOp, operand: &Node) -> Result<Node, EvalError> {
        let x = self.eval(operand)?;
        let Node::Value(v) = &x else {
            return Ok(Node::Unary(op, Box::new(x)));
        };
        match op {
            UnOp::Not => Ok(Node::Value(Value::Bool(!truthy(v)))),
            UnOp::Neg => to_number(v)
                .and_then(|f| number_value(-f).ok_or_else(|| "not a finite number".into()))
                .map(Node::Value)
                .map_err(|m| op_err(node, m)),
        }
    }

    /// `&&` and `||`: return an operand (JS-like) and short-circuit, also when partial.
    fn logical(&self, node: &Node) -> Result<Node, EvalError> {
        let Node::Binary(op, l, r) = node else {
            return Ok(node.clone());
        };
        let is_and = *op == BinOp::And;
        let l = self.eval(l)?;
        if let Node::Value(v) = &l {
            return if truthy(v) == is_and {
                self.eval(r)
            } else {
                Ok(l)
            };
        }
        let r = self.eval_deferred(r)?;
        if plain_bool(&l)
            && let Some(Value::Bool(b)) = r.as_value()
        {
            // boolean && true = boolean; boolean && false = false (and dually for ||).
            return Ok(if *b == is_and {
                l
            } else {
                Node::Value(Value::Bool(*b))
            });
        }
        Ok(Node::Binary(*op, Box::new(l), Box::new(r)))
    }

    fn call(&self, name: &str, args: &[Arg]) -> Result<Node, EvalError> {
        if name == "any" {
            return self.call_any(args);
        }
        let mut evaluated = Vec::with_capacity(args.len());
        for a in args {
            evaluated.push(Arg {
                node: self.eval(&a.node)?,
                spread: a.spread,
            });
        }
        let keep = |evaluated: Vec<Arg>| Node::Call(name.to_string(), evaluated);
        // Arguments are moved, not copied, on the way to the machine and the standard library
        // (a million-item list would otherwise exist three times over); only a call with a
        // spread keeps its original arguments aside, to stay symbolic in its written form.
        let (flat, written) = if evaluated.iter().any(|a| a.spread) {
            let Some(flat) = expand_spreads(name, &evaluated)? else {
                if self.finalize {
                    return Err(EvalError::NotStatic(keep(evaluated).to_expr_string()));
                }
                return Ok(keep(evaluated));
            };
            (flat, Some(evaluated))
        } else {
            (evaluated.into_iter().map(|a| a.node).collect(), None)
        };
        let exprs: Vec<Expr> = flat.into_iter().map(Expr::from_node).collect();
        if let Some(answer) = self.machine.call(name, &exprs) {
            return match answer {
                Ok(found) => self.lookup(found),
                Err(message) => Err(EvalError::call(name, message)),
            };
        }
        let flat: Vec<Node> = exprs.into_iter().map(|e| e.node).collect();
        let kept = |flat: Vec<Node>, written: Option<Vec<Arg>>| {
            keep(written.unwrap_or_else(|| {
                flat.into_iter()
                    .map(|node| Arg {
                        node,
                        spread: false,
                    })
                    .collect()
            }))
        };
        if !stdlib::exists(name) {
            if self.finalize {
                return Err(EvalError::UnknownFunction(name.to_string()));
            }
            return Ok(kept(flat, written));
        }
        if flat.iter().any(|n| n.as_value().is_none()) {
            if self.finalize {
                return Err(EvalError::NotStatic(kept(flat, written).to_expr_string()));
            }
            return Ok(kept(flat, written));
        }
        let values: Vec<Value> = flat.into_iter().filter_map(into_value).collect();
        match stdlib::call(self, name, &values)? {
            Outcome::Value(v) => Ok(Node::Value(v)),
            Outcome::Node(n) => {
                let _guard = self.enter()?;
                self.eval(&n)
            }
            Outcome::Keep => {
                let flat = values.into_iter().map(Node::Value).collect();
                Ok(kept(flat, written))
            }
        }
    }

    /// `any(args...)`: the first argument that resolves (for a spread: the first item of the
    /// first non-empty list); `null` when none has a value; symbolic while some are unknown.
    fn call_any(&self, args: &[Arg]) -> Result<Node, EvalError> {
        let mut kept = Vec::with_capacity(args.len());
        let mut pending = false;
        let mut first_err = None;
        for a in args {
            let node = match self.eval(&a.node) {
                Ok(n) => n,
                Err(e) if e.is_limit() => return Err(e),
                Err(e) if self.finalize && !e.is_unknown() => return Err(e),
                Err(e) => {
                    // Not available (yet): try the next argument.
                    pending = true;
                    first_err.get_or_insert(e);
                    kept.push(a.clone());
                    continue;
                }
            };
            match (&node, a.spread) {
                (Node::Value(v), false) => return Ok(Node::Value(v.clone())),
                (Node::Value(Value::Array(items)), true) => {
                    if let Some(first) = items.first() {
                        return Ok(Node::Value(first.clone()));
                    }
                }
                (Node::Value(Value::Null), true) => {}
                (Node::Value(_), true) => {
                    return Err(EvalError::call(
                        "any",
                        "spread operator (...) used on a value that is not a list",
                    ));
                }
                _ => pending = true,
            }
            kept.push(Arg {
                node,
                spread: a.spread,
            });
        }
        if self.finalize
            && let Some(e) = first_err
        {
            return Err(e);
        }
        if pending {
            return Ok(Node::Call("any".into(), kept));
        }
        Ok(Node::Value(Value::Null))
    }
}

fn into_value(n: Node) -> Option<Value> {
    match n {
        Node::Value(v) => Some(v),
        _ => None,
    }
}

/// Expands static spread arguments into separate arguments; `None` when a spread argument is
/// still symbolic.
fn expand_spreads(name: &str, args: &[Arg]) -> Result<Option<Vec<Node>>, EvalError> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        if !a.spread {
            out.push(a.node.clone());
            continue;
        }
        match &a.node {
            Node::Value(Value::Array(items)) => {
                out.extend(items.iter().cloned().map(Node::Value));
            }
            Node::Value(Value::Null) => {}
            Node::Value(_) => {
                return Err(EvalError::call(
                    name,
                    "spread operator (...) used on a value that is not a list",
                ));
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

impl Node {
    fn to_expr_string(&self) -> String {
        Expr::from_node(self.clone()).to_string()
    }
}
