//! What the PodSecurity admission plugin answers to one request, written from
//! upstream's `admission/admission.go` (ValidatePod, ValidatePodController,
//! ValidateNamespace, EvaluatePod) and its responses:
//!
//! - **Pods** (`pods`, and subresources other than `exec`, `attach`, `binding`,
//!   `eviction`, `log`, `portforward`, `proxy`, `status`): an exempt namespace or user
//!   is admitted with the audit annotation `exempt`; a namespace fully privileged (with
//!   readable labels) is admitted with `enforce-policy: privileged:latest`; an UPDATE that
//!   changes no image, no container count, no ephemeral container and no container
//!   seccomp annotation is admitted untouched; an exempt runtime class gets `exempt:
//!   runtimeClass`. Otherwise enforce denies (403, `pods "NAME" is forbidden: violates
//!   PodSecurity "LEVEL:VERSION": ...`), audit adds `audit-violations`, warn adds a
//!   warning unless the pod is denied; `enforce-policy` names the enforce level.
//! - **Workloads** (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
//!   ReplicationController, PodTemplate; no subresource): never denied; audit and warn
//!   judge the template (warn follows a stricter enforce label when the namespace sets
//!   no warn label, so an enforce namespace warns about templates its pods would break).
//! - **Namespaces**: labels the plugin cannot read are refused on CREATE, and on UPDATE
//!   when they changed (422, `Namespace "NAME" is invalid: ...`). An exempt namespace
//!   whose labels set a policy is warned that it will be ignored. An UPDATE that
//!   tightens enforce (a stricter level, or any other version, not privileged) dry-runs
//!   the namespace's existing pods at the new level and warns about those that would be
//!   refused, grouped by reasons (`NAME (and N other pods): REASONS`), at most 3000 of
//!   them in one second (a warning says how many were checked); pods of an exempt
//!   runtime class are left out, one pod of each controller goes first.
//!
//! Departures, when the namespaces come from files rather than the API: a namespace
//! not among them has the configured defaults when so configured (else the request
//! fails, as upstream's does when it cannot look a namespace up); the existing pods a
//! namespace UPDATE dry-runs are the Pods of the same files, in file order (upstream
//! lists them from the API), so with no Pods in the files there is nothing to evaluate
//! and no warning about existing pods.
//!
//! Read from the API ([`crate::follow`]), namespaces and pods are those the watch has
//! delivered. Before both were listed once every lookup fails (a Pod is refused with
//! `failed to lookup namespace`, a workload admitted with the error in its audit
//! annotations, a namespace update warns `failed to list pods while checking new
//! PodSecurity enforce level`). After, a namespace the watch has not delivered is asked
//! of the API server, as upstream asks when its cache misses: [`Admission::unwatched`]
//! says which namespace a request needs that way, [`crate::lookup`] asks, and
//! [`Admission::review_looked_up`] answers with what it found.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Status, StatusCause, StatusDetails};
use podwall_load::podspec::pod_spec_path;
use podwall_pod_security::admission::{
    decide, decide_workload, dry_run, tightens_enforce, Decision, DryRunLimits, Exempt, Request as PodRequest,
};
use podwall_pod_security::config::Config;
use podwall_pod_security::policy::{self, from_labels, LabelError, Policy};
use podwall_pod_security::{forbidden_detail, Level, LevelVersion, Version};
use serde::Deserialize;

use crate::lookup::Looked;
use crate::namespaces::{aggregate, invalid_value, NamespacePolicy, Namespaces, Unknown};
use crate::review::{Request, Response};

/// Audit annotation: why a request was not judged.
pub const EXEMPT: &str = "exempt";
/// Audit annotation: the enforce policy a pod was judged at.
pub const ENFORCE_POLICY: &str = "enforce-policy";
/// Audit annotation: what audit mode found.
pub const AUDIT_VIOLATIONS: &str = "audit-violations";
/// Audit annotation: what went wrong.
pub const ERROR: &str = "error";

/// Pod subresources that cannot change the pod spec.
const IGNORED_POD_SUBRESOURCES: &[&str] =
    &["exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"];

