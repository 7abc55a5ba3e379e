//! The templates available to a workflow, found by name.

use std::collections::BTreeSet;
use std::sync::Mutex;

use indexmap::IndexMap;
use testwerk_spec::{Diagnostic, Document, TestWorkflowTemplate, template_internal_name};

/// Loaded `TestWorkflowTemplate` documents keyed by internal name, so that `official/k6/v1`
/// and `official--k6--v1` find the same template.
#[derive(Debug, Default)]
pub struct TemplateSet {
    templates: IndexMap<String, Document<TestWorkflowTemplate>>,
    /// Names asked for that the set lacks ([`TemplateSet::missed`]).
    missed: Mutex<BTreeSet<String>>,
}

impl Clone for TemplateSet {
    /// The templates; what the original missed stays with it.
    fn clone(&self) -> Self {
        TemplateSet {
            templates: self.templates.clone(),
            missed: Mutex::default(),
        }
    }
}

impl TemplateSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a template. The same template loaded twice is accepted (a cluster holds one object
    /// per name, and applying a file twice changes nothing); two different templates under one
    /// name are an error naming both files, because which one a workflow gets would otherwise
    /// depend on load order.
    // The signature is the compiler's contract; an error here is rare and one allocation-free
    // move of a Diagnostic is no cost worth boxing for.
    #[allow(clippy::result_large_err)]
    pub fn add(&mut self, doc: Document<TestWorkflowTemplate>) -> Result<(), Diagnostic> {
        let name = doc.value.metadata.name.clone().unwrap_or_default();
        if name.trim().is_empty() {
            return Err(doc
                .source
                .diagnostic("metadata", "a TestWorkflowTemplate needs `metadata.name`"));
        }
        let key = template_internal_name(&name);
        if let Some(existing) = self.templates.get(&key) {
            if existing.value.spec == doc.value.spec {
                return Ok(());
            }
            let first = existing.source.diagnostic("metadata.name", "");
            let at = match first.location {
                Some(loc) => format!("{}:{loc}", first.file),
                None => first.file,
            };
            return Err(doc
                .source
                .diagnostic(
                    "metadata.name",
                    format!("template \"{name}\" is defined twice, differently: here and in {at}"),
                )
                .with_suggestion("rename one of them, or keep a single definition"));
        }
        self.templates.insert(key, doc);
        Ok(())
    }

    /// The template called `name`, written either way (`a/b` or `a--b`).
    pub fn get(&self, name: &str) -> Option<&Document<TestWorkflowTemplate>> {
        let found = self.templates.get(&template_internal_name(name));
        if found.is_none()
            && let Ok(mut missed) = self.missed.lock()
        {
            missed.insert(template_internal_name(name).replace("--", "/"));
        }
        found
    }

    /// The templates a compilation with this set asked for and did not find (display names):
    /// a caller whose set may trail its source (a cluster's watch) loads it again when this
    /// is not empty, instead of reading error messages.
    pub fn missed(&self) -> Vec<String> {
        self.missed
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Display names (`a/b`) of every template, for suggestions.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.templates.keys().map(|k| k.replace("--", "/"))
    }

    /// The known name closest to `name`, when it is close enough to be a likely typo.
    pub fn nearest(&self, name: &str) -> Option<String> {
        testwerk_spec::suggest::nearest(&name.replace("--", "/"), self.names())
    }
}
