//! # testwerk-spec
//!
//! The typed model of Testkube's `testworkflows.testkube.io/v1` kinds — `TestWorkflow`,
//! `TestWorkflowTemplate` and `TestWorkflowExecution` — and the loader that turns YAML text into it.

pub mod checks;
pub mod crd;
mod diagnostic;
pub mod duration;
mod load;
mod locate;
pub mod model;
mod names;
pub mod path;
pub mod schema;
pub mod suggest;
mod yaml;

pub use checks::is_valid_step_id;
pub use crd::{crds, crds_yaml};
pub use diagnostic::{Diagnostic, Location};
pub use load::{AnyDocument, Document, load_path, load_str};
pub use locate::{LocationIndex, Source};
pub use model::*;
pub use names::{template_display_name, template_internal_name};
pub use yaml::{parse_values, to_yaml};
