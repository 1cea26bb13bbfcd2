//! The small generator with Calico and AdminNetworkPolicy objects behind
//! [`crate::generate_small_mixed`]: a [`crate::generate_small`] cluster, then service
//! accounts, nodes, a host-network pod and a workload template now and then, tiers,
//! network sets, Calico policies, AdminNetworkPolicies and a baseline policy, all over
//! the same tiny vocabulary so that selectors often match.

use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::crd;
use crate::k8s::{self, CPort};
use crate::small::{self, Ctx, NS_VOCAB, POD_VOCAB, PORT_NAMES, PORT_NUMBERS, PORT_RANGES, SMALL_POOL};

/// Service accounts pods may run as (`default` is what a pod without one gets).
const SERVICE_ACCOUNTS: [&str; 3] = ["sa-a", "sa-b", "default"];

/// ServiceAccount label vocabulary (read through `pcsa.` by service account selectors).
const SA_VOCAB: [(&str, &[&str]); 1] = [("role", &["front", "back"])];

/// Network set label vocabulary; `app` is shared with pods, so a pod selector can pick
/// network sets too.
const SET_VOCAB: [(&str, &[&str]); 2] = [("kind", &["blocked", "trusted"]), ("app", &["a", "b"])];

/// Node label vocabulary.
const NODE_VOCAB: [(&str, &[&str]); 1] = [("zone", &["z1", "z2"])];

/// The nodes: name, zone and address (outside the pod pool). The host-network pod has
/// the first node's address.
const NODES: [(&str, &str, &str); 2] = [("node-1", "z1", "10.2.0.1"), ("node-2", "z2", "10.2.0.2")];

/// Calico tiers a cluster may declare: name and order. `early` ties with `security`
/// (the name breaks the tie), `mid` sits between the AdminNetworkPolicy tier (1,000) and
/// the default tier (1,000,000), `after-default` between the default tier and the
/// baseline tier (10,000,000), and `late` has no order (it sorts last).
const TIERS: [(&str, Option<f64>); 6] = [
    ("security", Some(100.0)),
    ("early", Some(100.0)),
    ("platform", Some(200.0)),
    ("mid", Some(5000.0)),
    ("after-default", Some(2_000_000.0)),
    ("late", None),
];

/// Calico policy orders: ties among themselves and with Kubernetes NetworkPolicies (1000).
const ORDERS: [f64; 6] = [10.0, 100.0, 100.0, 500.5, 1000.0, 1500.0];

/// AdminNetworkPolicy priorities (ties are possible, and warned about).
const PRIORITIES: [i64; 7] = [0, 1, 5, 10, 20, 50, 1000];

/// ClusterNetworkPolicies draw from a random stream of their own, so that every other
/// object of a seed is what it was before they were generated.
const CLUSTER_POLICY_STREAM: u64 = 0x636e_705f_7631_6132;

/// Generates one mixed small cluster; see [`crate::generate_small_mixed`].
pub(crate) fn generate(seed: u64) -> Vec<Value> {
    let (mut out, ctx) = generate_without_cluster_policies(seed);
    let mut rng = SmallRng::seed_from_u64(seed ^ CLUSTER_POLICY_STREAM);
    out.extend(cluster_policies(&mut rng, &ctx));
    out
}

