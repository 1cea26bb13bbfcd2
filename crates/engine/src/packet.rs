//! The connection being judged.
use std::net::IpAddr;

use podwall_ir::{Cluster, EndpointId, IpVersion, Protocol};

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// An endpoint of the cluster.
    Endpoint(EndpointId),
    /// An address that is no endpoint (outside the cluster, a node).
    Ip(IpAddr),
}

impl Addr {
    /// The address's IP, when known (templates have none).
    pub fn ip(self, cluster: &Cluster) -> Option<IpAddr> {
        match self {
            Addr::Endpoint(id) => cluster.endpoints[id].ip,
            Addr::Ip(ip) => Some(ip),
        }
    }

    /// The endpoint, if this end is a policy endpoint (not host-network, not an address).
    pub fn policy_endpoint(self, cluster: &Cluster) -> Option<EndpointId> {
        match self {
            Addr::Endpoint(id) if !cluster.endpoints[id].host_network => Some(id),
            _ => None,
        }
    }

    /// A name for messages.
    pub fn display(self, cluster: &Cluster) -> String {
        match self {
            Addr::Endpoint(id) => cluster.endpoints[id].name.clone(),
            Addr::Ip(ip) => ip.to_string(),
        }
    }
}

/// An HTTP request line, for rules with an application-layer match.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpRequest {
    /// The method, e.g. `GET`.
    pub method: Option<String>,
    /// The path, e.g. `/api/v1/users`.
    pub path: Option<String>,
}

/// The first packet of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// Who opens the connection.
    pub src: Addr,
    /// Who it is opened to.
    pub dst: Addr,
    /// Its protocol.
    pub protocol: Protocol,
    /// Its destination port, for protocols with ports.
    pub port: Option<u16>,
    /// ICMP type and code, for ICMP.
    pub icmp: Option<(u8, u8)>,
    /// The HTTP request, when the question is about one; `None` judges at layer 4.
    pub http: Option<HttpRequest>,
}

impl Packet {
    /// A TCP/UDP/SCTP packet to a port.
    pub fn new(src: Addr, dst: Addr, protocol: Protocol, port: u16) -> Self {
        Packet { src, dst, protocol, port: Some(port), icmp: None, http: None }
    }

    /// The packet's IP family: that of the first known address, else IPv4.
    pub fn ip_version(&self, cluster: &Cluster) -> IpVersion {
        match self.src.ip(cluster).or_else(|| self.dst.ip(cluster)) {
            Some(IpAddr::V6(_)) => IpVersion::V6,
            _ => IpVersion::V4,
        }
    }
}
