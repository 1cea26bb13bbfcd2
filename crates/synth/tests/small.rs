mod common;

use std::collections::BTreeSet;

use common::{check_cluster, cidr_contains, parse_cidr};
use podwall_synth::{generate_small, generate_small_mixed};
use serde_json::{json, Value};

const SEEDS: u64 = 2000;

/// Every piece of Calico selector syntax the mixed generator must write.
const SELECTOR_SYNTAX: [&str; 18] = [
    " == ",
    " != ",
    " in {",
    " not in {",
    " notin {",
    "has(",
    "!has(",
    "all()",
    "global()",
    " && ",
    " || ",
    "!(",
    " starts with ",
    " ends with ",
    "projectcalico.org/namespace ==",
    "projectcalico.org/serviceaccount in",
    "projectcalico.org/name ==",
    "\\\"",
];

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

// ---- generate_small_mixed ----

#[test]
fn mixed_deterministic() {
    for seed in 0..50 {
        assert_eq!(generate_small_mixed(seed), generate_small_mixed(seed));
    }
    assert_ne!(generate_small_mixed(1), generate_small_mixed(2));
}

/// The Kubernetes part of a mixed cluster is as well-formed and as large as a plain small
/// cluster, and everything else lives in a declared namespace or none.
#[test]
fn mixed_kubernetes_part_well_formed() {
    for seed in 0..500 {
        let objects = generate_small_mixed(seed);
        let k8s: Vec<Value> = objects
            .iter()
            .filter(|o| o["apiVersion"] == "v1" || o["apiVersion"] == "networking.k8s.io/v1")
            .filter(|o| matches!(o["kind"].as_str(), Some("Namespace" | "Pod" | "NetworkPolicy")))
            .filter(|o| o["spec"].get("hostNetwork").is_none())
            .cloned()
            .collect();
        let c = check_cluster(&k8s).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!((2..=12).contains(&c.pods), "seed {seed}: {c:?}");
        assert!((1..=4).contains(&c.namespaces), "seed {seed}: {c:?}");
        let declared: BTreeSet<&str> = objects
            .iter()
            .filter(|o| o["kind"] == "Namespace")
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        for o in &objects {
            if let Some(ns) = o["metadata"]["namespace"].as_str() {
                assert!(declared.contains(ns), "seed {seed}: {ns} not declared: {o}");
            }
        }
        let names: Vec<(String, String, String)> = objects
            .iter()
            .map(|o| (o["kind"].to_string(), o["metadata"]["namespace"].to_string(), o["metadata"]["name"].to_string()))
            .collect();
        let unique: BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "seed {seed}: duplicate objects");
    }
}

