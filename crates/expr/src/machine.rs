//! Machines: where variables and custom functions come from.

use std::fmt;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::ast::Expr;

/// A machine's answer: a value, or an expression to evaluate further (an alias such as
/// `passed` → `status == "passed"`, or a rewrite such as `secret(..)` → `env.x`).
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A value.
    Value(Value),
    /// An expression, resolved further with the same machines.
    Expr(Expr),
}

impl From<Value> for Lookup {
    fn from(v: Value) -> Self {
        Lookup::Value(v)
    }
}

impl From<Expr> for Lookup {
    fn from(e: Expr) -> Self {
        Lookup::Expr(e)
    }
}

impl From<&str> for Lookup {
    fn from(s: &str) -> Self {
        Lookup::Value(Value::String(s.to_string()))
    }
}

impl From<String> for Lookup {
    fn from(s: String) -> Self {
        Lookup::Value(Value::String(s))
    }
}

/// A source of variables and custom functions.
pub trait Machine {
    /// The value of the variable `name` (a full dotted name such as `env.HOME`), or `None`
    /// when this machine does not know it. Unknown dotted names are retried by the evaluator
    /// with shorter prefixes (`a.b.c` → `(a.b).c` → `((a).b).c`).
    fn get(&self, name: &str) -> Option<Lookup>;

    /// Calls the custom function `name`. The arguments are already simplified as far as
    /// possible (spreads expanded); they may still be symbolic. `None` means "not mine, or not
    /// yet": the call then goes to the standard library or stays symbolic.
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        let _ = (name, args);
        None
    }
}

/// A machine that knows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMachine;

impl Machine for NoMachine {
    fn get(&self, _name: &str) -> Option<Lookup> {
        None
    }
}

/// Variables from a map, optionally under a prefix (prefix `config` → `config.x`).
///
/// With a prefix, the prefix itself resolves to a map of all entries (when they are all
/// values), so `tojson(config)` works.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapMachine {
    prefix: Option<String>,
    vars: IndexMap<String, Lookup>,
}

impl MapMachine {
    /// Variables with the given names, e.g. from a `BTreeMap<String, Value>`, an `IndexMap`,
    /// a `serde_json::Map`, or a `Vec` of pairs. Values may also be [`Expr`]s.
    pub fn new<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Lookup>,
    {
        MapMachine {
            prefix: None,
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Variables reachable as `<prefix>.<name>`.
    pub fn with_prefix<I, K, V>(prefix: &str, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Lookup>,
    {
        let mut m = MapMachine::new(vars);
        if !prefix.is_empty() {
            m.prefix = Some(prefix.to_string());
        }
        m
    }

    /// Adds (or replaces) one variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Lookup>) -> &mut Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Builder form of [`MapMachine::set`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Lookup>) -> Self {
        self.set(name, value);
        self
    }

    fn whole(&self) -> Option<Lookup> {
        let mut map = Map::new();
        for (k, v) in &self.vars {
            match v {
                Lookup::Value(v) => {
                    map.insert(k.clone(), v.clone());
                }
                Lookup::Expr(_) => return None,
            }
        }
        Some(Lookup::Value(Value::Object(map)))
    }
}

impl Machine for MapMachine {
    fn get(&self, name: &str) -> Option<Lookup> {
        match &self.prefix {
            None => self.vars.get(name).cloned(),
            Some(prefix) => {
                let rest = name.strip_prefix(prefix.as_str())?;
                if rest.is_empty() {
                    return self.whole();
                }
                self.vars.get(rest.strip_prefix('.')?).cloned()
            }
        }
    }
}

type GetFn<'a> = Box<dyn Fn(&str) -> Option<Lookup> + 'a>;
type CallFn<'a> = Box<dyn Fn(&str, &[Expr]) -> Option<Result<Lookup, String>> + 'a>;

/// A machine made of closures.
///
/// ```
/// use testwerk_expr::{Expr, FnMachine, Lookup, Value};
/// let m = FnMachine::new(|name| name.strip_prefix("env.").map(|k| Lookup::from(format!("${k}"))))
///     .with_call(|name, args| match name {
///         // twice(x) → x+x, evaluated further
///         "twice" => Some(Ok(Lookup::Expr(Expr::parse(&format!("{0}+{0}", args.first()?)).ok()?))),
///         _ => None,
///     });
/// assert_eq!(Expr::parse("env.HOME").unwrap().finalize(&m).unwrap(), Value::from("$HOME"));
/// assert_eq!(Expr::parse("twice(2)").unwrap().finalize(&m).unwrap(), Value::from(4));
/// ```
pub struct FnMachine<'a> {
    get: Option<GetFn<'a>>,
    call: Option<CallFn<'a>>,
}

impl<'a> FnMachine<'a> {
    /// A machine answering variables with `get`.
    pub fn new(get: impl Fn(&str) -> Option<Lookup> + 'a) -> Self {
        FnMachine {
            get: Some(Box::new(get)),
            call: None,
        }
    }

