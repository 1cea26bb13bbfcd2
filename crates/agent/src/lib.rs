//! The node agent: keeps this node's nftables ruleset equal to the policies of its source
//! — a folder of manifests, polled ([`watch`]), or the Kubernetes API, listed and watched
//! through `podwall_cluster::watch` ([`follow`]) — through the lab's install path: the
//! delta against what the node holds, as one atomic transaction of only what changed.
//! From the API, only the pods this node runs (`spec.nodeName`) are put on its
//! interfaces; the others are peers, addresses in sets.
//!
//! What the node holds is kept as a value in the agent's state folder (`installed.json`),
//! never read back from the kernel. A start computes its first transaction against it, or,
//! with no state, replaces the table in one transaction that deletes and recreates it: the
//! ruleset a previous run installed enforces until then, so a restart opens no window.
//! Input that does not load during a watch is reported (log, health, metrics) and the
//! last good ruleset stays.
#![forbid(unsafe_code)]
pub mod follow;
pub mod health;
pub mod watch;

pub use follow::{follow, WATCHED};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use podwall_lab::install::{self, Node};
use podwall_nftables::{Attachment, Incremental, Installed, Recompiled};

pub use health::Status;

/// Where the agent reads the cluster from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A folder of manifests, polled ([`watch`]): every pod in it is local.
    Folder(PathBuf),
    /// The Kubernetes API, watched ([`follow`]): the objects come with each sync.
    Api,
}

/// Which pods sit on this node's interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Local {
    /// Every pod (a folder, a lab).
    Every,
    /// The pods whose `spec.nodeName` is this node's name; the others are remote peers,
    /// present only as addresses in sets.
    Node(String),
}

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// What the node enforces.
    pub source: Source,
    /// Where the ruleset is installed.
    pub node: Node,
    /// The state folder (`installed.json`).
    pub state: PathBuf,
    /// Which pods are this node's.
    pub local: Local,
}

/// What one sync did.
#[derive(Clone, Debug)]
pub struct Synced {
    /// How the transaction went to the kernel.
    pub path: install::Path,
    /// Time from the change (or the start of the sync) to the kernel's answer.
    pub took: Duration,
    /// Chains created and deleted, elements changed (zero for a whole replace).
    pub summary: String,
    /// What the compiler warns about.
    pub warnings: Vec<String>,
    /// Pods on this node's interfaces.
    pub local: usize,
    /// Where the time went.
    pub stages: Stages,
    /// Whether the ruleset was compiled whole or only where the change reached.
    pub recompiled: Recompiled,
}

/// Where a sync's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stages {
    /// From the change to a compiled cluster: loading the objects and compiling the
    /// dialects (with, from the API, the time the event waited).
    pub read: Duration,
    /// Compiling the node's ruleset (only what changed, when only policies did).
    pub compile: Duration,
    /// The delta, the transaction to the kernel, and the record of it.
    pub send: Duration,
    /// Whether the ruleset was compiled whole (else only the situations a policy change
    /// touched were).
    pub whole: bool,
}

/// The agent: its configuration, what the node holds, and its reported status.
pub struct Agent {
    config: Config,
    installed: Option<Installed>,
    /// The compiler, which keeps its last compile: a policy change compiles only the
    /// situations it touches.
    compiler: Incremental,
    /// The folder as the last sync attempt looked at it, just before reading it.
    seen: Option<watch::Seen>,
    /// Shared with the health server.
    pub status: Arc<Mutex<Status>>,
}

fn path_label(p: install::Path) -> &'static str {
    match p {
        install::Path::Nothing => "unchanged",
        install::Path::Netlink => "netlink",
        install::Path::NftDelta => "nft-delta",
        install::Path::NftFull => "nft-replace",
    }
}

/// What a sync compiled before it installed: the cluster, its objects by kind, and the
/// pods on this node.
type Compiled = (podwall_ir::Cluster, BTreeMap<String, u64>, Vec<Attachment>);

