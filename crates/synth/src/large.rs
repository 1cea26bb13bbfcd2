//! The realistic generator behind [`crate::generate`] and [`crate::write`].

use std::collections::HashSet;

use rand::rngs::SmallRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::k8s::{
    self, expr, ip_block, match_exprs, match_labels, port_named, port_num, port_range, CPort, NS_NAME_LABEL,
};
use crate::Params;

/// The teams owning namespaces.
pub(crate) const TEAMS: [&str; 10] =
    ["payments", "search", "identity", "checkout", "catalog", "platform", "data", "growth", "messaging", "media"];

/// Name of the monitoring namespace.
pub(crate) const MONITORING: &str = "monitoring";
/// Name of the kube-system namespace.
pub(crate) const KUBE_SYSTEM: &str = "kube-system";

/// Share of pods that should be singletons (their label set used by no other
/// pod of their namespace); the rest are replicas.
const SINGLETON_SHARE: f64 = 0.28;

/// A namespace with everything that goes into it, Namespace object first.
pub(crate) struct Bundle {
    /// Namespace name.
    pub name: String,
    /// The Namespace, then its Pods, then its NetworkPolicies.
    pub items: Vec<Value>,
}

/// An application tier (the `tier` pod label).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tier {
    Frontend,
    Backend,
    Db,
    Cache,
}

impl Tier {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Tier::Frontend => "frontend",
            Tier::Backend => "backend",
            Tier::Db => "db",
            Tier::Cache => "cache",
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Tier::Frontend => &["web", "ui", "gateway", "portal", "storefront", "admin-ui"],
            Tier::Backend => &[
                "api",
                "orders",
                "users",
                "billing",
                "search",
                "auth",
                "inventory",
                "worker",
                "notifier",
                "pricing",
                "reports",
                "scheduler",
            ],
            Tier::Db => &["postgres", "orders-db", "users-db", "mysql", "mongo"],
            Tier::Cache => &["redis", "sessions", "memcached"],
        }
    }

    fn random(rng: &mut SmallRng) -> Tier {
        match rng.random_range(0..100) {
            0..20 => Tier::Frontend,
            20..65 => Tier::Backend,
            65..82 => Tier::Db,
            _ => Tier::Cache,
        }
    }
}

/// An application of a namespace: its pods share `app` and `tier`.
pub(crate) struct App {
    pub(crate) name: String,
    pub(crate) tier: Tier,
    /// Number of versions deployed (`v1`..`vN`, N <= 3).
    versions: usize,
    /// The pod's containers, shared by all versions but for the image tag.
    containers: Vec<(String, Vec<CPort>)>,
}

/// A regular (`ns-*`) namespace: its labels and applications.
pub(crate) struct Ns {
    pub(crate) name: String,
    pub(crate) team: &'static str,
    env: &'static str,
    monitoring: bool,
    pub(crate) apps: Vec<App>,
}

fn pick_env(rng: &mut SmallRng) -> &'static str {
    match rng.random_range(0..100) {
        0..55 => "prod",
        55..80 => "staging",
        _ => "dev",
    }
}

/// Replica counts of the workloads of a namespace holding `k` pods.
fn plan_workloads(rng: &mut SmallRng, k: usize) -> Vec<usize> {
    let maxr = (k / 4).clamp(3, 50);
    let mean = (2 + maxr) as f64 / 2.0;
    // p / (p + (1 - p) * mean) = SINGLETON_SHARE
    let p_single = SINGLETON_SHARE * mean / (1.0 - SINGLETON_SHARE + SINGLETON_SHARE * mean);
    let mut out = Vec::new();
    let mut rem = k;
    while rem > 0 {
        let r = if rem == 1 || rng.random_bool(p_single) { 1 } else { rng.random_range(2..=maxr).min(rem) };
        out.push(r);
        rem -= r;
    }
    out
}

