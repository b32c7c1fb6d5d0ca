//! Types shared by both API groups.

pub mod net;
pub mod refs;
pub mod resource;
pub mod schema;
pub mod table;
pub mod tags;

pub use net::{IP, IPFamily, IPPrefix};
pub use refs::LocalUIDReference;
pub use tags::{ApiVersionTag, KindTag, ListKindTag};
