//! Who a request runs as.

use std::collections::BTreeMap;

/// The user name of requests without credentials, when anonymous requests are enabled.
pub const ANONYMOUS: &str = "system:anonymous";
/// The group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group that is always allowed everything.
pub const MASTERS: &str = "system:masters";

/// An authenticated (or anonymous) user: kube-apiserver's `user.Info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub name: String,
    /// A unique id, when the authenticator knows one.
    pub uid: String,
    /// Groups, in the order the authenticator gave them.
    pub groups: Vec<String>,
    /// Extra attributes (front-proxy `X-Remote-Extra-*`, TokenReview `extra`).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with a name and groups.
    pub fn new(name: impl Into<String>, groups: Vec<String>) -> Self {
        UserInfo {
            name: name.into(),
            groups,
            ..UserInfo::default()
        }
    }

    /// `system:anonymous` in `system:unauthenticated`.
    pub fn anonymous() -> Self {
        UserInfo::new(ANONYMOUS, vec![UNAUTHENTICATED.to_owned()])
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Adds `system:authenticated` unless the user already has it or `system:unauthenticated`
    /// (kube-apiserver's `AuthenticatedGroupAdder`).
    pub fn with_authenticated_group(mut self) -> Self {
        if !self.in_group(AUTHENTICATED) && !self.in_group(UNAUTHENTICATED) {
            self.groups.push(AUTHENTICATED.to_owned());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticated_group_is_added_once() {
        let u = UserInfo::new("alice", vec!["dev".into()]).with_authenticated_group();
        assert_eq!(u.groups, ["dev", AUTHENTICATED]);
        let again = u.clone().with_authenticated_group();
        assert_eq!(again.groups, u.groups);
        let anon = UserInfo::anonymous().with_authenticated_group();
        assert_eq!(anon.groups, [UNAUTHENTICATED]);
    }
}
