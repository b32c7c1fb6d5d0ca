//! `loadbalancer`: a DaemonSet `lb-<name>` per apinet LoadBalancer (apinet-upstream.md §4.4,
//! quirk 6 fixed).
//!
//! The DaemonSet (same namespace, controller ownerRef → LoadBalancer, server-side apply) selects
//! Instances with the LoadBalancer's selector (labels and expressions) and carries the complete
//! LoadBalancer template (labels, annotations, affinity, spread constraints) with the spec
//! fields the LoadBalancer decides overwritten: `type: LoadBalancer`, `loadBalancerType`,
//! `networkRef`, `ips` (the allocated `spec.ips[].ip`) and `loadBalancerPorts`. When the
//! LoadBalancer is gone, [`super::gc`]'s owner checks delete its DaemonSet and its
//! LoadBalancerRouting (both controlled by it).

use std::sync::Arc;

use ironcore_api::apinet::instance::INSTANCE_TYPE_LOAD_BALANCER;
use ironcore_api::apinet::loadbalancer::load_balancer_daemon_set_name;
use ironcore_api::apinet::{DaemonSet, DaemonSetSpec, LoadBalancer};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{
    State, apply, controlled_by, controller_of, controller_ref, is_deleting, namespace_of,
};
use crate::error::Result;

/// The controller: LoadBalancers; DaemonSets (→ their controlling LoadBalancer).
pub fn controller(client: &kube::Client) -> Controller<LoadBalancer> {
    let wc = watcher::Config::default();
    Controller::new(Api::<LoadBalancer>::all(client.clone()), wc.clone()).watches(
        Api::<DaemonSet>::all(client.clone()),
        wc,
        |ds| {
            let ns = ds.namespace()?;
            let owner = controller_of::<LoadBalancer, _>(&ds)?;
            Some(ObjectRef::new(&owner.name).within(&ns))
        },
    )
}

/// The DaemonSet spec a LoadBalancer wants.
pub fn desired_spec(lb: &LoadBalancer) -> DaemonSetSpec {
    let mut template = lb.spec.template.clone();
    template.spec.type_ = INSTANCE_TYPE_LOAD_BALANCER.to_owned();
    template.spec.load_balancer_type = lb.spec.type_.clone();
    template.spec.network_ref = lb.spec.network_ref.clone();
    template.spec.ips = lb.spec.ips.iter().filter_map(|i| i.ip.clone()).collect();
    template.spec.load_balancer_ports = lb.spec.ports.clone();
    DaemonSetSpec {
        selector: lb.spec.selector.clone(),
        template,
    }
}

/// Writes the DaemonSet of one LoadBalancer when it differs from the desired one.
pub async fn reconcile(lb: Arc<LoadBalancer>, st: Arc<State>) -> Result<Action> {
    if is_deleting(lb.as_ref()) {
        return Ok(Action::await_change());
    }
    let ns = namespace_of(lb.as_ref())?;
    let name = load_balancer_daemon_set_name(&lb.name_any());
    let owner = controller_ref(lb.as_ref())?;
    let spec = desired_spec(&lb);
    let api: Api<DaemonSet> = Api::namespaced(st.client.clone(), &ns);
    let current = api.get_opt(&name).await?;
    if current
        .as_ref()
        .is_some_and(|ds| ds.spec == spec && controlled_by(ds, &owner.uid))
    {
        return Ok(Action::requeue(st.resync));
    }
    let body = json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
        "kind": "DaemonSet",
        "metadata": { "name": name, "namespace": ns, "ownerReferences": [owner] },
        "spec": spec,
    });
    apply(&api, &name, &body).await?;
    tracing::info!(loadbalancer = %lb.name_any(), namespace = %ns, daemonset = %name, ips = spec.template.spec.ips.len(), "load balancer daemon set written");
    Ok(Action::requeue(st.resync))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use ironcore_api::apinet::{
        Affinity, InstanceAffinityTerm, InstanceAntiAffinity, LoadBalancerIP, LoadBalancerPort,
    };
    use ironcore_api::common::IPFamily;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    #[test]
    fn the_whole_template_is_copied_and_lb_fields_overwrite_it() {
        let labels = BTreeMap::from([("foo".to_owned(), "bar".to_owned())]);
        let mut lb = LoadBalancer::default();
        lb.metadata.name = Some("lb".into());
        lb.spec.type_ = "Public".into();
        lb.spec.network_ref.name = "net".into();
        lb.spec.ips = vec![
            LoadBalancerIP {
                name: "ip-1".into(),
                ip_family: IPFamily::IPv4,
                ip: Some("10.0.0.1".parse().unwrap()),
            },
            LoadBalancerIP {
                name: "ip-2".into(),
                ip_family: IPFamily::IPv6,
                ip: None,
            },
        ];
        lb.spec.ports = vec![LoadBalancerPort {
            protocol: Some("TCP".into()),
            port: 80,
            end_port: None,
        }];
        lb.spec.selector = Some(LabelSelector {
            match_labels: Some(labels.clone()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Exists".into(),
                values: None,
            }]),
        });
        lb.spec.template.metadata.labels = Some(labels.clone());
        lb.spec.template.metadata.annotations =
            Some(BTreeMap::from([("a".to_owned(), "b".to_owned())]));
        lb.spec.template.spec.affinity = Some(Affinity {
            node_affinity: None,
            instance_anti_affinity: Some(InstanceAntiAffinity {
                required_during_scheduling_ignored_during_execution: vec![InstanceAffinityTerm {
                    label_selector: None,
                    topology_key: "zone".into(),
                }],
            }),
        });
        lb.spec.template.spec.type_ = "Other".into();
        let spec = desired_spec(&lb);
        assert_eq!(spec.selector, lb.spec.selector);
        let t = &spec.template;
        assert_eq!(t.metadata.labels, Some(labels));
        assert_eq!(
            t.metadata.annotations,
            lb.spec.template.metadata.annotations
        );
        assert_eq!(t.spec.affinity, lb.spec.template.spec.affinity);
        assert_eq!(t.spec.type_, "LoadBalancer");
        assert_eq!(t.spec.load_balancer_type, "Public");
        assert_eq!(t.spec.network_ref.name, "net");
        assert_eq!(t.spec.ips, vec!["10.0.0.1".parse().unwrap()]);
        assert_eq!(t.spec.load_balancer_ports, lb.spec.ports);
    }
}
