//! A one-machine lab for podwall's data plane: every pod of a cluster becomes a network
//! namespace with its address and a responder on each declared port, routed through a
//! "node" namespace that enforces the nftables ruleset `podwall-nftables` compiles. Probes
//! are real connections, so the kernel's verdicts can be compared with the model's.
//!
//! Everything a lab makes lives in its own namespaces (`pw.NAME.node`, `pw.NAME.N`) and in
//! `/run/podwall/labs/NAME`: the host's ruleset, links, routes and sysctls never change,
//! labs run side by side, and deleting the namespaces removes everything.
//!
//! Commands that change lab `NAME` hold its [`lock`] (`/run/podwall/labs/NAME.lock`), so
//! two of them on one name run one after the other; labs of different names share no
//! file, namespace or lock.
//!
//! `unsafe` is confined to [`netlink`], [`nf_tables`], [`netns`], the `flock` of [`lock`] and
//! the socket and process calls of [`serve`]; each use says why it is sound.
pub mod apply;
pub mod bench;
pub mod conntrack;
pub mod install;
pub mod lock;
pub mod netlink;
pub mod netns;
pub mod nf_tables;
pub mod probe;
pub mod serve;
pub mod topology;
pub mod traffic;
pub mod verify;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;

use podwall_ir::{Cluster, EndpointId, EndpointKind, Protocol};
use serde::{Deserialize, Serialize};

pub use apply::{apply, replan, Applied, Established};
pub use lock::{lock, Lock};
pub use probe::probe;

/// Where lab state (the pod list, the responder's pid) lives.
pub const STATE_DIR: &str = "/run/podwall/labs";
/// The nftables table the lab loads in its node namespace.
pub const TABLE: &str = "podwall";
/// Longest lab name: namespace names stay short and readable.
pub const MAX_NAME: usize = 24;
pub use topology::{GATEWAY4, GATEWAY6};

/// A lab failure: bad input or a system call that failed. Its message names the object.
#[derive(Debug)]
pub struct LabError(pub String);

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabError {}

fn err<T>(msg: impl Into<String>) -> Result<T, LabError> {
    Err(LabError(msg.into()))
}

fn ctx(what: impl FnOnce() -> String) -> impl FnOnce(io::Error) -> LabError {
    move |e| LabError(format!("{}: {e}", what()))
}

/// One pod of a lab.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pod {
    /// The endpoint's name (`NS/NAME`, or `NS/KIND/NAME` for a workload template).
    pub name: String,
    /// Its endpoint id in the cluster the lab was made from.
    pub endpoint: EndpointId,
    /// Its network namespace.
    pub netns: String,
    /// Its node-side interface.
    pub interface: String,
    /// Its address.
    pub address: IpAddr,
    /// Whether the address was allocated by the lab (the endpoint had none).
    pub allocated: bool,
    /// The ports its responder serves: (protocol number, port).
    pub ports: Vec<(u8, u16)>,
}

/// What a lab is: its name and pods. Saved as `/run/podwall/labs/NAME/state.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lab {
    /// The lab's name.
    pub name: String,
    /// Its node namespace.
    pub node: String,
    /// Its pods, in endpoint order.
    pub pods: Vec<Pod>,
}

/// Checks a lab name: 1 to [`MAX_NAME`] characters of `a-z`, `0-9` and `-`, starting with a
/// letter or digit. The dot that separates parts of namespace names cannot occur in it, so
/// no lab's namespaces are mistaken for another's.
pub fn check_name(name: &str) -> Result<(), LabError> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() || name.len() > MAX_NAME || !ok_chars || name.starts_with('-') {
        return err(format!(
            "lab name {name:?}: must be 1 to {MAX_NAME} characters of a-z, 0-9 and '-', not starting with '-'"
        ));
    }
    Ok(())
}

/// The prefix of every namespace of lab `name`.
pub fn netns_prefix(name: &str) -> String {
    format!("pw.{name}.")
}

/// The state folder of lab `name`.
pub fn state_dir(name: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(name)
}

/// Fails unless the process runs as root (namespaces, mounts and nftables need it).
pub fn require_root() -> Result<(), LabError> {
    // SAFETY: geteuid(2) has no failure mode.
    if unsafe { libc::geteuid() } != 0 {
        return err("the lab needs root: it creates network namespaces and loads nftables rules (run it with sudo)");
    }
    Ok(())
}

