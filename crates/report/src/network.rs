//! Network findings `NP0xx`, computed from the compiled cluster and its [`Index`] (what
//! the policies do), never from whether objects exist.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
/// A kube-system endpoint that endpoints of every other namespace may connect to.
pub const KUBE_SYSTEM_FROM_ANYWHERE: &str = "NP008";
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
            "a rule an earlier rule covers (of its policy, or of an earlier policy of its tier that applies wherever it does): it never decides, so removing it changes no verdict",
            "remove it, or move it before the rule that covers it",
        ),
        c(
            TIER_UNREACHED,
            Medium,
            "a policy whose tier is never reached: an earlier tier decides every packet of every endpoint it selects",
            "add a Pass rule to the earlier tier, or move the policy",
        ),
        c(
            KUBE_SYSTEM_FROM_ANYWHERE,
            High,
            "a kube-system pod that pods of every other namespace may connect to on a port it serves (cluster DNS on 53 aside)",
            "admit only the namespaces and pods that need it to the kube-system pods",
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

fn finding(id: &'static str, message: String) -> Finding {
    match catalogue().into_iter().find(|c| c.id == id) {
        Some(i) => Finding::new(id, i.severity, message).remediation(i.remediation),
        None => Finding::new(id, Severity::Medium, message),
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
    kube_system(cluster, index, &mut out);
    policies(cluster, index, &mut out);
    out
}

/// The namespace whose pods run the control plane's add-ons.
const KUBE_SYSTEM: &str = "kube-system";

/// Whether an endpoint is the cluster DNS (its pods answer every namespace on port 53).
fn is_dns(e: &Endpoint) -> bool {
    e.labels.get("k8s-app").is_some_and(|v| v == "kube-dns")
}

/// NP008: for each kube-system endpoint, on each port it declares, whether every other
/// namespace of the input holds an endpoint that may connect to it, asked of the index
/// (the source's egress and the destination's ingress). One endpoint per class and
/// namespace stands for its class, since every member is answered alike; a namespace
/// that reaches nothing ends the search.
fn kube_system(cluster: &Cluster, index: &Index, out: &mut Vec<Finding>) {
    let mut sources: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut seen: HashSet<(&str, usize)> = HashSet::new();
    for (id, e) in cluster.endpoints.iter().enumerate() {
        if e.namespace != KUBE_SYSTEM && !e.host_network && seen.insert((e.namespace.as_str(), index.class_of(id))) {
            sources.entry(e.namespace.as_str()).or_default().push(id);
        }
    }
    if sources.is_empty() {
        return;
    }
    let mut by_class: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (d, e) in cluster.endpoints.iter().enumerate() {
        if e.namespace != KUBE_SYSTEM || e.host_network {
            continue;
        }
        let open = by_class.entry(index.class_of(d)).or_insert_with(|| {
            let mut ports: Vec<(Protocol, u16)> = e.ports.iter().map(|p| (p.protocol, p.port)).collect();
            ports.sort_by_key(|&(proto, port)| (port, proto.to_string()));
            ports.dedup();
            ports
                .into_iter()
                .filter(|&(proto, port)| !(port == 53 && is_dns(e) && matches!(proto, Protocol::UDP | Protocol::TCP)))
                .filter(|&(proto, port)| {
                    sources.values().all(|ids| ids.iter().any(|&s| index.query(s, d, proto, Some(port))))
                })
                .map(|(proto, port)| format!("{proto}/{port}"))
                .collect()
        });
        if !open.is_empty() {
            out.push(about_endpoint(
                finding(
                    KUBE_SYSTEM_FROM_ANYWHERE,
                    format!(
                        "pods of every other namespace ({}) may connect to it on {}",
                        sources.len(),
                        open.join(", ")
                    ),
                ),
                e,
            ));
        }
    }
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
    // The policies of tiers that isolate, by namespace (`None`: cluster-wide). A
    // namespaced policy applies only to pods of its namespace, so each namespace asks its
    // own and the cluster-wide ones, not every policy of the cluster.
    let mut isolating: BTreeMap<Option<&str>, Vec<&Policy>> = BTreeMap::new();
    for t in cluster.policies.tiers().iter().filter(|t| t.default_action == TierDefault::Deny) {
        for p in &t.policies {
            isolating.entry(p.namespace.as_deref()).or_default().push(p);
        }
    }
    for ns in cluster.namespaces.values().filter(|n| used.contains(n.name.as_str())) {
        let pod = blank_pod(&ns.name);
        let view = cluster.endpoint_view(&pod);
        let isolates = |dir: Direction| {
            [None, Some(ns.name.as_str())]
                .iter()
                .flat_map(|key| isolating.get(key).into_iter().flatten())
                .any(|p| p.rules(dir).is_some() && p.selector.matches(&view))
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

/// Whether a rule matches only endpoints (no address ranges, and no network sets where
/// the cluster has some): its class sets then say exactly which packets its peers match.
fn endpoints_only(cluster: &Cluster, r: &Rule) -> bool {
    let no_sets = cluster.network_sets.is_empty();
    let side = |e: &podwall_ir::Entity| {
        e.peers.iter().all(|p| p.nets.is_empty() && p.not_nets.is_empty() && (no_sets || !p.network_sets))
    };
    side(&r.source) && side(&r.destination) && !(r.source.peers.is_empty() && r.destination.peers.is_empty())
}

/// Whether every packet rule `b` (of the policy at `b_at`) matches, rule `a` (of the
/// policy at `a_at`) matches too, both judged on the index's class sets. `b` must match
/// endpoints only.
fn rule_covers(index: &Index, (a_at, b_at): (Pos, Pos), dir: Direction, a: &Rule, b: &Rule) -> bool {
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
    let (asrc, adst) = index.rule_classes(a_at.0, a_at.1, dir, a.index);
    let (bsrc, bdst) = index.rule_classes(b_at.0, b_at.1, dir, b.index);
    set_covers(asrc, bsrc) && set_covers(adst, bdst)
}

/// A policy's place: (tier index, position in the tier).
type Pos = (usize, usize);

/// The policies of the tier of `at` that come before it and apply, in `dir`, to every
/// endpoint it applies to: any packet one of their rules decides never reaches `at`'s
/// rules. Found from the policies applying to one endpoint the policy selects (`rep`),
/// so only the policies sharing endpoints with it are compared.
fn earlier_covering(index: &Index, at: Pos, dir: Direction, rep: Option<usize>) -> Vec<Pos> {
    let Some(rep) = rep else { return vec![] };

    let mine = index.policy_classes(at.0, at.1);
    index
        .applicable_policies(rep, dir)
        .into_iter()
        .filter(|&(t, p)| t == at.0 && p < at.1)
        .filter(|&(t, p)| set_covers(Some(index.policy_classes(t, p)), Some(mine)))
        .collect()
}

fn policies(cluster: &Cluster, index: &Index, out: &mut Vec<Finding>) {
    let tiers = cluster.policies.tiers();
    // One endpoint of each class, to ask which policies apply to a class.
    let mut rep: Vec<Option<usize>> = vec![None; index.class_count()];
    for id in (0..cluster.endpoints.len()).rev() {
        rep[index.class_of(id)] = Some(id);
    }
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
    let declared = Declared::new(cluster, &rep);
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
                let first = index.policy_classes(ti, pi).iter().next();
                let earlier = earlier_covering(index, (ti, pi), dir, first.and_then(|c| rep[c]));
                rules_of((cluster, index, &declared), ((ti, pi), &earlier), dir, rules, out);
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

/// The findings of each rule of the policy at `at` in `dir`; `earlier` are the policies
/// of its tier that decide first for every endpoint it applies to.
fn rules_of(
    (cluster, index, declared): (&Cluster, &Index, &Declared<'_>),
    (at, earlier): (Pos, &[Pos]),
    dir: Direction,
    rules: &[Rule],
    out: &mut Vec<Finding>,
) {
    let tier = &cluster.policies.tiers()[at.0];
    let p = &tier.policies[at.1];
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
        if r.action != Action::Log && endpoints_only(cluster, r) {
            let decides = |e: &&Rule, from: Pos| e.action != Action::Log && rule_covers(index, (from, at), dir, e, r);
            let own =
                rules[..k].iter().find(|e| decides(e, at)).map(|e| rule_name(dir, e) + &format!(" ({})", e.action));
            let other = || {
                earlier.iter().find_map(|&q| {
                    let policy = &tier.policies[q.1];
                    let found = policy.rules(dir).unwrap_or_default().iter().find(|e| decides(e, q));
                    found.map(|e| {
                        format!(
                            "{} {} ({}), earlier in tier {:?},",
                            policy.display_name(),
                            rule_name(dir, e),
                            e.action,
                            tier.name
                        )
                    })
                })
            };
            if let Some(by) = own.or_else(other) {
                out.push(about_policy(
                    finding(
                        SHADOWED,
                        format!("{} never decides: {by} matches every packet it matches first", rule_name(dir, r)),
                    ),
                    p,
                ));
            }
        }
        named_ports(declared, index, at, dir, r, p, out);
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

/// Which classes declare each port name, and with which protocol: classes share their
/// ports, so a named port is looked up among classes, not among every endpoint.
struct Declared<'a>(HashMap<&'a str, Vec<(Protocol, usize)>>);

impl<'a> Declared<'a> {
    /// From one endpoint of each class (`rep`, by class).
    fn new(cluster: &'a Cluster, rep: &[Option<usize>]) -> Self {
        let mut by_name: HashMap<&'a str, Vec<(Protocol, usize)>> = HashMap::new();
        for (class, id) in rep.iter().enumerate() {
            let Some(id) = *id else { continue };
            for pp in &cluster.endpoints[id].ports {
                if let Some(name) = pp.name.as_deref() {
                    by_name.entry(name).or_default().push((pp.protocol, class));
                }
            }
        }
        Declared(by_name)
    }
}

fn named_ports(
    declared: &Declared<'_>,
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
    let in_reach = |c: usize| {
        let ok = match dir {
            Direction::Ingress => local.contains(c),
            Direction::Egress => true,
        };
        ok && dst.is_none_or(|d| d.contains(c))
    };
    for m in named {
        let Ports::Named(name) = &m.ports else { continue };
        let defined = declared
            .0
            .get(name.as_str())
            .into_iter()
            .flatten()
            .any(|&(protocol, class)| m.protocol.is_none_or(|x| x == protocol) && in_reach(class));
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
