//! Loading the cluster and resolving names the user types.
use std::net::IpAddr;

use podwall_engine::Addr;
use podwall_ir::{Cluster, Protocol};

use crate::{Failure, InputArgs};

/// Loads and compiles the input, printing warnings and the skipped-object count to stderr.
pub fn load(args: &InputArgs) -> Result<Cluster, Failure> {
    let input = podwall_load::load_paths(&args.files)?;
    let cluster = podwall_dialects::compile(&input)?;
    for w in &cluster.warnings {
        eprintln!("warning: {w}");
    }
    let skipped = input.skipped_count();
    if skipped > 0 {
        if args.verbose {
            for (kind, places) in &input.skipped {
                for p in places {
                    eprintln!("skipped: {p}: {kind} (podwall does not read this kind)");
                }
            }
        } else {
            eprintln!("note: skipped {skipped} object(s) of kinds podwall does not read (--verbose names them)");
        }
    }
    Ok(cluster)
}

/// Resolves `NS/NAME`, `NS/KIND/NAME`, `NAME` (in `default`) or an IP address. An IP
/// that is a pod's address means that pod.
pub fn resolve(cluster: &Cluster, what: &str) -> Result<Addr, Failure> {
    if let Ok(ip) = what.parse::<IpAddr>() {
        return Ok(cluster.endpoint_by_ip(ip).map(Addr::Endpoint).unwrap_or(Addr::Ip(ip)));
    }
    let name = if what.contains('/') { what.to_string() } else { format!("default/{what}") };
    if let Some(id) = cluster.endpoint(&name) {
        return Ok(Addr::Endpoint(id));
    }
    let ns = name.split('/').next().unwrap_or_default();
    let near: Vec<&str> =
        cluster.endpoints.iter().filter(|e| e.namespace == ns).map(|e| e.name.as_str()).take(8).collect();
    let hint = if near.is_empty() {
        format!("namespace {ns:?} has no pods in the input")
    } else {
        format!("pods in {ns}: {}", near.join(", "))
    };
    Err(Failure(format!("no pod or workload named {what:?} ({hint})")))
}

/// Parses a protocol flag.
pub fn protocol(s: &str) -> Result<Protocol, Failure> {
    Protocol::parse(s)
        .ok_or_else(|| Failure(format!("unknown protocol {s:?} (expected TCP, UDP, SCTP, ICMP or a number)")))
}
