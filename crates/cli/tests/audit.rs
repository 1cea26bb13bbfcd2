//! `podwall audit-level` and `podwall audit lint` as a program: the JSON contract, exit
//! codes, and bad input.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

fn level(extra: &[&str]) -> Value {
    let mut args = vec!["audit-level", "-f", "tests/audit/policy.yaml", "--format", "json"];
    args.extend_from_slice(extra);
    let out = podwall(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn audit_level_json_gives_level_stages_in_order_and_managed_fields() {
    let v = level(&["--user", "jane", "--verb", "delete", "--resource", "pods", "--namespace", "prod"]);
    assert_eq!(
        v,
        json!({"level": "RequestResponse", "omitManagedFields": true, "omitStages": ["RequestReceived", "Panic"], "rule": 4})
    );
}

#[test]
fn audit_level_first_match_decides_for_urls_and_resources() {
    let v = level(&["--user", "jane", "--verb", "get", "--path", "/healthz/etcd"]);
    assert_eq!((v["level"].as_str(), v["rule"].as_u64()), (Some("None"), Some(1)));
    // A URL request skips every resource rule and reaches the catch-all.
    let v = level(&["--user", "jane", "--verb", "delete", "--path", "/apis"]);
    assert_eq!((v["level"].as_str(), v["rule"].as_u64()), (Some("Metadata"), Some(5)));
    // Secrets are caught by rule 3 before the prod write rule.
    let v = level(&["--user", "jane", "--verb", "delete", "--resource", "secrets", "-n", "prod", "--name", "db"]);
    assert_eq!((v["level"].as_str(), v["rule"].as_u64()), (Some("Metadata"), Some(3)));
    let v = level(&["--user", "jane", "--verb", "get", "--resource", "tokenreviews.authentication.k8s.io"]);
    assert_eq!(v["rule"].as_u64(), Some(3));
    let v =
        level(&["--user", "system:kube-proxy", "--verb", "watch", "--resource", "services", "--subresource", "status"]);
    assert_eq!((v["level"].as_str(), v["rule"].as_u64()), (Some("None"), Some(2)));
}

#[test]
fn audit_level_unknown_level_exits_2_naming_file_line_and_field() {
    let out = podwall(&[
        "audit-level",
        "-f",
        "tests/audit/unknown-level.yaml",
        "--user",
        "j",
        "--verb",
        "get",
        "--path",
        "/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tests/audit/unknown-level.yaml:1: Policy: rules[0].level: Unsupported value: \"Verbose\""),
        "{err}"
    );
}

#[test]
fn audit_level_needs_a_resource_or_a_path() {
    let out = podwall(&["audit-level", "-f", "tests/audit/policy.yaml", "--user", "j", "--verb", "get"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn audit_lint_reports_shadowed_rules_bodies_and_no_catch_all_as_findings() {
    let out = podwall(&["audit", "lint", "-f", "tests/audit/lint.yaml", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<(&str, &str)> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|f| (f["id"].as_str().unwrap_or(""), f["subject"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("AU001", "rule 5 (rules[4], level Metadata)"),
            ("AU002", "rule 6 (rules[5], level Request)"),
            ("AU002", "rule 8 (rules[7], level Request)"),
            ("AU003", "Policy"),
        ]
    );
    assert_eq!(v[0]["origin"], json!({"type": "file", "file": "tests/audit/lint.yaml", "line": 1}));
}

#[test]
fn audit_lint_of_a_policy_with_an_unknown_level_exits_2() {
    let out = podwall(&["audit", "lint", "-f", "tests/audit/unknown-level.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
