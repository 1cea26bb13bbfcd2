//! The CIS Kubernetes Benchmark's kube-apiserver checks (section 1.2 of v1.12, and the
//! insecure-port checks of v1.20 that later versions dropped with the flags), judged
//! on a kube-apiserver's flags with the server's own defaults: a flag left out counts as
//! its default (`--anonymous-auth` and `--profiling` default to true,
//! `--authorization-mode` to AlwaysAllow, `--service-account-lookup` to true,
//! `--request-timeout` to 1m, the admission plugins to the default set of
//! [`crate::admission`]). A value the server would refuse to start with (a count that is
//! no number, a boolean that is none, an unknown admission plugin or cipher suite, a
//! plugin both enabled and disabled, EventRateLimit without its configuration file, an
//! authorization chain [`crate::authorization`] refuses) is an input error, not a finding.
use podwall_encryption::{Config, ProviderKind};
use podwall_findings::{Finding, ObjectRef, Origin, Severity};
use podwall_load::InputError;

use crate::authorization::Authorization;
use crate::flags::Flags;

/// One check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// podwall's stable ID (`AP001`).
    pub id: &'static str,
    /// The CIS Kubernetes Benchmark recommendation (`1.2.1`, of v1.12 unless marked).
    pub cis: &'static str,
    /// What it asks.
    pub title: &'static str,
    /// How much a failure matters.
    pub severity: Severity,
}

const fn check(id: &'static str, cis: &'static str, title: &'static str, severity: Severity) -> Check {
    Check { id, cis, title, severity }
}

use Severity::{Critical, High, Info, Low, Medium};

/// Every check, in ID order.
pub const CHECKS: &[Check] = &[
    check("AP001", "1.2.1", "--anonymous-auth is false", Medium),
    check("AP002", "1.2.2", "--token-auth-file is not set", High),
    check("AP003", "1.2.4", "--kubelet-client-certificate and --kubelet-client-key are set", Medium),
    check("AP004", "1.2.5", "--kubelet-certificate-authority is set", Medium),
    check("AP005", "1.2.6", "--authorization-mode does not include AlwaysAllow", Critical),
    check("AP006", "1.2.7", "--authorization-mode includes Node", Medium),
    check("AP007", "1.2.8", "--authorization-mode includes RBAC", High),
    check("AP008", "1.2.15", "--profiling is false", Low),
    check("AP009", "1.2.10", "the AlwaysAdmit admission plugin is not enabled", High),
    check("AP010", "1.2.14", "the NodeRestriction admission plugin is enabled", Medium),
    check("AP011", "1.2.16", "--audit-log-path is set", Medium),
    check("AP012", "3.2.1", "--audit-policy-file is set (a minimal audit policy)", Medium),
    check("AP013", "1.2.17", "--audit-log-maxage is 30 or more", Low),
    check("AP014", "1.2.18", "--audit-log-maxbackup is 10 or more", Low),
    check("AP015", "1.2.19", "--audit-log-maxsize is 100 or more", Low),
    check("AP016", "1.2.20", "--request-timeout is set as appropriate (more than 0, at most 1h)", Low),
    check("AP017", "1.2.21", "--service-account-lookup is true", Medium),
    check("AP018", "1.2.22", "--service-account-key-file is set", Medium),
    check("AP019", "1.2.23", "--etcd-certfile and --etcd-keyfile are set", High),
    check("AP020", "1.2.24", "--tls-cert-file and --tls-private-key-file are set", High),
    check("AP021", "1.2.25", "--client-ca-file is set", High),
    check("AP022", "1.2.26", "--etcd-cafile is set", High),
    check("AP023", "1.2.27", "--encryption-provider-config is set", High),
    check("AP024", "1.2.17 (v1.20)", "--insecure-bind-address is not set", High),
    check("AP025", "1.2.18 (v1.20)", "--insecure-port is 0 (or not set; the flag is gone since 1.24)", Critical),
    check("AP026", "1.2.19 (v1.20)", "--secure-port is not 0", High),
    check("AP027", "1.2.30", "--service-account-extend-token-expiration is false", Low),
    check(
        "AP028",
        "1.2.28",
        "the encryption providers are appropriately configured: Secrets are written encrypted (judged when the file is given)",
        High,
    ),
    check("AP029", "1.2.3", "the DenyServiceExternalIPs admission plugin is enabled", Medium),
    check(
        "AP030",
        "1.2.9",
        "the EventRateLimit admission plugin is enabled (with --admission-control-config-file)",
        Low,
    ),
    check("AP031", "1.2.11", "the AlwaysPullImages admission plugin is enabled", Medium),
    check("AP032", "1.2.12", "the ServiceAccount admission plugin is not disabled", Medium),
    check("AP033", "1.2.13", "the NamespaceLifecycle admission plugin is not disabled", Medium),
    check("AP034", "1.2.29", "--tls-cipher-suites holds only strong suites (or only TLS 1.3 is served)", Medium),
];

