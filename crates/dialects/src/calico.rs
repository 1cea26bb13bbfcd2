//! projectcalico.org/v3: Tier, NetworkPolicy, GlobalNetworkPolicy, NetworkSet,
//! GlobalNetworkSet.
//!
//! Selectors are Calico selector strings read in Calico's endpoint label view; a
//! `namespaceSelector` reads namespace labels through the `pcns.` prefix, a service
//! account selector through `pcsa.`, exactly as Calico rewrites them. An entity rule's
//! effective selector follows Calico's construction (namespace part AND identity part).
use std::collections::{BTreeMap, BTreeSet};

use podwall_ir::{
    Action, Cluster, Context, Entity, Expr, HttpMatch, Icmp, IpVersion, Label, NetworkSet, PathMatch, Peer, PolicyKind,
    PortMatch, Ports, Protocol, Rule, Scope, Source, Tier, TierDefault,
};

use crate::tiers::DEFAULT_TIER;
use podwall_load::calico::{EntityRule, NumOrString, Policy as WirePolicy, Rule as WireRule};
use podwall_load::{InputError, Object, Resource};

use crate::k8s::parse_cidr;

// Calico's endpoint label view: the reserved keys Calico sets on every workload
// endpoint, and the prefixes under which it inherits namespace and service account labels.
const NS_LABEL: &str = "projectcalico.org/namespace";
const SA_LABEL: &str = "projectcalico.org/serviceaccount";
const ORCHESTRATOR_LABEL: &str = "projectcalico.org/orchestrator";
/// Under a prefix, the inherited object's own name.
const NAME_LABEL: &str = "projectcalico.org/name";
const NS_PREFIX: &str = "pcns.";
const SA_PREFIX: &str = "pcsa.";
/// Calico sets `projectcalico.org/serviceaccount` only for names shorter than 63 bytes.
const SA_LABEL_MAX: u8 = 62;

struct Ctx<'a> {
    src: &'a Source,
    object: String,
    /// The policy's namespace; `None` for global policies.
    namespace: Option<String>,
    warnings: Vec<podwall_ir::Finding>,
    /// Read from `crd.projectcalico.org/v1`, the storage form no Calico validator checked.
    storage: bool,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, msg: impl Into<String>) -> InputError {
        InputError::field(self.src, &self.object, field, msg)
    }

    fn warn(&mut self, field: &str, msg: impl Into<String>) {
        let message = format!("{field}: {}", msg.into());
        self.warnings.push(crate::notes::named(crate::notes::UNMODELLED, &self.object, Some(self.src), message));
    }

    fn selector(&self, s: &str, field: &str) -> Result<Expr, InputError> {
        podwall_selector::parse(s).map_err(|e| self.err(field, format!("invalid selector {s:?}: {e}")))
    }
}

/// Rewrites a selector to read namespace labels (`pcns.`), as Calico does for every
/// `namespaceSelector`: `all()` means "in some namespace", `global()` "in none".
pub fn namespace_view(e: Expr) -> Expr {
    prefixed(e, NS_PREFIX, Expr::Has(Label::calico(NS_LABEL)), Expr::not(Expr::Has(Label::calico(NS_LABEL))))
}

/// Rewrites a selector to read service account labels (`pcsa.`).
fn service_account_view(e: Expr) -> Expr {
    let has_sa = Expr::Has(Label::calico(&format!("{SA_PREFIX}{NAME_LABEL}")));
    prefixed(e, SA_PREFIX, has_sa.clone(), has_sa)
}

/// What a key of Calico's endpoint label view reads: a reserved key or an inherited
/// (prefixed) label becomes the context fact it stands for, any other key the object's
/// own label. The key stays as written, so the expression renders as the user wrote it.
fn resolve_label(l: Label) -> Label {
    if l.scope != Scope::Calico {
        return l;
    }
    let scope = match l.key.as_str() {
        NS_LABEL => Scope::Context(Context::NamespaceName),
        ORCHESTRATOR_LABEL => Scope::Context(Context::Orchestrator),
        SA_LABEL => Scope::Context(Context::RunsAs { max: SA_LABEL_MAX }),
        k => match (k.strip_prefix(NS_PREFIX), k.strip_prefix(SA_PREFIX)) {
            (Some(NAME_LABEL), _) => Scope::Context(Context::NamespaceName),
            (Some(_), _) => Scope::Context(Context::NamespaceLabel(NS_PREFIX.len() as u8)),
            (_, Some(NAME_LABEL)) => Scope::Context(Context::ServiceAccountName),
            (_, Some(_)) => Scope::Context(Context::ServiceAccountLabel(SA_PREFIX.len() as u8)),
            (None, None) => Scope::Pod,
        },
    };
    Label { scope, key: l.key }
}

