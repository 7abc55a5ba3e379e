//! # testwerk-results
//!
//! Step results from what containers print. Every backend — the local runner and the
//! Kubernetes agent — feeds a container's output to a [`Tracker`], which follows the log
//! protocol ([`testwerk_protocol::line`]): events say which step runs and how it ended, every
//! other line belongs to the innermost running step. The tracker emits [`Update`]s, which a
//! [`Recorder`] writes to the results store and a view shows.
//!
//! When a container dies before it can report (killed, out of memory, its Pod deleted), the
//! results come from elsewhere: its termination message ([`heal::apply_termination`]), or the
//! cause the backend observed ([`heal::heal`]: the first open step takes the cause, later ones
//! are skipped).
//!
//! Whatever the backend, an execution's final status comes from one rule:
//! [`execution_status`] (spec §6.2).

pub mod causes;
pub mod heal;
pub mod recorder;
pub mod status;
pub mod tracker;

pub use heal::Ending;
pub use recorder::{
    MAX_HELD_LINES, RecordError, Recorder, Unsaved, final_status, step_result, store_status,
};
pub use status::{StepEnd, execution_status, tracker_status};
pub use tracker::{StepView, Tracker, Update};
