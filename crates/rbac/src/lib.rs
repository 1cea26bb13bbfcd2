//! Kubernetes RBAC as the API server's RBAC authorizer decides it, from manifests.
//!
//! [`Rbac::from_input`] types the Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings the loader kept (and the CustomResourceDefinitions, service
//! accounts and pods), validates them as the API server would admit them, computes
//! ClusterRole aggregation, and indexes the bindings by namespace. On it:
//! [`Rbac::authorize`] answers one request for one user (`can-i`), [`Rbac::rules_for`]
//! lists what a user may do (`can-i --list`).
//!
//! ```
//! use podwall_rbac::{Rbac, Request, User};
//! let input = podwall_load::load_str("rbac.yaml", r#"
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: Role
//! metadata: {name: reader, namespace: prod}
//! rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
//! ---
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: RoleBinding
//! metadata: {name: api-reads, namespace: prod}
//! roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
//! subjects: [{kind: ServiceAccount, name: api}]
//! "#).unwrap();
//! let rbac = Rbac::from_input(&input).unwrap();
//! let api = User::impersonate("system:serviceaccount:prod:api", &[]);
//! assert!(rbac.authorize(&api, &Request::resource("list", "prod", "", "secrets", "", "")).allowed());
//! assert!(!rbac.authorize(&api, &Request::resource("list", "dev", "", "secrets", "", "")).allowed());
//! ```
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod authorize;
pub mod escalate;
pub mod list;
mod names;
pub mod objects;
pub mod resources;
pub mod risky;
pub mod synth;
pub mod user;
pub mod whocan;

use std::collections::{BTreeMap, HashMap};

use podwall_findings::{Finding, ObjectRef, Origin, Severity};
use podwall_load::{Input, InputError, Key, Object, Resource, Source};

pub use authorize::{Decision, Grant, Request, Target};
pub use objects::{Binding, BindingKind, Role, RoleKind, Rule, Subject, SubjectKind};
pub use resources::ApiResources;
pub use user::User;

/// Finding IDs.
pub mod ids {
    /// A binding whose roleRef names a role the input does not hold: it grants nothing.
    pub const MISSING_ROLE: &str = "RB001";
    /// An aggregated ClusterRole whose rules do not settle.
    pub const UNSETTLED_AGGREGATION: &str = "RB002";
    /// An RBAC object given more than once; the one read last is used.
    pub const DUPLICATE: &str = "RB003";
}

/// Whether the loader must type an object for the RBAC questions that need only rules:
/// the RBAC kinds and the CustomResourceDefinitions (whose types `can-i` resolves).
/// Everything else is parsed, not checked: a broken NetworkPolicy does not stop `can-i`.
pub fn needs_rules(key: &Key<'_>) -> bool {
    key.group == objects::GROUP || (key.group == "apiextensions.k8s.io" && key.kind == "CustomResourceDefinition")
}

/// Like [`needs_rules`], and also what tells which identities pods run as: service
/// accounts, pods and workloads.
pub fn needs_identities(key: &Key<'_>) -> bool {
    needs_rules(key)
        || (key.group.is_empty() && matches!(key.kind, "ServiceAccount" | "Pod"))
        || podwall_load::is_workload(key.group, key.kind)
}

/// A service account of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Where it was read.
    pub source: Source,
}

/// A pod, or a workload's pod template, and the service account it runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentity {
    /// Its namespace.
    pub namespace: String,
    /// `name` for a pod, `Kind/name` for a workload.
    pub name: String,
    /// The service account (`default` when the spec names none).
    pub service_account: String,
    /// Where it was read.
    pub source: Source,
}

impl PodIdentity {
    /// The user name its service account has.
    pub fn user(&self) -> String {
        user::service_account_user(&self.namespace, &self.service_account)
    }
}

