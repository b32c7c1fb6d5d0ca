//! `metadata.managedFields`: reading, writing, ordering and capping entries.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, FieldsV1Error};

/// The `fieldsType` every entry carries.
pub const FIELDS_V1: &str = "FieldsV1";

/// How many `Update` entries an object keeps (kube-apiserver's `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that older `Update` entries are merged into beyond [`MAX_UPDATE_MANAGERS`].
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// Why `managedFields` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagedFieldsError {
    /// `managedFields` is not a list of objects.
    #[error("managedFields must be a list of objects")]
    NotAList,
    /// An entry's `operation` is neither `Apply` nor `Update`.
    #[error("invalid operation {0:?}: must be Apply or Update")]
    InvalidOperation(String),
    /// An entry's `fieldsType` is not `FieldsV1`.
    #[error("invalid fieldsType {0:?}: must be FieldsV1")]
    InvalidFieldsType(String),
    /// An entry's `time` is not an RFC 3339 timestamp.
    #[error("invalid time {0:?}")]
    InvalidTime(String),
    /// A string member has another type.
    #[error("{0} must be a string")]
    NotAString(&'static str),
    /// An entry's `fieldsV1` is malformed.
    #[error(transparent)]
    Fields(#[from] FieldsV1Error),
}

/// The operation that produced an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (create, update, non-apply patch).
    Update,
}

impl Operation {
    /// The wire name, `Apply` or `Update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `metadata.managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedEntry {
    /// The field manager, e.g. `kubectl`.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: Operation,
    /// The API version the fields were written in, e.g. `networking.ironcore.dev/v1alpha1`.
    pub api_version: String,
    /// When the entry last changed the object.
    pub time: Option<Time>,
    /// The subresource written through (`status`), empty for the main resource.
    pub subresource: String,
    /// The fields the manager owns.
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// Reads one entry.
    pub fn from_json(v: &Value) -> Result<ManagedEntry, ManagedFieldsError> {
        let m = v.as_object().ok_or(ManagedFieldsError::NotAList)?;
        let manager = string_member(m, "manager")?;
        let operation = match string_member(m, "operation")?.as_str() {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            other => return Err(ManagedFieldsError::InvalidOperation(other.to_owned())),
        };
        let fields_type = string_member(m, "fieldsType")?;
        if fields_type != FIELDS_V1 {
            return Err(ManagedFieldsError::InvalidFieldsType(fields_type));
        }
        let time = match m.get("time") {
            None | Some(Value::Null) => None,
            Some(t) => Some(
                serde_json::from_value::<Time>(t.clone())
                    .map_err(|_| ManagedFieldsError::InvalidTime(t.to_string()))?,
            ),
        };
        let fields = match m.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(f) => FieldSet::from_fields_v1(f)?,
        };
        Ok(ManagedEntry {
            manager,
            operation,
            api_version: string_member(m, "apiVersion")?,
            time,
            subresource: string_member(m, "subresource")?,
            fields,
        })
    }

    /// The entry as kube-apiserver writes it (members in its order, empty ones omitted).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::from(self.manager.clone()));
        }
        m.insert("operation".into(), Value::from(self.operation.as_str()));
        if !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::from(self.api_version.clone()));
        }
        if let Some(t) = &self.time
            && let Ok(t) = serde_json::to_value(t)
        {
            m.insert("time".into(), t);
        }
        m.insert("fieldsType".into(), Value::from(FIELDS_V1));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), Value::from(self.subresource.clone()));
        }
        Value::Object(m)
    }

    /// Whether `other` is the same manager: same name, operation and subresource, and for
    /// `Update` entries the same API version (kube-apiserver's manager identifier).
    pub fn same_manager(&self, other: &ManagedEntry) -> bool {
        self.identifier() == other.identifier()
    }

    /// Whether this is the entry of `manager` doing `operation` through `subresource` in
    /// `api_version`.
    pub(crate) fn is(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// kube-apiserver's manager identifier: the entry's JSON without time and fields, and
    /// without the API version for `Apply` entries.
    pub(crate) fn identifier(&self) -> String {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::from(self.manager.clone()));
        }
        m.insert("operation".into(), Value::from(self.operation.as_str()));
        if self.operation == Operation::Update && !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::from(self.api_version.clone()));
        }
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), Value::from(self.subresource.clone()));
        }
        Value::Object(m).to_string()
    }

    fn seconds(&self) -> i64 {
        self.time.as_ref().map_or(0, |t| t.0.as_second())
    }
}

fn string_member(m: &Map<String, Value>, key: &'static str) -> Result<String, ManagedFieldsError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ManagedFieldsError::NotAString(key)),
    }
}

