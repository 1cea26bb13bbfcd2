//! RBAC objects as the API server admits them: typed from the loader's kept documents
//! with `k8s_openapi`'s `rbac.authorization.k8s.io/v1` types (unknown fields refused),
//! defaulted and validated as the API server's RBAC validation does, each with the file
//! and line it was read from.
use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use podwall_load::{InputError, Object, Source};
use serde::Serialize;

use crate::names::{is_dns_label, is_dns_subdomain, is_path_segment};

/// The API group of every RBAC kind.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// What a binding grants: a namespaced Role or a ClusterRole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RoleKind {
    /// A Role: rules that hold in its own namespace.
    Role,
    /// A ClusterRole: rules that hold cluster-wide through a ClusterRoleBinding, or in
    /// one namespace through a RoleBinding.
    ClusterRole,
}

impl RoleKind {
    /// `Role` or `ClusterRole`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Role => "Role",
            RoleKind::ClusterRole => "ClusterRole",
        }
    }

    /// The resource as the API server's not-found errors name it (`role`, `clusterrole`).
    pub fn resource(self) -> &'static str {
        match self {
            RoleKind::Role => "role",
            RoleKind::ClusterRole => "clusterrole",
        }
    }
}

/// One `PolicyRule`, with absent lists as empty ones (the API server treats them alike).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Verbs (`*` is every verb).
    pub verbs: Vec<String>,
    /// API groups (`""` is the core group, `*` every group).
    pub api_groups: Vec<String>,
    /// Resources (`*`, `name`, `name/subresource`, `*/subresource`).
    pub resources: Vec<String>,
    /// Object names; empty for any.
    pub resource_names: Vec<String>,
    /// Non-resource URL paths (`*`, exact, or a prefix ending in `*`).
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl Rule {
    fn from_k8s(r: rbac::PolicyRule) -> Self {
        Rule {
            verbs: r.verbs,
            api_groups: r.api_groups.unwrap_or_default(),
            resources: r.resources.unwrap_or_default(),
            resource_names: r.resource_names.unwrap_or_default(),
            non_resource_urls: r.non_resource_urls.unwrap_or_default(),
        }
    }

    /// The rule in few words: `get, list secrets`, `* * in *`, `get /healthz`.
    pub fn summary(&self) -> String {
        let verbs = self.verbs.join(",");
        if !self.non_resource_urls.is_empty() {
            return format!("{verbs} {}", self.non_resource_urls.join(","));
        }
        let groups: Vec<String> =
            self.api_groups.iter().map(|g| if g.is_empty() { "core".to_string() } else { g.clone() }).collect();
        let mut s = format!("{verbs} {} (apiGroups {})", self.resources.join(","), groups.join(","));
        if !self.resource_names.is_empty() {
            s.push_str(&format!(" named {}", self.resource_names.join(",")));
        }
        s
    }
}

/// A label selector of an `aggregationRule`, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// `matchLabels`: each key present with this value.
    pub labels: BTreeMap<String, String>,
    /// `matchExpressions`, every one of which must hold.
    pub expressions: Vec<Requirement>,
}

/// One `matchExpressions` term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// The key is present with one of the values.
    In(String, Vec<String>),
    /// The key is absent, or present with none of the values.
    NotIn(String, Vec<String>),
    /// The key is present.
    Exists(String),
    /// The key is absent.
    DoesNotExist(String),
}

impl Selector {
    /// Whether labels satisfy the selector (an empty selector takes everything).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|r| match r {
                Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
                Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
            })
    }
}

/// A Role or ClusterRole.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    /// Role or ClusterRole.
    pub kind: RoleKind,
    /// The namespace of a Role; `None` for a ClusterRole.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// Its labels (aggregation selects ClusterRoles by them).
    pub labels: BTreeMap<String, String>,
    /// The rules that hold: as written, or for an aggregated ClusterRole the rules the
    /// aggregation controller computes (see [`crate::aggregate`]).
    pub rules: Vec<Rule>,
    /// The `aggregationRule.clusterRoleSelectors` of an aggregated ClusterRole.
    pub aggregation: Option<Vec<Selector>>,
    /// Where it was read.
    pub source: Source,
}

impl Role {
    /// `ClusterRole view`, `Role shop/reader`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.as_str(), self.name),
            None => format!("{} {}", self.kind.as_str(), self.name),
        }
    }
}

/// RoleBinding or ClusterRoleBinding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum BindingKind {
    /// Grants in its own namespace.
    RoleBinding,
    /// Grants cluster-wide.
    ClusterRoleBinding,
}

impl BindingKind {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::RoleBinding => "RoleBinding",
            BindingKind::ClusterRoleBinding => "ClusterRoleBinding",
        }
    }
}

/// Whom a binding names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SubjectKind {
    /// A user name.
    User,
    /// A group name.
    Group,
    /// A service account (user `system:serviceaccount:NS:NAME`).
    ServiceAccount,
}

impl SubjectKind {
    /// `User`, `Group` or `ServiceAccount`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
            SubjectKind::ServiceAccount => "ServiceAccount",
        }
    }
}