/// Every Calico and AdminNetworkPolicy feature the property tests rely on shows up across
/// the seeds.
#[test]
fn mixed_edge_cases_covered() {
    let mut seen = BTreeSet::new();
    let mut note = |s: String| {
        seen.insert(s);
    };
    for seed in 0..SEEDS {
        let objects = generate_small_mixed(seed);
        let mut tier_orders = Vec::new();
        let mut policy_orders: BTreeSet<String> = BTreeSet::new();
        let mut priorities = BTreeSet::new();
        for o in &objects {
            let kind = o["kind"].as_str().unwrap_or_default();
            let spec = &o["spec"];
            note(format!("kind {kind}"));
            match kind {
                "Pod" if spec.get("hostNetwork").is_some() => note("host-network pod".into()),
                "Pod" if spec.get("serviceAccountName").is_some() => note("pod with a service account".into()),
                "Tier" => {
                    tier_orders.push(spec["order"].clone());
                    if spec.get("order").is_none() {
                        note("tier without order".into());
                    }
                    if spec["defaultAction"] == "Pass" {
                        note("tier defaultAction Pass".into());
                    }
                }
                "NetworkPolicy" | "GlobalNetworkPolicy" if o["apiVersion"] == "projectcalico.org/v3" => {
                    let tier = spec["tier"].as_str().unwrap_or("default").to_string();
                    match spec.get("order") {
                        None => note("calico policy without order".into()),
                        Some(order) if !policy_orders.insert(format!("{tier} {order}")) => {
                            note("calico policies with equal order in a tier".into())
                        }
                        Some(order) if *order == 1000 && tier == "default" => {
                            note("calico policy level with NetworkPolicies".into())
                        }
                        Some(_) => {}
                    }
                    if tier != "default" {
                        note("calico policy in a tier".into());
                    }
                    if o["metadata"]["name"].as_str().is_some_and(|n| n.starts_with(&format!("{tier}."))) {
                        note("tier-prefixed name".into());
                    }
                    for key in ["selector", "namespaceSelector", "serviceAccountSelector", "types"] {
                        if spec.get(key).is_some() {
                            note(format!("{kind} spec.{key}"));
                        }
                    }
                    if let Some(t) = spec.get("types") {
                        note(format!("types {t}"));
                    }
                    for dir in ["ingress", "egress"] {
                        for rule in rules(spec, dir) {
                            note(format!("action {}", rule["action"]));
                            for key in ["protocol", "notProtocol", "icmp", "ipVersion"] {
                                if let Some(v) = rule.get(key) {
                                    note(format!("rule {key}"));
                                    if v.is_number() && key.ends_with("rotocol") {
                                        note("protocol number".into());
                                    }
                                }
                            }
                            for side in ["source", "destination"] {
                                for (key, v) in rule[side].as_object().into_iter().flatten() {
                                    note(format!("entity {key}"));
                                    for p in v.as_array().into_iter().flatten().filter(|_| key.ends_with("orts")) {
                                        match p {
                                            Value::Number(_) => note("port number".into()),
                                            Value::String(s) if s.contains(':') => note("port range".into()),
                                            Value::String(s) if s.parse::<u16>().is_ok() => {
                                                note("port number as a string".into())
                                            }
                                            _ => note("named port".into()),
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" => {
                    if let Some(p) = spec.get("priority") {
                        if !priorities.insert(p.to_string()) {
                            note("ANPs sharing a priority".into());
                        }
                    }
                    for key in ["namespaces", "pods"] {
                        if spec["subject"].get(key).is_some() {
                            note(format!("subject {key}"));
                        }
                    }
                    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
                        for rule in rules(spec, dir) {
                            note(format!("{kind} action {}", rule["action"]));
                            for p in rule[peers].as_array().into_iter().flatten() {
                                for key in p.as_object().into_iter().flatten().map(|(k, _)| k) {
                                    note(format!("peer {key}"));
                                }
                            }
                            for p in rule["ports"].as_array().into_iter().flatten() {
                                for key in p.as_object().into_iter().flatten().map(|(k, _)| k) {
                                    note(format!("ANP port {key}"));
                                }
                            }
                        }
                    }
                }
                "ClusterNetworkPolicy" => {
                    let tier = spec["tier"].as_str().unwrap_or_default();
                    note(format!("CNP tier {tier}"));
                    for key in ["namespaces", "pods"] {
                        if spec["subject"].get(key).is_some() {
                            note(format!("CNP subject {key}"));
                        }
                    }
                    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
                        for rule in rules(spec, dir) {
                            note(format!("CNP {tier} action {}", rule["action"]));
                            for p in rule[peers].as_array().into_iter().flatten() {
                                for key in p.as_object().into_iter().flatten().map(|(k, _)| k) {
                                    note(format!("CNP peer {key}"));
                                }
                            }
                            for p in rule["protocols"].as_array().into_iter().flatten() {
                                for (key, v) in p.as_object().into_iter().flatten() {
                                    note(format!("CNP protocol {key}"));
                                    for (k, _) in v["destinationPort"].as_object().into_iter().flatten() {
                                        note(format!("CNP destinationPort {k}"));
                                    }
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let distinct: BTreeSet<String> = tier_orders.iter().map(Value::to_string).collect();
        if distinct.len() < tier_orders.len() {
            note("tiers with equal order".into());
        }
        // Selector syntax, over every Calico selector string.
        let text = serde_json::to_string(&objects).unwrap_or_default();
        for op in SELECTOR_SYNTAX {
            if text.contains(op) {
                note(format!("selector {op}"));
            }
        }
    }
    let mut expected: Vec<String> = [
        "kind Tier",
        "kind NetworkSet",
        "kind GlobalNetworkSet",
        "kind GlobalNetworkPolicy",
        "kind AdminNetworkPolicy",
        "kind BaselineAdminNetworkPolicy",
        "kind ServiceAccount",
        "kind Node",
        "kind Deployment",
        "host-network pod",
        "pod with a service account",
        "tier without order",
        "tier defaultAction Pass",
        "tiers with equal order",
        "calico policy without order",
        "calico policies with equal order in a tier",
        "calico policy level with NetworkPolicies",
        "calico policy in a tier",
        "tier-prefixed name",
        "NetworkPolicy spec.selector",
        "GlobalNetworkPolicy spec.namespaceSelector",
        "NetworkPolicy spec.serviceAccountSelector",
        "types [\"Ingress\"]",
        "types [\"Egress\"]",
        "types [\"Ingress\",\"Egress\"]",
        "action \"Allow\"",
        "action \"Deny\"",
        "action \"Pass\"",
        "action \"Log\"",
        "rule protocol",
        "rule notProtocol",
        "rule icmp",
        "rule ipVersion",
        "protocol number",
        "entity selector",
        "entity notSelector",
        "entity namespaceSelector",
        "entity nets",
        "entity notNets",
        "entity ports",
        "entity notPorts",
        "entity serviceAccounts",
        "port number",
        "port number as a string",
        "port range",
        "named port",
        "ANPs sharing a priority",
        "subject namespaces",
        "subject pods",
        "AdminNetworkPolicy action \"Allow\"",
        "AdminNetworkPolicy action \"Deny\"",
        "AdminNetworkPolicy action \"Pass\"",
        "BaselineAdminNetworkPolicy action \"Allow\"",
        "BaselineAdminNetworkPolicy action \"Deny\"",
        "peer namespaces",
        "peer pods",
        "peer networks",
        "peer nodes",
        "ANP port portNumber",
        "ANP port portRange",
        "ANP port namedPort",
        "kind ClusterNetworkPolicy",
        "CNP tier Admin",
        "CNP tier Baseline",
        "CNP subject namespaces",
        "CNP subject pods",
        "CNP Admin action \"Accept\"",
        "CNP Admin action \"Deny\"",
        "CNP Admin action \"Pass\"",
        "CNP Baseline action \"Accept\"",
        "CNP Baseline action \"Deny\"",
        "CNP Baseline action \"Pass\"",
        "CNP peer namespaces",
        "CNP peer pods",
        "CNP peer networks",
        "CNP peer nodes",
        "CNP protocol tcp",
        "CNP protocol udp",
        "CNP protocol sctp",
        "CNP protocol destinationNamedPort",
        "CNP destinationPort number",
        "CNP destinationPort range",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.extend(SELECTOR_SYNTAX.iter().map(|op| format!("selector {op}")));
    for e in &expected {
        assert!(seen.contains(e), "never generated: {e}");
    }
    // A BaselineAdminNetworkPolicy has no Pass and no priority.
    for seed in 0..SEEDS {
        for o in generate_small_mixed(seed).iter().filter(|o| o["kind"] == "BaselineAdminNetworkPolicy") {
            assert_eq!(o["metadata"]["name"], "default");
            assert!(o["spec"].get("priority").is_none());
            assert!(!o.to_string().contains("\"Pass\""), "seed {seed}: {o}");
        }
    }
}
