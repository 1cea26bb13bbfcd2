//! Tiers, ordered policies and rules.
use std::cmp::Ordering;
use std::fmt;

use ipnet::IpNet;
use podwall_selector::Expr;

use crate::{PortMatch, Protocol, Source};

/// The direction of traffic relative to the endpoint a policy applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Traffic arriving at the endpoint.
    Ingress,
    /// Traffic leaving the endpoint.
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Accept: this direction is decided.
    Allow,
    /// Drop: this direction is decided.
    Deny,
    /// Leave the current tier; evaluation goes on at the next tier.
    Pass,
    /// Record the packet and go on with the next rule; never a verdict.
    Log,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
            Action::Log => "Log",
        })
    }
}

/// One alternative of a rule's peer list: a set of addresses described by labels and nets.
/// Every field that is set must match (AND).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Endpoints whose labels match (and, with `network_sets`, addresses of matching
    /// network sets). `None`: not constrained by labels.
    pub selector: Option<Expr>,
    /// Whether `selector`/`not_selector` also pick the address ranges of matching
    /// network sets (Calico), or endpoints only (Kubernetes, AdminNetworkPolicy).
    pub network_sets: bool,
    /// Addresses picked by this selector are excluded.
    pub not_selector: Option<Expr>,
    /// The address must lie in one of these ranges; empty: not constrained.
    pub nets: Vec<IpNet>,
    /// The address must lie in none of these ranges.
    pub not_nets: Vec<IpNet>,
    /// The peer as the user wrote it, for explanations.
    pub describe: String,
}

impl Peer {
    /// A peer that constrains nothing.
    pub fn any() -> Self {
        Peer {
            selector: None,
            network_sets: false,
            not_selector: None,
            nets: Vec::new(),
            not_nets: Vec::new(),
            describe: "any address".into(),
        }
    }
}

/// One side (source or destination) of a rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entity {
    /// Alternatives (OR); empty: any address.
    pub peers: Vec<Peer>,
    /// Destination ports (OR); empty: any. Only meaningful on the destination side.
    pub ports: Vec<PortMatch>,
    /// Destination ports that must not match.
    pub not_ports: Vec<PortMatch>,
}

impl Entity {
    /// Whether the entity constrains nothing.
    pub fn is_any(&self) -> bool {
        self.peers.is_empty() && self.ports.is_empty() && self.not_ports.is_empty()
    }
}

/// An ICMP type and optional code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icmp {
    /// ICMP type.
    pub kind: u8,
    /// ICMP code; `None`: any code.
    pub code: Option<u8>,
}

/// IP family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// How an HTTP path is compared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathMatch {
    /// The path equals this.
    Exact(String),
    /// The path starts with this.
    Prefix(String),
}

/// An application-layer (HTTP) match. The nftables data plane cannot enforce it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpMatch {
    /// Accepted methods; empty: any.
    pub methods: Vec<String>,
    /// Accepted paths; empty: any.
    pub paths: Vec<PathMatch>,
}

/// A rule: an action and a match on the packet. Every field that is set must match.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// What happens when the rule matches.
    pub action: Action,
    /// Required protocol.
    pub protocol: Option<Protocol>,
    /// Excluded protocol.
    pub not_protocol: Option<Protocol>,
    /// Required ICMP type/code.
    pub icmp: Option<Icmp>,
    /// Excluded ICMP type/code.
    pub not_icmp: Option<Icmp>,
    /// Required IP family.
    pub ip_version: Option<IpVersion>,
    /// The packet's source.
    pub source: Entity,
    /// The packet's destination (and its ports).
    pub destination: Entity,
    /// The rule constrains the source port, which a new connection's first packet does
    /// not let anyone predict: such a rule never matches.
    pub source_ports: bool,
    /// Application-layer match.
    pub http: Option<HttpMatch>,
    /// The rule's position in its policy's list for this direction (0-based).
    pub index: usize,
    /// The rule's own name, for the dialects whose rules carry one (AdminNetworkPolicy,
    /// ClusterNetworkPolicy); for explanations only.
    pub name: Option<String>,
}

impl Rule {
    /// A rule with this action that matches every packet.
    pub fn any(action: Action, index: usize) -> Self {
        Rule {
            action,
            protocol: None,
            not_protocol: None,
            icmp: None,
            not_icmp: None,
            ip_version: None,
            source: Entity::default(),
            destination: Entity::default(),
            source_ports: false,
            http: None,
            index,
            name: None,
        }
    }
}

/// The dialect and kind of object a policy was compiled from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    /// networking.k8s.io/v1 NetworkPolicy.
    NetworkPolicy,
    /// projectcalico.org/v3 NetworkPolicy.
    CalicoNetworkPolicy,
    /// projectcalico.org/v3 GlobalNetworkPolicy.
    CalicoGlobalNetworkPolicy,
    /// policy.networking.k8s.io AdminNetworkPolicy.
    AdminNetworkPolicy,
    /// policy.networking.k8s.io BaselineAdminNetworkPolicy.
    BaselineAdminNetworkPolicy,
    /// policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy (either tier).
    ClusterNetworkPolicy,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::NetworkPolicy => "NetworkPolicy",
            PolicyKind::CalicoNetworkPolicy => "Calico NetworkPolicy",
            PolicyKind::CalicoGlobalNetworkPolicy => "GlobalNetworkPolicy",
            PolicyKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            PolicyKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
            PolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
        })
    }
}

