//! `diff` through `Live` equals comparing the reference evaluator on every pair of both
//! clusters: generated clusters are mutated the way pull requests change them (a
//! policy dropped, added or narrowed, pods relabelled, added, removed or readdressed,
//! namespaces relabelled), and hand-written Calico clusters exercise tiers, network
//! sets and service accounts.
use std::collections::BTreeSet;
use std::sync::Arc;

use podwall_engine::diff::{apply, diff, object_changes, How, Object};
use podwall_engine::{evaluate, Addr, DirectionVerdict, Live, Packet};
use podwall_ir::{Cluster, Protocol};
use serde_json::{json, Value};

fn compile(values: Vec<Value>) -> Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn compile_str(text: &str) -> Cluster {
    let input = podwall_load::load_str("test.yaml", text).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// Every port either cluster declares, and one nobody does.
fn ports(a: &Cluster, b: &Cluster) -> Vec<(Protocol, u16)> {
    let mut p: BTreeSet<(Protocol, u16)> = a.declared_ports().into_iter().chain(b.declared_ports()).collect();
    p.insert((Protocol::TCP, 1));
    p.into_iter().collect()
}

fn verdict(c: &Cluster, s: usize, d: usize, pr: Protocol, po: u16) -> podwall_engine::Verdict {
    evaluate(c, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), pr, po))
}

/// What decided a direction, without the endpoint's name.
fn decided(v: &DirectionVerdict) -> impl PartialEq + std::fmt::Debug {
    (v.allowed, v.decision, v.applied.clone(), v.logged.clone(), v.passed.clone())
}

/// A direction's verdict by names (tier, policy, rule), comparable across clusters.
fn by_name(c: &Cluster, v: &DirectionVerdict) -> impl PartialEq + std::fmt::Debug {
    let tiers = c.policies.tiers();
    let policy = |t: usize, p: usize| (tiers[t].name.clone(), tiers[t].policies[p].display_name());
    let rule = |r: &podwall_engine::RuleRef| (policy(r.tier, r.policy), r.rule, r.action);
    let decision = match v.decision {
        podwall_engine::Decision::Rule(r) => format!("{:?}", rule(&r)),
        podwall_engine::Decision::TierDefault(t) => format!("end of {}", tiers[t].name),
        d => format!("{d:?}"),
    };
    (
        v.allowed,
        decision,
        v.applied.iter().map(|&(t, p)| policy(t, p)).collect::<Vec<_>>(),
        v.logged.iter().map(rule).collect::<Vec<_>>(),
        v.passed.iter().map(rule).collect::<Vec<_>>(),
    )
}

