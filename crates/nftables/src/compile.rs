//! From the intermediate form to the ruleset value.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use podwall_engine::{Index, Live};
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
    Ok(State::whole(cluster, attachments, &options.table).ruleset)
}

/// One situation: its direction, the content ids of the policies that apply (in
/// evaluation order) and, for ingress, the local endpoint's declared ports.
pub(crate) type GroupKey = (Direction, Vec<u32>, Vec<podwall_ir::NamedPort>);

/// A situation's chains, as built (phase one of a compile): what they read and what
/// they warn about. A pure function of its [`GroupKey`] while the universe (endpoints,
/// namespaces, network sets, service accounts, nodes) and the attachments stay.
#[derive(Debug)]
pub(crate) struct Group {
    /// The chains, named after what they do; origins as positions were when built.
    chains: Vec<Chain>,
    /// Per chain, per rule: the content id of the policy it comes from (`None` for a
    /// tier's end), to put origins at the policies' current positions.
    ids: Vec<Vec<Option<u32>>>,
    /// The named sets the rules read, in order of first use.
    sets: Vec<String>,
    /// Per rule with an HTTP match that emits rules: (content id, direction, rule index, text).
    warnings: Vec<(u32, Direction, usize, String)>,
}

impl Group {
    /// The same chains, origins aside (those follow from `ids`).
    fn same(&self, o: &Group) -> bool {
        self.ids == o.ids
            && self.chains.len() == o.chains.len()
            && self.chains.iter().zip(&o.chains).all(|(a, b)| {
                a.name == b.name
                    && a.direction == b.direction
                    && a.tier == b.tier
                    && a.comment == b.comment
                    && a.next == b.next
                    && a.rules.len() == b.rules.len()
                    && a.rules
                        .iter()
                        .zip(&b.rules)
                        .all(|(x, y)| x.matches == y.matches && x.action == y.action && x.comment == y.comment)
            })
    }
}

/// What a compile keeps: the engine's live index (which policies apply where), each
/// policy position's content id, the caches of the compiler, the situations' groups and
/// the ruleset, so that the next compile after a policy change builds only the
/// situations that change ([`crate::Incremental`]).
pub(crate) struct State {
    pub(crate) table: String,
    /// Which policies apply to which endpoint, updated in place.
    pub(crate) live: Live,
    /// Per tier, per position: the id of the policy's content (a changed policy gets a
    /// new one).
    pub(crate) ids: Vec<Vec<u32>>,
    pub(crate) next_id: u32,
    /// The attachments, validated and sorted.
    pub(crate) attachments: Vec<Attachment>,
    pub(crate) caches: Caches,
    /// Every situation of the last compile.
    groups: HashMap<GroupKey, Arc<Group>>,
    /// The group each entry chain name stands for (one group per name).
    named: HashMap<String, Arc<Group>>,
    pub(crate) ruleset: Ruleset,
    /// Situations compiled by the last compile (the others were kept).
    pub(crate) built: usize,
}

impl State {
    /// Compiles everything from scratch.
    pub(crate) fn whole(cluster: &Cluster, attachments: Vec<Attachment>, table: &str) -> State {
        let live = Live::new(Arc::new(cluster.clone()));
        let mut next_id = 0;
        let ids = cluster
            .policies
            .tiers()
            .iter()
            .map(|t| {
                t.policies
                    .iter()
                    .map(|_| {
                        next_id += 1;
                        next_id - 1
                    })
                    .collect()
            })
            .collect();
        let caches = Caches::new(cluster, &attachments);
        let empty =
            Ruleset { table: table.to_string(), sets: vec![], chains: vec![], endpoints: vec![], warnings: vec![] };
        let mut state = State {
            table: table.to_string(),
            live,
            ids,
            next_id,
            attachments,
            caches,
            groups: HashMap::new(),
            named: HashMap::new(),
            ruleset: empty,
            built: 0,
        };
        state.assemble(cluster);
        state
    }

