//! What `testwerk-init` will evaluate when the steps run, checked against what it can evaluate.

use testwerk_expr::{Expr, Template};

use crate::error::PlanError;
use crate::stage::{Stage, StageMeta};

/// Built-in functions `testwerk-init` does not carry: it is built without `testwerk-expr`'s
/// optional features (see `crates/init/Cargo.toml`): jaq would add 1 MB (65%) to it and
/// serde-saphyr (`yaml`, `toyaml`) about 310 kB.
///
/// A call whose arguments are known here (config values, literals) has already been evaluated;
/// one that is left for the runtime could only fail its step, so it is refused now.
pub const NOT_IN_INIT: &[&str] = testwerk_expr::OPTIONAL;

/// Refuses calls to [`NOT_IN_INIT`] functions in anything `init` evaluates: conditions,
/// timeouts, retry `until`, and each container's command, arguments, working directory and
/// environment.
pub(crate) fn check(stage: &Stage) -> Result<(), PlanError> {
    match stage {
        Stage::Group(g) => {
            check_meta(&g.meta)?;
            g.children.iter().try_for_each(check)
        }
        Stage::Container(c) => {
            check_meta(&c.meta)?;
            let path = &c.meta.path;
            let config = &c.container;
            for (field, items) in [("command", &config.command), ("args", &config.args)] {
                for (i, item) in items.iter().flatten().enumerate() {
                    template(item, || format!("{path}.{field}[{i}]"))?;
                }
            }
            if let Some(dir) = &config.working_dir {
                template(dir, || format!("{path}.workingDir"))?;
            }
            for var in &config.env {
                if let Some(value) = &var.value {
                    template(value, || format!("{path}.env.{}", var.name))?;
                }
            }
            Ok(())
        }
    }
}

fn check_meta(meta: &StageMeta) -> Result<(), PlanError> {
    let path = &meta.path;
    if let Some(condition) = meta.condition.expression() {
        expression(&condition, || format!("{path}.condition"))?;
    }
    if let Some(timeout) = &meta.timeout {
        template(timeout, || format!("{path}.timeout"))?;
    }
    if let Some(until) = meta.retry.as_ref().and_then(|r| r.until.as_ref()) {
        expression(until, || format!("{path}.retry.until"))?;
    }
    Ok(())
}

fn template(text: &str, path: impl Fn() -> String) -> Result<(), PlanError> {
    if !text.contains("{{") {
        return Ok(());
    }
    match Template::parse(text) {
        Ok(t) => t.expressions().try_for_each(|e| calls(e, text, &path)),
        Err(_) => Ok(()),
    }
}

fn expression(text: &str, path: impl Fn() -> String) -> Result<(), PlanError> {
    match Expr::parse(text) {
        Ok(e) => calls(&e, text, &path),
        Err(_) => Ok(()),
    }
}

fn calls(expr: &Expr, text: &str, path: &impl Fn() -> String) -> Result<(), PlanError> {
    match expr
        .functions()
        .into_iter()
        .find(|f| NOT_IN_INIT.contains(&f.as_str()))
    {
        None => Ok(()),
        Some(name) => {
            let (engine, tool) = engine(&name);
            Err(PlanError::new(
                path(),
                format!(
                    "`{name}()` in `{text}` would run in testwerk-init, which has no {engine} engine"
                ),
            )
            .with_help(format!(
                "give {name}() arguments known when the workflow is compiled (config.*, literals), \
                 or run the `{tool}` tool inside the step"
            )))
        }
    }
}

/// The engine a [`NOT_IN_INIT`] function needs, as a person knows it, and a command-line tool
/// that does the same inside a step.
fn engine(function: &str) -> (&'static str, &'static str) {
    match function {
        "jq" => ("jq", "jq"),
        _ => ("YAML", "yq"),
    }
}
