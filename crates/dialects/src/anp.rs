//! policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy.
//!
//! Both kinds live in their own tiers, as Calico hosts them: every AdminNetworkPolicy
//! in one tier at order 1,000 (policy order = `priority`), the single
//! BaselineAdminNetworkPolicy in one tier at order 10,000,000, and both tiers pass on
//! what their rules do not decide. Between them sits the default tier with the
//! Kubernetes NetworkPolicies, so an ANP `Allow`/`Deny` is final, an ANP `Pass` goes
//! on to the NetworkPolicies, and the baseline is reached only by pods no
//! NetworkPolicy isolates in that direction.
//!
//! A policy applies to a direction only when it has rules for it. Rules keep their
//! written order. Peers match pods (never host-network pods), CIDRs (`networks`, which
//! match pod addresses too), node addresses (`nodes`), or nothing (`domainNames`,
//! which needs DNS and is reported as a warning).
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use podwall_ir::{
    Action, Cluster, Expr, Peer, Policy, PolicyKind, PortMatch, Ports, Protocol, Rule, Scope, Source, Tier, TierDefault,
};

use crate::tiers::{ADMIN_TIER, ADMIN_TIER_ORDER, BASELINE_TIER, BASELINE_TIER_ORDER};
use podwall_load::anp;
use podwall_load::{Input, InputError, Object, Resource};
use podwall_selector::Labels;

use crate::{k8s, labels};

/// The only name a BaselineAdminNetworkPolicy may have.
const BASELINE_NAME: &str = "default";
/// How many matching nodes a `nodes` peer names in its description.
const MAX_NAMED_NODES: usize = 5;
/// The highest AdminNetworkPolicy priority.
const MAX_PRIORITY: i64 = 1000;

/// The object being compiled, for errors and warnings.
pub(crate) struct Ctx<'a> {
    pub(crate) src: &'a Source,
    pub(crate) object: String,
    /// Whether `domainNames` peers are valid in this kind (not in a BaselineAdminNetworkPolicy).
    pub(crate) domain_names: bool,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, field: impl Into<String>, msg: impl Into<String>) -> InputError {
        InputError::field(self.src, &self.object, field, msg)
    }

    pub(crate) fn warn(&self, cluster: &mut Cluster, message: String) {
        cluster.warnings.push(crate::notes::named(crate::notes::UNMODELLED, &self.object, Some(self.src), message));
    }
}

/// A peer that matches no address.
fn nothing(describe: String) -> Peer {
    Peer { selector: Some(Expr::Or(vec![])), describe, ..Peer::any() }
}

/// `namespaceSelector` AND `podSelector`, and the pair in words.
fn pods(cx: &Ctx, p: &anp::Pods, field: &str) -> Result<(Expr, String), InputError> {
    let ns = labels::compile(
        &p.namespace_selector,
        Scope::Namespace,
        cx.src,
        &cx.object,
        &format!("{field}.namespaceSelector"),
    )?;
    let pod = labels::compile(&p.pod_selector, Scope::Pod, cx.src, &cx.object, &format!("{field}.podSelector"))?;
    let words = format!(
        "{} in {}",
        labels::describe(&p.pod_selector).map(|w| format!("pods {w}")).unwrap_or_else(|| "every pod".into()),
        namespaces_words(&p.namespace_selector)
    );
    Ok((Expr::and([ns, pod]), words))
}

fn namespaces_words(sel: &LabelSelector) -> String {
    labels::describe(sel).map(|w| format!("namespaces {w}")).unwrap_or_else(|| "every namespace".into())
}

/// The pods a policy applies to: exactly one of `namespaces` or `pods`.
pub(crate) fn subject(cx: &Ctx, s: &anp::Subject) -> Result<Expr, InputError> {
    match (&s.namespaces, &s.pods) {
        (Some(ns), None) => labels::compile(ns, Scope::Namespace, cx.src, &cx.object, "spec.subject.namespaces"),
        (None, Some(p)) => Ok(pods(cx, p, "spec.subject.pods")?.0),
        (None, None) => Err(cx.err("spec.subject", "the subject must set one of namespaces or pods; it sets neither")),
        (Some(_), Some(_)) => {
            Err(cx.err("spec.subject", "the subject must set only one of namespaces or pods; it sets both"))
        }
    }
}