/// Resolves every label of a Calico selector (after [`namespace_view`] and the other
/// rewrites) into what it reads in the intermediate form, which knows no Calico key.
pub fn resolve(e: Expr) -> Expr {
    relabel(e, &resolve_label, &Expr::All, &Expr::Global)
}

/// Resolves the labels of every selector of a compiled Calico policy.
fn resolve_policy(p: &mut podwall_ir::Policy) {
    p.selector = resolve(std::mem::replace(&mut p.selector, Expr::All));
    for rules in [&mut p.ingress, &mut p.egress].into_iter().flatten() {
        for r in rules {
            for peer in r.source.peers.iter_mut().chain(r.destination.peers.iter_mut()) {
                peer.selector = peer.selector.take().map(resolve);
                peer.not_selector = peer.not_selector.take().map(resolve);
            }
        }
    }
}

fn prefixed(e: Expr, prefix: &str, all: Expr, global: Expr) -> Expr {
    relabel(e, &|l: Label| Label { scope: l.scope, key: format!("{prefix}{}", l.key) }, &all, &global)
}

/// `e` with every label mapped by `f`, `all()` replaced by `all` and `global()` by `global`.
fn relabel(e: Expr, f: &impl Fn(Label) -> Label, all: &Expr, global: &Expr) -> Expr {
    let rec = |x: Expr| relabel(x, f, all, global);
    match e {
        Expr::All => all.clone(),
        Expr::Global => global.clone(),
        Expr::Has(l) => Expr::Has(f(l)),
        Expr::Eq(l, v) => Expr::Eq(f(l), v),
        Expr::Ne(l, v) => Expr::Ne(f(l), v),
        Expr::In(l, v) => Expr::In(f(l), v),
        Expr::NotIn(l, v) => Expr::NotIn(f(l), v),
        Expr::Contains(l, v) => Expr::Contains(f(l), v),
        Expr::StartsWith(l, v) => Expr::StartsWith(f(l), v),
        Expr::EndsWith(l, v) => Expr::EndsWith(f(l), v),
        Expr::InNamespace(n) => Expr::InNamespace(n),
        Expr::Not(x) => Expr::not(rec(*x)),
        Expr::And(xs) => Expr::And(xs.into_iter().map(rec).collect()),
        Expr::Or(xs) => Expr::Or(xs.into_iter().map(rec).collect()),
    }
}

fn protocol(cx: &Ctx, p: &NumOrString, field: &str) -> Result<Protocol, InputError> {
    let named = |s: &str| match s {
        "TCP" => Some(Protocol::TCP),
        "UDP" => Some(Protocol::UDP),
        "ICMP" => Some(Protocol::ICMP),
        "ICMPv6" => Some(Protocol::ICMPV6),
        "SCTP" => Some(Protocol::SCTP),
        "UDPLite" => Some(Protocol::UDPLITE),
        // libcalico-go's numorstring also defines the lower-case `tcp` and `udp` of its
        // v1 data model (ProtocolTCPV1, ProtocolUDPV1). The v3 validator (projectcalico.org)
        // refuses them; objects in the CRD storage form were never validated by it, and
        // Calico reads them there as TCP and UDP.
        "tcp" if cx.storage => Some(Protocol::TCP),
        "udp" if cx.storage => Some(Protocol::UDP),
        _ => None,
    };
    let got = match p {
        NumOrString::Num(n) => u8::try_from(*n).ok().filter(|n| *n > 0).map(Protocol),
        NumOrString::Str(s) => named(s).or_else(|| s.parse::<u8>().ok().filter(|n| *n > 0).map(Protocol)),
    };
    got.ok_or_else(|| {
        cx.err(field, format!("unknown protocol {p:?} (expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)"))
    })
}

