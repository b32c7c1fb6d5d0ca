//! Field errors: the result of validation, one-to-one with Kubernetes `Status` causes.

use std::fmt;

use serde_json::Value;

/// The kind of a field error; its [`ErrorType::reason`] is the `StatusCause.reason` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// A required field is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of the supported enumeration values.
    NotSupported,
    /// A field may not be set, or not be changed, here.
    Forbidden,
    /// A value occurs twice where it must be unique.
    Duplicate,
    /// A string or list is longer than allowed.
    TooLong,
    /// A list has more items than allowed.
    TooMany,
    /// The server failed while validating.
    Internal,
}

impl ErrorType {
    /// The `StatusCause.reason` string kube-apiserver sends for this type.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
        }
    }

    /// The human text apimachinery prints for this type (`Invalid value`, `Required value`, ...).
    pub fn text(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }
}

/// A dotted field path such as `spec.ports[0].endPort`, built by appending children.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Path(String);

impl Path {
    /// A path starting at a top-level field, e.g. `Path::new("spec")`.
    pub fn new(root: &str) -> Self {
        Path(root.to_owned())
    }

    /// The path of a named child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_owned())
        } else {
            Path(format!("{}.{}", self.0, name))
        }
    }

    /// The path of a list element.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{}]", self.0, i))
    }

    /// The path of a map entry, printed as `field[key]` like apimachinery does.
    pub fn key(&self, k: &str) -> Self {
        Path(format!("{}[{}]", self.0, k))
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One validation failure: where, what kind, the offending value and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The kind of failure.
    pub error_type: ErrorType,
    /// The field path, e.g. `spec.ips[0]`.
    pub field: String,
    /// The offending value, when the error type prints one.
    pub bad_value: Option<Value>,
    /// The explanation (for NotSupported: the supported values).
    pub detail: String,
}

impl FieldError {
    fn make(error_type: ErrorType, path: &Path, bad_value: Option<Value>, detail: String) -> Self {
        FieldError {
            error_type,
            field: path.to_string(),
            bad_value,
            detail,
        }
    }

    /// A required field is missing.
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::make(ErrorType::Required, path, None, detail.into())
    }

    /// A value is invalid.
    pub fn invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::make(ErrorType::Invalid, path, Some(value.into()), detail.into())
    }

    /// A value is not one of `supported`.
    pub fn not_supported(path: &Path, value: impl Into<Value>, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::make(ErrorType::NotSupported, path, Some(value.into()), detail)
    }

    /// A field may not be set or changed.
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::make(ErrorType::Forbidden, path, None, detail.into())
    }

    /// A value is duplicated.
    pub fn duplicate(path: &Path, value: impl Into<Value>) -> Self {
        Self::make(
            ErrorType::Duplicate,
            path,
            Some(value.into()),
            String::new(),
        )
    }

    /// A value is longer than `max` (bytes or characters).
    pub fn too_long(path: &Path, max: usize) -> Self {
        Self::make(
            ErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max} bytes"),
        )
    }

    /// A list has `actual` items, more than `max`.
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::make(
            ErrorType::TooMany,
            path,
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// The server failed while validating.
    pub fn internal(path: &Path, detail: impl Into<String>) -> Self {
        Self::make(ErrorType::Internal, path, None, detail.into())
    }

    /// The message without the field, as sent in `StatusCause.message`
    /// (e.g. `Invalid value: "x": must be a valid IP`).
    pub fn body(&self) -> String {
        let mut s = self.error_type.text().to_owned();
        let prints_value = matches!(
            self.error_type,
            ErrorType::Invalid
                | ErrorType::NotSupported
                | ErrorType::Duplicate
                | ErrorType::TooMany
        );
        if let (true, Some(v)) = (prints_value, &self.bad_value) {
            s.push_str(": ");
            s.push_str(&format_value(v));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// Prints a bad value the way apimachinery does: strings quoted, numbers and booleans bare.
fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.body())
        } else {
            write!(f, "{}: {}", self.field, self.body())
        }
    }
}

/// A list of field errors; empty means valid.
pub type FieldErrors = Vec<FieldError>;

/// Joins errors the way apimachinery's aggregate does: one error bare, several as `[a, b]`.
pub fn aggregate_message(errors: &[FieldError]) -> String {
    match errors {
        [] => String::new(),
        [one] => one.to_string(),
        many => {
            let parts: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_builds_children_indexes_and_keys() {
        let p = Path::new("spec").child("ports").index(0).child("endPort");
        assert_eq!(p.as_str(), "spec.ports[0].endPort");
        assert_eq!(
            Path::new("metadata").child("labels").key("a").as_str(),
            "metadata.labels[a]"
        );
    }

    #[test]
    fn invalid_error_prints_field_value_and_detail() {
        let e = FieldError::invalid(&Path::new("spec").child("ip"), "x", "must be a valid IP");
        assert_eq!(
            e.to_string(),
            r#"spec.ip: Invalid value: "x": must be a valid IP"#
        );
        assert_eq!(e.error_type.reason(), "FieldValueInvalid");
    }

    #[test]
    fn not_supported_lists_supported_values() {
        let e = FieldError::not_supported(&Path::new("spec").child("type"), "Foo", &["Public"]);
        assert_eq!(
            e.body(),
            r#"Unsupported value: "Foo": supported values: "Public""#
        );
    }

    #[test]
    fn required_without_detail_is_bare() {
        let e = FieldError::required(&Path::new("spec").child("networkRef"), "");
        assert_eq!(e.to_string(), "spec.networkRef: Required value");
    }

    #[test]
    fn aggregate_brackets_several_errors() {
        let a = FieldError::required(&Path::new("a"), "");
        let b = FieldError::required(&Path::new("b"), "");
        assert_eq!(
            aggregate_message(std::slice::from_ref(&a)),
            "a: Required value"
        );
        assert_eq!(
            aggregate_message(&[a, b]),
            "[a: Required value, b: Required value]"
        );
    }
}
