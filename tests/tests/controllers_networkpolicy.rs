//! NetworkPolicies through the apinetlet: the seed NetworkPolicy becomes an apinet
//! NetworkPolicy and a NetworkPolicyRule named by its UID. The rule's targets are the internal
//! IPs of the Ready NetworkInterfaces labelled `app=db`; its ingress rule carries the seed's
//! ipBlock `172.17.0.0/16`, the host prefixes of the `app=web` NetworkInterfaces and
//! LoadBalancers, and port TCP 5432. Relabelling interfaces changes targets and peers; deleting
//! the policy deletes the rule and the apinet policy.

mod controllers_support;

use std::collections::BTreeSet;
use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Options, Stack, eventually};
use ironcore_api::{apinet, networking};
use ironcore_e2e::{ok, seed};
use kube::{Api, ResourceExt};

const TIMEOUT: Duration = Duration::from_secs(30);
const POLICY: &str = "my-network-policy";

/// The seed policy's network.
const NETWORK: &str = "apiVersion: networking.ironcore.dev/v1alpha1
kind: Network
metadata:
  name: my-network
";

/// A NetworkInterface of `my-network` labelled `app=<app>` with internal IP `ip`.
fn nic(name: &str, app: &str, ip: &str) -> String {
    format!(
        "apiVersion: networking.ironcore.dev/v1alpha1
kind: NetworkInterface
metadata:
  name: {name}
  labels:
    app: {app}
spec:
  networkRef:
    name: my-network
  ipFamilies: [IPv4]
  ips:
    - value: {ip}
"
    )
}

/// A public LoadBalancer of `my-network` labelled `app=web`, in front of the `app=db` NICs.
const LOAD_BALANCER: &str = "apiVersion: networking.ironcore.dev/v1alpha1
kind: LoadBalancer
metadata:
  name: web
  labels:
    app: web
spec:
  type: Public
  ipFamilies: [IPv4]
  networkRef:
    name: my-network
  networkInterfaceSelector:
    matchLabels:
      app: db
  ports:
    - port: 5432
";

/// The stored rule of the seed policy, once `check` accepts it.
async fn rule_when(
    stack: &Stack,
    what: &str,
    check: impl Fn(&apinet::NetworkPolicyRule) -> bool,
) -> apinet::NetworkPolicyRule {
    let policies: Api<networking::NetworkPolicy> =
        Api::namespaced(stack.ironcore.client().await, "default");
    let rules: Api<apinet::NetworkPolicyRule> =
        Api::namespaced(stack.apinet.client().await, APINET_NAMESPACE);
    let check = &check;
    eventually(TIMEOUT, what, || {
        let (policies, rules) = (policies.clone(), rules.clone());
        async move {
            let uid = policies.get(POLICY).await.ok()?.uid()?;
            let rule = rules.get_opt(&uid).await.ok()??;
            check(&rule).then_some(rule)
        }
    })
    .await
}

fn target_ips(rule: &apinet::NetworkPolicyRule) -> BTreeSet<String> {
    rule.targets
        .iter()
        .filter_map(|t| t.ip.as_ref().map(ToString::to_string))
        .collect()
}

