//! `networking.ironcore.dev/v1alpha1`: the IronCore networking kinds, one file per kind, plus
//! the sub-types and validation helpers they share ([`common`]).

pub mod common;
pub mod loadbalancer;
pub mod loadbalancerrouting;
pub mod natgateway;
pub mod network;
pub mod networkinterface;
pub mod networkpolicy;
pub mod virtualip;

pub use common::{
    EphemeralPrefixSource, EphemeralVirtualIPSource, EphemeralVirtualIPSpec, IPSource,
    LocalObjectReference, ObjectSelector, PrefixSource, PrefixSpec, PrefixTemplateSpec,
    VirtualIPSource, VirtualIPTemplateSpec,
};
pub use loadbalancer::{
    LoadBalancer, LoadBalancerList, LoadBalancerPort, LoadBalancerSpec, LoadBalancerStatus,
};
pub use loadbalancerrouting::{
    LoadBalancerDestination, LoadBalancerRouting, LoadBalancerRoutingList,
    LoadBalancerRoutingNetworkRef,
};
pub use natgateway::{
    NATGateway, NATGatewayIPStatus, NATGatewayList, NATGatewaySpec, NATGatewayStatus,
};
pub use network::{
    Network, NetworkList, NetworkPeering, NetworkPeeringClaimRef, NetworkPeeringNetworkRef,
    NetworkPeeringStatus, NetworkSpec, NetworkStatus, PeeringPrefix, PeeringPrefixStatus,
};
pub use networkinterface::{
    NetworkInterface, NetworkInterfaceList, NetworkInterfaceSpec, NetworkInterfaceStatus,
};
pub use networkpolicy::{
    IPBlock, NetworkPolicy, NetworkPolicyCondition, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyList, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec, NetworkPolicyStatus,
};
pub use virtualip::{VirtualIP, VirtualIPList, VirtualIPSpec, VirtualIPStatus};

/// The API group.
pub const GROUP: &str = "networking.ironcore.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";

/// The field label of `spec.networkRef.name`, served by every kind with a `spec.networkRef`.
pub const FIELD_LABEL_NETWORK_REF_NAME: &str = "spec.networkRef.name";
