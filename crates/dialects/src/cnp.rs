//! policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy.
//!
//! Upstream evaluates three tiers: the Admin tier, then Kubernetes NetworkPolicy, then
//! the Baseline tier; within a tier, policies in ascending `priority` (0-1000) and each
//! policy's rules in written order. `Accept` and `Deny` are final for the direction;
//! `Pass` skips the rest of the current tier, in both tiers (v1alpha2 allows it in the
//! Baseline tier, where v1alpha1's BaselineAdminNetworkPolicy did not); from the
//! Baseline tier it reaches the default, which allows. Policies of one tier that share
//! a priority have no defined order upstream: podwall runs them by name and warns.
//!
//! Each tier is a tier of the intermediate form with default action Pass and policy
//! order = priority. A cluster may also hold the v1alpha1 kinds, so the four tiers nest:
//!
//! | tier | order |
//! |---|---|
//! | [`CNP_ADMIN_TIER`] | 900 |
//! | AdminNetworkPolicy | 1,000 |
//! | default (NetworkPolicy) | 1,000,000 |
//! | BaselineAdminNetworkPolicy | 10,000,000 |
//! | [`CNP_BASELINE_TIER`] | 20,000,000 |
//!
//! The v1alpha2 Admin tier "takes precedence over all other policies" and sets rules
//! "that cannot be overridden in the other tiers", while v1alpha1 only places an ANP
//! before NetworkPolicy; putting the Admin tier first satisfies both texts. A `Pass` in
//! it therefore reaches the AdminNetworkPolicies before the NetworkPolicies. The
//! Baseline tier mirrors that: it is for what nothing else decided, after the
//! BaselineAdminNetworkPolicy, which v1alpha1 places after ANP and NetworkPolicy.
//!
//! Subjects and peers have the v1alpha1 shape and meaning and are compiled by the same
//! code (`anp.rs`); so are rule assembly, the priority check and the tiers' placement.
//! What is v1alpha2's own is read here: `tier`, the actions `Accept`/`Deny`/`Pass`,
//! `protocols`, and the CRD's limits (25 rules per direction, 25 peers and protocols
//! per rule, rule names of at most 100 characters).
use std::collections::BTreeMap;

use podwall_ir::{Action, Cluster, Policy, PolicyKind, PortMatch, Ports, Protocol, Rule, Tier};
use podwall_load::cnp;
use podwall_load::{Input, InputError, Object, Resource};

use crate::anp::{self, Ctx, RuleHead};
use crate::k8s;

use crate::tiers::{CNP_ADMIN_TIER, CNP_ADMIN_TIER_ORDER, CNP_BASELINE_TIER, CNP_BASELINE_TIER_ORDER};

/// The CRD's `maxItems` for rules, peers and protocols.
const MAX_ITEMS: usize = 25;
/// The CRD's `maxLength` for a rule name.
const MAX_RULE_NAME: usize = 100;

/// Which tier a policy is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Admin,
    Baseline,
}

fn level(cx: &Ctx, tier: Option<&str>) -> Result<Level, InputError> {
    match tier {
        Some("Admin") => Ok(Level::Admin),
        Some("Baseline") => Ok(Level::Baseline),
        Some(other) => Err(cx.err("spec.tier", format!("unknown tier {other:?} (expected Admin or Baseline)"))),
        None => Err(cx.err("spec.tier", "a ClusterNetworkPolicy needs a tier (Admin or Baseline)")),
    }
}

fn action(cx: &Ctx, a: &str, field: &str) -> Result<Action, InputError> {
    match a {
        "Accept" => Ok(Action::Allow),
        "Deny" => Ok(Action::Deny),
        "Pass" => Ok(Action::Pass),
        "Allow" => {
            Err(cx.err(field, "unknown action \"Allow\": v1alpha2 calls it Accept (expected Accept, Deny or Pass)"))
        }
        other => Err(cx.err(field, format!("unknown action {other:?} (expected Accept, Deny or Pass)"))),
    }
}

fn at_most<T>(cx: &Ctx, list: &[T], field: &str, what: &str) -> Result<(), InputError> {
    if list.len() > MAX_ITEMS {
        return Err(cx.err(field, format!("at most {MAX_ITEMS} {what} are allowed; there are {}", list.len())));
    }
    Ok(())
}