impl Agent {
    /// An agent that knows what a previous run left in `config.state` (if anything).
    pub fn new(config: Config) -> Agent {
        let installed = std::fs::read(config.state.join("installed.json"))
            .ok()
            .and_then(|t| serde_json::from_slice::<Installed>(&t).ok());
        let compiler = Incremental::new(podwall_nftables::Options { table: podwall_lab::TABLE.into() });
        Agent { config, installed, compiler, seen: None, status: Arc::new(Mutex::new(Status::default())) }
    }

    /// Whether the agent starts from a previous run's record of the table.
    pub fn knows_installed(&self) -> bool {
        self.installed.is_some()
    }

    /// Loads the folder, compiles the node's ruleset and installs what changed, as one
    /// transaction. On failure nothing was installed (the kernel keeps what it had) and
    /// the status says why.
    pub fn sync(&mut self) -> Result<Synced, String> {
        let start = Instant::now();
        let Source::Folder(dir) = self.config.source.clone() else {
            return Err("this agent reads the API: its objects come with each sync".into());
        };
        // Looked at before it is read: a change written while this sync runs is seen as
        // a change by the next look.
        self.seen = watch::look(&dir).ok();
        let local = self.config.local.clone();
        let done = load(&dir).and_then(|(cluster, objects, nodes)| {
            let (cluster, _allocated) = podwall_lab::lab_cluster(&cluster).map_err(|e| e.to_string())?;
            let attachments = match local {
                // The lab's wiring: every pod local, on its primary address.
                Local::Every => install::attachments(&cluster),
                // The folder's pods that name this node in `spec.nodeName`, as from the API.
                Local::Node(_) => local_attachments(&cluster, &local, &nodes),
            };
            Ok((cluster, objects, attachments))
        });
        self.finish(start, done)
    }

    /// Compiles the node's ruleset from objects read from the API (source name and JSON
    /// text, as [`podwall_cluster::watch`] hands them) and installs what changed, as one
    /// transaction; `since` is when the oldest change among them arrived, from which the
    /// sync latency counts. Objects that do not load are skipped and named in the
    /// warnings; pods that have finished (`Succeeded`, `Failed`) are left out, since their
    /// addresses go to other pods.
    pub fn sync_objects(&mut self, objects: &[(String, String)], since: Instant) -> Result<Synced, String> {
        let local = self.config.local.clone();
        let done = compile_objects(objects).map(|read| {
            let attachments = local_attachments(&read.cluster, &local, &read.nodes);
            (read.cluster, read.counts, attachments)
        });
        self.finish(since, done)
    }

    fn finish(&mut self, since: Instant, compiled: Result<Compiled, String>) -> Result<Synced, String> {
        let read = since.elapsed();
        let done = compiled.and_then(|(cluster, objects, attachments)| {
            self.install(since, read, &cluster, &attachments).map(|(s, i)| (s, objects, i))
        });
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match &done {
            Ok((synced, objects, installed)) => {
                st.installed = true;
                st.error = None;
                st.last_sync = Some(SystemTime::now());
                *st.syncs.entry(path_label(synced.path)).or_default() += 1;
                st.observe(since.elapsed());
                st.objects = objects.clone();
                st.chains = installed.chains;
                st.elements = installed.elements;
                st.attachments = synced.local as u64;
                st.last_stages = Some(synced.stages);
            }
            Err(e) => {
                st.error = Some(e.clone());
                st.last_error = Some(SystemTime::now());
                st.last_error_text = Some(e.clone());
                st.failures += 1;
            }
        }
        drop(st);
        done.map(|(s, _, _)| s)
    }

