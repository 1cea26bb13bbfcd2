//! The reference evaluator: one connection, tier by tier, with the reason.
use std::net::IpAddr;

use ipnet::IpNet;
use podwall_ir::Expr;
use podwall_ir::{
    Action, Cluster, Direction, EndpointId, Entity, HttpMatch, Icmp, PathMatch, Peer, PortMatch, Ports, Protocol, Rule,
    TierDefault,
};

use crate::{Addr, Packet};

/// A rule, located: tier index, policy index inside the tier, rule index inside the
/// policy's list for the direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleRef {
    /// Index into `PolicySet::tiers()`.
    pub tier: usize,
    /// Index into the tier's policies.
    pub policy: usize,
    /// Index into the policy's rules for the direction.
    pub rule: usize,
    /// The rule's action.
    pub action: Action,
}

/// What decided one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The local end is no policy endpoint (an outside address, a host-network pod):
    /// nothing is enforced there.
    NotAnEndpoint,
    /// No policy of any tier applies to the endpoint in this direction: the profile allows.
    NoPolicy,
    /// This rule matched (Allow or Deny).
    Rule(RuleRef),
    /// This tier applied to the endpoint and no rule decided: its default action (Deny)
    /// dropped the connection. For Kubernetes NetworkPolicy, this is isolation.
    TierDefault(usize),
    /// Every applicable tier passed the connection on: the profile allows.
    Passed,
    /// A pod talking to itself: "a pod cannot block access to itself" (Kubernetes
    /// documentation, Network Policies), and the traffic never leaves the pod.
    OwnTraffic,
}

/// The verdict of one direction and how it came about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionVerdict {
    /// Egress (at the source) or ingress (at the destination).
    pub direction: Direction,
    /// Whether this direction lets the connection through.
    pub allowed: bool,
    /// What decided.
    pub decision: Decision,
    /// Every policy (tier, policy) that applies to the local endpoint in this direction,
    /// in evaluation order.
    pub applied: Vec<(usize, usize)>,
    /// Log rules that fired before the decision.
    pub logged: Vec<RuleRef>,
    /// Pass rules that sent evaluation on to the next tier.
    pub passed: Vec<RuleRef>,
    /// Rules that matched only because their HTTP match was not evaluated (a layer-4
    /// question about a layer-7 rule).
    pub unchecked_http: Vec<RuleRef>,
}

/// The verdict of a connection: both directions must allow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Egress at the source and ingress at the destination both allow.
    pub allowed: bool,
    /// The source's egress.
    pub egress: DirectionVerdict,
    /// The destination's ingress.
    pub ingress: DirectionVerdict,
}

/// Why a direction ended as it did: the [`Decision`] with what a reason names, so that
/// every answer words it from the same facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// The local end is no policy endpoint.
    NotAnEndpoint,
    /// No policy selects the local end in this direction.
    NoPolicy,
    /// Every applicable tier passed the connection on.
    Passed,
    /// A pod talking to itself.
    OwnTraffic,
    /// This rule decided.
    Rule(RuleRef),
    /// Kubernetes isolation: the policies of tier `tier` that apply (`policies`) are all
    /// Kubernetes NetworkPolicies, none of whose rules admits the connection. Worded so
    /// whatever earlier tiers did.
    Isolated {
        /// The tier.
        tier: usize,
        /// Its policies that apply, (tier, policy), in order.
        policies: Vec<(usize, usize)>,
    },
    /// Tier `tier` applied, no rule of its `policies` decided, and its default action
    /// (`default`) ended the walk.
    TierEnd {
        /// The tier.
        tier: usize,
        /// Its policies that apply, (tier, policy), in order.
        policies: Vec<(usize, usize)>,
        /// The tier's default action.
        default: TierDefault,
    },
}

impl DirectionVerdict {
    /// Why this direction ended as it did.
    pub fn why(&self, cluster: &Cluster) -> Why {
        match self.decision {
            Decision::NotAnEndpoint => Why::NotAnEndpoint,
            Decision::NoPolicy => Why::NoPolicy,
            Decision::Passed => Why::Passed,
            Decision::OwnTraffic => Why::OwnTraffic,
            Decision::Rule(r) => Why::Rule(r),
            Decision::TierDefault(tier) => {
                let policies: Vec<(usize, usize)> = self.applied.iter().copied().filter(|(t, _)| *t == tier).collect();
                let tiers = cluster.policies.tiers();
                if policies.iter().all(|&(t, p)| tiers[t].policies[p].kind == podwall_ir::PolicyKind::NetworkPolicy) {
                    Why::Isolated { tier, policies }
                } else {
                    Why::TierEnd { tier, policies, default: tiers[tier].default_action }
                }
            }
        }
    }
}