/// The first address of the range the lab allocates from for endpoints without one:
/// 198.18.0.0/15, the block RFC 2544 reserves for benchmarking, which no cluster routes.
const ALLOC_BASE: u32 = u32::from_be_bytes([198, 18, 0, 1]);
const ALLOC_SIZE: u32 = 1 << 17;

/// The cluster as the lab runs it: every endpoint that is no host-network pod gets an
/// address (its own, or one allocated from 198.18.0.0/15) and counts as one pod. The model
/// the lab is compared with is this cluster, so allocated addresses are seen by both sides.
pub fn lab_cluster(cluster: &Cluster) -> Result<(Cluster, Vec<bool>), LabError> {
    let mut c = cluster.clone();
    let mut taken: std::collections::HashMap<IpAddr, &str> = std::collections::HashMap::new();
    for e in cluster.endpoints.iter().filter(|e| !e.host_network) {
        if let Some(ip) = e.ip {
            if let Some(other) = taken.insert(ip, &e.name) {
                return err(format!(
                    "pods {other} and {} have the same address {ip}; a lab needs one address per pod",
                    e.name
                ));
            }
        }
    }
    let mut next = 0u32;
    let mut allocated = vec![false; c.endpoints.len()];
    for (i, e) in c.endpoints.iter_mut().enumerate() {
        if e.host_network || e.ip.is_some() {
            continue;
        }
        let ip = loop {
            if next >= ALLOC_SIZE {
                return err("the lab ran out of addresses in 198.18.0.0/15");
            }
            let ip = IpAddr::V4(Ipv4Addr::from(ALLOC_BASE + next));
            next += 1;
            if !taken.contains_key(&ip) {
                break ip;
            }
        };
        e.ip = Some(ip);
        // In the lab one namespace stands for the workload: a single pod.
        e.kind = EndpointKind::Pod;
        allocated[i] = true;
    }
    Ok((c, allocated))
}

/// Plans the lab: pods, names, addresses. Rejects what the lab cannot run.
pub fn plan(name: &str, cluster: &Cluster, allocated: &[bool]) -> Result<Lab, LabError> {
    check_name(name)?;
    let mut pods = Vec::new();
    let mut ifaces: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if e.host_network {
            continue;
        }
        let address = e.ip.expect("lab_cluster gave every endpoint an address");
        let interface = podwall_nftables::interface_name(&e.name);
        if let Some(other) = ifaces.insert(interface.clone(), &e.name) {
            return err(format!("pods {other} and {} map to one interface name {interface}", e.name));
        }
        let mut ports = Vec::new();
        for p in &e.ports {
            if p.protocol != Protocol::TCP && p.protocol != Protocol::UDP {
                return err(format!(
                    "pod {}: container port {}/{}: the lab's responder serves TCP and UDP only",
                    e.name, p.protocol, p.port
                ));
            }
            if !ports.contains(&(p.protocol.0, p.port)) {
                ports.push((p.protocol.0, p.port));
            }
        }
        pods.push(Pod {
            name: e.name.clone(),
            endpoint: i,
            netns: format!("{}{}", netns_prefix(name), pods.len()),
            interface,
            address,
            allocated: allocated[i],
            ports,
        });
    }
    if pods.len() > 60_000 {
        return err(format!("{} pods: the lab handles at most 60000", pods.len()));
    }
    Ok(Lab { name: name.into(), node: format!("{}node", netns_prefix(name)), pods })
}

/// Whether anything of lab `name` exists (namespaces or state).
pub fn exists(name: &str) -> bool {
    state_dir(name).exists() || !netns::list(&netns_prefix(name)).is_empty()
}

fn mac(side: u8, i: usize) -> netlink::Mac {
    let i = i as u32;
    [0x02, 0x70, 0x77, side, (i >> 8) as u8, i as u8]
}

/// The node-side link index of pod `i` (1 is the loopback).
fn node_index(i: usize) -> i32 {
    10 + i as i32
}

/// The pod side is `eth0`, index 2 in its namespace.
const POD_INDEX: i32 = 2;

