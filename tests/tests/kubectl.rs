//! The `kubectl` on the PATH against the server, on the embedded store and on etcd: apply the
//! seed's examples, read them back in every output format, change them with every write verb,
//! and watch, wait and delete.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use ironcore_e2e::{
    KUBECTL_WRITE_FLAGS, ServerProcess, fails, ok, on_each_backend, poll_until, seed,
    seed_examples, wait_with_deadline,
};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Every seed example: (file stem, resource, object name).
const SEED_OBJECTS: &[(&str, &str, &str)] = &[
    ("loadbalancer", "loadbalancers", "loadbalancer-sample"),
    (
        "loadbalancerrouting",
        "loadbalancerroutings",
        "loadbalancer-sample",
    ),
    ("natgateway", "natgateways", "natgateway-sample"),
    ("network", "networks", "network-sample"),
    (
        "networkinterface",
        "networkinterfaces",
        "networkinterface-sample",
    ),
    ("networkpolicy", "networkpolicies", "my-network-policy"),
    ("virtualip", "virtualips", "virtualip-sample"),
];

fn apply_all_seed_examples(s: &ServerProcess) {
    for (_, manifest) in seed_examples() {
        s.apply(&manifest);
    }
}

/// A Network manifest with labels (`k=v` pairs), in namespace `ns`.
fn network(name: &str, ns: &str, labels: &[(&str, &str)]) -> String {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1",
        "kind": "Network",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {}
    })
    .to_string()
}

/// A NetworkInterface manifest on network `net`.
fn nic(name: &str, net: &str) -> String {
    json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1",
        "kind": "NetworkInterface",
        "metadata": {"name": name},
        "spec": {"networkRef": {"name": net}, "ipFamilies": ["IPv4"], "ips": [{"value": "10.0.0.1"}]}
    })
    .to_string()
}

fn get_json(s: &ServerProcess, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let out = ok(s.kubectl(&all));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl -o json ({e}): {out}"))
}

/// The object names `kubectl get -o name` prints, without the resource prefix.
fn names(s: &ServerProcess, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "name"]);
    let out = ok(s.kubectl(&all));
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_owned())
        .collect();
    v.sort();
    v
}

fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no header in {table:?}"))
        .split_whitespace()
        .collect()
}

