//! The user a request is made as: a name and groups, built the way the API server's
//! impersonation filter builds them from `--as` and `--as-group`.
use serde::Serialize;

use crate::names::is_dns_subdomain;
use crate::objects::valid_namespace;

/// `system:serviceaccount:`, the prefix of every service account's user name.
pub const SA_PREFIX: &str = "system:serviceaccount:";
/// Every authenticated user is in this group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Every unauthenticated request is in this group.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The anonymous user's name.
pub const ANONYMOUS: &str = "system:anonymous";
/// The group the API server allows everything, before and apart from RBAC.
pub const MASTERS: &str = "system:masters";
/// Every service account is in this group.
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// The user name of service account `name` in namespace `ns`.
pub fn service_account_user(ns: &str, name: &str) -> String {
    format!("{SA_PREFIX}{ns}:{name}")
}

/// The group of every service account in namespace `ns`.
pub fn service_accounts_group(ns: &str) -> String {
    format!("{ALL_SERVICE_ACCOUNTS}:{ns}")
}

/// `(namespace, name)` of a valid service-account user name, as the API server splits
/// it: exactly two parts after the prefix, a namespace label and a service account name.
pub fn split_service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SA_PREFIX)?;
    let mut parts = rest.split(':');
    let (ns, name) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || !valid_namespace(ns) || is_dns_subdomain(name).is_err() {
        return None;
    }
    Some((ns, name))
}

/// Who makes a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// The user name.
    pub name: String,
    /// The groups, in order.
    pub groups: Vec<String>,
}

impl User {
    /// The user `--as name --as-group g...` makes: a valid service-account name given no
    /// groups gets `system:serviceaccounts` and `system:serviceaccounts:NS` (given groups
    /// replace them); then every user but `system:anonymous` gets `system:authenticated`
    /// unless `system:authenticated` or `system:unauthenticated` is there already, and
    /// `system:anonymous` gets `system:unauthenticated` unless it is there.
    pub fn impersonate(name: &str, groups: &[String]) -> User {
        let mut all: Vec<String> = groups.to_vec();
        if groups.is_empty() {
            if let Some((ns, _)) = split_service_account(name) {
                all = vec![ALL_SERVICE_ACCOUNTS.to_string(), service_accounts_group(ns)];
            }
        }
        if name == ANONYMOUS {
            if !all.iter().any(|g| g == UNAUTHENTICATED) {
                all.push(UNAUTHENTICATED.to_string());
            }
        } else if !all.iter().any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED) {
            all.push(AUTHENTICATED.to_string());
        }
        User { name: name.to_string(), groups: all }
    }

    /// Whether the user is in a group.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_user_name_gets_its_groups_and_authenticated() {
        let u = User::impersonate("system:serviceaccount:prod:api", &[]);
        assert_eq!(u.groups, ["system:serviceaccounts", "system:serviceaccounts:prod", "system:authenticated"]);
    }

    #[test]
    fn given_groups_replace_the_service_account_groups() {
        let u = User::impersonate("system:serviceaccount:prod:api", &["devs".into()]);
        assert_eq!(u.groups, ["devs", "system:authenticated"]);
    }

    #[test]
    fn authenticated_is_not_added_next_to_unauthenticated_and_anonymous_is_unauthenticated() {
        assert_eq!(User::impersonate("jane", &["system:unauthenticated".into()]).groups, ["system:unauthenticated"]);
        assert_eq!(User::impersonate("system:anonymous", &[]).groups, ["system:unauthenticated"]);
        assert_eq!(User::impersonate("jane", &[]).groups, ["system:authenticated"]);
    }

    #[test]
    fn a_malformed_service_account_name_is_a_plain_user() {
        assert_eq!(split_service_account("system:serviceaccount:prod:api:x"), None);
        assert_eq!(split_service_account("system:serviceaccount:Prod:api"), None);
        assert_eq!(User::impersonate("system:serviceaccount:a:b:c", &[]).groups, ["system:authenticated"]);
    }
}
