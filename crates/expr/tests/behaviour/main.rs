//! Behaviour tests of the expression language, by area.
#![allow(clippy::unwrap_used)]

mod budget;
mod errors;
mod machines;
mod operators;
mod partial;
mod stdlib;
mod templates;

use testwerk_expr::{Expr, Machine, MapMachine, NoMachine, Value};

/// Fully evaluates with no variables.
pub fn ev(src: &str) -> Value {
    match Expr::parse(src) {
        Ok(e) => match e.finalize(&NoMachine) {
            Ok(v) => v,
            Err(err) => panic!("evaluating `{src}`: {err}"),
        },
        Err(err) => panic!("parsing `{src}`: {err}"),
    }
}

/// Fully evaluates with a machine.
pub fn ev_with(src: &str, m: &dyn Machine) -> Value {
    match Expr::parse(src).unwrap().finalize(m) {
        Ok(v) => v,
        Err(err) => panic!("evaluating `{src}`: {err}"),
    }
}

/// Partially evaluates and prints.
pub fn res(src: &str, m: &dyn Machine) -> String {
    match Expr::parse(src).unwrap().resolve(m) {
        Ok(e) => e.to_string(),
        Err(err) => panic!("resolving `{src}`: {err}"),
    }
}

/// Partially evaluates with no variables and prints.
pub fn simp(src: &str) -> String {
    res(src, &NoMachine)
}

/// The error message of a full evaluation that must fail.
pub fn ev_err(src: &str) -> String {
    match Expr::parse(src) {
        Ok(e) => match e.finalize(&NoMachine) {
            Ok(v) => panic!("`{src}` should fail, gave {v}"),
            Err(err) => err.to_string(),
        },
        Err(err) => err.to_string(),
    }
}

pub fn vars(pairs: &[(&str, Value)]) -> MapMachine {
    MapMachine::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}
