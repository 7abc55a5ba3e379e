//! Config parameters: turning given values and defaults into `config.<name>` variables, and
//! configuring a template with them.

use indexmap::IndexMap;
use testwerk_expr::{Expr, Lookup, Machine};
use testwerk_spec::{
    Document, ParamValue, ParameterSchema, ParameterType, SpecBody, TemplateRef,
    TestWorkflowTemplate, template_internal_name,
};

use crate::exprs::{self, Resolving};
use crate::params;
use crate::paths::{key, keys};
use crate::problem::Problem;
use crate::secrets::Secrets;
use crate::walk;
use testwerk_spec::suggest;

/// The `config.<name>` variables of one workflow or template.
///
/// Unlike a prefixed `MapMachine` it does not answer `config` itself: the evaluator would then
/// read a misspelled `config.nmae` as a missing key of that map, an empty string, instead of
/// reporting it.
#[derive(Clone, Debug, Default)]
pub struct ConfigMachine {
    values: IndexMap<String, Lookup>,
}

impl ConfigMachine {
    pub fn set(&mut self, name: &str, value: Lookup) {
        self.values.insert(name.to_owned(), value);
    }
}

impl Machine for ConfigMachine {
    fn get(&self, name: &str) -> Option<Lookup> {
        self.values.get(name.strip_prefix("config.")?).cloned()
    }
}

/// The variable `config.<name>` gets for the value text `text`.
///
/// The text is a template (`{{ }}` allowed). When it is static it is cast to the parameter's
/// type and checked against the schema; a sensitive value is moved into `secrets` and replaced
/// by the expression that reads it back. When it still refers to something unknown now
/// (`{{execution.id}}`), it stays an expression, cast at run time.
pub fn bind(
    text: &str,
    schema: &ParameterSchema,
    secrets: &mut Secrets,
    secret_key: &str,
) -> Result<Lookup, String> {
    match exprs::static_template(text)? {
        Some(plain) => {
            let value = params::cast(&plain, schema)?;
            if schema.sensitive == Some(true) {
                let form = testwerk_expr::to_string_form(&value);
                return Ok(Lookup::Expr(secrets.store(secret_key, form)));
            }
            Ok(Lookup::Value(value))
        }
        None => {
            let expr = exprs::template_expression(text)?;
            let cast = match schema.r#type.unwrap_or_default() {
                ParameterType::String => return Ok(Lookup::Expr(expr)),
                ParameterType::Integer => "int",
                ParameterType::Number => "float",
                ParameterType::Boolean => "bool",
            };
            Ok(Lookup::Expr(Expr::call(cast, vec![expr])))
        }
    }
}

