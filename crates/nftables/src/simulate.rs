//! What the ruleset does with the first packet of a connection, read off the value the
//! way the kernel runs the rendered script: the base chain, then the chains it jumps
//! to. Lets tests compare the compiled rules with the reference evaluator without a
//! kernel, and lets tools predict (and explain) what a probe should see.
use std::net::IpAddr;

use ipnet::IpNet;

use crate::{Action, Dispatch, Family, Match, Origin, Ruleset, Side};

/// The first packet of a connection, as the node's `forward` hook sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The interface it arrives on (a pod's, or `None` for any other).
    pub iif: Option<String>,
    /// The interface it leaves by (a pod's, or `None` for any other).
    pub oif: Option<String>,
    /// Source address.
    pub src: IpAddr,
    /// Destination address (same family as `src`).
    pub dst: IpAddr,
    /// IP protocol number.
    pub protocol: u8,
    /// Destination port, for protocols with ports.
    pub port: Option<u16>,
    /// ICMP type and code, for ICMP and ICMPv6.
    pub icmp: Option<(u8, u8)>,
}

/// How one direction's chains ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The chain the base chain jumped to.
    pub chain: String,
    /// `Accept`, `Drop` or `Return` (back to the base chain).
    pub verdict: Action,
    /// The rule that gave the verdict; `None` when the chain ran to its end.
    pub origin: Option<Origin>,
}

/// What happened to the probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// Dropped by anti-spoofing (a pod interface, another source address).
    pub spoofed: bool,
    /// The source's egress chains, when its interface has some.
    pub egress: Option<Step>,
    /// The destination's ingress chains, when its interface has some and egress let
    /// the packet on.
    pub ingress: Option<Step>,
    /// Log rules that fired, in order.
    pub logged: Vec<Origin>,
    /// Whether the packet is forwarded.
    pub accepted: bool,
}

impl Ruleset {
    /// Runs the probe through the ruleset.
    pub fn trace(&self, probe: &Probe) -> Trace {
        let mut t = Trace { spoofed: false, egress: None, ingress: None, logged: vec![], accepted: false };
        let by_iface = |name: &Option<String>| -> Option<&Dispatch> {
            name.as_ref().and_then(|n| self.endpoints.iter().find(|d| &d.interface == n))
        };
        if let Some(from) = by_iface(&probe.iif) {
            if !from.addresses.contains(&probe.src) {
                t.spoofed = true;
                return t;
            }
        }
        if let Some(chain) = by_iface(&probe.iif).and_then(|d| d.egress.clone()) {
            let step = self.run(&chain, probe, &mut t.logged);
            let go_on = step.verdict == Action::Return;
            let accepted = step.verdict == Action::Accept;
            t.egress = Some(step);
            if !go_on {
                t.accepted = accepted;
                return t;
            }
        }
        if let Some(chain) = by_iface(&probe.oif).and_then(|d| d.ingress.clone()) {
            let step = self.run(&chain, probe, &mut t.logged);
            let dropped = step.verdict == Action::Drop;
            t.ingress = Some(step);
            t.accepted = !dropped;
            return t;
        }
        // The base chain's policy.
        t.accepted = true;
        t
    }

    /// Runs a jumped-to chain (and the chains it goes to) to a verdict.
    fn run(&self, entry: &str, probe: &Probe, logged: &mut Vec<Origin>) -> Step {
        let mut name = entry.to_string();
        'chains: loop {
            let Some(chain) = self.chain(&name) else {
                return Step { chain: entry.into(), verdict: Action::Return, origin: None };
            };
            for rule in &chain.rules {
                if !rule.matches.iter().all(|m| self.holds(m, probe)) {
                    continue;
                }
                match &rule.action {
                    Action::Log { .. } => logged.extend(rule.origin),
                    Action::Goto(next) => {
                        name = next.clone();
                        continue 'chains;
                    }
                    verdict => return Step { chain: entry.into(), verdict: verdict.clone(), origin: rule.origin },
                }
            }
            return Step { chain: entry.into(), verdict: Action::Return, origin: None };
        }
    }

    fn holds(&self, m: &Match, p: &Probe) -> bool {
        let family = if p.src.is_ipv4() { Family::V4 } else { Family::V6 };
        match m {
            Match::Family(f) => *f == family,
            Match::Address { side, family: f, set, negated } => {
                let ip = match side {
                    Side::Source => p.src,
                    Side::Destination => p.dst,
                };
                // `ip saddr` carries a family check that holds before the lookup.
                *f == family && self.elements(set).iter().any(|e| address_element_holds(e, ip)) != *negated
            }
            Match::Protocols { ranges, negated } => {
                ranges.iter().any(|&(lo, hi)| lo <= p.protocol && p.protocol <= hi) != *negated
            }
            Match::Ports(entries) => p
                .port
                .is_some_and(|port| entries.iter().any(|&(pr, lo, hi)| pr == p.protocol && lo <= port && port <= hi)),
            Match::DestinationPorts { family: f, set, negated } => {
                let key = p.port.map(|port| format!("{} . {} . {port}", p.dst, p.protocol));
                *f == family && key.is_some_and(|k| self.elements(set).contains(&k)) != *negated
            }
            Match::IcmpType { kind, negated } => p.icmp.is_some_and(|(t, _)| t == *kind) != *negated,
            Match::IcmpCode { code, negated } => p.icmp.is_some_and(|(_, c)| c == *code) != *negated,
        }
    }

    fn elements(&self, set: &str) -> &[String] {
        self.set(set).map(|s| s.elements.as_slice()).unwrap_or_default()
    }
}

fn address_element_holds(element: &str, ip: IpAddr) -> bool {
    match element.parse::<IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => element.parse::<IpAddr>() == Ok(ip),
    }
}
