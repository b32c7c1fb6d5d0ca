//! The kinds `ironcore-apiserver` serves, in upstream's registration order.

use ironcore_api::networking::{
    LoadBalancer, LoadBalancerRouting, NATGateway, Network, NetworkInterface, NetworkPolicy,
    VirtualIP,
};
use ironcore_server::Registry;

/// Default storage prefix (`--etcd-prefix`), as upstream.
pub const DEFAULT_PREFIX: &str = "/registry/ironcore.dev";

/// The registry of `networking.ironcore.dev/v1alpha1`.
pub fn registry() -> Registry {
    Registry::new()
        .register::<NetworkInterface>()
        .register::<Network>()
        .register::<NetworkPolicy>()
        .register::<VirtualIP>()
        .register::<LoadBalancer>()
        .register::<LoadBalancerRouting>()
        .register::<NATGateway>()
}
