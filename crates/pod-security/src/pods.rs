//! The pods and pod templates of the input, and violations as findings.
use podwall_findings::{Finding, ObjectRef, Origin, Severity};
use podwall_load::podspec::{pod_spec, PodSpecView};
use podwall_load::{InputError, Object};

use crate::checks::{self, Violation};
use crate::level::Level;

/// A Pod, or an object with a pod template, as Pod Security judges it.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// The object.
    pub object: &'a Object,
    /// Its pod spec and the metadata that goes with it.
    pub pod: PodSpecView,
}

impl Subject<'_> {
    /// The object's namespace (`default` when it names none).
    pub fn namespace(&self) -> &str {
        self.object.namespace.as_deref().unwrap_or("default")
    }

    /// The object as a finding names it.
    pub fn object_ref(&self) -> ObjectRef {
        let group = self.object.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        ObjectRef::namespaced(group, &self.object.kind, self.namespace(), &self.object.name)
    }

    /// Where the object was read.
    pub fn origin(&self) -> Origin {
        Origin::file(&self.object.source.file, self.object.source.line)
    }
}

/// Every Pod and pod template of `objects`, in input order, with its whole pod spec.
/// The objects must have been loaded keeping their documents
/// ([`podwall_load::podspec::carries_pod_spec`]).
pub fn subjects(objects: &[Object]) -> Result<Vec<Subject<'_>>, InputError> {
    subjects_lenient(objects, &|_| false).map(|(s, _)| s)
}

/// Like [`subjects`], passing over (and returning) the objects whose pod spec does not
/// read when they come from a file `lenient` accepts (`--skip-invalid`).
pub fn subjects_lenient<'a>(
    objects: &'a [Object],
    lenient: &dyn Fn(&str) -> bool,
) -> Result<(Vec<Subject<'a>>, Vec<InputError>), InputError> {
    let (mut out, mut passed) = (Vec::new(), Vec::new());
    for object in objects {
        match pod_spec(object) {
            Ok(Some(pod)) => out.push(Subject { object, pod }),
            Ok(None) => {}
            Err(e) if lenient(&object.source.file) => passed.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok((out, passed))
}

/// What to do about a failing check, in one line.
pub fn remediation(check: &str) -> &'static str {
    match check {
        "hostNamespaces" => "remove spec.hostNetwork, spec.hostPID and spec.hostIPC (or set them to false)",
        "privileged" => "remove securityContext.privileged (or set it to false)",
        "capabilities_baseline" => "add only capabilities of the runtime's default set, or none",
        "hostPathVolumes" => "replace hostPath volumes with persistentVolumeClaim, configMap, secret or emptyDir",
        "hostPorts" => "remove hostPort from the container ports; expose the pod through a Service",
        "hostProbesAndHostLifecycle" => "remove `host` from httpGet/tcpSocket probes and lifecycle handlers",
        "appArmorProfile" => "use AppArmor profile type RuntimeDefault or Localhost, or leave it unset",
        "seLinuxOptions" => "leave seLinuxOptions user and role unset and use an allowed container type",
        "seccompProfile_baseline" => "use seccomp profile RuntimeDefault or Localhost, or leave it unset",
        "sysctls" => "set only the safe sysctls of this policy version",
        "windowsHostProcess" => "remove windowsOptions.hostProcess (or set it to false)",
        "procMount" | "procMount_restricted" => "remove securityContext.procMount (or set it to Default)",
        "restrictedVolumes" => {
            "use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret volumes"
        }
        "allowPrivilegeEscalation" => "set securityContext.allowPrivilegeEscalation: false on every container",
        "runAsNonRoot" => "set securityContext.runAsNonRoot: true on the pod (and false nowhere)",
        "runAsUser" => "do not set runAsUser: 0; run as a non-zero user ID",
        "seccompProfile_restricted" => "set securityContext.seccompProfile.type: RuntimeDefault on the pod",
        "capabilities_restricted" => "set capabilities.drop: [\"ALL\"] on every container and add at most NET_BIND_SERVICE",
        _ => "see the Pod Security Standards for this check",
    }
}

/// A violation as a finding: the check's ID, high for a baseline check and medium for a
/// restricted one, the object and where it was read, upstream's reason and detail.
pub fn finding(subject: &Subject<'_>, v: &Violation) -> Finding {
    let severity = match checks::check(v.check).map(|c| c.level) {
        Some(Level::Baseline) => Severity::High,
        _ => Severity::Medium,
    };
    let message = match v.fail.detail.is_empty() {
        true => v.fail.reason.clone(),
        false => format!("{} ({})", v.fail.reason, v.fail.detail),
    };
    Finding::new(v.check, severity, message)
        .object(subject.object_ref())
        .origin(subject.origin())
        .remediation(remediation(v.check))
}