/// The peer of a node selector: the addresses of the matching Node objects.
fn nodes(cx: &Ctx, sel: &LabelSelector, field: &str, cluster: &Cluster) -> Result<Peer, InputError> {
    let expr = labels::compile(sel, Scope::Pod, cx.src, &cx.object, field)?;
    let words = labels::describe(sel).map(|w| format!("nodes {w}")).unwrap_or_else(|| "every node".into());
    let matched: Vec<_> = cluster.nodes.values().filter(|n| expr.matches(&Labels(&n.labels))).collect();
    let addresses: BTreeSet<IpAddr> = matched.iter().flat_map(|n| n.addresses.iter().copied()).collect();
    if addresses.is_empty() {
        let why = if matched.is_empty() { "no Node object matches" } else { "the matching Nodes have no address" };
        return Ok(nothing(format!("{words} ({why}: matches nothing)")));
    }
    let names: Vec<&str> = matched.iter().take(MAX_NAMED_NODES).map(|n| n.name.as_str()).collect();
    let more = matched.len().saturating_sub(MAX_NAMED_NODES);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    Ok(Peer {
        nets: addresses.into_iter().map(IpNet::from).collect(),
        describe: format!("{words} ({}{more})", names.join(", ")),
        ..Peer::any()
    })
}

/// One peer; `ingress` peers may only be `namespaces` or `pods`.
fn peer(cx: &Ctx, p: &anp::Peer, field: &str, ingress: bool, cluster: &mut Cluster) -> Result<Peer, InputError> {
    let egress_only =
        [("networks", p.networks.is_some()), ("nodes", p.nodes.is_some()), ("domainNames", p.domain_names.is_some())];
    for (name, set) in egress_only {
        if set && ingress {
            return Err(cx.err(format!("{field}.{name}"), format!("{name} peers are only allowed in egress rules")));
        }
    }
    if p.domain_names.is_some() && !cx.domain_names {
        return Err(cx.err(
            format!("{field}.domainNames"),
            "domainNames peers are only allowed in AdminNetworkPolicy egress rules, not in the baseline",
        ));
    }
    let set = [p.namespaces.is_some(), p.pods.is_some()].into_iter().chain(egress_only.map(|(_, s)| s));
    let allowed = match (ingress, cx.domain_names) {
        (true, _) => "namespaces or pods",
        (false, false) => "namespaces, pods, nodes or networks",
        (false, true) => "namespaces, pods, nodes, networks or domainNames",
    };
    match set.filter(|s| *s).count() {
        0 => return Err(cx.err(field, format!("a peer must set one of {allowed}; it sets none"))),
        1 => {}
        _ => return Err(cx.err(field, format!("a peer must set only one of {allowed}"))),
    }
    if let Some(ns) = &p.namespaces {
        let expr = labels::compile(ns, Scope::Namespace, cx.src, &cx.object, &format!("{field}.namespaces"))?;
        return Ok(Peer {
            selector: Some(expr),
            describe: format!("every pod in {}", namespaces_words(ns)),
            ..Peer::any()
        });
    }
    if let Some(pp) = &p.pods {
        let (expr, describe) = pods(cx, pp, &format!("{field}.pods"))?;
        return Ok(Peer { selector: Some(expr), describe, ..Peer::any() });
    }
    if let Some(sel) = &p.nodes {
        return nodes(cx, sel, &format!("{field}.nodes"), cluster);
    }
    if let Some(networks) = &p.networks {
        if networks.is_empty() {
            return Err(cx.err(format!("{field}.networks"), "networks needs at least one CIDR"));
        }
        let mut nets = Vec::with_capacity(networks.len());
        for (i, n) in networks.iter().enumerate() {
            nets.push(
                k8s::parse_cidr(n)
                    .ok_or_else(|| cx.err(format!("{field}.networks[{i}]"), format!("invalid CIDR {n:?}")))?,
            );
        }
        let words: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        return Ok(Peer { nets, describe: format!("addresses in {}", words.join(", ")), ..Peer::any() });
    }
    let names = p.domain_names.as_deref().unwrap_or_default();
    if names.is_empty() {
        return Err(cx.err(format!("{field}.domainNames"), "domainNames needs at least one domain name"));
    }
    cx.warn(
        cluster,
        format!(
            "{field}.domainNames: domain-name peers need DNS, which podwall does not model; the peer matches nothing"
        ),
    );
    Ok(nothing(format!("domain names {} (not modelled: matches nothing)", names.join(", "))))
}

