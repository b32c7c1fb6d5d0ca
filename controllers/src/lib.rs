//! IronCore networking controllers on the kube-rs runtime.
//!
//! Two binaries are built from this crate:
//! - `ironcore-controller-manager` ([`manager`]): IronCore-side controllers (network
//!   protection finalizer, network peering claims);
//! - `apinetlet` ([`apinetlet`]): realizes IronCore objects as apinet objects and writes the
//!   results back.
//!
//! Both talk to the API servers only over HTTPS with kubeconfigs and share the small runtime in
//! [`runtime`] (clients, probes and metrics, backoff, the controller loop) and [`finalizer`].

pub mod apinetlet;
pub mod error;
pub mod finalizer;
pub mod manager;
pub mod runtime;

pub use error::{Error, Result};
