//! Actions: the flat program `init` executes, and its compact wire format.
//!
//! The wire format is one JSON object per action with a single one-letter key (the shape upstream
//! uses, which keeps the Pod annotation small); the whole plan is wrapped in `{"v":1,"g":[…]}` so
//! that a future `init` can refuse a plan it does not understand.

use serde::{Deserialize, Serialize};
use testwerk_spec::ContainerConfig;

/// The version of the plan wire format.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What the setup step copies into the shared volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupCopies {
    /// Copy `init` (a user image will run it).
    #[serde(rename = "i", default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// Copy the toolkit (a user image will run toolkit operations).
    #[serde(rename = "t", default, skip_serializing_if = "std::ops::Not::not")]
    pub toolkit: bool,
    /// Copy the shell and basic tools (a user image will run `shell` steps).
    #[serde(rename = "b", default, skip_serializing_if = "std::ops::Not::not")]
    pub binaries: bool,
}

/// The part of a container transition `init` needs at runtime; the rest is in the Pod spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Setup(SetupCopies),
    Declare {
        r#ref: String,
        id: Option<String>,
        condition: String,
        parents: Vec<String>,
    },
    Result {
        r#ref: String,
        value: String,
    },
    /// Switch to another step's container settings; the full config is kept for grouping and
    /// for building the Kubernetes container.
    Container {
        r#ref: String,
        config: Box<ContainerConfig>,
    },
    CurrentStatus(String),
    Start(String),
    End(String),
    Execute {
        r#ref: String,
        negative: bool,
        toolkit: bool,
        pure: bool,
    },
    Timeout {
        r#ref: String,
        timeout: String,
    },
    Pause {
        r#ref: String,
    },
    Retry {
        r#ref: String,
        count: i32,
        until: Option<String>,
    },
}

impl Action {
    /// Sort priority: setup first, then every declaration, pause, result, timeout and retry, so
    /// that each container knows the whole tree; everything else keeps its order.
    pub(crate) fn priority(&self) -> u8 {
        match self {
            Action::Setup(_) => 0,
            Action::Declare { .. } => 1,
            Action::Pause { .. } => 2,
            Action::Result { .. } => 3,
            Action::Timeout { .. } => 4,
            Action::Retry { .. } => 5,
            _ => 6,
        }
    }

    pub fn step_ref(&self) -> Option<&str> {
        match self {
            Action::Setup(_) | Action::CurrentStatus(_) => None,
            Action::Declare { r#ref, .. }
            | Action::Result { r#ref, .. }
            | Action::Container { r#ref, .. }
            | Action::Execute { r#ref, .. }
            | Action::Timeout { r#ref, .. }
            | Action::Pause { r#ref }
            | Action::Retry { r#ref, .. } => Some(r#ref),
            Action::Start(r) | Action::End(r) => Some(r),
        }
    }
}

/// The wire form of one action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WireAction {
    #[serde(rename = "_")]
    Setup(SetupCopies),
    #[serde(rename = "d")]
    Declare {
        #[serde(rename = "c")]
        condition: String,
        #[serde(rename = "r")]
        r#ref: String,
        #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
        parents: Vec<String>,
    },
    #[serde(rename = "r")]
    Result {
        #[serde(rename = "r")]
        r#ref: String,
        #[serde(rename = "v")]
        value: String,
    },
    #[serde(rename = "c")]
    Container {
        #[serde(rename = "r")]
        r#ref: String,
        #[serde(rename = "c")]
        config: Transition,
    },
    #[serde(rename = "s")]
    CurrentStatus(String),
    #[serde(rename = "S")]
    Start(String),
    #[serde(rename = "E")]
    End(String),
    #[serde(rename = "e")]
    Execute {
        #[serde(rename = "r")]
        r#ref: String,
        #[serde(rename = "n", default, skip_serializing_if = "std::ops::Not::not")]
        negative: bool,
        #[serde(rename = "t", default, skip_serializing_if = "std::ops::Not::not")]
        toolkit: bool,
        #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
        pure: bool,
    },
    #[serde(rename = "t")]
    Timeout {
        #[serde(rename = "r")]
        r#ref: String,
        #[serde(rename = "t")]
        timeout: String,
    },
    #[serde(rename = "p")]
    Pause {
        #[serde(rename = "r")]
        r#ref: String,
    },
    #[serde(rename = "R")]
    Retry {
        #[serde(rename = "r")]
        r#ref: String,
        #[serde(rename = "c")]
        count: i32,
        #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
}

/// The plan as `init` receives it: one list of actions per container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WirePlan {
    #[serde(rename = "v")]
    pub version: u32,
    #[serde(rename = "g")]
    pub groups: Vec<Vec<WireAction>>,
}

impl Action {
    /// The wire form; a container transition keeps only what `init` uses at runtime.
    pub fn to_wire(&self) -> WireAction {
        match self.clone() {
            Action::Setup(s) => WireAction::Setup(s),
            Action::Declare {
                r#ref,
                id,
                condition,
                parents,
            } => WireAction::Declare {
                condition,
                r#ref,
                id,
                parents,
            },
            Action::Result { r#ref, value } => WireAction::Result { r#ref, value },
            Action::Container { r#ref, config } => WireAction::Container {
                r#ref,
                config: Transition {
                    command: config.command,
                    args: config.args,
                    working_dir: config.working_dir,
                },
            },
            Action::CurrentStatus(s) => WireAction::CurrentStatus(s),
            Action::Start(r) => WireAction::Start(r),
            Action::End(r) => WireAction::End(r),
            Action::Execute {
                r#ref,
                negative,
                toolkit,
                pure,
            } => WireAction::Execute {
                r#ref,
                negative,
                toolkit,
                pure,
            },
            Action::Timeout { r#ref, timeout } => WireAction::Timeout { r#ref, timeout },
            Action::Pause { r#ref } => WireAction::Pause { r#ref },
            Action::Retry {
                r#ref,
                count,
                until,
            } => WireAction::Retry {
                r#ref,
                count,
                until,
            },
        }
    }
}
