//! projectcalico.org/v3 resources as they appear on the wire (also read from
//! crd.projectcalico.org/v1, the form Calico stores them in without its API server).
//! Unknown fields are errors: a misspelt `notNets` must not silently widen a rule.
use serde::Deserialize;

/// Object metadata podwall reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Meta {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// A number or a string (protocols, ports).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum NumOrString {
    /// A number.
    Num(i64),
    /// A string.
    Str(String),
}

impl std::fmt::Display for NumOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumOrString::Num(n) => write!(f, "{n}"),
            NumOrString::Str(s) => write!(f, "{s}"),
        }
    }
}

/// A Tier.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Tier {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    #[serde(default)]
    pub spec: TierSpec,
}

/// A Tier's spec.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierSpec {
    /// Lower runs first; none sorts last.
    pub order: Option<f64>,
    /// `Deny` (default) or `Pass`.
    pub default_action: Option<String>,
}

/// A NetworkPolicy or GlobalNetworkPolicy (and their Staged variants).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Policy {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    #[serde(default)]
    pub spec: PolicySpec,
}

/// The spec of a Calico policy.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// The tier; `default` when absent.
    pub tier: Option<String>,
    /// Order in the tier.
    pub order: Option<f64>,
    /// Endpoints it applies to.
    pub selector: Option<String>,
    /// (Global) namespaces whose endpoints it applies to.
    pub namespace_selector: Option<String>,
    /// Service accounts whose endpoints it applies to.
    pub service_account_selector: Option<String>,
    /// `Ingress`, `Egress`.
    pub types: Option<Vec<String>>,
    /// Ingress rules.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules.
    pub egress: Option<Vec<Rule>>,
    /// Untracked policy (not modelled).
    pub do_not_track: Option<bool>,
    /// Pre-DNAT policy (not modelled).
    #[serde(rename = "preDNAT")]
    pub pre_dnat: Option<bool>,
    /// Applies to forwarded traffic (host endpoints; not modelled).
    pub apply_on_forward: Option<bool>,
    /// Hints for the data plane; no effect on verdicts.
    pub performance_hints: Option<Vec<String>>,
    /// Staged policies: `Set` or `Delete`.
    pub stage_action: Option<String>,
}

/// ICMP type and code.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Icmp {
    /// ICMP type.
    #[serde(rename = "type")]
    pub kind: Option<i64>,
    /// ICMP code.
    pub code: Option<i64>,
}

/// An HTTP path match.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpPath {
    /// Exact path.
    pub exact: Option<String>,
    /// Path prefix.
    pub prefix: Option<String>,
}

/// An HTTP match.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Methods.
    pub methods: Option<Vec<String>>,
    /// Paths.
    pub paths: Option<Vec<HttpPath>>,
}

/// Service accounts of an entity rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccounts {
    /// Names.
    pub names: Option<Vec<String>>,
    /// A selector on service account labels.
    pub selector: Option<String>,
}

/// A Service match (not modelled).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceMatch {
    /// Service name.
    pub name: Option<String>,
    /// Service namespace.
    pub namespace: Option<String>,
}

/// The source or destination of a rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityRule {
    /// CIDRs.
    pub nets: Option<Vec<String>>,
    /// Excluded CIDRs.
    pub not_nets: Option<Vec<String>>,
    /// Selector.
    pub selector: Option<String>,
    /// Excluding selector.
    pub not_selector: Option<String>,
    /// Namespace selector.
    pub namespace_selector: Option<String>,
    /// Ports.
    pub ports: Option<Vec<NumOrString>>,
    /// Excluded ports.
    pub not_ports: Option<Vec<NumOrString>>,
    /// Service accounts.
    pub service_accounts: Option<ServiceAccounts>,
    /// Service match (not modelled).
    pub services: Option<ServiceMatch>,
    /// Domain names (not modelled).
    pub domains: Option<Vec<String>>,
}

/// A rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Allow, Deny, Log, Pass.
    #[serde(default)]
    pub action: String,
    /// 4 or 6.
    pub ip_version: Option<i64>,
    /// Protocol name or number.
    pub protocol: Option<NumOrString>,
    /// Excluded protocol.
    pub not_protocol: Option<NumOrString>,
    /// ICMP match.
    pub icmp: Option<Icmp>,
    /// Excluded ICMP.
    #[serde(rename = "notICMP")]
    pub not_icmp: Option<Icmp>,
    /// Source.
    pub source: Option<EntityRule>,
    /// Destination.
    pub destination: Option<EntityRule>,
    /// HTTP match.
    pub http: Option<Http>,
    /// Annotations.
    pub metadata: Option<serde_json::Value>,
}

/// A NetworkSet or GlobalNetworkSet.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct NetworkSet {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    #[serde(default)]
    pub spec: NetworkSetSpec,
}

/// A network set's spec.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSetSpec {
    /// CIDRs.
    pub nets: Option<Vec<String>>,
    /// Domains (not modelled).
    pub allowed_egress_domains: Option<Vec<String>>,
}
