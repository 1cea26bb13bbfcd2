//! The kernel side of an attachment: the routed veth of the lab's topology
//! ([`podwall_lab::topology`]) and the pod's entries in the node's nftables table (its
//! interface in `interfaces`, `interface . address` in `sources4`/`sources6`, which the
//! base chain's anti-spoofing rule reads), sent as nf_tables netlink batches.
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use podwall_lab::netlink::{Link, Mac, Rtnl};
use podwall_lab::nf_tables::{Batch, Socket};
use podwall_lab::{netns, topology};
use podwall_nftables::{Delta, Family, SetChange, SetKind};

use crate::error::{Error, INVALID_ENVIRONMENT, KERNEL_FAILURE};

/// A route socket inside the namespace at `path` (a netlink socket stays bound to the
/// namespace it was opened in).
pub fn rtnl_in(ns: &File) -> io::Result<Rtnl> {
    let ns = ns.try_clone()?;
    std::thread::spawn(move || {
        netns::enter(&ns)?;
        Rtnl::open()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Opens the container's namespace, refusing podwall's own (the runtime must run the
/// plugin in its own namespace and give the container's).
pub fn open_netns(path: &str) -> Result<File, Error> {
    let f = File::open(path).map_err(|e| Error::new(INVALID_ENVIRONMENT, format!("CNI_NETNS {path}: {e}")))?;
    let (theirs, ours) = (f.metadata(), std::fs::metadata("/proc/thread-self/ns/net"));
    if let (Ok(a), Ok(b)) = (theirs, ours) {
        if a.dev() == b.dev() && a.ino() == b.ino() {
            return Err(Error::new(INVALID_ENVIRONMENT, format!("CNI_NETNS {path} is the plugin's own namespace")));
        }
    }
    Ok(f)
}

/// A locally administered MAC derived from `seed`.
pub fn mac_of(seed: &str) -> Mac {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [0x02, b[1], b[2], b[3], b[4], b[5]]
}

/// A MAC as the result writes it.
pub fn mac_text(m: &Mac) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Wires the pod (see [`topology::attach`]) and turns on forwarding in the node.
pub fn wire(
    node: &mut Rtnl,
    pod: &mut Rtnl,
    pod_ns: &File,
    veth: &topology::Veth,
) -> Result<topology::Attached, Error> {
    let v4 = veth.addresses.iter().any(|a| a.is_ipv4());
    let v6 = veth.addresses.iter().any(|a| a.is_ipv6());
    let fwd =
        |k: &str| netns::sysctl(k, "1").map_err(|e| Error::new(KERNEL_FAILURE, format!("turning on forwarding: {e}")));
    if v4 && std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|s| s.trim() != "1").unwrap_or(true) {
        fwd("net.ipv4.ip_forward")?;
    }
    if v6 && std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding").map(|s| s.trim() != "1").unwrap_or(true)
    {
        fwd("net.ipv6.conf.all.forwarding")?;
    }
    topology::attach(node, pod, pod_ns.as_raw_fd(), veth)
        .map_err(|e| Error::new(KERNEL_FAILURE, format!("wiring {} (pod side {}): {e}", veth.host, veth.pod)))
}

/// Looks up a link, as a CNI error.
pub fn link(r: &mut Rtnl, name: &str, where_: &str) -> Result<Option<Link>, Error> {
    r.link(name).map_err(|e| Error::new(KERNEL_FAILURE, format!("looking up {name} in {where_}: {e}")))
}

fn elements(table: &str, host: &str, addrs: &[IpAddr], removed: bool) -> Vec<Delta> {
    let change = |set: &str, kind: SetKind, e: String| SetChange {
        set: set.into(),
        kind,
        interval: false,
        removed: if removed { vec![e.clone()] } else { vec![] },
        added: if removed { vec![] } else { vec![e] },
    };
    let mut changes = vec![change("interfaces", SetKind::Interfaces, format!("\"{host}\""))];
    for a in addrs {
        let (set, fam) = if a.is_ipv4() { ("sources4", Family::V4) } else { ("sources6", Family::V6) };
        changes.push(change(set, SetKind::Sources(fam), format!("\"{host}\" . {a}")));
    }
    let delta = |set_changes: Vec<SetChange>| Delta {
        table: table.into(),
        new_sets: vec![],
        new_chains: vec![],
        refilled_chains: vec![],
        set_changes,
        map_changes: vec![],
        removed_chains: vec![],
        removed_sets: vec![],
        kept_chains: 0,
    };
    if removed {
        // One batch per element: a missing element fails only its own batch, so a DEL
        // after a partial ADD still removes the rest.
        changes.into_iter().map(|c| delta(vec![c])).collect()
    } else {
        vec![delta(changes)]
    }
}

/// The table with its base chain and empty sets and maps, created only if it is missing
/// (`create table` fails the whole transaction when it exists, so a table another
/// process loaded is never touched).
fn create_table(table: &str) -> Result<(), Error> {
    let empty = podwall_ir::Cluster::default();
    let options = podwall_nftables::Options { table: table.into() };
    let ruleset = podwall_nftables::compile(&empty, &[], &options)
        .map_err(|e| Error::new(KERNEL_FAILURE, format!("compiling the empty table {table}: {e}")))?;
    let script = ruleset.render();
    // The rendered script replaces the table; keep only its definition.
    let body = script.split_once(&format!("table inet {table} {{")).map(|(_, b)| b).unwrap_or("");
    let script = format!("create table inet {table}\ntable inet {table} {{{body}");
    let out = nft(&["-f", "-"], &script)?;
    if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("File exists") {
        return Ok(());
    }
    Err(Error::new(
        KERNEL_FAILURE,
        format!("creating nftables table inet {table}: {}", String::from_utf8_lossy(&out.stderr).trim()),
    ))
}

fn nft(args: &[&str], input: &str) -> Result<std::process::Output, Error> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(KERNEL_FAILURE, format!("running nft: {e} (is nftables installed?)")))?;
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .map_err(|e| Error::new(KERNEL_FAILURE, format!("nft: {e}")))?;
    child.wait_with_output().map_err(|e| Error::new(KERNEL_FAILURE, format!("nft: {e}")))
}

fn send(sock: &mut Socket, d: &Delta) -> io::Result<()> {
    sock.send(&Batch::of(d)?)
}

/// Adds the pod's interface and `interface . address` pairs to the node's table, making
/// the table first if there is none.
pub fn register(table: &str, host: &str, addrs: &[IpAddr]) -> Result<(), Error> {
    let fail = |e: io::Error| Error::new(KERNEL_FAILURE, format!("adding {host} to nftables table inet {table}: {e}"));
    let mut sock = Socket::open().map_err(fail)?;
    let d = &elements(table, host, addrs, false)[0];
    match send(&mut sock, d) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            create_table(table)?;
            // A fresh socket: the failed batch may have left replies on the old one.
            let mut sock = Socket::open().map_err(fail)?;
            send(&mut sock, d).map_err(fail)
        }
        r => r.map_err(fail),
    }
}