    /// Builds the ruleset (phase two): each endpoint's situation, its group built
    /// unless kept from the last compile, groups that compile to the same chains shared;
    /// chains and sets in order of first use. Chains and sets of the last ruleset that
    /// stay are moved over, not rebuilt.
    pub(crate) fn assemble(&mut self, cluster: &Cluster) {
        let State { table, live, ids, next_id, attachments, caches, groups, named, ruleset, built } = self;
        let previous = std::mem::replace(
            ruleset,
            Ruleset { table: table.clone(), sets: vec![], chains: vec![], endpoints: vec![], warnings: vec![] },
        );
        let mut old_chains: HashMap<String, Chain> = previous.chains.into_iter().map(|c| (c.name.clone(), c)).collect();
        let mut old_sets: HashMap<String, Set> = previous.sets.into_iter().map(|s| (s.name.clone(), s)).collect();
        let old_named = std::mem::take(named);
        let mut at = vec![None; *next_id as usize];
        for (ti, list) in ids.iter().enumerate() {
            for (pi, &id) in list.iter().enumerate() {
                at[id as usize] = Some((ti, pi));
            }
        }
        let position = |id: u32| at[id as usize];
        let mut used: HashMap<GroupKey, Arc<Group>> = HashMap::new();
        let mut sets_seen: HashSet<String> = HashSet::new();
        let mut warnings: BTreeMap<(usize, usize, Direction, usize), String> = BTreeMap::new();
        *built = 0;
        let index = live.index();
        for a in attachments.iter() {
            let mut entries = [None, None];
            for (k, dir) in [Direction::Egress, Direction::Ingress].into_iter().enumerate() {
                let applicable = index.applicable_policies(a.endpoint, dir);
                if applicable.is_empty() {
                    continue;
                }
                let ports = match dir {
                    Direction::Ingress => cluster.endpoints[a.endpoint].ports.clone(),
                    Direction::Egress => Vec::new(),
                };
                let key: GroupKey = (dir, applicable.iter().map(|&(t, p)| ids[t][p]).collect(), ports);
                if let Some(g) = used.get(&key) {
                    entries[k] = Some(g.chains[0].name.clone());
                    continue;
                }
                let group = match groups.get(&key) {
                    Some(g) => g.clone(),
                    None => {
                        *built += 1;
                        let g = Compiler { cluster, ids, c: caches }.build(dir, &applicable, a.endpoint);
                        canonical(named, &old_named, g, &mut caches.collided)
                    }
                };
                let entry = group.chains[0].name.clone();
                if !named.contains_key(&entry) {
                    named.insert(entry.clone(), group.clone());
                    let kept = old_named.get(&entry).is_some_and(|o| Arc::ptr_eq(o, &group));
                    for (chain, rule_ids) in group.chains.iter().zip(&group.ids) {
                        let mut chain = match old_chains.remove(&chain.name) {
                            Some(c) if kept => c,
                            _ => chain.clone(),
                        };
                        for (rule, id) in chain.rules.iter_mut().zip(rule_ids) {
                            if let (Some(id), Some(o)) = (id, rule.origin.as_mut()) {
                                if let Some((ti, pi)) = position(*id) {
                                    (o.tier, o.policy) = (ti, Some(pi));
                                }
                            }
                        }
                        ruleset.chains.push(chain);
                    }
                    for name in &group.sets {
                        if sets_seen.insert(name.clone()) {
                            let set = old_sets.remove(name).unwrap_or_else(|| caches.sets.get(name).clone());
                            ruleset.sets.push(set);
                        }
                    }
                    for (id, dir, rule, text) in &group.warnings {
                        if let Some((ti, pi)) = position(*id) {
                            warnings.entry((ti, pi, *dir, *rule)).or_insert_with(|| text.clone());
                        }
                    }
                }
                used.insert(key, group);
                entries[k] = Some(entry);
            }
            let [egress, ingress] = entries;
            ruleset.endpoints.push(Dispatch {
                endpoint: a.endpoint,
                name: cluster.endpoints[a.endpoint].name.clone(),
                interface: a.interface.clone(),
                addresses: a.addresses.clone(),
                egress,
                ingress,
            });
        }
        ruleset.warnings = warnings.into_values().collect();
        *groups = used;
    }
}

/// The group to use for a newly built one: the group already standing for its entry
/// chain's name in this compile when they are the same; else, when two different groups
/// of this compile hash to one name (never seen), the new one renamed `..xK` (and
/// `collided` set: the names then depend on the order groups were met in).
fn canonical(
    named: &HashMap<String, Arc<Group>>,
    old: &HashMap<String, Arc<Group>>,
    mut g: Group,
    collided: &mut bool,
) -> Arc<Group> {
    let base = g.chains[0].name.clone();
    let mut k = 2;
    loop {
        let name = &g.chains[0].name;
        match named.get(name) {
            // Not met in this compile: the last compile's group of that name when it is
            // this one (its chains are kept), else this one (the same rules from a
            // policy's new content).
            None => return old.get(name).filter(|o| o.same(&g)).cloned().unwrap_or_else(|| Arc::new(g)),
            Some(o) if o.same(&g) => return o.clone(),
            Some(_) => {
                *collided = true;
                let names: Vec<String> = (0..g.chains.len())
                    .map(|i| if i == 0 { format!("{base}x{k}") } else { format!("{base}x{k}_{i}") })
                    .collect();
                rename(&mut g.chains, &names);
                k += 1;
            }
        }
    }
}

