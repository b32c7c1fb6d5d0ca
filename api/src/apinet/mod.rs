//! `core.apinet.ironcore.dev/v1alpha1`: the apinet layer's kinds.

/// The API group.
pub const GROUP: &str = "core.apinet.ironcore.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";
