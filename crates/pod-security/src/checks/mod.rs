//! The checks of the Pod Security Standards and the versions they are judged at.
//!
//! Each check has an ID (the string upstream uses), a level and one or more revisions,
//! each starting at a minor version. At version `v1.N` a check runs its newest revision
//! starting at or before `N`; a check whose first revision is newer does not run. At
//! `restricted`, every baseline check runs too, except those a running restricted
//! revision replaces. Results come in upstream's order: baseline IDs sorted, then
//! restricted IDs sorted.
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EphemeralContainer, Lifecycle, PodSpec, Probe, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::level::{Level, LevelVersion};

mod baseline;
mod restricted;
mod words;

/// Why a check refused a pod: upstream's short reason and its detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail {
    /// The short reason, e.g. `privileged`.
    pub reason: String,
    /// Which containers, fields and values, e.g.
    /// `container "app" must not set securityContext.privileged=true`.
    pub detail: String,
}

/// One check that refused a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The check's ID, e.g. `allowPrivilegeEscalation`.
    pub check: &'static str,
    /// Why.
    pub fail: Fail,
}

/// What a check sees: the pod's (or template's) metadata and spec.
pub type CheckFn = fn(&ObjectMeta, &PodSpec) -> Option<Fail>;

/// One revision of a check.
#[derive(Clone, Copy)]
pub struct Revision {
    /// The first minor version (of `v1.N`) it judges.
    pub from: u32,
    /// The check.
    pub check: CheckFn,
    /// Baseline checks this revision replaces at `restricted`.
    pub replaces: &'static [&'static str],
}

/// A check and its revisions, oldest first.
pub struct Check {
    /// Its ID.
    pub id: &'static str,
    /// Baseline or restricted.
    pub level: Level,
    /// Its revisions, oldest first.
    pub revisions: &'static [Revision],
}

impl Check {
    /// The revision judging pods at minor version `minor`, if the check exists then.
    pub fn at(&self, minor: u32) -> Option<&Revision> {
        self.revisions.iter().rev().find(|r| r.from <= minor)
    }
}

const fn rev(from: u32, check: CheckFn) -> Revision {
    Revision { from, check, replaces: &[] }
}

const fn replacing(from: u32, check: CheckFn, replaces: &'static [&'static str]) -> Revision {
    Revision { from, check, replaces }
}

use baseline as b;
use restricted as r;

/// Every check, baseline IDs sorted then restricted IDs sorted (byte order, as upstream
/// sorts them): the order results are reported in.
pub static CHECKS: &[Check] = &[
    Check { id: "appArmorProfile", level: Level::Baseline, revisions: &[rev(0, b::app_armor_profile)] },
    Check { id: "capabilities_baseline", level: Level::Baseline, revisions: &[rev(0, b::capabilities)] },
    Check { id: "hostNamespaces", level: Level::Baseline, revisions: &[rev(0, b::host_namespaces)] },
    Check { id: "hostPathVolumes", level: Level::Baseline, revisions: &[rev(0, b::host_path_volumes)] },
    Check { id: "hostPorts", level: Level::Baseline, revisions: &[rev(0, b::host_ports)] },
    Check {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        revisions: &[rev(34, b::host_probes_and_host_lifecycle)],
    },
    Check { id: "privileged", level: Level::Baseline, revisions: &[rev(0, b::privileged)] },
    Check { id: "procMount", level: Level::Baseline, revisions: &[rev(0, b::proc_mount), rev(35, b::proc_mount_1_35)] },
    Check {
        id: "seLinuxOptions",
        level: Level::Baseline,
        revisions: &[rev(0, b::se_linux_options), rev(31, b::se_linux_options_1_31)],
    },
    Check {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        revisions: &[rev(0, b::seccomp_annotations), rev(19, b::seccomp_fields)],
    },
    Check {
        id: "sysctls",
        level: Level::Baseline,
        revisions: &[
            rev(0, b::sysctls_1_0),
            rev(27, b::sysctls_1_27),
            rev(29, b::sysctls_1_29),
            rev(32, b::sysctls_1_32),
            rev(37, b::sysctls_1_37),
        ],
    },
    Check { id: "windowsHostProcess", level: Level::Baseline, revisions: &[rev(0, b::windows_host_process)] },
    Check {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        revisions: &[rev(8, r::allow_privilege_escalation), rev(25, r::allow_privilege_escalation_1_25)],
    },
    Check {
        id: "capabilities_restricted",
        level: Level::Restricted,
        revisions: &[
            replacing(22, r::capabilities, &["capabilities_baseline"]),
            replacing(25, r::capabilities_1_25, &["capabilities_baseline"]),
        ],
    },
    Check {
        id: "procMount_restricted",
        level: Level::Restricted,
        revisions: &[replacing(35, b::proc_mount, &["procMount"])],
    },
    Check {
        id: "restrictedVolumes",
        level: Level::Restricted,
        revisions: &[replacing(0, r::volumes, &["hostPathVolumes"])],
    },
    Check {
        id: "runAsNonRoot",
        level: Level::Restricted,
        revisions: &[rev(0, r::run_as_non_root), rev(35, r::run_as_non_root_1_35)],
    },
    Check {
        id: "runAsUser",
        level: Level::Restricted,
        revisions: &[rev(23, r::run_as_user), rev(35, r::run_as_user_1_35)],
    },
    Check {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        revisions: &[
            replacing(19, r::seccomp, &["seccompProfile_baseline"]),
            replacing(25, r::seccomp_1_25, &["seccompProfile_baseline"]),
        ],
    },
];

