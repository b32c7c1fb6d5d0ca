//! Request parsing: query parameters and the Kubernetes URL layout.

use std::collections::HashMap;

/// Decoded query parameters (last value wins, as Go's `url.Values.Get` takes the first — we keep
/// the first too).
#[derive(Clone, Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string (`a=b&c=d`), percent- and `+`-decoding keys and values.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.entry(percent_decode(k))
                .or_insert_with(|| percent_decode(v));
        }
        Query(map)
    }

    /// A parameter's value, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A parameter's value, treating empty as absent.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True"))
    }
}

/// Percent-decodes a URL component (`+` is a space in queries).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a request goes, by path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`.
    Root,
    /// `/version`.
    Version,
    /// `/healthz`, `/livez` or `/readyz` (with an optional check name).
    Health(String),
    /// `/metrics`.
    Metrics,
    /// `/api`.
    LegacyApi,
    /// `/apis`.
    Apis,
    /// `/apis/<group>`.
    Group(String),
    /// `/apis/<group>/<version>`.
    GroupVersion(String, String),
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Root,
    /// `/openapi/v3/apis/<group>/<version>`.
    OpenApiV3(String, String),
    /// A resource path.
    Resource(ResourcePath),
    /// Nothing served here.
    NotFound,
}

/// A parsed resource path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path (`namespaces/<ns>/...`).
    pub namespace: Option<String>,
    /// Plural resource.
    pub plural: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource, e.g. `status`.
    pub subresource: Option<String>,
}

/// Parses a request path.
pub fn route(path: &str) -> Route {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<String> = trimmed.split('/').skip(1).map(percent_decode).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        [] | [""] => Route::Root,
        ["version"] => Route::Version,
        [h @ ("healthz" | "livez" | "readyz")] => Route::Health((*h).to_owned()),
        [h @ ("healthz" | "livez" | "readyz"), _check] => Route::Health((*h).to_owned()),
        ["metrics"] => Route::Metrics,
        ["api"] => Route::LegacyApi,
        ["apis"] => Route::Apis,
        ["apis", g] => Route::Group((*g).to_owned()),
        ["apis", g, v] => Route::GroupVersion((*g).to_owned(), (*v).to_owned()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3((*g).to_owned(), (*v).to_owned()),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let mk = |ns: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| {
        Route::Resource(ResourcePath {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace: ns.map(str::to_owned),
            plural: plural.to_owned(),
            name: name.map(str::to_owned),
            subresource: sub.map(str::to_owned),
        })
    };
    match rest {
        ["namespaces", ns, plural] => mk(Some(ns), plural, None, None),
        ["namespaces", ns, plural, name] => mk(Some(ns), plural, Some(name), None),
        ["namespaces", ns, plural, name, sub] => mk(Some(ns), plural, Some(name), Some(sub)),
        [plural] => mk(None, plural, None, None),
        [plural, name] => mk(None, plural, Some(name), None),
        [plural, name, sub] => mk(None, plural, Some(name), Some(sub)),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_selectors() {
        let q = Query::parse(Some(
            "fieldSelector=metadata.name%3Dnic1&limit=500&labelSelector=a+in+(b)",
        ));
        assert_eq!(q.get("fieldSelector"), Some("metadata.name=nic1"));
        assert_eq!(q.get("labelSelector"), Some("a in (b)"));
        assert_eq!(q.get("limit"), Some("500"));
    }

    #[test]
    fn namespaced_item_with_subresource_routes() {
        let r = route("/apis/g/v1/namespaces/ns/things/a/status");
        let Route::Resource(p) = r else {
            panic!("not a resource route")
        };
        assert_eq!(p.namespace.as_deref(), Some("ns"));
        assert_eq!(p.plural, "things");
        assert_eq!(p.name.as_deref(), Some("a"));
        assert_eq!(p.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn cluster_wide_collection_routes() {
        let Route::Resource(p) = route("/apis/g/v1/things") else {
            panic!("not a resource")
        };
        assert_eq!(p.namespace, None);
        assert_eq!(p.name, None);
    }

    #[test]
    fn discovery_paths_route() {
        assert_eq!(route("/apis"), Route::Apis);
        assert_eq!(
            route("/apis/g/v1/"),
            Route::GroupVersion("g".into(), "v1".into())
        );
        assert_eq!(route("/"), Route::Root);
    }
}
