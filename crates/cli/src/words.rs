//! Decisions, policies and rules in words (and in JSON).
use podwall_engine::{Decision, DirectionVerdict, RuleRef, Why};
use podwall_ir::{Cluster, Direction, Entity, PathMatch, Policy, Rule, TierDefault};

use crate::output::{AppliedPolicyOut, DirectionOut, PolicyOut, RuleOut};

fn join_peers(e: &Entity) -> String {
    e.peers.iter().map(|p| p.describe.as_str()).collect::<Vec<_>>().join(" or ")
}

/// A rule's match in words, e.g. `from pods app=web in namespace shop, ports TCP/80`.
pub fn rule_match(rule: &Rule, dir: Direction) -> String {
    let mut parts = Vec::new();
    if let Some(p) = rule.protocol {
        parts.push(format!("protocol {p}"));
    }
    if let Some(p) = rule.not_protocol {
        parts.push(format!("protocol not {p}"));
    }
    if let Some(i) = rule.icmp {
        parts.push(match i.code {
            Some(c) => format!("ICMP type {} code {c}", i.kind),
            None => format!("ICMP type {}", i.kind),
        });
    }
    if let Some(v) = rule.ip_version {
        parts.push(format!("IP{v:?}").to_lowercase().replace("ipv", "IPv"));
    }
    // Name the remote side first: that is what people read a rule for.
    let (remote, local, remote_word, local_word) = match dir {
        Direction::Ingress => (&rule.source, &rule.destination, "from", "to this pod when"),
        Direction::Egress => (&rule.destination, &rule.source, "to", "from this pod when"),
    };
    if !remote.peers.is_empty() {
        parts.push(format!("{remote_word} {}", join_peers(remote)));
    }
    if !local.peers.is_empty() {
        parts.push(format!("{local_word} {}", join_peers(local)));
    }
    if !rule.destination.ports.is_empty() {
        let ports: Vec<String> = rule.destination.ports.iter().map(|p| p.to_string()).collect();
        parts.push(format!("ports {}", ports.join(", ")));
    }
    if !rule.destination.not_ports.is_empty() {
        let ports: Vec<String> = rule.destination.not_ports.iter().map(|p| p.to_string()).collect();
        parts.push(format!("ports not {}", ports.join(", ")));
    }
    if rule.source_ports {
        parts.push("source ports (never matches a new connection)".into());
    }
    if let Some(h) = &rule.http {
        let mut s = String::from("HTTP");
        if !h.methods.is_empty() {
            s += &format!(" {}", h.methods.join("|"));
        }
        if !h.paths.is_empty() {
            let paths: Vec<String> = h
                .paths
                .iter()
                .map(|p| match p {
                    PathMatch::Exact(x) => x.clone(),
                    PathMatch::Prefix(x) => format!("{x}*"),
                })
                .collect();
            s += &format!(" {}", paths.join(" "));
        }
        parts.push(s);
    }
    if parts.is_empty() {
        match dir {
            Direction::Ingress => "from anywhere, any port".into(),
            Direction::Egress => "to anywhere, any port".into(),
        }
    } else {
        parts.join(", ")
    }
}

/// The policy a rule reference points at.
pub fn policy<'c>(cluster: &'c Cluster, r: &RuleRef) -> &'c Policy {
    &cluster.policies.tiers()[r.tier].policies[r.policy]
}

fn find_rule<'c>(cluster: &'c Cluster, r: &RuleRef, dir: Direction) -> Option<&'c Rule> {
    policy(cluster, r).rules(dir).and_then(|rs| rs.iter().find(|x| x.index == r.rule))
}

/// `NetworkPolicy shop/allow-web rule 2 (Allow: from ..., ports ...)`; a rule with a
/// name of its own is `rule 2 "deny-db"`.
pub fn rule_ref(cluster: &Cluster, r: &RuleRef, dir: Direction) -> String {
    let p = policy(cluster, r);
    let rule = find_rule(cluster, r, dir);
    let what = rule.map(|x| rule_match(x, dir)).unwrap_or_default();
    let name = rule.and_then(|x| x.name.as_deref()).map(|n| format!(" {n:?}")).unwrap_or_default();
    format!("{} {dir} rule {}{name} ({}: {what})", p.display_name(), r.rule + 1, r.action)
}

fn tier_words(cluster: &Cluster, ti: usize) -> String {
    let t = &cluster.policies.tiers()[ti];
    match t.order {
        Some(o) => format!("tier {:?} (order {o})", t.name),
        None => format!("tier {:?}", t.name),
    }
}

/// A reason, with the places where it names the local end of the direction: given
/// the name only when it is rendered, so one reason can stand for many endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reason(Vec<Part>);

/// A piece of a [`Reason`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Text(String),
    /// The local end's name.
    Local,
}

impl Reason {
    fn text(s: impl Into<String>) -> Self {
        Reason(vec![Part::Text(s.into())])
    }

    /// `local` + `rest`.
    fn about_local(rest: impl Into<String>) -> Self {
        Reason(vec![Part::Local, Part::Text(rest.into())])
    }

    /// The reason, naming the local end `local`.
    pub fn render(&self, local: &str) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Local => local,
            })
            .collect()
    }
}

/// Why a direction ended as it did, in one sentence.
pub fn reason(cluster: &Cluster, v: &DirectionVerdict, local: &str) -> String {
    reason_of(cluster, v).render(local)
}

