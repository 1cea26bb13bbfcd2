//! The posture checks of the other crates, run over the report's input: Pod Security,
//! workload lint, RBAC risky grants and escalation, audit policy lint, and what the
//! network compiler noticed.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use podwall_findings::{Finding, Severity};
use podwall_ir::Direction;
use podwall_load::{InputError, Resource};
use podwall_pod_security::lint::{lint as lint_subject, pss_reported, Context, Facts, LintConfig, RULES};
use podwall_pod_security::pods::{finding, remediation, Subject as PodSubject};
use podwall_pod_security::policy::{from_labels, Policy};
use podwall_pod_security::{evaluate, Level, LevelVersion, Version};
use podwall_rbac::risky::ids as risky;

use crate::{has_namespace_labels, CheckInfo, Subject};

/// What the network compiler notices (`NM…`) and what `--skip-invalid` passed over (`IN…`).
pub fn input_catalogue() -> Vec<CheckInfo> {
    podwall_dialects::notes::CATALOGUE
        .iter()
        .map(|&(id, severity, summary)| CheckInfo {
            id,
            area: "input",
            severity,
            summary,
            remediation: "see the message; podwall's answers leave out what it names",
        })
        .collect()
}

/// The Pod Security checks, by upstream ID.
pub fn pss_catalogue() -> Vec<CheckInfo> {
    podwall_pod_security::checks::CHECKS
        .iter()
        .map(|c| CheckInfo {
            id: c.id,
            area: "pss",
            severity: if c.level == Level::Baseline { Severity::High } else { Severity::Medium },
            summary: if c.level == Level::Baseline {
                "Pod Security Standards, baseline: a violation the baseline level rejects"
            } else {
                "Pod Security Standards, restricted: a violation the restricted level rejects"
            },
            remediation: remediation(c.id),
        })
        .collect()
}

/// Each namespace's Pod Security policy from its labels.
fn namespace_policies(s: &Subject<'_>) -> BTreeMap<String, Policy> {
    s.input
        .objects
        .iter()
        .filter_map(|o| has_namespace_labels(o).map(|l| (o.name.clone(), from_labels(&l, Policy::default()).0)))
        .collect()
}

/// The level a pod is judged at: its namespace's enforce level, and at least baseline.
fn judged_level(policy: Option<&Policy>) -> LevelVersion {
    match policy {
        Some(p) if p.enforce.level == Level::Restricted => p.enforce,
        _ => LevelVersion::new(Level::Baseline, Version::Latest),
    }
}

/// Pod Security violations of every Pod and pod template, at its namespace's enforce
/// level and at least at baseline.
pub fn pss(s: &Subject<'_>) -> Result<Vec<Finding>, InputError> {
    let policies = namespace_policies(s);
    let pods = s.pods()?;
    let per: Vec<Vec<Finding>> = pods
        .iter()
        .map(|subject| {
            let lv = judged_level(policies.get(subject.namespace()));
            evaluate(lv, &subject.pod.meta, &subject.pod.spec).iter().map(|v| finding(subject, v)).collect()
        })
        .collect();
    Ok(fold_owned(pods, per))
}

/// The owners an object names (a Pod its ReplicaSet, a ReplicaSet its Deployment, a Job
/// its CronJob): (kind, name), in its namespace.
fn owners(o: &podwall_load::Object) -> Vec<(&str, &str)> {
    match &o.resource {
        Resource::Pod(p) => p.metadata.owners().collect(),
        Resource::Workload(w) => w.owners.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect(),
        _ => Vec::new(),
    }
}

