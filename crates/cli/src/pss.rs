//! `podwall pss`: which Pods and pod templates the PodSecurity admission plugin would
//! reject, and why. The judging is `podwall-pod-security`'s; this file reads flags and
//! renders.
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use podwall_load::podspec::carries_pod_spec;
use podwall_load::{Object, Resource};
use podwall_pod_security::admission::{decide, decide_workload, Decision, Judged, Request};
use podwall_pod_security::config::{self, Config};
use podwall_pod_security::pods::{subjects_lenient, Subject};
use podwall_pod_security::policy::{from_labels, Policy};
use podwall_pod_security::{evaluate, Level, LevelVersion, Version, Violation};

use crate::input::{count_invalid, report_skipped, size_threads};
use crate::output::{PssEntryOut, PssJudgedOut, PssLabelledOut, PssViolationOut};
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
    /// Without --level: the API server's admission configuration, an
    /// AdmissionConfiguration whose PodSecurity plugin holds a PodSecurityConfiguration
    /// (or that configuration alone): defaults for unlabelled namespaces, exemptions.
    #[arg(long, conflicts_with = "level")]
    config: Option<String>,
    /// Without --level: the user creating the objects, for the configuration's
    /// username exemptions.
    #[arg(long = "as", value_name = "USER", conflicts_with = "level")]
    user: Option<String>,
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
    let mut input = crate::live::read(&a.input, options)?;
    crate::live::warn_gaps(&input);
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
        return by_labels(&a, &input.objects, subjects);
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

