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

/// Resolves every template and expression of a spec (as JSON) as far as `machine` allows, using
/// the resolver's table of which fields are templates and which are expressions.
///
/// A variable of a namespace that is complete by now (`execution.*`, `workflow.*`, …; see
/// [`COMPILE_TIME_ROOTS`]) that is still unknown is an error naming the field: nothing would
/// provide it later, and the step would fail when it runs.
pub fn simplify_tree(
    value: &mut Json,
    variables: &BundleVariables,
    path: &str,
) -> Result<(), PlanError> {
    let mut rewriter = BundleRewriter {
        machine: variables,
        known: variables.values.keys().map(String::as_str).collect(),
    };
    match testwerk_resolve::walk::spec(value, path, &mut rewriter)
        .into_iter()
        .next()
    {
        Some(e) => Err(PlanError {
            path: e.path,
            message: e.message,
            help: None,
        }
        .with_known_help()),
        None => Ok(()),
    }
}

struct BundleRewriter<'a> {
    machine: &'a dyn Machine,
    /// The names this phase knows, for suggestions.
    known: Vec<&'a str>,
}

/// Namespaces of variables that scheduling (phase A) and bundling (phase B) fill completely:
/// anything of theirs still unknown after phase B is never provided. The runtime's own
/// namespaces (`env`, `step`, `output`, `services`, bare outputs and step references…) are
/// left alone, as only the running step can tell.
pub const COMPILE_TIME_ROOTS: &[&str] = &[
    "execution",
    "namespace",
    "workflow",
    "resource",
    "internal",
    "pvcs",
    "labels",
    "organization",
    "environment",
];

/// Phase-A variables (the resolver substitutes them before this phase), for suggestions.
const PHASE_A: &[&str] = &[
    "execution.id",
    "execution.groupId",
    "execution.name",
    "execution.number",
    "execution.scheduledAt",
    "namespace",
    "workflow.name",
    "workflow.labels",
    "organization.id",
    "organization.slug",
    "environment.id",
    "environment.slug",
];

fn check_variables(expr: &Expr, known: &[&str]) -> Result<(), String> {
    for name in expr.variables() {
        let root = name.split('.').next().unwrap_or_default();
        if !COMPILE_TIME_ROOTS.contains(&root) {
            continue;
        }
        let candidates = || PHASE_A.iter().chain(known).copied();
        let mut message =
            format!("unknown variable `{name}`: nothing provides it, so the step would fail");
        let same_root: Vec<&str> = candidates()
            .filter(|k| k.split('.').next() == Some(root))
            .collect();
        if !same_root.is_empty() {
            message.push_str(&format!("; known: {}", same_root.join(", ")));
        }
        if let Some(near) = testwerk_spec::suggest::nearest(&name, candidates()) {
            message.push_str(&format!(" (help: did you mean `{near}`?)"));
        }
        return Err(message);
    }
    Ok(())
}

impl testwerk_resolve::walk::Rewriter for BundleRewriter<'_> {
    fn template(&mut self, text: &str) -> Result<Option<String>, String> {
        if !text.contains("{{") {
            return Ok(None);
        }
        let resolved = testwerk_expr::resolve_template(text, self.machine)
            .map_err(|e| format!("invalid template `{text}`: {e}"))?;
        if let Ok(t) = testwerk_expr::Template::parse(&resolved) {
            for e in t.expressions() {
                check_functions(e)?;
                check_variables(e, &self.known)?;
            }
        }
        Ok(Some(resolved))
    }

    fn expression(&mut self, text: &str) -> Result<Option<String>, String> {
        let expr = Expr::parse(text).map_err(|e| format!("invalid expression `{text}`: {e}"))?;
        let resolved = expr
            .resolve(self.machine)
            .map_err(|e| format!("cannot evaluate `{text}`: {e}"))?;
        check_functions(&resolved)?;
        check_variables(&resolved, &self.known)?;
        Ok(Some(match resolved.static_value() {
            Some(Value::String(s)) => Json::String(s.clone()).to_string(),
            Some(v) => v.to_string(),
            None => resolved.to_string(),
        }))
    }
}

/// Functions only the runtime provides; every other name must be a built-in.
const RUNTIME_FUNCTIONS: [&str; 4] = ["file", "glob", "secret", "credential"];

/// Upstream defers an unknown function to the runtime, where the step then fails; a typo is
/// cheaper to fix before anything runs.
fn check_functions(expr: &Expr) -> Result<(), String> {
    let known = || {
        testwerk_expr::FUNCTIONS
            .iter()
            .chain(RUNTIME_FUNCTIONS.iter())
            .copied()
    };
    for name in expr.functions() {
        if known().any(|k| k == name) {
            continue;
        }
        let mut message = format!("unknown function `{name}`");
        if let Some(near) = testwerk_spec::suggest::nearest(&name, known()) {
            message.push_str(&format!(" (help: did you mean `{near}`?)"));
        }
        return Err(message);
    }
    Ok(())
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