/// The cells of the row whose cell `skip` is `name`, cut at the header's column starts.
fn row(table: &str, skip: usize, name: &str) -> Vec<String> {
    let mut lines = table.lines();
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("no header in {table:?}"));
    let mut starts = Vec::new();
    let mut prev = b' ';
    for (i, c) in head.bytes().enumerate() {
        if c != b' ' && prev == b' ' {
            starts.push(i);
        }
        prev = c;
    }
    lines
        .map(|l| {
            starts
                .iter()
                .enumerate()
                .map(|(i, &from)| {
                    let to = starts.get(i + 1).copied().unwrap_or(l.len()).min(l.len());
                    l.get(from.min(l.len())..to).unwrap_or("").trim().to_owned()
                })
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.get(skip).map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row for {name} in\n{table}"))
}

fn is_not_found(s: &ServerProcess, resource: &str, name: &str) -> bool {
    let out = s.kubectl(&["get", resource, name]);
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound")
}

/// Reads a child's stdout lines on a thread.
fn line_reader(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line satisfying `pred`; panics with the lines seen after `TIMEOUT`.
fn expect_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {what}; saw:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn apply_creates_every_seed_example_and_reapplying_changes_nothing() {
    let stems: Vec<String> = seed_examples().into_iter().map(|(s, _)| s).collect();
    let expected: Vec<&str> = SEED_OBJECTS.iter().map(|(stem, _, _)| *stem).collect();
    assert_eq!(
        stems, expected,
        "the seed examples changed: update SEED_OBJECTS"
    );
    on_each_backend(|s| {
        for (stem, resource, name) in SEED_OBJECTS {
            let out = s.apply(&seed(stem));
            assert!(
                out.contains(&format!("/{name} created")),
                "apply of {stem}: {out}"
            );
            let got = get_json(&s, &[resource, name]);
            assert_eq!(got["metadata"]["name"], *name);
            assert_eq!(got["metadata"]["namespace"], "default");
            assert!(
                got["metadata"]["uid"]
                    .as_str()
                    .is_some_and(|u| !u.is_empty())
            );
        }
        for (stem, resource, name) in SEED_OBJECTS {
            let before = get_json(&s, &[resource, name]);
            let out = s.apply(&seed(stem));
            // kubectl says "configured" when its merge patch re-sends a list the server
            // defaulted (LoadBalancer ports get protocol TCP): the object must not change.
            assert!(
                out.contains(&format!("/{name} unchanged"))
                    || out.contains(&format!("/{name} configured")),
                "re-apply of {stem}: {out}"
            );
            let after = get_json(&s, &[resource, name]);
            assert_eq!(after, before, "re-applying {stem} changed the object");
        }
    });
}

#[test]
fn apply_keeps_the_seed_examples_fields_as_written() {
    on_each_backend(|s| {
        apply_all_seed_examples(&s);
        let net = get_json(&s, &["networks", "network-sample"]);
        assert_eq!(
            net["spec"]["peerings"],
            json!([{"name": "peering1", "networkRef": {"name": "network-sample2"}}])
        );
        let ngw = get_json(&s, &["natgateways", "natgateway-sample"]);
        assert_eq!(ngw["spec"]["portsPerNetworkInterface"], 64);
        assert_eq!(ngw["spec"]["networkRef"]["name"], "network-sample");
        let lb = get_json(&s, &["loadbalancers", "loadbalancer-sample"]);
        // A port without protocol is defaulted to TCP (DESIGN.md §3).
        assert_eq!(
            lb["spec"]["ports"],
            json!([{"protocol": "TCP", "port": 80}])
        );
        let lbr = get_json(&s, &["loadbalancerroutings", "loadbalancer-sample"]);
        assert_eq!(lbr["networkRef"]["name"], "network-sample");
        assert_eq!(
            lbr["destinations"][1],
            json!({"name": "my-machine-interface-2", "uid": "2020dcf9-e030-427e-b0fc-4fec2016e73d"})
        );
        let pol = get_json(&s, &["networkpolicies", "my-network-policy"]);
        assert_eq!(
            pol["spec"]["ingress"][0]["from"][1]["objectSelector"]["kind"],
            "NetworkInterface"
        );
        assert_eq!(
            pol["spec"]["egress"][0]["ports"],
            json!([{"protocol": "TCP", "port": 8080}])
        );
    });
}

#[test]
fn apply_of_a_reconciled_example_keeps_the_spec_and_drops_the_status() {
    let examples = ironcore_e2e::seed_reconciled();
    assert!(!examples.is_empty(), "no reconciled seed examples");
    on_each_backend(|s| {
        for (stem, manifest) in &examples {
            let out = s.apply(manifest);
            let (resource, name) = out
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('/'))
                .unwrap_or_else(|| panic!("apply of {stem}: {out}"));
            assert!(out.contains(" created"), "apply of {stem}: {out}");
            let got = get_json(&s, &[resource, name]);
            // kubectl records what it applied: the seed's object, status included.
            let applied: Value = serde_json::from_str(
                got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                    .as_str()
                    .expect("last-applied-configuration"),
            )
            .expect("last-applied JSON");
            for (k, v) in applied["spec"].as_object().expect("seed spec") {
                assert_eq!(&got["spec"][k], v, "{stem}: spec.{k} kept as written");
            }
            let seed_status = applied["status"].as_object().expect("seed status");
            assert!(!seed_status.is_empty(), "{stem}");
            for (k, v) in seed_status {
                assert_ne!(
                    &got["status"][k], v,
                    "{stem}: status.{k} is the controllers' to write, not the creator's"
                );
            }
            ok(s.kubectl(&["delete", resource, name]));
        }
    });
}

#[test]
fn get_prints_the_table_columns_of_each_kind() {
    on_each_backend(|s| {
        apply_all_seed_examples(&s);
        let columns: &[(&str, &[&str])] = &[
            ("networks", &["NAME", "STATE", "PROVIDERID", "AGE"]),
            (
                "networkinterfaces",
                &[
                    "NAME",
                    "NETWORK",
                    "MACHINE",
                    "IPS",
                    "PREFIXES",
                    "VIRTUALIP",
                    "STATE",
                    "AGE",
                ],
            ),
            ("virtualips", &["NAME", "EXTERNALIP", "AGE"]),
            ("natgateways", &["NAME", "IPS", "AGE"]),
            ("loadbalancers", &["NAME", "IPS", "AGE"]),
            ("loadbalancerroutings", &["NAME", "TARGETS", "AGE"]),
            (
                "networkpolicies",
                &["NAME", "NETWORK", "NIC-SELECTOR", "AGE"],
            ),
        ];
        for (resource, expected) in columns {
            let out = ok(s.kubectl(&["get", resource]));
            assert_eq!(header(&out), *expected, "{resource}:\n{out}");
            let name = SEED_OBJECTS
                .iter()
                .find(|(_, r, _)| r == resource)
                .map(|(_, _, n)| *n)
                .expect("seed object");
            let cells = row(&out, 0, name);
            assert_eq!(cells.len(), expected.len(), "{resource}:\n{out}");
        }
        let out = ok(s.kubectl(&["get", "networkinterfaces"]));
        assert_eq!(row(&out, 0, "networkinterface-sample")[1], "network-sample");
        let out = ok(s.kubectl(&["get", "networkpolicies"]));
        assert_eq!(
            row(&out, 0, "my-network-policy")[1..3],
            ["my-network", "app=db"]
        );
        let out = ok(s.kubectl(&["get", "networks", "network-sample"]));
        let age = row(&out, 0, "network-sample")[3].clone();
        assert!(
            age.ends_with('s') || age.ends_with('m'),
            "Age is a pre-formatted duration, not a timestamp: {age}"
        );
    });
}

#[test]
fn get_o_wide_prints_every_column() {
    on_each_backend(|s| {
        s.apply(&seed("networkinterface"));
        let out = ok(s.kubectl(&["get", "networkinterfaces", "-o", "wide"]));
        assert_eq!(
            header(&out),
            [
                "NAME",
                "NETWORK",
                "MACHINE",
                "IPS",
                "PREFIXES",
                "VIRTUALIP",
                "STATE",
                "AGE"
            ]
        );
        let cells = row(&out, 0, "networkinterface-sample");
        assert_eq!(cells[1..3], ["network-sample", "<none>"]);
    });
}

#[test]
fn get_o_yaml_prints_the_stored_object() {
    on_each_backend(|s| {
        s.apply(&seed("virtualip"));
        let out = ok(s.kubectl(&["get", "virtualip", "virtualip-sample", "-o", "yaml"]));
        for line in [
            "apiVersion: networking.ironcore.dev/v1alpha1",
            "kind: VirtualIP",
            "  name: virtualip-sample",
            "  namespace: default",
            "  type: Public",
            "  ipFamily: IPv4",
        ] {
            assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
        }
        for key in ["  uid: ", "  resourceVersion: ", "  creationTimestamp: "] {
            assert!(
                out.lines().any(|l| l.starts_with(key)),
                "no {key:?} in\n{out}"
            );
        }
    });
}

#[test]
fn get_o_json_prints_the_stored_object_and_list() {
    on_each_backend(|s| {
        s.apply(&seed("natgateway"));
        let obj = get_json(&s, &["natgateway", "natgateway-sample"]);
        assert_eq!(obj["apiVersion"], "networking.ironcore.dev/v1alpha1");
        assert_eq!(obj["kind"], "NATGateway");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert_eq!(
            obj["spec"],
            json!({"type": "Public", "ipFamily": "IPv4", "portsPerNetworkInterface": 64, "networkRef": {"name": "network-sample"}})
        );
        let ts = obj["metadata"]["creationTimestamp"]
            .as_str()
            .expect("creationTimestamp");
        assert!(
            ts.ends_with('Z') && ts.len() == 20,
            "RFC 3339 seconds in UTC: {ts}"
        );
        let list = get_json(&s, &["natgateways"]);
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(list["items"][0]["metadata"]["uid"], obj["metadata"]["uid"]);
    });
}

#[test]
fn get_show_labels_prints_the_labels_column() {
    on_each_backend(|s| {
        s.apply(&network(
            "n1",
            "default",
            &[("app", "web"), ("tier", "front")],
        ));
        s.apply(&network("n2", "default", &[]));
        let out = ok(s.kubectl(&["get", "networks", "--show-labels"]));
        assert_eq!(
            header(&out),
            ["NAME", "STATE", "PROVIDERID", "AGE", "LABELS"]
        );
        assert_eq!(row(&out, 0, "n1")[4], "app=web,tier=front");
        assert_eq!(row(&out, 0, "n2")[4], "<none>");
    });
}

#[test]
fn get_l_filters_by_label_selector() {
    on_each_backend(|s| {
        s.apply(&network(
            "a",
            "default",
            &[("env", "prod"), ("tier", "front")],
        ));
        s.apply(&network("b", "default", &[("env", "dev")]));
        s.apply(&network("c", "default", &[]));
        let cases: &[(&str, &[&str])] = &[
            ("env=prod", &["a"]),
            ("env==prod", &["a"]),
            ("env!=prod", &["b", "c"]),
            ("env in (prod,dev)", &["a", "b"]),
            ("env notin (prod)", &["b", "c"]),
            ("env", &["a", "b"]),
            ("!env", &["c"]),
            ("env=prod,tier=front", &["a"]),
            ("env=prod,tier=back", &[]),
        ];
        for (selector, expected) in cases {
            assert_eq!(
                names(&s, &["networks", "-l", selector]),
                *expected,
                "-l {selector}"
            );
        }
    });
}

#[test]
fn get_field_selector_filters_by_metadata_name() {
    on_each_backend(|s| {
        for n in ["a", "b", "c"] {
            s.apply(&network(n, "default", &[]));
        }
        assert_eq!(
            names(&s, &["networks", "--field-selector", "metadata.name=b"]),
            ["b"]
        );
        assert_eq!(
            names(&s, &["networks", "--field-selector", "metadata.name!=b"]),
            ["a", "c"]
        );
        assert_eq!(
            names(
                &s,
                &["networks", "--field-selector", "metadata.namespace=default"]
            ),
            ["a", "b", "c"]
        );
    });
}

#[test]
fn get_field_selector_filters_by_spec_network_ref_name() {
    on_each_backend(|s| {
        s.apply(&nic("nic-a", "net-1"));
        s.apply(&nic("nic-b", "net-2"));
        s.apply(&nic("nic-c", "net-1"));
        assert_eq!(
            names(
                &s,
                &[
                    "networkinterfaces",
                    "--field-selector",
                    "spec.networkRef.name=net-1"
                ]
            ),
            ["nic-a", "nic-c"]
        );
        assert_eq!(
            names(
                &s,
                &[
                    "networkinterfaces",
                    "--field-selector",
                    "spec.networkRef.name=net-1,metadata.name!=nic-a"
                ]
            ),
            ["nic-c"]
        );
        s.apply(&seed("natgateway"));
        assert_eq!(
            names(
                &s,
                &[
                    "natgateways",
                    "--field-selector",
                    "spec.networkRef.name=network-sample"
                ]
            ),
            ["natgateway-sample"]
        );
    });
}

#[test]
fn get_field_selector_on_an_unknown_field_is_a_bad_request() {
    on_each_backend(|s| {
        let err = fails(s.kubectl(&["get", "networks", "--field-selector", "spec.foo=x"]));
        assert!(err.contains("BadRequest"), "{err}");
        assert!(err.contains("spec.foo"), "{err}");
    });
}

#[test]
fn get_all_namespaces_lists_every_namespace() {
    on_each_backend(|s| {
        s.apply(&network("n1", "default", &[]));
        s.apply(&network("n2", "other", &[]));
        let out = ok(s.kubectl(&["get", "networks", "-A"]));
        assert_eq!(
            header(&out),
            ["NAMESPACE", "NAME", "STATE", "PROVIDERID", "AGE"]
        );
        assert_eq!(row(&out, 1, "n1")[0], "default");
        assert_eq!(row(&out, 1, "n2")[0], "other");
        assert_eq!(names(&s, &["networks"]), ["n1"]);
        assert_eq!(names(&s, &["networks", "-n", "other"]), ["n2"]);
    });
}

#[test]
fn describe_shows_metadata_and_spec() {
    on_each_backend(|s| {
        s.apply(&seed("network"));
        let out = ok(s.kubectl(&["describe", "network", "network-sample"]));
        for expected in [
            "Name:         network-sample",
            "Namespace:    default",
            "API Version:  networking.ironcore.dev/v1alpha1",
            "Kind:         Network",
            "Peerings:",
            "network-sample2",
        ] {
            assert!(out.contains(expected), "no {expected:?} in\n{out}");
        }
        let all = ok(s.kubectl(&["describe", "networks"]));
        assert!(all.contains("Name:         network-sample"), "{all}");
    });
}

#[test]
fn label_adds_overwrites_and_removes_a_label() {
    on_each_backend(|s| {
        s.apply(&seed("network"));
        let out = ok(s.kubectl(&["label", "network", "network-sample", "env=prod"]));
        assert!(out.contains("network-sample labeled"), "{out}");
        let label = |s: &ServerProcess| {
            ok(s.kubectl(&[
                "get",
                "network",
                "network-sample",
                "-o",
                "jsonpath={.metadata.labels.env}",
            ]))
        };
        assert_eq!(label(&s), "prod");
        let err = fails(s.kubectl(&["label", "network", "network-sample", "env=dev"]));
        assert!(err.contains("already has a value"), "{err}");
        ok(s.kubectl(&[
            "label",
            "network",
            "network-sample",
            "env=dev",
            "--overwrite",
        ]));
        assert_eq!(label(&s), "dev");
        ok(s.kubectl(&["label", "network", "network-sample", "env-"]));
        let obj = get_json(&s, &["network", "network-sample"]);
        assert!(obj["metadata"]["labels"].get("env").is_none(), "{obj}");
        // Labels are metadata: the spec generation stays.
        assert_eq!(obj["metadata"]["generation"], 1);
    });
}

#[test]
fn annotate_adds_and_removes_an_annotation() {
    on_each_backend(|s| {
        s.apply(&seed("virtualip"));
        let out = ok(s.kubectl(&[
            "annotate",
            "vip",
            "virtualip-sample",
            "example.com/note=hello world",
        ]));
        assert!(out.contains("virtualip-sample annotated"), "{out}");
        let obj = get_json(&s, &["vip", "virtualip-sample"]);
        assert_eq!(
            obj["metadata"]["annotations"]["example.com/note"],
            "hello world"
        );
        ok(s.kubectl(&["annotate", "vip", "virtualip-sample", "example.com/note-"]));
        let obj = get_json(&s, &["vip", "virtualip-sample"]);
        assert!(
            obj["metadata"]["annotations"]
                .get("example.com/note")
                .is_none(),
            "{obj}"
        );
    });
}

#[test]
fn patch_type_merge_changes_the_spec_and_bumps_the_generation() {
    on_each_backend(|s| {
        s.apply(&seed("network"));
        let before = get_json(&s, &["network", "network-sample"]);
        let out = ok(s.kubectl(&[
            "patch",
            "network",
            "network-sample",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"peerings":[{"name":"p2","networkRef":{"name":"other"}}]}}"#,
        ]));
        assert!(out.contains("network-sample patched"), "{out}");
        let after = get_json(&s, &["network", "network-sample"]);
        assert_eq!(
            after["spec"]["peerings"],
            json!([{"name": "p2", "networkRef": {"name": "other"}}])
        );
        assert_eq!(after["metadata"]["generation"], 2);
        assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
        assert_ne!(
            after["metadata"]["resourceVersion"],
            before["metadata"]["resourceVersion"]
        );
    });
}

