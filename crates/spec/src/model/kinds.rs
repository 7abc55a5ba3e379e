use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{TemplateSpec, TestWorkflowExecutionSpec, WorkflowSpec};

/// The API group every kind of this crate belongs to.
pub const GROUP: &str = "testworkflows.testkube.io";
/// The only served version.
pub const VERSION: &str = "v1";
/// `apiVersion` of every document this crate accepts.
pub const API_VERSION: &str = "testworkflows.testkube.io/v1";

/// A test workflow: what to run, in which containers, with which inputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestWorkflow {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub spec: WorkflowSpec,
    /// Written by the server; accepted and ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// A reusable piece of a workflow, applied with `use` or `template`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestWorkflowTemplate {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub spec: TemplateSpec,
}

/// A request to run a workflow, and (in `status`) what became of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestWorkflowExecution {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TestWorkflowExecutionSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// The kinds of document this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    TestWorkflow,
    TestWorkflowTemplate,
    TestWorkflowExecution,
}

impl Kind {
    pub const ALL: [Kind; 3] = [
        Kind::TestWorkflow,
        Kind::TestWorkflowTemplate,
        Kind::TestWorkflowExecution,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TestWorkflow => "TestWorkflow",
            Kind::TestWorkflowTemplate => "TestWorkflowTemplate",
            Kind::TestWorkflowExecution => "TestWorkflowExecution",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The plural resource name used in CRDs and API paths.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::TestWorkflow => "testworkflows",
            Kind::TestWorkflowTemplate => "testworkflowtemplates",
            Kind::TestWorkflowExecution => "testworkflowexecutions",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
