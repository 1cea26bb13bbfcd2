//! Policy changes applied in place give the same answers as evaluating the changed
//! cluster from scratch (reference evaluator) — verdicts and per-endpoint counts.
use std::sync::Arc;

use podwall_dialects::DEFAULT_TIER;
use podwall_engine::{evaluate, Addr, Live, Packet};
use podwall_ir::{Cluster, Policy, Protocol};

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

/// Every policy with the name of its tier, in evaluation order.
fn policies(c: &Cluster) -> Vec<(String, Policy)> {
    c.policies.policies().map(|(t, p)| (c.policies.tiers()[t].name.clone(), p.clone())).collect()
}

/// Applies a series of policy changes to `cluster` in place, checking every answer after
/// each; returns how many changes were made.
fn policy_changes(cluster: Cluster, seed: u64, extra_ports: &[(Protocol, u16)]) -> usize {
    let mut ports = ports(&cluster);
    ports.extend_from_slice(extra_ports);
    let mut live = Live::new(Arc::new(cluster));
    for &(pr, po) in &ports {
        live.watch(pr, Some(po));
    }
    let ps = policies(live.index().cluster());
    if ps.is_empty() {
        return 0;
    }
    let tiers: Vec<String> = live.index().cluster().policies.tiers().iter().map(|t| t.name.clone()).collect();
    let pick = |k: usize| ps[(seed as usize / k) % ps.len()].clone();
    // Remove one policy.
    let (tier, victim) = pick(1);
    let u = live.remove_policy(victim.kind, victim.namespace.as_deref(), &victim.name).expect("exists");
    assert!(u.rebuilt.is_none());
    check(&live, &ports, &format!("seed {seed}: removed {}", victim.name));
    // Put it back.
    live.upsert_policy(&tier, victim.clone()).expect("tier exists");
    check(&live, &ports, &format!("seed {seed}: re-added {}", victim.name));
    // Add a copy of another policy under a new name, in another namespace's clothes.
    let (tier, mut copy) = pick(2);
    copy.name = format!("{}-copy", copy.name);
    live.upsert_policy(&tier, copy.clone()).expect("tier exists");
    check(&live, &ports, &format!("seed {seed}: added {}", copy.name));
    // Replace a policy with one that admits nothing in either direction it governs.
    let (tier, mut emptied) = pick(3);
    emptied.ingress = emptied.ingress.map(|_| vec![]);
    emptied.egress = emptied.egress.map(|_| vec![]);
    live.upsert_policy(&tier, emptied.clone()).expect("tier exists");
    check(&live, &ports, &format!("seed {seed}: emptied {}", emptied.name));
    // Move a policy within its tier: first, last, or level with another one.
    let (tier, mut moved) = pick(5);
    moved.order = match seed % 3 {
        0 => Some(-1.0),
        1 => None,
        _ => pick(7).1.order,
    };
    live.upsert_policy(&tier, moved.clone()).expect("tier exists");
    check(&live, &ports, &format!("seed {seed}: reordered {} to {:?}", moved.name, moved.order));
    // Move a policy to another tier.
    let (tier, other) = pick(11);
    let to = &tiers[(tiers.iter().position(|t| *t == tier).unwrap_or(0) + 1 + seed as usize) % tiers.len()];
    live.upsert_policy(to, other.clone()).expect("tier exists");
    check(&live, &ports, &format!("seed {seed}: moved {} from tier {tier} to {to}", other.name));
    6
}

#[test]
fn policy_changes_in_place_equal_a_fresh_evaluation() {
    let mut changes = 0;
    for seed in 0..120u64 {
        changes += policy_changes(compile(podwall_synth::generate_small(seed)), seed, &[]);
    }
    assert!(changes > 300, "too few changes exercised: {changes}");
}

/// Ports the mixed clusters are watched on besides the declared ones: one that Calico
/// ranges and ANP numbers cover but no pod declares, and UDP-Lite.
const MIXED_PORTS: [(Protocol, u16); 2] = [(Protocol::TCP, 443), (Protocol::UDPLITE, 53)];

