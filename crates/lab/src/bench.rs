//! Helpers of `podwall-bench dataplane`: the comparison ruleset with linear chains, and
//! a one-policy edit to time updates with.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use podwall_engine::Index;
use podwall_ir::{Cluster, Direction, PolicySet, PortMatch, Ports, Protocol};

use crate::TABLE;

/// The benchmark's own objects: namespace `bench`, its pods `client` (10.200.0.1) and
/// `server` (10.200.0.2), and the server's policy admitting the client.
pub fn objects() -> Vec<serde_json::Value> {
    let text = r#"[
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "bench", "labels": {"kubernetes.io/metadata.name": "bench"}}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "client", "namespace": "bench", "labels": {"app": "client"}},
         "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.200.0.1"}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "server", "namespace": "bench", "labels": {"app": "server"}},
         "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.200.0.2"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "server-from-client", "namespace": "bench"},
         "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}}
    ]"#;
    serde_json::from_str(text).expect("the benchmark's objects are valid JSON")
}

/// The cluster's ingress policies as one linear chain, the structure of iptables-based
/// enforcers: the base chain's `head` (hook and established fast path), then one rule per
/// policy, ingress rule and port (`ip daddr { the IPv4 pods it selects } [port] accept`)
/// in policy order, then `tail`. Pods of namespace `skip` are left out (the caller puts
/// their rules in `tail`, last). Returns the `nft -f` script replacing the table, and how
/// many rules the base chain holds.
pub fn linear(cluster: &Cluster, skip: &str, head: &str, tail: &str) -> (String, usize) {
    let index = Index::new(cluster);
    let mut selected: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for (id, e) in cluster.endpoints.iter().enumerate() {
        let Some(ip) = e.ip.filter(|ip| ip.is_ipv4()) else { continue };
        if e.namespace == skip {
            continue;
        }
        for key in index.applicable_policies(id, Direction::Ingress) {
            selected.entry(key).or_default().push(ip.to_string());
        }
    }
    let mut s =
        format!("table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n\tchain forward {{\n{head}");
    let mut rules = head.lines().count() - 1 + tail.lines().count();
    for (&(ti, pi), ips) in &selected {
        let policy = &cluster.policies.tiers()[ti].policies[pi];
        for rule in policy.rules(Direction::Ingress).unwrap_or_default() {
            let ports: Vec<String> = rule
                .destination
                .ports
                .iter()
                .filter_map(|pm: &PortMatch| match (&pm.ports, pm.protocol) {
                    (Ports::Range(lo, hi), Some(p)) if p.has_ports() => {
                        Some(format!("meta l4proto {} th dport {lo}-{hi}", p.0))
                    }
                    _ => None,
                })
                .collect();
            for port in if ports.is_empty() { vec![String::new()] } else { ports } {
                let _ = writeln!(s, "\t\tip daddr {{ {} }} {port} accept", ips.join(", "));
                rules += 1;
            }
        }
    }
    s.push_str(tail);
    s.push_str("\t}\n}\n");
    (s, rules)
}

/// The cluster with one policy edited: the first policy (in evaluation order of the
/// endpoints outside namespace `skip`) with an ingress rule that selects pods gets that
/// rule's ports replaced by TCP 4242. `None` when no policy qualifies.
pub fn edited(cluster: &Cluster, skip: &str) -> Option<Cluster> {
    let index = Index::new(cluster);
    let target = (0..cluster.endpoints.len())
        .filter(|&e| cluster.endpoints[e].namespace != skip)
        .flat_map(|e| index.applicable_policies(e, Direction::Ingress))
        .find(|&(ti, pi)| {
            cluster.policies.tiers()[ti].policies[pi].rules(Direction::Ingress).is_some_and(|r| !r.is_empty())
        })?;
    let mut tiers = cluster.policies.tiers().to_vec();
    let rules = tiers[target.0].policies[target.1].ingress.as_mut()?;
    rules[0].destination.ports = vec![PortMatch { protocol: Some(Protocol::TCP), ports: Ports::Range(4242, 4242) }];
    let mut c = cluster.clone();
    c.policies = PolicySet::new(tiers);
    Some(c)
}
