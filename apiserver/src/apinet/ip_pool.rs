//! Public IP pools: an IP is backed by a cluster-scoped IPAddress named by its address,
//! written in the same storage transaction as the IP and removed with it.

use std::collections::HashSet;
use std::sync::Arc;

use ironcore_api::apinet::{LABEL_IP, LABEL_IP_FAMILY};
use ironcore_api::common::{IP, IPFamily};
use ironcore_apimachinery::FieldError;
use ironcore_server::allocator::{AllocContext, Allocator, create_op, delete_op};
use ironcore_server::errors::ApiError;
use ironcore_storage::TxnOp;
use serde_json::{Map, Value, json};

use super::range::{Pools, random_u128};
use super::stored::{
    Claimer, Kinds, claim_uid, conflict, exists, get, invalid, list_names, meta, record, spec_path,
};

/// Probes by single reads before the allocator lists every IPAddress once.
const PROBES: usize = 32;

/// Message when every address of a family's pools is taken (upstream's, a 409).
pub const MSG_ALL_ALLOCATED: &str = "all IP addresses are already allocated";
/// Message when a requested address is taken (upstream's).
pub const MSG_IP_TAKEN: &str = "provided IP is already allocated";
/// Message when a requested address lies outside the family's prefixes (upstream's).
pub const MSG_IP_NOT_IN_RANGE: &str = "the provided IP is not in range";

/// Why an address could not be allocated; callers map it onto their field paths.
#[derive(Debug)]
pub enum AddressError {
    /// No `--public-prefix` of the family.
    NoPool(IPFamily),
    /// The requested address lies outside the family's prefixes.
    NotInRange(IP),
    /// The requested address is taken.
    Taken(IP),
    /// Every address of the family is taken.
    Exhausted,
    /// Storage failed.
    Api(ApiError),
}

impl From<ApiError> for AddressError {
    fn from(e: ApiError) -> Self {
        AddressError::Api(e)
    }
}

/// Picks addresses from the pools and builds their IPAddress records.
pub struct AddressAllocator {
    pools: Arc<Pools>,
    kinds: Kinds,
}

impl AddressAllocator {
    /// An allocator over `pools`.
    pub fn new(pools: Arc<Pools>) -> Self {
        AddressAllocator {
            pools,
            kinds: Kinds::new(),
        }
    }

    /// The storage key of the IPAddress of `ip`.
    pub fn record_key(&self, cx: &AllocContext<'_>, ip: &IP) -> String {
        cx.objects
            .key(&self.kinds.ip_address, None, &ip.to_string())
    }

    /// Reserves `requested` (when given) or a free address of `family`, skipping `exclude`
    /// (addresses this transaction already takes), and returns it with the operation creating
    /// its IPAddress claimed by `ip_claimer` (an IP).
    pub async fn allocate(
        &self,
        cx: &AllocContext<'_>,
        family: &IPFamily,
        requested: Option<&IP>,
        ip_claimer: &Claimer,
        exclude: &HashSet<IP>,
    ) -> Result<(IP, TxnOp), AddressError> {
        let pools = self.pools.for_family(family);
        if pools.is_empty() {
            return Err(AddressError::NoPool(family.clone()));
        }
        let ip = match requested {
            Some(ip) => {
                if !self.pools.contains(family, ip) {
                    return Err(AddressError::NotInRange(ip.clone()));
                }
                if exclude.contains(ip) || exists(cx, &self.record_key(cx, ip)).await? {
                    return Err(AddressError::Taken(ip.clone()));
                }
                ip.clone()
            }
            None => self
                .free_address(cx, family, exclude)
                .await?
                .ok_or(AddressError::Exhausted)?,
        };
        let rec = record(
            "IPAddress",
            &ip.to_string(),
            json!({"ip": ip.to_string(), "claimRef": ip_claimer.cluster_claim_ref()}),
        );
        Ok((ip.clone(), create_op(self.record_key(cx, &ip), rec)))
    }

