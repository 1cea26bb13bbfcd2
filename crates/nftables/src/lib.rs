//! The nftables data plane: a pure function from the tiered intermediate form to a
//! ruleset value, and that value as an `nft -f` script.
//!
//! [`compile`] reads a [`Cluster`] and the endpoints attached to this node (their
//! interfaces and addresses) and builds one `inet` table:
//!
//! - a base chain on the `forward` hook: established and related traffic is accepted,
//!   invalid traffic dropped, a packet from a pod interface whose source address is not
//!   that pod's is dropped, then verdict maps keyed by interface name jump to the
//!   endpoint's egress chain (traffic coming from it) and ingress chain (traffic going
//!   to it);
//! - per direction, one chain per distinct policy situation, shared by every endpoint
//!   in it, holding the tiers that apply in order (one chain per tier, linked by
//!   `goto`, so that Pass and a tier's Pass default leave the tier);
//! - peers as named address sets, one per family and distinct content; ports as
//!   anonymous sets; named ports of egress rules as `address . protocol . port` sets.
//!
//! The rules reproduce `podwall_engine::evaluate` per direction: first matching Allow
//! or Deny decides (an egress Allow returns to the base chain, so that the destination's
//! ingress chain still runs; an ingress Allow accepts); Pass leaves the tier; Log logs
//! and goes on; an applicable tier that decides nothing ends in its default; when no
//! tier decides, the traffic is allowed. HTTP matches cannot be seen at layer 3/4: such
//! rules match as if the request matched (as the evaluator judges layer-4 questions),
//! and each one is listed in [`Ruleset::warnings`].
#![forbid(unsafe_code)]

mod compile;
mod delta;
mod incremental;
pub mod ranges;
mod render;
mod simulate;

use std::net::IpAddr;

use podwall_ir::{Cluster, Direction, EndpointId};

pub use compile::compile;
pub use delta::{delta, Delta, Installed, InstalledChain, InstalledSet, MapChange, MapEntry, SetChange};
pub use incremental::{Incremental, Recompiled};
pub use render::render_rule;
pub use simulate::{Probe, Step, Trace};

/// What the data plane needs to know about each endpoint that lives on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The node-side interface (veth) of the endpoint.
    pub interface: String,
    /// Its addresses: the only source addresses its interface may send from. They are
    /// also the addresses peers resolve to (with the endpoint's address in the cluster).
    pub addresses: Vec<IpAddr>,
}

/// How to build the ruleset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The name of the `inet` table podwall owns, e.g. `podwall`.
    pub table: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { table: "podwall".into() }
    }
}

/// Why a ruleset cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// The table name is no nft identifier.
    #[error("table name {0:?}: must be 1-64 characters of letters, digits and '_', starting with a letter")]
    TableName(String),
    /// An attachment names an endpoint the cluster does not have.
    #[error("attachment of endpoint #{0}: the cluster has no such endpoint")]
    UnknownEndpoint(EndpointId),
    /// Two attachments for one endpoint.
    #[error("endpoint {0} is attached twice")]
    EndpointTwice(String),
    /// An interface name the kernel would not take.
    #[error("endpoint {endpoint}: interface name {interface:?}: must be 1-15 characters of letters, digits, '_', '-' and '.'")]
    InterfaceName {
        /// The endpoint.
        endpoint: String,
        /// The name.
        interface: String,
    },
    /// Two endpoints on one interface.
    #[error("interface {interface:?} is given to both {first} and {second}")]
    InterfaceTwice {
        /// The interface.
        interface: String,
        /// The endpoint that had it first.
        first: String,
        /// The other one.
        second: String,
    },
    /// A host-network pod has no interface of its own.
    #[error("endpoint {0} uses the host network: it has no interface of its own to attach")]
    HostNetwork(String),
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Family {
    /// IPv4 (`ip`).
    V4,
    /// IPv6 (`ip6`).
    V6,
}

/// Which address of the packet a match reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// `saddr`.
    Source,
    /// `daddr`.
    Destination,
}

