//! What the admission plugin does with one Pod or workload in a namespace: exemptions,
//! then each mode (enforce, audit, warn) at its level and version.
//!
//! As upstream: a Pod is rejected when enforce finds violations, gets an audit
//! annotation when audit does, and a warning when warn does and it was not rejected.
//! A workload object (Deployment, ..., PodTemplate) is never rejected: audit and warn
//! judge its template; enforce applies to the pods it makes, judged here from the
//! same template.
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::checks::{evaluate, Violation};
use crate::config::Config;
use crate::level::LevelVersion;
use crate::policy::Policy;

/// Why a request is not judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exempt {
    /// Its namespace is exempt.
    Namespace,
    /// The requesting user is exempt.
    Username,
    /// The pod's runtime class is exempt.
    RuntimeClass,
}

impl Exempt {
    /// As the plugin's `exempt` audit annotation says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Exempt::Namespace => "namespace",
            Exempt::Username => "user",
            Exempt::RuntimeClass => "runtimeClass",
        }
    }
}

/// One mode's judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// The level and version it judged at.
    pub policy: LevelVersion,
    /// What it found (empty: nothing).
    pub violations: Vec<Violation>,
}

/// What the plugin would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Not judged, and why.
    pub exempt: Option<Exempt>,
    /// Enforce's judgement (for a workload: of the pods it makes).
    pub enforce: Option<Judged>,
    /// Audit's judgement.
    pub audit: Option<Judged>,
    /// Warn's judgement; `None` when no warning would be sent (exempt, or the pod was
    /// rejected).
    pub warn: Option<Judged>,
}

impl Decision {
    /// Whether enforce rejects the pod (for a workload: the pods it makes).
    pub fn rejected(&self) -> bool {
        self.enforce.as_ref().is_some_and(|j| !j.violations.is_empty())
    }

    /// Whether audit records violations.
    pub fn audited(&self) -> bool {
        self.audit.as_ref().is_some_and(|j| !j.violations.is_empty())
    }

    /// Whether warn returns violations.
    pub fn warned(&self) -> bool {
        self.warn.as_ref().is_some_and(|j| !j.violations.is_empty())
    }
}

/// The request being judged.
pub struct Request<'a> {
    /// The namespace it is made in.
    pub namespace: &'a str,
    /// The requesting user, if one is given.
    pub user: Option<&'a str>,
    /// The pod's (or template's) metadata.
    pub meta: &'a ObjectMeta,
    /// The pod spec.
    pub spec: &'a PodSpec,
}

/// What the plugin configured by `config` does with `request` in a namespace whose
/// policy is `policy`.
pub fn decide(config: &Config, policy: &Policy, request: &Request<'_>) -> Decision {
    let exempt = if config.exempt_namespace(request.namespace) {
        Some(Exempt::Namespace)
    } else if request.user.is_some_and(|u| config.exempt_user(u)) {
        Some(Exempt::Username)
    } else if config.exempt_runtime_class(request.spec.runtime_class_name.as_deref()) {
        Some(Exempt::RuntimeClass)
    } else {
        None
    };
    if exempt.is_some() {
        return Decision { exempt, enforce: None, audit: None, warn: None };
    }
    let judge = |lv: LevelVersion| Judged { policy: lv, violations: evaluate(lv, request.meta, request.spec) };
    let enforce = judge(policy.enforce);
    let audit = judge(policy.audit);
    let warn = match enforce.violations.is_empty() {
        true => Some(judge(policy.warn)),
        false => None,
    };
    Decision { exempt, enforce: Some(enforce), audit: Some(audit), warn }
}

/// [`decide`] for a workload object: audit and warn judge the object itself (which is
/// always admitted); `enforce` is the judgement of the pods it makes, and warn is sent
/// whatever enforce says.
pub fn decide_workload(config: &Config, policy: &Policy, request: &Request<'_>) -> Decision {
    let mut d = decide(config, policy, request);
    if d.exempt.is_none() && d.warn.is_none() {
        d.warn = Some(Judged { policy: policy.warn, violations: evaluate(policy.warn, request.meta, request.spec) });
    }
    d
}