fn port_value(cx: &Ctx, n: Option<i64>, field: &str) -> Result<u16, InputError> {
    let n = n.ok_or_else(|| cx.err(field, "required"))?;
    anp::port_number(cx, n, field)
}

/// `destinationPort`: exactly one of `number` or `range` (`start` < `end`).
fn destination_port(cx: &Ctx, p: &cnp::ProtocolPort, field: &str) -> Result<Ports, InputError> {
    let field = format!("{field}.destinationPort");
    let Some(port) = &p.destination_port else {
        return Err(cx.err(&field, "required: set destinationPort (a number or a range)"));
    };
    match (port.number, &port.range) {
        (Some(n), None) => {
            let n = anp::port_number(cx, n, &format!("{field}.number"))?;
            Ok(Ports::Range(n, n))
        }
        (None, Some(r)) => {
            let start = port_value(cx, r.start, &format!("{field}.range.start"))?;
            let end = port_value(cx, r.end, &format!("{field}.range.end"))?;
            if start >= end {
                return Err(
                    cx.err(format!("{field}.range"), format!("start port {start} must be less than end port {end}"))
                );
            }
            Ok(Ports::Range(start, end))
        }
        (None, None) => Err(cx.err(field, "set one of number or range; it sets neither")),
        (Some(_), Some(_)) => Err(cx.err(field, "set only one of number or range; it sets both")),
    }
}

/// One `protocols` entry: exactly one of `tcp`, `udp`, `sctp`, `destinationNamedPort`.
fn protocol(cx: &Ctx, p: &cnp::Protocol, field: &str, cluster: &mut Cluster) -> Result<PortMatch, InputError> {
    let set = [p.tcp.is_some(), p.udp.is_some(), p.sctp.is_some(), p.destination_named_port.is_some()];
    let fields = "tcp, udp, sctp or destinationNamedPort";
    match set.iter().filter(|s| **s).count() {
        0 => return Err(cx.err(field, format!("a protocol entry must set one of {fields}; it sets none"))),
        1 => {}
        _ => return Err(cx.err(field, format!("a protocol entry must set only one of {fields}"))),
    }
    for (name, proto, entry) in
        [("tcp", Protocol::TCP, &p.tcp), ("udp", Protocol::UDP, &p.udp), ("sctp", Protocol::SCTP, &p.sctp)]
    {
        if let Some(entry) = entry {
            let ports = destination_port(cx, entry, &format!("{field}.{name}"))?;
            return Ok(PortMatch { protocol: Some(proto), ports });
        }
    }
    let name = p.destination_named_port.clone().unwrap_or_default();
    if !k8s::valid_port_name(&name) {
        // The CRD accepts any string; no container port can carry this name.
        cx.warn(
            cluster,
            format!("{field}.destinationNamedPort: {name:?} is not a valid port name, so it matches no container port"),
        );
    }
    // The named container port carries its own protocol.
    Ok(PortMatch { protocol: None, ports: Ports::Named(name) })
}