fn app_containers(rng: &mut SmallRng, name: &str, tier: Tier) -> Vec<(String, Vec<CPort>)> {
    let mut main = Vec::new();
    let mut sidecar = Vec::new();
    match tier {
        Tier::Frontend => {
            let http = match rng.random_range(0..10) {
                0..7 => 8080,
                7..9 => 3000,
                _ => 80,
            };
            main.push(CPort::named("http", http, "TCP"));
            if rng.random_bool(0.15) {
                main.push(CPort::named("https", 8443, "TCP"));
            }
            if rng.random_bool(0.8) {
                main.push(CPort::named("metrics", 9090, "TCP"));
            }
        }
        Tier::Backend => {
            let http = if rng.random_bool(0.75) { 8080 } else { 8000 };
            main.push(CPort::named("http", http, "TCP"));
            if rng.random_bool(0.5) {
                main.push(CPort::named("grpc", 9000, "TCP"));
            }
            if rng.random_bool(0.85) {
                main.push(CPort::named("metrics", 9090, "TCP"));
            }
            if rng.random_bool(0.15) {
                main.push(CPort::named("statsd", 8125, "UDP"));
            }
        }
        Tier::Db => {
            let db = if name.starts_with("mysql") {
                3306
            } else if name.starts_with("mongo") {
                27017
            } else {
                5432
            };
            main.push(CPort::named("db", db, "TCP"));
            if rng.random_bool(0.6) {
                sidecar.push(CPort::named("metrics", 9187, "TCP"));
            }
        }
        Tier::Cache => {
            if name.starts_with("memcached") {
                main.push(CPort::named("memcache", 11211, "TCP"));
                main.push(CPort::named("memcache-udp", 11211, "UDP"));
            } else {
                main.push(CPort::named("redis", 6379, "TCP"));
            }
            if rng.random_bool(0.5) {
                sidecar.push(CPort::named("metrics", 9090, "TCP"));
            }
        }
    }
    // Real manifests often leave the (default) TCP protocol out.
    for p in main.iter_mut().chain(sidecar.iter_mut()) {
        p.omit_proto = rng.random_bool(0.15);
    }
    let base = name.to_string();
    let mut out = vec![(base, main)];
    if !sidecar.is_empty() {
        out.push(("exporter".to_string(), sidecar));
    } else if rng.random_bool(0.1) {
        out.push(("log-shipper".to_string(), Vec::new()));
    }
    out
}

fn make_apps(rng: &mut SmallRng, count: usize) -> Vec<App> {
    let mut used: HashSet<String> = HashSet::new();
    let mut apps = Vec::with_capacity(count);
    for _ in 0..count {
        let tier = Tier::random(rng);
        let base = *tier.names().choose(rng).expect("non-empty vocabulary");
        let mut name = base.to_string();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        used.insert(name.clone());
        let containers = app_containers(rng, base, tier);
        apps.push(App { name, tier, versions: 1, containers });
    }
    apps
}

fn containers_json(app: &App, version: &str) -> Value {
    Value::Array(
        app.containers
            .iter()
            .map(|(cname, ports)| {
                let image = format!("registry.example.com/{cname}:{version}");
                k8s::container(cname, &image, ports)
            })
            .collect(),
    )
}

const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

/// Pod counts per namespace, Zipf-like (weight 1/rank, ranks shuffled).
fn zipf_counts(rng: &mut SmallRng, pods: usize, namespaces: usize) -> Vec<usize> {
    let mut counts = vec![0usize; namespaces];
    if namespaces == 0 || pods == 0 {
        return counts;
    }
    let mut ranks: Vec<usize> = (0..namespaces).collect();
    ranks.shuffle(rng);
    let mut cum = Vec::with_capacity(namespaces);
    let mut total = 0.0f64;
    for &r in &ranks {
        total += 1.0 / (r as f64 + 1.0);
        cum.push(total);
    }
    for _ in 0..pods {
        let x = rng.random::<f64>() * total;
        let i = cum.partition_point(|&c| c <= x).min(namespaces - 1);
        counts[i] += 1;
    }
    counts
}