/// Removes what [`register`] added; what is already gone is no error.
pub fn unregister(table: &str, host: &str, addrs: &[IpAddr]) -> Result<(), Error> {
    let fail =
        |e: io::Error| Error::new(KERNEL_FAILURE, format!("removing {host} from nftables table inet {table}: {e}"));
    for d in elements(table, host, addrs, true) {
        // A socket per batch: a refused one may leave replies behind.
        let mut sock = Socket::open().map_err(fail)?;
        match send(&mut sock, &d) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => r.map_err(fail)?,
        }
    }
    Ok(())
}

/// The elements [`register`] adds that the table lacks, as nft writes them.
pub fn missing_elements(table: &str, host: &str, addrs: &[IpAddr]) -> Result<Vec<String>, Error> {
    let mut missing = Vec::new();
    let mut want = vec![("interfaces", format!("\"{host}\""))];
    for a in addrs {
        want.push((if a.is_ipv4() { "sources4" } else { "sources6" }, format!("\"{host}\" . {a}")));
    }
    for (set, e) in want {
        let cmd = format!("get element inet {table} {set} {{ {e} }}");
        let out = nft(&["-f", "-"], &cmd)?;
        if !out.status.success() {
            missing.push(format!("{set} {{ {e} }}"));
        }
    }
    Ok(missing)
}