fn write_json(out: &mut impl Write, entries: &[Entry<'_>]) -> std::io::Result<()> {
    let list: Vec<PssEntryOut<'_>> = entries
        .iter()
        .map(|e| PssEntryOut {
            allowed: e.allowed(),
            kind: &e.subject.object.kind,
            name: &e.subject.object.name,
            namespace: e.subject.namespace(),
            violations: PssViolationOut::all(&e.violations),
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

/// One namespace's policy.
struct Namespace {
    policy: Policy,
}

/// One judged Pod or template under its namespace's labels.
struct Labelled<'a> {
    subject: Subject<'a>,
    decision: Decision,
}

fn is_pod(subject: &Subject<'_>) -> bool {
    subject.object.kind == "Pod"
}

/// Namespace-label mode: each namespace's labels (over the configuration's defaults)
/// decide, as the admission plugin does. Exit 1 when enforce rejects a pod (or the
/// pods a workload makes); 2 when a namespace carries a label the API server refuses.
fn by_labels(a: &Args, objects: &[Object], subjects: Vec<Subject<'_>>) -> Result<ExitCode, Failure> {
    let config = match &a.config {
        Some(file) => config::from_file(file)?,
        None => Config::default(),
    };
    let mut namespaces: BTreeMap<&str, Namespace> = BTreeMap::new();
    let mut invalid_labels = 0usize;
    for o in objects {
        let Resource::Namespace(ns) = &o.resource else { continue };
        let labels = ns.metadata.labels.clone().unwrap_or_default();
        let (policy, errors) = from_labels(&labels, config.defaults);
        for e in &errors {
            let f = e.finding(&o.name, &o.source);
            eprintln!("warning[{}]: {f}", f.id);
        }
        invalid_labels += errors.len();
        namespaces.insert(o.name.as_str(), Namespace { policy });
    }
    let unlabelled = Namespace { policy: config.defaults };
    let entries: Vec<Labelled<'_>> = subjects
        .into_iter()
        .map(|subject| {
            let ns = namespaces.get(subject.namespace()).unwrap_or(&unlabelled);
            let request = Request {
                namespace: subject.namespace(),
                user: a.user.as_deref(),
                meta: &subject.pod.meta,
                spec: &subject.pod.spec,
            };
            let decision = match is_pod(&subject) {
                true => decide(&config, &ns.policy, &request),
                false => decide_workload(&config, &ns.policy, &request),
            };
            Labelled { subject, decision }
        })
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match a.format {
        Format::Json => write_labelled_json(&mut out, &entries)?,
        Format::Text => write_labelled_text(&mut out, &entries, &namespaces, &unlabelled)?,
    }
    out.flush()?;
    if invalid_labels > 0 {
        return Err(Failure::Error(format!(
            "{invalid_labels} pod-security label(s) the API server would refuse (see the warnings above)"
        )));
    }
    Ok(if entries.iter().all(|e| !e.decision.rejected()) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn write_labelled_json(out: &mut impl Write, entries: &[Labelled<'_>]) -> std::io::Result<()> {
    let list: Vec<PssLabelledOut<'_>> = entries
        .iter()
        .map(|e| {
            let d = &e.decision;
            let enforced = d.enforce.as_ref().map(|j| j.violations.as_slice()).unwrap_or_default();
            PssLabelledOut {
                allowed: !d.rejected(),
                audit: PssJudgedOut::of(&d.audit),
                enforce: PssJudgedOut::of(&d.enforce),
                exempt: d.exempt.map(|x| x.as_str()),
                kind: &e.subject.object.kind,
                name: &e.subject.object.name,
                namespace: e.subject.namespace(),
                violations: PssViolationOut::all(enforced),
                warn: PssJudgedOut::of(&d.warn),
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &list)?;
    writeln!(out)
}

/// `REJECTED`, `warned`, `audited`, ... in the plugin's words for this object.
fn verdict(e: &Labelled<'_>) -> String {
    let d = &e.decision;
    if let Some(x) = d.exempt {
        return format!("exempt ({})", x.as_str());
    }
    let mut words = Vec::new();
    if d.rejected() {
        words.push(if is_pod(&e.subject) { "REJECTED" } else { "PODS REJECTED" });
    }
    if d.audited() {
        words.push("audited");
    }
    if d.warned() {
        words.push("warned");
    }
    if words.is_empty() {
        words.push("allowed");
    }
    words.join(", ")
}

fn write_labelled_text(
    out: &mut impl Write,
    entries: &[Labelled<'_>],
    namespaces: &BTreeMap<&str, Namespace>,
    unlabelled: &Namespace,
) -> std::io::Result<()> {
    let mut by_namespace: BTreeMap<&str, Vec<&Labelled<'_>>> = BTreeMap::new();
    for e in entries {
        by_namespace.entry(e.subject.namespace()).or_default().push(e);
    }
    let width =
        entries.iter().map(|e| e.subject.object.kind.len() + 1 + e.subject.object.name.len()).max().unwrap_or(0);
    let verdict_width = entries.iter().map(|e| verdict(e).len()).max().unwrap_or(0);
    for (ns, list) in &by_namespace {
        let p = namespaces.get(ns).unwrap_or(unlabelled).policy;
        writeln!(out, "namespace {ns} (enforce={}, audit={}, warn={})", p.enforce, p.audit, p.warn)?;
        for e in list {
            let what = format!("{} {}", e.subject.object.kind, e.subject.object.name);
            writeln!(out, "  {what:<width$}  {:<verdict_width$}  {}", verdict(e), e.subject.object.source)?;
            // Modes that judged alike and found the same share a line.
            let d = &e.decision;
            let modes = [("enforce", &d.enforce), ("audit", &d.audit), ("warn", &d.warn)];
            let mut shown: Vec<(String, &Judged)> = Vec::new();
            for (name, j) in modes {
                let Some(j) = j.as_ref().filter(|j| !j.violations.is_empty()) else { continue };
                match shown.iter_mut().find(|(_, s)| s.violations == j.violations && s.policy.judges_like(&j.policy)) {
                    Some((names, _)) => names.push_str(&format!("+{name}")),
                    None => shown.push((name.to_string(), j)),
                }
            }
            for (names, j) in shown {
                writeln!(out, "      {names} {}:", j.policy)?;
                for v in &j.violations {
                    writeln!(out, "        {}: {}", v.check, v.fail.detail)?;
                }
            }
        }
    }
    let rejected = entries.iter().filter(|e| e.decision.rejected()).count();
    writeln!(out, "{rejected} of {} pods and templates would be rejected by enforce", entries.len())?;
    if entries.iter().any(|e| !is_pod(&e.subject) && e.decision.rejected()) {
        writeln!(
            out,
            "(a workload object itself is admitted with warnings and audit annotations; enforce rejects the pods it makes)"
        )?;
    }
    Ok(())
}
