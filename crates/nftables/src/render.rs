//! The ruleset as an `nft -f` script.
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::compile::clip;
use crate::{Action, Chain, Family, Match, Rule, Ruleset, Set, SetKind, Side};

/// The set of every pod interface.
pub(crate) const INTERFACES_SET: &str = "interfaces";
/// The anti-spoofing sets: `interface . address` of each family.
pub(crate) const SOURCES_SET: [&str; 2] = ["sources4", "sources6"];
/// The verdict map from a pod interface to the chain of its egress traffic.
pub(crate) const EGRESS_MAP: &str = "egress";
/// The verdict map from a pod interface to the chain of its ingress traffic.
pub(crate) const INGRESS_MAP: &str = "ingress";

pub(crate) fn render(r: &Ruleset) -> String {
    let t = &r.table;
    let mut s = String::new();
    // Create the table if it is missing, so that deleting it cannot fail; the three
    // commands are one transaction.
    let _ = writeln!(s, "table inet {t}\ndelete table inet {t}\ntable inet {t} {{");
    for set in base_sets(r).iter().chain(&r.sets) {
        render_set(&mut s, set);
    }
    render_maps(&mut s, r);
    render_base(&mut s);
    for c in &r.chains {
        render_chain(&mut s, c);
    }
    s.push_str("}\n");
    s
}

/// The sets the base chain reads: pod interfaces and `interface . address` pairs.
pub(crate) fn base_sets(r: &Ruleset) -> [Set; 3] {
    let mut interfaces: Vec<String> = r.endpoints.iter().map(|d| format!("\"{}\"", d.interface)).collect();
    interfaces.sort();
    let pairs = |v6: bool| {
        let mut e: Vec<String> = r
            .endpoints
            .iter()
            .flat_map(|d| d.addresses.iter().filter(move |a| a.is_ipv6() == v6).map(move |a| (d, a)))
            .map(|(d, a): (_, &IpAddr)| format!("\"{}\" . {a}", d.interface))
            .collect();
        e.sort();
        e
    };
    [
        Set { name: INTERFACES_SET.into(), kind: SetKind::Interfaces, interval: false, elements: interfaces },
        Set {
            name: SOURCES_SET[0].into(),
            kind: SetKind::Sources(Family::V4),
            interval: false,
            elements: pairs(false),
        },
        Set { name: SOURCES_SET[1].into(), kind: SetKind::Sources(Family::V6), interval: false, elements: pairs(true) },
    ]
}

/// The nft type of a set's elements.
pub(crate) fn set_type(kind: SetKind) -> &'static str {
    match kind {
        SetKind::Addresses(Family::V4) => "ipv4_addr",
        SetKind::Addresses(Family::V6) => "ipv6_addr",
        SetKind::DestinationPorts(Family::V4) => "ipv4_addr . inet_proto . inet_service",
        SetKind::DestinationPorts(Family::V6) => "ipv6_addr . inet_proto . inet_service",
        SetKind::Interfaces => "ifname",
        SetKind::Sources(Family::V4) => "ifname . ipv4_addr",
        SetKind::Sources(Family::V6) => "ifname . ipv6_addr",
    }
}

fn render_set(s: &mut String, set: &Set) {
    let _ = writeln!(s, "\tset {} {{\n\t\ttype {}", set.name, set_type(set.kind));
    if set.interval {
        s.push_str("\t\tflags interval\n");
    }
    if !set.elements.is_empty() {
        let _ = writeln!(s, "\t\telements = {{ {} }}", set.elements.join(", "));
    }
    s.push_str("\t}\n");
}