/// The RBAC state of a cluster, indexed.
#[derive(Clone, Debug, Default)]
pub struct Rbac {
    /// Roles and ClusterRoles (aggregated rules computed).
    pub roles: Vec<Role>,
    /// RoleBindings and ClusterRoleBindings.
    pub bindings: Vec<Binding>,
    /// Service accounts declared in the input.
    pub service_accounts: Vec<ServiceAccount>,
    /// Pods and workload templates with their service accounts.
    pub pods: Vec<PodIdentity>,
    /// The resource types `can-i` resolves names through.
    pub resources: ApiResources,
    /// What reading noticed (bindings to missing roles, ...).
    pub findings: Vec<Finding>,
    role_index: HashMap<(RoleKind, String, String), usize>,
    cluster_bindings: Vec<usize>,
    namespace_bindings: BTreeMap<String, Vec<usize>>,
}

fn object_ref(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    match namespace {
        Some(ns) => ObjectRef::namespaced(objects::GROUP, kind, ns, name),
        None => ObjectRef::cluster(objects::GROUP, kind, name),
    }
}

fn origin(s: &Source) -> Origin {
    Origin::file(&s.file, s.line)
}

/// Keeps the last of objects with one key, as `kubectl apply` would leave them, and
/// notes every place the others were.
fn last_wins<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (String, Option<String>, String),
    source: impl Fn(&T) -> &Source,
    findings: &mut Vec<Finding>,
) -> Vec<T> {
    let mut at: HashMap<(String, Option<String>, String), usize> = HashMap::new();
    let mut earlier: BTreeMap<usize, Vec<Source>> = BTreeMap::new();
    let mut out: Vec<T> = Vec::new();
    for item in items {
        match at.get(&key(&item)) {
            Some(&i) => {
                earlier.entry(i).or_default().push(source(&out[i]).clone());
                out[i] = item;
            }
            None => {
                at.insert(key(&item), out.len());
                out.push(item);
            }
        }
    }
    for (i, places) in earlier {
        let (kind, ns, name) = key(&out[i]);
        let list: Vec<String> = places.iter().map(ToString::to_string).collect();
        findings.push(
            Finding::new(
                ids::DUPLICATE,
                Severity::Medium,
                format!(
                    "given {} times; the one read last (here) is used, not the one at {}",
                    places.len() + 1,
                    list.join(", ")
                ),
            )
            .object(object_ref(&kind, ns.as_deref(), &name))
            .origin(origin(source(&out[i]))),
        );
    }
    out
}

impl Rbac {
    /// Reads the RBAC objects, CRDs, service accounts and pods of the loader's input.
    /// Input the API server would refuse is an error naming file, line and field.
    pub fn from_input(input: &Input) -> Result<Rbac, InputError> {
        let mut roles = Vec::new();
        let mut bindings = Vec::new();
        let mut resources = ApiResources::default();
        let mut service_accounts = Vec::new();
        let mut pods = Vec::new();
        for obj in &input.objects {
            let group = obj.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            match (group, obj.kind.as_str(), &obj.resource) {
                (objects::GROUP, "Role" | "ClusterRole", _) => roles.push(objects::read_role(obj)?),
                (objects::GROUP, "RoleBinding" | "ClusterRoleBinding", _) => bindings.push(objects::read_binding(obj)?),
                ("apiextensions.k8s.io", "CustomResourceDefinition", _) => resources.add_crd(obj)?,
                (_, _, Resource::ServiceAccount(_)) => service_accounts.push(ServiceAccount {
                    namespace: obj.namespace.clone().unwrap_or_default(),
                    name: obj.name.clone(),
                    source: obj.source.clone(),
                }),
                (_, _, Resource::Pod(p)) => pods.push(identity(obj, &obj.name, p.spec.as_ref())),
                (_, _, Resource::Workload(w)) => {
                    pods.push(identity(obj, &format!("{}/{}", w.kind, obj.name), w.template.spec.as_ref()))
                }
                _ => {}
            }
        }
        Ok(Rbac::new(roles, bindings, service_accounts, pods, resources))
    }