#[test]
fn policy_changes_in_place_equal_a_fresh_evaluation_on_mixed_clusters() {
    let mut changes = 0;
    for seed in 0..120u64 {
        changes += policy_changes(compile(podwall_synth::generate_small_mixed(seed)), seed, &MIXED_PORTS);
    }
    assert!(changes > 500, "too few changes exercised: {changes}");
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
        order: Some(podwall_dialects::DEFAULT_TIER_ORDER),
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

/// Replaces, removes and adds pods and relabels a namespace in place, checking every
/// answer after each change; the policies of `policy_meanwhile`, if given, arrive while a
/// class is empty. Returns how many pods joined their class in place.
fn pod_changes(
    cluster: Cluster,
    seed: u64,
    extra_ports: &[(Protocol, u16)],
    policy_meanwhile: Option<Cluster>,
) -> usize {
    let mut in_place = 0;
    let mut ports = ports(&cluster);
    ports.extend_from_slice(extra_ports);
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
    let meanwhile = policy_meanwhile.is_some();
    if let Some(others) = policy_meanwhile {
        // Meanwhile policies of another cluster arrive: they may read labels or name ports
        // nothing here read before.
        for (tier, mut p) in policies(&others) {
            p.name = format!("{}-meanwhile", p.name);
            let tier =
                if live.index().cluster().policies.tier_index(&tier).is_some() { tier } else { DEFAULT_TIER.into() };
            live.upsert_policy(&tier, p).expect("tier exists");
        }
        check(&live, &ports, &format!("seed {seed}: policies added while {} was away", gone.name));
    }
    let mut back = gone.clone();
    back.name = format!("{}-back", gone.name);
    let u = live.upsert_endpoint(back);
    // (Unless the new policies brought an address range that tells it from the pod its
    // class last had, or rebuilt the index, which forgets emptied classes.)
    assert!(meanwhile || u.rebuilt.is_none(), "seed {seed}: a pod like a removed one rejoins its class: {u:?}");
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
    in_place
}

#[test]
fn pods_added_and_removed_in_place_equal_a_fresh_evaluation() {
    let mut in_place = 0;
    for seed in 0..120u64 {
        in_place += pod_changes(compile(podwall_synth::generate_small(seed)), seed, &[], None);
    }
    assert!(in_place > 50, "replicas should mostly join their class in place: {in_place}");
}

#[test]
fn pods_added_and_removed_in_place_equal_a_fresh_evaluation_on_mixed_clusters() {
    let mut in_place = 0;
    for seed in 0..120u64 {
        let others = compile(podwall_synth::generate_small_mixed(seed + 10_000));
        in_place += pod_changes(compile(podwall_synth::generate_small_mixed(seed)), seed, &MIXED_PORTS, Some(others));
    }
    assert!(in_place > 20, "replicas should often join their class in place: {in_place}");
}

/// Regression: a class emptied by pod removals kept no labels for selectors resolved
/// later, so a policy added while it was empty — selecting by a label key nothing had read
/// before, or naming a port nothing had named — missed the pod that rejoined the class in
/// place. A pod like a removed one must get the answers its labels and ports call for,
/// and an address range added meanwhile must see the class where its pods were.
#[test]
fn a_pod_rejoining_an_emptied_class_sees_policies_added_meanwhile() {
    let pods = r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: n, labels: {app: x, tier: be}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: n, labels: {app: y}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
"#;
    // Selects by `tier` (read by nothing before) and admits `app: y` on the port named
    // `http` only; lets `app: y` send only to 10.0.0.0/31, which holds a's address, and
    // receive only from 10.0.0.4/30, which holds no address yet.
    let added = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: guard, namespace: n}
spec:
  podSelector: {matchLabels: {tier: be}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: y}}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-range, namespace: n}
spec:
  podSelector: {matchLabels: {app: y}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/31}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ingress-range, namespace: n}
spec:
  podSelector: {matchLabels: {app: y}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.4/30}}]