/// Checks `diff(old, new)` against the reference evaluator on every pair; returns how
/// many pairs changed.
fn check(old: &Cluster, new: &Cluster, what: &str) -> usize {
    let ports = ports(old, new);
    let d = diff(Arc::new(old.clone()), new, &ports);
    // The changed pairs, by name.
    let mut got: BTreeSet<(Protocol, u16, String, String, bool)> = BTreeSet::new();
    for pc in &d.changes.ports {
        let po = pc.port.expect("a port");
        for (s, t, a) in d.changes.expand(new, pc) {
            let fresh = got.insert((pc.protocol, po, new.endpoints[s].name.clone(), new.endpoints[t].name.clone(), a));
            assert!(fresh, "{what}: a pair is listed twice");
        }
        // Every pair a group pair stands for is decided by the same rules: one pair's
        // reasons are the group pair's.
        for gp in &pc.pairs {
            let mut seen = None;
            for (s, t, _) in d.changes.expand(new, &podwall_engine::PortChanges { pairs: vec![*gp], ..pc.clone() }) {
                let (os, ot) =
                    (old.endpoint(&new.endpoints[s].name).unwrap(), old.endpoint(&new.endpoints[t].name).unwrap());
                let (vo, vn) = (verdict(old, os, ot, pc.protocol, po), verdict(new, s, t, pc.protocol, po));
                let key = (decided(&vo.egress), decided(&vo.ingress), decided(&vn.egress), decided(&vn.ingress));
                match &seen {
                    None => seen = Some(key),
                    Some(k) => assert_eq!(k, &key, "{what}: one group pair, different reasons"),
                }
                // Directions the engine calls settled read the same in both clusters.
                let ch = &d.changes;
                let (f, t) = (gp.from as usize, gp.to as usize);
                if ch.steady[f] && ch.kept_class[t] {
                    assert_eq!(by_name(old, &vo.egress), by_name(new, &vn.egress), "{what}: settled egress");
                }
                if ch.steady[t] && ch.kept_class[f] {
                    assert_eq!(by_name(old, &vo.ingress), by_name(new, &vn.ingress), "{what}: settled ingress");
                }
            }
            assert_eq!(
                d.changes.pair_count(new, gp),
                d.changes.expand(new, &podwall_engine::PortChanges { pairs: vec![*gp], ..pc.clone() }).count(),
                "{what}: pair count"
            );
        }
    }
    // Every pair of endpoints present in both, judged by the reference evaluator.
    let mut want = BTreeSet::new();
    for &(pr, po) in &ports {
        for (os, se) in old.endpoints.iter().enumerate() {
            let Some(ns) = new.endpoint(&se.name) else { continue };
            for (ot, te) in old.endpoints.iter().enumerate() {
                let Some(nt) = new.endpoint(&te.name) else { continue };
                let (a, b) = (verdict(old, os, ot, pr, po).allowed, verdict(new, ns, nt, pr, po).allowed);
                if a != b {
                    want.insert((pr, po, se.name.clone(), te.name.clone(), b));
                }
            }
        }
    }
    if got != want {
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        panic!(
            "{what}: diff disagrees with the reference evaluator\n  listed but unchanged: {extra:?}\n  changed but not listed: {missing:?}\n  steps: {:#?}",
            d.steps
        );
    }
    // Counts: before on the old cluster, after on the new one.
    for (k, &(pr, po)) in ports.iter().enumerate() {
        for (c, sums) in [(old, &d.before[k]), (new, &d.after[k])] {
            let n = c.endpoints.len();
            for (i, row) in sums.iter().enumerate() {
                let out = (0..n).filter(|&j| verdict(c, i, j, pr, po).allowed).count();
                let inn = (0..n).filter(|&j| verdict(c, j, i, pr, po).allowed).count();
                assert_eq!(
                    (row.egress_peers, row.ingress_peers),
                    (out, inn),
                    "{what}: counts of {}",
                    c.endpoints[i].name
                );
            }
        }
    }
    // After the steps the index holds the new cluster.
    let mut live = Live::new(Arc::new(old.clone()));
    apply(&mut live, new, &object_changes(old, new));
    same_cluster(live.index().cluster(), new, what);
    want.len()
}

/// The two clusters are equal but for where objects were read (and warnings).
fn same_cluster(a: &Cluster, b: &Cluster, what: &str) {
    let strip_ep = |c: &Cluster| -> Vec<podwall_ir::Endpoint> {
        c.endpoints
            .iter()
            .cloned()
            .map(|mut e| {
                e.source = None;
                e
            })
            .collect()
    };
    assert_eq!(strip_ep(a), strip_ep(b), "{what}: endpoints");
    assert_eq!(a.namespaces, b.namespaces, "{what}: namespaces");
    assert_eq!(a.network_sets, b.network_sets, "{what}: network sets");
    assert_eq!(a.service_accounts, b.service_accounts, "{what}: service accounts");
    assert_eq!(a.nodes, b.nodes, "{what}: nodes");
    let strip_tiers = |c: &Cluster| -> Vec<podwall_ir::Tier> {
        c.policies
            .tiers()
            .iter()
            .cloned()
            .map(|mut t| {
                t.policies.iter_mut().for_each(|p| p.source = None);
                t
            })
            .collect()
    };
    assert_eq!(strip_tiers(a), strip_tiers(b), "{what}: tiers and policies");
}

/// A small deterministic generator for picking what to mutate.
struct Pick(u64);
impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn of_kind(values: &[Value], kind: &str) -> Vec<usize> {
    (0..values.len()).filter(|&i| values[i]["kind"] == kind).collect()
}