    /// A free address of `family`: per prefix in flag order, a walk from a random start that
    /// probes keys one by one; after [`PROBES`] taken ones it lists the IPAddresses once and
    /// continues the walk in memory (so a crowded pool costs one listing, an empty one a read).
    async fn free_address(
        &self,
        cx: &AllocContext<'_>,
        family: &IPFamily,
        exclude: &HashSet<IP>,
    ) -> Result<Option<IP>, ApiError> {
        let mut taken: Option<HashSet<String>> = None;
        let mut probes = 0;
        for pool in self.pools.for_family(family) {
            for ip in pool.walk(random_u128()) {
                if exclude.contains(&ip) {
                    continue;
                }
                let free = match &taken {
                    Some(names) => !names.contains(&ip.to_string()),
                    None => {
                        probes += 1;
                        let free = !exists(cx, &self.record_key(cx, &ip)).await?;
                        if !free && probes >= PROBES {
                            taken = Some(list_names(cx, &self.kinds.ip_address).await?);
                        }
                        free
                    }
                };
                if free {
                    return Ok(Some(ip));
                }
            }
        }
        Ok(None)
    }

    /// The operation deleting the IPAddress of `ip` when it is claimed by the IP `ip_uid`.
    pub async fn release(
        &self,
        cx: &AllocContext<'_>,
        ip: &IP,
        ip_uid: &str,
    ) -> Result<Option<TxnOp>, ApiError> {
        let key = self.record_key(cx, ip);
        Ok(match get(cx, &key).await? {
            Some(rec) if claim_uid(&rec.value) == ip_uid => Some(delete_op(key, rec.revision)),
            _ => None,
        })
    }
}

/// Sets the server-owned labels of an IP: its family and its address (`:` as `-`).
pub fn set_ip_labels(ip_obj: &mut Value, ip: &IP) {
    let Some(meta) = ip_obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(LABEL_IP_FAMILY.into(), Value::from(ip.family().as_str()));
        l.insert(
            LABEL_IP.into(),
            Value::from(ironcore_api::apinet::ip_label_value(ip)),
        );
    }
}

/// The `spec.ip` of an IP object, when set and parseable.
pub fn spec_ip(obj: &Value) -> Option<IP> {
    obj["spec"]["ip"].as_str().and_then(|s| s.parse().ok())
}

/// The `spec.ipFamily` of an IP object.
fn spec_family(obj: &Value) -> IPFamily {
    match obj["spec"]["ipFamily"].as_str().unwrap_or("") {
        "IPv4" => IPFamily::IPv4,
        "IPv6" => IPFamily::IPv6,
        other => IPFamily::Other(other.to_owned()),
    }
}

/// Allocates the address of IPs (create), keeps their labels, and frees the address when the
/// IP is finally deleted.
pub struct IpAllocator {
    addresses: AddressAllocator,
    kinds: Kinds,
}

impl IpAllocator {
    /// An allocator over `pools`.
    pub fn new(pools: Arc<Pools>) -> Self {
        IpAllocator {
            addresses: AddressAllocator::new(pools),
            kinds: Kinds::new(),
        }
    }
}

