//! `podwall agent`: keeps this node's nftables ruleset equal to the policies of a folder
//! it watches (`-f DIR --watch`), with `/healthz` and `/metrics` on a local port.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use podwall_agent::{log, Agent, Config};
use podwall_lab::install::Node;

use crate::Failure;

/// Flags of `agent`.
#[derive(clap::Args)]
pub struct Args {
    /// The folder of manifests this node enforces (every pod in it is taken as local).
    #[arg(short = 'f', long = "filename", required = true)]
    dir: PathBuf,
    /// Keep watching the folder and apply each change; without it, sync once and exit.
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
    /// Address of `/healthz` and `/metrics` (with --watch).
    #[arg(long, default_value = "127.0.0.1:9809")]
    listen: SocketAddr,
}

/// Runs `agent`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    podwall_lab::require_root()?;
    let node = args.netns.map_or(Node::Current, Node::Named);
    let mut agent = Agent::new(Config { dir: args.dir.clone(), node, state: args.state });
    if agent.knows_installed() {
        log("starting from the recorded table: the installed ruleset enforces until the first transaction replaces it");
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