fn port_entry(cx: &Ctx, p: &NumOrString, proto: Option<Protocol>, field: &str) -> Result<PortMatch, InputError> {
    let num = |s: &str| -> Result<u16, InputError> {
        s.trim().parse::<u16>().map_err(|_| cx.err(field, format!("port {s:?} is not a number in 0-65535")))
    };
    let ports = match p {
        NumOrString::Num(n) => {
            let n = u16::try_from(*n).map_err(|_| cx.err(field, format!("port {n} is out of range 0-65535")))?;
            Ports::Range(n, n)
        }
        NumOrString::Str(s) if s.contains(':') => {
            let (lo, hi) = s.split_once(':').unwrap_or_default();
            let (lo, hi) = (num(lo)?, num(hi)?);
            if lo > hi {
                return Err(cx.err(field, format!("port range {s:?} is reversed")));
            }
            Ports::Range(lo, hi)
        }
        NumOrString::Str(s) if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() => {
            let n = num(s)?;
            Ports::Range(n, n)
        }
        NumOrString::Str(s) => {
            if s.is_empty() || s.len() > 15 {
                return Err(cx.err(field, format!("{s:?} is not a valid port name")));
            }
            Ports::Named(s.clone())
        }
    };
    Ok(PortMatch { protocol: proto, ports })
}

fn nets(cx: &Ctx, list: &Option<Vec<String>>, field: &str) -> Result<Vec<ipnet::IpNet>, InputError> {
    list.iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| parse_cidr(s).ok_or_else(|| cx.err(format!("{field}[{i}]"), format!("invalid CIDR {s:?}"))))
        .collect()
}

