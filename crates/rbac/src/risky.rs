//! Dangerous grants: each binding → role → rule that hands out a permission known to
//! lead to more (reading secrets, running pods as any service account, exec, impersonation,
//! `bind`/`escalate`, wildcards, the kubelet's proxy, token minting, certificate approval,
//! admission webhooks), as findings with the whole path and whom it reaches.
use std::collections::BTreeSet;

use podwall_findings::{Finding, ObjectRef, Origin, Severity};

use crate::authorize::{group_matches, resource_matches, verb_matches};
use crate::objects::{Binding, BindingKind, Rule, Subject, SubjectKind};
use crate::user::{ALL_SERVICE_ACCOUNTS, AUTHENTICATED, UNAUTHENTICATED};
use crate::Rbac;

/// Finding IDs of risky grants.
pub mod ids {
    /// Reads secrets cluster-wide or in kube-system.
    pub const SECRETS: &str = "RB101";
    /// Creates pods or workloads: runs as any service account of the namespace.
    pub const WORKLOADS: &str = "RB102";
    /// pods/exec, attach, portforward, ephemeralcontainers: acts inside running pods.
    pub const EXEC: &str = "RB103";
    /// Impersonates users, groups or service accounts.
    pub const IMPERSONATE: &str = "RB104";
    /// `bind` or `escalate` on roles: grants or writes permissions it does not hold.
    pub const BIND_ESCALATE: &str = "RB105";
    /// Wildcard verbs or resources.
    pub const WILDCARD: &str = "RB106";
    /// nodes/proxy: the kubelet's API, exec in every pod of a node.
    pub const NODES_PROXY: &str = "RB107";
    /// Creates service account tokens.
    pub const TOKEN: &str = "RB108";
    /// Approves certificate signing requests.
    pub const CSR: &str = "RB109";
    /// Edits admission webhooks or policies.
    pub const WEBHOOK: &str = "RB110";
    /// Cluster-admin (or equivalent rules) for service accounts or everyone.
    pub const ADMIN_TO_MANY: &str = "RB111";
    /// A namespace's default service account holds grants every pod there gets.
    pub const DEFAULT_SA: &str = "RB112";
    /// A multi-hop path from a subject to cluster-admin equivalence.
    pub const ESCALATION: &str = "RB200";
}

/// Which names of a resource a rule reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Names {
    /// Every name.
    Any,
    /// Only these.
    Only(Vec<String>),
}

impl Names {
    /// Whether `name` is among them.
    pub fn has(&self, name: &str) -> bool {
        match self {
            Names::Any => true,
            Names::Only(n) => n.iter().any(|x| x == name),
        }
    }
}

/// Whether a rule grants `verb` on `group`/`resource[/sub]`, for which names.
pub fn grants(rule: &Rule, verb: &str, group: &str, resource: &str, sub: &str) -> Option<Names> {
    if !verb_matches(rule, verb) || !group_matches(rule, group) || !resource_matches(rule, resource, sub) {
        return None;
    }
    Some(if rule.resource_names.is_empty() { Names::Any } else { Names::Only(rule.resource_names.clone()) })
}

/// Whether a rule grants any of `verbs` on any of `resources` (`group`, `resource`, `sub`).
pub fn grants_any(rule: &Rule, verbs: &[&str], resources: &[(&str, &str, &str)]) -> Option<Names> {
    let mut names: Option<Names> = None;
    for v in verbs {
        for (g, r, s) in resources {
            match (grants(rule, v, g, r, s), &names) {
                (Some(Names::Any), _) => return Some(Names::Any),
                (Some(n), None) => names = Some(n),
                _ => {}
            }
        }
    }
    names
}

/// A rule with every verb on every resource of every group: cluster-admin's.
pub fn is_admin_rule(rule: &Rule) -> bool {
    rule.resource_names.is_empty()
        && rule.verbs.iter().any(|v| v == "*")
        && rule.api_groups.iter().any(|g| g == "*")
        && rule.resources.iter().any(|r| r == "*")
}

/// Pod-creating resources: a pod, or a workload whose template makes pods (create,
/// or update/patch to change the template's service account).
pub const WORKLOAD_RESOURCES: &[(&str, &str, &str)] = &[
    ("", "pods", ""),
    ("", "replicationcontrollers", ""),
    ("apps", "deployments", ""),
    ("apps", "replicasets", ""),
    ("apps", "statefulsets", ""),
    ("apps", "daemonsets", ""),
    ("batch", "jobs", ""),
    ("batch", "cronjobs", ""),
];

/// Verbs that make or re-make a workload's pods.
pub const WORKLOAD_VERBS: &[&str] = &["create", "update", "patch"];