/// One condition of a rule; a rule matches when all of its conditions do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Match {
    /// `meta nfproto ipv4|ipv6`: the packet's family.
    Family(Family),
    /// `ip saddr @set`, `ip6 daddr != @set`: the address is (not) in a named address set.
    Address {
        /// Which address.
        side: Side,
        /// Its family (the set's).
        family: Family,
        /// The set's name in [`Ruleset::sets`].
        set: String,
        /// `!=`.
        negated: bool,
    },
    /// `meta l4proto { ... }`: the protocol number is (not) in these inclusive ranges.
    Protocols {
        /// Ascending, disjoint.
        ranges: Vec<(u8, u8)>,
        /// `!=`.
        negated: bool,
    },
    /// The (protocol, destination port) pair is in one of these (protocol, first port,
    /// last port) entries: `tcp dport { ... }` for one protocol, else
    /// `meta l4proto . th dport { ... }`.
    Ports(Vec<(u8, u16, u16)>),
    /// `ip daddr . meta l4proto . th dport @set`: named ports resolved on each
    /// destination endpoint.
    DestinationPorts {
        /// The destination's family.
        family: Family,
        /// The set's name in [`Ruleset::sets`].
        set: String,
        /// `!=`.
        negated: bool,
    },
    /// The ICMP (or ICMPv6) type, read as the first byte of the transport header
    /// (`@th,0,8`); always with a `Protocols` match for ICMP and ICMPv6 in the rule.
    IcmpType {
        /// The type.
        kind: u8,
        /// `!=`.
        negated: bool,
    },
    /// The ICMP code (`@th,8,8`).
    IcmpCode {
        /// The code.
        code: u8,
        /// `!=`.
        negated: bool,
    },
}

/// What a rule does when it matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `accept`: an ingress Allow (or the profile's allow at the end of ingress).
    Accept,
    /// `drop`: a Deny, or a tier's Deny default.
    Drop,
    /// `return`: an egress Allow — back to the base chain, where the destination's
    /// ingress chain still runs.
    Return,
    /// `goto CHAIN`: Pass, to the next applicable tier's chain.
    Goto(String),
    /// `log prefix "..."`: no verdict; the next rule follows.
    Log {
        /// The log prefix (names tier, policy and rule).
        prefix: String,
    },
}

/// Where a rule comes from, in the evaluator's terms (`podwall_engine::RuleRef`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Index into `PolicySet::tiers()`.
    pub tier: usize,
    /// Index into the tier's policies; `None` for the tier's default at its end.
    pub policy: Option<usize>,
    /// The rule's index in its policy's list for the direction (`Rule::index`).
    pub rule: usize,
}

/// One nft rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Every condition must hold.
    pub matches: Vec<Match>,
    /// What happens then.
    pub action: Action,
    /// The nft comment: tier, policy and rule.
    pub comment: String,
    /// The IR rule it implements; `None` for the profile's allow.
    pub origin: Option<Origin>,
}

/// A regular chain: one applicable tier of one direction of a policy situation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Its name: `egress_N` / `ingress_N` for the first tier, `..._N_K` for the K-th.
    pub name: String,
    /// Egress or ingress.
    pub direction: Direction,
    /// The tier it holds (index into `PolicySet::tiers()`).
    pub tier: usize,
    /// The nft comment: the tier, and which endpoints use it.
    pub comment: String,
    /// The rules in order.
    pub rules: Vec<Rule>,
    /// The chain of the next applicable tier, which Pass jumps to (`goto`).
    pub next: Option<String>,
}

/// What a named set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum SetKind {
    /// Addresses of one family (`ipv4_addr` / `ipv6_addr`).
    Addresses(Family),
    /// `address . protocol . port` triples (named ports resolved on destinations).
    DestinationPorts(Family),
    /// Interface names (the base chain's set of pod interfaces).
    Interfaces,
    /// `interface . address` pairs (the base chain's anti-spoofing sets).
    Sources(Family),
}

