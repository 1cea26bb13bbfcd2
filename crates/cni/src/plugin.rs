//! The commands: ADD, DEL, CHECK, STATUS, GC (section 2), each as the specification
//! has the plugin behave.
use std::collections::HashSet;
use std::net::IpAddr;

use podwall_lab::topology;

use crate::config::{HostLocal, NetConf, BUILTIN_IPAM};
use crate::error::{
    Error, CHECK_FAILED, INTERFACE_EXISTS, INVALID_CONFIG, IO_FAILURE, KERNEL_FAILURE, NOT_AVAILABLE, UNKNOWN_CONTAINER,
};
use crate::ipam::Pool;
use crate::types::{Attachment, Interface, IpConfig, Route, Success};
use crate::{delegate, net, state, Env};

/// Where the addresses come from.
enum Ipam {
    /// podwall's own host-local allocator.
    Builtin(Pool),
    /// A plugin from CNI_PATH.
    Delegated(String),
}

fn ipam(conf: &NetConf) -> Result<Ipam, Error> {
    match conf.ipam_type.as_deref() {
        None => Err(Error::new(INVALID_CONFIG, "ipam: missing; podwall needs addresses (`\"ipam\": {\"type\": \"podwall\", \"ranges\": ...}` or a delegated plugin such as host-local)")),
        Some(BUILTIN_IPAM) => Ok(Ipam::Builtin(Pool::new(&conf.name, &HostLocal::of(conf)?)?)),
        Some(t) => Ok(Ipam::Delegated(t.to_string())),
    }
}

/// The endpoint name the node side is named after: `NAMESPACE/POD` from the runtime's
/// `K8S_POD_NAMESPACE` and `K8S_POD_NAME` arguments (so that the agent finds a pod's
/// interface by the pod's name, as `podwall_nftables::interface_name` does), else the
/// container id; `/IFNAME` is added for interfaces other than `eth0`.
pub fn endpoint_name(env: &Env) -> String {
    let arg = |k: &str| {
        env.args.split(';').find_map(|kv| kv.split_once('=').filter(|(key, _)| *key == k).map(|(_, v)| v.to_string()))
    };
    let base = match (arg("K8S_POD_NAMESPACE"), arg("K8S_POD_NAME")) {
        (Some(ns), Some(pod)) if !ns.is_empty() && !pod.is_empty() => format!("{ns}/{pod}"),
        _ => env.container_id.clone(),
    };
    if env.ifname == "eth0" {
        base
    } else {
        format!("{base}/{}", env.ifname)
    }
}

fn allocate(ipam: &Ipam, conf: &NetConf, env: &Env) -> Result<Success, Error> {
    match ipam {
        Ipam::Builtin(pool) => pool.allocate(&env.container_id, &env.ifname),
        Ipam::Delegated(t) => delegate::run(env, t, "ADD", &conf.raw)?
            .filter(|r| !r.ips.is_empty())
            .ok_or_else(|| Error::new(crate::error::DELEGATE_FAILED, format!("{t} ADD returned no addresses"))),
    }
}

fn release(ipam: &Ipam, conf: &NetConf, env: &Env) -> Result<(), Error> {
    match ipam {
        Ipam::Builtin(pool) => pool.release(&env.container_id, &env.ifname).map(|_| ()),
        Ipam::Delegated(t) => delegate::run(env, t, "DEL", &conf.raw).map(|_| ()),
    }
}

fn parse_cidr(s: &str) -> Result<(IpAddr, u8), Error> {
    let net: ipnet::IpNet =
        s.parse().map_err(|_| Error::new(INVALID_CONFIG, format!("{s:?}: not an address with a prefix length")))?;
    Ok((net.addr(), net.prefix_len()))
}