/// Subresources that act inside a running pod.
pub const EXEC_RESOURCES: &[(&str, &str, &str)] =
    &[("", "pods", "exec"), ("", "pods", "attach"), ("", "pods", "portforward")];

/// What one rule hands out that is risky, with its ID, severity and words.
fn classify(rule: &Rule, cluster_wide: bool, namespace: Option<&str>) -> Vec<(&'static str, Severity, String)> {
    let mut out = Vec::new();
    let scope = match namespace {
        None => "cluster-wide".to_string(),
        Some(ns) => format!("in namespace {ns}"),
    };
    let named = |n: &Names| match n {
        Names::Any => String::new(),
        Names::Only(v) => format!(" (only {})", v.join(", ")),
    };
    if is_admin_rule(rule) {
        out.push((
            ids::WILDCARD,
            if cluster_wide { Severity::Critical } else { Severity::High },
            format!("every verb on every resource {scope}: cluster-admin's rule"),
        ));
        return out;
    }
    if rule.verbs.iter().any(|v| v == "*") || rule.resources.iter().any(|r| r == "*") {
        out.push((
            ids::WILDCARD,
            Severity::High,
            format!(
                "wildcard {} {scope}: it also covers resources and verbs added later",
                if rule.verbs.iter().any(|v| v == "*") { "verbs" } else { "resources" }
            ),
        ));
    }
    let kube_system = namespace == Some("kube-system");
    if cluster_wide || kube_system {
        if let Some(n) = grants_any(rule, &["get", "list", "watch"], &[("", "secrets", "")]) {
            out.push((
                ids::SECRETS,
                if cluster_wide { Severity::Critical } else { Severity::High },
                format!("reads secrets {scope}{}", named(&n)),
            ));
        }
    }
    if let Some(n) = grants_any(rule, WORKLOAD_VERBS, WORKLOAD_RESOURCES) {
        out.push((ids::WORKLOADS, Severity::High, format!("creates or changes pods or workloads {scope}{}: it can run a pod as any service account there and use its token", named(&n))));
    }
    if let Some(n) = grants_any(rule, &["create", "get"], EXEC_RESOURCES) {
        out.push((
            ids::EXEC,
            Severity::High,
            format!(
                "execs, attaches or port-forwards into pods {scope}{}: it acts as their service accounts",
                named(&n)
            ),
        ));
    }
    if let Some(n) = grants_any(rule, &["update", "patch"], &[("", "pods", "ephemeralcontainers")]) {
        out.push((
            ids::EXEC,
            Severity::High,
            format!("adds ephemeral containers to pods {scope}{}: it runs code inside them", named(&n)),
        ));
    }
    let imp: &[(&str, &str, &str)] =
        &[("", "users", ""), ("", "groups", ""), ("", "serviceaccounts", ""), ("authentication.k8s.io", "uids", "")];
    if let Some(n) = grants_any(rule, &["impersonate"], imp) {
        out.push((ids::IMPERSONATE, Severity::Critical, format!("impersonates users, groups or service accounts {scope}{}: it acts as them, `system:masters` included when it may name groups", named(&n))));
    }
    let roles: &[(&str, &str, &str)] =
        &[(crate::objects::GROUP, "roles", ""), (crate::objects::GROUP, "clusterroles", "")];
    if let Some(n) = grants_any(rule, &["bind", "escalate"], roles) {
        out.push((
            ids::BIND_ESCALATE,
            Severity::Critical,
            format!(
                "may `bind` or `escalate` roles {scope}{}: it grants or writes permissions it does not hold",
                named(&n)
            ),
        ));
    }
    if cluster_wide {
        if let Some(n) = grants_any(rule, &["get", "create"], &[("", "nodes", "proxy")]) {
            out.push((ids::NODES_PROXY, Severity::Critical, format!("reaches the kubelet API through nodes/proxy{}: exec in every pod of a node, past admission and audit", named(&n))));
        }
    }
    if let Some(n) = grants_any(rule, &["create"], &[("", "serviceaccounts", "token")]) {
        out.push((ids::TOKEN, Severity::High, format!("mints tokens for service accounts {scope}{}", named(&n))));
    }
    if cluster_wide {
        let approval = grants_any(
            rule,
            &["update", "patch"],
            &[("certificates.k8s.io", "certificatesigningrequests", "approval")],
        );
        let signers = grants_any(rule, &["approve"], &[("certificates.k8s.io", "signers", "")]);
        if approval.is_some() || signers.is_some() {
            out.push((ids::CSR, Severity::High, "approves certificate signing requests: with a signer for API clients, a certificate for any user or group".to_string()));
        }
        let hooks: &[(&str, &str, &str)] = &[
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", ""),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations", ""),
            ("admissionregistration.k8s.io", "validatingadmissionpolicies", ""),
            ("admissionregistration.k8s.io", "validatingadmissionpolicybindings", ""),
        ];
        if let Some(n) = grants_any(rule, &["create", "update", "patch", "delete"], hooks) {
            out.push((
                ids::WEBHOOK,
                Severity::High,
                format!(
                    "edits admission webhooks or policies{}: it can see, rewrite or wave through every request",
                    named(&n)
                ),
            ));
        }
    }
    out
}

