//! The API server: routing of every request to discovery, health, metrics or a resource verb.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::BodyExt;
use ironcore_storage::{Store, StoreError};
use serde_json::{Value, json};

use crate::discovery;
use crate::errors::ApiError;
use crate::gate::Guards;
use crate::metrics::{MeteredStore, Metrics, WatchGauge};
use crate::negotiate::{Representation, negotiate};
use crate::objects::Objects;
use crate::openapi::OpenApi;
use crate::registry::Registry;
use crate::request::{Query, ResourcePath, Route, route};
use crate::response::{self, Body};
use crate::rest::{self, Ctx, MAX_BODY_BYTES};
use crate::watch::{WatchSettings, watch};
use crate::watch_cache::WatchCache;
use ironcore_apimachinery::openapi::KindSchemas;

/// Settings of an [`ApiServer`].
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Storage key prefix, e.g. `/registry/ironcore.dev`.
    pub storage_prefix: String,
    /// Watch bookmark and timeout settings.
    pub watch: WatchSettings,
}

/// A generic Kubernetes-style API server over a registry of kinds and a store.
pub struct ApiServer {
    registry: Registry,
    objects: Objects,
    caches: HashMap<(String, String), Arc<WatchCache>>,
    metrics: Arc<Metrics>,
    settings: ServerSettings,
    guards: Guards,
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// The OpenAPI documents, built once from the registry.
    openapi: OpenApi,
    schemas: HashMap<(String, String), KindSchemas>,
}

/// The version this server reports, chosen so kubectl picks a matching client.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "33");

impl ApiServer {
    /// Builds the server and starts one watch cache per resource; every request is allowed
    /// ([`Guards::default`]).
    pub async fn new(
        registry: Registry,
        store: Arc<dyn Store>,
        settings: ServerSettings,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Arc<Self>, StoreError> {
        Self::with_guards(registry, store, settings, Guards::default(), shutdown).await
    }

    /// [`ApiServer::new`] with the gate every request passes and the admission hooks every
    /// create passes.
    pub async fn with_guards(
        registry: Registry,
        store: Arc<dyn Store>,
        settings: ServerSettings,
        guards: Guards,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Arc<Self>, StoreError> {
        let metrics = Arc::new(Metrics::default());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, Arc::clone(&metrics)));
        let objects = Objects::new(store.clone(), &settings.storage_prefix);
        let mut caches = HashMap::new();
        for k in registry.kinds() {
            let i = k.info();
            let cache = WatchCache::start(store.clone(), objects.resource_prefix(i)).await?;
            caches.insert((i.group.clone(), i.plural.clone()), cache);
        }
        let openapi = OpenApi::build(&registry, rest::PATCH_TYPES);
        let schemas = registry
            .kinds()
            .iter()
            .filter_map(|k| {
                let i = k.info();
                Some(((i.group.clone(), i.plural.clone()), k.openapi()?))
            })
            .collect();
        Ok(Arc::new(ApiServer {
            openapi,
            schemas,
            registry,
            objects,
            caches,
            metrics,
            settings,
            guards,
            shutdown,
        }))
    }

