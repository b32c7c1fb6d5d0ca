//! kubectl against `apinet-apiserver`: `apply` (without `--validate=false`: the server serves
//! OpenAPI), `get` (table and YAML), re-apply and `delete` for every apinet kind, with the
//! allocation records appearing and disappearing with their claimers.

mod apinet_support;

use apinet_support::start;
use ironcore_e2e::{Backend, ServerProcess, ok};

/// One object of every kind, in dependency order (hand-made NetworkID and IPAddress records
/// whose claimers do not exist, so that they can be deleted by hand).
const MANIFEST: &str = r#"
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: Node
metadata:
  name: part-a.host-1
  labels: {topology.core.apinet.ironcore.dev/partition: part-a}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NetworkID
metadata: {name: "5000"}
spec:
  claimRef: {group: core.apinet.ironcore.dev, resource: networks, namespace: default, name: gone, uid: "0"}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: IPAddress
metadata: {name: 198.51.100.77}
spec:
  ip: 198.51.100.77
  claimRef: {group: core.apinet.ironcore.dev, resource: ips, namespace: default, name: gone, uid: "0"}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: Network
metadata: {name: net}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: IP
metadata: {name: vip}
spec: {type: Public, ipFamily: IPv4}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NetworkInterface
metadata: {name: nic}
spec:
  nodeRef: {name: part-a.host-1}
  networkRef: {name: net}
  ips: [10.0.0.1]
  publicIPs:
  - {name: v4, ipFamily: IPv4}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: LoadBalancer
metadata: {name: lb}
spec:
  type: Public
  networkRef: {name: net}
  ips:
  - {name: ipv6, ipFamily: IPv6}
  ports:
  - {protocol: TCP, port: 80}
  selector: {matchLabels: {app: lb}}
  template:
    metadata: {labels: {app: lb}}
    spec: {type: LoadBalancer, loadBalancerType: Public, networkRef: {name: net}}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: LoadBalancerRouting
metadata: {name: lb}
destinations:
- ip: 10.0.0.1
  targetRef: {uid: "1", name: nic, nodeRef: {name: part-a.host-1}}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NATGateway
metadata: {name: nat}
spec:
  ipFamily: IPv4
  networkRef: {name: net}
  ips:
  - {name: ip-1}
  portsPerNetworkInterface: 2048
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NATGatewayAutoscaler
metadata: {name: nat}
spec:
  natGatewayRef: {name: nat}
  minPublicIPs: 1
  maxPublicIPs: 3
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NATTable
metadata: {name: nat}
ips:
- ip: 203.0.113.1
  sections:
  - {ip: 10.0.0.1, port: 1024, endPort: 3071, targetRef: {uid: "1", name: nic, nodeRef: {name: part-a.host-1}}}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NetworkPolicy
metadata: {name: np}
spec:
  networkRef: {name: net}
  networkInterfaceSelector: {matchLabels: {app: db}}
  priority: 1000
  policyTypes: [Ingress]
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: NetworkPolicyRule
metadata: {name: np}
networkRef: {name: net, uid: "1"}
targets:
- ip: 10.0.0.1
  targetRef: {name: nic, uid: "1"}
priority: 1000
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: DaemonSet
metadata: {name: lb-lb}
spec:
  nodeSelector: {matchLabels: {app: lb}}
  template:
    metadata: {labels: {app: lb}}
    spec: {type: LoadBalancer, loadBalancerType: Public, networkRef: {name: net}}
---
apiVersion: core.apinet.ironcore.dev/v1alpha1
kind: Instance
metadata: {name: lb-lb-abcde, labels: {app: lb}}
spec: {type: LoadBalancer, loadBalancerType: Public, networkRef: {name: net}}
"#;

/// `(resource, lower-case kind, name)` of every object of [`MANIFEST`].
const OBJECTS: &[(&str, &str, &str)] = &[
    ("nodes", "node", "part-a.host-1"),
    ("networkids", "networkid", "5000"),
    ("ipaddresses", "ipaddress", "198.51.100.77"),
    ("networks", "network", "net"),
    ("ips", "ip", "vip"),
    ("networkinterfaces", "networkinterface", "nic"),
    ("loadbalancers", "loadbalancer", "lb"),
    ("loadbalancerroutings", "loadbalancerrouting", "lb"),
    ("natgateways", "natgateway", "nat"),
    ("natgatewayautoscalers", "natgatewayautoscaler", "nat"),
    ("nattables", "nattable", "nat"),
    ("networkpolicies", "networkpolicy", "np"),
    ("networkpolicyrules", "networkpolicyrule", "np"),
    ("daemonsets", "daemonset", "lb-lb"),
    ("instances", "instance", "lb-lb-abcde"),
];

fn kubectl(s: &ServerProcess, args: &[&str], input: Option<&str>) -> String {
    ok(s.kubectl_with_input(args, input))
}

