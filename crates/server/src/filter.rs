//! List and watch filters: namespace, label selector and field selector over JSON objects.

use ironcore_apimachinery::selector::{
    FieldSelector, LabelSelector, parse_field_selector, parse_label_selector,
};
use serde_json::Value;

use crate::errors::ApiError;
use crate::object::{labels, meta_str};
use crate::registry::KindStrategy;

/// What a list or watch selects.
pub struct Filter {
    namespace: Option<String>,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Builds the filter of a request; unknown field labels and bad syntax are 400.
    pub fn new(
        strategy: &dyn KindStrategy,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Self, ApiError> {
        let labels = match label_selector.filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                Some(parse_label_selector(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match field_selector.filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                let sel =
                    parse_field_selector(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                let info = strategy.info();
                let mut allowed: Vec<&str> = vec!["metadata.name", "metadata.namespace"];
                allowed.extend(info.field_labels.iter().map(String::as_str));
                sel.check_fields(&allowed)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(sel)
            }
            None => None,
        };
        Ok(Filter {
            namespace: namespace.map(str::to_owned),
            labels,
            fields,
        })
    }

    /// Whether a selector (not just a namespace) narrows the result.
    pub fn has_selectors(&self) -> bool {
        self.labels.as_ref().is_some_and(|l| !l.is_empty()) || self.fields.is_some()
    }

    /// The single object name a `metadata.name=` field selector pins, if any.
    pub fn matches(&self, strategy: &dyn KindStrategy, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && meta_str(obj, "namespace") != Some(ns.as_str())
        {
            return false;
        }
        if let Some(l) = &self.labels
            && !l.matches(&labels(obj))
        {
            return false;
        }
        if let Some(f) = &self.fields {
            let get = |field: &str| -> Option<String> {
                match field {
                    "metadata.name" => meta_str(obj, "name").map(str::to_owned),
                    "metadata.namespace" => meta_str(obj, "namespace").map(str::to_owned),
                    other => strategy.field_label(obj, other),
                }
            };
            if !f.matches(get) {
                return false;
            }
        }
        true
    }
}