    /// The registry served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Handles one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let (mut parts, body) = req.into_parts();
        // The one place authentication and authorization run, before every handler.
        if let Err(e) = self.guards.gate.check(&mut parts).await {
            return response::error(&e);
        }
        let route = route(parts.uri.path());
        let query = Query::parse(parts.uri.query());
        let (verb, resource) = describe(&parts.method, &route, &query);
        let result = match &route {
            Route::Resource(p) => {
                let body = match read_body(body).await {
                    Ok(b) => b,
                    Err(e) => return response::error(&e),
                };
                self.resource(&parts, p, &query, body).await
            }
            other => self.non_resource(&parts, other).await,
        };
        let resp = result.unwrap_or_else(|e| response::error(&e));
        if verb != "watch" {
            self.metrics
                .observe(&verb, &resource, resp.status().as_u16(), started.elapsed());
        }
        resp
    }

    async fn non_resource(
        &self,
        parts: &http::request::Parts,
        route: &Route,
    ) -> Result<Response<Body>, ApiError> {
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let json = |v: &Value| response::object(200, v, Representation::Json, &[]);
        match route {
            Route::Root => {
                let mut paths = vec![
                    "/apis".to_owned(),
                    "/healthz".into(),
                    "/livez".into(),
                    "/readyz".into(),
                    "/metrics".into(),
                    "/openapi/v2".into(),
                    "/openapi/v3".into(),
                    "/version".into(),
                ];
                for (g, v) in self.registry.group_versions() {
                    paths.push(format!("/apis/{g}"));
                    paths.push(format!("/apis/{g}/{v}"));
                }
                Ok(json(&json!({"paths": paths})))
            }
            Route::Version => Ok(json(&version_info())),
            Route::Health(kind) => self.health(kind, parts).await,
            Route::Metrics => Ok(response::raw(
                200,
                "text/plain; version=0.0.4",
                self.metrics.render(),
            )),
            Route::LegacyApi | Route::Apis => {
                let allowed = [
                    Representation::DiscoveryV2,
                    Representation::DiscoveryV2Beta1,
                ];
                let rep = negotiate(accept, &allowed)
                    .ok_or_else(|| ApiError::not_acceptable(accept.unwrap_or("")))?;
                let legacy = *route == Route::LegacyApi;
                match rep {
                    Representation::DiscoveryV2 | Representation::DiscoveryV2Beta1 => {
                        let v = if rep == Representation::DiscoveryV2 {
                            "v2"
                        } else {
                            "v2beta1"
                        };
                        let doc = if legacy {
                            json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{v}"), "metadata": {}, "items": []})
                        } else {
                            discovery::aggregated(&self.registry, v)
                        };
                        let ct = format!(
                            "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
                        );
                        Ok(response::raw(
                            200,
                            &ct,
                            serde_json::to_vec(&doc).unwrap_or_default(),
                        ))
                    }
                    _ if legacy => Ok(json(
                        &json!({"kind": "APIVersions", "versions": [], "serverAddressByClientCIDRs": []}),
                    )),
                    _ => Ok(json(&discovery::api_group_list(&self.registry))),
                }
            }
            Route::Group(g) => discovery::api_group(&self.registry, g)
                .map(|v| json(&v))
                .ok_or_else(ApiError::path_not_found),
            Route::GroupVersion(g, v) => discovery::api_resource_list(&self.registry, g, v)
                .map(|d| json(&d))
                .ok_or_else(ApiError::path_not_found),
            Route::OpenApiV2 | Route::OpenApiV3Root | Route::OpenApiV3(..) => {
                self.openapi.serve(route, parts)
            }
            _ => Err(ApiError::path_not_found()),
        }
    }

    async fn health(
        &self,
        kind: &str,
        parts: &http::request::Parts,
    ) -> Result<Response<Body>, ApiError> {
        let mut checks: Vec<(&str, Result<(), String>)> = vec![("ping", Ok(()))];
        if kind != "livez" {
            let store = self
                .objects
                .store()
                .current_revision()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            checks.push(("storage", store));
        }
        if kind == "readyz" && *self.shutdown.borrow() {
            checks.push(("shutdown", Err("server is shutting down".into())));
        }
        let healthy = checks.iter().all(|(_, r)| r.is_ok());
        let verbose = Query::parse(parts.uri.query()).get("verbose").is_some();
        let text = if verbose {
            let mut s = String::new();
            for (name, r) in &checks {
                match r {
                    Ok(()) => s.push_str(&format!("[+]{name} ok\n")),
                    Err(_) => s.push_str(&format!("[-]{name} failed: reason withheld\n")),
                }
            }
            let verdict = if healthy { "passed" } else { "failed" };
            s.push_str(&format!("{kind} check {verdict}\n"));
            s
        } else if healthy {
            "ok".to_owned()
        } else {
            format!("{kind} check failed")
        };
        Ok(response::raw(
            if healthy { 200 } else { 500 },
            "text/plain; charset=utf-8",
            text,
        ))
    }

    async fn resource(
        &self,
        parts: &http::request::Parts,
        path: &ResourcePath,
        query: &Query,
        body: Bytes,
    ) -> Result<Response<Body>, ApiError> {
        let strategy = self
            .registry
            .lookup(&path.group, &path.version, &path.plural)
            .ok_or_else(ApiError::path_not_found)?;
        let info = strategy.info();
        if !info.namespaced && path.namespace.is_some() {
            return Err(ApiError::path_not_found());
        }
        if let Some(e) = path.name.as_deref().and_then(rest::name_errors) {
            return Err(e);
        }
        // A namespaced kind outside a namespace: only list and watch across all namespaces.
        if info.namespaced && path.namespace.is_none() {
            if path.name.is_some() {
                return Err(ApiError::path_not_found());
            }
            if parts.method != Method::GET {
                return Err(ApiError::method_not_allowed(parts.method.as_str()));
            }
        }
        match path.subresource.as_deref() {
            None => {}
            Some("status") if info.has_status => {}
            Some(_) => return Err(ApiError::path_not_found()),
        }
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let rep = negotiate(
            accept,
            &[Representation::Table, Representation::PartialMetadata],
        )
        .ok_or_else(|| ApiError::not_acceptable(accept.unwrap_or("")))?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        let ctx = Ctx {
            strategy,
            schemas: self.schemas.get(&(info.group.clone(), info.plural.clone())),
            admission: &self.guards.admission,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            objects: &self.objects,
            path,
            query,
            rep,
            content_type,
            body: &body,
        };
        let has_name = path.name.is_some();
        match (&parts.method, has_name) {
            (&Method::GET, _) if query.flag("watch") => {
                let cache = self
                    .caches
                    .get(&(info.group.clone(), info.plural.clone()))
                    .cloned()
                    .ok_or_else(|| ApiError::internal("no watch cache"))?;
                let guard = WatchGauge::open(Arc::clone(&self.metrics));
                watch(
                    &ctx,
                    cache,
                    &self.settings.watch,
                    self.shutdown.clone(),
                    guard,
                )
                .await
            }
            (&Method::GET, true) => rest::get(&ctx).await,
            (&Method::GET, false) => rest::list(&ctx).await,
            (&Method::POST, false) => rest::create(&ctx).await,
            (&Method::PUT, true) => rest::update(&ctx).await,
            (&Method::PATCH, true) => rest::patch(&ctx).await,
            (&Method::DELETE, true) if path.subresource.is_none() => rest::delete(&ctx).await,
            (&Method::DELETE, false) => rest::delete_collection(&ctx).await,
            (m, _) => Err(ApiError::method_not_allowed(m.as_str())),
        }
    }
}

