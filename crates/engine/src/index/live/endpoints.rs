//! Endpoints added, changed and removed: a new member of a class only changes weights; a
//! pod unlike any other gets a class of its own, and classes whose labels change are read
//! again (`recolumn`).
use std::collections::HashMap;
use std::sync::Arc;

use podwall_ir::{Direction, Endpoint, Namespace};

use super::super::classes;
use super::super::matrix::class_counts;
use super::{Live, Update};
use crate::Bits;

impl Live {
    /// The class an endpoint like `ep` would join, if one exists: same namespace, labels,
    /// ports, service account, host-network flag and side of every address range.
    pub(super) fn class_for(&self, ep: &Endpoint) -> Option<usize> {
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
                && r.ip.map(|ip| ip.is_ipv6()) == ep.ip.map(|ip| ip.is_ipv6())
                && index.sel.net_bits.iter().all(|(net, b)| b.contains(ci) == classes::contains(net, ep.ip))
        })
    }

    /// Adds `delta` (±1) endpoints to class `ci` in every watched count.
    pub(super) fn reweigh(&mut self, ci: usize, delta: i64) {
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
    /// equivalence class — a new replica — only adds weight; one unlike every other pod
    /// gets a class of its own, and only that class's row and column are computed.
    pub fn upsert_endpoint(&mut self, ep: Endpoint) -> Update {
        self.touch([ep.name.as_str()]);
        if self.index.cluster.endpoint(&ep.name).is_some() {
            self.remove_endpoint(&ep.name.clone());
        }
        let Some(ci) = self.class_for(&ep) else { return self.add_class(ep) };
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
        Update::in_place(1, 1)
    }

    /// Removes a pod; `None` when there is none of that name. Its class keeps its
    /// answers (it only loses weight), so nothing is re-walked.
    pub fn remove_endpoint(&mut self, name: &str) -> Option<Update> {
        let pos = self.index.cluster.endpoint(name)?;
        self.touch([name]);
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
        Some(Update::in_place(1, 1))
    }

    /// Adds a class for `ep`, which no class fits.
    pub(super) fn add_class(&mut self, ep: Endpoint) -> Update {
        let index = &mut self.index;
        let cluster = Arc::make_mut(&mut index.cluster);
        cluster.namespaces.entry(ep.namespace.clone()).or_insert_with(|| Namespace::implied(&ep.namespace));
        let pos = cluster.endpoints.partition_point(|e| e.name < ep.name);
        cluster.endpoints.insert(pos, ep.clone());
        for c in &mut index.classes {
            c.members.iter_mut().filter(|m| **m >= pos).for_each(|m| *m += 1);
        }
        let k = index.classes.len();
        index.classes.push(super::super::Class { members: vec![pos], ghost: None });
        index.class_of.insert(pos, k);
        self.recolumn(&[k], Some(&ep))
    }

    /// Brings classes `ks` up to date after their labels changed or one was added (`new`:
    /// the pod of the last class, which the cached sets do not range over yet): their
    /// bits in every cached set, the policies applying to them, and in every watched view
    /// their rows and columns; the counts are then recounted.
    pub(super) fn recolumn(&mut self, ks: &[usize], new: Option<&Endpoint>) -> Update {
        let index = &mut self.index;
        // The policies' rule sets share the cached peer sets; let go of them so that the
        // caches change in place, and take them back by address afterwards.
        let mut held: Vec<usize> = Vec::new();
        for e in index.entries.iter_mut().flatten() {
            for rs in e.sets.iter_mut().flatten() {
                for side in [&mut rs.source, &mut rs.destination] {
                    held.push(side.take().map_or(0, |a| Arc::as_ptr(&a) as usize));
                }
            }
        }
        let n = index.classes.len();
        if let Some(ep) = new {
            index.sel.grow(ep);
            for e in index.entries.iter_mut().flatten() {
                e.applies.grow(n);
            }
            index.applicable.push(Vec::new());
        }
        let u = super::super::selectors::Universe { cluster: &index.cluster, classes: &index.classes };
        index.sel.recolumn(&u, ks);
        let by_addr: HashMap<usize, Arc<Bits>> =
            index.sel.peer_sets().map(|a| (Arc::as_ptr(a) as usize, a.clone())).collect();
        let mut held = held.into_iter();
        for e in index.entries.iter_mut().flatten() {
            for rs in e.sets.iter_mut().flatten() {
                for side in [&mut rs.source, &mut rs.destination] {
                    let addr = held.next().unwrap_or(0);
                    *side = (addr != 0).then(|| by_addr[&addr].clone());
                }
            }
        }
        // Which policies apply to the classes read again.
        let tiers = index.cluster.policies.tiers();
        for &k in ks {
            let Some(ep) = index.classes[k].sample(&index.cluster) else { continue };
            let view = index.cluster.endpoint_view(ep);
            let host = ep.host_network;
            let mut list = Vec::new();
            for ids in &index.ids {
                for &id in ids {
                    let Some(e) = index.entries[id as usize].as_mut() else { continue };
                    let on = !host && tiers[e.tier].policies[e.pos].selector.matches(&view);
                    e.applies.set(k, on);
                    if on {
                        list.push(id);
                    }
                }
            }
            index.applicable[k] = list;
        }
        let mut in_k = Bits::empty(n);
        ks.iter().for_each(|&k| in_k.insert(k));
        for w in &mut self.watched {
            let view = &mut w.view;
            for (name, b) in view.named.iter_mut() {
                let b = Arc::make_mut(b);
                b.grow(n);
                for &k in ks {
                    let has = index.classes[k].sample(&index.cluster).is_some_and(|ep| {
                        view.port.is_some_and(|p| !ep.host_network && ep.has_named_port(name, view.protocol, p))
                    });
                    b.set(k, has);
                }
            }
            let port_sets: super::super::walk::PortSets = (0..index.entries.len() as u32)
                .map(|id| index.policy_ports(id, view.protocol, view.port, &mut view.named))
                .collect();
            // Signatures record which rules name ports some class has; when that changed
            // for a rule, every class takes its signature again.
            let kind = |p: &super::super::walk::PortSet| std::mem::discriminant(p);
            let same_kinds = view.port_sets.iter().zip(&port_sets).all(|(a, b)| {
                a.iter()
                    .zip(b)
                    .all(|(ra, rb)| ra.len() == rb.len() && ra.iter().zip(rb).all(|(x, y)| kind(x) == kind(y)))
            });
            view.port_sets = port_sets;
            for dir in [Direction::Ingress, Direction::Egress] {
                index.recolumn_side(view, dir, ks, &in_k, !same_kinds);
            }
            (w.out, w.inn) = class_counts(index, view);
        }
        let endpoints = ks.iter().map(|&k| index.classes[k].members.len()).sum();
        // Walks were renumbered and grew: snapshots compare across this as across a
        // rebuild, through the endpoints noted as touched.
        self.generation += 1;
        self.touch_classes(&in_k);
        Update::in_place(ks.len(), endpoints)
    }
}
