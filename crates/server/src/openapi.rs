//! Serving OpenAPI: `/openapi/v2`, `/openapi/v3` and `/openapi/v3/apis/<group>/<version>`.
//!
//! The documents are generated from the kinds' Rust types (`schemars`, see [`kind_schemas`]),
//! assembled by [`ironcore_apimachinery::openapi`] and encoded once when the server starts.
//! Each is served with an `ETag` (its content hash) and `If-None-Match` → 304, as kube-apiserver
//! does; `?hash=<etag>` requests of a group-version document are cacheable forever, a stale hash
//! is redirected to the current one. Documents are JSON, except that `/openapi/v2` is also
//! served as gnostic's protobuf `openapi.v2.Document` ([`ironcore_apimachinery::openapi_proto`])
//! when `Accept` asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, as
//! kubectl ≤ 1.28 does for client-side validation; any other non-JSON `Accept` is answered 406.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use ironcore_api::ApiKind;
use ironcore_apimachinery::openapi::{self as builder, KindSchemas, Options, Resource};
use ironcore_apimachinery::openapi_proto::{
    self, V2_PROTOBUF_CONTENT_TYPE, V2_PROTOBUF_MEDIA_TYPE,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, Patch, Status, WatchEvent};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::registry::Registry;
use crate::request::{Query, Route};
use crate::response::{self, Body};

/// How long a `?hash=` document may be cached: one year, as kube-apiserver's `Expires`.
const IMMUTABLE_SECONDS: u64 = 31_536_000;

/// The schema generator every kind and meta schema is generated with: OpenAPI 3.0 dialect,
/// definitions under `#/components/schemas/`, describing what the server decodes.
pub fn schema_generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator()
}

/// The name `generator` gave `T`'s schema (its `$ref` target).
fn definition_name<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    let schema: Schema = generator.subschema_for::<T>();
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(builder::V3_REF_PREFIX))
        .map_or_else(|| T::schema_name().into_owned(), str::to_owned)
}

/// The schemas of kind `K` and its list, generated from the Rust types.
pub fn kind_schemas<K: ApiKind>() -> KindSchemas {
    let mut g = schema_generator();
    let kind = definition_name::<K>(&mut g);
    let list = definition_name::<K::List>(&mut g);
    KindSchemas {
        kind,
        list,
        definitions: g.take_definitions(true),
    }
}

/// The meta schemas operations reference (`DeleteOptions`, `Status`, `WatchEvent`, `Patch`),
/// from k8s-openapi's types.
pub fn meta_schemas() -> Map<String, Value> {
    let mut g = schema_generator();
    let _ = g.subschema_for::<DeleteOptions>();
    let _ = g.subschema_for::<Status>();
    let _ = g.subschema_for::<WatchEvent<Value>>();
    let _ = g.subschema_for::<Patch>();
    g.take_definitions(true)
}

/// One encoded document and its content hash.
#[derive(Clone, Debug)]
struct Doc {
    body: Bytes,
    hash: String,
}

impl Doc {
    fn new(value: &Value) -> Result<Doc, String> {
        let body = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        Ok(Doc::from_bytes(body))
    }

    fn from_bytes(body: Vec<u8>) -> Doc {
        Doc {
            hash: builder::content_hash(&body),
            body: Bytes::from(body),
        }
    }
}

/// Every document of one server.
#[derive(Clone, Debug)]
struct Docs {
    v2: Doc,
    v2_protobuf: Doc,
    v3_root: Doc,
    v3: Vec<(String, String, Doc)>,
}

/// The OpenAPI documents of a server, built once from its registry.
#[derive(Clone, Debug)]
pub struct OpenApi {
    docs: Result<Docs, String>,
}

impl OpenApi {
    /// Builds every document of `registry`; `patch_types` are the PATCH content types the
    /// server accepts. A build failure (two kinds' schemas conflicting) is kept and answered
    /// 500 on the OpenAPI paths rather than stopping the server.
    pub fn build(registry: &Registry, patch_types: &[&str]) -> OpenApi {
        let docs = build_docs(registry, patch_types);
        if let Err(e) = &docs {
            tracing::error!("cannot build the OpenAPI documents: {e}");
        }
        OpenApi { docs }
    }

