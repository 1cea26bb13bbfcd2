//! `podwall-bench gen` and `run`: synthetic clusters, and the engine measured on them.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use podwall_engine::{evaluate, Addr, Index, Live, Packet};
use podwall_ir::Protocol;

use crate::Failure;

/// Flags of `gen`.
#[derive(clap::Args)]
pub struct GenArgs {
    /// Pods.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Namespaces.
    #[arg(long, default_value_t = 1_000)]
    namespaces: usize,
    /// NetworkPolicies.
    #[arg(long, default_value_t = 2_000)]
    policies: usize,
    /// Calico NetworkPolicies and GlobalNetworkPolicies (with any, also the `security` and
    /// `platform` tiers and network sets; written to calico.json).
    #[arg(long, default_value_t = 0)]
    calico_policies: usize,
    /// AdminNetworkPolicies (with any, also the BaselineAdminNetworkPolicy; written to
    /// admin.json).
    #[arg(long, default_value_t = 0)]
    admin_policies: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder.
    #[arg(short = 'o', long)]
    out: PathBuf,
}

/// Flags of `run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The cluster folder (or file).
    dir: PathBuf,
    /// Random pairs for the pair-query latency.
    #[arg(long, default_value_t = 100_000)]
    pairs: usize,
    /// Random pairs the pair-by-pair reference evaluator judges (its matrix time is
    /// extrapolated from them: at 100,000 pods it needs about 0.1-0.6 ms a pair); 0 skips it.
    #[arg(long, default_value_t = 5_000)]
    oracle_pairs: usize,
    /// Policies changed (and changed back) one at a time for the incremental figure.
    #[arg(long, default_value_t = 25)]
    changes: usize,
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A small deterministic generator for picking pairs.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// Reads every JSON/YAML file under `dir` and parses JSON ones into untyped values, in
/// parallel: the floor any tool that reads the files pays.
fn parse_only(dir: &std::path::Path) -> Result<usize, Failure> {
    use rayon::prelude::*;
    let mut list = podwall_load::manifest_files(dir)?;
    list.retain(|f| f.extension().is_some_and(|e| e == "json"));
    let sizes: Vec<Result<usize, String>> = list
        .par_iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            Ok(v.as_object().map(|o| o.len()).unwrap_or(0))
        })
        .collect();
    sizes.into_iter().sum::<Result<usize, String>>().map_err(Failure::Error)
}

