//! Policy changes applied in place.
//!
//! [`Live`] keeps an [`Index`] and the views of the ports it watches. Adding, changing or
//! removing a policy resolves that one policy, updates the applicable lists of the
//! classes it selects (before or after), re-walks only those classes, and patches the
//! per-class counts by the pairs whose answer can have changed. A change that splits an
//! equivalence class (an address range that cuts through one) rebuilds the index, and
//! says so.
use std::sync::Arc;

use podwall_ir::{Cluster, Direction, Endpoint, EndpointId, Policy, PolicyKind, Protocol};

use super::matrix::{class_counts, PortView};
use super::{classes, Index, RowSummary};
use crate::Bits;

/// What applying a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Why the whole index was rebuilt, when it was.
    pub rebuilt: Option<String>,
    /// Equivalence classes whose answers were recomputed.
    pub classes: usize,
    /// Endpoints in those classes.
    pub endpoints: usize,
}

/// A watched port: its view and per-class counts.
struct Watched {
    view: PortView,
    out: Vec<i64>,
    inn: Vec<i64>,
}

/// An index that takes policy changes.
pub struct Live {
    index: Index,
    watched: Vec<Watched>,
}

impl Live {
    /// Indexes the cluster.
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Live { index: Index::build(cluster), watched: vec![] }
    }

    /// The current index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Keeps the full answers for (protocol, port) up to date from now on.
    pub fn watch(&mut self, protocol: Protocol, port: Option<u16>) {
        let view = self.index.view(protocol, port);
        let (out, inn) = class_counts(&self.index, &view);
        self.watched.push(Watched { view, out, inn });
    }

    fn find(&self, protocol: Protocol, port: Option<u16>) -> Option<&Watched> {
        self.watched.iter().find(|w| w.view.protocol == protocol && w.view.port == port)
    }

    /// Per endpoint counts for a watched port.
    pub fn summary(&self, protocol: Protocol, port: Option<u16>) -> Option<Vec<RowSummary>> {
        let w = self.find(protocol, port)?;
        let own = self.index.own_traffic_fix(|s, d| w.view.allowed(s, d));
        Some(
            self.index
                .class_of
                .iter()
                .zip(own)
                .map(|(&c, own)| RowSummary {
                    egress_peers: w.out[c] as usize + own,
                    ingress_peers: w.inn[c] as usize + own,
                })
                .collect(),
        )
    }

    /// Whether `src` may open a connection to `dst` (from the watched view when there is one).
    pub fn allowed(&self, src: EndpointId, dst: EndpointId, protocol: Protocol, port: Option<u16>) -> bool {
        match self.find(protocol, port) {
            Some(w) => {
                w.view.allowed(self.index.class_of[src], self.index.class_of[dst])
                    || crate::own_traffic(self.index.cluster(), crate::Addr::Endpoint(src), crate::Addr::Endpoint(dst))
            }
            None => self.index.query(src, dst, protocol, port),
        }
    }

    /// Rebuilds everything from `cluster`, keeping the watched ports.
    fn rebuild(&mut self, cluster: Arc<Cluster>, why: String) -> Update {
        let ports: Vec<(Protocol, Option<u16>)> = self.watched.iter().map(|w| (w.view.protocol, w.view.port)).collect();
        self.index = Index::build(cluster);
        self.watched.clear();
        for (pr, po) in ports {
            self.watch(pr, po);
        }
        Update { rebuilt: Some(why), classes: self.index.classes.len(), endpoints: self.index.class_of.len() }
    }

    /// Adds a policy to tier `tier`, replacing one of the same kind, namespace and name.
    pub fn upsert_policy(&mut self, tier: &str, policy: Policy) -> Result<Update, String> {
        let Some(ti) = self.index.cluster.policies.tier_index(tier) else {
            return Err(format!("tier {tier:?} does not exist"));
        };
        // An address range the classes were not grouped by must not cut through a class.
        for net in classes::policy_nets(&policy) {
            if self.index.sel.net_bits.contains_key(&net) {
                continue;
            }
            let mut bits = Bits::empty(self.index.classes.len());
            let mut split = false;
            for (ci, c) in self.index.classes.iter().enumerate() {
                let cluster = &self.index.cluster;
                let inside = c.members.iter().filter(|&&e| classes::contains(&net, cluster.endpoints[e].ip)).count();
                let all_inside = if c.members.is_empty() {
                    // An emptied class lies where its last member did.
                    c.sample(cluster).is_some_and(|ep| classes::contains(&net, ep.ip))
                } else {
                    inside == c.members.len()
                };
                if all_inside {
                    bits.insert(ci);
                } else if inside > 0 {
                    split = true;
                    break;
                }
            }
            if split {
                let mut cluster = (*self.index.cluster).clone();
                if let Some((oti, opi)) = cluster.policies.find(policy.kind, policy.namespace.as_deref(), &policy.name)
                {
                    cluster.policies.remove(oti, opi);
                }
                cluster.policies.insert(ti, policy);
                return Ok(self.rebuild(Arc::new(cluster), format!("the range {net} splits an equivalence class")));
            }
            self.index.sel.net_bits.insert(net, bits);
        }
        let n = self.index.classes.len();
        let mut changed = Bits::empty(n);
        if let Some((oti, opi)) =
            self.index.cluster.policies.find(policy.kind, policy.namespace.as_deref(), &policy.name)
        {
            changed.or_with(&self.remove_at(oti, opi));
        }
        let pi = Arc::make_mut(&mut self.index.cluster).policies.insert(ti, policy);
        let id = self.index.entries.len() as u32;
        for &later in &self.index.ids[ti][pi..] {
            if let Some(e) = self.index.entries[later as usize].as_mut() {
                e.pos += 1;
            }
        }
        self.index.ids[ti].insert(pi, id);
        let entry = self.index.resolve(ti, pi);
        for c in entry.applies.iter() {
            let list = &self.index.applicable[c];
            let at = list.partition_point(|&x| {
                let e = self.index.entry(x);
                (e.tier, e.pos) < (ti, pi)
            });
            self.index.applicable[c].insert(at, id);
        }
        changed.or_with(&entry.applies);
        self.index.entries.push(Some(entry));
        for w in &mut self.watched {
            let ports = self.index.policy_ports(id, w.view.protocol, w.view.port, &mut w.view.named);
            w.view.port_sets.push(ports);
        }
        Ok(self.refresh(&changed))
    }

    /// Removes a policy; `None` when there is none of that kind, namespace and name.
    pub fn remove_policy(&mut self, kind: PolicyKind, namespace: Option<&str>, name: &str) -> Option<Update> {
        let (ti, pi) = self.index.cluster.policies.find(kind, namespace, name)?;
        let changed = self.remove_at(ti, pi);
        Some(self.refresh(&changed))
    }

    /// Takes the policy at (tier, position) out of the index and the cluster; returns the
    /// classes it applied to.
    fn remove_at(&mut self, ti: usize, pi: usize) -> Bits {
        let index = &mut self.index;
        let id = index.ids[ti].remove(pi);
        for &later in &index.ids[ti][pi..] {
            if let Some(e) = index.entries[later as usize].as_mut() {
                e.pos -= 1;
            }
        }
        let entry = index.entries[id as usize].take().expect("a policy in the tier lists is live");
        for c in entry.applies.iter() {
            index.applicable[c].retain(|&x| x != id);
        }
        Arc::make_mut(&mut index.cluster).policies.remove(ti, pi);
        entry.applies
    }

    /// The class an endpoint like `ep` would join, if one exists: same namespace, labels,
    /// ports, service account, host-network flag and side of every address range.
    fn class_for(&self, ep: &Endpoint) -> Option<usize> {
        let index = &self.index;
        let candidates = index.sel.namespaces.get(&ep.namespace)?;
        candidates.iter().find(|&ci| {
            let c = &index.classes[ci];
            let r = match (c.members.first(), &c.ghost) {
                (Some(&rep), _) => &index.cluster.endpoints[rep],
                (None, Some(ghost)) => ghost,
                (None, None) => return false,
            };
            r.labels == ep.labels
                && r.ports == ep.ports
                && r.service_account == ep.service_account
                && r.host_network == ep.host_network
                && r.ip.is_some() == ep.ip.is_some()
                && index.sel.net_bits.iter().all(|(net, b)| b.contains(ci) == classes::contains(net, ep.ip))
        })
    }

    /// Adds `delta` (±1) endpoints to class `ci` in every watched count.
    fn reweigh(&mut self, ci: usize, delta: i64) {
        let n = self.index.classes.len();
        for w in &mut self.watched {
            for t in 0..n {
                if w.view.allowed(t, ci) {
                    w.out[t] += delta;
                }
                if w.view.allowed(ci, t) {
                    w.inn[t] += delta;
                }
            }
        }
    }

    /// Adds a pod (or replaces the one of the same name). A pod that joins an existing
    /// equivalence class — a new replica — is added in place; one unlike every other
    /// pod, or in a namespace the cluster did not have, rebuilds the index.
    pub fn upsert_endpoint(&mut self, ep: Endpoint) -> Update {
        if self.index.cluster.endpoint(&ep.name).is_some() {
            self.remove_endpoint(&ep.name.clone());
        }
        let Some(ci) = self.class_for(&ep) else {
            let mut cluster = (*self.index.cluster).clone();
            let why = if cluster.namespaces.contains_key(&ep.namespace) {
                format!("{} is unlike every other pod (a new equivalence class)", ep.name)
            } else {
                format!("{} is in a namespace the cluster did not have", ep.name)
            };
            cluster.namespaces.entry(ep.namespace.clone()).or_insert_with(|| podwall_ir::Namespace {
                name: ep.namespace.clone(),
                labels: [(podwall_ir::NAMESPACE_NAME_LABEL.to_string(), ep.namespace.clone())].into(),
                declared: false,
            });
            let pos = cluster.endpoints.partition_point(|e| e.name < ep.name);
            cluster.endpoints.insert(pos, ep);
            return self.rebuild(Arc::new(cluster), why);
        };
        let index = &mut self.index;
        let endpoints = &mut Arc::make_mut(&mut index.cluster).endpoints;
        let pos = endpoints.partition_point(|e| e.name < ep.name);
        endpoints.insert(pos, ep);
        for c in &mut index.classes {
            c.members.iter_mut().filter(|m| **m >= pos).for_each(|m| *m += 1);
        }
        let members = &mut index.classes[ci].members;
        let at = members.partition_point(|&m| m < pos);
        members.insert(at, pos);
        index.class_of.insert(pos, ci);
        self.reweigh(ci, 1);
        Update { rebuilt: None, classes: 1, endpoints: 1 }
    }

    /// Removes a pod; `None` when there is none of that name. Its class keeps its
    /// answers (it only loses weight), so nothing is re-walked.
    pub fn remove_endpoint(&mut self, name: &str) -> Option<Update> {
        let pos = self.index.cluster.endpoint(name)?;
        let index = &mut self.index;
        let gone = Arc::make_mut(&mut index.cluster).endpoints.remove(pos);
        let ci = index.class_of.remove(pos);
        let class = &mut index.classes[ci];
        class.members.retain(|&m| m != pos);
        if class.members.is_empty() {
            class.ghost = Some(Box::new(gone));
        }
        for c in &mut index.classes {
            c.members.iter_mut().filter(|m| **m > pos).for_each(|m| *m -= 1);
        }
        self.reweigh(ci, -1);
        Some(Update { rebuilt: None, classes: 1, endpoints: 1 })
    }

    /// Replaces a namespace's labels. Selectors on namespace labels are resolved again,
    /// so this rebuilds the index.
    pub fn upsert_namespace(&mut self, ns: podwall_ir::Namespace) -> Update {
        let mut cluster = (*self.index.cluster).clone();
        let why = format!("namespace {} changed: selectors on namespace labels are resolved again", ns.name);
        cluster.namespaces.insert(ns.name.clone(), ns);
        self.rebuild(Arc::new(cluster), why)
    }

    /// Re-walks the changed classes of every watched port and patches the counts.
    fn refresh(&mut self, changed: &Bits) -> Update {
        let index = &self.index;
        let n = index.classes.len();
        let weight: Vec<i64> = index.classes.iter().map(|c| c.members.len() as i64).collect();
        for w in &mut self.watched {
            // Many changed classes: recounting everything is cheaper than patching.
            let patch = changed.count() * 8 <= n;
            let old: Vec<(usize, Bits, Bits)> = if patch {
                changed.iter().map(|c| (c, w.view.sides[1].row(c).clone(), w.view.sides[0].row(c).clone())).collect()
            } else {
                vec![]
            };
            index.rewalk(&mut w.view, Direction::Egress, changed);
            index.rewalk(&mut w.view, Direction::Ingress, changed);
            if !patch {
                (w.out, w.inn) = class_counts(index, &w.view);
                continue;
            }
            let (egress, ingress) = (&w.view.sides[1], &w.view.sides[0]);
            for (c, old_e, old_i) in &old {
                let c = *c;
                // The changed class itself: recount exactly.
                w.out[c] = egress.row(c).iter().filter(|&d| ingress.row(d).contains(c)).map(|d| weight[d]).sum();
                w.inn[c] = ingress.row(c).iter().filter(|&s| egress.row(s).contains(c)).map(|s| weight[s]).sum();
                // Others: only pairs with a changed end can have changed.
                let mut diff = old_i.clone();
                diff.xor_with(ingress.row(c));
                for t in diff.iter().filter(|&t| !changed.contains(t)) {
                    if egress.row(t).contains(c) {
                        w.out[t] += if ingress.row(c).contains(t) { weight[c] } else { -weight[c] };
                    }
                }
                let mut diff = old_e.clone();
                diff.xor_with(egress.row(c));
                for t in diff.iter().filter(|&t| !changed.contains(t)) {
                    if ingress.row(t).contains(c) {
                        w.inn[t] += if egress.row(c).contains(t) { weight[c] } else { -weight[c] };
                    }
                }
            }
        }
        let endpoints = changed.iter().map(|c| index.classes[c].members.len()).sum();
        Update { rebuilt: None, classes: changed.count(), endpoints }
    }
}
