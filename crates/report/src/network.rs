//! Network findings `NP0xx`, computed from the compiled cluster and its [`Index`] (what
//! the policies do), never from whether objects exist.
use std::collections::{BTreeMap, BTreeSet, HashSet};

use podwall_engine::{governing_tiers_of, Bits, Index};
use podwall_findings::{Finding, Severity};
use podwall_ir::{
    Action, Cluster, Direction, Endpoint, EndpointKind, LabelMap, Policy, PortMatch, Ports, Protocol, Rule,
    TierDefault, NAMESPACE_NAME_LABEL,
};

use crate::CheckInfo;

/// Pods (and templates) that no policy isolates in either direction.
pub const OPEN_BOTH_WAYS: &str = "NP001";
/// Namespaces where a new pod would not be isolated for ingress (no default deny).
pub const NO_DEFAULT_DENY: &str = "NP002";
/// Egress isolation that leaves no way to the cluster DNS.
pub const NO_DNS: &str = "NP003";
/// A policy that selects no endpoint of the input.
pub const SELECTS_NOTHING: &str = "NP004";
/// A named port that no endpoint the rule can reach declares.
pub const NAMED_PORT_UNDEFINED: &str = "NP005";
/// A rule that an earlier rule shadows: it changes no verdict.
pub const SHADOWED: &str = "NP006";
/// A policy in a tier that an earlier tier always decides before.
pub const TIER_UNREACHED: &str = "NP007";
/// An egress Allow to every address on every port.
pub const EGRESS_ANYWHERE: &str = "NP009";
/// A Log rule with no rule after it in its policy that decides.
pub const LOG_ONLY: &str = "NP010";
/// A rule with an HTTP match, which the data plane enforces at layer 4 only.
pub const HTTP_AT_L4: &str = "NP011";

/// Every network check, for the catalogue.
pub fn catalogue() -> Vec<CheckInfo> {
    use Severity::*;
    let c = |id, severity, summary, remediation| CheckInfo { id, area: "network", severity, summary, remediation };
    vec![
        c(
            OPEN_BOTH_WAYS,
            Medium,
            "an endpoint no policy isolates in either direction",
            "select it with a policy (a namespace default deny at least)",
        ),
        c(
            NO_DEFAULT_DENY,
            Medium,
            "a namespace where a new pod would not be isolated for ingress",
            "add a NetworkPolicy with an empty podSelector and policyTypes [Ingress, Egress]",
        ),
        c(
            NO_DNS,
            High,
            "egress isolation with no way to the cluster DNS (UDP/53): pods lose name resolution",
            "allow egress to the kube-dns pods on UDP and TCP 53",
        ),
        c(SELECTS_NOTHING, Low, "a policy that selects no endpoint of the input", "fix its selector, or delete it"),
        c(
            NAMED_PORT_UNDEFINED,
            Medium,
            "a named port that no endpoint the rule can reach declares: the port matches nothing",
            "name a port the pods declare, or give the number",
        ),
        c(
            SHADOWED,
            Low,
            "a rule an earlier rule covers: it never decides, so removing it changes no verdict",
            "remove it, or move it before the rule that covers it",
        ),
        c(
            TIER_UNREACHED,
            Medium,
            "a policy whose tier is never reached: an earlier tier decides every packet of every endpoint it selects",
            "add a Pass rule to the earlier tier, or move the policy",
        ),
        c(
            EGRESS_ANYWHERE,
            Medium,
            "an egress Allow to every address on every port",
            "name the destinations and ports the workload needs",
        ),
        c(
            LOG_ONLY,
            Low,
            "a Log rule with no Allow, Deny or Pass after it in its policy: the packet falls to the tier's default",
            "add the rule that decides after the Log rule",
        ),
        c(
            HTTP_AT_L4,
            Medium,
            "a rule with an HTTP match: podwall's data plane enforces it at layer 4, for all its traffic",
            "enforce HTTP rules in a layer-7 proxy, or narrow the rule's ports",
        ),
    ]
}

fn severity(id: &str) -> Severity {
    catalogue().into_iter().find(|c| c.id == id).map_or(Severity::Medium, |c| c.severity)
}

