//! Policy changes applied in place give the same answers as evaluating the changed
//! cluster from scratch (reference evaluator) — verdicts and per-endpoint counts.
use std::sync::Arc;

use podwall_engine::{evaluate, Addr, Live, Packet};
use podwall_ir::{Cluster, Policy, Protocol, DEFAULT_TIER};

fn compile(values: Vec<serde_json::Value>) -> Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn ports(c: &Cluster) -> Vec<(Protocol, u16)> {
    let mut p: Vec<(Protocol, u16)> =
        c.endpoints.iter().flat_map(|e| e.ports.iter().map(|p| (p.protocol, p.port))).collect();
    p.push((Protocol::TCP, 1));
    p.sort();
    p.dedup();
    p
}

fn check(live: &Live, ports: &[(Protocol, u16)], what: &str) {
    let c = live.index().cluster();
    let n = c.endpoints.len();
    for &(proto, port) in ports {
        let summary = live.summary(proto, Some(port)).expect("watched");
        for (s, row) in summary.iter().enumerate() {
            let mut out = 0;
            for d in 0..n {
                let want = evaluate(c, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port)).allowed;
                assert_eq!(
                    live.allowed(s, d, proto, Some(port)),
                    want,
                    "{what}: {} -> {} {proto}/{port}",
                    c.endpoints[s].name,
                    c.endpoints[d].name
                );
                assert_eq!(live.index().query(s, d, proto, Some(port)), want, "{what}: pair query");
                out += want as usize;
            }
            let inn = (0..n)
                .filter(|&x| evaluate(c, &Packet::new(Addr::Endpoint(x), Addr::Endpoint(s), proto, port)).allowed)
                .count();
            assert_eq!(
                (row.egress_peers, row.ingress_peers),
                (out, inn),
                "{what}: counts of {} on {proto}/{port}",
                c.endpoints[s].name
            );
        }
    }
}

fn policies(c: &Cluster) -> Vec<Policy> {
    c.policies.policies().map(|(_, p)| p.clone()).collect()
}

#[test]
fn policy_changes_in_place_equal_a_fresh_evaluation() {
    let mut changes = 0;
    for seed in 0..120u64 {
        let cluster = compile(podwall_synth::generate_small(seed));
        let ports = ports(&cluster);
        let mut live = Live::new(Arc::new(cluster));
        for &(pr, po) in &ports {
            live.watch(pr, Some(po));
        }
        let ps = policies(live.index().cluster());
        if ps.is_empty() {
            continue;
        }
        // Remove one policy.
        let victim = &ps[seed as usize % ps.len()];
        let u = live.remove_policy(victim.kind, victim.namespace.as_deref(), &victim.name).expect("exists");
        assert!(u.rebuilt.is_none());
        check(&live, &ports, &format!("seed {seed}: removed {}", victim.name));
        // Put it back.
        live.upsert_policy(DEFAULT_TIER, victim.clone()).expect("tier exists");
        check(&live, &ports, &format!("seed {seed}: re-added {}", victim.name));
        // Add a copy of another policy under a new name, in another namespace's clothes.
        let mut copy = ps[(seed as usize / 2) % ps.len()].clone();
        copy.name = format!("{}-copy", copy.name);
        live.upsert_policy(DEFAULT_TIER, copy.clone()).expect("tier exists");
        check(&live, &ports, &format!("seed {seed}: added {}", copy.name));
        // Replace a policy with one that admits nothing in either direction it governs.
        let mut emptied = ps[(seed as usize / 3) % ps.len()].clone();
        emptied.ingress = emptied.ingress.map(|_| vec![]);
        emptied.egress = emptied.egress.map(|_| vec![]);
        live.upsert_policy(DEFAULT_TIER, emptied.clone()).expect("tier exists");
        check(&live, &ports, &format!("seed {seed}: emptied {}", emptied.name));
        changes += 4;
    }
    assert!(changes > 200, "too few changes exercised: {changes}");
}

#[test]
fn a_range_that_splits_a_class_rebuilds_and_says_so() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: n, labels: {app: x}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: n, labels: {app: x}}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: split, namespace: n}
spec:
  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.1/32}
