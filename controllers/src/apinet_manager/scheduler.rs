//! `scheduler`: places unscheduled Instances on Nodes (apinet-upstream.md §4.6).
//!
//! The candidates for an Instance without `spec.nodeRef` are the Nodes that pass
//! 1. its required node affinity (terms ORed; `matchExpressions` on labels, `matchFields` on
//!    `metadata.name`),
//! 2. instance anti-affinity both ways within the namespace (a Node is rejected when it shares
//!    the term's topology value with the node of an instance the term selects),
//! 3. every topology spread constraint (Nodes without the key are excluded; the skew after
//!    placing must not exceed `maxSkew`);
//!
//! the one with the fewest Instances wins (ties by name). `spec.nodeRef` is written with a
//! merge patch carrying the Instance's `resourceVersion`. Decisions are serialized
//! ([`State::schedule`]) and read fresh state, so two Instances never race for one slot. An
//! Instance that fits nowhere is logged (`OutOfCapacity`) and retried when a Node appears or
//! another Instance of its namespace changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ironcore_api::apinet::common::selector_matches;
use ironcore_api::apinet::{Instance, InstanceAffinityTerm, LocalObjectReference, Node};
use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement};
use kube::api::{ListParams, Patch};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{State, field_manager, is_deleting, namespace_of};
use crate::error::Result;

/// The only field a node selector's `matchFields` may name.
pub const FIELD_METADATA_NAME: &str = "metadata.name";