/// The plugin: its configuration and the namespaces it knows.
#[derive(Clone, Debug, Default)]
pub struct Admission {
    /// Defaults and exemptions.
    pub config: Config,
    /// Namespaces by name.
    pub namespaces: Namespaces,
    /// How much of a namespace a namespace update dry-runs (upstream's limits).
    pub dry_run: DryRunLimits,
}

/// What a request is about.
enum Target {
    Pod,
    Workload { group: &'static str, kind: &'static str },
    Namespace,
    Other,
}

fn target(group: &str, resource: &str) -> Target {
    match (group, resource) {
        ("", "pods") => Target::Pod,
        ("", "namespaces") => Target::Namespace,
        ("", "replicationcontrollers") => Target::Workload { group: "", kind: "ReplicationController" },
        ("", "podtemplates") => Target::Workload { group: "", kind: "PodTemplate" },
        ("apps", "deployments") => Target::Workload { group: "apps", kind: "Deployment" },
        ("apps", "replicasets") => Target::Workload { group: "apps", kind: "ReplicaSet" },
        ("apps", "statefulsets") => Target::Workload { group: "apps", kind: "StatefulSet" },
        ("apps", "daemonsets") => Target::Workload { group: "apps", kind: "DaemonSet" },
        ("batch", "jobs") => Target::Workload { group: "batch", kind: "Job" },
        ("batch", "cronjobs") => Target::Workload { group: "batch", kind: "CronJob" },
        _ => Target::Other,
    }
}

/// What a request is about, as the metrics name it: `Pod`, `Namespace`, a workload's
/// kind, or `other` (a resource the plugin does not judge).
pub fn kind_of(group: &str, resource: &str) -> &'static str {
    match target(group, resource) {
        Target::Pod => "Pod",
        Target::Namespace => "Namespace",
        Target::Workload { kind, .. } => kind,
        Target::Other => "other",
    }
}

fn allowed() -> Response {
    Response { allowed: true, ..Response::default() }
}

fn annotated(pairs: &[(&str, String)]) -> Response {
    let audit_annotations = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Response { allowed: true, audit_annotations, ..Response::default() }
}

fn exempt(why: Exempt) -> Response {
    annotated(&[(EXEMPT, why.as_str().to_string())])
}

/// A failed request: status `Failure` with a reason and code.
fn failure(code: i32, reason: &str, message: String, details: Option<StatusDetails>) -> Status {
    Status {
        code: Some(code),
        details,
        message: Some(message),
        reason: Some(reason.to_string()),
        status: Some("Failure".to_string()),
        ..Status::default()
    }
}

/// `errorResponse(err, NewBadRequest(what))`: denied with 400, and the error in the
/// audit annotations.
fn bad_request(what: &str, err: Option<&str>) -> Response {
    let detail = match err {
        Some(e) => format!("{what}: {e}"),
        None => what.to_string(),
    };
    Response {
        allowed: false,
        status: Some(failure(400, "BadRequest", what.to_string(), None)),
        audit_annotations: BTreeMap::from([(ERROR.to_string(), detail)]),
        ..Response::default()
    }
}

/// A Pod whose namespace could not be looked up: `errorResponse(err,
/// NewInternalError("failed to lookup namespace %q"))` — refused with 500, the lookup's
/// error in the audit annotations.
fn lookup_failed(namespace: &str, err: &str) -> Response {
    let cause = format!("failed to lookup namespace {namespace:?}");
    let details = StatusDetails {
        causes: Some(vec![StatusCause { message: Some(cause.clone()), ..StatusCause::default() }]),
        ..StatusDetails::default()
    };
    Response {
        allowed: false,
        status: Some(failure(500, "InternalError", format!("Internal error occurred: {cause}"), Some(details))),
        audit_annotations: BTreeMap::from([(ERROR.to_string(), err.to_string())]),
        ..Response::default()
    }
}

/// `invalidResponse`: a namespace whose labels the plugin cannot read, refused with 422
/// `Invalid` and a cause per label.
fn invalid(request: &Request, errors: &[LabelError]) -> Response {
    let causes = errors
        .iter()
        .map(|e| StatusCause {
            field: Some(e.field()),
            message: Some(invalid_value(e)),
            reason: Some("FieldValueInvalid".to_string()),
        })
        .collect();
    let details = StatusDetails {
        causes: Some(causes),
        kind: Some("Namespace".to_string()),
        name: Some(request.name.clone()).filter(|n| !n.is_empty()),
        ..StatusDetails::default()
    };
    let message = format!("Namespace {:?} is invalid: {}", request.name, aggregate(errors));
    Response { allowed: false, status: Some(failure(422, "Invalid", message, Some(details))), ..Response::default() }
}

