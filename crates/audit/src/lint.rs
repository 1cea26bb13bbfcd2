//! Findings about an audit policy, proved with the checker itself.
//!
//! The checker only compares a request's strings with the policy's literals (equality,
//! and for URLs a prefix), so finitely many requests stand for all of them: per
//! attribute, each literal the policy mentions and one fresh value it does not (which
//! every rule treats as it treats any other unmentioned value); for URLs, each literal
//! path and each prefix followed by a fresh character (which matches exactly the specs
//! that the longest matching prefix does); for groups, no group or one listed group
//! (matching is monotone in the groups, so one group of a rule's list stands for every
//! set that holds it). Evaluating those representatives with [`Rule::matches`] decides:
//!
//! - `AU001`: a rule no request reaches, because every request it matches is matched by
//!   an earlier rule;
//! - `AU002`: a request for Secrets, ConfigMaps, TokenReviews or service account tokens
//!   decided at `Request` or `RequestResponse`, which writes their content to the log;
//! - `AU003`: a request no rule matches, so it is not logged at all (no catch-all);
//! - `AU009`: a question with too many representatives to answer, said rather than
//!   skipped.
use std::collections::BTreeSet;

use podwall_findings::{Finding, Origin, Severity};

use crate::check::{Request, Target, User};
use crate::policy::{Policy, Rule};

/// At most this many representative requests are evaluated per question.
pub const BUDGET: usize = 2_000_000;

/// Every finding about `policy`, in rule order within each check.
pub fn lint(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for j in 0..policy.rules.len() {
        if let Some(f) = unreachable(policy, j) {
            out.push(f);
        }
    }
    out.extend(sensitive_bodies(policy));
    out.extend(no_catch_all(policy));
    out
}

/// The literals of some rules, per attribute, and a fresh value for each.
struct Literals {
    users: Vec<String>,
    groups: Vec<String>,
    verbs: Vec<String>,
    namespaces: Vec<String>,
    api_groups: Vec<String>,
    resources: Vec<String>,
    subresources: Vec<String>,
    names: Vec<String>,
    paths: Vec<String>,
}

/// A value no literal equals: it stands for every unmentioned value.
const FRESH: &str = "\u{1}";

fn with_fresh(set: BTreeSet<String>) -> Vec<String> {
    let mut fresh = FRESH.to_string();
    while set.contains(&fresh) {
        fresh.push('\u{1}');
    }
    let mut v: Vec<String> = set.into_iter().collect();
    v.push(fresh);
    v
}

impl Literals {
    fn of(rules: &[Rule]) -> Literals {
        let mut users = BTreeSet::new();
        let mut groups = BTreeSet::new();
        let mut verbs = BTreeSet::new();
        let mut namespaces = BTreeSet::new();
        let mut api_groups = BTreeSet::new();
        let mut resources = BTreeSet::new();
        let mut subresources = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut specs = BTreeSet::new();
        for r in rules {
            users.extend(r.users.iter().cloned());
            groups.extend(r.user_groups.iter().cloned());
            verbs.extend(r.verbs.iter().cloned());
            namespaces.extend(r.namespaces.iter().cloned());
            specs.extend(r.non_resource_urls.iter().cloned());
            for g in &r.resources {
                api_groups.insert(g.group.clone());
                names.extend(g.resource_names.iter().cloned());
                for p in &g.resources {
                    match p.split_once('/') {
                        Some((res, sub)) => {
                            resources.insert(res.to_string());
                            subresources.insert(sub.to_string());
                        }
                        None => {
                            resources.insert(p.clone());
                        }
                    }
                }
            }
        }
        // The request without a subresource is a value of its own.
        let mut subresources = with_fresh(subresources);
        if !subresources.iter().any(String::is_empty) {
            subresources.insert(0, String::new());
        }
        Literals {
            users: with_fresh(users),
            groups: groups.into_iter().collect(),
            verbs: with_fresh(verbs),
            namespaces: with_fresh(namespaces),
            api_groups: with_fresh(api_groups),
            resources: with_fresh(resources),
            subresources,
            names: with_fresh(names),
            paths: paths(&specs),
        }
    }
}

/// Literal paths, and each prefix (and the empty one) followed by a character no spec
/// holds.
fn paths(specs: &BTreeSet<String>) -> Vec<String> {
    let used: BTreeSet<char> = specs.iter().flat_map(|s| s.chars()).collect();
    let fresh = (1u32..).filter_map(char::from_u32).find(|c| !used.contains(c)).unwrap_or('\u{1}');
    let mut out: BTreeSet<String> = specs.iter().filter(|s| *s != "*").cloned().collect();
    out.insert(fresh.to_string());
    for s in specs.iter().filter(|s| s.ends_with('*')) {
        out.insert(format!("{}{fresh}", s.trim_end_matches('*')));
    }
    out.into_iter().collect()
}

