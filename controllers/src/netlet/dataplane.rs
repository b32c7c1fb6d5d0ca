//! The boundary between the netlet and what forwards packets: the [`Dataplane`] trait, and
//! [`RecordingDataplane`], the built-in implementation that only records what it was asked to
//! program (served read-only as JSON at `/dataplane` on the metrics port).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use serde::Serialize;

use super::config::{InterfaceConfig, LoadBalancerConfig, NetworkConfig, NodeConfig};

/// A dataplane operation failed; the object is reported with state `Error`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dataplane: {0}")]
pub struct DataplaneError(pub String);

/// State of one peering as the dataplane sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PeeringState {
    /// Traffic to the peer flows.
    Ready,
    /// The peer is not programmed yet.
    Pending,
}

/// What the dataplane reports about a programmed interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceReport {
    /// The TAP device the interface is attached through.
    pub tap_device: String,
}

/// A node's packet-forwarding plane, programmed per object. Keys are `<namespace>/<name>` of
/// the apinet objects; applying the same configuration twice must be harmless.
pub trait Dataplane: Send + Sync + 'static {
    /// Programs (or re-programs) a network.
    fn apply_network(
        &self,
        key: &str,
        net: &NetworkConfig,
    ) -> impl Future<Output = Result<(), DataplaneError>> + Send;
    /// Removes a network.
    fn remove_network(&self, key: &str) -> impl Future<Output = Result<(), DataplaneError>> + Send;
    /// The state of each peering of a programmed network, by peer VNI.
    fn peerings(&self, key: &str) -> impl Future<Output = BTreeMap<i32, PeeringState>> + Send;
    /// Programs (or re-programs) an interface.
    fn apply_interface(
        &self,
        key: &str,
        nic: &InterfaceConfig,
    ) -> impl Future<Output = Result<InterfaceReport, DataplaneError>> + Send;
    /// Removes an interface.
    fn remove_interface(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<(), DataplaneError>> + Send;
    /// Programs (or re-programs) a load balancer instance.
    fn apply_load_balancer(
        &self,
        key: &str,
        lb: &LoadBalancerConfig,
    ) -> impl Future<Output = Result<(), DataplaneError>> + Send;
    /// Removes a load balancer instance.
    fn remove_load_balancer(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<(), DataplaneError>> + Send;
    /// Everything programmed now (the netlet removes what is no longer wanted, also after a
    /// restart).
    fn programmed(&self) -> impl Future<Output = NodeConfig> + Send;
}

/// A dataplane that records what it was asked to program and nothing else.
#[derive(Debug)]
pub struct RecordingDataplane {
    node: String,
    state: Mutex<NodeConfig>,
}

/// The JSON document served at `/dataplane`.
#[derive(Serialize)]
struct Document<'a> {
    node: &'a str,
    #[serde(flatten)]
    config: &'a NodeConfig,
}

impl RecordingDataplane {
    /// An empty dataplane of node `node`.
    pub fn new(node: &str) -> Self {
        RecordingDataplane {
            node: node.to_owned(),
            state: Mutex::new(NodeConfig::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut NodeConfig) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    /// What is programmed, as the JSON document `/dataplane` serves:
    /// `{"node", "networks", "interfaces", "loadBalancers"}`, each map keyed by
    /// `<namespace>/<name>`.
    pub fn to_json(&self) -> String {
        self.with(|cfg| {
            serde_json::to_string_pretty(&Document {
                node: &self.node,
                config: cfg,
            })
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        })
    }
}

impl Dataplane for RecordingDataplane {
    async fn apply_network(&self, key: &str, net: &NetworkConfig) -> Result<(), DataplaneError> {
        self.with(|c| c.networks.insert(key.to_owned(), net.clone()));
        Ok(())
    }

    async fn remove_network(&self, key: &str) -> Result<(), DataplaneError> {
        self.with(|c| c.networks.remove(key));
        Ok(())
    }

    /// A peering is `Ready` once the peer network is programmed on this node too.
    async fn peerings(&self, key: &str) -> BTreeMap<i32, PeeringState> {
        self.with(|c| {
            let Some(net) = c.networks.get(key) else {
                return BTreeMap::new();
            };
            net.peered_ids
                .iter()
                .map(|id| {
                    let present = c.networks.values().any(|n| n.vni == *id);
                    let state = if present {
                        PeeringState::Ready
                    } else {
                        PeeringState::Pending
                    };
                    (*id, state)
                })
                .collect()
        })
    }

    async fn apply_interface(
        &self,
        key: &str,
        nic: &InterfaceConfig,
    ) -> Result<InterfaceReport, DataplaneError> {
        self.with(|c| c.interfaces.insert(key.to_owned(), nic.clone()));
        let short: String = nic.uid.chars().filter(|c| *c != '-').take(11).collect();
        Ok(InterfaceReport {
            tap_device: format!("tap{short}"),
        })
    }

    async fn remove_interface(&self, key: &str) -> Result<(), DataplaneError> {
        self.with(|c| c.interfaces.remove(key));
        Ok(())
    }

    async fn apply_load_balancer(
        &self,
        key: &str,
        lb: &LoadBalancerConfig,
    ) -> Result<(), DataplaneError> {
        self.with(|c| c.load_balancers.insert(key.to_owned(), lb.clone()));
        Ok(())
    }

    async fn remove_load_balancer(&self, key: &str) -> Result<(), DataplaneError> {
        self.with(|c| c.load_balancers.remove(key));
        Ok(())
    }

    async fn programmed(&self) -> NodeConfig {
        self.with(|c| c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(vni: i32, peers: &[i32]) -> NetworkConfig {
        NetworkConfig {
            vni,
            peered_ids: peers.to_vec(),
            peered_prefixes: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn a_peering_is_ready_once_the_peer_network_is_programmed() {
        let dp = RecordingDataplane::new("n");
        dp.apply_network("ns/a", &net(200, &[201])).await.unwrap();
        assert_eq!(
            dp.peerings("ns/a").await,
            BTreeMap::from([(201, PeeringState::Pending)])
        );
        dp.apply_network("ns/b", &net(201, &[200])).await.unwrap();
        assert_eq!(
            dp.peerings("ns/a").await,
            BTreeMap::from([(201, PeeringState::Ready)])
        );
        dp.remove_network("ns/b").await.unwrap();
        assert_eq!(
            dp.peerings("ns/a").await,
            BTreeMap::from([(201, PeeringState::Pending)])
        );
    }

    #[tokio::test]
    async fn the_document_names_the_node_and_lists_what_is_programmed() {
        let dp = RecordingDataplane::new("node-a");
        dp.apply_network("ns/a", &net(200, &[])).await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&dp.to_json()).unwrap();
        assert_eq!(doc["node"], "node-a");
        assert_eq!(doc["networks"]["ns/a"]["vni"], 200);
        assert!(doc["interfaces"].as_object().unwrap().is_empty());
        assert!(doc["loadBalancers"].as_object().unwrap().is_empty());
    }
}
