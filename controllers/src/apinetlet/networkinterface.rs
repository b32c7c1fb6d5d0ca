//! NetworkInterface → apinet NetworkInterface (apinet-upstream.md §5.4).
//!
//! **Placement.** This system has no machine provider. An IronCore NIC without
//! `spec.providerID` gets an apinet NIC made by the apinetlet, named by the IronCore NIC's UID
//! in the apinet namespace, on a Node some netlet registered. The node is chosen by rendezvous
//! hashing: every registered, non-deleting apinet Node scores `hash(node name, NIC uid)`
//! (FNV-1a 64, then the MurmurHash3 finalizer) and the highest score wins (ties: the smaller name).
//! Placement is therefore deterministic, balanced over nodes and needs no coordination between
//! replicas. It happens once: the IronCore NIC then gets `spec.providerID =
//! ironcore-net://<apinet ns>/<apinet NIC name>/<node>/<apinet NIC uid>` and the apinet NIC's
//! `nodeRef` is immutable, so a NIC never moves. With no Node registered the NIC stays
//! `Pending` and is retried with backoff (a new Node requeues every NIC still waiting).
//!
//! **Adoption.** A NIC whose `spec.providerID` is set uses the apinet NIC with the UID it names
//! (as upstream): an origin-less one is adopted, one claimed by another IronCore NIC or an
//! unparsable provider ID puts the NIC in state `Error`. Only an apinet NIC named by the
//! IronCore NIC's UID counts as made by the apinetlet.
//!
//! **What is written.** The apinet NIC (server-side apply, field manager
//! `ironcore.dev/apinetlet`, forced): `nodeRef`, `networkRef` (the IronCore Network's UID),
//! `ips` and `prefixes` (literal values only; ephemeral sources need `ipam.ironcore.dev`, which
//! is not served, and put the NIC in state `Error`), `publicIPs` from the claimed VirtualIP
//! (`spec.targetRef` set to this NIC; its `status.ip` as `{name: <ip>, ipFamily, ip}`), the
//! IronCore NIC's labels (NetworkPolicy selectors match apinet NIC labels) and origin metadata.
//! `spec.natGateways` belongs to apinet-controller-manager and is never applied; entries of a
//! family that now has a public IP are removed in one merge patch (with `resourceVersion`)
//! that also sets the public IPs, as the apinet validation requires.
//!
//! **Write-back.** `status.state` from the apinet NIC (`Ready` → `Available`, `Error` →
//! `Error`, otherwise `Pending`), `status.ips`/`prefixes` from the apinet NIC spec,
//! `status.virtualIP` = the first IPv4 of its `status.publicIPs`, `lastStateTransitionTime`
//! when the state changes; only when something differs. The NIC status has no reason field: the
//! reason of an `Error` is the annotation [`STATE_REASON`], removed in any other state.
//!
//! **Deletion.** The apinet NIC made for the NIC is deleted and awaited; an adopted one is
//! released (origin metadata and propagated labels removed, `publicIPs`/`prefixes` cleared);
//! then every VirtualIP claimed by the NIC is released (`targetRef: null`) and the finalizer
//! `apinet.ironcore.dev/networkinterface` removed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ironcore_api::apinet;
use ironcore_api::common::{IP, IPFamily, IPPrefix, LocalUIDReference};
use ironcore_api::networking::networkinterface::{
    NETWORK_INTERFACE_STATE_AVAILABLE as AVAILABLE, NETWORK_INTERFACE_STATE_ERROR as ERROR,
    NETWORK_INTERFACE_STATE_PENDING as PENDING,
};
use ironcore_api::networking::{Network, NetworkInterface, VirtualIP};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::{
    FIELD_MANAGER, NETWORK_INTERFACE_ORIGIN, PROVIDER_ID_PREFIX, State, apply, ensure_gone,
    externally_managed, field_manager, network_uid,
};
use crate::error::{Error, Result, is_not_found};
use crate::finalizer;

/// The finalizer on IronCore NetworkInterfaces.
pub const FINALIZER: &str = "apinet.ironcore.dev/networkinterface";
/// Annotation on an IronCore NIC in state `Error` saying why.
pub const STATE_REASON: &str = "apinet.ironcore.dev/state-reason";
/// The reason given to NICs with ephemeral IP or prefix sources.
pub const REASON_EPHEMERAL: &str = "ephemeral IPs need ipam.ironcore.dev, which is not served";
/// How soon to look again while waiting for the apinet side.
const WAIT: Duration = Duration::from_secs(2);