/// A generated cluster: one bundle per namespace, then the Calico objects and the
/// AdminNetworkPolicies (with the baseline), which go in files of their own.
pub(crate) struct Generated {
    /// Per namespace: the Namespace, its Pods, its NetworkPolicies.
    pub bundles: Vec<Bundle>,
    /// Tiers, network sets, Calico NetworkPolicies and GlobalNetworkPolicies.
    pub calico: Vec<Value>,
    /// AdminNetworkPolicies and the BaselineAdminNetworkPolicy.
    pub admin: Vec<Value>,
}

/// Generates the cluster.
pub(crate) fn generate(p: &Params) -> Generated {
    let mut rng = SmallRng::seed_from_u64(p.seed);
    if p.namespaces == 0 {
        return Generated { bundles: Vec::new(), calico: Vec::new(), admin: Vec::new() };
    }
    assert!(p.pods <= crate::MAX_PODS, "podwall-synth: at most {} pods", crate::MAX_PODS);
    let system = p.namespaces >= 3;
    let n_regular = if system { p.namespaces - 2 } else { p.namespaces };
    let (n_dns, n_prom) = if system {
        let dns = p.pods.min(2 + p.pods / 50_000);
        let prom = (p.pods - dns).min(1 + p.pods / 100_000);
        (dns, prom)
    } else {
        (0, 0)
    };
    let n_user = p.pods - n_dns - n_prom;

    let mut ips: Vec<u32> = (0..p.pods as u32).map(|i| k8s::POD_BASE + 1 + i).collect();
    ips.shuffle(&mut rng);
    let mut ips = ips.into_iter();

    let mut nss: Vec<Ns> = (0..n_regular)
        .map(|i| Ns {
            name: format!("ns-{i:04}"),
            team: TEAMS.choose(&mut rng).copied().unwrap_or("platform"),
            env: pick_env(&mut rng),
            monitoring: rng.random_bool(0.4),
            apps: Vec::new(),
        })
        .collect();
    let counts = zipf_counts(&mut rng, n_user, n_regular);

    let mut bundles: Vec<Bundle> = Vec::with_capacity(p.namespaces);
    for (ns, &k) in nss.iter_mut().zip(&counts) {
        let mut items = Vec::with_capacity(k + 1);
        let mut ns_labels = vec![(NS_NAME_LABEL, ns.name.as_str()), ("team", ns.team), ("env", ns.env)];
        if ns.monitoring {
            ns_labels.push(("monitoring", "true"));
        }
        items.push(k8s::namespace(&ns.name, k8s::labels(&ns_labels)));

        let workloads = plan_workloads(&mut rng, k);
        let w = workloads.len();
        let n_apps = if w == 0 { rng.random_range(1..=3) } else { w - w / 3 };
        ns.apps = make_apps(&mut rng, n_apps);
        let mut combos: Vec<(usize, usize)> = (0..n_apps).map(|a| (a, 0)).collect();
        for extra in 0..w.saturating_sub(n_apps) {
            let a = extra % n_apps;
            combos.push((a, ns.apps[a].versions));
            ns.apps[a].versions += 1;
        }
        combos.shuffle(&mut rng);
        let mut pod_idx = 0usize;
        for (&replicas, &(a, v)) in workloads.iter().zip(&combos) {
            let app = &ns.apps[a];
            let version = VERSIONS[v];
            let labels = k8s::labels(&[
                ("app", &app.name),
                ("tier", app.tier.label()),
                ("version", version),
                ("team", ns.team),
                ("env", ns.env),
            ]);
            let containers = containers_json(app, version);
            for _ in 0..replicas {
                let name = format!("{}-{}-{}", app.name, version, pod_idx);
                pod_idx += 1;
                let ip = ips.next().expect("one IP per pod");
                items.push(k8s::pod(name, &ns.name, labels.clone(), containers.clone(), ip));
            }
        }
        bundles.push(Bundle { name: ns.name.clone(), items });
    }

    if system {
        let mut items = vec![k8s::namespace(
            MONITORING,
            k8s::labels(&[
                (NS_NAME_LABEL, MONITORING),
                ("name", MONITORING),
                ("team", "platform"),
                ("monitoring", "true"),
            ]),
        )];
        let prom_ports = [CPort::named("web", 9090, "TCP")];
        let containers = json!([k8s::container("prometheus", "quay.io/prometheus/prometheus:v2.53.0", &prom_ports)]);
        for i in 0..n_prom {
            items.push(k8s::pod(
                format!("prometheus-{i}"),
                MONITORING,
                k8s::labels(&[("app", "prometheus"), ("app.kubernetes.io/name", "prometheus"), ("team", "platform")]),
                containers.clone(),
                ips.next().expect("one IP per pod"),
            ));
        }
        bundles.push(Bundle { name: MONITORING.into(), items });

        let mut items = vec![k8s::namespace(KUBE_SYSTEM, k8s::labels(&[(NS_NAME_LABEL, KUBE_SYSTEM)]))];
        let dns_ports =
            [CPort::named("dns", 53, "UDP"), CPort::named("dns-tcp", 53, "TCP"), CPort::named("metrics", 9153, "TCP")];
        let containers = json!([k8s::container("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", &dns_ports)]);
        for i in 0..n_dns {
            items.push(k8s::pod(
                format!("coredns-{i}"),
                KUBE_SYSTEM,
                k8s::labels(&[("k8s-app", "kube-dns")]),
                containers.clone(),
                ips.next().expect("one IP per pod"),
            ));
        }
        bundles.push(Bundle { name: KUBE_SYSTEM.into(), items });
    }

    // Policies: half spread evenly over the namespaces, half following the pods.
    let mut cum_pods = Vec::with_capacity(n_regular);
    let mut acc = 0usize;
    for &c in &counts {
        acc += c;
        cum_pods.push(acc);
    }
    for i in 0..p.policies {
        if system && rng.random_bool(0.01) {
            let (bi, pol) = if rng.random_bool(0.5) {
                (n_regular + 1, dns_ingress_policy(i))
            } else {
                (n_regular, prometheus_egress_policy(i))
            };
            bundles[bi].items.push(pol);
            continue;
        }
        let ni = if acc == 0 || rng.random_bool(0.5) {
            rng.random_range(0..n_regular)
        } else {
            let x = rng.random_range(0..acc);
            cum_pods.partition_point(|&c| c <= x)
        };
        let (kind, spec) = policy_spec(&mut rng, &nss, ni, system);
        bundles[ni].items.push(k8s::policy(format!("{kind}-{i}"), &nss[ni].name, spec));
    }
    // Calico and AdminNetworkPolicy objects draw from their own generator, so that asking
    // for them leaves the Kubernetes objects as they were.
    let (calico, admin) = crate::large_crd::generate(p, &nss, &counts, system);
    Generated { bundles, calico, admin }
}

