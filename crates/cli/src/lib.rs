//! # testwerk (command line)
//!
//! The surfaces of testwerk that run on a workstation. [`pipeline`] ties the stages together —
//! load YAML, gather templates, resolve, plan, bundle — and is what every surface calls.

pub mod artifacts;
pub mod history;
pub mod output;
pub mod pipeline;
pub mod pull;
pub mod remote;
pub mod render;
pub mod run;
pub mod test_cases;
pub mod ui;
