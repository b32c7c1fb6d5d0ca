//! `core.apinet.ironcore.dev/v1alpha1`: the apinet layer's kinds, one file per kind.
//!
//! NetworkID, IPAddress and Node are cluster-scoped; every other kind is namespaced.
//! Sub-types and validation helpers used by several kinds live in [`common`].

pub mod common;
pub mod daemonset;
pub mod instance;
pub mod ip;
pub mod ipaddress;
pub mod loadbalancer;
pub mod loadbalancerrouting;
pub mod natgateway;
pub mod natgatewayautoscaler;
pub mod nattable;
pub mod network;
pub mod networkid;
pub mod networkinterface;
pub mod networkpolicy;
pub mod networkpolicyrule;
pub mod node;

pub use common::{ClaimRef, LocalObjectReference, ObjectSelector};
pub use daemonset::{DaemonSet, DaemonSetList, DaemonSetSpec, DaemonSetStatus};
pub use instance::{
    Affinity, Instance, InstanceAffinityTerm, InstanceAntiAffinity, InstanceList, InstanceSpec,
    InstanceStatus, InstanceTemplate, NodeAffinity, TopologySpreadConstraint,
};
pub use ip::{IP, IPClaimRef, IPList, IPSpec, IPStatus};
pub use ipaddress::{IPAddress, IPAddressClaimRef, IPAddressList, IPAddressSpec};
pub use loadbalancer::{
    LoadBalancer, LoadBalancerIP, LoadBalancerList, LoadBalancerPort, LoadBalancerSpec,
    LoadBalancerStatus,
};
pub use loadbalancerrouting::{
    LoadBalancerDestination, LoadBalancerRouting, LoadBalancerRoutingList, LoadBalancerTargetRef,
};
pub use natgateway::{NATGateway, NATGatewayIP, NATGatewayList, NATGatewaySpec, NATGatewayStatus};
pub use natgatewayautoscaler::{
    NATGatewayAutoscaler, NATGatewayAutoscalerList, NATGatewayAutoscalerSpec,
    NATGatewayAutoscalerStatus,
};
pub use nattable::{NATIP, NATIPSection, NATTable, NATTableIPTargetRef, NATTableList};
pub use network::{
    Network, NetworkList, NetworkPeering, NetworkPeeringStatus, NetworkSpec, NetworkStatus,
    PeeringPrefix,
};
pub use networkid::{NetworkID, NetworkIDClaimRef, NetworkIDList, NetworkIDSpec};
pub use networkinterface::{
    NetworkInterface, NetworkInterfaceList, NetworkInterfaceNAT, NetworkInterfaceNATClaimRef,
    NetworkInterfacePublicIP, NetworkInterfaceSpec, NetworkInterfaceStatus, PCIAddress, TAPDevice,
};
pub use networkpolicy::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyList,
    NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
pub use networkpolicyrule::{
    NetworkPolicyRule, NetworkPolicyRuleList, ObjectIP, Rule, TargetNetworkInterface,
};
pub use node::{Node, NodeList, NodeSpec, NodeStatus};

/// The API group.
pub const GROUP: &str = "core.apinet.ironcore.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";

/// Field label of the referenced network, on every kind with `spec.networkRef`.
pub const FIELD_SPEC_NETWORK_REF_NAME: &str = "spec.networkRef.name";
/// Field label of the hosting node, on NetworkInterfaces and Instances.
pub const FIELD_SPEC_NODE_REF_NAME: &str = "spec.nodeRef.name";

/// Label carrying the controller revision hash of an Instance.
pub const LABEL_CONTROLLER_REVISION_HASH: &str = "apinet.ironcore.dev/controller-revision-hash";
/// Label carrying an IP's family, set by the server on IPs.
pub const LABEL_IP_FAMILY: &str = "apinet.ironcore.dev/ip-family";
/// Label carrying an IP's address (`:` replaced by `-`), set by the server on IPs.
pub const LABEL_IP: &str = "apinet.ironcore.dev/ip";
/// Node topology label: the partition.
pub const LABEL_TOPOLOGY_PARTITION: &str = "topology.core.apinet.ironcore.dev/partition";
/// Node topology label: the zone.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.core.apinet.ironcore.dev/zone";
/// Annotation requesting a reconcile (declared upstream, unused).
pub const ANNOTATION_RECONCILE_REQUESTED_AT: &str = "reconcile.apinet.ironcore.dev/requestedAt";
/// Finalizer upstream adds to every IPAddress; `apinet-apiserver` protects IPAddresses without it.
pub const FINALIZER_IP_ADDRESS_PROTECTION: &str = "apinet.ironcore.dev/ipaddress-protection";

/// RBAC group of all apinetlets.
pub const APINETLETS_GROUP: &str = "apinet.ironcore.dev:system:apinetlets";
/// User name prefix of apinetlets (followed by the apinet namespace).
pub const APINETLET_USER_NAME_PREFIX: &str = "apinet.ironcore.dev:system:apinetlet:";
/// RBAC group of all metalnetlets.
pub const METALNETLETS_GROUP: &str = "apinet.ironcore.dev:system:metalnetlets";
/// User name prefix of metalnetlets (followed by the partition).
pub const METALNETLET_USER_NAME_PREFIX: &str = "apinet.ironcore.dev:system:metalnetlet:";

/// The value of [`LABEL_IP`] for an address: its text with `:` replaced by `-`.
pub fn ip_label_value(ip: &crate::common::IP) -> String {
    ip.to_string().replace(':', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_label_value_replaces_colons() {
        let ip: crate::common::IP = "fd00::1".parse().unwrap();
        assert_eq!(ip_label_value(&ip), "fd00--1");
    }
}
