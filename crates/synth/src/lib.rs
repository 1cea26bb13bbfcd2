//! Synthetic Kubernetes clusters for podwall's tests and benchmarks.
//!
//! [`generate`] builds a realistic cluster of a chosen size — Namespaces, Pods
//! and `networking.k8s.io/v1` NetworkPolicies — as Kubernetes JSON objects, and
//! [`write`] lays it out on disk as one `kind: List` file per namespace.
//! [`generate_small`] draws a tiny cluster full of edge cases, for property tests
//! that compare evaluators on many random clusters.
//!
//! ```
//! use podwall_synth::{generate, Params};
//! let objects = generate(&Params { pods: 200, namespaces: 12, policies: 40, seed: 7 });
//! let pods = objects.iter().filter(|o| o["kind"] == "Pod").count();
//! assert_eq!(pods, 200);
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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod k8s;
mod large;
mod small;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The largest pod count [`generate`] accepts (pod addresses run from
/// `10.1.0.1` up to `10.255.255.255`).
pub const MAX_PODS: usize = 0x0AFF_FFFF - 0x0A01_0000;

/// Size and seed of a synthetic cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    /// Number of Pod objects, system pods (CoreDNS, Prometheus) included.
    pub pods: usize,
    /// Number of Namespace objects, `monitoring` and `kube-system` included
    /// (they exist when this is at least 3).
    pub namespaces: usize,
    /// Number of NetworkPolicy objects.
    pub policies: usize,
    /// Seed of the random generator.
    pub seed: u64,
}

/// Every generated object as a Kubernetes JSON object
/// (`apiVersion`/`kind`/`metadata`/`spec`/`status`).
///
/// Objects come namespace by namespace: the Namespace, its Pods, then its
/// NetworkPolicies. See the [crate documentation](crate) for the shape.
///
/// # Panics
///
/// If `p.pods` exceeds [`MAX_PODS`].
pub fn generate(p: &Params) -> Vec<Value> {
    large::generate(p).into_iter().flat_map(|b| b.items).collect()
}

/// Writes the cluster to `dir`: one JSON file per namespace (`ns-0001.json`,
/// `monitoring.json`, `kube-system.json`) holding a `kind: List` (apiVersion v1)
/// with that namespace's Namespace, Pods and NetworkPolicies; returns the file
/// paths.
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
    for b in large::generate(p) {
        let path = dir.join(format!("{}.json", b.name));
        write_list(&path, &b.items)?;
        paths.push(path);
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