/// Everything but the ClusterNetworkPolicies (what a seed gave before there were any).
pub(crate) fn generate_without_cluster_policies(seed: u64) -> (Vec<Value>, Ctx) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let rng = &mut rng;
    let (mut out, ctx) = small::generate_with(rng);

    // Pods run as various service accounts; some accounts exist as objects with labels.
    // Some clusters hold IPv6-only and dual-stack pods, so that `ipVersion` rules and
    // IPv6 ranges meet packets of both families.
    let ipv6 = rng.random_bool(0.4);
    for (i, pod) in out.iter_mut().filter(|o| o["kind"] == "Pod").enumerate() {
        if ipv6 {
            let v6 = format!("fd00::1:{:x}", i + 1);
            match rng.random_range(0..3) {
                0 => {
                    pod["status"]["podIP"] = v6.clone().into();
                    pod["status"]["podIPs"] = json!([{ "ip": v6 }]);
                }
                1 => {
                    let v4 = pod["status"]["podIP"].clone();
                    pod["status"]["podIPs"] = json!([{ "ip": v4 }, { "ip": v6 }]);
                }
                _ => {}
            }
        }
        if rng.random_bool(0.4) {
            let sa = SERVICE_ACCOUNTS.choose(rng).copied().unwrap_or("default");
            pod["spec"]["serviceAccountName"] = sa.into();
        }
    }
    for ns in &ctx.ns_names {
        for (sa, p) in [("sa-a", 0.5), ("sa-b", 0.25)] {
            if rng.random_bool(p) {
                out.push(crd::service_account(sa, ns, random_labels(rng, &SA_VOCAB, 0.8)));
            }
        }
    }
    if rng.random_bool(0.5) {
        for (name, zone, addr) in NODES {
            out.push(crd::node(name, k8s::labels(&[("zone", zone)]), addr));
        }
    }
    // A host-network pod: it has its node's address, no policy applies to it and no
    // selector picks it, whatever its labels.
    if rng.random_bool(0.25) {
        let ns = random_ns(rng, &ctx);
        let labels = random_labels(rng, &POD_VOCAB, 0.7);
        let containers = json!([k8s::container("agent", "example.com/agent:1", &[CPort::named("http", 80, "TCP")])]);
        let mut pod = k8s::pod("host-agent".into(), ns, labels, containers, 0);
        pod["spec"]["hostNetwork"] = true.into();
        pod["status"]["podIP"] = NODES[0].2.into();
        pod["status"]["podIPs"] = json!([{ "ip": NODES[0].2 }]);
        out.push(pod);
    }
    // A workload template: an endpoint without an address.
    if rng.random_bool(0.2) {
        let ns = random_ns(rng, &ctx);
        let labels = random_labels(rng, &POD_VOCAB, 0.7);
        let ports = [CPort::named("http", 8080, "TCP"), CPort::named("metrics", 9090, "TCP")];
        let mut spec = Map::new();
        spec.insert("containers".into(), json!([k8s::container("main", "example.com/app:1", &ports)]));
        if rng.random_bool(0.5) {
            spec.insert("serviceAccountName".into(), "sa-a".into());
        }
        out.push(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "deploy", "namespace": ns },
            "spec": {
                "selector": { "matchLabels": labels.clone() },
                "template": { "metadata": { "labels": labels }, "spec": spec },
            },
        }));
    }

    // Tiers.
    let mut tiers: Vec<&str> = Vec::new();
    for _ in 0..rng.random_range(0..=3) {
        let (name, order) = TIERS.choose(rng).copied().unwrap_or(TIERS[0]);
        if tiers.contains(&name) {
            continue;
        }
        tiers.push(name);
        let action = match rng.random_range(0..100) {
            0..45 => None,
            45..60 => Some("Deny"),
            _ => Some("Pass"),
        };
        out.push(crd::tier(name, order, action));
    }
    if rng.random_bool(0.1) {
        // As a dump of a Calico cluster has it.
        out.push(crd::tier("default", Some(1_000_000.0), None));
    }

    // Network sets.
    for i in 0..rng.random_range(0..=3) {
        let labels = random_labels(rng, &SET_VOCAB, 0.7);
        let nets: Vec<String> = (0..rng.random_range(1..=2)).map(|_| cidr(rng)).collect();
        if rng.random_bool(0.5) {
            out.push(crd::network_set(&format!("gset-{i}"), None, labels, &nets));
        } else {
            let ns = random_ns(rng, &ctx);
            out.push(crd::network_set(&format!("set-{i}"), Some(ns), labels, &nets));
        }
    }

    // Calico policies.
    for i in 0..rng.random_range(1..=6) {
        out.push(calico_policy(rng, &ctx, &tiers, i));
    }

    // AdminNetworkPolicies and the baseline.
    for i in 0..rng.random_range(0..=3) {
        let priority = PRIORITIES.choose(rng).copied().unwrap_or(10);
        out.push(crd::admin_policy(&format!("anp-{i}"), admin_spec(rng, &ctx, Some(priority))));
    }
    if rng.random_bool(0.4) {
        out.push(crd::baseline_policy(admin_spec(rng, &ctx, None)));
    }
    (out, ctx)
}