fn subjects_text(b: &Binding) -> String {
    let list: Vec<String> = b
        .subjects
        .iter()
        .map(|s| match (s.kind, &s.namespace, &b.namespace) {
            (SubjectKind::ServiceAccount, Some(ns), _) | (SubjectKind::ServiceAccount, None, Some(ns)) => {
                format!("ServiceAccount {ns}/{}", s.name)
            }
            _ => format!("{} {}", s.kind.as_str(), s.name),
        })
        .collect();
    list.join(", ")
}

fn binding_ref(b: &Binding) -> ObjectRef {
    match &b.namespace {
        Some(ns) => ObjectRef::namespaced(crate::objects::GROUP, b.kind.as_str(), ns, &b.name),
        None => ObjectRef::cluster(crate::objects::GROUP, b.kind.as_str(), &b.name),
    }
}

/// Whether a subject is many people at once, or a service account.
fn is_broad(s: &Subject) -> bool {
    s.kind == SubjectKind::ServiceAccount
        || (s.kind == SubjectKind::Group
            && (s.name == AUTHENTICATED || s.name == UNAUTHENTICATED || s.name.starts_with(ALL_SERVICE_ACCOUNTS)))
        || (s.kind == SubjectKind::User && s.name.starts_with(crate::user::SA_PREFIX))
}

/// A service account's grants that whoever runs pods as it gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unlocked {
    /// The account's namespace.
    pub namespace: String,
    /// The account's name; `None` for every account of the namespace (a binding to the
    /// group `system:serviceaccounts:NS`, or to `system:serviceaccounts` with no
    /// namespace).
    pub name: Option<String>,
    /// The bindings that give it grants, as `BINDING → ROLE`.
    pub through: Vec<String>,
}

impl Unlocked {
    /// The user name of the account; `None` for every account of a namespace.
    pub fn user(&self) -> Option<String> {
        self.name.as_ref().map(|n| crate::user::service_account_user(&self.namespace, n))
    }

    /// Whether `s`, a subject of `b`, is this very account.
    fn is_subject(&self, s: &Subject, b: &Binding) -> bool {
        let Some(user) = self.user() else { return false };
        match s.kind {
            SubjectKind::ServiceAccount => {
                let ns = s.namespace.as_deref().or(b.namespace.as_deref()).unwrap_or_default();
                crate::user::service_account_user(ns, &s.name) == user
            }
            SubjectKind::User => s.name == user,
            SubjectKind::Group => false,
        }
    }
}

impl std::fmt::Display for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, self.namespace.as_str()) {
            (Some(n), ns) => write!(f, "ServiceAccount {ns}/{n}")?,
            (None, "") => write!(f, "every service account")?,
            (None, ns) => write!(f, "every service account of {ns}")?,
        }
        write!(f, " ({})", self.through.join(", "))
    }
}

/// How many unlocked identities a finding names before it gives only their number.
const UNLOCKED_NAMED: usize = 5;

fn unlocks_text(list: &[Unlocked], namespace: Option<&str>) -> String {
    let there = match namespace {
        Some(ns) => format!("service accounts of {ns}"),
        None => "service accounts of any namespace".to_string(),
    };
    if list.is_empty() {
        return format!("; no {there} hold grants in the input");
    }
    let named: Vec<String> = list.iter().take(UNLOCKED_NAMED).map(|u| u.to_string()).collect();
    let more = list.len().saturating_sub(UNLOCKED_NAMED);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!("; it unlocks the grants of the {there}: {}{more}", named.join("; "))
}