fn render_base(s: &mut String) {
    s.push_str("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    s.push_str("\t\tct state established,related accept\n\t\tct state invalid drop\n");
    for (ip, set) in ["ip", "ip6"].iter().zip(SOURCES_SET) {
        let _ = writeln!(
            s,
            "\t\tiifname @{INTERFACES_SET} iifname . {ip} saddr != @{set} drop comment \"anti-spoofing: a pod sends from its own addresses only\""
        );
    }
    for (key, map) in [("iifname", EGRESS_MAP), ("oifname", INGRESS_MAP)] {
        let _ = writeln!(s, "\t\t{key} vmap @{map}");
    }
    s.push_str("\t}\n");
}

/// The dispatch maps, `interface : jump CHAIN` with the endpoint's name as the element's
/// comment, as (map, interface, chain, comment), sorted.
pub(crate) fn map_entries(r: &Ruleset) -> Vec<(&'static str, String, String, String)> {
    let mut out = Vec::new();
    for d in &r.endpoints {
        for (map, chain) in [(EGRESS_MAP, &d.egress), (INGRESS_MAP, &d.ingress)] {
            if let Some(c) = chain {
                out.push((map, d.interface.clone(), c.clone(), clip(&d.name, 127)));
            }
        }
    }
    out.sort();
    out
}

/// One element of a dispatch map as nft writes it.
pub(crate) fn map_element(interface: &str, chain: &str, comment: &str) -> String {
    format!("\"{interface}\" comment \"{comment}\" : jump {chain}")
}

fn render_maps(s: &mut String, r: &Ruleset) {
    let entries = map_entries(r);
    for map in [EGRESS_MAP, INGRESS_MAP] {
        let _ = writeln!(s, "\tmap {map} {{\n\t\ttype ifname : verdict");
        let list: Vec<String> =
            entries.iter().filter(|e| e.0 == map).map(|(_, i, c, n)| map_element(i, c, n)).collect();
        if !list.is_empty() {
            let _ = writeln!(s, "\t\telements = {{ {} }}", list.join(", "));
        }
        s.push_str("\t}\n");
    }
}

fn render_chain(s: &mut String, c: &Chain) {
    let _ = writeln!(s, "\tchain {} {{", c.name);
    if !c.comment.is_empty() {
        let _ = writeln!(s, "\t\tcomment \"{}\"", clip(&c.comment, 127));
    }
    for rule in &c.rules {
        let _ = writeln!(s, "\t\t{}", render_rule(rule));
    }
    s.push_str("\t}\n");
}

/// One rule as nft writes it.
pub fn render_rule(rule: &Rule) -> String {
    let mut parts: Vec<String> = rule.matches.iter().map(render_match).collect();
    parts.push(match &rule.action {
        Action::Accept => "accept".into(),
        Action::Drop => "drop".into(),
        Action::Return => "return".into(),
        Action::Goto(c) => format!("goto {c}"),
        Action::Log { prefix } => format!("log prefix \"{}\"", clip(prefix, 127)),
    });
    if !rule.comment.is_empty() {
        parts.push(format!("comment \"{}\"", clip(&rule.comment, 127)));
    }
    parts.join(" ")
}

fn family_word(f: Family) -> &'static str {
    match f {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    }
}

fn not(negated: bool) -> &'static str {
    if negated {
        "!= "
    } else {
        ""
    }
}

/// A protocol number as nft names it.
fn protocol(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        136 => "udplite".into(),
        n => n.to_string(),
    }
}

fn braced(items: Vec<String>) -> String {
    if items.len() == 1 {
        items.into_iter().next().unwrap_or_default()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

fn port_range(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

fn render_match(m: &Match) -> String {
    match m {
        Match::Family(Family::V4) => "meta nfproto ipv4".into(),
        Match::Family(Family::V6) => "meta nfproto ipv6".into(),
        Match::Address { side, family, set, negated } => {
            let side = match side {
                Side::Source => "saddr",
                Side::Destination => "daddr",
            };
            format!("{} {side} {}@{set}", family_word(*family), not(*negated))
        }
        Match::Protocols { ranges, negated } => {
            let items =
                ranges.iter().map(|&(lo, hi)| if lo == hi { protocol(lo) } else { format!("{lo}-{hi}") }).collect();
            format!("meta l4proto {}{}", not(*negated), braced(items))
        }
        Match::Ports(entries) => {
            let first = entries[0].0;
            let one = entries.iter().all(|e| e.0 == first) && matches!(first, 6 | 17 | 132 | 136);
            if one {
                let items = entries.iter().map(|&(_, lo, hi)| port_range(lo, hi)).collect();
                format!("{} dport {}", protocol(first), braced(items))
            } else {
                let items =
                    entries.iter().map(|&(p, lo, hi)| format!("{} . {}", protocol(p), port_range(lo, hi))).collect();
                format!("meta l4proto . th dport {}", braced(items))
            }
        }
        Match::DestinationPorts { family, set, negated } => {
            format!("{} daddr . meta l4proto . th dport {}@{set}", family_word(*family), not(*negated))
        }
        Match::IcmpType { kind, negated } => format!("@th,0,8 {}{kind}", not(*negated)),
        Match::IcmpCode { code, negated } => format!("@th,8,8 {}{code}", not(*negated)),
    }
}
