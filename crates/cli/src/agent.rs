//! `podwall agent`: keeps this node's nftables ruleset equal to the policies of a folder
//! it watches (`-f DIR --watch`) or of the cluster it follows through the API
//! (`--kubeconfig`, `--context`, or in-cluster), with `/healthz` and `/metrics` on a local
//! port.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use podwall_agent::{log, Agent, Config, Local, Source};
use podwall_lab::install::Node;

use crate::live::LiveArgs;
use crate::Failure;

/// Flags of `agent`.
#[derive(clap::Args)]
pub struct Args {
    /// The folder of manifests this node enforces (every pod in it is taken as local,
    /// unless --node is given).
    /// Without it: the cluster --kubeconfig/--context name, or inside a pod the cluster
    /// it runs in, listed and watched through the API.
    #[arg(short = 'f', long = "filename", id = "files")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    live: LiveArgs,
    /// This node's name: only pods with this `spec.nodeName` are put on its interfaces,
    /// the others are remote peers (from the API the default is NODE_NAME, else the host
    /// name; with -f every pod is local unless this is given).
    #[arg(long)]
    node: Option<String>,
    /// Keep watching the folder and apply each change; without it, sync once and exit.
    /// (From the API the agent always keeps watching.)
    #[arg(long)]
    watch: bool,
    /// How often the folder is looked at, in milliseconds.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Where the record of the installed table is kept across restarts.
    #[arg(long, default_value = "/run/podwall/agent")]
    state: PathBuf,
    /// Install into this named network namespace (`/run/netns/NAME`) instead of the
    /// agent's own, e.g. a lab's node.
    #[arg(long)]
    netns: Option<String>,
    /// Address of `/healthz` and `/metrics` (when watching).
    #[arg(long, default_value = "127.0.0.1:9809")]
    listen: SocketAddr,
}

/// This node's name: NODE_NAME (the DaemonSet sets it from `spec.nodeName`), else the
/// kernel's host name.
fn node_name() -> Result<String, Failure> {
    if let Some(n) = std::env::var("NODE_NAME").ok().filter(|n| !n.trim().is_empty()) {
        return Ok(n.trim().to_string());
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Failure::Error("no node name: give --node NAME or set NODE_NAME".into()))
}

/// Runs `agent`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let files: Vec<String> = args.dir.iter().map(|d| d.display().to_string()).collect();
    let target = match crate::live::source_of(&files, &args.live)? {
        crate::live::Source::Files(_) => None,
        crate::live::Source::Cluster(t) => Some(t),
    };
    podwall_lab::require_root()?;
    let node = args.netns.map_or(Node::Current, Node::Named);
    let (source, local) = match &args.dir {
        Some(dir) => (Source::Folder(dir.clone()), args.node.clone().map_or(Local::Every, Local::Node)),
        None => (Source::Api, Local::Node(args.node.clone().map_or_else(node_name, Ok)?)),
    };
    let mut agent = Agent::new(Config { source, node, state: args.state, local: local.clone() });
    if agent.knows_installed() {
        log("starting from the recorded table: the installed ruleset enforces until the first transaction replaces it");
    }
    if let Some(target) = target {
        let bound = podwall_agent::health::serve(args.listen, agent.status.clone())?;
        log(&format!("serving /healthz and /metrics on http://{bound}"));
        let settings =
            podwall_cluster::Settings { timeout: Duration::from_secs(args.live.request_timeout), ..Default::default() };
        let kinds = podwall_agent::follow::watched_kinds();
        let watch = podwall_cluster::watch::watch(&target, &settings, Default::default(), &kinds)
            .map_err(|e| Failure::Error(e.to_string()))?;
        if let Local::Node(name) = &local {
            log(&format!(
                "watching {} kind(s) at {} ({}); pods of node {name} are local",
                watch.kinds.len(),
                watch.server,
                watch.context
            ));
        }
        podwall_agent::follow(&mut agent, watch, || false).map_err(Failure::Error)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.watch {
        let bound = podwall_agent::health::serve(args.listen, agent.status.clone())?;
        log(&format!("serving /healthz and /metrics on http://{bound}"));
    }
    match agent.sync() {
        Ok(s) => {
            for w in &s.warnings {
                log(&format!("warning: {w}"));
            }
            log(&format!("synced in {} ms ({}): {}", s.took.as_millis(), s.path, s.summary));
        }
        // Once: the error is the command's. Watching: report it and wait for a change.
        Err(e) if !args.watch => return Err(Failure::Error(e)),
        Err(e) => log(&format!("error: {e}; waiting for the folder to change")),
    }
    if args.watch {
        podwall_agent::watch(&mut agent, Duration::from_millis(args.interval_ms.max(10)), || false);
    }
    Ok(ExitCode::SUCCESS)
}
