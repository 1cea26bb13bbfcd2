//! Checks that generated objects are well-formed Kubernetes objects.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

use serde_json::Value;

pub type R = Result<(), String>;

fn err<T>(msg: impl Into<String>) -> Result<T, String> {
    Err(msg.into())
}

/// Keys of `v` (an object) must all be in `allowed`.
fn keys_in(v: &Value, allowed: &[&str], what: &str) -> R {
    let obj = v.as_object().ok_or(format!("{what}: not an object: {v}"))?;
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return err(format!("{what}: unexpected key {k:?} in {v}"));
        }
    }
    Ok(())
}

fn dns_label_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

fn name_part_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

pub fn label_key_ok(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => dns_label_ok(prefix, 253) && name_part_ok(name),
        None => name_part_ok(k),
    }
}

pub fn label_value_ok(v: &str) -> bool {
    v.is_empty() || name_part_ok(v)
}

/// IANA_SVC_NAME: at most 15 lowercase alphanumerics or '-', at least one letter,
/// no leading/trailing/double '-'.
pub fn port_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn labels_ok(v: &Value, what: &str) -> R {
    let obj = v.as_object().ok_or(format!("{what}: labels not an object"))?;
    for (k, val) in obj {
        let s = val.as_str().ok_or(format!("{what}: label {k} not a string"))?;
        if !label_key_ok(k) || !label_value_ok(s) {
            return err(format!("{what}: bad label {k}={s}"));
        }
    }
    Ok(())
}

pub fn check_selector(v: &Value, what: &str) -> R {
    keys_in(v, &["matchLabels", "matchExpressions"], what)?;
    if let Some(ml) = v.get("matchLabels") {
        labels_ok(ml, what)?;
    }
    if let Some(me) = v.get("matchExpressions") {
        let arr = me.as_array().ok_or(format!("{what}: matchExpressions not an array"))?;
        for e in arr {
            keys_in(e, &["key", "operator", "values"], what)?;
            let key = e["key"].as_str().ok_or(format!("{what}: no key"))?;
            if !label_key_ok(key) {
                return err(format!("{what}: bad key {key}"));
            }
            let values: Vec<&str> = match e.get("values") {
                None => Vec::new(),
                Some(vs) => vs
                    .as_array()
                    .ok_or(format!("{what}: values not an array"))?
                    .iter()
                    .map(|x| x.as_str().ok_or(format!("{what}: value not a string")))
                    .collect::<Result<_, _>>()?,
            };
            for val in &values {
                if !label_value_ok(val) {
                    return err(format!("{what}: bad value {val}"));
                }
            }
            match e["operator"].as_str() {
                Some("In") | Some("NotIn") if !values.is_empty() => {}
                Some("Exists") | Some("DoesNotExist") if values.is_empty() => {}
                _ => return err(format!("{what}: bad expression {e}")),
            }
        }
    }
    Ok(())
}

/// Parses a canonical IPv4 CIDR.
pub fn parse_cidr(s: &str) -> Result<(u32, u8), String> {
    let (a, l) = s.split_once('/').ok_or(format!("no '/' in {s}"))?;
    let addr: Ipv4Addr = a.parse().map_err(|_| format!("bad address in {s}"))?;
    if l.len() > 1 && l.starts_with('0') {
        return err(format!("bad prefix in {s}"));
    }
    let len: u8 = l.parse().map_err(|_| format!("bad prefix in {s}"))?;
    if len > 32 {
        return err(format!("prefix too long in {s}"));
    }
    let addr = u32::from(addr);
    if addr & !mask(len) != 0 {
        return err(format!("host bits set in {s}"));
    }
    Ok((addr, len))
}

pub fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

pub fn cidr_contains(net: (u32, u8), ip: u32) -> bool {
    ip & mask(net.1) == net.0
}

fn check_ip_block(v: &Value) -> R {
    keys_in(v, &["cidr", "except"], "ipBlock")?;
    let cidr = parse_cidr(v["cidr"].as_str().ok_or("ipBlock: no cidr")?)?;
    if let Some(ex) = v.get("except") {
        for e in ex.as_array().ok_or("except not an array")? {
            let e = parse_cidr(e.as_str().ok_or("except entry not a string")?)?;
            if e.1 <= cidr.1 || !cidr_contains(cidr, e.0) {
                return err(format!("except {e:?} not strictly inside {v}"));
            }
        }
    }
    Ok(())
}