"#;
    let full = podwall_dialects::compile(&podwall_load::load_str("t.yaml", yaml).expect("loads")).expect("compiles");
    let policy = full.policies.policies().next().map(|(_, p)| p.clone()).expect("one policy");
    let mut bare = full.clone();
    bare.policies = podwall_ir::PolicySet::new(vec![podwall_ir::Tier {
        name: DEFAULT_TIER.into(),
        order: Some(podwall_ir::DEFAULT_TIER_ORDER),
        default_action: podwall_ir::TierDefault::Deny,
        policies: vec![],
    }]);
    let mut live = Live::new(Arc::new(bare));
    live.watch(Protocol::TCP, Some(80));
    assert_eq!(live.index().class_count(), 1, "a and b look alike before the range");
    let u = live.upsert_policy(DEFAULT_TIER, policy).expect("tier exists");
    assert!(u.rebuilt.as_deref().is_some_and(|w| w.contains("10.0.0.1/32")), "{u:?}");
    assert_eq!(live.index().class_count(), 2);
    check(&live, &[(Protocol::TCP, 80)], "after the split");
}

#[test]
fn pods_added_and_removed_in_place_equal_a_fresh_evaluation() {
    let mut in_place = 0;
    for seed in 0..120u64 {
        let cluster = compile(podwall_synth::generate_small(seed));
        let ports = ports(&cluster);
        let mut live = Live::new(Arc::new(cluster));
        for &(pr, po) in &ports {
            live.watch(pr, Some(po));
        }
        let eps = live.index().cluster().endpoints.clone();
        // A new replica of an existing pod, with a fresh address.
        let mut replica = eps[seed as usize % eps.len()].clone();
        replica.name = format!("{}-replica", replica.name);
        replica.ip = Some(std::net::IpAddr::from([10, 250, (seed % 200) as u8, 7]));
        let u = live.upsert_endpoint(replica.clone());
        in_place += u.rebuilt.is_none() as usize;
        check(&live, &ports, &format!("seed {seed}: added {}", replica.name));
        // The original goes away.
        let gone = &eps[seed as usize % eps.len()];
        live.remove_endpoint(&gone.name).expect("exists");
        check(&live, &ports, &format!("seed {seed}: removed {}", gone.name));
        // Its replica goes too (the class may now be empty), and a pod like it comes back:
        // it rejoins its class in place.
        live.remove_endpoint(&replica.name).expect("exists");
        let mut back = gone.clone();
        back.name = format!("{}-back", gone.name);
        let u = live.upsert_endpoint(back);
        assert!(u.rebuilt.is_none(), "seed {seed}: a pod like a removed one rejoins its class: {u:?}");
        check(&live, &ports, &format!("seed {seed}: rolled {}", gone.name));
        // A pod unlike any other.
        let mut odd = eps[(seed as usize + 1) % eps.len()].clone();
        odd.name = format!("{}/odd", odd.namespace);
        odd.labels.insert("only-here".into(), "yes".into());
        odd.ip = Some(std::net::IpAddr::from([10, 251, (seed % 200) as u8, 9]));
        let u = live.upsert_endpoint(odd);
        assert!(u.rebuilt.is_none(), "seed {seed}: a new kind of pod gets a class in place: {u:?}");
        check(&live, &ports, &format!("seed {seed}: added an odd pod"));
        // A namespace relabelled.
        let mut ns = live.index().cluster().namespaces.values().next().cloned().expect("a namespace");
        ns.labels.insert("team".into(), "relabelled".into());
        live.upsert_namespace(ns);
        check(&live, &ports, &format!("seed {seed}: relabelled a namespace"));
    }
    assert!(in_place > 50, "replicas should mostly join their class in place: {in_place}");
}

