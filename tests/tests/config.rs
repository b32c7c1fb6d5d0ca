//! The deployment manifests: `kubectl kustomize config/default` renders, every object is valid
//! for its kind (it decodes into the Kubernetes type and nothing is lost on the way back, so no
//! field is misspelt or misplaced), and the objects fit together: selectors, service accounts,
//! ports, secrets, APIServices, RBAC references, and server flags the binaries accept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PodTemplateSpec, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn render() -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join("config/default"))
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize config/default failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_saphyr::from_multiple::<Value>(&text).expect("rendered YAML parses")
}

/// Whether everything in `original` is in `decoded` (which may add `apiVersion`/`kind` to
/// embedded objects), at the same place with the same value.
fn survives(original: &Value, decoded: &Value) -> bool {
    match (original, decoded) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| survives(v, w))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| survives(v, w))
        }
        (a, b) => a == b,
    }
}

/// Decodes `v` as `T` and checks that encoding it again keeps every field of `v`.
fn strict<T: DeserializeOwned + Serialize>(v: &Value) -> T {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", v["kind"], v["metadata"]["name"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert!(
        survives(v, &back),
        "{} {} has fields its kind does not have (or wrong types):\n{v}\nvs\n{back}",
        v["kind"],
        v["metadata"]["name"]
    );
    typed
}

