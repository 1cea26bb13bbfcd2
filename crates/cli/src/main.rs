//! `podwall`: the command line. Parses flags and wires the crates together; every
//! decision is made in `podwall-engine` on the form `podwall-dialects` compiles.
#![forbid(unsafe_code)]

mod agent;
mod analyze;
mod apiserver;
mod audit;
mod audit_log;
mod can_i;
mod check;
mod cni;
mod dataplane;
mod diff;
mod explain;
mod graph;
mod input;
mod lab;
mod lint;
mod live;
mod matrix;
mod output;
mod pss;
mod rbac;
mod secrets;
mod selector;
mod webhook;
mod who_can;
mod words;

use std::process::ExitCode;

// Loading a large cluster allocates many small objects; mimalloc keeps that cheap.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand, ValueEnum};

/// Kubernetes network policy made exact, visible and enforced.
#[derive(Parser)]
#[command(name = "podwall", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// Where the cluster comes from.
#[derive(clap::Args, Clone, Debug)]
pub struct InputArgs {
    /// A manifest file, a folder (read recursively) or `-` for standard input; repeatable.
    /// Without it: the cluster --kubeconfig/--context name, or inside a pod the cluster
    /// it runs in.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub live: live::LiveArgs,
    /// Name the objects that were skipped because podwall does not read their kind.
    #[arg(short, long)]
    pub verbose: bool,
    /// Exit 2 when the input holds a policy podwall cannot evaluate (Cilium policies,
    /// `extensions/v1beta1` NetworkPolicy): for CI, where an answer that leaves a policy
    /// out must not pass.
    #[arg(long)]
    pub fail_on_unknown_policy: bool,
    /// In folders given to -f, skip what cannot be read instead of stopping with exit 2:
    /// a file that is not Kubernetes manifests (a Helm template, an application's own
    /// config) whole, an object the API server would refuse alone. Each one skipped is a
    /// warning with its reason; answers leave it out. Files named directly, and standard
    /// input, stop the run whatever this says. Without it (the default), the first
    /// unreadable file ends the run with exit 2.
    #[arg(long)]
    pub skip_invalid: bool,
    /// With --skip-invalid: answer, then exit 2 if anything was skipped (for CI).
    #[arg(long, requires = "skip_invalid")]
    pub strict: bool,
}

