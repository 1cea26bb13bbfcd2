//! Policy changes applied in place.
//!
//! [`Live`] keeps an [`Index`] and the views of the ports it watches. Adding, changing or
//! removing a policy resolves that one policy, updates the applicable lists of the
//! classes it selects (before or after), re-walks only those classes, and patches the
//! per-class counts by the pairs whose answer can have changed. Tiers are added,
//! reordered and removed the same way (through their policies). A pod unlike every other
//! gets a class of its own, and a relabelled namespace has its classes read again: their
//! bits in every cached set, and their rows and columns in every view (`recolumn`). A
//! change that splits an equivalence class (an address range that cuts through one), and
//! label changes that address ranges depend on (network sets, namespaces holding them,
//! service accounts in use) rebuild the index, and say so.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use podwall_ir::{
    Cluster, Direction, Endpoint, EndpointId, Namespace, NetworkSet, Node, Policy, PolicyKind, Protocol,
    ServiceAccount, Tier, TierDefault,
};

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

impl Update {
    fn in_place(classes: usize, endpoints: usize) -> Self {
        Update { rebuilt: None, classes, endpoints }
    }
}

/// A watched port: its view and per-class counts.
pub(super) struct Watched {
    pub view: PortView,
    out: Vec<i64>,
    inn: Vec<i64>,
}

/// The endpoints whose answers changes may have turned since a snapshot.
pub(super) enum Touched {
    /// These, by name: a pair with neither end among them was not turned.
    Names(HashSet<String>),
    /// Any.
    All,
}

/// An index that takes policy changes.
pub struct Live {
    pub(super) index: Index,
    pub(super) watched: Vec<Watched>,
    /// How many times the index was rebuilt: class and walk numbers compare only
    /// within one generation.
    pub(super) generation: u64,
    /// Since the last snapshot (its number): the endpoints changes may have turned.
    pub(super) touched: Option<(u64, Touched)>,
    /// Snapshots taken.
    pub(super) snapshots: u64,
}

