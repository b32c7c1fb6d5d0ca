//! The generic, kind-agnostic Kubernetes-style API server library.
//!
//! A server is a [`registry::Registry`] of kinds (each with its
//! [`registry::KindStrategy`]) over a [`ironcore_storage::Store`]. Request flow:
//! [`serve`] accepts connections → [`server::ApiServer::handle`] runs the [`gate`] and
//! routes by [`request::route`] → discovery, health and metrics, or a verb in [`rest`] /
//! [`watch`] (fed by the per-resource [`watch_cache`]) → [`response`] encodes the result in the
//! representation [`negotiate`] chose (JSON, YAML, [`table`], PartialObjectMetadata).

pub mod allocator;
pub mod discovery;
pub mod dupes;
pub mod errors;
pub mod filter;
pub mod gate;
pub mod metrics;
pub mod negotiate;
pub mod object;
pub mod objects;
pub mod openapi;
pub mod registry;
pub mod request;
pub mod response;
pub mod rest;
pub mod serve;
pub mod server;
pub mod table;
pub mod watch;
pub mod watch_cache;

pub use registry::Registry;
pub use server::{ApiServer, ServerSettings};
