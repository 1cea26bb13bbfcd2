//! The small, edge-case-heavy generator behind [`crate::generate_small`].

use rand::rngs::SmallRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::k8s::{self, expr, ip_block, port_named, port_num, port_range, CPort, NS_NAME_LABEL};

/// Pod label vocabulary: few keys, few values, so that selectors often match.
pub(crate) const POD_VOCAB: [(&str, &[&str]); 3] =
    [("app", &["a", "b", "c"]), ("tier", &["fe", "be"]), ("version", &["v1", "v2"])];

/// Namespace label vocabulary (besides `kubernetes.io/metadata.name`).
pub(crate) const NS_VOCAB: [(&str, &[&str]); 2] = [("team", &["red", "blue"]), ("env", &["prod", "dev"])];

/// Named ports policies may mention; `grpc` is on no pod.
pub(crate) const PORT_NAMES: [&str; 4] = ["http", "metrics", "dns", "grpc"];

/// Numeric ports policies may mention.
pub(crate) const PORT_NUMBERS: [u16; 6] = [53, 80, 8080, 9090, 5432, 443];

/// `port..=endPort` ranges policies may mention.
pub(crate) const PORT_RANGES: [(u16, u16); 5] = [(53, 80), (80, 8080), (8000, 9999), (1, 65535), (9090, 9090)];

/// How many pod addresses (from 10.1.0.1) the small clusters use at most.
pub(crate) const SMALL_POOL: u32 = 16;

/// What the generators know of a small cluster once its namespaces exist.
pub(crate) struct Ctx {
    /// Namespace names, `ns-0000`...
    pub ns_names: Vec<String>,
}

/// Generates one small cluster; see [`crate::generate_small`].
pub(crate) fn generate(seed: u64) -> Vec<Value> {
    let mut rng = SmallRng::seed_from_u64(seed);
    generate_with(&mut rng).0
}

/// Namespaces, pods and NetworkPolicies of one small cluster, drawn from `rng`.
pub(crate) fn generate_with(rng: &mut SmallRng) -> (Vec<Value>, Ctx) {
    let n_pods: usize = rng.random_range(2..=12);
    let n_ns: usize = rng.random_range(1..=4);
    let n_pol: usize = rng.random_range(0..=8);
    let ctx = Ctx { ns_names: (0..n_ns).map(|i| format!("ns-{i:04}")).collect() };
    let mut out = Vec::with_capacity(n_ns + n_pods + n_pol);

    for name in &ctx.ns_names {
        let mut labels = vec![(NS_NAME_LABEL, name.as_str())];
        for (i, (key, values)) in NS_VOCAB.iter().enumerate() {
            let p = if i == 0 { 0.8 } else { 0.7 };
            if rng.random_bool(p) {
                labels.push((key, values.choose(rng).copied().unwrap_or("x")));
            }
        }
        out.push(k8s::namespace(name, k8s::labels(&labels)));
    }

    let mut ips: Vec<u32> = (1..=n_pods as u32).map(|i| k8s::POD_BASE + i).collect();
    ips.shuffle(rng);
    for (i, ip) in ips.into_iter().enumerate() {
        let ns = &ctx.ns_names[rng.random_range(0..n_ns)];
        let mut labels = Vec::new();
        for ((key, values), p) in POD_VOCAB.iter().zip([0.9, 0.6, 0.4]) {
            if rng.random_bool(p) {
                labels.push((*key, values.choose(rng).copied().unwrap_or("x")));
            }
        }
        let mut ports = Vec::new();
        if rng.random_bool(0.7) {
            let n = if rng.random_bool(0.5) { 80 } else { 8080 };
            ports.push(CPort::named("http", n, "TCP"));
        }
        if rng.random_bool(0.4) {
            ports.push(CPort::named("metrics", 9090, "TCP"));
        }
        if rng.random_bool(0.25) {
            ports.push(CPort::named("dns", 53, "UDP"));
        }
        if rng.random_bool(0.2) {
            ports.push(CPort { name: None, number: 5432, proto: "TCP", omit_proto: false });
        }
        for p in &mut ports {
            p.omit_proto = rng.random_bool(0.3);
        }
        let containers = json!([k8s::container("main", "example.com/app:1", &ports)]);
        out.push(k8s::pod(format!("pod-{i}"), ns, k8s::labels(&labels), containers, ip));
    }

    for i in 0..n_pol {
        let ns = &ctx.ns_names[rng.random_range(0..n_ns)];
        let spec = policy_spec(rng, &ctx);
        out.push(k8s::policy(format!("pol-{i}"), ns, spec));
    }
    (out, ctx)
}

