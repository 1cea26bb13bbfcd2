//! Loading the cluster and resolving names the user types.
use std::net::IpAddr;

use podwall_engine::Addr;
use podwall_ir::{Cluster, Protocol};

use crate::{Failure, InputArgs};

/// Loads and compiles the input, printing warnings and the skipped-object count to stderr.
pub fn load(args: &InputArgs) -> Result<Cluster, Failure> {
    let (cluster, skipped) = compile(&args.files)?;
    for w in &cluster.warnings {
        eprintln!("warning: {w}");
    }
    report_skipped(&skipped, args.verbose, "");
    Ok(cluster)
}

/// Objects passed over because podwall does not read their kind: kind → where each was.
pub type Skipped = std::collections::BTreeMap<String, Vec<podwall_ir::Source>>;

/// Loads and compiles files, folders or `-`, printing nothing.
pub fn compile(files: &[String]) -> Result<(Cluster, Skipped), Failure> {
    let input = podwall_load::load_paths(files)?;
    let cluster = podwall_dialects::compile(&input)?;
    Ok((cluster, input.skipped))
}

/// Prints the skipped objects (`verbose`) or their count; `what` names the input when
/// there are several (e.g. `"in the old state "`).
pub fn report_skipped(skipped: &Skipped, verbose: bool, what: &str) {
    let count: usize = skipped.values().map(Vec::len).sum();
    if count == 0 {
        return;
    }
    if verbose {
        for (kind, places) in skipped {
            for p in places {
                eprintln!("skipped: {p}: {kind} (podwall does not read this kind)");
            }
        }
    } else {
        eprintln!("note: skipped {count} object(s) {what}of kinds podwall does not read (--verbose names them)");
    }
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
