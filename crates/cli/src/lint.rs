//! `podwall lint`: workload hygiene beyond Pod Security, as findings. The rules are
//! `podwall_pod_security::lint`'s; this file reads flags, wires in the network model
//! (which pods no policy selects) and renders.
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use podwall_ir::Direction;
use podwall_load::podspec::carries_pod_spec;
use podwall_load::Resource;
use podwall_pod_security::lint::{lint, pss_reported, Context, Facts, LintConfig};
use podwall_pod_security::pods::subjects;
use podwall_pod_security::policy::{from_labels, Policy};

use crate::input::{report_skipped, size_threads};
use crate::{Failure, Format, InputArgs};

/// Flags of `lint`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// A YAML file: `disable: [PL003, ...]`, `requests: [cpu, memory]`, `limits: [memory]`.
    #[arg(long)]
    config: Option<String>,
    /// Output format. JSON: a list of findings `{"id", "severity", "object", "origin",
    /// "message", "remediation"}`.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `lint`: exit 0 with no finding, 1 with some.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let mut config = match &a.config {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| Failure::Error(format!("{file}: {e}")))?;
            LintConfig::parse(file, &text)?
        }
        None => LintConfig::default(),
    };
    if crate::live::is_live(&a.input) {
        // No Secrets are read from a cluster: whether one exists cannot be judged.
        config.disabled.insert("PL015");
    }
    size_threads(&a.input.files);
    let options = podwall_load::Options { raw: &carries_pod_spec, ..Default::default() };
    let input = crate::live::read(&a.input, options)?;
    crate::live::warn_gaps(&input);
    report_skipped(&input.skipped, a.input.verbose, "");
    let subjects = subjects(&input.objects)?;
    let facts = Facts::from_objects(&input.objects);
    let mut policies: BTreeMap<&str, Policy> = BTreeMap::new();
    for o in &input.objects {
        if let Resource::Namespace(ns) = &o.resource {
            let labels = ns.metadata.labels.clone().unwrap_or_default();
            policies.insert(o.name.as_str(), from_labels(&labels, Policy::default()).0);
        }
    }
    // Which endpoints some policy isolates, from the network model of the same input.
    let cluster = Arc::new(podwall_dialects::compile(&input)?);
    let index = podwall_engine::Index::build(cluster.clone());
    let mut findings = Vec::new();
    for s in &subjects {
        let name = match s.object.kind.as_str() {
            "Pod" => format!("{}/{}", s.namespace(), s.object.name),
            kind => format!("{}/{kind}/{}", s.namespace(), s.object.name),
        };
        let selected = cluster
            .endpoint(&name)
            .map(|id| index.isolated(id, Direction::Ingress) || index.isolated(id, Direction::Egress));
        let policy = policies.get(s.namespace()).copied().unwrap_or_default();
        let pss = pss_reported(&policy, s);
        findings.extend(lint(s, &Context { facts: &facts, pss: &pss, selected_by_policy: selected }, &config));
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &findings)?;
            writeln!(out)?;
        }
        Format::Text => {
            for f in &findings {
                writeln!(out, "{}[{}]: {f}", f.severity, f.id)?;
                if let Some(r) = &f.remediation {
                    writeln!(out, "    fix: {r}")?;
                }
            }
            writeln!(out, "{} finding(s) on {} pods and templates", findings.len(), subjects.len())?;
        }
    }
    out.flush()?;
    Ok(if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