/// In half the clusters, 1-3 ClusterNetworkPolicies (v1alpha2), in the Admin tier (60%)
/// or the Baseline tier, with priorities that may tie among themselves.
fn cluster_policies(rng: &mut SmallRng, ctx: &Ctx) -> Vec<Value> {
    if !rng.random_bool(0.5) {
        return Vec::new();
    }
    (0..rng.random_range(1..=3))
        .map(|i| {
            let tier = if rng.random_bool(0.6) { "Admin" } else { "Baseline" };
            crd::cluster_policy(&format!("cnp-{i}"), cluster_spec(rng, ctx, tier))
        })
        .collect()
}

/// One `protocols` entry of a ClusterNetworkPolicy: `tcp`, `udp` or `sctp` with a
/// `destinationPort` number or range (`start` < `end`), or, when `named`, a
/// `destinationNamedPort`.
fn cnp_protocol(rng: &mut SmallRng, named: bool) -> Value {
    let key = match rng.random_range(0..100) {
        0..50 => "tcp",
        50..85 => "udp",
        _ => "sctp",
    };
    match rng.random_range(0..100) {
        0..45 => {
            let n = PORT_NUMBERS.choose(rng).copied().unwrap_or(80);
            json!({ key: { "destinationPort": { "number": n } } })
        }
        45..75 => {
            let (start, end) = PORT_RANGES
                .iter()
                .filter(|(a, b)| a < b)
                .copied()
                .collect::<Vec<_>>()
                .choose(rng)
                .copied()
                .unwrap_or((80, 8080));
            json!({ key: { "destinationPort": { "range": { "start": start, "end": end } } } })
        }
        _ if named => json!({ "destinationNamedPort": PORT_NAMES.choose(rng).copied().unwrap_or("http") }),
        _ => json!({ key: { "destinationPort": { "number": 53 } } }),
    }
}

/// The spec of a ClusterNetworkPolicy of `tier`: a subject, and rules Accept, Deny or
/// Pass (Pass in both tiers) with the v1alpha1 peers and v1alpha2 `protocols`.
fn cluster_spec(rng: &mut SmallRng, ctx: &Ctx, tier: &str) -> Value {
    let mut spec = Map::new();
    spec.insert("tier".into(), tier.into());
    spec.insert("priority".into(), PRIORITIES.choose(rng).copied().unwrap_or(10).into());
    subject_and_rules(rng, ctx, spec, &["Accept", "Deny", "Pass"], ("protocols", cnp_protocol))
}

fn random_ns<'a>(rng: &mut SmallRng, ctx: &'a Ctx) -> &'a str {
    ctx.ns_names.choose(rng).map(String::as_str).unwrap_or("ns-0000")
}

/// A label map drawing each key of `vocab` with probability `p`.
fn random_labels(rng: &mut SmallRng, vocab: &[(&str, &[&str])], p: f64) -> Value {
    let mut labels = Vec::new();
    for (key, values) in vocab {
        if rng.random_bool(p) {
            labels.push((*key, values.choose(rng).copied().unwrap_or("x")));
        }
    }
    k8s::labels(&labels)
}

/// A canonical CIDR: everything, the pod network, the node range, a range without
/// any endpoint (IPv4 or IPv6), or a small block cutting through the pod addresses.
fn cidr(rng: &mut SmallRng) -> String {
    let base = k8s::POD_BASE;
    match rng.random_range(0..100) {
        0..6 => "0.0.0.0/0".into(),
        6..14 => "10.0.0.0/8".into(),
        14..20 => "10.1.0.0/16".into(),
        20..26 => "192.168.0.0/16".into(),
        26..28 => "fd00::/64".into(),
        28..29 => format!("fd00::1:0/{}", rng.random_range(124..=127)),
        29..36 => "10.2.0.0/24".into(),
        36..40 => "10.2.0.2/32".into(),
        40..55 => k8s::cidr(base + rng.random_range(0..SMALL_POOL), rng.random_range(28..=30)),
        _ => k8s::cidr(base + rng.random_range(1..=SMALL_POOL), rng.random_range(31..=32)),
    }
}

