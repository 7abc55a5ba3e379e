//! Where `testwerk-init` reads and writes, and its tunables.
//!
//! Every path defaults to the Pod layout of [`testwerk_protocol::paths`] and can be overridden
//! by a variable of the base environment, so tests and the local runner can run `init`
//! without mounts or namespaces. These variables are ours: they are not passed to steps.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use testwerk_protocol::paths;

use crate::duration;
use crate::fatal::Fatal;

/// The shared internal directory (`/.testwerk`): state file and copied binaries.
pub const VAR_INTERNAL_DIR: &str = "TW_INTERNAL_DIR";
/// The state file (default `<internal dir>/state`).
pub const VAR_STATE_FILE: &str = "TW_STATE_FILE";
/// The shared data directory (`/data`): step results go to `<data>/.steps/<id>`.
pub const VAR_DATA_DIR: &str = "TW_DATA_DIR";
/// Where steps write outputs (`/testkube/outputs`).
pub const VAR_OUTPUTS_DIR: &str = "TW_OUTPUTS_DIR";
/// The termination message file (`/dev/termination-log`).
pub const VAR_TERMINATION_LOG: &str = "TW_TERMINATION_LOG";
/// `init` in its own image (`/init`), copied by the setup step.
pub const VAR_IMAGE_INIT: &str = "TW_IMAGE_INIT";
/// The toolkit in its image (`/toolkit`), copied by the setup step.
pub const VAR_IMAGE_TOOLKIT: &str = "TW_IMAGE_TOOLKIT";
/// The busybox directory of our images (`/.testwerk-bin`), copied by the setup step.
pub const VAR_IMAGE_BIN_DIR: &str = "TW_IMAGE_BIN_DIR";
/// The control endpoint (`0.0.0.0:60434`; `fd:<n>`: a listening Unix socket at descriptor `n`);
/// `off` disables it.
pub const VAR_CONTROL_ADDR: &str = "TW_CONTROL_ADDR";
/// How long a step may take to stop after SIGTERM before SIGKILL (Go duration, `10s`).
pub const VAR_KILL_GRACE: &str = "TW_KILL_GRACE";

/// All of ours, removed from the steps' environment.
pub const ALL_VARS: [&str; 10] = [
    VAR_INTERNAL_DIR,
    VAR_STATE_FILE,
    VAR_DATA_DIR,
    VAR_OUTPUTS_DIR,
    VAR_TERMINATION_LOG,
    VAR_IMAGE_INIT,
    VAR_IMAGE_TOOLKIT,
    VAR_IMAGE_BIN_DIR,
    VAR_CONTROL_ADDR,
    VAR_KILL_GRACE,
];

/// The default control endpoint (upstream's port).
pub fn default_control_addr() -> String {
    format!("0.0.0.0:{}", testwerk_protocol::control::PORT)
}

/// The default grace period between SIGTERM and SIGKILL.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);
/// Where the termination message goes by default (Kubernetes reads it).
pub const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";

/// Resolved paths and tunables.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub internal_dir: PathBuf,
    pub state_file: PathBuf,
    pub data_dir: PathBuf,
    pub outputs_dir: PathBuf,
    pub termination_log: PathBuf,
    pub image_init: PathBuf,
    pub image_toolkit: PathBuf,
    pub image_bin_dir: PathBuf,
    /// `None`: no control endpoint.
    pub control_addr: Option<String>,
    pub kill_grace: Duration,
}

impl Settings {
    /// Settings from the base environment (`lookup` answers a variable's value).
    pub fn from_env(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Settings, Fatal> {
        let path = |var: &str, default: &Path| -> PathBuf {
            lookup(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| default.to_path_buf())
        };
        let internal_dir = path(VAR_INTERNAL_DIR, Path::new(paths::INTERNAL_DIR));
        let state_file = path(VAR_STATE_FILE, &internal_dir.join("state"));
        let control_addr = match lookup(VAR_CONTROL_ADDR) {
            None => Some(default_control_addr()),
            Some(v) if v.is_empty() || v == OsStr::new("off") => None,
            Some(v) => Some(
                v.into_string()
                    .map_err(|_| Fatal::input(format!("{VAR_CONTROL_ADDR} is not text")))?,
            ),
        };
        let kill_grace = match lookup(VAR_KILL_GRACE) {
            None => DEFAULT_KILL_GRACE,
            Some(v) => {
                let text = v.to_string_lossy();
                duration::parse(&text)
                    .map_err(|e| Fatal::input(format!("{VAR_KILL_GRACE}: {e}")))?
            }
        };
        Ok(Settings {
            state_file,
            data_dir: path(VAR_DATA_DIR, Path::new(paths::DATA_DIR)),
            outputs_dir: path(
                VAR_OUTPUTS_DIR,
                &Path::new(paths::OUTPUTS_ROOT).join("outputs"),
            ),
            termination_log: path(VAR_TERMINATION_LOG, Path::new(DEFAULT_TERMINATION_LOG)),
            image_init: path(VAR_IMAGE_INIT, Path::new(paths::IMAGE_INIT)),
            image_toolkit: path(VAR_IMAGE_TOOLKIT, Path::new(paths::IMAGE_TOOLKIT)),
            image_bin_dir: path(VAR_IMAGE_BIN_DIR, Path::new(paths::IMAGE_BIN_DIR)),
            control_addr,
            kill_grace,
            internal_dir,
        })
    }

    /// The results directory of a step with an id (`<data>/.steps/<id>`).
    pub fn results_dir(&self, id: &str) -> PathBuf {
        self.data_dir.join(".steps").join(id)
    }

    /// Where the setup step puts busybox, added to every step's `PATH`.
    pub fn copied_bin_dir(&self) -> PathBuf {
        self.internal_dir.join("bin")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_pod_layout_and_each_path_can_move() {
        let s = Settings::from_env(|_| None).expect("defaults");
        assert_eq!(s.state_file, Path::new("/.testwerk/state"));
        assert_eq!(s.outputs_dir, Path::new("/testkube/outputs"));
        assert_eq!(s.results_dir("a"), Path::new("/data/.steps/a"));
        assert_eq!(s.copied_bin_dir(), Path::new("/.testwerk/bin"));
        assert_eq!(s.control_addr.as_deref(), Some("0.0.0.0:60434"));
        let s = Settings::from_env(|v| match v {
            "TW_INTERNAL_DIR" => Some("/tmp/i".into()),
            "TW_CONTROL_ADDR" => Some("off".into()),
            "TW_KILL_GRACE" => Some("250ms".into()),
            _ => None,
        })
        .expect("overrides");
        assert_eq!(s.state_file, Path::new("/tmp/i/state"));
        assert_eq!(s.control_addr, None);
        assert_eq!(s.kill_grace, Duration::from_millis(250));
        let err = Settings::from_env(|v| (v == "TW_KILL_GRACE").then(|| "soon".into()));
        assert_eq!(err.map_err(|e| e.code), Err(155));
    }
}
