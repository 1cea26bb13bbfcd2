//! The report as SARIF 2.1.0, as code-scanning UIs read it: every catalogue ID a rule
//! with its help and default level; each finding a result with its physical location
//! (the file relative to the repository root) and a fingerprint that stays put while
//! lines move.
use std::path::Path;

use podwall_findings::{Finding, Origin, Severity};
use serde_json::{json, Value};

use crate::changes::{Files, Identity};
use crate::{catalogue, Report};

/// The SARIF level of a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// A file named as the user gave it, relative to `root` and with forward slashes.
fn relative(file: &str, root: Option<&Path>) -> String {
    let p = Path::new(file);
    let rel = match root {
        Some(r) => std::fs::canonicalize(p)
            .ok()
            .and_then(|abs| abs.strip_prefix(r).ok().map(|x| x.to_path_buf()))
            .unwrap_or_else(|| p.to_path_buf()),
        None => p.to_path_buf(),
    };
    let s = rel.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn result(f: &Finding, root: Option<&Path>, files: &Files) -> Value {
    let mut r = json!({
        "ruleId": f.id,
        "level": level(f.severity),
        "message": {"text": match f.about() { Some(a) => format!("{a}: {}", f.message), None => f.message.clone() }},
        // The ID, the object and the message, never a line: moving an object keeps it.
        "partialFingerprints": {"podwall/v2": Identity::of(f, files).fingerprint()},
    });
    if let Some(Origin::File { file, line }) = &f.origin {
        // Standard input and a live cluster's objects are no file of the repository.
        if file != "-" && !podwall_load::is_cluster_source(file) {
            r["locations"] = json!([{"physicalLocation": {
                "artifactLocation": {"uri": relative(file, root), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": (*line).max(1)},
            }}]);
        }
    }
    r
}

/// The SARIF log; `root` is the repository root file URIs are made relative to (the
/// current folder's git top level, typically); `files` are the input's files, as read
/// ([`Files::as_read`]), whose line numbers fingerprints leave out.
pub fn sarif(r: &Report, root: Option<&Path>, files: &Files) -> Value {
    let rules: Vec<Value> = catalogue()
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.id,
                "shortDescription": {"text": c.summary},
                "fullDescription": {"text": format!("{} ({} check)", c.summary, c.area)},
                "help": {"text": c.remediation},
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {"tags": [c.area], "severity": c.severity.to_string()},
            })
        })
        .collect();
    let results: Vec<Value> = r.findings.iter().map(|f| result(f, root, files)).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "podwall",
                "informationUri": "https://github.com/podwall/podwall",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
