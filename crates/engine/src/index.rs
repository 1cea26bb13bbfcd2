//! Equivalence classes, selectors as bitsets, and matrices by set operations.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use podwall_ir::Expr;
use podwall_ir::{
    Action, Cluster, Direction, EndpointId, LabelSource, NamedPort, Peer, PortMatch, Ports, Protocol, Rule, Scope,
    TierDefault,
};
use rayon::prelude::*;

use crate::Bits;

/// Endpoints that every rule treats alike: same namespace, labels, ports, service
/// account, host-network flag, and the same answer to every address range in the
/// policies.
#[derive(Clone, Debug)]
struct Class {
    members: Vec<EndpointId>,
}

impl Class {
    fn rep(&self) -> EndpointId {
        self.members[0]
    }
}

/// The peer side of a rule, resolved: `None` means any.
#[derive(Clone, Debug, Default)]
struct RuleSets {
    source: Option<Arc<Bits>>,
    destination: Option<Arc<Bits>>,
}

/// An index of the cluster for set-based evaluation.
pub struct Index {
    cluster: Arc<Cluster>,
    classes: Vec<Class>,
    class_of: Vec<usize>,
    /// Per tier, per policy, per direction (0 ingress, 1 egress), per rule.
    rules: Vec<Vec<[Vec<RuleSets>; 2]>>,
    /// Per class: the (tier, policy) pairs that apply to it, in evaluation order.
    applicable: Vec<Vec<(u32, u32)>>,
    /// Per tier, per policy: a number unique in the policy set.
    policy_ids: Vec<Vec<u32>>,
}

/// Builds selector bitsets, with caches.
struct Resolver<'a> {
    cluster: &'a Cluster,
    classes: &'a [Class],
    keys: HashMap<(Scope, String), (HashMap<String, Bits>, Bits)>,
    namespaces: HashMap<String, Bits>,
    exprs: HashMap<Expr, Arc<Bits>>,
    peers: HashMap<Vec<Peer>, Arc<Bits>>,
    net_bits: HashMap<IpNet, Bits>,
    not_host: Bits,
}

