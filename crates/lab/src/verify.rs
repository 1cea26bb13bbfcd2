//! Kernel against model: the lab's probe verdicts compared with the engine's matrix for
//! the same pods, addresses and port.
use std::fmt;

use podwall_engine::Index;
use podwall_ir::{Cluster, Protocol};

use crate::Lab;

/// A pair on which the kernel and the model disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The protocol.
    pub protocol: Protocol,
    /// The destination port.
    pub port: u16,
    /// The source pod.
    pub from: String,
    /// The destination pod.
    pub to: String,
    /// What the model says.
    pub model: bool,
    /// What the kernel did.
    pub kernel: bool,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |a: bool| if a { "allowed" } else { "denied" };
        write!(
            f,
            "{}/{} {} -> {}: model {}, kernel {}",
            self.protocol,
            self.port,
            self.from,
            self.to,
            word(self.model),
            word(self.kernel)
        )
    }
}

/// The model's verdicts for the lab's pods: `result[i][j]` for lab pods i → j.
/// `cluster` must be the one the lab was planned from ([`crate::lab_cluster`]).
pub fn model(lab: &Lab, index: &Index, protocol: Protocol, port: u16) -> Vec<Vec<bool>> {
    let m = index.matrix(protocol, Some(port));
    lab.pods
        .iter()
        .map(|src| {
            let row = m.row(src.endpoint);
            lab.pods.iter().map(|dst| row[dst.endpoint]).collect()
        })
        .collect()
}

/// Whether a pair can be compared: both pods have addresses of one family. An IPv4 pod
/// and an IPv6 pod cannot open a connection in any kernel (the IR gives each endpoint
/// one address, so a dual-stack pod is not modelled), while the model, which decides
/// by policy, may allow the pair; such pairs are not compared.
pub fn comparable(lab: &Lab, i: usize, j: usize) -> bool {
    lab.pods[i].address.is_ipv4() == lab.pods[j].address.is_ipv4()
}

/// The pairs where `kernel` and the model differ, among the [`comparable`] ones.
pub fn compare(lab: &Lab, index: &Index, protocol: Protocol, port: u16, kernel: &[Vec<bool>]) -> Vec<Mismatch> {
    let want = model(lab, index, protocol, port);
    let mut out = Vec::new();
    for (i, src) in lab.pods.iter().enumerate() {
        for (j, dst) in lab.pods.iter().enumerate() {
            if comparable(lab, i, j) && want[i][j] != kernel[i][j] {
                out.push(Mismatch {
                    protocol,
                    port,
                    from: src.name.clone(),
                    to: dst.name.clone(),
                    model: want[i][j],
                    kernel: kernel[i][j],
                });
            }
        }
    }
    out
}

/// The ports the lab probes: every (protocol, port) a pod declares.
pub fn ports(cluster: &Cluster) -> Vec<(Protocol, u16)> {
    cluster.declared_ports()
}
