//! networking.k8s.io/v1 NetworkPolicy.
//!
//! A NetworkPolicy becomes an allow-only policy in the default tier at order 1000; the
//! tier's end-of-tier drop is Kubernetes' isolation (a selected pod that no rule admits
//! is denied), and policies selecting no pod never apply.
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podwall_ir::{Action, Entity, Expr, Peer, PolicyKind, PortMatch, Ports, Protocol, Rule, Scope, Source};

use crate::tiers::K8S_POLICY_ORDER;
use podwall_load::{InputError, Object};

use crate::labels;

struct Ctx<'a> {
    src: &'a Source,
    object: String,
    namespace: String,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, msg: impl Into<String>) -> InputError {
        InputError::field(self.src, &self.object, field, msg)
    }
}

/// Parses a CIDR as the API server does: host bits may be set; the network is kept.
pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    s.trim().parse::<IpNet>().ok().map(|n| n.trunc())
}

/// A Kubernetes `protocol` field (ports of NetworkPolicy, ANP and containers): TCP, the
/// default, UDP or SCTP, spelt exactly.
pub(crate) fn protocol(p: Option<&str>) -> Result<Protocol, String> {
    match p {
        None | Some("TCP") => Ok(Protocol::TCP),
        Some("UDP") => Ok(Protocol::UDP),
        Some("SCTP") => Ok(Protocol::SCTP),
        Some(other) => match ["TCP", "UDP", "SCTP"].into_iter().find(|p| p.eq_ignore_ascii_case(other)) {
            Some(p) => Err(format!(
                "protocol {other:?} is not {p:?}: Kubernetes protocols are case-sensitive (TCP, UDP, SCTP), \
                 and the API server would refuse this object"
            )),
            None => Err(format!("unknown protocol {other:?} (expected TCP, UDP or SCTP)")),
        },
    }
}

/// A Kubernetes port number: 1-65535.
pub(crate) fn port_number(n: i64) -> Result<u16, String> {
    u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| format!("port {n} is out of range 1-65535"))
}

/// Whether `name` is a valid port name (IANA_SVC_NAME): 1-15 characters, lowercase
/// letters, digits and `-`, at least one letter, no leading, trailing or double `-`.
pub(crate) fn valid_port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn peer(cx: &Ctx, p: &NetworkPolicyPeer, field: &str) -> Result<Peer, InputError> {
    let mut out = Peer::any();
    if let Some(block) = &p.ip_block {
        if p.pod_selector.is_some() || p.namespace_selector.is_some() {
            return Err(cx.err(field, "ipBlock cannot be combined with podSelector or namespaceSelector in one peer"));
        }
        let cidr = parse_cidr(&block.cidr)
            .ok_or_else(|| cx.err(format!("{field}.ipBlock.cidr"), format!("invalid CIDR {:?}", block.cidr)))?;
        let mut except = Vec::new();
        for (i, e) in block.except.iter().flatten().enumerate() {
            let f = format!("{field}.ipBlock.except[{i}]");
            let net = parse_cidr(e).ok_or_else(|| cx.err(&f, format!("invalid CIDR {e:?}")))?;
            if !cidr.contains(&net) || net == cidr {
                return Err(cx.err(&f, format!("{e} is not strictly inside the cidr {cidr}")));
            }
            except.push(net);
        }
        out.describe = if except.is_empty() {
            format!("addresses in {cidr}")
        } else {
            let ex: Vec<String> = except.iter().map(|n| n.to_string()).collect();
            format!("addresses in {cidr} except {}", ex.join(", "))
        };
        out.nets = vec![cidr];
        out.not_nets = except;
        return Ok(out);
    }
    let pods = p
        .pod_selector
        .as_ref()
        .map(|s| labels::compile(s, Scope::Pod, cx.src, &cx.object, &format!("{field}.podSelector")))
        .transpose()?;
    let namespaces = p
        .namespace_selector
        .as_ref()
        .map(|s| labels::compile(s, Scope::Namespace, cx.src, &cx.object, &format!("{field}.namespaceSelector")))
        .transpose()?;
    let pod_words = p.pod_selector.as_ref().and_then(labels::describe);
    let ns_words = p.namespace_selector.as_ref().and_then(labels::describe);
    let (selector, describe) = match (pods, namespaces) {
        (None, None) => return Err(cx.err(field, "a peer must set podSelector, namespaceSelector or ipBlock")),
        (Some(pods), None) => (
            Expr::and([Expr::InNamespace(cx.namespace.clone()), pods]),
            match pod_words {
                Some(w) => format!("pods {w} in namespace {}", cx.namespace),
                None => format!("every pod in namespace {}", cx.namespace),
            },
        ),
        (pods, Some(ns)) => (
            Expr::and([ns, pods.unwrap_or(Expr::All)]),
            format!(
                "{} in {}",
                pod_words.map(|w| format!("pods {w}")).unwrap_or_else(|| "every pod".into()),
                ns_words.map(|w| format!("namespaces {w}")).unwrap_or_else(|| "every namespace".into())
            ),
        ),
    };
    out.selector = Some(selector);
    out.describe = describe;
    Ok(out)
}

