//! The RBAC authorizer's decision. A request is allowed as soon as one rule of one
//! applicable binding matches it; there is no deny and no order. Applicable are every
//! ClusterRoleBinding naming the user, and — for a request in a namespace — every
//! RoleBinding of that namespace naming the user, whose ClusterRole rules then hold in
//! that namespace only. A binding whose role is missing grants nothing; the authorizer
//! says so in its reason when it denies. Apart from RBAC, the API server allows the
//! group `system:masters` everything.
use serde::Serialize;

use crate::objects::{Binding, BindingKind, Rule, Subject, SubjectKind};
use crate::user::{User, MASTERS};
use crate::Rbac;

/// What is asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The verb, compared exactly (case matters).
    pub verb: String,
    /// On what.
    pub target: Target,
}

/// A resource or a non-resource URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Target {
    /// An API resource.
    Resource {
        /// The namespace; empty for a cluster-wide request (which no RoleBinding sees).
        namespace: String,
        /// The API group (`""` core).
        group: String,
        /// The resource (plural).
        resource: String,
        /// The subresource, or empty.
        subresource: String,
        /// The object's name, or empty.
        name: String,
    },
    /// A path outside the resource API (`/healthz`); it has no namespace.
    NonResource {
        /// The path.
        path: String,
    },
}

impl Request {
    /// A resource request.
    pub fn resource(verb: &str, namespace: &str, group: &str, resource: &str, subresource: &str, name: &str) -> Self {
        Request {
            verb: verb.into(),
            target: Target::Resource {
                namespace: namespace.into(),
                group: group.into(),
                resource: resource.into(),
                subresource: subresource.into(),
                name: name.into(),
            },
        }
    }

    /// A non-resource request.
    pub fn url(verb: &str, path: &str) -> Self {
        Request { verb: verb.into(), target: Target::NonResource { path: path.into() } }
    }

    /// The namespace RoleBindings are read in; `None` for cluster-wide and URL requests.
    pub fn namespace(&self) -> Option<&str> {
        match &self.target {
            Target::Resource { namespace, .. } if !namespace.is_empty() => Some(namespace),
            _ => None,
        }
    }
}

/// The rule's verbs hold `*` or the verb itself.
pub fn verb_matches(rule: &Rule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

/// The rule's API groups hold `*` or the group itself.
pub fn group_matches(rule: &Rule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

/// A rule resource matches when it is `*` (subresources too), equals `resource` or
/// `resource/subresource`, or is `*/subresource` for a request with that subresource.
/// There is no `resource/*`: it only matches a subresource literally named `*`.
pub fn resource_matches(rule: &Rule, resource: &str, subresource: &str) -> bool {
    let combined = if subresource.is_empty() { resource.to_string() } else { format!("{resource}/{subresource}") };
    rule.resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/").is_some_and(|sub| sub == subresource))
    })
}

/// No resourceNames: any name (and none); otherwise the name must be listed, so a
/// request without a name (list, create, a collection) never matches.
pub fn name_matches(rule: &Rule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// A URL entry matches when it is `*`, equals the path, or ends in `*` and the path
/// starts with it, every trailing `*` cut (a plain string prefix).
pub fn url_matches(rule: &Rule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .any(|u| u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))))
}

/// Whether one rule allows the request.
pub fn rule_allows(rule: &Rule, request: &Request) -> bool {
    if !verb_matches(rule, &request.verb) {
        return false;
    }
    match &request.target {
        Target::Resource { group, resource, subresource, name, .. } => {
            group_matches(rule, group) && resource_matches(rule, resource, subresource) && name_matches(rule, name)
        }
        Target::NonResource { path } => url_matches(rule, path),
    }
}

/// Whether a subject of `binding` stands for `user`. `namespace` is the RoleBinding's
/// (a ServiceAccount subject without a namespace is in it); for a ClusterRoleBinding
/// such a subject stands for nobody.
pub fn subject_applies(subject: &Subject, binding: &Binding, user: &User) -> bool {
    match subject.kind {
        SubjectKind::User => subject.name == user.name,
        SubjectKind::Group => user.in_group(&subject.name),
        SubjectKind::ServiceAccount => binding.service_account_user(subject).is_some_and(|u| u == user.name),
    }
}

/// The binding and rule that allowed a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Index into [`Rbac::bindings`].
    pub binding: usize,
    /// Index into [`Rbac::roles`].
    pub role: usize,
    /// Index into the role's rules.
    pub rule: usize,
    /// Index into the binding's subjects: the one that named the user.
    pub subject: usize,
}

/// The authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by the `system:masters` group, outside RBAC.
    Masters,
    /// Allowed by RBAC.
    Allowed(Grant),
    /// Not allowed; the errors met on the way (bindings to missing roles), as the
    /// authorizer reports them.
    Denied {
        /// `clusterrole.rbac.authorization.k8s.io "x" not found`, ...
        errors: Vec<String>,
    },
}

impl Decision {
    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        !matches!(self, Decision::Denied { .. })
    }

    /// The reason the API server gives with a denial: `RBAC: ` and the errors (one, or
    /// several in brackets), or nothing.
    pub fn reason(&self) -> Option<String> {
        match self {
            Decision::Denied { errors } if errors.len() == 1 => Some(format!("RBAC: {}", errors[0])),
            Decision::Denied { errors } if errors.len() > 1 => Some(format!("RBAC: [{}]", errors.join(", "))),
            _ => None,
        }
    }
}

