//! `podwall who-can`: every subject that may make a request, and through what.
use std::process::ExitCode;

use podwall_rbac::whocan::Scope;
use podwall_rbac::{Rbac, Subject, SubjectKind};

use crate::can_i::{load_identities, parse_request};
use crate::output::{AlsoAllowedOut, GrantOut, HolderOut, PodOut, WhoCanOut};
use crate::{Failure, Format};

/// Flags of `who-can`.
#[derive(clap::Args)]
pub struct Args {
    /// VERB and TYPE, TYPE/NAME or NONRESOURCEURL, as for `can-i`.
    #[arg(value_name = "VERB TYPE")]
    args: Vec<String>,
    /// A manifest file, a folder (read recursively) or `-` for standard input; repeatable.
    /// Without it: the cluster --kubeconfig/--context name, or inside a pod its own.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    #[command(flatten)]
    live: crate::live::LiveArgs,
    /// The namespace of the request.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Any namespace: RoleBindings of every namespace count, each in its own.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// The subresource (`log`, `exec`, `scale`).
    #[arg(long)]
    subresource: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn subject_text(s: &Subject) -> String {
    match (&s.kind, &s.namespace) {
        (SubjectKind::ServiceAccount, Some(ns)) => format!("ServiceAccount {ns}/{}", s.name),
        _ => format!("{} {}", s.kind.as_str(), s.name),
    }
}

fn pods_text(rbac: &Rbac, s: &Subject) -> Option<String> {
    let pods = rbac.pods_of(s);
    if pods.is_empty() {
        return None;
    }
    let mut names: Vec<String> = pods.iter().take(5).map(|p| format!("{}/{}", p.namespace, p.name)).collect();
    if pods.len() > 5 {
        names.push(format!("and {} more", pods.len() - 5));
    }
    Some(names.join(", "))
}

/// Runs `who-can`: exit 0 when some subject may (besides `system:masters`), 1 when none.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let [verb, target] = &a.args[..] else {
        return Err(Failure::Error(
            "you must specify two arguments: verb resource or verb resource/resourceName.\n\
             See 'podwall who-can -h' for help and examples."
                .into(),
        ));
    };
    let rbac = load_identities(&a.files, &a.live)?;
    let request = parse_request(&rbac, verb, target, &a.namespace, a.subresource.as_deref(), !a.all_namespaces)?;
    let scope = if a.all_namespaces { Scope::AllNamespaces } else { Scope::Request };
    let answer = rbac.who_can(&request, scope);
    let missing: Vec<String> = answer.missing.iter().map(|&b| rbac.bindings[b].display()).collect();
    match a.format {
        Format::Json => {
            let subjects = answer
                .holders
                .iter()
                .map(|h| HolderOut {
                    grants: h.grants.iter().map(|g| GrantOut::new(&rbac, g)).collect(),
                    pods: rbac
                        .pods_of(&h.subject)
                        .iter()
                        .map(|p| PodOut {
                            name: p.name.clone(),
                            namespace: p.namespace.clone(),
                            service_account: p.service_account.clone(),
                        })
                        .collect(),
                    subject: h.subject.clone(),
                })
                .collect();
            let out = WhoCanOut {
                also_allowed: vec![AlsoAllowedOut {
                    kind: "Group".into(),
                    name: podwall_rbac::user::MASTERS.into(),
                    why: "the API server's superuser group, outside RBAC".into(),
                }],
                bindings_to_missing_roles: missing.clone(),
                request,
                subjects,
            };
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
        Format::Text => {
            for h in &answer.holders {
                crate::outln!("{}", subject_text(&h.subject));
                for g in &h.grants {
                    crate::outln!("  via {}", rbac.describe(g));
                }
                if let Some(p) = pods_text(&rbac, &h.subject) {
                    crate::outln!("  pods running as it: {p}");
                }
            }
            if answer.holders.is_empty() {
                crate::outln!("no subject is granted this by RBAC");
            }
            crate::outln!("(and group system:masters, which the API server allows everything outside RBAC)");
            for m in &missing {
                eprintln!("note: {m} would be considered, but its role is missing");
            }
        }
    }
    Ok(if answer.holders.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