/// The dimensions to enumerate, each already narrowed where a rule constrains it.
struct Space<'a> {
    users: &'a [String],
    /// `None` is a user in no group.
    groups: Vec<Option<&'a str>>,
    verbs: &'a [String],
    namespaces: &'a [String],
    api_groups: &'a [String],
    resources: &'a [String],
    subresources: &'a [String],
    names: &'a [String],
    paths: &'a [String],
    resource_requests: bool,
    url_requests: bool,
}

impl<'a> Space<'a> {
    /// Every request class; with `within`, only the values that rule can match where it
    /// constrains an attribute.
    fn new(lits: &'a Literals, within: Option<&'a Rule>) -> Space<'a> {
        let pick = |own: &'a [String], all: &'a [String]| if own.is_empty() { all } else { own };
        let (users, verbs, namespaces) = match within {
            Some(r) => {
                (pick(&r.users, &lits.users), pick(&r.verbs, &lits.verbs), pick(&r.namespaces, &lits.namespaces))
            }
            None => (&lits.users[..], &lits.verbs[..], &lits.namespaces[..]),
        };
        let groups = match within {
            Some(r) if !r.user_groups.is_empty() => r.user_groups.iter().map(|g| Some(g.as_str())).collect(),
            Some(_) => vec![None],
            None => std::iter::once(None).chain(lits.groups.iter().map(|g| Some(g.as_str()))).collect(),
        };
        let (resource_requests, url_requests) = match within {
            Some(r) if !r.namespaces.is_empty() || !r.resources.is_empty() => (true, false),
            Some(r) if !r.non_resource_urls.is_empty() => (false, true),
            _ => (true, true),
        };
        Space {
            users,
            groups,
            verbs,
            namespaces,
            api_groups: &lits.api_groups,
            resources: &lits.resources,
            subresources: &lits.subresources,
            names: &lits.names,
            paths: &lits.paths,
            resource_requests,
            url_requests,
        }
    }

    fn size(&self) -> usize {
        let who = self.users.len() * self.groups.len() * self.verbs.len();
        let res = if self.resource_requests {
            self.namespaces.len()
                * self.api_groups.len()
                * self.resources.len()
                * self.subresources.len()
                * self.names.len()
        } else {
            0
        };
        let urls = if self.url_requests { self.paths.len() } else { 0 };
        who.saturating_mul(res + urls)
    }

    /// Calls `f` on every representative until it returns `true`; says whether one did.
    fn any(&self, mut f: impl FnMut(&Request) -> bool) -> bool {
        let mut targets = Vec::new();
        if self.url_requests {
            targets.extend(self.paths.iter().map(|p| Target::NonResource { path: p.clone() }));
        }
        for user in self.users {
            for group in &self.groups {
                for verb in self.verbs {
                    let who = User { name: user.clone(), groups: group.iter().map(|g| g.to_string()).collect() };
                    let mut request =
                        Request { user: who, verb: verb.clone(), target: Target::NonResource { path: String::new() } };
                    for t in &targets {
                        request.target = t.clone();
                        if f(&request) {
                            return true;
                        }
                    }
                    if !self.resource_requests {
                        continue;
                    }
                    for namespace in self.namespaces {
                        for group in self.api_groups {
                            for resource in self.resources {
                                for subresource in self.subresources {
                                    for name in self.names {
                                        request.target = Target::Resource {
                                            group: group.clone(),
                                            resource: resource.clone(),
                                            subresource: subresource.clone(),
                                            name: name.clone(),
                                            namespace: namespace.clone(),
                                        };
                                        if f(&request) {
                                            return true;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        false
    }
}

fn rule_subject(rule: &Rule) -> String {
    format!("rule {} (rules[{}], level {})", rule.index + 1, rule.index, rule.level)
}

fn origin(policy: &Policy) -> Origin {
    Origin::file(&policy.source.file, policy.source.line)
}

fn too_large(policy: &Policy, what: &str, size: usize) -> Finding {
    Finding::new(
        "AU009",
        Severity::Info,
        format!("{what}: not checked, {size} representative requests exceed the budget of {BUDGET}"),
    )
    .subject("Policy")
    .origin(origin(policy))
}

/// `AU001` for rule `j` when every request it matches is matched by an earlier rule.
fn unreachable(policy: &Policy, j: usize) -> Option<Finding> {
    let rule = &policy.rules[j];
    let lits = Literals::of(&policy.rules[..=j]);
    let space = Space::new(&lits, Some(rule));
    let size = space.size();
    if size > BUDGET {
        return Some(too_large(policy, &format!("whether {} is reachable", rule_subject(rule)), size));
    }
    let earlier = &policy.rules[..j];
    let mut shadowing = BTreeSet::new();
    let mut matched_any = false;
    let reachable = space.any(|r| {
        if !rule.matches(r) {
            return false;
        }
        matched_any = true;
        match earlier.iter().find(|e| e.matches(r)) {
            Some(e) => {
                shadowing.insert(e.index + 1);
                false
            }
            None => true,
        }
    });
    if reachable {
        return None;
    }
    let message = if matched_any {
        let list: Vec<String> = shadowing.iter().map(ToString::to_string).collect();
        let noun = if list.len() == 1 { "rule" } else { "rules" };
        format!(
            "never reached: every request it matches is matched first by {noun} {}, so its level never applies",
            list.join(", ")
        )
    } else {
        "never reached: it matches no request".to_string()
    };
    Some(
        Finding::new("AU001", Severity::Medium, message)
            .subject(rule_subject(rule))
            .origin(origin(policy))
            .remediation("remove it, or move it before the rules that shadow it"),
    )
}

/// Resources whose bodies hold credentials or configuration data: (API group, resource,
/// subresource, what they are).
const SENSITIVE: &[(&str, &str, &str, &str)] = &[
    ("", "secrets", "", "Secrets"),
    ("", "configmaps", "", "ConfigMaps"),
    ("authentication.k8s.io", "tokenreviews", "", "TokenReviews (bearer tokens)"),
    ("", "serviceaccounts", "token", "service account tokens (serviceaccounts/token)"),
];

fn combined(resource: &str, subresource: &str) -> String {
    if subresource.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{subresource}")
    }
}

/// `AU002` once per sensitive resource and deciding rule that logs bodies.
fn sensitive_bodies(policy: &Policy) -> Vec<Finding> {
    let lits = Literals::of(&policy.rules);
    let mut out = Vec::new();
    for &(group, resource, subresource, what) in SENSITIVE {
        let fixed_group = [group.to_string()];
        let fixed_resource = [resource.to_string()];
        let fixed_sub = [subresource.to_string()];
        let mut space = Space::new(&lits, None);
        space.api_groups = &fixed_group;
        space.resources = &fixed_resource;
        space.subresources = &fixed_sub;
        space.url_requests = false;
        let size = space.size();
        if size > BUDGET {
            out.push(too_large(policy, &format!("how {what} are logged"), size));
            continue;
        }
        let mut logging = BTreeSet::new();
        space.any(|r| {
            if let Some(rule) = policy.deciding_rule(r) {
                if rule.level.logs_bodies() {
                    logging.insert(rule.index);
                }
            }
            false
        });
        for i in logging {
            let rule = &policy.rules[i];
            out.push(
                Finding::new(
                    "AU002",
                    Severity::High,
                    format!("logs {what} at {}: their content is written to the audit log", rule.level),
                )
                .subject(rule_subject(rule))
                .origin(origin(policy))
                .remediation(format!("add a rule logging {} at Metadata before it", combined(resource, subresource))),
            );
        }
    }
    out
}

/// `AU003` when some request matches no rule. A resource request by a user no rule
/// names, in no group, with a verb, namespace and API group no rule names, is matched
/// only by a rule that sets none of users, userGroups, verbs, namespaces, resources and
/// nonResourceURLs; so there is a gap exactly when no rule is that unconditional.
fn no_catch_all(policy: &Policy) -> Option<Finding> {
    let unconditional = |r: &Rule| {
        r.users.is_empty()
            && r.user_groups.is_empty()
            && r.verbs.is_empty()
            && r.namespaces.is_empty()
            && r.resources.is_empty()
            && r.non_resource_urls.is_empty()
    };
    if policy.rules.iter().any(unconditional) {
        return None;
    }
    let lits = Literals::of(&policy.rules);
    let fresh = |v: &[String]| v.last().cloned().unwrap_or_default();
    let example = Request {
        user: User { name: fresh(&lits.users), groups: Vec::new() },
        verb: fresh(&lits.verbs),
        target: Target::Resource {
            group: fresh(&lits.api_groups),
            resource: fresh(&lits.resources),
            subresource: String::new(),
            name: String::new(),
            namespace: fresh(&lits.namespaces),
        },
    };
    debug_assert!(policy.deciding_rule(&example).is_none());
    Some(
        Finding::new(
            "AU003",
            Severity::Low,
            format!("no catch-all rule: requests no rule matches are not logged at all, e.g. {}", describe(&example)),
        )
        .subject("Policy")
        .origin(origin(policy))
        .remediation("end the rules with a catch-all, e.g. `- level: Metadata`"),
    )
}

/// A representative request in words; fresh values read as "any other".
fn describe(r: &Request) -> String {
    let show = |s: &str| {
        if s.contains('\u{1}') || s.chars().any(|c| c.is_control()) {
            "(any other)".to_string()
        } else {
            format!("{s:?}")
        }
    };
    let who = match r.user.groups.first() {
        Some(g) => format!("user {} in group {}", show(&r.user.name), show(g)),
        None => format!("user {}", show(&r.user.name)),
    };
    let what = match &r.target {
        Target::NonResource { path } => format!("URL {}", show(path)),
        Target::Resource { group, resource, subresource, namespace, .. } => {
            let mut s = format!("resource {}", show(resource));
            if !subresource.is_empty() {
                s.push_str(&format!(" subresource {}", show(subresource)));
            }
            s.push_str(&format!(" of group {} in namespace {}", show(group), show(namespace)));
            s
        }
    };
    format!("verb {} on {what} by {who}", show(&r.verb))
}
