//! Workload hygiene beyond the Pod Security Standards: images, probes, resources,
//! security context habits, service account tokens, secrets in the open, and pods no
//! network policy selects. Every result is a [`Finding`] with a stable `PL…` ID, a
//! severity and a remediation; rules can be disabled and thresholds set in a config
//! file ([`LintConfig`]).
//!
//! A rule that overlaps a Pod Security check (`runAsNonRoot`, dropping capabilities)
//! is silent for a pod whose namespace policy already reports that check: no finding
//! repeats a PSS violation.
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, PodSpec};
use podwall_findings::{Finding, Severity};
use podwall_load::{InputError, Object, Resource, Source};
use serde::Deserialize;

use crate::checks::evaluate;
use crate::pods::Subject;
use crate::policy::Policy;

/// One lint rule.
pub struct Rule {
    /// Its stable ID.
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// What it checks, in a few words.
    pub summary: &'static str,
    /// What to do.
    pub remediation: &'static str,
    /// The Pod Security check that already reports the same thing, if any.
    pub covers: Option<&'static str>,
}

const fn rule(id: &'static str, severity: Severity, summary: &'static str, remediation: &'static str) -> Rule {
    Rule { id, severity, summary, remediation, covers: None }
}

use Severity::{High, Low, Medium};

/// Every rule, by ID.
pub static RULES: &[Rule] = &[
    rule("PL001", Medium, "image without a tag", "name an exact version tag (and pin a digest)"),
    rule("PL002", Medium, "image tag `latest`", "name an exact version tag instead of latest"),
    rule("PL003", Low, "image not pinned by digest", "pin the image by digest: name:tag@sha256:..."),
    rule(
        "PL004",
        Low,
        "imagePullPolicy not Always for a mutable tag",
        "set imagePullPolicy: Always, or pin the image by digest",
    ),
    rule("PL005", Low, "no livenessProbe", "add a livenessProbe"),
    rule("PL006", Low, "no readinessProbe", "add a readinessProbe"),
    rule("PL007", Medium, "resource requests missing", "set resources.requests for the listed resources"),
    rule("PL008", Low, "resource limits missing", "set resources.limits for the listed resources"),
    rule("PL009", Low, "root filesystem writable", "set securityContext.readOnlyRootFilesystem: true"),
    Rule {
        id: "PL010",
        severity: Medium,
        summary: "runAsNonRoot not set",
        remediation: "set securityContext.runAsNonRoot: true on the pod",
        covers: Some("runAsNonRoot"),
    },
    Rule {
        id: "PL011",
        severity: Medium,
        summary: "capabilities do not drop ALL",
        remediation: "set securityContext.capabilities.drop: [\"ALL\"]",
        covers: Some("capabilities_restricted"),
    },
    rule(
        "PL012",
        Low,
        "service account token mounted for a pod that does not use the API",
        "set automountServiceAccountToken: false on the pod or its service account",
    ),
    rule("PL013", Low, "the `default` service account in use", "give the workload a service account of its own"),
    rule(
        "PL014",
        High,
        "secret-looking literal value in env",
        "move the value into a Secret and read it with valueFrom.secretKeyRef",
    ),
    rule("PL015", Medium, "imagePullSecrets names a Secret not in the input", "create the Secret or fix the name"),
    rule(
        "PL016",
        Medium,
        "no network policy selects the pod",
        "add a NetworkPolicy that selects the pod (a default deny at least)",
    ),
];

/// The rule with this ID.
pub fn rule_by_id(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Settings read from a lint config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintConfig {
    /// Rules turned off.
    pub disabled: BTreeSet<&'static str>,
    /// Resources every container must request (PL007).
    pub requests: Vec<String>,
    /// Resources every container must limit (PL008).
    pub limits: Vec<String>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            disabled: BTreeSet::new(),
            requests: vec!["cpu".into(), "memory".into()],
            limits: vec!["memory".into()],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    disable: Vec<String>,
    requests: Option<Vec<String>>,
    limits: Option<Vec<String>>,
}

impl LintConfig {
    /// Reads `disable: [IDs]`, `requests: [resources]`, `limits: [resources]` from YAML
    /// text; an unknown field or rule ID is an error naming the file and line.
    pub fn parse(file: &str, text: &str) -> Result<LintConfig, InputError> {
        let at = |line: usize, message: String| InputError::at(Source { file: file.into(), line }, message);
        let wire: ConfigFile = serde_yaml_ng::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(1);
            let msg = e.to_string();
            at(line, msg.split(" at line ").next().unwrap_or(&msg).to_string())
        })?;
        let mut config = LintConfig::default();
        for id in &wire.disable {
            let rule = rule_by_id(id).ok_or_else(|| {
                let line = text.lines().position(|l| l.contains(id.as_str())).map(|i| i + 1).unwrap_or(1);
                at(line, format!("disable: unknown rule {id:?} (rules are PL001 to PL{:03})", RULES.len()))
            })?;
            config.disabled.insert(rule.id);
        }
        if let Some(r) = wire.requests {
            config.requests = r;
        }
        if let Some(l) = wire.limits {
            config.limits = l;
        }
        Ok(config)
    }
}