impl Resolver<'_> {
    fn n(&self) -> usize {
        self.classes.len()
    }

    fn key(&mut self, scope: Scope, key: &str) -> &(HashMap<String, Bits>, Bits) {
        let k = (scope, key.to_string());
        if !self.keys.contains_key(&k) {
            let n = self.n();
            let mut values: HashMap<String, Bits> = HashMap::new();
            let mut has = Bits::empty(n);
            for (ci, c) in self.classes.iter().enumerate() {
                if let Some(v) = self.cluster.view(c.rep()).label(scope, key) {
                    has.insert(ci);
                    values.entry(v.to_string()).or_insert_with(|| Bits::empty(n)).insert(ci);
                }
            }
            self.keys.insert(k.clone(), (values, has));
        }
        &self.keys[&k]
    }

    fn union_where(&mut self, scope: Scope, key: &str, pred: impl Fn(&str) -> bool) -> Bits {
        let n = self.n();
        let (values, _) = self.key(scope, key);
        let mut out = Bits::empty(n);
        for (v, b) in values {
            if pred(v) {
                out.or_with(b);
            }
        }
        out
    }

    /// The classes whose labels match `e` (host-network classes included; callers mask).
    fn expr(&mut self, e: &Expr) -> Arc<Bits> {
        if let Some(b) = self.exprs.get(e) {
            return b.clone();
        }
        let n = self.n();
        let b = match e {
            Expr::All | Expr::Global => Bits::full(n),
            Expr::Has(l) => self.key(l.scope, &l.key).1.clone(),
            Expr::Eq(l, v) => self.key(l.scope, &l.key).0.get(v).cloned().unwrap_or_else(|| Bits::empty(n)),
            Expr::Ne(l, v) => self.key(l.scope, &l.key).0.get(v).cloned().unwrap_or_else(|| Bits::empty(n)).not(),
            Expr::In(l, set) => self.union_where(l.scope, &l.key, |v| set.contains(v)),
            Expr::NotIn(l, set) => self.union_where(l.scope, &l.key, |v| set.contains(v)).not(),
            Expr::Contains(l, s) => self.union_where(l.scope, &l.key, |v| v.contains(s.as_str())),
            Expr::StartsWith(l, s) => self.union_where(l.scope, &l.key, |v| v.starts_with(s.as_str())),
            Expr::EndsWith(l, s) => self.union_where(l.scope, &l.key, |v| v.ends_with(s.as_str())),
            Expr::InNamespace(ns) => self.namespaces.get(ns).cloned().unwrap_or_else(|| Bits::empty(n)),
            Expr::Not(inner) => self.expr(inner).not(),
            Expr::And(es) => {
                let mut acc = Bits::full(n);
                for x in es {
                    acc.and_with(&self.expr(x));
                }
                acc
            }
            Expr::Or(es) => {
                let mut acc = Bits::empty(n);
                for x in es {
                    acc.or_with(&self.expr(x));
                }
                acc
            }
        };
        let b = Arc::new(b);
        self.exprs.insert(e.clone(), b.clone());
        b
    }

    fn nets(&self, nets: &[IpNet]) -> Bits {
        let mut out = Bits::empty(self.n());
        for net in nets {
            if let Some(b) = self.net_bits.get(net) {
                out.or_with(b);
            }
        }
        out
    }

    /// The classes a selector picks as a peer: endpoints by labels, and (Calico) the
    /// addresses of matching network sets.
    fn selected(&mut self, sel: &Expr, network_sets: bool) -> Bits {
        let mut b = (*self.expr(sel)).clone();
        b.and_with(&self.not_host);
        if network_sets {
            for i in 0..self.cluster.network_sets.len() {
                if sel.matches(&self.cluster.network_set_view(i)) {
                    let nb = self.nets(&self.cluster.network_sets[i].nets);
                    b.or_with(&nb);
                }
            }
        }
        b
    }

    fn peer(&mut self, p: &Peer) -> Bits {
        let n = self.n();
        let mut b = match &p.selector {
            Some(s) => self.selected(s, p.network_sets),
            None => Bits::full(n),
        };
        if let Some(s) = &p.not_selector {
            b.and_not_with(&self.selected(s, p.network_sets));
        }
        if !p.nets.is_empty() {
            b.and_with(&self.nets(&p.nets));
        }
        b.and_not_with(&self.nets(&p.not_nets));
        b
    }

    fn peers(&mut self, peers: &[Peer]) -> Option<Arc<Bits>> {
        if peers.is_empty() {
            return None;
        }
        if let Some(b) = self.peers.get(peers) {
            return Some(b.clone());
        }
        let mut acc = Bits::empty(self.n());
        for p in peers {
            acc.or_with(&self.peer(p));
        }
        let acc = Arc::new(acc);
        self.peers.insert(peers.to_vec(), acc.clone());
        Some(acc)
    }
}

/// Every address range the policies and network sets mention.
fn all_nets(cluster: &Cluster) -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = cluster.network_sets.iter().flat_map(|s| s.nets.iter().copied()).collect();
    for (_, p) in cluster.policies.policies() {
        for rules in [&p.ingress, &p.egress].into_iter().flatten() {
            for r in rules {
                for peer in r.source.peers.iter().chain(&r.destination.peers) {
                    nets.extend(peer.nets.iter().chain(&peer.not_nets).copied());
                }
            }
        }
    }
    nets.sort();
    nets.dedup();
    nets
}

/// For each address, which of `nets` contain it: one hash lookup per prefix length.
struct NetLookup {
    by_len: Vec<(bool, u8, HashMap<IpNet, u32>)>,
    zero: Vec<u32>,
}

impl NetLookup {
    fn new(nets: &[IpNet]) -> Self {
        let mut by: HashMap<(bool, u8), HashMap<IpNet, u32>> = HashMap::new();
        let mut zero = Vec::new();
        for (i, n) in nets.iter().enumerate() {
            if n.prefix_len() == 0 {
                zero.push(i as u32);
            }
            by.entry((matches!(n, IpNet::V6(_)), n.prefix_len())).or_default().insert(*n, i as u32);
        }
        let mut by_len: Vec<_> = by.into_iter().map(|((v6, l), m)| (v6, l, m)).collect();
        by_len.sort_by_key(|(v6, l, _)| (*v6, *l));
        NetLookup { by_len, zero }
    }

