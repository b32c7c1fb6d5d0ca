//! Public IP claims of NetworkInterfaces (`spec.publicIPs`), Public LoadBalancers
//! (`spec.ips`) and NATGateways (`spec.ips`).
//!
//! Each entry either names an address (the existing IP of that address in the claimer's
//! namespace is claimed: its `spec.claimRef` is set) or leaves it empty (an ephemeral IP
//! controlled by the claimer is created, with its IPAddress, and the address is written back
//! into the entry). Everything, including the releases of entries that went away, is
//! committed in the claimer's own storage transaction: a failed write claims and releases
//! nothing, and every release happens exactly once.

use std::collections::HashSet;
use std::sync::Arc;

use ironcore_api::apinet::ip::IP_TYPE_PUBLIC;
use ironcore_api::apinet::loadbalancer::LOAD_BALANCER_TYPE_PUBLIC;
use ironcore_api::apinet::{GROUP, LoadBalancer, NATGateway, NetworkInterface, VERSION};
use ironcore_api::common::{IP, IPFamily};
use ironcore_apimachinery::openapi::KindSchemas;
use ironcore_apimachinery::{FieldError, Path};
use ironcore_server::allocator::{AllocContext, Allocator, delete_op, update_op};
use ironcore_server::errors::ApiError;
use ironcore_server::objects::Objects;
use ironcore_server::registry::{Admission, KindStrategy, ResourceInfo};
use ironcore_storage::{Condition, TxnOp};
use serde_json::{Value, json};

use super::ip_pool::{
    AddressAllocator, AddressError, MSG_ALL_ALLOCATED, MSG_IP_TAKEN, set_ip_labels,
};
use super::range::{Pools, random_u128};
use super::stored::{Claimer, Kinds, Stored, claim_uid, conflict, get, info, invalid, meta};

/// Message when a literal address has no IP in the claimer's namespace (upstream's).
pub const MSG_IP_NOT_FOUND: &str = "provided IP was not found";

/// The kinds that claim public IPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimerKind {
    /// `spec.publicIPs[]` (`name`, `ipFamily`, `ip`).
    NetworkInterface,
    /// `spec.ips[]` (`name`, `ipFamily`, `ip`), only when `spec.type` is `Public`.
    LoadBalancer,
    /// `spec.ips[]` (`name`, `ip`), of family `spec.ipFamily`.
    NATGateway,
}

/// One entry of a claimer's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Index in the list.
    pub index: usize,
    /// The entry's name (unique in the list).
    pub name: String,
    /// The requested family.
    pub family: IPFamily,
    /// The address, when given (or allocated earlier).
    pub ip: Option<IP>,
}

fn family_of(v: &Value) -> IPFamily {
    match v.as_str().unwrap_or("") {
        "IPv4" => IPFamily::IPv4,
        "IPv6" => IPFamily::IPv6,
        other => IPFamily::Other(other.to_owned()),
    }
}

impl ClaimerKind {
    /// The list under `spec` holding the entries.
    pub fn list_field(self) -> &'static str {
        match self {
            ClaimerKind::NetworkInterface => "publicIPs",
            ClaimerKind::LoadBalancer | ClaimerKind::NATGateway => "ips",
        }
    }

    /// The claimer's resource facts.
    pub fn info(self) -> ResourceInfo {
        match self {
            ClaimerKind::NetworkInterface => info::<NetworkInterface>(),
            ClaimerKind::LoadBalancer => info::<LoadBalancer>(),
            ClaimerKind::NATGateway => info::<NATGateway>(),
        }
    }

    /// The entries of `obj`, in list order (none for an Internal LoadBalancer).
    pub fn requests(self, obj: &Value) -> Vec<Request> {
        let spec = &obj["spec"];
        if self == ClaimerKind::LoadBalancer && spec["type"] != LOAD_BALANCER_TYPE_PUBLIC {
            return Vec::new();
        }
        let Some(items) = spec[self.list_field()].as_array() else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(index, e)| Request {
                index,
                name: e["name"].as_str().unwrap_or("").to_owned(),
                family: match self {
                    ClaimerKind::NATGateway => family_of(&spec["ipFamily"]),
                    _ => family_of(&e["ipFamily"]),
                },
                ip: e["ip"].as_str().and_then(|s| s.parse().ok()),
            })
            .collect()
    }

    /// Writes `ip` into entry `index` of `obj`.
    pub fn set_ip(self, obj: &mut Value, index: usize, ip: &IP) {
        if let Some(entry) = obj
            .get_mut("spec")
            .and_then(|s| s.get_mut(self.list_field()))
            .and_then(|l| l.get_mut(index))
            .and_then(Value::as_object_mut)
        {
            entry.insert("ip".into(), Value::from(ip.to_string()));
        }
    }

    /// The field path of entry `index`'s `child` (`spec.ipFamily` for a NATGateway's family).
    pub fn path(self, index: usize, child: &str) -> Path {
        if self == ClaimerKind::NATGateway && child == "ipFamily" {
            return Path::new("spec").child("ipFamily");
        }
        Path::new("spec")
            .child(self.list_field())
            .index(index)
            .child(child)
    }
}

