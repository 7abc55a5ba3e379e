//! # testwerk-spec
//!
//! The typed model of Testkube's `testworkflows.testkube.io/v1` kinds — `TestWorkflow`,
//! `TestWorkflowTemplate` and `TestWorkflowExecution` — the loader that turns YAML files into
//! it, and the CustomResourceDefinitions generated from it.
//!
//! ## Loading
//!
//! ```
//! let text = "apiVersion: testworkflows.testkube.io/v1
//! kind: TestWorkflow
//! metadata:
//!   name: smoke
//! spec:
//!   steps:
//!   - name: hello
//!     shel: echo hello
//! ";
//! let errors = testwerk_spec::load_str("smoke.yaml", text).unwrap_err();
//! assert_eq!(
//!     errors[0].to_string().lines().take(2).collect::<Vec<_>>(),
//!     ["error: unknown field `shel` in a step", "  --> smoke.yaml:8:5 at spec.steps[0].shel"],
//! );
//! assert_eq!(errors[0].suggestion.as_deref(), Some("did you mean `shell`?"));
//! ```
//!
//! [`load_str`] and [`load_path`] read every document of a file (`---` separated; empty
//! documents are skipped) and return them as [`AnyDocument`]s, or *all* the problems of the
//! file as [`Diagnostic`]s. Each problem names the file, line, column and field path, says what
//! was expected and, where it can, suggests a fix. The checks, in order:
//!
//! 0. **Text**: UTF-8 (an invalid byte is reported at its line and column); characters YAML
//!    does not allow (NUL, other control characters) are errors at their position, because the
//!    parser would stop at a NUL as if the file ended there. A leading byte order mark is
//!    accepted and dropped, as YAML 1.2 allows.
//! 1. **YAML** (1.2 core schema: `on`/`yes` are strings): syntax errors with the parser's
//!    position; anchors, aliases and `<<` merge keys are resolved; duplicate keys are errors.
//!    Null fields are dropped, as the Kubernetes API server does.
//! 2. **apiVersion and kind**: only `testworkflows.testkube.io/v1`; an unknown kind gets the
//!    nearest valid one as a suggestion.
//! 3. **Schema**: the document is checked against a JSON schema generated from the model
//!    ([`schema::json_schema`]): unknown fields anywhere (also inside Kubernetes types such as
//!    `pod.securityContext`, which serde alone would ignore), wrong types, missing required
//!    fields, values outside an enumeration or an integer's range.
//! 4. **Typed model**: serde, with the path of any remaining error.
//! 5. **Rules upstream applies when compiling** ([`checks`]): step ids (`^[a-z0-9][a-z0-9_]*$`,
//!    unique per workflow, a `parallel` block having its own namespace), `run.shell` with
//!    `run.command`/`run.args`, `artifacts` without `paths`, `delay` and `timeout` syntax
//!    ([`duration`]), `retry.count` below 1, and `use`/`template` inside a
//!    `TestWorkflowTemplate`.
//!
//! Every [`Document`] keeps its [`Source`]: later stages (templates, compilation) call
//! [`Source::diagnostic`] with a field path to report at the right line; a path the file does
//! not contain is placed at its nearest ancestor that it does. Paths are spelled as in
//! [`path`]: `spec.steps[0].run.env[1].value`, `metadata.labels["app.kubernetes.io/name"]`.
//!
//! No input makes the loader panic: nesting, alias expansion and step depth are bounded.
//!
//! ## CRDs
//!
//! [`crds`] / [`crds_yaml`] produce the three `apiextensions.k8s.io/v1` CRDs, with structural
//! schemas generated from the model (descriptions from its doc comments). Their field names are
//! tested against upstream's CRDs, and the whole compatibility corpus against them.
//!
//! ## Other helpers
//!
//! [`to_yaml`] writes a JSON value as YAML that reads back identically; [`parse_values`] reads
//! YAML with the loader's rules but without the model; [`template_internal_name`] maps
//! `official/k6/v1` to the stored name `official--k6--v1`.

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
mod text;
mod yaml;

pub use checks::is_valid_step_id;
pub use crd::{crds, crds_yaml};
pub use diagnostic::{Diagnostic, Location};
pub use load::{AnyDocument, Document, load_bytes, load_path, load_str};
pub use locate::{LocationIndex, Source};
pub use model::*;
pub use names::{template_display_name, template_internal_name};
pub use yaml::{parse_values, to_yaml};
