//! Calico and AdminNetworkPolicy objects for [`crate::generate`]: tiers, network sets,
//! GlobalNetworkPolicies and namespaced Calico NetworkPolicies of the shapes platform and
//! security teams write, AdminNetworkPolicies and the baseline.
//!
//! They draw from a generator of their own (seeded from [`Params::seed`]), so the
//! Kubernetes objects of a cluster do not depend on how many of these are asked for.

use rand::rngs::SmallRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::crd::{self, anp_named_port, anp_port_number, anp_port_range};
use crate::k8s::{self, expr, match_exprs, match_labels, NS_NAME_LABEL};
use crate::large::{Ns, Tier, KUBE_SYSTEM, MONITORING, TEAMS};
use crate::Params;

/// Mixed into the seed for this generator's own stream.
const STREAM: u64 = 0x00ca_11c0_a0d0_0001;

/// The security tier: blocks known-bad destinations first, passes the rest on.
const SECURITY: &str = "security";
/// The platform tier: cluster-wide allows and per-namespace isolation; ends in a Pass.
const PLATFORM: &str = "platform";

/// Teams whose namespaces hold sensitive data.
const SENSITIVE: [&str; 2] = ["payments", "identity"];

/// Generates the Calico objects (tiers, network sets, `p.calico_policies` policies) and
/// the admin objects (`p.admin_policies` AdminNetworkPolicies and, when there is one,
/// the baseline).
pub(crate) fn generate(p: &Params, nss: &[Ns], counts: &[usize], system: bool) -> (Vec<Value>, Vec<Value>) {
    let mut rng = SmallRng::seed_from_u64(p.seed ^ STREAM);
    let place = Placer::new(counts);
    let calico = if p.calico_policies > 0 && !nss.is_empty() {
        calico(&mut rng, p.calico_policies, nss, &place, system)
    } else {
        Vec::new()
    };
    let admin = if p.admin_policies > 0 && !nss.is_empty() {
        admin(&mut rng, p.admin_policies, nss, &place)
    } else {
        Vec::new()
    };
    (calico, admin)
}

/// Picks namespaces: half uniformly, half in proportion to their pods.
struct Placer {
    cum: Vec<usize>,
}

impl Placer {
    fn new(counts: &[usize]) -> Self {
        let mut acc = 0;
        Placer {
            cum: counts
                .iter()
                .map(|c| {
                    acc += c;
                    acc
                })
                .collect(),
        }
    }

    fn pick(&self, rng: &mut SmallRng) -> usize {
        let total = self.cum.last().copied().unwrap_or(0);
        if total == 0 || rng.random_bool(0.5) {
            rng.random_range(0..self.cum.len())
        } else {
            let x = rng.random_range(0..total);
            self.cum.partition_point(|&c| c <= x)
        }
    }
}