/// Fills the address of entries that omit it but had one under the same name and family:
/// an apply that leaves out the server-allocated address keeps it instead of re-allocating.
pub fn keep_omitted(kind: ClaimerKind, new: &mut Value, new_reqs: &mut [Request], old: &[Request]) {
    for r in new_reqs.iter_mut().filter(|r| r.ip.is_none()) {
        if let Some(ip) = old
            .iter()
            .find(|o| o.name == r.name && o.family == r.family)
            .and_then(|o| o.ip.clone())
        {
            kind.set_ip(new, r.index, &ip);
            r.ip = Some(ip);
        }
    }
}

/// A claimer kind's strategy that, on update, keeps the server-allocated address of every
/// entry the request leaves it out of ([`keep_omitted`]) *before* admission: an apply that
/// omits `ip` then compares equal to the stored object (no rewrite, no `generation` bump).
pub struct KeepAllocated<S> {
    inner: S,
    kind: ClaimerKind,
}

impl<S: KindStrategy> KeepAllocated<S> {
    /// `inner` with allocated addresses of `kind`'s entries kept on update.
    pub fn new(inner: S, kind: ClaimerKind) -> Self {
        KeepAllocated { inner, kind }
    }
}

impl<S: KindStrategy> KindStrategy for KeepAllocated<S> {
    fn info(&self) -> &ResourceInfo {
        self.inner.info()
    }
    fn admit_create(&self, object: Value) -> Admission {
        self.inner.admit_create(object)
    }
    fn admit_update(&self, mut object: Value, old: &Value) -> Admission {
        let mut reqs = self.kind.requests(&object);
        keep_omitted(self.kind, &mut object, &mut reqs, &self.kind.requests(old));
        self.inner.admit_update(object, old)
    }
    fn field_label(&self, object: &Value, label: &str) -> Option<String> {
        self.inner.field_label(object, label)
    }
    fn table_cells(&self, object: &Value) -> Vec<Value> {
        self.inner.table_cells(object)
    }
    fn openapi(&self) -> Option<KindSchemas> {
        self.inner.openapi()
    }
    fn allocator(&self) -> Option<&dyn Allocator> {
        self.inner.allocator()
    }
}

/// The plan of one write: which given addresses are claimed anew, which entries get an
/// ephemeral IP, which old addresses are released.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Entries with an address not held before: claim the existing IP.
    pub claim: Vec<Request>,
    /// Entries without an address: allocate an ephemeral IP.
    pub allocate: Vec<Request>,
    /// Addresses held before and no longer requested.
    pub release: Vec<IP>,
}

/// Compares the entries after a write with those before it (none on create, none after on
/// delete). An address present before and after is kept untouched; each old address not
/// requested any more is released once.
pub fn plan(new: &[Request], old: &[Request]) -> Plan {
    let mut kept: HashSet<&IP> = HashSet::new();
    let old_ips: Vec<&IP> = old.iter().filter_map(|o| o.ip.as_ref()).collect();
    let mut p = Plan::default();
    for r in new {
        match &r.ip {
            Some(ip) if old_ips.contains(&ip) => {
                kept.insert(ip);
            }
            Some(_) => p.claim.push(r.clone()),
            None => p.allocate.push(r.clone()),
        }
    }
    let mut released: HashSet<&IP> = HashSet::new();
    for ip in old_ips {
        if !kept.contains(ip) && released.insert(ip) {
            p.release.push(ip.clone());
        }
    }
    p
}

