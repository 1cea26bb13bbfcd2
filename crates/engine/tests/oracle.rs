//! The set-based matrix and the indexed pair query equal the pair-by-pair reference evaluator on generated
//! clusters (the reference walks tiers per connection and evaluates selectors on
//! labels; the matrix uses equivalence classes and bitsets).
use std::collections::BTreeSet;

use podwall_engine::{evaluate, Addr, Index, Packet};
use podwall_ir::{Cluster, Protocol};

fn compile(values: Vec<serde_json::Value>) -> Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn compare(c: &Cluster, what: &str) -> usize {
    compare_on(c, what, &[(Protocol::TCP, 1), (Protocol::UDP, 53), (Protocol::SCTP, 9000)])
}

/// Compares on every declared port and on `extra` ports.
fn compare_on(c: &Cluster, what: &str, extra: &[(Protocol, u16)]) -> usize {
    let index = Index::new(c);
    let mut ports: BTreeSet<(Protocol, u16)> =
        c.endpoints.iter().flat_map(|e| e.ports.iter().map(|p| (p.protocol, p.port))).collect();
    ports.extend(extra.iter().copied());
    let mut checked = 0;
    for &(proto, port) in &ports {
        let m = index.matrix(proto, Some(port));
        let summary = m.summary();
        for (i, row) in summary.iter().enumerate() {
            let out = (0..c.endpoints.len()).filter(|&d| m.allowed(i, d)).count();
            let inn = (0..c.endpoints.len()).filter(|&s| m.allowed(s, i)).count();
            assert_eq!((row.egress_peers, row.ingress_peers), (out, inn), "{what}: summary of {}", c.endpoints[i].name);
        }
        for s in 0..c.endpoints.len() {
            for d in 0..c.endpoints.len() {
                let pkt = Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port);
                let want = evaluate(c, &pkt).allowed;
                assert_eq!(
                    m.allowed(s, d),
                    want,
                    "{what}: {} -> {} {proto}/{port}: matrix says {}, reference says {want}",
                    c.endpoints[s].name,
                    c.endpoints[d].name,
                    m.allowed(s, d)
                );
                assert_eq!(index.query(s, d, proto, Some(port)), want, "{what}: indexed pair query disagrees");
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn matrix_equals_reference_on_small_generated_clusters() {
    let mut total = 0;
    for seed in 0..400 {
        let c = compile(podwall_synth::generate_small(seed));
        total += compare(&c, &format!("generate_small({seed})"));
    }
    assert!(total > 10_000, "too few pairs compared: {total}");
}

#[test]
fn matrix_equals_reference_on_a_mid_sized_generated_cluster() {
    let p = podwall_synth::Params { pods: 150, namespaces: 8, policies: 40, seed: 7, ..Default::default() };
    let c = compile(podwall_synth::generate(&p));
    assert!(compare(&c, "generate(150 pods)") > 0);
}

/// Remotes the index sorts into one set are judged alike by the reference evaluator,
/// and the index finds the policies that apply where the reference does.
#[test]
fn alike_remotes_get_the_same_verdict_from_the_reference() {
    use podwall_engine::{applicable_policies, evaluate_direction};
    use podwall_ir::Direction;
    let mut sets = 0;
    for seed in 0..150 {
        let c = compile(podwall_synth::generate_small(seed));
        let index = Index::new(&c);
        let mut ports: Vec<(Protocol, u16)> = c.declared_ports();
        ports.push((Protocol::TCP, 1));
        let all: Vec<usize> = (0..c.endpoints.len()).collect();
        for local in 0..c.endpoints.len() {
            for dir in [Direction::Ingress, Direction::Egress] {
                assert_eq!(
                    index.applicable_policies(local, dir),
                    applicable_policies(&c, local, dir),
                    "seed {seed}: policies applying to {} for {dir}",
                    c.endpoints[local].name
                );
                for &(proto, port) in &ports {
                    let cells = index.alike(local, dir, proto, Some(port), &all);
                    let mut first: Vec<Option<podwall_engine::DirectionVerdict>> = vec![None; all.len()];
                    for (&remote, &cell) in all.iter().zip(&cells) {
                        let (s, d) = match dir {
                            Direction::Ingress => (remote, local),
                            Direction::Egress => (local, remote),
                        };
                        let v = evaluate_direction(
                            &c,
                            &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port),
                            dir,
                        );
                        match &first[cell] {
                            None => {
                                first[cell] = Some(v);
                                sets += 1;
                            }
                            Some(w) => assert_eq!(
                                w, &v,
                                "seed {seed}: {} {dir} on {proto}/{port}: {} judged unlike its set",
                                c.endpoints[local].name, c.endpoints[remote].name
                            ),
                        }
                    }
                }
            }
        }
    }
    assert!(sets > 10_000, "too few sets compared: {sets}");
}

/// Ports the mixed clusters are judged on besides the declared ones (http 80/8080,
/// metrics 9090, dns 53/UDP, 5432): a TCP port no pod declares but Calico ranges and
/// ANP numbers cover (443), one nothing mentions (1), DNS over TCP, SCTP, and UDP-Lite
/// (which only protocol-wide rules match).
const MIXED_PORTS: [(Protocol, u16); 6] = [
    (Protocol::TCP, 1),
    (Protocol::TCP, 443),
    (Protocol::TCP, 53),
    (Protocol::UDP, 53),
    (Protocol::SCTP, 9000),
    (Protocol::UDPLITE, 53),
];

/// Compiles a mixed cluster and checks that podwall models all of it: the only warning
/// allowed is the one about AdminNetworkPolicies sharing a priority (upstream leaves
/// their order open; podwall runs them by name).
fn compile_mixed(seed: u64) -> Cluster {
    let c = compile(podwall_synth::generate_small_mixed(seed));
    for w in &c.warnings {
        assert!(w.message.contains("shares priority"), "generate_small_mixed({seed}): unexpected warning: {w}");
    }
    c
}

#[test]
fn matrix_equals_reference_on_small_mixed_clusters() {
    let mut total = 0;
    let mut tiers = 0;
    for seed in 0..500 {
        let c = compile_mixed(seed);
        tiers += c.policies.tiers().iter().filter(|t| !t.policies.is_empty()).count();
        total += compare_on(&c, &format!("generate_small_mixed({seed})"), &MIXED_PORTS);
    }
    assert!(total > 10_000, "too few pairs compared: {total}");
    assert!(tiers > 1000, "too few tiers in use: {tiers}");
}

/// The benchmark generator's Calico and AdminNetworkPolicy shapes: podwall reads all of
/// them without a warning, and the evaluators agree on them.
#[test]
fn matrix_equals_reference_on_a_mid_sized_cluster_with_calico_and_admin_policies() {
    let p = podwall_synth::Params {
        pods: 90,
        namespaces: 7,
        policies: 20,
        calico_policies: 30,
        admin_policies: 8,
        seed: 11,
    };
    let c = compile(podwall_synth::generate(&p));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let tiers: Vec<&str> =
        c.policies.tiers().iter().filter(|t| !t.policies.is_empty()).map(|t| t.name.as_str()).collect();
    assert_eq!(tiers, ["security", "platform", "adminnetworkpolicy", "default", "baselineadminnetworkpolicy"]);
    assert!(compare_on(&c, "generate(90 pods, Calico, ANP)", &MIXED_PORTS) > 0);
}

/// `Index::select` answers what the reference reads: an endpoint is picked when the
/// selector matches its label view and it is not a host-network pod (a policy never
/// selects one, and a pod selector never admits one as a peer). Every selector of the
/// generated policies is asked, subjects and peers, in policy order so that the
/// cache is exercised as the nftables compiler exercises it.
#[test]
fn selector_resolution_equals_the_label_reading_of_the_reference() {
    use podwall_ir::Expr;
    let mut asked = 0;
    let mut picked = 0;
    let mut hosts = 0;
    let mut in_sets = 0;
    for seed in 0..200 {
        let mut c = compile(podwall_synth::generate_small_mixed(seed));
        // More pods on the host's network, which no selector picks.
        for ep in c.endpoints.iter_mut().skip(seed as usize % 3).step_by(3) {
            ep.host_network = true;
        }
        hosts += c.endpoints.iter().filter(|e| e.host_network).count();
        let mut index = Index::new(&c);
        let mut sels: Vec<Expr> = vec![Expr::All, Expr::Not(Box::new(Expr::All))];
        for tier in c.policies.tiers() {
            for p in &tier.policies {
                sels.push(p.selector.clone());
                for r in p.ingress.iter().chain(&p.egress).flatten() {
                    for peer in r.source.peers.iter().chain(&r.destination.peers) {
                        sels.extend(peer.selector.iter().chain(&peer.not_selector).cloned());
                    }
                }
            }
        }
        for sel in sels.iter().chain(&sels) {
            let want: Vec<usize> = (0..c.endpoints.len())
                .filter(|&id| !c.endpoints[id].host_network && sel.matches(&c.view(id)))
                .collect();
            assert_eq!(index.select(sel), want, "seed {seed}: endpoints of {sel:?}");
            let sets: Vec<usize> = (0..c.network_sets.len()).filter(|&i| sel.matches(&c.network_set_view(i))).collect();
            assert_eq!(index.select_network_sets(sel), sets, "seed {seed}: network sets of {sel:?}");
            asked += 1;
            picked += want.len();
            in_sets += sets.len();
        }
    }
    assert!(
        asked > 1_000 && picked > 1_000 && hosts > 100 && in_sets > 100,
        "too little compared: {asked} selectors, {picked} endpoints, {hosts} on the host network, {in_sets} network sets"
    );
}

/// `Index::summaries` over many ports at once gives, per port, what that port's own
/// matrix gives, and the counts the reference evaluator gives pair by pair.
fn summaries_agree(c: &Cluster, what: &str, reference: bool) -> usize {
    let index = Index::new(c);
    let mut ports: BTreeSet<(Protocol, u16)> = c.declared_ports().into_iter().collect();
    ports.extend([(Protocol::TCP, 1), (Protocol::TCP, 443), (Protocol::UDP, 53), (Protocol::SCTP, 9000)]);
    let ports: Vec<(Protocol, Option<u16>)> = ports.into_iter().map(|(pr, po)| (pr, Some(po))).collect();
    let all = index.summaries(&ports);
    assert_eq!(all.len(), ports.len());
    let n = c.endpoints.len();
    for (&(proto, port), sums) in ports.iter().zip(&all) {
        assert!(*sums == index.matrix(proto, port).summary(), "{what}: {proto}/{port:?} differs from its matrix");
        if !reference {
            continue;
        }
        let port = port.expect("a port");
        let allowed =
            |s: usize, d: usize| evaluate(c, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port)).allowed;
        for (i, row) in sums.iter().enumerate() {
            let out = (0..n).filter(|&d| allowed(i, d)).count();
            let inn = (0..n).filter(|&s| allowed(s, i)).count();
            assert_eq!(
                (row.egress_peers, row.ingress_peers),
                (out, inn),
                "{what}: {} on {proto}/{port}",
                c.endpoints[i].name
            );
        }
    }
    ports.len()
}

#[test]
fn summaries_of_many_ports_equal_each_ports_matrix_and_the_reference() {
    let mut ports = 0;
    for seed in 0..120 {
        ports += summaries_agree(&compile(podwall_synth::generate_small(seed)), &format!("small({seed})"), true);
        let c = compile(podwall_synth::generate_small_mixed(seed));
        ports += summaries_agree(&c, &format!("small mixed({seed})"), true);
    }
    assert!(ports > 1000, "only {ports} ports compared");
    // Bench-shaped: Calico tiers, AdminNetworkPolicies, named ports, many declared ports.
    let p = podwall_synth::Params {
        pods: 400,
        namespaces: 12,
        policies: 60,
        calico_policies: 40,
        admin_policies: 6,
        seed: 3,
    };
    assert!(summaries_agree(&compile(podwall_synth::generate(&p)), "generate(400 pods)", false) >= 10);
}