fn dns_ingress_policy(i: usize) -> Value {
    k8s::policy(
        format!("allow-dns-ingress-{i}"),
        KUBE_SYSTEM,
        json!({
            "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{ "namespaceSelector": {} }],
                "ports": [port_num(Some("UDP"), 53), port_num(Some("TCP"), 53)],
            }],
        }),
    )
}

fn prometheus_egress_policy(i: usize) -> Value {
    k8s::policy(
        format!("prometheus-egress-{i}"),
        MONITORING,
        json!({
            "podSelector": match_labels(&[("app", "prometheus")]),
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{ "namespaceSelector": match_labels(&[("monitoring", "true")]) }],
                    "ports": [port_named(Some("TCP"), "metrics")],
                },
                {
                    "to": [{
                        "namespaceSelector": match_labels(&[(NS_NAME_LABEL, KUBE_SYSTEM)]),
                        "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
                    }],
                    "ports": [port_num(Some("UDP"), 53), port_num(Some("TCP"), 53)],
                },
            ],
        }),
    )
}

#[derive(Clone, Copy)]
enum Kind {
    DenyIngress,
    DenyAll,
    SameApp,
    FromMonitoring,
    DnsEgress,
    InternetEgress,
    IpBlockIngress,
    TierToTier,
    Expressions,
    PortRanges,
    TierEgress,
    AllowAll,
    FromNamespace,
}