    fn install(
        &mut self,
        since: Instant,
        read: Duration,
        cluster: &podwall_ir::Cluster,
        attachments: &[Attachment],
    ) -> Result<(Synced, Counted), String> {
        let compiling = Instant::now();
        let (ruleset, recompiled) =
            self.compiler.update(cluster, attachments).map_err(|e| format!("compiling the ruleset: {e}"))?;
        let recompiled = recompiled.clone();
        let compile = compiling.elapsed();
        let sending = Instant::now();
        let node = &self.config.node;
        let new = ruleset.installed();
        let sent = match install::install_as(node, self.installed.as_ref(), ruleset, &new) {
            // What was recorded is not what the kernel holds (another program changed the
            // table, or the record is stale): replace the table whole, still atomically.
            Err(e) if self.installed.is_some() => {
                log(&format!("the delta against the recorded table failed ({e}); replacing the table whole"));
                install::install_as(node, None, ruleset, &new)
            }
            other => other,
        };
        let (delta, path) = sent.map_err(|e| e.to_string())?;
        save_installed(&self.config.state, &new)?;
        let counts = Counted {
            chains: new.chains.len() as u64,
            elements: new.sets.values().map(|s| s.elements.len() as u64).sum::<u64>()
                + new.maps.values().map(|m| m.len() as u64).sum::<u64>(),
        };
        self.installed = Some(new);
        let summary = match &delta {
            Some(d) => d.summary(),
            None => {
                format!("table replaced whole: {} chain(s), {} pod interface(s)", counts.chains, attachments.len())
            }
        };
        let summary = format!("{summary}; {recompiled}");
        let whole = matches!(recompiled, Recompiled::Whole(_));
        let stages = Stages { read, compile, send: sending.elapsed(), whole };
        let local = attachments.len();
        let warnings = ruleset.warnings.clone();
        let synced = Synced { path, took: since.elapsed(), summary, warnings, local, stages, recompiled };
        Ok((synced, counts))
    }
}

/// What the node holds after a sync, counted.
struct Counted {
    chains: u64,
    elements: u64,
}

/// The attachments of the pods that are this node's: every pod with an address (all
/// its addresses) on the interface [`podwall_nftables::interface_name`] gives it, the
/// name the CNI plugin gives the pod's host-side veth. `nodes` holds each pod's
/// `spec.nodeName` by endpoint name.
pub fn local_attachments(
    cluster: &podwall_ir::Cluster,
    local: &Local,
    nodes: &BTreeMap<String, String>,
) -> Vec<Attachment> {
    let mut all = podwall_nftables::default_attachments(cluster);
    if let Local::Node(me) = local {
        all.retain(|a| nodes.get(&cluster.endpoints[a.endpoint].name) == Some(me));
    }
    all
}

/// What is read of a Pod before loading: where it runs, and whether it is over.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodHead {
    #[serde(default)]
    metadata: PodMeta,
    #[serde(default)]
    spec: PodSpecHead,
    #[serde(default)]
    status: PodStatusHead,
}

#[derive(serde::Deserialize, Default)]
struct PodMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodSpecHead {
    #[serde(default)]
    node_name: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct PodStatusHead {
    #[serde(default)]
    phase: Option<String>,
}

/// Loads objects read from the API as every command loads them, leniently (an object
/// that does not load is skipped with a finding), leaving out finished pods; also counts
/// them by kind and gives each pod's node.
pub fn compile_objects(objects: &[(String, String)]) -> Result<FromApi, String> {
    let mut nodes = BTreeMap::new();
    let mut kept = Vec::with_capacity(objects.len());
    for (source, text) in objects {
        if source.contains("/Pod/") {
            let pod: PodHead = serde_json::from_str(text).unwrap_or_default();
            if matches!(pod.status.phase.as_deref(), Some("Succeeded" | "Failed")) {
                continue;
            }
            let name = format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or("default"), pod.metadata.name);
            if let Some(node) = pod.spec.node_name {
                nodes.insert(name, node);
            }
        }
        kept.push((source.clone(), text.clone()));
    }
    let options = podwall_load::Options { skip_invalid: true, ..Default::default() };
    let mut input = podwall_load::load_documents(&kept, options).map_err(|e| e.to_string())?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for o in &input.objects {
        *counts.entry(o.kind.clone()).or_default() += 1;
    }
    let cluster = podwall_dialects::compile_lenient(&mut input).map_err(|e| e.to_string())?;
    Ok(FromApi { cluster, counts, nodes })
}