/// What the rest of the input says about a pod: Secrets, service accounts and the
/// bindings that give them API access.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// (namespace, name) of every Secret.
    pub secrets: BTreeSet<(String, String)>,
    /// (namespace, name) → `automountServiceAccountToken` of every ServiceAccount.
    pub service_accounts: BTreeMap<(String, String), Option<bool>>,
    /// (namespace, name) of every service account a RoleBinding or ClusterRoleBinding
    /// names.
    pub bound: BTreeSet<(String, String)>,
}

impl Facts {
    /// Reads them from the input's objects.
    pub fn from_objects(objects: &[Object]) -> Facts {
        let mut facts = Facts::default();
        for o in objects {
            let ns = o.namespace.clone().unwrap_or_default();
            match (&o.resource, o.kind.as_str()) {
                (Resource::ServiceAccount(sa), _) => {
                    facts.service_accounts.insert((ns, o.name.clone()), sa.automount_service_account_token);
                }
                (Resource::Kept, "Secret") => {
                    facts.secrets.insert((ns, o.name.clone()));
                }
                (Resource::Kept, "RoleBinding" | "ClusterRoleBinding") => {
                    let Some(raw) = &o.raw else { continue };
                    let Ok(doc) = serde_json::from_str::<serde_json::Value>(raw.0.get()) else { continue };
                    for s in doc["subjects"].as_array().into_iter().flatten() {
                        if s["kind"] != "ServiceAccount" {
                            continue;
                        }
                        let name = s["name"].as_str().unwrap_or_default().to_string();
                        // In a RoleBinding a subject without a namespace is in the binding's.
                        let sns = s["namespace"].as_str().filter(|n| !n.is_empty()).map(str::to_string);
                        facts.bound.insert((sns.unwrap_or_else(|| ns.clone()), name));
                    }
                }
                _ => {}
            }
        }
        facts
    }
}

/// The Pod Security check IDs any mode of `policy` reports for this pod.
pub fn pss_reported(policy: &Policy, subject: &Subject<'_>) -> BTreeSet<&'static str> {
    [policy.enforce, policy.audit, policy.warn]
        .into_iter()
        .flat_map(|lv| evaluate(lv, &subject.pod.meta, &subject.pod.spec))
        .map(|v| v.check)
        .collect()
}

/// What lint knows about one pod besides its spec.
pub struct Context<'a> {
    /// Facts from the rest of the input.
    pub facts: &'a Facts,
    /// The PSS checks its namespace's policy reports for it ([`pss_reported`]).
    pub pss: &'a BTreeSet<&'static str>,
    /// Whether some network policy isolates it in either direction; `None` when it is
    /// no endpoint of the network model (a PodTemplate, a template its pods stand for).
    pub selected_by_policy: Option<bool>,
}

/// The image's tag and digest: `registry:5000/a/b:1.2@sha256:...` → (Some("1.2"), Some("sha256:...")).
fn image_parts(image: &str) -> (Option<&str>, Option<&str>) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    (last.split_once(':').map(|(_, t)| t), digest)
}

const SECRET_WORDS: &[&str] =
    &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL"];

/// Whether a literal env value looks like a secret: a secret-sounding name, an AWS
/// access key ID, or a PEM block.
fn secret_looking(name: &str, value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    let aws = value.len() == 20
        && value.starts_with("AKIA")
        && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    SECRET_WORDS.iter().any(|w| upper.contains(w)) || aws || value.contains("-----BEGIN")
}

fn runs_to_completion(subject: &Subject<'_>) -> bool {
    matches!(subject.object.kind.as_str(), "Job" | "CronJob")
        || subject.pod.spec.restart_policy.as_deref().is_some_and(|p| p != "Always")
}