/// Why a direction ended as it did, the local end left to name.
pub fn reason_of(cluster: &Cluster, v: &DirectionVerdict) -> Reason {
    let dir = v.direction;
    let names = |policies: &[(usize, usize)]| -> String {
        let names: Vec<String> =
            policies.iter().map(|&(t, p)| cluster.policies.tiers()[t].policies[p].display_name()).collect();
        names.join(", ")
    };
    match v.why(cluster) {
        Why::NotAnEndpoint => {
            Reason::about_local(format!(" is not a policy endpoint: nothing is enforced on its {dir}"))
        }
        Why::NoPolicy => Reason(vec![
            Part::Text("no policy selects ".into()),
            Part::Local,
            Part::Text(format!(" for {dir}: not isolated, everything is allowed")),
        ]),
        Why::Passed => Reason::text("every tier that applies passed it on: the namespace profile allows"),
        Why::OwnTraffic => Reason::about_local(" talking to itself: a pod cannot block access to itself"),
        Why::Rule(r) => Reason::text(format!("{}: {}", tier_words(cluster, r.tier), rule_ref(cluster, &r, dir))),
        Why::Isolated { policies, .. } => Reason::about_local(format!(
            " is isolated for {dir} by {} and no rule admits this connection",
            names(&policies)
        )),
        Why::TierEnd { tier, policies, default } => {
            let d = match default {
                TierDefault::Deny => "Deny",
                TierDefault::Pass => "Pass",
            };
            Reason::text(format!(
                "end of {}: no rule of {} matched (default action {d})",
                tier_words(cluster, tier),
                names(&policies)
            ))
        }
    }
}

fn policy_out(p: &Policy) -> PolicyOut {
    PolicyOut { kind: p.kind.to_string(), name: p.name.clone(), namespace: p.namespace.clone() }
}

fn rule_out(cluster: &Cluster, r: &RuleRef, dir: Direction) -> RuleOut {
    RuleOut {
        action: r.action.to_string(),
        name: find_rule(cluster, r, dir).and_then(|x| x.name.clone()),
        policy: policy_out(policy(cluster, r)),
        rule: r.rule + 1,
        tier: cluster.policies.tiers()[r.tier].name.clone(),
    }
}

/// One direction as JSON, the local end named `local`.
pub fn direction_out(cluster: &Cluster, v: &DirectionVerdict, local: &str) -> DirectionOut<String> {
    direction_of(cluster, v).map_reason(|r| r.render(local))
}

/// One direction as JSON, the local end left to name.
pub fn direction_of(cluster: &Cluster, v: &DirectionVerdict) -> DirectionOut<Reason> {
    let decision = match v.decision {
        Decision::NotAnEndpoint => "not-an-endpoint",
        Decision::NoPolicy => "no-policy",
        Decision::Passed => "passed",
        Decision::OwnTraffic => "own-traffic",
        Decision::Rule(_) => "rule",
        Decision::TierDefault(_) => "tier-default",
    };
    let rules = |list: &[RuleRef]| -> Vec<RuleOut> { list.iter().map(|r| rule_out(cluster, r, v.direction)).collect() };
    let tiers = cluster.policies.tiers();
    DirectionOut {
        allowed: v.allowed,
        decision,
        logged: rules(&v.logged),
        passed: rules(&v.passed),
        policies: v
            .applied
            .iter()
            .map(|&(t, p)| {
                let PolicyOut { kind, name, namespace } = policy_out(&tiers[t].policies[p]);
                AppliedPolicyOut { kind, name, namespace, tier: tiers[t].name.clone() }
            })
            .collect(),
        reason: reason_of(cluster, v),
        rule: match v.decision {
            Decision::Rule(r) => Some(rule_out(cluster, &r, v.direction)),
            _ => None,
        },
        tier: match v.decision {
            Decision::TierDefault(t) => Some(tiers[t].name.clone()),
            _ => None,
        },
        unchecked_http: rules(&v.unchecked_http),
    }
}

/// What an answer about `src → dst` leaves out or cannot see, in words: policies podwall
/// does not evaluate that could select either end, and ends without an address, which
/// no ipBlock (CIDR) rule can match.
pub fn caveats(cluster: &podwall_ir::Cluster, src: podwall_engine::Addr, dst: podwall_engine::Addr) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for end in [src, dst] {
        let Some(id) = end.policy_endpoint(cluster) else { continue };
        let name = &cluster.endpoints[id].name;
        for u in cluster.unevaluated_for(id) {
            if seen.insert((&u.object, name)) {
                out.push(format!(
                    "{} may select {name}; podwall does not evaluate it and this answer leaves it out",
                    u.object
                ));
            }
        }
    }
    for end in [src, dst] {
        if let podwall_engine::Addr::Endpoint(id) = end {
            let ep = &cluster.endpoints[id];
            let note = format!(
                "{} has no address (a workload template): ipBlock rules never match it, whatever addresses its pods get",
                ep.name
            );
            if ep.ip.is_none() && !out.contains(&note) && cluster.policies.policies().any(|(_, p)| has_nets(p)) {
                out.push(note);
            }
        }
    }
    out
}

/// Whether some rule of `policy` matches on address ranges.
fn has_nets(policy: &podwall_ir::Policy) -> bool {
    let rules = policy.ingress.iter().chain(&policy.egress).flatten();
    rules
        .flat_map(|r| r.source.peers.iter().chain(&r.destination.peers))
        .any(|p| !p.nets.is_empty() || !p.not_nets.is_empty())
}