/// Per subject, the subject its findings go to: the furthest owner in the input (a Pod of
/// a ReplicaSet of a Deployment goes to the Deployment), or itself.
fn roots(pods: &[PodSubject<'_>]) -> Vec<usize> {
    let at: HashMap<(&str, &str, &str), usize> = pods
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.namespace(), p.object.kind.as_str(), p.object.name.as_str()), i))
        .collect();
    let owner = |i: usize| {
        let ns = pods[i].namespace();
        owners(pods[i].object).into_iter().find_map(|(k, n)| at.get(&(ns, k, n)).copied())
    };
    (0..pods.len())
        .map(|i| {
            let mut root = i;
            // Owners form no cycle in a cluster; a made-up input that does stops after a lap.
            for _ in 0..pods.len() {
                match owner(root) {
                    Some(o) if o != i => root = o,
                    _ => break,
                }
            }
            root
        })
        .collect()
}

/// The findings of each subject (`per`, by subject), where a finding of an owned object
/// that its owner's template already has is said once, on the owner, with how many of the
/// objects it owns have it too. An owned object's finding its owner does not have (a
/// sidecar a webhook injected into the pods) stays on it. A 100-replica Deployment
/// reported with its ReplicaSet and Pods so reads as one workload, not 102.
fn fold_owned(pods: &[PodSubject<'_>], mut per: Vec<Vec<Finding>>) -> Vec<Finding> {
    let roots = roots(pods);
    let mut same: Vec<Vec<usize>> = per.iter().map(|f| vec![0; f.len()]).collect();
    for i in (0..pods.len()).filter(|&i| roots[i] != i) {
        let r = roots[i];
        let on_root: HashMap<(&str, &str), usize> =
            per[r].iter().enumerate().map(|(k, f)| ((f.id, f.message.as_str()), k)).collect();
        let mut kept = Vec::new();
        for f in &per[i] {
            match on_root.get(&(f.id, f.message.as_str())) {
                Some(&k) => same[r][k] += 1,
                None => kept.push(f.clone()),
            }
        }
        per[i] = kept;
    }
    for (findings, same) in per.iter_mut().zip(&same) {
        for (f, &n) in findings.iter_mut().zip(same) {
            if n > 0 {
                let objects = if n == 1 { "object" } else { "objects" };
                f.message = format!("{} (the same on {n} {objects} it owns in the input)", f.message);
            }
        }
    }
    per.into_iter().flatten().collect()
}

/// The lint rules the report runs (PL016, "no network policy selects the pod", is the
/// network check NP001 here).
pub fn lint_catalogue() -> Vec<CheckInfo> {
    RULES
        .iter()
        .filter(|r| r.id != "PL016")
        .map(|r| CheckInfo {
            id: r.id,
            area: "lint",
            severity: r.severity,
            summary: r.summary,
            remediation: r.remediation,
        })
        .collect()
}

/// Workload hygiene findings, silent where the Pod Security findings already say it.
pub fn lint(s: &Subject<'_>) -> Result<Vec<Finding>, InputError> {
    let config = LintConfig { disabled: BTreeSet::from(["PL016"]), ..LintConfig::default() };
    let policies = namespace_policies(s);
    let facts = Facts::from_objects(&s.input.objects);
    let pods = s.pods()?;
    let mut per = Vec::with_capacity(pods.len());
    for subject in pods {
        let lv = judged_level(policies.get(subject.namespace()));
        let judged = Policy { enforce: lv, audit: lv, warn: lv };
        let pss = pss_reported(&judged, subject);
        let name = match subject.object.kind.as_str() {
            "Pod" => format!("{}/{}", subject.namespace(), subject.object.name),
            kind => format!("{}/{kind}/{}", subject.namespace(), subject.object.name),
        };
        let selected = s
            .cluster
            .endpoint(&name)
            .map(|id| s.index.isolated(id, Direction::Ingress) || s.index.isolated(id, Direction::Egress));
        per.push(lint_subject(subject, &Context { facts: &facts, pss: &pss, selected_by_policy: selected }, &config));
    }
    Ok(fold_owned(pods, per))
}

/// RBAC: problems with the objects, risky grants, escalation paths.
pub fn rbac_catalogue() -> Vec<CheckInfo> {
    use podwall_rbac::ids as rb;
    use Severity::*;
    let c = |id, severity, summary, remediation| CheckInfo { id, area: "rbac", severity, summary, remediation };
    let least = "grant only the verbs and resources the subject needs, in its namespace";
    vec![
        c(
            rb::MISSING_ROLE,
            Medium,
            "a binding whose roleRef names a role the input does not hold",
            "create the role or delete the binding",
        ),
        c(
            rb::UNSETTLED_AGGREGATION,
            Medium,
            "an aggregated ClusterRole whose rules never settle",
            "make the aggregation selectors acyclic",
        ),
        c(rb::DUPLICATE, Medium, "an RBAC object given more than once; the one read last is used", "keep one copy"),
        c(risky::SECRETS, High, "reads Secrets cluster-wide or in kube-system", least),
        c(risky::WORKLOADS, High, "creates pods or workloads: runs as any service account of the namespace", least),
        c(risky::EXEC, High, "exec, attach, port-forward or ephemeral containers: acts inside running pods", least),
        c(risky::IMPERSONATE, Critical, "impersonates users, groups or service accounts", least),
        c(risky::BIND_ESCALATE, Critical, "bind or escalate on roles: grants permissions it does not hold", least),
        c(risky::WILDCARD, High, "wildcard verbs or resources", "name the verbs and resources"),
        c(risky::NODES_PROXY, Critical, "nodes/proxy: the kubelet API, exec in every pod of a node", least),
        c(risky::TOKEN, High, "creates service account tokens", least),
        c(risky::CSR, High, "approves certificate signing requests", least),
        c(risky::WEBHOOK, High, "edits admission webhooks or policies", least),
        c(
            risky::ADMIN_TO_MANY,
            Critical,
            "cluster-admin (or its rules) for service accounts or everyone",
            "bind cluster-admin to named people only",
        ),
        c(
            risky::DEFAULT_SA,
            Medium,
            "a namespace's default service account holds grants every pod there gets",
            "bind the grant to a dedicated service account",
        ),
        c(
            risky::ESCALATION,
            Critical,
            "a path from a subject to cluster-admin equivalence",
            "break a step of the path (`podwall rbac risky` shows it)",
        ),
    ]
}

/// RBAC findings, when the input holds RBAC objects.
pub fn rbac(s: &Subject<'_>) -> Result<Vec<Finding>, InputError> {
    let rbac = podwall_rbac::Rbac::from_input(s.input)?;
    let mut out = rbac.findings.clone();
    out.extend(rbac.risky());
    let graph = rbac.escalation_graph();
    for p in rbac.escalation_paths(&graph) {
        out.push(rbac.escalation_finding(&graph, &p));
    }
    Ok(out)
}

/// The audit policy lint.
pub fn audit_catalogue() -> Vec<CheckInfo> {
    use Severity::*;
    let c = |id, severity, summary, remediation| CheckInfo { id, area: "audit", severity, summary, remediation };
    vec![
        c("AU001", Medium, "an audit rule no request reaches", "remove it, or move it before the rules that shadow it"),
        c(
            "AU002",
            High,
            "Secrets, ConfigMaps, TokenReviews or tokens logged with their bodies",
            "log them at Metadata",
        ),
        c(
            "AU003",
            Low,
            "no catch-all rule: some requests are not logged at all",
            "end the policy with a rule for every request",
        ),
        c("AU009", Info, "a rule too large to check within the budget", "split the rule"),
    ]
}

/// Audit policy findings, for each audit.k8s.io Policy of the input.
pub fn audit(s: &Subject<'_>) -> Result<Vec<Finding>, InputError> {
    let mut out = Vec::new();
    for o in s.input.objects.iter().filter(|o| o.kind == "Policy" && o.api_version.starts_with("audit.k8s.io/")) {
        let policy = podwall_audit::policy::from_objects(std::slice::from_ref(o), &o.source.file)?;
        out.extend(podwall_audit::lint::lint(&policy));
    }
    Ok(out)
}
