//! `podwall audit rbac` and `podwall audit summarize`: audit logs read as a stream. The
//! reading, the counting and the generated roles are `podwall-audit`'s; this file opens
//! the files, shows progress on a terminal, proves the generated roles with the RBAC
//! authorizer, and renders.
use std::io::IsTerminal;
use std::process::ExitCode;

use podwall_audit::least::{Access, Names, Recorder};
use podwall_audit::log::{self, BadLine, Event};
use podwall_rbac::{Rbac, Request, User};

use crate::{Failure, Format};

/// How many malformed lines are quoted before only their count is given.
const QUOTED: usize = 20;

/// The log files, shared by both commands.
#[derive(clap::Args)]
pub struct Logs {
    /// An audit log: JSON lines of audit.k8s.io/v1 Events, plain or gzip (told by its
    /// first bytes); `-` reads standard input. Repeatable; rotated files can be given
    /// in any order.
    #[arg(long = "log", value_name = "FILE", required = true)]
    files: Vec<String>,
    /// Read past lines that are not audit events (each is named on stderr) and exit 0;
    /// without it such lines are named, the rest is read, and the command exits 2.
    #[arg(long)]
    skip_invalid: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

impl Logs {
    /// Reads every file, handing each event to `each`. Returns the number of malformed
    /// lines (each reported on stderr).
    fn read(&self, mut each: impl FnMut(&Event)) -> Result<u64, Failure> {
        let mut bad = 0u64;
        let mut report = |b: BadLine| {
            bad += 1;
            if bad as usize <= QUOTED {
                eprintln!("warning: {b}");
            }
        };
        for file in &self.files {
            let (reader, bar) = self.open(file)?;
            let name = if file == "-" { "(stdin)" } else { file.as_str() };
            let reader = log::open(reader).map_err(|e| Failure::Error(format!("{name}: {e}")))?;
            log::read(name, reader, |e| each(&e), &mut report)
                .map_err(|e| Failure::Error(format!("{name}: {e} (a truncated or corrupt file?)")))?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        }
        if bad as usize > QUOTED {
            eprintln!("warning: {} more lines were not audit events", bad as usize - QUOTED);
        }
        Ok(bad)
    }