/// `count` distinct /24s under `base` (a /`len` network), as CIDR strings.
fn subnets(rng: &mut SmallRng, base: u32, len: u8, count: usize) -> Vec<String> {
    let span = 1u32 << (24 - u32::from(len));
    let mut out: Vec<String> = Vec::new();
    while out.len() < count.min(span as usize) {
        let c = k8s::cidr(base + (rng.random_range(0..span) << 8), 24);
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn allow_dns_rules() -> Value {
    let to = json!({
        "selector": "k8s-app == 'kube-dns'",
        "namespaceSelector": format!("projectcalico.org/name == '{KUBE_SYSTEM}'"),
        "ports": [53],
    });
    json!([
        { "action": "Allow", "protocol": "UDP", "destination": to },
        { "action": "Allow", "protocol": "TCP", "destination": to },
    ])
}

/// The cluster-wide policies every Calico cluster here starts with, in an order whose
/// every prefix makes sense (the platform tier's closing Pass comes before its allows).
fn fixed_global_policies() -> Vec<Value> {
    let gnp = |name: &str, spec: Value| crd::calico_policy(name, None, spec);
    vec![
        gnp(
            "security.block-metadata",
            json!({
                "tier": SECURITY,
                "order": 10,
                "selector": "all()",
                "types": ["Egress"],
                "egress": [
                    { "action": "Log", "destination": { "selector": "role == 'blocked'" } },
                    { "action": "Deny", "destination": { "selector": "role == 'blocked'" } },
                    { "action": "Deny", "destination": { "nets": ["169.254.169.254/32"] } },
                ],
            }),
        ),
        gnp(
            "platform.pass-rest",
            json!({
                "tier": PLATFORM,
                "order": 10000,
                "selector": "all()",
                "types": ["Ingress", "Egress"],
                "ingress": [{ "action": "Pass" }],
                "egress": [{ "action": "Pass" }],
            }),
        ),
        gnp(
            "platform.allow-dns",
            json!({
                "tier": PLATFORM,
                "order": 100,
                "selector": "all()",
                "types": ["Egress"],
                "egress": allow_dns_rules(),
            }),
        ),
        gnp(
            "security.block-threats",
            json!({
                "tier": SECURITY,
                "order": 20,
                "selector": "all()",
                "types": ["Ingress", "Egress"],
                "ingress": [
                    { "action": "Log", "source": { "selector": "feed == 'threats'" } },
                    { "action": "Deny", "source": { "selector": "feed == 'threats'" } },
                ],
                "egress": [{ "action": "Deny", "destination": { "selector": "feed == 'threats'" } }],
            }),
        ),
        gnp(
            "platform.allow-monitoring",
            json!({
                "tier": PLATFORM,
                "order": 110,
                "selector": "all()",
                "types": ["Ingress"],
                "ingress": [{
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": { "selector": "app == 'prometheus'", "namespaceSelector": "monitoring == 'true'" },
                    "destination": { "ports": ["metrics", 9090] },
                }],
            }),
        ),
        gnp(
            "security.quarantine",
            json!({
                "tier": SECURITY,
                "order": 1,
                "selector": "quarantine == 'true'",
                "types": ["Ingress", "Egress"],
                "ingress": [{ "action": "Log" }, { "action": "Deny" }],
                "egress": [{ "action": "Deny" }],
            }),
        ),
    ]
}

/// Tiers, network sets and exactly `k` Calico policies.
fn calico(rng: &mut SmallRng, k: usize, nss: &[Ns], place: &Placer, system: bool) -> Vec<Value> {
    let mut out = vec![crd::tier(SECURITY, Some(100.0), Some("Pass")), crd::tier(PLATFORM, Some(200.0), None)];
    // Global network sets: blocked ranges, threat feeds, trusted and partner ranges.
    let blocked = |cat: &str| k8s::labels(&[("role", "blocked"), ("category", cat)]);
    out.push(crd::network_set(
        "cloud-metadata",
        None,
        blocked("metadata"),
        &["169.254.169.254/32".into(), "fd00:ec2::254/128".into()],
    ));
    out.push(crd::network_set(
        "link-local",
        None,
        blocked("link-local"),
        &["169.254.0.0/16".into(), "fe80::/10".into()],
    ));
    for i in 0..1 + k / 100 {
        let mut nets = subnets(rng, 0xC612_0000, 15, 4); // 198.18.0.0/15
        nets.extend(subnets(rng, 0x6440_0000, 10, 2)); // 100.64.0.0/10
        let labels = k8s::labels(&[("role", "blocked"), ("feed", "threats")]);
        out.push(crd::network_set(&format!("threat-feed-{i}"), None, labels, &nets));
    }
    out.push(crd::network_set(
        "corp-ranges",
        None,
        k8s::labels(&[("role", "trusted"), ("zone", "corp")]),
        &["172.16.0.0/12".into(), "192.168.0.0/16".into()],
    ));
    out.push(crd::network_set(
        "partner-apis",
        None,
        k8s::labels(&[("role", "partner")]),
        &["203.0.113.0/24".into(), "198.51.100.0/24".into()],
    ));
    // Namespaced network sets: a namespace's own partners.
    let mut with_set = vec![false; nss.len()];
    for _ in 0..k / 20 {
        let ni = place.pick(rng);
        if with_set[ni] {
            continue;
        }
        with_set[ni] = true;
        let base = 0xC633_6400 | (rng.random_range(0..16u32) << 4); // in 198.51.100.0/24
        let labels = k8s::labels(&[("role", "partner"), ("team", nss[ni].team)]);
        out.push(crd::network_set("partners", Some(nss[ni].name.as_str()), labels, &[k8s::cidr(base, 28)]));
    }
    let fixed = fixed_global_policies();
    let n_fixed = fixed.len().min(k);
    out.extend(fixed.into_iter().take(n_fixed));
    let mut catalogue = global_catalogue();
    catalogue.shuffle(rng);
    for i in n_fixed..k {
        match catalogue.pop() {
            Some(shape) if rng.random_bool(0.3) => out.push(global_policy(shape)),
            other => {
                catalogue.extend(other);
                let ni = place.pick(rng);
                out.push(namespaced_policy(rng, nss, ni, i, system));
            }
        }
    }
    out
}

/// The GlobalNetworkPolicies beyond the first six. A cluster has each at most once: real
/// clusters keep a few dozen cluster-wide policies and put the rest in namespaces.
#[derive(Clone, Copy)]
enum Global {
    PassTeam(&'static str),
    DenyDevToProd,
    DenyToSensitive(&'static str),
    CorpEgress(&'static str),
    LogExternal,
}

/// Every [`Global`], once.
fn global_catalogue() -> Vec<Global> {
    let mut all: Vec<Global> = TEAMS.iter().map(|t| Global::PassTeam(t)).collect();
    all.extend(TEAMS.iter().map(|t| Global::CorpEgress(t)));
    all.extend(SENSITIVE.iter().map(|t| Global::DenyToSensitive(t)));
    all.extend([Global::DenyDevToProd, Global::LogExternal]);
    all
}

/// A GlobalNetworkPolicy of the catalogue.
fn global_policy(shape: Global) -> Value {
    let (name, spec) = match shape {
        // A team's namespaces skip the rest of the platform tier.
        Global::PassTeam(team) => (
            format!("{PLATFORM}.pass-team-{team}"),
            json!({
                "tier": PLATFORM,
                "order": 50,
                "namespaceSelector": format!("team == '{team}'"),
                "types": ["Ingress", "Egress"],
                "ingress": [{ "action": "Pass" }],
                "egress": [{ "action": "Pass" }],
            }),
        ),
        // Production workloads take nothing from dev namespaces (and it is logged).
        Global::DenyDevToProd => {
            let from = json!({ "namespaceSelector": "env == 'dev'" });
            (
                format!("{PLATFORM}.deny-dev-to-prod"),
                json!({
                    "tier": PLATFORM,
                    "order": 300,
                    "selector": "env == 'prod'",
                    "types": ["Ingress"],
                    "ingress": [{ "action": "Log", "source": from }, { "action": "Deny", "source": from }],
                }),
            )
        }
        // Dev namespaces send nothing to sensitive production namespaces.
        Global::DenyToSensitive(sensitive) => (
            format!("{SECURITY}.deny-dev-to-{sensitive}"),
            json!({
                "tier": SECURITY,
                "order": 200,
                "namespaceSelector": "env in {'dev', 'staging'}",
                "types": ["Egress"],
                "egress": [{
                    "action": "Deny",
                    "destination": { "namespaceSelector": format!("team == '{sensitive}' && env == 'prod'") },
                }],
            }),
        ),
        // A team's frontends may reach the corporate ranges on 443.
        Global::CorpEgress(team) => (
            format!("{PLATFORM}.allow-corp-egress-{team}"),
            json!({
                "tier": PLATFORM,
                "order": 400,
                "selector": "tier == 'frontend'",
                "namespaceSelector": format!("team == '{team}'"),
                "types": ["Egress"],
                "egress": [{
                    "action": "Allow",
                    "protocol": "TCP",
                    "destination": { "selector": "role == 'trusted'", "ports": [443] },
                }],
            }),
        ),
        // Record what reaches workloads from outside the pod network.
        Global::LogExternal => (
            format!("{SECURITY}.log-external"),
            json!({
                "tier": SECURITY,
                "order": 500,
                "selector": "has(app)",
                "types": ["Ingress"],
                "ingress": [{ "action": "Log", "source": { "notNets": ["10.0.0.0/8"] } }],
            }),
        ),
    };
    crd::calico_policy(&name, None, spec)
}

/// One of the namespaced Calico NetworkPolicy shapes, in regular namespace `ni`.
fn namespaced_policy(rng: &mut SmallRng, nss: &[Ns], ni: usize, i: usize, system: bool) -> Value {
    let ns = &nss[ni];
    let app = super::large::app_of(rng, ns);
    let other = super::large::app_of(rng, ns);
    let order = *[100, 200, 500, 900].choose(rng).unwrap_or(&100);
    let (name, spec) = match rng.random_range(0..100) {
        // Backends and databases of an app take traffic from frontends or one other app.
        0..30 => (
            format!("allow-{}-{i}", app.name),
            json!({
                "order": order,
                "selector": format!("app == '{}' && tier in {{'backend', 'db'}}", app.name),
                "types": ["Ingress"],
                "ingress": [{
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": { "selector": format!("tier == 'frontend' || app == '{}'", other.name) },
                    "destination": { "ports": ["http", "8000:8999"] },
                }],
            }),
        ),
        // Canaries take nothing from dev namespaces, and it is logged.
        30..40 => {
            let from = json!({ "namespaceSelector": "env == 'dev'" });
            (
                format!("deny-canary-{i}"),
                json!({
                    "order": 50,
                    "selector": "version != 'v1'",
                    "types": ["Ingress"],
                    "ingress": [{ "action": "Log", "source": from }, { "action": "Deny", "source": from }],
                }),
            )
        }
        // Frontends take HTTPS from the namespace's partners (a NetworkSet here).
        40..50 => (
            format!("allow-partners-{i}"),
            json!({
                "order": 300,
                "selector": "tier == 'frontend'",
                "types": ["Ingress"],
                "ingress": [{
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": { "selector": "role == 'partner'" },
                    "destination": { "ports": [443, "https"] },
                }],
            }),
        ),
        // Backends send only to data stores, their team and DNS; nothing outside the
        // cluster. No order: it runs after the Kubernetes NetworkPolicies.
        50..65 => {
            let mut egress = vec![
                json!({ "action": "Allow", "destination": { "selector": "tier in {'db', 'cache'}" } }),
                json!({ "action": "Allow", "destination": { "namespaceSelector": format!("team == '{}'", ns.team) } }),
            ];
            if system {
                let dns = allow_dns_rules();
                egress.extend(dns.as_array().into_iter().flatten().cloned());
            }
            egress.push(json!({ "action": "Deny", "destination": { "notNets": ["10.0.0.0/8"] } }));
            (
                format!("backend-egress-{i}"),
                json!({ "selector": "tier == 'backend'", "types": ["Egress"], "egress": egress }),
            )
        }
        // Namespace isolation in the platform tier: the team's namespaces are let in,
        // monitoring namespaces are passed on to the next tier, the rest is denied.
        65..75 => (
            format!("{PLATFORM}.isolate-{i}"),
            json!({
                "tier": PLATFORM,
                "order": 600,
                "selector": "all()",
                "types": ["Ingress"],
                "ingress": [
                    { "action": "Allow", "source": { "namespaceSelector": format!("team == '{}'", ns.team) } },
                    { "action": "Pass", "source": { "namespaceSelector": "monitoring == 'true'" } },
                    { "action": "Deny" },
                ],
            }),
        ),
        // An app takes HTTP from frontends running as the default service account.
        75..85 => (
            format!("allow-{}-from-sa-{i}", app.name),
            json!({
                "order": order,
                "selector": format!("app == '{}'", app.name),
                "types": ["Ingress"],
                "ingress": [{
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": { "selector": "tier == 'frontend'", "serviceAccounts": { "names": ["default"] } },
                    "destination": { "ports": ["http"] },
                }],
            }),
        ),
        // Databases take nothing from pods of their namespace that are not backends.
        _ => {
            let db = if app.tier == Tier::Db { format!("app == '{}'", app.name) } else { "tier == 'db'".into() };
            (
                format!("db-only-from-backends-{i}"),
                json!({
                    "order": 800,
                    "selector": db,
                    "types": ["Ingress"],
                    "ingress": [{ "action": "Deny", "source": { "notSelector": "tier == 'backend'" } }],
                }),
            )
        }
    };
    crd::calico_policy(&name, Some(ns.name.as_str()), spec)
}

/// `{namespaces: {matchLabels: {kubernetes.io/metadata.name: NAME}}}`.
fn namespace_named(name: &str) -> Value {
    json!({ "namespaces": match_labels(&[(NS_NAME_LABEL, name)]) })
}

/// The AdminNetworkPolicies beyond the first three: cluster-wide ones, each at most once,
/// and per-namespace isolation (regular namespace index) as often as needed.
#[derive(Clone, Copy)]
enum Admin {
    IsolateTeam(&'static str),
    DenyToSensitive(&'static str),
    PassFrontends(&'static str),
    DenyEgressRanges(&'static str),
    IsolateNamespace(usize),
}

/// Every cluster-wide [`Admin`], once.
fn admin_catalogue() -> Vec<Admin> {
    let mut all: Vec<Admin> = TEAMS.iter().map(|t| Admin::IsolateTeam(t)).collect();
    all.extend(TEAMS.iter().map(|t| Admin::PassFrontends(t)));
    all.extend(SENSITIVE.iter().map(|t| Admin::DenyToSensitive(t)));
    all.extend(["dev", "staging"].map(Admin::DenyEgressRanges));
    all
}

/// Exactly `a` AdminNetworkPolicies, then the baseline.
fn admin(rng: &mut SmallRng, a: usize, nss: &[Ns], place: &Placer) -> Vec<Value> {
    let mut out = Vec::with_capacity(a + 1);
    let fixed = [
        (
            "allow-monitoring",
            json!({
                "priority": 5,
                "subject": { "namespaces": {} },
                "ingress": [{
                    "name": "scrape",
                    "action": "Allow",
                    "from": [namespace_named(MONITORING)],
                    "ports": [anp_named_port("metrics"), anp_port_number(None, 9090)],
                }],
            }),
        ),
        (
            "protect-kube-system",
            json!({
                "priority": 10,
                "subject": { "namespaces": match_labels(&[(NS_NAME_LABEL, KUBE_SYSTEM)]) },
                "ingress": [
                    {
                        "name": "dns",
                        "action": "Allow",
                        "from": [{ "namespaces": {} }],
                        "ports": [anp_port_number(Some("UDP"), 53), anp_port_number(Some("TCP"), 53)],
                    },
                    { "name": "nothing-else", "action": "Deny", "from": [{ "namespaces": {} }] },
                ],
            }),
        ),
        (
            "deny-metadata",
            json!({
                "priority": 15,
                "subject": { "namespaces": {} },
                "egress": [{ "action": "Deny", "to": [{ "networks": ["169.254.169.254/32"] }] }],
            }),
        ),
    ];
    let n_fixed = fixed.len().min(a);
    for (name, spec) in fixed.into_iter().take(n_fixed) {
        out.push(crd::admin_policy(name, spec));
    }
    let mut catalogue = admin_catalogue();
    catalogue.shuffle(rng);
    for i in n_fixed..a {
        // Distinct priorities while they last (ANP priorities run 0-1000).
        let priority = (100 + i).min(1000);
        let shape = match catalogue.pop() {
            Some(shape) if rng.random_bool(0.5) => shape,
            other => {
                catalogue.extend(other);
                Admin::IsolateNamespace(place.pick(rng))
            }
        };
        let (name, spec) = match shape {
            // A team's namespaces: its own namespaces go on to the NetworkPolicies,
            // monitoring is let in, other teams are denied.
            Admin::IsolateTeam(team) => (
                format!("isolate-team-{team}"),
                json!({
                    "priority": priority,
                    "subject": { "namespaces": match_labels(&[("team", team)]) },
                    "ingress": [
                        { "name": "same-team", "action": "Pass", "from": [{ "namespaces": match_labels(&[("team", team)]) }] },
                        { "name": "monitoring", "action": "Allow", "from": [namespace_named(MONITORING)] },
                        {
                            "name": "other-teams",
                            "action": "Deny",
                            "from": [{ "namespaces": match_exprs(vec![expr("team", "NotIn", &[team])]) }],
                        },
                    ],
                }),
            ),
            // Dev and staging namespaces send nothing to sensitive production namespaces.
            Admin::DenyToSensitive(sensitive) => (
                format!("deny-to-{sensitive}"),
                json!({
                    "priority": priority,
                    "subject": { "namespaces": match_exprs(vec![expr("env", "In", &["dev", "staging"])]) },
                    "egress": [{
                        "action": "Deny",
                        "to": [{ "namespaces": match_labels(&[("team", sensitive), ("env", "prod")]) }],
                    }],
                }),
            ),
            // A team's backends leave frontend traffic on their service ports to the
            // NetworkPolicies.
            Admin::PassFrontends(team) => (
                format!("pass-frontends-{team}"),
                json!({
                    "priority": priority,
                    "subject": { "pods": {
                        "namespaceSelector": match_labels(&[("team", team)]),
                        "podSelector": match_labels(&[("tier", "backend")]),
                    } },
                    "ingress": [{
                        "action": "Pass",
                        "from": [{ "pods": { "namespaceSelector": {}, "podSelector": match_labels(&[("tier", "frontend")]) } }],
                        "ports": [anp_port_range(None, 8000, 8999), anp_named_port("grpc")],
                    }],
                }),
            ),
            // An environment's namespaces reach no benchmark ranges.
            Admin::DenyEgressRanges(env) => (
                format!("deny-egress-ranges-{env}"),
                json!({
                    "priority": priority,
                    "subject": { "namespaces": match_labels(&[("env", env)]) },
                    "egress": [{ "action": "Deny", "to": [{ "networks": ["198.18.0.0/15", "100.64.0.0/10"] }] }],
                }),
            ),
            // One namespace takes traffic only from itself (and what earlier
            // AdminNetworkPolicies allow, such as monitoring).
            Admin::IsolateNamespace(ni) => {
                let ns = nss[ni].name.as_str();
                (
                    format!("isolate-{ns}-{i}"),
                    json!({
                        "priority": priority,
                        "subject": { "namespaces": match_labels(&[(NS_NAME_LABEL, ns)]) },
                        "ingress": [
                            { "name": "itself", "action": "Pass", "from": [namespace_named(ns)] },
                            { "name": "others", "action": "Deny", "from": [{ "namespaces": {} }] },
                        ],
                    }),
                )
            }
        };
        out.push(crd::admin_policy(&name, spec));
    }
    out.push(crd::baseline_policy(json!({
        "subject": { "namespaces": match_exprs(vec![expr("env", "In", &["prod", "staging"])]) },
        "ingress": [
            { "name": "monitoring", "action": "Allow", "from": [namespace_named(MONITORING)] },
            { "name": "no-dev", "action": "Deny", "from": [{ "namespaces": match_labels(&[("env", "dev")]) }] },
        ],
        "egress": [{
            "name": "dns",
            "action": "Allow",
            "to": [{ "pods": {
                "namespaceSelector": match_labels(&[(NS_NAME_LABEL, KUBE_SYSTEM)]),
                "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
            } }],
            "ports": [anp_port_number(Some("UDP"), 53)],
        }],
    })));
    out
}
