//! The report as text (a terminal, with or without colour), Markdown and JSON.
use std::fmt::Write as _;

use podwall_findings::Severity;

use crate::{Report, SEVERITIES};

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

fn counts(r: &Report) -> String {
    SEVERITIES
        .iter()
        .map(|s| format!("{} {s}", r.summary.by_severity.get(&s.to_string()).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For a terminal: the summary first (counts by severity and area), then each finding,
/// worst first; `colour` adds ANSI colours to the severities.
pub fn text(r: &Report, colour_on: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} finding(s): {}", r.summary.total, counts(r));
    let areas: Vec<String> = r.summary.by_area.iter().map(|(a, n)| format!("{a} {n}")).collect();
    if !areas.is_empty() {
        let _ = writeln!(out, "by area: {}", areas.join(", "));
    }
    for f in &r.findings {
        let sev = format!("{:<8}", f.severity.to_string());
        let sev = if colour_on { format!("{}{sev}\x1b[0m", colour(f.severity)) } else { sev };
        let _ = writeln!(out, "{sev} {:<6} {f}", f.id);
        if let Some(fix) = &f.remediation {
            let _ = writeln!(out, "{:16}fix: {fix}", "");
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown: a summary line and a table, for a pull-request comment or a file.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## podwall analyze\n\n{} finding(s): {}\n", r.summary.total, counts(r));
    if r.findings.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| severity | ID | where | object | finding | fix |\n|---|---|---|---|---|---|");
    for f in &r.findings {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            f.severity,
            f.id,
            cell(&f.origin.as_ref().map(ToString::to_string).unwrap_or_default()),
            cell(&f.about().unwrap_or_default()),
            cell(&f.message),
            cell(f.remediation.as_deref().unwrap_or_default())
        );
    }
    out
}

/// JSON: `{"version": 1, "summary": {...}, "findings": [...]}`.
pub fn json(r: &Report) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&Versioned::of(r))
}

/// [`json`] written to `w` as it is made, for reports too large to hold twice.
pub fn json_to(w: impl std::io::Write, r: &Report) -> serde_json::Result<()> {
    serde_json::to_writer_pretty(w, &Versioned::of(r))
}

/// The JSON form: the report with its format's version.
#[derive(serde::Serialize)]
struct Versioned<'a> {
    version: u32,
    #[serde(flatten)]
    report: &'a Report,
}

impl<'a> Versioned<'a> {
    fn of(report: &'a Report) -> Self {
        Versioned { version: 1, report }
    }
}

/// The catalogue as a Markdown table (the README's table is this, verbatim).
pub fn catalogue_table() -> String {
    let mut out = String::from("| ID | area | severity | meaning |\n|---|---|---|---|\n");
    for c in crate::catalogue() {
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", c.id, c.area, c.severity, cell(c.summary));
    }
    out
}
