//! From the intermediate form to the ruleset value.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use podwall_engine::Index;
use podwall_ir::{Cluster, Direction, EndpointId, Expr, Peer, PortMatch, Ports, Protocol, TierDefault};

use crate::ranges::{ip_number, number_ip, prefixes, Ranges};
use crate::{
    Action, Attachment, Chain, CompileError, Dispatch, Family, Match, Options, Origin, Rule, Ruleset, Set, SetKind,
    Side,
};

/// Compiles the cluster's policies for the endpoints attached to this node.
///
/// Peers resolve to the addresses of every matching endpoint of the cluster (its
/// address in the cluster, and the addresses of its attachment when it is attached),
/// not only of attached ones.
pub fn compile(cluster: &Cluster, attachments: &[Attachment], options: &Options) -> Result<Ruleset, CompileError> {
    check_table(&options.table)?;
    let attachments = check_attachments(cluster, attachments)?;
    let mut c = Compiler::new(cluster, &attachments);
    let mut endpoints = Vec::with_capacity(attachments.len());
    for a in &attachments {
        let mut chain_for = |dir| {
            let applicable = c.index.applicable_policies(a.endpoint, dir);
            (!applicable.is_empty()).then(|| c.situation(dir, applicable, a.endpoint))
        };
        let egress = chain_for(Direction::Egress);
        let ingress = chain_for(Direction::Ingress);
        endpoints.push(Dispatch {
            endpoint: a.endpoint,
            name: cluster.endpoints[a.endpoint].name.clone(),
            interface: a.interface.clone(),
            addresses: a.addresses.clone(),
            egress,
            ingress,
        });
    }
    Ok(Ruleset {
        table: options.table.clone(),
        sets: c.sets.sets,
        chains: c.chains,
        endpoints,
        warnings: c.warnings.into_values().collect(),
    })
}

fn check_table(name: &str) -> Result<(), CompileError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CompileError::TableName(name.to_string()))
    }
}

/// Validates the attachments and sorts them by endpoint.
fn check_attachments(cluster: &Cluster, attachments: &[Attachment]) -> Result<Vec<Attachment>, CompileError> {
    let mut sorted = attachments.to_vec();
    sorted.sort_by_key(|a| a.endpoint);
    let mut interfaces: HashMap<&str, EndpointId> = HashMap::new();
    for (i, a) in sorted.iter().enumerate() {
        let Some(ep) = cluster.endpoints.get(a.endpoint) else {
            return Err(CompileError::UnknownEndpoint(a.endpoint));
        };
        if i > 0 && sorted[i - 1].endpoint == a.endpoint {
            return Err(CompileError::EndpointTwice(ep.name.clone()));
        }
        if ep.host_network {
            return Err(CompileError::HostNetwork(ep.name.clone()));
        }
        let valid = (1..=15).contains(&a.interface.len())
            && a.interface.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(CompileError::InterfaceName { endpoint: ep.name.clone(), interface: a.interface.clone() });
        }
        if let Some(&first) = interfaces.get(a.interface.as_str()) {
            return Err(CompileError::InterfaceTwice {
                interface: a.interface.clone(),
                first: cluster.endpoints[first].name.clone(),
                second: ep.name.clone(),
            });
        }
        interfaces.insert(a.interface.as_str(), a.endpoint);
    }
    Ok(sorted)
}

/// Addresses of both families.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Space {
    v4: Ranges,
    v6: Ranges,
}

const V4_MAX: u128 = u32::MAX as u128;

