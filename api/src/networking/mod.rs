//! `networking.ironcore.dev/v1alpha1`: the IronCore networking kinds, one file per kind.

pub mod virtualip;

pub use virtualip::{VirtualIP, VirtualIPList, VirtualIPSpec, VirtualIPStatus};

/// The API group.
pub const GROUP: &str = "networking.ironcore.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";
