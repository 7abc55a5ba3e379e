//! # testwerk-resolve
//!
//! Turns a `TestWorkflow`, the `TestWorkflowTemplate`s it may use and the config values of one
//! execution into a **self-contained workflow**: no `use`, no `template`, every `config.<name>`
//! substituted. The later stages (plan, bundle) never see a template.
//!
//! ```text
//! TestWorkflow + TemplateSet + ResolveOptions ──resolve()──► ResolvedWorkflow { workflow, secrets }
//! ```
//!
//! What happens, in order:
//!
//! 1. **Workflow config.** The caller's values (`--config k=v`) and the defaults of
//!    `spec.config` become `config.<name>`: cast to the declared type, checked against `enum`,
//!    `pattern`, lengths and bounds. Unknown names, missing required values and bad values are
//!    all reported. Sensitive values go to [`ResolvedWorkflow::secrets`]; the workflow refers to
//!    them as `secret("<secret name>", "<key>")`.
//! 2. **Phase-A variables** (scheduling time) are substituted in the workflow's own text:
//!    `config.*`, `workflow.name`, `workflow.labels`, `labels.<key>` (`.`, `-`, `/` → `_`) and
//!    whatever the caller's extra machine knows (`execution.id`, …). Anything else — `env.*`,
//!    `secret()`, `step.*`, `passed` … — stays as written, for later phases. Which strings are
//!    templates and which are whole expressions (`condition`, `retry.until`, `logs`, `count`)
//!    follows upstream's `expr` tags (see [`walk`](crate::walk)).
//! 3. **Templates** (§2.1 of the spec): workflow-level `use` (applied last to first), step-level
//!    `use`, step `template`, services' `use`, and parallel blocks (resolved like whole
//!    workflows). Each template is configured with its own `config` first, in isolation, so a
//!    template's parameters can never capture the workflow's `{{config.x}}`. A global template
//!    ([`ResolveOptions::global_template`]) joins the `use` of the workflow and of each of its
//!    steps. Merge rules are in [`merge`](crate::merge).
//! 4. Phase-A variables once more over everything the templates brought in.
//!
//! Every problem is a [`Diagnostic`] placed in the workflow file: at the field, or at the
//! `use[i]` / `template` reference when the problem is inside a template (whose name, file and
//! field are then in the message). References that loop (`a → b → a`) are reported with the
//! chain. Nothing here panics on any input.
//!
//! ## Deviations from upstream, on purpose
//! - A boolean parameter accepts `true/false/yes/no/on/off/1/0` and refuses anything else
//!   (upstream reads any other non-empty text as true); an integer parameter refuses `2.5`
//!   (upstream truncates). Constraints (`enum`, `pattern`, …) are enforced (upstream leaves
//!   them to the UI).
//! - A step `template` that brings services is wrapped in its own step instead of inlined, so
//!   the services are not lost.
//! - PVC specs are templated like everything else (upstream resolves them only at bundle time).
//!
//! Upstream quirks kept: the purity rule for step `use`, `resourceClaims` merged the other way
//! round, the global template not joining a parallel block's own `use`.

mod apply;
mod configure;
mod credentials;
pub use credentials::literal_credentials;
mod exprs;
mod flatten;
pub mod merge;
mod params;
mod paths;
mod phase;
mod problem;
mod secrets;
mod set;
pub mod walk;

use indexmap::IndexMap;
use testwerk_expr::{Chain, Machine};
use testwerk_spec::{Diagnostic, Document, TemplateRef, TestWorkflow, WorkflowSpec};

pub use flatten::flatten_step_list;
pub use set::TemplateSet;

use crate::exprs::Resolving;
use crate::problem::Problem;
use crate::secrets::Secrets;

/// What the caller knows about this execution.
#[derive(Default)]
pub struct ResolveOptions<'a> {
    /// Values of the workflow's config parameters, as text (`--config k=v`).
    pub config: IndexMap<String, String>,
    /// A template applied to the workflow and to each of its steps (the agent's global template).
    pub global_template: Option<TemplateRef>,
    /// Name of the Secret that will hold the values of sensitive parameters.
    pub secret_name: String,
    /// Further phase-A variables (`execution.id`, `resource.root`, …).
    pub variables: Option<&'a dyn Machine>,
}

/// A workflow with nothing left to look up elsewhere.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedWorkflow {
    pub workflow: TestWorkflow,
    /// Values of sensitive parameters by Secret key; the workflow reads them with
    /// `secret("<ResolveOptions::secret_name>", "<key>")`.
    pub secrets: IndexMap<String, String>,
}

/// Resolves `doc` with `templates` and the caller's values. See the crate documentation.
pub fn resolve(
    doc: &Document<TestWorkflow>,
    templates: &TemplateSet,
    opts: &ResolveOptions,
) -> Result<ResolvedWorkflow, Vec<Diagnostic>> {
    let fail = |problems: Vec<Problem>| -> Vec<Diagnostic> {
        problems
            .into_iter()
            .map(|p| p.into_diagnostic(&doc.source))
            .collect()
    };
    let mut workflow = doc.value.clone();
    let mut secrets = Secrets::new(opts.secret_name.clone());

    let config = configure::workflow(&workflow.spec.body.config, &opts.config, &mut secrets)
        .map_err(&fail)?;
    let known = phase::workflow_machine(&workflow);
    let mut machines: Vec<&dyn Machine> = vec![&config, &known];
    if let Some(extra) = opts.variables {
        machines.push(extra);
    }
    let machine = Chain::new(machines);

    // The workflow's own text first: its paths are still those of the file.
    workflow.spec = substitute(&workflow.spec, &machine).map_err(&fail)?;

    let mut problems = Vec::new();
    let mut spec = std::mem::take(&mut workflow.spec);
    apply::Applier::new(templates, opts.global_template.as_ref(), &mut secrets).workflow(
        &mut spec,
        "spec",
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    // What the templates brought in may use phase-A variables too.
    spec = substitute(&spec, &machine).map_err(&fail)?;
    configure::hide_sensitive_defaults(&mut spec.body.config, &config);
    credentials::hide(&mut spec, &mut secrets).map_err(|e| {
        fail(vec![Problem::new(
            "spec",
            format!("internal error while hiding Git credentials: {e}"),
        )])
    })?;
    workflow.spec = spec;
    Ok(ResolvedWorkflow {
        workflow,
        secrets: secrets.into_values(),
    })
}

/// Substitutes what `machine` knows in every expression of `spec`; a `config.*` it does not
/// know is an error.
fn substitute(spec: &WorkflowSpec, machine: &dyn Machine) -> Result<WorkflowSpec, Vec<Problem>> {
    let mut value = serde_json::to_value(spec)
        .map_err(|e| vec![Problem::new("spec", format!("internal error: {e}"))])?;
    let mut rewriter = Resolving::new(machine, true);
    let problems: Vec<Problem> = walk::spec(&mut value, "spec", &mut rewriter)
        .into_iter()
        .map(|e| Problem::new(e.path, e.message))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    serde_json::from_value(value).map_err(|e| {
        vec![Problem::new(
            "spec",
            format!("the workflow is not valid once its expressions are resolved: {e}"),
        )]
    })
}