fn quoted(rng: &mut SmallRng, v: &str) -> String {
    if rng.random_bool(0.2) {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}

/// `{'a', 'b'}` with 1–2 values of `values`, sometimes one no object carries.
fn set_literal(rng: &mut SmallRng, values: &[&str]) -> String {
    let n = rng.random_range(1..=2.min(values.len()));
    let mut vals: Vec<String> = values.choose_multiple(rng, n).map(|v| quoted(rng, v)).collect();
    if rng.random_bool(0.15) {
        vals.push("'zz'".into());
    }
    format!("{{{}}}", vals.join(", "))
}

/// One comparison on a key of `vocab`, in any of the Calico selector operators.
fn comparison(rng: &mut SmallRng, vocab: &[(&str, &[&str])]) -> String {
    let (k, values) = vocab.choose(rng).copied().unwrap_or(("app", &["a"]));
    let v = values.choose(rng).copied().unwrap_or("x");
    match rng.random_range(0..100) {
        0..30 => format!("{k} == {}", quoted(rng, v)),
        30..42 => format!("{k} != {}", quoted(rng, v)),
        42..60 => format!("{k} in {}", set_literal(rng, values)),
        60..68 => format!("{k} not in {}", set_literal(rng, values)),
        68..72 => format!("{k} notin {}", set_literal(rng, values)),
        72..84 => format!("has({k})"),
        84..92 => format!("!has({k})"),
        92..96 => format!("{k} starts with {}", quoted(rng, &v[..1])),
        _ => format!("{k} ends with {}", quoted(rng, &v[v.len() - 1..])),
    }
}

/// An atom of a selector on endpoints (and network sets).
fn endpoint_atom(rng: &mut SmallRng, ctx: &Ctx) -> String {
    match rng.random_range(0..100) {
        0..62 => comparison(rng, &POD_VOCAB),
        62..70 => comparison(rng, &SET_VOCAB),
        70..74 => "all()".into(),
        74..84 => {
            let ns = random_ns(rng, ctx).to_string();
            format!("projectcalico.org/namespace == {}", quoted(rng, &ns))
        }
        84..92 => format!("projectcalico.org/serviceaccount in {}", set_literal(rng, &SERVICE_ACCOUNTS)),
        92..95 => "projectcalico.org/orchestrator == 'k8s'".into(),
        _ => "has(projectcalico.org/namespace)".into(),
    }
}

/// An atom of a namespace selector (read on namespace labels); `global()` only where
/// Calico allows it (an entity rule's namespaceSelector).
fn namespace_atom(rng: &mut SmallRng, ctx: &Ctx, global: bool) -> String {
    match rng.random_range(0..100) {
        0..50 => comparison(rng, &NS_VOCAB),
        50..62 => {
            let ns = random_ns(rng, ctx).to_string();
            format!("kubernetes.io/metadata.name == {}", quoted(rng, &ns))
        }
        62..70 => {
            let ns = random_ns(rng, ctx).to_string();
            format!("projectcalico.org/name == {}", quoted(rng, &ns))
        }
        70..88 => "all()".into(),
        _ if global => "global()".into(),
        _ => "has(team)".into(),
    }
}

fn service_account_atom(rng: &mut SmallRng, _ctx: &Ctx) -> String {
    if rng.random_bool(0.15) {
        "all()".into()
    } else {
        comparison(rng, &SA_VOCAB)
    }
}

/// A Calico selector: atoms joined by `&&` and `||`, sometimes parenthesised or negated.
fn expr(rng: &mut SmallRng, ctx: &Ctx, atom: &dyn Fn(&mut SmallRng, &Ctx) -> String, depth: u32) -> String {
    if depth == 0 || rng.random_bool(0.5) {
        return atom(rng, ctx);
    }
    let a = expr(rng, ctx, atom, depth - 1);
    let b = expr(rng, ctx, atom, depth - 1);
    let op = if rng.random_bool(0.6) { "&&" } else { "||" };
    match rng.random_range(0..10) {
        // Unparenthesised: `&&` binds tighter than `||` in whatever comes out.
        0..6 => format!("{a} {op} {b}"),
        6..8 => format!("({a}) {op} ({b})"),
        _ => format!("!({a} {op} {b})"),
    }
}

fn ns_atom_global(rng: &mut SmallRng, ctx: &Ctx) -> String {
    namespace_atom(rng, ctx, true)
}

fn ns_atom_plain(rng: &mut SmallRng, ctx: &Ctx) -> String {
    namespace_atom(rng, ctx, false)
}

/// A Calico port: a number (sometimes written as a string), a `lo:hi` range or a name.
fn calico_port(rng: &mut SmallRng) -> Value {
    match rng.random_range(0..100) {
        0..30 => PORT_NUMBERS.choose(rng).copied().unwrap_or(80).into(),
        30..38 => PORT_NUMBERS.choose(rng).copied().unwrap_or(80).to_string().into(),
        38..62 => {
            let (a, b) = PORT_RANGES.choose(rng).copied().unwrap_or((80, 8080));
            format!("{a}:{b}").into()
        }
        _ => PORT_NAMES.choose(rng).copied().unwrap_or("http").into(),
    }
}

fn port_list(rng: &mut SmallRng) -> Value {
    Value::Array((0..rng.random_range(1..=2)).map(|_| calico_port(rng)).collect())
}

/// An entity rule (a rule's source or destination).
fn entity(rng: &mut SmallRng, ctx: &Ctx, ports: bool) -> Value {
    let mut m = Map::new();
    if rng.random_bool(0.45) {
        m.insert("selector".into(), expr(rng, ctx, &endpoint_atom, 2).into());
    }
    if rng.random_bool(0.15) {
        m.insert("notSelector".into(), expr(rng, ctx, &endpoint_atom, 1).into());
    }
    if rng.random_bool(0.3) {
        m.insert("namespaceSelector".into(), expr(rng, ctx, &ns_atom_global, 1).into());
    }
    if rng.random_bool(0.2) {
        m.insert("nets".into(), (0..rng.random_range(1..=2)).map(|_| cidr(rng)).collect());
    }
    if rng.random_bool(0.15) {
        m.insert("notNets".into(), (0..rng.random_range(1..=2)).map(|_| cidr(rng)).collect());
    }
    if rng.random_bool(0.08) {
        let mut sa = Map::new();
        if rng.random_bool(0.7) {
            let n = rng.random_range(1..=2);
            let names: Vec<&str> = SERVICE_ACCOUNTS.choose_multiple(rng, n).copied().collect();
            sa.insert("names".into(), json!(names));
        }
        if sa.is_empty() || rng.random_bool(0.4) {
            sa.insert("selector".into(), expr(rng, ctx, &service_account_atom, 1).into());
        }
        m.insert("serviceAccounts".into(), Value::Object(sa));
    }
    if ports {
        if rng.random_bool(0.45) {
            m.insert("ports".into(), port_list(rng));
        }
        if rng.random_bool(0.15) {
            m.insert("notPorts".into(), port_list(rng));
        }
    }
    Value::Object(m)
}

/// A Calico rule.
fn calico_rule(rng: &mut SmallRng, ctx: &Ctx) -> Value {
    let mut m = Map::new();
    let action = match rng.random_range(0..100) {
        0..35 => "Allow",
        35..60 => "Deny",
        60..80 => "Pass",
        _ => "Log",
    };
    m.insert("action".into(), action.into());
    // (the protocol as written, whether it carries ports)
    let (protocol, ports): (Option<Value>, bool) = match rng.random_range(0..100) {
        0..30 => (None, false),
        30..55 => (Some("TCP".into()), true),
        55..68 => (Some("UDP".into()), true),
        68..72 => (Some("SCTP".into()), true),
        72..78 => (Some(6.into()), true),
        78..82 => (Some(17.into()), true),
        82..85 => (Some(132.into()), true),
        85..90 => (Some("UDPLite".into()), false),
        _ => (Some("ICMP".into()), false),
    };
    let icmp = protocol.as_ref().is_some_and(|p| p == "ICMP");
    if let Some(p) = protocol {
        m.insert("protocol".into(), p);
    }
    if icmp && rng.random_bool(0.5) {
        m.insert("icmp".into(), json!({ "type": 8, "code": 0 }));
    }
    if rng.random_bool(0.1) {
        let p: Value = match rng.random_range(0..3) {
            0 => "TCP".into(),
            1 => "UDP".into(),
            _ => 17.into(),
        };
        m.insert("notProtocol".into(), p);
    }
    if rng.random_bool(0.05) {
        m.insert("ipVersion".into(), if rng.random_bool(0.5) { 4 } else { 6 }.into());
    }
    if rng.random_bool(0.55) {
        m.insert("source".into(), entity(rng, ctx, false));
    }
    if rng.random_bool(0.6) {
        m.insert("destination".into(), entity(rng, ctx, ports));
    }
    Value::Object(m)
}

/// A Calico NetworkPolicy or GlobalNetworkPolicy.
fn calico_policy(rng: &mut SmallRng, ctx: &Ctx, tiers: &[&str], i: usize) -> Value {
    let global = rng.random_bool(0.4);
    let ns = (!global).then(|| random_ns(rng, ctx));
    let tier = match rng.random_range(0..100) {
        0..40 => None,
        40..50 => Some("default"),
        _ => tiers.choose(rng).copied(),
    };
    let base = if global { "gnp" } else { "cnp" };
    let name = match tier {
        // Upstream names tiered policies `<tier>.<name>`; podwall takes either form.
        Some(t) if t != "default" && rng.random_bool(0.5) => format!("{t}.{base}-{i}"),
        _ => format!("{base}-{i}"),
    };
    let mut spec = Map::new();
    if let Some(t) = tier {
        spec.insert("tier".into(), t.into());
    }
    if rng.random_bool(0.75) {
        spec.insert("order".into(), crd::order(ORDERS.choose(rng).copied().unwrap_or(100.0)));
    }
    match rng.random_range(0..100) {
        0..20 => {}
        20..27 => {
            spec.insert("selector".into(), "".into());
        }
        27..37 => {
            spec.insert("selector".into(), "all()".into());
        }
        _ => {
            spec.insert("selector".into(), expr(rng, ctx, &endpoint_atom, 2).into());
        }
    }
    if global && rng.random_bool(0.35) {
        spec.insert("namespaceSelector".into(), expr(rng, ctx, &ns_atom_plain, 1).into());
    }
    if rng.random_bool(0.1) {
        spec.insert("serviceAccountSelector".into(), expr(rng, ctx, &service_account_atom, 1).into());
    }
    let types: Option<&[&str]> = match rng.random_range(0..100) {
        0..30 => None,
        30..55 => Some(&["Ingress"]),
        55..75 => Some(&["Egress"]),
        _ => Some(&["Ingress", "Egress"]),
    };
    if let Some(t) = types {
        spec.insert("types".into(), json!(t));
    }
    for (key, ty) in [("ingress", "Ingress"), ("egress", "Egress")] {
        // Rules only for a direction the policy has (or may get by default).
        if types.is_some_and(|t| !t.contains(&ty)) {
            continue;
        }
        let absent = if types.is_none() { 0.35 } else { 0.15 };
        if rng.random_bool(absent) {
            continue;
        }
        let rules: Vec<Value> = (0..rng.random_range(0..=3)).map(|_| calico_rule(rng, ctx)).collect();
        spec.insert(key.into(), Value::Array(rules));
    }
    crd::calico_policy(&name, ns, Value::Object(spec))
}

/// `{namespaceSelector, podSelector}` of an AdminNetworkPolicy.
fn anp_pods(rng: &mut SmallRng, ctx: &Ctx) -> Value {
    json!({ "namespaceSelector": small::ns_selector(rng, ctx), "podSelector": small::selector(rng, &POD_VOCAB) })
}

/// One AdminNetworkPolicy peer; `addresses` allows `networks` and `nodes` (egress only).
fn anp_peer(rng: &mut SmallRng, ctx: &Ctx, addresses: bool) -> Value {
    match rng.random_range(0..100) {
        0..40 => json!({ "namespaces": small::ns_selector(rng, ctx) }),
        40..80 => json!({ "pods": anp_pods(rng, ctx) }),
        _ if !addresses => json!({ "pods": anp_pods(rng, ctx) }),
        80..92 => {
            let nets: Vec<String> = (0..rng.random_range(1..=2)).map(|_| cidr(rng)).collect();
            json!({ "networks": nets })
        }
        _ => json!({ "nodes": small::selector(rng, &NODE_VOCAB) }),
    }
}

fn anp_protocol(rng: &mut SmallRng) -> Option<&'static str> {
    match rng.random_range(0..100) {
        0..40 => None,
        40..70 => Some("TCP"),
        70..92 => Some("UDP"),
        _ => Some("SCTP"),
    }
}