    fn containing(&self, ip: Option<IpAddr>) -> Vec<u32> {
        let Some(ip) = ip else { return self.zero.clone() };
        let mut out = Vec::new();
        for (v6, len, map) in &self.by_len {
            if *v6 != ip.is_ipv6() {
                continue;
            }
            if let Ok(net) = IpNet::new(ip, *len) {
                if let Some(i) = map.get(&net.trunc()) {
                    out.push(*i);
                }
            }
        }
        out.sort_unstable();
        out
    }
}

type ClassKey<'a> = (&'a str, &'a podwall_ir::LabelMap, &'a [NamedPort], &'a str, bool, Vec<u32>);

impl Index {
    /// Indexes a copy of the cluster (see [`Index::build`] to share one).
    pub fn new(cluster: &Cluster) -> Self {
        Self::build(Arc::new(cluster.clone()))
    }

    /// Indexes the cluster: classes, policy selections, rule peer sets.
    pub fn build(shared: Arc<Cluster>) -> Self {
        let cluster: &Cluster = &shared;
        let nets = all_nets(cluster);
        let lookup = NetLookup::new(&nets);
        let mut classes: Vec<Class> = Vec::new();
        let mut class_of = Vec::with_capacity(cluster.endpoints.len());
        let mut sigs: Vec<Vec<u32>> = Vec::new();
        let mut by_key: HashMap<ClassKey<'_>, usize> = HashMap::new();
        for (id, ep) in cluster.endpoints.iter().enumerate() {
            let sig = lookup.containing(ep.ip);
            let key = (
                ep.namespace.as_str(),
                &ep.labels,
                ep.ports.as_slice(),
                ep.service_account.as_str(),
                ep.host_network,
                sig,
            );
            let next = classes.len();
            let ci = *by_key.entry(key).or_insert(next);
            if ci == next {
                sigs.push(lookup.containing(ep.ip));
                classes.push(Class { members: vec![] });
            }
            classes[ci].members.push(id);
            class_of.push(ci);
        }
        let n = classes.len();
        let mut net_bits: HashMap<IpNet, Bits> = HashMap::new();
        for (ci, sig) in sigs.iter().enumerate() {
            for &i in sig {
                net_bits.entry(nets[i as usize]).or_insert_with(|| Bits::empty(n)).insert(ci);
            }
        }
        let mut namespaces: HashMap<String, Bits> = HashMap::new();
        let mut not_host = Bits::full(n);
        for (ci, c) in classes.iter().enumerate() {
            let ep = &cluster.endpoints[c.rep()];
            namespaces.entry(ep.namespace.clone()).or_insert_with(|| Bits::empty(n)).insert(ci);
            if ep.host_network {
                let mut h = Bits::empty(n);
                h.insert(ci);
                not_host.and_not_with(&h);
            }
        }
        let mut r = Resolver {
            cluster,
            classes: &classes,
            keys: HashMap::new(),
            namespaces,
            exprs: HashMap::new(),
            peers: HashMap::new(),
            net_bits,
            not_host: not_host.clone(),
        };
        let mut applies = Vec::new();
        let mut rules = Vec::new();
        for tier in cluster.policies.tiers() {
            let mut tier_applies = Vec::new();
            let mut tier_rules = Vec::new();
            for p in &tier.policies {
                let mut b = (*r.expr(&p.selector)).clone();
                b.and_with(&not_host);
                tier_applies.push(b);
                let sets = |r: &mut Resolver, rs: Option<&[Rule]>| -> Vec<RuleSets> {
                    rs.unwrap_or_default()
                        .iter()
                        .map(|rule| RuleSets {
                            source: r.peers(&rule.source.peers),
                            destination: r.peers(&rule.destination.peers),
                        })
                        .collect()
                };
                tier_rules.push([sets(&mut r, p.ingress.as_deref()), sets(&mut r, p.egress.as_deref())]);
            }
            applies.push(tier_applies);
            rules.push(tier_rules);
        }
        drop(r);
        let mut applicable: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        let mut policy_ids = Vec::new();
        let mut next = 0u32;
        for (ti, tier_applies) in applies.iter().enumerate() {
            let mut ids = Vec::new();
            for (pi, b) in tier_applies.iter().enumerate() {
                for c in b.iter() {
                    applicable[c].push((ti as u32, pi as u32));
                }
                ids.push(next);
                next += 1;
            }
            policy_ids.push(ids);
        }
        Index { cluster: shared.clone(), classes, class_of, rules, applicable, policy_ids }
    }

