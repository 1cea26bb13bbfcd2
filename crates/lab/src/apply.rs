//! Changing a running lab's policies in place: the new ruleset is compiled, compared with
//! what the node holds (kept in the lab's state, never read back from the kernel), and
//! the difference is sent as one atomic transaction that touches only what changed.
use std::fmt;
use std::time::{Duration, Instant};

use podwall_engine::Index;
use podwall_ir::Cluster;

use crate::{conntrack, err, load_installed, save, save_installed, Lab, LabError};

/// What happens to established connections that a change now denies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Established {
    /// They go on until they end: the ruleset accepts established traffic first, as
    /// Calico, kube-router and every conntrack-based enforcer do. The default: a policy
    /// change never cuts a connection that was allowed when it was opened.
    #[default]
    Keep,
    /// Their conntrack entries are deleted, so that their next packet is judged by the
    /// new policies (and dropped): strict enforcement, at the cost of cut connections.
    Flush,
}

impl fmt::Display for Established {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Established::Keep => "keep",
            Established::Flush => "flush",
        })
    }
}

pub use crate::install::Path;

/// What an apply did.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The transaction sent.
    pub delta: Option<podwall_nftables::Delta>,
    /// How it was sent.
    pub path: Path,
    /// Time to compile, compare and send (conntrack flush not included).
    pub took: Duration,
    /// Conntrack entries deleted (with [`Established::Flush`]).
    pub flushed: usize,
    /// What the compiler warns about.
    pub warnings: Vec<String>,
}

/// The lab `old` as it runs `cluster` (already passed through [`crate::lab_cluster`]):
/// the same pods in the same namespaces, with the endpoint ids of `cluster`. A change
/// may relabel pods and namespaces and change any policy; pods added or removed, or an
/// address or declared port changed, need the lab brought up again.
pub fn replan(old: &Lab, cluster: &Cluster, allocated: &[bool]) -> Result<Lab, LabError> {
    let new = crate::plan(&old.name, cluster, allocated)?;
    let names = |l: &Lab| l.pods.iter().map(|p| p.name.clone()).collect::<std::collections::BTreeSet<_>>();
    let (was, now) = (names(old), names(&new));
    let again = format!("`lab up --force --name {}` brings the lab up with them", old.name);
    if let Some(p) = now.difference(&was).next() {
        return err(format!("lab {}: pod {p} is not in the lab; apply changes policies and labels, {again}", old.name));
    }
    if let Some(p) = was.difference(&now).next() {
        return err(format!(
            "lab {}: pod {p} is no longer in the input; apply changes policies and labels, {again}",
            old.name
        ));
    }
    let mut pods = Vec::with_capacity(new.pods.len());
    for o in &old.pods {
        let n = new.pods.iter().find(|p| p.name == o.name).expect("same names");
        if n.address != o.address || n.ports != o.ports {
            return err(format!(
                "lab {}: pod {}: its address or declared ports changed ({} → {}); {again}",
                old.name, o.name, o.address, n.address
            ));
        }
        pods.push(crate::Pod { endpoint: n.endpoint, ..o.clone() });
    }
    Ok(Lab { name: old.name.clone(), node: old.node.clone(), pods })
}

/// Sends an element-only delta as one nf_tables netlink batch from a socket opened in
/// the lab's node.
pub fn send_elements(lab: &Lab, delta: &podwall_nftables::Delta) -> Result<(), LabError> {
    crate::node(lab).send_elements(delta).map_err(|e| LabError(format!("lab {}: {e}", lab.name)))
}

/// A netfilter netlink socket in the lab's node.
pub fn node_socket(lab: &Lab) -> Result<crate::nf_tables::Socket, LabError> {
    crate::node(lab).socket().map_err(|e| LabError(format!("lab {}: {e}", lab.name)))
}

/// Sends `batch` on `sock` (a socket of the lab's node).
pub fn send_batch(
    lab: &Lab,
    sock: &mut crate::nf_tables::Socket,
    batch: &crate::nf_tables::Batch,
) -> Result<(), LabError> {
    sock.send(batch).map_err(|e| LabError(format!("lab {}: nf_tables batch in {}: {e}", lab.name, lab.node)))
}

/// Applies `cluster`'s policies to the running lab `lab` (from [`replan`]) as one
/// transaction against what the node holds, then deals with established connections as
/// `established` says. Saves the lab's new state. Holds the lab's [`crate::lock`].
pub fn apply(lab: &Lab, cluster: &Cluster, established: Established) -> Result<Applied, LabError> {
    crate::require_root()?;
    let _held = crate::lock(&lab.name)?;
    let start = Instant::now();
    let old = load_installed(&lab.name)?;
    let ruleset = crate::compile(lab, cluster)?;
    let new = ruleset.installed();
    let (delta, path) = crate::install::install(&crate::node(lab), Some(&old), &ruleset)
        .map_err(|e| LabError(format!("lab {}: {e}", lab.name)))?;
    let took = start.elapsed();
    save_installed(&lab.name, &new)?;
    save(lab)?;
    let flushed = match established {
        Established::Keep => 0,
        Established::Flush => conntrack::flush_denied(lab, &Index::new(cluster))?,
    };
    Ok(Applied { delta, path, took, flushed, warnings: ruleset.warnings })
}
