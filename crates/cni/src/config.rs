//! The plugin configuration podwall reads on standard input (the runtime's request
//! configuration: the plugin's object from the conflist with `cniVersion`, `name` and, per
//! command, `prevResult`, `runtimeConfig` or `cni.dev/valid-attachments` inserted).
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, DECODING_FAILURE, INVALID_CONFIG, UNSUPPORTED_FIELD};
use crate::types::{Attachment, Dns, Success};

/// The `ipam.type` served inside podwall itself (the host-local allocator of [`crate::ipam`]):
/// it is podwall's own binary, so running it again would only answer as the main plugin.
pub const BUILTIN_IPAM: &str = "podwall";
/// Where attachment records live unless `stateDir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/run/podwall/cni";
/// The nftables table pods are registered in unless `table` says otherwise.
pub const DEFAULT_TABLE: &str = "podwall";

/// Keys podwall reads or the specification reserves; any other top-level key is refused
/// (code 2), so that a misspelt setting is never ignored.
const KNOWN: [&str; 12] = [
    "cniVersion",
    "cniVersions",
    "name",
    "type",
    "ipam",
    "dns",
    "prevResult",
    "runtimeConfig",
    "args",
    "capabilities",
    "table",
    "stateDir",
];

/// The configuration, read.
#[derive(Clone, Debug)]
pub struct NetConf {
    /// `cniVersion` as given.
    pub cni_version: String,
    /// The network's name.
    pub name: String,
    /// `type` (normally `podwall`).
    pub plugin_type: String,
    /// The `ipam` object as given (a delegated plugin gets the whole configuration).
    pub ipam: Option<serde_json::Map<String, Value>>,
    /// The `ipam.type`.
    pub ipam_type: Option<String>,
    /// `dns`, reported in the result when the IPAM result has none.
    pub dns: Dns,
    /// The previous plugin's result (chains, DEL, CHECK).
    pub prev_result: Option<Success>,
    /// GC's still valid attachments.
    pub valid_attachments: Option<Vec<Attachment>>,
    /// The nftables table to register pods in.
    pub table: String,
    /// Where attachment records live.
    pub state_dir: PathBuf,
    /// The configuration as read, for delegated plugins.
    pub raw: Vec<u8>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(INVALID_CONFIG, msg)
}