fn protocol(cx: &Ctx, p: Option<&str>, field: &str) -> Result<Protocol, InputError> {
    k8s::protocol(p).map_err(|m| cx.err(format!("{field}.protocol"), m))
}

pub(crate) fn port_number(cx: &Ctx, n: i64, field: &str) -> Result<u16, InputError> {
    k8s::port_number(n).map_err(|m| cx.err(field, m))
}

/// One port entry: exactly one of `portNumber`, `portRange`, `namedPort`.
fn port(cx: &Ctx, p: &anp::Port, field: &str) -> Result<PortMatch, InputError> {
    let set = [p.port_number.is_some(), p.port_range.is_some(), p.named_port.is_some()];
    match set.iter().filter(|s| **s).count() {
        0 => return Err(cx.err(field, "a port must set one of portNumber, portRange or namedPort; it sets none")),
        1 => {}
        _ => return Err(cx.err(field, "a port must set only one of portNumber, portRange or namedPort")),
    }
    if let Some(n) = &p.port_number {
        let f = format!("{field}.portNumber");
        let protocol = protocol(cx, n.protocol.as_deref(), &f)?;
        let port = port_number(cx, n.port, &format!("{f}.port"))?;
        return Ok(PortMatch { protocol: Some(protocol), ports: Ports::Range(port, port) });
    }
    if let Some(r) = &p.port_range {
        let f = format!("{field}.portRange");
        let protocol = protocol(cx, r.protocol.as_deref(), &f)?;
        let start = port_number(cx, r.start, &format!("{f}.start"))?;
        let end = port_number(cx, r.end, &format!("{f}.end"))?;
        if end < start {
            return Err(cx.err(format!("{f}.end"), format!("end {end} is below start {start}")));
        }
        return Ok(PortMatch { protocol: Some(protocol), ports: Ports::Range(start, end) });
    }
    let name = p.named_port.clone().unwrap_or_default();
    if !k8s::valid_port_name(&name) {
        return Err(cx.err(
            format!("{field}.namedPort"),
            format!("{name:?} is not a valid port name (1-15 lowercase letters, digits or '-', with a letter)"),
        ));
    }
    // The named container port carries its own protocol.
    Ok(PortMatch { protocol: None, ports: Ports::Named(name) })
}

fn action(cx: &Ctx, a: &str, field: &str, baseline: bool) -> Result<Action, InputError> {
    match (a, baseline) {
        ("Allow", _) => Ok(Action::Allow),
        ("Deny", _) => Ok(Action::Deny),
        ("Pass", false) => Ok(Action::Pass),
        ("Pass", true) => {
            Err(cx.err(field, "Pass is not a BaselineAdminNetworkPolicy action (expected Allow or Deny)"))
        }
        (other, true) => Err(cx.err(field, format!("unknown action {other:?} (expected Allow or Deny)"))),
        (other, false) => Err(cx.err(field, format!("unknown action {other:?} (expected Allow, Deny or Pass)"))),
    }
}

