//! Apply conflicts and the `409 Conflict` Status kube-apiserver answers them with.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use super::fieldpath::FieldPath;
use super::managed::{ManagedEntry, Operation};

/// The `reason` of each cause of a conflict Status.
pub const FIELD_MANAGER_CONFLICT: &str = "FieldManagerConflict";

/// A field the applied configuration changes that another manager owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// The other manager's operation.
    pub operation: Operation,
    /// The other manager's API version.
    pub api_version: String,
    /// The other manager's subresource (empty for the main resource).
    pub subresource: String,
    /// The conflicting field.
    pub path: FieldPath,
}

impl Conflict {
    pub(crate) fn new(entry: &ManagedEntry, path: FieldPath) -> Conflict {
        Conflict {
            manager: entry.manager.clone(),
            operation: entry.operation,
            api_version: entry.api_version.clone(),
            subresource: entry.subresource.clone(),
            path,
        }
    }

    /// The manager as kube-apiserver names it: `"m"`, `"m" with subresource "status"`, and for
    /// `Update` entries `… using <apiVersion>`.
    pub fn manager_description(&self) -> String {
        let mut s = quote(&self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {}", quote(&self.subresource));
        }
        if self.operation == Operation::Update {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }

    /// The conflicting field as kube-apiserver prints it, e.g. `.spec.peerings[name="a"]`.
    pub fn field(&self) -> String {
        self.path.to_string()
    }

    /// Groups conflicts of one manager (kube-apiserver sorts by its JSON identifier).
    fn sort_key(&self) -> String {
        ManagedEntry {
            manager: self.manager.clone(),
            operation: self.operation,
            api_version: self.api_version.clone(),
            time: None,
            subresource: self.subresource.clone(),
            fields: Default::default(),
        }
        .identifier()
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The conflicts that stop an apply; [`Conflicts::status`] is the `409` answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// kube-apiserver's message: `Apply failed with 1 conflict: conflict with "m" using v: .spec.x`,
    /// or for several, per manager in identifier order, `conflicts with "m":` and `- <field>` lines.
    pub fn message(&self) -> String {
        if let [only] = self.0.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager_description(),
                only.path
            );
        }
        let mut managers: Vec<(String, &Conflict)> = Vec::new();
        for c in &self.0 {
            let key = c.sort_key();
            if !managers.iter().any(|(k, _)| *k == key) {
                managers.push((key, c));
            }
        }
        managers.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = Vec::new();
        for (key, first) in &managers {
            lines.push(format!("conflicts with {}:", first.manager_description()));
            for c in self.0.iter().filter(|c| c.sort_key() == *key) {
                lines.push(format!("- {}", c.path));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }

    /// One cause per conflict: `{reason: FieldManagerConflict, message: conflict with "m"…, field}`.
    pub fn causes(&self) -> Vec<StatusCause> {
        self.0
            .iter()
            .map(|c| StatusCause {
                reason: Some(FIELD_MANAGER_CONFLICT.to_owned()),
                message: Some(format!("conflict with {}", c.manager_description())),
                field: Some(c.field()),
            })
            .collect()
    }

    /// The `409 Conflict` Status kube-apiserver answers (`errors.NewApplyConflict`).
    pub fn status(&self) -> Status {
        Status {
            code: Some(409),
            details: Some(StatusDetails {
                causes: Some(self.causes()),
                ..Default::default()
            }),
            message: Some(self.message()),
            reason: Some("Conflict".to_owned()),
            status: Some("Failure".to_owned()),
            ..Default::default()
        }
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}
