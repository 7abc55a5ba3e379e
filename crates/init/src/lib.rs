//! # testwerk-init
//!
//! The first process of every container of a test workflow Pod. It runs the container's part
//! of the plan (one *action group*): decides which steps run, runs their commands, enforces
//! timeouts and retries, masks secrets, collects outputs, and reports everything on stdout
//! with authenticated event lines ([`testwerk_protocol::line`]) and in the termination
//! message. It is small and static (std, libc, serde, the expression language) so it can be
//! copied into any user image.
//!
//! ```text
//! testwerk-init <action group index>
//! ```
//!
//! ## Input
//!
//! Variables named `_<group>[C][S]_NAME` ([`testwerk_protocol::env`]) are ours and are removed
//! from every step's environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `_01_TW_PLAN` | the plan (first container only); later containers read their action group from `<state file>.groups` and the rest from the state file |
//! | `_03_TW_TOKEN` | the per-execution secret of the event lines (required) |
//! | `_03_TW_CONFIG`, `_03_TW_SIGNATURE` | passed on to toolkit steps only |
//! | `_02[C]S_NAME` | values of `secret()` calls: set in every step, masked |
//! | `_<k>[C][S]_NAME` | the variables of the container's k-th transition; `C`: a template computed here; `S`: masked |
//!
//! Everything else is the base environment, which steps inherit, except these settings
//! (defaults: the Pod layout of [`testwerk_protocol::paths`]), which let tests and the local
//! runner use `testwerk-init` without a Pod:
//!
//! | variable | default |
//! |---|---|
//! | `TW_INTERNAL_DIR` | `/.testwerk` (setup copies go here) |
//! | `TW_STATE_FILE` | `<internal dir>/state` (and the plan's groups in `<state file>.groups`) |
//! | `TW_DATA_DIR` | `/data` (results in `<data>/.steps/<id>`) |
//! | `TW_OUTPUTS_DIR` | `/testkube/outputs` |
//! | `TW_TERMINATION_LOG` | `/dev/termination-log` |
//! | `TW_IMAGE_INIT`, `TW_IMAGE_TOOLKIT`, `TW_IMAGE_BIN_DIR` | `/init`, `/toolkit`, `/.testwerk-bin` |
//! | `TW_CONTROL_ADDR` | `0.0.0.0:60434`; `fd:<n>`: accept on the listening Unix socket at descriptor `n` (the local runner's); `off`: none |
//! | `TW_KILL_GRACE` | `10s`: SIGTERM → SIGKILL delay |
//!
//! ## Exit codes
//!
//! `0`: the group ran (steps may have failed: results are in the log and the termination
//! message); `137`: aborted by SIGTERM/SIGINT; `155`: bad input (arguments, token, plan,
//! setup); `190`: internal error (state file I/O).
//!
//! ## Steps
//!
//! * A step runs when its condition holds (`passed` by default: no required step before it
//!   failed); a skipped step skips everything inside it.
//! * A command is `command ++ args` of the current container transition, templates resolved
//!   here (a `{{list}}` item expands to several arguments). It runs in its own process group,
//!   stdin closed, stdout and stderr merged into our stdout, masked, lines over 1 MiB cut.
//!   A command that cannot start fails the step with 127 (not found) or 126.
//! * `negative` inverts the exit code test; `retry` repeats a failing step (`until` sees the
//!   step's own status); `timeout` kills the command (SIGTERM, then SIGKILL after the grace
//!   period); time spent paused does not count; a group's timeout skips what it has not
//!   started.
//! * Files a step with an id leaves in the outputs directory become `step.<id>.outputs.<name>`.
//! * Pause/resume: the control endpoint stops (SIGSTOP) and continues every process we
//!   started.
//! * SIGTERM/SIGINT abort: every process gets SIGTERM (SIGKILL after the grace period), the
//!   running step is `aborted`, the rest skipped, exit 137. Other signals are forwarded to the
//!   running step. Orphans are adopted and reaped; leftovers are stopped at exit.
//!
//! ## Deliberate differences from upstream's `/init`
//!
//! * Event lines carry a token; a step cannot forge them.
//! * The control endpoint wants the same token before a command, so a step sharing the Pod's
//!   network cannot pause or resume its own execution.
//! * An expression that cannot be evaluated at runtime (a condition, a computed variable, an
//!   argument, a working directory) fails that step (exit code 155 in its result) instead of
//!   ending the whole container, so later `always` steps still run.
//! * A step killed by SIGKILL it did not get from us (likely the OOM killer) fails with 137
//!   instead of aborting the whole execution.
//! * After a step's command exits, its output is read until the pipe closes or stays quiet for
//!   100 ms (2 s at most), so a background process cannot hang the step.

mod actions;
mod args;
mod control;
mod duration;
mod fatal;
mod glob;
mod groups;
mod machine;
mod mask;
mod out;
mod outputs;
mod process;
mod runner;
mod scope;
mod settings;
mod setup;
mod state;
mod stepenv;
mod sys;
mod termination;

pub use fatal::{EXIT_ABORTED, EXIT_DONE, EXIT_INPUT, EXIT_INTERNAL};

/// Runs `testwerk-init` with the process' arguments and environment; returns the exit code.
pub fn main() -> i32 {
    // First, before anything can read our environment through /proc.
    if let Err(e) = sys::set_non_dumpable() {
        eprintln!("testwerk-init: warning: cannot protect the token from other processes: {e}");
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let vars: Vec<_> = std::env::vars_os().collect();
    sys::scrub_env_value(testwerk_protocol::env::TOKEN);
    match runner::Runner::prepare(args, vars) {
        Ok(mut runner) => runner.run(),
        Err(fatal) => {
            eprintln!("testwerk-init: {fatal}");
            fatal.code
        }
    }
}
