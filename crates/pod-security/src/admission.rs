//! What the admission plugin does with one Pod or workload in a namespace: exemptions,
//! then each mode (enforce, audit, warn) at its level and version.
//!
//! As upstream: a Pod is rejected when enforce finds violations, gets an audit
//! annotation when audit does, and a warning when warn does and it was not rejected.
//! A workload object (Deployment, ..., PodTemplate) is never rejected: audit and warn
//! judge its template; enforce applies to the pods it makes, judged here from the
//! same template.
//!
//! A namespace update that tightens enforce ([`tightens_enforce`]) dry-runs the pods
//! already in the namespace at the new level ([`dry_run`]): nothing is refused, the
//! pods that would now be are reported, a bounded number of them in a bounded time.
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::checks::{evaluate, forbidden_reason, Violation};
use crate::config::Config;
use crate::level::{Level, LevelVersion};
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

/// Whether a namespace update that changes the enforce policy from `old` to `new`
/// dry-runs the namespace's pods, as upstream's `ValidateNamespace` decides: not when
/// it is unchanged, not when the new level is privileged, not when the version stays
/// and the level is no stricter. Any change of version counts, to an older one too.
pub fn tightens_enforce(old: LevelVersion, new: LevelVersion) -> bool {
    old != new && new.level != Level::Privileged && !(new.version == old.version && new.level <= old.level)
}

/// Upstream's `namespaceMaxPodsToCheck`.
pub const MAX_PODS_TO_CHECK: usize = 3000;
/// Upstream's `namespacePodCheckTimeout`.
pub const POD_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// How much of a namespace a dry run looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DryRunLimits {
    /// At most this many pods are judged.
    pub max_pods: usize,
    /// No pod is judged once this much time has passed (one always is).
    pub timeout: Duration,
}

impl Default for DryRunLimits {
    /// Upstream's: 3000 pods, one second.
    fn default() -> Self {
        DryRunLimits { max_pods: MAX_PODS_TO_CHECK, timeout: POD_CHECK_TIMEOUT }
    }
}

/// One pod already in a namespace.
#[derive(Clone, Debug)]
struct Existing {
    name: String,
    /// The UID of its controller (its owner reference with `controller: true`).
    controller: Option<String>,
    /// Which of the distinct pod specs it has.
    spec: usize,
}

/// The pods already in one namespace, in the order given, as a dry run judges them:
/// each distinct pod spec (with the annotations the checks read) is kept, and judged,
/// once however many pods share it.
#[derive(Clone, Debug, Default)]
pub struct ExistingPods {
    pods: Vec<Existing>,
    specs: Vec<(ObjectMeta, PodSpec)>,
}

impl ExistingPods {
    /// Pods from `(name, metadata, spec)`.
    pub fn new(pods: impl IntoIterator<Item = (String, ObjectMeta, PodSpec)>) -> Self {
        let mut out = ExistingPods::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (name, meta, spec) in pods {
            let controller = meta
                .owner_references
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find(|r| r.controller == Some(true))
                .map(|r| r.uid.clone());
            let judged = ObjectMeta { annotations: meta.annotations, ..ObjectMeta::default() };
            // The checks read the annotations and the spec alone: pods equal in both
            // are judged alike. A spec that does not serialize is kept on its own.
            let key = serde_json::to_string(&(&judged.annotations, &spec)).ok();
            let known = key.as_ref().and_then(|k| index.get(k).copied());
            let spec = match known {
                Some(i) => i,
                None => {
                    out.specs.push((judged, spec));
                    if let Some(k) = key {
                        index.insert(k, out.specs.len() - 1);
                    }
                    out.specs.len() - 1
                }
            };
            out.pods.push(Existing { name, controller, spec });
        }
        out
    }

    /// How many pods there are.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// How many distinct pod specs they have.
    pub fn distinct_specs(&self) -> usize {
        self.specs.len()
    }

    /// Upstream's `prioritizePods`: pods of an exempt runtime class left out; then each
    /// pod without a controller and the first of each controller's, in order; then the
    /// other pods of controllers already seen.
    fn prioritized(&self, config: &Config) -> Vec<&Existing> {
        let (mut first, mut later) = (Vec::new(), Vec::new());
        let mut controllers = HashSet::new();
        for pod in &self.pods {
            if config.exempt_runtime_class(self.specs[pod.spec].1.runtime_class_name.as_deref()) {
                continue;
            }
            match &pod.controller {
                Some(uid) if !controllers.insert(uid.as_str()) => later.push(pod),
                _ => first.push(pod),
            }
        }
        first.extend(later);
        first
    }
}

/// Pods that would be refused for the same reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The reasons, without details ([`forbidden_reason`]).
    pub reasons: String,
    /// The lexically first of the pods' names.
    pub first: String,
    /// How many pods.
    pub pods: usize,
}

/// What a dry run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
    /// How many pods were judged.
    pub checked: usize,
    /// How many could have been (pods of exempt runtime classes left out).
    pub total: usize,
    /// The pods that would be refused, by reasons, in the order first found.
    pub refused: Vec<Refused>,
}

/// Upstream's `EvaluatePodsInNamespace`: the existing pods judged at `enforce`, in
/// [`ExistingPods::prioritized`] order, until `limits` says stop. Pods of an exempt
/// runtime class are not judged; the user exemption does not apply (no user creates
/// an existing pod).
pub fn dry_run(config: &Config, enforce: LevelVersion, pods: &ExistingPods, limits: DryRunLimits) -> DryRun {
    let deadline = Instant::now().checked_add(limits.timeout);
    let order = pods.prioritized(config);
    let total = order.len();
    let mut checked = total.min(limits.max_pods);
    // For each distinct spec once judged: allowed (`None`), or the index of its reasons.
    let mut verdicts: Vec<Option<Option<usize>>> = vec![None; pods.specs.len()];
    let mut by_reasons: HashMap<String, usize> = HashMap::new();
    let mut refused: Vec<Refused> = Vec::new();
    for (i, pod) in order.iter().take(limits.max_pods).enumerate() {
        let verdict = match verdicts[pod.spec] {
            Some(v) => v,
            None => {
                let (meta, spec) = &pods.specs[pod.spec];
                let violations = evaluate(enforce, meta, spec);
                let v = match violations.is_empty() {
                    true => None,
                    false => {
                        let reasons = forbidden_reason(&violations);
                        Some(*by_reasons.entry(reasons).or_insert_with_key(|reasons| {
                            refused.push(Refused { reasons: reasons.clone(), first: String::new(), pods: 0 });
                            refused.len() - 1
                        }))
                    }
                };
                verdicts[pod.spec] = Some(v);
                v
            }
        };
        if let Some(r) = verdict.map(|g| &mut refused[g]) {
            if r.pods == 0 || pod.name < r.first {
                r.first = pod.name.clone();
            }
            r.pods += 1;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            checked = i + 1;
            break;
        }
    }
    DryRun { checked, total, refused }
}
