//! Equivalence classes, selectors as bitsets, and matrices by set operations.
//!
//! - `classes`: endpoints that every rule treats alike share a class.
//! - `selectors`: every selector and peer list becomes a bitset over classes.
//! - `walk`: one direction of one class, walked over whole sets of remote classes.
//! - `matrix`: per (protocol, port), the walks of every distinct signature, and counts.
//! - `groups`: the port ranges every matrix is constant on; allowed pairs between groups.
//! - `live`: policy changes applied in place, re-walking only what they touch.
//! - `changes`: which endpoint pairs a series of changes turned, found per class.
use std::collections::HashMap;
use std::sync::Arc;

use podwall_ir::{Action, Cluster, Direction, EndpointId, Expr, IpVersion, Protocol, Rule, TierDefault};

use crate::Bits;

mod alike;
mod changes;
mod classes;
mod groups;
mod live;
mod matrix;
mod selectors;
mod walk;

pub use changes::{Changes, GroupPair, PortChanges, Snapshot};
pub use groups::{PortRange, PORT_PROTOCOLS};
pub use live::{Live, Update};
pub use matrix::{Matrix, RowSummary};
use selectors::{Selectors, Universe};

/// Endpoints that every rule treats alike. A class emptied by endpoint removals stays,
/// with no members (so no weight), until the next rebuild.
#[derive(Clone, Debug)]
struct Class {
    members: Vec<EndpointId>,
    /// The last member of a class emptied by removals, so that a pod like it can rejoin.
    ghost: Option<Box<podwall_ir::Endpoint>>,
}

impl Class {
    fn rep(&self) -> EndpointId {
        self.members[0]
    }

    /// An endpoint standing for the class: its first member, or the last one it had.
    /// `None` for a class emptied and then forgotten (see `Live`).
    fn sample<'a>(&'a self, cluster: &'a Cluster) -> Option<&'a podwall_ir::Endpoint> {
        match self.members.first() {
            Some(&m) => Some(&cluster.endpoints[m]),
            None => self.ghost.as_deref(),
        }
    }
}

/// The peer side of a rule, resolved: `None` means any.
#[derive(Clone, Debug, Default)]
struct RuleSets {
    source: Option<Arc<Bits>>,
    destination: Option<Arc<Bits>>,
}

impl RuleSets {
    /// (the local end's peers, the remote end's) for a rule judged in `dir`: on ingress
    /// the local end is the destination.
    fn local_remote(&self, dir: Direction) -> (&Option<Arc<Bits>>, &Option<Arc<Bits>>) {
        match dir {
            Direction::Ingress => (&self.destination, &self.source),
            Direction::Egress => (&self.source, &self.destination),
        }
    }
}

/// A policy as the index knows it, under a stable id.
#[derive(Clone, Debug)]
struct Entry {
    /// Its tier.
    tier: usize,
    /// Its current position in the tier (positions shift as policies come and go).
    pos: usize,
    /// The classes it applies to.
    applies: Bits,
    /// Per direction (0 ingress, 1 egress), per rule: the resolved peers.
    sets: [Vec<RuleSets>; 2],
}

/// An index of the cluster for set-based evaluation.
pub struct Index {
    cluster: Arc<Cluster>,
    classes: Vec<Class>,
    class_of: Vec<usize>,
    sel: Selectors,
    /// Per tier, per position: the policy's id.
    ids: Vec<Vec<u32>>,
    /// Per policy id (`None` once removed).
    entries: Vec<Option<Entry>>,
    /// Per class: ids of the policies applying to it, in evaluation order.
    applicable: Vec<Vec<u32>>,
}

