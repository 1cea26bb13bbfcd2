//! Remote ends the reference evaluator judges alike, found with the index's sets.
use std::collections::HashMap;

use podwall_ir::{Direction, EndpointId, Protocol};

use super::walk::PortSet;
use super::{dir_index, Index};
use crate::Bits;

/// One rule applying at the local end, as it meets remote classes.
struct Meets<'a> {
    /// It can match no packet of this question, whoever the remote end is.
    never: bool,
    /// The remote classes its remote-side peers hold (`None`: any).
    peers: Option<&'a Bits>,
    /// Egress: the destination classes its ports accept (`None`: any).
    ports: Option<std::sync::Arc<Bits>>,
    /// The IP family it requires, if any.
    version: Option<podwall_ir::IpVersion>,
}

impl Index {
    /// Sorts `remotes` into sets that the reference evaluator judges alike in direction
    /// `dir` at endpoint `local`, on (protocol, port) at layer 4: for each remote, the
    /// number of its set (0, 1, … in order of first appearance). Remotes in one set get
    /// the same [`crate::DirectionVerdict`] — decision, applied policies, Log and Pass
    /// rules — from [`crate::evaluate_direction`], because every rule that applies at
    /// `local` matches either all of them or none: judging one judges them all.
    pub fn alike(
        &self,
        local: EndpointId,
        dir: Direction,
        protocol: Protocol,
        port: Option<u16>,
        remotes: &[EndpointId],
    ) -> Vec<usize> {
        if self.cluster.endpoints[local].host_network {
            // Not a policy endpoint: nothing is enforced, whoever the remote is.
            return vec![0; remotes.len()];
        }
        let lc = self.class_of[local];
        let d = dir_index(dir);
        let mut named = HashMap::new();
        let mut rules: Vec<Meets> = Vec::new();
        for (id, _, list) in self.applicable(lc, dir) {
            for (rule, sets) in list.iter().zip(&self.entry(id).sets[d]) {
                let (local_peers, remote_peers) = sets.local_remote(dir);
                // What does not depend on the remote end, as `eval::rule_matches` has it.
                let mut never = rule.source_ports
                    || rule.protocol.is_some_and(|p| p != protocol)
                    || rule.not_protocol == Some(protocol)
                    || rule.icmp.is_some()
                    || local_peers.as_ref().is_some_and(|b| !b.contains(lc));
                let ports = match (self.rule_ports(rule, protocol, port, &mut named), dir) {
                    (PortSet::Nothing, _) => {
                        never = true;
                        None
                    }
                    (PortSet::All, _) => None,
                    // Ports belong to the destination: on ingress, the local end.
                    (PortSet::Some(b), Direction::Ingress) => {
                        never |= !b.contains(lc);
                        None
                    }
                    (PortSet::Some(b), Direction::Egress) => Some(b),
                };
                rules.push(Meets { never, peers: remote_peers.as_deref(), ports, version: rule.ip_version });
            }
        }
        let versions = rules.iter().any(|r| r.version.is_some());
        let mut small: HashMap<u64, usize> = HashMap::new();
        let mut large: HashMap<Vec<u64>, usize> = HashMap::new();
        let mut key = vec![0u64; rules.len().div_ceil(64)];
        remotes
            .iter()
            .map(|&remote| {
                let rc = self.class_of[remote];
                let version = versions.then(|| {
                    let (s, d) = match dir {
                        Direction::Ingress => (remote, local),
                        Direction::Egress => (local, remote),
                    };
                    let pkt = crate::Packet::new(crate::Addr::Endpoint(s), crate::Addr::Endpoint(d), protocol, 0);
                    pkt.ip_version(&self.cluster)
                });
                key.iter_mut().for_each(|w| *w = 0);
                for (k, r) in rules.iter().enumerate() {
                    let hit = !r.never
                        && r.peers.is_none_or(|b| b.contains(rc))
                        && r.ports.as_ref().is_none_or(|b| b.contains(rc))
                        && r.version.is_none_or(|v| Some(v) == version);
                    key[k / 64] |= (hit as u64) << (k % 64);
                }
                if key.len() <= 1 {
                    let next = small.len();
                    *small.entry(key.first().copied().unwrap_or(0)).or_insert(next)
                } else {
                    let next = large.len();
                    *large.entry(key.clone()).or_insert(next)
                }
            })
            .collect()
    }
}
