//! `podwall dataplane`: the nftables ruleset that enforces the cluster's policies.
use std::process::ExitCode;

use podwall_nftables::{compile, default_attachments, Options};

use crate::input::load;
use crate::{outln, Failure, InputArgs};

/// Flags of `dataplane`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print the `nft -f` script for a node holding every endpoint that has an address
    /// (each on the interface `pw` + a hash of its name); HTTP rules are warned about on
    /// standard error.
    Compile {
        #[command(flatten)]
        input: InputArgs,
        /// The name of the `inet` table podwall owns.
        #[arg(long, default_value = "podwall")]
        table: String,
    },
    /// Print the ruleset installed in a lab's node namespace (`nft list table`).
    Show {
        /// The lab's name.
        #[arg(long)]
        name: String,
    },
}

/// Runs `dataplane`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        Command::Compile { input, table } => {
            let cluster = load(&input)?;
            let ruleset = compile(&cluster, &default_attachments(&cluster), &Options { table })?;
            for w in &ruleset.warnings {
                eprintln!("warning: {w}");
            }
            let text = ruleset.render();
            outln!("{}", text.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name } => {
            podwall_lab::require_root()?;
            let lab = podwall_lab::load(&name)?;
            outln!("{}", podwall_lab::show(&lab)?.trim_end());
            Ok(ExitCode::SUCCESS)
        }
    }
}
