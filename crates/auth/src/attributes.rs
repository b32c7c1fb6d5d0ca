//! What a request does, in authorization terms: kube-apiserver's `RequestInfo`
//! (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`), and the 403 it earns when denied.

use http::Method;
use ironcore_server::errors::ApiError;
use ironcore_server::request::Query;

/// The resource part of a resource request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    /// API group (`""` for the core group under `/api`).
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource, e.g. `status`.
    pub subresource: String,
    /// Namespace (`""` for cluster-wide requests).
    pub namespace: String,
    /// Object name (`""` for collections).
    pub name: String,
}

/// A request's verb and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestAttributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection` for
    /// resource requests; the lower-cased HTTP method for others.
    pub verb: String,
    /// The request path (percent-decoded).
    pub path: String,
    /// Set for resource requests (`/apis/<group>/<version>/...` with a resource).
    pub resource: Option<ResourceAttributes>,
}

/// Percent-decodes a path (unlike query decoding, `+` stays `+`).
fn decode_path(path: &str) -> String {
    String::from_utf8_lossy(&crate::percent_decode(path)).into_owned()
}

impl RequestAttributes {
    /// Classifies a request as kube-apiserver does.
    pub fn from_request(method: &Method, path: &str, query: Option<&str>) -> Self {
        let path = decode_path(path);
        let non_resource = |path: String| RequestAttributes {
            verb: method.as_str().to_ascii_lowercase(),
            path,
            resource: None,
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
            return non_resource(path.clone());
        }
        let mut rest = &parts[1..];
        let mut attrs = ResourceAttributes::default();
        if parts[0] == "apis" {
            // /apis/<group>/<version>/<resource>...: four parts at least.
            if rest.len() < 3 {
                return non_resource(path.clone());
            }
            attrs.group = rest[0].to_owned();
            rest = &rest[1..];
        }
        attrs.version = rest[0].to_owned();
        rest = &rest[1..];
        let mut verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
        .to_owned();
        if let Some(special @ ("watch" | "proxy")) = rest.first().copied() {
            if rest.len() < 2 {
                return non_resource(path.clone());
            }
            verb = special.to_owned();
            rest = &rest[1..];
        }
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            attrs.namespace = rest[1].to_owned();
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest = &rest[2..];
            }
        }
        if rest.len() >= 3 && verb != "proxy" {
            attrs.subresource = rest[2].to_owned();
        }
        if rest.len() >= 2 {
            attrs.name = rest[1].to_owned();
        }
        if let Some(r) = rest.first() {
            attrs.resource = (*r).to_owned();
        }
        let query = Query::parse(query);
        if attrs.name.is_empty() && verb == "get" {
            verb = if query.flag("watch") { "watch" } else { "list" }.to_owned();
            if let Some(name) = query
                .get("fieldSelector")
                .and_then(exact_name_in_field_selector)
            {
                attrs.name = name;
            }
        } else if verb == "get" && query.flag("watch") {
            // This server streams a named GET with `watch=true` as a watch.
            verb = "watch".to_owned();
        }
        if attrs.name.is_empty() && verb == "delete" {
            verb = "deletecollection".to_owned();
        }
        RequestAttributes {
            verb,
            path,
            resource: Some(attrs),
        }
    }

    /// Whether this is a resource request.
    pub fn is_resource_request(&self) -> bool {
        self.resource.is_some()
    }

    /// kube-apiserver's reason text for a denied request (`forbiddenMessage`).
    pub fn forbidden_message(&self, user: &str) -> String {
        match &self.resource {
            None => format!("User {user:?} cannot {} path {:?}", self.verb, self.path),
            Some(r) => {
                let resource = if r.subresource.is_empty() {
                    r.resource.clone()
                } else {
                    format!("{}/{}", r.resource, r.subresource)
                };
                if r.namespace.is_empty() {
                    format!(
                        "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                        self.verb, r.group
                    )
                } else {
                    format!(
                        "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                        self.verb, r.group, r.namespace
                    )
                }
            }
        }
    }

    /// The 403 kube-apiserver answers when `user` may not do this (`responsewriters.Forbidden`);
    /// `reason` (the authorizer's, possibly empty) is appended after a colon.
    pub fn forbidden(&self, user: &str, reason: &str) -> ApiError {
        let mut msg = self.forbidden_message(user);
        if !reason.is_empty() {
            msg = format!("{msg}: {reason}");
        }
        match &self.resource {
            None => ApiError::forbidden("", "", "", msg),
            Some(r) => ApiError::forbidden(&r.group, &r.resource, &r.name, msg),
        }
    }
}