fn finding(id: &'static str, message: String) -> Finding {
    let info = catalogue().into_iter().find(|c| c.id == id);
    let f = Finding::new(id, severity(id), message);
    match info {
        Some(i) => f.remediation(i.remediation),
        None => f,
    }
}

fn about_policy(f: Finding, p: &Policy) -> Finding {
    let f = f.subject(p.display_name());
    match &p.source {
        Some(s) => f.origin(s.origin()),
        None => f,
    }
}

fn about_endpoint(f: Finding, e: &Endpoint) -> Finding {
    let f = f.subject(e.name.clone());
    match &e.source {
        Some(s) => f.origin(s.origin()),
        None => f,
    }
}

fn rule_name(dir: Direction, r: &Rule) -> String {
    match &r.name {
        Some(n) => format!("{dir} rule {} ({n:?})", r.index + 1),
        None => format!("{dir} rule {}", r.index + 1),
    }
}

/// Every network finding of the cluster.
pub fn findings(cluster: &Cluster, index: &Index) -> Vec<Finding> {
    let mut out = Vec::new();
    endpoints(cluster, index, &mut out);
    namespaces(cluster, &mut out);
    policies(cluster, index, &mut out);
    out
}

fn endpoints(cluster: &Cluster, index: &Index, out: &mut Vec<Finding>) {
    let dns: Vec<usize> = (0..cluster.endpoints.len())
        .filter(|&i| cluster.endpoints[i].labels.get("k8s-app").is_some_and(|v| v == "kube-dns"))
        .collect();
    for (id, e) in cluster.endpoints.iter().enumerate() {
        if e.host_network {
            continue;
        }
        let ingress = index.isolated(id, Direction::Ingress);
        let egress = index.isolated(id, Direction::Egress);
        if !ingress && !egress {
            out.push(about_endpoint(
                finding(
                    OPEN_BOTH_WAYS,
                    "no policy isolates it for ingress or egress: it sends and receives anything".into(),
                ),
                e,
            ));
        }
        if egress && !dns.is_empty() && !dns.iter().any(|&d| index.query(id, d, Protocol::UDP, Some(53))) {
            let names: Vec<&str> = dns.iter().take(3).map(|&d| cluster.endpoints[d].name.as_str()).collect();
            out.push(about_endpoint(
                finding(NO_DNS, format!("isolated for egress and cannot reach DNS on UDP/53 ({})", names.join(", "))),
                e,
            ));
        }
    }
}

/// A pod with no labels in namespace `ns`, as a new pod would be.
fn blank_pod(ns: &str) -> Endpoint {
    Endpoint {
        name: format!("{ns}/\u{0}new-pod"),
        namespace: ns.to_string(),
        labels: LabelMap::new(),
        ip: None,
        addresses: vec![],
        ports: vec![],
        service_account: "default".into(),
        host_network: false,
        kind: EndpointKind::Pod,
        owner: None,
        source: None,
    }
}

fn namespaces(cluster: &Cluster, out: &mut Vec<Finding>) {
    let used: BTreeSet<&str> = cluster.endpoints.iter().map(|e| e.namespace.as_str()).collect();
    for ns in cluster.namespaces.values().filter(|n| used.contains(n.name.as_str())) {
        let pod = blank_pod(&ns.name);
        let view = cluster.endpoint_view(&pod);
        let isolates = |dir: Direction| {
            cluster.policies.tiers().iter().any(|t| {
                t.default_action == TierDefault::Deny
                    && t.policies.iter().any(|p| p.rules(dir).is_some() && p.selector.matches(&view))
            })
        };
        if !isolates(Direction::Ingress) {
            let egress = if isolates(Direction::Egress) { "" } else { " or egress" };
            let f = finding(
                NO_DEFAULT_DENY,
                format!("a new pod with no labels would not be isolated for ingress{egress}: no default deny"),
            )
            .subject(format!("Namespace {}", ns.name));
            debug_assert_eq!(ns.labels.get(NAMESPACE_NAME_LABEL), Some(&ns.name));
            out.push(f);
        }
    }
}

/// Whether port match `a` accepts every packet `b` accepts.
fn port_covers(a: &PortMatch, b: &PortMatch) -> bool {
    let proto = a.protocol.is_none() || a.protocol == b.protocol;
    proto
        && match (&a.ports, &b.ports) {
            (Ports::Any, _) => true,
            (Ports::Range(lo, hi), Ports::Range(l, h)) => lo <= l && h <= hi,
            (Ports::Named(x), Ports::Named(y)) => x == y,
            _ => false,
        }
}

