//! `podwall can-i`: `kubectl auth can-i` answered from manifests.
use std::process::ExitCode;

use podwall_rbac::{Decision, Rbac, Request, User};

use crate::output::{CanIOut, GrantOut, GrantedByOut, GroupOut};
use crate::{Failure, Format};

/// Where the RBAC objects come from, and as whom to ask.
#[derive(clap::Args, Clone, Debug)]
pub struct Identity {
    /// A manifest file, a folder (read recursively) or `-` for standard input; repeatable.
    /// Without it: the cluster --kubeconfig/--context name, or inside a pod its own.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub live: crate::live::LiveArgs,
    /// The user to ask as (`jane`, `system:serviceaccount:NS:NAME`).
    #[arg(long = "as", value_name = "USER")]
    pub user: Option<String>,
    /// A group to ask as; repeatable. Given groups replace a service account's own.
    #[arg(long = "as-group", value_name = "GROUP")]
    pub groups: Vec<String>,
}

impl Identity {
    /// The user, built as the API server's impersonation builds it.
    pub fn user(&self) -> Result<User, Failure> {
        match &self.user {
            Some(u) if !u.is_empty() => Ok(User::impersonate(u, &self.groups)),
            _ if !self.groups.is_empty() => Err(Failure::Error(
                "--as-group needs --as: the API server refuses groups without impersonating a user".into(),
            )),
            _ => Err(Failure::Error("--as is required: manifests have no current user to ask as".into())),
        }
    }
}

/// Flags of `can-i`.
#[derive(clap::Args)]
pub struct Args {
    /// VERB and TYPE, TYPE/NAME or NONRESOURCEURL (a path starting with `/`). TYPE is a
    /// resource (`pods`), its singular, short name or kind (`po`, `Pod`), optionally with
    /// `.group` (`deployments.apps`) or `.version.group`; `*` is every resource. The part
    /// after the first `/` is the object's name: subresources go in `--subresource`.
    #[arg(value_name = "VERB TYPE")]
    args: Vec<String>,
    #[command(flatten)]
    identity: Identity,
    /// The namespace of the request.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Ask cluster-wide (no namespace: only ClusterRoleBindings count).
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// The subresource (`log`, `exec`, `scale`).
    #[arg(long)]
    subresource: Option<String>,
    /// Print everything the user may do in the namespace.
    #[arg(long)]
    list: bool,
    /// Print nothing; the exit code is the answer.
    #[arg(short, long)]
    quiet: bool,
    /// With --list, leave out the header line.
    #[arg(long)]
    no_headers: bool,
    /// Output format: with --list, `json` prints the SelfSubjectRulesReview the API server
    /// would return; otherwise `{"allowed", "reason", "grantedBy"}`.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Reads the RBAC objects (and CRDs) only: other kinds are parsed, not checked.
pub fn load_rules(files: &[String], live: &crate::live::LiveArgs) -> Result<Rbac, Failure> {
    crate::input::size_threads(files);
    let options = podwall_load::Options { keep: &podwall_rbac::needs_rules, ..Default::default() };
    let input = crate::live::read_from(files, live, options)?;
    crate::live::warn_gaps(&input);
    finish(&input)
}

/// Reads the RBAC objects with the service accounts and pods they bear on.
pub fn load_identities(files: &[String], live: &crate::live::LiveArgs) -> Result<Rbac, Failure> {
    crate::input::size_threads(files);
    let options = podwall_load::Options { keep: &podwall_rbac::needs_identities, ..Default::default() };
    let input = crate::live::read_from(files, live, options)?;
    crate::live::warn_gaps(&input);
    finish(&input)
}

fn finish(input: &podwall_load::Input) -> Result<Rbac, Failure> {
    let rbac = Rbac::from_input(input)?;
    for f in &rbac.findings {
        eprintln!("warning[{}]: {f}", f.id);
    }
    Ok(rbac)
}

/// kubectl's verbs; others are warned about (the authorizer compares verbs exactly, so a
/// misspelt verb is always `no`).
const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
    "attest",
];
const URL_VERBS: &[&str] = &["get", "put", "post", "head", "options", "delete", "patch", "*"];

/// The request `VERB TARGET` names, as kubectl builds it: a URL when TARGET starts with
/// `/`, else `TYPE[/NAME]` with TYPE resolved. Prints kubectl's warnings (unknown verb,
/// a cluster-scoped type asked about in a namespace).
pub fn parse_request(
    rbac: &Rbac,
    verb: &str,
    target: &str,
    namespace: &str,
    subresource: Option<&str>,
    in_namespace: bool,
) -> Result<Request, Failure> {
    if target.starts_with('/') {
        if subresource.is_some() {
            return Err(Failure::Error("--subresource can not be used with NonResourceURL".into()));
        }
        if !URL_VERBS.contains(&verb) {
            eprintln!("Warning: verb '{verb}' is not a known verb");
        }
        return Ok(Request::url(verb, target));
    }
    let (ty, name) = target.split_once('/').unwrap_or((target, ""));
    let resolved = rbac.resources.resolve(ty).map_err(Failure::Error)?;
    if in_namespace && resolved.namespaced == Some(false) {
        match resolved.group.as_str() {
            "" => eprintln!("Warning: resource '{}' is not namespace scoped", resolved.resource),
            g => eprintln!("Warning: resource '{}' is not namespace scoped in group '{g}'", resolved.resource),
        }
    }
    if !RESOURCE_VERBS.contains(&verb) {
        eprintln!("Warning: verb '{verb}' is not a known verb");
    }
    Ok(Request::resource(verb, namespace, &resolved.group, &resolved.resource, subresource.unwrap_or_default(), name))
}