impl Space {
    fn empty() -> Self {
        Space { v4: Ranges::empty(V4_MAX), v6: Ranges::empty(u128::MAX) }
    }
    fn full() -> Self {
        Space { v4: Ranges::full(V4_MAX), v6: Ranges::full(u128::MAX) }
    }
    fn family(&self, f: Family) -> &Ranges {
        match f {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
    fn add_ip(&mut self, ip: IpAddr) {
        let n = ip_number(ip);
        match ip {
            IpAddr::V4(_) => self.v4.add(n, n),
            IpAddr::V6(_) => self.v6.add(n, n),
        }
    }
    fn add_net(&mut self, net: &IpNet) {
        let (lo, hi) = (ip_number(net.network()), ip_number(net.broadcast()));
        match net {
            IpNet::V4(_) => self.v4.add(lo, hi),
            IpNet::V6(_) => self.v6.add(lo, hi),
        }
    }
    fn of_nets(nets: &[IpNet]) -> Self {
        let mut s = Space::empty();
        for n in nets {
            s.add_net(n);
        }
        s
    }
    fn union(&self, o: &Self) -> Self {
        Space { v4: self.v4.union(&o.v4), v6: self.v6.union(&o.v6) }
    }
    fn intersect(&self, o: &Self) -> Self {
        Space { v4: self.v4.intersect(&o.v4), v6: self.v6.intersect(&o.v6) }
    }
    fn minus(&self, o: &Self) -> Self {
        Space { v4: self.v4.minus(&o.v4), v6: self.v6.minus(&o.v6) }
    }
}

/// Protocols and destination ports: per protocol number, the ports (all of them for a
/// protocol without ports, or none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PortSpace {
    by_proto: BTreeMap<u8, Ranges>,
}

const PORT_MAX: u128 = u16::MAX as u128;

impl PortSpace {
    fn everything() -> Self {
        PortSpace { by_proto: (0..=255u8).map(|p| (p, Ranges::full(PORT_MAX))).collect() }
    }
    fn protocol(p: Protocol) -> Self {
        PortSpace { by_proto: [(p.0, Ranges::full(PORT_MAX))].into() }
    }
    fn add(&mut self, p: Protocol, lo: u16, hi: u16) {
        self.by_proto.entry(p.0).or_insert_with(|| Ranges::empty(PORT_MAX)).add(lo as u128, hi as u128);
    }
    fn contains(&self, p: Protocol, port: u16) -> bool {
        self.by_proto.get(&p.0).is_some_and(|r| r.contains(port as u128))
    }
    fn zip(&self, o: &Self, f: impl Fn(&Ranges, &Ranges) -> Ranges) -> Self {
        let empty = Ranges::empty(PORT_MAX);
        let mut by_proto = BTreeMap::new();
        for p in self.by_proto.keys().chain(o.by_proto.keys()) {
            let r = f(self.by_proto.get(p).unwrap_or(&empty), o.by_proto.get(p).unwrap_or(&empty));
            if !r.is_empty() {
                by_proto.insert(*p, r);
            }
        }
        PortSpace { by_proto }
    }
    fn union(&self, o: &Self) -> Self {
        self.zip(o, Ranges::union)
    }
    fn intersect(&self, o: &Self) -> Self {
        self.zip(o, Ranges::intersect)
    }
    fn minus(&self, o: &Self) -> Self {
        self.zip(o, Ranges::minus)
    }
    /// What a static port entry (no named port) accepts, by the evaluator's
    /// `port_matches`: a range needs a protocol that carries ports.
    fn of_entry(pm: &PortMatch) -> Self {
        let port_protocols = [Protocol::TCP, Protocol::UDP, Protocol::SCTP, Protocol::UDPLITE];
        let mut s = PortSpace::default();
        match (&pm.ports, pm.protocol) {
            (Ports::Any, None) => return PortSpace::everything(),
            (Ports::Any, Some(p)) => return PortSpace::protocol(p),
            (Ports::Range(lo, hi), Some(p)) if p.has_ports() => s.add(p, *lo, *hi),
            (Ports::Range(lo, hi), None) => port_protocols.iter().for_each(|p| s.add(*p, *lo, *hi)),
            (Ports::Range(..), Some(_)) | (Ports::Named(_), _) => {}
        }
        s
    }
}

/// One alternative of a rule's match: its family (when bound) and its conditions.
#[derive(Clone, Debug, Default)]
struct Alt {
    family: Option<Family>,
    matches: Vec<Match>,
}

impl Alt {
    fn of(family: Option<Family>, matches: Vec<Match>) -> Self {
        Alt { family, matches }
    }
}

/// Every combination of one alternative of `a` with one of `b` (a conjunction of two
/// disjunctions); combinations of two families are dropped. Alternatives of each list
/// are disjoint, so are those of the result.
fn conj(a: Vec<Alt>, b: Vec<Alt>) -> Vec<Alt> {
    let mut out = Vec::new();
    for x in &a {
        for y in &b {
            let family = match (x.family, y.family) {
                (Some(f), Some(g)) if f != g => continue,
                (f, g) => f.or(g),
            };
            let mut matches = x.matches.clone();
            matches.extend(y.matches.iter().cloned());
            out.push(Alt { family, matches });
        }
    }
    out
}

/// Drops `meta nfproto` checks another condition of the rule implies.
fn tidy(mut m: Vec<Match>) -> Vec<Match> {
    let bound: Vec<Family> = m
        .iter()
        .filter_map(|x| match x {
            Match::Address { family, .. } | Match::DestinationPorts { family, .. } => Some(*family),
            _ => None,
        })
        .collect();
    m.retain(|x| !matches!(x, Match::Family(f) if bound.contains(f)));
    let mut seen = Vec::new();
    m.retain(|x| {
        let new = !seen.contains(x);
        if new {
            seen.push(x.clone());
        }
        new
    });
    m
}

/// Named sets, one per definition: a set is named after what it stands for (a peer list,
/// a rule's named ports), not after what it holds, so that a change of membership (a pod
/// relabelled) is an element change of a set that keeps its name, and the chains that
/// read it stay as they are.
#[derive(Default)]
struct Sets {
    sets: Vec<Set>,
    by_name: HashMap<String, usize>,
}

impl Sets {
    fn intern(&mut self, kind: SetKind, definition: &str, elements: Vec<String>) -> String {
        let prefix = match kind {
            SetKind::Addresses(Family::V4) => "a4",
            SetKind::Addresses(Family::V6) => "a6",
            SetKind::DestinationPorts(Family::V4) => "p4",
            SetKind::DestinationPorts(Family::V6) => "p6",
            SetKind::Interfaces | SetKind::Sources(_) => "b",
        };
        // Whether it is an interval set is part of its type, so part of its name: a set
        // that starts holding CIDRs is another set.
        let interval = matches!(kind, SetKind::Addresses(_)) && elements.iter().any(|e| e.contains('/'));
        let base = format!("{prefix}{}_{:016x}", if interval { "i" } else { "" }, fnv(definition.as_bytes()));
        let mut name = base.clone();
        for k in 2.. {
            match self.by_name.get(&name) {
                None => break,
                Some(&i) if self.sets[i].elements == elements => return name,
                // Two definitions with one hash (never seen): a name of its own.
                Some(_) => name = format!("{base}_{k}"),
            }
        }
        self.by_name.insert(name.clone(), self.sets.len());
        self.sets.push(Set { name: name.clone(), kind, interval, elements });
        name
    }
}

/// FNV-1a, 64 bits: a stable hash for names derived from content.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The elements of an address set: addresses and CIDRs.
fn address_elements(r: &Ranges, f: Family) -> Vec<String> {
    let (bits, v6) = match f {
        Family::V4 => (32, false),
        Family::V6 => (128, true),
    };
    let mut out = Vec::new();
    for &(lo, hi) in r.spans() {
        for (start, len) in prefixes(lo, hi, bits) {
            let ip = number_ip(start, v6);
            out.push(if len == bits { ip.to_string() } else { format!("{ip}/{len}") });
        }
    }
    out
}

fn prefix_count(r: &Ranges, bits: u32) -> usize {
    r.spans().iter().map(|&(lo, hi)| prefixes(lo, hi, bits).len()).sum()
}

/// One situation's chains, shared by the endpoints in it.
struct Situation {
    /// The entry chain's name.
    entry: String,
}

type SituationKey = (Direction, Vec<(usize, usize)>, Vec<podwall_ir::NamedPort>);

struct Compiler<'a> {
    cluster: &'a Cluster,
    /// The engine's index: which policies apply, and which endpoints a selector picks.
    index: Index,
    /// Per endpoint: the addresses peers resolve to (none for host-network pods).
    addresses: Vec<Vec<IpAddr>>,
    sets: Sets,
    selected: HashMap<(Expr, bool), Space>,
    chains: Vec<Chain>,
    situations: HashMap<SituationKey, usize>,
    shapes: HashMap<Vec<(Direction, usize, Vec<Rule>)>, usize>,
    list: Vec<Situation>,
    warnings: BTreeMap<(usize, usize, Direction, usize), String>,
    /// Each rule's alternatives, once per rule (and, for ingress, per set of declared
    /// ports of the local endpoint, which its named ports resolve on): a policy that
    /// applies in many situations is compiled once.
    alts: HashMap<AltsKey, Vec<Alt>>,
}

