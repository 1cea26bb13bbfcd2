//! Installing a compiled ruleset in a network namespace: a lab's node, or the namespace a
//! node agent runs in. What the kernel holds is kept as a value ([`Installed`]), never read
//! back; each change is the delta against it, sent as one atomic transaction — element
//! changes as one nf_tables netlink batch, anything else as one `nft -f` — and a first
//! install (or one no delta can express) replaces the table in one `nft -f` transaction
//! that deletes and recreates it, so that no moment runs without the table.
use std::fmt;
use std::io;
use std::process::{Command, Stdio};

use podwall_ir::Cluster;
use podwall_nftables::{Attachment, Delta, Installed, Ruleset};

use crate::{err, LabError};

/// Where a ruleset is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// The calling process's own network namespace (a node agent on its host).
    Current,
    /// A named namespace (`/run/netns/NAME`), such as a lab's node.
    Named(String),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Current => f.write_str("this network namespace"),
            Node::Named(n) => write!(f, "namespace {n}"),
        }
    }
}

impl Node {
    /// Runs `f` in this node's namespace, on a thread of its own for a named one.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
        match self {
            Node::Current => f(),
            Node::Named(n) => crate::netns::run_in(n, f),
        }
    }

    /// Runs `program` with `args` in the node, `input` on its standard input.
    pub fn command(&self, program: &str, args: &[&str], input: &str) -> io::Result<std::process::Output> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (program, input) = (program.to_string(), input.to_string());
        self.run(move || {
            // A child process starts in the namespace of the thread that forks it.
            let mut child = Command::new(&program)
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            use std::io::Write;
            child.stdin.take().expect("piped").write_all(input.as_bytes())?;
            child.wait_with_output()
        })
    }

    /// Runs `nft` with `args` in the node, `input` on its standard input; returns its
    /// standard output.
    pub fn nft(&self, args: &[&str], input: &str) -> Result<String, LabError> {
        let out = self
            .command("nft", args, input)
            .map_err(|e| LabError(format!("running nft in {self}: {e} (is nftables installed?)")))?;
        if !out.status.success() {
            return err(format!("nft failed in {self}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A netfilter netlink socket in the node.
    pub fn socket(&self) -> Result<crate::nf_tables::Socket, LabError> {
        self.run(crate::nf_tables::Socket::open).map_err(|e| LabError(format!("netfilter socket in {self}: {e}")))
    }

    /// Sends an element-only delta as one nf_tables netlink batch.
    pub fn send_elements(&self, delta: &Delta) -> Result<(), LabError> {
        let batch = crate::nf_tables::Batch::of(delta).map_err(|e| LabError(e.to_string()))?;
        self.socket()?.send(&batch).map_err(|e| LabError(format!("nf_tables batch in {self}: {e}")))
    }
}

/// How a transaction went to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Nothing changed: nothing was sent.
    Nothing,
    /// Element messages in one nf_tables netlink batch, in-process.
    Netlink,
    /// The delta as one `nft -f` transaction.
    NftDelta,
    /// The whole table replaced in one `nft -f` transaction (first install, or no delta
    /// could express the change).
    NftFull,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Path::Nothing => "nothing to send",
            Path::Netlink => "one netlink batch",
            Path::NftDelta => "one nft -f transaction",
            Path::NftFull => "one nft -f transaction replacing the table",
        })
    }
}

/// Makes the node hold `ruleset`, given what it holds now (`None`: unknown, the table is
/// replaced whole). One transaction either way; returns the delta sent (`None` for a
/// whole replace) and how it went.
pub fn install(node: &Node, old: Option<&Installed>, ruleset: &Ruleset) -> Result<(Option<Delta>, Path), LabError> {
    install_as(node, old, ruleset, &ruleset.installed())
}

/// [`install`], given what loading `ruleset` installs (`ruleset.installed()`), for a
/// caller that keeps that value as its record.
pub fn install_as(
    node: &Node,
    old: Option<&Installed>,
    ruleset: &Ruleset,
    new: &Installed,
) -> Result<(Option<Delta>, Path), LabError> {
    match old.and_then(|old| podwall_nftables::delta(old, new)) {
        None => {
            node.nft(&["-f", "-"], &ruleset.render())?;
            Ok((None, Path::NftFull))
        }
        Some(d) if d.is_empty() => Ok((Some(d), Path::Nothing)),
        Some(d) if d.elements_only() => {
            node.send_elements(&d)?;
            Ok((Some(d), Path::Netlink))
        }
        Some(d) => {
            node.nft(&["-f", "-"], &d.render())?;
            Ok((Some(d), Path::NftDelta))
        }
    }
}

/// The attachments of a cluster as the lab wires it (after [`crate::lab_cluster`]): every
/// endpoint that is no host-network pod on the interface
/// [`podwall_nftables::interface_name`] gives it, with its one address.
pub fn attachments(cluster: &Cluster) -> Vec<Attachment> {
    cluster
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.host_network)
        .filter_map(|(endpoint, e)| {
            let address = e.ip?;
            Some(Attachment {
                endpoint,
                interface: podwall_nftables::interface_name(&e.name),
                addresses: vec![address],
            })
        })
        .collect()
}

/// Compiles `cluster`'s ruleset for `attachments` into podwall's table.
pub fn compile(cluster: &Cluster, attachments: &[Attachment]) -> Result<Ruleset, LabError> {
    let options = podwall_nftables::Options { table: crate::TABLE.into() };
    podwall_nftables::compile(cluster, attachments, &options)
        .map_err(|e| LabError(format!("compiling the ruleset: {e}")))
}