/// A named set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Set {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: SetKind,
    /// Whether it holds ranges (CIDRs): an interval set.
    pub interval: bool,
    /// The elements as nft writes them (`10.0.0.0/8`, `10.0.0.5 . 6 . 8080`), sorted.
    pub elements: Vec<String>,
}

/// One attached endpoint and the chains its traffic goes through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Its name (`NS/NAME`).
    pub name: String,
    /// Its interface.
    pub interface: String,
    /// Its addresses (the anti-spoofing sets hold `interface . address`).
    pub addresses: Vec<IpAddr>,
    /// The chain traffic from it jumps to; `None`: no policy applies to its egress.
    pub egress: Option<String>,
    /// The chain traffic to it jumps to; `None`: no policy applies to its ingress.
    pub ingress: Option<String>,
}

/// The compiled ruleset: one `inet` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruleset {
    /// The table's name.
    pub table: String,
    /// Named sets, in order of first use.
    pub sets: Vec<Set>,
    /// Regular chains (the base chain `forward` is built from [`Ruleset::endpoints`]).
    pub chains: Vec<Chain>,
    /// Every attached endpoint, by endpoint id.
    pub endpoints: Vec<Dispatch>,
    /// What the kernel cannot enforce as written (HTTP matches), one line per rule.
    pub warnings: Vec<String>,
}

impl Ruleset {
    /// The chain named `name`.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// The set named `name`.
    pub fn set(&self, name: &str) -> Option<&Set> {
        self.sets.iter().find(|s| s.name == name)
    }

    /// The attached endpoint `id`.
    pub fn dispatch(&self, id: EndpointId) -> Option<&Dispatch> {
        self.endpoints.iter().find(|d| d.endpoint == id)
    }

    /// The first chain of `id`'s `dir` traffic, if any policy applies to it there.
    pub fn entry_chain(&self, id: EndpointId, dir: Direction) -> Option<&Chain> {
        let d = self.dispatch(id)?;
        let name = match dir {
            Direction::Egress => d.egress.as_deref(),
            Direction::Ingress => d.ingress.as_deref(),
        }?;
        self.chain(name)
    }

    /// The chains of `id`'s `dir` traffic, in evaluation order.
    pub fn chains_of(&self, id: EndpointId, dir: Direction) -> Vec<&Chain> {
        let mut out = Vec::new();
        let mut next = self.entry_chain(id, dir);
        while let Some(c) = next {
            out.push(c);
            next = c.next.as_deref().and_then(|n| self.chain(n));
        }
        out
    }

    /// A complete `nft -f` script that atomically replaces the table.
    pub fn render(&self) -> String {
        render::render(self)
    }

    /// The sets the base chain reads (pod interfaces, and `interface . address` per
    /// family for anti-spoofing), which [`Ruleset::sets`] does not list.
    pub fn base_sets(&self) -> [Set; 3] {
        render::base_sets(self)
    }
}

/// The node-side interface name of an endpoint: `pw` and 13 hex digits of a hash of its
/// name (15 characters, the kernel's limit). Deterministic.
pub fn interface_name(endpoint_name: &str) -> String {
    // FNV-1a, 64 bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in endpoint_name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("pw{:013x}", h >> 12)
}

/// An attachment for every endpoint of the cluster that has an address and is no
/// host-network pod (with all its addresses, the primary first), in endpoint order, on the interface [`interface_name`] gives it.
pub fn default_attachments(cluster: &Cluster) -> Vec<Attachment> {
    cluster
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.host_network)
        .filter_map(|(id, e)| {
            let mut addresses: Vec<IpAddr> = e.ip.into_iter().collect();
            addresses.extend(e.addresses.iter().filter(|a| Some(**a) != e.ip));
            (!addresses.is_empty()).then(|| Attachment { endpoint: id, interface: interface_name(&e.name), addresses })
        })
        .collect()
}

#[cfg(test)]
mod tests;