/// Brings lab `lab` up: the node namespace with forwarding on, one namespace per pod
/// wired to it, and the ruleset compiled from `cluster` loaded in the node. On failure
/// everything made so far is removed. Responders are started separately ([`serve`]).
/// Returns what the compiler warns about (rules the kernel cannot enforce as written).
/// Holds the lab's [`lock`] throughout.
pub fn up(lab: &Lab, cluster: &Cluster, force: bool) -> Result<Vec<String>, LabError> {
    require_root()?;
    let _held = lock(&lab.name)?;
    if exists(&lab.name) {
        if !force {
            return err(format!(
                "lab {} exists; `lab down --name {}` removes it, --force replaces it",
                lab.name, lab.name
            ));
        }
        down(&lab.name)?;
    }
    let made = build(lab, cluster);
    if made.is_err() {
        let _ = down(&lab.name);
    }
    made
}

fn build(lab: &Lab, cluster: &Cluster) -> Result<Vec<String>, LabError> {
    let dir = state_dir(&lab.name);
    std::fs::create_dir_all(&dir).map_err(ctx(|| dir.display().to_string()))?;
    save(lab)?;
    let ruleset = compile(lab, cluster)?;

    let mut node = netns::create(&lab.node, || {
        let mut r = netlink::Rtnl::open()?;
        r.link_up(1)?;
        netns::sysctl("net.ipv4.ip_forward", "1")?;
        netns::sysctl("net.ipv6.conf.all.forwarding", "1")?;
        Ok(r)
    })
    .map_err(ctx(|| format!("lab {}: node namespace {}", lab.name, lab.node)))?;

    for (i, pod) in lab.pods.iter().enumerate() {
        let what = || format!("pod {} (namespace {}, {})", pod.name, pod.netns, pod.address);
        let mut inside = netns::create(&pod.netns, || {
            let r = netlink::Rtnl::open()?;
            // Probes to pods that do not listen must come back refused, not be lost to
            // ICMP rate limits; these sysctls are the pod namespace's own.
            let _ = netns::sysctl("net.ipv4.icmp_ratelimit", "0");
            let _ = netns::sysctl("net.ipv4.icmp_msgs_burst", "1000000");
            let _ = netns::sysctl("net.ipv4.icmp_msgs_per_sec", "1000000");
            let _ = netns::sysctl("net.ipv6.icmp.ratelimit", "0");
            Ok(r)
        })
        .map_err(ctx(what))?;
        let ns = netns::open(&pod.netns).map_err(ctx(what))?;
        use std::os::fd::AsRawFd;
        let veth = topology::Veth {
            host: &pod.interface,
            host_index: node_index(i),
            host_mac: mac(0, i),
            pod: "eth0",
            pod_index: POD_INDEX,
            pod_mac: mac(1, i),
            addresses: std::slice::from_ref(&pod.address),
            routes: &[],
        };
        topology::attach(&mut node, &mut inside, ns.as_raw_fd(), &veth)
            .map_err(ctx(|| format!("{}: veth {}", what(), pod.interface)))?;
    }
    load_ruleset(lab, &ruleset.render())?;
    save_installed(&lab.name, &ruleset.installed())?;
    Ok(ruleset.warnings)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a crash
/// leaves the old content or the new, never half of one.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), LabError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(ctx(|| tmp.display().to_string()))?;
    std::fs::rename(&tmp, path).map_err(ctx(|| path.display().to_string()))
}

/// Saves the lab's description (`state.json`).
pub fn save(lab: &Lab) -> Result<(), LabError> {
    let state = serde_json::to_vec_pretty(lab).expect("plain data serializes");
    write_atomically(&state_dir(&lab.name).join("state.json"), &state)
}

/// Saves what the node's table holds (`installed.json`): the next change is computed
/// against it, without reading the kernel back.
pub fn save_installed(name: &str, installed: &podwall_nftables::Installed) -> Result<(), LabError> {
    let text = serde_json::to_vec(installed).expect("plain data serializes");
    write_atomically(&state_dir(name).join("installed.json"), &text)
}

/// What lab `name`'s table holds, as last installed.
pub fn load_installed(name: &str) -> Result<podwall_nftables::Installed, LabError> {
    let p = state_dir(name).join("installed.json");
    let text = std::fs::read(&p).map_err(ctx(|| format!("lab {name}: {}", p.display())))?;
    serde_json::from_slice(&text).map_err(|e| LabError(format!("{}: {e}", p.display())))
}