fn check_peer(v: &Value) -> R {
    keys_in(v, &["podSelector", "namespaceSelector", "ipBlock"], "peer")?;
    let obj = v.as_object().ok_or("peer not an object")?;
    if obj.is_empty() {
        return err("empty peer");
    }
    if let Some(b) = obj.get("ipBlock") {
        if obj.len() != 1 {
            return err(format!("ipBlock with selectors: {v}"));
        }
        return check_ip_block(b);
    }
    if let Some(s) = obj.get("podSelector") {
        check_selector(s, "peer podSelector")?;
    }
    if let Some(s) = obj.get("namespaceSelector") {
        check_selector(s, "peer namespaceSelector")?;
    }
    Ok(())
}

fn check_port(v: &Value) -> R {
    keys_in(v, &["protocol", "port", "endPort"], "port")?;
    if let Some(p) = v.get("protocol") {
        match p.as_str() {
            Some("TCP") | Some("UDP") | Some("SCTP") => {}
            _ => return err(format!("bad protocol in {v}")),
        }
    }
    let port = v.get("port");
    match port {
        None => {}
        Some(Value::Number(n)) => {
            let n = n.as_u64().ok_or(format!("bad port {v}"))?;
            if !(1..=65535).contains(&n) {
                return err(format!("port out of range: {v}"));
            }
        }
        Some(Value::String(s)) if !port_name_ok(s) => {
            return err(format!("bad port name: {v}"));
        }
        Some(Value::String(_)) => {}
        Some(_) => return err(format!("bad port: {v}")),
    }
    if let Some(e) = v.get("endPort") {
        let e = e.as_u64().ok_or(format!("bad endPort {v}"))?;
        let p = port.and_then(Value::as_u64).ok_or(format!("endPort without numeric port: {v}"))?;
        if e < p || e > 65535 {
            return err(format!("bad endPort: {v}"));
        }
    }
    Ok(())
}

fn check_rules(v: &Value, peers_key: &str) -> R {
    for rule in v.as_array().ok_or("rules not an array")? {
        keys_in(rule, &[peers_key, "ports"], "rule")?;
        if let Some(peers) = rule.get(peers_key) {
            for p in peers.as_array().ok_or("peers not an array")? {
                check_peer(p)?;
            }
        }
        if let Some(ports) = rule.get("ports") {
            for p in ports.as_array().ok_or("ports not an array")? {
                check_port(p)?;
            }
        }
    }
    Ok(())
}

pub fn check_policy(v: &Value) -> R {
    keys_in(v, &["apiVersion", "kind", "metadata", "spec"], "policy")?;
    if v["apiVersion"] != "networking.k8s.io/v1" || v["kind"] != "NetworkPolicy" {
        return err(format!("not a v1 NetworkPolicy: {v}"));
    }
    check_meta(v, true)?;
    let spec = &v["spec"];
    keys_in(spec, &["podSelector", "policyTypes", "ingress", "egress"], "spec")?;
    check_selector(spec.get("podSelector").ok_or("no podSelector")?, "podSelector")?;
    if let Some(t) = spec.get("policyTypes") {
        let t: Vec<&str> = t.as_array().ok_or("policyTypes not an array")?.iter().filter_map(Value::as_str).collect();
        let ok = matches!(t.as_slice(), ["Ingress"] | ["Egress"] | ["Ingress", "Egress"] | ["Egress", "Ingress"]);
        if !ok {
            return err(format!("bad policyTypes {t:?}"));
        }
        // Rules of a direction the policy does not have would be ignored;
        // the generators never emit them.
        if spec.get("ingress").is_some() && !t.contains(&"Ingress") {
            return err("ingress rules without Ingress type");
        }
        if spec.get("egress").is_some() && !t.contains(&"Egress") {
            return err("egress rules without Egress type");
        }
    }
    if let Some(r) = spec.get("ingress") {
        check_rules(r, "from")?;
    }
    if let Some(r) = spec.get("egress") {
        check_rules(r, "to")?;
    }
    Ok(())
}

fn check_meta(v: &Value, namespaced: bool) -> R {
    let m = &v["metadata"];
    let name = m["name"].as_str().ok_or(format!("no name: {v}"))?;
    if !dns_label_ok(name, 253) {
        return err(format!("bad name {name}"));
    }
    if namespaced {
        let ns = m["namespace"].as_str().ok_or(format!("no namespace: {v}"))?;
        if !dns_label_ok(ns, 63) || ns.contains('.') {
            return err(format!("bad namespace {ns}"));
        }
    } else if m.get("namespace").is_some() {
        return err(format!("cluster object with a namespace: {v}"));
    }
    if let Some(l) = m.get("labels") {
        labels_ok(l, name)?;
    }
    Ok(())
}

pub fn check_namespace(v: &Value) -> R {
    if v["apiVersion"] != "v1" {
        return err("Namespace not v1");
    }
    check_meta(v, false)?;
    let name = v["metadata"]["name"].as_str().unwrap_or_default();
    if v["metadata"]["labels"]["kubernetes.io/metadata.name"] != name {
        return err(format!("namespace {name} lacks its name label"));
    }
    Ok(())
}

