use indexmap::IndexMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ContainerConfig, Content, DynamicList, Fetch, ParamValue, ServiceSpec, SpecBody, Strategy,
    Target, TemplateRef, Transfer,
};

/// One step. A step may run something itself (`shell`, `run`, `execute`, `parallel`,
/// `artifacts`, `delay`) and may group sub-steps (`setup`, `steps`); both at once is allowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Stable id for `step.<id>.*`; derived from `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expression deciding whether the step runs; default `passed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Mergeable with neighbouring steps into one container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pure: Option<bool>,
    /// Expected to fail: the result is inverted.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub negative: bool,
    /// A failure does not fail the parent.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub optional: bool,
    /// Pause before running, until resumed.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Maximum duration (Go duration syntax), paused time excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Vec::is_empty")]
    pub use_: Vec<TemplateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<Step>,
    /// Sleep before the step, e.g. `1s`, `1m30s`, `500ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// A script run with `sh -c "set -e\n<script>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<StepRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute: Option<StepExecute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<StepArtifacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Box<StepParallel>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// `retry`: run again up to `count` times until `until` holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    pub count: i32,
    /// Expression; default `passed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `run`: a container of its own; `shell` is a shortcut for the command.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRun {
    #[serde(flatten)]
    pub container: ContainerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
}

/// `artifacts`: files to upload once the step is done.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepArtifacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<ArtifactCompression>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactCompression {
    pub name: String,
}

/// `execute`: run other workflows (legacy `tests` are accepted and ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepExecute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, rename = "async", skip_serializing_if = "Option::is_none")]
    pub async_: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<ExecuteWorkflow>,
}

/// One entry of `execute.workflows`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteWorkflow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_name: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tarball: IndexMap<String, TarballRequest>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub config: IndexMap<String, ParamValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// Files packed from this Pod and served to an executed workflow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TarballRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<DynamicList>,
}

/// `parallel`: a whole nested workflow run N times in separate Jobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepParallel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_fast: Option<bool>,
    #[serde(flatten)]
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Expression: when to keep the workers' logs (default: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfer: Vec<Transfer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetch: Vec<Fetch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    #[serde(default, rename = "use", skip_serializing_if = "Vec::is_empty")]
    pub use_: Vec<TemplateRef>,
    // Inline control and operations: they become the worker's implicit first step.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub negative: bool,
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<StepRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute: Option<StepExecute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<StepArtifacts>,
    #[serde(flatten)]
    pub body: SpecBody,
}
