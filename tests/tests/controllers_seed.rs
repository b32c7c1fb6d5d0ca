//! The seed's examples, applied as written with every process running, reach the statuses the
//! seed shows (`api/tests/seed/*-reconciled.yaml`): equal where the seed's value is
//! deterministic (states, peering names, internal IPs), of the seed's form where the system
//! generates it (public addresses from the pool, provider IDs, timestamps). The LoadBalancer's
//! routing and the NetworkPolicy's rule are checked against what their seed sections describe.

mod controllers_support;

use std::net::IpAddr;
use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Options, Stack, eventually};
use ironcore_e2e::{ok, seed, seed_reconciled};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The peer the seed's Network names.
const NETWORK_SAMPLE2: &str = "apiVersion: networking.ironcore.dev/v1alpha1
kind: Network
metadata:
  name: network-sample2
spec:
  peerings:
    - name: peering1
      networkRef:
        name: network-sample
";

/// What the seed's LoadBalancer selects (`app: web`) and its NetworkPolicy's network.
const EXTRA: &str = "apiVersion: networking.ironcore.dev/v1alpha1
kind: NetworkInterface
metadata:
  name: web
  labels:
    app: web
spec:
  networkRef:
    name: network-sample
  ipFamilies: [IPv4]
  ips:
    - value: 10.0.0.2
---
apiVersion: networking.ironcore.dev/v1alpha1
kind: Network
metadata:
  name: my-network
---
apiVersion: networking.ironcore.dev/v1alpha1
kind: NetworkInterface
metadata:
  name: db
  labels:
    app: db
spec:
  networkRef:
    name: my-network
  ipFamilies: [IPv4]
  ips:
    - value: 10.9.0.1
";

fn get(stack: &Stack, kind: &str, name: &str) -> Value {
    serde_json::from_str(&ok(stack
        .ironcore
        .kubectl(&["get", kind, name, "-o", "json"])))
    .expect("kubectl JSON")
}

fn in_pool(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.to_string().starts_with("10.0.0."))
}

/// Whether `have` has the seed's `want` shape: every key of `want`, equal values except the
/// generated ones (`generated(path, have)` decides those).
fn matches(
    want: &Value,
    have: &Value,
    path: &str,
    generated: &dyn Fn(&str, &Value) -> Option<bool>,
) -> Result<(), String> {
    if let Some(ok) = generated(path, have) {
        return if ok {
            Ok(())
        } else {
            Err(format!("{path}: {have} is not of the seed's form"))
        };
    }
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            for (k, wv) in w {
                let hv = h.get(k).ok_or_else(|| format!("{path}.{k} missing"))?;
                matches(wv, hv, &format!("{path}.{k}"), generated)?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(h)) if w.len() == h.len() => {
            for (i, (wv, hv)) in w.iter().zip(h).enumerate() {
                matches(wv, hv, &format!("{path}[{i}]"), generated)?;
            }
            Ok(())
        }
        _ if want == have => Ok(()),
        _ => Err(format!("{path}: want {want}, have {have}")),
    }
}

fn generated(path: &str, have: &Value) -> Option<bool> {
    match path {
        ".status.ip" | ".status.virtualIP" | ".status.ips[0].ip" => Some(in_pool(have)),
        ".status.ips[0].name" => Some(have.as_str().is_some_and(|s| !s.is_empty())),
        ".status.lastStateTransitionTime" => Some(
            have.as_str()
                .is_some_and(|s| s.parse::<k8s_openapi::jiff::Timestamp>().is_ok()),
        ),
        ".spec.providerID" => Some(have.as_str().is_some_and(|s| {
            let parts: Vec<&str> = s
                .strip_prefix("ironcore-net://")
                .unwrap_or("")
                .split('/')
                .collect();
            parts.len() == 4 && parts[0] == APINET_NAMESPACE && parts[2].parse::<u32>().is_ok()
        })),
        _ => None,
    }
}

#[tokio::test]
async fn every_seed_example_reaches_the_status_the_seed_shows() {
    let stack = Stack::start_with(Options::full());
    for stem in [
        "network",
        "virtualip",
        "networkinterface",
        "natgateway",
        "loadbalancer",
        "networkpolicy",
    ] {
        stack.ironcore.apply(&seed(stem));
    }
    stack.ironcore.apply(NETWORK_SAMPLE2);
    stack.ironcore.apply(EXTRA);

    for (stem, text) in seed_reconciled() {
        let want: Value = serde_saphyr::from_str(&text).expect("seed YAML");
        let kind = want["kind"].as_str().unwrap().to_lowercase();
        let name = want["metadata"]["name"].as_str().unwrap().to_owned();
        let want = serde_json::json!({"spec": want["spec"], "status": want["status"]});
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let have = get(&stack, &kind, &name);
            match matches(&want, &have, "", &generated) {
                Ok(()) => break,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("{stem} did not reach the seed's status: {e}\n{have:#}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    // The VirtualIP's address is the NetworkInterface's virtualIP.
    let vip = get(&stack, "virtualip", "virtualip-sample");
    let nic = get(&stack, "networkinterface", "networkinterface-sample");
    assert_eq!(vip["status"]["ip"], nic["status"]["virtualIP"]);

    // The LoadBalancer: a public address and a routing listing exactly the app=web interface.
    let routing = eventually(TIMEOUT, "the seed LoadBalancer's routing", || {
        let lb = get(&stack, "loadbalancer", "loadbalancer-sample");
        let r = get(&stack, "loadbalancerrouting", "loadbalancer-sample");
        let listed = r["destinations"].as_array().is_some_and(|d| d.len() == 1);
        async move { (in_pool(&lb["status"]["ips"][0]) && listed).then_some(r) }
    })
    .await;
    assert_eq!(routing["networkRef"]["name"], "network-sample");
    let web = get(&stack, "networkinterface", "web");
    assert_eq!(routing["destinations"][0]["name"], "web");
    assert_eq!(routing["destinations"][0]["uid"], web["metadata"]["uid"]);
    assert_eq!(routing["destinations"][0]["ip"], "10.0.0.2");

    // The NetworkPolicy: its rule targets the app=db interface.
    let policy = get(&stack, "networkpolicy", "my-network-policy");
    let uid = policy["metadata"]["uid"].as_str().unwrap().to_owned();
    let rule = eventually(TIMEOUT, "the seed NetworkPolicy's rule", || {
        let out = stack.apinet.kubectl(&[
            "get",
            "networkpolicyrules",
            &uid,
            "-n",
            APINET_NAMESPACE,
            "-o",
            "json",
        ]);
        let rule: Option<Value> = out
            .status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten();
        async move { rule.filter(|r| r["targets"][0]["ip"] == "10.9.0.1") }
    })
    .await;
    assert_eq!(rule["targets"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        rule["ingressRule"][0]["ipBlock"][0]["cidr"],
        "172.17.0.0/16"
    );
    assert_eq!(rule["egressRule"][0]["networkPolicyPorts"][0]["port"], 8080);
}
