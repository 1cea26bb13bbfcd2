//! podwall as a CNI plugin (the Container Network Interface specification 1.1, with
//! 1.0.0 and 0.4.0): the runtime runs it with `CNI_*` environment variables and the
//! network configuration on standard input; it prints a result or an error as JSON on
//! standard output.
//!
//! A pod gets the lab's routed-veth topology ([`podwall_lab::topology`]): a veth whose
//! node side is named after the pod (`podwall_nftables::interface_name`), host addresses
//! and a link-local gateway in the pod, a host route per address in the node, and its
//! interface and addresses in the node's podwall table (the anti-spoofing sets the
//! agent's ruleset reads). Addresses come from the built-in host-local allocator
//! (`"ipam": {"type": "podwall", ...}`, [`ipam`]) or from any IPAM plugin on `CNI_PATH`
//! ([`delegate`]).
//!
//! ```
//! let env = |k: &str| match k { "CNI_COMMAND" => Some("VERSION".to_string()), _ => None };
//! let out = podwall_cni::run(&env, br#"{"cniVersion": "1.0.0"}"#);
//! assert_eq!(out.code, 0);
//! assert!(out.stdout.contains(r#""supportedVersions":["0.4.0","1.0.0","1.1.0"]"#));
//! ```
pub mod bench;
pub mod config;
pub mod delegate;
pub mod error;
pub mod ipam;
pub mod net;
pub mod plugin;
pub mod runtime;
pub mod state;
pub mod types;
pub mod version;

use error::{Error, INVALID_ENVIRONMENT};

/// The `CNI_*` parameters of one invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    /// CNI_COMMAND.
    pub command: String,
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_NETNS.
    pub netns: String,
    /// CNI_IFNAME.
    pub ifname: String,
    /// CNI_ARGS.
    pub args: String,
    /// CNI_PATH.
    pub path: String,
}

/// Whether `id` is a valid container id: an alphanumeric, then alphanumerics, `_`, `.`, `-`.
pub fn valid_container_id(id: &str) -> bool {
    config::valid_name(id)
}

/// Whether `name` can be an interface name: 1-15 bytes, not `.` or `..`, no `/`, `:` or
/// white space.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

impl Env {
    /// Reads the parameters through `get` and checks those `command` requires, as the
    /// specification lists them per command.
    pub fn read(get: &dyn Fn(&str) -> Option<String>) -> Result<Env, Error> {
        let v = |k: &str| get(k).unwrap_or_default();
        let env = Env {
            command: v("CNI_COMMAND"),
            container_id: v("CNI_CONTAINERID"),
            netns: v("CNI_NETNS"),
            ifname: v("CNI_IFNAME"),
            args: v("CNI_ARGS"),
            path: v("CNI_PATH"),
        };
        let (id, netns, ifname) = match env.command.as_str() {
            "ADD" | "CHECK" => (true, true, true),
            "DEL" => (true, false, true),
            "GC" | "STATUS" | "VERSION" => (false, false, false),
            "" => (false, false, false),
            other => {
                return Err(Error::new(INVALID_ENVIRONMENT, format!("unknown CNI_COMMAND: {other}"))
                    .details("podwall knows ADD, DEL, CHECK, STATUS, GC and VERSION"))
            }
        };
        let mut missing = Vec::new();
        if env.command.is_empty() {
            missing.push("CNI_COMMAND");
        }
        for (need, name, value) in [
            (id, "CNI_CONTAINERID", &env.container_id),
            (netns, "CNI_NETNS", &env.netns),
            (ifname, "CNI_IFNAME", &env.ifname),
        ] {
            if need && value.is_empty() {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            return Err(Error::new(
                INVALID_ENVIRONMENT,
                format!("required env variables [{}] missing", missing.join(",")),
            ));
        }
        if id && !valid_container_id(&env.container_id) {
            return Err(Error::new(
                INVALID_ENVIRONMENT,
                format!("CNI_CONTAINERID {:?}: invalid characters in containerID", env.container_id),
            ));
        }
        if ifname && !valid_ifname(&env.ifname) {
            return Err(Error::new(
                INVALID_ENVIRONMENT,
                format!(
                    "CNI_IFNAME {:?}: not an interface name (1-15 bytes, not '.' or '..', no '/', ':' or white space)",
                    env.ifname
                ),
            ));
        }
        Ok(env)
    }
}

/// What an invocation prints and how it exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output: the result, or the error JSON.
    pub stdout: String,
    /// The exit code: 0 on success; 2 when the configuration or environment is at
    /// fault, 1 otherwise.
    pub code: u8,
    /// The error, for the caller's log on standard error.
    pub error: Option<Error>,
}

/// Runs one invocation: parameters through `get`, the configuration in `stdin`.
pub fn run(get: &dyn Fn(&str) -> Option<String>, stdin: &[u8]) -> Outcome {
    let mut version = String::new();
    match invoke(get, stdin, &mut version) {
        Ok(stdout) => Outcome { stdout, code: 0, error: None },
        Err(mut e) => {
            let known = version::SUPPORTED.contains(&version.as_str());
            e.cni_version = if known { version } else { version::LATEST.into() };
            let code = if e.is_input() { 2 } else { 1 };
            Outcome { stdout: serde_json::to_string(&e).expect("plain data"), code, error: Some(e) }
        }
    }
}

fn invoke(get: &dyn Fn(&str) -> Option<String>, stdin: &[u8], version: &mut String) -> Result<String, Error> {
    let env = Env::read(get)?;
    if env.command == "VERSION" {
        // The input is `{"cniVersion": ...}`, or nothing.
        let given = serde_json::from_slice::<serde_json::Value>(stdin)
            .ok()
            .and_then(|v| v.get("cniVersion").and_then(|c| c.as_str()).map(str::to_string))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| version::LATEST.into());
        let r = types::VersionResult {
            cni_version: given,
            supported_versions: version::SUPPORTED.iter().map(|s| s.to_string()).collect(),
        };
        return Ok(serde_json::to_string(&r).expect("plain data"));
    }
    let conf = config::parse(stdin)?;
    *version = conf.cni_version.clone();
    let parsed = version::negotiate(&conf.cni_version, &env.command)?;
    match env.command.as_str() {
        "ADD" => {
            let r = plugin::add(&conf, &env)?.for_version(&conf.cni_version, parsed);
            Ok(serde_json::to_string(&r).expect("plain data"))
        }
        "DEL" => plugin::del(&conf, &env).map(|()| String::new()),
        "CHECK" => plugin::check(&conf, &env).map(|()| String::new()),
        "STATUS" => plugin::status(&conf, &env).map(|()| String::new()),
        "GC" => plugin::gc(&conf, &env).map(|()| String::new()),
        _ => unreachable!("Env::read refuses other commands"),
    }
}