    /// The number of equivalence classes.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The cluster this index was built from.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Destination classes whose declared ports let a port entry match (protocol, port).
    fn port_bits(
        &self,
        pm: &PortMatch,
        protocol: Protocol,
        port: Option<u16>,
        named: &mut HashMap<String, Arc<Bits>>,
    ) -> PortSet {
        if pm.protocol.is_some_and(|p| p != protocol) {
            return PortSet::Nothing;
        }
        match &pm.ports {
            Ports::Any => PortSet::All,
            Ports::Range(lo, hi) if port.is_some_and(|p| *lo <= p && p <= *hi) => PortSet::All,
            Ports::Range(..) => PortSet::Nothing,
            Ports::Named(name) => {
                let n = self.classes.len();
                let b = named.entry(name.clone()).or_insert_with(|| {
                    let mut b = Bits::empty(n);
                    if let Some(port) = port {
                        for (ci, c) in self.classes.iter().enumerate() {
                            let ep = &self.cluster.endpoints[c.rep()];
                            if !ep.host_network && ep.has_named_port(name, protocol, port) {
                                b.insert(ci);
                            }
                        }
                    }
                    Arc::new(b)
                });
                if b.none() {
                    PortSet::Nothing
                } else {
                    PortSet::Some(b.clone())
                }
            }
        }
    }

    /// The destination classes a rule's port lists accept.
    fn rule_port_bits(
        &self,
        rule: &Rule,
        protocol: Protocol,
        port: Option<u16>,
        named: &mut HashMap<String, Arc<Bits>>,
    ) -> PortSet {
        let n = self.classes.len();
        let mut acc = PortSet::All;
        if !rule.destination.ports.is_empty() {
            acc = PortSet::Nothing;
            for pm in &rule.destination.ports {
                acc = match (acc, self.port_bits(pm, protocol, port, named)) {
                    (PortSet::All, _) | (_, PortSet::All) => PortSet::All,
                    (a, PortSet::Nothing) => a,
                    (PortSet::Nothing, b) => b,
                    (PortSet::Some(a), PortSet::Some(b)) => {
                        let mut u = (*a).clone();
                        u.or_with(&b);
                        PortSet::Some(Arc::new(u))
                    }
                };
            }
        }
        for pm in &rule.destination.not_ports {
            acc = match (acc, self.port_bits(pm, protocol, port, named)) {
                (PortSet::Nothing, _) | (_, PortSet::All) => PortSet::Nothing,
                (a, PortSet::Nothing) => a,
                (a, PortSet::Some(ex)) => {
                    let mut left = match a {
                        PortSet::Some(b) => (*b).clone(),
                        _ => Bits::full(n),
                    };
                    left.and_not_with(&ex);
                    PortSet::Some(Arc::new(left))
                }
            };
        }
        acc
    }

    /// Whether a rule's packet-wide conditions (protocol, ICMP, family, source ports)
    /// hold for a layer-4 question on (protocol, port) between IPv4 endpoints.
    fn packet_ok(rule: &Rule, protocol: Protocol) -> bool {
        !rule.source_ports
            && rule.protocol.is_none_or(|p| p == protocol)
            && rule.not_protocol != Some(protocol)
            && rule.icmp.is_none()
            && rule.ip_version.is_none_or(|v| v == podwall_ir::IpVersion::V4)
    }

