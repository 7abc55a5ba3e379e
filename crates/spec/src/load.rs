//! Files → typed documents: YAML with positions, kind dispatch, schema validation, serde, checks.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::checks::{self, Context};
use crate::schema::{self, validate::type_name};
use crate::text;
use crate::yaml::{self, RawDocument};
use crate::{
    API_VERSION, Diagnostic, Kind, Source, TestWorkflow, TestWorkflowExecution,
    TestWorkflowTemplate, path, suggest,
};

/// One document of a file, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Document<T> {
    pub source: Source,
    /// 0-based position among the file's non-empty documents.
    pub index: usize,
    pub value: T,
}

impl<T> Document<T> {
    /// A diagnostic about the field at `path` of this document.
    pub fn diagnostic(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        self.source.diagnostic(path, message)
    }
}

/// A loaded document of any of the kinds this crate reads.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyDocument {
    Workflow(Document<TestWorkflow>),
    Template(Document<TestWorkflowTemplate>),
    Execution(Document<TestWorkflowExecution>),
}

impl AnyDocument {
    pub fn kind(&self) -> Kind {
        match self {
            AnyDocument::Workflow(_) => Kind::TestWorkflow,
            AnyDocument::Template(_) => Kind::TestWorkflowTemplate,
            AnyDocument::Execution(_) => Kind::TestWorkflowExecution,
        }
    }

    /// `metadata.name`, or `""` when absent.
    pub fn name(&self) -> &str {
        let metadata = match self {
            AnyDocument::Workflow(d) => &d.value.metadata,
            AnyDocument::Template(d) => &d.value.metadata,
            AnyDocument::Execution(d) => &d.value.metadata,
        };
        metadata.name.as_deref().unwrap_or("")
    }

    pub fn source(&self) -> &Source {
        match self {
            AnyDocument::Workflow(d) => &d.source,
            AnyDocument::Template(d) => &d.source,
            AnyDocument::Execution(d) => &d.source,
        }
    }

    pub fn index(&self) -> usize {
        match self {
            AnyDocument::Workflow(d) => d.index,
            AnyDocument::Template(d) => d.index,
            AnyDocument::Execution(d) => d.index,
        }
    }
}

/// Loads every document of a YAML file given as text. `file` names it in diagnostics.
///
/// All problems of the file are reported, not just the first; a file with any problem yields
/// no documents.
pub fn load_str(file: &str, text: &str) -> Result<Vec<AnyDocument>, Vec<Diagnostic>> {
    let (raw, mut errors) = yaml::parse(file, text);
    if raw.is_empty() && errors.is_empty() {
        let d = Diagnostic::file(file, "no documents: the file is empty");
        return Err(vec![d.with_expected(expected_kinds())]);
    }
    let file: Arc<str> = Arc::from(file);
    let mut documents = Vec::new();
    for (index, document) in raw.into_iter().enumerate() {
        match load_document(&file, index, document) {
            Ok(d) => documents.push(d),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(documents)
    } else {
        // In file order, as a reader fixes them; whole-file problems first.
        errors.sort_by_key(|d| d.location);
        Err(errors)
    }
}

/// Loads every document of a YAML file. An unreadable file yields one diagnostic without a
/// location.
pub fn load_path(path: &Path) -> Result<Vec<AnyDocument>, Vec<Diagnostic>> {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => load_bytes(&file, bytes),
        Err(e) => Err(vec![Diagnostic::file(
            file,
            format!("cannot read the file: {e}"),
        )]),
    }
}

/// Loads every document of a file's bytes: invalid UTF-8 is an error at its line and column.
pub fn load_bytes(file: &str, bytes: Vec<u8>) -> Result<Vec<AnyDocument>, Vec<Diagnostic>> {
    let text = text::decode(file, bytes)?;
    load_str(file, &text)
}

fn expected_kinds() -> String {
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    format!("a document of kind {}", kinds.join(", "))
}

