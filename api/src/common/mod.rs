//! Types shared by both API groups.

pub mod net;
pub mod table;
pub mod tags;

pub use net::{IP, IPFamily, IPPrefix};
pub use tags::{ApiVersionTag, KindTag, ListKindTag};
