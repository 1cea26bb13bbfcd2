//! The audit `Policy` (audit.k8s.io/v1) typed from the loader's kept document and
//! validated as the API server does when it reads `--audit-policy-file`: unknown fields,
//! unknown levels and stages, misplaced `*` in non-resource URLs, `resourceNames` without
//! `resources`, invalid API groups, resource and non-resource rules mixed, and a policy
//! without rules are refused.
use std::fmt;

use podwall_load::{InputError, Object, Source};
use serde::Deserialize;
use serde_json::Value;

/// How much of a request's event is recorded, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Level {
    /// No event.
    None,
    /// Metadata only: user, verb, resource, timestamps; no bodies.
    Metadata,
    /// Metadata and the request body.
    Request,
    /// Metadata, the request body and the response body.
    RequestResponse,
}

impl Level {
    /// Every level, lowest first, as upstream lists them.
    pub const ALL: [Level; 4] = [Level::None, Level::Metadata, Level::Request, Level::RequestResponse];

    /// The level's name as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    /// The level named `s` (exact, case-sensitive, as the API server reads it).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Whether events at this level hold the request body.
    pub fn logs_bodies(self) -> bool {
        self >= Level::Request
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage of a request's handling at which an event can be written, in the order they
/// happen (`Panic` last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Stage {
    /// As soon as the request is received, before it is handled.
    RequestReceived,
    /// When the response headers are sent (long-running requests such as watch).
    ResponseStarted,
    /// When the response is complete.
    ResponseComplete,
    /// When a panic happened while handling it.
    Panic,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 4] = [Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete, Stage::Panic];

    /// The stage's name as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// API resources of one group that a rule selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupResources {
    /// The API group (`""` is the core group); compared exactly.
    pub group: String,
    /// Resource patterns: `pods`, `pods/log`, `*`, `*/status`, `pods/*`; empty: every
    /// resource and subresource of the group.
    pub resources: Vec<String>,
    /// Object names; empty: any name (and unnamed requests).
    pub resource_names: Vec<String>,
}

/// One rule of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Its 0-based position in `rules`.
    pub index: usize,
    /// The level of the requests it matches.
    pub level: Level,
    /// User names; empty: any user.
    pub users: Vec<String>,
    /// Groups, one of which the user must be in; empty: any.
    pub user_groups: Vec<String>,
    /// Verbs (lower-case HTTP methods for non-resource requests); empty: any.
    pub verbs: Vec<String>,
    /// Resource selections; with `namespaces`, only resource requests can match.
    pub resources: Vec<GroupResources>,
    /// Namespaces (`""`: cluster-scoped requests); empty: any.
    pub namespaces: Vec<String>,
    /// URL paths: exact, `*`, or a prefix ending in `*`; only non-resource requests match.
    pub non_resource_urls: Vec<String>,
    /// Stages at which no event is written, as the rule lists them.
    pub omit_stages: Vec<Stage>,
    /// The rule's `omitManagedFields`, when it sets one.
    pub omit_managed_fields: Option<bool>,
}

/// An audit policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Where the document starts.
    pub source: Source,
    /// The rules, in file order; the first that matches decides.
    pub rules: Vec<Rule>,
    /// Stages omitted for every request.
    pub omit_stages: Vec<Stage>,
    /// The policy's `omitManagedFields` (default false).
    pub omit_managed_fields: bool,
}

