//! `natgateway`: NAT port allocation (apinet-upstream.md §4.1).
//!
//! The ephemeral port range 1024..=65535 of each public IP of a NATGateway is cut into
//! `slotsPerIP = 64512 / portsPerNetworkInterface` slots; slot `s` is the port range
//! `[1024 + s·ppni, 1024 + s·ppni + ppni − 1]`. Every NetworkInterface of the gateway's network
//! (same namespace) that has an internal IP of the gateway's family and no public IP of that
//! family requests a slot. The gateway claims a requesting NIC by appending
//! `{ipFamily, claimRef{name, uid}}` to its `spec.natGateways` (merge patch, optimistic lock)
//! and records the slot as a section of the NATTable named like the gateway (server-side
//! apply, controller ownerRef → gateway). Slots of NICs that keep qualifying stay where they
//! are; claims that no longer qualify or do not fit are released by really removing the entry
//! (upstream quirk 2). `status.usedNATIPs` = used slots, `status.requestedNATIPs` = requesting
//! NICs.
//!
//! A deleted gateway's NATTable is deleted by [`super::gc`]'s owner check, and its claims are
//! dropped by [`super::natrelease`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use ironcore_api::apinet::natgateway::{NAT_PORT_MAX, NAT_PORT_MIN};
use ironcore_api::apinet::{
    FIELD_SPEC_NETWORK_REF_NAME, LocalObjectReference, NATGateway, NATIP, NATIPSection, NATTable,
    NATTableIPTargetRef, NetworkInterface, NetworkInterfaceNAT,
};
use ironcore_api::common::{IP, IPFamily, LocalUIDReference};
use kube::api::{ListParams, Patch};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{State, apply, controller_ref, field_manager, is_deleting, namespace_of};
use crate::error::{Error, Result, is_conflict, is_not_found};

/// How many claim writes run at the same time.
const CLAIM_CONCURRENCY: usize = 8;
/// How often a claim or release is retried on a write conflict (on fresh state).
const WRITE_ATTEMPTS: usize = 5;

/// The controller: NATGateways; their NATTables; NetworkInterfaces (→ the gateways named in
/// `spec.natGateways`, and the gateways of the NIC's network in its namespace).
pub fn controller(client: &kube::Client) -> Controller<NATGateway> {
    let wc = watcher::Config::default();
    let ctrl = Controller::new(Api::<NATGateway>::all(client.clone()), wc.clone());
    let gateways = ctrl.store();
    ctrl.watches(Api::<NATTable>::all(client.clone()), wc.clone(), |t| {
        let ns = t.namespace()?;
        Some(ObjectRef::new(&t.name_any()).within(&ns))
    })
    .watches(
        Api::<NetworkInterface>::all(client.clone()),
        wc,
        move |nic| gateways_for_nic(&nic, &gateways.state()),
    )
}

/// The gateways a NIC change concerns: those named in its NAT claims and those of its network
/// in its namespace.
fn gateways_for_nic(
    nic: &NetworkInterface,
    gateways: &[Arc<NATGateway>],
) -> Vec<ObjectRef<NATGateway>> {
    let Some(ns) = nic.namespace() else {
        return Vec::new();
    };
    let mut names: Vec<String> = nic
        .spec
        .nats
        .iter()
        .map(|n| n.claim_ref.name.clone())
        .collect();
    names.extend(
        gateways
            .iter()
            .filter(|g| {
                g.namespace().as_deref() == Some(ns.as_str())
                    && g.spec.network_ref.name == nic.spec.network_ref.name
            })
            .map(|g| g.name_any()),
    );
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(|n| ObjectRef::new(&n).within(&ns))
        .collect()
}

/// The port range `(port, endPort)` of slot `slot` with `ppni` ports per interface.
pub fn slot_ports(ppni: i32, slot: i32) -> (i32, i32) {
    let port = NAT_PORT_MIN + slot * ppni;
    (port, port + ppni - 1)
}