pub(crate) fn selector(rng: &mut SmallRng, vocab: &[(&str, &[&str])]) -> Value {
    let r = rng.random_range(0..100);
    let mut m = Map::new();
    if r < 35 {
        return Value::Object(m);
    }
    if !(70..90).contains(&r) {
        let n = rng.random_range(1..=2.min(vocab.len()));
        let mut labels = Map::new();
        for (key, values) in vocab.choose_multiple(rng, n) {
            let v = values.choose(rng).copied().unwrap_or("x");
            labels.insert((*key).to_string(), v.into());
        }
        m.insert("matchLabels".into(), Value::Object(labels));
    }
    if r >= 70 {
        let n = rng.random_range(1..=2);
        let exprs: Vec<Value> = (0..n).map(|_| random_expr(rng, vocab)).collect();
        m.insert("matchExpressions".into(), Value::Array(exprs));
    }
    Value::Object(m)
}

fn random_expr(rng: &mut SmallRng, vocab: &[(&str, &[&str])]) -> Value {
    let (key, values) = vocab.choose(rng).copied().unwrap_or(("app", &["a"]));
    match rng.random_range(0..4) {
        0 | 1 => {
            let op = if rng.random_bool(0.5) { "In" } else { "NotIn" };
            let n = rng.random_range(1..=2.min(values.len()));
            let mut vals: Vec<&str> = values.choose_multiple(rng, n).copied().collect();
            if rng.random_bool(0.15) {
                vals.push("zz"); // a value no object carries
            }
            expr(key, op, &vals)
        }
        2 => expr(key, "Exists", &[]),
        _ => expr(key, "DoesNotExist", &[]),
    }
}

pub(crate) fn ns_selector(rng: &mut SmallRng, ctx: &Ctx) -> Value {
    if rng.random_bool(0.3) {
        return json!({});
    }
    let names: Vec<&str> = ctx.ns_names.iter().map(String::as_str).collect();
    let mut vocab: Vec<(&str, &[&str])> = NS_VOCAB.to_vec();
    vocab.push((NS_NAME_LABEL, &names));
    selector(rng, &vocab)
}

fn proto(rng: &mut SmallRng) -> Option<&'static str> {
    match rng.random_range(0..100) {
        0..40 => None,
        40..70 => Some("TCP"),
        70..95 => Some("UDP"),
        _ => Some("SCTP"),
    }
}

fn port(rng: &mut SmallRng) -> Value {
    let pr = proto(rng);
    match rng.random_range(0..100) {
        0..30 => port_named(pr, PORT_NAMES.choose(rng).copied().unwrap_or("http")),
        30..60 => port_num(pr, PORT_NUMBERS.choose(rng).copied().unwrap_or(80)),
        60..75 => {
            let (a, b) = PORT_RANGES.choose(rng).copied().unwrap_or((80, 8080));
            port_range(pr, a, b)
        }
        75..95 => {
            // Protocol only: every port of that protocol.
            let p = pr.unwrap_or(if rng.random_bool(0.5) { "TCP" } else { "UDP" });
            json!({ "protocol": p })
        }
        _ => json!({}),
    }
}

