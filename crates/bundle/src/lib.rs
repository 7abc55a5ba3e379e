//! # testwerk-bundle
//!
//! Turns a compiled [`Plan`] into the Kubernetes objects of one execution, in the order they
//! must be created: Secrets, ConfigMaps, PersistentVolumeClaims, then the Job whose Pod runs
//! every action group (all but the last as init containers).
//!
//! Every object carries the labels of [`labels`], so an agent can find all of an execution's
//! objects after a restart. The Pod spec follows upstream's defaults: `restartPolicy: Never`,
//! `enableServiceLinks: false`, `backoffLimit: 0`, and an fsGroup so that all containers can
//! share the working volumes.

pub mod containers;
pub mod delivery;
pub mod env;
pub mod image_volumes;
pub mod labels;
pub mod limits;
mod pod;
mod worker;

pub use worker::WorkerDefaults;

use indexmap::IndexMap;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use serde_json::Value as Json;

pub use pod::build;

/// Extra facts about one execution.
#[derive(Clone, Debug, Default)]
pub struct BundleOptions {
    /// When the execution was scheduled (RFC 3339); omitted for reproducible output.
    pub scheduled_at: Option<String>,
    /// Secret values (e.g. sensitive config) to create, by Secret name then key.
    pub secrets: IndexMap<String, IndexMap<String, String>>,
    /// Defaults of the runner for our own containers and volumes.
    pub worker: WorkerDefaults,
    /// Where the objects go: which size limits are checked (the objects are the same).
    pub target: limits::Target,
    /// What the backend tells the toolkit (Git mirrors, the artifact sink with its token):
    /// kept in a Secret of the execution (`<id>-toolkit`) and given only to the containers
    /// that run toolkit operations.
    pub toolkit: Option<testwerk_protocol::toolkit::ToolkitSettings>,
}

/// The objects of one execution.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub secrets: Vec<Secret>,
    pub config_maps: Vec<ConfigMap>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub job: Job,
}

impl Bundle {
    /// All objects as JSON values, in creation order, each with `apiVersion` and `kind`.
    pub fn objects(&self) -> Vec<Json> {
        let mut out = Vec::new();
        let mut push = |kind: &str, api: &str, v: Result<Json, serde_json::Error>| {
            if let Ok(Json::Object(mut m)) = v {
                let mut obj = serde_json::Map::new();
                obj.insert("apiVersion".into(), Json::String(api.into()));
                obj.insert("kind".into(), Json::String(kind.into()));
                m.shift_remove("apiVersion");
                m.shift_remove("kind");
                obj.extend(m);
                out.push(Json::Object(obj));
            }
        };
        for s in &self.secrets {
            push("Secret", "v1", serde_json::to_value(s));
        }
        for c in &self.config_maps {
            push("ConfigMap", "v1", serde_json::to_value(c));
        }
        for p in &self.pvcs {
            push("PersistentVolumeClaim", "v1", serde_json::to_value(p));
        }
        push("Job", "batch/v1", serde_json::to_value(&self.job));
        out
    }
}

/// A plan that cannot become valid Kubernetes objects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A value Kubernetes would refuse (a non-numeric user id, a bad quantity).
    #[error("{0}")]
    Invalid(String),
    /// The workflow is too big for one of Kubernetes' size limits.
    #[error(transparent)]
    TooBig(#[from] limits::LimitError),
}
