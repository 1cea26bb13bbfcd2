//! Synthetic Kubernetes clusters for podwall's tests and benchmarks.
//!
//! [`generate`] builds a realistic cluster of a chosen size — Namespaces, Pods
//! and `networking.k8s.io/v1` NetworkPolicies, and on request Calico tiers, policies and
//! network sets and AdminNetworkPolicies — as Kubernetes JSON objects, and [`write()`] lays
//! it out on disk as one `kind: List` file per namespace (plus `calico.json` and
//! `admin.json`). [`generate_small`] draws a tiny cluster full of edge cases, for property
//! tests that compare evaluators on many random clusters; [`generate_small_mixed`] adds
//! Calico, AdminNetworkPolicy and ClusterNetworkPolicy objects to it.
//!
//! ```
//! use podwall_synth::{generate, Params};
//! let p = Params { pods: 200, namespaces: 12, policies: 40, seed: 7, ..Params::default() };
//! let objects = generate(&p);
//! let pods = objects.iter().filter(|o| o["kind"] == "Pod").count();
//! assert_eq!(pods, 200);
//!
//! let with_calico = generate(&Params { calico_policies: 20, admin_policies: 4, ..p });
//! assert!(with_calico.iter().any(|o| o["kind"] == "GlobalNetworkPolicy"));
//! // The Kubernetes objects do not change.
//! assert_eq!(with_calico[..objects.len()], objects[..]);
//! ```
//!
//! # Determinism
//!
//! The output is a pure function of [`Params`] (the generator is `rand`'s
//! `SmallRng` seeded from [`Params::seed`]). It is stable only within one version
//! of this crate (and of its `rand` dependency, on one pointer width): any change
//! to the generator may change what a seed produces, so tests should not pin
//! exact objects to a seed, only properties of them.
//!
//! # Shape of a [`generate`]d cluster
//!
//! **Namespaces.** `ns-0000`, `ns-0001`, … each labelled
//! `kubernetes.io/metadata.name`, `team` (one of 10 teams: `payments`, `search`,
//! `identity`, `checkout`, `catalog`, `platform`, `data`, `growth`, `messaging`,
//! `media`), `env` (`prod` 55%, `staging` 25%, `dev` 20%) and, in 40% of them,
//! `monitoring: "true"`. When `namespaces >= 3`, two of the namespaces are the
//! system ones:
//! - `monitoring` (labels `kubernetes.io/metadata.name`, `name: monitoring`,
//!   `team: platform`, `monitoring: "true"`) with Prometheus pods (`app:
//!   prometheus`, port `web` 9090/TCP), one per 100,000 pods (at least one);
//! - `kube-system` with CoreDNS pods labelled `k8s-app: kube-dns`, ports `dns`
//!   53/UDP, `dns-tcp` 53/TCP and `metrics` 9153/TCP, two plus one per 50,000
//!   pods.
//!
//! With `namespaces == 0` the cluster is empty (pods and policies need a
//! namespace to live in).
//!
//! **Pods.** Spread over the `ns-*` namespaces with a Zipf-like distribution
//! (weight 1/rank, ranks shuffled), so a few namespaces are large and most are
//! small or empty. Each namespace runs workloads of 1 to 50 replicas (larger
//! namespaces get larger workloads); about 70% of pods are replicas sharing their
//! full label set with other pods of their namespace, so there are far fewer
//! label equivalence classes than pods. Pod labels: `app` (a per-namespace app
//! name such as `api`, `web`, `orders-db`, `redis-2`: a typical namespace has
//! 1–20 apps, the few very large ones more), `tier` (`frontend`, `backend`, `db`,
//! `cache`; fixed per app), `version` (`v1`, some apps also run `v2`/`v3`),
//! and the namespace's `team` and `env`. A namespace without pods still has
//! 1–3 app names (scaled-to-zero workloads) for its policies to refer to.
//!
//! Container ports depend on the tier: frontends have `http` (8080, sometimes
//! 3000 or 80), usually `metrics` (9090) and sometimes `https` (8443); backends
//! `http` (8080 or 8000), often `grpc` (9000) and `metrics` (9090), sometimes
//! `statsd` (8125/UDP); databases `db` (5432 for PostgreSQL-like apps, 3306
//! MySQL, 27017 Mongo) with a `metrics` (9187) exporter sidecar in 60%; caches
//! `redis` (6379) or `memcache` (11211, TCP and UDP) with an optional `metrics`
//! sidecar. About 15% of TCP container ports leave `protocol` out (it defaults to
//! TCP). So a named port like `metrics` resolves to different numbers in
//! different pods, and is missing from some.
//!
//! Every pod is `Running` with a unique `status.podIP` (and `podIPs`): the
//! addresses `10.1.0.1`, `10.1.0.2`, … one per pod, shuffled over the pods. No pod
//! uses `hostNetwork`. At most [`MAX_PODS`] pods.
//!
//! **NetworkPolicies.** Exactly `policies` of them, named `<shape>-<index>`,
//! half placed uniformly over the `ns-*` namespaces and half following the pods;
//! about 1% go to the system namespaces (a kube-system policy letting every
//! namespace reach CoreDNS on 53/UDP and TCP; a Prometheus egress policy to
//! `monitoring: "true"` namespaces on `metrics`). The shapes, with their share:
//! - 14% `default-deny-ingress`: `podSelector: {}`, `policyTypes: [Ingress]`;
//! - 5% `default-deny-all`: `podSelector: {}`, `policyTypes: [Ingress, Egress]`;
//! - 14% `allow-same-app`: pods of an app from pods of the same app, sometimes
//!   only on `http`;
//! - 10% `allow-monitoring`: from the monitoring namespace (by
//!   `kubernetes.io/metadata.name`, by `name`, or that plus `app: prometheus` in
//!   one peer) on the named port `metrics`;
//! - 10% `allow-dns-egress`: egress to `k8s-app: kube-dns` pods in
//!   `kube-system` on 53/UDP and 53/TCP (in 20%, the named ports `dns` and
//!   `dns-tcp`);
//! - 5% `allow-internet-egress`: frontends to `0.0.0.0/0` except `10.0.0.0/8`
//!   (and `172.16.0.0/12`, `192.168.0.0/16`) on 443 and 80;
//! - 5% `allow-ipblock`: ingress from `172.16.0.0/12` except a `/24`, from
//!   `10.1.0.0/16` (pod addresses) except one of its first four `/24`s, or from
//!   `192.168.0.0/16`;
//! - 14% `allow-tier`: frontend → backend (`http`/8080, maybe `grpc`), backend →
//!   db (`db`/5432), backend → cache (6379, no protocol), sometimes also from the
//!   same tier in the team's other namespaces;
//! - 8% `allow-selected`: `matchExpressions` everywhere (`In`, `NotIn`,
//!   `Exists`, `DoesNotExist`) on pod and namespace selectors, ports 8000–8999
//!   (`endPort`) and maybe `grpc`;
//! - 5% `allow-port-ranges`: backends from a team's namespaces on 9000–9100/TCP,
//!   8125/UDP, 8080/TCP and sometimes 30000–32767/UDP;
//! - 6% `allow-backend-egress`: egress to db (`db`), to caches and one app of
//!   some namespace (6379, `http`), and maybe to kube-dns;
//! - 2% `allow-all-ingress`: one rule with neither `from` nor `ports`;
//! - 4% `allow-from-namespace`: from one namespace by name, without
//!   `policyTypes`.
//!
//! **Calico objects** (only with `calico_policies > 0`; all in `calico.json`). Two
//! Tiers before the default one: `security` (order 100, `defaultAction: Pass`) and
//! `platform` (order 200, default Deny, closed by a catch-all Pass policy). Global network
//! sets: `cloud-metadata` (169.254.169.254/32 and its IPv6 twin) and `link-local`
//! (labels `role: blocked`, `category`), `threat-feed-N` (one per 100 policies: /24s in
//! 198.18.0.0/15 and 100.64.0.0/10, labels `role: blocked`, `feed: threats`),
//! `corp-ranges` (`role: trusted`, `zone: corp`) and `partner-apis` (`role: partner`);
//! and a namespaced NetworkSet `partners` (`role: partner`, a /28 of 198.51.100.0/24) in
//! up to one namespace per 20 policies. No set covers a pod address. Exactly
//! `calico_policies` policies; the first six are these GlobalNetworkPolicies (listed in
//! evaluation order; fewer asked for give block-metadata, pass-rest, allow-dns,
//! block-threats, allow-monitoring, quarantine in that order, so the platform tier is
//! always closed by its Pass):
//! - `security.quarantine` (order 1): Log and Deny both ways for `quarantine == 'true'`;
//! - `security.block-metadata` (order 10): egress Log then Deny to `role == 'blocked'`
//!   network sets, Deny to 169.254.169.254/32;
//! - `security.block-threats` (order 20): Log and Deny from, Deny to `feed == 'threats'`;
//! - `platform.allow-dns` (order 100): egress to `k8s-app == 'kube-dns'` in kube-system
//!   (by `projectcalico.org/name`) on 53/UDP and 53/TCP;
//! - `platform.allow-monitoring` (order 110): ingress from `app == 'prometheus'` in
//!   `monitoring == 'true'` namespaces on `metrics` and 9090;
//! - `platform.pass-rest` (order 10000): Pass both ways for everything.
//!
//! The others are Calico NetworkPolicies placed like the NetworkPolicies, and now and
//! then (30% of the draws, while they last) one of 24 more GlobalNetworkPolicies, each at
//! most once — real clusters keep a few dozen cluster-wide policies: Pass both ways for a
//! team's namespaces (`namespaceSelector: team == 'x'`, order 50; one per team), Allow a
//! team's frontends to `role == 'trusted'` on 443 (one per team), Deny egress from dev
//! and staging namespaces to a sensitive team's production ones (`team == 'payments' &&
//! env == 'prod'`), Log and Deny ingress from `env == 'dev'` namespaces to `env ==
//! 'prod'` pods, Log ingress from outside 10.0.0.0/8 (`notNets`). The namespaced shapes:
//! `app == 'x' && tier in {'backend', 'db'}` from `tier == 'frontend' || app == 'y'` on
//! `http` and `8000:8999` (order 100–900; 30%), Log and Deny from dev namespaces for
//! `version != 'v1'` (order 50; 10%), frontends from `role == 'partner'` on 443 and
//! `https` (10%), backend egress to data stores, the team and DNS with Deny outside
//! 10.0.0.0/8 (no order: after the NetworkPolicies; 15%), namespace isolation in the
//! platform tier (Allow the team, Pass monitoring namespaces, Deny the rest; 10%), an
//! app from frontends running as service account `default` on `http` (10%), and Deny to
//! databases from anything in the namespace but backends (`notSelector`, 15%).
//!
//! **AdminNetworkPolicies** (only with `admin_policies > 0`; in `admin.json`). Exactly
//! `admin_policies` of them, the first three being `allow-monitoring` (priority 5: every
//! namespace admits the monitoring namespace on `metrics` and 9090),
//! `protect-kube-system` (10: DNS from every namespace, nothing else) and
//! `deny-metadata` (15: egress Deny to 169.254.169.254/32); the others take priority
//! 100 + their index (at most 1000, so they tie only beyond 900 policies). Half of them
//! (while they last) are 24 cluster-wide ones, each at most once: team isolation (Pass
//! from the team's namespaces, Allow from monitoring, Deny from other teams; one per
//! team), Pass from frontends to a team's backends on 8000–8999 and `grpc` (one per
//! team), Deny egress from dev and staging namespaces to a sensitive team's production
//! namespaces, Deny egress from dev or from staging namespaces to the benchmark ranges;
//! the rest isolate one namespace each (Pass from itself, Deny from every namespace),
//! placed like the NetworkPolicies. Then the BaselineAdminNetworkPolicy `default`: prod
//! and staging namespaces admit monitoring and refuse dev namespaces, and may send DNS to
//! kube-dns.
//!
//! # Shape of a [`generate_small`] cluster
//!
//! 2–12 pods in 1–4 namespaces (`ns-0000`…) and 0–8 policies, with a tiny
//! vocabulary so that selectors often match: namespaces carry `team` (`red`,
//! `blue`) and `env` (`prod`, `dev`), each sometimes missing; pods carry `app`
//! (`a`, `b`, `c`), `tier` (`fe`, `be`), `version` (`v1`, `v2`), each sometimes
//! missing. Pods have random subsets of the ports `http` (80 or 8080), `metrics`
//! (9090), `dns` (53/UDP) and an unnamed 5432, protocol sometimes left out, and
//! addresses `10.1.0.1`…`10.1.0.12`. Policies mix, at random: empty
//! `podSelector`, `matchLabels` and/or `matchExpressions` (all four operators,
//! sometimes a value no object has), missing `policyTypes` (with or without
//! `egress` rules), `[Ingress]`, `[Egress]` or both; absent or empty rule lists;
//! rules with no (or an empty) `from`/`to`, no (or empty) `ports`; peers with a
//! pod selector, a namespace selector (often `{}`), both in one peer, or an
//! `ipBlock` (from `0.0.0.0/0` down to a `/32`, often covering some pod addresses
//! with `except` blocks covering others); ports named (including `grpc`, which no
//! pod has), numeric, `endPort` ranges, protocol-only, or `{}`, over TCP, UDP,
//! SCTP or no protocol. Policy types and rule lists never disagree (no
//! `ingress` rules under `policyTypes: [Egress]`).
//!
//! # Shape of a [`generate_small_mixed`] cluster
//!
//! A [`generate_small`] cluster, with 40% of the pods running as service account
//! `sa-a`, `sa-b` or `default`; in 40% of the clusters a third of the pods are IPv6-only
//! (`fd00::1:N`) and a third dual-stack (`podIPs` with both families), then: ServiceAccount objects (`role: front|back`) in some
//! namespaces; sometimes two Nodes (`zone: z1|z2`, 10.2.0.1 and 10.2.0.2), a
//! host-network pod with the first node's address, and a Deployment (a template: an
//! endpoint without address). 0–3 Tiers among `security` and `early` (both order 100),
//! `platform` (200), `mid` (5000: after the AdminNetworkPolicy tier), `after-default`
//! (2,000,000: between the default and the baseline tiers) and `late` (no order), with
//! `defaultAction` absent, Deny or Pass; sometimes the `default` Tier object itself.
//! 0–3 GlobalNetworkSets or NetworkSets labelled from `kind: blocked|trusted` and `app:
//! a|b` (shared with pods) whose nets cover all, some, one or none of the pods, the node
//! range or only IPv6. 1–6 Calico NetworkPolicies and GlobalNetworkPolicies: in the
//! default tier (named or not) or a declared one (names with or without the tier
//! prefix), order absent or one of 10, 100, 500.5, 1000 (level with the NetworkPolicies)
//! and 1500 with ties; selectors absent, empty, `all()` or expressions of `==`, `!=`,
//! `in`, `not in`/`notin`, `has()`, `!has()`, `starts with`, `ends with`, `all()`,
//! `projectcalico.org/namespace`, `…/serviceaccount`, `…/orchestrator`, joined by `&&` and
//! `||`, parenthesised or negated; GlobalNetworkPolicy `namespaceSelector`,
//! `serviceAccountSelector`; `types` absent or any combination; 0–3 rules per direction
//! with actions Allow, Deny, Pass or Log, protocols by name or number (TCP, UDP, SCTP,
//! 6, 17, 132, UDPLite, ICMP with an `icmp` match), `notProtocol`, `ipVersion`, and
//! source and destination entity rules with `selector`, `notSelector`,
//! `namespaceSelector` (`all()`, `global()`, `kubernetes.io/metadata.name`,
//! `projectcalico.org/name`), `nets`, `notNets`, `serviceAccounts` (names, selector) and
//! destination `ports`/`notPorts` (numbers, numbers as strings, `lo:hi` ranges, names).
//! 0–3 AdminNetworkPolicies (priorities from 0 to 1000, ties possible) and, in 40% of the
//! clusters, the BaselineAdminNetworkPolicy `default`: subjects by namespaces or pods,
//! rules Allow, Deny or Pass (not in the baseline) with `namespaces`, `pods`, `networks`
//! and `nodes` peers, and ports by number, range or name (never a name with address
//! peers). In half the clusters, 1–3 ClusterNetworkPolicies (`policy.networking.k8s.io/v1alpha2`,
//! `cnp-0`…, last in the output): tier `Admin` (60%) or `Baseline`, priorities as the
//! AdminNetworkPolicies' (ties possible), the same subjects and peers, rules Accept, Deny
//! or Pass (in both tiers), optionally named, and `protocols` entries `tcp`, `udp` or
//! `sctp` with a `destinationPort` number or range, or `destinationNamedPort` (never with
//! address peers). They draw from a random stream of their own, so every other object
//! of a seed is what it was before they were generated. Nothing podwall warns about as
//! unmodelled is generated (the only warning is the one about admin policies sharing a
//! priority).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod crd;
mod k8s;
mod large;
mod large_crd;
mod mixed;
mod small;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The largest pod count [`generate`] accepts (pod addresses run from
/// `10.1.0.1` up to `10.255.255.255`).
pub const MAX_PODS: usize = 0x0AFF_FFFF - 0x0A01_0000;

/// Size and seed of a synthetic cluster.
///
/// `calico_policies` and `admin_policies` default to 0 (a Kubernetes-only cluster, as
/// before they existed); asking for them leaves the Kubernetes objects unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params {
    /// Number of Pod objects, system pods (CoreDNS, Prometheus) included.
    pub pods: usize,
    /// Number of Namespace objects, `monitoring` and `kube-system` included
    /// (they exist when this is at least 3).
    pub namespaces: usize,
    /// Number of NetworkPolicy objects.
    pub policies: usize,
    /// Number of Calico NetworkPolicy and GlobalNetworkPolicy objects; with any, the
    /// cluster also gets the `security` and `platform` Tiers and network sets.
    pub calico_policies: usize,
    /// Number of AdminNetworkPolicy objects; with any, the cluster also gets the
    /// BaselineAdminNetworkPolicy `default`.
    pub admin_policies: usize,
    /// Seed of the random generator.
    pub seed: u64,
}

