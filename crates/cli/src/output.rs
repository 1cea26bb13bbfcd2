//! The JSON podwall prints, as types: one struct per object of every `-o json` form
//! (the matrix itself is `podwall_engine::json`). Fields are declared in alphabetical
//! order, the order the documented forms list keys in.
use serde::Serialize;

/// A policy, named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyOut {
    /// Its kind, as `check` words it (`NetworkPolicy`, `GlobalNetworkPolicy`, ...).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace, for namespaced kinds.
    pub namespace: Option<String>,
}

/// A policy that applied to the local end, with its tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedPolicyOut {
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The tier it sits in.
    pub tier: String,
}

/// A rule, located: its tier and policy, its 1-based number, its own name and action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleOut {
    /// `Allow`, `Deny`, `Pass` or `Log`.
    pub action: String,
    /// The rule's own name (AdminNetworkPolicy, ClusterNetworkPolicy).
    pub name: Option<String>,
    /// Its policy.
    pub policy: PolicyOut,
    /// Its number in its policy's list for the direction, from 1.
    pub rule: usize,
    /// Its tier.
    pub tier: String,
}

/// One direction of a connection: the verdict, what decided it, and the reason (`R`:
/// words, or a reason still to be given the local end's name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirectionOut<R> {
    /// Whether this direction lets the connection through.
    pub allowed: bool,
    /// `not-an-endpoint`, `no-policy`, `passed`, `own-traffic`, `rule` or `tier-default`.
    pub decision: &'static str,
    /// Log rules that fired.
    pub logged: Vec<RuleOut>,
    /// Pass rules that sent the connection on.
    pub passed: Vec<RuleOut>,
    /// Every policy that applies, in evaluation order.
    pub policies: Vec<AppliedPolicyOut>,
    /// Why, in one sentence.
    pub reason: R,
    /// The deciding rule, when a rule decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleOut>,
    /// The tier whose default action decided, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Rules that matched only because their HTTP match was not evaluated.
    pub unchecked_http: Vec<RuleOut>,
}

impl<R> DirectionOut<R> {
    /// The same direction with its reason mapped.
    pub fn map_reason<S>(self, f: impl FnOnce(R) -> S) -> DirectionOut<S> {
        DirectionOut {
            allowed: self.allowed,
            decision: self.decision,
            logged: self.logged,
            passed: self.passed,
            policies: self.policies,
            reason: f(self.reason),
            rule: self.rule,
            tier: self.tier,
            unchecked_http: self.unchecked_http,
        }
    }
}

/// An ICMP type and code.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct IcmpOut {
    /// The code.
    pub code: u8,
    /// The type.
    #[serde(rename = "type")]
    pub kind: u8,
}

/// `check -o json`.
#[derive(Debug, Serialize)]
pub struct CheckOut {
    /// Both directions allow.
    pub allowed: bool,
    /// The source's egress.
    pub egress: DirectionOut<String>,
    /// The source, as given.
    pub from: String,
    /// The ICMP type and code asked about, for ICMP.
    pub icmp: Option<IcmpOut>,
    /// The destination's ingress.
    pub ingress: DirectionOut<String>,
    /// What the answer leaves out or cannot see.
    pub notes: Vec<String>,
    /// The destination port, for protocols with ports.
    pub port: Option<u16>,
    /// The protocol.
    pub protocol: String,
    /// The destination, as given.
    pub to: String,
}

/// One rule of a policy in `explain -o json`.
#[derive(Debug, Serialize)]
pub struct ExplainRuleOut {
    /// Its action.
    pub action: String,
    /// Its match, in words.
    #[serde(rename = "match")]
    pub matches: String,
    /// Its own name.
    pub name: Option<String>,
    /// Its number, from 1.
    pub rule: usize,
}

/// A policy that governs the pod, in `explain -o json`.
#[derive(Debug, Serialize)]
pub struct ExplainPolicyOut {
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: Option<String>,
    /// Its rules for the direction.
    pub rules: Vec<ExplainRuleOut>,
    /// Its tier.
    pub tier: String,
}

/// What the pod reaches (egress) or is reached by (ingress) on one port.
#[derive(Debug, Serialize)]
pub struct EffectiveOut {
    /// How many endpoints.
    pub count: usize,
    /// Out of how many.
    pub of: usize,
    /// Their names.
    pub pods: Vec<String>,
    /// The port.
    pub port: u16,
    /// Its protocol.
    pub protocol: String,
}