/// Duplicate given addresses among the entries, as field errors.
pub fn duplicates(kind: ClaimerKind, reqs: &[Request]) -> Vec<FieldError> {
    let mut seen = HashSet::new();
    reqs.iter()
        .filter_map(|r| {
            let ip = r.ip.as_ref()?;
            (!seen.insert(ip))
                .then(|| FieldError::duplicate(&kind.path(r.index, "ip"), ip.to_string()))
        })
        .collect()
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A name from `generateName` `prefix`, as the API server generates them (prefix cut to 58
/// characters, then 5 random characters).
pub fn generated_name(prefix: &str) -> String {
    let base: String = prefix.chars().take(58).collect();
    let random = random_u128().to_le_bytes();
    let suffix: String = random[..5]
        .iter()
        .map(|b| NAME_CHARS[usize::from(*b) % NAME_CHARS.len()] as char)
        .collect();
    format!("{base}{suffix}")
}

/// Whether `obj`'s controller ownerReference is the object with `uid`.
fn controlled_by(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["controller"] == true && r["uid"] == uid)
}

/// Whether an IP's `spec.claimRef` names anything.
fn is_claimed(ip: &Value) -> bool {
    ip["spec"]["claimRef"].as_object().is_some_and(|c| {
        c.values()
            .any(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    })
}

/// Claims, allocates and releases the public IPs of one claimer kind.
pub struct ClaimAllocator {
    kind: ClaimerKind,
    info: ResourceInfo,
    addresses: AddressAllocator,
    kinds: Kinds,
}

impl ClaimAllocator {
    /// The allocator of `kind` over `pools`.
    pub fn new(kind: ClaimerKind, pools: Arc<Pools>) -> Self {
        ClaimAllocator {
            kind,
            info: kind.info(),
            addresses: AddressAllocator::new(pools),
            kinds: Kinds::new(),
        }
    }

    /// The IP (in `namespace`) holding address `ip`, found through its IPAddress record.
    async fn find_ip(
        &self,
        cx: &AllocContext<'_>,
        namespace: &str,
        ip: &IP,
    ) -> Result<Option<(String, Stored, Stored)>, ApiError> {
        let rec_key = self.addresses.record_key(cx, ip);
        let Some(rec) = get(cx, &rec_key).await? else {
            return Ok(None);
        };
        let claim = &rec.value["spec"]["claimRef"];
        if claim["resource"] != "ips"
            || claim["group"] != GROUP
            || claim["namespace"].as_str() != Some(namespace)
        {
            return Ok(None);
        }
        let name = claim["name"].as_str().unwrap_or("");
        let ip_key = cx.objects.key(&self.kinds.ip, Some(namespace), name);
        match get(cx, &ip_key).await? {
            Some(ip_obj) if meta(&ip_obj.value, "uid") == claim_uid(&rec.value) => {
                Ok(Some((ip_key, ip_obj, rec)))
            }
            _ => Ok(None),
        }
    }

    /// The operation claiming the existing IP of `req.ip` for `claimer` (none when it is
    /// already claimed by it).
    async fn claim(
        &self,
        cx: &AllocContext<'_>,
        claimer: &Claimer,
        req: &Request,
        ip: &IP,
    ) -> Result<Option<TxnOp>, ApiError> {
        let not_found = || {
            invalid(
                &self.info,
                &claimer.name,
                FieldError::invalid(
                    &self.kind.path(req.index, "ip"),
                    ip.to_string(),
                    MSG_IP_NOT_FOUND,
                ),
            )
        };
        let Some((key, mut ip_obj, _)) = self.find_ip(cx, &claimer.namespace, ip).await? else {
            return Err(not_found());
        };
        if ip_obj.value["spec"]["ipFamily"] != req.family.as_str() {
            return Err(not_found());
        }
        if claim_uid(&ip_obj.value) == claimer.uid {
            return Ok(None);
        }
        if is_claimed(&ip_obj.value) {
            return Err(conflict(&self.info, &claimer.name, MSG_IP_TAKEN));
        }
        let v = &mut ip_obj.value;
        if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("claimRef".into(), claimer.ip_claim_ref());
        }
        bump_generation(v);
        Ok(Some(update_op(key, v, ip_obj.revision)))
    }

    /// The operations releasing address `ip` held by `claimer`: an IP it controls is deleted
    /// with its IPAddress; an IP it only claims is unclaimed; anything else is left alone.
    async fn release(
        &self,
        cx: &AllocContext<'_>,
        claimer: &Claimer,
        ip: &IP,
    ) -> Result<Vec<TxnOp>, ApiError> {
        let Some((key, mut ip_obj, rec)) = self.find_ip(cx, &claimer.namespace, ip).await? else {
            return Ok(Vec::new());
        };
        if claim_uid(&ip_obj.value) != claimer.uid {
            return Ok(Vec::new());
        }
        if controlled_by(&ip_obj.value, &claimer.uid) {
            return Ok(vec![
                delete_op(key, ip_obj.revision),
                delete_op(self.addresses.record_key(cx, ip), rec.revision),
            ]);
        }
        let v = &mut ip_obj.value;
        if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("claimRef");
        }
        bump_generation(v);
        Ok(vec![update_op(key, v, ip_obj.revision)])
    }

    /// A new ephemeral IP for `req`, controlled by `claimer`, with its IPAddress.
    async fn allocate(
        &self,
        cx: &AllocContext<'_>,
        claimer: &Claimer,
        req: &Request,
        exclude: &HashSet<IP>,
    ) -> Result<(IP, Vec<TxnOp>), ApiError> {
        let prefix = format!("{}-", claimer.name);
        let ip_claimer = Claimer {
            resource: self.kinds.ip.plural.clone(),
            kind: self.kinds.ip.kind.clone(),
            namespace: claimer.namespace.clone(),
            name: generated_name(&prefix),
            uid: uuid::Uuid::new_v4().to_string(),
        };
        let (ip, rec_op) = self
            .addresses
            .allocate(cx, &req.family, None, &ip_claimer, exclude)
            .await
            .map_err(|e| match e {
                AddressError::NoPool(f) => invalid(
                    &self.info,
                    &claimer.name,
                    FieldError::invalid(
                        &self.kind.path(req.index, "ipFamily"),
                        f.as_str(),
                        format!(
                            "no allocator for IPs of family {f}: no --public-prefix of that family"
                        ),
                    ),
                ),
                AddressError::Exhausted | AddressError::Taken(_) | AddressError::NotInRange(_) => {
                    conflict(&self.info, &claimer.name, MSG_ALL_ALLOCATED)
                }
                AddressError::Api(e) => e,
            })?;
        let mut ip_obj = json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "IP",
            "metadata": {
                "name": ip_claimer.name,
                "generateName": prefix,
                "namespace": claimer.namespace,
                "uid": ip_claimer.uid,
                "generation": 1,
                "creationTimestamp": ironcore_server::rest::now_rfc3339(),
                "ownerReferences": [claimer.controller_ref()],
            },
            "spec": {
                "type": IP_TYPE_PUBLIC,
                "ipFamily": req.family.as_str(),
                "ip": ip.to_string(),
                "claimRef": claimer.ip_claim_ref(),
            },
            "status": {},
        });
        set_ip_labels(&mut ip_obj, &ip);
        let ip_key = cx
            .objects
            .key(&self.kinds.ip, Some(&claimer.namespace), &ip_claimer.name);
        let ip_op = TxnOp::Put {
            key: ip_key,
            value: Objects::encode(&ip_obj),
            condition: Condition::Absent,
        };
        Ok((ip, vec![ip_op, rec_op]))
    }

    /// Executes a plan for `claimer`, writing allocated addresses into `object`.
    async fn execute(
        &self,
        cx: &AllocContext<'_>,
        claimer: &Claimer,
        object: Option<&mut Value>,
        plan: Plan,
        requested: &[Request],
    ) -> Result<Vec<TxnOp>, ApiError> {
        let mut ops = Vec::new();
        for r in &plan.claim {
            if let Some(ip) = &r.ip
                && let Some(op) = self.claim(cx, claimer, r, ip).await?
            {
                ops.push(op);
            }
        }
        let mut exclude: HashSet<IP> = requested.iter().filter_map(|r| r.ip.clone()).collect();
        let mut allocated = Vec::new();
        for r in &plan.allocate {
            let (ip, mut o) = self.allocate(cx, claimer, r, &exclude).await?;
            exclude.insert(ip.clone());
            allocated.push((r.index, ip));
            ops.append(&mut o);
        }
        if let Some(obj) = object {
            for (index, ip) in &allocated {
                self.kind.set_ip(obj, *index, ip);
            }
        }
        for ip in &plan.release {
            ops.extend(self.release(cx, claimer, ip).await?);
        }
        Ok(ops)
    }

    fn check_duplicates(&self, name: &str, reqs: &[Request]) -> Result<(), ApiError> {
        let errs = duplicates(self.kind, reqs);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                &self.info.group,
                &self.info.kind,
                name,
                &errs,
            ))
        }
    }
}