const GROUP: &str = "audit.k8s.io";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyWire {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Value>,
    #[serde(default)]
    rules: Vec<RuleWire>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleWire {
    #[serde(default)]
    level: String,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    user_groups: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resources: Vec<GroupResourcesWire>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupResourcesWire {
    #[serde(default)]
    group: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_names: Vec<String>,
}

/// The first audit `Policy` among `objects` (read from `file`), typed and validated.
pub fn from_objects(objects: &[Object], file: &str) -> Result<Policy, InputError> {
    let Some(object) = objects.iter().find(|o| o.kind == "Policy" && o.api_version.starts_with("audit.k8s.io/")) else {
        return Err(InputError::at(
            Source { file: file.to_string(), line: 0 },
            "no audit.k8s.io/v1 Policy in the file",
        ));
    };
    let raw =
        object.raw.as_ref().ok_or_else(|| InputError::at(object.source.clone(), "internal: document not kept"))?;
    let value: Value =
        serde_json::from_str(raw.0.get()).map_err(|e| InputError::at(object.source.clone(), e.to_string()))?;
    from_value(&value, &object.source)
}

/// A policy from its document, read at `source`.
pub fn from_value(value: &Value, source: &Source) -> Result<Policy, InputError> {
    let err = |field: &str, message: String| InputError::field(source, "Policy", field, message);
    let version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if version != format!("{GROUP}/v1") {
        return Err(err(
            "apiVersion",
            format!("{version:?} is not audit.k8s.io/v1 (v1alpha1 and v1beta1 are no longer served)"),
        ));
    }
    let wire: PolicyWire = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        err(if path == "." { "" } else { &path }, e.into_inner().to_string())
    })?;
    let omit_stages = stages(&wire.omit_stages, "omitStages", &err)?;
    if wire.rules.is_empty() {
        return Err(err("rules", "a policy needs at least one rule (the API server refuses one with 0 rules)".into()));
    }
    let mut rules = Vec::with_capacity(wire.rules.len());
    for (index, r) in wire.rules.into_iter().enumerate() {
        let at = |f: &str| format!("rules[{index}].{f}");
        let level = match r.level.as_str() {
            "" => return Err(err(&at("level"), "Required value".into())),
            l => Level::parse(l).ok_or_else(|| {
                err(
                    &at("level"),
                    format!(
                        "Unsupported value: {l:?}: supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\""
                    ),
                )
            })?,
        };
        for (i, url) in r.non_resource_urls.iter().enumerate() {
            if url == "*" {
                continue;
            }
            if !url.starts_with('/') {
                return Err(err(
                    &at(&format!("nonResourceURLs[{i}]")),
                    format!("Invalid value: {url:?}: non-resource URL rules must begin with a '/' character"),
                ));
            }
            if url[..url.len() - 1].contains('*') {
                return Err(err(
                    &at(&format!("nonResourceURLs[{i}]")),
                    format!("Invalid value: {url:?}: a '*' in a non-resource URL must be its last character"),
                ));
            }
        }
        let mut resources = Vec::with_capacity(r.resources.len());
        for (i, g) in r.resources.into_iter().enumerate() {
            if !g.group.is_empty() && !is_dns_subdomain(&g.group) {
                return Err(err(
                    &at(&format!("resources[{i}].group")),
                    format!(
                        "Invalid value: {:?}: an API group must be a lower-case DNS subdomain (no version)",
                        g.group
                    ),
                ));
            }
            if !g.resource_names.is_empty() && g.resources.is_empty() {
                return Err(err(
                    &at(&format!("resources[{i}].resourceNames")),
                    "using resourceNames requires at least one resource".into(),
                ));
            }
            resources.push(GroupResources { group: g.group, resources: g.resources, resource_names: g.resource_names });
        }
        let omit = stages(&r.omit_stages, &at("omitStages"), &err)?;
        if !r.non_resource_urls.is_empty() && (!resources.is_empty() || !r.namespaces.is_empty()) {
            return Err(err(
                &at("nonResourceURLs"),
                "rules cannot apply to both regular resources and non-resource URLs".into(),
            ));
        }
        rules.push(Rule {
            index,
            level,
            users: r.users,
            user_groups: r.user_groups,
            verbs: r.verbs,
            resources,
            namespaces: r.namespaces,
            non_resource_urls: r.non_resource_urls,
            omit_stages: omit,
            omit_managed_fields: r.omit_managed_fields,
        });
    }
    Ok(Policy { source: source.clone(), rules, omit_stages, omit_managed_fields: wire.omit_managed_fields })
}

fn stages(list: &[String], field: &str, err: &dyn Fn(&str, String) -> InputError) -> Result<Vec<Stage>, InputError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            Stage::parse(s).ok_or_else(|| {
                err(
                    &format!("{field}[{i}]"),
                    format!(
                        "Invalid value: {s:?}: allowed stages are RequestReceived, ResponseStarted, ResponseComplete, Panic"
                    ),
                )
            })
        })
        .collect()
}

/// RFC 1123 subdomain: at most 253 characters, dot-separated labels of lower-case
/// letters, digits and `-`, each starting and ending with a letter or digit.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