/// The outcome of every check.
#[derive(Clone, Debug)]
pub struct Report {
    /// Each check with its finding when it failed (or, at severity info, could not be
    /// judged).
    pub outcomes: Vec<(Check, Option<Finding>)>,
    /// The findings `EN…` of the encryption configuration, when it was given: what
    /// `secrets validate` reports.
    pub encryption: Vec<Finding>,
}

impl Report {
    /// The finding of check `id`, when it failed.
    pub fn failed(&self, id: &str) -> Option<&Finding> {
        self.outcomes.iter().find(|(c, _)| c.id == id).and_then(|(_, f)| f.as_ref())
    }

    /// Every finding, in check order, then the encryption configuration's.
    pub fn findings(&self) -> Vec<Finding> {
        self.outcomes.iter().filter_map(|(_, f)| f.clone()).chain(self.encryption.iter().cloned()).collect()
    }
}

fn parse_bool(flags: &Flags, name: &str, default: bool) -> Result<bool, InputError> {
    match flags.get(name) {
        None => Ok(default),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(bad(flags, name, v, "a boolean (true or false)")),
    }
}

fn parse_int(flags: &Flags, name: &str) -> Result<Option<i64>, InputError> {
    flags.get(name).map(|v| v.parse::<i64>().map_err(|_| bad(flags, name, v, "a whole number"))).transpose()
}

fn bad(flags: &Flags, name: &str, value: &str, what: &str) -> InputError {
    flags.refused(format!("--{name}={value:?} is not {what}; kube-apiserver would not start"))
}

/// A Go duration (`300s`, `1m30s`, `1.5h`, `0`) in seconds.
pub fn go_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let units = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("μs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ];
        let (unit, scale) = units.iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += number * scale;
    }
    Some(if neg { -total } else { total })
}

/// Judges every check on `flags` but AP028, which needs the encryption configuration.
pub fn run(flags: &Flags) -> Result<Report, InputError> {
    run_with(flags, None)
}

/// Why Secrets would be stored in plaintext under `config` (CIS 1.2.28), if they would.
/// CIS names aescbc, kms and secretbox; aesgcm encrypts too and passes (`EN021` is where
/// aescbc's weaker standing is reported).
fn plaintext_secrets(config: &Config) -> Option<String> {
    let providers = config.providers_for("secrets");
    let Some(first) = providers.first() else {
        return Some("the EncryptionConfiguration does not list secrets (nor a wildcard covering them): they are stored in plaintext".into());
    };
    match first.kind {
        Some(ProviderKind::Identity) => Some(format!(
            "secrets are written by identity (providers[{}] of their entry comes first): they are stored in plaintext",
            first.index
        )),
        None => Some("the first provider for secrets names no single type: kube-apiserver refuses the file".into()),
        Some(_) => None,
    }
}

