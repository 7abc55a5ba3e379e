//! Variables known when the bundle is built (upstream's phase B), and the walk that applies
//! them to every template and expression of the workflow.

use std::cell::RefCell;

use indexmap::IndexMap;
use serde_json::Value as Json;
use testwerk_expr::{Expr, Lookup, Machine, Value};

use crate::error::PlanError;

/// An env var every container gets because an expression called `secret(name, key)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretEnv {
    /// The variable name the expression reads (`env.<name>`).
    pub name: String,
    pub secret: String,
    pub key: String,
    /// The value is a template to compute at runtime rather than the secret itself.
    pub computed: bool,
}

/// Phase-B variables: `resource.*`, `workflow.name`, `internal.*`, `pvcs.<name>.name`, and the
/// `secret()` function. Everything else stays symbolic for the runtime.
pub struct BundleVariables {
    pub values: IndexMap<String, Value>,
    pub secrets: RefCell<Vec<SecretEnv>>,
}

impl BundleVariables {
    pub fn new(values: IndexMap<String, Value>) -> Self {
        Self {
            values,
            secrets: RefCell::new(Vec::new()),
        }
    }

    fn secret_env(&self, secret: &str, key: &str, computed: bool) -> String {
        // Names and keys may hold `-` and `.`, which env names cannot: number each one so two
        // different names cannot collide after mangling.
        let mut counter = 0;
        let mut mangle = |s: &str| {
            let mut out = String::new();
            for c in s.chars() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    out.push(c);
                } else {
                    out.push_str(&format!("_{counter}_"));
                    counter += 1;
                }
            }
            out
        };
        let name = format!("{}_K_{}", mangle(secret), mangle(key));
        let mut secrets = self.secrets.borrow_mut();
        if !secrets.iter().any(|s| s.name == name) {
            secrets.push(SecretEnv {
                name: name.clone(),
                secret: secret.into(),
                key: key.into(),
                computed,
            });
        }
        name
    }
}

impl Machine for BundleVariables {
    fn get(&self, name: &str) -> Option<Lookup> {
        self.values.get(name).cloned().map(Lookup::Value)
    }

    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        if name != "secret" {
            return None;
        }
        let text = |i: usize| {
            args.get(i)
                .and_then(|a| a.static_value())
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let (Some(secret), Some(key)) = (text(0), text(1)) else {
            if args.len() < 2 {
                return Some(Err("secret(name, key) needs two arguments".into()));
            }
            return None;
        };
        let computed = args
            .get(2)
            .and_then(|a| a.static_value())
            .is_some_and(testwerk_expr::truthy);
        let env = self.secret_env(&secret, &key, computed);
        Some(
            Expr::parse(&format!("env.{env}"))
                .map(Lookup::Expr)
                .map_err(|e| e.to_string()),
        )
    }
}

/// Functions only the runtime provides; every other name must be a built-in.
const RUNTIME_FUNCTIONS: [&str; 4] = ["file", "glob", "secret", "credential"];

/// Upstream defers an unknown function to the runtime, where the step then fails; a typo is
/// cheaper to fix before anything runs.
fn check_functions(expr: &Expr, path: &str) -> Result<(), PlanError> {
    let known = || testwerk_expr::FUNCTIONS.iter().chain(RUNTIME_FUNCTIONS.iter()).copied();
    for name in expr.functions() {
        if known().any(|k| k == name) {
            continue;
        }
        let mut error = PlanError::new(path, format!("unknown function `{name}`"));
        if let Some(near) = testwerk_spec::suggest::nearest(&name, known()) {
            error = error.with_help(format!("did you mean `{near}`?"));
        }
        return Err(error);
    }
    Ok(())
}

/// Keys whose string values are expressions rather than `{{ }}` templates.
const EXPRESSION_KEYS: [&str; 3] = ["condition", "until", "logs"];
/// Keys left exactly as written.
const UNTOUCHED_KEYS: [&str; 2] = ["id", "paused"];

/// Resolves every template and expression under `value` as far as `machine` allows.
pub fn simplify_tree(value: &mut Json, machine: &dyn Machine, path: &str) -> Result<(), PlanError> {
    match value {
        Json::Object(map) => {
            for (key, child) in map.iter_mut() {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if UNTOUCHED_KEYS.contains(&key.as_str()) {
                    continue;
                }
                match child {
                    Json::String(s) if EXPRESSION_KEYS.contains(&key.as_str()) => {
                        *s = simplify_expression(s, machine, &here)?;
                    }
                    Json::Object(m) if key == "matrix" || key == "shards" => {
                        for (k, v) in m.iter_mut() {
                            match v {
                                Json::String(s) => {
                                    *s = simplify_expression(s, machine, &format!("{here}.{k}"))?
                                }
                                other => simplify_tree(other, machine, &format!("{here}.{k}"))?,
                            }
                        }
                    }
                    other => simplify_tree(other, machine, &here)?,
                }
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                simplify_tree(item, machine, &format!("{path}[{i}]"))?;
            }
        }
        Json::String(s) if s.contains("{{") => {
            *s = testwerk_expr::resolve_template(s, machine)
                .map_err(|e| PlanError::new(path, format!("invalid template `{s}`: {e}")))?;
            if let Ok(t) = testwerk_expr::Template::parse(s) {
                for e in t.expressions() {
                    check_functions(e, path)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn simplify_expression(
    source: &str,
    machine: &dyn Machine,
    path: &str,
) -> Result<String, PlanError> {
    let expr = Expr::parse(source)
        .map_err(|e| PlanError::new(path, format!("invalid expression `{source}`: {e}")))?;
    let resolved = expr
        .resolve(machine)
        .map_err(|e| PlanError::new(path, format!("cannot evaluate `{source}`: {e}")))?;
    check_functions(&resolved, path)?;
    Ok(match resolved.static_value() {
        Some(Value::String(s)) => Json::String(s.clone()).to_string(),
        Some(v) => v.to_string(),
        None => resolved.to_string(),
    })
}

/// Replaces every template under `value` by its final text; anything still unknown is an error,
/// because Kubernetes objects cannot wait for the runtime.
pub fn finalize_tree(value: &mut Json, path: &str) -> Result<(), PlanError> {
    match value {
        Json::Object(map) => {
            for (key, child) in map.iter_mut() {
                finalize_tree(child, &format!("{path}.{key}"))?;
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                finalize_tree(item, &format!("{path}[{i}]"))?;
            }
        }
        Json::String(s) if s.contains("{{") => *s = final_text(s, path)?,
        _ => {}
    }
    Ok(())
}

/// The final text of one template (after phase B), or an error naming what is still unknown.
pub fn final_text(template: &str, path: &str) -> Result<String, PlanError> {
    let parsed = testwerk_expr::Template::parse(template)
        .map_err(|e| PlanError::new(path, format!("invalid template `{template}`: {e}")))?;
    parsed.static_string().ok_or_else(|| {
        PlanError::new(
            path,
            format!("`{template}` must be known when the Kubernetes objects are built"),
        )
        .with_help("only config.*, workflow.*, resource.*, pvcs.* and secret() can be used here")
    })
}