impl Rbac {
    /// The service accounts whose grants a pod creator gets by running pods as them:
    /// those of `namespace` (a pod uses an account of its own namespace), or of every
    /// namespace for a creator that holds the right cluster-wide (`None`). Each with the
    /// bindings that grant it something, sorted by namespace and name.
    pub fn unlocked_by_pods(&self, namespace: Option<&str>) -> Vec<Unlocked> {
        let mut found: std::collections::BTreeMap<(String, Option<String>), Vec<String>> = Default::default();
        let in_scope = |ns: &str| namespace.is_none_or(|n| n == ns);
        for b in &self.bindings {
            let Some(r) = self.role_of(b) else { continue };
            let role = &self.roles[r];
            if role.rules.is_empty() {
                continue;
            }
            let path = format!("{} → {}", b.display(), role.display());
            for s in &b.subjects {
                let key = match s.kind {
                    SubjectKind::ServiceAccount => {
                        let ns = s.namespace.as_deref().or(b.namespace.as_deref()).unwrap_or_default();
                        in_scope(ns).then(|| (ns.to_string(), Some(s.name.clone())))
                    }
                    SubjectKind::User => crate::user::split_service_account(&s.name)
                        .filter(|(ns, _)| in_scope(ns))
                        .map(|(ns, n)| (ns.to_string(), Some(n.to_string()))),
                    SubjectKind::Group if s.name == ALL_SERVICE_ACCOUNTS => {
                        Some((namespace.unwrap_or_default().to_string(), None))
                    }
                    SubjectKind::Group => s
                        .name
                        .strip_prefix(ALL_SERVICE_ACCOUNTS)
                        .and_then(|rest| rest.strip_prefix(':'))
                        .filter(|ns| !ns.is_empty() && in_scope(ns))
                        .map(|ns| (ns.to_string(), None)),
                };
                if let Some(key) = key {
                    let through = found.entry(key).or_default();
                    if !through.contains(&path) {
                        through.push(path.clone());
                    }
                }
            }
        }
        found.into_iter().map(|((namespace, name), through)| Unlocked { namespace, name, through }).collect()
    }

    /// The risky grants, one finding per binding, rule and kind of risk, worst first.
    pub fn risky(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for b in &self.bindings {
            let Some(r) = self.role_of(b) else { continue };
            if b.subjects.is_empty() {
                continue;
            }
            let role = &self.roles[r];
            let cluster_wide = b.kind == BindingKind::ClusterRoleBinding;
            let mut seen: BTreeSet<(&str, String)> = BTreeSet::new();
            // A role with cluster-admin's rule is reported once, by that rule: every
            // other risk is inside it.
            let admin = role.rules.iter().position(is_admin_rule);
            for (i, rule) in role.rules.iter().enumerate() {
                if admin.is_some_and(|a| a != i) {
                    continue;
                }
                for (id, severity, what) in classify(rule, cluster_wide, b.namespace.as_deref()) {
                    if !seen.insert((id, what.clone())) {
                        continue;
                    }
                    let path = format!("{} → {} → rule {}", b.display(), role.display(), i + 1);
                    let unlocks = if id == ids::WORKLOADS {
                        // What the subjects hold already is not unlocked.
                        let mut list = self.unlocked_by_pods(b.namespace.as_deref());
                        list.retain(|u| !b.subjects.iter().any(|s| u.is_subject(s, b)));
                        unlocks_text(&list, b.namespace.as_deref())
                    } else {
                        String::new()
                    };
                    out.push(
                        Finding::new(
                            id,
                            severity,
                            format!("{} {what}; through {path} ({}){unlocks}", subjects_text(b), rule.summary()),
                        )
                        .object(binding_ref(b))
                        .origin(Origin::file(&b.source.file, b.source.line))
                        .remediation("grant only the verbs and resources needed, in the namespaces needed"),
                    );
                }
            }
            if cluster_wide && role.rules.iter().any(is_admin_rule) {
                for s in b.subjects.iter().filter(|s| is_broad(s)) {
                    out.push(
                        Finding::new(ids::ADMIN_TO_MANY, Severity::Critical, format!("cluster-admin's rule is granted to {} {} through {} → {}", s.kind.as_str(), s.name, b.display(), role.display()))
                            .object(binding_ref(b))
                            .origin(Origin::file(&b.source.file, b.source.line))
                            .remediation("bind cluster-admin to named people only; give service accounts the few permissions they use"),
                    );
                }
            }
            for s in &b.subjects {
                let sa_ns = s.namespace.as_deref().or(b.namespace.as_deref());
                if s.kind == SubjectKind::ServiceAccount && s.name == "default" && !role.rules.is_empty() {
                    let ns = sa_ns.unwrap_or_default();
                    out.push(
                        Finding::new(ids::DEFAULT_SA, Severity::Medium, format!("the default service account of namespace {ns} holds {} through {}: every pod there that names no service account gets it", role.display(), b.display()))
                            .object(binding_ref(b))
                            .origin(Origin::file(&b.source.file, b.source.line))
                            .remediation("give the pods that need it a service account of their own"),
                    );
                }
            }
        }
        out.sort_by(|a, b| {
            b.severity.cmp(&a.severity).then_with(|| a.id.cmp(b.id)).then_with(|| a.origin.cmp(&b.origin))
        });
        out
    }
}
