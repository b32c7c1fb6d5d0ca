//! `daemonset`: one Instance per eligible Node per DaemonSet (apinet-upstream.md §4.5).
//!
//! A Node is eligible when the template's `nodeRef` is unset or names it and the template's
//! required node affinity matches it. Each eligible Node without an Instance of the DaemonSet
//! gets one: the template's metadata and spec, name `<daemonset name ≤52>-<10 random>`, label
//! `apinet.ironcore.dev/controller-revision-hash`, node affinity replaced by a
//! `matchFields metadata.name In [node]` term (the [`super::scheduler`] then sets `nodeRef`),
//! controller ownerRef → DaemonSet. Extra Instances on a Node (all but the oldest), Instances on
//! Nodes that are no longer eligible or gone, and Instances without a target Node are deleted;
//! template `ips`/`loadBalancerPorts` changes are written into the Instances in place. Only
//! Instances the DaemonSet controls are touched (no adoption). A deleted DaemonSet's Instances
//! are deleted by [`super::gc`]'s owner check.

use std::collections::BTreeMap;
use std::sync::Arc;

use ironcore_api::apinet::{
    DaemonSet, Instance, LABEL_CONTROLLER_REVISION_HASH, Node, NodeAffinity,
};
use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use kube::api::{ListParams, Patch, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::gc::delete_ignoring_gone;
use super::natgatewayautoscaler::NAME_ALPHABET;
use super::scheduler::{FIELD_METADATA_NAME, node_matches, required_node_affinity};
use super::{
    FIELD_MANAGER, State, controlled_by, controller_of, controller_ref, field_manager, is_deleting,
    namespace_of,
};
use crate::error::{Error, Result};

/// Longest DaemonSet name prefix of an Instance name.
const NAME_PREFIX_MAX: usize = 52;

/// The controller: DaemonSets; their Instances; Nodes (→ every DaemonSet).
pub fn controller(client: &kube::Client) -> Controller<DaemonSet> {
    let wc = watcher::Config::default();
    let ctrl = Controller::new(Api::<DaemonSet>::all(client.clone()), wc.clone());
    let store = ctrl.store();
    ctrl.watches(Api::<Instance>::all(client.clone()), wc.clone(), |i| {
        let ns = i.namespace()?;
        let owner = controller_of::<DaemonSet, _>(&i)?;
        Some(ObjectRef::new(&owner.name).within(&ns))
    })
    .watches(Api::<Node>::all(client.clone()), wc, move |_| {
        store
            .state()
            .into_iter()
            .map(|d| ObjectRef::from_obj(d.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// FNV-32a of `data`.
fn fnv32a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The template hash of a DaemonSet: FNV-32a of its template (and collision count), encoded
/// with Kubernetes' safe alphabet.
pub fn template_hash(ds: &DaemonSet) -> String {
    let mut data = serde_json::to_vec(&ds.spec.template).unwrap_or_default();
    if let Some(c) = ds.status.collision_count {
        data.extend_from_slice(&c.to_le_bytes());
    }
    fnv32a(&data)
        .to_string()
        .bytes()
        .map(|b| char::from(NAME_ALPHABET[usize::from(b) % NAME_ALPHABET.len()]))
        .collect()
}

/// The Node an Instance targets: its `nodeRef`, else the single value of a
/// `matchFields metadata.name In [node]` term of its required node affinity.
pub fn target_node(inst: &Instance) -> Option<String> {
    if let Some(r) = &inst.spec.node_ref {
        return Some(r.name.clone());
    }
    let sel = required_node_affinity(&inst.spec)?;
    sel.node_selector_terms.iter().find_map(|t| {
        let f = t.match_fields.as_deref()?;
        match f {
            [r] if r.key == FIELD_METADATA_NAME && r.operator == "In" => {
                match r.values.as_deref() {
                    Some([v]) => Some(v.clone()),
                    _ => None,
                }
            }
            _ => None,
        }
    })
}

/// Whether the DaemonSet should run an Instance on `node`.
pub fn should_run(ds: &DaemonSet, node: &Node) -> bool {
    let spec = &ds.spec.template.spec;
    spec.node_ref
        .as_ref()
        .is_none_or(|r| r.name == node.name_any())
        && required_node_affinity(spec).is_none_or(|a| node_matches(a, node))
}

/// A new Instance of `ds` for `node`.
pub fn new_instance(ds: &DaemonSet, node: &str, hash: &str) -> Result<Instance> {
    let t = &ds.spec.template;
    let mut inst = Instance {
        spec: t.spec.clone(),
        ..Default::default()
    };
    let prefix: String = ds.name_any().chars().take(NAME_PREFIX_MAX).collect();
    let suffix: String = (0..10)
        .map(|_| char::from(NAME_ALPHABET[fastrand::usize(..NAME_ALPHABET.len())]))
        .collect();
    inst.metadata.name = Some(format!("{prefix}-{suffix}"));
    inst.metadata.namespace = ds.namespace();
    let mut labels = t.metadata.labels.clone().unwrap_or_default();
    labels.insert(LABEL_CONTROLLER_REVISION_HASH.to_owned(), hash.to_owned());
    inst.metadata.labels = Some(labels);
    inst.metadata.annotations = t.metadata.annotations.clone();
    inst.metadata.owner_references = Some(vec![controller_ref(ds)?]);
    let affinity = inst.spec.affinity.get_or_insert_with(Default::default);
    affinity.node_affinity = Some(NodeAffinity {
        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_fields: Some(vec![NodeSelectorRequirement {
                    key: FIELD_METADATA_NAME.to_owned(),
                    operator: "In".to_owned(),
                    values: Some(vec![node.to_owned()]),
                }]),
                ..Default::default()
            }],
        }),
    });
    Ok(inst)
}

/// What one reconcile of a DaemonSet does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Nodes that get a new Instance.
    pub create: Vec<String>,
    /// Instances to delete.
    pub delete: Vec<String>,
    /// Instances whose `ips`/`loadBalancerPorts` differ from the template.
    pub update: Vec<String>,
}

/// Compares the DaemonSet's Instances (`owned`, not deleting) with the Nodes.
pub fn plan(ds: &DaemonSet, nodes: &[Node], owned: &[Instance]) -> Plan {
    let mut out = Plan::default();
    let mut by_node: BTreeMap<String, Vec<&Instance>> = BTreeMap::new();
    for i in owned {
        match target_node(i) {
            Some(n) if nodes.iter().any(|x| x.name_any() == n) => {
                by_node.entry(n).or_default().push(i)
            }
            _ => out.delete.push(i.name_any()),
        }
    }
    for node in nodes {
        let name = node.name_any();
        let mut here = by_node.remove(&name).unwrap_or_default();
        if !should_run(ds, node) {
            out.delete.extend(here.iter().map(|i| i.name_any()));
            continue;
        }
        if here.is_empty() {
            out.create.push(name);
            continue;
        }
        here.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        out.delete.extend(here[1..].iter().map(|i| i.name_any()));
    }
    let template = &ds.spec.template.spec;
    for i in owned {
        if !out.delete.contains(&i.name_any())
            && (i.spec.ips != template.ips
                || i.spec.load_balancer_ports != template.load_balancer_ports)
        {
            out.update.push(i.name_any());
        }
    }
    out
}

/// Creates, deletes and updates the Instances of one DaemonSet.
pub async fn reconcile(ds: Arc<DaemonSet>, st: Arc<State>) -> Result<Action> {
    if is_deleting(ds.as_ref()) {
        return Ok(Action::await_change());
    }
    let ns = namespace_of(ds.as_ref())?;
    let name = ds.name_any();
    let uid = ds
        .uid()
        .ok_or_else(|| Error::NotReady(format!("DaemonSet {name} without uid")))?;
    let nodes = Api::<Node>::all(st.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let api: Api<Instance> = Api::namespaced(st.client.clone(), &ns);
    let owned: Vec<Instance> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|i| controlled_by(i, &uid) && !is_deleting(i))
        .collect();
    let plan = plan(&ds, &nodes, &owned);
    let hash = template_hash(&ds);
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    for node in &plan.create {
        let inst = new_instance(&ds, node, &hash)?;
        api.create(&pp, &inst).await?;
        tracing::info!(daemonset = %name, namespace = %ns, node = %node, instance = %inst.name_any(), "instance created");
    }
    for victim in &plan.delete {
        delete_ignoring_gone(&api, victim).await?;
        tracing::info!(daemonset = %name, namespace = %ns, instance = %victim, "instance deleted");
    }
    let template = &ds.spec.template.spec;
    for i in owned.iter().filter(|i| plan.update.contains(&i.name_any())) {
        let patch = json!({
            "metadata": { "resourceVersion": i.resource_version() },
            "spec": { "ips": template.ips, "loadBalancerPorts": template.load_balancer_ports },
        });
        api.patch(&i.name_any(), &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(daemonset = %name, namespace = %ns, instance = %i.name_any(), "instance updated from template");
    }
    Ok(Action::requeue(st.resync))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::apinet::LocalObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn node(name: &str) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n
    }

    fn ds() -> DaemonSet {
        let mut d = DaemonSet::default();
        d.metadata.name = Some("lb-x".into());
        d.metadata.namespace = Some("ns".into());
        d.metadata.uid = Some("ds-uid".into());
        d.spec.template.metadata.labels =
            Some(BTreeMap::from([("app".to_owned(), "x".to_owned())]));
        d.spec.template.spec.ips = vec!["10.0.0.1".parse().unwrap()];
        d
    }

    fn on(d: &DaemonSet, node: &str, name: &str, secs: i64) -> Instance {
        let mut i = new_instance(d, node, "h").unwrap();
        i.metadata.name = Some(name.into());
        i.spec.node_ref = Some(LocalObjectReference { name: node.into() });
        i.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(secs).unwrap(),
        ));
        i
    }

    #[test]
    fn new_instances_target_their_node_and_carry_the_hash() {
        let d = ds();
        let i = new_instance(&d, "n1", &template_hash(&d)).unwrap();
        assert_eq!(target_node(&i), Some("n1".into()));
        assert!(i.name_any().starts_with("lb-x-"));
        assert_eq!(i.name_any().len(), "lb-x-".len() + 10);
        assert_eq!(i.labels()["app"], "x");
        assert_eq!(
            i.labels()[LABEL_CONTROLLER_REVISION_HASH],
            template_hash(&d)
        );
        assert!(controlled_by(&i, "ds-uid"));
        assert_eq!(i.spec.ips, d.spec.template.spec.ips);
        let mut long = d.clone();
        long.metadata.name = Some("a".repeat(80));
        assert_eq!(new_instance(&long, "n", "h").unwrap().name_any().len(), 63);
        let mut changed = d.clone();
        changed.spec.template.spec.ips.clear();
        assert_ne!(template_hash(&d), template_hash(&changed));
    }

    #[test]
    fn one_instance_per_node_and_gone_nodes_lose_theirs() {
        let d = ds();
        let nodes = [node("n1"), node("n2")];
        assert_eq!(
            plan(&d, &nodes, &[]).create,
            vec!["n1".to_owned(), "n2".to_owned()]
        );
        let owned = [
            on(&d, "n1", "new", 20),
            on(&d, "n1", "old", 10),
            on(&d, "gone", "orphan", 10),
        ];
        let p = plan(&d, &nodes, &owned);
        assert_eq!(p.create, vec!["n2".to_owned()]);
        assert_eq!(p.delete, vec!["orphan".to_owned(), "new".to_owned()]);
        assert!(p.update.is_empty());
    }

    #[test]
    fn template_node_ref_and_affinity_restrict_nodes_and_ips_propagate() {
        let mut d = ds();
        d.spec.template.spec.node_ref = Some(LocalObjectReference { name: "n2".into() });
        let existing = on(&d, "n1", "i1", 1);
        let mut stale = on(&d, "n2", "i2", 1);
        stale.spec.ips.clear();
        let p = plan(&d, &[node("n1"), node("n2")], &[existing, stale]);
        assert_eq!(p.delete, vec!["i1".to_owned()]);
        assert!(p.create.is_empty());
        assert_eq!(p.update, vec!["i2".to_owned()]);
    }
}
