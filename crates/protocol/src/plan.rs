//! The plan `init` executes: one list of actions per container, in a compact, versioned form.
//!
//! Each action is one JSON object with a single one-letter key (the shape upstream uses, which
//! keeps the Pod annotation small); the whole plan is wrapped in `{"v":2,"g":[…]}` so that an
//! `init` can refuse a plan it does not understand.
//!
//! Every action is of constant size, whatever the number of steps: upstream's
//! current-status action (`"s"`, the AND-chain of every earlier required step, version 1)
//! made plans quadratic. Since version 2, `init` derives that chain from `S`/`E` and the
//! `o` (optional) flag of each declaration, one frame per started step (see [`EARLIER_PASSED`]).

use serde::{Deserialize, Serialize};

/// The version of the plan wire format.
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// The runtime variable that is `true` when every required step that has ended before this
/// point (in the current group and in every group around it) passed or was skipped: what
/// `passed` in a condition means once the compiler has folded in what it knows. The compiler
/// writes the refs themselves (`r1&&r2`) when they are few, and this name when they are many,
/// so that a condition stays the same size at step 10,000 as at step 2.
pub const EARLIER_PASSED: &str = "earlier.passed";

/// A condition names at most this many refs before it uses [`EARLIER_PASSED`] instead.
pub const MAX_INLINE_REFS: usize = 8;

/// What the setup step makes available in the shared volume, for containers running user
/// images: copies of our binaries, or (`from_volumes`) symbolic links into the image volumes
/// the Pod mounts our images on.
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
    /// Link instead of copying: every container mounts our images as image volumes
    /// ([`crate::paths::INIT_VOLUME_DIR`], [`crate::paths::TOOLKIT_VOLUME_DIR`]), so the
    /// binaries are already there and nothing is copied.
    #[serde(rename = "v", default, skip_serializing_if = "std::ops::Not::not")]
    pub from_volumes: bool,
}

impl SetupCopies {
    /// Whether a user image needs anything of ours besides the toolkit (the init image).
    pub fn needs_init_image(&self) -> bool {
        self.init || self.binaries
    }
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
        /// `optional: true`: its failure fails neither its group nor the steps after it.
        #[serde(rename = "o", default, skip_serializing_if = "std::ops::Not::not")]
        optional: bool,
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