/// The slot of a stored section, when the section is a valid slot of this gateway.
pub fn section_slot(ppni: i32, slots_per_ip: i32, port: i32, end_port: i32) -> Option<i32> {
    if ppni <= 0
        || port < NAT_PORT_MIN
        || port >= end_port
        || end_port > NAT_PORT_MAX
        || end_port != port + ppni - 1
        || (port - NAT_PORT_MIN) % ppni != 0
    {
        return None;
    }
    let slot = (port - NAT_PORT_MIN) / ppni;
    (slot < slots_per_ip).then_some(slot)
}

/// Used/free slots per public IP (IPs sorted, duplicates collapsed).
#[derive(Debug)]
struct Slots {
    ips: Vec<IP>,
    used: Vec<Vec<bool>>,
}

impl Slots {
    fn new(ips: &[Option<IP>], slots_per_ip: i32) -> Self {
        let mut ips: Vec<IP> = ips.iter().flatten().cloned().collect();
        ips.sort_by_key(|ip| ip.addr());
        ips.dedup();
        let per = usize::try_from(slots_per_ip).unwrap_or(0);
        let used = vec![vec![false; per]; ips.len()];
        Slots { ips, used }
    }

    /// Marks `slot` of `ip` used; false when unknown or taken.
    fn mark(&mut self, ip: &IP, slot: i32) -> bool {
        let Some(i) = self.ips.iter().position(|x| x == ip) else {
            return false;
        };
        match usize::try_from(slot)
            .ok()
            .and_then(|s| self.used[i].get_mut(s))
        {
            Some(u) if !*u => {
                *u = true;
                true
            }
            _ => false,
        }
    }

    /// Takes the lowest free slot of the lowest IP that has one.
    fn take(&mut self) -> Option<(IP, i32)> {
        for (i, slots) in self.used.iter_mut().enumerate() {
            if let Some(s) = slots.iter().position(|u| !*u) {
                slots[s] = true;
                return Some((self.ips[i].clone(), i32::try_from(s).ok()?));
            }
        }
        None
    }
}

/// One NIC's slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// The NIC's name.
    pub nic: String,
    /// The NIC's UID.
    pub uid: String,
    /// The NIC's node.
    pub node: String,
    /// The NIC's internal IP of the gateway's family.
    pub source: IP,
    /// The public IP.
    pub ip: IP,
    /// The slot on that IP.
    pub slot: i32,
}

/// What one reconcile of a gateway does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// NICs claimed by the gateway that keep (or get) a slot.
    pub assigned: Vec<Assignment>,
    /// Unclaimed requesting NICs with a reserved slot, to be claimed.
    pub to_claim: Vec<Assignment>,
    /// NICs whose claim by the gateway is released.
    pub release: Vec<String>,
    /// How many NICs request a slot.
    pub requested: i64,
}

/// The internal IP of `family` of a NIC that wants NAT of that family: it has such an internal
/// IP and no public IP of the family.
pub fn wants_nat(nic: &NetworkInterface, family: &IPFamily) -> Option<IP> {
    if nic.spec.public_ips.iter().any(|p| p.ip_family == *family) {
        return None;
    }
    nic.spec
        .ips
        .iter()
        .find(|ip| ip.family() == *family)
        .cloned()
}