/// Gives `chains` the names `names`, and their `goto`s and `next`s with them.
fn rename(chains: &mut [Chain], names: &[String]) {
    let old: Vec<String> = chains.iter().map(|c| c.name.clone()).collect();
    let rename = |n: &str| old.iter().position(|o| o == n).map(|k| names[k].clone());
    for c in chains.iter_mut() {
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

pub(crate) fn check_table(name: &str) -> Result<(), CompileError> {
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
pub(crate) fn check_attachments(
    cluster: &Cluster,
    attachments: &[Attachment],
) -> Result<Vec<Attachment>, CompileError> {
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
    /// Whether a definition was renamed because another one had its hash.
    collided: bool,
}

impl Sets {
    /// The set named `name`, which was interned.
    fn get(&self, name: &str) -> &Set {
        &self.sets[self.by_name[name]]
    }

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
                Some(_) => {
                    self.collided = true;
                    name = format!("{base}_{k}");
                }
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

/// What the compiler keeps between compiles while the universe and the attachments
/// stay: how selectors and peers resolve, and how each rule compiles.
pub(crate) struct Caches {
    /// The engine's index of the universe (no policies): which endpoints a selector picks.
    universe: Index,
    /// Per endpoint: the addresses peers resolve to (none for host-network pods).
    addresses: Vec<Vec<IpAddr>>,
    sets: Sets,
    selected: HashMap<(Expr, bool), Space>,
    /// Each rule's alternatives, once per rule (and, for ingress, per set of declared
    /// ports of the local endpoint, which its named ports resolve on): a policy that
    /// applies in many situations is compiled once.
    alts: HashMap<AltsKey, Vec<Alt>>,
    /// Whether two definitions met one name and the later one was renamed: names then
    /// depend on the order of compiling, and the next compile starts from scratch.
    pub(crate) collided: bool,
}

/// (content id of the policy, rule index, direction, the local endpoint's ports).
type AltsKey = (u32, usize, Direction, Vec<podwall_ir::NamedPort>);

impl Caches {
    fn new(cluster: &Cluster, attachments: &[Attachment]) -> Self {
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
        // Selectors read the universe only: an index without policies answers them.
        let universe = Cluster {
            namespaces: cluster.namespaces.clone(),
            endpoints: cluster.endpoints.clone(),
            network_sets: cluster.network_sets.clone(),
            service_accounts: cluster.service_accounts.clone(),
            nodes: cluster.nodes.clone(),
            ..Cluster::default()
        };
        Caches {
            universe: Index::build(Arc::new(universe)),
            addresses,
            sets: Sets::default(),
            selected: HashMap::new(),
            alts: HashMap::new(),
            collided: false,
        }
    }
}

/// Builds one situation's group.
struct Compiler<'a> {
    cluster: &'a Cluster,
    /// Per tier, per position: the policy's content id.
    ids: &'a [Vec<u32>],
    c: &'a mut Caches,
}

impl Compiler<'_> {
    /// Builds a situation's chains: one per applicable tier, named after what they do,
    /// so that the same chains compiled from another state of the cluster have the same
    /// names (and an update leaves them alone): `DIR_HASH` for the first tier,
    /// `DIR_HASH_K` for the K-th, the hash taken over the rules as nft writes them.
    /// Ingress chains resolve named ports on the local endpoint.
    fn build(&mut self, dir: Direction, applicable: &[(usize, usize)], local: EndpointId) -> Group {
        let runs: Vec<&[(usize, usize)]> = applicable.chunk_by(|a, b| a.0 == b.0).collect();
        let names: Vec<String> = (0..runs.len()).map(|k| format!("new_{k}")).collect();
        let allow = match dir {
            Direction::Egress => Action::Return,
            Direction::Ingress => Action::Accept,
        };
        let tiers = self.cluster.policies.tiers();
        let mut chains = Vec::with_capacity(runs.len());
        let mut ids = Vec::with_capacity(runs.len());
        let mut warnings = Vec::new();
        for (k, run) in runs.iter().enumerate() {
            let ti = run[0].0;
            let tier = &tiers[ti];
            let onward = names.get(k + 1).map(|n| Action::Goto(n.clone())).unwrap_or_else(|| allow.clone());
            let mut rules = Vec::new();
            let mut rule_ids = Vec::new();
            for &(_, pi) in run.iter() {
                let policy = &tier.policies[pi];
                let id = self.ids[ti][pi];
                for rule in policy.rules(dir).unwrap_or_default() {
                    let what = format!("{}: {} {dir} rule {}", tier.name, policy_name(policy), rule.index + 1);
                    let alts = self.rule_alts_memo(id, rule, dir, local);
                    if rule.http.is_some() && !alts.is_empty() {
                        warnings.push((
                            id,
                            dir,
                            rule.index,
                            format!(
                                "{what}: its HTTP match cannot be enforced at layers 3 and 4; \
                                 the data plane applies the rule ({}) to all its traffic, as if every request matched",
                                rule.action
                            ),
                        ));
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
                        rule_ids.push(Some(id));
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
            rule_ids.push(None);
            chains.push(Chain {
                name: names[k].clone(),
                direction: dir,
                tier: ti,
                comment: clip(&format!("{dir}: tier {}", tier.name), 127),
                rules,
                next: names.get(k + 1).cloned(),
            });
            ids.push(rule_ids);
        }
        // The name: a hash over what the chains do, `goto`s read as chain numbers.
        let mut text = String::new();
        for c in &chains {
            text.push_str(&c.comment);
            text.push('\n');
            for r in &c.rules {
                match &r.action {
                    Action::Goto(t) => {
                        let k = names.iter().position(|n| n == t).unwrap_or(usize::MAX);
                        text.push_str(&crate::render_rule(&Rule { action: Action::Goto(k.to_string()), ..r.clone() }));
                    }
                    _ => text.push_str(&crate::render_rule(r)),
                }
                text.push('\n');
            }
        }
        let base = format!("{dir}_{:016x}", fnv(text.as_bytes()));
        let final_names: Vec<String> =
            (0..chains.len()).map(|k| if k == 0 { base.clone() } else { format!("{base}_{k}") }).collect();
        rename(&mut chains, &final_names);
        let mut sets = Vec::new();
        for c in &chains {
            for r in &c.rules {
                for m in &r.matches {
                    if let Match::Address { set, .. } | Match::DestinationPorts { set, .. } = m {
                        if !sets.contains(set) {
                            sets.push(set.clone());
                        }
                    }
                }
            }
        }
        Group { chains, ids, sets, warnings }
    }

    fn sets_intern(&mut self, kind: SetKind, definition: &str, elements: Vec<String>) -> String {
        let name = self.c.sets.intern(kind, definition, elements);
        self.c.collided |= self.c.sets.collided;
        name
    }

    /// [`Compiler::rule_alts`] of rule `rule` of the policy of content id `id`, computed once.
    fn rule_alts_memo(&mut self, id: u32, rule: &podwall_ir::Rule, dir: Direction, local: EndpointId) -> Vec<Alt> {
        let ports = match dir {
            Direction::Ingress => self.cluster.endpoints[local].ports.clone(),
            Direction::Egress => Vec::new(),
        };
        let key = (id, rule.index, dir, ports);
        if let Some(a) = self.c.alts.get(&key) {
            return a.clone();
        }
        let a = self.rule_alts(rule, dir, local);
        self.c.alts.insert(key, a.clone());
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
        if let Some(s) = self.c.selected.get(&key) {
            return s.clone();
        }
        let mut s = Space::empty();
        for id in self.c.universe.select(sel) {
            self.c.addresses[id].iter().for_each(|ip| s.add_ip(*ip));
        }
        if network_sets {
            for i in self.c.universe.select_network_sets(sel) {
                self.cluster.network_sets[i].nets.iter().for_each(|n| s.add_net(n));
            }
        }
        self.c.selected.insert(key, s.clone());
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
            let set = self.sets_intern(SetKind::Addresses(f), &definition, elements);
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
                        let set = self.sets_intern(SetKind::DestinationPorts(f), &definition, triple_elements(e));
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
                let set = self.sets_intern(SetKind::DestinationPorts(f), &definition, triple_elements(&keep));
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
        for (id, ips) in self.c.addresses.iter().enumerate() {
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
