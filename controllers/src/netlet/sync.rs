//! The netlet's loop: reflectors wake a sync; a sync converges the dataplane to the desired
//! configuration and writes back the statuses that differ.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use ironcore_api::apinet;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::FIELD_MANAGER;
use super::config::{self, NodeConfig, Snapshot, Unprogrammable, key};
use super::dataplane::{Dataplane, InterfaceReport};
use super::report::{self, InterfaceOutcome};
use crate::runtime::Metrics;

/// How long a burst of events is collected before one sync runs.
const DEBOUNCE: Duration = Duration::from_millis(30);
/// How soon a sync with failed writes is repeated.
const RETRY: Duration = Duration::from_secs(1);
/// Status writes in flight at once.
const WRITES_IN_FLIGHT: usize = 16;

/// Local copies of the apinet objects the netlet works from.
#[derive(Clone)]
pub struct Stores {
    networks: Store<apinet::Network>,
    interfaces: Store<apinet::NetworkInterface>,
    nat_tables: Store<apinet::NATTable>,
    load_balancers: Store<apinet::LoadBalancer>,
    routings: Store<apinet::LoadBalancerRouting>,
    instances: Store<apinet::Instance>,
    policy_rules: Store<apinet::NetworkPolicyRule>,
}

fn copy<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    store.state().iter().map(|o| (**o).clone()).collect()
}

impl Stores {
    /// Starts one reflector per kind (Interfaces and Instances only of `node`); every event
    /// notifies `wake`.
    pub fn start(client: &Client, node: &str, wake: Arc<Notify>) -> Self {
        let on_node = watcher::Config::default().fields(&format!("spec.nodeRef.name={node}"));
        Stores {
            networks: reflect(Api::all(client.clone()), watcher::Config::default(), &wake),
            interfaces: reflect(Api::all(client.clone()), on_node.clone(), &wake),
            nat_tables: reflect(Api::all(client.clone()), watcher::Config::default(), &wake),
            load_balancers: reflect(Api::all(client.clone()), watcher::Config::default(), &wake),
            routings: reflect(Api::all(client.clone()), watcher::Config::default(), &wake),
            instances: reflect(Api::all(client.clone()), on_node, &wake),
            policy_rules: reflect(Api::all(client.clone()), watcher::Config::default(), &wake),
        }
    }

    /// Waits until every reflector has its initial list.
    pub async fn wait_until_ready(&self) {
        let _ = self.networks.wait_until_ready().await;
        let _ = self.interfaces.wait_until_ready().await;
        let _ = self.nat_tables.wait_until_ready().await;
        let _ = self.load_balancers.wait_until_ready().await;
        let _ = self.routings.wait_until_ready().await;
        let _ = self.instances.wait_until_ready().await;
        let _ = self.policy_rules.wait_until_ready().await;
    }

    /// The current copies.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            networks: copy(&self.networks),
            interfaces: copy(&self.interfaces),
            nat_tables: copy(&self.nat_tables),
            load_balancers: copy(&self.load_balancers),
            routings: copy(&self.routings),
            instances: copy(&self.instances),
            policy_rules: copy(&self.policy_rules),
        }
    }
}

fn reflect<K>(api: Api<K>, wc: watcher::Config, wake: &Arc<Notify>) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let wake = wake.clone();
    let stream = watcher(api, wc).default_backoff().reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        loop {
            match stream.try_next().await {
                Ok(Some(_)) => wake.notify_one(),
                Ok(None) => break,
                Err(e) => tracing::warn!(error = %e, "watch failed, retrying"),
            }
        }
    });
    reader
}

/// One node's agent: its dataplane, what it last programmed, and where it writes.
pub struct Agent<D> {
    client: Client,
    node: String,
    dataplane: Arc<D>,
    programmed: NodeConfig,
    /// The dataplane's report of each programmed interface.
    reports: BTreeMap<String, InterfaceReport>,
    metrics: Arc<Metrics>,
}

