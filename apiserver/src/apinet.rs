//! The kinds `apinet-apiserver` serves (`core.apinet.ironcore.dev/v1alpha1`) and the
//! allocators committed with their writes:
//!
//! - [`vni`]: a Network's VNI, recorded by a NetworkID named by the VNI;
//! - [`ip_pool`]: an IP's public address, recorded by an IPAddress named by the address;
//! - [`ip_claims`]: the public IPs NetworkInterfaces, LoadBalancers and NATGateways claim.
//!
//! Every allocation is written in the same storage transaction as the object that claims it
//! and released in the transaction that finally deletes (or updates) that object, so nothing
//! is allocated twice under concurrency and nothing leaks when a write fails or a server dies.
//! The pure arithmetic (ranges, prefixes, the wrap-around walk) is in [`range`].

pub mod ip_claims;
pub mod ip_pool;
pub mod range;
pub mod stored;
pub mod vni;

use std::sync::Arc;

use ironcore_api::apinet::{
    DaemonSet, IP, IPAddress, Instance, LoadBalancer, LoadBalancerRouting, NATGateway,
    NATGatewayAutoscaler, NATTable, Network, NetworkID, NetworkInterface, NetworkPolicy,
    NetworkPolicyRule, Node,
};
use ironcore_api::common::IPPrefix;
use ironcore_server::Registry;
use ironcore_server::registry::{TypedStrategy, WithAllocator};

use ip_claims::{ClaimAllocator, ClaimerKind, KeepAllocated};
use ip_pool::{IpAddressProtection, IpAllocator};
use range::{Pools, RangeError, VniRange};
use vni::{NetworkIdProtection, VniAllocator};

/// Default storage prefix (`--etcd-prefix`), as upstream.
pub const DEFAULT_PREFIX: &str = "/registry/apinet.ironcore.dev";
pub use range::{DEFAULT_MAX_VNI, DEFAULT_MIN_VNI};

/// What the allocators hand out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationConfig {
    /// The VNIs of Networks.
    pub vnis: VniRange,
    /// The public prefixes, in flag order (both families).
    pub public_prefixes: Vec<IPPrefix>,
}

impl AllocationConfig {
    /// A configuration from the flag values.
    pub fn new(
        min_vni: u32,
        max_vni: u32,
        public_prefixes: Vec<IPPrefix>,
    ) -> Result<Self, RangeError> {
        Ok(AllocationConfig {
            vnis: VniRange::new(min_vni, max_vni)?,
            public_prefixes,
        })
    }
}

impl Default for AllocationConfig {
    /// The default VNI range and no public prefixes.
    fn default() -> Self {
        AllocationConfig {
            vnis: VniRange::default(),
            public_prefixes: Vec::new(),
        }
    }
}

/// The registry of `core.apinet.ironcore.dev/v1alpha1`: allocation records first, then the
/// kinds that claim them, then everything the controllers build on top.
pub fn registry(config: &AllocationConfig) -> Registry {
    let pools = Arc::new(Pools::new(&config.public_prefixes));
    let claims = |kind| ClaimAllocator::new(kind, Arc::clone(&pools));
    Registry::new()
        .register_strategy(Arc::new(WithAllocator::new(
            TypedStrategy::<NetworkID>::new(),
            NetworkIdProtection::new(),
        )))
        .register_strategy(Arc::new(WithAllocator::new(
            TypedStrategy::<Network>::new(),
            VniAllocator::new(config.vnis),
        )))
        .register_strategy(Arc::new(WithAllocator::new(
            TypedStrategy::<IPAddress>::new(),
            IpAddressProtection::new(),
        )))
        .register_strategy(Arc::new(WithAllocator::new(
            TypedStrategy::<IP>::new(),
            IpAllocator::new(Arc::clone(&pools)),
        )))
        .register_strategy(Arc::new(WithAllocator::new(
            KeepAllocated::new(
                TypedStrategy::<NetworkInterface>::new(),
                ClaimerKind::NetworkInterface,
            ),
            claims(ClaimerKind::NetworkInterface),
        )))
        .register_strategy(Arc::new(WithAllocator::new(
            KeepAllocated::new(
                TypedStrategy::<LoadBalancer>::new(),
                ClaimerKind::LoadBalancer,
            ),
            claims(ClaimerKind::LoadBalancer),
        )))
        .register::<LoadBalancerRouting>()
        .register_strategy(Arc::new(WithAllocator::new(
            KeepAllocated::new(TypedStrategy::<NATGateway>::new(), ClaimerKind::NATGateway),
            claims(ClaimerKind::NATGateway),
        )))
        .register::<NATGatewayAutoscaler>()
        .register::<NATTable>()
        .register::<NetworkPolicy>()
        .register::<NetworkPolicyRule>()
        .register::<Node>()
        .register::<DaemonSet>()
        .register::<Instance>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_serves_every_apinet_kind_once() {
        let r = registry(&AllocationConfig::default());
        let mut kinds: Vec<String> = r.kinds().iter().map(|k| k.info().kind.clone()).collect();
        assert_eq!(kinds.len(), 15);
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), 15);
        for (plural, alloc) in [
            ("networks", true),
            ("networkids", true),
            ("ips", true),
            ("ipaddresses", true),
            ("networkinterfaces", true),
            ("loadbalancers", true),
            ("natgateways", true),
            ("nodes", false),
            ("nattables", false),
        ] {
            let k = r
                .lookup("core.apinet.ironcore.dev", "v1alpha1", plural)
                .unwrap_or_else(|| panic!("{plural} not served"));
            assert_eq!(k.allocator().is_some(), alloc, "{plural}");
        }
    }
}