type AltsKey = (usize, usize, usize, Direction, Vec<podwall_ir::NamedPort>);

impl<'a> Compiler<'a> {
    fn new(cluster: &'a Cluster, attachments: &[Attachment]) -> Self {
        let mut addresses: Vec<Vec<IpAddr>> = cluster
            .endpoints
            .iter()
            .map(
                |e| if e.host_network { vec![] } else { e.ip.into_iter().chain(e.addresses.iter().copied()).collect() },
            )
            .collect();
        for a in attachments {
            let list = &mut addresses[a.endpoint];
            for ip in &a.addresses {
                if !list.contains(ip) {
                    list.push(*ip);
                }
            }
        }
        for list in &mut addresses {
            let mut seen = Vec::with_capacity(list.len());
            list.retain(|ip| {
                let new = !seen.contains(ip);
                seen.push(*ip);
                new
            });
        }
        Compiler {
            cluster,
            index: Index::new(cluster),
            addresses,
            sets: Sets::default(),
            selected: HashMap::new(),
            chains: Vec::new(),
            situations: HashMap::new(),
            shapes: HashMap::new(),
            list: Vec::new(),
            warnings: BTreeMap::new(),
            alts: HashMap::new(),
        }
    }

    /// The entry chain for `local`'s traffic in `dir` under these applicable policies,
    /// built the first time the situation is met. Ingress chains resolve named ports on
    /// the local endpoint, so its declared ports are part of the situation.
    fn situation(&mut self, dir: Direction, applicable: Vec<(usize, usize)>, local: EndpointId) -> String {
        let ports = match dir {
            Direction::Ingress => self.cluster.endpoints[local].ports.clone(),
            Direction::Egress => Vec::new(),
        };
        let key = (dir, applicable, ports);
        if let Some(&i) = self.situations.get(&key) {
            return self.list[i].entry.clone();
        }
        let first = self.chains.len();
        self.build(dir, &key.1, local);
        // Another situation may compile to the same chains (its endpoints' differences
        // did not matter to these rules): share those.
        let shape = shape(&self.chains[first..]);
        if let Some(&i) = self.shapes.get(&shape) {
            self.chains.truncate(first);
            self.situations.insert(key, i);
            return self.list[i].entry.clone();
        }
        self.name_group(first, dir, &shape);
        self.shapes.insert(shape, self.list.len());
        let situation = Situation { entry: self.chains[first].name.clone() };
        let entry = situation.entry.clone();
        self.situations.insert(key, self.list.len());
        self.list.push(situation);
        entry
    }