/// One direction in `explain -o json`.
#[derive(Debug, Serialize)]
pub struct ExplainDirectionOut {
    /// Per port.
    pub effective: Vec<EffectiveOut>,
    /// Whether some policy selects the pod in this direction.
    pub isolated: bool,
    /// The policies that govern it, tier by tier.
    pub policies: Vec<ExplainPolicyOut>,
}

/// `explain -o json`.
#[derive(Debug, Serialize)]
pub struct ExplainOut {
    /// Every address, the primary first.
    pub addresses: Vec<String>,
    /// Egress.
    pub egress: ExplainDirectionOut,
    /// A host-network pod.
    pub host_network: bool,
    /// Ingress.
    pub ingress: ExplainDirectionOut,
    /// The primary address.
    pub ip: Option<String>,
    /// What the answer leaves out or cannot see.
    pub notes: Vec<String>,
    /// The workload the pod stands for.
    pub owner: Option<String>,
    /// The pod's name.
    pub pod: String,
}

/// A network set a selector picks.
#[derive(Debug, Serialize)]
pub struct NetworkSetOut {
    /// `NS/NAME` or `NAME`.
    pub name: String,
    /// Its namespace; none for a GlobalNetworkSet.
    pub namespace: Option<String>,
    /// Its address ranges.
    pub nets: Vec<String>,
}

/// `selector -o json`.
#[derive(Debug, Serialize)]
pub struct SelectorOut<'a> {
    /// The endpoints it picks.
    pub endpoints: Vec<&'a str>,
    /// The network sets it picks.
    pub network_sets: Vec<NetworkSetOut>,
    /// The selector, as given.
    pub selector: &'a str,
}

/// `selector --namespace-selector -o json`.
#[derive(Debug, Serialize)]
pub struct NamespaceSelectorOut<'a> {
    /// The namespaces it picks.
    pub namespaces: Vec<String>,
    /// The selector, as given.
    pub selector: &'a str,
}

/// Whether a pod is isolated, per direction.
#[derive(Debug, Serialize)]
pub struct IsolationOut {
    /// For egress.
    pub egress: bool,
    /// For ingress.
    pub ingress: bool,
}

/// How many endpoints one reaches and is reached by on one port.
#[derive(Debug, Serialize)]
pub struct PortReachOut {
    /// The port.
    pub port: u16,
    /// Its protocol.
    pub protocol: String,
    /// Endpoints that reach it.
    pub reached_by: usize,
    /// Endpoints it reaches.
    pub reaches: usize,
}

/// One row of `matrix --summary -o json`.
#[derive(Debug, Serialize)]
pub struct SummaryRowOut<'a> {
    /// Per direction.
    pub isolated: IsolationOut,
    /// The endpoint.
    pub pod: &'a str,
    /// Per port.
    pub ports: Vec<PortReachOut>,
}

/// An object that differs between the two states of `diff`.
#[derive(Debug, Serialize)]
pub struct ObjectOut {
    /// `added`, `changed` or `removed`.
    pub change: String,
    /// What changed, in words.
    pub detail: Option<String>,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: Option<String>,
}

/// How the index took one change, in `diff -o json`.
#[derive(Debug, Serialize)]
pub struct UpdateOut {
    /// The change, in words.
    pub change: String,
    /// Classes re-answered.
    pub classes: usize,
    /// Endpoints in them.
    pub endpoints: usize,
    /// Why the index was rebuilt, when it was.
    pub rebuilt: Option<String>,
}

/// One direction of a group of changed pairs: before (none when the pairs said
/// different things) and after.
#[derive(Debug, Serialize)]
pub struct TurnOut {
    /// Now.
    pub after: DirectionOut<String>,
    /// Before.
    pub before: Option<DirectionOut<String>>,
}

/// A group of changed pairs.
#[derive(Debug, Serialize)]
pub struct ChangeOut {
    /// Allowed now.
    pub allowed: bool,
    /// The source's egress, when its verdict or reason changed.
    pub egress: Option<TurnOut>,
    /// The sources.
    pub from: Vec<String>,
    /// The destination's ingress, when its verdict or reason changed.
    pub ingress: Option<TurnOut>,
    /// How many pairs.
    pub pairs: usize,
    /// The destinations.
    pub to: Vec<String>,
}