/// A tiny deterministic generator, so that each seed replays the same changes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[test]
fn relabelled_pods_and_namespaces_in_place_equal_a_fresh_evaluation() {
    // Labels from the small generator's vocabulary, so that selectors start or stop
    // matching; every change must be applied without a rebuild.
    let pod_labels = [("app", &["a", "b", "c"][..]), ("tier", &["fe", "be"]), ("version", &["v1", "v2"])];
    let ns_labels = [("team", &["red", "blue"][..]), ("env", &["prod", "dev"])];
    let mut changes = 0;
    for seed in 0..150u64 {
        let cluster = compile(podwall_synth::generate_small(seed));
        let ports = ports(&cluster);
        let policies = policies(&cluster);
        // Policies of another cluster over the same vocabulary: new selectors, resolved
        // through the label indexes (emptied classes included).
        let strangers = self::policies(&compile(podwall_synth::generate_small(seed + 10_000)));
        let mut live = Live::new(Arc::new(cluster));
        for &(pr, po) in &ports {
            live.watch(pr, Some(po));
        }
        let mut rng = Rng(seed);
        for step in 0..10 {
            let c = live.index().cluster();
            let what = match rng.below(7) {
                6 => {
                    if strangers.is_empty() {
                        continue;
                    }
                    let mut p = strangers[rng.below(strangers.len())].clone();
                    p.name = format!("{}-stranger-{step}", p.name);
                    let u = live.upsert_policy(DEFAULT_TIER, p).expect("tier exists");
                    assert!(u.rebuilt.is_none() || u.rebuilt.as_deref().is_some_and(|w| w.contains("splits")));
                    "a policy of another cluster".to_string()
                }
                0 | 1 => {
                    // A pod's labels change: it leaves its class, for another or a new one.
                    let mut ep = c.endpoints[rng.below(c.endpoints.len())].clone();
                    let (key, values) = pod_labels[rng.below(pod_labels.len())];
                    match rng.below(values.len() + 1) {
                        0 => ep.labels.remove(key),
                        i => ep.labels.insert(key.into(), values[i - 1].into()),
                    };
                    let name = ep.name.clone();
                    let u = live.upsert_endpoint(ep);
                    assert!(u.rebuilt.is_none(), "seed {seed}: {u:?}");
                    format!("relabelled pod {name}")
                }
                2 => {
                    // A namespace's labels change (sometimes a namespace no pod is in yet).
                    let names: Vec<String> = c.namespaces.keys().cloned().collect();
                    let mut ns = c.namespaces[&names[rng.below(names.len())]].clone();
                    let (key, values) = ns_labels[rng.below(ns_labels.len())];
                    match rng.below(values.len() + 1) {
                        0 => ns.labels.remove(key),
                        i => ns.labels.insert(key.into(), values[i - 1].into()),
                    };
                    let name = ns.name.clone();
                    let u = live.upsert_namespace(ns);
                    assert!(u.rebuilt.is_none(), "seed {seed}: {u:?}");
                    format!("relabelled namespace {name}")
                }
                3 => {
                    // A pod in a namespace the cluster did not have.
                    let mut ep = c.endpoints[rng.below(c.endpoints.len())].clone();
                    ep.namespace = format!("new-{step}");
                    ep.name = format!("new-{step}/p{step}");
                    ep.ip = Some(std::net::IpAddr::from([10, 1, 0, 200 + step as u8]));
                    let u = live.upsert_endpoint(ep);
                    assert!(u.rebuilt.is_none(), "seed {seed}: {u:?}");
                    format!("pod in new namespace new-{step}")
                }
                _ => {
                    // A policy comes after the changes, resolved over the changed classes
                    // from the caches: a copy of an existing one that denies what the
                    // original allows, ahead of it, so any stale cached bit shows.
                    if policies.is_empty() {
                        continue;
                    }
                    let mut p = policies[rng.below(policies.len())].clone();
                    p.name = format!("{}-again-{step}", p.name);
                    p.order = Some(1.0);
                    for r in p.ingress.iter_mut().chain(p.egress.iter_mut()).flatten() {
                        r.action = podwall_ir::Action::Deny;
                    }
                    let u = live.upsert_policy(DEFAULT_TIER, p).expect("tier exists");
                    assert!(u.rebuilt.is_none() || u.rebuilt.as_deref().is_some_and(|w| w.contains("splits")));
                    "a policy copied as a Deny in front".to_string()
                }
            };
            changes += 1;
            check(&live, &ports, &format!("seed {seed} step {step}: {what}"));
        }
    }
    assert!(changes > 1000, "only {changes} changes");
}

#[test]
fn a_pod_rejoining_an_emptied_class_is_selected_by_policies_added_meanwhile() {
    // An emptied class keeps its last pod's labels (as a ghost) so that a pod like it can
    // rejoin; selectors first resolved while the class is empty must read those labels.
    let mut rejoined = 0;
    for seed in 0..80u64 {
        let cluster = compile(podwall_synth::generate_small(seed));
        let ports = ports(&cluster);
        let strangers = policies(&compile(podwall_synth::generate_small(seed + 20_000)));
        let mut live = Live::new(Arc::new(cluster));
        for &(pr, po) in &ports {
            live.watch(pr, Some(po));
        }
        let eps = live.index().cluster().endpoints.clone();
        for gone in &eps {
            live.remove_endpoint(&gone.name).expect("exists");
        }
        for (i, mut p) in strangers.into_iter().enumerate() {
            p.name = format!("{}-stranger-{i}", p.name);
            live.upsert_policy(DEFAULT_TIER, p).expect("tier exists");
        }
        for ep in eps {
            let u = live.upsert_endpoint(ep);
            rejoined += (u.rebuilt.is_none() && u.classes == 1) as usize;
        }
        check(&live, &ports, &format!("seed {seed}: every pod gone and back"));
    }
    assert!(rejoined > 300, "pods should rejoin their emptied classes: {rejoined}");
}