/// A binding the visit reached: its role, or the error of a missing one.
pub(crate) type Visited = Result<usize, String>;

impl Rbac {
    /// Calls `f` with every binding that applies to `user` for a request in `namespace`
    /// (`None`: cluster-wide), ClusterRoleBindings first, with the index of the subject
    /// that named the user and the binding's role; stops when `f` returns true.
    pub(crate) fn visit(&self, user: &User, namespace: Option<&str>, mut f: impl FnMut(usize, usize, Visited) -> bool) {
        let lists = [Some(self.cluster_bindings.as_slice()), namespace.map(|ns| self.bindings_in(ns))];
        for list in lists.into_iter().flatten() {
            for &b in list {
                let binding = &self.bindings[b];
                let Some(s) = binding.subjects.iter().position(|s| subject_applies(s, binding, user)) else { continue };
                if f(b, s, self.role_of(binding).ok_or_else(|| self.missing(binding))) {
                    return;
                }
            }
        }
    }

    /// The not-found error the authorizer records for a binding whose role is missing.
    pub(crate) fn missing(&self, binding: &Binding) -> String {
        format!("{}.rbac.authorization.k8s.io {:?} not found", binding.role_ref.kind.resource(), binding.role_ref.name)
    }

    /// Whether `user` may make `request`, and what allowed it.
    pub fn authorize(&self, user: &User, request: &Request) -> Decision {
        if user.in_group(MASTERS) {
            return Decision::Masters;
        }
        let mut found = None;
        let mut errors: Vec<String> = Vec::new();
        self.visit(user, request.namespace(), |b, s, role| match role {
            Ok(r) => match self.roles[r].rules.iter().position(|rule| rule_allows(rule, request)) {
                Some(rule) => {
                    found = Some(Grant { binding: b, role: r, rule, subject: s });
                    true
                }
                None => false,
            },
            Err(e) => {
                if !errors.contains(&e) {
                    errors.push(e);
                }
                false
            }
        });
        match found {
            Some(g) => Decision::Allowed(g),
            None => Decision::Denied { errors },
        }
    }

    /// Every rule that holds for `user` in `namespace` (`None`: cluster-wide), in the
    /// order the authorizer visits them, and the errors met (the list is incomplete
    /// when there are any): what a SelfSubjectRulesReview returns.
    pub fn rules_for(&self, user: &User, namespace: Option<&str>) -> (Vec<(Grant, &Rule)>, Vec<String>) {
        let mut rules = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        self.visit(user, namespace, |b, s, role| {
            match role {
                Ok(r) => {
                    for (i, rule) in self.roles[r].rules.iter().enumerate() {
                        rules.push((Grant { binding: b, role: r, rule: i, subject: s }, rule));
                    }
                }
                Err(e) => {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                }
            }
            false
        });
        (rules, errors)
    }

    /// `RoleBinding ns/x → ClusterRole y → rule 2 (get secrets)`: how a grant reads.
    pub fn describe(&self, g: &Grant) -> String {
        let b = &self.bindings[g.binding];
        let role = &self.roles[g.role];
        let scope = match (b.kind, role.namespace.is_none()) {
            (BindingKind::RoleBinding, true) => {
                format!(" (in namespace {})", b.namespace.as_deref().unwrap_or_default())
            }
            _ => String::new(),
        };
        format!("{} → {}{scope} → rule {} ({})", b.display(), role.display(), g.rule + 1, role.rules[g.rule].summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(resources: &[&str]) -> Rule {
        Rule {
            verbs: vec!["get".into()],
            api_groups: vec!["".into()],
            resources: resources.iter().map(|s| s.to_string()).collect(),
            ..Rule::default()
        }
    }

    #[test]
    fn star_resource_covers_subresources_and_star_slash_sub_covers_only_that_subresource() {
        assert!(resource_matches(&rule(&["*"]), "pods", "log"));
        assert!(resource_matches(&rule(&["*/log"]), "pods", "log"));
        assert!(!resource_matches(&rule(&["*/log"]), "pods", ""));
        assert!(!resource_matches(&rule(&["*/log"]), "pods", "exec"));
    }

    #[test]
    fn resource_slash_star_is_no_wildcard_in_rbac() {
        assert!(!resource_matches(&rule(&["pods/*"]), "pods", "log"));
        assert!(!resource_matches(&rule(&["pods/*"]), "pods", ""));
        assert!(resource_matches(&rule(&["pods/*"]), "pods", "*"));
    }

    #[test]
    fn a_parent_resource_does_not_cover_its_subresources() {
        assert!(!resource_matches(&rule(&["pods"]), "pods", "exec"));
        assert!(resource_matches(&rule(&["pods/exec"]), "pods", "exec"));
    }

    #[test]
    fn non_resource_url_trailing_star_is_a_plain_prefix() {
        let r = Rule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/stats*".into(), "/custom/*".into()],
            ..Rule::default()
        };
        assert!(url_matches(&r, "/stats") && url_matches(&r, "/stats/x") && url_matches(&r, "/statsfoo"));
        assert!(url_matches(&r, "/custom/") && url_matches(&r, "/custom/a") && !url_matches(&r, "/custom"));
    }
}