/// What one sync did (for logs and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Dataplane operations performed (applies and removals).
    pub programmed: usize,
    /// Status writes performed.
    pub reported: usize,
    /// Operations or writes that failed (retried by the next sync).
    pub failed: usize,
}

impl<D: Dataplane> Agent<D> {
    /// An agent of `node` starting from what `dataplane` already holds.
    pub async fn new(client: Client, node: &str, dataplane: Arc<D>, metrics: Arc<Metrics>) -> Self {
        let programmed = dataplane.programmed().await;
        Agent {
            client,
            node: node.to_owned(),
            dataplane,
            programmed,
            reports: BTreeMap::new(),
            metrics,
        }
    }

    /// Syncs whenever `wake` is notified (after [`DEBOUNCE`]) and at least every `resync`.
    pub async fn run(mut self, stores: Stores, wake: Arc<Notify>, resync: Duration) {
        let mut next = resync;
        loop {
            let _ = tokio::time::timeout(next, wake.notified()).await;
            tokio::time::sleep(DEBOUNCE).await;
            let start = Instant::now();
            let summary = self.sync(&stores.snapshot()).await;
            let result = if summary.failed == 0 {
                "success"
            } else {
                "error"
            };
            self.metrics.record("netlet-sync", result, start.elapsed());
            if summary.programmed + summary.reported + summary.failed > 0 {
                tracing::info!(node = %self.node, programmed = summary.programmed, reported = summary.reported, failed = summary.failed, took = ?start.elapsed(), "synced");
            }
            next = if summary.failed > 0 { RETRY } else { resync };
        }
    }

    /// Converges the dataplane to `snap` and writes back the statuses that differ.
    pub async fn sync(&mut self, snap: &Snapshot) -> SyncSummary {
        let (want, blocked) = config::desired(snap);
        let mut summary = SyncSummary::default();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let dp = self.dataplane.clone();

        // Removals first, so an object re-created under the same key starts clean.
        let gone: Vec<String> = self
            .programmed
            .load_balancers
            .keys()
            .filter(|k| !want.load_balancers.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            summary.programmed += 1;
            match dp.remove_load_balancer(&k).await {
                Ok(()) => {
                    self.programmed.load_balancers.remove(&k);
                }
                Err(e) => note_failure(&mut failed, &k, e.to_string()),
            }
        }
        let gone: Vec<String> = self
            .programmed
            .interfaces
            .keys()
            .filter(|k| !want.interfaces.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            summary.programmed += 1;
            match dp.remove_interface(&k).await {
                Ok(()) => {
                    self.programmed.interfaces.remove(&k);
                }
                Err(e) => note_failure(&mut failed, &k, e.to_string()),
            }
        }
        let gone: Vec<String> = self
            .programmed
            .networks
            .keys()
            .filter(|k| !want.networks.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            summary.programmed += 1;
            match dp.remove_network(&k).await {
                Ok(()) => {
                    self.programmed.networks.remove(&k);
                }
                Err(e) => note_failure(&mut failed, &k, e.to_string()),
            }
        }

        for (k, net) in &want.networks {
            if self.programmed.networks.get(k) == Some(net) {
                continue;
            }
            summary.programmed += 1;
            match dp.apply_network(k, net).await {
                Ok(()) => {
                    self.programmed.networks.insert(k.clone(), net.clone());
                }
                Err(e) => note_failure(&mut failed, k, e.to_string()),
            }
        }
        for (k, nic) in &want.interfaces {
            if self.programmed.interfaces.get(k) == Some(nic) && self.reports.contains_key(k) {
                continue;
            }
            summary.programmed += 1;
            match dp.apply_interface(k, nic).await {
                Ok(r) => {
                    self.programmed.interfaces.insert(k.clone(), nic.clone());
                    self.reports.insert(k.clone(), r);
                }
                Err(e) => {
                    self.reports.remove(k);
                    note_failure(&mut failed, k, e.to_string());
                }
            }
        }
        self.reports.retain(|k, _| want.interfaces.contains_key(k));
        for (k, lb) in &want.load_balancers {
            if self.programmed.load_balancers.get(k) == Some(lb) {
                continue;
            }
            summary.programmed += 1;
            match dp.apply_load_balancer(k, lb).await {
                Ok(()) => {
                    self.programmed.load_balancers.insert(k.clone(), lb.clone());
                }
                Err(e) => note_failure(&mut failed, k, e.to_string()),
            }
        }

        let writes = self.status_writes(snap, &want, &blocked, &failed).await;
        summary.failed += failed.len();
        summary.reported = writes.len();
        let results: Vec<bool> = stream::iter(writes)
            .map(|w| w.send())
            .buffer_unordered(WRITES_IN_FLIGHT)
            .collect()
            .await;
        summary.failed += results.iter().filter(|ok| !**ok).count();
        summary
    }