/// Runs `run`: load, index, matrix, summary and pair-query times on a folder.
pub fn run(a: RunArgs) -> Result<ExitCode, Failure> {
    let t = Instant::now();
    std::hint::black_box(parse_only(&a.dir)?);
    let parse = t.elapsed();
    let t = Instant::now();
    let input = podwall_load::load_paths(&[&a.dir])?;
    let load = t.elapsed();
    let t = Instant::now();
    let cluster = Arc::new(podwall_dialects::compile(&input)?);
    let compile = t.elapsed();
    drop(input);
    let t = Instant::now();
    let index = Index::build(cluster.clone());
    let build = t.elapsed();
    let n = cluster.endpoints.len();
    let policies = cluster.policies.policies().count();
    // `check` end to end, as the command runs it: read what can bear on the pair (the two
    // pods, their namespaces' policies, every other kind), compile, evaluate once.
    let check = if n > 1 {
        let (sn, dn) = (&cluster.endpoints[0].name, &cluster.endpoints[n - 1].name);
        let t = Instant::now();
        let r = podwall_dialects::Relevance::between(&[sn, dn])
            .ok_or_else(|| Failure::Error(format!("endpoint names {sn:?}, {dn:?} have no known shape")))?;
        let part = podwall_dialects::compile(&podwall_load::load_paths_where(&[&a.dir], &|k| r.keeps(k))?)?;
        let (s, d) =
            part.endpoint(sn).zip(part.endpoint(dn)).ok_or_else(|| Failure::Error("check lost its pair".into()))?;
        std::hint::black_box(evaluate(&part, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), Protocol::TCP, 80)));
        t.elapsed()
    } else {
        Duration::ZERO
    };
    crate::outln!(
        "cluster: {n} endpoints, {} namespaces, {policies} policies, {} equivalence classes",
        cluster.namespaces.len(),
        index.class_count()
    );
    crate::outln!("load (read + parse):          {}", ms(load));
    crate::outln!("compile (to tiered form):     {}", ms(compile));
    crate::outln!("index (classes + selectors):  {}", ms(build));
    crate::outln!(
        "check, one pair end to end (read what bears on it + compile + evaluate): {}; parsing the JSON files alone (serde_json, untyped, same threads): {} ({:.2}x)",
        ms(check),
        ms(parse),
        check.as_secs_f64() / parse.as_secs_f64()
    );
    // The most declared port is the one-port matrix.
    let mut ports: BTreeMap<(Protocol, u16), usize> = BTreeMap::new();
    for e in &cluster.endpoints {
        for p in &e.ports {
            *ports.entry((p.protocol, p.port)).or_default() += 1;
        }
    }
    let (proto, port) = ports.iter().max_by_key(|(_, c)| **c).map(|(k, _)| *k).unwrap_or((Protocol::TCP, 80));
    let t = Instant::now();
    let m = index.matrix(proto, Some(port));
    let one = t.elapsed();
    let t = Instant::now();
    let allowed: usize = m.summary().iter().map(|s| s.egress_peers).sum();
    let counted = t.elapsed();
    let (es, is) = m.signatures();
    crate::outln!(
        "matrix {proto}/{port} (all {n}x{n} pairs): {}  ({es} distinct egress and {is} distinct ingress walks); counting it: {} ({allowed} allowed pairs)",
        ms(one),
        ms(counted)
    );
    drop(m);
    // The full summary: per endpoint and declared port, the peers allowed each way.
    let keys: Vec<(Protocol, Option<u16>)> = ports.keys().map(|&(pr, po)| (pr, Some(po))).collect();
    let summary_all = || -> Vec<usize> { index.summaries(&keys).iter().map(Vec::len).collect() };
    let one_thread =
        rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| Failure::Error(e.to_string()))?;
    let t = Instant::now();
    std::hint::black_box(one_thread.install(summary_all));
    let single = t.elapsed();
    let t = Instant::now();
    std::hint::black_box(summary_all());
    crate::outln!(
        "summary (every endpoint, {} declared ports): {} on {} threads; {} on 1 thread",
        keys.len(),
        ms(t.elapsed()),
        rayon::current_num_threads(),
        ms(single)
    );
    // Pair queries.
    let mut rng = Lcg(42);
    let pairs: Vec<(usize, usize)> = (0..a.pairs).map(|_| (rng.next(n), rng.next(n))).collect();
    let mut lat = Vec::with_capacity(pairs.len());
    let mut yes = 0usize;
    for &(s, d) in &pairs {
        let t = Instant::now();
        let ok = index.query(s, d, proto, Some(port));
        lat.push(t.elapsed());
        yes += ok as usize;
    }
    lat.sort();
    if !lat.is_empty() {
        crate::outln!(
            "pair query (index): median {:.2} µs, p99 {:.2} µs over {} pairs ({yes} allowed)",
            lat[lat.len() / 2].as_secs_f64() * 1e6,
            lat[lat.len() * 99 / 100].as_secs_f64() * 1e6,
            lat.len()
        );
    }
    if a.oracle_pairs > 0 && n > 0 {
        let mut rng = Lcg(7);
        let sample: Vec<(usize, usize)> = (0..a.oracle_pairs).map(|_| (rng.next(n), rng.next(n))).collect();
        let t = Instant::now();
        for &(s, d) in &sample {
            let pkt = Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port);
            std::hint::black_box(evaluate(&cluster, &pkt));
        }
        let per_pair = t.elapsed().as_secs_f64() / sample.len() as f64;
        crate::outln!(
            "pair-by-pair reference: {:.2} µs per pair; full matrix extrapolated from {} random pairs: {:.1} s ({:.0}x the set-based matrix)",
            per_pair * 1e6,
            sample.len(),
            per_pair * (n * n) as f64,
            per_pair * (n * n) as f64 / one.as_secs_f64()
        );
    }
    // Incremental: change policies one at a time and re-answer the watched port.
    drop(index);
    let t = Instant::now();
    let mut live = Live::new(cluster);
    live.watch(proto, Some(port));
    let watch = t.elapsed();
    let picks: Vec<(usize, podwall_ir::Policy)> = {
        let all: Vec<(usize, &podwall_ir::Policy)> = live.index().cluster().policies.policies().collect();
        let step = (all.len() / a.changes.max(1)).max(1);
        all.iter().step_by(step).take(a.changes).map(|(t, p)| (*t, (*p).clone())).collect()
    };
    let mut times = Vec::new();
    let mut touched = Vec::new();
    let mut rebuilt = 0;
    for (ti, original) in picks {
        let tier = live.index().cluster().policies.tiers()[ti].name.clone();
        let mut changed = original.clone();
        changed.ingress = changed.ingress.map(|_| vec![]);
        changed.egress = changed.egress.map(|_| vec![]);
        for p in [changed, original] {
            let t = Instant::now();
            let u = live.upsert_policy(&tier, p).map_err(Failure::Error)?;
            times.push(t.elapsed());
            touched.push(u.endpoints);
            rebuilt += u.rebuilt.is_some() as usize;
        }
    }
    times.sort();
    touched.sort();
    if !times.is_empty() {
        crate::outln!(
            "one policy change, index and {proto}/{port} answers updated: median {}, max {} over {} changes (median {} endpoints re-answered; {rebuilt} rebuilds); watching the port first: {}",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            times.len(),
            touched[touched.len() / 2],
            ms(watch)
        );
    }
    // Pods: a pod is replaced, as in a rollout — removed, and a pod with its labels, a new
    // name and the freed address added.
    let mut times = Vec::new();
    let mut rebuilt = 0;
    let n = live.index().cluster().endpoints.len();
    for k in 0..a.changes.min(n) {
        let old = live.index().cluster().endpoints[(k * 7919) % n].clone();
        let mut new = old.clone();
        new.name = format!("{}-rolled", old.name);
        let t = Instant::now();
        live.remove_endpoint(&old.name);
        times.push(t.elapsed());
        let t = Instant::now();
        let u = live.upsert_endpoint(new);
        times.push(t.elapsed());
        rebuilt += u.rebuilt.is_some() as usize;
    }
    times.sort();
    if !times.is_empty() {
        crate::outln!(
            "one pod removed or added (rollout), {proto}/{port} answers updated: median {}, max {} over {} changes ({rebuilt} rebuilds)",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            times.len()
        );
    }
    // A pod unlike any other (a new label value: a new class), and a namespace relabelled:
    // the classes concerned get their bits, rows and columns; the counts are recounted.
    let mut new_class = Vec::new();
    let mut rebuilt = 0;
    for k in 0..a.changes.min(n).min(20) {
        let mut ep = live.index().cluster().endpoints[(k * 7919 + 13) % n].clone();
        ep.labels.insert("podwall-bench-rev".into(), k.to_string());
        let t = Instant::now();
        let u = live.upsert_endpoint(ep);
        new_class.push(t.elapsed());
        rebuilt += u.rebuilt.is_some() as usize;
    }
    let mut relabel = Vec::new();
    let names: Vec<String> = live.index().cluster().namespaces.keys().cloned().collect();
    for k in 0..a.changes.min(names.len()).min(20) {
        let mut ns = live.index().cluster().namespaces[&names[(k * 7919 + 5) % names.len()]].clone();
        let flipped = if ns.labels.get("env").is_some_and(|v| v == "prod") { "staging" } else { "prod" };
        ns.labels.insert("env".into(), flipped.into());
        let t = Instant::now();
        let u = live.upsert_namespace(ns);
        relabel.push(t.elapsed());
        rebuilt += u.rebuilt.is_some() as usize;
    }
    for (what, times) in [("a pod unlike any other added", &mut new_class), ("a namespace relabelled", &mut relabel)] {
        times.sort();
        if let (Some(mid), Some(max)) = (times.get(times.len() / 2), times.last()) {
            crate::outln!(
                "{what}, {proto}/{port} answers updated: median {}, max {} over {} changes",
                ms(*mid),
                ms(*max),
                times.len()
            );
        }
    }
    crate::outln!("(new classes and relabelled namespaces: {rebuilt} rebuilds)");
    if let Some(p) = peak_mib() {
        crate::outln!("peak memory: {p:.0} MiB");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `gen`: writes a synthetic cluster to a folder.
pub fn gen(g: GenArgs) -> Result<ExitCode, Failure> {
    let p = podwall_synth::Params {
        pods: g.pods,
        namespaces: g.namespaces,
        policies: g.policies,
        calico_policies: g.calico_policies,
        admin_policies: g.admin_policies,
        seed: g.seed,
    };
    let t = Instant::now();
    let files = podwall_synth::write(&p, &g.out)?;
    eprintln!("wrote {} files to {} in {}", files.len(), g.out.display(), ms(t.elapsed()));
    Ok(ExitCode::SUCCESS)
}