/// Computes the slots of the NICs of a gateway's network, keeping the slots recorded in
/// `table` for NICs that still qualify.
pub fn plan(gw: &NATGateway, table: Option<&NATTable>, nics: &[NetworkInterface]) -> Plan {
    let family = &gw.spec.ip_family;
    let gw_uid = gw.uid().unwrap_or_default();
    let ppni = gw.spec.ports_per_network_interface;
    let spi = gw.slots_per_ip();
    let ips = gw.ips();

    // Slots recorded in the table for IPs the gateway still has.
    let mut existing: HashMap<String, (IP, i32)> = HashMap::new();
    {
        let mut seen = Slots::new(&ips, spi);
        for nat_ip in table.map(|t| t.ips.as_slice()).unwrap_or_default() {
            let Some(ip) = &nat_ip.ip else { continue };
            for sec in &nat_ip.sections {
                let Some(target) = &sec.target_ref else {
                    continue;
                };
                if let Some(slot) = section_slot(ppni, spi, sec.port, sec.end_port)
                    && seen.mark(ip, slot)
                {
                    existing.insert(target.uid.clone(), (ip.clone(), slot));
                }
            }
        }
    }

    let mut slots = Slots::new(&ips, spi);
    let mut out = Plan::default();
    let mut claimed_new: Vec<(&NetworkInterface, IP)> = Vec::new();
    let mut free: Vec<(&NetworkInterface, IP)> = Vec::new();
    for nic in nics {
        let source = wants_nat(nic, family);
        match nic.nat_claimer(family) {
            Some(c) if c.uid != gw_uid => {}
            Some(_) => match source {
                Some(source) => {
                    out.requested += 1;
                    let uid = nic.uid().unwrap_or_default();
                    match existing.get(&uid) {
                        Some((ip, slot)) if slots.mark(ip, *slot) => {
                            out.assigned
                                .push(assignment(nic, source, ip.clone(), *slot));
                        }
                        _ => claimed_new.push((nic, source)),
                    }
                }
                None => out.release.push(nic.name_any()),
            },
            None => {
                if let Some(source) = source
                    && !is_deleting(nic)
                {
                    out.requested += 1;
                    free.push((nic, source));
                }
            }
        }
    }
    let mut full = false;
    for (nic, source) in claimed_new {
        match (!full).then(|| slots.take()).flatten() {
            Some((ip, slot)) => out.assigned.push(assignment(nic, source, ip, slot)),
            None => {
                full = true;
                out.release.push(nic.name_any());
            }
        }
    }
    if !full {
        for (nic, source) in free {
            let Some((ip, slot)) = slots.take() else {
                break;
            };
            out.to_claim.push(assignment(nic, source, ip, slot));
        }
    }
    out
}

fn assignment(nic: &NetworkInterface, source: IP, ip: IP, slot: i32) -> Assignment {
    Assignment {
        nic: nic.name_any(),
        uid: nic.uid().unwrap_or_default(),
        node: nic.spec.node_ref.name.clone(),
        source,
        ip,
        slot,
    }
}

/// The NATTable `ips` for the assignments: IPs with sections, sorted by address; sections
/// sorted by port.
pub fn table_ips(ppni: i32, assignments: &[Assignment]) -> Vec<NATIP> {
    let mut by_ip: BTreeMap<std::net::IpAddr, (IP, Vec<NATIPSection>)> = BTreeMap::new();
    for a in assignments {
        let (port, end_port) = slot_ports(ppni, a.slot);
        by_ip
            .entry(a.ip.addr())
            .or_insert_with(|| (a.ip.clone(), Vec::new()))
            .1
            .push(NATIPSection {
                ip: Some(a.source.clone()),
                port,
                end_port,
                target_ref: Some(NATTableIPTargetRef {
                    uid: a.uid.clone(),
                    name: a.nic.clone(),
                    node_ref: LocalObjectReference {
                        name: a.node.clone(),
                    },
                }),
            });
    }
    by_ip
        .into_values()
        .map(|(ip, mut sections)| {
            sections.sort_by_key(|s| s.port);
            NATIP {
                ip: Some(ip),
                sections,
            }
        })
        .collect()
}