const KINDS: [(u32, Kind); 13] = [
    (14, Kind::DenyIngress),
    (5, Kind::DenyAll),
    (14, Kind::SameApp),
    (10, Kind::FromMonitoring),
    (10, Kind::DnsEgress),
    (5, Kind::InternetEgress),
    (5, Kind::IpBlockIngress),
    (14, Kind::TierToTier),
    (8, Kind::Expressions),
    (5, Kind::PortRanges),
    (6, Kind::TierEgress),
    (2, Kind::AllowAll),
    (4, Kind::FromNamespace),
];

fn pick_kind(rng: &mut SmallRng) -> Kind {
    let total: u32 = KINDS.iter().map(|k| k.0).sum();
    let mut x = rng.random_range(0..total);
    for &(w, k) in &KINDS {
        if x < w {
            return k;
        }
        x -= w;
    }
    Kind::DenyIngress
}

pub(crate) fn app_of<'a>(rng: &mut SmallRng, ns: &'a Ns) -> &'a App {
    ns.apps.choose(rng).expect("every namespace has an app")
}

fn app_of_tier<'a>(rng: &mut SmallRng, ns: &'a Ns, tier: Tier) -> Option<&'a App> {
    let n = ns.apps.iter().filter(|a| a.tier == tier).count();
    if n == 0 {
        return None;
    }
    ns.apps.iter().filter(|a| a.tier == tier).nth(rng.random_range(0..n))
}

fn other_team(rng: &mut SmallRng, not: &str) -> &'static str {
    loop {
        let t = TEAMS.choose(rng).copied().unwrap_or("platform");
        if t != not {
            return t;
        }
    }
}