/// Increments `metadata.generation` (a spec change the server makes itself).
fn bump_generation(obj: &mut Value) {
    let g = obj["metadata"]["generation"].as_i64().unwrap_or(0);
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("generation".into(), Value::from(g + 1));
    }
}

#[async_trait::async_trait]
impl Allocator for ClaimAllocator {
    async fn on_create(
        &self,
        cx: &AllocContext<'_>,
        object: &mut Value,
    ) -> Result<Vec<TxnOp>, ApiError> {
        let claimer = Claimer::of(&self.info, object);
        let reqs = self.kind.requests(object);
        self.check_duplicates(&claimer.name, &reqs)?;
        let p = plan(&reqs, &[]);
        self.execute(cx, &claimer, Some(object), p, &reqs).await
    }

    async fn on_update(
        &self,
        cx: &AllocContext<'_>,
        new: &mut Value,
        old: &Value,
    ) -> Result<Vec<TxnOp>, ApiError> {
        let claimer = Claimer::of(&self.info, old);
        let old_reqs = self.kind.requests(old);
        let mut reqs = self.kind.requests(new);
        keep_omitted(self.kind, new, &mut reqs, &old_reqs);
        self.check_duplicates(&claimer.name, &reqs)?;
        let p = plan(&reqs, &old_reqs);
        if p == Plan::default() {
            return Ok(Vec::new());
        }
        self.execute(cx, &claimer, Some(new), p, &reqs).await
    }

