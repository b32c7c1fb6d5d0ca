//! What the server needs to know about a kind: its facts, defaults, validation and table.

use ironcore_apimachinery::names::NameValidator;
use ironcore_apimachinery::{FieldErrors, meta};
use kube_core::Resource;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Static facts about a kind beyond kube's [`Resource`] (which has group, version, kind, plural).
#[derive(Clone, Copy, Debug)]
pub struct KindFacts {
    /// Lower-case singular name, e.g. `network`.
    pub singular: &'static str,
    /// Short names for kubectl, e.g. `["net"]`.
    pub short_names: &'static [&'static str],
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the kind has a `/status` subresource.
    pub has_status: bool,
    /// The rule object names must follow.
    pub name_validator: NameValidator,
    /// Extra field-selector labels the kind supports beyond `metadata.name` and
    /// `metadata.namespace`, e.g. `spec.networkRef.name`.
    pub field_labels: &'static [&'static str],
}

/// One column of the kind's `meta.k8s.io/v1` Table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableColumn {
    /// Column header, e.g. `State`.
    pub name: &'static str,
    /// OpenAPI type of the cells: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: &'static str,
    /// OpenAPI format hint, e.g. `name` for the Name column; empty for none.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = shown by default; higher = only with `-o wide`.
    pub priority: i32,
}

/// A served kind: typed object plus defaulting, validation, selectable fields and table cells.
///
/// Status/spec handling and `generation` are the server's generic business (DESIGN.md §3):
/// it only needs [`KindFacts::has_status`].
pub trait ApiKind:
    Resource<DynamicType = ()>
    + Serialize
    + DeserializeOwned
    + JsonSchema
    + Clone
    + Send
    + Sync
    + 'static
{
    /// The kind's list type, e.g. `NetworkList`; its schema is the OpenAPI list response.
    type List: JsonSchema;

    /// Static facts about the kind.
    const FACTS: KindFacts;

    /// Fills in defaults; applied to every decoded request body before validation.
    fn set_defaults(&mut self) {}

    /// Validates the kind's own fields (not metadata) of a new object.
    fn validate(&self) -> FieldErrors;

    /// Validates an update of the kind's own fields: immutability rules plus [`Self::validate`].
    fn validate_update(&self, old: &Self) -> FieldErrors {
        let _ = old;
        self.validate()
    }

    /// Value of a kind-specific field label listed in [`KindFacts::field_labels`].
    fn field_label(&self, label: &str) -> Option<String> {
        let _ = label;
        None
    }

    /// Table columns after `Name` (the server adds `Name`; kinds list `Age` where they show it).
    fn table_columns() -> &'static [TableColumn];

    /// Cells for [`Self::table_columns`], in order.
    fn table_cells(&self) -> Vec<serde_json::Value>;

    /// Metadata and field validation of a new object, metadata first as apimachinery does.
    fn validate_create_all(&self) -> FieldErrors {
        let f = Self::FACTS;
        let mut errs = meta::validate_object_meta(self.meta(), f.namespaced, f.name_validator);
        errs.extend(self.validate());
        errs
    }

    /// Metadata and field validation of an update.
    fn validate_update_all(&self, old: &Self) -> FieldErrors {
        let f = Self::FACTS;
        let mut errs = meta::validate_object_meta_update(
            self.meta(),
            old.meta(),
            f.namespaced,
            f.name_validator,
        );
        errs.extend(self.validate_update(old));
        errs
    }
}
