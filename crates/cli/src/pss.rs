//! `podwall pss`: which Pods and pod templates the PodSecurity admission plugin would
//! reject, and why. The judging is `podwall-pod-security`'s; this file reads flags and
//! renders.
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use podwall_load::podspec::carries_pod_spec;
use podwall_pod_security::pods::{subjects_lenient, Subject};
use podwall_pod_security::{evaluate, Level, LevelVersion, Version, Violation};
use serde_json::json;

use crate::input::{count_invalid, report_skipped, size_threads};
use crate::{Failure, Format, InputArgs};

/// Flags of `pss`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Judge every pod at this level (privileged, baseline, restricted) instead of by
    /// its namespace's labels.
    #[arg(long, value_parser = parse_level)]
    level: Option<Level>,
    /// The policy version for --level: `latest` or `v1.N`.
    #[arg(long, value_parser = parse_version, default_value = "latest", requires = "level")]
    version: Version,
    /// Output format. JSON: one entry per Pod or template, in input order:
    /// `{"namespace", "kind", "name", "allowed", "violations": [{"check", "reason", "detail"}]}`.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s)
}

fn parse_version(s: &str) -> Result<Version, String> {
    Version::parse(s)
}

/// One judged Pod or template.
struct Entry<'a> {
    subject: Subject<'a>,
    violations: Vec<Violation>,
}

impl Entry<'_> {
    fn allowed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs `pss`: exit 0 when every Pod and template is allowed, 1 otherwise.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    size_threads(&a.input.files);
    let options =
        podwall_load::Options { raw: &carries_pod_spec, skip_invalid: a.input.skip_invalid, ..Default::default() };
    let mut input = podwall_load::load_paths_with(&a.input.files, options)?;
    let (subjects, passed) = subjects_lenient(&input.objects, &|f| input.lenient.contains(f))?;
    let passed: Vec<_> = passed.into_iter().map(|error| podwall_load::Invalid { error, whole_file: false }).collect();
    input.invalid.extend(passed);
    for skip in &input.invalid {
        let w = podwall_dialects::notes::invalid(skip);
        eprintln!("warning[{}]: {w}", w.id);
    }
    count_invalid(&a.input, input.invalid.len());
    report_skipped(&input.skipped, a.input.verbose, "");
    let Some(level) = a.level else {
        return Err(Failure::Error("give --level (privileged, baseline or restricted)".into()));
    };
    let lv = LevelVersion::new(level, a.version);
    let entries: Vec<Entry<'_>> = subjects
        .into_iter()
        .map(|subject| {
            let violations = evaluate(lv, &subject.pod.meta, &subject.pod.spec);
            Entry { subject, violations }
        })
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match a.format {
        Format::Json => write_json(&mut out, &entries)?,
        Format::Text => write_text(&mut out, &entries, lv)?,
    }
    out.flush()?;
    Ok(if entries.iter().all(Entry::allowed) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn violations_json(violations: &[Violation]) -> serde_json::Value {
    violations.iter().map(|v| json!({"check": v.check, "reason": v.fail.reason, "detail": v.fail.detail})).collect()
}

fn write_json(out: &mut impl Write, entries: &[Entry<'_>]) -> std::io::Result<()> {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            json!({
                "namespace": e.subject.namespace(),
                "kind": e.subject.object.kind,
                "name": e.subject.object.name,
                "allowed": e.allowed(),
                "violations": violations_json(&e.violations),
            })
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &list)?;
    writeln!(out)
}

fn write_text(out: &mut impl Write, entries: &[Entry<'_>], lv: LevelVersion) -> std::io::Result<()> {
    let mut by_namespace: BTreeMap<&str, Vec<&Entry<'_>>> = BTreeMap::new();
    for e in entries {
        by_namespace.entry(e.subject.namespace()).or_default().push(e);
    }
    let width =
        entries.iter().map(|e| e.subject.object.kind.len() + 1 + e.subject.object.name.len()).max().unwrap_or(0);
    for (ns, list) in &by_namespace {
        let refused = list.iter().filter(|e| !e.allowed()).count();
        writeln!(out, "namespace {ns} ({lv}): {refused} of {} rejected", list.len())?;
        for e in list {
            let what = format!("{} {}", e.subject.object.kind, e.subject.object.name);
            let verdict = if e.allowed() { "allowed" } else { "REJECTED" };
            writeln!(out, "  {what:<width$}  {verdict:<8}  {}", e.subject.object.source)?;
            for v in &e.violations {
                writeln!(out, "      {}: {}", v.check, v.fail.detail)?;
            }
        }
    }
    let refused = entries.iter().filter(|e| !e.allowed()).count();
    writeln!(out, "{refused} of {} pods and templates would be rejected at {lv}", entries.len())
}
