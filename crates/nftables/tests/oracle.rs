//! The compiled ruleset, run as the kernel runs it (`Ruleset::trace`), decides every
//! connection of generated clusters as the reference evaluator does: the verdict, the
//! deciding rule of each direction, and the Log rules that fire.
use std::collections::BTreeSet;
use std::net::IpAddr;

use podwall_engine::{evaluate, Addr, Decision, DirectionVerdict, Packet};
use podwall_ir::{Cluster, Direction, Protocol};
use podwall_nftables::{compile, default_attachments, Action, Options, Origin, Probe, Ruleset, Step};

fn compile_values(values: Vec<serde_json::Value>) -> Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

const EXTRA_PORTS: [(Protocol, u16); 6] = [
    (Protocol::TCP, 1),
    (Protocol::TCP, 443),
    (Protocol::TCP, 53),
    (Protocol::UDP, 53),
    (Protocol::SCTP, 9000),
    (Protocol::UDP, 5353),
];

/// One end of a probe: the model's address, the probe's address and interface.
struct End {
    addr: Addr,
    ip: IpAddr,
    interface: Option<String>,
}

/// Every endpoint with an address (its primary one: the model asks in that family), and
/// addresses outside the cluster: the edges of every range the policies and network sets
/// mention, and documentation addresses.
fn ends(c: &Cluster, r: &Ruleset) -> Vec<End> {
    let mut out = Vec::new();
    for (id, e) in c.endpoints.iter().enumerate() {
        if let Some(ip) = e.ip {
            let interface = r.dispatch(id).map(|d| d.interface.clone());
            out.push(End { addr: Addr::Endpoint(id), ip, interface });
        }
    }
    let mut outside: BTreeSet<IpAddr> = BTreeSet::new();
    outside.insert("203.0.113.9".parse().unwrap());
    outside.insert("2001:db8::9".parse().unwrap());
    let mut nets: Vec<ipnet::IpNet> = c.network_sets.iter().flat_map(|s| s.nets.iter().copied()).collect();
    for (_, p) in c.policies.policies() {
        for rules in [&p.ingress, &p.egress].into_iter().flatten() {
            for rule in rules {
                for peer in rule.source.peers.iter().chain(&rule.destination.peers) {
                    nets.extend(peer.nets.iter().chain(&peer.not_nets).copied());
                }
            }
        }
    }
    for n in nets {
        outside.insert(n.network());
        outside.insert(n.broadcast());
    }
    for ip in outside {
        if c.endpoints.iter().all(|e| e.ip != Some(ip) && !e.addresses.contains(&ip)) {
            out.push(End { addr: Addr::Ip(ip), ip, interface: None });
        }
    }
    out
}

/// What a probe carries: protocol, destination port, ICMP type and code.
type Kind = (Protocol, Option<u16>, Option<(u8, u8)>);

fn origin_of(d: &Decision) -> Option<Origin> {
    match d {
        Decision::Rule(r) => Some(Origin { tier: r.tier, policy: Some(r.policy), rule: r.rule }),
        Decision::TierDefault(t) => Some(Origin { tier: *t, policy: None, rule: 0 }),
        _ => None,
    }
}

/// Whether the chains of one direction ended as the evaluator decided it.
fn same_direction(model: &DirectionVerdict, step: &Option<Step>) -> Result<(), String> {
    let allow = match model.direction {
        Direction::Egress => Action::Return,
        Direction::Ingress => Action::Accept,
    };
    match (&model.decision, step) {
        (Decision::NotAnEndpoint | Decision::NoPolicy, None) => Ok(()),
        (Decision::Passed, Some(s)) if s.verdict == allow || s.verdict == Action::Return => Ok(()),
        (d @ (Decision::Rule(_) | Decision::TierDefault(_)), Some(s)) => {
            let verdict_ok = if model.allowed { s.verdict == allow } else { s.verdict == Action::Drop };
            if verdict_ok && s.origin == origin_of(d) {
                Ok(())
            } else {
                Err(format!("model {d:?} (allowed {}), ruleset {s:?}", model.allowed))
            }
        }
        (d, s) => Err(format!("model {d:?} (allowed {}), ruleset {s:?}", model.allowed)),
    }
}

fn compare(c: &Cluster, what: &str) -> usize {
    let r = compile(c, &default_attachments(c), &Options::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let ends = ends(c, &r);
    let mut ports: BTreeSet<(Protocol, u16)> =
        c.endpoints.iter().flat_map(|e| e.ports.iter().map(|p| (p.protocol, p.port))).collect();
    ports.extend(EXTRA_PORTS);
    let mut probes: Vec<Kind> = ports.iter().map(|&(p, port)| (p, Some(port), None)).collect();
    probes.push((Protocol::ICMP, None, Some((8, 0))));
    probes.push((Protocol::ICMPV6, None, Some((128, 0))));
    let mut checked = 0;
    for s in &ends {
        for d in &ends {
            let both_outside = matches!((s.addr, d.addr), (Addr::Ip(_), Addr::Ip(_)));
            if s.ip == d.ip || s.ip.is_ipv4() != d.ip.is_ipv4() || both_outside {
                continue;
            }
            for &(protocol, port, icmp) in &probes {
                let pkt = Packet { src: s.addr, dst: d.addr, protocol, port, icmp, http: None };
                let model = evaluate(c, &pkt);
                let probe = Probe {
                    iif: s.interface.clone(),
                    oif: d.interface.clone(),
                    src: s.ip,
                    dst: d.ip,
                    protocol: protocol.0,
                    port,
                    icmp,
                };
                let t = r.trace(&probe);
                let name = |a: Addr| a.display(c);
                let case = format!("{what}: {} → {} {protocol}/{port:?} {icmp:?}", name(s.addr), name(d.addr));
                assert!(!t.spoofed, "{case}: spoofed");
                assert_eq!(t.accepted, model.allowed, "{case}: model {model:#?}\nruleset {t:#?}");
                if let Err(e) = same_direction(&model.egress, &t.egress) {
                    panic!("{case}: egress: {e}");
                }
                let mut logged: Vec<Origin> = model
                    .egress
                    .logged
                    .iter()
                    .map(|l| Origin { tier: l.tier, policy: Some(l.policy), rule: l.rule })
                    .collect();
                if model.egress.allowed {
                    if let Err(e) = same_direction(&model.ingress, &t.ingress) {
                        panic!("{case}: ingress: {e}");
                    }
                    logged.extend(model.ingress.logged.iter().map(|l| Origin {
                        tier: l.tier,
                        policy: Some(l.policy),
                        rule: l.rule,
                    }));
                }
                assert_eq!(t.logged, logged, "{case}: Log rules");
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn ruleset_decides_like_the_reference_on_small_kubernetes_clusters() {
    let mut total = 0;
    for seed in 0..200 {
        total += compare(&compile_values(podwall_synth::generate_small(seed)), &format!("generate_small({seed})"));
    }
    eprintln!("{total} probes agree");
    assert!(total > 10_000, "{total} probes");
}

#[test]
fn ruleset_decides_like_the_reference_on_small_clusters_of_every_dialect() {
    let mut total = 0;
    for seed in 0..200 {
        let c = compile_values(podwall_synth::generate_small_mixed(seed));
        total += compare(&c, &format!("generate_small_mixed({seed})"));
    }
    eprintln!("{total} probes agree");
    assert!(total > 10_000, "{total} probes");
}
