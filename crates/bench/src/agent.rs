//! `podwall-bench agent`: the flags and the rendering of `agent_sync`, which
//! times the node agent from a policy change arriving on its watch to the kernel holding
//! it.
use std::process::ExitCode;

use crate::{Failure, Format};

/// Flags of `bench agent`.
#[derive(clap::Args)]
pub struct Args {
    /// NetworkPolicies of the generated cluster.
    #[arg(long, default_value_t = 10_000)]
    policies: usize,
    /// Pods of the generated cluster (every other one on this node).
    #[arg(long, default_value_t = 1_000)]
    pods: usize,
    /// Policy changes to time.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

/// Runs `bench agent`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let params = crate::agent_sync::Params { policies: args.policies, pods: args.pods, changes: args.changes };
    let report = crate::agent_sync::run(&params).map_err(Failure::Error)?;
    match args.output {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            crate::outln!(
                "agent sync at {} policies, {} pods ({} on this node); load average {}",
                report.policies,
                report.pods,
                report.local_pods,
                report.load_average
            );
            crate::outln!("  first sync (whole table):        {:>9.1} ms", report.first_sync_ms);
            crate::outln!(
                "  policy change → kernel, {} changes: median {:.1} ms, max {:.1} ms",
                report.changes_ms.len(),
                report.median_ms,
                report.max_ms
            );
            crate::outln!(
                "    medians: load and compile the objects {:.1} ms, compile the ruleset {:.1} ms, delta and send {:.1} ms",
                report.read_ms, report.compile_ms, report.send_ms
            );
            crate::outln!(
                "    ruleset compiled whole for {} of {} changes (the others: only the situations the change touches)",
                report.compiled_whole,
                report.changes_ms.len()
            );
            let paths: Vec<String> = report.paths.iter().map(|(p, n)| format!("{p} {n}")).collect();
            crate::outln!(
                "  sent as: {}; table: {} chains, {} elements",
                paths.join(", "),
                report.chains,
                report.elements
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