/// The controller: IronCore NICs; apinet NICs by origin; VirtualIPs (their target and the NICs
/// that want them); apinet Nodes (NICs waiting for placement); IronCore Networks (the NICs on
/// them).
pub fn controller(st: &State) -> Controller<NetworkInterface> {
    let wc = watcher::Config::default();
    let ctl = Controller::new(
        Api::<NetworkInterface>::all(st.ironcore.clone()),
        wc.clone(),
    );
    let (by_vip, by_node, by_net) = (ctl.store(), ctl.store(), ctl.store());
    ctl.watches(
        Api::<apinet::NetworkInterface>::namespaced(st.apinet.clone(), &st.namespace),
        wc.clone().labels(&NETWORK_INTERFACE_ORIGIN.uid_label()),
        |n| NETWORK_INTERFACE_ORIGIN.source::<NetworkInterface, _>(&n),
    )
    .watches(
        Api::<VirtualIP>::all(st.ironcore.clone()),
        wc.clone(),
        move |v| nics_of_virtual_ip(&by_vip, &v),
    )
    .watches(
        Api::<apinet::Node>::all(st.apinet.clone()),
        wc.clone(),
        move |_| unplaced_nics(&by_node),
    )
    .watches(Api::<Network>::all(st.ironcore.clone()), wc, move |n| {
        nics_on_network(&by_net, &n)
    })
}

/// The NICs a VirtualIP matters to: its target, and the NICs that want it by name.
fn nics_of_virtual_ip(
    store: &Store<NetworkInterface>,
    vip: &VirtualIP,
) -> Vec<ObjectRef<NetworkInterface>> {
    let ns = vip.namespace().unwrap_or_default();
    let name = vip.name_any();
    let mut refs: Vec<_> = vip
        .spec
        .target_ref
        .iter()
        .map(|t| ObjectRef::new(&t.name).within(&ns))
        .collect();
    refs.extend(
        store
            .state()
            .iter()
            .filter(|n| n.namespace().as_deref() == Some(ns.as_str()))
            .filter(|n| wanted_virtual_ip(n).as_deref() == Some(name.as_str()))
            .map(|n| ObjectRef::from_obj(n.as_ref())),
    );
    refs
}

/// The NICs still waiting for placement (no provider ID).
fn unplaced_nics(store: &Store<NetworkInterface>) -> Vec<ObjectRef<NetworkInterface>> {
    store
        .state()
        .iter()
        .filter(|n| n.spec.provider_id.is_empty())
        .map(|n| ObjectRef::from_obj(n.as_ref()))
        .collect()
}

/// The NICs on Network `net` (same namespace, by name).
fn nics_on_network(
    store: &Store<NetworkInterface>,
    net: &Network,
) -> Vec<ObjectRef<NetworkInterface>> {
    let ns = net.namespace();
    let name = net.name_any();
    store
        .state()
        .iter()
        .filter(|n| n.namespace() == ns && n.spec.network_ref.name == name)
        .map(|n| ObjectRef::from_obj(n.as_ref()))
        .collect()
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The MurmurHash3 64-bit finalizer: spreads hashes of similar inputs evenly.
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The rendezvous score of placing the NIC with `nic_uid` on `node`.
pub fn placement_score(node: &str, nic_uid: &str) -> u64 {
    avalanche(fnv1a64(node.bytes().chain([0]).chain(nic_uid.bytes())))
}

/// The node the NIC with `nic_uid` is placed on: the highest score, ties to the smaller name.
pub fn place<'a>(nodes: impl IntoIterator<Item = &'a str>, nic_uid: &str) -> Option<&'a str> {
    nodes.into_iter().max_by(|a, b| {
        placement_score(a, nic_uid)
            .cmp(&placement_score(b, nic_uid))
            .then_with(|| b.cmp(a))
    })
}

/// The NIC provider ID of an apinet NIC.
pub fn provider_id(namespace: &str, name: &str, node: &str, uid: &str) -> String {
    format!("{PROVIDER_ID_PREFIX}{namespace}/{name}/{node}/{uid}")
}

/// The parts of a NIC provider ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderId {
    /// The apinet namespace.
    pub namespace: String,
    /// The apinet NIC name.
    pub name: String,
    /// The apinet node.
    pub node: String,
    /// The apinet NIC UID.
    pub uid: String,
}