"#;
    let c = podwall_dialects::compile(&podwall_load::load_str("pods.yaml", pods).expect("loads")).expect("compiles");
    let ports = [(Protocol::TCP, 80), (Protocol::TCP, 81)];
    let mut live = Live::new(Arc::new(c));
    for &(pr, po) in &ports {
        live.watch(pr, Some(po));
    }
    let a = live.index().cluster().endpoints[live.index().cluster().endpoint("n/a").expect("a")].clone();
    live.remove_endpoint("n/a").expect("exists");
    let extra =
        podwall_dialects::compile(&podwall_load::load_str("added.yaml", added).expect("loads")).expect("compiles");
    for (_, p) in extra.policies.policies() {
        let u = live.upsert_policy(DEFAULT_TIER, p.clone()).expect("tier exists");
        assert!(u.rebuilt.is_none(), "{} is applied in place: {u:?}", p.name);
    }
    let mut back = a.clone();
    back.name = "n/a-back".into();
    let u = live.upsert_endpoint(back);
    assert!(u.rebuilt.is_none(), "a pod like the removed one rejoins its class: {u:?}");
    let c = live.index().cluster();
    let (a, b) = (c.endpoint("n/a-back").expect("back"), c.endpoint("n/b").expect("b"));
    assert!(live.allowed(b, a, Protocol::TCP, Some(80)), "guard admits app=y on http (80)");
    assert!(!live.allowed(b, a, Protocol::TCP, Some(81)), "guard isolates the tier=be pod on 81");
    assert!(!live.allowed(a, b, Protocol::TCP, Some(80)), "b takes only 10.0.0.4/30");
    check(&live, &ports, "after the pod rejoined");
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
    // Labels from the small generators' vocabulary, so that selectors start or stop
    // matching; every change must be applied without a rebuild.
    let pod_labels = [("app", &["a", "b", "c"][..]), ("tier", &["fe", "be"]), ("version", &["v1", "v2"])];
    let ns_labels = [("team", &["red", "blue"][..]), ("env", &["prod", "dev"])];
    let mut changes = 0;
    let mut holding_sets = 0;
    // Kubernetes-only clusters, and clusters mixing Calico and AdminNetworkPolicies in.
    let generators: [fn(u64) -> Vec<serde_json::Value>; 2] =
        [podwall_synth::generate_small, podwall_synth::generate_small_mixed];
    for (seed, generate) in (0..150u64).flat_map(|s| generators.iter().map(move |g| (s, g))) {
        let cluster = compile(generate(seed));
        let ports = ports(&cluster);
        let policies = policies(&cluster);
        // Policies of another cluster over the same vocabulary: new selectors, resolved
        // through the label indexes (emptied classes included).
        let strangers = self::policies(&compile(generate(seed + 10_000)));
        // A policy goes into the tier it came from, or the default tier.
        let tier_of = |live: &Live, tier: &str| {
            if live.index().cluster().policies.tier_index(tier).is_some() {
                tier.to_string()
            } else {
                DEFAULT_TIER.to_string()
            }
        };
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
                    let (tier, mut p) = strangers[rng.below(strangers.len())].clone();
                    p.name = format!("{}-stranger-{step}", p.name);
                    let u = live.upsert_policy(&tier_of(&live, &tier), p).expect("tier exists");
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
                    // One holding Calico network sets too: the classes in their ranges
                    // are read again, in place.
                    holding_sets += c.network_sets.iter().any(|s| s.namespace.as_ref() == Some(&name)) as usize;
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
                    let (tier, mut p) = policies[rng.below(policies.len())].clone();
                    p.name = format!("{}-again-{step}", p.name);
                    p.order = Some(1.0);
                    for r in p.ingress.iter_mut().chain(p.egress.iter_mut()).flatten() {
                        r.action = podwall_ir::Action::Deny;
                    }
                    let u = live.upsert_policy(&tier_of(&live, &tier), p).expect("tier exists");
                    assert!(u.rebuilt.is_none() || u.rebuilt.as_deref().is_some_and(|w| w.contains("splits")));
                    "a policy copied as a Deny in front".to_string()
                }
            };
            changes += 1;
            check(&live, &ports, &format!("seed {seed} step {step}: {what}"));
        }
    }
    assert!(changes > 1000, "only {changes} changes");
    assert!(holding_sets > 10, "only {holding_sets} namespaces holding network sets relabelled");
}

fn compile_str(yaml: &str) -> Cluster {
    podwall_dialects::compile(&podwall_load::load_str("t.yaml", yaml).expect("loads")).expect("compiles")
}

const TIERS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ops, labels: {app: probe}}
status: {podIP: 10.0.1.1}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.guard}
spec:
  tier: security
  selector: app == 'api'
  ingress:
  - action: Deny
    source: {selector: app == 'probe'}
  - action: Pass
    source: {selector: app == 'web'}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: default.api, namespace: shop}
spec:
  selector: app == 'api'
  ingress:
  - action: Allow
    source: {selector: app == 'web'}