#[test]
fn patch_type_json_changes_the_spec() {
    on_each_backend(|s| {
        s.apply(&seed("network"));
        let out = ok(s.kubectl(&[
            "patch",
            "network",
            "network-sample",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/spec/peerings/0/name","value":"peering1"},{"op":"add","path":"/spec/peerings/-","value":{"name":"p2","networkRef":{"name":"other"}}}]"#,
        ]));
        assert!(out.contains("network-sample patched"), "{out}");
        let obj = get_json(&s, &["network", "network-sample"]);
        assert_eq!(obj["spec"]["peerings"][1]["name"], "p2");
        assert_eq!(obj["spec"]["peerings"].as_array().map(Vec::len), Some(2));
        // A failing `test` op writes nothing.
        fails(s.kubectl(&[
            "patch",
            "network",
            "network-sample",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/spec/peerings/0/name","value":"nope"},{"op":"remove","path":"/spec/peerings"}]"#,
        ]));
        let again = get_json(&s, &["network", "network-sample"]);
        assert_eq!(
            again["metadata"]["resourceVersion"],
            obj["metadata"]["resourceVersion"]
        );
    });
}

#[test]
fn edit_with_a_scripted_editor_saves_the_change() {
    on_each_backend(|s| {
        s.apply(&seed("natgateway"));
        let script = s.scratch_dir().join("editor.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\nsed -i 's/portsPerNetworkInterface: 64/portsPerNetworkInterface: 128/' \"$1\"\n",
        )
        .expect("write editor");
        let status = std::process::Command::new("chmod")
            .arg("+x")
            .arg(&script)
            .status()
            .expect("chmod");
        assert!(status.success());
        let mut args = vec!["edit", "natgateway", "natgateway-sample"];
        args.extend_from_slice(KUBECTL_WRITE_FLAGS);
        let mut cmd = s.kubectl_command(&args);
        cmd.env("KUBE_EDITOR", &script).env("EDITOR", &script);
        let out = ok(ironcore_e2e::run_with_input(&mut cmd, None));
        assert!(out.contains("natgateway-sample edited"), "{out}");
        let obj = get_json(&s, &["natgateway", "natgateway-sample"]);
        assert_eq!(obj["spec"]["portsPerNetworkInterface"], 128);
        assert_eq!(obj["metadata"]["generation"], 2);
    });
}