/// Compiles the ruleset for the lab's pods.
pub fn compile(lab: &Lab, cluster: &Cluster) -> Result<podwall_nftables::Ruleset, LabError> {
    let attachments: Vec<podwall_nftables::Attachment> = lab
        .pods
        .iter()
        .map(|p| podwall_nftables::Attachment {
            endpoint: p.endpoint,
            interface: p.interface.clone(),
            addresses: vec![p.address],
        })
        .collect();
    install::compile(cluster, &attachments).map_err(|e| LabError(format!("lab {}: {e}", lab.name)))
}

/// The node namespace of `lab`, as an install target.
pub fn node(lab: &Lab) -> install::Node {
    install::Node::Named(lab.node.clone())
}

/// Runs `program` with `args` in the node namespace of `lab`, `input` on its standard
/// input.
pub(crate) fn run_in_node(lab: &Lab, program: &str, args: &[&str], input: &str) -> io::Result<std::process::Output> {
    node(lab).command(program, args, input)
}

/// Runs `nft` with `args` in the node namespace of `lab`, `input` on its standard input;
/// returns its standard output.
pub fn nft(lab: &Lab, args: &[&str], input: &str) -> Result<String, LabError> {
    node(lab).nft(args, input).map_err(|e| LabError(format!("lab {}: {e}", lab.name)))
}

/// Loads `ruleset` (a complete script) in the node namespace, in one transaction.
pub fn load_ruleset(lab: &Lab, ruleset: &str) -> Result<(), LabError> {
    nft(lab, &["-f", "-"], ruleset).map(|_| ())
}

/// The ruleset installed in the node namespace (`nft list table inet podwall`).
pub fn show(lab: &Lab) -> Result<String, LabError> {
    nft(lab, &["list", "table", "inet", TABLE], "")
}

/// Reads the state of lab `name`.
pub fn load(name: &str) -> Result<Lab, LabError> {
    check_name(name)?;
    let p = state_dir(name).join("state.json");
    let text = std::fs::read(&p).map_err(|e| {
        LabError(if e.kind() == io::ErrorKind::NotFound {
            format!("no lab {name} (nothing at {})", p.display())
        } else {
            format!("{}: {e}", p.display())
        })
    })?;
    serde_json::from_slice(&text).map_err(|e| LabError(format!("{}: {e}", p.display())))
}

/// Removes everything of lab `name`: its responder process, its namespaces (with their
/// links, routes, rules and conntrack state) and its state folder. Works from whatever a
/// crashed run left, since it finds the namespaces by name. Holds the lab's [`lock`]
/// throughout, so it waits for an `up` or `apply` of this name that is under way
/// (and for the responder such an `up` started to be ready), and deletes the lock file.
pub fn down(name: &str) -> Result<(), LabError> {
    check_name(name)?;
    require_root()?;
    let _held = lock(name)?;
    let dir = state_dir(name);
    serve::stop_process(name);
    for ns in netns::list(&netns_prefix(name)) {
        netns::remove(&ns).map_err(ctx(|| format!("lab {name}: namespace {ns}")))?;
    }
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LabError(format!("{}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// For tests that need root and `nft`: whether they can run here. Without either they
/// skip, saying so on standard error, unless `PODWALL_REQUIRE_PRIVILEGED_TESTS=1`, where
/// this panics so that the test fails.
pub fn privileged_test(test: &str) -> bool {
    let root = require_root().is_ok();
    let nft = Command::new("nft").arg("--version").output().is_ok_and(|o| o.status.success());
    if root && nft {
        return true;
    }
    let why = if root { "nft is not installed" } else { "not running as root" };
    if std::env::var("PODWALL_REQUIRE_PRIVILEGED_TESTS").as_deref() == Ok("1") {
        panic!("{test}: {why}, and PODWALL_REQUIRE_PRIVILEGED_TESTS=1 requires the privileged tests to run");
    }
    eprintln!("SKIPPED {test}: {why} (set PODWALL_REQUIRE_PRIVILEGED_TESTS=1 to make this a failure)");
    false
}