pub(super) fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl Index {
    /// Indexes a copy of the cluster (see [`Index::build`] to share one).
    pub fn new(cluster: &Cluster) -> Self {
        Self::build(Arc::new(cluster.clone()))
    }

    /// Indexes the cluster: classes, policy selections, rule peer sets.
    pub fn build(cluster: Arc<Cluster>) -> Self {
        let nets = classes::all_nets(&cluster);
        let (classes, class_of, net_bits) = classes::group(&cluster, &nets);
        let n = classes.len();
        let mut namespaces: HashMap<String, Bits> = HashMap::new();
        let mut not_host = Bits::full(n);
        let mut unaddressed = Bits::empty(n);
        let mut ipv6 = Bits::empty(n);
        for (ci, c) in classes.iter().enumerate() {
            let ep = &cluster.endpoints[c.rep()];
            namespaces.entry(ep.namespace.clone()).or_insert_with(|| Bits::empty(n)).insert(ci);
            if ep.host_network {
                not_host.remove(ci);
            }
            match ep.ip {
                None => unaddressed.insert(ci),
                Some(ip) if ip.is_ipv6() => ipv6.insert(ci),
                Some(_) => {}
            }
        }
        let mut index = Index {
            sel: Selectors::new(net_bits, namespaces, not_host, unaddressed, ipv6),
            cluster,
            classes,
            class_of,
            ids: vec![],
            entries: vec![],
            applicable: vec![Vec::new(); n],
        };
        let shape: Vec<usize> = index.cluster.policies.tiers().iter().map(|t| t.policies.len()).collect();
        for (ti, len) in shape.into_iter().enumerate() {
            let mut ids = Vec::with_capacity(len);
            for pi in 0..len {
                let id = index.entries.len() as u32;
                let entry = index.resolve(ti, pi);
                for c in entry.applies.iter() {
                    // Built in evaluation order, so pushing keeps each list sorted.
                    index.applicable[c].push(id);
                }
                index.entries.push(Some(entry));
                ids.push(id);
            }
            index.ids.push(ids);
        }
        index
    }

    /// Resolves the policy at (tier, position) against the classes.
    fn resolve(&mut self, ti: usize, pi: usize) -> Entry {
        let u = Universe { cluster: &self.cluster, classes: &self.classes };
        let p = &u.cluster.policies.tiers()[ti].policies[pi];
        let applies = self.sel.applies(&u, &p.selector);
        let mut sets = |rs: Option<&[Rule]>| -> Vec<RuleSets> {
            rs.unwrap_or_default()
                .iter()
                .map(|r| RuleSets {
                    source: self.sel.peers(&u, &r.source.peers),
                    destination: self.sel.peers(&u, &r.destination.peers),
                })
                .collect()
        };
        let ingress = sets(p.ingress.as_deref());
        let egress = sets(p.egress.as_deref());
        Entry { tier: ti, pos: pi, applies, sets: [ingress, egress] }
    }

    /// The number of equivalence classes.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The cluster this index was built from (and has applied changes to).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Per endpoint: 1 when it is a pod whose class pair with itself the policies deny —
    /// its traffic to itself, allowed all the same, is then missing from the class counts.
    fn own_traffic_fix(&self, allowed: impl Fn(usize, usize) -> bool) -> Vec<usize> {
        let pods = self.cluster.endpoints.iter().map(|e| e.kind == podwall_ir::EndpointKind::Pod);
        self.class_of.iter().zip(pods).map(|(&c, pod)| (pod && !allowed(c, c)) as usize).collect()
    }

    fn entry(&self, id: u32) -> &Entry {
        self.entries[id as usize].as_ref().expect("applicable lists hold live policies only")
    }

    /// The policies applying to class `local` in `dir`, in evaluation order:
    /// (policy id, tier, rules).
    fn applicable(&self, local: usize, dir: Direction) -> impl Iterator<Item = (u32, usize, &[Rule])> + '_ {
        let tiers = self.cluster.policies.tiers();
        self.applicable[local].iter().filter_map(move |&id| {
            let e = self.entry(id);
            tiers[e.tier].policies[e.pos].rules(dir).map(|r| (id, e.tier, r))
        })
    }

    /// Whether a rule's packet-wide conditions other than the IP family (protocol,
    /// ICMP, source ports) hold for a layer-4 question on `protocol`.
    fn packet_ok(rule: &Rule, protocol: Protocol) -> bool {
        !rule.source_ports
            && rule.protocol.is_none_or(|p| p == protocol)
            && rule.not_protocol != Some(protocol)
            && rule.icmp.is_none()
    }

    /// The IP family of class `c`'s address; `None` for classes without one.
    fn family(&self, c: usize) -> Option<IpVersion> {
        if self.sel.unaddressed.contains(c) {
            None
        } else if self.sel.ipv6.contains(c) {
            Some(IpVersion::V6)
        } else {
            Some(IpVersion::V4)
        }
    }

    /// The family of a packet from class `src` to class `dst`, as [`crate::Packet::ip_version`]
    /// has it: the source's, else the destination's, else IPv4.
    fn pair_family(&self, src: usize, dst: usize) -> IpVersion {
        self.family(src).or(self.family(dst)).unwrap_or(IpVersion::V4)
    }

    /// The remote classes with which local class `local`, in `dir`, exchanges packets of
    /// family `v`; `None` when that is every class.
    fn family_remotes(&self, local: usize, dir: Direction, v: IpVersion) -> Option<Bits> {
        let n = self.classes.len();
        let local_family = self.family(local);
        if let (Direction::Egress, Some(f)) = (dir, local_family) {
            // The local end is the source and has an address: it alone decides.
            return if f == v { None } else { Some(Bits::empty(n)) };
        }
        let mut remotes = match v {
            IpVersion::V6 => self.sel.ipv6.clone(),
            IpVersion::V4 => {
                let mut b = Bits::full(n);
                b.and_not_with(&self.sel.unaddressed);
                b.and_not_with(&self.sel.ipv6);
                b
            }
        };
        // A remote end without an address leaves the family to the local end (ingress:
        // the destination), else to the IPv4 default.
        let fallback = match dir {
            Direction::Ingress => local_family.unwrap_or(IpVersion::V4),
            Direction::Egress => IpVersion::V4,
        };
        if fallback == v {
            remotes.or_with(&self.sel.unaddressed);
        }
        Some(remotes)
    }

    /// Whether endpoint `id` is isolated in `dir`: a policy of a tier whose default
    /// action is Deny applies to it, so traffic no rule admits is dropped. (For
    /// Kubernetes NetworkPolicy: a policy selects the pod for that direction.)
    pub fn isolated(&self, id: EndpointId, dir: Direction) -> bool {
        let tiers = self.cluster.policies.tiers();
        self.applicable(self.class_of[id], dir).any(|(_, ti, _)| tiers[ti].default_action == TierDefault::Deny)
    }

    /// One direction for one pair of classes, walking only the applicable rules with bitset lookups.
    fn decide(&self, local: usize, remote: usize, dir: Direction, pkt: &crate::Packet) -> bool {
        let cluster: &Cluster = &self.cluster;
        let tiers = cluster.policies.tiers();
        let d = dir_index(dir);
        let mut current: Option<usize> = None;
        let mut skip_tier: Option<usize> = None;
        for (id, ti, rules) in self.applicable(local, dir) {
            if let Some(prev) = current.filter(|&c| c != ti) {
                if skip_tier != Some(prev) && tiers[prev].default_action == TierDefault::Deny {
                    return false;
                }
            }
            current = Some(ti);
            if skip_tier == Some(ti) {
                continue;
            }
            for (rule, sets) in rules.iter().zip(&self.entry(id).sets[d]) {
                if rule.action == Action::Log
                    || !Self::packet_ok(rule, pkt.protocol)
                    || rule.ip_version.is_some_and(|v| v != pkt.ip_version(cluster))
                {
                    continue;
                }
                let (src, dst) = match dir {
                    Direction::Ingress => (remote, local),
                    Direction::Egress => (local, remote),
                };
                if sets.source.as_ref().is_some_and(|b| !b.contains(src))
                    || sets.destination.as_ref().is_some_and(|b| !b.contains(dst))
                {
                    continue;
                }
                let ports = &rule.destination;
                if !ports.ports.is_empty() && !ports.ports.iter().any(|pm| crate::eval::port_matches(cluster, pm, pkt))
                {
                    continue;
                }
                if ports.not_ports.iter().any(|pm| crate::eval::port_matches(cluster, pm, pkt)) {
                    continue;
                }
                match rule.action {
                    Action::Allow => return true,
                    Action::Deny => return false,
                    Action::Pass => {
                        skip_tier = Some(ti);
                        break;
                    }
                    Action::Log => {}
                }
            }
        }
        match current {
            Some(last) => skip_tier == Some(last) || tiers[last].default_action == TierDefault::Pass,
            None => true,
        }
    }

    /// The policies that apply to endpoint `id` in `dir`, in evaluation order: (tier
    /// index, policy index) — what [`crate::applicable_policies`] finds, read from the
    /// index (no selector is evaluated).
    pub fn applicable_policies(&self, id: EndpointId, dir: Direction) -> Vec<(usize, usize)> {
        self.applicable(self.class_of[id], dir).map(|(pid, ti, _)| (ti, self.entry(pid).pos)).collect()
    }

    /// Whether endpoint `src` may open a connection to endpoint `dst` on (protocol, port),
    /// at layer 4, from the index (no selector is evaluated).
    pub fn query(&self, src: EndpointId, dst: EndpointId, protocol: Protocol, port: Option<u16>) -> bool {
        let pkt = crate::Packet {
            src: crate::Addr::Endpoint(src),
            dst: crate::Addr::Endpoint(dst),
            protocol,
            port,
            icmp: None,
            http: None,
        };
        if crate::own_traffic(&self.cluster, pkt.src, pkt.dst) {
            return true;
        }
        let (s, d) = (self.class_of[src], self.class_of[dst]);
        self.decide(s, d, Direction::Egress, &pkt) && self.decide(d, s, Direction::Ingress, &pkt)
    }
}