"#;

#[test]
fn tiers_are_added_changed_and_removed_in_place() {
    use podwall_ir::TierDefault;
    let ports = [(Protocol::TCP, 80)];
    let mut live = Live::new(Arc::new(compile_str(TIERS)));
    live.watch(Protocol::TCP, Some(80));
    check(&live, &ports, "start");
    // A new tier changes nothing by itself.
    let u = live.upsert_tier("early", Some(1.0), TierDefault::Deny);
    assert_eq!((u.rebuilt.clone(), u.classes), (None, 0), "{u:?}");
    check(&live, &ports, "new empty tier");
    // A policy in it denies web its egress.
    let mut block =
        live.index().cluster().policies.policies().find(|(_, p)| p.name.contains("guard")).expect("guard").1.clone();
    block.name = "block".into();
    block.selector = podwall_ir::Expr::All;
    block.ingress = None;
    block.egress = Some(vec![podwall_ir::Rule::any(podwall_ir::Action::Deny, 0)]);
    let u = live.upsert_policy("early", block).expect("tier exists");
    assert!(u.rebuilt.is_none(), "{u:?}");
    check(&live, &ports, "a policy in the new tier");
    // Reordered after the default tier, and its default action changed.
    let u = live.upsert_tier("security", Some(2_000_000.0), TierDefault::Deny);
    assert!(u.rebuilt.is_none() && u.classes > 0, "{u:?}");
    check(&live, &ports, "security after default");
    let u = live.upsert_tier("security", Some(2_000_000.0), TierDefault::Pass);
    assert!(u.rebuilt.is_none(), "{u:?}");
    check(&live, &ports, "security passes by default");
    let u = live.upsert_tier("security", Some(2_000_000.0), TierDefault::Pass);
    assert_eq!(u.classes, 0, "no change, nothing re-answered");
    // Removed, with their policies.
    let u = live.remove_tier("early").expect("exists");
    assert!(u.rebuilt.is_none(), "{u:?}");
    check(&live, &ports, "early removed");
    live.remove_tier("security").expect("exists");
    check(&live, &ports, "security removed");
    assert!(live.remove_tier("security").is_none());
    assert!(live.index().cluster().policies.tier_index("security").is_none());
}

#[test]
fn namespaces_change_in_place() {
    let ports = [(Protocol::TCP, 80)];
    let mut live = Live::new(Arc::new(compile_str(TIERS)));
    live.watch(Protocol::TCP, Some(80));
    let ns = |name: &str, team: &str| podwall_ir::Namespace {
        name: name.into(),
        labels: [(podwall_ir::NAMESPACE_NAME_LABEL.to_string(), name.to_string()), ("team".into(), team.into())].into(),
        declared: true,
    };
    // New and empty: in place, as is relabelling it.
    assert!(live.upsert_namespace(ns("fresh", "red")).rebuilt.is_none());
    assert!(live.upsert_namespace(ns("fresh", "blue")).rebuilt.is_none());
    check(&live, &ports, "a new namespace");
    // Its first pod is unlike every other: a class of its own, in place.
    let mut pod = live.index().cluster().endpoints[0].clone();
    pod.name = "fresh/pod".into();
    pod.namespace = "fresh".into();
    pod.ip = Some("10.0.2.1".parse().expect("an address"));
    let u = live.upsert_endpoint(pod);
    assert!(u.rebuilt.is_none() && u.classes == 1, "{u:?}");
    check(&live, &ports, "a pod in the new namespace");
    // Relabelled while a pod lives there: its class is read again, in place.
    let u = live.upsert_namespace(ns("fresh", "green"));
    assert!(u.rebuilt.is_none() && u.classes == 1, "{u:?}");
    check(&live, &ports, "the namespace relabelled");
    // Emptied, then relabelled: the emptied class is read again with the new labels, so
    // a pod like the old one rejoins it in place.
    live.remove_endpoint("fresh/pod").expect("exists");
    assert!(live.upsert_namespace(ns("fresh", "red")).rebuilt.is_none());
    let mut again = live.index().cluster().endpoints[0].clone();
    again.name = "fresh/again".into();
    again.namespace = "fresh".into();
    again.ip = Some("10.0.2.1".parse().expect("an address"));
    let u = live.upsert_endpoint(again);
    assert!(u.rebuilt.is_none(), "{u:?}");
    check(&live, &ports, "a pod after the relabel");
    live.remove_endpoint("fresh/again").expect("exists");
    assert!(live.remove_namespace("fresh").expect("exists").rebuilt.is_none());
    assert!(live.remove_namespace("fresh").is_none());
    check(&live, &ports, "the namespace removed");
    // Removing one pods live in rebuilds.
    assert!(live.remove_namespace("ops").expect("exists").rebuilt.is_some());
    check(&live, &ports, "a namespace removed under its pods");
}

