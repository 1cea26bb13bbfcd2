//! policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy as it appears on the wire.
//! Unknown fields are errors, so a misspelt field is reported rather than dropped.
//!
//! Field names follow the upstream `apis/v1alpha2` types: `spec.tier` (`Admin` or
//! `Baseline`), `spec.priority`, `spec.subject`, rules with `name`, `action`
//! (`Accept`, `Deny`, `Pass`), `from`/`to` and `protocols`. The subject and the peers
//! have the same shape as in v1alpha1 (`namespaces`, `pods` with `namespaceSelector`
//! and `podSelector`; egress also `nodes`, `networks`, `domainNames`), so they are the
//! [`crate::anp`] types. What v1alpha2 changed is `protocols`, which replaced v1alpha1's
//! `ports`: each entry sets exactly one of `tcp`, `udp`, `sctp` (each with a
//! `destinationPort` that is a `number` or a `range` of `start`..`end`) or
//! `destinationNamedPort`.
use serde::Deserialize;

pub use crate::anp::{Meta, Peer, Pods, Subject};

/// A ClusterNetworkPolicy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Policy {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    #[serde(default)]
    pub spec: Spec,
}

/// The spec. `tier`, `priority` and `subject` are required upstream; they are options
/// here so that a missing one is reported by name.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// `Admin` or `Baseline`.
    pub tier: Option<String>,
    /// 0-1000, lower first within the tier.
    pub priority: Option<i64>,
    /// The pods it applies to.
    pub subject: Option<Subject>,
    /// Ingress rules, in order.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules, in order.
    pub egress: Option<Vec<Rule>>,
}

/// A rule: `from` in ingress rules, `to` in egress rules (upstream has a type for
/// each; one type here, so that the wrong one is reported by the dialect in words).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// A name for people (at most 100 characters).
    pub name: Option<String>,
    /// Accept, Deny or Pass.
    #[serde(default)]
    pub action: String,
    /// Sources (ingress); at least one.
    pub from: Option<Vec<Peer>>,
    /// Destinations (egress); at least one.
    pub to: Option<Vec<Peer>>,
    /// Protocols and ports; absent means all.
    pub protocols: Option<Vec<Protocol>>,
}

/// One protocol entry: exactly one field is set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Protocol {
    /// TCP, with its destination port.
    pub tcp: Option<ProtocolPort>,
    /// UDP, with its destination port.
    pub udp: Option<ProtocolPort>,
    /// SCTP, with its destination port.
    pub sctp: Option<ProtocolPort>,
    /// A container port name on the destination pod (which carries its protocol).
    pub destination_named_port: Option<String>,
}

/// What `tcp`, `udp` and `sctp` match on (upstream requires the field to be set).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProtocolPort {
    /// The destination port.
    pub destination_port: Option<Port>,
}

/// A port: exactly one of `number` or `range`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// One port, 1-65535.
    pub number: Option<i64>,
    /// An inclusive range.
    pub range: Option<PortRange>,
}

/// An inclusive port range; upstream requires `start` < `end`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRange {
    /// First port.
    pub start: Option<i64>,
    /// Last port.
    pub end: Option<i64>,
}