/// One subject of a binding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Subject {
    /// User, Group or ServiceAccount.
    pub kind: SubjectKind,
    /// The name.
    pub name: String,
    /// A service account's namespace as written (a RoleBinding's own namespace when empty).
    pub namespace: Option<String>,
}

/// A binding's `roleRef`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RoleRef {
    /// Role or ClusterRole.
    pub kind: RoleKind,
    /// The role's name (a Role's namespace is always the binding's).
    pub name: String,
}

/// A RoleBinding or ClusterRoleBinding.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// RoleBinding or ClusterRoleBinding.
    pub kind: BindingKind,
    /// The namespace of a RoleBinding; `None` for a ClusterRoleBinding.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// The role it grants.
    pub role_ref: RoleRef,
    /// Whom it grants it to.
    pub subjects: Vec<Subject>,
    /// Where it was read.
    pub source: Source,
}

impl Binding {
    /// `ClusterRoleBinding admins`, `RoleBinding shop/readers`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.as_str(), self.name),
            None => format!("{} {}", self.kind.as_str(), self.name),
        }
    }

    /// The user name a ServiceAccount subject stands for here, or `None` when it stands
    /// for none (a ClusterRoleBinding's service account without a namespace).
    pub fn service_account_user(&self, subject: &Subject) -> Option<String> {
        let ns = subject.namespace.as_deref().filter(|n| !n.is_empty()).or(self.namespace.as_deref())?;
        Some(crate::user::service_account_user(ns, &subject.name))
    }
}

/// A field error in the API server's words (`Required value: ...`).
fn invalid(obj: &Object, field: impl Into<String>, message: impl Into<String>) -> InputError {
    InputError::field(&obj.source, &obj.display(), field, message)
}

fn not_supported(obj: &Object, field: String, value: &str, supported: &[&str]) -> InputError {
    let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
    invalid(obj, field, format!("Unsupported value: {value:?}: supported values: {}", list.join(", ")))
}

/// Types a kept document, with a word of advice where the strict reader's message alone
/// would leave the user guessing.
fn typed<T: serde::de::DeserializeOwned>(obj: &Object) -> Result<T, InputError> {
    obj.typed_document().map_err(|mut e: InputError| {
        if e.field.as_deref() == Some("roleRef.namespace") {
            e.message.push_str(
                " (a roleRef has no namespace: a RoleBinding grants a Role of its own namespace, \
                 or a ClusterRole; to grant a Role of another namespace, bind it there)",
            );
        }
        e
    })
}