fn name(v: &Value) -> String {
    v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn ns(v: &Value) -> String {
    v["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

struct Workload {
    kind: &'static str,
    name: String,
    namespace: String,
    template: PodTemplateSpec,
}

/// Built-in roles the manifests bind to.
const BUILTIN_CLUSTER_ROLES: &[&str] = &["system:auth-delegator"];
const BUILTIN_ROLES: &[(&str, &str)] =
    &[("kube-system", "extension-apiserver-authentication-reader")];

#[test]
fn config_default_renders_valid_objects_that_fit_together() {
    let objects = render();
    assert!(!objects.is_empty());
    let mut namespaces = BTreeSet::new();
    let mut service_accounts = BTreeSet::new();
    let mut services = Vec::new();
    let mut workloads = Vec::new();
    let mut api_services = Vec::new();
    let mut cluster_roles = BTreeSet::new();
    let mut roles = BTreeSet::new();
    let mut bindings = Vec::new();
    let mut certificates: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut issuers = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for o in &objects {
        let kind = o["kind"].as_str().expect("kind").to_owned();
        assert!(
            seen.insert((kind.clone(), ns(o), name(o))),
            "duplicate {kind} {}/{}",
            ns(o),
            name(o)
        );
        match kind.as_str() {
            "Namespace" => {
                strict::<Namespace>(o);
                namespaces.insert(name(o));
            }
            "ServiceAccount" => {
                strict::<ServiceAccount>(o);
                service_accounts.insert((ns(o), name(o)));
            }
            "Service" => services.push((ns(o), strict::<Service>(o))),
            "Deployment" => {
                let d = strict::<Deployment>(o);
                let spec = d.spec.expect("spec");
                let sel = spec.selector.match_labels.clone().unwrap_or_default();
                let labels = spec
                    .template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone());
                assert!(
                    sel.iter()
                        .all(|(k, v)| labels.as_ref().and_then(|l| l.get(k)) == Some(v))
                );
                workloads.push(Workload {
                    kind: "Deployment",
                    name: name(o),
                    namespace: ns(o),
                    template: spec.template,
                });
            }
            "StatefulSet" => {
                let s = strict::<StatefulSet>(o);
                let spec = s.spec.expect("spec");
                workloads.push(Workload {
                    kind: "StatefulSet",
                    name: name(o),
                    namespace: ns(o),
                    template: spec.template,
                });
            }
            "DaemonSet" => {
                let d = strict::<DaemonSet>(o);
                let spec = d.spec.expect("spec");
                workloads.push(Workload {
                    kind: "DaemonSet",
                    name: name(o),
                    namespace: ns(o),
                    template: spec.template,
                });
            }
            "APIService" => api_services.push(strict::<APIService>(o)),
            "ClusterRole" => {
                strict::<ClusterRole>(o);
                cluster_roles.insert(name(o));
            }
            "Role" => {
                strict::<Role>(o);
                roles.insert((ns(o), name(o)));
            }
            "ClusterRoleBinding" => {
                let b = strict::<ClusterRoleBinding>(o);
                bindings.push((None, b.role_ref, b.subjects.unwrap_or_default()));
            }
            "RoleBinding" => {
                let b = strict::<RoleBinding>(o);
                bindings.push((Some(ns(o)), b.role_ref, b.subjects.unwrap_or_default()));
            }
            "Certificate" => {
                assert_eq!(o["apiVersion"], "cert-manager.io/v1");
                let spec = &o["spec"];
                assert!(spec["secretName"].is_string(), "{o}");
                assert!(spec["issuerRef"]["name"].is_string(), "{o}");
                certificates.insert((ns(o), name(o)), o.clone());
            }
            "Issuer" => {
                assert_eq!(o["apiVersion"], "cert-manager.io/v1");
                let spec = o["spec"].as_object().expect("issuer spec");
                assert_eq!(spec.len(), 1, "an Issuer has exactly one type: {o}");
                issuers.insert((ns(o), name(o)));
            }
            other => panic!("unexpected kind {other} in config/default"),
        }
        // Namespaced objects name their namespace, and it is one the manifests create (or
        // kube-system, for the authentication reader binding).
        if !matches!(
            kind.as_str(),
            "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "APIService"
        ) {
            let n = ns(o);
            assert!(
                namespaces.contains(&n)
                    || n == "kube-system"
                    || objects
                        .iter()
                        .any(|x| x["kind"] == "Namespace" && name(x) == n),
                "{kind} {} in unknown namespace {n:?}",
                name(o)
            );
        }
    }

    // Every server and controller binary has a workload.
    let by_name = |n: &str| {
        workloads
            .iter()
            .find(|w| w.name == n)
            .unwrap_or_else(|| panic!("no workload {n}"))
    };
    for (n, kind) in [
        ("ironcore-apiserver", "Deployment"),
        ("apinet-apiserver", "Deployment"),
        ("ironcore-controller-manager", "Deployment"),
        ("apinetlet", "Deployment"),
        ("apinet-controller-manager", "Deployment"),
        ("netlet", "DaemonSet"),
        ("etcd", "StatefulSet"),
    ] {
        assert_eq!(by_name(n).kind, kind, "{n}");
    }

    // Pods: their service account exists, probes use declared ports, mounts have volumes,
    // secret volumes come from certificates.
    for w in &workloads {
        let pod = w.template.spec.as_ref().expect("pod spec");
        if let Some(sa) = &pod.service_account_name {
            assert!(
                service_accounts.contains(&(w.namespace.clone(), sa.clone())),
                "{}: no ServiceAccount {sa}",
                w.name
            );
        }
        let volumes: BTreeMap<String, _> = pod
            .volumes
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name.clone(), v))
            .collect();
        for c in &pod.containers {
            let ports: BTreeSet<String> = c
                .ports
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.name)
                .collect();
            for probe in [&c.liveness_probe, &c.readiness_probe]
                .into_iter()
                .flatten()
            {
                if let Some(IntOrString::String(p)) = probe.http_get.as_ref().map(|h| &h.port) {
                    assert!(ports.contains(p), "{}: probe port {p} not declared", w.name);
                }
            }
            for m in c.volume_mounts.clone().unwrap_or_default() {
                let is_claim = w.kind == "StatefulSet";
                assert!(
                    volumes.contains_key(&m.name) || is_claim,
                    "{}: mount {} has no volume",
                    w.name,
                    m.name
                );
            }
        }
        for v in volumes.values() {
            if let Some(secret) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
                assert!(
                    certificates
                        .values()
                        .any(|c| c["spec"]["secretName"] == secret.as_str()),
                    "{}: secret {secret} is no certificate's",
                    w.name
                );
            }
        }
    }

    // Services select a workload and target its declared ports.
    for (sns, s) in &services {
        let spec = s.spec.as_ref().expect("service spec");
        let sel = spec.selector.clone().expect("selector");
        let w = workloads
            .iter()
            .find(|w| {
                &w.namespace == sns
                    && sel.iter().all(|(k, v)| {
                        w.template
                            .metadata
                            .as_ref()
                            .and_then(|m| m.labels.as_ref())
                            .and_then(|l| l.get(k))
                            == Some(v)
                    })
            })
            .unwrap_or_else(|| panic!("Service {:?} selects nothing", s.metadata.name));
        let c = &w.template.spec.as_ref().unwrap().containers[0];
        let ports: BTreeSet<String> = c
            .ports
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.name)
            .collect();
        for p in spec.ports.clone().unwrap_or_default() {
            if let Some(IntOrString::String(t)) = &p.target_port {
                assert!(
                    ports.contains(t),
                    "Service {:?}: target port {t} not declared",
                    s.metadata.name
                );
            }
        }
    }

    // One APIService per group version, with upstream's priorities, pointing at a Service whose
    // serving certificate names <service>.<namespace>.svc and whose CA is injected.
    let expected = [
        ("networking.ironcore.dev", 2000, 100),
        ("core.apinet.ironcore.dev", 1900, 90),
    ];
    assert_eq!(api_services.len(), expected.len());
    for (group, gpm, vp) in expected {
        let a = api_services
            .iter()
            .find(|a| a.spec.as_ref().and_then(|s| s.group.as_deref()) == Some(group))
            .unwrap_or_else(|| panic!("no APIService for {group}"));
        let spec = a.spec.as_ref().unwrap();
        let version = spec.version.as_deref().unwrap();
        assert_eq!(
            a.metadata.name.as_deref(),
            Some(format!("{version}.{group}").as_str())
        );
        assert_eq!(
            (spec.group_priority_minimum, spec.version_priority),
            (gpm, vp),
            "{group}"
        );
        assert!(spec.insecure_skip_tls_verify != Some(true));
        let svc = spec.service.as_ref().expect("service reference");
        let (sns, sname) = (svc.namespace.clone().unwrap(), svc.name.clone().unwrap());
        let service = services
            .iter()
            .find(|(n, s)| *n == sns && s.metadata.name.as_deref() == Some(&sname))
            .unwrap_or_else(|| panic!("APIService {group}: no Service {sns}/{sname}"));
        let port = svc.port.unwrap_or(443);
        assert!(
            service
                .1
                .spec
                .as_ref()
                .unwrap()
                .ports
                .as_ref()
                .unwrap()
                .iter()
                .any(|p| p.port == port)
        );
        let inject = a
            .metadata
            .annotations
            .as_ref()
            .and_then(|m| m.get("cert-manager.io/inject-ca-from"))
            .expect("CA injection annotation");
        let (cns, cname) = inject.split_once('/').expect("namespace/name");
        let cert = certificates
            .get(&(cns.to_owned(), cname.to_owned()))
            .unwrap_or_else(|| panic!("no Certificate {inject}"));
        let dns: Vec<&str> = cert["spec"]["dnsNames"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            dns.contains(&format!("{sname}.{sns}.svc").as_str()),
            "{inject}: {dns:?}"
        );
        // The server serves that certificate.
        let w = by_name(&sname);
        let pod = w.template.spec.as_ref().unwrap();
        assert!(
            pod.volumes.clone().unwrap_or_default().iter().any(|v| v
                .secret
                .as_ref()
                .and_then(|s| s.secret_name.as_deref())
                == cert["spec"]["secretName"].as_str())
        );
    }
    for ((cns, cname), c) in &certificates {
        let issuer = c["spec"]["issuerRef"]["name"].as_str().unwrap().to_owned();
        assert!(
            issuers.contains(&(cns.clone(), issuer.clone())),
            "Certificate {cname}: no Issuer {issuer}"
        );
    }

    // RBAC: roles exist (or are built in), subjects exist; the API servers can delegate, read
    // the authentication ConfigMap and watch namespaces.
    for (bns, role_ref, subjects) in &bindings {
        match (role_ref.kind.as_str(), bns) {
            ("ClusterRole", _) => assert!(
                cluster_roles.contains(&role_ref.name)
                    || BUILTIN_CLUSTER_ROLES.contains(&role_ref.name.as_str()),
                "no ClusterRole {}",
                role_ref.name
            ),
            ("Role", Some(n)) => assert!(
                roles.contains(&(n.clone(), role_ref.name.clone()))
                    || BUILTIN_ROLES.contains(&(n.as_str(), role_ref.name.as_str())),
                "no Role {n}/{}",
                role_ref.name
            ),
            other => panic!("bad roleRef {other:?}"),
        }
        for s in subjects {
            if s.kind == "ServiceAccount" {
                assert!(
                    service_accounts
                        .contains(&(s.namespace.clone().unwrap_or_default(), s.name.clone())),
                    "no ServiceAccount {:?}/{}",
                    s.namespace,
                    s.name
                );
            }
        }
    }
    let bound = |role: &str, sa: &str| {
        bindings.iter().any(|(_, r, subjects)| {
            r.name == role
                && subjects.iter().any(|s| {
                    s.kind == "ServiceAccount"
                        && s.name == sa
                        && s.namespace.as_deref() == Some("ironcore-system")
                })
        })
    };
    for sa in ["ironcore-apiserver", "apinet-apiserver"] {
        assert!(bound("system:auth-delegator", sa), "{sa}: auth-delegator");
        assert!(
            bound("extension-apiserver-authentication-reader", sa),
            "{sa}: authentication reader"
        );
    }
    for sa in [
        "ironcore-controller-manager",
        "apinetlet",
        "apinet-controller-manager",
        "netlet",
    ] {
        assert!(
            bindings
                .iter()
                .any(|(_, _, s)| s.iter().any(|s| s.name == sa)),
            "{sa} has no role"
        );
    }

    // The API servers' flags are flags the binaries accept.
    for server in ["ironcore-apiserver", "apinet-apiserver"] {
        let c = &by_name(server).template.spec.as_ref().unwrap().containers[0];
        let bin = ironcore_e2e::binary(server);
        let help = Command::new(&bin).arg("--help").output().expect("--help");
        let help = String::from_utf8_lossy(&help.stdout);
        for arg in c.args.clone().unwrap_or_default() {
            let flag = arg.split('=').next().unwrap();
            assert!(
                help.contains(&format!("{flag} "))
                    || help.contains(&format!("{flag}["))
                    || help.contains(&format!("{flag}\n")),
                "{server} does not accept {flag}"
            );
        }
        let args = c.args.clone().unwrap_or_default().join(" ");
        assert!(
            args.contains("--etcd-servers=http://etcd.ironcore-system.svc:2379"),
            "{server}: {args}"
        );
        assert!(
            args.contains("--authorization-mode=Delegated"),
            "{server}: {args}"
        );
    }
}