/// Reads a `managedFields` list; `null` is empty. Entries naming the same manager keep the last.
pub fn parse_managed_fields(v: &Value) -> Result<Vec<ManagedEntry>, ManagedFieldsError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(ManagedFieldsError::NotAList),
    };
    let mut out: Vec<ManagedEntry> = Vec::with_capacity(items.len());
    for item in items {
        let e = ManagedEntry::from_json(item)?;
        out.retain(|x| !x.same_manager(&e));
        out.push(e);
    }
    Ok(out)
}

/// The `metadata.managedFields` of `object` (absent is empty).
pub fn managed_fields_of(object: &Value) -> Result<Vec<ManagedEntry>, ManagedFieldsError> {
    match object.get("metadata").and_then(|m| m.get("managedFields")) {
        None => Ok(Vec::new()),
        Some(v) => parse_managed_fields(v),
    }
}

/// The entries of `object`, or none when they cannot be read (as kube-apiserver does).
pub(crate) fn managed_fields_lenient(object: Option<&Value>) -> Vec<ManagedEntry> {
    object
        .and_then(|o| managed_fields_of(o).ok())
        .unwrap_or_default()
}

/// Sorts entries as kube-apiserver stores them: `Apply` before `Update`, then by time,
/// manager, API version and subresource.
pub fn sort_entries(entries: &mut [ManagedEntry]) {
    entries.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then(p.seconds().cmp(&q.seconds()))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
}

/// The `managedFields` JSON list of `entries`, sorted.
pub fn managed_fields_value(entries: &[ManagedEntry]) -> Value {
    let mut sorted = entries.to_vec();
    sort_entries(&mut sorted);
    Value::Array(sorted.iter().map(ManagedEntry::to_json).collect())
}

/// Writes `entries` to `object.metadata.managedFields`, sorted; no entries removes the member.
pub fn set_managed_fields(object: &mut Value, entries: &[ManagedEntry]) {
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            meta.shift_remove("managedFields");
        }
        return;
    }
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert("managedFields".into(), managed_fields_value(entries));
    }
}

/// Whether a client-sent `managedFields` asks to clear them: exactly one entry with nothing set
/// (`[{}]`). An empty list does not (it is how clients unaware of the field send it back).
pub(crate) fn is_reset(v: &Value) -> bool {
    let Value::Array(items) = v else {
        return false;
    };
    let [Value::Object(only)] = items.as_slice() else {
        return false;
    };
    only.values().all(|x| match x {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    })
}

/// Merges the oldest `Update` entries until at most `max` remain, as kube-apiserver does: in
/// order of age (then identifier), the second and later entries of one API version are merged
/// with the first into an `ancient-changes` entry of that version, taking the newer time.
pub(crate) fn cap_update_managers(entries: &mut Vec<ManagedEntry>, max: usize) {
    let mut updaters: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.operation == Operation::Update)
        .map(|(i, _)| i)
        .collect();
    if updaters.len() <= max {
        return;
    }
    updaters.sort_by(|&a, &b| {
        entries[a]
            .seconds()
            .cmp(&entries[b].seconds())
            .then_with(|| entries[a].identifier().cmp(&entries[b].identifier()))
    });
    let order: Vec<ManagedEntry> = updaters.iter().map(|&i| entries[i].clone()).collect();
    let mut length = order.len();
    // API version -> identifier of the first (oldest) entry seen of it.
    let mut first_of: Vec<(String, String)> = Vec::new();
    for e in &order {
        if length <= max {
            break;
        }
        let bucket = ManagedEntry {
            manager: ANCIENT_CHANGES.to_owned(),
            operation: Operation::Update,
            api_version: e.api_version.clone(),
            time: None,
            subresource: String::new(),
            fields: FieldSet::new(),
        };
        let Some(first) = first_of
            .iter()
            .find(|(v, _)| *v == e.api_version)
            .map(|(_, id)| id.clone())
        else {
            first_of.push((e.api_version.clone(), e.identifier()));
            continue;
        };
        if e.same_manager(&bucket) {
            // The bucket is newer than another entry of its version: fold that one in.
            if let Some(pos) = entries.iter().position(|x| x.identifier() == first) {
                let older = entries.remove(pos);
                if let Some(b) = entries.iter_mut().find(|x| x.same_manager(&bucket)) {
                    b.fields = older.fields.union(&b.fields);
                }
                length -= 1;
            }
            continue;
        }
        if !entries.iter().any(|x| x.same_manager(&bucket)) {
            // The first entry of this version becomes the bucket.
            if let Some(pos) = entries.iter().position(|x| x.identifier() == first) {
                let mut moved = entries.remove(pos);
                moved.manager = bucket.manager.clone();
                moved.subresource = String::new();
                entries.push(moved);
            }
        }
        let Some(pos) = entries.iter().position(|x| x.same_manager(e)) else {
            continue;
        };
        let merged = entries.remove(pos);
        if let Some(b) = entries.iter_mut().find(|x| x.same_manager(&bucket)) {
            b.fields = merged.fields.union(&b.fields);
            b.time = merged.time.clone();
        }
        length -= 1;
    }
}
