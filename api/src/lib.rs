//! Typed objects of the two API groups this project serves, with their defaulting and
//! validation. No I/O: the server and the controllers build on these types.
//!
//! - [`networking`]: `networking.ironcore.dev/v1alpha1`, the user-facing IronCore kinds.
//! - [`apinet`]: `core.apinet.ironcore.dev/v1alpha1`, the apinet layer that realizes them.
//! - [`common`]: shared scalar types (IP, IPPrefix), type tags and references.
//! - [`kind`]: the [`ApiKind`](kind::ApiKind) trait every kind implements for the server.

pub mod apinet;
pub mod common;
pub mod kind;
pub mod networking;

pub use kind::{ApiKind, KindFacts, TableColumn};
