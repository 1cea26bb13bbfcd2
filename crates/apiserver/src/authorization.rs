//! The authorizer chain as kube-apiserver reads it from its flags
//! (`k8s.io/kubernetes/pkg/kubeapiserver/options/authorization.go`, `Complete` then
//! `Validate`): either a structured `--authorization-config` file, which excludes the
//! legacy flags, or the ordered `--authorization-mode` list, defaulting to AlwaysAllow.
//! A mode the server does not know, one named twice, or a mode without the file it needs
//! (or a file without its mode) and the server does not start.
use podwall_load::InputError;

use crate::flags::Flags;

/// The modes `--authorization-mode` accepts (`authzmodes.AuthorizationModeChoices`),
/// case-sensitive.
pub const MODES: &[&str] = &["AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"];

/// The flags that cannot be given with `--authorization-config` (the server's
/// `AreLegacyFlagsSet`): given at all, even empty, they count.
const LEGACY: &[&str] = &[
    "authorization-mode",
    "authorization-webhook-config-file",
    "authorization-webhook-version",
    "authorization-webhook-cache-authorized-ttl",
    "authorization-webhook-cache-unauthorized-ttl",
];

/// How requests are authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// `--authorization-config`: the chain is in that file, which podwall does not read.
    Structured,
    /// The `--authorization-mode` chain, in order.
    Modes {
        /// The modes, as given, or `[AlwaysAllow]` when none were.
        modes: Vec<String>,
        /// Whether the list is the server's default (no mode was given).
        defaulted: bool,
    },
}

/// The authorizer chain of `flags`, or the error the server stops with (every problem,
/// as the server lists them all).
pub fn read(flags: &Flags) -> Result<Authorization, InputError> {
    let given = |n: &str| flags.get(n).is_some_and(|v| !v.is_empty());
    if given("authorization-config") {
        if let Some(legacy) = LEGACY.iter().find(|n| flags.get(n).is_some()) {
            return Err(flags.refused(format!(
                "--authorization-config cannot be given with --{legacy} (nor with --authorization-mode or any --authorization-webhook-* flag); kube-apiserver would not start"
            )));
        }
        return Ok(Authorization::Structured);
    }
    let modes = flags.items("authorization-mode")?.unwrap_or_default();
    let defaulted = modes.is_empty();
    let modes = if defaulted { vec!["AlwaysAllow".to_string()] } else { modes };
    let has = |m: &str| modes.iter().any(|x| x == m);
    let mut problems = Vec::new();
    for m in &modes {
        if !MODES.contains(&m.as_str()) {
            problems.push(format!("authorization mode {m:?} is not a valid mode (one of {})", MODES.join(", ")));
        }
    }
    if has("ABAC") && !given("authorization-policy-file") {
        problems.push("mode ABAC needs --authorization-policy-file".to_string());
    }
    if has("Webhook") && !given("authorization-webhook-config-file") {
        problems.push("mode Webhook needs --authorization-webhook-config-file".to_string());
    }
    if given("authorization-policy-file") && !has("ABAC") {
        problems.push("--authorization-policy-file is given without mode ABAC".to_string());
    }
    if given("authorization-webhook-config-file") && !has("Webhook") {
        problems.push("--authorization-webhook-config-file is given without mode Webhook".to_string());
    }
    let mut seen: Vec<&str> = Vec::new();
    for m in &modes {
        if seen.contains(&m.as_str()) {
            problems.push(format!("mode {m} is named more than once"));
        }
        seen.push(m);
    }
    if problems.is_empty() {
        Ok(Authorization::Modes { modes, defaulted })
    } else {
        Err(flags.refused(format!("--authorization-mode: {}; kube-apiserver would not start", problems.join("; "))))
    }
}