#[test]
fn service_accounts_network_sets_and_nodes() {
    let ports = [(Protocol::TCP, 80)];
    let yaml = format!(
        "{TIERS}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: default, namespace: ops, labels: {{trust: low}}}}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: trusted}}\nspec:\n  selector: app == 'web'\n  egress:\n  - action: Deny\n    destination: {{serviceAccounts: {{selector: trust == 'low'}}}}\n  - action: Deny\n    destination: {{selector: zone == 'lab'}}\n"
    );
    let mut live = Live::new(Arc::new(compile_str(&yaml)));
    live.watch(Protocol::TCP, Some(80));
    check(&live, &ports, "start");
    // A service account nobody runs as: in place.
    let mut sas = live.index().cluster().service_accounts.clone();
    let spare =
        podwall_ir::ServiceAccount { namespace: "shop".into(), name: "spare".into(), labels: Default::default() };
    sas.insert(("shop".into(), "spare".into()), spare);
    assert!(live.set_service_accounts(sas.clone()).rebuilt.is_none());
    // One the probe runs as: a rebuild, and the answers follow.
    sas.get_mut(&("ops".into(), "default".into())).expect("there").labels.insert("trust".into(), "high".into());
    assert!(live.set_service_accounts(sas).rebuilt.is_some());
    check(&live, &ports, "service account relabelled");
    // A network set that puts the probe's address in the lab.
    let set = podwall_ir::NetworkSet {
        name: "lab".into(),
        namespace: None,
        labels: [("zone".to_string(), "lab".to_string())].into(),
        nets: vec!["10.0.1.0/24".parse().expect("a range")],
    };
    let u = live.set_network_sets(vec![set]);
    assert!(u.rebuilt.as_deref().is_some_and(|w| w.contains("lab")), "{u:?}");
    check(&live, &ports, "network set added");
    assert!(live.set_network_sets(live.index().cluster().network_sets.clone()).rebuilt.is_none());
    // Nodes: the index reads none.
    let node = podwall_ir::Node { name: "n1".into(), labels: Default::default(), addresses: vec![] };
    let u = live.set_nodes([("n1".to_string(), node)].into());
    assert_eq!(u.classes, 0);
    assert_eq!(live.index().cluster().nodes.len(), 1);
    check(&live, &ports, "a node added");
}

/// Every watched answer of `live` equals that of an index built from scratch over the
/// same cluster: each pair, and the per-endpoint counts.
fn equals_a_rebuild(live: &Live, ports: &[(Protocol, u16)], what: &str) {
    let c = live.index().cluster();
    let fresh = podwall_engine::Index::new(c);
    let n = c.endpoints.len();
    for &(proto, port) in ports {
        let m = fresh.matrix(proto, Some(port));
        assert!(live.summary(proto, Some(port)).expect("watched") == m.summary(), "{what}: counts on {proto}/{port}");
        for s in 0..n {
            for d in 0..n {
                assert_eq!(
                    live.allowed(s, d, proto, Some(port)),
                    m.allowed(s, d),
                    "{what}: {} -> {} on {proto}/{port}",
                    c.endpoints[s].name,
                    c.endpoints[d].name
                );
            }
        }
    }
}

