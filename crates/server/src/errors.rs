//! API errors and their Kubernetes `Status` encoding.

use ironcore_apimachinery::FieldErrors;
use ironcore_apimachinery::field::aggregate_message;
use serde_json::{Value, json};

/// An error answered as a `Status` with an HTTP code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details`, when the error concerns a named object.
    pub details: Option<Box<Value>>,
    /// `Retry-After` seconds, when set.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// An error from a ready-made `Status` object (its message and details are kept).
    pub fn from_status(code: u16, reason: &'static str, status: Value) -> Self {
        let message = status
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut e = Self::new(code, reason, message);
        e.details = status.get("details").cloned().map(Box::new);
        e
    }

    /// The same error with another message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for a named object of `resource` (`<plural>.<group>` form in the message).
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        let qualified = if group.is_empty() {
            plural.to_owned()
        } else {
            format!("{plural}.{group}")
        };
        Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
            .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    /// 404 NotFound for a path that serves nothing.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, plural: &str, name: &str, being_deleted: bool) -> Self {
        let prefix = if being_deleted {
            "object is being deleted: "
        } else {
            ""
        };
        Self::new(
            409,
            "AlreadyExists",
            format!("{prefix}{plural}.{group} \"{name}\" already exists"),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    /// 409 Conflict from an optimistic-lock failure.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::conflict_msg(
            group,
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 Conflict with a specific explanation.
    pub fn conflict_msg(group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {plural}.{group} \"{name}\": {why}"),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    /// 422 Invalid with one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &FieldErrors) -> Self {
        let causes: Vec<Value> = errors
            .iter()
            .map(
                |e| json!({"reason": e.error_type.reason(), "message": e.body(), "field": e.field}),
            )
            .collect();
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        Self::new(
            422,
            "Invalid",
            format!(
                "{qualified} \"{name}\" is invalid: {}",
                aggregate_message(errors)
            ),
        )
        .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    /// 401 Unauthorized: no credentials, or credentials nobody accepted.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden, worded as apimachinery's `NewForbidden(<resource>.<group>, name, err)`:
    /// `<resource>.<group> "<name>" is forbidden: <err>`, `<resource>.<group> is forbidden: <err>`
    /// without a name, `forbidden: <err>` without a resource.
    pub fn forbidden(group: &str, resource: &str, name: &str, err: impl std::fmt::Display) -> Self {
        let qualified = if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        let message = if resource.is_empty() && group.is_empty() {
            format!("forbidden: {err}")
        } else if name.is_empty() {
            format!("{qualified} is forbidden: {err}")
        } else {
            format!("{qualified} \"{name}\" is forbidden: {err}")
        };
        let mut details = serde_json::Map::new();
        for (k, v) in [("name", name), ("group", group), ("kind", resource)] {
            if !v.is_empty() {
                details.insert(k.to_owned(), json!(v));
            }
        }
        Self::new(403, "Forbidden", message).with_details(Value::Object(details))
    }

    /// The same error with one more `details.causes` entry.
    pub fn with_cause(mut self, reason: &str, message: &str, field: &str) -> Self {
        let mut details = self.details.take().map(|d| *d).unwrap_or_else(|| json!({}));
        if !details.is_object() {
            details = json!({});
        }
        let cause = json!({"reason": reason, "message": message, "field": field});
        match details.get_mut("causes").and_then(Value::as_array_mut) {
            Some(causes) => causes.push(cause),
            None => details["causes"] = json!([cause]),
        }
        self.with_details(details)
    }

    /// 410 Expired.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
        .with_details(json!({}))
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, application/yaml (requested {accept})"
            ),
        )
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str, supported: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {} (got {content_type})",
                supported.join(", ")
            ),
        )
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        let m = message.into();
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {m}"),
        )
        .with_details(json!({"causes": [{"message": m}]}))
    }

    /// 503 ServiceUnavailable (storage down).
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(503, "ServiceUnavailable", message);
        e.retry_after = Some(1);
        e
    }

    /// 504 Timeout for a resource version newer than the store's.
    pub fn too_large_resource_version(requested: i64, current: i64) -> Self {
        let mut e = Self::new(504, "Timeout", format!("Too large resource version: {requested}, current: {current}"))
            .with_details(json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}));
        e.retry_after = Some(1);
        e
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = (**d).clone();
        }
        s
    }
}

/// Maps storage failures to API errors (conflicts are handled by callers, who know the name).
impl From<ironcore_storage::StoreError> for ApiError {
    fn from(e: ironcore_storage::StoreError) -> Self {
        use ironcore_storage::StoreError as E;
        match e {
            E::Compacted {
                requested,
                compacted,
            } => ApiError::expired(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            E::FutureRevision { requested, current } => {
                ApiError::too_large_resource_version(requested, current)
            }
            E::Unavailable(m) => ApiError::unavailable(format!("storage unavailable: {m}")),
            other => ApiError::internal(other.to_string()),
        }
    }
}
