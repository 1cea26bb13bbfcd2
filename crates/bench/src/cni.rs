//! `podwall-bench cni`: the CNI plugin measured as a runtime calls it. Each call runs the
//! `podwall` binary as the plugin (`CNI_*` variables, configuration on standard input),
//! in namespaces of its own.
use std::process::ExitCode;

use crate::{Failure, Format};

/// Flags of `cni`.
#[derive(clap::Args)]
pub struct Args {
    /// Pods added (then deleted) one at a time.
    #[arg(long, default_value_t = 100)]
    pods: usize,
    /// Pods added (then deleted) all at once.
    #[arg(long, default_value_t = 50)]
    concurrent: usize,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// The `podwall` binary to run as the plugin (default: the one beside this program,
    /// else the first on PATH).
    #[arg(long)]
    podwall: Option<std::path::PathBuf>,
}

/// Runs `cni`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let plugin = crate::podwall_binary(a.podwall.as_deref())?;
    let report = podwall_cni::bench::run(&plugin, a.pods, a.concurrent).map_err(Failure::Error)?;
    if a.output == Format::Json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!("{:<4} {:<11} {:>6} {:>11} {:>9} {:>10}", "", "mode", "calls", "median ms", "p99 ms", "wall ms");
    for p in &report.phases {
        crate::outln!(
            "{:<4} {:<11} {:>6} {:>11.1} {:>9.1} {:>10.0}",
            p.command,
            p.mode,
            p.calls,
            p.median_ms,
            p.p99_ms,
            p.wall_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}