    /// The policies applying to class `local` in `dir`, in evaluation order, grouped by tier.
    fn applicable(&self, local: usize, dir: Direction) -> impl Iterator<Item = (usize, usize, &[Rule])> + '_ {
        let tiers = self.cluster.policies.tiers();
        self.applicable[local].iter().filter_map(move |&(ti, pi)| {
            let (ti, pi) = (ti as usize, pi as usize);
            tiers[ti].policies[pi].rules(dir).map(|r| (ti, pi, r))
        })
    }

    /// The remote classes one direction of local class `local` allows.
    fn walk(&self, local: usize, dir: Direction, protocol: Protocol, port_sets: &PortSets) -> Bits {
        let n = self.classes.len();
        let d = dir_index(dir);
        let tiers = self.cluster.policies.tiers();
        let mut undecided = Bits::full(n);
        let mut allowed = Bits::empty(n);
        let mut current: Option<usize> = None;
        let mut passed = Bits::empty(n);
        // Ends tier `ti`: its default action takes what is still undecided.
        let end_tier = |ti: usize, undecided: &mut Bits, passed: &mut Bits| {
            if tiers[ti].default_action == TierDefault::Deny {
                *undecided = Bits::empty(n);
            }
            undecided.or_with(passed);
            *passed = Bits::empty(n);
        };
        for (ti, pi, rules) in self.applicable(local, dir) {
            if let Some(prev) = current.filter(|&c| c != ti) {
                end_tier(prev, &mut undecided, &mut passed);
            }
            current = Some(ti);
            for (ri, rule) in rules.iter().enumerate() {
                if rule.action == Action::Log || !Self::packet_ok(rule, protocol) {
                    continue;
                }
                let sets = &self.rules[ti][pi][d][ri];
                let ports = &port_sets[ti][pi][d][ri];
                let (local_peers, remote_peers) = match dir {
                    Direction::Ingress => (&sets.destination, &sets.source),
                    Direction::Egress => (&sets.source, &sets.destination),
                };
                if local_peers.as_ref().is_some_and(|b| !b.contains(local)) {
                    continue;
                }
                // Cheap exits first: ports the local end lacks, or that no destination has.
                match (ports, dir) {
                    (PortSet::Nothing, _) => continue,
                    // Ports belong to the destination: on ingress, the local endpoint.
                    (PortSet::Some(pb), Direction::Ingress) if !pb.contains(local) => continue,
                    _ => {}
                }
                let mut m = undecided.clone();
                if let Some(b) = remote_peers {
                    m.and_with(b);
                }
                if let (PortSet::Some(pb), Direction::Egress) = (ports, dir) {
                    m.and_with(pb);
                }
                match rule.action {
                    Action::Allow => allowed.or_with(&m),
                    Action::Pass => passed.or_with(&m),
                    Action::Deny | Action::Log => {}
                }
                undecided.and_not_with(&m);
            }
        }
        if let Some(prev) = current {
            end_tier(prev, &mut undecided, &mut passed);
        }
        allowed.or_with(&undecided);
        allowed
    }

    /// What one direction's walk for class `local` depends on besides the remote side:
    /// the policies that apply, whether the local end satisfies each rule's local-side
    /// peers, and (ingress) whether its ports satisfy each rule's ports. Classes with
    /// equal signatures have equal walks.
    fn signature(&self, local: usize, dir: Direction, port_sets: &PortSets) -> Vec<u32> {
        let d = dir_index(dir);
        let mut sig = Vec::new();
        for (ti, pi, _) in self.applicable(local, dir) {
            sig.push(self.policy_ids[ti][pi]);
            for (sets, ports) in self.rules[ti][pi][d].iter().zip(&port_sets[ti][pi][d]) {
                let local_peers = match dir {
                    Direction::Ingress => &sets.destination,
                    Direction::Egress => &sets.source,
                };
                if let Some(b) = local_peers {
                    sig.push(u32::MAX - b.contains(local) as u32);
                }
                if let (Direction::Ingress, PortSet::Some(pb)) = (dir, ports) {
                    sig.push(u32::MAX - 2 - pb.contains(local) as u32);
                }
            }
        }
        sig
    }

    /// One direction for one pair of classes, walking only the applicable rules with bitset lookups.
    fn decide(&self, local: usize, remote: usize, dir: Direction, pkt: &crate::Packet) -> bool {
        let cluster: &Cluster = &self.cluster;
        let tiers = cluster.policies.tiers();
        let d = dir_index(dir);
        let mut current: Option<usize> = None;
        let mut skip_tier: Option<usize> = None;
        for (ti, pi, rules) in self.applicable(local, dir) {
            if let Some(prev) = current.filter(|&c| c != ti) {
                if skip_tier != Some(prev) && tiers[prev].default_action == TierDefault::Deny {
                    return false;
                }
            }
            current = Some(ti);
            if skip_tier == Some(ti) {
                continue;
            }
            for (ri, rule) in rules.iter().enumerate() {
                if rule.action == Action::Log || !Self::packet_ok(rule, pkt.protocol) {
                    continue;
                }
                let sets = &self.rules[ti][pi][d][ri];
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

    /// Whether endpoint `id` is isolated in `dir`: a policy of a tier whose default
    /// action is Deny applies to it, so traffic no rule admits is dropped. (For
    /// Kubernetes NetworkPolicy: a policy selects the pod for that direction.)
    pub fn isolated(&self, id: EndpointId, dir: Direction) -> bool {
        let tiers = self.cluster.policies.tiers();
        self.applicable(self.class_of[id], dir).any(|(ti, _, _)| tiers[ti].default_action == TierDefault::Deny)
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
        let (s, d) = (self.class_of[src], self.class_of[dst]);
        self.decide(s, d, Direction::Egress, &pkt) && self.decide(d, s, Direction::Ingress, &pkt)
    }

    /// The reachability of every endpoint pair for one protocol and port (layer 4:
    /// rules with an HTTP match count as matching). Each direction is walked once per
    /// distinct signature, not once per endpoint.
    pub fn matrix(&self, protocol: Protocol, port: Option<u16>) -> Matrix<'_> {
        let cluster: &Cluster = &self.cluster;
        let mut named = HashMap::new();
        let port_sets: PortSets = cluster
            .policies
            .tiers()
            .iter()
            .map(|t| {
                t.policies
                    .iter()
                    .map(|p| {
                        let f = |rs: Option<&[Rule]>, named: &mut HashMap<String, Arc<Bits>>| -> Vec<PortSet> {
                            rs.unwrap_or_default()
                                .iter()
                                .map(|r| self.rule_port_bits(r, protocol, port, named))
                                .collect()
                        };
                        [f(p.ingress.as_deref(), &mut named), f(p.egress.as_deref(), &mut named)]
                    })
                    .collect()
            })
            .collect();
        let side = |dir: Direction| -> (Vec<u32>, Vec<Bits>) {
            let mut ids: HashMap<Vec<u32>, u32> = HashMap::new();
            let mut of_class = Vec::with_capacity(self.classes.len());
            let mut reps = Vec::new();
            for c in 0..self.classes.len() {
                let sig = self.signature(c, dir, &port_sets);
                let next = ids.len() as u32;
                let id = *ids.entry(sig).or_insert(next);
                if id == next {
                    reps.push(c);
                }
                of_class.push(id);
            }
            let walks = reps.par_iter().map(|&c| self.walk(c, dir, protocol, &port_sets)).collect();
            (of_class, walks)
        };
        let ((esig, egress), (isig, ingress)) = rayon::join(|| side(Direction::Egress), || side(Direction::Ingress));
        Matrix { index: self, esig, egress, isig, ingress }
    }
}

type PortSets = Vec<Vec<[Vec<PortSet>; 2]>>;

/// The destination classes a rule's ports accept, for one (protocol, port).
enum PortSet {
    /// Every destination.
    All,
    /// No destination: the rule cannot match.
    Nothing,
    /// These destination classes (named ports).
    Some(Arc<Bits>),
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Per-endpoint counts of a matrix row and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowSummary {
    /// How many endpoints this endpoint may open connections to.
    pub egress_peers: usize,
    /// How many endpoints may open connections to this endpoint.
    pub ingress_peers: usize,
}

/// Reachability between every pair of endpoints for one protocol and port.
///
/// Stored as one allowed-set per direction signature: `src → dst` is allowed when the
/// egress set of `src`'s signature holds `dst`'s class and the ingress set of `dst`'s
/// signature holds `src`'s class.
pub struct Matrix<'i> {
    index: &'i Index,
    /// Per class: its egress signature.
    esig: Vec<u32>,
    /// Per egress signature: the destination classes allowed.
    egress: Vec<Bits>,
    /// Per class: its ingress signature.
    isig: Vec<u32>,
    /// Per ingress signature: the source classes allowed.
    ingress: Vec<Bits>,
}

impl Matrix<'_> {
    fn class_allowed(&self, s: usize, d: usize) -> bool {
        self.egress[self.esig[s] as usize].contains(d) && self.ingress[self.isig[d] as usize].contains(s)
    }

    /// Whether endpoint `src` may open a connection to endpoint `dst`.
    pub fn allowed(&self, src: EndpointId, dst: EndpointId) -> bool {
        self.class_allowed(self.index.class_of[src], self.index.class_of[dst])
    }

    /// Whether `src` reaches each endpoint, in endpoint order.
    pub fn row(&self, src: EndpointId) -> Vec<bool> {
        let s = self.index.class_of[src];
        let e = &self.egress[self.esig[s] as usize];
        self.index.class_of.iter().map(|&d| e.contains(d) && self.ingress[self.isig[d] as usize].contains(s)).collect()
    }

    /// The number of distinct (egress, ingress) signatures the matrix was computed from.
    pub fn signatures(&self) -> (usize, usize) {
        (self.egress.len(), self.ingress.len())
    }

    /// Per endpoint, how many endpoints it reaches and is reached by (itself included
    /// when the policies allow it). Computed per signature pair, never per endpoint pair.
    pub fn summary(&self) -> Vec<RowSummary> {
        let classes = &self.index.classes;
        let weight: Vec<i64> = classes.iter().map(|c| c.members.len() as i64).collect();
        let (na, nb) = (self.egress.len(), self.ingress.len());
        // w_dst[a][b]: weight of the destinations of egress signature a whose ingress signature is b.
        let w_dst = histogram(&self.egress, &self.isig, nb, &weight);
        // w_src[b][a]: weight of the sources admitted by ingress signature b whose egress signature is a.
        let w_src = histogram(&self.ingress, &self.esig, na, &weight);
        // out(s) = Σ over b with s ∈ I_b of w_dst[esig(s)][b].
        let out = accumulate(&self.ingress, &self.esig, na, |b, a| w_dst[a * nb + b]);
        // in(d) = Σ over a with d ∈ E_a of w_src[isig(d)][a].
        let inn = accumulate(&self.egress, &self.isig, nb, |a, b| w_src[b * na + a]);
        self.index
            .class_of
            .iter()
            .map(|&c| RowSummary { egress_peers: out[c] as usize, ingress_peers: inn[c] as usize })
            .collect()
    }
}

