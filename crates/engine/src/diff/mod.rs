//! Reachability before and after a change of the input.
//!
//! [`object_changes`] lists what differs between two compiled clusters, object by
//! object (tiers, policies, namespaces, endpoints, network sets, service accounts,
//! nodes). [`diff`] indexes the old cluster in a [`Live`] index watching the ports
//! asked about, applies those changes one by one — in place where `Live` can, with a
//! rebuild that says why where it cannot — and compares the answers before and after
//! per equivalence class ([`Live::changes_since`]).
pub mod judge;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use podwall_ir::{Cluster, Endpoint, EndpointKind, Policy, PolicyKind, Protocol, Tier};

use crate::{Changes, Live, RowSummary, Update};

/// An object of the compiled input.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// A tier (Calico Tier, or one of the tiers AdminNetworkPolicies live in).
    Tier(String),
    /// A policy of any dialect.
    Policy {
        /// Its kind.
        kind: PolicyKind,
        /// Its namespace, for namespaced kinds.
        namespace: Option<String>,
        /// Its name.
        name: String,
    },
    /// A namespace.
    Namespace(String),
    /// A pod (`NS/NAME`) or a workload's pod template (`NS/KIND/NAME`).
    Endpoint {
        /// Its name.
        name: String,
        /// Whether it is a pod template.
        template: bool,
    },
    /// A Calico NetworkSet (`NS/NAME`) or GlobalNetworkSet (`NAME`).
    NetworkSet(String),
    /// A service account.
    ServiceAccount {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A node.
    Node(String),
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Tier(n) => write!(f, "tier {n}"),
            Object::Policy { kind, namespace: Some(ns), name } => write!(f, "{kind} {ns}/{name}"),
            Object::Policy { kind, namespace: None, name } => write!(f, "{kind} {name}"),
            Object::Namespace(n) => write!(f, "namespace {n}"),
            Object::Endpoint { name, template: false } => write!(f, "pod {name}"),
            Object::Endpoint { name, template: true } => write!(f, "pod template {name}"),
            Object::NetworkSet(n) => write!(f, "network set {n}"),
            Object::ServiceAccount { namespace, name } => write!(f, "service account {namespace}/{name}"),
            Object::Node(n) => write!(f, "node {n}"),
        }
    }
}

/// How an object changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum How {
    /// Only in the new cluster.
    Added,
    /// In both, different.
    Changed,
    /// Only in the old cluster.
    Removed,
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            How::Added => "added",
            How::Changed => "changed",
            How::Removed => "removed",
        })
    }
}

/// One object that differs between two clusters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectChange {
    /// The object.
    pub object: Object,
    /// How.
    pub how: How,
    /// What changed, in words, when there is more to say than `how` (a policy's tier,
    /// a namespace's labels).
    pub detail: Option<String>,
}

/// One change applied to the [`Live`] index, and what applying it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The change, in words (e.g. `NetworkPolicy shop/web changed`).
    pub what: String,
    /// What `Live` did: in place (classes re-answered) or rebuilt, and why.
    pub update: Update,
}

/// Reachability before and after.
pub struct Diff {
    /// What differs, object by object.
    pub objects: Vec<ObjectChange>,
    /// The changes as applied to the index, in order.
    pub steps: Vec<Step>,
    /// The endpoint pairs whose answer changed, per port, as endpoints of the new
    /// cluster.
    pub changes: Changes,
    /// Per port (in the order given): per endpoint of the old cluster, the endpoints it
    /// reaches and is reached by.
    pub before: Vec<Vec<RowSummary>>,
    /// The same for the new cluster.
    pub after: Vec<Vec<RowSummary>>,
    /// The index after the changes: it holds the new cluster.
    pub live: Live,
}

fn policy_key(p: &Policy) -> (PolicyKind, Option<String>, String) {
    (p.kind, p.namespace.clone(), p.name.clone())
}

/// Whether two policies are the same but for where they were read.
fn same_policy(a: &Policy, b: &Policy) -> bool {
    a.kind == b.kind
        && a.namespace == b.namespace
        && a.name == b.name
        && a.order == b.order
        && a.selector == b.selector
        && a.ingress == b.ingress
        && a.egress == b.egress
}

/// Whether two endpoints are the same but for where they were read.
fn same_endpoint(a: &Endpoint, b: &Endpoint) -> bool {
    a.name == b.name
        && a.namespace == b.namespace
        && a.labels == b.labels
        && a.ip == b.ip
        && a.ports == b.ports
        && a.service_account == b.service_account
        && a.host_network == b.host_network
        && a.kind == b.kind
}