/// One port of `diff -o json`.
#[derive(Debug, Serialize)]
pub struct DiffPortOut {
    /// The groups of changed pairs.
    pub changes: Vec<ChangeOut>,
    /// Pairs newly allowed.
    pub newly_allowed: usize,
    /// Pairs newly denied.
    pub newly_denied: usize,
    /// The port.
    pub port: u16,
    /// Its protocol.
    pub protocol: String,
}

/// An endpoint only one state has, with its counts per port.
#[derive(Debug, Serialize)]
pub struct LoneEndpointOut {
    /// Its name.
    pub endpoint: String,
    /// Per port.
    pub ports: Vec<PortReachOut>,
}

/// The version of `diff -o json`, its `version` key: 2 since it holds findings, flow
/// counts and the gate (version 1 had no `version` key).
pub const DIFF_VERSION: u32 = 2;

/// A finding in `diff -o json`: as `analyze -o json` gives it, with the fingerprint its
/// SARIF result carries (`partialFingerprints."podwall/v2"`).
#[derive(Debug, Serialize)]
pub struct DiffFindingOut {
    /// The finding.
    #[serde(flatten)]
    pub finding: podwall_findings::Finding,
    /// Its fingerprint: the same in `analyze -o sarif` of the state it is from.
    pub fingerprint: String,
}

impl DiffFindingOut {
    /// `f` with its fingerprint; `files` are its side's input files, as read.
    pub fn of(f: &podwall_findings::Finding, files: &podwall_report::changes::Files) -> Self {
        let fingerprint = podwall_report::changes::Identity::of(f, files).fingerprint();
        DiffFindingOut { finding: f.clone(), fingerprint }
    }
}

/// Findings added and fixed, in `diff -o json`.
#[derive(Debug, Serialize)]
pub struct DiffFindingsOut {
    /// Only the new state has them, worst first (as `analyze -o json` orders findings).
    pub added: Vec<DiffFindingOut>,
    /// Only the old state had them (as the old state reported them).
    pub fixed: Vec<DiffFindingOut>,
}

/// Flow counts of `diff -o json`, over every compared port.
#[derive(Debug, Serialize)]
pub struct DiffFlowsOut {
    /// (source, destination, port) of endpoints in both states newly denied.
    pub closed: usize,
    /// Endpoints only the old state had that reached, or were reached by, another.
    pub gone_endpoints_with_flows: usize,
    /// Endpoints only the new state has that reach, or are reached by, another.
    pub new_endpoints_with_flows: usize,
    /// Newly allowed.
    pub opened: usize,
}

/// What `--fail-on` decided.
#[derive(Debug, Serialize)]
pub struct GateOut {
    /// The conditions asked for.
    pub conditions: Vec<String>,
    /// Those that hold (the exit code is 1 when there is one).
    pub failed: Vec<String>,
}

/// `diff -o json`.
#[derive(Debug, Serialize)]
pub struct DiffOut {
    /// Endpoints only the new state has.
    pub added: Vec<LoneEndpointOut>,
    /// Whether reachability changed.
    pub changed: bool,
    /// Findings added and fixed.
    pub findings: DiffFindingsOut,
    /// Flows opened and closed.
    pub flows: DiffFlowsOut,
    /// With `--fail-on`: what it decided.
    pub gate: Option<GateOut>,
    /// The objects that differ.
    pub objects: Vec<ObjectOut>,
    /// Per port.
    pub ports: Vec<DiffPortOut>,
    /// Endpoints only the old state has.
    pub removed: Vec<LoneEndpointOut>,
    /// How the index took each change.
    pub updates: Vec<UpdateOut>,
    /// [`DIFF_VERSION`].
    pub version: u32,
}

/// An RBAC object a grant goes through, with where it was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RbacObjectOut {
    /// `RoleBinding`, `ClusterRoleBinding`, `Role` or `ClusterRole`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace; `null` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `file:line`.
    pub source: String,
}

/// A grant: the binding, its role, the rule (1-based) and the subject that named the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantOut {
    /// The binding.
    pub binding: RbacObjectOut,
    /// The rule itself.
    #[serde(rename = "policyRule")]
    pub policy_rule: podwall_rbac::Rule,
    /// The role.
    pub role: RbacObjectOut,
    /// The rule's number in the role, from 1.
    pub rule: usize,
    /// The binding's subject that named the user.
    pub subject: podwall_rbac::Subject,
}