    /// Names the chains of a new situation (`chains[first..]`) after what they do, so
    /// that the same chains compiled from another state of the cluster have the same
    /// names (and an update leaves them alone): `DIR_HASH` for the first tier,
    /// `DIR_HASH_K` for the K-th, the hash taken over the rules as nft writes them.
    fn name_group(&mut self, first: usize, dir: Direction, shape: &[(Direction, usize, Vec<Rule>)]) {
        let mut text = String::new();
        for (c, (_, _, rules)) in self.chains[first..].iter().zip(shape) {
            text.push_str(&c.comment);
            text.push('\n');
            for r in rules {
                text.push_str(&crate::render_rule(r));
                text.push('\n');
            }
        }
        let hash = fnv(text.as_bytes());
        let mut base = format!("{dir}_{hash:016x}");
        let taken = |n: &str, chains: &[Chain]| chains[..first].iter().any(|c| c.name.starts_with(n));
        let mut k = 2;
        while taken(&base, &self.chains) {
            // Two different situations with one hash (never seen): a name of its own.
            base = format!("{dir}_{hash:016x}x{k}");
            k += 1;
        }
        let names: Vec<String> =
            (0..self.chains.len() - first).map(|k| if k == 0 { base.clone() } else { format!("{base}_{k}") }).collect();
        let old: Vec<String> = self.chains[first..].iter().map(|c| c.name.clone()).collect();
        let rename = |n: &str| old.iter().position(|o| o == n).map(|k| names[k].clone());
        for c in &mut self.chains[first..] {
            c.name = rename(&c.name).unwrap_or_else(|| c.name.clone());
            c.next = c.next.as_deref().and_then(rename);
            for r in &mut c.rules {
                if let Action::Goto(t) = &mut r.action {
                    if let Some(n) = rename(t) {
                        *t = n;
                    }
                }
            }
        }
    }