#[test]
fn delete_removes_the_object_and_returns() {
    on_each_backend(|s| {
        s.apply(&seed("virtualip"));
        let child = s.kubectl_spawn(&["delete", "virtualip", "virtualip-sample"]);
        let out = ok(wait_with_deadline(child, TIMEOUT, "kubectl delete"));
        assert!(out.contains("virtualip-sample\" deleted"), "{out}");
        assert!(is_not_found(&s, "virtualip", "virtualip-sample"));
    });
}

#[test]
fn delete_waits_until_a_finalizer_removed_meanwhile_lets_the_object_go() {
    on_each_backend(|s| {
        s.apply(
            &json!({
                "apiVersion": "networking.ironcore.dev/v1alpha1",
                "kind": "Network",
                "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
                "spec": {}
            })
            .to_string(),
        );
        let child = s.kubectl_spawn(&["delete", "network", "held", "--timeout=60s"]);
        poll_until(TIMEOUT, "deletionTimestamp on the held network", || {
            let obj = get_json(&s, &["network", "held"]);
            obj["metadata"]["deletionTimestamp"].as_str().map(|_| ())
        });
        let mut child = child;
        assert!(
            child.try_wait().expect("poll kubectl").is_none(),
            "kubectl delete returned while the finalizer is still there"
        );
        ok(s.kubectl(&[
            "patch",
            "network",
            "held",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ]));
        let out = ok(wait_with_deadline(child, TIMEOUT, "kubectl delete"));
        assert!(out.contains("\"held\" deleted"), "{out}");
        assert!(is_not_found(&s, "network", "held"));
    });
}