#[async_trait::async_trait]
impl Allocator for IpAllocator {
    async fn on_create(
        &self,
        cx: &AllocContext<'_>,
        object: &mut Value,
    ) -> Result<Vec<TxnOp>, ApiError> {
        let info = &self.kinds.ip;
        let claimer = Claimer::of(info, object);
        let family = spec_family(object);
        let requested = spec_ip(object);
        let (ip, op) = self
            .addresses
            .allocate(cx, &family, requested.as_ref(), &claimer, &HashSet::new())
            .await
            .map_err(|e| match e {
                AddressError::NoPool(f) => invalid(
                    info,
                    &claimer.name,
                    FieldError::invalid(
                        &spec_path("ipFamily"),
                        f.as_str(),
                        format!(
                            "cannot allocate IPs of family {f}: no --public-prefix of that family"
                        ),
                    ),
                ),
                AddressError::NotInRange(ip) => invalid(
                    info,
                    &claimer.name,
                    FieldError::invalid(&spec_path("ip"), ip.to_string(), MSG_IP_NOT_IN_RANGE),
                ),
                AddressError::Taken(_) => conflict(info, &claimer.name, MSG_IP_TAKEN),
                AddressError::Exhausted => conflict(info, &claimer.name, MSG_ALL_ALLOCATED),
                AddressError::Api(e) => e,
            })?;
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("ip".into(), Value::from(ip.to_string()));
        }
        set_ip_labels(object, &ip);
        Ok(vec![op])
    }

    async fn on_update(
        &self,
        _: &AllocContext<'_>,
        new: &mut Value,
        _: &Value,
    ) -> Result<Vec<TxnOp>, ApiError> {
        // The address is immutable; the labels derived from it stay server-owned.
        if let Some(ip) = spec_ip(new) {
            set_ip_labels(new, &ip);
        }
        Ok(Vec::new())
    }

    async fn on_delete(&self, cx: &AllocContext<'_>, old: &Value) -> Result<Vec<TxnOp>, ApiError> {
        let Some(ip) = spec_ip(old) else {
            return Ok(Vec::new());
        };
        Ok(self
            .addresses
            .release(cx, &ip, meta(old, "uid"))
            .await?
            .into_iter()
            .collect())
    }
}

/// Refuses the deletion of an IPAddress whose IP still exists: the address is released only
/// together with its IP (in the IP's own transaction).
///
/// This replaces upstream's protection finalizer and its controller: nothing has to remove a
/// finalizer later, and an address can never be freed while its IP lives.
pub struct IpAddressProtection {
    kinds: Kinds,
}

impl IpAddressProtection {
    /// The protection rule.
    pub fn new() -> Self {
        IpAddressProtection {
            kinds: Kinds::new(),
        }
    }
}

impl Default for IpAddressProtection {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Allocator for IpAddressProtection {
    async fn on_create(&self, _: &AllocContext<'_>, _: &mut Value) -> Result<Vec<TxnOp>, ApiError> {
        Ok(Vec::new())
    }

