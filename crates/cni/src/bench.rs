//! ADD and DEL latency as a runtime sees it: each call a separate process of the plugin,
//! through [`crate::runtime::Runtime`], in a node namespace of its own with a pod
//! namespace per pod; first one pod at a time, then `concurrent` pods at once.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::runtime::{Attachment, Runtime};

/// Median and 99th percentile of one phase, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// `ADD` or `DEL`.
    pub command: String,
    /// `sequential` or `concurrent`.
    pub mode: String,
    /// Calls measured.
    pub calls: usize,
    /// Median latency (ms).
    pub median_ms: f64,
    /// 99th percentile latency (ms).
    pub p99_ms: f64,
    /// Wall time of the phase (ms).
    pub wall_ms: f64,
}

/// What `bench cni` measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Pods added one at a time.
    pub pods: usize,
    /// Pods added at once.
    pub concurrent: usize,
    /// Each phase.
    pub phases: Vec<Phase>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn phase(command: &str, mode: &str, mut times: Vec<Duration>, wall: Duration) -> Phase {
    times.sort();
    Phase {
        command: command.into(),
        mode: mode.into(),
        calls: times.len(),
        median_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
        wall_ms: wall.as_secs_f64() * 1e3,
    }
}

struct Scratch {
    tag: String,
    dir: PathBuf,
    pods: usize,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for i in 0..self.pods {
            let _ = podwall_lab::netns::remove(&format!("{}p{i}", self.tag));
        }
        let _ = podwall_lab::netns::remove(&format!("{}n", self.tag));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the measurement with `plugin` (podwall's binary) as the plugin.
pub fn run(plugin: &Path, pods: usize, concurrent: usize) -> Result<Report, String> {
    podwall_lab::require_root().map_err(|e| e.to_string())?;
    let tag = format!("pwb{}", std::process::id());
    let dir = std::env::temp_dir().join(&tag);
    let mut s = Scratch { tag: tag.clone(), dir: dir.clone(), pods: 0 };
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    std::os::unix::fs::symlink(plugin, bin.join("podwall")).map_err(|e| format!("{}: {e}", bin.display()))?;
    let node = format!("{tag}n");
    podwall_lab::netns::create(&node, || Ok(())).map_err(|e| format!("namespace {node}: {e}"))?;
    let total = pods + concurrent;
    for i in 0..total {
        let name = format!("{tag}p{i}");
        podwall_lab::netns::create(&name, || Ok(())).map_err(|e| format!("namespace {name}: {e}"))?;
        s.pods += 1;
    }
    let netns = std::fs::File::open(podwall_lab::netns::path(&node)).map_err(|e| e.to_string())?;
    let runtime = Arc::new(Runtime { path: vec![bin], netns: Some(netns) });
    // A /16 holds both phases with room to spare.
    let list = Arc::new(json!({
        "cniVersion": "1.1.0",
        "name": "bench",
        "plugins": [{"type": "podwall", "stateDir": dir.join("state"),
                     "ipam": {"type": "podwall", "dataDir": dir.join("ipam"), "ranges": [[{"subnet": "198.18.0.0/16"}]]}}]
    }));
    let att = |i: usize| Attachment {
        container_id: format!("{tag}c{i}"),
        netns: podwall_lab::netns::path(&format!("{tag}p{i}")).display().to_string(),
        ifname: "eth0".into(),
        args: format!("K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod{i}"),
        capabilities: Default::default(),
    };
    let timed = |rt: &Runtime, list: &serde_json::Value, cmd: &str, a: &Attachment, r: Option<&serde_json::Value>| {
        let t = Instant::now();
        let out = match cmd {
            "ADD" => rt.add(list, a).map(Some),
            _ => rt.del(list, a, r).map(|()| None),
        };
        out.map(|r| (t.elapsed(), r)).map_err(|f| f.to_string())
    };
    let mut phases = Vec::new();
    // One at a time.
    let (mut adds, mut results) = (Vec::new(), Vec::new());
    let t = Instant::now();
    for i in 0..pods {
        let (d, r) = timed(&runtime, &list, "ADD", &att(i), None)?;
        adds.push(d);
        results.push(r);
    }
    phases.push(phase("ADD", "sequential", adds, t.elapsed()));
    let mut dels = Vec::new();
    let t = Instant::now();
    for (i, r) in results.iter().enumerate() {
        dels.push(timed(&runtime, &list, "DEL", &att(i), r.as_ref())?.0);
    }
    phases.push(phase("DEL", "sequential", dels, t.elapsed()));
    // All at once.
    let go = |cmd: &'static str, results: Vec<Option<serde_json::Value>>| {
        let t = Instant::now();
        let handles: Vec<_> = (0..concurrent)
            .zip(results)
            .map(|(k, r)| {
                let (rt, list, a) = (runtime.clone(), list.clone(), att(pods + k));
                std::thread::spawn(move || timed(&rt, &list, cmd, &a, r.as_ref()))
            })
            .collect();
        let done: Result<Vec<_>, String> =
            handles.into_iter().map(|h| h.join().map_err(|_| "thread panicked".to_string())?).collect();
        done.map(|d| (d, t.elapsed()))
    };
    let (done, wall) = go("ADD", vec![None; concurrent])?;
    let (times, results): (Vec<Duration>, Vec<Option<serde_json::Value>>) = done.into_iter().unzip();
    let addresses: std::collections::HashSet<String> =
        results.iter().flatten().filter_map(|r| r["ips"][0]["address"].as_str().map(str::to_string)).collect();
    if addresses.len() != concurrent {
        return Err(format!("{concurrent} concurrent ADDs got {} distinct addresses", addresses.len()));
    }
    phases.push(phase("ADD", "concurrent", times, wall));
    let (done, wall) = go("DEL", results)?;
    phases.push(phase("DEL", "concurrent", done.into_iter().map(|d| d.0).collect(), wall));
    drop(s);
    Ok(Report { pods, concurrent, phases })
}
