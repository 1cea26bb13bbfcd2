//! Which objects can bear on the connections between a few named endpoints.
//!
//! A connection is decided by the policies that select its two ends, each rule matched
//! against the other end's labels, its namespace's labels, network sets and nodes. Pods
//! and workloads other than the two ends are never consulted. A Kubernetes
//! NetworkPolicy selects pods of its own namespace only (its `podSelector` is scoped to
//! it), and so does a namespaced Calico NetworkPolicy (cluster-wide selection is what
//! GlobalNetworkPolicy is for). So a question about a few endpoints needs: those
//! endpoints' Pod or workload objects, the namespaced policies of their namespaces, and
//! every object of every other kind (namespaces, tiers, global policies, admin policies,
//! network sets, nodes, service accounts), which are few.
use std::collections::BTreeSet;

use podwall_load::{kind_info, Key};

/// The objects that can change verdicts between some endpoints: a filter for
/// [`podwall_load::load_paths_where`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Relevance {
    pods: BTreeSet<(String, String)>,
    workloads: BTreeSet<(String, String, String)>,
    namespaces: BTreeSet<String>,
}

impl Relevance {
    /// For endpoints named as podwall names them: `NS/NAME` (a Pod) or `NS/KIND/NAME` (a
    /// workload's pod template). `None` when a name has another shape.
    pub fn between(names: &[&str]) -> Option<Self> {
        let mut r = Relevance::default();
        for name in names {
            let parts: Vec<&str> = name.split('/').collect();
            match parts[..] {
                [ns, pod] if !ns.is_empty() && !pod.is_empty() => {
                    r.pods.insert((ns.into(), pod.into()));
                    r.namespaces.insert(ns.into());
                }
                [ns, kind, w] if !ns.is_empty() && !kind.is_empty() && !w.is_empty() => {
                    r.workloads.insert((ns.into(), kind.into(), w.into()));
                    r.namespaces.insert(ns.into());
                }
                _ => return None,
            }
        }
        Some(r)
    }

    /// Whether an object must be read to answer questions about these endpoints.
    pub fn keeps(&self, key: &Key<'_>) -> bool {
        let ns = key.namespace.unwrap_or_default();
        if key.group.is_empty() && key.kind == "Pod" {
            return self.pods.iter().any(|(n, p)| n == ns && p == key.name);
        }
        let Some(info) = kind_info(key.group, key.kind) else { return true };
        if info.is_workload() {
            return self.workloads.iter().any(|(n, k, w)| n == ns && k == key.kind && w == key.name);
        }
        if info.policy && info.is_namespaced() {
            return self.namespaces.contains(ns);
        }
        true
    }
}
