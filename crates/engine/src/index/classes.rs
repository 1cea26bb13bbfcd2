//! Equivalence classes of endpoints.
use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use podwall_ir::{Cluster, NamedPort};

use super::Class;
use crate::Bits;

/// Every address range the policies and network sets mention.
pub(super) fn all_nets(cluster: &Cluster) -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = cluster.network_sets.iter().flat_map(|s| s.nets.iter().copied()).collect();
    for (_, p) in cluster.policies.policies() {
        nets.extend(policy_nets(p));
    }
    nets.sort();
    nets.dedup();
    nets
}

/// The address ranges one policy mentions.
pub(super) fn policy_nets(p: &podwall_ir::Policy) -> Vec<IpNet> {
    let mut nets = Vec::new();
    for rules in [&p.ingress, &p.egress].into_iter().flatten() {
        for r in rules {
            for peer in r.source.peers.iter().chain(&r.destination.peers) {
                nets.extend(peer.nets.iter().chain(&peer.not_nets).copied());
            }
        }
    }
    nets
}

/// Whether an address (unknown for templates) lies in a range, by the rule of
/// [`crate::eval::in_nets`].
pub(super) fn contains(net: &IpNet, ip: Option<IpAddr>) -> bool {
    crate::eval::in_nets(ip, std::slice::from_ref(net))
}

/// For each address, which of `nets` contain it: one hash lookup per prefix length.
struct NetLookup {
    by_len: Vec<(bool, u8, HashMap<IpNet, u32>)>,
    zero: Vec<u32>,
}

impl NetLookup {
    fn new(nets: &[IpNet]) -> Self {
        let mut by: HashMap<(bool, u8), HashMap<IpNet, u32>> = HashMap::new();
        let mut zero = Vec::new();
        for (i, n) in nets.iter().enumerate() {
            if n.prefix_len() == 0 {
                zero.push(i as u32);
            }
            by.entry((matches!(n, IpNet::V6(_)), n.prefix_len())).or_default().insert(*n, i as u32);
        }
        let mut by_len: Vec<_> = by.into_iter().map(|((v6, l), m)| (v6, l, m)).collect();
        by_len.sort_by_key(|(v6, l, _)| (*v6, *l));
        NetLookup { by_len, zero }
    }

    fn containing(&self, ip: Option<IpAddr>) -> Vec<u32> {
        let Some(ip) = ip else { return self.zero.clone() };
        let mut out = Vec::new();
        for (v6, len, map) in &self.by_len {
            if *v6 != ip.is_ipv6() {
                continue;
            }
            if let Ok(net) = IpNet::new(ip, *len) {
                if let Some(i) = map.get(&net.trunc()) {
                    out.push(*i);
                }
            }
        }
        out.sort_unstable();
        out
    }
}

type ClassKey<'a> = (&'a str, &'a podwall_ir::LabelMap, &'a [NamedPort], &'a str, bool, Option<bool>, Vec<u32>);

/// Groups endpoints into classes: same namespace, labels, ports, service account,
/// host-network flag, having an address or not, and the same answer to every range in `nets`. Returns the
/// classes, each endpoint's class, and per range the classes inside it.
pub(super) fn group(cluster: &Cluster, nets: &[IpNet]) -> (Vec<Class>, Vec<usize>, HashMap<IpNet, Bits>) {
    let lookup = NetLookup::new(nets);
    let mut classes: Vec<Class> = Vec::new();
    let mut class_of = Vec::with_capacity(cluster.endpoints.len());
    let mut sigs: Vec<Vec<u32>> = Vec::new();
    let mut by_key: HashMap<ClassKey<'_>, usize> = HashMap::new();
    for (id, ep) in cluster.endpoints.iter().enumerate() {
        let sig = lookup.containing(ep.ip);
        let key = (
            ep.namespace.as_str(),
            &ep.labels,
            ep.ports.as_slice(),
            ep.service_account.as_str(),
            ep.host_network,
            ep.ip.map(|ip| ip.is_ipv6()),
            sig,
        );
        let next = classes.len();
        let ci = *by_key.entry(key).or_insert(next);
        if ci == next {
            sigs.push(lookup.containing(ep.ip));
            classes.push(Class { members: vec![], ghost: None });
        }
        classes[ci].members.push(id);
        class_of.push(ci);
    }
    let n = classes.len();
    let mut net_bits: HashMap<IpNet, Bits> = nets.iter().map(|net| (*net, Bits::empty(n))).collect();
    for (ci, sig) in sigs.iter().enumerate() {
        for &i in sig {
            if let Some(b) = net_bits.get_mut(&nets[i as usize]) {
                b.insert(ci);
            }
        }
    }
    (classes, class_of, net_bits)
}