/// An AdminNetworkPolicy port entry; `named` allows `namedPort`.
fn anp_port(rng: &mut SmallRng, named: bool) -> Value {
    match rng.random_range(0..100) {
        0..40 => crd::anp_port_number(anp_protocol(rng), PORT_NUMBERS.choose(rng).copied().unwrap_or(80)),
        40..70 => {
            let (a, b) = PORT_RANGES.choose(rng).copied().unwrap_or((80, 8080));
            crd::anp_port_range(anp_protocol(rng), a, b)
        }
        _ if named => crd::anp_named_port(PORT_NAMES.choose(rng).copied().unwrap_or("http")),
        _ => crd::anp_port_number(anp_protocol(rng), 53),
    }
}

/// The spec of an AdminNetworkPolicy (`priority` set) or of the baseline (`None`).
fn admin_spec(rng: &mut SmallRng, ctx: &Ctx, priority: Option<i64>) -> Value {
    let mut spec = Map::new();
    if let Some(p) = priority {
        spec.insert("priority".into(), p.into());
    }
    let actions: &[&str] = if priority.is_some() { &["Allow", "Deny", "Pass"] } else { &["Allow", "Deny"] };
    subject_and_rules(rng, ctx, spec, actions, ("ports", anp_port))
}

/// Adds to an admin policy's `spec` (v1alpha1 or v1alpha2: the same subjects and peers)
/// a subject and rules taking `actions`, with port entries drawn by `ports.1` (told
/// whether named ports may be used) under the key `ports.0`.
fn subject_and_rules(
    rng: &mut SmallRng,
    ctx: &Ctx,
    mut spec: Map<String, Value>,
    actions: &[&str],
    ports: (&str, fn(&mut SmallRng, bool) -> Value),
) -> Value {
    let subject = if rng.random_bool(0.5) {
        json!({ "namespaces": small::ns_selector(rng, ctx) })
    } else {
        json!({ "pods": anp_pods(rng, ctx) })
    };
    spec.insert("subject".into(), subject);
    for (key, peers_key, p) in [("ingress", "from", 0.7), ("egress", "to", 0.6)] {
        if !rng.random_bool(p) {
            continue;
        }
        let mut rules = Vec::new();
        for r in 0..rng.random_range(1..=3) {
            let mut rule = Map::new();
            if rng.random_bool(0.3) {
                rule.insert("name".into(), format!("rule-{r}").into());
            }
            rule.insert("action".into(), actions.choose(rng).copied().unwrap_or(actions[0]).into());
            let egress = key == "egress";
            let peers: Vec<Value> = (0..rng.random_range(1..=2)).map(|_| anp_peer(rng, ctx, egress)).collect();
            // Upstream forbids named ports with address peers: they have no named ports.
            let named = !peers.iter().any(|p| p.get("networks").is_some() || p.get("nodes").is_some());
            rule.insert(peers_key.into(), Value::Array(peers));
            if rng.random_bool(0.5) {
                let entries: Vec<Value> = (0..rng.random_range(1..=2)).map(|_| (ports.1)(rng, named)).collect();
                rule.insert(ports.0.into(), Value::Array(entries));
            }
            rules.push(Value::Object(rule));
        }
        spec.insert(key.into(), Value::Array(rules));
    }
    Value::Object(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_policies_come_last_and_leave_every_other_object_of_a_seed_as_it_was() {
        let mut with = 0;
        for seed in 0..300 {
            let (before, _) = generate_without_cluster_policies(seed);
            let all = generate(seed);
            assert_eq!(all[..before.len()], before[..], "seed {seed}");
            assert!(all[before.len()..].iter().all(|o| o["kind"] == "ClusterNetworkPolicy"), "seed {seed}");
            assert!(before.iter().all(|o| o["kind"] != "ClusterNetworkPolicy"), "seed {seed}");
            with += usize::from(all.len() > before.len());
        }
        assert!((100..200).contains(&with), "{with} of 300 clusters hold ClusterNetworkPolicies");
    }
}