fn ingress_prefixes(rule: &apinet::NetworkPolicyRule) -> BTreeSet<String> {
    rule.ingress_rules
        .iter()
        .flat_map(|r| &r.object_ips)
        .filter_map(|o| o.prefix.as_ref().map(ToString::to_string))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn policy_targets_db_interfaces_admits_web_peers_and_follows_relabelling() {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(NETWORK);
    stack.ironcore.apply(&nic("db", "db", "10.1.0.1"));
    stack.ironcore.apply(&nic("web", "web", "10.1.0.2"));
    stack.ironcore.apply(&seed("networkpolicy"));

    let rule = rule_when(&stack, "rule targeting db and admitting web", |r| {
        target_ips(r) == set(&["10.1.0.1"]) && ingress_prefixes(r) == set(&["10.1.0.2/32"])
    })
    .await;
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let policy = Api::<networking::NetworkPolicy>::namespaced(ic.clone(), "default")
        .get(POLICY)
        .await
        .expect("policy");
    let uid = policy.uid().expect("uid");
    assert!(
        policy
            .finalizers()
            .iter()
            .any(|f| f == "apinet.ironcore.dev/networkpolicy")
    );
    let network = Api::<networking::Network>::namespaced(ic, "default")
        .get("my-network")
        .await
        .expect("network");
    let net_uid = network.uid().expect("network uid");
    let apinet_net = Api::<apinet::Network>::namespaced(an.clone(), APINET_NAMESPACE)
        .get(&net_uid)
        .await
        .expect("apinet network");

    // The rule: network, priority, ports, the ipBlock, the web NIC; egress from the seed.
    assert_eq!(rule.network_ref.name, net_uid);
    assert_eq!(Some(rule.network_ref.uid.clone()), apinet_net.uid());
    assert_eq!(rule.priority, Some(1000));
    assert_eq!(
        rule.labels()["apinetlet.ironcore.dev/networkpolicy-uid"],
        uid
    );
    let target = &rule.targets[0];
    assert!(
        target
            .target_ref
            .as_ref()
            .is_some_and(|r| !r.uid.is_empty())
    );
    assert_eq!(rule.ingress_rules.len(), 1);
    let ingress = &rule.ingress_rules[0];
    let blocks: Vec<String> = ingress
        .cidr_block
        .iter()
        .filter_map(|b| b.cidr.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(blocks, ["172.17.0.0/16"]);
    assert_eq!(ingress.network_policy_ports.len(), 1);
    assert_eq!(ingress.network_policy_ports[0].port, 5432);
    assert_eq!(
        ingress.network_policy_ports[0].protocol.as_deref(),
        Some("TCP")
    );
    assert_eq!(rule.egress_rules.len(), 1);
    assert_eq!(rule.egress_rules[0].network_policy_ports[0].port, 8080);

    // The apinet policy mirrors the spec and controls the rule.
    let apinet_policy = Api::<apinet::NetworkPolicy>::namespaced(an, APINET_NAMESPACE)
        .get(&uid)
        .await
        .expect("apinet policy named by the uid");
    assert_eq!(apinet_policy.spec.network_ref.name, net_uid);
    assert_eq!(apinet_policy.spec.priority, Some(1000));
    assert_eq!(apinet_policy.spec.policy_types, ["Ingress", "Egress"]);
    assert_eq!(apinet_policy.spec.ingress[0].from.len(), 3);
    let owner = rule
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .expect("controller reference");
    assert_eq!(Some(owner.uid.clone()), apinet_policy.uid());

    // Relabelling: web becomes a target (and stops being a peer), db stops being one.
    ok(stack
        .ironcore
        .kubectl(&["label", "networkinterface", "web", "app=db", "--overwrite"]));
    rule_when(&stack, "web targeted too, no web peer left", |r| {
        target_ips(r) == set(&["10.1.0.1", "10.1.0.2"]) && ingress_prefixes(r).is_empty()
    })
    .await;
    ok(stack
        .ironcore
        .kubectl(&["label", "networkinterface", "db", "app=none", "--overwrite"]));
    let settled = rule_when(&stack, "only web targeted", |r| {
        target_ips(r) == set(&["10.1.0.2"])
    })
    .await;

    // Level-triggered without churn: nothing changes, so nothing is rewritten.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = rule_when(&stack, "the rule", |_| true).await;
    assert_eq!(again.resource_version(), settled.resource_version());
}

#[tokio::test]
async fn load_balancer_peers_resolve_to_the_load_balancer_address() {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(NETWORK);
    stack.ironcore.apply(LOAD_BALANCER);
    stack.ironcore.apply(&seed("networkpolicy"));

    let lbs: Api<networking::LoadBalancer> =
        Api::namespaced(stack.ironcore.client().await, "default");
    let lb_ip = eventually(TIMEOUT, "load balancer address", || {
        let lbs = lbs.clone();
        async move {
            let lb = lbs.get("web").await.ok()?;
            lb.status.ips.first().map(ToString::to_string)
        }
    })
    .await;
    assert!(lb_ip.starts_with("10.0.0."), "{lb_ip} is public");
    let want = set(&[&format!("{lb_ip}/32")]);
    rule_when(
        &stack,
        "load balancer address among the ingress peers",
        |r| ingress_prefixes(r) == want,
    )
    .await;
}

#[tokio::test]
async fn deleting_a_policy_removes_its_rule_and_apinet_policy() {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(NETWORK);
    stack.ironcore.apply(&seed("networkpolicy"));
    let rule = rule_when(&stack, "rule of the policy", |_| true).await;
    let uid = rule.name_any();
    let an = stack.apinet.client().await;
    let policies: Api<networking::NetworkPolicy> =
        Api::namespaced(stack.ironcore.client().await, "default");
    let apinet_policies: Api<apinet::NetworkPolicy> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let rules: Api<apinet::NetworkPolicyRule> = Api::namespaced(an, APINET_NAMESPACE);
    assert!(apinet_policies.get_opt(&uid).await.expect("get").is_some());

    ok(stack
        .ironcore
        .kubectl(&["delete", "networkpolicy", POLICY, "--wait=false"]));
    eventually(TIMEOUT, "policy, rule and apinet policy gone", || {
        let (policies, apinet_policies, rules, uid) = (
            policies.clone(),
            apinet_policies.clone(),
            rules.clone(),
            uid.clone(),
        );
        async move {
            let gone = policies.get_opt(POLICY).await.ok()?.is_none()
                && apinet_policies.get_opt(&uid).await.ok()?.is_none()
                && rules.get_opt(&uid).await.ok()?.is_none();
            gone.then_some(())
        }
    })
    .await;
}