/// An entity rule's peer (its address part), per Calico's effective-selector rules.
fn peer(cx: &mut Ctx, e: &EntityRule, field: &str) -> Result<Option<Peer>, InputError> {
    let selector = e.selector.as_deref().map(|s| cx.selector(s, &format!("{field}.selector"))).transpose()?;
    if selector.as_ref().is_some_and(Expr::mentions_global) {
        return Err(cx.err(format!("{field}.selector"), "global() is only allowed in a namespaceSelector"));
    }
    let not_selector =
        e.not_selector.as_deref().map(|s| cx.selector(s, &format!("{field}.notSelector"))).transpose()?;
    let ns_selector = e
        .namespace_selector
        .as_deref()
        .map(|s| cx.selector(s, &format!("{field}.namespaceSelector")).map(namespace_view))
        .transpose()?;
    let sa = match &e.service_accounts {
        None => None,
        Some(sa) => {
            let mut parts = Vec::new();
            let names: BTreeSet<String> = sa.names.iter().flatten().cloned().collect();
            if !names.is_empty() {
                parts.push(Expr::In(Label::calico(SA_LABEL), names));
            }
            if let Some(s) = &sa.selector {
                parts.push(service_account_view(cx.selector(s, &format!("{field}.serviceAccounts.selector"))?));
            }
            Some(Expr::and(parts))
        }
    };
    // Namespace part: the namespaceSelector, else (namespaced policies) the policy's namespace.
    let ns_part =
        ns_selector.clone().or_else(|| cx.namespace.as_ref().map(|n| Expr::Eq(Label::calico(NS_LABEL), n.clone())));
    let identity: Vec<Expr> = selector.iter().cloned().chain(sa.iter().cloned()).collect();
    let constrained = selector.is_some() || sa.is_some() || not_selector.is_some() || ns_selector.is_some();
    let effective = match ns_part {
        Some(ns) if constrained => Some(Expr::and(std::iter::once(ns).chain(identity))),
        _ if identity.is_empty() => None,
        _ => Some(Expr::and(identity)),
    };
    let mut words = Vec::new();
    if let Some(s) = &e.selector {
        words.push(format!("selector {s:?}"));
    }
    if let Some(s) = &e.namespace_selector {
        words.push(format!("namespaceSelector {s:?}"));
    } else if constrained {
        if let Some(n) = &cx.namespace {
            words.push(format!("in namespace {n}"));
        }
    }
    if let Some(s) = &e.not_selector {
        words.push(format!("notSelector {s:?}"));
    }
    if let Some(sa) = &e.service_accounts {
        if let Some(n) = &sa.names {
            words.push(format!("service accounts {}", n.join(", ")));
        }
        if let Some(s) = &sa.selector {
            words.push(format!("service account selector {s:?}"));
        }
    }
    let nets_ = nets(cx, &e.nets, &format!("{field}.nets"))?;
    let not_nets = nets(cx, &e.not_nets, &format!("{field}.notNets"))?;
    if !nets_.is_empty() {
        words.push(format!("nets {}", nets_.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")));
    }
    if !not_nets.is_empty() {
        words.push(format!("not nets {}", not_nets.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")));
    }
    let mut selector = effective;
    if let Some(s) = &e.services {
        cx.warn(&format!("{field}.services"), "Service matches are not modelled: this rule matches nothing");
        words.push(format!(
            "Service {}/{}",
            s.namespace.clone().unwrap_or_default(),
            s.name.clone().unwrap_or_default()
        ));
        selector = Some(Expr::Or(vec![]));
    }
    if e.domains.is_some() {
        cx.warn(&format!("{field}.domains"), "domain-name peers are not modelled: this rule matches nothing");
        words.push("domains".into());
        selector = Some(Expr::Or(vec![]));
    }
    if selector.is_none() && not_selector.is_none() && nets_.is_empty() && not_nets.is_empty() {
        return Ok(None);
    }
    Ok(Some(Peer {
        selector,
        network_sets: true,
        not_selector,
        nets: nets_,
        not_nets,
        describe: if words.is_empty() { "any address".into() } else { words.join(", ") },
    }))
}

fn icmp(cx: &Ctx, i: &podwall_load::calico::Icmp, field: &str) -> Result<Icmp, InputError> {
    let kind = match i.kind {
        Some(t) => u8::try_from(t)
            .ok()
            .filter(|t| *t < 255)
            .ok_or_else(|| cx.err(format!("{field}.type"), "ICMP type must be 0-254"))?,
        None => return Err(cx.err(format!("{field}.type"), "an ICMP match needs a type")),
    };
    let code = i
        .code
        .map(|c| u8::try_from(c).map_err(|_| cx.err(format!("{field}.code"), "ICMP code must be 0-255")))
        .transpose()?;
    Ok(Icmp { kind, code })
}

fn rule(cx: &mut Ctx, r: &WireRule, field: &str, index: usize) -> Result<Rule, InputError> {
    let action = match r.action.as_str() {
        "Allow" => Action::Allow,
        "Deny" => Action::Deny,
        "Log" => Action::Log,
        "Pass" => Action::Pass,
        other => {
            return Err(cx.err(
                format!("{field}.action"),
                format!("unknown action {other:?} (expected Allow, Deny, Log or Pass)"),
            ))
        }
    };
    let mut out = Rule::any(action, index);
    out.protocol = r.protocol.as_ref().map(|p| protocol(cx, p, &format!("{field}.protocol"))).transpose()?;
    out.not_protocol = r.not_protocol.as_ref().map(|p| protocol(cx, p, &format!("{field}.notProtocol"))).transpose()?;
    let is_icmp = matches!(out.protocol, Some(Protocol::ICMP | Protocol::ICMPV6));
    for (f, m, slot) in [("icmp", &r.icmp, &mut out.icmp), ("notICMP", &r.not_icmp, &mut out.not_icmp)] {
        if let Some(i) = m {
            if !is_icmp {
                return Err(cx.err(format!("{field}.{f}"), "an ICMP match needs protocol ICMP or ICMPv6"));
            }
            *slot = Some(icmp(cx, i, &format!("{field}.{f}"))?);
        }
    }
    out.ip_version = match r.ip_version {
        None => None,
        Some(4) => Some(IpVersion::V4),
        Some(6) => Some(IpVersion::V6),
        Some(v) => return Err(cx.err(format!("{field}.ipVersion"), format!("ipVersion {v} is not 4 or 6"))),
    };
    // Upstream `Protocol.SupportsPorts`: TCP, UDP and SCTP only (not UDPLite).
    let ports_ok = matches!(out.protocol, Some(Protocol::TCP | Protocol::UDP | Protocol::SCTP));
    for (side, e) in [("source", &r.source), ("destination", &r.destination)] {
        let Some(e) = e else { continue };
        let f = format!("{field}.{side}");
        let has_ports =
            e.ports.as_ref().is_some_and(|p| !p.is_empty()) || e.not_ports.as_ref().is_some_and(|p| !p.is_empty());
        if has_ports && !ports_ok {
            let key = if e.ports.as_ref().is_some_and(|p| !p.is_empty()) { "ports" } else { "notPorts" };
            return Err(cx.err(format!("{f}.{key}"), "ports need protocol TCP, UDP or SCTP on the rule"));
        }
        let peers: Vec<Peer> = peer(cx, e, &f)?.into_iter().collect();
        let list = |cx: &Ctx, l: &Option<Vec<NumOrString>>, k: &str| -> Result<Vec<PortMatch>, InputError> {
            l.iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| port_entry(cx, p, out.protocol, &format!("{f}.{k}[{i}]")))
                .collect()
        };
        let ports = list(cx, &e.ports, "ports")?;
        let not_ports = list(cx, &e.not_ports, "notPorts")?;
        if side == "source" {
            if has_ports {
                cx.warn(
                    &format!("{f}.ports"),
                    "source ports are unknown for a new connection: this rule never matches",
                );
                out.source_ports = true;
            }
            out.source = Entity { peers, ports: vec![], not_ports: vec![] };
        } else {
            out.destination = Entity { peers, ports, not_ports };
        }
    }
    if let Some(h) = &r.http {
        let mut paths = Vec::new();
        for (i, p) in h.paths.iter().flatten().enumerate() {
            paths.push(match (&p.exact, &p.prefix) {
                (Some(e), None) => PathMatch::Exact(e.clone()),
                (None, Some(pre)) => PathMatch::Prefix(pre.clone()),
                _ => {
                    return Err(
                        cx.err(format!("{field}.http.paths[{i}]"), "a path needs exactly one of exact or prefix")
                    )
                }
            });
        }
        out.http = Some(HttpMatch { methods: h.methods.clone().unwrap_or_default(), paths });
    }
    Ok(out)
}

/// Reads Calico Tier objects into `tiers` (the default tier is already there).
pub fn tiers(input: &podwall_load::Input, tiers: &mut BTreeMap<String, Tier>) -> Result<(), InputError> {
    for obj in &input.objects {
        let Resource::CalicoTier(t) = &obj.resource else { continue };
        let object = obj.display();
        let default_action = match t.spec.default_action.as_deref() {
            None | Some("Deny") => TierDefault::Deny,
            Some("Pass") => TierDefault::Pass,
            Some(other) => {
                return Err(InputError::field(
                    &obj.source,
                    &object,
                    "spec.defaultAction",
                    format!("{other:?} is not Deny or Pass"),
                ))
            }
        };
        let tier = tiers.entry(obj.name.clone()).or_insert_with(|| Tier {
            name: obj.name.clone(),
            order: None,
            default_action,
            policies: vec![],
        });
        tier.default_action = default_action;
        if t.spec.order.is_some() || obj.name != DEFAULT_TIER {
            tier.order = t.spec.order;
        }
    }
    Ok(())
}

/// Reads NetworkSets and GlobalNetworkSets into the cluster.
pub fn network_sets(input: &podwall_load::Input, cluster: &mut Cluster) -> Result<(), InputError> {
    for obj in &input.objects {
        let Resource::CalicoNetworkSet { global, set } = &obj.resource else { continue };
        let storage = obj.api_version.starts_with("crd.projectcalico.org/");
        let mut cx = Ctx { src: &obj.source, object: obj.display(), namespace: None, warnings: vec![], storage };
        let nets = nets(&cx, &set.spec.nets, "spec.nets")?;
        if set.spec.allowed_egress_domains.is_some() {
            cx.warn("spec.allowedEgressDomains", "domain names are not modelled");
        }
        cluster.warnings.append(&mut cx.warnings);
        let namespace = (!global).then(|| obj.namespace.clone().unwrap_or_else(|| "default".into()));
        let name = match &namespace {
            Some(ns) => format!("{ns}/{}", obj.name),
            None => obj.name.clone(),
        };
        cluster.network_sets.push(NetworkSet {
            name,
            namespace,
            labels: set.metadata.labels.clone().unwrap_or_default(),
            nets,
        });
    }
    Ok(())
}

/// Compiles one Calico policy into (tier name, policy); `None` when it is not enforced
/// on workload endpoints (staged, pre-DNAT, untracked), with a warning saying so.
pub fn compile(
    obj: &Object,
    global: bool,
    staged: bool,
    p: &WirePolicy,
    tiers: &BTreeMap<String, Tier>,
    cluster: &mut Cluster,
) -> Result<Option<(String, podwall_ir::Policy)>, InputError> {
    let namespace = (!global).then(|| obj.namespace.clone().unwrap_or_else(|| "default".into()));
    let storage = obj.api_version.starts_with("crd.projectcalico.org/");
    let mut cx =
        Ctx { src: &obj.source, object: obj.display(), namespace: namespace.clone(), warnings: vec![], storage };
    let spec = &p.spec;
    let tier = spec.tier.clone().unwrap_or_else(|| DEFAULT_TIER.into());
    if !tiers.contains_key(&tier) {
        return Err(cx.err("spec.tier", format!("tier {tier:?} does not exist (declare a Tier object for it)")));
    }
    let mut skip = None;
    if staged {
        skip = Some("staged policies are not enforced; podwall reports what is enforced");
    } else if spec.pre_dnat == Some(true) {
        skip = Some("spec.preDNAT: pre-DNAT policies apply to host endpoints, which podwall does not model; ignored");
    } else if spec.do_not_track == Some(true) {
        skip =
            Some("spec.doNotTrack: untracked policies apply to host endpoints, which podwall does not model; ignored");
    }
    if let Some(why) = skip {
        cluster.warnings.push(crate::notes::named(crate::notes::IGNORED, &cx.object, Some(&obj.source), why));
        return Ok(None);
    }
    if spec.apply_on_forward == Some(true) {
        cx.warn(
            "spec.applyOnForward",
            "forwarded host-endpoint traffic is not modelled; the policy applies to workloads as usual",
        );
    }
    let mut selector = vec![match &spec.selector {
        Some(s) => cx.selector(s, "spec.selector")?,
        None => Expr::All,
    }];
    if let Some(ns) = &namespace {
        selector.insert(0, Expr::InNamespace(ns.clone()));
    }
    if let Some(s) = &spec.namespace_selector {
        if !global {
            return Err(cx.err("spec.namespaceSelector", "only a GlobalNetworkPolicy has a namespaceSelector"));
        }
        selector.push(namespace_view(cx.selector(s, "spec.namespaceSelector")?));
    }
    if let Some(s) = &spec.service_account_selector {
        selector.push(service_account_view(cx.selector(s, "spec.serviceAccountSelector")?));
    }
    let has_in = spec.ingress.as_ref().is_some_and(|r| !r.is_empty());
    let has_eg = spec.egress.as_ref().is_some_and(|r| !r.is_empty());
    let types: Vec<String> = match &spec.types {
        Some(t) => t.clone(),
        None if has_eg && !has_in => vec!["Egress".into()],
        None if has_eg && has_in => vec!["Ingress".into(), "Egress".into()],
        None => vec!["Ingress".into()],
    };
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            return Err(cx.err(format!("spec.types[{i}]"), format!("unknown type {t:?} (expected Ingress or Egress)")));
        }
    }
    let mut compile_dir =
        |key: &str, rules: &Option<Vec<WireRule>>, typed: bool| -> Result<Option<Vec<Rule>>, InputError> {
            if !typed {
                return Ok(None);
            }
            let mut out = Vec::new();
            for (i, r) in rules.iter().flatten().enumerate() {
                out.push(rule(&mut cx, r, &format!("spec.{key}[{i}]"), i)?);
            }
            Ok(Some(out))
        };
    let ingress = compile_dir("ingress", &spec.ingress, types.iter().any(|t| t == "Ingress"))?;
    let egress = compile_dir("egress", &spec.egress, types.iter().any(|t| t == "Egress"))?;
    cluster.warnings.append(&mut cx.warnings);
    let mut policy = podwall_ir::Policy {
        kind: if global { PolicyKind::CalicoGlobalNetworkPolicy } else { PolicyKind::CalicoNetworkPolicy },
        namespace,
        name: obj.name.clone(),
        source: Some(obj.source.clone()),
        order: spec.order,
        selector: Expr::and(selector),
        ingress,
        egress,
    };
    resolve_policy(&mut policy);
    Ok(Some((tier, policy)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_selector_reads_namespace_labels_and_all_means_some_namespace() {
        let e = namespace_view(podwall_selector::parse("all() && env == 'prod'").expect("parses"));
        let s = e.to_string();
        assert!(s.contains("has(projectcalico.org/namespace)"), "{s}");
        assert!(s.contains("pcns.env == 'prod'"), "{s}");
    }

    #[test]
    fn global_in_namespace_selector_means_no_namespace() {
        let e = namespace_view(Expr::Global);
        assert_eq!(e, Expr::not(Expr::Has(Label::calico(NS_LABEL))));
    }

    fn view_cluster() -> Cluster {
        use podwall_ir::{Endpoint, EndpointKind, Namespace, ServiceAccount};
        let labels = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut c = Cluster::default();
        let mut ns = Namespace::implied("prod");
        ns.labels.insert("env".into(), "live".into());
        c.namespaces.insert("prod".into(), ns);
        let endpoint = |name: &str, sa: &str| Endpoint {
            name: format!("prod/{name}"),
            namespace: "prod".into(),
            labels: labels(&[("app", "web")]),
            ip: None,
            addresses: vec![],
            ports: vec![],
            service_account: sa.into(),
            host_network: false,
            kind: EndpointKind::Pod,
            owner: None,
            source: None,
        };
        c.endpoints = vec![endpoint("a", "api"), endpoint("b", &"s".repeat(63))];
        c.service_accounts.insert(
            ("prod".into(), "api".into()),
            ServiceAccount { namespace: "prod".into(), name: "api".into(), labels: labels(&[("role", "db")]) },
        );
        c.network_sets.push(NetworkSet {
            name: "prod/set".into(),
            namespace: Some("prod".into()),
            labels: labels(&[("pcsa.role", "db"), ("projectcalico.org/orchestrator", "other")]),
            nets: vec![],
        });
        c
    }

    /// Calico's endpoint label view (libcalico-go `lib/backend/k8s/conversion`): the
    /// namespace, orchestrator and service account as reserved keys (the service account
    /// only under 63 bytes), namespace labels under `pcns.`, service account labels under
    /// `pcsa.`, each with `projectcalico.org/name`; a network set has only its own labels
    /// and its namespace's.
    #[test]
    fn calico_view_keys_resolve_to_what_calico_gives_each_object() {
        let c = view_cluster();
        let sel = |s: &str| resolve(podwall_selector::parse(s).expect("parses"));
        let on_endpoint = |s: &str, i: usize| sel(s).matches(&c.view(i));
        assert!(on_endpoint("projectcalico.org/namespace == 'prod'", 0));
        assert!(on_endpoint("projectcalico.org/orchestrator == 'k8s'", 0));
        assert!(on_endpoint("projectcalico.org/serviceaccount == 'api'", 0));
        assert!(!on_endpoint("has(projectcalico.org/serviceaccount)", 1), "a 63-byte name is not a label value");
        assert!(on_endpoint("pcns.env == 'live' && pcns.projectcalico.org/name == 'prod'", 0));
        assert!(on_endpoint("pcsa.role == 'db' && pcsa.projectcalico.org/name == 'api'", 0));
        assert!(!on_endpoint("has(pcsa.projectcalico.org/name)", 1), "no ServiceAccount object");
        assert!(on_endpoint("app == 'web' && !has(env)", 0));
        let on_set = |s: &str| sel(s).matches(&c.network_set_view(0));
        assert!(on_set("projectcalico.org/namespace == 'prod' && pcns.env == 'live'"));
        assert!(on_set("pcsa.role == 'db' && projectcalico.org/orchestrator == 'other'"), "own labels");
        let ns = c.namespace_view("prod").expect("exists");
        assert!(resolve(namespace_view(podwall_selector::parse("env == 'live'").expect("parses"))).matches(&ns));
        assert!(!sel("app == 'web'").matches(&ns));
    }

    #[test]
    fn a_resolved_selector_renders_as_written() {
        let text = "projectcalico.org/namespace == 'a' && pcns.env == 'b' && pcsa.x == 'c' && app == 'd'";
        assert_eq!(resolve(podwall_selector::parse(text).expect("parses")).to_string(), text);
    }

    /// libcalico-go `lib/numorstring/protocol.go`: the protocol names are TCP, UDP, ICMP,
    /// ICMPv6, SCTP, UDPLite, plus the v1 data model's lower-case `tcp` and `udp`
    /// (ProtocolTCPV1, ProtocolUDPV1); the v3 validator accepts the six names only.
    #[test]
    fn calico_storage_form_reads_lower_case_tcp_and_udp_and_v3_refuses_them() {
        let src = Source { file: "t".into(), line: 1 };
        for storage in [true, false] {
            let cx = Ctx { src: &src, object: "o".into(), namespace: None, warnings: vec![], storage };
            let p = |s: &str| protocol(&cx, &NumOrString::Str(s.into()), "f").ok();
            let lower = storage.then_some(Protocol::TCP);
            assert_eq!(p("tcp"), lower);
            assert_eq!(p("udp"), storage.then_some(Protocol::UDP));
            assert_eq!(p("UDPLite"), Some(Protocol::UDPLITE));
            assert_eq!(p("Tcp"), None);
            assert_eq!(p("sctp"), None);
        }
    }
}