impl GrantOut {
    /// The grant of an RBAC decision.
    pub fn new(rbac: &podwall_rbac::Rbac, g: &podwall_rbac::Grant) -> Self {
        let b = &rbac.bindings[g.binding];
        let r = &rbac.roles[g.role];
        GrantOut {
            binding: RbacObjectOut {
                kind: b.kind.as_str().into(),
                name: b.name.clone(),
                namespace: b.namespace.clone(),
                source: b.source.to_string(),
            },
            policy_rule: r.rules[g.rule].clone(),
            role: RbacObjectOut {
                kind: r.kind.as_str().into(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                source: r.source.to_string(),
            },
            rule: g.rule + 1,
            subject: b.subjects[g.subject].clone(),
        }
    }
}

/// Who allowed a `can-i` request outside RBAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupOut {
    /// The group.
    pub group: String,
}

/// What allowed a `can-i` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum GrantedByOut {
    /// An RBAC grant.
    Grant(Box<GrantOut>),
    /// The `system:masters` group.
    Group(GroupOut),
}

/// `can-i -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CanIOut {
    /// The answer.
    pub allowed: bool,
    /// What allowed it; `null` when denied.
    #[serde(rename = "grantedBy")]
    pub granted_by: Option<GrantedByOut>,
    /// The API server's reason for a denial (bindings to missing roles), or `null`.
    pub reason: Option<String>,
    /// The user asked as.
    pub user: podwall_rbac::User,
    /// For an allowed request that makes pods: the service accounts whose grants those
    /// pods can carry (absent otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unlocks: Vec<String>,
}

/// A pod or workload template and the service account it runs as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodOut {
    /// `name`, or `Kind/name` for a workload.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its service account.
    #[serde(rename = "serviceAccount")]
    pub service_account: String,
}

/// One subject of `who-can --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HolderOut {
    /// Every binding that grants it.
    pub grants: Vec<GrantOut>,
    /// The pods that run as it.
    pub pods: Vec<PodOut>,
    /// The subject.
    pub subject: podwall_rbac::Subject,
}

/// Allowed outside RBAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlsoAllowedOut {
    /// `Group`.
    pub kind: String,
    /// `system:masters`.
    pub name: String,
    /// Why.
    pub why: String,
}

/// `who-can --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WhoCanOut {
    /// Allowed outside RBAC.
    #[serde(rename = "alsoAllowed")]
    pub also_allowed: Vec<AlsoAllowedOut>,
    /// Bindings that would count but whose role is missing.
    #[serde(rename = "bindingsToMissingRoles")]
    pub bindings_to_missing_roles: Vec<String>,
    /// The request.
    pub request: podwall_rbac::Request,
    /// The subjects granted it.
    pub subjects: Vec<HolderOut>,
}

/// One step of an escalation path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOut {
    /// The grant that makes the step, if one does.
    pub grant: Option<GrantOut>,
    /// The step in words.
    pub text: String,
    /// Where it leads.
    pub to: String,
    /// A second grant the step needs.
    pub with: Option<GrantOut>,
}

/// An escalation path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathOut {
    /// The subject it starts from.
    pub from: String,
    /// The steps, the last reaching cluster-admin.
    pub steps: Vec<StepOut>,
}

/// `rbac risky --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiskyOut {
    /// The paths as findings (RB200).
    pub escalations: Vec<podwall_findings::Finding>,
    /// The risky grants.
    pub findings: Vec<podwall_findings::Finding>,
    /// The paths, step by step.
    pub paths: Vec<PathOut>,
}

/// `audit-level --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditLevelOut {
    /// The level events are written at.
    pub level: podwall_audit::Level,
    /// Whether managed fields are left out of logged bodies.
    #[serde(rename = "omitManagedFields")]
    pub omit_managed_fields: bool,
    /// Stages at which no event is written, in the order they happen.
    #[serde(rename = "omitStages")]
    pub omit_stages: Vec<podwall_audit::Stage>,
    /// The deciding rule, 1-based; `null` when none matched.
    pub rule: Option<usize>,
}

/// A failing Pod Security check, in `pss -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PssViolationOut<'a> {
    /// The check's ID (`hostNamespaces`, `runAsNonRoot`, ...).
    pub check: &'a str,
    /// Which containers, fields and values fail it, in upstream's words.
    pub detail: &'a str,
    /// Upstream's reason (`host namespaces`, ...).
    pub reason: &'a str,
}