    /// Builds a situation's chains under provisional names ([`Compiler::name_group`]
    /// names them).
    fn build(&mut self, dir: Direction, applicable: &[(usize, usize)], local: EndpointId) {
        let runs: Vec<&[(usize, usize)]> = applicable.chunk_by(|a, b| a.0 == b.0).collect();
        let names: Vec<String> = (0..runs.len()).map(|k| format!("new_{k}")).collect();
        let allow = match dir {
            Direction::Egress => Action::Return,
            Direction::Ingress => Action::Accept,
        };
        let tiers = self.cluster.policies.tiers();
        for (k, run) in runs.iter().enumerate() {
            let ti = run[0].0;
            let tier = &tiers[ti];
            let onward = names.get(k + 1).map(|n| Action::Goto(n.clone())).unwrap_or_else(|| allow.clone());
            let mut rules = Vec::new();
            for &(_, pi) in run.iter() {
                let policy = &tier.policies[pi];
                for rule in policy.rules(dir).unwrap_or_default() {
                    let what = format!("{}: {} {dir} rule {}", tier.name, policy_name(policy), rule.index + 1);
                    let alts = self.rule_alts_memo(ti, pi, rule, dir, local);
                    if rule.http.is_some() && !alts.is_empty() {
                        self.warnings.entry((ti, pi, dir, rule.index)).or_insert_with(|| {
                            format!(
                                "{what}: its HTTP match cannot be enforced at layers 3 and 4; \
                                 the data plane applies the rule ({}) to all its traffic, as if every request matched",
                                rule.action
                            )
                        });
                    }
                    let action = match rule.action {
                        podwall_ir::Action::Allow => allow.clone(),
                        podwall_ir::Action::Deny => Action::Drop,
                        podwall_ir::Action::Pass => onward.clone(),
                        podwall_ir::Action::Log => Action::Log { prefix: clip(&format!("podwall {what}: "), 127) },
                    };
                    let comment = clip(&format!("{what} ({})", rule.action), 127);
                    let origin = Some(Origin { tier: ti, policy: Some(pi), rule: rule.index });
                    for alt in alts {
                        rules.push(Rule {
                            matches: tidy(alt.matches),
                            action: action.clone(),
                            comment: comment.clone(),
                            origin,
                        });
                    }
                }
            }
            let (action, default) = match tier.default_action {
                TierDefault::Deny => (Action::Drop, "Deny"),
                TierDefault::Pass => (onward, "Pass"),
            };
            let comment = clip(&format!("{}: end of tier, default {default}", tier.name), 127);
            rules.push(Rule {
                matches: vec![],
                action,
                comment,
                origin: Some(Origin { tier: ti, policy: None, rule: 0 }),
            });
            self.chains.push(Chain {
                name: names[k].clone(),
                direction: dir,
                tier: ti,
                comment: clip(&format!("{dir}: tier {}", tier.name), 127),
                rules,
                next: names.get(k + 1).cloned(),
            });
        }
    }

    /// [`Compiler::rule_alts`] of rule `rule` of policy `pi` of tier `ti`, computed once.
    fn rule_alts_memo(
        &mut self,
        ti: usize,
        pi: usize,
        rule: &podwall_ir::Rule,
        dir: Direction,
        local: EndpointId,
    ) -> Vec<Alt> {
        let ports = match dir {
            Direction::Ingress => self.cluster.endpoints[local].ports.clone(),
            Direction::Egress => Vec::new(),
        };
        let key = (ti, pi, rule.index, dir, ports);
        if let Some(a) = self.alts.get(&key) {
            return a.clone();
        }
        let a = self.rule_alts(rule, dir, local);
        self.alts.insert(key, a.clone());
        a
    }

