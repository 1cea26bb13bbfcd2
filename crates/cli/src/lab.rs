//! `podwall lab`: the cluster's pods as network namespaces on this machine, enforced by
//! the compiled nftables ruleset, probed with real connections.
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use podwall_engine::Index;
use podwall_ir::Protocol;

use crate::input::{load, protocol};
use crate::{outln, Failure, Format, InputArgs};

/// Flags of `lab`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Bring a lab up: a node namespace enforcing the ruleset, one namespace per pod
    /// (endpoints without an address get one from 198.18.0.0/15) with a responder on each
    /// declared TCP and UDP port.
    Up {
        #[command(flatten)]
        input: InputArgs,
        /// The lab's name (a-z, 0-9, '-'; at most 24 characters).
        #[arg(long)]
        name: String,
        /// Replace a lab of the same name, also one a crashed run left.
        #[arg(long)]
        force: bool,
    },
    /// Probe every ordered pod pair with real connections; JSON is the shape of
    /// `matrix -o json`.
    Probe {
        #[arg(long)]
        name: String,
        #[arg(long)]
        port: u16,
        /// TCP or UDP.
        #[arg(long, default_value = "TCP")]
        protocol: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Bring a lab up, probe every declared port and protocol, compare with the model's
    /// matrix, tear it down. Exit 1 listing the pairs that differ.
    Verify {
        #[command(flatten)]
        input: InputArgs,
    },
    /// Remove a lab and everything it made.
    Down {
        #[arg(long)]
        name: String,
    },
    /// The responder process of a lab (started by `lab up`).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        name: String,
    },
}

/// Runs `lab`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        Command::Up { input, name, force } => {
            podwall_lab::check_name(&name)?;
            podwall_lab::require_root()?;
            let cluster = load(&input)?;
            let (cluster, allocated) = podwall_lab::lab_cluster(&cluster)?;
            let lab = podwall_lab::plan(&name, &cluster, &allocated)?;
            podwall_lab::up(&lab, &cluster, force)?;
            let exe = std::env::current_exe()?;
            if let Err(e) = podwall_lab::serve::spawn_process(&exe, &name) {
                let _ = podwall_lab::down(&name);
                return Err(e.into());
            }
            let allocated = lab.pods.iter().filter(|p| p.allocated).count();
            eprintln!(
                "lab {name}: {} pods up ({allocated} with addresses allocated from 198.18.0.0/15), node namespace {}",
                lab.pods.len(),
                lab.node
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe { name, port, protocol: p, format } => {
            podwall_lab::require_root()?;
            let proto = protocol(&p)?;
            let lab = podwall_lab::load(&name)?;
            let got = podwall_lab::probe(&lab, proto, port)?;
            print(&lab, proto, port, &got, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { input } => verify(&input),
        Command::Down { name } => {
            podwall_lab::down(&name)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { name } => {
            podwall_lab::serve::run_forever(&name)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print(lab: &podwall_lab::Lab, proto: Protocol, port: u16, got: &[Vec<bool>], format: Format) -> Result<(), Failure> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Json => {
            let pods: Vec<&str> = lab.pods.iter().map(|p| p.name.as_str()).collect();
            podwall_engine::json::write_matrix(&mut out, proto, port, &pods, |i| got[i].iter().copied())?;
            writeln!(out)?;
        }
        Format::Text => {
            for (i, src) in lab.pods.iter().enumerate() {
                for (j, dst) in lab.pods.iter().enumerate() {
                    let word = if got[i][j] { "reached" } else { "blocked" };
                    writeln!(out, "{proto}/{port} {} -> {}: {word}", src.name, dst.name)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn verify(input: &InputArgs) -> Result<ExitCode, Failure> {
    podwall_lab::require_root()?;
    let cluster = load(input)?;
    let (cluster, allocated) = podwall_lab::lab_cluster(&cluster)?;
    let name = format!("verify-{}", std::process::id());
    let lab = podwall_lab::plan(&name, &cluster, &allocated)?;
    let ports = cluster.declared_ports();
    if ports.is_empty() {
        return Err(Failure::Error("no pod declares a container port: nothing to probe".into()));
    }
    podwall_lab::up(&lab, &cluster, true)?;
    let result = (|| -> Result<Vec<podwall_lab::verify::Mismatch>, podwall_lab::LabError> {
        let _responders = podwall_lab::serve::start(&lab)?;
        let index = Index::new(&cluster);
        let mut bad = Vec::new();
        for &(proto, port) in &ports {
            let got = podwall_lab::probe(&lab, proto, port)?;
            bad.extend(podwall_lab::verify::compare(&lab, &index, proto, port, &got));
        }
        Ok(bad)
    })();
    podwall_lab::down(&name)?;
    let bad = result?;
    let pairs = lab.pods.len() * lab.pods.len() * ports.len();
    for m in &bad {
        outln!("{m}");
    }
    if bad.is_empty() {
        outln!("kernel == model: {pairs} verdicts ({} pods, {} port(s)) agree", lab.pods.len(), ports.len());
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("kernel != model on {} of {pairs} verdicts", bad.len());
        Ok(ExitCode::from(1))
    }
}