    async fn status_writes(
        &self,
        snap: &Snapshot,
        want: &NodeConfig,
        blocked: &BTreeMap<String, Unprogrammable>,
        failed: &BTreeMap<String, String>,
    ) -> Vec<StatusWrite> {
        let mut writes = Vec::new();
        for nic in &snap.interfaces {
            if nic.meta().deletion_timestamp.is_some() {
                continue;
            }
            let k = key(nic);
            let outcome = match (want.interfaces.get(&k), self.reports.get(&k)) {
                (Some(cfg), Some(r)) => InterfaceOutcome::Programmed(cfg, r),
                _ if failed.contains_key(&k) => InterfaceOutcome::Failed,
                _ if blocked.contains_key(&k) => InterfaceOutcome::Blocked,
                _ => continue,
            };
            let status = report::interface_status(&outcome);
            if status != nic.status {
                writes.push(StatusWrite::new::<apinet::NetworkInterface>(
                    &self.client,
                    nic,
                    report::interface_status_patch(&status),
                ));
            }
        }
        for net in &snap.networks {
            let k = key(net);
            if net.meta().deletion_timestamp.is_some() || !want.networks.contains_key(&k) {
                continue;
            }
            let states = self.dataplane.peerings(&k).await;
            let entry = report::peering_report(net, &states, failed.contains_key(&k));
            if entry.as_ref() == net.status.peerings.get(&self.node) {
                continue;
            }
            let patch = json!({"status": {"peerings": {&self.node: entry}}});
            writes.push(StatusWrite::new::<apinet::Network>(
                &self.client,
                net,
                patch,
            ));
        }
        for inst in &snap.instances {
            let k = key(inst);
            if inst.meta().deletion_timestamp.is_some() || !want.load_balancers.contains_key(&k) {
                continue;
            }
            if inst.status.ips != inst.spec.ips {
                let patch = json!({"status": {"ips": inst.spec.ips}});
                writes.push(StatusWrite::new::<apinet::Instance>(
                    &self.client,
                    inst,
                    patch,
                ));
            }
        }
        writes
    }
}

fn note_failure(failed: &mut BTreeMap<String, String>, key: &str, error: String) {
    tracing::warn!(object = %key, %error, "dataplane operation failed");
    failed.insert(key.to_owned(), error);
}

/// One pending status merge patch.
struct StatusWrite {
    what: String,
    send: futures::future::BoxFuture<'static, Result<(), kube::Error>>,
}

impl StatusWrite {
    fn new<K>(client: &Client, obj: &K, patch: Value) -> Self
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + 'static,
    {
        let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
        let name = obj.name_any();
        let what = format!("{} {}", K::kind(&()), key(obj));
        let send = Box::pin(async move {
            let pp = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..Default::default()
            };
            api.patch_status(&name, &pp, &Patch::Merge(&patch))
                .await
                .map(|_| ())
        });
        StatusWrite { what, send }
    }

    async fn send(self) -> bool {
        match self.send.await {
            Ok(()) => {
                tracing::debug!(object = %self.what, "status reported");
                true
            }
            // Gone meanwhile: nothing to report.
            Err(e) if crate::error::is_not_found(&e) => true,
            Err(e) => {
                tracing::warn!(object = %self.what, error = %e, "status write failed");
                false
            }
        }
    }
}