/// Allocates the NAT slots of one gateway and writes claims, its NATTable and its status.
pub async fn reconcile(gw: Arc<NATGateway>, st: Arc<State>) -> Result<Action> {
    if is_deleting(gw.as_ref()) {
        return Ok(Action::await_change());
    }
    let ns = namespace_of(gw.as_ref())?;
    let name = gw.name_any();
    let gw_uid = gw
        .uid()
        .ok_or_else(|| Error::NotReady(format!("NATGateway {name} without uid")))?;
    let ppni = gw.spec.ports_per_network_interface;
    if gw.slots_per_ip() == 0 {
        tracing::warn!(natgateway = %name, namespace = %ns, ports_per_network_interface = ppni, "invalid portsPerNetworkInterface: no NAT slots");
    }
    let tables: Api<NATTable> = Api::namespaced(st.client.clone(), &ns);
    let nics: Api<NetworkInterface> = Api::namespaced(st.client.clone(), &ns);
    let table = tables.get_opt(&name).await?;
    let list = nics
        .list(&ListParams::default().fields(&format!(
            "{FIELD_SPEC_NETWORK_REF_NAME}={}",
            gw.spec.network_ref.name
        )))
        .await?;
    let plan = plan(&gw, table.as_ref(), &list.items);

    let mut first_error: Option<Error> = None;
    for nic in &plan.release {
        if let Err(e) = release(&nics, nic, &gw_uid, &gw.spec.ip_family).await {
            first_error.get_or_insert(e);
        }
    }
    let claim_ref = LocalUIDReference {
        name: name.clone(),
        uid: gw_uid.clone(),
    };
    let results: Vec<(Assignment, Result<bool>)> = futures::stream::iter(plan.to_claim)
        .map(|a| {
            let (nics, claim_ref, family) = (&nics, &claim_ref, &gw.spec.ip_family);
            async move {
                let r = claim(nics, &a, claim_ref, family).await;
                (a, r)
            }
        })
        .buffer_unordered(CLAIM_CONCURRENCY)
        .collect()
        .await;
    let mut assigned = plan.assigned;
    let mut claimed = 0usize;
    for (a, r) in results {
        match r {
            Ok(true) => {
                claimed += 1;
                assigned.push(a);
            }
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }

    let desired = table_ips(ppni, &assigned);
    let owner = controller_ref(gw.as_ref())?;
    let up_to_date = table.as_ref().is_some_and(|t| {
        t.ips == desired && t.owner_references().iter().any(|r| r.uid == owner.uid)
    });
    if !up_to_date {
        let body = json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATTable",
            "metadata": { "name": name, "namespace": ns, "ownerReferences": [owner] },
            "ips": desired,
        });
        apply(&tables, &name, &body).await?;
        tracing::info!(natgateway = %name, namespace = %ns, sections = assigned.len(), claimed, released = plan.release.len(), "NAT table written");
    }

    let used = i64::try_from(assigned.len()).unwrap_or(i64::MAX);
    if gw.status.used_nat_ips != used || gw.status.requested_nat_ips != plan.requested {
        let patch = json!({
            "metadata": { "resourceVersion": gw.resource_version() },
            "status": { "usedNATIPs": used, "requestedNATIPs": plan.requested },
        });
        Api::<NATGateway>::namespaced(st.client.clone(), &ns)
            .patch_status(&name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::debug!(natgateway = %name, namespace = %ns, used, requested = plan.requested, "NAT gateway status updated");
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(Action::requeue(st.resync)),
    }
}