/// `GroupResource.String()`: `pods`, `deployments.apps`.
fn group_resource(group: &str, resource: &str) -> String {
    match group {
        "" => resource.to_string(),
        g => format!("{resource}.{g}"),
    }
}

/// `NewForbidden(resource, name, err)`.
fn forbidden(request: &Request, err: String) -> Status {
    let gr = group_resource(&request.resource.group, &request.resource.resource);
    let message = match request.name.as_str() {
        "" => format!("{gr} is forbidden: {err}"),
        name => format!("{gr} {name:?} is forbidden: {err}"),
    };
    let details = StatusDetails {
        group: Some(request.resource.group.clone()).filter(|g| !g.is_empty()),
        kind: Some(request.resource.resource.clone()),
        name: Some(request.name.clone()).filter(|n| !n.is_empty()),
        ..StatusDetails::default()
    };
    failure(403, "Forbidden", message, Some(details))
}

/// A pod as the request carries it.
#[derive(Deserialize, Default)]
struct PodParts {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<PodSpec>,
}

fn decode_pod(raw: Option<&serde_json::value::RawValue>) -> Result<(ObjectMeta, PodSpec), String> {
    let raw = raw.ok_or("no object in the request")?;
    let pod: PodParts = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    Ok((pod.metadata, pod.spec.unwrap_or_default()))
}

/// The pod template of a workload object, found where `pod_spec_path` says it is;
/// `None` when the object has none (only a ReplicationController's is optional).
fn decode_template(raw: &serde_json::value::RawValue, path: &str) -> Result<Option<PodTemplateSpec>, String> {
    let mut value: serde_json::Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    for part in path.split('.') {
        value = match value {
            serde_json::Value::Object(mut m) => m.remove(part).unwrap_or(serde_json::Value::Null),
            serde_json::Value::Null => serde_json::Value::Null,
            other => return Err(format!("{part}: expected an object, found {other}")),
        };
    }
    serde_json::from_value::<Option<PodTemplateSpec>>(value).map_err(|e| format!("{path}: {e}"))
}

fn container_seccomp<'a>(meta: &'a ObjectMeta, name: &str) -> Option<&'a str> {
    let key = format!("container.seccomp.security.alpha.kubernetes.io/{name}");
    meta.annotations.as_ref().and_then(|a| a.get(&key)).map(String::as_str)
}

fn significant_container(c: &Container, old: &Container, meta: &ObjectMeta, old_meta: &ObjectMeta) -> bool {
    c.image != old.image || container_seccomp(meta, &c.name) != container_seccomp(old_meta, &c.name)
}

/// Upstream's `isSignificantPodUpdate`: whether an update can change what the checks
/// see, among the fields an API server lets a pod update change.
fn significant_pod_update(meta: &ObjectMeta, spec: &PodSpec, old_meta: &ObjectMeta, old: &PodSpec) -> bool {
    let old_init = old.init_containers.as_deref().unwrap_or_default();
    let init = spec.init_containers.as_deref().unwrap_or_default();
    if spec.containers.len() != old.containers.len() || init.len() != old_init.len() {
        return true;
    }
    let pairs = spec.containers.iter().zip(&old.containers).chain(init.iter().zip(old_init));
    if pairs.into_iter().any(|(c, o)| significant_container(c, o, meta, old_meta)) {
        return true;
    }
    let old_ephemeral = old.ephemeral_containers.as_deref().unwrap_or_default();
    spec.ephemeral_containers.as_deref().unwrap_or_default().iter().any(|e| {
        let Some(o) = old_ephemeral.iter().find(|o| o.name == e.name) else { return true };
        let image_changed = e.image != o.image;
        image_changed || container_seccomp(meta, &e.name) != container_seccomp(old_meta, &e.name)
    })
}

impl Admission {
    /// The plugin with a configuration and the namespaces it knows.
    pub fn new(config: Config, namespaces: Namespaces) -> Self {
        Admission { config, namespaces, dry_run: DryRunLimits::default() }
    }

