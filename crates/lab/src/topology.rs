//! The routed-veth topology (Calico's): a pod is a network namespace joined to its node
//! by a veth pair. The pod holds its addresses as host addresses (/32, /128) and reaches
//! everything through a link-local gateway (169.254.1.1, fe80::1) whose neighbour entry
//! is pinned to the node side's MAC; the node routes each pod address to its veth. No
//! bridge, no ARP proxying, no address on the node side. The lab and the CNI plugin
//! both wire pods with [`attach`].
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

use crate::netlink::{Mac, Rtnl};

/// The pods' IPv4 gateway.
pub const GATEWAY4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// The pods' IPv6 gateway.
pub const GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// The gateway a pod uses for `ip`'s family.
pub fn gateway_for(ip: &IpAddr) -> IpAddr {
    if ip.is_ipv4() {
        IpAddr::V4(GATEWAY4)
    } else {
        IpAddr::V6(GATEWAY6)
    }
}

/// One pod's wiring.
#[derive(Clone, Debug)]
pub struct Veth<'a> {
    /// The node-side name.
    pub host: &'a str,
    /// The node-side index; 0 lets the kernel choose.
    pub host_index: i32,
    /// The node-side MAC.
    pub host_mac: Mac,
    /// The pod-side name (`eth0`).
    pub pod: &'a str,
    /// The pod-side index; 0 lets the kernel choose.
    pub pod_index: i32,
    /// The pod-side MAC.
    pub pod_mac: Mac,
    /// The pod's addresses.
    pub addresses: &'a [IpAddr],
    /// Routes in the pod, through the gateway of their family: (destination, prefix
    /// length); prefix 0 is the default route. Empty: a default route per family.
    pub routes: &'a [(IpAddr, u8)],
}

/// The indexes the two ends got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The node side's index.
    pub host_index: i32,
    /// The pod side's index.
    pub pod_index: i32,
}

fn index_of(r: &mut Rtnl, name: &str, given: i32) -> io::Result<i32> {
    if given != 0 {
        return Ok(given);
    }
    r.link(name)?.map(|l| l.index).ok_or_else(|| io::Error::other(format!("link {name} vanished after it was made")))
}

/// Wires one pod: the veth pair (`node` is a route socket of the node's namespace,
/// `pod` one of the pod's, `pod_ns` the pod's namespace open), both ends up, the pod's
/// addresses, gateway neighbour and routes, the node's host routes and neighbour entries.
/// On error, what was made is left for the caller to remove (deleting the node side
/// removes all of it).
pub fn attach(node: &mut Rtnl, pod: &mut Rtnl, pod_ns: RawFd, v: &Veth) -> io::Result<Attached> {
    node.add_veth(v.host, v.host_index, v.host_mac, v.pod, v.pod_index, v.pod_mac, pod_ns)?;
    let host_index = index_of(node, v.host, v.host_index)?;
    let pod_index = index_of(pod, v.pod, v.pod_index)?;
    node.link_up(host_index)?;
    pod.link_up(1)?;
    pod.link_up(pod_index)?;
    let mut families = Vec::new();
    for a in v.addresses {
        pod.add_address(pod_index, *a)?;
        if !families.contains(&a.is_ipv4()) {
            families.push(a.is_ipv4());
            let gw = gateway_for(a);
            pod.add_neighbour(pod_index, gw, v.host_mac)?;
            if a.is_ipv4() {
                pod.add_route(pod_index, Some(gw), None)?;
            }
        }
        node.add_route(host_index, Some(*a), None)?;
        node.add_neighbour(host_index, *a, v.pod_mac)?;
    }
    if v.routes.is_empty() {
        for a in
            v.addresses.iter().filter(|a| a.is_ipv4()).take(1).chain(v.addresses.iter().filter(|a| a.is_ipv6()).take(1))
        {
            pod.add_route(pod_index, None, Some(gateway_for(a)))?;
        }
    }
    for (dst, len) in v.routes {
        if !families.contains(&dst.is_ipv4()) {
            continue;
        }
        let to = (*len > 0).then_some((*dst, *len));
        pod.add_prefix_route(pod_index, to, Some(gateway_for(dst)))?;
    }
    Ok(Attached { host_index, pod_index })
}