/// Judges every check on `flags`; with `encryption`, the file `--encryption-provider-config`
/// names, also AP028 and that file's own findings (`EN…`, the rules of `secrets validate`).
pub fn run_with(flags: &Flags, encryption: Option<&Config>) -> Result<Report, InputError> {
    let set = |n: &str| flags.get(n).is_some_and(|v| !v.is_empty());
    let admission = crate::admission::read(flags)?;
    let tls = crate::tls::read(flags)?;
    let authorization = crate::authorization::read(flags)?;
    if admission.on("EventRateLimit") && !set("admission-control-config-file") {
        return Err(flags.refused("the EventRateLimit admission plugin is enabled without --admission-control-config-file: with no configuration it has no limits, which it refuses; kube-apiserver would not start".into()));
    }
    let mut failures: Vec<(&str, String, String)> = Vec::new();
    let mut fail = |id: &'static str, message: String, fix: String| failures.push((id, message, fix));

    if parse_bool(flags, "anonymous-auth", true)? {
        let why = if set("anonymous-auth") { "is true" } else { "is not set, and defaults to true" };
        fail(
            "AP001",
            format!("--anonymous-auth {why}: requests without credentials are served as system:anonymous"),
            "--anonymous-auth=false".into(),
        );
    }
    if set("token-auth-file") {
        fail(
            "AP002",
            "--token-auth-file is set: static bearer tokens in a file, never expiring or rotated".into(),
            "remove --token-auth-file; use client certificates, OIDC or service account tokens".into(),
        );
    }
    if !(set("kubelet-client-certificate") && set("kubelet-client-key")) {
        fail("AP003", "--kubelet-client-certificate and --kubelet-client-key are not both set: the API server cannot authenticate to kubelets".into(), "--kubelet-client-certificate=... --kubelet-client-key=...".into());
    }
    if !set("kubelet-certificate-authority") {
        fail(
            "AP004",
            "--kubelet-certificate-authority is not set: kubelets' serving certificates are not verified".into(),
            "--kubelet-certificate-authority=<ca file>".into(),
        );
    }
    if let Authorization::Modes { modes, defaulted } = &authorization {
        let given = if *defaulted {
            "is not set, and defaults to AlwaysAllow".to_string()
        } else {
            format!("is {}", modes.join(","))
        };
        let has = |m: &str| modes.iter().any(|x| x == m);
        if has("AlwaysAllow") {
            fail(
                "AP005",
                format!("--authorization-mode {given}: every authenticated request is allowed"),
                "--authorization-mode=Node,RBAC".into(),
            );
        }
        if !has("Node") {
            fail(
                "AP006",
                format!(
                    "--authorization-mode {given}, without Node: kubelets are not limited to their own node's objects"
                ),
                "add Node to --authorization-mode".into(),
            );
        }
        if !has("RBAC") {
            fail(
                "AP007",
                format!("--authorization-mode {given}, without RBAC: Roles and bindings are not enforced"),
                "add RBAC to --authorization-mode".into(),
            );
        }
    }
    if parse_bool(flags, "profiling", true)? {
        let why = if set("profiling") { "is true" } else { "is not set, and defaults to true" };
        fail(
            "AP008",
            format!("--profiling {why}: /debug/pprof exposes the server's internals"),
            "--profiling=false".into(),
        );
    }
    if admission.on("AlwaysAdmit") {
        fail(
            "AP009",
            format!(
                "the AlwaysAdmit admission plugin {}: it admits every request, whatever other plugins say",
                admission.state("AlwaysAdmit")
            ),
            "remove AlwaysAdmit from --enable-admission-plugins".into(),
        );
    }
    let plugin_checks: [(&str, &str, &str, &str); 6] = [
        ("AP010", "NodeRestriction", "a kubelet can change other nodes and their pods", "add NodeRestriction to --enable-admission-plugins"),
        ("AP029", "DenyServiceExternalIPs", "any Service may claim external IPs and intercept traffic to them (CVE-2020-8554)", "add DenyServiceExternalIPs to --enable-admission-plugins"),
        ("AP030", "EventRateLimit", "nothing limits the rate of Event writes, which can flood the API server and etcd", "add EventRateLimit to --enable-admission-plugins and configure its limits in --admission-control-config-file"),
        ("AP031", "AlwaysPullImages", "a pod may run an image pulled for another pod on its node without the credentials to pull it", "add AlwaysPullImages to --enable-admission-plugins"),
        ("AP032", "ServiceAccount", "pods are not given their service account, nor is it checked that it exists", "remove ServiceAccount from --disable-admission-plugins"),
        ("AP033", "NamespaceLifecycle", "objects can be created in namespaces being deleted or that do not exist", "remove NamespaceLifecycle from --disable-admission-plugins"),
    ];
    for (id, plugin, risk, fix) in plugin_checks {
        if !admission.on(plugin) {
            let fix = if admission.why(plugin) == crate::admission::Why::Legacy {
                format!("add {plugin} to --admission-control (or move to --enable-admission-plugins)")
            } else {
                fix.to_string()
            };
            fail(id, format!("the {plugin} admission plugin {}: {risk}", admission.state(plugin)), fix);
        }
    }
    let strong = crate::tls::CIS_STRONG.join(",");
    if tls.suites.is_empty() && !tls.tls13_only() {
        fail(
            "AP034",
            "--tls-cipher-suites is not set: Go's default suites are served, and for TLS 1.2 they include ECDHE CBC-SHA suites CIS does not list as strong".into(),
            format!("--tls-cipher-suites={strong} (or --tls-min-version=VersionTLS13)"),
        );
    } else if !tls.weak().is_empty() {
        fail(
            "AP034",
            format!("--tls-cipher-suites includes {}, which CIS does not list as strong", tls.weak().join(", ")),
            format!("--tls-cipher-suites={strong}"),
        );
    }
    let audit_path = set("audit-log-path");
    if !audit_path && !set("audit-webhook-config-file") {
        fail(
            "AP011",
            "--audit-log-path is not set: no audit log is written".into(),
            "--audit-log-path=/var/log/kubernetes/audit.log".into(),
        );
    }
    if !set("audit-policy-file") {
        fail(
            "AP012",
            "--audit-policy-file is not set: without a policy no audit event is recorded".into(),
            "--audit-policy-file=<policy> (check it with `podwall audit lint`)".into(),
        );
    }
    for (id, name, min) in
        [("AP013", "audit-log-maxage", 30), ("AP014", "audit-log-maxbackup", 10), ("AP015", "audit-log-maxsize", 100)]
    {
        let v = parse_int(flags, name)?;
        if audit_path && v.is_none_or(|v| v < min) {
            let given = v.map_or("is not set".to_string(), |v| format!("is {v}"));
            fail(id, format!("--{name} {given}; CIS asks for {min} or more"), format!("--{name}={min}"));
        }
    }
    if let Some(v) = flags.get("request-timeout") {
        let secs = go_duration(v).ok_or_else(|| bad(flags, "request-timeout", v, "a duration (e.g. 60s, 5m)"))?;
        if secs <= 0.0 || secs > 3600.0 {
            fail(
                "AP016",
                format!(
                    "--request-timeout is {v}: requests are {}",
                    if secs <= 0.0 { "never timed out" } else { "held open for over an hour" }
                ),
                "--request-timeout=300s (the default is 60s)".into(),
            );
        }
    }
    if !parse_bool(flags, "service-account-lookup", true)? {
        fail(
            "AP017",
            "--service-account-lookup is false: tokens of deleted service accounts stay valid".into(),
            "--service-account-lookup=true".into(),
        );
    }
    if !set("service-account-key-file") {
        fail(
            "AP018",
            "--service-account-key-file is not set: service account tokens cannot be verified with a key of their own"
                .into(),
            "--service-account-key-file=<public key>".into(),
        );
    }
    if !(set("etcd-certfile") && set("etcd-keyfile")) {
        fail("AP019", "--etcd-certfile and --etcd-keyfile are not both set: the API server does not authenticate to etcd with a client certificate".into(), "--etcd-certfile=... --etcd-keyfile=...".into());
    }
    if !(set("tls-cert-file") && set("tls-private-key-file")) {
        fail("AP020", "--tls-cert-file and --tls-private-key-file are not both set: the API server serves a self-signed certificate".into(), "--tls-cert-file=... --tls-private-key-file=...".into());
    }
    if !set("client-ca-file") {
        fail("AP021", "--client-ca-file is not set: client certificates are not accepted, so components cannot authenticate with them".into(), "--client-ca-file=<ca file>".into());
    }
    if !set("etcd-cafile") {
        fail(
            "AP022",
            "--etcd-cafile is not set: etcd's serving certificate is not verified".into(),
            "--etcd-cafile=<ca file>".into(),
        );
    }
    if !set("encryption-provider-config") {
        fail(
            "AP023",
            "--encryption-provider-config is not set: Secrets are stored in etcd in plaintext".into(),
            "--encryption-provider-config=<EncryptionConfiguration> (check it with `podwall secrets validate`)".into(),
        );
    }
    if let Some(why) = encryption.and_then(plaintext_secrets) {
        fail("AP028", why, "put aesgcm, secretbox or kms v2 first for secrets; keep identity last".into());
    }
    if set("insecure-bind-address") {
        fail(
            "AP024",
            format!(
                "--insecure-bind-address is {}: an unauthenticated, unencrypted port may be served there",
                flags.get("insecure-bind-address").unwrap_or_default()
            ),
            "remove --insecure-bind-address".into(),
        );
    }
    if parse_int(flags, "insecure-port")?.is_some_and(|p| p != 0) {
        fail(
            "AP025",
            format!(
                "--insecure-port is {}: an HTTP port with no authentication or authorization",
                flags.get("insecure-port").unwrap_or_default()
            ),
            "remove --insecure-port (or set it to 0)".into(),
        );
    }
    if parse_int(flags, "secure-port")? == Some(0) {
        fail(
            "AP026",
            "--secure-port is 0: the API server serves no HTTPS".into(),
            "remove --secure-port=0 (the default is 6443)".into(),
        );
    }
    if parse_bool(flags, "service-account-extend-token-expiration", true)? {
        let why =
            if set("service-account-extend-token-expiration") { "is true" } else { "is not set, and defaults to true" };
        fail("AP027", format!("--service-account-extend-token-expiration {why}: projected tokens are valid for a year while migrating"), "--service-account-extend-token-expiration=false".into());
    }

    let object = flags.container.as_ref().map(|(pod, _)| {
        let (ns, name) = pod.split_once('/').unwrap_or(("", pod));
        ObjectRef::namespaced("", "Pod", ns, name)
    });
    let mut outcomes = Vec::new();
    for c in CHECKS {
        if c.id == "AP028" && encryption.is_none() {
            continue;
        }
        let finding = failures.iter().find(|(id, _, _)| *id == c.id).map(|(_, message, fix)| {
            let mut f = Finding::new(c.id, c.severity, format!("CIS {}: {message}", c.cis))
                .origin(Origin::file(&flags.source.file, flags.source.line))
                .remediation(fix.clone());
            f = match &object {
                Some(o) => f.object(o.clone()),
                None => f.subject("kube-apiserver"),
            };
            f
        });
        outcomes.push((*c, finding));
    }
    if authorization == Authorization::Structured {
        for id in ["AP005", "AP006", "AP007"] {
            if let Some((c, slot)) = outcomes.iter_mut().find(|(c, _)| c.id == id) {
                *slot = Some(
                    Finding::new(c.id, Info, format!("CIS {}: authorization comes from --authorization-config, which is not read here; not judged", c.cis))
                        .origin(Origin::file(&flags.source.file, flags.source.line))
                        .subject("kube-apiserver"),
                );
            }
        }
    }
    let encryption = encryption.map(podwall_encryption::validate::findings).unwrap_or_default();
    Ok(Report { outcomes, encryption })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_order() {
        let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        assert_eq!(go_duration("300s"), Some(300.0));
        assert_eq!(go_duration("1m30s"), Some(90.0));
        assert_eq!(go_duration("1.5h"), Some(5400.0));
        assert_eq!(go_duration("0"), Some(0.0));
        assert_eq!(go_duration("60"), None, "a unit is required except for 0");
        assert_eq!(go_duration("5x"), None);
    }
}