    /// The rule as disjoint alternatives, each one nft rule; none when it never matches.
    fn rule_alts(&mut self, rule: &podwall_ir::Rule, dir: Direction, local: EndpointId) -> Vec<Alt> {
        // A rule on source ports never matches (see `Rule::source_ports`).
        if rule.source_ports {
            return Vec::new();
        }
        let mut alts = vec![Alt::default()];
        if let Some(v) = rule.ip_version {
            let f = match v {
                podwall_ir::IpVersion::V4 => Family::V4,
                podwall_ir::IpVersion::V6 => Family::V6,
            };
            alts = conj(alts, vec![Alt::of(Some(f), vec![Match::Family(f)])]);
        }
        if !rule.source.peers.is_empty() {
            let space = self.peers_space(&rule.source.peers);
            let definition = format!("{:?}", rule.source.peers);
            alts = conj(alts, self.address_alts(Side::Source, &space, &definition));
        }
        if !rule.destination.peers.is_empty() {
            let space = self.peers_space(&rule.destination.peers);
            let definition = format!("{:?}", rule.destination.peers);
            alts = conj(alts, self.address_alts(Side::Destination, &space, &definition));
        }
        alts = conj(alts, self.port_alts(rule, dir, local));
        let icmp = [Protocol::ICMP, Protocol::ICMPV6].map(|p| (p.0, p.0)).to_vec();
        if let Some(i) = rule.icmp {
            let mut m = vec![
                Match::Protocols { ranges: icmp.clone(), negated: false },
                Match::IcmpType { kind: i.kind, negated: false },
            ];
            m.extend(i.code.map(|code| Match::IcmpCode { code, negated: false }));
            alts = conj(alts, vec![Alt::of(None, m)]);
        }
        if let Some(i) = rule.not_icmp {
            // Not (ICMP and type and code): another protocol, or another type, or the
            // type with another code — three disjoint alternatives.
            let proto = Match::Protocols { ranges: icmp.clone(), negated: false };
            let mut not = vec![
                Alt::of(None, vec![Match::Protocols { ranges: icmp.clone(), negated: true }]),
                Alt::of(None, vec![proto.clone(), Match::IcmpType { kind: i.kind, negated: true }]),
            ];
            if let Some(code) = i.code {
                not.push(Alt::of(
                    None,
                    vec![
                        proto,
                        Match::IcmpType { kind: i.kind, negated: false },
                        Match::IcmpCode { code, negated: true },
                    ],
                ));
            }
            alts = conj(alts, not);
        }
        alts
    }

    /// The addresses a peer list admits (the union of its peers).
    fn peers_space(&mut self, peers: &[Peer]) -> Space {
        let mut out = Space::empty();
        for p in peers {
            let mut s = Space::full();
            if let Some(sel) = &p.selector {
                s = s.intersect(&self.selected_space(sel, p.network_sets));
            }
            if let Some(sel) = &p.not_selector {
                s = s.minus(&self.selected_space(sel, p.network_sets));
            }
            if !p.nets.is_empty() {
                s = s.intersect(&Space::of_nets(&p.nets));
            }
            s = s.minus(&Space::of_nets(&p.not_nets));
            out = out.union(&s);
        }
        out
    }

    /// The addresses a selector picks: of the matching endpoints (never host-network
    /// pods), and with `network_sets` the ranges of matching network sets.
    fn selected_space(&mut self, sel: &Expr, network_sets: bool) -> Space {
        let key = (sel.clone(), network_sets);
        if let Some(s) = self.selected.get(&key) {
            return s.clone();
        }
        let mut s = Space::empty();
        for id in self.index.select(sel) {
            self.addresses[id].iter().for_each(|ip| s.add_ip(*ip));
        }
        if network_sets {
            for i in self.index.select_network_sets(sel) {
                self.cluster.network_sets[i].nets.iter().for_each(|n| s.add_net(n));
            }
        }
        self.selected.insert(key, s.clone());
        s
    }

