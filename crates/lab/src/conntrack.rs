//! Established connections after a policy change: the node's conntrack entries read and,
//! when asked, the ones the new policies deny deleted, so that their next packet is
//! judged again (and dropped) instead of passing as established.
//!
//! The ruleset accepts `ct state established,related` first, as every conntrack-based
//! enforcer does; without a flush, a connection opened while it was allowed stays open
//! after a change denies it, until it ends (TCP) or its entry times out (UDP: 30 s, or
//! 120 s once it saw replies).
use std::net::IpAddr;

use podwall_engine::Index;
use podwall_ir::Protocol;

use crate::{run_in_node, Lab, LabError};

/// One conntrack entry's original direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The protocol number.
    pub protocol: u8,
    /// Who opened it.
    pub src: IpAddr,
    /// To whom.
    pub dst: IpAddr,
    /// Its source port (0 for protocols without ports).
    pub sport: u16,
    /// Its destination port (0 for protocols without ports).
    pub dport: u16,
}

/// Reads one line of `conntrack -L`: `tcp 6 431999 ESTABLISHED src=… dst=… sport=…
/// dport=… src=… …` (the first `src`/`dst`/ports are the original direction).
pub fn parse_line(line: &str) -> Option<Flow> {
    let mut words = line.split_whitespace();
    let _name = words.next()?;
    let protocol: u8 = words.next()?.parse().ok()?;
    let (mut src, mut dst, mut sport, mut dport) = (None, None, None, None);
    for w in words {
        let Some((k, v)) = w.split_once('=') else { continue };
        match k {
            "src" if src.is_none() => src = v.parse().ok(),
            "dst" if dst.is_none() => dst = v.parse().ok(),
            "sport" if sport.is_none() => sport = v.parse().ok(),
            "dport" if dport.is_none() => dport = v.parse().ok(),
            _ => {}
        }
    }
    Some(Flow { protocol, src: src?, dst: dst?, sport: sport.unwrap_or(0), dport: dport.unwrap_or(0) })
}

/// The node's conntrack entries between two pods of the lab.
pub fn flows(lab: &Lab) -> Result<Vec<Flow>, LabError> {
    let mut out = Vec::new();
    for family in ["ipv4", "ipv6"] {
        let o = run_in_node(lab, "conntrack", &["-L", "-f", family], "").map_err(|e| {
            LabError(format!("lab {}: running conntrack in {}: {e} (is conntrack installed?)", lab.name, lab.node))
        })?;
        if !o.status.success() {
            return Err(LabError(format!(
                "lab {}: conntrack -L failed in {}: {}",
                lab.name,
                lab.node,
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        out.extend(String::from_utf8_lossy(&o.stdout).lines().filter_map(parse_line));
    }
    Ok(out)
}

/// Deletes the entries of flows between lab pods that `index` (the new policies) denies;
/// returns how many were deleted.
pub fn flush_denied(lab: &Lab, index: &Index) -> Result<usize, LabError> {
    let pod_of = |ip: IpAddr| lab.pods.iter().find(|p| p.address == ip).map(|p| p.endpoint);
    let mut deleted = 0;
    for f in flows(lab)? {
        let (Some(s), Some(d)) = (pod_of(f.src), pod_of(f.dst)) else { continue };
        let protocol = Protocol(f.protocol);
        let port = protocol.has_ports().then_some(f.dport);
        if s == d || index.query(s, d, protocol, port) {
            continue;
        }
        let (p, src, dst, sport, dport) =
            (f.protocol.to_string(), f.src.to_string(), f.dst.to_string(), f.sport.to_string(), f.dport.to_string());
        let mut args = vec!["-D", "-p", &p, "-s", &src, "-d", &dst];
        if protocol.has_ports() {
            args.extend(["--sport", &sport, "--dport", &dport]);
        }
        let o = run_in_node(lab, "conntrack", &args, "")
            .map_err(|e| LabError(format!("lab {}: running conntrack in {}: {e}", lab.name, lab.node)))?;
        // Exit 1 when the entry ended meanwhile: nothing left to delete.
        if o.status.success() {
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_direction_is_the_first_tuple_of_a_conntrack_line() {
        let l = "tcp      6 431999 ESTABLISHED src=10.0.1.2 dst=10.0.1.1 sport=45678 dport=8080 src=10.0.1.1 dst=10.0.1.2 sport=8080 dport=45678 [ASSURED] mark=0 use=1";
        let f = parse_line(l).unwrap();
        assert_eq!(
            f,
            Flow {
                protocol: 6,
                src: "10.0.1.2".parse().unwrap(),
                dst: "10.0.1.1".parse().unwrap(),
                sport: 45678,
                dport: 8080
            }
        );
        let icmp = "icmp     1 29 src=10.0.1.2 dst=10.0.1.1 type=8 code=0 id=7 src=10.0.1.1 dst=10.0.1.2 type=0 code=0 id=7 mark=0 use=1";
        assert_eq!(parse_line(icmp).unwrap().dport, 0);
        assert_eq!(parse_line("conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown."), None);
    }
}