/// New versions of a policy: in its place (actions turned, the first rule dropped, a
/// catch-all in front, rules emptied), then moved to the front and to the back of its
/// tier (its `order` changed); the original comes last.
fn versions(p: &Policy) -> Vec<(&'static str, Policy)> {
    use podwall_ir::{Action, Rule};
    let each = |f: &dyn Fn(&mut Vec<Rule>)| {
        let mut q = p.clone();
        for rules in [&mut q.ingress, &mut q.egress].into_iter().flatten() {
            f(rules);
            for (i, r) in rules.iter_mut().enumerate() {
                r.index = i;
            }
        }
        q
    };
    let turn = |rules: &mut Vec<Rule>| {
        for r in rules {
            r.action = match r.action {
                Action::Allow => Action::Deny,
                Action::Deny => Action::Allow,
                Action::Pass => Action::Allow,
                Action::Log => Action::Log,
            };
        }
    };
    let drop_first = |rules: &mut Vec<Rule>| {
        if !rules.is_empty() {
            rules.remove(0);
        }
    };
    let pass_first = |rules: &mut Vec<Rule>| rules.insert(0, Rule::any(Action::Pass, 0));
    let deny_first = |rules: &mut Vec<Rule>| rules.insert(0, Rule::any(Action::Deny, 0));
    vec![
        ("actions turned", each(&turn)),
        ("first rule dropped", each(&drop_first)),
        ("a Pass in front", each(&pass_first)),
        ("a Deny in front", each(&deny_first)),
        ("emptied", each(&|r: &mut Vec<Rule>| r.clear())),
        ("moved to the front, actions turned", Policy { order: Some(f64::MIN), ..each(&turn) }),
        ("moved to the back", Policy { order: None, ..p.clone() }),
        ("moved to the back, a Deny in front", Policy { order: Some(f64::MAX), ..each(&deny_first) }),
        ("the original", p.clone()),
    ]
}

#[test]
fn a_global_policy_change_patches_only_the_classes_it_selects_and_equals_a_rebuild() {
    // A bench-shaped cluster with Calico tiers and AdminNetworkPolicies, small enough to
    // compare every pair: each cluster-wide policy takes several new versions in place.
    let mut changes = 0;
    for seed in 0..2u64 {
        let p = podwall_synth::Params {
            pods: 300,
            namespaces: 10,
            policies: 40,
            calico_policies: 40,
            admin_policies: 6,
            seed,
        };
        let cluster = compile(podwall_synth::generate(&p));
        let ports = ports(&cluster);
        let mut live = Live::new(Arc::new(cluster));
        for &(pr, po) in &ports {
            live.watch(pr, Some(po));
        }
        let classes = live.index().class_count();
        let global: Vec<(String, Policy)> = policies(live.index().cluster())
            .into_iter()
            .filter(|(_, p)| {
                let (t, i) =
                    live.index().cluster().policies.find(p.kind, p.namespace.as_deref(), &p.name).expect("there");
                live.index().policy_classes(t, i).count() * 2 >= classes
            })
            .collect();
        assert!(global.len() >= 5, "seed {seed}: only {} policies select half the classes", global.len());
        for (tier, original) in &global {
            for (what, version) in versions(original) {
                let u = live.upsert_policy(tier, version).expect("tier exists");
                assert!(u.rebuilt.is_none(), "{u:?}");
                equals_a_rebuild(&live, &ports, &format!("seed {seed}: {} {what}", original.name));
                changes += 1;
            }
        }
    }
    assert!(changes > 60, "only {changes} changes");
}

#[test]
fn policies_replaced_in_place_equal_a_fresh_evaluation_and_a_rebuild() {
    let mut changes = 0;
    let generators: [fn(u64) -> Vec<serde_json::Value>; 2] =
        [podwall_synth::generate_small, podwall_synth::generate_small_mixed];
    for (seed, generate) in (0..60u64).flat_map(|s| generators.iter().map(move |g| (s, g))) {
        let cluster = compile(generate(seed));
        let mut ports = ports(&cluster);
        ports.extend_from_slice(&MIXED_PORTS);
        let mut live = Live::new(Arc::new(cluster));
        for &(pr, po) in &ports {
            live.watch(pr, Some(po));
        }
        let ps = policies(live.index().cluster());
        let mut rng = Rng(seed);
        for _ in 0..ps.len().min(3) {
            let (tier, original) = &ps[rng.below(ps.len())];
            for (what, version) in versions(original) {
                live.upsert_policy(tier, version).expect("tier exists");
                let what = format!("seed {seed}: {} {what}", original.name);
                check(&live, &ports, &what);
                equals_a_rebuild(&live, &ports, &what);
                changes += 1;
            }
        }
    }
    assert!(changes > 500, "only {changes} changes");
}