    /// Opens one file, wrapped in a progress bar over its bytes when stderr is a
    /// terminal and the file is large enough to wait for.
    fn open(&self, file: &str) -> Result<(Box<dyn std::io::Read>, Option<indicatif::ProgressBar>), Failure> {
        if file == "-" {
            return Ok((Box::new(std::io::stdin()), None));
        }
        let f = std::fs::File::open(file).map_err(|e| Failure::Error(format!("{file}: {e}")))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        if self.quiet || size < (64 << 20) || !std::io::stderr().is_terminal() {
            return Ok((Box::new(f), None));
        }
        let bar = indicatif::ProgressBar::new(size).with_style(
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(file.to_string());
        Ok((Box::new(bar.wrap_read(f)), Some(bar)))
    }

    /// Exit 2 when lines were malformed and not skipped knowingly.
    fn exit(&self, bad: u64) -> ExitCode {
        if bad > 0 && !self.skip_invalid {
            eprintln!(
                "error: {bad} line(s) of the log(s) are not audit events (give --skip-invalid to read past them)"
            );
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Flags of `audit rbac`.
#[derive(clap::Args)]
pub struct RbacArgs {
    #[command(flatten)]
    logs: Logs,
    /// The user whose requests the roles allow, as the log names them
    /// (`system:serviceaccount:NS:NAME` for a service account, bound as one).
    #[arg(long)]
    user: String,
    /// The name of the generated roles and bindings (default `podwall:audit:USER`, with a
    /// service account's namespace and name).
    #[arg(long)]
    name: Option<String>,
    /// A verb on a resource restricted to the objects it touched (`resourceNames`) as
    /// long as they are at most this many; beyond, any object.
    #[arg(long, default_value_t = 5)]
    names_threshold: usize,
}

/// Flags of `audit summarize`.
#[derive(clap::Args)]
pub struct SummarizeArgs {
    #[command(flatten)]
    logs: Logs,
    /// How many entries each ranking shows.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Output format. JSON: `{"events", "requests", "countedBy", "denied", "users",
    /// "verbs", "resources", "namespaces", "codes", "refusals"}`.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `audit rbac`: prints the roles and bindings as YAML on stdout.
pub fn rbac(a: &RbacArgs) -> Result<ExitCode, Failure> {
    let mut rec = Recorder::new(&a.user, a.names_threshold);
    let bad = a.logs.read(|e| rec.add(e))?;
    if rec.is_empty() {
        return Err(Failure::Error(format!(
            "no request by or impersonating {:?} in the log(s): nothing to allow (is the name exactly as the log writes it?)",
            a.user
        )));
    }
    let name = a.name.clone().unwrap_or_else(|| default_name(&a.user));
    let yaml = rec.generate(&name).to_yaml()?;
    prove(&rec, &a.user, &yaml)?;
    crate::outln!("{}", yaml.trim_end());
    eprintln!(
        "{} request(s) by {} ({} refused when made) allowed by the roles above",
        rec.requests(),
        a.user,
        rec.denied
    );
    Ok(a.logs.exit(bad))
}

fn default_name(user: &str) -> String {
    let who = match podwall_audit::least::service_account(user) {
        Some((ns, name)) => format!("{ns}:{name}"),
        None => user.to_string(),
    };
    format!("podwall:audit:{}", who.replace(['/', '%'], "-"))
}

/// Reads the generated YAML back as the RBAC authorizer does and asks it every access
/// recorded; a refusal is a defect of the generator, never shown as a result.
fn prove(rec: &Recorder, user: &str, yaml: &str) -> Result<(), Failure> {
    let input = podwall_load::load_str("generated roles", yaml)?;
    let rbac = Rbac::from_input(&input).map_err(|e| Failure::Error(format!("generated roles do not load: {e:?}")))?;
    let who = User::impersonate(user, &[]);
    let (resources, urls) = rec.accesses();
    let mut asked = vec![];
    for Access { namespace: ns, group, resource, verb, names } in resources {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        match names {
            Names::Any => asked.push(Request::resource(verb, ns, group, resource, sub, "")),
            Names::Only(set) => {
                asked.extend(set.iter().map(|n| Request::resource(verb, ns, group, resource, sub, n)));
            }
        }
    }
    asked.extend(urls.into_iter().map(|(p, v)| Request::url(v, p)));
    // Impersonation grants are asked as the impersonator, the rest as the user; both
    // are the same identity here, the one bound.
    for r in &asked {
        if !rbac.authorize(&who, r).allowed() {
            return Err(Failure::Error(format!("internal error: the generated roles refuse {r:?}; please report it")));
        }
    }
    Ok(())
}

/// Runs `audit summarize`.
pub fn summarize(a: &SummarizeArgs) -> Result<ExitCode, Failure> {
    let mut s = podwall_audit::summary::Summarizer::default();
    let bad = a.logs.read(|e| s.add(e))?;
    let sum = s.finish(a.top);
    match a.format {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(&sum)?),
        Format::Text => {
            crate::outln!(
                "{} events, {} requests (counted by their {} events), {} refused",
                sum.events,
                sum.requests,
                sum.counted_by,
                sum.denied
            );
            for (title, list) in [
                ("users", &sum.users),
                ("verbs", &sum.verbs),
                ("resources", &sum.resources),
                ("namespaces", &sum.namespaces),
                ("response codes", &sum.codes),
            ] {
                crate::outln!("\ntop {title}:");
                for c in list {
                    crate::outln!("  {:>10}  {}", c.count, c.name);
                }
            }
            crate::outln!("\nrefused:");
            if sum.refusals.is_empty() {
                crate::outln!("  (none)");
            }
            for r in &sum.refusals {
                let ns = if r.namespace.is_empty() { String::new() } else { format!(" in {}", r.namespace) };
                crate::outln!("  {:>10}  {} {} {}{ns}", r.count, r.user, r.verb, r.resource);
            }
        }
    }
    Ok(a.logs.exit(bad))
}