fn random_ip_block(rng: &mut SmallRng) -> Value {
    let pool_base = k8s::POD_BASE;
    let (base, len): (u32, u8) = match rng.random_range(0..100) {
        0..8 => (0, 0),
        8..16 => (0x0A00_0000, 8),
        16..24 => (pool_base, 16),
        24..30 => (0xC0A8_0000, 16), // 192.168.0.0/16: no pod inside
        30..40 => (pool_base, 28),
        _ => {
            let len = rng.random_range(29..=32);
            (pool_base + rng.random_range(0..SMALL_POOL), len)
        }
    };
    let base = base & k8s::mask(len);
    let size: u64 = 1u64 << (32 - u32::from(len));
    let contains_pool = len <= 28 && (pool_base & k8s::mask(len)) == base;
    let anchor = if contains_pool { pool_base } else { base };
    let span = size.min(u64::from(SMALL_POOL)) as u32;
    let mut except: Vec<String> = Vec::new();
    if len < 32 {
        let n = match rng.random_range(0..100) {
            0..50 => 0,
            50..85 => 1,
            _ => 2,
        };
        for _ in 0..n {
            let e = if len < 8 && rng.random_bool(0.2) {
                "10.0.0.0/8".to_string()
            } else {
                let lo = (len + 1).clamp(27, 32);
                let q = rng.random_range(lo..=32);
                let addr = anchor + rng.random_range(0..span);
                k8s::cidr(addr, q)
            };
            if !except.contains(&e) {
                except.push(e);
            }
        }
    }
    ip_block(k8s::cidr(base, len), except)
}

fn peer(rng: &mut SmallRng, ctx: &Ctx) -> Value {
    match rng.random_range(0..100) {
        0..35 => json!({ "podSelector": selector(rng, &POD_VOCAB) }),
        35..60 => json!({ "namespaceSelector": ns_selector(rng, ctx) }),
        60..85 => json!({
            "namespaceSelector": ns_selector(rng, ctx),
            "podSelector": selector(rng, &POD_VOCAB),
        }),
        _ => random_ip_block(rng),
    }
}

fn rule(rng: &mut SmallRng, ctx: &Ctx, peers_key: &str) -> Value {
    let mut m = Map::new();
    match rng.random_range(0..100) {
        // No peers: everyone.
        0..20 => {}
        // Empty peers: everyone too.
        20..25 => {
            m.insert(peers_key.into(), json!([]));
        }
        _ => {
            let n = rng.random_range(1..=2);
            let peers: Vec<Value> = (0..n).map(|_| peer(rng, ctx)).collect();
            m.insert(peers_key.into(), Value::Array(peers));
        }
    }
    match rng.random_range(0..100) {
        0..40 => {}
        40..45 => {
            m.insert("ports".into(), json!([]));
        }
        _ => {
            let n = rng.random_range(1..=2);
            let ports: Vec<Value> = (0..n).map(|_| port(rng)).collect();
            m.insert("ports".into(), Value::Array(ports));
        }
    }
    Value::Object(m)
}

/// `count` rules, or `None` to leave the field out.
fn rules(rng: &mut SmallRng, ctx: &Ctx, peers_key: &str, absent_p: f64) -> Option<Value> {
    if rng.random_bool(absent_p) {
        return None;
    }
    let n = rng.random_range(0..=2);
    Some(Value::Array((0..n).map(|_| rule(rng, ctx, peers_key)).collect()))
}

fn policy_spec(rng: &mut SmallRng, ctx: &Ctx) -> Value {
    let mut spec = Map::new();
    spec.insert("podSelector".into(), selector(rng, &POD_VOCAB));
    let (types, ingress_absent, egress_absent): (Option<&[&str]>, f64, f64) = match rng.random_range(0..100) {
        0..25 => (None, 0.3, 0.5),
        25..50 => (Some(&["Ingress"]), 0.25, 1.0),
        50..70 => (Some(&["Egress"]), 1.0, 0.25),
        _ => (Some(&["Ingress", "Egress"]), 0.25, 0.25),
    };
    if let Some(t) = types {
        spec.insert("policyTypes".into(), json!(t));
    }
    if let Some(r) = rules(rng, ctx, "from", ingress_absent) {
        spec.insert("ingress".into(), r);
    }
    if let Some(r) = rules(rng, ctx, "to", egress_absent) {
        spec.insert("egress".into(), r);
    }
    Value::Object(spec)
}