impl<'a> PssViolationOut<'a> {
    /// Every violation of a judgement, in the checks' order.
    pub fn all(violations: &'a [podwall_pod_security::Violation]) -> Vec<Self> {
        violations
            .iter()
            .map(|v| PssViolationOut { check: v.check, detail: &v.fail.detail, reason: &v.fail.reason })
            .collect()
    }
}

/// One Pod or template of `pss --level L -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PssEntryOut<'a> {
    /// Whether no check fails.
    pub allowed: bool,
    /// The object's kind (`Pod`, `Deployment`, ...).
    pub kind: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its namespace (`default` when it names none).
    pub namespace: &'a str,
    /// The failing checks.
    pub violations: Vec<PssViolationOut<'a>>,
}

/// One mode's judgement in `pss -o json` by namespace labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PssJudgedOut<'a> {
    /// The level and version it judged at (`restricted:v1.30`).
    pub policy: String,
    /// The failing checks.
    pub violations: Vec<PssViolationOut<'a>>,
}

impl<'a> PssJudgedOut<'a> {
    /// A judgement, or `null` when the mode did not judge.
    pub fn of(j: &'a Option<podwall_pod_security::admission::Judged>) -> Option<Self> {
        j.as_ref()
            .map(|j| PssJudgedOut { policy: j.policy.to_string(), violations: PssViolationOut::all(&j.violations) })
    }
}

/// One Pod or template of `pss -o json` by namespace labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PssLabelledOut<'a> {
    /// Whether enforce admits it (for a workload: the pods it makes).
    pub allowed: bool,
    /// Audit's judgement.
    pub audit: Option<PssJudgedOut<'a>>,
    /// Enforce's judgement.
    pub enforce: Option<PssJudgedOut<'a>>,
    /// Why it is not judged (`namespace`, `user`, `runtimeClass`), or `null`.
    pub exempt: Option<&'static str>,
    /// The object's kind.
    pub kind: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// Enforce's failing checks.
    pub violations: Vec<PssViolationOut<'a>>,
    /// Warn's judgement (`null` when no warning would be sent).
    pub warn: Option<PssJudgedOut<'a>>,
}

/// Prints findings (text: one line each with its fix, then a count "on `what`"; JSON:
/// the list) and gives the posture commands' exit code: 0 without findings, 1 with.
pub fn findings(
    findings: &[podwall_findings::Finding],
    format: crate::Format,
    what: &str,
) -> Result<std::process::ExitCode, crate::Failure> {
    match format {
        crate::Format::Json => crate::outln!("{}", serde_json::to_string_pretty(findings)?),
        crate::Format::Text => {
            for f in findings {
                crate::outln!("{}[{}]: {f}", f.severity, f.id);
                if let Some(r) = &f.remediation {
                    crate::outln!("    fix: {r}");
                }
            }
            crate::outln!("{} finding(s) on {what}", findings.len());
        }
    }
    Ok(if findings.is_empty() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}

/// The JSON form of `secrets rewrap`: its counts, and where to resume when it stopped.
#[derive(serde::Serialize)]
struct Rewrap<'a> {
    dry_run: bool,
    prefixes: Vec<&'a str>,
    #[serde(flatten)]
    counts: &'a podwall_etcd::rewrap::Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    resume_from_key: Option<&'a str>,
}

/// Prints the counts of `secrets rewrap` over the prefixes `what` (space separated).
pub fn rewrap(
    counts: &podwall_etcd::rewrap::Counts,
    dry_run: bool,
    what: &str,
    resume: Option<&str>,
    format: crate::Format,
) -> Result<(), crate::Failure> {
    match format {
        crate::Format::Json => {
            let r = Rewrap { dry_run, prefixes: what.split(' ').collect(), counts, resume_from_key: resume };
            crate::outln!("{}", serde_json::to_string_pretty(&r)?);
        }
        crate::Format::Text => {
            let verb = if dry_run { "would rewrite" } else { "rewritten" };
            crate::outln!(
                "{} keys under {what}: {verb} {}, skipped {} (already current), failed {}, gone {} (deleted meanwhile); {} concurrent writes read again",
                counts.visited,
                counts.rewritten,
                counts.skipped,
                counts.failed,
                counts.gone,
                counts.conflicts
            );
        }
    }
    Ok(())
}