/// Appends the gateway's claim to a NIC's `spec.natGateways`; false when the NIC is gone, was
/// replaced, no longer wants NAT, or another gateway claimed the family meanwhile.
async fn claim(
    nics: &Api<NetworkInterface>,
    a: &Assignment,
    claim_ref: &LocalUIDReference,
    family: &IPFamily,
) -> Result<bool> {
    for _ in 0..WRITE_ATTEMPTS {
        let Some(nic) = nics.get_opt(&a.nic).await? else {
            return Ok(false);
        };
        if nic.uid().as_deref() != Some(a.uid.as_str())
            || is_deleting(&nic)
            || wants_nat(&nic, family).is_none()
        {
            return Ok(false);
        }
        if let Some(c) = nic.nat_claimer(family) {
            return Ok(c.uid == claim_ref.uid);
        }
        let mut nats = nic.spec.nats.clone();
        nats.push(NetworkInterfaceNAT {
            ip_family: family.clone(),
            claim_ref: claim_ref.clone(),
        });
        match write_nats(nics, &nic, &nats).await {
            Ok(()) => return Ok(true),
            Err(Error::Kube(e)) if is_conflict(&e) => continue,
            Err(Error::Kube(e)) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Err(Error::NotReady(format!(
        "claiming NetworkInterface {}: too many write conflicts",
        a.nic
    )))
}

/// Removes the gateway's NAT claim of `family` from a NIC's `spec.natGateways`.
async fn release(
    nics: &Api<NetworkInterface>,
    name: &str,
    gw_uid: &str,
    family: &IPFamily,
) -> Result<()> {
    for _ in 0..WRITE_ATTEMPTS {
        let Some(nic) = nics.get_opt(name).await? else {
            return Ok(());
        };
        let nats: Vec<NetworkInterfaceNAT> = nic
            .spec
            .nats
            .iter()
            .filter(|n| !(n.claim_ref.uid == gw_uid && n.ip_family == *family))
            .cloned()
            .collect();
        if nats.len() == nic.spec.nats.len() {
            return Ok(());
        }
        match write_nats(nics, &nic, &nats).await {
            Ok(()) => {
                tracing::info!(networkinterface = %name, family = %family, "NAT claim released");
                return Ok(());
            }
            Err(Error::Kube(e)) if is_conflict(&e) => continue,
            Err(Error::Kube(e)) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Err(Error::NotReady(format!(
        "releasing NetworkInterface {name}: too many write conflicts"
    )))
}

/// Replaces a NIC's `spec.natGateways` (merge patch carrying its `resourceVersion`).
pub(crate) async fn write_nats(
    nics: &Api<NetworkInterface>,
    nic: &NetworkInterface,
    nats: &[NetworkInterfaceNAT],
) -> Result<()> {
    let value = if nats.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(nats).map_err(|e| Error::NotReady(e.to_string()))?
    };
    let patch = json!({
        "metadata": { "resourceVersion": nic.resource_version() },
        "spec": { "natGateways": value },
    });
    nics.patch(&nic.name_any(), &field_manager(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::apinet::{NATGatewayIP, NetworkInterfacePublicIP};

    fn gw(ppni: i32, ips: &[&str]) -> NATGateway {
        let mut g = NATGateway::default();
        g.metadata.name = Some("gw".into());
        g.metadata.uid = Some("gw-uid".into());
        g.spec.ip_family = IPFamily::IPv4;
        g.spec.network_ref.name = "net".into();
        g.spec.ports_per_network_interface = ppni;
        g.spec.ips = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| NATGatewayIP {
                name: format!("ip-{i}"),
                ip: Some(ip.parse().unwrap()),
            })
            .collect();
        g
    }

    fn nic(name: &str, ip: &str) -> NetworkInterface {
        let mut n = NetworkInterface::default();
        n.metadata.name = Some(name.into());
        n.metadata.uid = Some(format!("{name}-uid"));
        n.spec.node_ref.name = "node".into();
        n.spec.network_ref.name = "net".into();
        n.spec.ips = vec![ip.parse().unwrap()];
        n
    }

    fn claimed(mut n: NetworkInterface, by: &str) -> NetworkInterface {
        n.spec.nats.push(NetworkInterfaceNAT {
            ip_family: IPFamily::IPv4,
            claim_ref: LocalUIDReference {
                name: by.into(),
                uid: format!("{by}-uid"),
            },
        });
        n
    }

    #[test]
    fn slots_map_to_port_ranges() {
        assert_eq!(slot_ports(64, 0), (1024, 1087));
        assert_eq!(
            slot_ports(2048, 30),
            (1024 + 30 * 2048, 1024 + 31 * 2048 - 1)
        );
        assert_eq!(slot_ports(64512, 0), (1024, 65535));
        assert_eq!(section_slot(64, 1008, 1088, 1151), Some(1));
        assert_eq!(section_slot(64, 1008, 1000, 1063), None, "below 1024");
        assert_eq!(section_slot(64, 1008, 1088, 1150), None, "wrong width");
        assert_eq!(section_slot(64, 1008, 1090, 1153), None, "unaligned");
        assert_eq!(
            section_slot(2048, 31, 1024 + 31 * 2048, 1024 + 32 * 2048 - 1),
            None
        );
        assert_eq!(section_slot(0, 0, 1024, 1024), None);
    }

    #[test]
    fn upstream_case_one_nic_in_the_network() {
        let g = gw(64, &["1.1.1.1"]);
        let p = plan(&g, None, &[nic("a", "10.0.0.1")]);
        assert_eq!(p.requested, 1);
        assert_eq!(p.to_claim.len(), 1);
        let ips = table_ips(64, &p.to_claim);
        assert_eq!(ips.len(), 1);
        assert_eq!(ips[0].ip, Some("1.1.1.1".parse().unwrap()));
        let s = &ips[0].sections[0];
        assert_eq!((s.port, s.end_port), (1024, 1087));
        assert_eq!(s.ip, Some("10.0.0.1".parse().unwrap()));
        let t = s.target_ref.as_ref().unwrap();
        assert_eq!(
            (t.uid.as_str(), t.name.as_str(), t.node_ref.name.as_str()),
            ("a-uid", "a", "node")
        );
    }

    #[test]
    fn nics_with_public_ip_or_other_family_or_other_claimer_do_not_count() {
        let g = gw(64, &["1.1.1.1"]);
        let mut public = nic("pub", "10.0.0.2");
        public.spec.public_ips.push(NetworkInterfacePublicIP {
            name: "ip".into(),
            ip_family: IPFamily::IPv4,
            ip: None,
        });
        let v6 = nic("v6", "fd00::1");
        let other = claimed(nic("other", "10.0.0.3"), "gw2");
        let p = plan(&g, None, &[public, v6, other]);
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn existing_slots_are_kept_and_new_nics_fill_the_gaps() {
        let g = gw(64, &["1.1.1.1"]);
        let a = claimed(nic("a", "10.0.0.1"), "gw");
        let b = claimed(nic("b", "10.0.0.2"), "gw");
        let table = NATTable {
            ips: table_ips(
                64,
                &[
                    assignment(
                        &a,
                        "10.0.0.1".parse().unwrap(),
                        "1.1.1.1".parse().unwrap(),
                        5,
                    ),
                    assignment(
                        &b,
                        "10.0.0.2".parse().unwrap(),
                        "1.1.1.1".parse().unwrap(),
                        0,
                    ),
                ],
            ),
            ..Default::default()
        };
        let p = plan(&g, Some(&table), &[a, b, nic("c", "10.0.0.3")]);
        let slots: Vec<(&str, i32)> = p
            .assigned
            .iter()
            .map(|x| (x.nic.as_str(), x.slot))
            .collect();
        assert_eq!(slots, vec![("a", 5), ("b", 0)]);
        assert_eq!(p.to_claim[0].slot, 1);
        assert_eq!(p.requested, 3);
    }

    #[test]
    fn claims_that_no_longer_qualify_or_fit_are_released() {
        // ppni 64512: one slot per IP.
        let g = gw(64512, &["1.1.1.1"]);
        let mut lost = claimed(nic("lost", "10.0.0.1"), "gw");
        lost.spec.public_ips.push(NetworkInterfacePublicIP {
            name: "ip".into(),
            ip_family: IPFamily::IPv4,
            ip: None,
        });
        let a = claimed(nic("a", "10.0.0.2"), "gw");
        let b = claimed(nic("b", "10.0.0.3"), "gw");
        let free = nic("free", "10.0.0.4");
        let p = plan(&g, None, &[lost, a, b, free]);
        assert_eq!(p.assigned.len(), 1);
        assert_eq!(p.release, vec!["lost".to_owned(), "b".to_owned()]);
        assert!(p.to_claim.is_empty(), "full: nothing new is claimed");
        assert_eq!(p.requested, 3);
    }

    #[test]
    fn slots_spread_over_ips_in_address_order_without_overlap() {
        let g = gw(2048, &["1.1.1.2", "1.1.1.1"]);
        let nics: Vec<_> = (0..40)
            .map(|i| nic(&format!("n{i:02}"), &format!("10.0.1.{i}")))
            .collect();
        let p = plan(&g, None, &nics);
        assert_eq!(p.to_claim.len(), 40);
        let ips = table_ips(2048, &p.to_claim);
        assert_eq!(ips[0].ip, Some("1.1.1.1".parse().unwrap()));
        assert_eq!(ips[0].sections.len(), 31);
        assert_eq!(ips[1].sections.len(), 9);
        for ip in &ips {
            for w in ip.sections.windows(2) {
                assert!(w[0].end_port < w[1].port);
            }
        }
        let none = gw(0, &["1.1.1.1"]);
        let p = plan(&none, None, &nics);
        assert!(p.to_claim.is_empty());
        assert_eq!(p.requested, 40);
    }
}