fn rule(
    cx: &Ctx,
    baseline: bool,
    r: &anp::Rule,
    field: &str,
    index: usize,
    ingress: bool,
    cluster: &mut Cluster,
) -> Result<Rule, InputError> {
    let action = action(cx, &r.action, &format!("{field}.action"), baseline)?;
    let peers = direction_peers(cx, (&r.from, &r.to), ingress, field)?;
    let ports = match &r.ports {
        None => Vec::new(),
        Some(ports) if ports.is_empty() => {
            return Err(
                cx.err(format!("{field}.ports"), "ports needs at least one entry (leave it out to match every port)")
            )
        }
        Some(ports) => ports
            .iter()
            .enumerate()
            .map(|(i, p)| port(cx, p, &format!("{field}.ports[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let head = RuleHead { action, index, name: r.name.as_deref(), field, named_port_field: "namedPort" };
    assemble(cx, head, peers, ingress, ports, cluster)
}

/// The peers of a rule that has both `from` and `to` fields: `from` for ingress, `to`
/// for egress; the other one set is an error.
pub(crate) fn direction_peers<'r>(
    cx: &Ctx,
    (from, to): (&'r Option<Vec<anp::Peer>>, &'r Option<Vec<anp::Peer>>),
    ingress: bool,
    field: &str,
) -> Result<Option<&'r [anp::Peer]>, InputError> {
    let (key, wrong, peers, wrong_set) =
        if ingress { ("from", "to", from, to.is_some()) } else { ("to", "from", to, from.is_some()) };
    if wrong_set {
        let dir = if ingress { "ingress" } else { "egress" };
        return Err(cx.err(format!("{field}.{wrong}"), format!("{dir} rules take `{key}`, not `{wrong}`")));
    }
    Ok(peers.as_deref())
}

/// What a rule is besides its peers and ports.
pub(crate) struct RuleHead<'a> {
    pub(crate) action: Action,
    /// Its position in its direction's list.
    pub(crate) index: usize,
    pub(crate) name: Option<&'a str>,
    /// Its field path, `spec.ingress[0]`.
    pub(crate) field: &'a str,
    /// What the dialect calls a named port, for the message forbidding it with address peers.
    pub(crate) named_port_field: &'a str,
}

/// A rule from its compiled ports and its peers (`from` for ingress, `to` for egress):
/// at least one peer, and no named port with peers that are addresses.
pub(crate) fn assemble(
    cx: &Ctx,
    head: RuleHead,
    peers: Option<&[anp::Peer]>,
    ingress: bool,
    ports: Vec<PortMatch>,
    cluster: &mut Cluster,
) -> Result<Rule, InputError> {
    let (field, key) = (head.field, if ingress { "from" } else { "to" });
    // An empty list would match every address: upstream requires at least one peer.
    let written = peers.unwrap_or_default();
    if written.is_empty() {
        return Err(cx.err(format!("{field}.{key}"), format!("a rule needs at least one peer in `{key}`")));
    }
    let peers = written
        .iter()
        .enumerate()
        .map(|(i, p)| peer(cx, p, &format!("{field}.{key}[{i}]"), ingress, cluster))
        .collect::<Result<Vec<_>, _>>()?;
    if !ingress && ports.iter().any(|p| matches!(p.ports, Ports::Named(_))) {
        let addressed = written.iter().any(|p| p.networks.is_some() || p.nodes.is_some() || p.domain_names.is_some());
        if addressed {
            return Err(cx.err(
                field,
                format!(
                    "{} cannot be combined with networks, nodes or domainNames peers: they have no named ports",
                    head.named_port_field
                ),
            ));
        }
    }
    let mut out = Rule::any(head.action, head.index);
    out.name = head.name.filter(|n| !n.is_empty()).map(str::to_string);
    out.destination.ports = ports;
    if ingress {
        out.source.peers = peers;
    } else {
        out.destination.peers = peers;
    }
    Ok(out)
}

/// One direction's rules, each compiled by `rule` (given its field path and index).
pub(crate) fn rules<R>(
    list: Option<&Vec<R>>,
    ingress: bool,
    cluster: &mut Cluster,
    mut rule: impl FnMut(&R, &str, usize, &mut Cluster) -> Result<Rule, InputError>,
) -> Result<Option<Vec<Rule>>, InputError> {
    // No rules in a direction: the policy does not take part in that direction.
    let Some(list) = list.filter(|l| !l.is_empty()) else { return Ok(None) };
    let dir = if ingress { "ingress" } else { "egress" };
    let out = list
        .iter()
        .enumerate()
        .map(|(i, r)| rule(r, &format!("spec.{dir}[{i}]"), i, cluster))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(out))
}

/// A `priority`: required, 0-1000. `what` names the kind for the message.
pub(crate) fn priority(cx: &Ctx, p: Option<i64>, what: &str) -> Result<f64, InputError> {
    let priority = p.ok_or_else(|| cx.err("spec.priority", format!("{what} needs a priority (0-{MAX_PRIORITY})")))?;
    if !(0..=MAX_PRIORITY).contains(&priority) {
        return Err(cx.err("spec.priority", format!("priority {priority} is out of range 0-{MAX_PRIORITY}")));
    }
    Ok(priority as f64)
}

