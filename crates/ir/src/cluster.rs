//! The universe policies act on: namespaces, endpoints and network sets.
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use podwall_selector::{Context, LabelSource, Scope};

use crate::{NamedPort, PolicySet};

/// A label map.
pub type LabelMap = BTreeMap<String, String>;

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an object was read: a file (or `-` for standard input) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The file the object came from.
    pub file: String,
    /// The line its document starts on.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A namespace and its labels (which always include `kubernetes.io/metadata.name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: LabelMap,
    /// Whether the input declared it (rather than only referring to it).
    pub declared: bool,
}

impl Namespace {
    /// A namespace objects live in but the input does not declare: it carries only its
    /// name label, as the API server gives every namespace.
    pub fn implied(name: &str) -> Self {
        Namespace {
            name: name.to_string(),
            labels: [(NAMESPACE_NAME_LABEL.to_string(), name.to_string())].into(),
            declared: false,
        }
    }
}

/// What an endpoint stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointKind {
    /// A Pod object.
    Pod,
    /// The pod template of a workload (Deployment, StatefulSet, ...): any pod it would create.
    Template(String),
}

/// Index of an endpoint in [`Cluster::endpoints`].
pub type EndpointId = usize;

/// Something policies apply to: a pod, or a workload's pod template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `NS/NAME` for pods, `NS/KIND/NAME` for templates.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its own labels.
    pub labels: LabelMap,
    /// Its primary address (`status.podIP`); templates have none. Questions about a pod
    /// pair are asked in this address's family.
    pub ip: Option<IpAddr>,
    /// Every address (`status.podIPs`: one per family on dual-stack pods), the primary
    /// first.
    pub addresses: Vec<IpAddr>,
    /// Its declared container ports.
    pub ports: Vec<NamedPort>,
    /// Its service account name.
    pub service_account: String,
    /// A host-network pod: it has its node's address and is not a policy endpoint —
    /// no policy applies to it and no selector matches it; only address rules see it.
    pub host_network: bool,
    /// Pod or template.
    pub kind: EndpointKind,
    /// For a pod: the workload in the input it was made from, at the top of its owner
    /// chain (`NS/KIND/NAME`, e.g. the Deployment of its ReplicaSet); the pod stands for it.
    pub owner: Option<String>,
    /// Where it was read.
    pub source: Option<Source>,
}

impl Endpoint {
    /// Whether the endpoint declares a port with this name, protocol and number.
    pub fn has_named_port(&self, name: &str, protocol: crate::Protocol, port: u16) -> bool {
        self.ports.iter().any(|p| p.name.as_deref() == Some(name) && p.protocol == protocol && p.port == port)
    }
}

/// A Calico NetworkSet or GlobalNetworkSet: labels and address ranges that selectors can pick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkSet {
    /// `NS/NAME` for a NetworkSet, `NAME` for a GlobalNetworkSet.
    pub name: String,
    /// Its namespace; `None` for a GlobalNetworkSet.
    pub namespace: Option<String>,
    /// Its labels.
    pub labels: LabelMap,
    /// Its address ranges.
    pub nets: Vec<IpNet>,
}

/// A service account and its labels (known only when ServiceAccount objects are given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: LabelMap,
}

/// A node and its addresses (AdminNetworkPolicy `nodes` peers, host-network pods).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: LabelMap,
    /// `status.addresses` that parse as IPs.
    pub addresses: Vec<IpAddr>,
}

impl Source {
    /// The source as a finding's origin.
    pub fn origin(&self) -> podwall_findings::Origin {
        podwall_findings::Origin::file(&self.file, self.line)
    }
}

/// A policy podwall read but cannot evaluate (another dialect, a retired API version).
/// Every answer about an endpoint it could select must say that it was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unevaluated {
    /// `Kind ns/name` or `Kind name`.
    pub object: String,
    /// Its namespace: it can select endpoints of that namespace only; `None`: any endpoint.
    pub namespace: Option<String>,
    /// Where it was read.
    pub source: Option<Source>,
}

/// The whole input, compiled: the universe and the policies over it.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Endpoints, sorted by name.
    pub endpoints: Vec<Endpoint>,
    /// Calico network sets.
    pub network_sets: Vec<NetworkSet>,
    /// Service accounts by (namespace, name).
    pub service_accounts: BTreeMap<(String, String), ServiceAccount>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Every policy, in tiers.
    pub policies: PolicySet,
    /// What the compiler noticed and did not model, as findings (never silent: every
    /// command reports them).
    pub warnings: Vec<podwall_findings::Finding>,
    /// Policies read but not evaluated.
    pub unevaluated: Vec<Unevaluated>,
    /// Workloads whose pods are in the input: template name (`NS/KIND/NAME`) → its pods.
    /// The pods stand for the workload, which is not an endpoint of its own.
    pub represented: BTreeMap<String, Vec<String>>,
}

impl Cluster {
    /// The endpoint named `name` (`NS/NAME` or `NS/KIND/NAME`).
    pub fn endpoint(&self, name: &str) -> Option<EndpointId> {
        self.endpoints.binary_search_by(|e| e.name.as_str().cmp(name)).ok()
    }

    /// The policies podwall does not evaluate that could select endpoint `id`.
    pub fn unevaluated_for(&self, id: EndpointId) -> impl Iterator<Item = &Unevaluated> {
        let ns = &self.endpoints[id].namespace;
        self.unevaluated.iter().filter(move |u| u.namespace.as_ref().is_none_or(|n| n == ns))
    }

    /// The (non-host-network) endpoint whose address is `ip`, if any.
    pub fn endpoint_by_ip(&self, ip: IpAddr) -> Option<EndpointId> {
        self.endpoints.iter().position(|e| e.ip == Some(ip) && !e.host_network)
    }

