//! The spec's error result: a code (the well-known ones below 100, podwall's from 100),
//! a short message and details.
use serde::{Deserialize, Serialize};

/// 1: incompatible CNI version.
pub const INCOMPATIBLE_VERSION: u32 = 1;
/// 2: unsupported field in the network configuration (the message names key and value).
pub const UNSUPPORTED_FIELD: u32 = 2;
/// 3: container unknown or does not exist.
pub const UNKNOWN_CONTAINER: u32 = 3;
/// 4: invalid necessary environment variables (the message names them).
pub const INVALID_ENVIRONMENT: u32 = 4;
/// 5: I/O failure.
pub const IO_FAILURE: u32 = 5;
/// 6: failed to decode content.
pub const DECODING_FAILURE: u32 = 6;
/// 7: invalid network configuration.
pub const INVALID_CONFIG: u32 = 7;
/// 11: try again later.
pub const TRY_AGAIN_LATER: u32 = 11;
/// 50: the plugin cannot service ADD requests (STATUS).
pub const NOT_AVAILABLE: u32 = 50;
/// 100: podwall's own: the IP address pool has no free address.
pub const ADDRESSES_EXHAUSTED: u32 = 100;
/// 101: podwall's own: the interface name is taken in the container.
pub const INTERFACE_EXISTS: u32 = 101;
/// 102: podwall's own: a delegated (IPAM) plugin failed.
pub const DELEGATE_FAILED: u32 = 102;
/// 103: podwall's own: a kernel request (link, address, route, nftables) failed.
pub const KERNEL_FAILURE: u32 = 103;
/// 104: podwall's own: CHECK found the attachment not as ADD left it.
pub const CHECK_FAILED: u32 = 104;

/// An error result, as printed on standard output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// The protocol version in use.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// The error code.
    pub code: u32,
    /// A short message.
    pub msg: String,
    /// The longer story.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl Error {
    /// An error with `code` and `msg`.
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        Error { cni_version: String::new(), code, msg: msg.into(), details: String::new() }
    }

    /// The same error with details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// Whether the fault is in what the caller gave (configuration, environment,
    /// version), as opposed to the node.
    pub fn is_input(&self) -> bool {
        matches!(
            self.code,
            INCOMPATIBLE_VERSION | UNSUPPORTED_FIELD | INVALID_ENVIRONMENT | DECODING_FAILURE | INVALID_CONFIG
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CNI error {}: {}", self.code, self.msg)?;
        if !self.details.is_empty() {
            write!(f, " ({})", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// A kernel or file error as a CNI error of `code`, saying what was being done.
pub fn io(code: u32, what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::new(code, format!("{what}: {e}"))
}