    async fn on_delete(&self, cx: &AllocContext<'_>, old: &Value) -> Result<Vec<TxnOp>, ApiError> {
        let claimer = Claimer::of(&self.info, old);
        let p = plan(&[], &self.kind.requests(old));
        self.execute(cx, &claimer, None, p, &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(index: usize, name: &str, family: IPFamily, ip: Option<&str>) -> Request {
        Request {
            index,
            name: name.into(),
            family,
            ip: ip.map(|s| s.parse().unwrap()),
        }
    }

    fn ip(s: &str) -> IP {
        s.parse().unwrap()
    }

    #[test]
    fn requests_of_each_kind() {
        let nic = json!({"spec": {"publicIPs": [
            {"name": "a", "ipFamily": "IPv4", "ip": "192.0.2.1"},
            {"name": "b", "ipFamily": "IPv6"}]}});
        assert_eq!(
            ClaimerKind::NetworkInterface.requests(&nic),
            vec![
                req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
                req(1, "b", IPFamily::IPv6, None),
            ]
        );
        let natgw = json!({"spec": {"ipFamily": "IPv6", "ips": [{"name": "x"}, {"name": "y", "ip": "2001:db8::1"}]}});
        assert_eq!(
            ClaimerKind::NATGateway.requests(&natgw),
            vec![
                req(0, "x", IPFamily::IPv6, None),
                req(1, "y", IPFamily::IPv6, Some("2001:db8::1")),
            ]
        );
        let public =
            json!({"spec": {"type": "Public", "ips": [{"name": "ipv4", "ipFamily": "IPv4"}]}});
        assert_eq!(ClaimerKind::LoadBalancer.requests(&public).len(), 1);
        let internal = json!({"spec": {"type": "Internal", "ips": [{"name": "ipv4", "ipFamily": "IPv4", "ip": "10.0.0.1"}]}});
        assert!(ClaimerKind::LoadBalancer.requests(&internal).is_empty());
    }

    #[test]
    fn set_ip_writes_the_entry() {
        let mut nic = json!({"spec": {"publicIPs": [{"name": "a", "ipFamily": "IPv4"}]}});
        ClaimerKind::NetworkInterface.set_ip(&mut nic, 0, &ip("192.0.2.9"));
        assert_eq!(nic["spec"]["publicIPs"][0]["ip"], "192.0.2.9");
        ClaimerKind::NetworkInterface.set_ip(&mut nic, 5, &ip("192.0.2.9"));
    }

    #[test]
    fn plan_on_create_claims_given_and_allocates_empty() {
        let new = [
            req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
            req(1, "b", IPFamily::IPv6, None),
        ];
        let p = plan(&new, &[]);
        assert_eq!(p.claim, vec![new[0].clone()]);
        assert_eq!(p.allocate, vec![new[1].clone()]);
        assert!(p.release.is_empty());
    }

    #[test]
    fn plan_on_delete_releases_every_address_once() {
        let old = [
            req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
            req(1, "b", IPFamily::IPv4, Some("192.0.2.1")),
            req(2, "c", IPFamily::IPv4, None),
        ];
        let p = plan(&[], &old);
        assert_eq!(p.release, vec![ip("192.0.2.1")]);
        assert!(p.claim.is_empty() && p.allocate.is_empty());
    }

    #[test]
    fn plan_on_update_keeps_unchanged_and_releases_removed() {
        let old = [
            req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
            req(1, "b", IPFamily::IPv4, Some("192.0.2.2")),
        ];
        let new = [
            req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
            req(1, "c", IPFamily::IPv4, None),
        ];
        let p = plan(&new, &old);
        assert!(p.claim.is_empty());
        assert_eq!(p.allocate, vec![new[1].clone()]);
        assert_eq!(p.release, vec![ip("192.0.2.2")]);
    }

    #[test]
    fn plan_of_an_unchanged_status_write_is_empty() {
        let old = [req(0, "a", IPFamily::IPv4, Some("192.0.2.1"))];
        assert_eq!(plan(&old, &old), Plan::default());
    }

    #[test]
    fn omitted_address_is_kept_for_the_same_entry_name_and_family() {
        let old = [
            req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
            req(1, "b", IPFamily::IPv6, Some("2001:db8::1")),
        ];
        let mut new_obj = json!({"spec": {"publicIPs": [
            {"name": "a", "ipFamily": "IPv4"},
            {"name": "b", "ipFamily": "IPv4"},
            {"name": "c", "ipFamily": "IPv6"}]}});
        let mut new = ClaimerKind::NetworkInterface.requests(&new_obj);
        keep_omitted(ClaimerKind::NetworkInterface, &mut new_obj, &mut new, &old);
        assert_eq!(new[0].ip, Some(ip("192.0.2.1")));
        assert_eq!(new_obj["spec"]["publicIPs"][0]["ip"], "192.0.2.1");
        assert_eq!(new[1].ip, None, "another family is a new request");
        assert_eq!(new[2].ip, None, "another name is a new request");
        let p = plan(&new, &old);
        assert_eq!(p.release, vec![ip("2001:db8::1")]);
        assert_eq!(p.allocate.len(), 2);
    }

    #[test]
    fn duplicate_given_addresses_are_field_errors() {
        let reqs = [
            req(0, "a", IPFamily::IPv4, Some("192.0.2.1")),
            req(1, "b", IPFamily::IPv4, Some("192.0.2.1")),
            req(2, "c", IPFamily::IPv4, None),
            req(3, "d", IPFamily::IPv4, None),
        ];
        let errs = duplicates(ClaimerKind::NATGateway, &reqs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.ips[1].ip");
    }

    #[test]
    fn paths_per_kind() {
        assert_eq!(
            ClaimerKind::NetworkInterface.path(2, "ip").as_str(),
            "spec.publicIPs[2].ip"
        );
        assert_eq!(
            ClaimerKind::LoadBalancer.path(0, "ipFamily").as_str(),
            "spec.ips[0].ipFamily"
        );
        assert_eq!(
            ClaimerKind::NATGateway.path(1, "ipFamily").as_str(),
            "spec.ipFamily"
        );
    }

    #[test]
    fn generated_names_fit_a_dns_label() {
        let long = format!("{}-", "n".repeat(63));
        let name = generated_name(&long);
        assert_eq!(name.len(), 63);
        assert!(ironcore_apimachinery::names::is_dns1123_label(&name).is_empty());
        let short = generated_name("nic-");
        assert!(short.starts_with("nic-") && short.len() == 9);
    }

    #[test]
    fn controlled_and_claimed() {
        let ip_obj = json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}, {"uid": "u2"}]},
                            "spec": {"claimRef": {"name": "n", "uid": "u1"}}});
        assert!(controlled_by(&ip_obj, "u1"));
        assert!(!controlled_by(&ip_obj, "u2"));
        assert!(is_claimed(&ip_obj));
        assert!(!is_claimed(&json!({"spec": {"claimRef": {}}})));
        assert!(!is_claimed(&json!({"spec": {}})));
    }
}