    /// A machine answering only function calls.
    pub fn functions(call: impl Fn(&str, &[Expr]) -> Option<Result<Lookup, String>> + 'a) -> Self {
        FnMachine {
            get: None,
            call: Some(Box::new(call)),
        }
    }

    /// Adds a function handler.
    pub fn with_call(
        mut self,
        call: impl Fn(&str, &[Expr]) -> Option<Result<Lookup, String>> + 'a,
    ) -> Self {
        self.call = Some(Box::new(call));
        self
    }
}

impl fmt::Debug for FnMachine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnMachine")
            .field("get", &self.get.is_some())
            .field("call", &self.call.is_some())
            .finish()
    }
}

impl Machine for FnMachine<'_> {
    fn get(&self, name: &str) -> Option<Lookup> {
        self.get.as_ref().and_then(|g| g(name))
    }

    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        self.call.as_ref().and_then(|c| c(name, args))
    }
}

/// Several machines tried in order; the first that answers wins.
#[derive(Default)]
pub struct Chain<'a>(pub Vec<&'a dyn Machine>);

impl<'a> Chain<'a> {
    /// A chain of the given machines.
    pub fn new(machines: Vec<&'a dyn Machine>) -> Self {
        Chain(machines)
    }

    /// Appends a machine (tried after the others).
    pub fn with(mut self, m: &'a dyn Machine) -> Self {
        self.0.push(m);
        self
    }
}

fn first_get(ms: &[&dyn Machine], name: &str) -> Option<Lookup> {
    ms.iter().find_map(|m| m.get(name))
}

fn first_call(ms: &[&dyn Machine], name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
    ms.iter().find_map(|m| m.call(name, args))
}

impl Machine for Chain<'_> {
    fn get(&self, name: &str) -> Option<Lookup> {
        first_get(&self.0, name)
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        first_call(&self.0, name, args)
    }
}

impl Machine for [&dyn Machine] {
    fn get(&self, name: &str) -> Option<Lookup> {
        first_get(self, name)
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        first_call(self, name, args)
    }
}

impl<const N: usize> Machine for [&dyn Machine; N] {
    fn get(&self, name: &str) -> Option<Lookup> {
        first_get(self, name)
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        first_call(self, name, args)
    }
}

impl Machine for Vec<&dyn Machine> {
    fn get(&self, name: &str) -> Option<Lookup> {
        first_get(self, name)
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        first_call(self, name, args)
    }
}

impl<M: Machine + ?Sized> Machine for &M {
    fn get(&self, name: &str) -> Option<Lookup> {
        (**self).get(name)
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        (**self).call(name, args)
    }
}

impl<M: Machine + ?Sized> Machine for Box<M> {
    fn get(&self, name: &str) -> Option<Lookup> {
        (**self).get(name)
    }
    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        (**self).call(name, args)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn map_machine_prefix_and_whole() {
        let mut vars = BTreeMap::new();
        vars.insert("x".to_string(), json!(1));
        vars.insert("y".to_string(), json!("b"));
        let m = MapMachine::with_prefix("config", vars);
        assert_eq!(m.get("config.x"), Some(Lookup::Value(json!(1))));
        assert_eq!(m.get("x"), None);
        assert_eq!(m.get("configx"), None);
        assert_eq!(
            m.get("config"),
            Some(Lookup::Value(json!({"x": 1, "y": "b"})))
        );
    }

    #[test]
    fn chain_tries_in_order() {
        let a = MapMachine::new([("v", json!(1))]);
        let b = MapMachine::new([("v", json!(2)), ("w", json!(3))]);
        let chain = [&a as &dyn Machine, &b];
        assert_eq!(chain.get("v"), Some(Lookup::Value(json!(1))));
        assert_eq!(chain.get("w"), Some(Lookup::Value(json!(3))));
        let c = Chain::new(vec![&b, &a]);
        assert_eq!(c.get("v"), Some(Lookup::Value(json!(2))));
        assert_eq!(c.get("zz"), None);
    }
}