    /// Answers an OpenAPI route; other routes are 404.
    pub fn serve(
        &self,
        route: &Route,
        parts: &http::request::Parts,
    ) -> Result<Response<Body>, ApiError> {
        let docs = self
            .docs
            .as_ref()
            .map_err(|e| ApiError::internal(format!("OpenAPI documents: {e}")))?;
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        // The JSON document and, for `/openapi/v2`, its protobuf form.
        let (json_doc, protobuf_doc) = match route {
            Route::OpenApiV2 => (&docs.v2, Some(&docs.v2_protobuf)),
            Route::OpenApiV3Root => (&docs.v3_root, None),
            Route::OpenApiV3(g, v) => (
                &docs
                    .v3
                    .iter()
                    .find(|(dg, dv, _)| dg == g && dv == v)
                    .ok_or_else(ApiError::path_not_found)?
                    .2,
                None,
            ),
            _ => return Err(ApiError::path_not_found()),
        };
        let format = negotiate(accept, protobuf_doc.is_some())
            .ok_or_else(|| ApiError::not_acceptable(accept.unwrap_or("")))?;
        let doc = match (format, protobuf_doc) {
            (Format::Protobuf, Some(pb)) => pb,
            _ => json_doc,
        };
        let query = Query::parse(parts.uri.query());
        let hash = query.get("hash").filter(|h| !h.is_empty());
        if let (Route::OpenApiV3(g, v), Some(h)) = (route, hash)
            && h != doc.hash
        {
            return Ok(redirect(&format!(
                "/openapi/v3/apis/{g}/{v}?hash={}",
                doc.hash
            )));
        }
        let immutable = hash.is_some() && matches!(route, Route::OpenApiV3(..));
        let not_modified = parts
            .headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| etag_matches(v, &doc.hash));
        let mut resp = if not_modified {
            let mut r = Response::new(response::full(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let content_type = match format {
                Format::Json => "application/json",
                Format::Protobuf => V2_PROTOBUF_CONTENT_TYPE,
            };
            response::raw(200, content_type, doc.body.clone())
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", doc.hash)) {
            h.insert(header::ETAG, v);
        }
        if matches!(route, Route::OpenApiV2) {
            h.insert(header::VARY, HeaderValue::from_static("Accept"));
        }
        if immutable {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable, max-age=31536000"),
            );
            h.insert(header::VARY, HeaderValue::from_static("Accept"));
            let expires = SystemTime::now() + Duration::from_secs(IMMUTABLE_SECONDS);
            if let Ok(v) = HeaderValue::from_str(&http_date(expires)) {
                h.insert(header::EXPIRES, v);
            }
        } else {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
        }
        Ok(resp)
    }
}

fn build_docs(registry: &Registry, patch_types: &[&str]) -> Result<Docs, String> {
    let schemas: Vec<(usize, KindSchemas)> = registry
        .kinds()
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.openapi().map(|s| (i, s)))
        .collect();
    let resources: Vec<Resource<'_>> = schemas
        .iter()
        .filter_map(|(i, s)| {
            let info = registry.kinds().get(*i)?.info();
            Some(Resource {
                group: &info.group,
                version: &info.version,
                kind: &info.kind,
                plural: &info.plural,
                namespaced: info.namespaced,
                has_status: info.has_status,
                schemas: s,
            })
        })
        .collect();
    let meta = meta_schemas();
    let version = crate::server::version_info();
    let opts = Options {
        title: "Kubernetes",
        version: version["gitVersion"].as_str().unwrap_or("unversioned"),
        patch_types,
        meta: &meta,
    };
    let v2 = builder::v2_document(&resources, &opts).map_err(|e| e.to_string())?;
    let mut v3 = Vec::new();
    for (g, v) in registry.group_versions() {
        let doc = builder::v3_document(&g, &v, &resources, &opts).map_err(|e| e.to_string())?;
        v3.push((g, v, Doc::new(&doc)?));
    }
    let root_entries: Vec<(String, String, String)> = v3
        .iter()
        .map(|(g, v, d)| (g.clone(), v.clone(), d.hash.clone()))
        .collect();
    Ok(Docs {
        v2_protobuf: Doc::from_bytes(openapi_proto::v2_protobuf(&v2)),
        v2: Doc::new(&v2)?,
        v3_root: Doc::new(&builder::v3_root(&root_entries))?,
        v3,
    })
}