/// One mutation of a generated cluster, as a pull request might make it; `None` when
/// the cluster has nothing to mutate that way.
fn mutate(values: &[Value], kind: usize, pick: &mut Pick) -> Option<(String, Vec<Value>)> {
    let mut v = values.to_vec();
    let pods = of_kind(&v, "Pod");
    let pols = of_kind(&v, "NetworkPolicy");
    let nss = of_kind(&v, "Namespace");
    let labels = ["a", "b", "c"];
    let what = match kind {
        0 => {
            let i = *pols.get(pick.next(pols.len()))?;
            let name = v[i]["metadata"]["name"].clone();
            v.remove(i);
            format!("dropped policy {name}")
        }
        1 => {
            let i = *pols.get(pick.next(pols.len()))?;
            let sel = match pick.next(3) {
                0 => json!({}),
                1 => json!({"matchLabels": {"app": labels[pick.next(3)]}}),
                _ => json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}),
            };
            v[i]["spec"]["podSelector"] = sel.clone();
            format!("policy {} now selects {sel}", v[i]["metadata"]["name"])
        }
        2 => {
            let i = *pods.get(pick.next(pods.len()))?;
            let l = labels[pick.next(3)];
            v[i]["metadata"]["labels"]["app"] = json!(l);
            format!("pod {} relabelled app={l}", v[i]["metadata"]["name"])
        }
        3 => {
            // A namespace pods live in, its team and env flipped (policies select on them).
            let lived: Vec<usize> = nss
                .iter()
                .copied()
                .filter(|&n| pods.iter().any(|&p| v[p]["metadata"]["namespace"] == v[n]["metadata"]["name"]))
                .collect();
            let i = *lived.get(pick.next(lived.len()))?;
            let labels = &mut v[i]["metadata"]["labels"];
            let team = if labels["team"] == "red" { "blue" } else { "red" };
            labels["team"] = json!(team);
            match pick.next(3) {
                0 => labels["env"] = json!("prod"),
                1 => labels["env"] = json!("dev"),
                _ => {
                    labels.as_object_mut()?.remove("env");
                }
            }
            format!("namespace {} relabelled team={team}", v[i]["metadata"]["name"])
        }
        4 => {
            // A replica: same labels and ports, new name and address.
            let i = *pods.get(pick.next(pods.len()))?;
            let mut p = v[i].clone();
            p["metadata"]["name"] = json!(format!("{}-replica", p["metadata"]["name"].as_str()?));
            p["status"]["podIP"] = json!(format!("10.1.0.{}", 100 + pick.next(100)));
            v.push(p);
            format!("added a replica of pod {}", v[i]["metadata"]["name"])
        }
        5 => {
            // A pod unlike any other, perhaps in a new namespace.
            let i = *pods.get(pick.next(pods.len()))?;
            let mut p = v[i].clone();
            p["metadata"]["name"] = json!("odd");
            p["metadata"]["labels"]["odd"] = json!("yes");
            if pick.next(2) == 0 {
                p["metadata"]["namespace"] = json!("ns-new");
            }
            p["status"]["podIP"] = json!("10.1.0.250");
            v.push(p);
            "added an odd pod".into()
        }
        6 => {
            let i = *pods.get(pick.next(pods.len()))?;
            let name = v[i]["metadata"]["name"].clone();
            v.remove(i);
            format!("removed pod {name}")
        }
        7 => {
            // A new address, perhaps across an ipBlock's edge.
            let i = *pods.get(pick.next(pods.len()))?;
            let ip = format!("10.1.0.{}", 1 + pick.next(20));
            v[i]["status"]["podIP"] = json!(ip.clone());
            format!("pod {} readdressed to {ip}", v[i]["metadata"]["name"])
        }
        8 => {
            // A copy of a policy, renamed, in another namespace.
            let i = *pols.get(pick.next(pols.len()))?;
            let mut p = v[i].clone();
            p["metadata"]["name"] = json!("copied");
            let ns = v[*nss.get(pick.next(nss.len()))?]["metadata"]["name"].clone();
            p["metadata"]["namespace"] = ns;
            v.push(p);
            "added a copy of a policy".into()
        }
        9 => {
            // A default deny of both directions in one namespace.
            let ns = v[*nss.get(pick.next(nss.len()))?]["metadata"]["name"].clone();
            v.push(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "deny-all", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
            }));
            format!("added a default deny in {ns}")
        }
        _ => {
            // Several at once: a pod removed, a namespace relabelled, a policy dropped.
            let mut out = values.to_vec();
            let mut words = Vec::new();
            for k in [6, 3, 0, 4] {
                if let Some((w, next)) = mutate(&out, k, pick) {
                    out = next;
                    words.push(w);
                }
            }
            return (!words.is_empty()).then(|| (words.join("; "), out));
        }
    };
    Some((what, v))
}