    async fn on_delete(&self, cx: &AllocContext<'_>, old: &Value) -> Result<Vec<TxnOp>, ApiError> {
        let claim = &old["spec"]["claimRef"];
        if claim["resource"] != "ips" || claim["group"] != ironcore_api::apinet::GROUP {
            return Ok(Vec::new());
        }
        let (ns, name) = (
            claim["namespace"].as_str().unwrap_or(""),
            claim["name"].as_str().unwrap_or(""),
        );
        let key = cx.objects.key(&self.kinds.ip, Some(ns), name);
        if let Some(ip) = get(cx, &key).await?
            && meta(&ip.value, "uid") == claim_uid(old)
        {
            return Err(conflict(
                &self.kinds.ip_address,
                meta(old, "name"),
                &format!(
                    "the address is in use by IP {ns}/{name}; it is released when that IP is deleted"
                ),
            ));
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ironcore_server::objects::Objects;
    use ironcore_storage::{EmbeddedStore, Store};

    use super::*;

    fn prefix(s: &str) -> ironcore_api::common::IPPrefix {
        s.parse().unwrap()
    }

    fn claimer(name: &str) -> Claimer {
        Claimer {
            resource: "ips".into(),
            kind: "IP".into(),
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        objects: Objects,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open_path(dir.path().join("db")).unwrap());
        Fixture {
            objects: Objects::new(store, "/registry/test"),
            _dir: dir,
        }
    }

    async fn take(a: &AddressAllocator, cx: &AllocContext<'_>, ip: &str) {
        let ip: IP = ip.parse().unwrap();
        let (_, op) = a
            .allocate(
                cx,
                &ip.family(),
                Some(&ip),
                &claimer(&ip.to_string()),
                &HashSet::new(),
            )
            .await
            .unwrap();
        cx.store().txn(vec![op]).await.unwrap();
    }

    #[tokio::test]
    async fn crowded_pool_finds_the_last_free_address_through_the_listing() {
        let f = fixture();
        let cx = AllocContext {
            objects: &f.objects,
            dry_run: false,
        };
        let pools = Arc::new(Pools::new(&[prefix("192.0.2.0/26")]));
        let a = AddressAllocator::new(pools);
        for i in 0..64 {
            if i != 41 {
                take(&a, &cx, &format!("192.0.2.{i}")).await;
            }
        }
        for _ in 0..8 {
            let (ip, _) = a
                .allocate(&cx, &IPFamily::IPv4, None, &claimer("x"), &HashSet::new())
                .await
                .unwrap();
            assert_eq!(ip.to_string(), "192.0.2.41");
        }
        let mut exclude = HashSet::new();
        exclude.insert("192.0.2.41".parse::<IP>().unwrap());
        let err = a
            .allocate(&cx, &IPFamily::IPv4, None, &claimer("x"), &exclude)
            .await;
        assert!(matches!(err, Err(AddressError::Exhausted)), "{err:?}");
    }

    #[tokio::test]
    async fn prefixes_are_tried_in_flag_order_and_families_kept_apart() {
        let f = fixture();
        let cx = AllocContext {
            objects: &f.objects,
            dry_run: false,
        };
        let pools = Arc::new(Pools::new(&[
            prefix("192.0.2.0/31"),
            prefix("2001:db8::/127"),
            prefix("198.51.100.0/31"),
        ]));
        let a = AddressAllocator::new(pools);
        let mut got = Vec::new();
        for _ in 0..4 {
            let (ip, op) = a
                .allocate(&cx, &IPFamily::IPv4, None, &claimer("x"), &HashSet::new())
                .await
                .unwrap();
            cx.store().txn(vec![op]).await.unwrap();
            got.push(ip.to_string());
        }
        let (first, second) = got.split_at(2);
        let mut first = first.to_vec();
        first.sort();
        assert_eq!(
            first,
            ["192.0.2.0", "192.0.2.1"],
            "first prefix first: {got:?}"
        );
        assert!(
            second.iter().all(|s| s.starts_with("198.51.100.")),
            "{got:?}"
        );
        assert!(matches!(
            a.allocate(&cx, &IPFamily::IPv4, None, &claimer("x"), &HashSet::new())
                .await,
            Err(AddressError::Exhausted)
        ));
        let (v6, _) = a
            .allocate(&cx, &IPFamily::IPv6, None, &claimer("y"), &HashSet::new())
            .await
            .unwrap();
        assert!(v6.to_string().starts_with("2001:db8::"));
    }

    #[tokio::test]
    async fn requested_addresses_are_checked() {
        let f = fixture();
        let cx = AllocContext {
            objects: &f.objects,
            dry_run: false,
        };
        let a = AddressAllocator::new(Arc::new(Pools::new(&[prefix("192.0.2.0/30")])));
        take(&a, &cx, "192.0.2.3").await;
        let ip = |s: &str| s.parse::<IP>().unwrap();
        let none = HashSet::new();
        let r = a
            .allocate(
                &cx,
                &IPFamily::IPv4,
                Some(&ip("192.0.2.3")),
                &claimer("x"),
                &none,
            )
            .await;
        assert!(matches!(r, Err(AddressError::Taken(_))), "{r:?}");
        let r = a
            .allocate(
                &cx,
                &IPFamily::IPv4,
                Some(&ip("192.0.2.4")),
                &claimer("x"),
                &none,
            )
            .await;
        assert!(matches!(r, Err(AddressError::NotInRange(_))), "{r:?}");
        let r = a
            .allocate(&cx, &IPFamily::IPv6, None, &claimer("x"), &none)
            .await;
        assert!(
            matches!(r, Err(AddressError::NoPool(IPFamily::IPv6))),
            "{r:?}"
        );
        let (got, _) = a
            .allocate(
                &cx,
                &IPFamily::IPv4,
                Some(&ip("192.0.2.0")),
                &claimer("x"),
                &none,
            )
            .await
            .unwrap();
        assert_eq!(got.to_string(), "192.0.2.0", "network address included");
    }
}