/// The spec of one policy in regular namespace `ni`, and its name prefix.
fn policy_spec(rng: &mut SmallRng, nss: &[Ns], ni: usize, system: bool) -> (&'static str, Value) {
    let ns = &nss[ni];
    match pick_kind(rng) {
        Kind::DenyIngress => ("default-deny-ingress", json!({ "podSelector": {}, "policyTypes": ["Ingress"] })),
        Kind::DenyAll => ("default-deny-all", json!({ "podSelector": {}, "policyTypes": ["Ingress", "Egress"] })),
        Kind::SameApp => {
            let app = app_of(rng, ns);
            let sel = match_labels(&[("app", &app.name)]);
            let mut rule = json!({ "from": [{ "podSelector": sel.clone() }] });
            if rng.random_bool(0.3) {
                rule["ports"] = json!([port_named(Some("TCP"), "http")]);
            }
            ("allow-same-app", json!({ "podSelector": sel, "policyTypes": ["Ingress"], "ingress": [rule] }))
        }
        Kind::FromMonitoring => {
            let target = if rng.random_bool(0.5) { json!({}) } else { match_labels(&[("app", &app_of(rng, ns).name)]) };
            let peer = match rng.random_range(0..3) {
                0 => json!({ "namespaceSelector": match_labels(&[(NS_NAME_LABEL, MONITORING)]) }),
                1 => json!({ "namespaceSelector": match_labels(&[("name", MONITORING)]) }),
                _ => json!({
                    "namespaceSelector": match_labels(&[(NS_NAME_LABEL, MONITORING)]),
                    "podSelector": match_labels(&[("app", "prometheus")]),
                }),
            };
            let proto = if rng.random_bool(0.7) { Some("TCP") } else { None };
            (
                "allow-monitoring",
                json!({
                    "podSelector": target,
                    "policyTypes": ["Ingress"],
                    "ingress": [{ "from": [peer], "ports": [port_named(proto, "metrics")] }],
                }),
            )
        }
        Kind::DnsEgress => {
            let ports = if rng.random_bool(0.2) {
                json!([port_named(Some("UDP"), "dns"), port_named(Some("TCP"), "dns-tcp")])
            } else {
                json!([port_num(Some("UDP"), 53), port_num(Some("TCP"), 53)])
            };
            (
                "allow-dns-egress",
                json!({
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{
                        "to": [{
                            "namespaceSelector": match_labels(&[(NS_NAME_LABEL, KUBE_SYSTEM)]),
                            "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
                        }],
                        "ports": ports,
                    }],
                }),
            )
        }
        Kind::InternetEgress => {
            let target = match app_of_tier(rng, ns, Tier::Frontend) {
                Some(a) if rng.random_bool(0.5) => match_labels(&[("app", &a.name)]),
                _ => match_labels(&[("tier", "frontend")]),
            };
            let except = ["10.0.0.0/8".to_string(), "172.16.0.0/12".to_string(), "192.168.0.0/16".to_string()];
            let n_except = rng.random_range(1..=3);
            (
                "allow-internet-egress",
                json!({
                    "podSelector": target,
                    "policyTypes": ["Egress"],
                    "egress": [{
                        "to": [ip_block("0.0.0.0/0".into(), except[..n_except].to_vec())],
                        "ports": [port_num(Some("TCP"), 443), port_num(Some("TCP"), 80)],
                    }],
                }),
            )
        }
        Kind::IpBlockIngress => {
            let app = app_of(rng, ns);
            let block = match rng.random_range(0..3) {
                0 => {
                    let sub = 0xAC10_0000 | (rng.random_range(0..4096u32) << 8);
                    ip_block("172.16.0.0/12".into(), vec![k8s::cidr(sub, 24)])
                }
                1 => {
                    // Covers pod IPs; the except carves out some of them.
                    let sub = k8s::POD_BASE | (rng.random_range(0..4u32) << 8);
                    ip_block("10.1.0.0/16".into(), vec![k8s::cidr(sub, 24)])
                }
                _ => ip_block("192.168.0.0/16".into(), Vec::new()),
            };
            (
                "allow-ipblock",
                json!({
                    "podSelector": match_labels(&[("app", &app.name)]),
                    "policyTypes": ["Ingress"],
                    "ingress": [{ "from": [block], "ports": [port_named(Some("TCP"), "http")] }],
                }),
            )
        }
        Kind::TierToTier => {
            let (dst, src, port) = match rng.random_range(0..3) {
                0 => (
                    "backend",
                    "frontend",
                    if rng.random_bool(0.5) { port_named(Some("TCP"), "http") } else { port_num(Some("TCP"), 8080) },
                ),
                1 => (
                    "db",
                    "backend",
                    if rng.random_bool(0.5) { port_named(Some("TCP"), "db") } else { port_num(Some("TCP"), 5432) },
                ),
                _ => ("cache", "backend", port_num(None, 6379)),
            };
            let mut from = vec![json!({ "podSelector": match_labels(&[("tier", src)]) })];
            if rng.random_bool(0.3) {
                from.push(json!({
                    "namespaceSelector": match_labels(&[("team", ns.team)]),
                    "podSelector": match_labels(&[("tier", src)]),
                }));
            }
            let mut ports = vec![port];
            if dst == "backend" && rng.random_bool(0.4) {
                ports.push(port_named(Some("TCP"), "grpc"));
            }
            (
                "allow-tier",
                json!({
                    "podSelector": match_labels(&[("tier", dst)]),
                    "policyTypes": ["Ingress"],
                    "ingress": [{ "from": from, "ports": ports }],
                }),
            )
        }
        Kind::Expressions => {
            let target = if rng.random_bool(0.5) && ns.apps.len() >= 2 {
                let a = &ns.apps[rng.random_range(0..ns.apps.len())].name;
                let b = &ns.apps[rng.random_range(0..ns.apps.len())].name;
                let vals: Vec<&str> = if a == b { vec![a] } else { vec![a, b] };
                match_exprs(vec![expr("app", "In", &vals)])
            } else {
                match_exprs(vec![expr("tier", "NotIn", &["db", "cache"])])
            };
            let t2 = other_team(rng, ns.team);
            let candidates = [
                json!({
                    "namespaceSelector": match_exprs(vec![
                        expr("env", "In", &["prod", "staging"]),
                        expr("team", "NotIn", &[t2]),
                    ]),
                    "podSelector": match_exprs(vec![expr("tier", "Exists", &[])]),
                }),
                json!({ "namespaceSelector": match_exprs(vec![expr("monitoring", "Exists", &[])]) }),
                json!({
                    "podSelector": match_exprs(vec![
                        expr("version", "NotIn", &["v3"]),
                        expr("canary", "DoesNotExist", &[]),
                    ]),
                }),
                json!({
                    "namespaceSelector": {
                        "matchLabels": k8s::labels(&[("team", t2)]),
                        "matchExpressions": [expr("env", "NotIn", &["dev"])],
                    },
                    "podSelector": match_labels(&[("tier", "frontend")]),
                }),
            ];
            let n = rng.random_range(1..=3);
            let from: Vec<Value> = candidates.choose_multiple(rng, n).cloned().collect();
            let mut ports = vec![port_range(Some("TCP"), 8000, 8999)];
            if rng.random_bool(0.6) {
                ports.push(port_named(Some("TCP"), "grpc"));
            }
            (
                "allow-selected",
                json!({
                    "podSelector": target,
                    "policyTypes": ["Ingress"],
                    "ingress": [{ "from": from, "ports": ports }],
                }),
            )
        }
        Kind::PortRanges => {
            let t = if rng.random_bool(0.5) { ns.team } else { other_team(rng, ns.team) };
            let mut ports =
                vec![port_range(Some("TCP"), 9000, 9100), port_num(Some("UDP"), 8125), port_num(Some("TCP"), 8080)];
            if rng.random_bool(0.3) {
                ports.push(port_range(Some("UDP"), 30000, 32767));
            }
            (
                "allow-port-ranges",
                json!({
                    "podSelector": match_labels(&[("tier", "backend")]),
                    "policyTypes": ["Ingress"],
                    "ingress": [{
                        "from": [{ "namespaceSelector": match_labels(&[("team", t)]) }],
                        "ports": ports,
                    }],
                }),
            )
        }
        Kind::TierEgress => {
            let target = match app_of_tier(rng, ns, Tier::Backend) {
                Some(a) if rng.random_bool(0.5) => match_labels(&[("app", &a.name)]),
                _ => match_labels(&[("tier", "backend")]),
            };
            let other = &nss[rng.random_range(0..nss.len())];
            let other_app = app_of(rng, other);
            let mut egress = vec![
                json!({
                    "to": [{ "podSelector": match_labels(&[("tier", "db")]) }],
                    "ports": [port_named(Some("TCP"), "db")],
                }),
                json!({
                    "to": [
                        { "podSelector": match_labels(&[("tier", "cache")]) },
                        {
                            "namespaceSelector": match_labels(&[(NS_NAME_LABEL, other.name.as_str())]),
                            "podSelector": match_labels(&[("app", other_app.name.as_str())]),
                        },
                    ],
                    "ports": [port_num(Some("TCP"), 6379), port_named(Some("TCP"), "http")],
                }),
            ];
            if system && rng.random_bool(0.5) {
                egress.push(json!({
                    "to": [{
                        "namespaceSelector": match_labels(&[(NS_NAME_LABEL, KUBE_SYSTEM)]),
                        "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
                    }],
                    "ports": [port_num(Some("UDP"), 53)],
                }));
            }
            ("allow-backend-egress", json!({ "podSelector": target, "policyTypes": ["Egress"], "egress": egress }))
        }
        Kind::AllowAll => {
            let app = app_of(rng, ns);
            (
                "allow-all-ingress",
                json!({
                    "podSelector": match_labels(&[("app", &app.name)]),
                    "policyTypes": ["Ingress"],
                    "ingress": [{}],
                }),
            )
        }
        Kind::FromNamespace => {
            let other = &nss[rng.random_range(0..nss.len())];
            let target = match app_of_tier(rng, ns, Tier::Frontend) {
                Some(a) => match_labels(&[("app", &a.name)]),
                None => json!({}),
            };
            (
                "allow-from-namespace",
                json!({
                    "podSelector": target,
                    "ingress": [{
                        "from": [{ "namespaceSelector": match_labels(&[(NS_NAME_LABEL, other.name.as_str())]) }],
                    }],
                }),
            )
        }
    }
}