#[test]
fn diff_equals_the_reference_on_mutated_generated_clusters() {
    let (mut diffs, mut changed) = (0, 0);
    for seed in 0..300u64 {
        let values = podwall_synth::generate_small(seed);
        let old = compile(values.clone());
        let mut pick = Pick(seed);
        // Each seed tries a few of the mutations; every kind comes round often.
        for k in 0..4 {
            let kind = (seed as usize * 3 + k * 5) % 11;
            let Some((what, mutated)) = mutate(&values, kind, &mut pick) else { continue };
            let new = compile(mutated);
            let label = format!("seed {seed}: {what}");
            changed += check(&old, &new, &label);
            // And back again.
            changed += check(&new, &old, &format!("{label} (reversed)"));
            diffs += 2;
        }
    }
    assert!(diffs > 1500, "too few diffs: {diffs}");
    assert!(changed > 5000, "too few changed pairs: {changed}");
}

#[test]
fn an_unchanged_cluster_has_no_changes() {
    for seed in 0..20u64 {
        let c = compile(podwall_synth::generate_small(seed));
        let d = diff(Arc::new(c.clone()), &c, &ports(&c, &c));
        assert!(d.objects.is_empty(), "seed {seed}: {:?}", d.objects);
        assert!(d.changes.ports.iter().all(|p| p.pairs.is_empty()), "seed {seed}");
    }
}

const CALICO: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {team: blue}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: shop, labels: {trust: high}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {serviceAccountName: api, containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: api-2, namespace: shop, labels: {app: api}}
spec: {serviceAccountName: api, containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ops, labels: {app: probe}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.1.1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: ops}
spec: {template: {metadata: {labels: {app: worker}}, spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: ops-range, labels: {zone: ops}}
spec: {nets: [10.0.1.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.guard}
spec:
  tier: security
  order: 10
  selector: app == 'api'
  ingress:
  - action: Deny
    source: {selector: zone == 'ops'}
  - action: Pass
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: default.api, namespace: shop}
spec:
  selector: app == 'api'
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: [http]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default.sa}
spec:
  selector: app == 'web'
  egress:
  - action: Allow
    destination: {serviceAccounts: {selector: trust == 'high'}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default.blue-out}
spec:
  selector: app == 'web'
  ingress:
  - action: Deny
    source: {namespaceSelector: team == 'blue'}
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default.probe}
spec:
  selector: app == 'probe'
  egress:
  - action: Log
    protocol: TCP
    destination: {ports: [http]}
  - action: Deny
    protocol: TCP
    destination: {notPorts: [80, 8080]}
  - action: Allow
"#;

/// Remotes the index sorts into one set get the same verdict from the reference.
fn check_alike(c: &Cluster, what: &str) {
    use podwall_engine::{evaluate_direction, Index};
    use podwall_ir::Direction;
    let index = Index::new(c);
    let all: Vec<usize> = (0..c.endpoints.len()).collect();
    for &(pr, po) in &ports(c, c) {
        for local in 0..c.endpoints.len() {
            for dir in [Direction::Ingress, Direction::Egress] {
                let cells = index.alike(local, dir, pr, Some(po), &all);
                let mut first: Vec<Option<DirectionVerdict>> = vec![None; all.len()];
                for (&remote, &cell) in all.iter().zip(&cells) {
                    let (s, d) = if dir == Direction::Ingress { (remote, local) } else { (local, remote) };
                    let v = evaluate_direction(c, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), pr, po), dir);
                    match &first[cell] {
                        None => first[cell] = Some(v),
                        Some(w) => assert_eq!(
                            w, &v,
                            "{what}: {} {dir} {pr}/{po}: {}",
                            c.endpoints[local].name, c.endpoints[remote].name
                        ),
                    }
                }
            }
        }
    }
}