    /// Conditions on one address: per family, nothing (every address), a set, or a
    /// negated set when its complement is shorter. `definition` is what the addresses
    /// stand for (the peer list), which names the set.
    fn address_alts(&mut self, side: Side, space: &Space, definition: &str) -> Vec<Alt> {
        if space.v4.is_full() && space.v6.is_full() {
            return vec![Alt::default()];
        }
        let mut out = Vec::new();
        for (f, bits) in [(Family::V4, 32), (Family::V6, 128)] {
            let r = space.family(f);
            if r.is_empty() {
                continue;
            }
            if r.is_full() {
                out.push(Alt::of(Some(f), vec![Match::Family(f)]));
                continue;
            }
            let complement = r.complement();
            let negated = prefix_count(&complement, bits) < prefix_count(r, bits);
            let elements = address_elements(if negated { &complement } else { r }, f);
            let definition = format!("{}{definition}", if negated { "not " } else { "" });
            let set = self.sets.intern(SetKind::Addresses(f), &definition, elements);
            out.push(Alt::of(Some(f), vec![Match::Address { side, family: f, set, negated }]));
        }
        out
    }

    /// The protocol and port conditions: the rule's protocol, its destination ports and
    /// excluded ports, named ports resolved on the destination.
    fn port_alts(&mut self, rule: &podwall_ir::Rule, dir: Direction, local: EndpointId) -> Vec<Alt> {
        let mut allowed = match rule.protocol {
            Some(p) => PortSpace::protocol(p),
            None => PortSpace::everything(),
        };
        if let Some(p) = rule.not_protocol {
            allowed = allowed.minus(&PortSpace::protocol(p));
        }
        let entity = &rule.destination;
        let local_ports = &self.cluster.endpoints[local].ports;
        // Named ports: on ingress the destination is the local endpoint, so they are
        // static; on egress they are `address . protocol . port` triples.
        let split = |list: &[PortMatch]| {
            let mut fixed = PortSpace::default();
            let mut named = Vec::new();
            for pm in list {
                match (&pm.ports, dir) {
                    (Ports::Named(name), Direction::Ingress) => {
                        for np in local_ports.iter().filter(|np| named_port_fits(np, name, pm.protocol)) {
                            fixed.add(np.protocol, np.port, np.port);
                        }
                    }
                    (Ports::Named(name), Direction::Egress) => named.push((name.clone(), pm.protocol)),
                    _ => fixed = fixed.union(&PortSpace::of_entry(pm)),
                }
            }
            (fixed, named)
        };
        let (ports, named) =
            if entity.ports.is_empty() { (PortSpace::everything(), vec![]) } else { split(&entity.ports) };
        let (not_ports, not_named) = split(&entity.not_ports);
        let fixed = allowed.intersect(&ports).minus(&not_ports);
        let excluded = self.triples(&not_named);
        let mut out = Vec::new();
        // The protocol/port space, as a protocol set and a (protocol, port) set.
        let mut fixed_alts = Vec::new();
        let whole: Vec<u8> = fixed.by_proto.iter().filter(|(_, r)| r.is_full()).map(|(p, _)| *p).collect();
        if whole.len() == 256 {
            fixed_alts.push(Alt::default());
        } else if !whole.is_empty() {
            fixed_alts.push(Alt::of(None, vec![protocols_match(&whole)]));
        }
        let entries: Vec<(u8, u16, u16)> = fixed
            .by_proto
            .iter()
            .filter(|(_, r)| !r.is_full())
            .flat_map(|(p, r)| r.spans().iter().map(move |&(lo, hi)| (*p, lo as u16, hi as u16)))
            .collect();
        if !entries.is_empty() {
            fixed_alts.push(Alt::of(None, vec![Match::Ports(entries)]));
        }
        if !fixed_alts.is_empty() && excluded.values().any(|e| !e.is_empty()) {
            let mut not = Vec::new();
            for f in [Family::V4, Family::V6] {
                match excluded.get(&f) {
                    Some(e) if !e.is_empty() => {
                        let definition = format!("not {:?}", entity.not_ports);
                        let set = self.sets.intern(SetKind::DestinationPorts(f), &definition, triple_elements(e));
                        not.push(Alt::of(Some(f), vec![Match::DestinationPorts { family: f, set, negated: true }]));
                    }
                    _ => not.push(Alt::of(Some(f), vec![Match::Family(f)])),
                }
            }
            fixed_alts = conj(fixed_alts, not);
        }
        out.extend(fixed_alts);
        // Named ports of egress rules not already admitted above (keeps alternatives
        // disjoint), within the rule's protocol, and not excluded.
        let admitted = self.triples(&named);
        for (f, list) in admitted {
            let keep: Vec<(IpAddr, Protocol, u16)> = list
                .into_iter()
                .filter(|&(ip, p, port)| {
                    allowed.contains(p, port)
                        && !not_ports.contains(p, port)
                        && !fixed.contains(p, port)
                        && !excluded.get(&f).is_some_and(|e| e.contains(&(ip, p, port)))
                })
                .collect();
            if !keep.is_empty() {
                let definition = format!(
                    "{:?} not {:?} {:?} not {:?}",
                    rule.protocol, rule.not_protocol, entity.ports, entity.not_ports
                );
                let set = self.sets.intern(SetKind::DestinationPorts(f), &definition, triple_elements(&keep));
                out.push(Alt::of(Some(f), vec![Match::DestinationPorts { family: f, set, negated: false }]));
            }
        }
        out
    }