#[test]
fn get_watch_shows_changes_made_meanwhile() {
    on_each_backend(|s| {
        s.apply(&network("n1", "default", &[]));
        let mut child = s.kubectl_spawn(&["get", "networks", "-w"]);
        let rx = line_reader(&mut child);
        let first = expect_line(&rx, "the initial n1 row", |l| l.starts_with("n1 "));
        assert!(first.contains("<unknown>"), "{first}");
        ok(s.kubectl(&[
            "patch",
            "network",
            "n1",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"providerID":"ironcore-net://ns/n1/42/uid"}}"#,
        ]));
        expect_line(&rx, "the changed n1 row", |l| {
            l.starts_with("n1 ") && l.contains("ironcore-net://ns/n1/42/uid")
        });
        s.apply(&network("n2", "default", &[]));
        expect_line(&rx, "the new n2 row", |l| l.starts_with("n2 "));
        let _ = child.kill();
        let _ = child.wait();
    });
}

#[test]
fn wait_for_jsonpath_returns_once_the_status_is_set_meanwhile() {
    on_each_backend(|s| {
        s.apply(&seed("network"));
        // -v=6 logs every response: the watch request's line says kubectl is now waiting on it.
        let mut child = s.kubectl_spawn(&[
            "wait",
            "network/network-sample",
            "--for=jsonpath={.status.state}=Available",
            "--timeout=60s",
            "-v=6",
        ]);
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        expect_line(&rx, "kubectl wait's watch request", |l| {
            l.contains("watch=true")
        });
        assert!(
            child.try_wait().expect("poll kubectl").is_none(),
            "kubectl wait returned early"
        );
        ok(s.kubectl(&[
            "patch",
            "network",
            "network-sample",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"state":"Available"}}"#,
        ]));
        let out = ok(wait_with_deadline(child, TIMEOUT, "kubectl wait"));
        assert!(out.contains("network-sample condition met"), "{out}");
    });
}