/// Every lint finding for one Pod or template, in rule order, then container order.
pub fn lint(subject: &Subject<'_>, ctx: &Context<'_>, config: &LintConfig) -> Vec<Finding> {
    let spec: &PodSpec = &subject.pod.spec;
    let ns = subject.namespace().to_string();
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let mut add = |id: &'static str, message: String| found.push((id, message));
    let init = spec.init_containers.iter().flatten();
    let all: Vec<&Container> = init.chain(spec.containers.iter()).collect();
    for c in &all {
        let (tag, digest) = image_parts(c.image.as_deref().unwrap_or_default());
        let image = c.image.as_deref().unwrap_or_default();
        let who = format!("container {:?}", c.name);
        match (tag, digest) {
            (None, None) => add("PL001", format!("{who}: image {image:?} has no tag: the runtime pulls :latest")),
            (Some("latest"), None) => add("PL002", format!("{who}: image {image:?} uses the mutable tag latest")),
            (Some(_), None) => add("PL003", format!("{who}: image {image:?} is not pinned by digest")),
            _ => {}
        }
        if digest.is_none() {
            let default = match tag {
                None | Some("latest") => "Always",
                _ => "IfNotPresent",
            };
            let policy = c.image_pull_policy.as_deref().unwrap_or(default);
            if policy != "Always" {
                add("PL004", format!("{who}: imagePullPolicy {policy} with the mutable image {image:?}"));
            }
        }
    }
    if !runs_to_completion(subject) {
        for c in &spec.containers {
            if c.liveness_probe.is_none() {
                add("PL005", format!("container {:?} has no livenessProbe", c.name));
            }
            if c.readiness_probe.is_none() {
                add("PL006", format!("container {:?} has no readinessProbe", c.name));
            }
        }
    }
    for c in &all {
        let res = c.resources.as_ref();
        let missing = |want: &[String], got: Option<&BTreeMap<String, _>>| -> Vec<String> {
            want.iter().filter(|r| !got.is_some_and(|m| m.contains_key(*r))).cloned().collect()
        };
        let requests = missing(&config.requests, res.and_then(|r| r.requests.as_ref()));
        if !requests.is_empty() {
            add("PL007", format!("container {:?} requests no {}", c.name, requests.join(", ")));
        }
        let limits = missing(&config.limits, res.and_then(|r| r.limits.as_ref()));
        if !limits.is_empty() {
            add("PL008", format!("container {:?} sets no {} limit", c.name, limits.join(", ")));
        }
        let sc = c.security_context.as_ref();
        if sc.and_then(|s| s.read_only_root_filesystem) != Some(true) {
            add("PL009", format!("container {:?} does not set readOnlyRootFilesystem: true", c.name));
        }
    }
    let pod_non_root = spec.security_context.as_ref().and_then(|s| s.run_as_non_root);
    for c in &all {
        let sc = c.security_context.as_ref();
        if sc.and_then(|s| s.run_as_non_root).or(pod_non_root) != Some(true) {
            add("PL010", format!("container {:?} may run as root: runAsNonRoot is not true", c.name));
        }
        let drops_all = sc
            .and_then(|s| s.capabilities.as_ref())
            .and_then(|c| c.drop.as_ref())
            .is_some_and(|d| d.iter().any(|d| d == "ALL"));
        if !drops_all {
            add("PL011", format!("container {:?} does not drop ALL capabilities", c.name));
        }
    }
    let sa = spec
        .service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let key = (ns.clone(), sa.to_string());
    let automount = spec
        .automount_service_account_token
        .or_else(|| ctx.facts.service_accounts.get(&key).copied().flatten())
        .unwrap_or(true);
    if automount && !ctx.facts.bound.contains(&key) {
        add("PL012", format!("the token of service account {sa:?} is mounted, and no RoleBinding or ClusterRoleBinding in the input names it"));
    }
    if sa == "default" {
        add("PL013", "runs as the namespace's default service account".to_string());
    }
    for c in &all {
        for e in c.env.iter().flatten() {
            if secret_looking(&e.name, e.value.as_deref().unwrap_or_default()) {
                add(
                    "PL014",
                    format!("container {:?}: env {} holds a literal value that looks like a secret", c.name, e.name),
                );
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        if !ctx.facts.secrets.contains(&(ns.clone(), s.name.clone())) {
            add("PL015", format!("imagePullSecrets names Secret {}/{}, which is not in the input", ns, s.name));
        }
    }
    if ctx.selected_by_policy == Some(false) {
        add("PL016", "no network policy selects it: every connection to and from it is allowed".to_string());
    }
    found
        .into_iter()
        .filter(|(id, _)| !config.disabled.contains(id))
        .filter_map(|(id, message)| {
            let rule = rule_by_id(id)?;
            if rule.covers.is_some_and(|c| ctx.pss.contains(c)) {
                return None;
            }
            Some(
                Finding::new(rule.id, rule.severity, message)
                    .object(subject.object_ref())
                    .origin(subject.origin())
                    .remediation(rule.remediation),
            )
        })
        .collect()
}
