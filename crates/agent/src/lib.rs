//! The node agent: keeps this node's nftables ruleset equal to the policies of its source
//! (for now a folder of manifests, polled), through the lab's install path — the delta
//! against what the node holds, as one atomic transaction of only what changed.
//!
//! What the node holds is kept as a value in the agent's state folder (`installed.json`),
//! never read back from the kernel. A start computes its first transaction against it, or,
//! with no state, replaces the table in one transaction that deletes and recreates it: the
//! ruleset a previous run installed enforces until then, so a restart opens no window.
//! Input that does not load during a watch is reported (log, health, metrics) and the
//! last good ruleset stays.
#![forbid(unsafe_code)]
pub mod health;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use podwall_lab::install::{self, Node};
use podwall_nftables::Installed;

pub use health::Status;

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The folder of manifests the node enforces.
    pub dir: PathBuf,
    /// Where the ruleset is installed.
    pub node: Node,
    /// The state folder (`installed.json`).
    pub state: PathBuf,
}

/// What one sync did.
#[derive(Clone, Debug)]
pub struct Synced {
    /// How the transaction went to the kernel.
    pub path: install::Path,
    /// Time to load, compile, compare and send.
    pub took: Duration,
    /// Chains created and deleted, elements changed (zero for a whole replace).
    pub summary: String,
    /// What the compiler warns about.
    pub warnings: Vec<String>,
}

/// The agent: its configuration, what the node holds, and its reported status.
pub struct Agent {
    config: Config,
    installed: Option<Installed>,
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

impl Agent {
    /// An agent that knows what a previous run left in `config.state` (if anything).
    pub fn new(config: Config) -> Agent {
        let installed = std::fs::read(config.state.join("installed.json"))
            .ok()
            .and_then(|t| serde_json::from_slice::<Installed>(&t).ok());
        Agent { config, installed, seen: None, status: Arc::new(Mutex::new(Status::default())) }
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
        // Looked at before it is read: a change written while this sync runs is seen as
        // a change by the next look.
        self.seen = watch::look(&self.config.dir).ok();
        let done = self.try_sync();
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match &done {
            Ok((synced, objects, installed)) => {
                st.installed = true;
                st.error = None;
                st.last_sync = Some(SystemTime::now());
                *st.syncs.entry(path_label(synced.path)).or_default() += 1;
                st.observe(start.elapsed());
                st.objects = objects.clone();
                st.chains = installed.chains.len() as u64;
                st.elements = installed.sets.values().map(|s| s.elements.len() as u64).sum::<u64>()
                    + installed.maps.values().map(|m| m.len() as u64).sum::<u64>();
                st.attachments = installed.maps.values().map(|m| m.len() as u64).max().unwrap_or(0);
            }
            Err(e) => {
                st.error = Some(e.clone());
                st.last_error = Some(SystemTime::now());
                st.failures += 1;
            }
        }
        drop(st);
        done.map(|(s, _, _)| s)
    }

    fn try_sync(&mut self) -> Result<(Synced, BTreeMap<String, u64>, Installed), String> {
        let start = Instant::now();
        let (cluster, objects) = load(&self.config.dir)?;
        let (cluster, _allocated) = podwall_lab::lab_cluster(&cluster).map_err(|e| e.to_string())?;
        let attachments = install::attachments(&cluster);
        let ruleset = install::compile(&cluster, &attachments).map_err(|e| e.to_string())?;
        let node = &self.config.node;
        let sent = match install::install(node, self.installed.as_ref(), &ruleset) {
            // What was recorded is not what the kernel holds (another program changed the
            // table, or the record is stale): replace the table whole, still atomically.
            Err(e) if self.installed.is_some() => {
                eprintln!(
                    "podwall agent: the delta against the recorded table failed ({e}); replacing the table whole"
                );
                install::install(node, None, &ruleset)
            }
            other => other,
        };
        let (delta, path) = sent.map_err(|e| e.to_string())?;
        let new = ruleset.installed();
        save_installed(&self.config.state, &new)?;
        self.installed = Some(new.clone());
        let summary = match &delta {
            Some(d) => d.summary(),
            None => {
                format!("table replaced whole: {} chain(s), {} pod interface(s)", new.chains.len(), attachments.len())
            }
        };
        Ok((Synced { path, took: start.elapsed(), summary, warnings: ruleset.warnings }, objects, new))
    }
}

/// Reads the folder as every command reads one, and compiles it; also counts its objects
/// by kind.
pub fn load(dir: &Path) -> Result<(podwall_ir::Cluster, BTreeMap<String, u64>), String> {
    let mut input =
        podwall_load::load_paths_with(&[dir], podwall_load::Options::default()).map_err(|e| e.to_string())?;
    let mut objects: BTreeMap<String, u64> = BTreeMap::new();
    for o in &input.objects {
        *objects.entry(o.kind.clone()).or_default() += 1;
    }
    let cluster = podwall_dialects::compile_lenient(&mut input).map_err(|e| e.to_string())?;
    Ok((cluster, objects))
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
    let dir = agent.config.dir.clone();
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