/// Compiles one AdminNetworkPolicy (`baseline: false`) or BaselineAdminNetworkPolicy.
/// `cluster` supplies the Node objects for `nodes` peers and receives warnings.
pub fn compile(obj: &Object, baseline: bool, p: &anp::Policy, cluster: &mut Cluster) -> Result<Policy, InputError> {
    let cx = Ctx { src: &obj.source, object: obj.display(), domain_names: !baseline };
    let order = if baseline {
        if obj.name != BASELINE_NAME {
            return Err(cx.err(
                "metadata.name",
                format!("a BaselineAdminNetworkPolicy must be named {BASELINE_NAME:?}; there is only one per cluster"),
            ));
        }
        if p.spec.priority.is_some() {
            return Err(cx.err("spec.priority", "a BaselineAdminNetworkPolicy has no priority"));
        }
        None
    } else {
        Some(priority(&cx, p.spec.priority, "an AdminNetworkPolicy")?)
    };
    let selector = subject(&cx, &p.spec.subject)?;
    let cx = &cx;
    let compile_rule =
        |ingress| move |r: &anp::Rule, f: &str, i, c: &mut Cluster| rule(cx, baseline, r, f, i, ingress, c);
    let ingress = rules(p.spec.ingress.as_ref(), true, cluster, compile_rule(true))?;
    let egress = rules(p.spec.egress.as_ref(), false, cluster, compile_rule(false))?;
    Ok(Policy {
        kind: if baseline { PolicyKind::BaselineAdminNetworkPolicy } else { PolicyKind::AdminNetworkPolicy },
        namespace: None,
        name: obj.name.clone(),
        source: Some(obj.source.clone()),
        order,
        selector,
        ingress,
        egress,
    })
}

/// Warns about policies of one tier that share a priority: upstream leaves their order
/// undefined; the tier runs them by name.
pub(crate) fn warn_shared_priorities(policies: &BTreeMap<String, Policy>, cluster: &mut Cluster) {
    let mut by_priority: BTreeMap<u64, Vec<&Policy>> = BTreeMap::new();
    for p in policies.values() {
        by_priority.entry(p.order.unwrap_or_default() as u64).or_default().push(p);
    }
    for (priority, same) in by_priority.iter().filter(|(_, v)| v.len() > 1) {
        for p in same {
            let others: Vec<&str> = same.iter().map(|o| o.name.as_str()).filter(|n| *n != p.name).collect();
            let message = format!(
                "shares priority {priority} with {}; upstream leaves their order undefined, podwall runs them by name",
                others.join(", ")
            );
            let f = crate::notes::named(crate::notes::SHARED_PRIORITY, &p.display_name(), p.source.as_ref(), message);
            cluster.warnings.push(f);
        }
    }
}

/// Adds `policies` to the tier `name` (order `order`, default action Pass), creating
/// it if they are not empty and it does not exist yet (a Calico Tier object of that
/// name already made it).
pub(crate) fn place(tiers: &mut BTreeMap<String, Tier>, name: &str, order: f64, policies: BTreeMap<String, Policy>) {
    if policies.is_empty() {
        return;
    }
    let tier = tiers.entry(name.to_string()).or_insert_with(|| Tier {
        name: name.into(),
        order: Some(order),
        default_action: TierDefault::Pass,
        policies: vec![],
    });
    tier.policies.extend(policies.into_values());
}

/// Compiles every AdminNetworkPolicy and BaselineAdminNetworkPolicy of the input into
/// the admin tier and the baseline tier of `tiers`. A tier is added only when it gets a
/// policy; if `tiers` already holds one of that name (a Calico Tier object, as a dump
/// of a Calico cluster has), the policies join it.
///
/// An object declared twice (same kind and name) keeps its last declaration, with a
/// warning. AdminNetworkPolicies that share a priority are run by name, with a warning:
/// upstream leaves their order undefined.
pub fn tiers(input: &Input, tiers: &mut BTreeMap<String, Tier>, cluster: &mut Cluster) -> Result<(), InputError> {
    let mut admin: BTreeMap<String, Policy> = BTreeMap::new();
    let mut baseline: BTreeMap<String, Policy> = BTreeMap::new();
    for obj in &input.objects {
        let Resource::AdminPolicy { baseline: is_baseline, policy } = &obj.resource else { continue };
        let compiled = compile(obj, *is_baseline, policy, cluster)?;
        // `compile` keeps one object per kind and name, so names are unique here.
        (if *is_baseline { &mut baseline } else { &mut admin }).insert(obj.name.clone(), compiled);
    }
    warn_shared_priorities(&admin, cluster);
    place(tiers, ADMIN_TIER, ADMIN_TIER_ORDER, admin);
    place(tiers, BASELINE_TIER, BASELINE_TIER_ORDER, baseline);
    Ok(())
}
