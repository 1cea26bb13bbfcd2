//! `podwall rbac`: risky grants and escalation paths; synthetic RBAC for measurements.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use podwall_rbac::escalate::Node;

use crate::can_i::load_identities;
use crate::output::{GrantOut, PathOut, RiskyOut, StepOut};
use crate::{Failure, Format};

/// Flags of `rbac`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Dangerous grants, and every subject's shortest path to cluster-admin, worst first.
    /// Exit 1 when there is a critical finding.
    Risky(RiskyArgs),
    /// Write a synthetic RBAC set (one JSON List) for measurements.
    Gen(GenArgs),
}

#[derive(clap::Args)]
struct RiskyArgs {
    /// A manifest file, a folder (read recursively) or `-` for standard input; repeatable.
    /// Without it: the cluster --kubeconfig/--context name, or inside a pod its own.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    #[command(flatten)]
    live: crate::live::LiveArgs,
    /// Output format.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print how long each part took, and the peak memory, to standard error.
    #[arg(long)]
    timings: bool,
}

#[derive(clap::Args)]
struct GenArgs {
    /// Roles and ClusterRoles together.
    #[arg(long, default_value_t = 5_000)]
    roles: usize,
    /// RoleBindings and ClusterRoleBindings together.
    #[arg(long, default_value_t = 5_000)]
    bindings: usize,
    /// Namespaces.
    #[arg(long, default_value_t = 500)]
    namespaces: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file.
    #[arg(short = 'o', long)]
    out: PathBuf,
}

/// Runs `rbac`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    match a.command {
        Command::Risky(r) => risky(r),
        Command::Gen(g) => {
            let items = podwall_rbac::synth::generate(podwall_rbac::synth::Sizes {
                roles: g.roles,
                bindings: g.bindings,
                namespaces: g.namespaces,
                seed: g.seed,
            });
            let n = items.len();
            let list = podwall_rbac::synth::as_list(items);
            std::fs::write(&g.out, serde_json::to_vec(&list)?)
                .map_err(|e| Failure::Error(format!("{}: {e}", g.out.display())))?;
            eprintln!("wrote {n} objects to {}", g.out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn risky(a: RiskyArgs) -> Result<ExitCode, Failure> {
    let t0 = Instant::now();
    let rbac = load_identities(&a.files, &a.live)?;
    let t_load = t0.elapsed();
    let t1 = Instant::now();
    let findings = rbac.risky();
    let t_findings = t1.elapsed();
    let t2 = Instant::now();
    let graph = rbac.escalation_graph();
    let paths = rbac.escalation_paths(&graph);
    let t_graph = t2.elapsed();
    let escalations: Vec<_> = paths.iter().map(|p| rbac.escalation_finding(&graph, p)).collect();
    let critical = findings.iter().chain(&escalations).any(|f| f.severity == podwall_findings::Severity::Critical);
    match a.format {
        Format::Json => {
            let paths_out = paths
                .iter()
                .map(|p| PathOut {
                    from: graph.nodes[p.from].display(),
                    steps: p
                        .steps
                        .iter()
                        .map(|e| StepOut {
                            grant: e.via.map(|g| GrantOut::new(&rbac, &g)),
                            text: rbac.step_text(&graph, e),
                            to: graph.nodes[e.to].display(),
                            with: e.with.map(|g| GrantOut::new(&rbac, &g)),
                        })
                        .collect(),
                })
                .collect();
            let out = RiskyOut { escalations: escalations.clone(), findings: findings.clone(), paths: paths_out };
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
        Format::Text => {
            for f in &findings {
                crate::outln!("{:<8} {} {f}", f.severity.to_string(), f.id);
            }
            if !paths.is_empty() {
                crate::outln!("\nescalation paths to cluster-admin (the shortest for each subject):");
            }
            for (p, f) in paths.iter().zip(&escalations) {
                crate::outln!(
                    "{:<8} {} {} ({})",
                    f.severity.to_string(),
                    f.id,
                    graph.nodes[p.from].display(),
                    podwall_rbac::escalate::plural(p.steps.len())
                );
                for (i, e) in p.steps.iter().enumerate() {
                    crate::outln!("  {}. {}", i + 1, rbac.step_text(&graph, e));
                }
            }
            if findings.is_empty() && paths.is_empty() {
                crate::outln!("no risky grants found");
            }
        }
    }
    if a.timings {
        let admins = graph.find(&Node::ClusterAdmin).map(|_| "").unwrap_or_default();
        eprintln!(
            "timings{admins}: load {:.0} ms ({} roles, {} bindings), findings {:.0} ms ({}), graph and paths {:.0} ms ({} nodes, {} edges, {} paths), peak memory {:.0} MiB",
            t_load.as_secs_f64() * 1e3,
            rbac.roles.len(),
            rbac.bindings.len(),
            t_findings.as_secs_f64() * 1e3,
            findings.len(),
            t_graph.as_secs_f64() * 1e3,
            graph.nodes.len(),
            graph.edge_count(),
            paths.len(),
            peak_mib().unwrap_or(0.0)
        );
    }
    Ok(if critical { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