impl Index {
    /// The classes of endpoints the policy at (tier, position) applies to (either
    /// direction it is typed for), as a bitset over [`Index::class_count`] classes.
    pub fn policy_classes(&self, tier: usize, pos: usize) -> &Bits {
        &self.entry(self.ids[tier][pos]).applies
    }

    /// The resolved peer sets of rule `rule` of the policy at (tier, position) in `dir`:
    /// (source classes, destination classes), `None` where the rule names no peers.
    pub fn rule_classes(&self, tier: usize, pos: usize, dir: Direction, rule: usize) -> (Option<&Bits>, Option<&Bits>) {
        let sets = &self.entry(self.ids[tier][pos]).sets[dir_index(dir)][rule];
        (sets.source.as_deref(), sets.destination.as_deref())
    }

    /// The class of endpoint `id`.
    pub fn class_of(&self, id: EndpointId) -> usize {
        self.class_of[id]
    }

    /// The endpoints a label selector picks, as a policy's subject or a peer's selector
    /// picks them: never a host-network pod. Ascending.
    ///
    /// Resolved once per equivalence class and cached, so asking for many selectors
    /// costs the classes, not the endpoints, per selector. The answer is, for every
    /// endpoint, `sel.matches(&cluster.view(id))` and not host-network — the reference
    /// evaluator's own reading, which stays the definition.
    pub fn select(&mut self, sel: &Expr) -> Vec<EndpointId> {
        let u = Universe { cluster: &self.cluster, classes: &self.classes };
        let classes = self.sel.applies(&u, sel);
        let mut out: Vec<EndpointId> = classes.iter().flat_map(|c| self.classes[c].members.iter().copied()).collect();
        out.sort_unstable();
        out
    }

    /// The network sets (Calico's NetworkSet and GlobalNetworkSet, by position in
    /// `Cluster::network_sets`) whose labels a selector matches. Ascending.
    pub fn select_network_sets(&self, sel: &Expr) -> Vec<usize> {
        selectors::network_sets_matching(&self.cluster, sel).collect()
    }
}
