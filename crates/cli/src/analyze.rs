//! `podwall analyze`: every check podwall can make over one input, in one report. The
//! checks and the rendering are `podwall-report`'s; this file reads flags, loads, and
//! writes where it is told.
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use podwall_report::{parse_severity, Filter, Subject};

use crate::input::{count_invalid, report_skipped, size_threads};
use crate::{Failure, InputArgs};

/// Output formats of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// For a terminal (colour when it is one and NO_COLOR is unset).
    Text,
    /// `{"version": 1, "summary", "findings"}`.
    Json,
    /// A summary and a table (a pull-request comment).
    Markdown,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
    /// One self-contained HTML page: the findings by severity and check, and the graph
    /// of who may reach whom between namespaces.
    Html,
}

/// Flags of `analyze`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Show only findings at or above this severity (critical, high, medium, low, info).
    #[arg(long, value_parser = parse_severity)]
    severity: Option<podwall_findings::Severity>,
    /// Leave out this finding ID; repeatable, or comma-separated.
    #[arg(long, value_delimiter = ',')]
    disable: Vec<String>,
    /// Exit 1 when a finding at or above this severity is reported (for CI). Without
    /// it the exit code is 0 whatever is found.
    #[arg(long, value_parser = parse_severity)]
    fail_on_severity: Option<podwall_findings::Severity>,
    /// Print the catalogue of every finding ID (a Markdown table) and exit.
    #[arg(long, exclusive = true)]
    list_checks: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

/// A spinner on a terminal, none when standard error is piped or with --quiet.
fn progress(quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(4).with_style(
        indicatif::ProgressStyle::with_template("{bar:20} {pos}/{len} {msg} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn step(bar: &Option<indicatif::ProgressBar>, msg: &'static str) {
    if let Some(b) = bar {
        b.set_message(msg);
        b.inc(1);
    }
}

/// Runs `analyze`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    if a.list_checks {
        crate::outln!("{}", podwall_report::render::catalogue_table().trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    let input_args = &a.input;
    let known = podwall_report::catalogue();
    if let Some(d) = a.disable.iter().find(|d| !known.iter().any(|c| c.id == d.as_str())) {
        return Err(Failure::Error(format!(
            "--disable {d}: no such finding ID (`podwall analyze --list-checks` lists them)"
        )));
    }
    let bar = progress(a.quiet);
    step(&bar, "reading");
    size_threads(&input_args.files);
    let options = podwall_load::Options {
        raw: &podwall_load::podspec::carries_pod_spec,
        skip_invalid: input_args.skip_invalid,
        ..Default::default()
    };
    let mut input = crate::live::read(input_args, options)?;
    step(&bar, "compiling");
    let cluster = Arc::new(podwall_dialects::compile_lenient(&mut input)?);
    count_invalid(input_args, input.invalid.len());
    step(&bar, "indexing");
    let index = podwall_engine::Index::build(cluster.clone());
    step(&bar, "checking");
    let mut disabled = a.disable.clone();
    if crate::live::is_live(input_args) {
        // No Secrets are read from a cluster: whether one exists cannot be judged.
        disabled.push("PL015".into());
    }
    let filter = Filter { min_severity: a.severity, disabled };
    let report = podwall_report::gather(&Subject::new(&input, &cluster, &index), &filter)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    report_skipped(&input.skipped, input_args.verbose, "");
    let out = a.output.as_deref();
    match a.format {
        ReportFormat::Text => {
            let colour = out.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            crate::input::write_out(out, &podwall_report::render::text(&report, colour))?;
        }
        // JSON and SARIF are written as they are made: at 100,000 pods they are hundreds
        // of megabytes.
        ReportFormat::Json => crate::input::write_with(out, |w| {
            podwall_report::render::json_to(&mut *w, &report)?;
            w.write_all(b"\n")
        })?,
        ReportFormat::Sarif => {
            let files = podwall_report::changes::Files::as_read(&input.files);
            let sarif = podwall_report::sarif::sarif(&report, repository_root().as_deref(), &files);
            crate::input::write_with(out, |w| {
                serde_json::to_writer_pretty(&mut *w, &sarif)?;
                w.write_all(b"\n")
            })?;
        }
        ReportFormat::Markdown => crate::input::write_out(out, &podwall_report::render::markdown(&report))?,
        ReportFormat::Html => {
            let graph = podwall_graph::Graph::build(&index, podwall_graph::Grouping::Namespaces);
            let pods = podwall_report::html::Pods::of(&index);
            crate::input::write_out(out, &podwall_report::html::html(&report, &graph, &pods))?;
        }
    }
    let fail = a.fail_on_severity.is_some_and(|m| report.findings.iter().any(|f| f.severity >= m));
    Ok(if fail { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The git top level of the current folder (SARIF paths are relative to it), else the
/// current folder.
fn repository_root() -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("git").args(["rev-parse", "--show-toplevel"]).output().ok();
    let top = out.filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let dir = match top {
        Some(t) if !t.is_empty() => std::path::PathBuf::from(t),
        _ => std::env::current_dir().ok()?,
    };
    std::fs::canonicalize(dir).ok()
}