/// The check with this ID.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// The checks that run at `lv`, with the revision each runs, in report order.
pub fn running(lv: LevelVersion) -> Vec<(&'static Check, &'static Revision)> {
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    let minor = lv.version.effective_minor();
    let at = |c: &'static Check| c.at(minor).map(|r| (c, r));
    let restricted: Vec<_> = match lv.level {
        Level::Restricted => CHECKS.iter().filter(|c| c.level == Level::Restricted).filter_map(at).collect(),
        _ => Vec::new(),
    };
    let replaced = |id: &str| restricted.iter().any(|(_, r)| r.replaces.contains(&id));
    let mut out: Vec<_> =
        CHECKS.iter().filter(|c| c.level == Level::Baseline && !replaced(c.id)).filter_map(at).collect();
    out.extend(restricted);
    out
}

/// Judges a pod (or a pod template) at a level and version: every check that refuses
/// it, once, in report order. An empty list means the pod is allowed.
pub fn evaluate(lv: LevelVersion, meta: &ObjectMeta, spec: &PodSpec) -> Vec<Violation> {
    running(lv)
        .into_iter()
        .filter_map(|(c, r)| (r.check)(meta, spec).map(|fail| Violation { check: c.id, fail }))
        .collect()
}

/// Upstream's short form of a refusal, without the details: `reason, reason` (what a
/// namespace update's dry run of existing pods reports, so that pods refused for the
/// same reasons read alike).
pub fn forbidden_reason(violations: &[Violation]) -> String {
    violations.iter().map(|v| v.fail.reason.as_str()).collect::<Vec<_>>().join(", ")
}

/// Upstream's one-line form of a refusal: `reason (detail), reason (detail)`.
pub fn forbidden_detail(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| match v.fail.detail.is_empty() {
            true => v.fail.reason.clone(),
            false => format!("{} ({})", v.fail.reason, v.fail.detail),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parts of a container the checks read; init, regular and ephemeral containers
/// alike.
pub(crate) struct C<'a> {
    pub name: &'a str,
    pub security_context: Option<&'a SecurityContext>,
    pub ports: Option<&'a [ContainerPort]>,
    pub probes: [Option<&'a Probe>; 3],
    pub lifecycle: Option<&'a Lifecycle>,
}

/// Both container types have the same fields under the same names.
macro_rules! container_view {
    ($t:ty) => {
        impl<'a> From<&'a $t> for C<'a> {
            fn from(c: &'a $t) -> Self {
                C {
                    name: &c.name,
                    security_context: c.security_context.as_ref(),
                    ports: c.ports.as_deref(),
                    probes: [c.liveness_probe.as_ref(), c.readiness_probe.as_ref(), c.startup_probe.as_ref()],
                    lifecycle: c.lifecycle.as_ref(),
                }
            }
        }
    };
}

container_view!(Container);
container_view!(EphemeralContainer);

/// Every container, in upstream's order: init containers, containers, ephemeral
/// containers.
pub(crate) fn containers(spec: &PodSpec) -> impl Iterator<Item = C<'_>> {
    let init = spec.init_containers.iter().flatten().map(C::from);
    let regular = spec.containers.iter().map(C::from);
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(C::from);
    init.chain(regular).chain(ephemeral)
}

/// Whether `spec.os.name` is exactly `windows`.
pub(crate) fn is_windows(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

/// Whether `spec.hostUsers` is explicitly `false` (the pod runs in a user namespace).
pub(crate) fn in_user_namespace(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_listed_in_upstream_report_order() {
        let ids = |level| CHECKS.iter().filter(|c| c.level == level).map(|c| c.id).collect::<Vec<_>>();
        for level in [Level::Baseline, Level::Restricted] {
            let mut sorted = ids(level);
            sorted.sort_unstable();
            assert_eq!(ids(level), sorted);
        }
        let first_restricted = CHECKS.iter().position(|c| c.level == Level::Restricted).unwrap_or(0);
        assert!(CHECKS[first_restricted..].iter().all(|c| c.level == Level::Restricted));
    }

    #[test]
    fn revisions_start_in_strictly_increasing_order_and_replace_only_baseline_checks() {
        for c in CHECKS {
            assert!(c.revisions.windows(2).all(|w| w[0].from < w[1].from), "{}", c.id);
            for r in c.revisions {
                assert!(r.replaces.is_empty() || c.level == Level::Restricted, "{}", c.id);
                for id in r.replaces {
                    assert_eq!(check(id).map(|c| c.level), Some(Level::Baseline), "{} replaces {id}", c.id);
                }
            }
        }
    }

    #[test]
    fn the_newest_revision_is_the_newest_version() {
        let newest = CHECKS.iter().flat_map(|c| c.revisions).map(|r| r.from).max();
        assert_eq!(newest, Some(crate::level::NEWEST_MINOR));
    }
}
