//! `podwall-bench`: synthetic clusters and the benchmarks that report podwall's figures.
//! It is a separate program so that the product binary carries no generator and no
//! measuring harness; the commands that time another program (`webhook`, `cni`) start
//! the `podwall` binary itself.
#![forbid(unsafe_code)]

mod agent;
mod agent_sync;
mod cni;
mod dataplane;
mod engine;
mod rewrap;
mod webhook;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

// The engine benchmarks load large clusters of many small objects, as `podwall` does
// with the same allocator: the figures stand for the product's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Generate synthetic clusters and measure podwall on them.
#[derive(Parser)]
#[command(name = "podwall-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a synthetic cluster (one JSON List per namespace, plus calico.json and
    /// admin.json when asked for) to a folder.
    Gen(engine::GenArgs),
    /// Measure load, index, matrix, summary and pair-query times on a folder.
    Run(engine::RunArgs),
    /// Measure the data plane in a lab (root): small-packet rate, request latency and
    /// connection cost against no table and linear chains, load and change times,
    /// packets lost during updates, lab up time.
    Dataplane(dataplane::Args),
    /// Measure `podwall webhook` at a fixed request rate on loopback: latency
    /// percentiles, the rate held, and the server's memory under load.
    Webhook(webhook::Args),
    /// Measure the node agent (root): from a policy change arriving on its watch to the
    /// kernel holding it, at 10,000 policies by default.
    Agent(agent::Args),
    /// Measure the CNI plugin as a runtime calls it (root): ADD and DEL latency, median
    /// and p99, for pods added one at a time and all at once.
    Cni(cni::Args),
    /// Measure `secrets rewrap` against a scratch etcd it starts (`etcd` on PATH): N
    /// secrets written under an old key, rewrapped, then a pass finding all current.
    Rewrap(rewrap::Args),
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// Why a command ended early.
#[derive(Debug)]
pub enum Failure {
    /// Bad input or usage: the message is printed and the command exits 2.
    Error(String),
    /// The reader of standard output went away: the command ends quietly.
    ClosedPipe,
}

impl<E: std::fmt::Display + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        let gone = (&e as &dyn std::any::Any)
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
        if gone {
            Failure::ClosedPipe
        } else {
            Failure::Error(e.to_string())
        }
    }
}

/// `println!` that treats a closed standard output as the end of the command.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_fmt(format_args!($($arg)*)).and_then(|()| out.write_all(b"\n"))?;
    }};
}

/// The `podwall` binary a benchmark starts: the one named, else the one installed beside
/// this program (as `cargo build` and `cargo install` place them), else the first on
/// `PATH`.
pub fn podwall_binary(named: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(p) = named {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Failure::Error(format!("--podwall {}: no such file", p.display())))
        };
    }
    let beside = std::env::current_exe()?.with_file_name("podwall");
    if beside.is_file() {
        return Ok(beside);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("podwall"))
        .find(|p| p.is_file());
    on_path.ok_or_else(|| {
        Failure::Error(format!(
            "no podwall binary beside {} nor on PATH: build it (`cargo build --release -p podwall`) or name it with --podwall",
            beside.with_file_name("podwall-bench").display()
        ))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(a) => engine::gen(a),
        Command::Run(a) => engine::run(a),
        Command::Dataplane(a) => dataplane::run(a),
        Command::Webhook(a) => webhook::run(a),
        Command::Agent(a) => agent::run(a),
        Command::Cni(a) => cni::run(a),
        Command::Rewrap(a) => rewrap::run(a),
    };
    match result {
        Ok(code) => code,
        Err(Failure::ClosedPipe) => ExitCode::SUCCESS,
        Err(Failure::Error(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}
