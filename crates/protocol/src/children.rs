//! How the toolkit asks its backend for child executions: parallel workers, services and
//! executed workflows.
//!
//! The toolkit runs inside the execution, next to the test code, so it holds no rights to
//! start anything itself. It asks the backend that runs the execution (the local runner's
//! loopback server, or the agent's API) over HTTP, with the execution's own token:
//!
//! | request | answer |
//! |---|---|
//! | `POST {url}` with a [`ChildRequest`] | [`ChildStarted`] |
//! | `GET {url}/{id}` | [`ChildState`] |
//! | `GET {url}/{id}/logs?from=N` | the child's log lines from line `N`, as text (header [`NEXT_HEADER`]: the line to go on from) |
//! | `POST {url}/{id}/abort`, `/resume` | `200` |
//! | `GET {url}/{id}/files/{name}` | the child's artifact `name` (a redirect to the artifact receiver) |
//! | `POST {url}/select` with a [`Selection`] | [`Selected`]: the workflow names that match |
//! | `POST {url}/stop` with a [`StopGroup`] | [`Stopped`]: the services of a step, stopped, as they ended |
//!
//! `{url}` and the token come in [`crate::toolkit::ToolkitSettings::children`]. Each child is
//! an execution of its own, linked to its parent by the tags [`PARENT_TAG`], [`PARENT_STEP_TAG`]
//! and [`KIND_TAG`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The tag naming a child's parent execution (by id).
pub const PARENT_TAG: &str = "testwerk.io/parent";
/// The tag naming the parent's step (ref) that started the child.
pub const PARENT_STEP_TAG: &str = "testwerk.io/parent-step";
/// The tag saying what the child is ([`ChildKind`]).
pub const KIND_TAG: &str = "testwerk.io/child";
/// The response header of a log read saying the line to read from next.
pub const NEXT_HEADER: &str = "x-testwerk-next";

/// What a child is to its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChildKind {
    /// An instance of a `parallel` step.
    Worker,
    /// An instance of a service.
    Service,
    /// A workflow run by `execute`.
    Execution,
}

impl ChildKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChildKind::Worker => "worker",
            ChildKind::Service => "service",
            ChildKind::Execution => "execution",
        }
    }
}

/// Start one child.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildRequest {
    pub kind: ChildKind,
    /// The parent's step that asks.
    pub parent_ref: String,
    pub workflow: ChildWorkflow,
    /// Config values for the workflow's parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// Which workflow a child runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChildWorkflow {
    /// A whole `TestWorkflow` document, built by the toolkit (a parallel worker, a service).
    /// Its `metadata.name` is a suffix (`r5-2`: step and instance); the backend puts the
    /// parent's workflow name in front.
    Document(serde_json::Value),
    /// A workflow the backend knows by name (`execute`).
    Named(String),
}

/// A child document named as its backend records it: `<parent workflow>-<suffix>`, where
/// the suffix is the document's own `metadata.name` (`r5-2`). The parent's part is cut so that
/// the name, with the execution number after it, stays a short DNS label.
pub fn named_document(
    doc: &serde_json::Value,
    parent_workflow: &str,
) -> (serde_json::Value, String) {
    let suffix: String = doc["metadata"]["name"]
        .as_str()
        .unwrap_or("child")
        .chars()
        .take(20)
        .collect();
    let keep = 49usize.saturating_sub(suffix.len());
    let base: String = parent_workflow.chars().take(keep).collect();
    let name = format!("{}-{suffix}", base.trim_end_matches('-'));
    let mut doc = doc.clone();
    doc["metadata"]["name"] = name.clone().into();
    (doc, name)
}

/// A child was accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildStarted {
    pub id: String,
}

/// Where a child is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildState {
    pub id: String,
    /// Its execution's name (`<workflow>-<number>`), once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `queued`, `running`, `passed`, `failed` or `aborted`.
    pub status: String,
    /// Why it failed or was aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The address its steps listen on (a service's `services.<name>.<i>.ip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// A step of it has started (its command runs or ran): a service without a readiness
    /// probe counts from here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub started: bool,
    /// A step of it is paused (`paused: true`): workers that all are get resumed together.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

impl ChildState {
    /// It has ended (passed, failed or aborted).
    pub fn is_done(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "running")
    }
}

/// `execute` with a `selector`: which workflows it names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

impl Selection {
    /// Whether a workflow with `labels` is one this selection names (it has every label).
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }
}

/// The workflows a [`Selection`] names, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selected {
    pub names: Vec<String>,
}

/// Stop the services a step started (the "kill" stage).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopGroup {
    /// The `parent_ref` the services were started with.
    pub parent_ref: String,
}

/// The services of a group, once stopped: a service that failed before it was stopped says
/// `failed`; one stopped while it ran says `aborted`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub children: Vec<ChildState>,
}

/// Where the toolkit asks for children, and its token (good for this one execution).
pub type ChildrenEndpoint = crate::toolkit::Endpoint;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_document_is_named_after_its_parent_within_a_label() {
        let doc = serde_json::json!({"metadata": {"name": "r5-2"}, "spec": {}});
        let (named, name) = named_document(&doc, "smoke");
        assert_eq!(name, "smoke-r5-2");
        assert_eq!(named["metadata"]["name"], "smoke-r5-2");
        let (_, long) = named_document(&doc, &"x".repeat(80));
        assert_eq!(long.len(), 50);
    }

    #[test]
    fn requests_read_back_and_the_token_is_not_debug_printed() {
        let request = ChildRequest {
            kind: ChildKind::Worker,
            parent_ref: "r5".into(),
            workflow: ChildWorkflow::Named("smoke".into()),
            config: BTreeMap::from([("browser".into(), "chrome".into())]),
        };
        let json = serde_json::to_string(&request).expect("json");
        assert_eq!(
            json,
            r#"{"kind":"worker","parentRef":"r5","workflow":{"named":"smoke"},"config":{"browser":"chrome"}}"#
        );
        assert_eq!(
            serde_json::from_str::<ChildRequest>(&json).expect("back"),
            request
        );
        let endpoint = ChildrenEndpoint {
            url: "http://127.0.0.1:1/x".into(),
            token: "secret".into(),
            shared: None,
        };
        assert!(!format!("{endpoint:?}").contains("secret"));
        let state = ChildState {
            id: "a".into(),
            name: None,
            status: "running".into(),
            reason: None,
            ip: None,
            started: false,
            paused: false,
        };
        assert!(!state.is_done());
    }
}