/// The controller: Instances; Nodes (→ every unscheduled Instance); Instances (→ the
/// unscheduled Instances of the same namespace, whose constraints may have changed).
pub fn controller(client: &kube::Client) -> Controller<Instance> {
    let wc = watcher::Config::default();
    let ctrl = Controller::new(Api::<Instance>::all(client.clone()), wc.clone());
    let (by_node, by_instance) = (ctrl.store(), ctrl.store());
    ctrl.watches(Api::<Node>::all(client.clone()), wc.clone(), move |_| {
        by_node
            .state()
            .into_iter()
            .filter(|i| i.spec.node_ref.is_none())
            .map(|i| ObjectRef::from_obj(i.as_ref()))
            .collect::<Vec<_>>()
    })
    .watches(Api::<Instance>::all(client.clone()), wc, move |changed| {
        let ns = changed.namespace();
        let uid = changed.uid();
        by_instance
            .state()
            .into_iter()
            .filter(|i| i.spec.node_ref.is_none() && i.namespace() == ns && i.uid() != uid)
            .map(|i| ObjectRef::from_obj(i.as_ref()))
            .collect::<Vec<_>>()
    })
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or(&[]);
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether `node` matches a node selector: any term whose requirements all hold (a term
/// without requirements matches nothing).
pub fn node_matches(selector: &NodeSelector, node: &Node) -> bool {
    let labels = node.labels();
    let name = node.name_any();
    selector.node_selector_terms.iter().any(|term| {
        let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
        let fields = term.match_fields.as_deref().unwrap_or(&[]);
        if exprs.is_empty() && fields.is_empty() {
            return false;
        }
        exprs
            .iter()
            .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
            && fields.iter().all(|r| {
                let value = (r.key == FIELD_METADATA_NAME).then_some(name.as_str());
                requirement_matches(r, value)
            })
    })
}

/// The required node affinity of an Instance spec, if any.
pub fn required_node_affinity(spec: &ironcore_api::apinet::InstanceSpec) -> Option<&NodeSelector> {
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()
}

fn anti_affinity_terms(inst: &Instance) -> &[InstanceAffinityTerm] {
    inst.spec
        .affinity
        .as_ref()
        .and_then(|a| a.instance_anti_affinity.as_ref())
        .map(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_slice()
        })
        .unwrap_or_default()
}

fn term_selects(term: &InstanceAffinityTerm, other: &Instance) -> bool {
    term.label_selector
        .as_ref()
        .is_some_and(|s| selector_matches(s, other.labels()))
}

/// Whether two nodes share a topology domain of `key` (both carry the label, same value).
fn same_domain(a: &Node, b: &Node, key: &str) -> bool {
    match (a.labels().get(key), b.labels().get(key)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The Nodes `inst` may be placed on, given the scheduled Instances `placed` (any namespace;
/// only those of `inst`'s namespace constrain it).
pub fn candidates<'a>(inst: &Instance, nodes: &'a [Node], placed: &[Instance]) -> Vec<&'a Node> {
    let ns = inst.namespace();
    let by_name: HashMap<String, &Node> = nodes.iter().map(|n| (n.name_any(), n)).collect();
    // Scheduled peers in the namespace, with their nodes.
    let peers: Vec<(&Instance, &Node)> = placed
        .iter()
        .filter(|p| p.namespace() == ns && (p.uid().is_none() || p.uid() != inst.uid()))
        .filter_map(|p| {
            let node = by_name.get(&p.spec.node_ref.as_ref()?.name)?;
            Some((p, *node))
        })
        .collect();
    let affinity = required_node_affinity(&inst.spec);
    let eligible: Vec<&Node> = nodes
        .iter()
        .filter(|n| affinity.is_none_or(|a| node_matches(a, n)))
        .collect();
    let own_terms = anti_affinity_terms(inst);
    eligible
        .iter()
        .copied()
        .filter(|node| {
            peers.iter().all(|(peer, peer_node)| {
                let theirs = anti_affinity_terms(peer).iter().any(|t| {
                    term_selects(t, inst) && same_domain(node, peer_node, &t.topology_key)
                });
                let ours = own_terms.iter().any(|t| {
                    term_selects(t, peer) && same_domain(node, peer_node, &t.topology_key)
                });
                !theirs && !ours
            })
        })
        .filter(|node| {
            inst.spec.topology_spread_constraints.iter().all(|c| {
                let Some(domain) = node.labels().get(&c.topology_key) else {
                    return false;
                };
                let selects = |i: &Instance| {
                    c.label_selector
                        .as_ref()
                        .is_some_and(|s| selector_matches(s, i.labels()))
                };
                let mut counts: BTreeMap<&String, i64> = eligible
                    .iter()
                    .filter_map(|n| n.labels().get(&c.topology_key))
                    .map(|d| (d, 0))
                    .collect();
                for (peer, peer_node) in &peers {
                    if let Some(d) = peer_node.labels().get(&c.topology_key)
                        && selects(peer)
                        && let Some(n) = counts.get_mut(d)
                    {
                        *n += 1;
                    }
                }
                let min = counts.values().copied().min().unwrap_or(0);
                let here = counts.get(domain).copied().unwrap_or(0) + i64::from(selects(inst));
                here - min <= i64::from(c.max_skew)
            })
        })
        .collect()
}

/// The Node for `inst`: the candidate with the fewest Instances in `placed`, ties by name.
pub fn pick(inst: &Instance, nodes: &[Node], placed: &[Instance]) -> Option<String> {
    let mut load: HashMap<&str, usize> = HashMap::new();
    for p in placed {
        if let Some(r) = &p.spec.node_ref {
            *load.entry(r.name.as_str()).or_default() += 1;
        }
    }
    candidates(inst, nodes, placed)
        .into_iter()
        .map(|n| n.name_any())
        .min_by(|a, b| {
            let (la, lb) = (
                load.get(a.as_str()).copied().unwrap_or(0),
                load.get(b.as_str()).copied().unwrap_or(0),
            );
            la.cmp(&lb).then_with(|| a.cmp(b))
        })
}

/// Schedules one Instance.
pub async fn reconcile(inst: Arc<Instance>, st: Arc<State>) -> Result<Action> {
    if inst.spec.node_ref.is_some() || is_deleting(inst.as_ref()) {
        return Ok(Action::await_change());
    }
    let ns = namespace_of(inst.as_ref())?;
    let name = inst.name_any();
    let api: Api<Instance> = Api::namespaced(st.client.clone(), &ns);
    let _guard = st.schedule.lock().await;
    let Some(fresh) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if fresh.spec.node_ref.is_some() || is_deleting(&fresh) {
        return Ok(Action::await_change());
    }
    let nodes = Api::<Node>::all(st.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let placed: Vec<Instance> = Api::<Instance>::all(st.client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|i| i.spec.node_ref.is_some() && !is_deleting(i))
        .collect();
    let Some(node) = pick(&fresh, &nodes, &placed) else {
        tracing::info!(instance = %name, namespace = %ns, nodes = nodes.len(), reason = "OutOfCapacity", "no node fits the instance");
        return Ok(Action::requeue(st.resync));
    };
    let patch = json!({
        "metadata": { "resourceVersion": fresh.resource_version() },
        "spec": { "nodeRef": LocalObjectReference { name: node.clone() } },
    });
    api.patch(&name, &field_manager(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(instance = %name, namespace = %ns, node = %node, "instance scheduled");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::apinet::{
        Affinity, InstanceAntiAffinity, NodeAffinity, TopologySpreadConstraint,
    };
    use k8s_openapi::api::core::v1::NodeSelectorTerm;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    const ZONE: &str = "topology.core.apinet.ironcore.dev/zone";

    fn node(name: &str, zone: Option<&str>) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        if let Some(z) = zone {
            n.metadata.labels = Some(BTreeMap::from([(ZONE.to_owned(), z.to_owned())]));
        }
        n
    }

    fn inst(name: &str) -> Instance {
        let mut i = Instance::default();
        i.metadata.name = Some(name.into());
        i.metadata.namespace = Some("ns".into());
        i.metadata.uid = Some(format!("{name}-uid"));
        i.metadata.labels = Some(BTreeMap::from([("app".to_owned(), "lb".to_owned())]));
        i
    }

    fn app_selector() -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_owned(), "lb".to_owned())])),
            ..Default::default()
        }
    }

    fn with_zone_anti_affinity(mut i: Instance) -> Instance {
        let a = i.spec.affinity.get_or_insert_with(Affinity::default);
        a.instance_anti_affinity = Some(InstanceAntiAffinity {
            required_during_scheduling_ignored_during_execution: vec![InstanceAffinityTerm {
                label_selector: Some(app_selector()),
                topology_key: ZONE.into(),
            }],
        });
        i
    }

    fn with_node_affinity(mut i: Instance, node: &str) -> Instance {
        let a = i.spec.affinity.get_or_insert_with(Affinity::default);
        a.node_affinity = Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: FIELD_METADATA_NAME.into(),
                        operator: "In".into(),
                        values: Some(vec![node.into()]),
                    }]),
                    ..Default::default()
                }],
            }),
        });
        i
    }

    /// Schedules `instances` one after another; returns the node of each.
    fn schedule_all(instances: Vec<Instance>, nodes: &[Node]) -> Vec<Option<String>> {
        let mut placed: Vec<Instance> = Vec::new();
        let mut out = Vec::new();
        for mut i in instances {
            let n = pick(&i, nodes, &placed);
            if let Some(n) = &n {
                i.spec.node_ref = Some(LocalObjectReference { name: n.clone() });
                placed.push(i);
            }
            out.push(n);
        }
        out
    }

    #[test]
    fn single_node_is_chosen() {
        assert_eq!(
            schedule_all(vec![inst("a")], &[node("n1", None)]),
            vec![Some("n1".to_owned())]
        );
    }

    #[test]
    fn zone_anti_affinity_over_two_zones_places_two_of_three() {
        let nodes = [node("n1", Some("z1")), node("n2", Some("z2"))];
        let got = schedule_all(
            vec![
                with_zone_anti_affinity(inst("a")),
                with_zone_anti_affinity(inst("b")),
                with_zone_anti_affinity(inst("c")),
            ],
            &nodes,
        );
        assert_eq!(got.iter().filter(|n| n.is_some()).count(), 2);
        assert_ne!(got[0], got[1]);
        assert_eq!(got[2], None);
    }

    #[test]
    fn node_affinity_and_anti_affinity_place_one() {
        let nodes = [node("n1", Some("z1")), node("n2", Some("z2"))];
        let got = schedule_all(
            vec![
                with_node_affinity(with_zone_anti_affinity(inst("a")), "n1"),
                with_node_affinity(with_zone_anti_affinity(inst("b")), "n1"),
            ],
            &nodes,
        );
        assert_eq!(got, vec![Some("n1".to_owned()), None]);
    }

    #[test]
    fn no_nodes_no_placement() {
        assert_eq!(schedule_all(vec![inst("a")], &[]), vec![None]);
    }

    #[test]
    fn fewest_instances_first_and_topology_spread() {
        let nodes = [
            node("n1", Some("z1")),
            node("n2", Some("z1")),
            node("n3", Some("z2")),
        ];
        let got = schedule_all(vec![inst("a"), inst("b"), inst("c")], &nodes);
        assert_eq!(
            got,
            vec![Some("n1".into()), Some("n2".into()), Some("n3".into())]
        );
        let spread = |name: &str| {
            let mut i = inst(name);
            i.spec.topology_spread_constraints = vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: ZONE.into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(app_selector()),
            }];
            i
        };
        let got = schedule_all(
            vec![spread("a"), spread("b"), spread("c"), spread("d")],
            &nodes,
        );
        let zone = |n: &Option<String>| match n.as_deref() {
            Some("n3") => "z2",
            Some(_) => "z1",
            None => "-",
        };
        let z1 = got.iter().filter(|n| zone(n) == "z1").count();
        let z2 = got.iter().filter(|n| zone(n) == "z2").count();
        assert_eq!((z1, z2), (2, 2), "{got:?}");
        let mut unlabeled = spread("e");
        unlabeled.metadata.uid = Some("e".into());
        assert_eq!(pick(&unlabeled, &[node("bare", None)], &[]), None);
    }

    #[test]
    fn node_selector_operators() {
        let mut n = node("n1", Some("z1"));
        n.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("size".into(), "5".into());
        let sel = |key: &str, op: &str, values: &[&str]| NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: key.into(),
                    operator: op.into(),
                    values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
                }]),
                ..Default::default()
            }],
        };
        assert!(node_matches(&sel(ZONE, "In", &["z1"]), &n));
        assert!(!node_matches(&sel(ZONE, "NotIn", &["z1"]), &n));
        assert!(node_matches(&sel("missing", "DoesNotExist", &[]), &n));
        assert!(node_matches(&sel(ZONE, "Exists", &[]), &n));
        assert!(node_matches(&sel("size", "Gt", &["4"]), &n));
        assert!(!node_matches(&sel("size", "Lt", &["4"]), &n));
        assert!(!node_matches(
            &NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm::default()]
            },
            &n
        ));
    }
}