/// A policy: which endpoints it applies to, and its ordered rules per direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// What it was compiled from.
    pub kind: PolicyKind,
    /// Its namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Where it was read.
    pub source: Option<Source>,
    /// Order inside its tier, lowest first; `None` sorts last.
    pub order: Option<f64>,
    /// The endpoints it applies to.
    pub selector: Expr,
    /// Ingress rules, or `None` when the policy is not typed for ingress.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules, or `None` when the policy is not typed for egress.
    pub egress: Option<Vec<Rule>>,
}

impl Policy {
    /// The rules for a direction, if the policy is typed for it.
    pub fn rules(&self, dir: Direction) -> Option<&[Rule]> {
        match dir {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// `KIND NS/NAME` or `KIND NAME`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// What a tier does with traffic its policies select but no rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TierDefault {
    /// Drop ("end of tier" drop; Kubernetes isolation).
    Deny,
    /// Go on to the next tier.
    Pass,
}

/// A tier: ordered policies and a default action.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    /// Its name.
    pub name: String,
    /// Lowest first; `None` sorts after every ordered tier.
    pub order: Option<f64>,
    /// What happens when an applicable tier decides nothing.
    pub default_action: TierDefault,
    /// Policies, sorted by (order, name).
    pub policies: Vec<Policy>,
}

fn cmp_order(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Every tier, in evaluation order. When no tier decides, the endpoint's profile allows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySet {
    tiers: Vec<Tier>,
}

impl PolicySet {
    /// Builds a policy set, sorting tiers by (order, name) and policies by (order, name).
    pub fn new(mut tiers: Vec<Tier>) -> Self {
        for t in &mut tiers {
            t.policies.sort_by(policy_cmp);
        }
        tiers.sort_by(tier_cmp);
        PolicySet { tiers }
    }

    /// Tiers in evaluation order.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Every policy with its tier index, in evaluation order.
    pub fn policies(&self) -> impl Iterator<Item = (usize, &Policy)> {
        self.tiers.iter().enumerate().flat_map(|(i, t)| t.policies.iter().map(move |p| (i, p)))
    }

    /// The index of the tier named `name`.
    pub fn tier_index(&self, name: &str) -> Option<usize> {
        self.tiers.iter().position(|t| t.name == name)
    }

    /// Where the policy of this kind, namespace and name is: (tier, position).
    pub fn find(&self, kind: PolicyKind, namespace: Option<&str>, name: &str) -> Option<(usize, usize)> {
        self.tiers.iter().enumerate().find_map(|(ti, t)| {
            t.policies
                .iter()
                .position(|p| p.kind == kind && p.namespace.as_deref() == namespace && p.name == name)
                .map(|pi| (ti, pi))
        })
    }

    /// Inserts a policy into tier `tier` at its sorted place; returns its position.
    pub fn insert(&mut self, tier: usize, policy: Policy) -> usize {
        let list = &mut self.tiers[tier].policies;
        let pos = list.partition_point(|p| policy_cmp(p, &policy) != Ordering::Greater);
        list.insert(pos, policy);
        pos
    }

    /// Removes the policy at (tier, position).
    pub fn remove(&mut self, tier: usize, pos: usize) -> Policy {
        self.tiers[tier].policies.remove(pos)
    }

    /// Inserts a tier at its place in evaluation order (its policies sorted); returns
    /// its index. Tiers after it move one place down.
    pub fn insert_tier(&mut self, mut tier: Tier) -> usize {
        tier.policies.sort_by(policy_cmp);
        let pos = self.tiers.partition_point(|t| tier_cmp(t, &tier) != Ordering::Greater);
        self.tiers.insert(pos, tier);
        pos
    }

    /// Removes the tier at `index`, with its policies.
    pub fn remove_tier(&mut self, index: usize) -> Tier {
        self.tiers.remove(index)
    }
}

fn tier_cmp(a: &Tier, b: &Tier) -> Ordering {
    cmp_order(a.order, b.order).then_with(|| a.name.cmp(&b.name))
}

fn policy_cmp(a: &Policy, b: &Policy) -> Ordering {
    cmp_order(a.order, b.order).then_with(|| a.name.cmp(&b.name)).then_with(|| a.namespace.cmp(&b.namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str, order: Option<f64>) -> Tier {
        Tier { name: name.into(), order, default_action: TierDefault::Deny, policies: vec![] }
    }

    #[test]
    fn tiers_sort_by_order_then_name_and_unordered_last() {
        let set =
            PolicySet::new(vec![tier("z", None), tier("b", Some(100.0)), tier("a", Some(100.0)), tier("c", Some(5.0))]);
        let names: Vec<_> = set.tiers().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b", "z"]);
    }

    #[test]
    fn a_tier_inserted_later_takes_its_sorted_place() {
        let mut set = PolicySet::new(vec![tier("z", None), tier("a", Some(100.0)), tier("c", Some(5.0))]);
        assert_eq!(set.insert_tier(tier("b", Some(100.0))), 2);
        assert_eq!(set.insert_tier(tier("y", None)), 3);
        let names: Vec<_> = set.tiers().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b", "y", "z"]);
        assert_eq!(set.remove_tier(0).name, "c");
        assert_eq!(set.tier_index("z"), Some(3));
    }
}