#[test]
fn a_relabelled_namespace_holding_network_sets_is_read_again_in_place() {
    // The partners namespace's network set covers a pod of another namespace; a Calico
    // rule picks network sets by their namespace's labels.
    let yaml = r#"
apiVersion: v1
kind: Namespace
metadata: {name: partners, labels: {trust: low}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: gateway, namespace: edge, labels: {app: gateway}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.5.1}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: gateways, namespace: partners, labels: {role: gateway}}
spec: {nets: [10.0.5.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-low-trust}
spec:
  selector: app == 'client'
  egress:
  - action: Deny
    destination: {namespaceSelector: trust == 'low', selector: role == 'gateway'}
  - action: Allow
"#;
    let ports = [(Protocol::TCP, 80)];
    let mut live = Live::new(Arc::new(compile_str(yaml)));
    live.watch(Protocol::TCP, Some(80));
    let c = live.index().cluster();
    let (client, gateway) = (c.endpoint("shop/client").expect("client"), c.endpoint("edge/gateway").expect("gateway"));
    assert!(!live.allowed(client, gateway, Protocol::TCP, Some(80)), "the set's range is denied");
    let mut ns = c.namespaces["partners"].clone();
    ns.labels.insert("trust".into(), "high".into());
    let u = live.upsert_namespace(ns);
    assert!(u.rebuilt.is_none(), "{u:?}");
    assert!(live.allowed(client, gateway, Protocol::TCP, Some(80)), "the set no longer picked");
    check(&live, &ports, "the namespace relabelled");
    equals_a_rebuild(&live, &ports, "the namespace relabelled");
}

#[test]
fn a_new_version_turning_few_remote_classes_rewalks_only_their_columns_and_equals_a_rebuild() {
    // 600 pods unlike each other (600 classes) under one cluster-wide Calico policy; each
    // new version turns the answer toward one or two pods only, so the classes it applies
    // to keep their walks but for those columns.
    let pods: String = (0..600)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: shop, labels: {{app: a{i}}}}}\n\
                 spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80}}]}}]}}\n\
                 status: {{podIP: 10.0.{}.{}}}\n---\n",
                i / 200,
                i % 200 + 1
            )
        })
        .collect();
    let guard = |egress: &str, ingress: &str| {
        let yaml = format!(
            "{pods}apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: guard}}\n\
             spec:\n  selector: all()\n  types: [Ingress, Egress]\n  egress:\n{egress}  - action: Allow\n\
             \x20 ingress:\n{ingress}  - action: Allow\n"
        );
        compile_str(&yaml)
    };
    let deny_to = |apps: &[&str]| -> String {
        apps.iter().map(|a| format!("  - action: Deny\n    destination: {{selector: app == '{a}'}}\n")).collect()
    };
    let deny_from = |apps: &[&str]| -> String {
        apps.iter().map(|a| format!("  - action: Deny\n    source: {{selector: app == '{a}'}}\n")).collect()
    };
    let ports = [(Protocol::TCP, 80)];
    let mut live = Live::new(Arc::new(guard(&deny_to(&["a1"]), &deny_from(&["a7"]))));
    live.watch(Protocol::TCP, Some(80));
    assert_eq!(live.index().class_count(), 600);
    let versions = [
        ("egress denied to another pod", deny_to(&["a2"]), deny_from(&["a7"])),
        ("egress denied to two pods", deny_to(&["a2", "a3"]), deny_from(&["a7"])),
        ("ingress denied from another pod", deny_to(&["a2", "a3"]), deny_from(&["a8"])),
        ("the first", deny_to(&["a1"]), deny_from(&["a7"])),
    ];
    for (what, egress, ingress) in versions {
        let new = guard(&egress, &ingress);
        let (tier, policy) = policies(&new).into_iter().next().expect("the guard policy");
        let u = live.upsert_policy(&tier, policy).expect("tier exists");
        assert!(u.rebuilt.is_none(), "{what}: {u:?}");
        equals_a_rebuild(&live, &ports, what);
    }
    let c = live.index().cluster();
    let (p1, p2) = (c.endpoint("shop/p1").expect("p1"), c.endpoint("shop/p2").expect("p2"));
    assert!(!live.allowed(p2, p1, Protocol::TCP, Some(80)), "back to the first version: egress to a1 denied");
    assert!(live.allowed(p1, p2, Protocol::TCP, Some(80)), "back to the first version: egress to a2 allowed");
}