fn load_document(
    file: &Arc<str>,
    index: usize,
    raw: RawDocument,
) -> Result<AnyDocument, Vec<Diagnostic>> {
    let RawDocument {
        value,
        locations,
        start,
    } = raw;
    let source = Source {
        file: Arc::clone(file),
        locations: Arc::new(locations),
    };
    let kind = identify(&value, &source, start)?;
    if let Some(at) = checks::too_deep(&value) {
        let message = format!("steps nested deeper than {} levels", checks::MAX_STEP_DEPTH);
        return Err(vec![source.diagnostic(&at, message)]);
    }
    let mut errors = schema::check(schema::json_schema(kind), &value, &source);
    if !errors.is_empty() {
        // The typed model would only repeat these; stop here.
        return Err(errors);
    }
    let (document, found) = match kind {
        Kind::TestWorkflow => {
            let wf: TestWorkflow = deserialize(&value, &source)?;
            let found = checks::spec(&wf.spec.body, Context::Workflow, &source);
            (
                AnyDocument::Workflow(Document {
                    source,
                    index,
                    value: wf,
                }),
                found,
            )
        }
        Kind::TestWorkflowTemplate => {
            let t: TestWorkflowTemplate = deserialize(&value, &source)?;
            let found = checks::spec(&t.spec, Context::Template, &source);
            (
                AnyDocument::Template(Document {
                    source,
                    index,
                    value: t,
                }),
                found,
            )
        }
        Kind::TestWorkflowExecution => {
            let e: TestWorkflowExecution = deserialize(&value, &source)?;
            (
                AnyDocument::Execution(Document {
                    source,
                    index,
                    value: e,
                }),
                Vec::new(),
            )
        }
    };
    errors.extend(found);
    if errors.is_empty() {
        Ok(document)
    } else {
        Err(errors)
    }
}

/// Which kind a raw document claims to be, from `apiVersion` and `kind`.
fn identify(
    value: &Value,
    source: &Source,
    start: crate::Location,
) -> Result<Kind, Vec<Diagnostic>> {
    let Value::Object(object) = value else {
        let mut d = source.diagnostic(
            "",
            format!("a document must be a mapping, found {}", type_name(value)),
        );
        d.location = Some(start);
        return Err(vec![d.with_expected(expected_kinds())]);
    };
    let mut errors = Vec::new();
    match object.get("apiVersion") {
        Some(Value::String(v)) if v == API_VERSION => {}
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            let d = source.diagnostic("apiVersion", format!("unsupported apiVersion `{shown}`"));
            errors.push(d.with_expected(format!("`{API_VERSION}` (the only version accepted)")));
        }
        None => {
            let d = source.diagnostic("", "missing required field `apiVersion`");
            errors.push(d.with_expected(format!("`apiVersion: {API_VERSION}`")));
        }
    }
    let names = Kind::ALL.map(Kind::as_str);
    let kind = match object.get("kind") {
        Some(Value::String(k)) => match Kind::parse(k) {
            Some(kind) => Some(kind),
            None => {
                let mut d = source.diagnostic("kind", format!("unknown kind `{k}`"));
                d.expected = Some(format!("one of: {}", names.join(", ")));
                d.suggestion = suggest::nearest(k, names).map(|n| format!("did you mean `{n}`?"));
                errors.push(d);
                None
            }
        },
        Some(other) => {
            let d = source.diagnostic(
                "kind",
                format!("wrong type for `kind`: found {}", type_name(other)),
            );
            errors.push(d.with_expected(format!("one of: {}", names.join(", "))));
            None
        }
        None => {
            let d = source.diagnostic("", "missing required field `kind`");
            errors.push(d.with_expected(format!("one of: {}", names.join(", "))));
            None
        }
    };
    match kind {
        Some(kind) if errors.is_empty() => Ok(kind),
        _ => Err(errors),
    }
}

/// serde, with the path of the field that failed (the schema check catches nearly everything
/// first; this covers what a schema cannot say, such as a number too large for its field).
fn deserialize<T: DeserializeOwned>(value: &Value, source: &Source) -> Result<T, Vec<Diagnostic>> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = serde_path(e.path());
        let message = format!("invalid value: {}", e.inner());
        vec![source.diagnostic(&at, message)]
    })
}

fn serde_path(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in p.iter() {
        out = match segment {
            Segment::Seq { index } => path::index(&out, *index),
            Segment::Map { key } => path::key(&out, key),
            Segment::Enum { variant } => path::key(&out, variant),
            Segment::Unknown => break,
        };
    }
    out
}