/// Runs `can-i`: exit 0 for yes, 1 for no.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    if a.list {
        if !a.args.is_empty() {
            return Err(Failure::Error("list option must be specified with no arguments".into()));
        }
        if a.quiet || a.all_namespaces || a.subresource.is_some() {
            return Err(Failure::Error(
                "list option can't be specified with neither quiet, all-namespaces nor subresource options".into(),
            ));
        }
        return list(&a);
    }
    let [verb, target] = &a.args[..] else {
        return Err(Failure::Error(
            "you must specify two arguments: verb resource or verb resource/resourceName.\n\
             See 'podwall can-i -h' for help and examples."
                .into(),
        ));
    };
    if a.no_headers {
        return Err(Failure::Error("--no-headers cannot be set without --list specified".into()));
    }
    let user = a.identity.user()?;
    let rbac = load_rules(&a.identity.files, &a.identity.live)?;
    let namespace = if a.all_namespaces { "" } else { a.namespace.as_str() };
    let request = parse_request(&rbac, verb, target, namespace, a.subresource.as_deref(), !a.all_namespaces)?;
    let decision = rbac.authorize(&user, &request);
    let unlocks = if decision.allowed() { unlocked(&rbac, &user.name, &request) } else { vec![] };
    if !a.quiet {
        match a.format {
            Format::Json => {
                let granted_by = match &decision {
                    Decision::Masters => {
                        Some(GrantedByOut::Group(GroupOut { group: podwall_rbac::user::MASTERS.into() }))
                    }
                    Decision::Allowed(g) => Some(GrantedByOut::Grant(Box::new(GrantOut::new(&rbac, g)))),
                    Decision::Denied { .. } => None,
                };
                let unlocks = unlocks.iter().map(|u| u.to_string()).collect();
                let out = CanIOut { allowed: decision.allowed(), granted_by, reason: decision.reason(), user, unlocks };
                crate::outln!("{}", serde_json::to_string(&out)?);
            }
            Format::Text => match decision.reason() {
                _ if decision.allowed() => {
                    crate::outln!("yes");
                    // stdout stays kubectl's answer; what it leads to goes beside it.
                    for u in &unlocks {
                        eprintln!("note: a pod run as it unlocks {u}");
                    }
                }
                Some(r) => crate::outln!("no - {r}"),
                None => crate::outln!("no"),
            },
        }
    }
    Ok(if decision.allowed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// For a request that makes pods (create, update or patch of pods or workloads), the
/// service accounts whose grants the pods can carry.
fn unlocked(
    rbac: &podwall_rbac::Rbac,
    user: &str,
    request: &podwall_rbac::Request,
) -> Vec<podwall_rbac::risky::Unlocked> {
    use podwall_rbac::risky::{WORKLOAD_RESOURCES, WORKLOAD_VERBS};
    let podwall_rbac::Target::Resource { namespace, group, resource, subresource, .. } = &request.target else {
        return vec![];
    };
    let makes_pods = WORKLOAD_VERBS.contains(&request.verb.as_str())
        && WORKLOAD_RESOURCES.iter().any(|(g, r, s)| g == group && r == resource && s == subresource);
    if !makes_pods {
        return vec![];
    }
    let mut list = rbac.unlocked_by_pods(if namespace.is_empty() { None } else { Some(namespace) });
    list.retain(|u| u.user().as_deref() != Some(user));
    list
}

fn list(a: &Args) -> Result<ExitCode, Failure> {
    let user = a.identity.user()?;
    let rbac = load_rules(&a.identity.files, &a.identity.live)?;
    let (rules, errors) = rbac.rules_for(&user, Some(&a.namespace));
    let evaluation_error = match errors.len() {
        0 => None,
        1 => Some(errors[0].clone()),
        _ => Some(format!("[{}]", errors.join(", "))),
    };
    match a.format {
        Format::Json => {
            use k8s_openapi::api::authorization::v1 as authz;
            let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
            let status = authz::SubjectRulesReviewStatus {
                resource_rules: rules
                    .iter()
                    .filter(|(_, r)| !r.resources.is_empty())
                    .map(|(_, r)| authz::ResourceRule {
                        verbs: r.verbs.clone(),
                        api_groups: some(&r.api_groups),
                        resources: some(&r.resources),
                        resource_names: some(&r.resource_names),
                    })
                    .collect(),
                non_resource_rules: rules
                    .iter()
                    .filter(|(_, r)| !r.non_resource_urls.is_empty())
                    .map(|(_, r)| authz::NonResourceRule {
                        verbs: r.verbs.clone(),
                        non_resource_urls: some(&r.non_resource_urls),
                    })
                    .collect(),
                incomplete: !errors.is_empty(),
                evaluation_error: evaluation_error.clone(),
            };
            let review = authz::SelfSubjectRulesReview {
                spec: authz::SelfSubjectRulesReviewSpec { namespace: Some(a.namespace.clone()) },
                status: Some(status),
                ..Default::default()
            };
            crate::outln!("{}", serde_json::to_string_pretty(&review)?);
        }
        Format::Text => {
            if let Some(e) = &evaluation_error {
                eprintln!("Warning: the list may be incomplete: {e}");
            }
            // The authorizer reports resource rules and URL rules apart; a rule with both
            // cannot be admitted, so splitting changes nothing here.
            let rows = podwall_rbac::list::rows(rules.iter().map(|(_, r)| *r));
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, podwall_rbac::list::table(&rows, !a.no_headers).as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
