//! Zero-sized `apiVersion` / `kind` fields that always serialize as the kind's own values.
//!
//! They let every kind derive serde while emitting `apiVersion` and `kind` the way k8s-openapi
//! types do; on input any string is accepted (the server checks them against the URL).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use kube_core::Resource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize, Serializer};

macro_rules! tag {
    ($(#[$doc:meta])* $name:ident, |$k:ident| $value:expr) => {
        $(#[$doc])*
        pub struct $name<K>(PhantomData<fn() -> K>);

        impl<K> Default for $name<K> {
            fn default() -> Self {
                $name(PhantomData)
            }
        }
        impl<K> Clone for $name<K> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<K> Copy for $name<K> {}
        impl<K> PartialEq for $name<K> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl<K> Eq for $name<K> {}
        impl<K: Resource<DynamicType = ()>> fmt::Debug for $name<K> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let $k = PhantomData::<K>;
                let _ = $k;
                write!(f, "{:?}", $value)
            }
        }
        impl<K: Resource<DynamicType = ()>> Serialize for $name<K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $k = PhantomData::<K>;
                let _ = $k;
                s.serialize_str(&$value)
            }
        }
        impl<K> JsonSchema for $name<K> {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": "string"})
            }
        }
        impl<'de, K> Deserialize<'de> for $name<K> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                IgnoredAny::deserialize(d)?;
                Ok($name(PhantomData))
            }
        }
    };
}

tag!(
    /// The `apiVersion` of kind `K`, e.g. `networking.ironcore.dev/v1alpha1`.
    ApiVersionTag, |k| K::api_version(&())
);
tag!(
    /// The `kind` of `K`, e.g. `Network`.
    KindTag, |k| K::kind(&())
);
tag!(
    /// The `kind` of a list of `K`, e.g. `NetworkList`.
    ListKindTag, |k| format!("{}List", K::kind(&()))
);