/// Configures template `doc` with the values of `reference`: every `config.<name>` inside it
/// is resolved, and one left over (no value, no default, or not declared) is an error.
///
/// Problems carry paths inside the template document.
pub fn template(
    doc: &Document<TestWorkflowTemplate>,
    reference: &TemplateRef,
    secrets: &mut Secrets,
) -> Result<SpecBody, Vec<Problem>> {
    let spec = &doc.value.spec;
    let internal = template_internal_name(&reference.name);
    let mut problems = Vec::new();
    let mut machine = ConfigMachine::default();

    // Values given in the reference win over defaults. A value for an undeclared parameter is
    // accepted as a string, as upstream does: a template may drop a parameter that existing
    // workflows still pass.
    let undeclared = ParameterSchema::default();
    for (name, value) in &reference.config {
        let schema = spec.config.get(name).unwrap_or(&undeclared);
        let secret_key = format!("tpl.{internal}.{name}");
        match bind(&value.as_text(), schema, secrets, &secret_key) {
            Ok(lookup) => {
                machine.set(name, lookup);
            }
            Err(message) => problems.push(Problem::new(
                keys("spec.config", &[name]),
                format!("config.{name}: {message}"),
            )),
        }
    }
    for (name, schema) in &spec.config {
        if reference.config.contains_key(name) {
            continue;
        }
        let Some(default) = &schema.default else {
            continue;
        };
        let secret_key = format!("tpl.{internal}.{name}");
        match bind(&default.as_text(), schema, secrets, &secret_key) {
            Ok(lookup) => {
                machine.set(name, lookup);
            }
            Err(message) => problems.push(Problem::new(
                keys("spec.config", &[name, "default"]),
                format!("config.{name}: default: {message}"),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut value = match serde_json::to_value(spec) {
        Ok(v) => v,
        Err(e) => return Err(vec![Problem::new("spec", format!("internal error: {e}"))]),
    };
    let mut rewriter = Resolving::new(&machine, true);
    problems.extend(
        walk::spec(&mut value, "spec", &mut rewriter)
            .into_iter()
            .map(|e| Problem::new(e.path, e.message)),
    );
    if !problems.is_empty() {
        // A value passed under a name the template does not declare is the likely cause.
        let undeclared: Vec<&str> = reference
            .config
            .keys()
            .filter(|k| !spec.config.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !undeclared.is_empty() {
            let declared: Vec<&str> = spec.config.keys().map(String::as_str).collect();
            let hint = format!(
                "the template does not declare {}; it declares: {}",
                undeclared.join(", "),
                if declared.is_empty() {
                    "nothing".to_owned()
                } else {
                    declared.join(", ")
                }
            );
            for p in &mut problems {
                p.suggestion.get_or_insert_with(|| hint.clone());
            }
        }
        return Err(problems);
    }
    let mut body: SpecBody = serde_json::from_value(value).map_err(|e| {
        vec![Problem::new(
            "spec",
            format!("the template is not valid once configured: {e}"),
        )]
    })?;
    // The schema stays with the template: it is not merged into the workflow.
    body.config = IndexMap::new();
    Ok(body)
}

/// The workflow's own `config.<name>` variables, from the caller's values and the defaults.
///
/// Every problem is reported: an unknown name (with the nearest declared one), a required
/// parameter without a value, a value of the wrong type or outside the constraints.
pub fn workflow(
    schema: &IndexMap<String, ParameterSchema>,
    given: &IndexMap<String, String>,
    secrets: &mut Secrets,
) -> Result<ConfigMachine, Vec<Problem>> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if schema.contains_key(name) {
            continue;
        }
        let message = if schema.is_empty() {
            format!("unknown config parameter \"{name}\": the workflow declares no parameters")
        } else {
            let declared: Vec<&str> = schema.keys().map(String::as_str).collect();
            format!(
                "unknown config parameter \"{name}\"; the workflow declares: {}",
                declared.join(", ")
            )
        };
        let hint = suggest::nearest(name, schema.keys()).map(|n| format!("did you mean \"{n}\"?"));
        problems.push(Problem::new("spec.config", message).with_suggestion(hint));
    }

    let mut machine = ConfigMachine::default();
    for (name, param) in schema {
        let at = keys("spec.config", &[name]);
        let text = match (given.get(name), &param.default) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => default.as_text(),
            (None, None) => {
                problems.push(
                    Problem::new(
                        at,
                        format!(
                            "config parameter \"{name}\" is required: it has no default and no value was given"
                        ),
                    )
                    .with_suggestion(Some(format!("pass a value, e.g. --config {name}=<value>"))),
                );
                continue;
            }
        };
        match bind(&text, param, secrets, name) {
            Ok(lookup) => {
                machine.set(name, lookup);
            }
            Err(message) => {
                let at = if given.contains_key(name) {
                    at
                } else {
                    key(&at, "default")
                };
                problems.push(Problem::new(at, format!("config.{name}: {message}")));
            }
        }
    }
    if problems.is_empty() {
        Ok(machine)
    } else {
        Err(problems)
    }
}

/// Replaces the defaults of sensitive parameters by the expression that reads the stored
/// value, so that the resolved workflow holds no secret.
pub fn hide_sensitive_defaults(
    schema: &mut IndexMap<String, ParameterSchema>,
    machine: &ConfigMachine,
) {
    for (name, param) in schema.iter_mut() {
        if param.sensitive != Some(true) || param.default.is_none() {
            continue;
        }
        param.default = match machine.get(&format!("config.{name}")) {
            Some(Lookup::Expr(e)) => Some(ParamValue::String(e.to_template())),
            _ => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_spelled_like_the_loader() {
        assert_eq!(keys("spec.config", &["a.b"]), "spec.config[\"a.b\"]");
    }
}
