//! The API server's audit policy checker: the first rule that matches a request decides
//! its level; no match is level `None`.
use crate::policy::{GroupResources, Level, Policy, Rule, Stage};

/// Who made a request, as authentication left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

/// What was asked, as the API server's request info describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A request for an API resource.
    Resource {
        /// The API group (`""` for core).
        group: String,
        /// The resource (plural, lower-case).
        resource: String,
        /// The subresource (`""` for none).
        subresource: String,
        /// The object's name (`""` for collections and creates without one).
        name: String,
        /// The namespace (`""` for cluster-scoped requests).
        namespace: String,
    },
    /// A request for a URL outside the resource API (`/healthz`, `/metrics`).
    NonResource {
        /// The URL path.
        path: String,
    },
}

/// One request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who made it.
    pub user: User,
    /// The verb: `get`, `list`, `create`, ... for resources; the lower-case HTTP method
    /// for non-resource URLs.
    pub verb: String,
    /// What it asks for.
    pub target: Target,
}

/// What the policy says of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The level events are written at.
    pub level: Level,
    /// Stages at which no event is written: the policy's and the deciding rule's, each
    /// once, in the order the stages happen.
    pub omit_stages: Vec<Stage>,
    /// Whether managed fields are left out of the bodies logged: the rule's value when it
    /// sets one, else the policy's.
    pub omit_managed_fields: bool,
    /// The 0-based index of the deciding rule; `None` when no rule matched.
    pub rule: Option<usize>,
}

impl Policy {
    /// The level and stages for `request`, as the API server's checker decides them.
    pub fn evaluate(&self, request: &Request) -> Decision {
        match self.deciding_rule(request) {
            Some(rule) => Decision {
                level: rule.level,
                omit_stages: union(&self.omit_stages, &rule.omit_stages),
                omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
                rule: Some(rule.index),
            },
            None => Decision {
                level: Level::None,
                omit_stages: union(&self.omit_stages, &[]),
                omit_managed_fields: self.omit_managed_fields,
                rule: None,
            },
        }
    }

    /// The first rule that matches `request`.
    pub fn deciding_rule(&self, request: &Request) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(request))
    }
}

fn union(a: &[Stage], b: &[Stage]) -> Vec<Stage> {
    Stage::ALL.into_iter().filter(|s| a.contains(s) || b.contains(s)).collect()
}

fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == value)
}

impl Rule {
    /// Whether this rule matches `request`: every field it sets must match; `*` is not a
    /// wildcard for users, groups, verbs or namespaces.
    pub fn matches(&self, request: &Request) -> bool {
        if !self.users.is_empty() && !listed(&self.users, &request.user.name) {
            return false;
        }
        if !self.user_groups.is_empty() && !request.user.groups.iter().any(|g| listed(&self.user_groups, g)) {
            return false;
        }
        if !self.verbs.is_empty() && !listed(&self.verbs, &request.verb) {
            return false;
        }
        if !self.namespaces.is_empty() || !self.resources.is_empty() {
            let Target::Resource { group, resource, subresource, name, namespace } = &request.target else {
                return false;
            };
            if !self.namespaces.is_empty() && !listed(&self.namespaces, namespace) {
                return false;
            }
            return self.resources.is_empty()
                || self.resources.iter().any(|g| g.matches(group, resource, subresource, name));
        }
        if !self.non_resource_urls.is_empty() {
            let Target::NonResource { path } = &request.target else {
                return false;
            };
            return self.non_resource_urls.iter().any(|spec| path_matches(spec, path));
        }
        true
    }
}

impl GroupResources {
    /// Whether a resource request of this group, resource, subresource and name is
    /// selected.
    pub fn matches(&self, group: &str, resource: &str, subresource: &str, name: &str) -> bool {
        if self.group != group {
            return false;
        }
        if self.resources.is_empty() {
            return true;
        }
        if !self.resource_names.is_empty() && !listed(&self.resource_names, name) {
            return false;
        }
        self.resources.iter().any(|pattern| resource_matches(pattern, resource, subresource))
    }
}

/// `*` matches everything; otherwise the pattern equals `resource` (or
/// `resource/subresource`), or is `*/sub` and the request is for subresource `sub`, or
/// is `res/*` and the request is for resource `res`, with or without a subresource.
fn resource_matches(pattern: &str, resource: &str, subresource: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let exact = match subresource {
        "" => pattern == resource,
        sub => {
            pattern.len() == resource.len() + 1 + sub.len()
                && pattern.starts_with(resource)
                && pattern.as_bytes()[resource.len()] == b'/'
                && pattern.ends_with(sub)
        }
    };
    if exact {
        return true;
    }
    if !subresource.is_empty() && pattern.strip_prefix("*/") == Some(subresource) {
        return true;
    }
    pattern.strip_suffix("/*") == Some(resource)
}

/// `*`, an exact path, or a prefix: a spec ending in `*` matches every path that starts
/// with the spec without its trailing `*`s (a plain string prefix).
fn path_matches(spec: &str, path: &str) -> bool {
    spec == "*" || spec == path || (spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*')))
}