/// Whether a connection is a pod's traffic to itself, which no policy governs. (A
/// template stands for many pods; its pair with itself is replica to replica and is
/// judged by the policies.)
pub fn own_traffic(cluster: &Cluster, src: Addr, dst: Addr) -> bool {
    matches!((src, dst), (Addr::Endpoint(s), Addr::Endpoint(d)) if s == d && cluster.endpoints[s].kind == podwall_ir::EndpointKind::Pod)
}

/// Judges a connection.
pub fn evaluate(cluster: &Cluster, pkt: &Packet) -> Verdict {
    let policies = |addr: Addr, dir| match addr.policy_endpoint(cluster) {
        Some(id) => applicable_policies(cluster, id, dir),
        None => vec![],
    };
    evaluate_with(cluster, pkt, &policies(pkt.src, Direction::Egress), &policies(pkt.dst, Direction::Ingress))
}

/// Judges a connection given the policies that apply to its source's egress and its
/// destination's ingress ([`applicable_policies`]): judging many connections of the
/// same endpoints, find those once.
pub fn evaluate_with(
    cluster: &Cluster,
    pkt: &Packet,
    egress: &[(usize, usize)],
    ingress: &[(usize, usize)],
) -> Verdict {
    if own_traffic(cluster, pkt.src, pkt.dst) {
        let own = |direction| DirectionVerdict {
            direction,
            allowed: true,
            decision: Decision::OwnTraffic,
            applied: vec![],
            logged: vec![],
            passed: vec![],
            unchecked_http: vec![],
        };
        return Verdict { allowed: true, egress: own(Direction::Egress), ingress: own(Direction::Ingress) };
    }
    let egress = evaluate_direction_with(cluster, pkt, Direction::Egress, egress);
    let ingress = evaluate_direction_with(cluster, pkt, Direction::Ingress, ingress);
    Verdict { allowed: egress.allowed && ingress.allowed, egress, ingress }
}

/// Whether `policy` applies to endpoint `id` in `dir`: it is typed for that direction
/// and its selector picks the endpoint (host-network pods are never picked).
pub fn applies(cluster: &Cluster, policy: &podwall_ir::Policy, id: EndpointId, dir: Direction) -> bool {
    policy.rules(dir).is_some() && !cluster.endpoints[id].host_network && policy.selector.matches(&cluster.view(id))
}

/// The policies that apply to endpoint `id` in `dir`, in evaluation order: (tier index,
/// policy index).
pub fn applicable_policies(cluster: &Cluster, id: EndpointId, dir: Direction) -> Vec<(usize, usize)> {
    let tiers = cluster.policies.tiers().iter().enumerate();
    tiers
        .flat_map(|(ti, tier)| {
            tier.policies
                .iter()
                .enumerate()
                .filter(move |(_, p)| applies(cluster, p, id, dir))
                .map(move |(pi, _)| (ti, pi))
        })
        .collect()
}

/// The tiers that govern one direction of an endpoint: each tier holding a policy
/// that applies, in evaluation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoverningTier {
    /// The tier's index.
    pub tier: usize,
    /// The applying policies' positions in the tier, in order.
    pub policies: Vec<usize>,
    /// `None` when some packet can reach this tier; otherwise the earlier tier that
    /// decides every packet before it: it ends in Deny and none of its applying
    /// policies holds a Pass rule.
    pub unreachable_after: Option<usize>,
}

/// The tiers governing endpoint `id` in `dir`, with which of them some packet reaches:
/// a tier is passed over by a packet that a Pass rule sends on, or that a tier with
/// default action Pass leaves undecided; a tier with default action Deny and no Pass
/// rule for this direction decides everything that reaches it.
pub fn governing_tiers(cluster: &Cluster, id: EndpointId, dir: Direction) -> Vec<GoverningTier> {
    governing_tiers_of(cluster, &applicable_policies(cluster, id, dir), dir)
}

