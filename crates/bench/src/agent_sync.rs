//! `podwall-bench agent`: how long the node agent takes from a policy change arriving on
//! its watch to the kernel holding it, at a given number of policies.
//!
//! A generated cluster (`pods` pods, half of them on this node, and `policies`
//! Kubernetes NetworkPolicies) is handed to the agent's follow loop as the watch hands it
//! a listed cluster; the agent installs into a scratch network namespace. Then one
//! NetworkPolicy selecting a local pod is added and changed `changes` times (a new port
//! each time), each as one watch event; each latency is from sending the event to the
//! agent's status showing the sync done (the kernel has acknowledged the transaction).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use podwall_cluster::watch::{Event, Watch};
use podwall_lab::install::Node;
use serde::Serialize;
use serde_json::{json, Value};

use podwall_agent::{Agent, Config, Local, Source, Status};

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// NetworkPolicies of the generated cluster.
    pub policies: usize,
    /// Pods of the generated cluster (every other one on this node).
    pub pods: usize,
    /// Policy changes to time.
    pub changes: usize,
}

const NETNS: &str = "pw-bench-agent";
const NODE: &str = "bench-node";

/// What was measured.
#[derive(Serialize, Default)]
pub struct Report {
    pub load_average: String,
    pub pods: usize,
    pub local_pods: u64,
    pub policies: usize,
    /// From the listed cluster to the first install (a whole-table load), ms.
    pub first_sync_ms: f64,
    /// Per change, from the event to the kernel's acknowledgement, ms.
    pub changes_ms: Vec<f64>,
    pub median_ms: f64,
    pub max_ms: f64,
    /// Medians over the changes of where the time went, ms: loading and compiling the
    /// objects, compiling the ruleset, the delta and the transaction.
    pub read_ms: f64,
    pub compile_ms: f64,
    pub send_ms: f64,
    /// Changes whose ruleset was compiled whole (the others compiled only the
    /// situations the changed policy touches).
    pub compiled_whole: usize,
    /// How the changes went to the kernel, by path.
    pub paths: std::collections::BTreeMap<String, u64>,
    pub chains: u64,
    pub elements: u64,
}

/// Generated objects as the watch hands them: source name and JSON text, by kind key;
/// every other pod on this node.
fn documents(values: Vec<Value>) -> Vec<(String, Vec<(String, String)>)> {
    let (mut namespaces, mut pods, mut policies) = (Vec::new(), Vec::new(), Vec::new());
    for (i, mut v) in values.into_iter().enumerate() {
        let kind = v["kind"].as_str().unwrap_or_default().to_string();
        let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let ns = v["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "Namespace" => namespaces.push((format!("cluster:bench/Namespace/{name}"), v.to_string())),
            "Pod" => {
                v["spec"]["nodeName"] = json!(if i % 2 == 0 { NODE } else { "other-node" });
                pods.push((format!("cluster:bench/{ns}/Pod/{name}"), v.to_string()));
            }
            "NetworkPolicy" => policies.push((policy_source(&ns, &name), v.to_string())),
            _ => {}
        }
    }
    vec![("Namespace".into(), namespaces), ("Pod".into(), pods), ("NetworkPolicy.networking.k8s.io".into(), policies)]
}

fn policy_source(ns: &str, name: &str) -> String {
    format!("cluster:bench/{ns}/NetworkPolicy.networking.k8s.io/{name}")
}

/// The policy the bench changes: it selects a local pod by one of its labels and admits
/// its namespace's pods on `port`.
fn change(pod: &Value, port: u16) -> (String, String) {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let (key, value) = pod["metadata"]["labels"]
        .as_object()
        .and_then(|l| l.iter().next())
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .unwrap_or_default();
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "bench-change", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {key: value}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": port}]}],
        },
    });
    (policy_source(ns, "bench-change"), policy.to_string())
}

fn syncs(st: &Status) -> u64 {
    st.syncs.values().sum::<u64>() + st.failures
}

