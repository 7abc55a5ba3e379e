use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, Probe};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ContainerConfig, Content, ParamValue, PodConfig, TemplateRef};

/// A list given either literally or as an expression that evaluates to a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DynamicList {
    Static(Vec<serde_json::Value>),
    Expression(String),
}

/// Fields that fan a block out into several instances (`matrix`, `count`, `shards`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub matrix: IndexMap<String, DynamicList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<ParamValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<ParamValue>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub shards: IndexMap<String, DynamicList>,
}

/// Files copied from this Pod into a service or parallel worker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<DynamicList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<bool>,
}

/// Files copied back from parallel workers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fetch {
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<DynamicList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// `services.<name>`: a long-running container started beside the steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Templates contributing `pod`, `content`, `container` and `pvcs` only.
    #[serde(default, rename = "use", skip_serializing_if = "Vec::is_empty")]
    pub use_: Vec<TemplateRef>,
    #[serde(flatten)]
    pub container: ContainerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(flatten)]
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Expression: when to keep the service's logs (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// How long to wait for readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfer: Vec<Transfer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodConfig>,
    /// `OnFailure` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub pvcs: IndexMap<String, PersistentVolumeClaimSpec>,
}