/// [`governing_tiers`] given the policies that apply ([`applicable_policies`], or
/// [`crate::Index::applicable_policies`]): endpoints with the same list share the answer.
pub fn governing_tiers_of(cluster: &Cluster, applicable: &[(usize, usize)], dir: Direction) -> Vec<GoverningTier> {
    let mut out: Vec<GoverningTier> = Vec::new();
    for &(ti, pi) in applicable {
        match out.last_mut() {
            Some(g) if g.tier == ti => g.policies.push(pi),
            _ => out.push(GoverningTier { tier: ti, policies: vec![pi], unreachable_after: None }),
        }
    }
    let tiers = cluster.policies.tiers();
    let mut blocked: Option<usize> = None;
    for g in &mut out {
        g.unreachable_after = blocked;
        let tier = &tiers[g.tier];
        let passes = g.policies.iter().any(|&pi| {
            tier.policies[pi].rules(dir).unwrap_or_default().iter().any(|r| r.action == podwall_ir::Action::Pass)
        });
        if blocked.is_none() && tier.default_action == TierDefault::Deny && !passes {
            blocked = Some(g.tier);
        }
    }
    out
}

/// Judges one direction of a connection.
pub fn evaluate_direction(cluster: &Cluster, pkt: &Packet, direction: Direction) -> DirectionVerdict {
    let local = match direction {
        Direction::Egress => pkt.src,
        Direction::Ingress => pkt.dst,
    };
    let policies = match local.policy_endpoint(cluster) {
        Some(id) => applicable_policies(cluster, id, direction),
        None => vec![],
    };
    evaluate_direction_with(cluster, pkt, direction, &policies)
}

/// Judges one direction of a connection given the policies that apply at its local end
/// ([`applicable_policies`] of the source for egress, of the destination for ingress).
pub fn evaluate_direction_with(
    cluster: &Cluster,
    pkt: &Packet,
    direction: Direction,
    policies: &[(usize, usize)],
) -> DirectionVerdict {
    let local = match direction {
        Direction::Egress => pkt.src,
        Direction::Ingress => pkt.dst,
    };
    let mut v = DirectionVerdict {
        direction,
        allowed: true,
        decision: Decision::NotAnEndpoint,
        applied: vec![],
        logged: vec![],
        passed: vec![],
        unchecked_http: vec![],
    };
    if local.policy_endpoint(cluster).is_none() {
        return v;
    }
    let mut any_tier = false;
    // The applicable policies, tier by tier (they come in evaluation order).
    for run in policies.chunk_by(|a, b| a.0 == b.0) {
        let ti = run[0].0;
        let tier = &cluster.policies.tiers()[ti];
        any_tier = true;
        v.applied.extend(run.iter().copied());
        let mut passed = false;
        'policies: for &(_, pi) in run {
            let rules = tier.policies[pi].rules(direction).unwrap_or_default();
            for rule in rules {
                let (hit, unchecked_http) = rule_matches(cluster, rule, pkt);
                if !hit {
                    continue;
                }
                let r = RuleRef { tier: ti, policy: pi, rule: rule.index, action: rule.action };
                if unchecked_http {
                    v.unchecked_http.push(r);
                }
                match rule.action {
                    Action::Log => v.logged.push(r),
                    Action::Allow | Action::Deny => {
                        v.allowed = rule.action == Action::Allow;
                        v.decision = Decision::Rule(r);
                        return v;
                    }
                    Action::Pass => {
                        v.passed.push(r);
                        passed = true;
                        break 'policies;
                    }
                }
            }
        }
        if passed || tier.default_action == TierDefault::Pass {
            continue;
        }
        v.allowed = false;
        v.decision = Decision::TierDefault(ti);
        return v;
    }
    v.decision = if any_tier { Decision::Passed } else { Decision::NoPolicy };
    v
}

/// Whether `rule` matches the packet; the second value tells that an HTTP match was
/// skipped because the question is at layer 4.
pub(crate) fn rule_matches(cluster: &Cluster, rule: &Rule, pkt: &Packet) -> (bool, bool) {
    if rule.source_ports {
        return (false, false);
    }
    if rule.protocol.is_some_and(|p| p != pkt.protocol) || rule.not_protocol == Some(pkt.protocol) {
        return (false, false);
    }
    if let Some(i) = rule.icmp {
        if !icmp_matches(i, pkt) {
            return (false, false);
        }
    }
    if let Some(i) = rule.not_icmp {
        if icmp_matches(i, pkt) {
            return (false, false);
        }
    }
    if rule.ip_version.is_some_and(|v| v != pkt.ip_version(cluster)) {
        return (false, false);
    }
    // Ports are destination ports: the source side is judged by its peers only (a rule
    // on source ports never matches, see `source_ports`).
    if !peers_match(cluster, &rule.source.peers, pkt.src) || !entity_matches(cluster, &rule.destination, pkt.dst, pkt) {
        return (false, false);
    }
    match (&rule.http, &pkt.http) {
        (None, _) => (true, false),
        (Some(_), None) => (true, true),
        (Some(m), Some(req)) => (http_matches(m, req), false),
    }
}

