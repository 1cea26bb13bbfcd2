//! The baseline checks.
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LifecycleHandler, PodSpec, Probe, SELinuxOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::words::{containers as named, key_value, plural, quoted};
use super::{containers, in_user_namespace, Fail};

fn fail(reason: &str, detail: String) -> Option<Fail> {
    Some(Fail { reason: reason.into(), detail })
}

fn sorted(set: BTreeSet<String>) -> Vec<String> {
    set.into_iter().collect()
}

/// `hostNetwork`, `hostPID` and `hostIPC` must not be `true`.
pub(super) fn host_namespaces(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let shared: Vec<&str> =
        [(spec.host_network, "hostNetwork=true"), (spec.host_pid, "hostPID=true"), (spec.host_ipc, "hostIPC=true")]
            .into_iter()
            .filter(|(set, _)| *set == Some(true))
            .map(|(_, word)| word)
            .collect();
    (!shared.is_empty()).then(|| Fail { reason: "host namespaces".into(), detail: shared.join(", ") })
}

/// No container may set `securityContext.privileged: true`.
pub(super) fn privileged(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|s| s.privileged) == Some(true))
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    fail("privileged", format!("{} must not set securityContext.privileged=true", named(&bad)))
}

/// Capabilities a baseline container may add: the container runtime's default set.
const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// `capabilities.add` holds only names of the default set (`drop` is not looked at).
pub(super) fn capabilities(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut added = BTreeSet::new();
    for c in containers(spec) {
        let adds = c.security_context.and_then(|s| s.capabilities.as_ref()).and_then(|c| c.add.as_ref());
        let mut valid = true;
        for cap in adds.into_iter().flatten() {
            if !DEFAULT_CAPABILITIES.contains(&cap.as_str()) {
                valid = false;
                added.insert(cap.clone());
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    fail(
        "non-default capabilities",
        format!("{} must not include {} in securityContext.capabilities.add", named(&bad), quoted(&sorted(added))),
    )
}

/// No volume may have a `hostPath` source.
pub(super) fn host_path_volumes(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let bad: Vec<&str> =
        spec.volumes.iter().flatten().filter(|v| v.host_path.is_some()).map(|v| v.name.as_str()).collect();
    if bad.is_empty() {
        return None;
    }
    fail("hostPath volumes", format!("{} {}", plural("volume", "volumes", bad.len()), quoted(&bad)))
}

/// No container port may have a `hostPort` other than 0.
pub(super) fn host_ports(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut bad = Vec::new();
    // Upstream keeps the ports as strings in a sorted set: "10" sorts before "9".
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let mut valid = true;
        for p in c.ports.into_iter().flatten() {
            if let Some(hp) = p.host_port.filter(|hp| *hp != 0) {
                valid = false;
                ports.insert(hp.to_string());
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let ports = sorted(ports);
    fail(
        "hostPort",
        format!(
            "{} {} {} {}",
            named(&bad),
            plural("uses", "use", bad.len()),
            plural("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    )
}

fn probe_hosts(p: Option<&Probe>) -> impl Iterator<Item = &String> {
    let http = p.and_then(|p| p.http_get.as_ref()).and_then(|h| h.host.as_ref());
    let tcp = p.and_then(|p| p.tcp_socket.as_ref()).and_then(|t| t.host.as_ref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

fn handler_hosts(h: Option<&LifecycleHandler>) -> impl Iterator<Item = &String> {
    let http = h.and_then(|h| h.http_get.as_ref()).and_then(|h| h.host.as_ref());
    let tcp = h.and_then(|h| h.tcp_socket.as_ref()).and_then(|t| t.host.as_ref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

/// Probes and lifecycle handlers (`httpGet`, `tcpSocket`) must not name a `host` (v1.34+).
pub(super) fn host_probes_and_host_lifecycle(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut bad = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in containers(spec) {
        let lifecycle = c.lifecycle;
        let found: Vec<&String> = c
            .probes
            .iter()
            .flat_map(|p| probe_hosts(*p))
            .chain(handler_hosts(lifecycle.and_then(|l| l.post_start.as_ref())))
            .chain(handler_hosts(lifecycle.and_then(|l| l.pre_stop.as_ref())))
            .collect();
        if !found.is_empty() {
            bad.insert(c.name.to_string());
            hosts.extend(found.into_iter().cloned());
        }
    }
    if bad.is_empty() {
        return None;
    }
    let (bad, hosts) = (sorted(bad), sorted(hosts));
    fail(
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            named(&bad),
            plural("uses", "use", bad.len()),
            plural("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
            quoted(&hosts)
        ),
    )
}

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn apparmor_type_allowed(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

fn apparmor_annotation_allowed(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

/// AppArmor profiles, as fields and as the beta annotations, must be the runtime's
/// default or a local one (every version: upstream has one revision).
pub(super) fn app_armor_profile(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let pod = spec.security_context.as_ref().and_then(|s| s.app_armor_profile.as_ref());
    if let Some(p) = pod.filter(|p| !apparmor_type_allowed(&p.type_)) {
        setters.push("pod".to_string());
        values.insert(p.type_.clone());
    }
    let mut bad = Vec::new();
    for c in containers(spec) {
        let profile = c.security_context.and_then(|s| s.app_armor_profile.as_ref());
        if let Some(p) = profile.filter(|p| !apparmor_type_allowed(&p.type_)) {
            bad.push(c.name);
            values.insert(p.type_.clone());
        }
    }
    if !bad.is_empty() {
        setters.push(named(&bad));
    }
    let mut annotations: Vec<String> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, v)| k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !apparmor_annotation_allowed(v))
        .map(|(k, v)| key_value(k, v))
        .collect();
    let mut values = sorted(values);
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(plural("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    fail(
        plural("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len()),
        format!("{} must not set AppArmor profile type to {}", setters.join(" and "), quoted(&values)),
    )
}

const SELINUX_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_1_31: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

/// SELinux options: a type from the allowed set, no user, no role (v1.0–v1.30).
pub(super) fn se_linux_options(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    se_linux(spec, SELINUX_TYPES_1_0)
}

/// As before, `container_engine_t` allowed too (v1.31+).
pub(super) fn se_linux_options_1_31(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    se_linux(spec, SELINUX_TYPES_1_31)
}

fn se_linux(spec: &PodSpec, allowed: &[&str]) -> Option<Fail> {
    let mut types = BTreeSet::new();
    let (mut user, mut role) = (false, false);
    let mut valid = |o: &SELinuxOptions| {
        let t = o.type_.as_deref().unwrap_or_default();
        let mut ok = true;
        if !allowed.contains(&t) {
            ok = false;
            types.insert(t.to_string());
        }
        if o.user.as_deref().is_some_and(|u| !u.is_empty()) {
            ok = false;
            user = true;
        }
        if o.role.as_deref().is_some_and(|r| !r.is_empty()) {
            ok = false;
            role = true;
        }
        ok
    };
    let mut setters = Vec::new();
    let pod = spec.security_context.as_ref().and_then(|s| s.se_linux_options.as_ref());
    if pod.is_some_and(|o| !valid(o)) {
        setters.push("pod".to_string());
    }
    let mut bad = Vec::new();
    for c in containers(spec) {
        if c.security_context.and_then(|s| s.se_linux_options.as_ref()).is_some_and(|o| !valid(o)) {
            bad.push(c.name);
        }
    }
    if !bad.is_empty() {
        setters.push(named(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !types.is_empty() {
        let types = sorted(types);
        data.push(format!("{} {}", plural("type", "types", types.len()), quoted(&types)));
    }
    if user {
        data.push("user may not be set".to_string());
    }
    if role {
        data.push("role may not be set".to_string());
    }
    fail(
        "seLinuxOptions",
        format!("{} set forbidden securityContext.seLinuxOptions: {}", setters.join(" and "), data.join("; ")),
    )
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn seccomp_annotation_allowed(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

pub(super) fn seccomp_type_allowed(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// Before v1.19: the seccomp annotations (pod, and containers of this pod by name) must
/// name the runtime's default or a local profile; fields are not looked at.
pub(super) fn seccomp_annotations(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let annotations = meta.annotations.as_ref();
    let get = |k: &str| annotations.and_then(|a| a.get(k));
    let mut forbidden = BTreeSet::new();
    if let Some(v) = get(SECCOMP_POD_ANNOTATION).filter(|v| !seccomp_annotation_allowed(v)) {
        forbidden.insert(key_value(SECCOMP_POD_ANNOTATION, v));
    }
    for c in containers(spec) {
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name);
        if let Some(v) = get(&key).filter(|v| !seccomp_annotation_allowed(v)) {
            forbidden.insert(key_value(&key, v));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden = sorted(forbidden);
    fail(
        "seccompProfile",
        format!("forbidden {} {}", plural("annotation", "annotations", forbidden.len()), forbidden.join(", ")),
    )
}

/// From v1.19: a seccomp profile set on the pod or a container must be `RuntimeDefault`
/// or `Localhost`; annotations are not looked at.
pub(super) fn seccomp_fields(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let pod = spec.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref());
    if let Some(p) = pod.filter(|p| !seccomp_type_allowed(&p.type_)) {
        setters.push("pod".to_string());
        values.insert(p.type_.clone());
    }
    let mut bad = Vec::new();
    for c in containers(spec) {
        if let Some(p) = c.security_context.and_then(|s| s.seccomp_profile.as_ref()) {
            if !seccomp_type_allowed(&p.type_) {
                bad.push(c.name);
                values.insert(p.type_.clone());
            }
        }
    }
    if !bad.is_empty() {
        setters.push(named(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    fail(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            quoted(&sorted(values))
        ),
    )
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
const SYSCTLS_1_37: &[&str] = &["net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"];

/// Sysctl names allowed at the list's version: each list adds to the ones before it.
const SYSCTL_LISTS: &[&[&str]] = &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29, SYSCTLS_1_32, SYSCTLS_1_37];

fn sysctls(spec: &PodSpec, lists: usize) -> Option<Fail> {
    let allowed = |name: &str| SYSCTL_LISTS[..lists].iter().any(|l| l.contains(&name));
    let bad: Vec<&str> = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref())
        .into_iter()
        .flatten()
        .map(|s| s.name.as_str())
        .filter(|n| !allowed(n))
        .collect();
    (!bad.is_empty()).then(|| Fail { reason: "forbidden sysctls".into(), detail: bad.join(", ") })
}

/// Only the safe sysctls of v1.0.
pub(super) fn sysctls_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    sysctls(spec, 1)
}

/// Plus `net.ipv4.ip_local_reserved_ports`.
pub(super) fn sysctls_1_27(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    sysctls(spec, 2)
}

/// Plus the TCP keepalive and FIN timeout sysctls.
pub(super) fn sysctls_1_29(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    sysctls(spec, 3)
}

/// Plus `net.ipv4.tcp_rmem` and `net.ipv4.tcp_wmem`.
pub(super) fn sysctls_1_32(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    sysctls(spec, 4)
}

/// Plus `net.ipv4.tcp_slow_start_after_idle` and `net.ipv4.tcp_notsent_lowat`.
pub(super) fn sysctls_1_37(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    sysctls(spec, 5)
}

/// Neither the pod nor a container may set `windowsOptions.hostProcess: true`.
pub(super) fn windows_host_process(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| {
            c.security_context.and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process) == Some(true)
        })
        .map(|c| c.name)
        .collect();
    let pod = spec.security_context.as_ref().and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process);
    let mut setters = Vec::new();
    if pod == Some(true) {
        setters.push("pod".to_string());
    }
    if !bad.is_empty() {
        setters.push(named(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    fail(
        "hostProcess",
        format!("{} must not set securityContext.windowsOptions.hostProcess=true", setters.join(" and ")),
    )
}

/// `procMount` must be unset or `Default` (also the restricted `procMount_restricted`).
pub(super) fn proc_mount(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut kinds = BTreeSet::new();
    for c in containers(spec) {
        if let Some(pm) = c.security_context.and_then(|s| s.proc_mount.as_ref()).filter(|pm| *pm != "Default") {
            bad.push(c.name);
            kinds.insert(pm.clone());
        }
    }
    if bad.is_empty() {
        return None;
    }
    fail("procMount", format!("{} must not set securityContext.procMount to {}", named(&bad), quoted(&sorted(kinds))))
}

/// From v1.35: as before, but any `procMount` is allowed in a user namespace.
pub(super) fn proc_mount_1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    if in_user_namespace(spec) {
        return None;
    }
    proc_mount(meta, spec)
}
