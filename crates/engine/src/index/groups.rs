//! Reachability summarised for pictures: the port ranges on which every matrix is the
//! same, and allowed pair counts between groups of endpoints, computed per pair of
//! distinct walks, never per endpoint pair.
use std::collections::{BTreeSet, HashMap};

use podwall_ir::{Ports, Protocol};

use super::Index;
use super::Matrix;

/// Destination ports `lo..=hi` of one protocol: every port of the range gets the same
/// matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// TCP, UDP or SCTP.
    pub protocol: Protocol,
    /// First port.
    pub lo: u16,
    /// Last port (inclusive).
    pub hi: u16,
}

/// The protocols whose ports Kubernetes policies name.
pub const PORT_PROTOCOLS: [Protocol; 3] = [Protocol::TCP, Protocol::UDP, Protocol::SCTP];

impl Index {
    /// Ports 1–65535 of TCP, UDP and SCTP cut into ranges on which every matrix is the
    /// same, in protocol then port order. A matrix depends on the port only through the
    /// port ranges rules name (`ports` and `notPorts`, on either side) and, for named
    /// ports, the ports endpoints declare; the cuts are exactly there.
    pub fn port_ranges(&self) -> Vec<PortRange> {
        let cluster = &self.cluster;
        let mut cuts: HashMap<Protocol, BTreeSet<u32>> = PORT_PROTOCOLS.iter().map(|&p| (p, BTreeSet::new())).collect();
        let mut cut = |protocol: Option<Protocol>, lo: u32, hi: u32| {
            for p in PORT_PROTOCOLS {
                if protocol.is_none_or(|q| q == p) {
                    let set = cuts.get_mut(&p).expect("every port protocol has a set");
                    set.insert(lo);
                    set.insert(hi + 1);
                }
            }
        };
        for (_, policy) in cluster.policies.policies() {
            let rules = policy.ingress.iter().chain(policy.egress.iter()).flatten();
            for rule in rules {
                let entities = [&rule.source, &rule.destination];
                for pm in entities.iter().flat_map(|e| e.ports.iter().chain(e.not_ports.iter())) {
                    if let Ports::Range(lo, hi) = pm.ports {
                        cut(pm.protocol, lo.into(), hi.into());
                    }
                }
            }
        }
        for (protocol, port) in cluster.declared_ports() {
            cut(Some(protocol), port.into(), port.into());
        }
        let mut out = Vec::new();
        for p in PORT_PROTOCOLS {
            let mut lo = 1u32;
            for &c in cuts[&p].iter().filter(|&&c| c > 1 && c <= 65535) {
                out.push(PortRange { protocol: p, lo: lo as u16, hi: (c - 1) as u16 });
                lo = c;
            }
            out.push(PortRange { protocol: p, lo: lo as u16, hi: 65535 });
        }
        out
    }
}

impl Matrix<'_> {
    /// For a grouping of endpoints on each side (`src_group[e]`, `dst_group[e]`, `None`
    /// to leave an endpoint out): per pair (source group, destination group), how many
    /// pairs of two distinct endpoints are allowed. Group pairs with none are absent.
    /// An endpoint's traffic to itself is not counted.
    pub fn between(&self, src_group: &[Option<u32>], dst_group: &[Option<u32>]) -> HashMap<(u32, u32), u64> {
        let index = self.index;
        let (ingress, egress) = (&self.view.sides[0], &self.view.sides[1]);
        let k = index.classes.len();
        // Per class: its members' groups, with their weights.
        let weigh = |groups: &[Option<u32>]| -> Vec<Vec<(u32, u64)>> {
            index
                .classes
                .iter()
                .map(|c| {
                    let mut w: Vec<(u32, u64)> = Vec::new();
                    for &m in &c.members {
                        let Some(g) = groups[m] else { continue };
                        match w.iter_mut().find(|(h, _)| *h == g) {
                            Some((_, n)) => *n += 1,
                            None => w.push((g, 1)),
                        }
                    }
                    w
                })
                .collect()
        };
        let (src_w, dst_w) = (weigh(src_group), weigh(dst_group));
        // Classes by their egress walk and by their ingress walk.
        let mut by_egress: Vec<Vec<usize>> = vec![Vec::new(); egress.walks.len()];
        let mut by_ingress: Vec<Vec<usize>> = vec![Vec::new(); ingress.walks.len()];
        for c in 0..k {
            by_egress[egress.of_class[c] as usize].push(c);
            by_ingress[ingress.of_class[c] as usize].push(c);
        }
        let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
        let add = |into: &mut HashMap<u32, u64>, w: &[(u32, u64)]| {
            for &(g, n) in w {
                *into.entry(g).or_default() += n;
            }
        };
        // Class pair (s, d) is allowed when egress walk a = walk(s) holds d and ingress
        // walk b = walk(d) holds s; for each (a, b) every such s and d pair up.
        for (a, sources) in by_egress.iter().enumerate() {
            for (b, dests) in by_ingress.iter().enumerate() {
                let mut from: HashMap<u32, u64> = HashMap::new();
                for &s in sources.iter().filter(|&&s| ingress.walks[b].contains(s)) {
                    add(&mut from, &src_w[s]);
                }
                if from.is_empty() {
                    continue;
                }
                let mut to: HashMap<u32, u64> = HashMap::new();
                for &d in dests.iter().filter(|&&d| egress.walks[a].contains(d)) {
                    add(&mut to, &dst_w[d]);
                }
                for (&g, &x) in &from {
                    for (&h, &y) in &to {
                        *counts.entry((g, h)).or_default() += x * y;
                    }
                }
            }
        }
        // Take out each endpoint paired with itself.
        for c in (0..k).filter(|&c| self.view.allowed(c, c)) {
            for &m in &index.classes[c].members {
                if let (Some(g), Some(h)) = (src_group[m], dst_group[m]) {
                    let n = counts.get_mut(&(g, h)).expect("an allowed class pair was counted");
                    *n -= 1;
                    if *n == 0 {
                        counts.remove(&(g, h));
                    }
                }
            }
        }
        counts
    }
}