/// Whether `name` is a valid network name: an alphanumeric, then alphanumerics, `_`, `.`, `-`.
pub fn valid_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Reads the configuration on standard input.
pub fn parse(stdin: &[u8]) -> Result<NetConf, Error> {
    let value: Value = serde_json::from_slice(stdin).map_err(|e| {
        Error::new(DECODING_FAILURE, format!("network configuration on standard input, line {}: {e}", e.line()))
    })?;
    let Value::Object(obj) = value else {
        return Err(Error::new(DECODING_FAILURE, "network configuration: expected a JSON object"));
    };
    for (k, v) in &obj {
        if !KNOWN.contains(&k.as_str()) && !k.starts_with("cni.dev/") {
            return Err(Error::new(
                UNSUPPORTED_FIELD,
                format!("unsupported field {k:?} (value {v}) in the network configuration"),
            )
            .details(format!("podwall reads {}", KNOWN.join(", "))));
        }
    }
    let string = |k: &str| -> Result<Option<String>, Error> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(invalid(format!("{k}: expected a string, found {v}"))),
        }
    };
    let cni_version = string("cniVersion")?.unwrap_or_default();
    let name = string("name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("missing network name (`name`)"));
    }
    if !valid_name(&name) {
        return Err(invalid(format!(
            "network name {name:?}: must start with a letter or digit, then letters, digits, '_', '.' or '-'"
        )));
    }
    let plugin_type = string("type")?.unwrap_or_default();
    if plugin_type.is_empty() {
        return Err(invalid("missing plugin type (`type`)"));
    }
    let (ipam, ipam_type) = match obj.get("ipam") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(m)) => {
            let t = match m.get("type") {
                Some(Value::String(t)) if !t.is_empty() && !t.contains('/') => t.clone(),
                Some(v) => return Err(invalid(format!("ipam.type: expected a plugin name, found {v}"))),
                None => return Err(invalid("ipam: missing `type`")),
            };
            (Some(m.clone()), Some(t))
        }
        Some(v) => return Err(invalid(format!("ipam: expected an object, found {v}"))),
    };
    let typed = |k: &str| obj.get(k).filter(|v| !v.is_null()).cloned();
    let dns = match typed("dns") {
        None => Dns::default(),
        Some(v) => serde_json::from_value(v).map_err(|e| invalid(format!("dns: {e}")))?,
    };
    let prev_result = match typed("prevResult") {
        None => None,
        Some(v) => {
            Some(serde_json::from_value(v).map_err(|e| Error::new(DECODING_FAILURE, format!("prevResult: {e}")))?)
        }
    };
    let valid_attachments = match typed("cni.dev/valid-attachments") {
        None => None,
        Some(v) => Some(
            serde_json::from_value(v)
                .map_err(|e| Error::new(DECODING_FAILURE, format!("cni.dev/valid-attachments: {e}")))?,
        ),
    };
    let table = string("table")?.unwrap_or_else(|| DEFAULT_TABLE.into());
    let table_ok = table.len() <= 64
        && table.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
        && table.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if !table_ok {
        return Err(invalid(format!("table {table:?}: must be 1-64 letters, digits and '_', starting with a letter")));
    }
    let state_dir = PathBuf::from(string("stateDir")?.unwrap_or_else(|| DEFAULT_STATE_DIR.into()));
    if !state_dir.is_absolute() {
        return Err(invalid(format!("stateDir {}: must be an absolute path", state_dir.display())));
    }
    Ok(NetConf {
        cni_version,
        name,
        plugin_type,
        ipam,
        ipam_type,
        dns,
        prev_result,
        valid_attachments,
        table,
        state_dir,
        raw: stdin.to_vec(),
    })
}

/// The fields of a host-local-style `ipam` object, as the reference `host-local` plugin
/// reads them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostLocal {
    /// `podwall`.
    #[serde(rename = "type")]
    pub ipam_type: String,
    /// Range sets: one address is allocated from each.
    #[serde(default)]
    pub ranges: Vec<Vec<RangeConf>>,
    /// The old single-range form, put before `ranges`.
    #[serde(default)]
    pub subnet: Option<String>,
    /// With `subnet`.
    #[serde(default)]
    pub range_start: Option<String>,
    /// With `subnet`.
    #[serde(default)]
    pub range_end: Option<String>,
    /// With `subnet`.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Routes for the pod.
    #[serde(default)]
    pub routes: Vec<crate::types::Route>,
    /// Where allocations live (default `/var/lib/cni/networks`).
    #[serde(default)]
    pub data_dir: Option<String>,
    /// A resolv.conf whose name servers, domain, search list and options the result reports.
    #[serde(default)]
    pub resolv_conf: Option<String>,
}

/// One range of a range set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RangeConf {
    /// The subnet (CIDR, network address).
    pub subnet: String,
    /// First address handed out (default: the subnet's first host).
    #[serde(default)]
    pub range_start: Option<String>,
    /// Last address handed out (default: the last host; for IPv4 not the broadcast).
    #[serde(default)]
    pub range_end: Option<String>,
    /// The gateway, never handed out (default: the subnet's first host).
    #[serde(default)]
    pub gateway: Option<String>,
}

impl HostLocal {
    /// Reads the `ipam` object of `conf`.
    pub fn of(conf: &NetConf) -> Result<HostLocal, Error> {
        let m = conf.ipam.clone().ok_or_else(|| invalid("ipam: missing"))?;
        serde_json::from_value(Value::Object(m)).map_err(|e| {
            let text = e.to_string();
            let code = if text.contains("unknown field") { UNSUPPORTED_FIELD } else { INVALID_CONFIG };
            Error::new(code, format!("ipam: {text}"))
        })
    }
}
