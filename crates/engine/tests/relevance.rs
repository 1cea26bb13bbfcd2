//! `check` types only the objects that can bear on the pair it is asked about
//! (`podwall_dialects::Relevance`): the two ends, the namespaced policies of their
//! namespaces, and every object of other kinds. The verdict, and the rule that decided
//! each direction, must be the same as with the whole cluster loaded.
use podwall_engine::{evaluate, Addr, Decision, DirectionVerdict, Packet};
use podwall_ir::{Cluster, Protocol};

fn compile(values: Vec<serde_json::Value>, keep: Option<&podwall_dialects::Relevance>) -> Cluster {
    let input = match keep {
        None => podwall_load::load_values("generated", values),
        Some(r) => podwall_load::load_values_where("generated", values, &|k| r.keeps(k)),
    }
    .unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// The deciding rule by names, which do not depend on what else was loaded.
fn decider(c: &Cluster, v: &DirectionVerdict) -> String {
    let tiers = c.policies.tiers();
    let policy = |t: usize, p: usize| {
        let p = &tiers[t].policies[p];
        format!("{}/{:?}/{}", tiers[t].name, p.namespace, p.name)
    };
    let named = |r: &podwall_engine::RuleRef| format!("{} rule {} {:?}", policy(r.tier, r.policy), r.rule, r.action);
    let decision = match v.decision {
        Decision::Rule(r) => named(&r),
        Decision::TierDefault(t) => format!("end of tier {}", tiers[t].name),
        other => format!("{other:?}"),
    };
    let applied: Vec<String> = v.applied.iter().map(|&(t, p)| policy(t, p)).collect();
    let logged: Vec<String> = v.logged.iter().map(named).collect();
    let passed: Vec<String> = v.passed.iter().map(named).collect();
    format!("{} by {decision}; applied {applied:?}; logged {logged:?}; passed {passed:?}", v.allowed)
}

fn same_answers(values: Vec<serde_json::Value>, what: &str, pairs_per_cluster: usize) -> usize {
    let full = compile(values.clone(), None);
    let n = full.endpoints.len();
    let mut ports: Vec<(Protocol, u16)> = full.declared_ports();
    ports.extend([(Protocol::TCP, 1), (Protocol::UDP, 53)]);
    let mut checked = 0;
    let step = (n * n / pairs_per_cluster.max(1)).max(1);
    for k in (0..n * n).step_by(step) {
        let (s, d) = (k / n, k % n);
        let (sn, dn) = (&full.endpoints[s].name, &full.endpoints[d].name);
        let r = podwall_dialects::Relevance::between(&[sn, dn]).expect("endpoint names have a known shape");
        let part = compile(values.clone(), Some(&r));
        assert!(part.endpoints.len() <= 2, "{what}: only the two ends are typed");
        let (ps, pd) = (part.endpoint(sn).expect("source kept"), part.endpoint(dn).expect("destination kept"));
        for &(proto, port) in &ports {
            let a = evaluate(&full, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port));
            let b = evaluate(&part, &Packet::new(Addr::Endpoint(ps), Addr::Endpoint(pd), proto, port));
            assert_eq!(a.allowed, b.allowed, "{what}: {sn} -> {dn} {proto}/{port}");
            for (x, y, cx, cy) in [(&a.egress, &b.egress, &full, &part), (&a.ingress, &b.ingress, &full, &part)] {
                assert_eq!(decider(cx, x), decider(cy, y), "{what}: {sn} -> {dn} {proto}/{port}");
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn partial_load_gives_the_same_verdicts_on_small_generated_clusters_of_every_dialect() {
    let mut checked = 0;
    for seed in 0..300 {
        checked += same_answers(podwall_synth::generate_small(seed), &format!("generate_small({seed})"), 40);
        let what = format!("generate_small_mixed({seed})");
        checked += same_answers(podwall_synth::generate_small_mixed(seed), &what, 40);
    }
    assert!(checked > 10_000, "only {checked} verdicts compared");
}

#[test]
fn partial_load_gives_the_same_verdicts_on_a_generated_cluster() {
    let p = podwall_synth::Params {
        pods: 300,
        namespaces: 20,
        policies: 80,
        seed: 3,
        calico_policies: 30,
        admin_policies: 6,
    };
    let checked = same_answers(podwall_synth::generate(&p), "generate(300 pods, Calico, ANP)", 60);
    assert!(checked > 500, "only {checked} verdicts compared");
}

#[test]
fn names_of_other_shapes_are_refused() {
    assert!(podwall_dialects::Relevance::between(&["just-a-name"]).is_none());
    assert!(podwall_dialects::Relevance::between(&["a/b/c/d"]).is_none());
    assert!(podwall_dialects::Relevance::between(&["ns/", "x/y"]).is_none());
}
