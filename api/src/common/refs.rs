//! References shared by both groups.

use serde::{Deserialize, Serialize};

/// A reference to an object in the same namespace by name and UID.
// Declared `x-kubernetes-map-type: atomic`: merges replace it as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(transform = crate::common::schema::atomic_map)]
pub struct LocalUIDReference {
    /// Name of the referenced object.
    pub name: String,
    /// UID of the referenced object.
    pub uid: String,
}
