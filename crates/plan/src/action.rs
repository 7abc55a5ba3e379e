//! Actions: the flat program `init` executes. Their wire form lives in `testwerk-protocol`.

use testwerk_spec::ContainerConfig;

pub use testwerk_protocol::plan::{
    EARLIER_PASSED, PLAN_FORMAT_VERSION, SetupCopies, Transition, WireAction, WirePlan,
};

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Setup(SetupCopies),
    Declare {
        r#ref: String,
        id: Option<String>,
        condition: String,
        parents: Vec<String>,
        optional: bool,
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
            Action::Setup(_) => None,
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
                optional,
            } => WireAction::Declare {
                condition,
                r#ref,
                id,
                parents,
                optional,
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