/// Bytes of an oversized body still read (and dropped) before answering 413, so that the
/// client gets the answer instead of a connection reset mid-upload.
const MAX_DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// Reads a request body of at most [`MAX_BODY_BYTES`]; larger ones are 413.
async fn read_body<B>(body: B) -> Result<Bytes, ApiError>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("error reading body: {}", e.into())))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY_BYTES {
                buf.extend_from_slice(&data);
            } else if seen > MAX_DRAIN_BYTES {
                break;
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    Ok(Bytes::from(buf))
}

/// The Kubernetes verb and resource of a request, for metrics.
fn describe(method: &Method, route: &Route, query: &Query) -> (String, String) {
    match route {
        Route::Resource(p) => {
            let verb = match (method, p.name.is_some()) {
                (&Method::GET, _) if query.flag("watch") => "watch",
                (&Method::GET, true) => "get",
                (&Method::GET, false) => "list",
                (&Method::POST, _) => "create",
                (&Method::PUT, _) => "update",
                (&Method::PATCH, _) => "patch",
                (&Method::DELETE, true) => "delete",
                (&Method::DELETE, false) => "deletecollection",
                _ => "other",
            };
            let res = match &p.subresource {
                Some(s) => format!("{}/{s}", p.plural),
                None => p.plural.clone(),
            };
            (verb.to_owned(), res)
        }
        _ => (method.as_str().to_owned(), String::new()),
    }
}

/// The `/version` document.
pub fn version_info() -> Value {
    let (major, minor) = KUBERNETES_VERSION;
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0-ironcore.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}