fn resource(plural: &str) -> String {
    format!("{plural}.core.apinet.ironcore.dev")
}

#[test]
fn kubectl_apply_get_and_delete_work_for_every_apinet_kind() {
    let s = start(
        Backend::Embedded,
        &[
            "--public-prefix=203.0.113.0/24",
            "--public-prefix=2001:db8::/120",
        ],
    );
    // Plain `kubectl apply`: client-side validation against the served OpenAPI.
    let out = kubectl(&s, &["apply", "-f", "-"], Some(MANIFEST));
    for (_, kind, name) in OBJECTS {
        let line = format!("{kind}.core.apinet.ironcore.dev/{name} created");
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
    assert_eq!(out.lines().count(), OBJECTS.len(), "{out}");

    let all: Vec<String> = OBJECTS.iter().map(|(p, _, _)| resource(p)).collect();
    let all = all.join(",");
    let tables = kubectl(&s, &["get", &all], None);
    assert_eq!(
        tables.lines().filter(|l| l.starts_with("NAME")).count(),
        OBJECTS.len(),
        "{tables}"
    );
    for (_, kind, name) in OBJECTS {
        let row = format!("{kind}.core.apinet.ironcore.dev/{name} ");
        assert!(
            tables.lines().any(|l| l.starts_with(&row)),
            "{row:?} missing:\n{tables}"
        );
    }

    // What the allocators did, as kubectl shows it.
    let state = objects(&s, &all);
    let vni: u32 = state["Network/net"]["spec"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .expect("VNI");
    assert!(vni >= 200, "{vni}");
    assert_eq!(
        state[&format!("NetworkID/{vni}")]["spec"]["claimRef"]["name"],
        "net"
    );
    let ips: Vec<&String> = state.keys().filter(|k| k.starts_with("IP/")).collect();
    assert_eq!(
        ips.len(),
        4,
        "vip + the NIC's, LB's and NAT gateway's ephemeral IPs: {ips:?}"
    );
    let records = state.keys().filter(|k| k.starts_with("IPAddress/")).count();
    assert_eq!(records, 5, "4 allocated + 1 hand-made");
    let lb_ip = state["LoadBalancer/lb"]["spec"]["ips"][0]["ip"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(lb_ip.starts_with("2001:db8::"), "{lb_ip}");
    let ip_table = kubectl(&s, &["get", "ips.core.apinet.ironcore.dev"], None);
    assert!(
        ip_table.contains("networkinterfaces.core.apinet.ironcore.dev nic"),
        "{ip_table}"
    );
    let by_label = kubectl(
        &s,
        &[
            "get",
            "ips.core.apinet.ironcore.dev",
            "-l",
            "apinet.ironcore.dev/ip-family=IPv6",
            "-o",
            "name",
        ],
        None,
    );
    assert_eq!(by_label.lines().count(), 1, "{by_label}");

    // Re-apply: nothing changes. kubectl sends the claim lists of the NIC, LB and NAT gateway
    // again (without the allocated `ip`, so it may report "configured"); the server keeps the
    // allocated addresses, and no object is rewritten.
    let out = kubectl(&s, &["apply", "-f", "-"], Some(MANIFEST));
    let unchanged = out.lines().filter(|l| l.ends_with(" unchanged")).count();
    assert!(unchanged >= OBJECTS.len() - 3, "{out}");
    assert_eq!(objects(&s, &all), state, "a re-apply rewrites nothing");

    let labelled = MANIFEST.replace(
        "metadata: {name: ",
        "metadata: {labels: {env: test}, name: ",
    );
    let out = kubectl(&s, &["apply", "-f", "-"], Some(&labelled));
    assert!(
        out.lines().filter(|l| l.ends_with(" configured")).count() >= 10,
        "{out}"
    );
    let relabelled = objects(&s, &all);
    assert_eq!(
        relabelled["Network/net"]["metadata"]["labels"]["env"],
        "test"
    );
    assert_eq!(
        relabelled.keys().filter(|k| k.starts_with("IP/")).count(),
        4,
        "no re-allocation"
    );
    assert_eq!(
        relabelled["LoadBalancer/lb"]["spec"]["ips"][0]["ip"],
        lb_ip.as_str()
    );

    let out = kubectl(&s, &["delete", "-f", "-"], Some(&labelled));
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" deleted")).count(),
        OBJECTS.len(),
        "{out}"
    );
    let left = kubectl(&s, &["get", &all, "-o", "name"], None);
    assert!(left.trim().is_empty(), "left: {left}");
}

/// Every object of `resources` as `Kind/name` → object, through `kubectl get -o json`.
fn objects(
    s: &ServerProcess,
    resources: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let out = kubectl(s, &["get", resources, "-o", "json"], None);
    let list: serde_json::Value = serde_json::from_str(&out).expect("kubectl json");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| {
            let key = format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            );
            (key, o.clone())
        })
        .collect()
}
