//! IronCore networking controllers and the node agent, on the kube-rs runtime.
//!
//! Four binaries are built from this crate:
//! - `ironcore-controller-manager` ([`manager`]): IronCore-side controllers (network
//!   protection, peering claims, ephemeral VirtualIPs, releases, LoadBalancerRoutings);
//! - `apinetlet` ([`apinetlet`]): realizes IronCore objects as apinet objects and writes the
//!   results back;
//! - `apinet-controller-manager` ([`apinet_manager`]): apinet-internal controllers (NAT port
//!   tables and autoscaling, load balancer instances and scheduling, garbage collection);
//! - `netlet` ([`netlet`]): the node agent programming a dataplane and reporting readiness.
//!
//! All talk to the API servers only over HTTPS with kubeconfigs and share the small runtime in
//! [`runtime`] (clients, probes and metrics, backoff, the controller loop, shutdown),
//! [`leader`] (Lease-based leader election) and [`finalizer`].

pub mod apinet_manager;
pub mod apinetlet;
pub mod error;
pub mod finalizer;
pub mod leader;
pub mod manager;
pub mod netlet;
pub mod objects;
pub mod runtime;

pub use error::{Error, Result};
