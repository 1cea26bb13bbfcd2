//! `podwall audit-level` and `podwall audit lint`: an audit policy as the API server's
//! checker evaluates it. The evaluation and the findings are `podwall-audit`'s; this file
//! reads flags and renders.
use std::process::ExitCode;

use podwall_audit::check::{Request, Target, User};
use podwall_audit::Policy;

use crate::output::AuditLevelOut;
use crate::{Failure, Format};

/// Flags of `audit-level`.
#[derive(clap::Args)]
pub struct LevelArgs {
    /// The audit policy file (audit.k8s.io/v1 Policy), as given to `--audit-policy-file`.
    #[arg(short = 'f', long = "filename")]
    file: String,
    /// The user name of the request.
    #[arg(long)]
    user: String,
    /// A group the user is in; repeatable. Give them as authentication leaves them
    /// (`system:authenticated` is not added).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, ...; for a --path, the lower-case HTTP method.
    #[arg(long)]
    verb: String,
    /// The resource, `RESOURCE` (core group) or `RESOURCE.GROUP` (`deployments.apps`).
    #[arg(long, conflicts_with = "path")]
    resource: Option<String>,
    /// The subresource (`status`, `log`, `exec`).
    #[arg(long, requires = "resource")]
    subresource: Option<String>,
    /// The object's name (none for list, watch and most creates).
    #[arg(long, requires = "resource")]
    name: Option<String>,
    /// The namespace; without it the request is cluster-scoped (namespace `""`).
    #[arg(short = 'n', long, requires = "resource")]
    namespace: Option<String>,
    /// A non-resource URL path (`/healthz`, `/metrics`).
    #[arg(long)]
    path: Option<String>,
    /// Output format. JSON: `{"level", "omitManagedFields", "omitStages", "rule"}`, with
    /// the deciding rule 1-based (`null` when none matched).
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Loads the policy in `file`; exit 2 on anything the API server would refuse.
fn load_policy(file: &str) -> Result<Policy, Failure> {
    let input = podwall_load::load_paths(&[file])?;
    Ok(podwall_audit::policy::from_objects(&input.objects, file)?)
}

impl LevelArgs {
    fn request(&self) -> Result<Request, Failure> {
        let target = match (&self.resource, &self.path) {
            (Some(r), None) => {
                let (resource, group) = r.split_once('.').unwrap_or((r.as_str(), ""));
                if resource.is_empty() || resource.contains('/') {
                    return Err(Failure::Error(format!(
                        "--resource {r:?}: give RESOURCE or RESOURCE.GROUP; a subresource goes in --subresource"
                    )));
                }
                Target::Resource {
                    group: group.to_string(),
                    resource: resource.to_string(),
                    subresource: self.subresource.clone().unwrap_or_default(),
                    name: self.name.clone().unwrap_or_default(),
                    namespace: self.namespace.clone().unwrap_or_default(),
                }
            }
            (None, Some(p)) => Target::NonResource { path: p.clone() },
            _ => return Err(Failure::Error("give --resource (a resource request) or --path (a URL)".into())),
        };
        Ok(Request {
            user: User { name: self.user.clone(), groups: self.groups.clone() },
            verb: self.verb.clone(),
            target,
        })
    }
}

/// Runs `audit-level`: prints the level (exit 0).
pub fn level(a: LevelArgs) -> Result<ExitCode, Failure> {
    let policy = load_policy(&a.file)?;
    let request = a.request()?;
    let d = policy.evaluate(&request);
    match a.format {
        Format::Json => {
            let out = AuditLevelOut {
                level: d.level,
                omit_managed_fields: d.omit_managed_fields,
                omit_stages: d.omit_stages.clone(),
                rule: d.rule.map(|i| i + 1),
            };
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
        Format::Text => {
            crate::outln!("{}", d.level);
            match d.rule {
                Some(i) => crate::outln!(
                    "  decided by rule {} ({}:{} rules[{i}])",
                    i + 1,
                    policy.source.file,
                    policy.source.line
                ),
                None => crate::outln!("  no rule matches: level None"),
            }
            let stages: Vec<&str> = d.omit_stages.iter().map(|s| s.as_str()).collect();
            crate::outln!("  omitStages: {}", if stages.is_empty() { "(none)".to_string() } else { stages.join(", ") });
            crate::outln!("  omitManagedFields: {}", d.omit_managed_fields);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Flags of `audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand)]
enum AuditCommand {
    /// Findings about an audit policy, each proved with the checker: rules no request
    /// reaches (AU001), Secrets, ConfigMaps, TokenReviews or service account tokens
    /// logged with their bodies (AU002), requests no rule matches (AU003). Exit 0: no
    /// finding; 1: some.
    Lint(LintArgs),
    /// The least Roles, ClusterRole and bindings that allow every request one user made
    /// in audit logs, as YAML, proved with the RBAC authorizer before they are printed.
    /// Creates and unnamed lists get rules without resourceNames (the authorizer never
    /// sees those names). Exit 0; 2 on unreadable logs or malformed lines.
    Rbac(crate::audit_log::RbacArgs),
    /// Who did what in audit logs: requests per user, verb, resource, namespace and
    /// response code, and the refused requests. Exit 0; 2 on malformed lines.
    Summarize(crate::audit_log::SummarizeArgs),
}

#[derive(clap::Args)]
struct LintArgs {
    /// The audit policy file (audit.k8s.io/v1 Policy).
    #[arg(short = 'f', long = "filename")]
    file: String,
    /// Output format. JSON: the list of findings (`id`, `severity`, `subject`,
    /// `origin`, `message`, `remediation`).
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `audit`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    match a.command {
        AuditCommand::Lint(l) => lint(&l),
        AuditCommand::Rbac(r) => crate::audit_log::rbac(&r),
        AuditCommand::Summarize(s) => crate::audit_log::summarize(&s),
    }
}

fn lint(a: &LintArgs) -> Result<ExitCode, Failure> {
    let policy = load_policy(&a.file)?;
    let findings = podwall_audit::lint::lint(&policy);
    crate::output::findings(&findings, a.format, &format!("{} rules", policy.rules.len()))
}