/// One rule of either direction: its name, action, peers and protocols.
fn rule(
    cx: &Ctx,
    r: &cnp::Rule,
    field: &str,
    index: usize,
    ingress: bool,
    cluster: &mut Cluster,
) -> Result<Rule, InputError> {
    if let Some(n) = r.name.as_deref().filter(|n| n.chars().count() > MAX_RULE_NAME) {
        return Err(cx.err(
            format!("{field}.name"),
            format!("a rule name may have at most {MAX_RULE_NAME} characters; it has {}", n.chars().count()),
        ));
    }
    let action = action(cx, &r.action, &format!("{field}.action"))?;
    let peers = anp::direction_peers(cx, (&r.from, &r.to), ingress, field)?;
    let key = if ingress { "from" } else { "to" };
    at_most(cx, peers.unwrap_or_default(), &format!("{field}.{key}"), "peers")?;
    let ports = match &r.protocols {
        None => Vec::new(),
        Some(list) if list.is_empty() => {
            return Err(cx.err(
                format!("{field}.protocols"),
                "protocols needs at least one entry (leave it out to match every protocol and port)",
            ))
        }
        Some(list) => {
            at_most(cx, list, &format!("{field}.protocols"), "protocols")?;
            list.iter()
                .enumerate()
                .map(|(i, p)| protocol(cx, p, &format!("{field}.protocols[{i}]"), cluster))
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    if !ingress && action != Action::Allow {
        if let Some(i) = peers.unwrap_or_default().iter().position(|p| p.domain_names.is_some()) {
            cx.warn(
                cluster,
                format!(
                    "{field}.to[{i}].domainNames: upstream supports domainNames only in Accept rules; \
                     podwall does not know what this rule does to those names"
                ),
            );
        }
    }
    let head = RuleHead { action, index, name: r.name.as_deref(), field, named_port_field: "destinationNamedPort" };
    anp::assemble(cx, head, peers, ingress, ports, cluster)
}

/// Compiles one ClusterNetworkPolicy; returns its tier and the policy. `cluster`
/// supplies the Node objects for `nodes` peers and receives warnings.
fn compile(obj: &Object, p: &cnp::Policy, cluster: &mut Cluster) -> Result<(Level, Policy), InputError> {
    let cx = &Ctx { src: &obj.source, object: obj.display(), domain_names: true };
    let level = level(cx, p.spec.tier.as_deref())?;
    let order = anp::priority(cx, p.spec.priority, "a ClusterNetworkPolicy")?;
    let subject = p
        .spec
        .subject
        .as_ref()
        .ok_or_else(|| cx.err("spec.subject", "a ClusterNetworkPolicy needs a subject (namespaces or pods)"))?;
    let selector = anp::subject(cx, subject)?;
    if let Some(list) = &p.spec.ingress {
        at_most(cx, list, "spec.ingress", "ingress rules")?;
    }
    if let Some(list) = &p.spec.egress {
        at_most(cx, list, "spec.egress", "egress rules")?;
    }
    let compile_rule = |ingress| move |r: &cnp::Rule, f: &str, i, c: &mut Cluster| rule(cx, r, f, i, ingress, c);
    let ingress = anp::rules(p.spec.ingress.as_ref(), true, cluster, compile_rule(true))?;
    let egress = anp::rules(p.spec.egress.as_ref(), false, cluster, compile_rule(false))?;
    let policy = Policy {
        kind: PolicyKind::ClusterNetworkPolicy,
        namespace: None,
        name: obj.name.clone(),
        source: Some(obj.source.clone()),
        order: Some(order),
        selector,
        ingress,
        egress,
    };
    Ok((level, policy))
}

/// Compiles every ClusterNetworkPolicy of the input into the two tiers of `tiers`
/// ([`CNP_ADMIN_TIER`], [`CNP_BASELINE_TIER`]); a tier is added only when it gets a
/// policy. One name is one object whatever its tier: a second declaration replaces the
/// first, with a warning. Policies of one tier sharing a priority are warned about.
pub fn tiers(input: &Input, tiers: &mut BTreeMap<String, Tier>, cluster: &mut Cluster) -> Result<(), InputError> {
    let mut declared: BTreeMap<String, Policy> = BTreeMap::new();
    let mut levels: BTreeMap<String, Level> = BTreeMap::new();
    for obj in &input.objects {
        let Resource::ClusterPolicy(policy) = &obj.resource else { continue };
        let (level, compiled) = compile(obj, policy, cluster)?;
        levels.insert(obj.name.clone(), level);
        declared.insert(obj.name.clone(), compiled);
    }
    let (admin, baseline): (BTreeMap<_, _>, BTreeMap<_, _>) =
        declared.into_iter().partition(|(name, _)| levels.get(name) == Some(&Level::Admin));
    anp::warn_shared_priorities(&admin, cluster);
    anp::warn_shared_priorities(&baseline, cluster);
    anp::place(tiers, CNP_ADMIN_TIER, CNP_ADMIN_TIER_ORDER, admin);
    anp::place(tiers, CNP_BASELINE_TIER, CNP_BASELINE_TIER_ORDER, baseline);
    Ok(())
}