    /// The label view selectors read for endpoint `id`.
    pub fn view(&self, id: EndpointId) -> EndpointView<'_> {
        self.endpoint_view(&self.endpoints[id])
    }

    /// The label view selectors read for an endpoint as if it were in this cluster
    /// (its namespace's and service account's labels are this cluster's).
    pub fn endpoint_view<'a>(&'a self, ep: &'a Endpoint) -> EndpointView<'a> {
        EndpointView {
            endpoint: ep,
            namespace: self.namespaces.get(&ep.namespace),
            service_account: self.service_accounts.get(&(ep.namespace.clone(), ep.service_account.clone())),
        }
    }

    /// The label view selectors read for namespace `name`, if it exists.
    pub fn namespace_view(&self, name: &str) -> Option<NamespaceView<'_>> {
        self.namespaces.get(name).map(|namespace| NamespaceView { namespace })
    }

    /// Every (protocol, port) some endpoint declares, ascending.
    pub fn declared_ports(&self) -> Vec<(crate::Protocol, u16)> {
        let set: std::collections::BTreeSet<(crate::Protocol, u16)> =
            self.endpoints.iter().flat_map(|e| e.ports.iter().map(|p| (p.protocol, p.port))).collect();
        set.into_iter().collect()
    }

    /// The label view selectors read for network set `idx`.
    pub fn network_set_view(&self, idx: usize) -> NetworkSetView<'_> {
        let set = &self.network_sets[idx];
        NetworkSetView { set, namespace: set.namespace.as_ref().and_then(|n| self.namespaces.get(n)) }
    }
}

/// An endpoint with its namespace and service account, as selectors see it.
pub struct EndpointView<'a> {
    /// The endpoint.
    pub endpoint: &'a Endpoint,
    /// Its namespace, if known.
    pub namespace: Option<&'a Namespace>,
    /// Its service account, if a ServiceAccount object was given.
    pub service_account: Option<&'a ServiceAccount>,
}

/// `key` without its first `n` bytes (empty when it is shorter).
fn after(key: &str, n: u8) -> &str {
    key.get(usize::from(n)..).unwrap_or_default()
}

impl LabelSource for EndpointView<'_> {
    fn label(&self, scope: Scope, key: &str) -> Option<&str> {
        let ep = self.endpoint;
        match scope {
            Scope::Pod | Scope::Calico => ep.labels.get(key).map(String::as_str),
            Scope::Namespace => self.namespace.and_then(|n| n.labels.get(key)).map(String::as_str),
            Scope::ServiceAccount => self.service_account.and_then(|s| s.labels.get(key)).map(String::as_str),
            Scope::Context(c) => match c {
                Context::NamespaceName => Some(ep.namespace.as_str()),
                Context::NamespaceLabel(n) => self.label(Scope::Namespace, after(key, n)),
                Context::Orchestrator => Some("k8s"),
                Context::RunsAs { max } => {
                    (ep.service_account.len() <= usize::from(max)).then_some(ep.service_account.as_str())
                }
                Context::ServiceAccountName => self.service_account.map(|s| s.name.as_str()),
                Context::ServiceAccountLabel(n) => self.label(Scope::ServiceAccount, after(key, n)),
            },
        }
    }

    fn namespace(&self) -> Option<&str> {
        Some(self.endpoint.namespace.as_str())
    }
}

/// A network set with its namespace, as selectors see it.
pub struct NetworkSetView<'a> {
    /// The set.
    pub set: &'a NetworkSet,
    /// Its namespace, for a namespaced NetworkSet.
    pub namespace: Option<&'a Namespace>,
}

impl LabelSource for NetworkSetView<'_> {
    fn label(&self, scope: Scope, key: &str) -> Option<&str> {
        let set = self.set;
        match scope {
            Scope::Pod | Scope::Calico => set.labels.get(key).map(String::as_str),
            Scope::Namespace => self.namespace.and_then(|n| n.labels.get(key)).map(String::as_str),
            Scope::ServiceAccount => None,
            Scope::Context(c) => match c {
                Context::NamespaceName => set.namespace.as_deref(),
                Context::NamespaceLabel(n) => self.label(Scope::Namespace, after(key, n)),
                // Facts only endpoints have: a network set reads its own label.
                Context::Orchestrator
                | Context::RunsAs { .. }
                | Context::ServiceAccountName
                | Context::ServiceAccountLabel(_) => set.labels.get(key).map(String::as_str),
            },
        }
    }

    fn namespace(&self) -> Option<&str> {
        self.set.namespace.as_deref()
    }
}

/// A namespace as a namespace selector sees it once the dialect has turned its labels
/// into namespace labels: the labels of a namespace that is itself "in a namespace".
pub struct NamespaceView<'a> {
    /// The namespace.
    pub namespace: &'a Namespace,
}

impl LabelSource for NamespaceView<'_> {
    fn label(&self, scope: Scope, key: &str) -> Option<&str> {
        let ns = self.namespace;
        match scope {
            Scope::Pod | Scope::Calico | Scope::ServiceAccount => None,
            Scope::Namespace => ns.labels.get(key).map(String::as_str),
            Scope::Context(c) => match c {
                Context::NamespaceName => Some(ns.name.as_str()),
                Context::NamespaceLabel(n) => ns.labels.get(after(key, n)).map(String::as_str),
                Context::Orchestrator
                | Context::RunsAs { .. }
                | Context::ServiceAccountName
                | Context::ServiceAccountLabel(_) => None,
            },
        }
    }

    fn namespace(&self) -> Option<&str> {
        Some(self.namespace.name.as_str())
    }
}