/// Whether classes `b` ⊆ `a` (`None`: every class).
fn set_covers(a: Option<&Bits>, b: Option<&Bits>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => {
            let mut rest = b.clone();
            rest.and_not_with(a);
            rest.none()
        }
    }
}

/// Whether a rule matches only endpoints (no address ranges, no network sets): its
/// class sets then say exactly which packets its peers match.
fn endpoints_only(r: &Rule) -> bool {
    let side =
        |e: &podwall_ir::Entity| e.peers.iter().all(|p| p.nets.is_empty() && p.not_nets.is_empty() && !p.network_sets);
    side(&r.source) && side(&r.destination) && !(r.source.peers.is_empty() && r.destination.peers.is_empty())
}

/// Whether every packet rule `b` (at `bi`) matches, rule `a` (at `ai`) matches too, both
/// judged on the index's class sets. `b` must match endpoints only.
fn rule_covers(index: &Index, at: (usize, usize), dir: Direction, a: &Rule, b: &Rule) -> bool {
    let packet = a.http.is_none()
        && !a.source_ports
        && (a.protocol.is_none() || a.protocol == b.protocol)
        && (a.not_protocol.is_none() || a.not_protocol == b.not_protocol)
        && (a.icmp.is_none() || a.icmp == b.icmp)
        && (a.not_icmp.is_none() || a.not_icmp == b.not_icmp)
        && (a.ip_version.is_none() || a.ip_version == b.ip_version)
        && (a.destination.not_ports.is_empty() || a.destination.not_ports == b.destination.not_ports)
        && (a.destination.ports.is_empty()
            || (!b.destination.ports.is_empty()
                && b.destination.ports.iter().all(|bp| a.destination.ports.iter().any(|ap| port_covers(ap, bp)))));
    if !packet {
        return false;
    }
    let (asrc, adst) = index.rule_classes(at.0, at.1, dir, a.index);
    let (bsrc, bdst) = index.rule_classes(at.0, at.1, dir, b.index);
    set_covers(asrc, bsrc) && set_covers(adst, bdst)
}

fn policies(cluster: &Cluster, index: &Index, out: &mut Vec<Finding>) {
    let tiers = cluster.policies.tiers();
    // Which policies select some endpoint, and the governing tiers of each distinct list
    // of applicable policies (endpoints with the same list share them).
    let mut selects: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut selects_in: BTreeSet<(usize, usize, Direction)> = BTreeSet::new();
    let mut reached: BTreeSet<(usize, usize, Direction)> = BTreeSet::new();
    let mut seen: HashSet<(Vec<(usize, usize)>, Direction)> = HashSet::new();
    for id in 0..cluster.endpoints.len() {
        for dir in [Direction::Ingress, Direction::Egress] {
            let list = index.applicable_policies(id, dir);
            selects.extend(list.iter().copied());
            selects_in.extend(list.iter().map(|&(t, p)| (t, p, dir)));
            if !seen.insert((list.clone(), dir)) {
                continue;
            }
            for g in governing_tiers_of(cluster, &list, dir) {
                if g.unreachable_after.is_none() {
                    reached.extend(g.policies.iter().map(|&p| (g.tier, p, dir)));
                }
            }
        }
    }
    let mut unreached: BTreeMap<(usize, usize), Vec<Direction>> = BTreeMap::new();
    for (ti, tier) in tiers.iter().enumerate() {
        for (pi, p) in tier.policies.iter().enumerate() {
            if !selects.contains(&(ti, pi)) && !cluster.endpoints.is_empty() {
                out.push(about_policy(finding(SELECTS_NOTHING, "selects no endpoint of the input".into()), p));
                continue;
            }
            for dir in [Direction::Ingress, Direction::Egress] {
                let Some(rules) = p.rules(dir) else { continue };
                if !rules.is_empty() && selects_in.contains(&(ti, pi, dir)) && !reached.contains(&(ti, pi, dir)) {
                    unreached.entry((ti, pi)).or_default().push(dir);
                }
                rules_of(cluster, index, (ti, pi), dir, rules, out);
            }
        }
    }
    for ((ti, pi), dirs) in unreached {
        let words: Vec<String> = dirs.iter().map(ToString::to_string).collect();
        let p = &tiers[ti].policies[pi];
        out.push(about_policy(
            finding(
                TIER_UNREACHED,
                format!(
                    "its {} rules are never reached: for every endpoint it selects an earlier tier ends in Deny with no Pass (tier {:?})",
                    words.join(" and "),
                    tiers[ti].name
                ),
            ),
            p,
        ));
    }
}

