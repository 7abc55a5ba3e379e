//! JSON schemas generated from the model, and strict validation of raw documents against them.

pub(crate) mod validate;

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde_json::Value;

use crate::{Diagnostic, Kind, Source, TestWorkflow, TestWorkflowExecution, TestWorkflowTemplate};
use crate::{path, suggest};
use validate::{Issue, Problem};

/// The JSON schema (draft 2020-12, definitions under `$defs`) of a kind, as generated from the
/// model. Built once per process.
pub fn json_schema(kind: Kind) -> &'static Value {
    static SCHEMAS: OnceLock<[Value; 3]> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        [
            generate::<TestWorkflow>(),
            generate::<TestWorkflowTemplate>(),
            generate::<TestWorkflowExecution>(),
        ]
    });
    match kind {
        Kind::TestWorkflow => &schemas[0],
        Kind::TestWorkflowTemplate => &schemas[1],
        Kind::TestWorkflowExecution => &schemas[2],
    }
}

fn generate<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// Checks a raw document against `schema` and turns every problem into a diagnostic.
pub(crate) fn check(schema: &Value, value: &Value, source: &Source) -> Vec<Diagnostic> {
    validate::validate(schema, value)
        .into_iter()
        .map(|issue| diagnose(issue, source))
        .collect()
}

/// Checks any JSON value against a schema of either dialect this crate produces (the model's
/// JSON schema, or a CRD's structural schema). The diagnostics carry paths but no file or line.
pub fn check_value(schema: &Value, value: &Value) -> Vec<Diagnostic> {
    let source = Source {
        file: std::sync::Arc::from(""),
        locations: Default::default(),
    };
    check(schema, value, &source)
}

fn diagnose(issue: Issue, source: &Source) -> Diagnostic {
    let Issue {
        path: at,
        context,
        problem,
    } = issue;
    // The mapping the problem is in: the field's parent, or the mapping missing a field.
    let container = match &problem {
        Problem::Missing { .. } => at.as_str(),
        _ => path::parent(&at).unwrap_or(""),
    };
    let within = describe_context(context.as_deref(), container);
    match problem {
        Problem::UnknownField { field, expected } => {
            let mut d = source.diagnostic(&at, format!("unknown field `{field}`{within}"));
            if !expected.is_empty() {
                d.expected = Some(format!("one of: {}", expected.join(", ")));
            }
            if let Some(near) = suggest::nearest(&field, expected.iter().map(String::as_str)) {
                d.suggestion = Some(format!("did you mean `{near}`?"));
            }
            d
        }
        Problem::Missing { field } => {
            let d = source.diagnostic(&at, format!("missing required field `{field}`{within}"));
            d.with_expected(format!("`{field}` to be set"))
        }
        Problem::WrongType { expected, found } => {
            let name = path::last_name(&at);
            let subject = if name.is_empty() {
                "the document".to_owned()
            } else {
                format!("`{name}`")
            };
            let mut d = source.diagnostic(&at, format!("wrong type for {subject}: found {found}"));
            if expected == "an integer or a string"
                && matches!(found, "a boolean" | "a decimal number")
            {
                // Upstream reads these as int-or-string too, and rejects the same values.
                d.suggestion = Some("put the value in quotes to pass it as a string".into());
            }
            d.with_expected(expected)
        }
        Problem::NotAllowed { value, allowed } => {
            let name = path::last_name(&at);
            let mut d = source.diagnostic(&at, format!("invalid value `{value}` for `{name}`"));
            if !allowed.is_empty() {
                d.expected = Some(format!("one of: {}", allowed.join(", ")));
            }
            if let Some(near) = suggest::nearest(&value, allowed.iter().map(String::as_str)) {
                d.suggestion = Some(format!("did you mean `{near}`?"));
            }
            d
        }
        Problem::OutOfRange { detail } => {
            let name = path::last_name(&at);
            source.diagnostic(&at, format!("invalid value for `{name}`: {detail}"))
        }
    }
}

/// " in a step", " in `spec.content.git`": what the mapping holding the field is.
fn describe_context(context: Option<&str>, container: &str) -> String {
    let known = match context.map(|c| c.rsplit('.').next().unwrap_or(c)) {
        Some("Step") => Some("a step"),
        Some("StepRun") => Some("`run`"),
        Some("StepParallel") => Some("`parallel`"),
        Some("StepExecute") => Some("`execute`"),
        Some("StepArtifacts") => Some("`artifacts`"),
        Some("ExecuteWorkflow") => Some("an `execute.workflows` entry"),
        Some("ServiceSpec") => Some("a service"),
        Some("ContainerConfig") => Some("a container"),
        Some("WorkflowSpec") => Some("the spec of a TestWorkflow"),
        Some("SpecBody") => Some("the spec of a TestWorkflowTemplate"),
        Some("TestWorkflowExecutionSpec") => Some("the spec of a TestWorkflowExecution"),
        Some("TestWorkflow") => Some("a TestWorkflow"),
        Some("TestWorkflowTemplate") => Some("a TestWorkflowTemplate"),
        Some("TestWorkflowExecution") => Some("a TestWorkflowExecution"),
        Some("ObjectMeta") => Some("`metadata`"),
        Some("TemplateRef") => Some("a template reference"),
        Some("ParameterSchema") => Some("a config parameter"),
        Some("Content") => Some("`content`"),
        Some("ContentGit") => Some("`content.git`"),
        Some("EnvVar") => Some("an environment variable"),
        Some("PodConfig") => Some("`pod`"),
        Some("JobConfig") => Some("`job`"),
        _ => None,
    };
    match known {
        Some(phrase) => format!(" in {phrase}"),
        // The document root needs no qualifier; anything deeper is named by its path.
        None if container.is_empty() => String::new(),
        None => format!(" in `{container}`"),
    }
}