    /// Indexes roles and bindings (the last of equal names wins), computes aggregation
    /// and notes bindings to missing roles.
    pub fn new(
        roles: Vec<Role>,
        bindings: Vec<Binding>,
        service_accounts: Vec<ServiceAccount>,
        pods: Vec<PodIdentity>,
        resources: ApiResources,
    ) -> Rbac {
        let mut findings = Vec::new();
        let mut roles = last_wins(
            roles,
            |r| (r.kind.as_str().to_string(), r.namespace.clone(), r.name.clone()),
            |r| &r.source,
            &mut findings,
        );
        let bindings = last_wins(
            bindings,
            |b| (b.kind.as_str().to_string(), b.namespace.clone(), b.name.clone()),
            |b| &b.source,
            &mut findings,
        );
        let agg = aggregate::aggregate(&mut roles);
        for i in agg.unsettled {
            let r = &roles[i];
            findings.push(
                Finding::new(ids::UNSETTLED_AGGREGATION, Severity::Medium, "its aggregation selectors feed each other and its rules never settle; the rules shown are one state the controller passes through")
                    .object(object_ref("ClusterRole", None, &r.name))
                    .origin(origin(&r.source)),
            );
        }
        let role_index = roles
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.kind, r.namespace.clone().unwrap_or_default(), r.name.clone()), i))
            .collect();
        let mut rbac =
            Rbac { roles, bindings, service_accounts, pods, resources, findings, role_index, ..Rbac::default() };
        for (i, b) in rbac.bindings.iter().enumerate() {
            match &b.namespace {
                None => rbac.cluster_bindings.push(i),
                Some(ns) => rbac.namespace_bindings.entry(ns.clone()).or_default().push(i),
            }
        }
        for b in &rbac.bindings {
            if rbac.role_of(b).is_none() {
                let where_ = match (b.role_ref.kind, &b.namespace) {
                    (RoleKind::Role, Some(ns)) => format!("Role {ns}/{}", b.role_ref.name),
                    _ => format!("ClusterRole {}", b.role_ref.name),
                };
                let f = Finding::new(ids::MISSING_ROLE, Severity::Medium, format!("its roleRef names {where_}, which the input does not hold: the binding grants nothing until a role of that name is made, and then grants it at once"))
                    .object(object_ref(b.kind.as_str(), b.namespace.as_deref(), &b.name))
                    .origin(origin(&b.source))
                    .remediation("create the role, or delete the binding");
                rbac.findings.push(f);
            }
        }
        rbac
    }

    /// The role a binding grants: a Role of the binding's own namespace, or a
    /// ClusterRole; `None` when it is missing.
    pub fn role_of(&self, b: &Binding) -> Option<usize> {
        let ns = match b.role_ref.kind {
            RoleKind::Role => b.namespace.clone().unwrap_or_default(),
            RoleKind::ClusterRole => String::new(),
        };
        self.role_index.get(&(b.role_ref.kind, ns, b.role_ref.name.clone())).copied()
    }

    /// The RoleBindings of a namespace, by index.
    pub fn bindings_in(&self, namespace: &str) -> &[usize] {
        self.namespace_bindings.get(namespace).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The ClusterRoleBindings, by index.
    pub fn cluster_bindings(&self) -> &[usize] {
        &self.cluster_bindings
    }

    /// Every namespace that holds a RoleBinding.
    pub fn binding_namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespace_bindings.keys().map(String::as_str)
    }
}

fn identity(obj: &Object, name: &str, spec: Option<&podwall_load::pods::Spec>) -> PodIdentity {
    let sa = spec
        .and_then(|s| s.service_account_name.clone().filter(|n| !n.is_empty()).or_else(|| s.service_account.clone()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    PodIdentity {
        namespace: obj.namespace.clone().unwrap_or_default(),
        name: name.to_string(),
        service_account: sa,
        source: obj.source.clone(),
    }
}