/// Replaces `from` with `to` in the text, which must contain it.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the fixture holds {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn diff_equals_the_reference_on_calico_changes() {
    let base = CALICO.to_string();
    let variants: Vec<(&str, String)> = vec![
        ("tier reordered", edit(&base, "spec: {order: 100}", "spec: {order: 2000000}")),
        ("tier default Pass", edit(&base, "spec: {order: 100}", "spec: {order: 100, defaultAction: Pass}")),
        (
            "tier removed with its policy",
            edit(
                &edit(&base, "kind: Tier\nmetadata: {name: security}\nspec: {order: 100}", "kind: Namespace\nmetadata: {name: extra}"),
                "metadata: {name: security.guard}\nspec:\n  tier: security\n  order: 10\n",
                "metadata: {name: guard}\nspec:\n  order: 10\n",
            ),
        ),
        (
            "a new tier with a policy",
            format!(
                "{base}---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: early}}\nspec: {{order: 1}}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: early.block}}\nspec:\n  tier: early\n  selector: app == 'web'\n  egress:\n  - action: Deny\n    destination: {{nets: [10.0.0.2/32]}}\n  - action: Pass\n"
            ),
        ),
        ("policy moved to the default tier", edit(&base, "  tier: security\n  order: 10\n", "  order: 10\n")),
        ("network set widened", edit(&base, "spec: {nets: [10.0.1.0/24]}", "spec: {nets: [10.0.0.0/16]}")),
        ("network set relabelled", edit(&base, "labels: {zone: ops}", "labels: {zone: dmz}")),
        ("service account relabelled", edit(&base, "labels: {trust: high}", "labels: {trust: low}")),
        ("namespace relabelled", edit(&base, "labels: {team: blue}", "labels: {team: red}")),
        (
            "namespace relabelled, a replica added, a policy dropped",
            edit(
                &edit(&format!("{base}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web-2, namespace: shop, labels: {{app: web}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{{name: http, containerPort: 80}}]}}]}}\nstatus: {{podIP: 10.0.0.7}}\n"), "labels: {team: blue}", "labels: {team: red}"),
                "metadata: {name: default.sa}",
                "metadata: {name: default.sa-renamed}",
            ),
        ),
        ("replica readdressed into the set", edit(&base, "podIP: 10.0.0.3", "podIP: 10.0.1.9")),
        ("template relabelled like the api", edit(&base, "labels: {app: worker}", "labels: {app: api}")),

    ];
    let old = compile_str(&base);
    check_alike(&old, "base");
    let mut changed = 0;
    for (what, text) in &variants {
        let new = compile_str(text);
        check_alike(&new, what);
        assert!(!object_changes(&old, &new).is_empty(), "{what}: the variant changes something");
        changed += check(&old, &new, what);
        changed += check(&new, &old, &format!("{what} (reversed)"));
    }
    assert!(changed > 10, "the variants change answers: {changed}");
}

#[test]
fn object_changes_name_what_changed() {
    let old = compile_str(CALICO);
    let text =
        edit(&edit(CALICO, "spec: {order: 100}", "spec: {order: 5}"), "labels: {team: blue}", "labels: {team: red}");
    let new = compile_str(&text);
    let ch = object_changes(&old, &new);
    let found = |o: Object, h: How| ch.iter().any(|c| c.object == o && c.how == h);
    assert!(found(Object::Tier("security".into()), How::Changed), "{ch:?}");
    assert!(found(Object::Namespace("ops".into()), How::Changed), "{ch:?}");
    assert_eq!(ch.len(), 2, "nothing else changed, wherever it was read: {ch:?}");
}

#[test]
fn a_namespace_declared_with_the_labels_it_had_is_a_change_that_turns_nothing() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: other}\nstatus: {podIP: 10.0.0.9}\n";
    let old = compile_str(&format!("{CALICO}---\n{pod}"));
    let new =
        compile_str(&format!("{CALICO}---\n{pod}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: other}}\n"));
    let ch = object_changes(&old, &new);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!((&ch[0].object, ch[0].how), (&Object::Namespace("other".into()), How::Changed));
    assert_eq!(ch[0].detail.as_deref(), Some("now declared, same labels"));
    assert_eq!(check(&old, &new, "declared"), 0);
    assert_eq!(check(&new, &old, "no longer declared"), 0);
}