/// Checks a pod; returns its IP.
pub fn check_pod(v: &Value) -> Result<std::net::IpAddr, String> {
    if v["apiVersion"] != "v1" {
        return err("Pod not v1");
    }
    check_meta(v, true)?;
    if v["spec"].get("hostNetwork").is_some() {
        return err("hostNetwork pod");
    }
    let containers = v["spec"]["containers"].as_array().ok_or("no containers")?;
    if containers.is_empty() {
        return err("no containers");
    }
    let mut names = HashSet::new();
    for c in containers {
        for p in c.get("ports").map(|p| p.as_array().cloned().unwrap_or_default()).unwrap_or_default() {
            keys_in(&p, &["name", "containerPort", "protocol"], "containerPort")?;
            let n = p["containerPort"].as_u64().ok_or("no containerPort")?;
            if !(1..=65535).contains(&n) {
                return err(format!("containerPort out of range {p}"));
            }
            if let Some(proto) = p.get("protocol") {
                if !matches!(proto.as_str(), Some("TCP" | "UDP" | "SCTP")) {
                    return err(format!("bad protocol {p}"));
                }
            }
            if let Some(name) = p.get("name") {
                let name = name.as_str().ok_or("port name not a string")?;
                if !port_name_ok(name) || !names.insert(name.to_string()) {
                    return err(format!("bad or duplicate port name {name}"));
                }
            }
        }
    }
    let ip: std::net::IpAddr = v["status"]["podIP"].as_str().ok_or("no podIP")?.parse().map_err(|_| "bad podIP")?;
    // As the API server has it: podIPs[0] is podIP, at most one address per family.
    let all = v["status"]["podIPs"].as_array().ok_or("no podIPs")?;
    if all.first().map(|p| &p["ip"]) != Some(&v["status"]["podIP"]) {
        return err("podIPs disagrees with podIP");
    }
    let mut families = HashSet::new();
    for p in all {
        let a: std::net::IpAddr =
            p["ip"].as_str().ok_or("podIPs entry without ip")?.parse().map_err(|_| "bad podIPs")?;
        let ok = match a {
            std::net::IpAddr::V4(v4) => cidr_contains((0x0A00_0000, 8), u32::from(v4)),
            std::net::IpAddr::V6(v6) => v6.segments()[..4] == [0xfd00, 0, 0, 0],
        };
        if !ok {
            return err(format!("pod address outside 10.0.0.0/8 and fd00::/64: {a}"));
        }
        if !families.insert(a.is_ipv6()) {
            return err("two podIPs of one family");
        }
    }
    Ok(ip)
}

/// Counts of objects by kind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
}

/// Checks every object and the cluster as a whole: unique names and IPs,
/// every namespace declared.
pub fn check_cluster(objects: &[Value]) -> Result<Counts, String> {
    let mut counts = Counts::default();
    let mut declared = HashSet::new();
    let mut names: HashSet<(String, String, String)> = HashSet::new();
    let mut ips = HashSet::new();
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let ns = o["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
        if !names.insert((kind.clone(), ns, name.clone())) {
            return err(format!("duplicate {kind} {name}"));
        }
        match kind.as_str() {
            "Namespace" => {
                check_namespace(o)?;
                declared.insert(name);
                counts.namespaces += 1;
            }
            "Pod" => {
                let ip = check_pod(o)?;
                if !ips.insert(ip) {
                    return err(format!("duplicate IP {ip}"));
                }
                counts.pods += 1;
            }
            "NetworkPolicy" => {
                check_policy(o)?;
                counts.policies += 1;
            }
            other => return err(format!("unexpected kind {other}")),
        }
    }
    for o in objects {
        if let Some(ns) = o["metadata"]["namespace"].as_str() {
            if !declared.contains(ns) {
                return err(format!("namespace {ns} not declared"));
            }
        }
    }
    Ok(counts)
}

/// Share of pods whose full label set (and namespace) is shared by another pod.
pub fn replica_share(objects: &[Value]) -> f64 {
    let mut classes: HashMap<(String, BTreeMap<String, String>), usize> = HashMap::new();
    let mut pods = 0;
    for o in objects.iter().filter(|o| o["kind"] == "Pod") {
        pods += 1;
        let ns = o["metadata"]["namespace"].as_str().unwrap().to_string();
        let labels: BTreeMap<String, String> = serde_json::from_value(o["metadata"]["labels"].clone()).unwrap();
        *classes.entry((ns, labels)).or_default() += 1;
    }
    let shared: usize = classes.values().filter(|&&n| n > 1).sum();
    shared as f64 / pods.max(1) as f64
}
