//! References shared by both groups.

use serde::{Deserialize, Serialize};

/// A reference to an object in the same namespace by name and UID (`x-kubernetes-map-type: atomic`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUIDReference {
    /// Name of the referenced object.
    pub name: String,
    /// UID of the referenced object.
    pub uid: String,
}
