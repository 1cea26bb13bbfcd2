mod common;

use std::collections::BTreeSet;

use common::{check_cluster, cidr_contains, parse_cidr};
use podwall_synth::generate_small;
use serde_json::{json, Value};

const SEEDS: u64 = 2000;

#[test]
fn deterministic() {
    for seed in 0..50 {
        assert_eq!(generate_small(seed), generate_small(seed));
    }
    assert_ne!(generate_small(1), generate_small(2));
}

#[test]
fn sizes_and_well_formed() {
    for seed in 0..SEEDS {
        let objects = generate_small(seed);
        let c = check_cluster(&objects).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!((2..=12).contains(&c.pods), "seed {seed}: {c:?}");
        assert!((1..=4).contains(&c.namespaces), "seed {seed}: {c:?}");
        assert!(c.policies <= 8, "seed {seed}: {c:?}");
    }
}

fn pod_ips(objects: &[Value]) -> Vec<u32> {
    objects
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .map(|o| {
            let ip: std::net::Ipv4Addr = o["status"]["podIP"].as_str().unwrap().parse().unwrap();
            u32::from(ip)
        })
        .collect()
}

fn rules<'a>(spec: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    spec.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Every edge case the property tests rely on shows up across the seeds.
#[test]
fn edge_cases_covered() {
    let mut seen = BTreeSet::new();
    let mut note = |s: &'static str| {
        seen.insert(s);
    };
    for seed in 0..SEEDS {
        let objects = generate_small(seed);
        let ips = pod_ips(&objects);
        for pod in objects.iter().filter(|o| o["kind"] == "Pod") {
            let ports = pod["spec"]["containers"][0]["ports"].as_array();
            let has = |name: &str| ports.is_some_and(|ps| ps.iter().any(|p| p["name"] == name));
            if !has("http") {
                note("pod without http");
            }
            if has("dns") {
                note("pod with UDP port");
            }
            if ports.is_some_and(|ps| ps.iter().any(|p| p.get("protocol").is_none())) {
                note("container port without protocol");
            }
            if pod["metadata"]["labels"].get("tier").is_none() {
                note("pod without tier");
            }
        }
        for pol in objects.iter().filter(|o| o["kind"] == "NetworkPolicy") {
            let spec = &pol["spec"];
            if spec["podSelector"] == json!({}) {
                note("empty podSelector");
            }
            match spec.get("policyTypes") {
                None => {
                    note("missing policyTypes");
                    if spec["egress"].as_array().is_some_and(|r| !r.is_empty()) {
                        note("missing policyTypes with egress rules");
                    }
                }
                Some(t) if *t == json!(["Egress"]) => note("egress only"),
                Some(t) if *t == json!(["Ingress", "Egress"]) => note("both types"),
                Some(_) => {}
            }
            for (key, peers_key) in [("ingress", "from"), ("egress", "to")] {
                if spec.get(key) == Some(&json!([])) {
                    note("empty rule list");
                }
                for rule in rules(spec, key) {
                    match rule.get(peers_key) {
                        None => note("rule without peers"),
                        Some(p) if *p == json!([]) => note("rule with empty peers"),
                        Some(_) => {}
                    }
                    match rule.get("ports") {
                        None => note("rule without ports"),
                        Some(p) if *p == json!([]) => note("rule with empty ports"),
                        Some(_) => {}
                    }
                    for port in rule["ports"].as_array().into_iter().flatten() {
                        if port.get("endPort").is_some() {
                            note("endPort");
                        }
                        if port.get("port").is_none() && port.get("protocol").is_some() {
                            note("protocol-only port");
                        }
                        if port["port"].is_string() {
                            note("named port");
                        }
                        if port["protocol"] == "UDP" {
                            note("UDP policy port");
                        }
                    }
                    for peer in rule[peers_key].as_array().into_iter().flatten() {
                        if peer.get("namespaceSelector") == Some(&json!({})) {
                            note("namespaceSelector {}");
                        }
                        if peer.get("namespaceSelector").is_some() && peer.get("podSelector").is_some() {
                            note("pod and namespace selector in one peer");
                        }
                        if let Some(b) = peer.get("ipBlock") {
                            let cidr = parse_cidr(b["cidr"].as_str().unwrap()).unwrap();
                            let excepts: Vec<(u32, u8)> = b["except"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|e| parse_cidr(e.as_str().unwrap()).unwrap())
                                .collect();
                            let excepted = |ip: u32| excepts.iter().any(|&e| cidr_contains(e, ip));
                            let allowed = ips.iter().any(|&ip| cidr_contains(cidr, ip) && !excepted(ip));
                            let carved = ips.iter().any(|&ip| cidr_contains(cidr, ip) && excepted(ip));
                            if allowed && carved {
                                note("ipBlock admitting some pods, excepting others");
                            }
                        }
                    }
                    let text = rule.to_string();
                    for op in ["In", "NotIn", "Exists", "DoesNotExist"] {
                        if text.contains(&format!("\"operator\":\"{op}\"")) {
                            note(op);
                        }
                    }
                }
            }
        }
    }
    let expected = [
        "pod without http",
        "pod with UDP port",
        "container port without protocol",
        "pod without tier",
        "empty podSelector",
        "missing policyTypes",
        "missing policyTypes with egress rules",
        "egress only",
        "both types",
        "empty rule list",
        "rule without peers",
        "rule with empty peers",
        "rule without ports",
        "rule with empty ports",
        "endPort",
        "protocol-only port",
        "named port",
        "UDP policy port",
        "namespaceSelector {}",
        "pod and namespace selector in one peer",
        "ipBlock admitting some pods, excepting others",
        "In",
        "NotIn",
        "Exists",
        "DoesNotExist",
    ];
    for e in expected {
        assert!(seen.contains(e), "never generated: {e}");
    }
}

/// The checker itself rejects what it should, so the tests above mean something.
#[test]
fn checker_rejects_malformed_policies() {
    let base = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": "p", "namespace": "ns-0000" },
        "spec": { "podSelector": {} },
    });
    assert!(common::check_policy(&base).is_ok());
    let bad_specs = [
        json!({}),
        json!({ "podSelector": {}, "policyTypes": ["Sideways"] }),
        json!({ "podSelector": { "matchExpressions": [{ "key": "a", "operator": "In" }] } }),
        json!({ "podSelector": { "matchExpressions": [{ "key": "a", "operator": "Exists", "values": ["x"] }] } }),
        json!({ "podSelector": { "matchExpressions": [{ "key": "a", "operator": "Gt", "values": ["1"] }] } }),
        json!({ "podSelector": {}, "ingress": [{ "ports": [{ "port": 0 }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "ports": [{ "port": 70000 }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "ports": [{ "port": 90, "endPort": 80 }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "ports": [{ "port": "http", "endPort": 80 }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "ports": [{ "endPort": 80 }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "ports": [{ "protocol": "ICMP" }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.1/8" } }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.0/33" } }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"] } }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"] } }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.0/8" }, "podSelector": {} }] }] }),
        json!({ "podSelector": {}, "ingress": [{ "from": [{}] }] }),
        json!({ "podSelector": {}, "policyTypes": ["Egress"], "ingress": [] }),
    ];
    for spec in bad_specs {
        let mut p = base.clone();
        p["spec"] = spec.clone();
        assert!(common::check_policy(&p).is_err(), "accepted {spec}");
    }
}