    /// The answer to one request (its `uid` is set).
    pub fn review(&self, request: &Request) -> Response {
        self.review_looked_up(request, None)
    }

    /// The namespace a request is judged by, when it is not among the known ones (and
    /// they were listed): what [`crate::lookup`] should ask the API server for. `None`
    /// when the request needs no namespace (a namespace, an ignored subresource, an
    /// exempt namespace or user) or its namespace is known.
    pub fn unwatched<'r>(&self, request: &'r Request) -> Option<&'r str> {
        let judged = match target(&request.resource.group, &request.resource.resource) {
            Target::Pod => !IGNORED_POD_SUBRESOURCES.contains(&request.sub_resource.as_str()),
            Target::Workload { .. } => request.sub_resource.is_empty(),
            Target::Namespace | Target::Other => false,
        };
        let needed = judged
            && self.exempt_request(request).is_none()
            && self.namespaces.unsynced_reason().is_none()
            && self.namespaces.get(&request.namespace).is_none();
        needed.then_some(request.namespace.as_str())
    }

    /// [`Admission::review`], with what the API server said of the request's namespace
    /// when it is not among the known ones (`looked`, from [`crate::lookup`]).
    pub fn review_looked_up(&self, request: &Request, looked: Option<&Looked>) -> Response {
        let mut response = match target(&request.resource.group, &request.resource.resource) {
            Target::Pod => self.pod(request, looked),
            Target::Workload { group, kind } => self.workload(request, group, kind, looked),
            Target::Namespace => self.namespace(request),
            Target::Other => allowed(),
        };
        response.uid = request.uid.clone();
        response
    }

    /// The namespace's policy, or the error of the plugin's namespace lookup: the
    /// namespace informer's `namespace "NAME" not found`, or why asking the API server
    /// failed.
    fn policy_of(&self, namespace: &str, looked: Option<&Looked>) -> Result<NamespacePolicy, String> {
        if let Some(why) = self.namespaces.unsynced_reason() {
            return Err(why.to_string());
        }
        if let Some(p) = self.namespaces.get(namespace) {
            return Ok(p.clone());
        }
        match (looked, self.namespaces.unknown()) {
            (Some(Looked::Found(labels)), _) => {
                let (policy, errors) = from_labels(labels, self.config.defaults);
                Ok(NamespacePolicy { policy, errors })
            }
            // Never the defaults: the namespace may well exist, with labels.
            (Some(Looked::Failed(e)), _) => Err(e.clone()),
            (Some(Looked::NotFound) | None, Unknown::Defaults) => {
                Ok(NamespacePolicy { policy: self.config.defaults, errors: Vec::new() })
            }
            (Some(Looked::NotFound) | None, Unknown::Refuse) => Err(format!("namespace {namespace:?} not found")),
        }
    }

    fn pod(&self, request: &Request, looked: Option<&Looked>) -> Response {
        if IGNORED_POD_SUBRESOURCES.contains(&request.sub_resource.as_str()) {
            return allowed();
        }
        if let Some(why) = self.exempt_request(request) {
            return exempt(why);
        }
        let ns = match self.policy_of(&request.namespace, looked) {
            Ok(ns) => ns,
            Err(e) => return lookup_failed(&request.namespace, &e),
        };
        if ns.errors.is_empty() && ns.policy.fully_privileged() {
            let privileged = LevelVersion::new(Level::Privileged, Version::Latest);
            return annotated(&[(ENFORCE_POLICY, privileged.to_string())]);
        }
        let (meta, spec) = match decode_pod(request.object.as_deref()) {
            Ok(pod) => pod,
            Err(e) => return bad_request("failed to decode pod", Some(&e)),
        };
        if request.operation == "UPDATE" {
            let (old_meta, old_spec) = match decode_pod(request.old_object.as_deref()) {
                Ok(pod) => pod,
                Err(e) => return bad_request("failed to decode old pod", Some(&e)),
            };
            if !significant_pod_update(&meta, &spec, &old_meta, &old_spec) {
                return allowed();
            }
        }
        let pod = PodRequest { namespace: &request.namespace, user: None, meta: &meta, spec: &spec };
        let decision = decide(&self.config, &ns.policy, &pod);
        self.respond(request, &ns, &decision, true)
    }

    fn workload(&self, request: &Request, group: &str, kind: &str, looked: Option<&Looked>) -> Response {
        if !request.sub_resource.is_empty() {
            return allowed();
        }
        if let Some(why) = self.exempt_request(request) {
            return exempt(why);
        }
        let ns = match self.policy_of(&request.namespace, looked) {
            // A workload is never refused: admitted, with the error for the audit log.
            Err(e) => return annotated(&[(ERROR, format!("failed to lookup namespace {:?}: {e}", request.namespace))]),
            Ok(ns) => ns,
        };
        if ns.errors.is_empty()
            && ns.policy.warn.level == Level::Privileged
            && ns.policy.audit.level == Level::Privileged
        {
            return allowed();
        }
        let Some(raw) = request.object.as_deref() else {
            return annotated(&[(ERROR, "failed to decode object: no object in the request".to_string())]);
        };
        let path = pod_spec_path(group, kind).unwrap_or("spec.template");
        let template = match decode_template(raw, path) {
            Ok(Some(t)) => t,
            Ok(None) if kind == "ReplicationController" => return allowed(),
            Ok(None) => PodTemplateSpec::default(),
            Err(e) => return annotated(&[(ERROR, format!("failed to extract pod template: {e}"))]),
        };
        let meta = template.metadata.unwrap_or_default();
        let spec = template.spec.unwrap_or_default();
        let pod = PodRequest { namespace: &request.namespace, user: None, meta: &meta, spec: &spec };
        let decision = decide_workload(&self.config, &ns.policy, &pod);
        self.respond(request, &ns, &decision, false)
    }

    /// Upstream's `ValidateNamespace`.
    fn namespace(&self, request: &Request) -> Response {
        if !request.sub_resource.is_empty() {
            return allowed();
        }
        #[derive(Deserialize, Default)]
        struct NamespaceParts {
            #[serde(default)]
            metadata: ObjectMeta,
        }
        let meta_of = |raw: Option<&serde_json::value::RawValue>| -> Result<ObjectMeta, String> {
            let raw = raw.ok_or("no object in the request")?;
            let ns: NamespaceParts = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            Ok(ns.metadata)
        };
        let meta = match meta_of(request.object.as_deref()) {
            Ok(m) => m,
            Err(e) => return bad_request("failed to decode namespace", Some(&e)),
        };
        let name = meta.name.unwrap_or_default();
        let labels = meta.labels.unwrap_or_default();
        let (policy, errors) = from_labels(&labels, self.config.defaults);
        match request.operation.as_str() {
            "CREATE" if !errors.is_empty() => invalid(request, &errors),
            "CREATE" => self.exempt_namespace_warning(request, &name, &policy, &labels),
            "UPDATE" => {
                let old = match meta_of(request.old_object.as_deref()) {
                    Ok(m) => m.labels.unwrap_or_default(),
                    Err(e) => return bad_request("failed to decode old namespace", Some(&e)),
                };
                let (old_policy, old_errors) = from_labels(&old, self.config.defaults);
                if !errors.is_empty() && (old_errors.is_empty() || old_errors != errors) {
                    return invalid(request, &errors);
                }
                if !tightens_enforce(old_policy.enforce, policy.enforce) {
                    return allowed();
                }
                if self.config.exempt_namespace(&request.namespace) {
                    return self.exempt_namespace_warning(request, &name, &policy, &labels);
                }
                Response { warnings: self.existing_pods(&name, policy.enforce), ..allowed() }
            }
            _ => allowed(),
        }
    }

    /// Upstream's `exemptNamespaceWarning`: an exempt namespace whose labels set a mode
    /// (level or version) to a non-privileged policy, unless the whole policy is
    /// privileged or equivalent to the defaults, is told it will be ignored.
    fn exempt_namespace_warning(
        &self,
        request: &Request,
        name: &str,
        policy: &Policy,
        labels: &BTreeMap<String, String>,
    ) -> Response {
        if !self.config.exempt_namespace(&request.namespace)
            || policy.fully_privileged()
            || policy.equivalent(&self.config.defaults)
        {
            return allowed();
        }
        let modes = [
            ("enforce", policy::ENFORCE, policy::ENFORCE_VERSION, policy.enforce),
            ("audit", policy::AUDIT, policy::AUDIT_VERSION, policy.audit),
            ("warn", policy::WARN, policy::WARN_VERSION, policy.warn),
        ];
        let set: Vec<String> = modes
            .iter()
            .filter(|(_, level, version, lv)| {
                lv.level != Level::Privileged && (labels.contains_key(*level) || labels.contains_key(*version))
            })
            .map(|(mode, _, _, lv)| format!("{mode}={lv}"))
            .collect();
        let warning = format!(
            "namespace {name:?} is exempt from Pod Security, and the policy ({}) will be ignored",
            set.join(", ")
        );
        Response { warnings: vec![warning], ..allowed() }
    }

    /// Upstream's `EvaluatePodsInNamespace`: the warnings about the namespace's existing
    /// pods at the new enforce level: how many were checked when not all were, then
    /// that some violate it, then one per set of reasons naming its lexically first pod
    /// and how many others (these sorted).
    fn existing_pods(&self, namespace: &str, enforce: LevelVersion) -> Vec<String> {
        if self.namespaces.unsynced_reason().is_some() {
            // Upstream's answer when its pod lister fails.
            return vec!["failed to list pods while checking new PodSecurity enforce level".to_string()];
        }
        let Some(pods) = self.namespaces.pods_in(namespace) else { return Vec::new() };
        let run = dry_run(&self.config, enforce, pods, self.dry_run);
        let mut warnings = Vec::new();
        if run.checked < run.total {
            warnings.push(format!(
                "new PodSecurity enforce level only checked against the first {} of {} existing pods",
                run.checked, run.total
            ));
        }
        if !run.refused.is_empty() {
            let level = enforce.to_string();
            warnings.push(format!(
                "existing pods in namespace {namespace:?} violate the new PodSecurity enforce level {level:?}"
            ));
        }
        let mut named: Vec<String> = run
            .refused
            .iter()
            .map(|r| match r.pods {
                1 => format!("{}: {}", r.first, r.reasons),
                2 => format!("{} (and 1 other pod): {}", r.first, r.reasons),
                n => format!("{} (and {} other pods): {}", r.first, n - 1, r.reasons),
            })
            .collect();
        named.sort();
        warnings.extend(named);
        warnings
    }

    /// Namespace, then user exemptions, as upstream checks them before anything else.
    fn exempt_request(&self, request: &Request) -> Option<Exempt> {
        if self.config.exempt_namespace(&request.namespace) {
            Some(Exempt::Namespace)
        } else if self.config.exempt_user(&request.user_info.username) {
            Some(Exempt::Username)
        } else {
            None
        }
    }

    /// `EvaluatePod`'s response from a decision (`enforce`: whether it may deny).
    fn respond(&self, request: &Request, ns: &NamespacePolicy, d: &Decision, enforce: bool) -> Response {
        if let Some(why) = d.exempt {
            return exempt(why);
        }
        let mut response = allowed();
        if !ns.errors.is_empty() {
            response
                .audit_annotations
                .insert(ERROR.into(), format!("Failed to parse policy: {}", aggregate(&ns.errors)));
        }
        if enforce {
            response.audit_annotations.insert(ENFORCE_POLICY.into(), ns.policy.enforce.to_string());
            if let Some(j) = d.enforce.as_ref().filter(|j| !j.violations.is_empty()) {
                let err = format!("violates PodSecurity \"{}\": {}", j.policy, forbidden_detail(&j.violations));
                response.allowed = false;
                response.status = Some(forbidden(request, err));
            }
        }
        if let Some(j) = d.audit.as_ref().filter(|j| !j.violations.is_empty()) {
            let text = format!("would violate PodSecurity \"{}\": {}", j.policy, forbidden_detail(&j.violations));
            response.audit_annotations.insert(AUDIT_VIOLATIONS.into(), text);
        }
        if response.allowed {
            if let Some(j) = d.warn.as_ref().filter(|j| !j.violations.is_empty()) {
                let text = format!("would violate PodSecurity \"{}\": {}", j.policy, forbidden_detail(&j.violations));
                response.warnings.push(text);
            }
        }
        response
    }
}
