//! Where the input comes from: files (`-f`), or a live cluster read through its API
//! (`--kubeconfig`, `--context`, or the cluster podwall runs in).
use std::path::PathBuf;
use std::time::Duration;

use podwall_cluster::Target;

use crate::{Failure, InputArgs};

/// The flags that read a live cluster instead of files.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LiveArgs {
    /// Read the cluster this kubeconfig names instead of files: every kind podwall reads,
    /// listed through the API (read-only: podwall only lists; deploy/cluster has the
    /// ClusterRole it needs). Not with -f.
    #[arg(long, value_name = "PATH", conflicts_with = "files")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to read (default: the current context). Without
    /// --kubeconfig, the default kubeconfig: KUBECONFIG, else ~/.kube/config.
    #[arg(long, value_name = "NAME", conflicts_with = "files")]
    pub context: Option<String>,
    /// Seconds one API request may take before the read fails (reading a cluster).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
}

/// The input, as the flags say.
pub enum Source<'a> {
    /// Files, folders or `-`.
    Files(&'a [String]),
    /// A cluster.
    Cluster(Target),
}

/// Where to read from: `-f` if given; else the kubeconfig (and context) given; else,
/// inside a pod (`KUBERNETES_SERVICE_HOST` set), the cluster it runs in.
pub fn source_of<'a>(files: &'a [String], live: &LiveArgs) -> Result<Source<'a>, Failure> {
    if !files.is_empty() {
        return Ok(Source::Files(files));
    }
    if live.kubeconfig.is_some() || live.context.is_some() {
        return Ok(Source::Cluster(Target::Kubeconfig {
            path: live.kubeconfig.clone(),
            context: live.context.clone(),
        }));
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty()) {
        eprintln!("note: reading the cluster this pod runs in (KUBERNETES_SERVICE_HOST is set and no -f was given)");
        return Ok(Source::Cluster(Target::InCluster));
    }
    Err(Failure::Error(
        "no input: give -f FILE, -f DIR or -f - (repeatable), or --kubeconfig PATH / --context NAME to read a cluster"
            .into(),
    ))
}

/// Reads the input the flags name, typed as `options` say.
pub fn read(args: &InputArgs, options: podwall_load::Options<'_>) -> Result<podwall_load::Input, Failure> {
    read_from(&args.files, &args.live, options)
}

/// Like [`read`], for commands with flags of their own.
pub fn read_from(
    files: &[String],
    live: &LiveArgs,
    options: podwall_load::Options<'_>,
) -> Result<podwall_load::Input, Failure> {
    match source_of(files, live)? {
        Source::Files(files) => Ok(podwall_load::load_paths_with(files, options)?),
        Source::Cluster(target) => {
            let settings =
                podwall_cluster::Settings { timeout: Duration::from_secs(live.request_timeout), ..Default::default() };
            Ok(podwall_cluster::load(&target, &settings, options)?)
        }
    }
}

/// Prints what a live read did not get, for commands that print no compiled warnings.
pub fn warn_gaps(input: &podwall_load::Input) {
    for w in podwall_dialects::notes::gaps(&input.gaps) {
        eprintln!("warning[{}]: {w}", w.id);
    }
}

/// Whether the input came from a cluster (which hands over no Secrets).
pub fn is_live(args: &InputArgs) -> bool {
    args.files.is_empty()
}

/// Refuses a live cluster for a command that keeps its input files (`lab up`, `lab apply`).
pub fn files_only(args: &InputArgs, command: &str) -> Result<(), Failure> {
    match args.files.is_empty() {
        true => Err(Failure::Error(format!(
            "{command} reads files only (-f): it keeps them to replan later; dump the cluster with kubectl first"
        ))),
        false => Ok(()),
    }
}