/// For each set g and key k: the weight of the members x of `sets[g]` with `key[x] == k`,
/// as a dense `sets.len() × nkeys` table. Dense sets are walked through their complement.
fn histogram(sets: &[Bits], key: &[u32], nkeys: usize, weight: &[i64]) -> Vec<i64> {
    let n = key.len();
    let mut totals = vec![0i64; nkeys];
    for (x, &k) in key.iter().enumerate() {
        totals[k as usize] += weight[x];
    }
    let mut table = vec![0i64; sets.len() * nkeys];
    for (g, set) in sets.iter().enumerate() {
        let row = &mut table[g * nkeys..(g + 1) * nkeys];
        if set.count() * 2 <= n {
            for x in set.iter() {
                row[key[x] as usize] += weight[x];
            }
        } else {
            row.copy_from_slice(&totals);
            for x in set.not().iter() {
                row[key[x] as usize] -= weight[x];
            }
        }
    }
    table
}

/// For each item x: the sum of `value(g, key[x])` over the sets g holding x. Dense sets
/// are walked through their complement.
fn accumulate(sets: &[Bits], key: &[u32], nkeys: usize, value: impl Fn(usize, usize) -> i64) -> Vec<i64> {
    let n = key.len();
    let mut out = vec![0i64; n];
    let mut base = vec![0i64; nkeys];
    for (g, set) in sets.iter().enumerate() {
        if set.count() * 2 <= n {
            for x in set.iter() {
                out[x] += value(g, key[x] as usize);
            }
        } else {
            for (k, b) in base.iter_mut().enumerate() {
                *b += value(g, k);
            }
            for x in set.not().iter() {
                out[x] -= value(g, key[x] as usize);
            }
        }
    }
    for (x, o) in out.iter_mut().enumerate() {
        *o += base[key[x] as usize];
    }
    out
}