fn icmp_matches(i: Icmp, pkt: &Packet) -> bool {
    if pkt.protocol != Protocol::ICMP && pkt.protocol != Protocol::ICMPV6 {
        return false;
    }
    match pkt.icmp {
        Some((t, c)) => t == i.kind && i.code.is_none_or(|code| code == c),
        None => false,
    }
}

fn http_matches(m: &HttpMatch, req: &crate::HttpRequest) -> bool {
    let method_ok = m.methods.is_empty()
        || req.method.as_deref().is_some_and(|x| m.methods.iter().any(|mm| mm.eq_ignore_ascii_case(x)));
    let path_ok = m.paths.is_empty()
        || req.path.as_deref().is_some_and(|p| {
            m.paths.iter().any(|pm| match pm {
                PathMatch::Exact(e) => p == e,
                PathMatch::Prefix(pre) => p.starts_with(pre.as_str()),
            })
        });
    method_ok && path_ok
}

fn peers_match(cluster: &Cluster, peers: &[Peer], addr: Addr) -> bool {
    peers.is_empty() || peers.iter().any(|p| peer_matches(cluster, p, addr))
}

fn entity_matches(cluster: &Cluster, e: &Entity, addr: Addr, pkt: &Packet) -> bool {
    peers_match(cluster, &e.peers, addr)
        && (e.ports.is_empty() || e.ports.iter().any(|p| port_matches(cluster, p, pkt)))
        && !e.not_ports.iter().any(|p| port_matches(cluster, p, pkt))
}

/// Whether a port entry matches the packet's protocol and destination port (named ports
/// are looked up on the destination endpoint).
pub(crate) fn port_matches(cluster: &Cluster, pm: &PortMatch, pkt: &Packet) -> bool {
    if pm.protocol.is_some_and(|p| p != pkt.protocol) {
        return false;
    }
    match &pm.ports {
        Ports::Any => true,
        Ports::Range(lo, hi) => pkt.port.is_some_and(|p| *lo <= p && p <= *hi),
        Ports::Named(name) => match (pkt.dst.policy_endpoint(cluster), pkt.port) {
            (Some(id), Some(port)) => cluster.endpoints[id].has_named_port(name, pkt.protocol, port),
            _ => false,
        },
    }
}

/// Whether `ip` (unknown for templates) lies in one of `nets`. An unknown address is
/// only known to lie in a range that holds every address (a /0).
pub(crate) fn in_nets(ip: Option<IpAddr>, nets: &[IpNet]) -> bool {
    match ip {
        Some(ip) => nets.iter().any(|n| n.contains(&ip)),
        None => nets.iter().any(|n| n.prefix_len() == 0),
    }
}

/// Whether a selector picks the address: an endpoint whose labels match, or (for
/// Calico) an address inside a network set whose labels match.
fn selected(cluster: &Cluster, sel: &Expr, network_sets: bool, addr: Addr) -> bool {
    if let Some(id) = addr.policy_endpoint(cluster) {
        if sel.matches(&cluster.view(id)) {
            return true;
        }
    }
    if network_sets {
        let ip = addr.ip(cluster);
        return (0..cluster.network_sets.len())
            .any(|i| in_nets(ip, &cluster.network_sets[i].nets) && sel.matches(&cluster.network_set_view(i)));
    }
    false
}

fn peer_matches(cluster: &Cluster, p: &Peer, addr: Addr) -> bool {
    let ip = addr.ip(cluster);
    p.selector.as_ref().is_none_or(|s| selected(cluster, s, p.network_sets, addr))
        && p.not_selector.as_ref().is_none_or(|s| !selected(cluster, s, p.network_sets, addr))
        && (p.nets.is_empty() || in_nets(ip, &p.nets))
        && excluded_by_none(ip, &p.not_nets)
}

/// Whether an address lies outside every excluded range. An unknown address (a
/// template's, a pending pod's) is known to only when nothing is excluded: the address it
/// will get may lie in any range (typically the pod network an `except` removes).
pub(crate) fn excluded_by_none(ip: Option<IpAddr>, not_nets: &[IpNet]) -> bool {
    match ip {
        Some(_) => !in_nets(ip, not_nets),
        None => not_nets.is_empty(),
    }
}
