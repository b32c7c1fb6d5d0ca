//! Kind-agnostic Kubernetes API machinery shared by the API types and the server.
//!
//! Nothing here knows an IronCore kind: it holds the rules every Kubernetes-style object
//! follows (field errors and how they become `Status` causes, name and metadata validation,
//! label selectors, OpenAPI documents).

pub mod field;
pub mod meta;
pub mod names;
pub mod openapi;
pub mod openapi_proto;
pub mod selector;
pub mod ssa;
pub mod strategic;

pub use field::{ErrorType, FieldError, FieldErrors, Path};