/// Parses `ironcore-net://<ns>/<name>/<node>/<uid>` (four non-empty parts; the node a DNS
/// subdomain).
pub fn parse_provider_id(id: &str) -> Option<ProviderId> {
    let rest = id.strip_prefix(PROVIDER_ID_PREFIX)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [namespace, name, node, uid] = parts.as_slice() else {
        return None;
    };
    if [namespace, name, node, uid].iter().any(|p| p.is_empty()) || !is_dns_subdomain(node) {
        return None;
    }
    Some(ProviderId {
        namespace: (*namespace).to_owned(),
        name: (*name).to_owned(),
        node: (*node).to_owned(),
        uid: (*uid).to_owned(),
    })
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The name of the VirtualIP the NIC wants: its `virtualIPRef`, or its own name when ephemeral.
pub fn wanted_virtual_ip(nic: &NetworkInterface) -> Option<String> {
    let src = nic.spec.virtual_ip.as_ref()?;
    match (&src.virtual_ip_ref, &src.ephemeral) {
        (Some(r), _) if !r.name.is_empty() => Some(r.name.clone()),
        (_, Some(_)) => Some(nic.name_any()),
        _ => None,
    }
}

/// The literal `spec.ips` and `spec.prefixes`, or the Error reason when any source is ephemeral.
pub fn literal_sources(nic: &NetworkInterface) -> Result<(Vec<IP>, Vec<IPPrefix>), String> {
    let ips: Option<Vec<IP>> = nic
        .spec
        .ips
        .iter()
        .flatten()
        .map(|s| s.value.clone())
        .collect();
    let prefixes: Option<Vec<IPPrefix>> = nic.spec.prefixes.iter().map(|s| s.value).collect();
    match (ips, prefixes) {
        (Some(i), Some(p)) => Ok((i, p)),
        _ => Err(REASON_EPHEMERAL.to_owned()),
    }
}

/// One `spec.publicIPs` entry for an allocated VirtualIP address.
pub fn public_ip(ip: &IP) -> Value {
    json!({"name": ip.to_string(), "ipFamily": ip.family(), "ip": ip})
}

/// The `spec.natGateways` entries to keep: those of a family without a public IP.
pub fn nats_to_keep(
    nats: &[apinet::networkinterface::NetworkInterfaceNAT],
    public: &[IP],
) -> Vec<apinet::networkinterface::NetworkInterfaceNAT> {
    let families: BTreeSet<IPFamily> = public.iter().map(IP::family).collect();
    nats.iter()
        .filter(|n| !families.contains(&n.ip_family))
        .cloned()
        .collect()
}

/// What the IronCore NIC status should say.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// `Pending`, `Available` or `Error`.
    pub state: &'static str,
    /// `status.ips`.
    pub ips: Vec<IP>,
    /// `status.prefixes`.
    pub prefixes: Vec<IPPrefix>,
    /// `status.virtualIP`.
    pub virtual_ip: Option<IP>,
}

impl Observed {
    /// A status with `state` and nothing else.
    pub fn bare(state: &'static str) -> Self {
        Observed {
            state,
            ips: Vec::new(),
            prefixes: Vec::new(),
            virtual_ip: None,
        }
    }

    /// The status mirroring an apinet NIC (§5.4 step 7).
    pub fn of(a: &apinet::NetworkInterface) -> Self {
        let state = match a.status.state.as_str() {
            apinet::networkinterface::NETWORK_INTERFACE_STATE_READY => AVAILABLE,
            apinet::networkinterface::NETWORK_INTERFACE_STATE_ERROR => ERROR,
            _ => PENDING,
        };
        Observed {
            state,
            ips: a.spec.ips.clone(),
            prefixes: a.spec.prefixes.clone(),
            virtual_ip: a.status.public_ips.iter().find(|ip| ip.is_ipv4()).cloned(),
        }
    }

    /// Whether `nic`'s status already says this.
    pub fn matches(&self, nic: &NetworkInterface) -> bool {
        let s = &nic.status;
        let state = if s.state.is_empty() {
            PENDING
        } else {
            s.state.as_str()
        };
        state == self.state
            && s.ips == self.ips
            && s.prefixes == self.prefixes
            && s.virtual_ip == self.virtual_ip
    }
}

/// Realizes one IronCore NIC, or cleans up after a deleting one.
pub async fn reconcile(nic: Arc<NetworkInterface>, st: Arc<State>) -> Result<Action> {
    let ns = nic
        .namespace()
        .ok_or_else(|| Error::NotReady("network interface without namespace".into()))?;
    let uid = nic
        .uid()
        .ok_or_else(|| Error::NotReady("network interface without uid".into()))?;
    let ctx = Ctx {
        name: nic.name_any(),
        api: Api::namespaced(st.ironcore.clone(), &ns),
        vips: Api::namespaced(st.ironcore.clone(), &ns),
        apinet_nics: Api::namespaced(st.apinet.clone(), &st.namespace),
        ns,
        uid,
        st,
    };
    if finalizer::is_deleting(nic.as_ref()) {
        if !finalizer::has(nic.as_ref(), FINALIZER) {
            return Ok(Action::await_change());
        }
        return ctx.finalize(&nic).await;
    }
    if externally_managed(nic.as_ref()) {
        return Ok(Action::await_change());
    }
    if finalizer::add(&ctx.api, &nic, FINALIZER, FIELD_MANAGER).await? {
        // The copy is stale now; the update's own event brings the fresh one.
        return Ok(Action::await_change());
    }
    ctx.realize(&nic).await
}

/// Where the apinet NIC of an IronCore NIC stands.
enum Located {
    /// Found (or made); whether the apinetlet made it.
    Found(Box<apinet::NetworkInterface>, bool),
    /// Not yet; why.
    Pending(String),
    /// Never, until the IronCore NIC changes; why.
    Failed(String),
}