/// ADD: a veth into the container as `CNI_IFNAME`, its addresses from IPAM, routes
/// through the node, the pod registered in the node's table. All or nothing: a failure
/// undoes every step made so far, IPAM included.
pub fn add(conf: &NetConf, env: &Env) -> Result<Success, Error> {
    let ipam = ipam(conf)?;
    let pod_ns = net::open_netns(&env.netns)?;
    let mut pod =
        net::rtnl_in(&pod_ns).map_err(|e| Error::new(KERNEL_FAILURE, format!("CNI_NETNS {}: {e}", env.netns)))?;
    if net::link(&mut pod, &env.ifname, &env.netns)?.is_some() {
        return Err(Error::new(INTERFACE_EXISTS, format!("interface {} already exists in {}", env.ifname, env.netns))
            .details("the runtime must not ADD an interface name twice; DEL the old attachment first"));
    }
    let mut node =
        podwall_lab::netlink::Rtnl::open().map_err(|e| Error::new(KERNEL_FAILURE, format!("route socket: {e}")))?;
    let host = podwall_nftables::interface_name(&endpoint_name(env));
    if net::link(&mut node, &host, "the node")?.is_some() {
        return Err(Error::new(
            INTERFACE_EXISTS,
            format!("node-side interface {host} (of {}) already exists", endpoint_name(env)),
        )
        .details("another attachment of the same pod is still there; DEL it first"));
    }
    let ipam_result = allocate(&ipam, conf, env)?;
    let made = (|| -> Result<Success, Error> {
        let addresses: Vec<(IpAddr, u8)> =
            ipam_result.ips.iter().map(|ip| parse_cidr(&ip.address)).collect::<Result<_, _>>()?;
        let ips: Vec<IpAddr> = addresses.iter().map(|a| a.0).collect();
        state::save(
            &conf.state_dir,
            &conf.name,
            &state::Record {
                container_id: env.container_id.clone(),
                ifname: env.ifname.clone(),
                netns: env.netns.clone(),
                host: host.clone(),
                addresses: ips.clone(),
            },
        )?;
        let routes: Vec<(IpAddr, u8)> =
            ipam_result.routes.iter().map(|r| parse_cidr(&r.dst)).collect::<Result<_, _>>()?;
        let seed = format!("{}/{}", env.container_id, env.ifname);
        let (host_mac, pod_mac) = (net::mac_of(&format!("{seed}/host")), net::mac_of(&format!("{seed}/pod")));
        let veth = topology::Veth {
            host: &host,
            host_index: 0,
            host_mac,
            pod: &env.ifname,
            pod_index: 0,
            pod_mac,
            addresses: &ips,
            routes: &routes,
        };
        net::wire(&mut node, &mut pod, &pod_ns, &veth)?;
        net::register(&conf.table, &host, &ips)?;
        Ok(result(conf, env, &host, host_mac, pod_mac, &ipam_result, &addresses, &routes))
    })();
    match made {
        Ok(r) => Ok(r),
        Err(e) => {
            let _ = node.delete_link(&host);
            let _ = net::unregister(
                &conf.table,
                &host,
                &ipam_result.ips.iter().filter_map(|i| parse_cidr(&i.address).ok()).map(|a| a.0).collect::<Vec<_>>(),
            );
            let _ = release(&ipam, conf, env);
            let _ = state::remove(&conf.state_dir, &conf.name, &env.container_id, &env.ifname);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn result(
    conf: &NetConf,
    env: &Env,
    host: &str,
    host_mac: podwall_lab::netlink::Mac,
    pod_mac: podwall_lab::netlink::Mac,
    ipam: &Success,
    addresses: &[(IpAddr, u8)],
    routes: &[(IpAddr, u8)],
) -> Success {
    // A chained ADD passes the previous result on with this plugin's additions.
    let mut r = conf.prev_result.clone().unwrap_or_default();
    let base = r.interfaces.len();
    r.interfaces.push(Interface {
        name: host.to_string(),
        mac: net::mac_text(&host_mac),
        mtu: None,
        sandbox: String::new(),
    });
    r.interfaces.push(Interface {
        name: env.ifname.clone(),
        mac: net::mac_text(&pod_mac),
        mtu: None,
        sandbox: env.netns.clone(),
    });
    // The pod holds each address as a host address; the IPAM's prefix is the pool's.
    for (ip, _) in addresses {
        let full = if ip.is_ipv4() { 32 } else { 128 };
        r.ips.push(IpConfig {
            version: None,
            address: format!("{ip}/{full}"),
            gateway: Some(topology::gateway_for(ip).to_string()),
            interface: Some(base + 1),
        });
    }
    let mut made: Vec<Route> = Vec::new();
    if routes.is_empty() {
        let mut fams = Vec::new();
        for (ip, _) in addresses {
            if !fams.contains(&ip.is_ipv4()) {
                fams.push(ip.is_ipv4());
                let dst = if ip.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
                made.push(Route {
                    dst: dst.into(),
                    gw: Some(topology::gateway_for(ip).to_string()),
                    rest: Default::default(),
                });
            }
        }
    } else {
        for (dst, len) in routes.iter().filter(|(d, _)| addresses.iter().any(|(a, _)| a.is_ipv4() == d.is_ipv4())) {
            made.push(Route {
                dst: format!("{dst}/{len}"),
                gw: Some(topology::gateway_for(dst).to_string()),
                rest: Default::default(),
            });
        }
    }
    r.routes.extend(made);
    if r.dns.is_empty() {
        r.dns = if ipam.dns.is_empty() { conf.dns.clone() } else { ipam.dns.clone() };
    }
    r
}

/// DEL: removes whatever of the attachment exists (node side and with it the pod side,
/// table entries, addresses, record); a container podwall does not know, or a second
/// DEL, succeeds.
pub fn del(conf: &NetConf, env: &Env) -> Result<(), Error> {
    let ipam = ipam(conf)?;
    let record = state::load(&conf.state_dir, &conf.name, &env.container_id, &env.ifname)?;
    let mut errors = Vec::new();
    if let Some(r) = &record {
        let mut node =
            podwall_lab::netlink::Rtnl::open().map_err(|e| Error::new(KERNEL_FAILURE, format!("route socket: {e}")))?;
        if let Err(e) = node.delete_link(&r.host) {
            errors.push(format!("deleting {}: {e}", r.host));
        }
        if let Err(e) = net::unregister(&conf.table, &r.host, &r.addresses) {
            errors.push(e.msg);
        }
    }
    if let Err(e) = release(&ipam, conf, env) {
        errors.push(e.msg);
    }
    if !errors.is_empty() {
        return Err(Error::new(
            KERNEL_FAILURE,
            format!("DEL of {}/{}: {}", env.container_id, env.ifname, errors.join("; ")),
        ));
    }
    state::remove(&conf.state_dir, &conf.name, &env.container_id, &env.ifname)
}

/// CHECK: the attachment is as ADD left it: the record, both veth ends joined, the
/// addresses of `prevResult` on the pod side, the table entries, the IPAM reservation.
pub fn check(conf: &NetConf, env: &Env) -> Result<(), Error> {
    let ipam = ipam(conf)?;
    let prev = conf
        .prev_result
        .as_ref()
        .ok_or_else(|| Error::new(INVALID_CONFIG, "CHECK needs prevResult: the result of the ADD"))?;
    let r = state::load(&conf.state_dir, &conf.name, &env.container_id, &env.ifname)?.ok_or_else(|| {
        Error::new(
            UNKNOWN_CONTAINER,
            format!("no attachment {}/{} in network {}", env.container_id, env.ifname, conf.name),
        )
    })?;
    let fail = |m: String| Err(Error::new(CHECK_FAILED, m));
    let pod_ns = net::open_netns(&env.netns)?;
    let mut pod =
        net::rtnl_in(&pod_ns).map_err(|e| Error::new(KERNEL_FAILURE, format!("CNI_NETNS {}: {e}", env.netns)))?;
    let mut node =
        podwall_lab::netlink::Rtnl::open().map_err(|e| Error::new(KERNEL_FAILURE, format!("route socket: {e}")))?;
    let Some(host) = net::link(&mut node, &r.host, "the node")? else {
        return fail(format!("node-side interface {} is missing", r.host));
    };
    let Some(inside) = net::link(&mut pod, &env.ifname, &env.netns)? else {
        return fail(format!("interface {} is missing in {}", env.ifname, env.netns));
    };
    if inside.peer != Some(host.index) {
        return fail(format!("{} in {} is not the peer of {}", env.ifname, env.netns, r.host));
    }
    let Some(pos) = prev.interfaces.iter().position(|i| i.name == env.ifname && i.sandbox == env.netns) else {
        return fail(format!("prevResult lists no interface {} in {}", env.ifname, env.netns));
    };
    let held = pod
        .addresses(inside.index)
        .map_err(|e| Error::new(KERNEL_FAILURE, format!("addresses of {}: {e}", env.ifname)))?;
    for ip in prev.ips.iter().filter(|ip| ip.interface == Some(pos)) {
        let (a, len) = parse_cidr(&ip.address)?;
        if !held.contains(&(a, len)) {
            return fail(format!("address {} is missing on {} in {}", ip.address, env.ifname, env.netns));
        }
    }
    let missing = net::missing_elements(&conf.table, &r.host, &r.addresses)?;
    if !missing.is_empty() {
        return fail(format!("nftables table inet {} lacks {}", conf.table, missing.join(", ")));
    }
    match &ipam {
        Ipam::Builtin(pool) => {
            let held = pool.held(&env.container_id, &env.ifname)?;
            if let Some(a) = r.addresses.iter().find(|a| !held.contains(a)) {
                return fail(format!(
                    "address {a} is not reserved for {}/{} in {}",
                    env.container_id,
                    env.ifname,
                    pool.dir.display()
                ));
            }
        }
        Ipam::Delegated(t) => {
            delegate::run(env, t, "CHECK", &conf.raw)?;
        }
    }
    Ok(())
}

/// STATUS: ready when the IPAM can hand out an address (podwall's own: its folder can
/// be locked and no range set is full; a delegated one: its own STATUS).
pub fn status(conf: &NetConf, env: &Env) -> Result<(), Error> {
    match ipam(conf)? {
        Ipam::Builtin(pool) => {
            let _lock =
                pool.lock().map_err(|e| Error::new(NOT_AVAILABLE, format!("IPAM folder unusable: {}", e.msg)))?;
            if let Some(i) = pool.exhausted() {
                return Err(Error::new(
                    NOT_AVAILABLE,
                    format!("range set {i} has no free address: no ADD can succeed"),
                ));
            }
            Ok(())
        }
        Ipam::Delegated(t) => delegate::run(env, &t, "STATUS", &conf.raw).map(|_| ()),
    }
}

/// GC: removes every attachment not in `cni.dev/valid-attachments` (node side, table
/// entries, record, IPAM reservation), going on past errors and reporting them all; a
/// delegated IPAM gets the GC too.
pub fn gc(conf: &NetConf, env: &Env) -> Result<(), Error> {
    let ipam = ipam(conf)?;
    let valid: HashSet<Attachment> = conf
        .valid_attachments
        .clone()
        .ok_or_else(|| Error::new(INVALID_CONFIG, "GC needs cni.dev/valid-attachments"))?
        .into_iter()
        .collect();
    let mut errors = Vec::new();
    let mut node =
        podwall_lab::netlink::Rtnl::open().map_err(|e| Error::new(KERNEL_FAILURE, format!("route socket: {e}")))?;
    for r in state::all(&conf.state_dir, &conf.name) {
        if valid.contains(&Attachment { container_id: r.container_id.clone(), ifname: r.ifname.clone() }) {
            continue;
        }
        if let Err(e) = node.delete_link(&r.host) {
            errors.push(format!("deleting {}: {e}", r.host));
        }
        if let Err(e) = net::unregister(&conf.table, &r.host, &r.addresses) {
            errors.push(e.msg);
        }
        if let Err(e) = state::remove(&conf.state_dir, &conf.name, &r.container_id, &r.ifname) {
            errors.push(e.msg);
        }
    }
    match &ipam {
        Ipam::Builtin(pool) => {
            if let Err(e) = pool.collect(&valid) {
                errors.push(e.msg);
            }
        }
        Ipam::Delegated(t) => {
            if let Err(e) = delegate::run(env, t, "GC", &conf.raw) {
                errors.push(e.msg);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::new(IO_FAILURE, format!("GC of network {}: {}", conf.name, errors.join("; "))))
    }
}