fn rules(obj: &Object, written: Option<Vec<rbac::PolicyRule>>, namespaced: bool) -> Result<Vec<Rule>, InputError> {
    let mut out = Vec::new();
    for (i, r) in written.unwrap_or_default().into_iter().enumerate() {
        let rule = Rule::from_k8s(r);
        let at = |f: &str| format!("rules[{i}].{f}");
        if rule.verbs.is_empty() {
            return Err(invalid(obj, at("verbs"), "Required value: verbs must contain at least one value"));
        }
        if !rule.non_resource_urls.is_empty() {
            if namespaced {
                return Err(invalid(
                    obj,
                    at("nonResourceURLs"),
                    "Invalid value: namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if !rule.api_groups.is_empty() || !rule.resources.is_empty() || !rule.resource_names.is_empty() {
                return Err(invalid(
                    obj,
                    at("nonResourceURLs"),
                    "Invalid value: rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
        } else {
            if rule.api_groups.is_empty() {
                return Err(invalid(
                    obj,
                    at("apiGroups"),
                    "Required value: resource rules must supply at least one api group",
                ));
            }
            if rule.resources.is_empty() {
                return Err(invalid(
                    obj,
                    at("resources"),
                    "Required value: resource rules must supply at least one resource",
                ));
            }
            if !rule.resource_names.is_empty() && rule.resources.len() > 1 {
                return Err(invalid(
                    obj,
                    at("resourceNames"),
                    "Required value: resource names cannot apply to multiple resources",
                ));
            }
        }
        out.push(rule);
    }
    Ok(out)
}

fn selector(obj: &Object, s: LabelSelector, at: &str) -> Result<Selector, InputError> {
    let mut out = Selector { labels: s.match_labels.unwrap_or_default(), expressions: Vec::new() };
    for (j, e) in s.match_expressions.unwrap_or_default().into_iter().enumerate() {
        let field = format!("{at}.matchExpressions[{j}]");
        let values = e.values.unwrap_or_default();
        let needs_values = matches!(e.operator.as_str(), "In" | "NotIn");
        if needs_values && values.is_empty() {
            return Err(invalid(
                obj,
                format!("{field}.values"),
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            ));
        }
        if !needs_values && !values.is_empty() {
            return Err(invalid(
                obj,
                format!("{field}.values"),
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ));
        }
        out.expressions.push(match e.operator.as_str() {
            "In" => Requirement::In(e.key, values),
            "NotIn" => Requirement::NotIn(e.key, values),
            "Exists" => Requirement::Exists(e.key),
            "DoesNotExist" => Requirement::DoesNotExist(e.key),
            other => {
                return Err(not_supported(
                    obj,
                    format!("{field}.operator"),
                    other,
                    &["In", "NotIn", "Exists", "DoesNotExist"],
                ))
            }
        });
    }
    Ok(out)
}

fn check_name(obj: &Object) -> Result<(), InputError> {
    match is_path_segment(&obj.name) {
        Ok(()) => Ok(()),
        Err(why) => Err(invalid(obj, "metadata.name", format!("Invalid value: {:?}: {why}", obj.name))),
    }
}

/// Reads a Role or ClusterRole.
pub fn read_role(obj: &Object) -> Result<Role, InputError> {
    check_name(obj)?;
    let (kind, meta, written, aggregation) = if obj.kind == "Role" {
        let r: rbac::Role = typed(obj)?;
        (RoleKind::Role, r.metadata, r.rules, None)
    } else {
        let r: rbac::ClusterRole = typed(obj)?;
        (RoleKind::ClusterRole, r.metadata, r.rules, r.aggregation_rule)
    };
    let rules = rules(obj, written, kind == RoleKind::Role)?;
    let aggregation = match aggregation {
        None => None,
        Some(a) => {
            let mut sels = Vec::new();
            for (i, s) in a.cluster_role_selectors.unwrap_or_default().into_iter().enumerate() {
                sels.push(selector(obj, s, &format!("aggregationRule.clusterRoleSelectors[{i}]"))?);
            }
            Some(sels)
        }
    };
    Ok(Role {
        kind,
        namespace: obj.namespace.clone(),
        name: obj.name.clone(),
        labels: meta.labels.unwrap_or_default(),
        rules,
        aggregation,
        source: obj.source.clone(),
    })
}

/// Reads a RoleBinding or ClusterRoleBinding, defaulting `apiGroup`s as the API server
/// does and refusing what its validation refuses.
pub fn read_binding(obj: &Object) -> Result<Binding, InputError> {
    check_name(obj)?;
    let namespaced = obj.kind == "RoleBinding";
    let (role_ref, subjects) = if namespaced {
        let b: rbac::RoleBinding = typed(obj)?;
        (b.role_ref, b.subjects)
    } else {
        let b: rbac::ClusterRoleBinding = typed(obj)?;
        (b.role_ref, b.subjects)
    };
    if !role_ref.api_group.is_empty() && role_ref.api_group != GROUP {
        return Err(not_supported(obj, "roleRef.apiGroup".into(), &role_ref.api_group, &[GROUP]));
    }
    let kind = match (role_ref.kind.as_str(), namespaced) {
        ("Role", true) => RoleKind::Role,
        ("ClusterRole", _) => RoleKind::ClusterRole,
        (other, true) => return Err(not_supported(obj, "roleRef.kind".into(), other, &["Role", "ClusterRole"])),
        (other, false) => return Err(not_supported(obj, "roleRef.kind".into(), other, &["ClusterRole"])),
    };
    if role_ref.name.is_empty() {
        return Err(invalid(obj, "roleRef.name", "Required value"));
    }
    if let Err(why) = is_path_segment(&role_ref.name) {
        return Err(invalid(obj, "roleRef.name", format!("Invalid value: {:?}: {why}", role_ref.name)));
    }
    let mut out = Vec::new();
    for (i, s) in subjects.unwrap_or_default().into_iter().enumerate() {
        let at = |f: &str| format!("subjects[{i}].{f}");
        if s.name.is_empty() {
            return Err(invalid(obj, at("name"), "Required value"));
        }
        let group = s.api_group.unwrap_or_default();
        let kind = match s.kind.as_str() {
            "ServiceAccount" => {
                if let Err(why) = is_dns_subdomain(&s.name) {
                    return Err(invalid(obj, at("name"), format!("Invalid value: {:?}: {why}", s.name)));
                }
                if !group.is_empty() {
                    return Err(not_supported(obj, at("apiGroup"), &group, &[""]));
                }
                if !namespaced && s.namespace.as_deref().unwrap_or_default().is_empty() {
                    return Err(invalid(obj, at("namespace"), "Required value"));
                }
                SubjectKind::ServiceAccount
            }
            "User" | "Group" => {
                if !group.is_empty() && group != GROUP {
                    return Err(not_supported(obj, at("apiGroup"), &group, &[GROUP]));
                }
                if s.kind == "User" {
                    SubjectKind::User
                } else {
                    SubjectKind::Group
                }
            }
            other => return Err(not_supported(obj, at("kind"), other, &["ServiceAccount", "User", "Group"])),
        };
        out.push(Subject { kind, name: s.name, namespace: s.namespace.filter(|n| !n.is_empty()) });
    }
    Ok(Binding {
        kind: if namespaced { BindingKind::RoleBinding } else { BindingKind::ClusterRoleBinding },
        namespace: obj.namespace.clone(),
        name: obj.name.clone(),
        role_ref: RoleRef { kind, name: role_ref.name },
        subjects: out,
        source: obj.source.clone(),
    })
}

/// Whether a namespace name is one a service-account user name can carry.
pub(crate) fn valid_namespace(ns: &str) -> bool {
    is_dns_label(ns).is_ok()
}