/// One reconcile's clients and names.
struct Ctx {
    st: Arc<State>,
    ns: String,
    name: String,
    uid: String,
    api: Api<NetworkInterface>,
    vips: Api<VirtualIP>,
    apinet_nics: Api<apinet::NetworkInterface>,
}

impl Ctx {
    async fn realize(&self, nic: &NetworkInterface) -> Result<Action> {
        let (ips, prefixes) = match literal_sources(nic) {
            Ok(s) => s,
            Err(reason) => return self.fail(nic, &reason).await,
        };
        let (anic, made) = match self.locate(nic, &ips).await? {
            Located::Found(a, made) => (*a, made),
            Located::Pending(reason) => {
                tracing::debug!(network_interface = %self.name, namespace = %self.ns, %reason, "network interface pending");
                self.write_status(nic, &Observed::bare(PENDING), None)
                    .await?;
                return Err(Error::NotReady(reason));
            }
            Located::Failed(reason) => return self.fail(nic, &reason).await,
        };
        if anic.metadata.deletion_timestamp.is_some() {
            self.write_status(nic, &Observed::bare(PENDING), None)
                .await?;
            return Ok(Action::requeue(WAIT));
        }
        let public = self.claim_virtual_ip(nic).await?;
        let anic = self.drop_conflicting_nats(anic, &public).await?;
        let body = self.body(nic, &anic, made, &ips, &prefixes);
        let anic = match apply(&self.apinet_nics, &anic.name_any(), &body).await {
            Ok(a) => a,
            Err(Error::Kube(kube::Error::Api(s))) if s.code == 422 => {
                // A NAT claim may have landed after the conflicting entries were dropped:
                // drop them again on fresh state, and only then call it an error.
                let fresh = self.apinet_nics.get(&anic.name_any()).await?;
                let fresh = self.drop_conflicting_nats(fresh, &public).await?;
                match apply(&self.apinet_nics, &fresh.name_any(), &body).await {
                    Ok(a) => a,
                    Err(Error::Kube(kube::Error::Api(s))) if s.code == 422 => {
                        let reason = format!("apinet network interface rejected: {}", s.message);
                        self.fail(nic, &reason).await?;
                        return Err(Error::NotReady(reason));
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let observed = Observed::of(&anic);
        self.write_status(nic, &observed, None).await?;
        Ok(Action::requeue(if observed.state == AVAILABLE {
            self.st.resync
        } else {
            self.st.resync.min(Duration::from_secs(30))
        }))
    }

    /// Finds the apinet NIC named by the provider ID, or places and makes one.
    async fn locate(&self, nic: &NetworkInterface, ips: &[IP]) -> Result<Located> {
        if nic.spec.provider_id.is_empty() {
            return self.place_and_make(nic, ips).await;
        }
        let Some(pid) = parse_provider_id(&nic.spec.provider_id) else {
            return Ok(Located::Failed(format!(
                "unparsable providerID {:?}",
                nic.spec.provider_id
            )));
        };
        // The provider ID names it; its UID decides (as upstream), so a listing is needed only
        // when the name does not lead to it.
        let by_name = if pid.namespace == self.st.namespace {
            self.apinet_nics
                .get_opt(&pid.name)
                .await?
                .filter(|a| a.uid().as_deref() == Some(pid.uid.as_str()))
        } else {
            None
        };
        let found = match by_name {
            Some(a) => Some(a),
            None => self
                .apinet_nics
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .find(|a| a.uid().as_deref() == Some(pid.uid.as_str())),
        };
        let Some(anic) = found else {
            if pid.namespace == self.st.namespace && pid.name == self.uid {
                // Ours, but gone (deleted behind our back): place it afresh.
                let patch = json!({
                    "metadata": {"resourceVersion": nic.resource_version()},
                    "spec": {"providerID": Value::Null},
                });
                self.api
                    .patch(&self.name, &field_manager(), &Patch::Merge(&patch))
                    .await?;
                tracing::warn!(network_interface = %self.name, namespace = %self.ns, provider_id = %nic.spec.provider_id, "apinet network interface made for it is gone; placing anew");
                return Ok(Located::Pending("apinet network interface gone".into()));
            }
            return Ok(Located::Pending(format!(
                "apinet network interface {} not found",
                pid.uid
            )));
        };
        let made = anic.namespace().as_deref() == Some(self.st.namespace.as_str())
            && anic.name_any() == self.uid;
        match anic.labels().get(&NETWORK_INTERFACE_ORIGIN.uid_label()) {
            Some(owner) if !owner.is_empty() && *owner != self.uid => Ok(Located::Failed(format!(
                "apinet network interface {} is claimed by another network interface",
                anic.name_any()
            ))),
            Some(_) => Ok(Located::Found(Box::new(anic), made)),
            None => {
                tracing::info!(network_interface = %self.name, namespace = %self.ns, apinet = %anic.name_any(), "adopting apinet network interface");
                Ok(Located::Found(Box::new(anic), made))
            }
        }
    }

    /// Places the NIC on a node and makes its apinet NIC; then writes the provider ID.
    async fn place_and_make(&self, nic: &NetworkInterface, ips: &[IP]) -> Result<Located> {
        let Some(net_uid) = network_uid(&self.st, &self.ns, &nic.spec.network_ref.name).await?
        else {
            return Ok(Located::Pending(format!(
                "network {:?} does not exist or is being deleted",
                nic.spec.network_ref.name
            )));
        };
        let node = match self.apinet_nics.get_opt(&self.uid).await? {
            Some(existing) => {
                let owner = existing.labels().get(&NETWORK_INTERFACE_ORIGIN.uid_label());
                if owner.is_some_and(|o| *o != self.uid) {
                    return Ok(Located::Failed(format!(
                        "apinet network interface {} is claimed by another network interface",
                        self.uid
                    )));
                }
                existing.spec.node_ref.name
            }
            None => {
                let nodes = Api::<apinet::Node>::all(self.st.apinet.clone())
                    .list(&ListParams::default())
                    .await?;
                let live: Vec<String> = nodes
                    .items
                    .iter()
                    .filter(|n| n.metadata.deletion_timestamp.is_none())
                    .map(|n| n.name_any())
                    .collect();
                match place(live.iter().map(String::as_str), &self.uid) {
                    Some(n) => n.to_owned(),
                    None => return Ok(Located::Pending("no node registered".into())),
                }
            }
        };
        let body = json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkInterface",
            "metadata": {
                "name": self.uid,
                "namespace": self.st.namespace,
                "labels": self.labels(nic),
                "annotations": NETWORK_INTERFACE_ORIGIN.annotations(nic),
            },
            "spec": {
                "nodeRef": {"name": node},
                "networkRef": {"name": net_uid},
                "ips": ips,
            },
        });
        let anic = match apply(&self.apinet_nics, &self.uid, &body).await {
            Ok(a) => a,
            Err(Error::Kube(kube::Error::Api(s))) if s.code == 422 => {
                return Ok(Located::Failed(format!(
                    "apinet network interface rejected: {}",
                    s.message
                )));
            }
            Err(e) => return Err(e),
        };
        let pid = provider_id(
            &self.st.namespace,
            &self.uid,
            &node,
            &anic.uid().unwrap_or_default(),
        );
        let patch = json!({
            "metadata": {"resourceVersion": nic.resource_version()},
            "spec": {"providerID": pid},
        });
        self.api
            .patch(&self.name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(network_interface = %self.name, namespace = %self.ns, %node, provider_id = %pid, "network interface placed");
        Ok(Located::Found(Box::new(anic), true))
    }

    /// Claims the wanted VirtualIP, releases others; returns the claimed addresses.
    async fn claim_virtual_ip(&self, nic: &NetworkInterface) -> Result<Vec<IP>> {
        let wanted = wanted_virtual_ip(nic);
        let mut public = Vec::new();
        for vip in self.vips.list(&ListParams::default()).await?.items {
            let vname = vip.name_any();
            let target = vip.spec.target_ref.as_ref().map(|t| t.uid.as_str());
            let matches = wanted.as_deref() == Some(vname.as_str())
                && vip.metadata.deletion_timestamp.is_none();
            let claimed = match (target, matches) {
                (Some(t), true) if t == self.uid => true,
                (Some(t), false) if t == self.uid => {
                    self.set_target(&vip, None).await?;
                    tracing::info!(network_interface = %self.name, namespace = %self.ns, virtual_ip = %vname, "virtual IP released");
                    false
                }
                (None, true) => {
                    let target = LocalUIDReference {
                        name: self.name.clone(),
                        uid: self.uid.clone(),
                    };
                    self.set_target(&vip, Some(target)).await?;
                    tracing::info!(network_interface = %self.name, namespace = %self.ns, virtual_ip = %vname, "virtual IP claimed");
                    true
                }
                (Some(other), true) => {
                    tracing::info!(network_interface = %self.name, namespace = %self.ns, virtual_ip = %vname, claimed_by = %other, "wanted virtual IP is claimed by another network interface");
                    false
                }
                _ => false,
            };
            if claimed && let Some(ip) = &vip.status.ip {
                public.push(ip.clone());
            }
        }
        Ok(public)
    }

    /// Sets (or clears) a VirtualIP's `spec.targetRef` under an optimistic lock.
    async fn set_target(&self, vip: &VirtualIP, target: Option<LocalUIDReference>) -> Result<()> {
        let patch = json!({
            "metadata": {"resourceVersion": vip.resource_version()},
            "spec": {"targetRef": target},
        });
        self.vips
            .patch(&vip.name_any(), &field_manager(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Sets the public IPs to `public` and removes NAT entries of families that get one, in one
    /// locked merge patch (the apinet validation forbids both for one family). A merge patch,
    /// not the apply: the NAT entries belong to the apinet-controller-manager, and a list
    /// written by another manager's patch would survive being left out of an apply.
    async fn drop_conflicting_nats(
        &self,
        anic: apinet::NetworkInterface,
        public: &[IP],
    ) -> Result<apinet::NetworkInterface> {
        let keep = nats_to_keep(&anic.spec.nats, public);
        let have: Vec<&IP> = anic
            .spec
            .public_ips
            .iter()
            .filter_map(|p| p.ip.as_ref())
            .collect();
        let same_public = have.len() == public.len() && public.iter().all(|ip| have.contains(&ip));
        if keep.len() == anic.spec.nats.len() && same_public {
            return Ok(anic);
        }
        let public_ips = if public.is_empty() {
            Value::Null
        } else {
            Value::Array(public.iter().map(public_ip).collect())
        };
        let mut spec = json!({"publicIPs": public_ips});
        if keep.len() != anic.spec.nats.len() {
            spec["natGateways"] = if keep.is_empty() {
                Value::Null
            } else {
                json!(keep)
            };
        }
        let patch = json!({
            "metadata": {"resourceVersion": anic.resource_version()},
            "spec": spec,
        });
        let patched = self
            .apinet_nics
            .patch(&anic.name_any(), &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(network_interface = %self.name, namespace = %self.ns, apinet = %anic.name_any(), public_ips = public.len(), "public IPs set");
        Ok(patched)
    }

    /// The labels of the apinet NIC: the IronCore NIC's, then the origin labels.
    fn labels(&self, nic: &NetworkInterface) -> BTreeMap<String, String> {
        let mut labels = nic.labels().clone();
        labels.extend(NETWORK_INTERFACE_ORIGIN.labels(nic));
        labels
    }

    /// The apply body: every field the apinetlet owns on the apinet NIC.
    fn body(
        &self,
        nic: &NetworkInterface,
        anic: &apinet::NetworkInterface,
        made: bool,
        ips: &[IP],
        prefixes: &[IPPrefix],
    ) -> Value {
        let mut spec = serde_json::Map::new();
        if made {
            spec.insert("nodeRef".into(), json!({"name": anic.spec.node_ref.name}));
            spec.insert(
                "networkRef".into(),
                json!({"name": anic.spec.network_ref.name}),
            );
            spec.insert("ips".into(), json!(ips));
        }
        // Always sent, also empty, so that removed prefixes go. (publicIPs: see
        // `drop_conflicting_nats`.)
        spec.insert("prefixes".into(), json!(prefixes));
        json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkInterface",
            "metadata": {
                "name": anic.name_any(),
                "namespace": self.st.namespace,
                "labels": self.labels(nic),
                "annotations": NETWORK_INTERFACE_ORIGIN.annotations(nic),
            },
            "spec": spec,
        })
    }

    /// Puts the NIC in state `Error` with `reason`; retried only when something changes.
    async fn fail(&self, nic: &NetworkInterface, reason: &str) -> Result<Action> {
        tracing::warn!(network_interface = %self.name, namespace = %self.ns, %reason, "network interface in error");
        self.write_status(nic, &Observed::bare(ERROR), Some(reason))
            .await?;
        Ok(Action::requeue(self.st.resync))
    }

    /// Writes `want` (and the reason annotation) when the NIC does not say it yet.
    async fn write_status(
        &self,
        nic: &NetworkInterface,
        want: &Observed,
        reason: Option<&str>,
    ) -> Result<()> {
        let have_reason = nic.annotations().get(STATE_REASON).map(String::as_str);
        if have_reason != reason {
            let patch = json!({"metadata": {"annotations": {STATE_REASON: reason}}});
            self.api
                .patch(&self.name, &field_manager(), &Patch::Merge(&patch))
                .await?;
        }
        if want.matches(nic) {
            return Ok(());
        }
        let mut status = json!({
            "state": want.state,
            "ips": if want.ips.is_empty() { Value::Null } else { json!(want.ips) },
            "prefixes": if want.prefixes.is_empty() { Value::Null } else { json!(want.prefixes) },
            "virtualIP": want.virtual_ip,
        });
        let have_state = if nic.status.state.is_empty() {
            PENDING
        } else {
            nic.status.state.as_str()
        };
        if have_state != want.state || nic.status.last_state_transition_time.is_none() {
            status["lastStateTransitionTime"] = json!(Time(k8s_openapi::jiff::Timestamp::now()));
        }
        self.api
            .patch_status(
                &self.name,
                &field_manager(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await?;
        tracing::info!(network_interface = %self.name, namespace = %self.ns, state = want.state, virtual_ip = ?want.virtual_ip, "network interface status updated");
        Ok(())
    }

    /// Deletes (or releases) the apinet NIC, releases claimed VirtualIPs, lifts the finalizer.
    async fn finalize(&self, nic: &NetworkInterface) -> Result<Action> {
        let lp = ListParams::default().labels(&format!(
            "{}={}",
            NETWORK_INTERFACE_ORIGIN.uid_label(),
            self.uid
        ));
        let mut waiting = false;
        for anic in self.apinet_nics.list(&lp).await?.items {
            let aname = anic.name_any();
            if aname == self.uid {
                if !ensure_gone(&self.apinet_nics, &aname).await? {
                    waiting = true;
                }
            } else {
                self.release_adopted(nic, &anic).await?;
            }
        }
        if waiting {
            tracing::info!(network_interface = %self.name, namespace = %self.ns, apinet = %self.uid, "waiting for the apinet network interface to go");
            return Ok(Action::requeue(WAIT));
        }
        for vip in self.vips.list(&ListParams::default()).await?.items {
            if vip
                .spec
                .target_ref
                .as_ref()
                .is_some_and(|t| t.uid == self.uid)
            {
                self.set_target(&vip, None).await?;
                tracing::info!(network_interface = %self.name, namespace = %self.ns, virtual_ip = %vip.name_any(), "virtual IP released");
            }
        }
        match finalizer::remove(&self.api, nic, FINALIZER, FIELD_MANAGER).await {
            // A stale copy: the finalizer was removed already and the NIC is gone.
            Err(Error::Kube(e)) if is_not_found(&e) => return Ok(Action::await_change()),
            other => other?,
        }
        tracing::info!(network_interface = %self.name, namespace = %self.ns, "network interface released, finalizer removed");
        Ok(Action::await_change())
    }

    /// Gives an adopted apinet NIC back: origin metadata and propagated labels removed, public
    /// IPs and prefixes cleared.
    async fn release_adopted(
        &self,
        nic: &NetworkInterface,
        anic: &apinet::NetworkInterface,
    ) -> Result<()> {
        let mut labels: BTreeMap<String, Value> = nic
            .labels()
            .keys()
            .map(|k| (k.clone(), Value::Null))
            .collect();
        for k in NETWORK_INTERFACE_ORIGIN.labels(nic).into_keys() {
            labels.insert(k, Value::Null);
        }
        let patch = json!({
            "metadata": {
                "labels": labels,
                "annotations": {NETWORK_INTERFACE_ORIGIN.name_annotation(): Value::Null},
            },
            "spec": {"publicIPs": Value::Null, "prefixes": Value::Null},
        });
        self.apinet_nics
            .patch(&anic.name_any(), &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(network_interface = %self.name, namespace = %self.ns, apinet = %anic.name_any(), "adopted apinet network interface released");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic(mut v: Value) -> NetworkInterface {
        v["apiVersion"] = json!("networking.ironcore.dev/v1alpha1");
        v["kind"] = json!("NetworkInterface");
        serde_json::from_value(v).unwrap()
    }

    fn apinet_nic(mut v: Value) -> apinet::NetworkInterface {
        v["apiVersion"] = json!("core.apinet.ironcore.dev/v1alpha1");
        v["kind"] = json!("NetworkInterface");
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn placement_is_deterministic_and_stable_when_nodes_are_added() {
        let nodes = ["node-a", "node-b", "node-c"];
        let first = place(nodes, "uid-1").unwrap();
        assert_eq!(place(nodes, "uid-1"), Some(first));
        let reversed = ["node-c", "node-b", "node-a"];
        assert_eq!(
            place(reversed, "uid-1"),
            Some(first),
            "order does not matter"
        );
        // Adding a node only ever moves a NIC to the new node.
        let more = ["node-a", "node-b", "node-c", "node-d"];
        for i in 0..200 {
            let uid = format!("uid-{i}");
            let before = place(nodes, &uid).unwrap();
            let after = place(more, &uid).unwrap();
            assert!(
                after == before || after == "node-d",
                "{uid}: {before} → {after}"
            );
        }
        assert_eq!(place([], "uid-1"), None);
    }

    #[test]
    fn placement_is_balanced() {
        let nodes = ["node-a", "node-b", "node-c"];
        let mut counts = BTreeMap::new();
        for i in 0..3000 {
            let uid = format!("5f2b0c1e-0000-4000-8000-{i:012}");
            *counts.entry(place(nodes, &uid).unwrap()).or_insert(0) += 1;
        }
        for (node, n) in counts {
            assert!((800..1200).contains(&n), "{node} got {n} of 3000");
        }
    }

    #[test]
    fn fnv1a_matches_the_reference_and_scores_separate_name_and_uid() {
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(*b"foobar"), 0x8594_4171_f739_67e8);
        assert_ne!(placement_score("ab", "c"), placement_score("a", "bc"));
    }

    #[test]
    fn provider_ids_round_trip_and_bad_ones_fail() {
        let id = provider_id("ns", "name", "node-a", "uid");
        assert_eq!(id, "ironcore-net://ns/name/node-a/uid");
        assert_eq!(
            parse_provider_id(&id),
            Some(ProviderId {
                namespace: "ns".into(),
                name: "name".into(),
                node: "node-a".into(),
                uid: "uid".into()
            })
        );
        for bad in [
            "ns/name/node/uid",
            "ironcore-net://ns/name/node",
            "ironcore-net://ns/name/node/uid/x",
            "ironcore-net://ns/name/Node_A/uid",
            "ironcore-net://ns//node/uid",
            "other://ns/name/node/uid",
        ] {
            assert_eq!(parse_provider_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn wanted_virtual_ip_by_reference_or_own_name() {
        let by_ref = nic(
            json!({"metadata": {"name": "n"}, "spec": {"virtualIP": {"virtualIPRef": {"name": "v"}}}}),
        );
        assert_eq!(wanted_virtual_ip(&by_ref).as_deref(), Some("v"));
        let eph = nic(
            json!({"metadata": {"name": "n"}, "spec": {"virtualIP": {"ephemeral": {"virtualIPTemplate": {"spec": {"type": "Public", "ipFamily": "IPv4"}}}}}}),
        );
        assert_eq!(wanted_virtual_ip(&eph).as_deref(), Some("n"));
        let none = nic(json!({"metadata": {"name": "n"}, "spec": {}}));
        assert_eq!(wanted_virtual_ip(&none), None);
    }

    #[test]
    fn ephemeral_sources_are_an_error() {
        let lit = nic(json!({"metadata": {"name": "n"}, "spec": {
            "ips": [{"value": "10.0.0.1"}], "prefixes": [{"value": "10.1.0.0/24"}]}}));
        let (ips, prefixes) = literal_sources(&lit).unwrap();
        assert_eq!(ips, vec!["10.0.0.1".parse::<IP>().unwrap()]);
        assert_eq!(prefixes, vec!["10.1.0.0/24".parse::<IPPrefix>().unwrap()]);
        let eph_ip = nic(json!({"metadata": {"name": "n"}, "spec": {
            "ips": [{"ephemeral": {"prefixTemplate": {"spec": {"prefixLength": 32}}}}]}}));
        assert_eq!(literal_sources(&eph_ip).unwrap_err(), REASON_EPHEMERAL);
        let eph_pfx = nic(json!({"metadata": {"name": "n"}, "spec": {
            "ips": [{"value": "10.0.0.1"}], "prefixes": [{"ephemeral": {}}]}}));
        assert_eq!(literal_sources(&eph_pfx).unwrap_err(), REASON_EPHEMERAL);
    }

    #[test]
    fn nat_entries_of_public_families_are_dropped() {
        let anic = apinet_nic(json!({
            "metadata": {"name": "a"},
            "spec": {"nodeRef": {"name": "n"}, "natGateways": [
                {"ipFamily": "IPv4", "claimRef": {"name": "g4", "uid": "u4"}},
                {"ipFamily": "IPv6", "claimRef": {"name": "g6", "uid": "u6"}},
            ]},
        }));
        let v4: IP = "10.0.0.7".parse().unwrap();
        let keep = nats_to_keep(&anic.spec.nats, std::slice::from_ref(&v4));
        assert_eq!(keep.len(), 1);
        assert_eq!(keep[0].ip_family, IPFamily::IPv6);
        assert_eq!(nats_to_keep(&anic.spec.nats, &[]).len(), 2);
        assert_eq!(
            public_ip(&v4),
            json!({"name": "10.0.0.7", "ipFamily": "IPv4", "ip": "10.0.0.7"})
        );
    }

    #[test]
    fn status_mirrors_the_apinet_interface() {
        let anic = apinet_nic(json!({
            "metadata": {"name": "a"},
            "spec": {"nodeRef": {"name": "n"}, "ips": ["10.0.0.1"], "prefixes": ["10.1.0.0/24"]},
            "status": {"state": "Ready", "publicIPs": ["fd00::1", "10.0.0.9"]},
        }));
        let o = Observed::of(&anic);
        assert_eq!(o.state, AVAILABLE);
        assert_eq!(o.ips, vec!["10.0.0.1".parse::<IP>().unwrap()]);
        assert_eq!(
            o.virtual_ip,
            Some("10.0.0.9".parse().unwrap()),
            "first IPv4"
        );
        let mut a = anic.clone();
        a.status.state = "Error".into();
        assert_eq!(Observed::of(&a).state, ERROR);
        a.status.state = "Whatever".into();
        assert_eq!(Observed::of(&a).state, PENDING);

        let mut n = nic(json!({"metadata": {"name": "n"}, "spec": {}}));
        assert!(
            Observed::bare(PENDING).matches(&n),
            "empty state reads as Pending"
        );
        assert!(!o.matches(&n));
        n.status.state = AVAILABLE.into();
        n.status.ips = o.ips.clone();
        n.status.prefixes = o.prefixes.clone();
        n.status.virtual_ip = o.virtual_ip.clone();
        assert!(o.matches(&n));
    }
}
