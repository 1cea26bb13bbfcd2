//! Protocols and ports.
use std::fmt;

/// An IP protocol number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u8);

impl Protocol {
    /// ICMP (1).
    pub const ICMP: Protocol = Protocol(1);
    /// TCP (6).
    pub const TCP: Protocol = Protocol(6);
    /// UDP (17).
    pub const UDP: Protocol = Protocol(17);
    /// ICMPv6 (58).
    pub const ICMPV6: Protocol = Protocol(58);
    /// SCTP (132).
    pub const SCTP: Protocol = Protocol(132);
    /// UDP-Lite (136).
    pub const UDPLITE: Protocol = Protocol(136);

    /// Whether packets of this protocol carry ports (TCP, UDP, SCTP, UDP-Lite).
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::TCP | Protocol::UDP | Protocol::SCTP | Protocol::UDPLITE)
    }

    /// Parses a protocol name (any case) or number.
    pub fn parse(s: &str) -> Option<Protocol> {
        let known = match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::TCP),
            "UDP" => Some(Protocol::UDP),
            "SCTP" => Some(Protocol::SCTP),
            "ICMP" => Some(Protocol::ICMP),
            "ICMPV6" => Some(Protocol::ICMPV6),
            "UDPLITE" => Some(Protocol::UDPLITE),
            _ => None,
        };
        known.or_else(|| s.parse::<u8>().ok().filter(|n| *n > 0).map(Protocol))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Protocol::TCP => write!(f, "TCP"),
            Protocol::UDP => write!(f, "UDP"),
            Protocol::SCTP => write!(f, "SCTP"),
            Protocol::ICMP => write!(f, "ICMP"),
            Protocol::ICMPV6 => write!(f, "ICMPv6"),
            Protocol::UDPLITE => write!(f, "UDPLite"),
            Protocol(n) => write!(f, "{n}"),
        }
    }
}

/// Which destination ports a port match accepts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ports {
    /// Every port.
    Any,
    /// An inclusive range; a single port is `lo == hi`.
    Range(u16, u16),
    /// A named container port, resolved on the destination endpoint: it matches when the
    /// destination declares a port with this name, the packet's protocol and the packet's
    /// destination port number. Never matches a destination that is not an endpoint.
    Named(String),
}

/// One entry of a port list: a protocol (or any) and the ports of that protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortMatch {
    /// Required protocol; `None` accepts any protocol.
    pub protocol: Option<Protocol>,
    /// Accepted destination ports.
    pub ports: Ports,
}

impl fmt::Display for PortMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = self.protocol.map(|p| p.to_string()).unwrap_or_else(|| "any".into());
        match &self.ports {
            Ports::Any => write!(f, "{proto}/any"),
            Ports::Range(lo, hi) if lo == hi => write!(f, "{proto}/{lo}"),
            Ports::Range(lo, hi) => write!(f, "{proto}/{lo}-{hi}"),
            Ports::Named(n) => write!(f, "{proto}/{n}"),
        }
    }
}

/// A port an endpoint declares (a container port).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    /// The port's name, if it has one.
    pub name: Option<String>,
    /// Its protocol.
    pub protocol: Protocol,
    /// Its number.
    pub port: u16,
}