#[derive(Subcommand)]
enum Command {
    /// The whole posture in one report, worst first: network findings from the exact
    /// engine, Pod Security, workload lint, RBAC and audit policy findings. Exit 0, or 1
    /// with a finding at or above --fail-on-severity.
    Analyze(analyze::Args),
    /// Who can reach whom: a grid of every pod pair for a port.
    Matrix(matrix::Args),
    /// A picture of who may talk to whom: the flows allowed between namespaces (or,
    /// with --pods, classes of endpoints), labelled with their ports, as DOT, Mermaid or
    /// SVG.
    Graph(graph::Args),
    /// Whether one connection is allowed, and why, for each direction.
    ///
    /// Only what can bear on the connection is read past its name: the two pods (or
    /// workloads), the namespaced policies of their namespaces, and every object of
    /// other kinds. Other pods and other namespaces' policies must still be well-formed
    /// YAML or JSON, but their fields are not checked; `matrix` checks everything. With
    /// an IP address for an end, everything is read.
    Check(check::Args),
    /// What isolates a pod, and what it may send and receive.
    Explain(explain::Args),
    /// Which endpoints and network sets a Calico selector picks.
    Selector(selector::Args),
    /// What a change does to reachability: the pairs newly allowed or denied between the
    /// state before (-f) and the state after (--to), and why. Exit 0: unchanged; 1: changed.
    Diff(diff::Args),
    /// The nftables data plane: `dataplane compile` prints the ruleset that enforces the
    /// policies on a node.
    Dataplane(dataplane::Args),
    /// Whether a user may do something, as the Kubernetes RBAC authorizer decides:
    /// `kubectl auth can-i` from manifests. Prints yes (exit 0) or no (exit 1).
    ///
    /// Only RBAC objects and CustomResourceDefinitions are checked; other objects must be
    /// well-formed YAML or JSON.
    #[command(name = "can-i")]
    CanI(can_i::Args),
    /// Who may do something: every subject some binding grants it, with the path
    /// binding → role → rule and the pods that run as it. Exit 1 when nobody is granted it.
    #[command(name = "who-can")]
    WhoCan(who_can::Args),
    /// RBAC posture: `rbac risky` lists dangerous grants and every subject's shortest
    /// escalation path to cluster-admin.
    Rbac(rbac::Args),
    /// A lab on this machine: pods as network namespaces behind a node namespace that
    /// enforces the ruleset; real probes, compared with the model (needs root).
    Lab(lab::Args),
    /// Pod Security Standards: which Pods and pod templates the PodSecurity admission
    /// plugin would reject at a level and version, and why. Exit 0: all allowed; 1: some
    /// rejected.
    Pss(pss::Args),
    /// Workload hygiene beyond Pod Security: images, probes, resources, security
    /// context habits, service account tokens, secrets in env, pods no network policy
    /// selects. Exit 0: no finding; 1: some.
    Lint(lint::Args),
    /// The audit level the API server's policy checker gives a request: the first
    /// matching rule of an audit.k8s.io/v1 Policy decides; no match is None.
    #[command(name = "audit-level")]
    AuditLevel(audit::LevelArgs),
    /// The CNI plugin (CNI 1.1, 1.0.0, 0.4.0): the runtime runs it with `CNI_*` variables
    /// and the network configuration on standard input; the result or error JSON goes to
    /// standard output. Installed as `podwall` in the runtime's CNI folder, the binary run
    /// without arguments does the same.
    Cni(cni::Args),
    /// Audit policy posture: `audit lint` proves unreachable rules, sensitive resources
    /// logged with their bodies and requests no rule matches.
    Audit(audit::Args),
    /// A validating admission webhook (AdmissionReview v1 over HTTPS) that judges Pods
    /// and workload templates by their namespace's pod-security labels, as the
    /// PodSecurity admission plugin does: enforce denies, warn warns, audit annotates.
    Webhook(webhook::Args),
    /// Encryption at rest as kube-apiserver stores values in etcd: `encrypt`, `decrypt`,
    /// `validate` and `rotate-config` over an EncryptionConfiguration.
    Secrets(secrets::Args),
    /// kube-apiserver hardening: the CIS Kubernetes Benchmark's API server checks (1.2.x)
    /// on its static pod manifest or a flags file, judged with the server's defaults.
    /// Exit 0: no finding; 1: some.
    Apiserver(apiserver::Args),
    /// The node agent: keeps this node's nftables ruleset equal to the policies of a
    /// folder (`-f DIR --watch`) or of the cluster it watches (`--kubeconfig`,
    /// `--context`, in-cluster), each change one atomic transaction of what changed;
    /// `/healthz` and `/metrics` on a local port (needs root).
    Agent(agent::Args),
}

/// Why a command ended early.
#[derive(Debug)]
pub enum Failure {
    /// Bad input or usage: the message is printed and the command exits 2.
    Error(String),
    /// The reader of standard output went away (`podwall ... | head`): no error; the
    /// command ends quietly, as Unix tools do.
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

/// `println!` that treats a closed standard output as the end of the command, not as a
/// panic.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_fmt(format_args!($($arg)*)).and_then(|()| out.write_all(b"\n"))?;
    }};
}

fn main() -> ExitCode {
    if cni::started_as_plugin() {
        return cni::invoke();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Matrix(a) => matrix::run(a),
        Command::Check(a) => check::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Selector(a) => selector::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Dataplane(a) => dataplane::run(a),
        Command::Lab(a) => lab::run(a),
        Command::Pss(a) => pss::run(a),
        Command::Lint(a) => lint::run(a),
        Command::AuditLevel(a) => audit::level(a),
        Command::Audit(a) => audit::run(a),
        Command::Cni(a) => cni::run(a),
        Command::CanI(a) => can_i::run(a),
        Command::WhoCan(a) => who_can::run(a),
        Command::Rbac(a) => rbac::run(a),
        Command::Webhook(a) => webhook::run(a),
        Command::Secrets(a) => secrets::run(a),
        Command::Apiserver(a) => apiserver::run(a),
        Command::Agent(a) => agent::run(a),
    };
    match result {
        Ok(_) if input::strict_skips() > 0 => {
            eprintln!("error: {} unreadable file(s) or object(s) were skipped (--strict)", input::strict_skips());
            ExitCode::from(2)
        }
        Ok(code) => code,
        Err(Failure::ClosedPipe) => ExitCode::SUCCESS,
        Err(Failure::Error(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Failure;

    #[test]
    fn a_closed_standard_output_is_no_error() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(matches!(Failure::from(pipe), Failure::ClosedPipe));
        let other = std::io::Error::other("disk full");
        assert!(matches!(Failure::from(other), Failure::Error(m) if m == "disk full"));
    }
}