impl Live {
    /// Indexes the cluster.
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Live { index: Index::build(cluster), watched: vec![], generation: 0, touched: None, snapshots: 0 }
    }

    /// Notes endpoints whose answers a change may have turned (while a snapshot waits).
    fn touch<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        if let Some((_, Touched::Names(set))) = &mut self.touched {
            set.extend(names.into_iter().map(str::to_string));
        }
    }

    /// Notes the current members of `classes` as touched.
    fn touch_classes(&mut self, classes: &Bits) {
        if let Some((_, Touched::Names(set))) = &mut self.touched {
            let index = &self.index;
            for c in classes.iter() {
                set.extend(index.classes[c].members.iter().map(|&e| index.cluster.endpoints[e].name.clone()));
            }
        }
    }

    /// Notes the endpoints of the current cluster that `pick` picks as touched.
    fn touch_where(&mut self, pick: impl Fn(&Endpoint) -> bool) {
        if let Some((_, Touched::Names(set))) = &mut self.touched {
            set.extend(self.index.cluster.endpoints.iter().filter(|e| pick(e)).map(|e| e.name.clone()));
        }
    }

    /// The classes a policy applies to, if the index has it.
    fn applies_of(&self, kind: PolicyKind, namespace: Option<&str>, name: &str) -> Option<Bits> {
        let (ti, pi) = self.index.cluster.policies.find(kind, namespace, name)?;
        Some(self.index.entry(self.index.ids[ti][pi]).applies.clone())
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
        self.generation += 1;
        self.watched.clear();
        for (pr, po) in ports {
            self.watch(pr, po);
        }
        Update { rebuilt: Some(why), classes: self.index.classes.len(), endpoints: self.index.class_of.len() }
    }

    /// Replaces the whole cluster and rebuilds the index, keeping the watched ports:
    /// for changes nothing finer describes. `why` is reported in the update.
    pub fn reset(&mut self, cluster: Arc<Cluster>, why: impl Into<String>) -> Update {
        if let Some((_, t)) = &mut self.touched {
            *t = Touched::All;
        }
        self.rebuild(cluster, why.into())
    }

    /// Registers the address ranges of `policy` the classes were not grouped by. Returns
    /// the first range that cuts through a class (nothing is registered from it on):
    /// then only a rebuild can place the policy.
    fn register_nets(&mut self, policy: &Policy) -> Option<ipnet::IpNet> {
        for net in classes::policy_nets(policy) {
            if self.index.sel.net_bits.contains_key(&net) {
                continue;
            }
            let mut bits = Bits::empty(self.index.classes.len());
            for (ci, c) in self.index.classes.iter().enumerate() {
                let inside =
                    c.members.iter().filter(|&&e| classes::contains(&net, self.index.cluster.endpoints[e].ip)).count();
                if inside == c.members.len() {
                    // An emptied class is inside or not as its last member was.
                    let ghost_in = c.ghost.as_ref().is_none_or(|g| classes::contains(&net, g.ip));
                    if !c.members.is_empty() || ghost_in {
                        bits.insert(ci);
                    }
                } else if inside > 0 {
                    return Some(net);
                }
            }
            self.index.sel.net_bits.insert(net, bits);
        }
        None
    }

    /// Adds a policy to tier `tier`, replacing one of the same kind, namespace and name.
    pub fn upsert_policy(&mut self, tier: &str, policy: Policy) -> Result<Update, String> {
        let Some(ti) = self.index.cluster.policies.tier_index(tier) else {
            return Err(format!("tier {tier:?} does not exist"));
        };
        // An address range the classes were not grouped by must not cut through a class.
        if let Some(net) = self.register_nets(&policy) {
            // What it applied to before and applies to after may have turned.
            let (kind, namespace, name) = (policy.kind, policy.namespace.clone(), policy.name.clone());
            if let Some(before) = self.applies_of(kind, namespace.as_deref(), &name) {
                self.touch_classes(&before);
            }
            let mut cluster = (*self.index.cluster).clone();
            if let Some((oti, opi)) = cluster.policies.find(policy.kind, policy.namespace.as_deref(), &policy.name) {
                cluster.policies.remove(oti, opi);
            }
            cluster.policies.insert(ti, policy);
            let update = self.rebuild(Arc::new(cluster), format!("the range {net} splits an equivalence class"));
            if let Some(after) = self.applies_of(kind, namespace.as_deref(), &name) {
                self.touch_classes(&after);
            }
            return Ok(update);
        }
        let changed = self.place_policy(ti, policy);
        Ok(self.refresh(&changed))
    }

    /// Puts a policy whose ranges are registered into tier `ti` (replacing one of the
    /// same kind, namespace and name) without re-walking; returns the classes whose
    /// answers may have changed.
    fn place_policy(&mut self, ti: usize, policy: Policy) -> Bits {
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
        changed
    }

    /// Removes a policy; `None` when there is none of that kind, namespace and name.
    pub fn remove_policy(&mut self, kind: PolicyKind, namespace: Option<&str>, name: &str) -> Option<Update> {
        let (ti, pi) = self.index.cluster.policies.find(kind, namespace, name)?;
        let changed = self.remove_at(ti, pi);
        Some(self.refresh(&changed))
    }

    /// Adds a tier, or changes the order or default action of one. A new tier holds no
    /// policy and changes no answer; a changed one takes its policies out and puts them
    /// back in their new place, re-walking the classes they apply to.
    pub fn upsert_tier(&mut self, name: &str, order: Option<f64>, default_action: TierDefault) -> Update {
        let mut changed = Bits::empty(self.index.classes.len());
        let mut policies = Vec::new();
        if let Some(ti) = self.index.cluster.policies.tier_index(name) {
            let t = &self.index.cluster.policies.tiers()[ti];
            if t.order == order && t.default_action == default_action {
                return Update::in_place(0, 0);
            }
            policies = self.empty_tier(ti, &mut changed);
            self.drop_tier(ti);
        }
        let tier = Tier { name: name.to_string(), order, default_action, policies: vec![] };
        let ti = Arc::make_mut(&mut self.index.cluster).policies.insert_tier(tier);
        self.index.ids.insert(ti, Vec::new());
        for e in self.index.entries.iter_mut().flatten() {
            if e.tier >= ti {
                e.tier += 1;
            }
        }
        for p in policies {
            // Their ranges were registered when they first came in.
            changed.or_with(&self.place_policy(ti, p));
        }
        self.refresh(&changed)
    }

    /// Removes a tier and its policies; `None` when there is no tier of that name.
    pub fn remove_tier(&mut self, name: &str) -> Option<Update> {
        let ti = self.index.cluster.policies.tier_index(name)?;
        let mut changed = Bits::empty(self.index.classes.len());
        self.empty_tier(ti, &mut changed);
        self.drop_tier(ti);
        Some(self.refresh(&changed))
    }

    /// Takes every policy out of tier `ti`, adding the classes they applied to to
    /// `changed`; returns them.
    fn empty_tier(&mut self, ti: usize, changed: &mut Bits) -> Vec<Policy> {
        let mut out = Vec::new();
        while !self.index.ids[ti].is_empty() {
            out.push(self.index.cluster.policies.tiers()[ti].policies[0].clone());
            changed.or_with(&self.remove_at(ti, 0));
        }
        out
    }

    /// Removes the empty tier `ti` from the cluster and the index.
    fn drop_tier(&mut self, ti: usize) {
        debug_assert!(self.index.ids[ti].is_empty(), "only an empty tier is dropped");
        Arc::make_mut(&mut self.index.cluster).policies.remove_tier(ti);
        self.index.ids.remove(ti);
        for e in self.index.entries.iter_mut().flatten() {
            if e.tier > ti {
                e.tier -= 1;
            }
        }
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
                && r.ip.map(|ip| ip.is_ipv6()) == ep.ip.map(|ip| ip.is_ipv6())
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
    fn add_class(&mut self, ep: Endpoint) -> Update {
        let index = &mut self.index;
        let cluster = Arc::make_mut(&mut index.cluster);
        cluster.namespaces.entry(ep.namespace.clone()).or_insert_with(|| Namespace::implied(&ep.namespace));
        let pos = cluster.endpoints.partition_point(|e| e.name < ep.name);
        cluster.endpoints.insert(pos, ep.clone());
        for c in &mut index.classes {
            c.members.iter_mut().filter(|m| **m >= pos).for_each(|m| *m += 1);
        }
        let k = index.classes.len();
        index.classes.push(super::Class { members: vec![pos], ghost: None });
        index.class_of.insert(pos, k);
        self.recolumn(&[k], Some(&ep))
    }

    /// Brings classes `ks` up to date after their labels changed or one was added (`new`:
    /// the pod of the last class, which the cached sets do not range over yet): their
    /// bits in every cached set, the policies applying to them, and in every watched view
    /// their rows and columns; the counts are then recounted.
    fn recolumn(&mut self, ks: &[usize], new: Option<&Endpoint>) -> Update {
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
        let u = super::selectors::Universe { cluster: &index.cluster, classes: &index.classes };
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
            let port_sets: super::walk::PortSets = (0..index.entries.len() as u32)
                .map(|id| index.policy_ports(id, view.protocol, view.port, &mut view.named))
                .collect();
            // Signatures record which rules name ports some class has; when that changed
            // for a rule, every class takes its signature again.
            let kind = |p: &super::walk::PortSet| std::mem::discriminant(p);
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

    /// Whether some endpoint or network set lives in namespace `name`, so that
    /// selectors read its labels.
    fn namespace_in_use(&self, name: &str) -> bool {
        let index = &self.index;
        let endpoints =
            index.sel.namespaces.get(name).is_some_and(|b| b.iter().any(|c| !index.classes[c].members.is_empty()));
        endpoints || index.cluster.network_sets.iter().any(|s| s.namespace.as_deref() == Some(name))
    }

    /// Classes emptied by removals whose last member `forget` matches can no longer be
    /// joined in place: what they were resolved against is gone.
    fn forget_ghosts(&mut self, forget: impl Fn(&Endpoint) -> bool) {
        for c in &mut self.index.classes {
            if c.ghost.as_deref().is_some_and(&forget) {
                c.ghost = None;
            }
        }
    }

    /// Notes as touched the endpoints of these namespaces and those whose address lies
    /// in one of their network sets (selectors read those sets' namespace labels).
    fn touch_namespaces(&mut self, names: &[String]) {
        let nets: Vec<ipnet::IpNet> = self
            .index
            .cluster
            .network_sets
            .iter()
            .filter(|s| s.namespace.as_ref().is_some_and(|n| names.contains(n)))
            .flat_map(|s| s.nets.iter().copied())
            .collect();
        self.touch_where(|e| names.contains(&e.namespace) || nets.iter().any(|n| classes::contains(n, e.ip)));
    }

    /// Adds or replaces a namespace. See [`Live::upsert_namespaces`].
    pub fn upsert_namespace(&mut self, ns: Namespace) -> Update {
        self.upsert_namespaces(vec![ns])
    }

    /// Adds or replaces namespaces. The classes of a relabelled namespace are read again
    /// in place (see [`Live::recolumn`]); relabelling a namespace that holds network sets
    /// rebuilds the index, since selectors on its labels then pick address ranges, which
    /// cut across classes.
    pub fn upsert_namespaces(&mut self, list: Vec<Namespace>) -> Update {
        let names: Vec<String> = list
            .iter()
            .filter(|ns| self.index.cluster.namespaces.get(&ns.name).is_none_or(|old| old.labels != ns.labels))
            .map(|ns| ns.name.clone())
            .collect();
        let with_sets: Vec<&str> = names
            .iter()
            .filter(|n| self.index.cluster.network_sets.iter().any(|s| s.namespace.as_ref() == Some(*n)))
            .map(String::as_str)
            .collect();
        if !with_sets.is_empty() {
            let why = format!(
                "namespace {} holds network sets and was relabelled: selectors on its labels pick their ranges",
                with_sets.join(", ")
            );
            // Their endpoints, and the addresses of their network sets, read new labels.
            self.touch_namespaces(&names);
            let mut cluster = (*self.index.cluster).clone();
            for ns in list {
                cluster.namespaces.insert(ns.name.clone(), ns);
            }
            return self.rebuild(Arc::new(cluster), why);
        }
        let mut ks: Vec<usize> =
            names.iter().filter_map(|n| self.index.sel.namespaces.get(n)).flat_map(|b| b.iter()).collect();
        ks.sort_unstable();
        // Their classes leave the label indexes under the old labels...
        let index = &mut self.index;
        index.sel.forget_labels(&super::selectors::Universe { cluster: &index.cluster, classes: &index.classes }, &ks);
        // ...the namespaces change (declared or not, each is stored)...
        let cluster = Arc::make_mut(&mut index.cluster);
        for ns in list {
            cluster.namespaces.insert(ns.name.clone(), ns);
        }
        if names.is_empty() {
            return Update::in_place(0, 0);
        }
        // ...and the classes are read again under the new ones.
        self.recolumn(&ks, None)
    }

    /// Removes a namespace; `None` when there is none of that name. In place when no
    /// endpoint or network set lives in it any more; otherwise the index is rebuilt.
    pub fn remove_namespace(&mut self, name: &str) -> Option<Update> {
        if !self.index.cluster.namespaces.contains_key(name) {
            return None;
        }
        if self.namespace_in_use(name) {
            self.touch_namespaces(&[name.to_string()]);
            let mut cluster = (*self.index.cluster).clone();
            cluster.namespaces.remove(name);
            let why = format!("namespace {name} was removed while endpoints or network sets live in it");
            return Some(self.rebuild(Arc::new(cluster), why));
        }
        self.forget_ghosts(|g| g.namespace == name);
        Arc::make_mut(&mut self.index.cluster).namespaces.remove(name);
        Some(Update::in_place(0, 0))
    }

    /// Replaces the network sets. Calico selectors pick their address ranges, and the
    /// ranges group the classes, so different sets rebuild the index.
    pub fn set_network_sets(&mut self, sets: Vec<NetworkSet>) -> Update {
        if self.index.cluster.network_sets == sets {
            return Update::in_place(0, 0);
        }
        let mut names: Vec<&str> = Vec::new();
        let old = &self.index.cluster.network_sets;
        for s in old.iter().filter(|s| !sets.contains(s)).chain(sets.iter().filter(|s| !old.contains(s))) {
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
        let why = format!("network sets changed ({}): selectors pick their ranges", names.join(", "));
        // Endpoints in the ranges of the sets that changed are picked otherwise now.
        let nets: Vec<ipnet::IpNet> = old
            .iter()
            .filter(|s| !sets.contains(s))
            .chain(sets.iter().filter(|s| !old.contains(s)))
            .flat_map(|s| s.nets.iter().copied())
            .collect();
        self.touch_where(|e| nets.iter().any(|n| classes::contains(n, e.ip)));
        let mut cluster = (*self.index.cluster).clone();
        cluster.network_sets = sets;
        self.rebuild(Arc::new(cluster), why)
    }

    /// Replaces the service accounts. Changes to ones no endpoint runs as are made in
    /// place; a service account some endpoint runs as (Calico `pcsa.*` labels and
    /// serviceAccounts selectors read it) rebuilds the index.
    pub fn set_service_accounts(&mut self, accounts: BTreeMap<(String, String), ServiceAccount>) -> Update {
        let old = &self.index.cluster.service_accounts;
        let mut touched: Vec<(String, String)> = Vec::new();
        for (k, v) in old {
            if accounts.get(k) != Some(v) {
                touched.push(k.clone());
            }
        }
        for k in accounts.keys() {
            if !old.contains_key(k) {
                touched.push(k.clone());
            }
        }
        if touched.is_empty() {
            return Update::in_place(0, 0);
        }
        let uses = |ep: &Endpoint, (ns, sa): &(String, String)| ep.namespace == *ns && ep.service_account == *sa;
        let in_use: Vec<String> = touched
            .iter()
            .filter(|k| self.index.cluster.endpoints.iter().any(|e| uses(e, k)))
            .map(|(ns, sa)| format!("{ns}/{sa}"))
            .collect();
        if !in_use.is_empty() {
            self.touch_where(|e| touched.iter().any(|k| uses(e, k)));
            let mut cluster = (*self.index.cluster).clone();
            cluster.service_accounts = accounts;
            let why = format!("service accounts endpoints run as changed ({}): selectors read them", in_use.join(", "));
            return self.rebuild(Arc::new(cluster), why);
        }
        self.forget_ghosts(|g| touched.iter().any(|k| uses(g, k)));
        Arc::make_mut(&mut self.index.cluster).service_accounts = accounts;
        Update::in_place(0, 0)
    }

    /// Replaces the nodes. Nodes reach answers only through what the dialects compile
    /// from them (AdminNetworkPolicy `nodes` peers become address ranges, host-network
    /// pods take their node's address): the index reads none of them, so nothing is
    /// re-answered.
    pub fn set_nodes(&mut self, nodes: BTreeMap<String, Node>) -> Update {
        Arc::make_mut(&mut self.index.cluster).nodes = nodes;
        Update::in_place(0, 0)
    }

    /// Re-walks the changed classes of every watched port and patches the counts.
    fn refresh(&mut self, changed: &Bits) -> Update {
        self.touch_classes(changed);
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
        Update::in_place(changed.count(), endpoints)
    }
}
