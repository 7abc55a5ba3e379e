//! HTTP routes that describe themselves. A [`Route`] is a method, a path, a one-line summary,
//! who may call it ([`Access`]) and its handler; one table of them is the single place that:
//!
//! - builds the axum router ([`router`]), so no route exists outside the table;
//! - checks every request against a [`Gate`] before the handler runs (401 without a
//!   credential, 403 without the right; [`access`]);
//! - times every request for `/metrics` by route, never by raw path, so the label set is
//!   bounded ([`latency::Latency`]);
//! - writes the OpenAPI 3.1 document ([`openapi::document`]), so the document cannot miss a
//!   route.

pub mod access;
pub mod latency;
pub mod openapi;
mod table;

pub use access::{Access, Caller, Denied, Gate, TokenGate};
pub use table::{Route, RouteDoc, router};
