//! # testwerk-protocol
//!
//! Everything the compiler, `testwerk-init` and the backends must agree on, in one small crate
//! with no heavy dependencies (it is linked into the static `testwerk-init`):
//!
//! - [`plan`]: the versioned plan format `init` executes;
//! - [`env`](mod@env): how variables are scoped per container and per step;
//! - [`paths`]: where things live inside the Pod;
//! - [`line`](mod@line): the log line protocol `init` reports progress with;
//! - [`toolkit`]: what a backend tells the toolkit (Git mirrors, the artifact sink, where to
//!   ask for children);
//! - [`children`]: how the toolkit asks its backend for parallel workers, services and
//!   executed workflows.

pub mod children;
pub mod control;
pub mod env;
pub mod line;
pub mod paths;
pub mod plan;
pub mod toolkit;