fn same_tier(a: &Tier, b: &Tier) -> bool {
    a.name == b.name && a.order == b.order && a.default_action == b.default_action
}

/// Policies by (kind, namespace, name), with their tier name; keys defined more than
/// once are returned apart.
type PolicyMap<'c> = BTreeMap<(PolicyKind, Option<String>, String), (&'c str, &'c Policy)>;

fn policies(c: &Cluster) -> (PolicyMap<'_>, BTreeSet<(PolicyKind, Option<String>, String)>) {
    let mut map = BTreeMap::new();
    let mut twice = BTreeSet::new();
    for (ti, p) in c.policies.policies() {
        if map.insert(policy_key(p), (c.policies.tiers()[ti].name.as_str(), p)).is_some() {
            twice.insert(policy_key(p));
        }
    }
    (map, twice)
}

fn endpoint_object(e: &Endpoint) -> Object {
    Object::Endpoint { name: e.name.clone(), template: matches!(e.kind, EndpointKind::Template(_)) }
}

fn labels_words(old: &podwall_ir::LabelMap, new: &podwall_ir::LabelMap) -> String {
    let mut parts = Vec::new();
    for (k, v) in new {
        match old.get(k) {
            None => parts.push(format!("+{k}={v}")),
            Some(o) if o != v => parts.push(format!("{k}: {o} → {v}")),
            _ => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        parts.push(format!("-{k}"));
    }
    format!("labels {}", parts.join(", "))
}

/// What differs between two clusters, object by object, in the order [`diff`] applies
/// the changes: tiers added or changed; policies removed, changed, added; endpoints
/// removed; namespaces added or relabelled; service accounts; network sets; endpoints
/// changed and added; namespaces removed; tiers removed; nodes. Where objects were read
/// from does not count as a change.
pub fn object_changes(old: &Cluster, new: &Cluster) -> Vec<ObjectChange> {
    let mut out = Vec::new();
    let mut push = |object: Object, how: How, detail: Option<String>| out.push(ObjectChange { object, how, detail });
    // Tiers added or changed.
    let old_tiers: HashMap<&str, &Tier> = old.policies.tiers().iter().map(|t| (t.name.as_str(), t)).collect();
    let new_tiers: HashMap<&str, &Tier> = new.policies.tiers().iter().map(|t| (t.name.as_str(), t)).collect();
    for t in new.policies.tiers() {
        match old_tiers.get(t.name.as_str()) {
            None => push(Object::Tier(t.name.clone()), How::Added, None),
            Some(o) if !same_tier(o, t) => {
                let mut what = Vec::new();
                if o.order != t.order {
                    let w = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
                    what.push(format!("order {} → {}", w(o.order), w(t.order)));
                }
                if o.default_action != t.default_action {
                    what.push(format!("default action {:?} → {:?}", o.default_action, t.default_action));
                }
                push(Object::Tier(t.name.clone()), How::Changed, Some(what.join(", ")));
            }
            _ => {}
        }
    }
    // Policies.
    let (old_p, _) = policies(old);
    let (new_p, _) = policies(new);
    let obj = |k: &(PolicyKind, Option<String>, String)| Object::Policy {
        kind: k.0,
        namespace: k.1.clone(),
        name: k.2.clone(),
    };
    for (k, (tier, _)) in &old_p {
        if !new_p.contains_key(k) {
            push(obj(k), How::Removed, Some(format!("tier {tier}")));
        }
    }
    for (k, (tier, p)) in &new_p {
        if let Some((otier, op)) = old_p.get(k) {
            if otier != tier {
                push(obj(k), How::Changed, Some(format!("tier {otier} → {tier}")));
            } else if !same_policy(op, p) {
                push(obj(k), How::Changed, Some(format!("tier {tier}")));
            }
        }
    }
    for (k, (tier, _)) in &new_p {
        if !old_p.contains_key(k) {
            push(obj(k), How::Added, Some(format!("tier {tier}")));
        }
    }
    // Endpoints removed.
    let new_eps: HashMap<&str, &Endpoint> = new.endpoints.iter().map(|e| (e.name.as_str(), e)).collect();
    let old_eps: HashMap<&str, &Endpoint> = old.endpoints.iter().map(|e| (e.name.as_str(), e)).collect();
    for e in old.endpoints.iter().filter(|e| !new_eps.contains_key(e.name.as_str())) {
        push(endpoint_object(e), How::Removed, None);
    }
    // Namespaces added or relabelled.
    for (name, ns) in &new.namespaces {
        match old.namespaces.get(name) {
            None => push(Object::Namespace(name.clone()), How::Added, None),
            Some(o) if o.labels != ns.labels => {
                push(Object::Namespace(name.clone()), How::Changed, Some(labels_words(&o.labels, &ns.labels)))
            }
            // Only a Namespace object added or removed: no selector sees a difference.
            Some(o) if o.declared != ns.declared => {
                let what = if ns.declared { "now declared" } else { "no longer declared" };
                push(Object::Namespace(name.clone()), How::Changed, Some(format!("{what}, same labels")))
            }
            _ => {}
        }
    }
    // Service accounts.
    for (k, sa) in &new.service_accounts {
        let o = Object::ServiceAccount { namespace: k.0.clone(), name: k.1.clone() };
        match old.service_accounts.get(k) {
            None => push(o, How::Added, None),
            Some(x) if x != sa => push(o, How::Changed, Some(labels_words(&x.labels, &sa.labels))),
            _ => {}
        }
    }
    for k in old.service_accounts.keys().filter(|k| !new.service_accounts.contains_key(*k)) {
        push(Object::ServiceAccount { namespace: k.0.clone(), name: k.1.clone() }, How::Removed, None);
    }
    // Network sets.
    let old_sets: HashMap<&str, _> = old.network_sets.iter().map(|s| (s.name.as_str(), s)).collect();
    let new_sets: HashMap<&str, _> = new.network_sets.iter().map(|s| (s.name.as_str(), s)).collect();
    for s in &new.network_sets {
        match old_sets.get(s.name.as_str()) {
            None => push(Object::NetworkSet(s.name.clone()), How::Added, None),
            Some(o) if *o != s => push(Object::NetworkSet(s.name.clone()), How::Changed, None),
            _ => {}
        }
    }
    for s in old.network_sets.iter().filter(|s| !new_sets.contains_key(s.name.as_str())) {
        push(Object::NetworkSet(s.name.clone()), How::Removed, None);
    }
    // Endpoints changed and added.
    for e in &new.endpoints {
        match old_eps.get(e.name.as_str()) {
            Some(o) if !same_endpoint(o, e) => push(endpoint_object(e), How::Changed, None),
            None => push(endpoint_object(e), How::Added, None),
            _ => {}
        }
    }
    // Namespaces removed.
    for name in old.namespaces.keys().filter(|n| !new.namespaces.contains_key(*n)) {
        push(Object::Namespace(name.clone()), How::Removed, None);
    }
    // Tiers removed.
    for t in old.policies.tiers().iter().filter(|t| !new_tiers.contains_key(t.name.as_str())) {
        push(Object::Tier(t.name.clone()), How::Removed, None);
    }
    // Nodes.
    for (name, n) in &new.nodes {
        match old.nodes.get(name) {
            None => push(Object::Node(name.clone()), How::Added, None),
            Some(o) if o != n => push(Object::Node(name.clone()), How::Changed, None),
            _ => {}
        }
    }
    for name in old.nodes.keys().filter(|n| !new.nodes.contains_key(*n)) {
        push(Object::Node(name.clone()), How::Removed, None);
    }
    out
}

/// Applies `changes` (from [`object_changes`]`(old, new)`, in that order) to `live`,
/// which holds `old`: afterwards it holds `new`.
pub fn apply(live: &mut Live, new: &Cluster, changes: &[ObjectChange]) -> Vec<Step> {
    let mut steps = Vec::new();
    let (_, twice_new) = policies(new);
    let (_, twice_old) = policies(live.index().cluster());
    if let Some(k) = twice_new.iter().chain(&twice_old).next() {
        // `Live` knows a policy by kind, namespace and name.
        let what = Object::Policy { kind: k.0, namespace: k.1.clone(), name: k.2.clone() };
        let update =
            live.reset(Arc::new(new.clone()), format!("{what} is defined twice: its copies cannot be told apart"));
        steps.push(Step { what: "every change at once".into(), update });
        return steps;
    }
    let mut step = |what: String, update: Update| steps.push(Step { what, update });
    let mut namespaces_done = false;
    let mut accounts_done = false;
    let mut sets_done = false;
    let mut nodes_done = false;
    for c in changes {
        let what = match &c.detail {
            Some(d) => format!("{} {} ({d})", c.object, c.how),
            None => format!("{} {}", c.object, c.how),
        };
        match (&c.object, c.how) {
            (Object::Tier(name), How::Added | How::Changed) => {
                let Some(t) = new.policies.tiers().iter().find(|t| &t.name == name) else { continue };
                step(what, live.upsert_tier(name, t.order, t.default_action));
            }
            (Object::Tier(name), How::Removed) => {
                if let Some(u) = live.remove_tier(name) {
                    step(what, u);
                }
            }
            (Object::Policy { kind, namespace, name }, How::Removed) => {
                if let Some(u) = live.remove_policy(*kind, namespace.as_deref(), name) {
                    step(what, u);
                }
            }
            (Object::Policy { kind, namespace, name }, How::Added | How::Changed) => {
                let Some((ti, pi)) = new.policies.find(*kind, namespace.as_deref(), name) else { continue };
                let tier = &new.policies.tiers()[ti];
                let update = match live.upsert_policy(&tier.name, tier.policies[pi].clone()) {
                    Ok(u) => u,
                    // Tiers are added before policies, so this does not happen; if it did,
                    // the answers would still be right.
                    Err(e) => live.reset(Arc::new(new.clone()), e),
                };
                step(what, update);
            }
            (Object::Endpoint { name, .. }, How::Removed) => {
                if let Some(u) = live.remove_endpoint(name) {
                    step(what, u);
                }
            }
            (Object::Endpoint { name, .. }, How::Added | How::Changed) => {
                let Some(id) = new.endpoint(name) else { continue };
                step(what, live.upsert_endpoint(new.endpoints[id].clone()));
            }
            (Object::Namespace(_), How::Added | How::Changed) => {
                // Every namespace added or relabelled at once: one rebuild at most.
                if std::mem::replace(&mut namespaces_done, true) {
                    continue;
                }
                let list: Vec<_> = changes
                    .iter()
                    .filter_map(|c| match (&c.object, c.how) {
                        (Object::Namespace(n), How::Added | How::Changed) => new.namespaces.get(n).cloned(),
                        _ => None,
                    })
                    .collect();
                let names: Vec<&str> = list.iter().map(|n| n.name.as_str()).collect();
                let what = format!("namespaces added or relabelled: {}", names.join(", "));
                step(what, live.upsert_namespaces(list));
            }
            (Object::Namespace(name), How::Removed) => {
                if let Some(u) = live.remove_namespace(name) {
                    step(what, u);
                }
            }
            (Object::ServiceAccount { .. }, _) => {
                if !std::mem::replace(&mut accounts_done, true) {
                    step("service accounts".into(), live.set_service_accounts(new.service_accounts.clone()));
                }
            }
            (Object::NetworkSet(_), _) => {
                if !std::mem::replace(&mut sets_done, true) {
                    step("network sets".into(), live.set_network_sets(new.network_sets.clone()));
                }
            }
            (Object::Node(_), _) => {
                if !std::mem::replace(&mut nodes_done, true) {
                    step("nodes".into(), live.set_nodes(new.nodes.clone()));
                }
            }
        }
    }
    steps
}

/// Compares the reachability of `old` and `new` on `ports`: lists the object changes,
/// applies them to a [`Live`] index of `old` watching those ports, and finds the pairs
/// whose answer changed.
pub fn diff(old: Arc<Cluster>, new: &Cluster, ports: &[(Protocol, u16)]) -> Diff {
    let objects = object_changes(&old, new);
    let mut live = Live::new(old);
    for &(pr, po) in ports {
        live.watch(pr, Some(po));
    }
    let summaries = |live: &Live| -> Vec<Vec<RowSummary>> {
        ports
            .iter()
            .map(|&(pr, po)| {
                // Every port was watched above; an unwatched one would be counted afresh.
                live.summary(pr, Some(po)).unwrap_or_else(|| live.index().matrix(pr, Some(po)).summary())
            })
            .collect()
    };
    let before = summaries(&live);
    let snapshot = live.snapshot();
    let steps = apply(&mut live, new, &objects);
    debug_assert!(
        live.index().cluster().endpoints.iter().map(|e| &e.name).eq(new.endpoints.iter().map(|e| &e.name)),
        "after the changes the index holds the new endpoints"
    );
    let changes = live.changes_since(&snapshot);
    let after = summaries(&live);
    Diff { objects, steps, changes, before, after, live }
}
