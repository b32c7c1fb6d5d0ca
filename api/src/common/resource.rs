//! The `impl_resource!` macro: kube's `Resource` trait for a kind from a few declarative facts.

/// Implements `kube_core::Resource` for a kind whose struct has a `metadata: ObjectMeta` field.
///
/// ```text
/// impl_resource!(VirtualIP, group: GROUP, version: VERSION, plural: "virtualips", scope: Namespaced);
/// ```
#[macro_export]
macro_rules! impl_resource {
    ($ty:ident, group: $group:expr, version: $version:expr, plural: $plural:expr, scope: Namespaced) => {
        $crate::impl_resource!(@impl $ty, $group, $version, $plural, k8s_openapi::NamespaceResourceScope);
    };
    ($ty:ident, group: $group:expr, version: $version:expr, plural: $plural:expr, scope: Cluster) => {
        $crate::impl_resource!(@impl $ty, $group, $version, $plural, k8s_openapi::ClusterResourceScope);
    };
    (@impl $ty:ident, $group:expr, $version:expr, $plural:expr, $scope:ty) => {
        impl kube_core::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed(stringify!($ty))
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($group)
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($version)
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($plural)
            }
            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