/// Every generated object as a Kubernetes JSON object
/// (`apiVersion`/`kind`/`metadata`/`spec`/`status`).
///
/// Objects come namespace by namespace: the Namespace, its Pods, then its
/// NetworkPolicies; then the Calico objects (Tiers, GlobalNetworkSets, NetworkSets,
/// GlobalNetworkPolicies and Calico NetworkPolicies), then the AdminNetworkPolicies and the
/// BaselineAdminNetworkPolicy. See the [crate documentation](crate) for the shape.
///
/// # Panics
///
/// If `p.pods` exceeds [`MAX_PODS`].
pub fn generate(p: &Params) -> Vec<Value> {
    let g = large::generate(p);
    g.bundles.into_iter().flat_map(|b| b.items).chain(g.calico).chain(g.admin).collect()
}

/// Writes the cluster to `dir`: one JSON file per namespace (`ns-0001.json`,
/// `monitoring.json`, `kube-system.json`) holding a `kind: List` (apiVersion v1)
/// with that namespace's Namespace, Pods and NetworkPolicies; then, when there are any,
/// `calico.json` with every Calico object and `admin.json` with the AdminNetworkPolicies
/// and the baseline, also as `kind: List`. Returns the file paths.
///
/// `dir` is created if missing; files already there are overwritten. The
/// objects are those of [`generate`] with the same parameters, in the same order.
///
/// # Panics
///
/// If `p.pods` exceeds [`MAX_PODS`].
pub fn write(p: &Params, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    let g = large::generate(p);
    for b in g.bundles {
        let path = dir.join(format!("{}.json", b.name));
        write_list(&path, &b.items)?;
        paths.push(path);
    }
    for (name, items) in [("calico", g.calico), ("admin", g.admin)] {
        if !items.is_empty() {
            let path = dir.join(format!("{name}.json"));
            write_list(&path, &items)?;
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Writes `items` to `path` as a `v1` `List`.
fn write_list(path: &Path, items: &[Value]) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, File::create(path)?);
    w.write_all(br#"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":["#)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, item)?;
    }
    w.write_all(b"]}\n")?;
    w.flush()
}

/// A small random cluster for property tests: 2–12 pods, 1–4 namespaces, 0–8
/// NetworkPolicies, a tiny label vocabulary and many edge cases (see the
/// [crate documentation](crate)). Deterministic in `seed`.
///
/// Objects come as the Namespaces, then the Pods, then the NetworkPolicies.
pub fn generate_small(seed: u64) -> Vec<Value> {
    small::generate(seed)
}

/// A small random cluster mixing every dialect podwall reads: a [`generate_small`]
/// cluster (same sizes and Kubernetes NetworkPolicies) plus Calico tiers, policies and
/// network sets, AdminNetworkPolicies, a BaselineAdminNetworkPolicy and
/// ClusterNetworkPolicies, service
/// accounts, nodes, and now and then a host-network pod or a workload template (see
/// the [crate documentation](crate)). Deterministic in `seed`.
///
/// Objects come as the Namespaces, Pods and NetworkPolicies, then everything else.
pub fn generate_small_mixed(seed: u64) -> Vec<Value> {
    mixed::generate(seed)
}