#[test]
fn api_resources_lists_every_kind_with_short_names_and_scope() {
    on_each_backend(|s| {
        let out = ok(s.kubectl(&["api-resources", "--api-group=networking.ironcore.dev"]));
        assert_eq!(
            header(&out),
            ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        );
        let expected: &[&[&str]] = &[
            &["loadbalancerroutings", "lbr,lbrt", "LoadBalancerRouting"],
            &["loadbalancers", "lb", "LoadBalancer"],
            &["natgateways", "ngw", "NATGateway"],
            &["networkinterfaces", "nic", "NetworkInterface"],
            &["networkpolicies", "netpol", "NetworkPolicy"],
            &["networks", "net", "Network"],
            &["virtualips", "vip", "VirtualIP"],
        ];
        let rows: Vec<Vec<&str>> = out
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows.len(), expected.len(), "{out}");
        for (cells, want) in rows.iter().zip(expected) {
            assert_eq!(
                cells.as_slice(),
                [
                    want[0],
                    want[1],
                    "networking.ironcore.dev/v1alpha1",
                    "true",
                    want[2]
                ],
                "{out}"
            );
        }
        let wide = ok(s.kubectl(&[
            "api-resources",
            "--api-group=networking.ironcore.dev",
            "-o",
            "wide",
        ]));
        let net = wide
            .lines()
            .find(|l| l.starts_with("networks "))
            .unwrap_or_else(|| panic!("{wide}"));
        assert!(
            net.contains("create,delete,deletecollection,get,list,patch,update,watch"),
            "{net}"
        );
        // Short names work as resource names.
        s.apply(&seed("network"));
        assert_eq!(names(&s, &["net"]), ["network-sample"]);
    });
}
