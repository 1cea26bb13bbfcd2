//! The restricted checks.
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PodSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::baseline::seccomp_type_allowed;
use super::words::{containers as named, plural, quoted};
use super::{containers, in_user_namespace, is_windows, Fail};

fn fail(reason: &str, detail: String) -> Option<Fail> {
    Some(Fail { reason: reason.into(), detail })
}

/// The name of a volume's source when it is not one restricted allows; `None` when it
/// is allowed. A volume with no source known to the API is `unknown`.
fn restricted_source(v: &Volume) -> Option<&'static str> {
    let allowed = v.config_map.is_some()
        || v.csi.is_some()
        || v.downward_api.is_some()
        || v.empty_dir.is_some()
        || v.ephemeral.is_some()
        || v.image.is_some()
        || v.persistent_volume_claim.is_some()
        || v.projected.is_some()
        || v.secret.is_some();
    if allowed {
        return None;
    }
    let named = [
        (v.host_path.is_some(), "hostPath"),
        (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (v.git_repo.is_some(), "gitRepo"),
        (v.nfs.is_some(), "nfs"),
        (v.iscsi.is_some(), "iscsi"),
        (v.glusterfs.is_some(), "glusterfs"),
        (v.rbd.is_some(), "rbd"),
        (v.flex_volume.is_some(), "flexVolume"),
        (v.cinder.is_some(), "cinder"),
        (v.cephfs.is_some(), "cephfs"),
        (v.flocker.is_some(), "flocker"),
        (v.fc.is_some(), "fc"),
        (v.azure_file.is_some(), "azureFile"),
        (v.vsphere_volume.is_some(), "vsphereVolume"),
        (v.quobyte.is_some(), "quobyte"),
        (v.azure_disk.is_some(), "azureDisk"),
        (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (v.portworx_volume.is_some(), "portworxVolume"),
        (v.scale_io.is_some(), "scaleIO"),
        (v.storageos.is_some(), "storageos"),
    ];
    Some(named.into_iter().find(|(set, _)| *set).map(|(_, n)| n).unwrap_or("unknown"))
}

/// Volumes only of the kinds restricted allows (configMap, csi, downwardAPI, emptyDir,
/// ephemeral, image, persistentVolumeClaim, projected, secret).
pub(super) fn volumes(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut kinds = BTreeSet::new();
    for v in spec.volumes.iter().flatten() {
        if let Some(kind) = restricted_source(v) {
            bad.push(v.name.as_str());
            kinds.insert(kind);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let kinds: Vec<&str> = kinds.into_iter().collect();
    fail(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            plural("volume", "volumes", bad.len()),
            quoted(&bad),
            plural("uses", "use", bad.len()),
            plural("restricted volume type", "restricted volume types", kinds.len()),
            quoted(&kinds)
        ),
    )
}

/// Every container sets `allowPrivilegeEscalation: false` explicitly (v1.8+).
pub(super) fn allow_privilege_escalation(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|s| s.allow_privilege_escalation) != Some(false))
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    fail(
        "allowPrivilegeEscalation != false",
        format!("{} must set securityContext.allowPrivilegeEscalation=false", named(&bad)),
    )
}

/// From v1.25: as before; Windows pods pass.
pub(super) fn allow_privilege_escalation_1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    if is_windows(spec) {
        return None;
    }
    allow_privilege_escalation(meta, spec)
}

/// The pod, or else every container, sets `runAsNonRoot: true`, and nothing sets it
/// `false`.
pub(super) fn run_as_non_root(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut setters = Vec::new();
    let pod = spec.security_context.as_ref().and_then(|s| s.run_as_non_root);
    if pod == Some(false) {
        setters.push("pod".to_string());
    }
    let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
    for c in containers(spec) {
        match c.security_context.and_then(|s| s.run_as_non_root) {
            Some(false) => explicit.push(c.name),
            Some(true) => {}
            None if pod != Some(true) => implicit.push(c.name),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(named(&explicit));
    }
    if !setters.is_empty() {
        return fail(
            "runAsNonRoot != true",
            format!("{} must not set securityContext.runAsNonRoot=false", setters.join(" and ")),
        );
    }
    if !implicit.is_empty() {
        return fail(
            "runAsNonRoot != true",
            format!("pod or {} must set securityContext.runAsNonRoot=true", named(&implicit)),
        );
    }
    None
}

/// From v1.35: as before; pods in a user namespace pass.
pub(super) fn run_as_non_root_1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    if in_user_namespace(spec) {
        return None;
    }
    run_as_non_root(meta, spec)
}

/// Neither the pod nor a container sets `runAsUser: 0` (v1.23+).
pub(super) fn run_as_user(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut setters = Vec::new();
    if spec.security_context.as_ref().and_then(|s| s.run_as_user) == Some(0) {
        setters.push("pod".to_string());
    }
    let bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|s| s.run_as_user) == Some(0))
        .map(|c| c.name)
        .collect();
    if !bad.is_empty() {
        setters.push(named(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    fail("runAsUser=0", format!("{} must not set runAsUser=0", setters.join(" and ")))
}

/// From v1.35: as before; pods in a user namespace pass.
pub(super) fn run_as_user_1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    if in_user_namespace(spec) {
        return None;
    }
    run_as_user(meta, spec)
}

/// A seccomp profile of type `RuntimeDefault` or `Localhost` on the pod, or else on
/// every container; none of another type anywhere (v1.19+).
pub(super) fn seccomp(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(p) = spec.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref()) {
        if seccomp_type_allowed(&p.type_) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            values.insert(p.type_.clone());
        }
    }
    let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
    for c in containers(spec) {
        match c.security_context.and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) if !seccomp_type_allowed(&p.type_) => {
                explicit.push(c.name);
                values.insert(p.type_.clone());
            }
            Some(_) => {}
            None if !pod_set => implicit.push(c.name),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(named(&explicit));
    }
    if !setters.is_empty() {
        let values: Vec<String> = values.into_iter().collect();
        return fail(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                quoted(&values)
            ),
        );
    }
    if !implicit.is_empty() {
        return fail(
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                named(&implicit)
            ),
        );
    }
    None
}

/// From v1.25: as before; Windows pods pass.
pub(super) fn seccomp_1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    if is_windows(spec) {
        return None;
    }
    seccomp(meta, spec)
}

/// Every container drops `ALL` and adds nothing but `NET_BIND_SERVICE` (v1.22+).
pub(super) fn capabilities(_: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    let (mut missing_drop, mut adding) = (Vec::new(), Vec::new());
    let mut added = BTreeSet::new();
    for c in containers(spec) {
        let Some(caps) = c.security_context.and_then(|s| s.capabilities.as_ref()) else {
            missing_drop.push(c.name);
            continue;
        };
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            missing_drop.push(c.name);
        }
        let mut forbidden = false;
        for a in caps.add.iter().flatten().filter(|a| *a != "NET_BIND_SERVICE") {
            forbidden = true;
            added.insert(a.clone());
        }
        if forbidden {
            adding.push(c.name);
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!("{} must set securityContext.capabilities.drop=[\"ALL\"]", named(&missing_drop)));
    }
    if !adding.is_empty() {
        let added: Vec<String> = added.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            named(&adding),
            quoted(&added)
        ));
    }
    if details.is_empty() {
        return None;
    }
    fail("unrestricted capabilities", details.join("; "))
}

/// From v1.25: as before; Windows pods pass.
pub(super) fn capabilities_1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Fail> {
    if is_windows(spec) {
        return None;
    }
    capabilities(meta, spec)
}