fn wait_for_sync(status: &std::sync::Mutex<Status>, before: u64) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let st = status.lock().unwrap_or_else(|p| p.into_inner());
        if syncs(&st) > before {
            return match &st.error {
                Some(e) => Err(format!("the agent's sync failed: {e}")),
                None => Ok(()),
            };
        }
        drop(st);
        if start.elapsed() > Duration::from_secs(600) {
            return Err("the agent did not sync within 10 minutes".into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs the measurement (root): generates the cluster, creates the scratch namespace,
/// measures, and removes what it made.
pub fn run(p: &Params) -> Result<Report, String> {
    podwall_lab::require_root().map_err(|e| e.to_string())?;
    let synth = podwall_synth::Params {
        pods: p.pods,
        namespaces: (p.pods / 20).max(3),
        policies: p.policies,
        seed: 1,
        ..podwall_synth::Params::default()
    };
    let values = podwall_synth::generate(&synth);
    let local_pod = values
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            v["kind"] == "Pod" && i % 2 == 0 && v["metadata"]["labels"].as_object().is_some_and(|l| !l.is_empty())
        })
        .map(|(_, v)| v.clone())
        .next()
        .ok_or_else(|| "the generated cluster has no labelled local pod".to_string())?;
    let kinds = documents(values);
    let _ = podwall_lab::netns::remove(NETNS);
    podwall_lab::netns::create(NETNS, || Ok(())).map_err(|e| format!("namespace {NETNS}: {e}"))?;
    let state = std::env::temp_dir().join(format!("podwall-bench-agent-{}", std::process::id()));
    let result = measure(p, kinds, &local_pod, &state);
    let _ = podwall_lab::netns::remove(NETNS);
    let _ = std::fs::remove_dir_all(&state);
    result
}

fn measure(
    args: &Params,
    kinds: Vec<(String, Vec<(String, String)>)>,
    local_pod: &Value,
    state: &std::path::Path,
) -> Result<Report, String> {
    let mut agent = Agent::new(Config {
        source: Source::Api,
        node: Node::Named(NETNS.into()),
        state: state.to_path_buf(),
        local: Local::Node(NODE.into()),
    });
    let status = agent.status.clone();
    let (tx, events) = mpsc::channel();
    let watch = Watch {
        events,
        context: "bench".into(),
        server: "generated".into(),
        kinds: kinds.iter().map(|(k, _)| k.clone()).collect(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let follower =
        std::thread::spawn(move || podwall_agent::follow(&mut agent, watch, || stopped.load(Ordering::Relaxed)));
    let send = |e: Event| tx.send(e).map_err(|_| "the agent stopped".to_string());

    let start = Instant::now();
    for (kind, objects) in kinds {
        send(Event::Listed { kind, objects, relist: false, served: true })?;
    }
    wait_for_sync(&status, 0)?;
    let first_sync_ms = start.elapsed().as_secs_f64() * 1e3;
    let before_paths = status.lock().unwrap_or_else(|p| p.into_inner()).syncs.clone();

    let mut changes_ms = Vec::new();
    let mut stages = Vec::new();
    for i in 0..args.changes {
        let before = syncs(&status.lock().unwrap_or_else(|p| p.into_inner()));
        let (source, text) = change(local_pod, 8000 + i as u16);
        let t = Instant::now();
        send(Event::Applied { kind: "NetworkPolicy.networking.k8s.io".into(), source, text })?;
        wait_for_sync(&status, before)?;
        changes_ms.push(t.elapsed().as_secs_f64() * 1e3);
        stages.extend(status.lock().unwrap_or_else(|p| p.into_inner()).last_stages);
    }
    stop.store(true, Ordering::Relaxed);
    drop(tx);
    let _ = follower.join();

    let st = status.lock().unwrap_or_else(|p| p.into_inner());
    let mut paths = std::collections::BTreeMap::new();
    for (p, n) in &st.syncs {
        let d = n - before_paths.get(p).copied().unwrap_or(0);
        if d > 0 {
            paths.insert(p.to_string(), d);
        }
    }
    let mut sorted = changes_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median = |f: fn(&podwall_agent::Stages) -> Duration| {
        let mut v: Vec<f64> = stages.iter().map(|s| f(s).as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    Ok(Report {
        load_average: std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        pods: args.pods,
        local_pods: st.attachments,
        policies: args.policies,
        first_sync_ms,
        median_ms: sorted.get(sorted.len() / 2).copied().unwrap_or_default(),
        max_ms: sorted.last().copied().unwrap_or_default(),
        read_ms: median(|s| s.read),
        compile_ms: median(|s| s.compile),
        send_ms: median(|s| s.send),
        compiled_whole: stages.iter().filter(|s| s.whole).count(),
        changes_ms,
        paths,
        chains: st.chains,
        elements: st.elements,
    })
}