    /// Named ports resolved on every destination endpoint: per family, sorted
    /// (address, protocol, port).
    fn triples(&self, named: &[(String, Option<Protocol>)]) -> BTreeMap<Family, Vec<(IpAddr, Protocol, u16)>> {
        let mut out: BTreeMap<Family, Vec<(IpAddr, Protocol, u16)>> = BTreeMap::new();
        if named.is_empty() {
            return out;
        }
        for (id, ips) in self.addresses.iter().enumerate() {
            for np in &self.cluster.endpoints[id].ports {
                if named.iter().any(|(name, proto)| named_port_fits(np, name, *proto)) {
                    for ip in ips {
                        let f = if ip.is_ipv4() { Family::V4 } else { Family::V6 };
                        out.entry(f).or_default().push((*ip, np.protocol, np.port));
                    }
                }
            }
        }
        for list in out.values_mut() {
            list.sort();
            list.dedup();
        }
        out
    }
}

/// What a situation's chains do, whatever they are called: their direction, tier and
/// rules, with the chains they go to numbered from the first.
fn shape(chains: &[Chain]) -> Vec<(Direction, usize, Vec<Rule>)> {
    chains
        .iter()
        .map(|c| {
            let rules = c
                .rules
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if let Action::Goto(target) = &r.action {
                        let k = chains.iter().position(|c| &c.name == target).unwrap_or(usize::MAX);
                        r.action = Action::Goto(k.to_string());
                    }
                    r
                })
                .collect();
            (c.direction, c.tier, rules)
        })
        .collect()
}

/// Whether a declared port is the named port `name` of a port entry with protocol
/// `proto` (`Endpoint::has_named_port` for the packets it could match).
fn named_port_fits(np: &podwall_ir::NamedPort, name: &str, proto: Option<Protocol>) -> bool {
    np.name.as_deref() == Some(name) && proto.is_none_or(|p| p == np.protocol) && np.protocol.has_ports()
}

fn triple_elements(list: &[(IpAddr, Protocol, u16)]) -> Vec<String> {
    list.iter().map(|(ip, p, port)| format!("{ip} . {} . {port}", p.0)).collect()
}

/// `meta l4proto { ... }` for these protocol numbers (ascending), negated when the
/// complement is shorter.
fn protocols_match(protos: &[u8]) -> Match {
    let mut r = Ranges::empty(255);
    protos.iter().for_each(|p| r.add(*p as u128, *p as u128));
    let c = r.complement();
    let negated = c.spans().len() < r.spans().len();
    let ranges = (if negated { &c } else { &r }).spans().iter().map(|&(lo, hi)| (lo as u8, hi as u8)).collect();
    Match::Protocols { ranges, negated }
}

fn policy_name(p: &podwall_ir::Policy) -> String {
    match &p.namespace {
        Some(ns) => format!("{} {ns}/{}", p.kind, p.name),
        None => format!("{} {}", p.kind, p.name),
    }
}

/// Text safe inside an nft string, at most `max` bytes.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        let ch = match ch {
            '"' | '\\' => '\'',
            c if c.is_control() => ' ',
            c => c,
        };
        if out.len() + ch.len_utf8() > max {
            break;
        }
        out.push(ch);
    }
    out
}