/// Objects read from the API, compiled.
pub struct FromApi {
    /// The cluster they make.
    pub cluster: podwall_ir::Cluster,
    /// Objects loaded, by kind.
    pub counts: BTreeMap<String, u64>,
    /// Each pod's `spec.nodeName`, by endpoint name (`NS/NAME`).
    pub nodes: BTreeMap<String, String>,
}

/// Objects by kind: how many.
pub type Counts = BTreeMap<String, u64>;

/// Each pod's `spec.nodeName`, by endpoint name (`NS/NAME`).
pub type Nodes = BTreeMap<String, String>;

/// Reads the folder as every command reads one, and compiles it; also counts its objects
/// by kind, and gives each pod's `spec.nodeName` by endpoint name (`NS/NAME`).
pub fn load(dir: &Path) -> Result<(podwall_ir::Cluster, Counts, Nodes), String> {
    let mut input =
        podwall_load::load_paths_with(&[dir], podwall_load::Options::default()).map_err(|e| e.to_string())?;
    let mut objects: BTreeMap<String, u64> = BTreeMap::new();
    let mut nodes: BTreeMap<String, String> = BTreeMap::new();
    for o in &input.objects {
        *objects.entry(o.kind.clone()).or_default() += 1;
        if let podwall_load::Resource::Pod(pod) = &o.resource {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
                nodes.insert(format!("{}/{}", o.namespace.as_deref().unwrap_or("default"), o.name), node);
            }
        }
    }
    let cluster = podwall_dialects::compile_lenient(&mut input).map_err(|e| e.to_string())?;
    Ok((cluster, objects, nodes))
}

fn save_installed(state: &Path, installed: &Installed) -> Result<(), String> {
    std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let path = state.join("installed.json");
    let tmp = state.join("installed.json.tmp");
    let text = serde_json::to_vec(installed).expect("plain data serializes");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Logs a line to standard error with a UTC timestamp (seconds since the epoch, with
/// milliseconds), so that a log shows when each sync happened.
pub fn log(msg: &str) {
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    eprintln!("{}.{:03} podwall agent: {msg}", t.as_secs(), t.subsec_millis());
}

/// Watches the folder every `interval` and syncs on each change of its content, for ever
/// (or until `stop` returns true, checked each tick). A failed load or install is logged
/// and reported; the last good ruleset stays. The first sync must already have run: the
/// folder is compared with what it was when that sync read it.
pub fn watch(agent: &mut Agent, interval: Duration, mut stop: impl FnMut() -> bool) {
    let Source::Folder(dir) = agent.config.source.clone() else { return };
    let mut seen = agent.seen.clone().unwrap_or_default();
    while !stop() {
        std::thread::sleep(interval);
        let (now, changed) = match watch::relisted(&dir, &seen) {
            Ok(x) => x,
            Err(e) => {
                log(&format!("reading {}: {e}; keeping the last good ruleset", dir.display()));
                continue;
            }
        };
        // A folder whose content failed to load is retried on its next change only.
        seen = now;
        if !changed {
            continue;
        }
        let since = seen.newest().and_then(|t| SystemTime::now().duration_since(t).ok());
        match agent.sync() {
            Ok(s) => {
                for w in &s.warnings {
                    log(&format!("warning: {w}"));
                }
                let lag =
                    since.map(|d| format!(", {} ms after the newest file's mtime", d.as_millis())).unwrap_or_default();
                log(&format!("synced in {} ms ({}): {}{lag}", s.took.as_millis(), s.path, s.summary));
            }
            Err(e) => log(&format!("error: {e}; keeping the last good ruleset")),
        }
    }
}
