use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ParamValue, Target};

/// `spec` of a `TestWorkflowExecution`: which workflow to run, and how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestWorkflowExecutionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_workflow: Option<WorkflowReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_request: Option<ExecutionRequest>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowReference {
    pub name: String,
}

/// Parameters of one execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub config: IndexMap<String, ParamValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_workflow_execution_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_webhooks: Option<bool>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_context: Option<RunningContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// Who or what started an execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunningContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<RunningInterface>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<RunningActor>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunningInterface {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `cli`, `ui`, `api`, `ci/cd` or `internal`.
    pub r#type: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunningActor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_reference: Option<String>,
    /// `cron`, `testtrigger`, `user`, `testworkflow`, `testworkflowexecution`, `program` or `gitintegration`.
    pub r#type: String,
}
