//! `podwall lint` as a program: rule IDs, no repeat of PSS violations, config file.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

/// (rule ID, object name, message) of every finding.
fn findings(args: &[&str]) -> (Option<i32>, Vec<(String, String, String)>) {
    let out = run(args);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let list = v
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().into(),
                f["object"]["name"].as_str().unwrap().into(),
                f["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    (out.status.code(), list)
}

fn ids_for<'a>(list: &'a [(String, String, String)], name: &str) -> Vec<&'a str> {
    list.iter().filter(|(_, n, _)| n == name).map(|(id, _, _)| id.as_str()).collect()
}

#[test]
fn a_hardened_pinned_probed_bound_and_selected_workload_has_no_finding() {
    let (code, list) = findings(&["lint", "-f", "tests/lint/cluster.yaml", "-o", "json"]);
    assert_eq!(code, Some(1));
    assert_eq!(ids_for(&list, "api"), Vec::<&str>::new(), "{list:?}");
}

#[test]
fn lint_rules_fire_on_images_probes_resources_context_tokens_secrets_and_network_policy() {
    let (_, list) = findings(&["lint", "-f", "tests/lint/cluster.yaml", "-o", "json"]);
    let sloppy = ids_for(&list, "sloppy");
    for id in [
        "PL001", "PL002", "PL004", "PL005", "PL006", "PL007", "PL008", "PL009", "PL010", "PL011", "PL012", "PL013",
        "PL014", "PL015", "PL016",
    ] {
        assert!(sloppy.contains(&id), "{id} missing: {sloppy:?}");
    }
    let msg = |id: &str| {
        list.iter().filter(|(i, n, _)| i == id && n == "sloppy").map(|(_, _, m)| m.as_str()).collect::<Vec<_>>()
    };
    assert_eq!(msg("PL001"), ["container \"web\": image \"nginx\" has no tag: the runtime pulls :latest"]);
    assert_eq!(
        msg("PL004"),
        ["container \"sidecar\": imagePullPolicy IfNotPresent with the mutable image \"busybox:latest\""]
    );
    // Two literal secrets; a plain value and a secretKeyRef are fine.
    assert_eq!(msg("PL014").len(), 2, "{:?}", msg("PL014"));
    assert!(msg("PL015")[0].contains("shop/missing"));
}

#[test]
fn lint_does_not_repeat_what_the_namespaces_pod_security_level_reports() {
    let (_, list) = findings(&["lint", "-f", "tests/lint/cluster.yaml", "-o", "json"]);
    let rooted = ids_for(&list, "rooted");
    assert!(!rooted.contains(&"PL010") && !rooted.contains(&"PL011"), "restricted already reports these: {rooted:?}");
    assert!(rooted.contains(&"PL009"), "{rooted:?}");
}

#[test]
fn lint_config_disables_rules_and_sets_required_resources() {
    let (_, list) =
        findings(&["lint", "-f", "tests/lint/cluster.yaml", "--config", "tests/lint/lint.yaml", "-o", "json"]);
    let sloppy = ids_for(&list, "sloppy");
    assert!(!sloppy.contains(&"PL005") && !sloppy.contains(&"PL013"), "{sloppy:?}");
    let limits: Vec<&str> =
        list.iter().filter(|(i, n, _)| i == "PL008" && n == "sloppy").map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(limits[0], "container \"web\" sets no cpu, memory limit");
}

#[test]
fn lint_config_with_an_unknown_rule_or_field_is_exit_2_with_file_and_line() {
    let out = run(&["lint", "-f", "tests/lint/cluster.yaml", "--config", "tests/lint/bad-rule.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tests/lint/bad-rule.yaml:2: disable: unknown rule \"PL999\""), "{err}");
    let out = run(&["lint", "-f", "tests/lint/cluster.yaml", "--config", "tests/lint/bad-field.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tests/lint/bad-field.yaml:1: unknown field `disabled`"));
}