/// `metadata.name=<n>` (or `==`) as one term of a field selector, when it is a valid name.
fn exact_name_in_field_selector(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let (k, v) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(k, _)| !k.ends_with('!'))?;
        (k.trim() == "metadata.name"
            && !v.is_empty()
            && !v.contains(['/', '%'])
            && v != "."
            && v != "..")
            .then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: Method, path: &str, query: Option<&str>) -> RequestAttributes {
        RequestAttributes::from_request(&method, path, query)
    }

    fn res(a: &RequestAttributes) -> &ResourceAttributes {
        a.resource.as_ref().expect("a resource request")
    }

    const G: &str = "/apis/networking.ironcore.dev/v1alpha1";

    #[test]
    fn verbs_map_like_kube_apiserver() {
        let cases = [
            (
                Method::GET,
                format!("{G}/namespaces/ns/networks/n1"),
                None,
                "get",
            ),
            (
                Method::GET,
                format!("{G}/namespaces/ns/networks"),
                None,
                "list",
            ),
            (
                Method::GET,
                format!("{G}/networks"),
                Some("watch=true"),
                "watch",
            ),
            (
                Method::GET,
                format!("{G}/namespaces/ns/networks"),
                Some("watch=1"),
                "watch",
            ),
            (
                Method::POST,
                format!("{G}/namespaces/ns/networks"),
                None,
                "create",
            ),
            (
                Method::PUT,
                format!("{G}/namespaces/ns/networks/n1"),
                None,
                "update",
            ),
            (
                Method::PATCH,
                format!("{G}/namespaces/ns/networks/n1"),
                None,
                "patch",
            ),
            (
                Method::DELETE,
                format!("{G}/namespaces/ns/networks/n1"),
                None,
                "delete",
            ),
            (
                Method::DELETE,
                format!("{G}/namespaces/ns/networks"),
                None,
                "deletecollection",
            ),
            (
                Method::HEAD,
                format!("{G}/namespaces/ns/networks/n1"),
                None,
                "get",
            ),
        ];
        for (m, path, q, verb) in cases {
            let a = attrs(m.clone(), &path, q);
            assert_eq!(a.verb, verb, "{m} {path} {q:?}");
            assert!(a.is_resource_request());
        }
    }

    #[test]
    fn resource_fields_are_split_out() {
        let a = attrs(
            Method::PUT,
            &format!("{G}/namespaces/ns1/networkinterfaces/nic/status"),
            None,
        );
        assert_eq!(
            res(&a),
            &ResourceAttributes {
                group: "networking.ironcore.dev".into(),
                version: "v1alpha1".into(),
                resource: "networkinterfaces".into(),
                subresource: "status".into(),
                namespace: "ns1".into(),
                name: "nic".into(),
            }
        );
        let core = attrs(Method::GET, "/api/v1/namespaces/default", None);
        let r = res(&core);
        assert_eq!(
            (r.group.as_str(), r.resource.as_str(), r.name.as_str()),
            ("", "namespaces", "default")
        );
        assert_eq!(r.namespace, "default");
        assert_eq!(core.verb, "get");
    }

    #[test]
    fn list_with_a_name_field_selector_names_the_object() {
        let a = attrs(
            Method::GET,
            &format!("{G}/namespaces/ns/networks"),
            Some("fieldSelector=metadata.name%3Dn1&watch=true"),
        );
        assert_eq!(a.verb, "watch");
        assert_eq!(res(&a).name, "n1");
        let b = attrs(
            Method::GET,
            &format!("{G}/networks"),
            Some("fieldSelector=metadata.name!%3Dn1"),
        );
        assert_eq!(res(&b).name, "");
    }

    #[test]
    fn discovery_and_health_are_non_resource_requests() {
        for p in [
            "/apis",
            "/apis/networking.ironcore.dev",
            G,
            "/api",
            "/api/v1",
            "/healthz",
            "/openapi/v3/apis/networking.ironcore.dev/v1alpha1",
            "/version",
        ] {
            let a = attrs(Method::GET, p, None);
            assert!(!a.is_resource_request(), "{p}");
            assert_eq!(a.verb, "get");
            assert_eq!(a.path, p);
        }
        assert_eq!(attrs(Method::POST, "/apis", None).verb, "post");
    }

    #[test]
    fn forbidden_messages_match_kube_apiserver() {
        let a = attrs(Method::GET, &format!("{G}/namespaces/ns/networks"), None);
        let e = a.forbidden("bob", "");
        assert_eq!(e.code, 403);
        assert_eq!(e.reason, "Forbidden");
        assert_eq!(
            e.message,
            r#"networks.networking.ironcore.dev is forbidden: User "bob" cannot list resource "networks" in API group "networking.ironcore.dev" in the namespace "ns""#
        );
        let named = attrs(
            Method::PUT,
            &format!("{G}/namespaces/ns/networks/n1/status"),
            None,
        );
        assert_eq!(
            named.forbidden("bob", "no RBAC policy matched").message,
            r#"networks.networking.ironcore.dev "n1" is forbidden: User "bob" cannot update resource "networks/status" in API group "networking.ironcore.dev" in the namespace "ns": no RBAC policy matched"#
        );
        let cluster = attrs(Method::GET, &format!("{G}/networks"), None);
        assert_eq!(
            cluster.forbidden("bob", "").message,
            r#"networks.networking.ironcore.dev is forbidden: User "bob" cannot list resource "networks" in API group "networking.ironcore.dev" at the cluster scope"#
        );
        let path = attrs(Method::GET, "/metrics", None);
        assert_eq!(
            path.forbidden("bob", "").message,
            r#"forbidden: User "bob" cannot get path "/metrics""#
        );
        let details = named.forbidden("bob", "").to_status()["details"].clone();
        assert_eq!(
            details,
            serde_json::json!({"name": "n1", "group": "networking.ironcore.dev", "kind": "networks"})
        );
    }
}