/// The encoding a document is served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Protobuf,
}

/// The first media range of `Accept` the server can answer: JSON (absent, empty,
/// `application/json` or a wildcard) or, when `protobuf` is offered (`/openapi/v2`), gnostic
/// protobuf. `None` when nothing matches (406).
fn negotiate(accept: Option<&str>, protobuf: bool) -> Option<Format> {
    let Some(a) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Format::Json);
    };
    a.split(',').find_map(|range| {
        let essence = range.split(';').next().unwrap_or("").trim();
        if ["application/json", "application/*", "*/*"]
            .iter()
            .any(|ok| essence.eq_ignore_ascii_case(ok))
        {
            Some(Format::Json)
        } else if protobuf
            && [V2_PROTOBUF_MEDIA_TYPE, V2_PROTOBUF_CONTENT_TYPE]
                .iter()
                .any(|pb| essence.eq_ignore_ascii_case(pb))
        {
            Some(Format::Protobuf)
        } else {
            None
        }
    })
}

/// Whether an `If-None-Match` value names `hash` (quoted or not, weak or not, or `*`).
fn etag_matches(if_none_match: &str, hash: &str) -> bool {
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == hash
    })
}

/// A 301 to the current document.
fn redirect(location: &str) -> Response<Body> {
    let mut resp = Response::new(response::full(Bytes::new()));
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// An HTTP date (RFC 7231 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    jiff::Timestamp::from_second(i64::try_from(secs).unwrap_or(0))
        .map(|ts| ts.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::{apinet, networking};

    fn networking_registry() -> Registry {
        Registry::new()
            .register::<networking::NetworkInterface>()
            .register::<networking::Network>()
            .register::<networking::NetworkPolicy>()
            .register::<networking::VirtualIP>()
            .register::<networking::LoadBalancer>()
            .register::<networking::LoadBalancerRouting>()
            .register::<networking::NATGateway>()
    }

    fn apinet_registry() -> Registry {
        Registry::new()
            .register::<apinet::DaemonSet>()
            .register::<apinet::Instance>()
            .register::<apinet::IP>()
            .register::<apinet::IPAddress>()
            .register::<apinet::LoadBalancer>()
            .register::<apinet::LoadBalancerRouting>()
            .register::<apinet::NATGateway>()
            .register::<apinet::NATGatewayAutoscaler>()
            .register::<apinet::NATTable>()
            .register::<apinet::Network>()
            .register::<apinet::NetworkID>()
            .register::<apinet::NetworkInterface>()
            .register::<apinet::NetworkPolicy>()
            .register::<apinet::NetworkPolicyRule>()
            .register::<apinet::Node>()
    }

    const PATCH_TYPES: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
    ];

    fn docs(registry: &Registry) -> Docs {
        match build_docs(registry, PATCH_TYPES) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    fn json(doc: &Doc) -> Value {
        serde_json::from_slice(&doc.body).unwrap()
    }

    /// Walks every schema object of a document.
    fn walk<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Map<String, Value>)) {
        match v {
            Value::Object(m) => {
                f(m);
                for (k, x) in m {
                    if k != "default" && k != "enum" {
                        walk(x, f);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
            _ => {}
        }
    }

    #[test]
    fn both_groups_build_with_every_kind_and_list_schema() {
        for (registry, prefix) in [
            (networking_registry(), "dev.ironcore.networking.v1alpha1"),
            (apinet_registry(), "dev.ironcore.apinet.core.v1alpha1"),
        ] {
            let d = docs(&registry);
            assert_eq!(d.v3.len(), 1);
            let v3 = json(&d.v3[0].2);
            let schemas = &v3["components"]["schemas"];
            for k in registry.kinds() {
                let kind = &k.info().kind;
                let s = &schemas[format!("{prefix}.{kind}")];
                assert_eq!(
                    s["x-kubernetes-group-version-kind"][0]["kind"], *kind,
                    "{prefix}.{kind}"
                );
                assert!(s["description"].as_str().is_some_and(|d| !d.is_empty()));
                let list = &schemas[format!("{prefix}.{kind}List")];
                assert_eq!(
                    list["x-kubernetes-group-version-kind"][0]["kind"],
                    format!("{kind}List")
                );
            }
            // schemars numbers clashing names (`Foo2`); a clash means two types share a name.
            for name in schemas.as_object().unwrap().keys() {
                let last = name.rsplit('.').next().unwrap_or_default();
                assert!(
                    name.starts_with("io.k8s.") || !last.ends_with(char::is_numeric),
                    "{name}"
                );
            }
            let v2 = json(&d.v2);
            assert_eq!(v2["swagger"], "2.0");
            let text = v2.to_string();
            assert!(!text.contains("#/components/schemas/"));
            assert!(!text.contains("\"nullable\""));
            // Swagger 2.0 has no anyOf/oneOf.
            walk(&v2["definitions"], &mut |m| {
                assert!(
                    !m.contains_key("anyOf") && !m.contains_key("oneOf"),
                    "{m:?}"
                );
            });
            let root = json(&d.v3_root);
            let g = &d.v3[0];
            assert_eq!(
                root["paths"][format!("apis/{}/{}", g.0, g.1)]["serverRelativeURL"],
                format!("/openapi/v3/apis/{}/{}?hash={}", g.0, g.1, g.2.hash)
            );
        }
    }

    #[test]
    fn every_array_has_a_list_type_and_descriptions_come_from_doc_comments() {
        let d = docs(&networking_registry());
        let v3 = json(&d.v3[0].2);
        let schemas = v3["components"]["schemas"].as_object().unwrap();
        for (name, s) in schemas {
            if name.starts_with("io.k8s.") {
                continue;
            }
            walk(s, &mut |m| {
                if m.get("type").and_then(Value::as_str) == Some("array") {
                    assert!(m.contains_key("x-kubernetes-list-type"), "{name}: {m:?}");
                }
            });
        }
        let spec = &schemas["dev.ironcore.networking.v1alpha1.NetworkSpec"];
        let peerings = &spec["properties"]["peerings"];
        assert_eq!(peerings["x-kubernetes-list-type"], "map");
        assert_eq!(peerings["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(peerings["x-kubernetes-patch-strategy"], "merge,retainKeys");
        assert!(
            peerings["description"]
                .as_str()
                .unwrap()
                .contains("Peerings")
        );
        let status = &schemas["dev.ironcore.networking.v1alpha1.NetworkStatus"];
        assert_eq!(
            status["properties"]["peerings"]["x-kubernetes-list-map-keys"],
            serde_json::json!(["name"])
        );
        let nic = &schemas["dev.ironcore.networking.v1alpha1.NetworkInterfaceSpec"];
        assert_eq!(
            nic["properties"]["ipFamilies"]["x-kubernetes-list-type"],
            "atomic"
        );
    }

    #[test]
    fn apinet_merge_lists_carry_patch_metadata() {
        let d = docs(&apinet_registry());
        let v3 = json(&d.v3[0].2);
        let s = &v3["components"]["schemas"];
        for (ty, field) in [
            ("NetworkInterfaceSpec", "publicIPs"),
            ("LoadBalancerSpec", "ips"),
            ("NATGatewaySpec", "ips"),
        ] {
            let f = &s[format!("dev.ironcore.apinet.core.v1alpha1.{ty}")]["properties"][field];
            assert_eq!(f["x-kubernetes-patch-merge-key"], "name", "{ty}.{field}");
            assert_eq!(f["x-kubernetes-list-type"], "map", "{ty}.{field}");
        }
    }

    #[test]
    fn ip_types_are_strings_with_formats() {
        let d = docs(&networking_registry());
        let v3 = json(&d.v3[0].2);
        let s = &v3["components"]["schemas"];
        let nic_status = &s["dev.ironcore.networking.v1alpha1.NetworkInterfaceStatus"];
        assert_eq!(nic_status["properties"]["ips"]["items"]["format"], "ip");
        let prefix = &s["dev.ironcore.networking.v1alpha1.PeeringPrefix"]["properties"]["prefix"];
        assert_eq!(prefix["type"], "string");
        assert_eq!(prefix["format"], "ip-prefix");
        let lb = &s["dev.ironcore.networking.v1alpha1.LoadBalancerRoutingList"];
        assert!(lb.is_object());
    }

    fn request(path_and_query: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().uri(path_and_query);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn serving_sets_etag_cache_headers_and_answers_304_and_redirects() {
        let api = OpenApi::build(&networking_registry(), PATCH_TYPES);
        let route = Route::OpenApiV3("networking.ironcore.dev".into(), "v1alpha1".into());
        let hash = api.docs.as_ref().unwrap().v3[0].2.hash.clone();

        let r = api
            .serve(
                &route,
                &request("/openapi/v3/apis/networking.ironcore.dev/v1alpha1", &[]),
            )
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::ETAG], format!("\"{hash}\"").as_str());
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache, private");

        let uri = format!("/openapi/v3/apis/networking.ironcore.dev/v1alpha1?hash={hash}");
        let r = api.serve(&route, &request(&uri, &[])).unwrap();
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, immutable, max-age=31536000"
        );
        assert!(r.headers().contains_key(header::EXPIRES));

        let quoted = format!("\"{hash}\"");
        let r = api
            .serve(
                &route,
                &request(&uri, &[("if-none-match", quoted.as_str())]),
            )
            .unwrap();
        assert_eq!(r.status(), 304);

        let r = api
            .serve(
                &route,
                &request(
                    "/openapi/v3/apis/networking.ironcore.dev/v1alpha1?hash=STALE",
                    &[],
                ),
            )
            .unwrap();
        assert_eq!(r.status(), 301);
        assert_eq!(r.headers()[header::LOCATION], uri.as_str());

        let missing = Route::OpenApiV3("nope.dev".into(), "v1".into());
        assert_eq!(
            api.serve(&missing, &request("/openapi/v3/apis/nope.dev/v1", &[]))
                .unwrap_err()
                .code,
            404
        );
    }

    #[test]
    fn v2_is_served_as_json_or_protobuf() {
        let api = OpenApi::build(&networking_registry(), PATCH_TYPES);
        let pb = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
        let r = api
            .serve(
                &Route::OpenApiV2,
                &request("/openapi/v2", &[("accept", pb)]),
            )
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CONTENT_TYPE], V2_PROTOBUF_CONTENT_TYPE);
        let docs = api.docs.as_ref().unwrap();
        let pb_etag = format!("\"{}\"", docs.v2_protobuf.hash);
        assert_eq!(r.headers()[header::ETAG], pb_etag.as_str());
        assert_ne!(docs.v2_protobuf.hash, docs.v2.hash);
        // The protobuf starts with field 1 (swagger = "2.0").
        assert!(docs.v2_protobuf.body.starts_with(b"\x0a\x032.0"));
        let r = api
            .serve(
                &Route::OpenApiV2,
                &request(
                    "/openapi/v2",
                    &[("accept", pb), ("if-none-match", pb_etag.as_str())],
                ),
            )
            .unwrap();
        assert_eq!(r.status(), 304);
        // The protobuf type is only offered for v2; other types are still 406.
        let v3 = Route::OpenApiV3("networking.ironcore.dev".into(), "v1alpha1".into());
        let uri = "/openapi/v3/apis/networking.ironcore.dev/v1alpha1";
        assert_eq!(
            api.serve(&v3, &request(uri, &[("accept", pb)]))
                .unwrap_err()
                .code,
            406
        );
        let err = api
            .serve(
                &Route::OpenApiV2,
                &request("/openapi/v2", &[("accept", "application/yaml")]),
            )
            .unwrap_err();
        assert_eq!(err.code, 406);
        let r = api
            .serve(
                &Route::OpenApiV2,
                &request("/openapi/v2", &[("accept", "application/json")]),
            )
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key(header::ETAG));
        let root = api
            .serve(&Route::OpenApiV3Root, &request("/openapi/v3", &[]))
            .unwrap();
        assert_eq!(root.status(), 200);
    }

    #[test]
    fn http_dates_are_imf_fixdates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