fn port(cx: &Ctx, p: &NetworkPolicyPort, field: &str) -> Result<PortMatch, InputError> {
    let protocol = protocol(p.protocol.as_deref()).map_err(|m| cx.err(format!("{field}.protocol"), m))?;
    let in_range = |n: i32, f: &str| port_number(n.into()).map_err(|m| cx.err(format!("{field}.{f}"), m));
    let ports = match (&p.port, p.end_port) {
        (None, None) => Ports::Any,
        (None, Some(_)) => return Err(cx.err(format!("{field}.endPort"), "endPort needs a numeric port")),
        (Some(IntOrString::Int(n)), end) => {
            let lo = in_range(*n, "port")?;
            let hi = match end {
                None => lo,
                Some(e) => {
                    let hi = in_range(e, "endPort")?;
                    if hi < lo {
                        return Err(cx.err(format!("{field}.endPort"), format!("endPort {hi} is below port {lo}")));
                    }
                    hi
                }
            };
            Ports::Range(lo, hi)
        }
        (Some(IntOrString::String(name)), end) => {
            if end.is_some() {
                return Err(cx.err(format!("{field}.endPort"), "endPort needs a numeric port, not a named one"));
            }
            if !valid_port_name(name) {
                return Err(cx.err(
                    format!("{field}.port"),
                    format!("{name:?} is not a valid port name (1-15 lowercase letters, digits or '-', with a letter)"),
                ));
            }
            Ports::Named(name.clone())
        }
    };
    Ok(PortMatch { protocol: Some(protocol), ports })
}

fn rule(
    cx: &Ctx,
    peers: Option<&Vec<NetworkPolicyPeer>>,
    ports: Option<&Vec<NetworkPolicyPort>>,
    field: &str,
    peer_key: &str,
    index: usize,
    ingress: bool,
) -> Result<Rule, InputError> {
    let peers = peers
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| peer(cx, p, &format!("{field}.{peer_key}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let ports = ports
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| port(cx, p, &format!("{field}.ports[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut r = Rule::any(Action::Allow, index);
    r.destination.ports = ports;
    let remote = Entity { peers, ..Entity::default() };
    if ingress {
        r.source = remote;
    } else {
        r.destination.peers = remote.peers;
    }
    Ok(r)
}

/// Compiles one NetworkPolicy.
pub fn compile(obj: &Object, np: &NetworkPolicy) -> Result<podwall_ir::Policy, InputError> {
    let namespace = obj.namespace.clone().unwrap_or_else(|| "default".into());
    let cx = Ctx { src: &obj.source, object: obj.display(), namespace: namespace.clone() };
    let spec = np.spec.clone().unwrap_or_default();
    let pods = match &spec.pod_selector {
        Some(s) => labels::compile(s, Scope::Pod, cx.src, &cx.object, "spec.podSelector")?,
        None => Expr::All,
    };
    // policyTypes defaulting (API server): Ingress always; Egress iff egress rules exist.
    let types: Vec<String> = match spec.policy_types.as_ref().filter(|t| !t.is_empty()) {
        Some(t) => t.clone(),
        None => {
            let mut t = vec!["Ingress".to_string()];
            if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
                t.push("Egress".into());
            }
            t
        }
    };
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            return Err(cx.err(
                format!("spec.policyTypes[{i}]"),
                format!("unknown policy type {t:?} (expected Ingress or Egress)"),
            ));
        }
    }
    // Rules of a direction the policy is not typed for are ignored, but still validated,
    // as the API server validates them.
    let ingress = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| rule(&cx, r.from.as_ref(), r.ports.as_ref(), &format!("spec.ingress[{i}]"), "from", i, true))
        .collect::<Result<Vec<_>, _>>()?;
    let egress = spec
        .egress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| rule(&cx, r.to.as_ref(), r.ports.as_ref(), &format!("spec.egress[{i}]"), "to", i, false))
        .collect::<Result<Vec<_>, _>>()?;
    let ingress = types.iter().any(|t| t == "Ingress").then_some(ingress);
    let egress = types.iter().any(|t| t == "Egress").then_some(egress);
    Ok(podwall_ir::Policy {
        kind: PolicyKind::NetworkPolicy,
        namespace: Some(namespace.clone()),
        name: obj.name.clone(),
        source: Some(obj.source.clone()),
        order: Some(K8S_POLICY_ORDER),
        selector: Expr::and([Expr::InNamespace(namespace), pods]),
        ingress,
        egress,
    })
}
