//! The typed model of `testworkflows.testkube.io/v1`.
//!
//! Field names follow the upstream CRDs exactly (they are the interoperability contract);
//! strings that may hold `{{ }}` templates stay strings here and are resolved by later stages.

mod container;
mod content;
mod execution;
mod kinds;
mod params;
mod pod;
mod services;
mod spec;
mod step;

pub use container::*;
pub use content::*;
pub use execution::*;
pub use kinds::*;
pub use params::*;
pub use pod::*;
pub use services::*;
pub use spec::*;
pub use step::*;

/// `serde(skip_serializing_if)` helper for plain booleans that default to `false`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
