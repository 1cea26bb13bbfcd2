//! The result types of the specification (section 5), as JSON.
use serde::{Deserialize, Serialize};

use crate::version::Version;

/// An interface an attachment made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its hardware address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// Its MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The namespace it lives in; empty for the host's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
}

/// An address an attachment assigned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// `4` or `6`: present in results of 0.4.0 and before, gone since 1.0.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The address with its prefix length (`10.1.0.5/16`).
    pub address: String,
    /// The gateway for this address's subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The index in `interfaces` of the interface it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// A route an attachment made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Its destination (CIDR).
    pub dst: String,
    /// Its next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
    /// Further keys (mtu, advmss, priority, table, scope), passed through.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// DNS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// Name servers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// The local domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Search domains, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty() && self.domain.is_empty() && self.search.is_empty() && self.options.is_empty()
    }
}

/// The success result of ADD (an IPAM plugin's omits `interfaces` and each address's
/// `interface`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    /// The version of the specification the result is written in.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// The interfaces made, host side included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// The addresses assigned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// The routes made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS settings.
    #[serde(default, skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

impl Success {
    /// The result as version `v` writes it: 0.4.0 gives each address its `version`,
    /// 1.0.0 and later do not.
    pub fn for_version(mut self, v: &str, parsed: Version) -> Success {
        self.cni_version = v.to_string();
        let old = parsed < Version(1, 0, 0);
        for ip in &mut self.ips {
            ip.version = old.then(|| if ip.address.contains(':') { "6".into() } else { "4".into() });
        }
        self
    }
}

/// The result of VERSION.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResult {
    /// The version given on input.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// The versions podwall speaks.
    #[serde(rename = "supportedVersions")]
    pub supported_versions: Vec<String>,
}

/// One entry of `cni.dev/valid-attachments` (GC).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    /// CNI_CONTAINERID of its ADD.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// CNI_IFNAME of its ADD.
    pub ifname: String,
}
