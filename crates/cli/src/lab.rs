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
    /// Change a running lab's policies in place, as `kubectl apply` would: the objects in
    /// the files replace those of the same kind and name (others are added; pods must stay
    /// the pods the lab has). The difference against what the node holds is sent as one
    /// atomic transaction that touches only the chains and elements that changed.
    Apply {
        #[command(flatten)]
        input: InputArgs,
        /// The lab's name.
        #[arg(long)]
        name: String,
        /// Established connections the change now denies: `keep` lets them run until they
        /// end (what Calico and other conntrack-based enforcers do: the ruleset accepts
        /// established traffic first); `flush` deletes their conntrack entries so that
        /// their next packet is judged again and dropped.
        #[arg(long, value_enum, default_value_t = EstablishedArg::Keep)]
        established: EstablishedArg,
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
        /// The lab's lock, inherited from `lab up`: let go of once ready.
        #[arg(long)]
        lock_fd: Option<i32>,
    },
}

/// `--established`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum EstablishedArg {
    Keep,
    Flush,
}

/// Where the manifests a lab runs are kept: `inputs/0` from `lab up`, one more layer per
/// `lab apply`; later layers replace objects of earlier ones.
fn inputs_dir(name: &str) -> std::path::PathBuf {
    podwall_lab::state_dir(name).join("inputs")
}

/// Copies the manifest files of `files` into the next layer of lab `name`'s inputs.
fn keep_inputs(name: &str, files: &[String]) -> Result<(), Failure> {
    let root = inputs_dir(name);
    let layer = std::fs::read_dir(&root).map(|d| d.count()).unwrap_or(0);
    let dir = root.join(layer.to_string());
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Error(format!("{}: {e}", dir.display())))?;
    let mut k = 0;
    for f in files {
        if f == "-" {
            std::fs::write(dir.join("stdin"), "").map_err(|e| Failure::Error(format!("{}: {e}", dir.display())))?;
            continue;
        }
        for path in podwall_load::manifest_files(std::path::Path::new(f))? {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("yaml").to_ascii_lowercase();
            let to = dir.join(format!("{k:06}.{ext}"));
            std::fs::copy(&path, &to).map_err(|e| Failure::Error(format!("{}: {e}", path.display())))?;
            k += 1;
        }
    }
    Ok(())
}

/// The input layers lab `name` runs, in order.
fn kept_inputs(name: &str) -> Result<Vec<String>, Failure> {
    let root = inputs_dir(name);
    let count = std::fs::read_dir(&root).map(|d| d.count()).unwrap_or(0);
    let mut out = Vec::new();
    for layer in 0..count {
        let dir = root.join(layer.to_string());
        if dir.join("stdin").exists() {
            return Err(Failure::Error(format!(
                "lab {name} was brought up from standard input, which is not kept: `lab apply` needs the lab brought up from files"
            )));
        }
        out.push(dir.display().to_string());
    }
    if out.is_empty() {
        return Err(Failure::Error(format!("lab {name}: its input is not kept (was it brought up by `lab up`?)")));
    }
    Ok(out)
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Runs `lab`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        Command::Up { input, name, force } => {
            crate::live::files_only(&input, "lab up")?;
            podwall_lab::check_name(&name)?;
            podwall_lab::require_root()?;
            let cluster = load(&input)?;
            let (cluster, allocated) = podwall_lab::lab_cluster(&cluster)?;
            let lab = podwall_lab::plan(&name, &cluster, &allocated)?;
            // Held until the responder is ready: a `down` or `--force` of this name waits.
            let held = podwall_lab::lock(&name)?;
            let warnings = podwall_lab::up(&lab, &cluster, force)?;
            print_warnings(&warnings);
            if let Err(e) = keep_inputs(&name, &input.files) {
                let _ = podwall_lab::down(&name);
                return Err(e);
            }
            let exe = std::env::current_exe()?;
            if let Err(e) = podwall_lab::serve::spawn_process(&exe, &held) {
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
        Command::Apply { input, name, established } => apply(&input, &name, established),
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
        Command::Serve { name, lock_fd } => {
            podwall_lab::serve::run_forever(&name, lock_fd)?;
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

fn apply(input: &InputArgs, name: &str, established: EstablishedArg) -> Result<ExitCode, Failure> {
    crate::live::files_only(input, "lab apply")?;
    podwall_lab::check_name(name)?;
    podwall_lab::require_root()?;
    // From reading the lab to keeping the new inputs: no other command changes it.
    let _held = podwall_lab::lock(name)?;
    let lab = podwall_lab::load(name)?;
    let mut files = kept_inputs(name)?;
    files.extend(input.files.iter().cloned());
    crate::input::size_threads(&files);
    let loaded = crate::input::compile(&files, input.skip_invalid)?;
    crate::input::count_invalid(input, loaded.invalid);
    let (cluster, skipped) = (loaded.cluster, loaded.skipped);
    // The change replacing what the lab runs is the point, not a duplicate to warn about.
    let replaced = cluster.warnings.iter().filter(|w| w.id == podwall_dialects::notes::DUPLICATE).count();
    for w in cluster.warnings.iter().filter(|w| w.id != podwall_dialects::notes::DUPLICATE) {
        eprintln!("warning[{}]: {w}", w.id);
    }
    crate::input::report_skipped(&skipped, input.verbose, "");
    let (cluster, allocated) = podwall_lab::lab_cluster(&cluster)?;
    let next = podwall_lab::replan(&lab, &cluster, &allocated)?;
    let established = match established {
        EstablishedArg::Keep => podwall_lab::Established::Keep,
        EstablishedArg::Flush => podwall_lab::Established::Flush,
    };
    let done = podwall_lab::apply(&next, &cluster, established)?;
    keep_inputs(name, &input.files)?;
    print_warnings(&done.warnings);
    let what = match &done.delta {
        Some(d) => d.summary(),
        None => "the table was replaced whole".to_string(),
    };
    eprintln!(
        "lab {name}: {replaced} object(s) replaced; {what}; sent as {} in {:.2} ms; established connections: {}{}",
        done.path,
        done.took.as_secs_f64() * 1e3,
        established,
        if established == podwall_lab::Established::Flush {
            format!(" ({} denied connection(s) cut)", done.flushed)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
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
    print_warnings(&podwall_lab::up(&lab, &cluster, true)?);
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
