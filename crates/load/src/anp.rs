//! policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy
//! as they appear on the wire. Unknown fields are errors.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;

pub use crate::calico::Meta;

/// An AdminNetworkPolicy or BaselineAdminNetworkPolicy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Policy {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    #[serde(default)]
    pub spec: Spec,
}

/// The spec (BANP has no priority).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// 0-1000, lower first (ANP only).
    pub priority: Option<i64>,
    /// The pods it applies to.
    #[serde(default)]
    pub subject: Subject,
    /// Ingress rules, in order.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules, in order.
    pub egress: Option<Vec<Rule>>,
}

/// Pods by namespace and pod labels.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pods {
    /// Namespace labels.
    #[serde(default)]
    pub namespace_selector: LabelSelector,
    /// Pod labels.
    #[serde(default)]
    pub pod_selector: LabelSelector,
}

/// The subject: exactly one of `namespaces` or `pods`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subject {
    /// Every pod of the matching namespaces.
    pub namespaces: Option<LabelSelector>,
    /// Matching pods of matching namespaces.
    pub pods: Option<Pods>,
}

/// A peer (`from` or `to`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Peer {
    /// Pods of matching namespaces.
    pub namespaces: Option<LabelSelector>,
    /// Matching pods of matching namespaces.
    pub pods: Option<Pods>,
    /// Nodes by label (egress).
    pub nodes: Option<LabelSelector>,
    /// CIDRs (egress).
    pub networks: Option<Vec<String>>,
    /// Domain names (egress; not modelled).
    pub domain_names: Option<Vec<String>>,
}

/// A port number.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortNumber {
    /// TCP (default), UDP, SCTP.
    pub protocol: Option<String>,
    /// The port.
    #[serde(default)]
    pub port: i64,
}

/// A port range.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRange {
    /// TCP (default), UDP, SCTP.
    pub protocol: Option<String>,
    /// First port.
    #[serde(default)]
    pub start: i64,
    /// Last port (inclusive).
    #[serde(default)]
    pub end: i64,
}

/// One port entry: exactly one field is set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// A number.
    pub port_number: Option<PortNumber>,
    /// A container port name on the destination pod.
    pub named_port: Option<String>,
    /// A range.
    pub port_range: Option<PortRange>,
}

/// A rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// A name for people.
    pub name: Option<String>,
    /// Allow, Deny, Pass (ANP only).
    #[serde(default)]
    pub action: String,
    /// Ingress peers.
    pub from: Option<Vec<Peer>>,
    /// Egress peers.
    pub to: Option<Vec<Peer>>,
    /// Ports; absent means all.
    pub ports: Option<Vec<Port>>,
}