fn rules_of(
    cluster: &Cluster,
    index: &Index,
    at: (usize, usize),
    dir: Direction,
    rules: &[Rule],
    out: &mut Vec<Finding>,
) {
    let p = &cluster.policies.tiers()[at.0].policies[at.1];
    for (k, r) in rules.iter().enumerate() {
        if r.action == Action::Log && !rules[k + 1..].iter().any(|n| n.action != Action::Log) {
            out.push(about_policy(
                finding(LOG_ONLY, format!("{} logs, and no rule after it in the policy decides", rule_name(dir, r))),
                p,
            ));
        }
        if r.http.is_some() {
            out.push(about_policy(
                finding(
                    HTTP_AT_L4,
                    format!(
                        "{} matches HTTP requests; the data plane applies it to all its traffic",
                        rule_name(dir, r)
                    ),
                ),
                p,
            ));
        }
        if dir == Direction::Egress
            && r.action == Action::Allow
            && r.destination.ports.is_empty()
            && r.protocol.is_none()
            && anywhere(&r.destination)
        {
            out.push(about_policy(
                finding(EGRESS_ANYWHERE, format!("{} allows every address on every port", rule_name(dir, r))),
                p,
            ));
        }
        if r.action != Action::Log && endpoints_only(r) {
            if let Some(earlier) =
                rules[..k].iter().find(|e| e.action != Action::Log && rule_covers(index, at, dir, e, r))
            {
                out.push(about_policy(
                    finding(
                        SHADOWED,
                        format!(
                            "{} never decides: {} ({}) matches every packet it matches first",
                            rule_name(dir, r),
                            rule_name(dir, earlier),
                            earlier.action
                        ),
                    ),
                    p,
                ));
            }
        }
        named_ports(cluster, index, at, dir, r, p, out);
    }
}

/// Whether a destination matches every address: no peers, or a peer with no selector
/// and a range covering a whole family with nothing excluded.
fn anywhere(e: &podwall_ir::Entity) -> bool {
    e.peers.is_empty()
        || e.peers.iter().any(|p| {
            p.selector.is_none()
                && p.not_selector.is_none()
                && p.not_nets.is_empty()
                && p.nets.iter().any(|n| n.prefix_len() == 0)
        })
}

fn named_ports(
    cluster: &Cluster,
    index: &Index,
    at: (usize, usize),
    dir: Direction,
    r: &Rule,
    p: &Policy,
    out: &mut Vec<Finding>,
) {
    let named: Vec<&PortMatch> = r.destination.ports.iter().filter(|m| matches!(m.ports, Ports::Named(_))).collect();
    if named.is_empty() {
        return;
    }
    // The destinations: on ingress the endpoints the policy selects, on egress those
    // the rule's destination peers match (any endpoint when it names none).
    let (_, dst) = index.rule_classes(at.0, at.1, dir, r.index);
    let local = index.policy_classes(at.0, at.1);
    let in_reach = |id: usize| {
        let c = index.class_of(id);
        let ok = match dir {
            Direction::Ingress => local.contains(c),
            Direction::Egress => true,
        };
        ok && dst.is_none_or(|d| d.contains(c))
    };
    for m in named {
        let Ports::Named(name) = &m.ports else { continue };
        let defined = cluster.endpoints.iter().enumerate().any(|(id, e)| {
            in_reach(id)
                && e.ports
                    .iter()
                    .any(|pp| pp.name.as_deref() == Some(name) && m.protocol.is_none_or(|x| x == pp.protocol))
        });
        if !defined {
            out.push(about_policy(
                finding(
                    NAMED_PORT_UNDEFINED,
                    format!("{} names port {m}, which no endpoint it can reach declares", rule_name(dir, r)),
                ),
                p,
            ));
        }
    }
}
