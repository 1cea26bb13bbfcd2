//! `podwall pss` as a program: the output contract (JSON list in input order, one
//! entry per Pod or template, each failing check once), exit codes, and bad input.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn checks(entry: &Value) -> Vec<&str> {
    entry["violations"].as_array().expect("violations").iter().map(|v| v["check"].as_str().expect("check")).collect()
}

#[test]
fn pss_json_has_one_entry_per_pod_or_template_in_input_order() {
    let out =
        podwall(&["pss", "-f", "tests/pss/seeds.yaml", "--level", "restricted", "--version", "v1.30", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let list = json(&out);
    let names: Vec<(&str, &str, &str)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| (e["namespace"].as_str().unwrap(), e["kind"].as_str().unwrap(), e["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("production", "Pod", "secure-pod"),
            ("production", "Deployment", "secure-app"),
            ("monitoring", "DaemonSet", "falco"),
            ("default", "Pod", "app-pod")
        ]
    );
    assert_eq!(list[0]["allowed"], false);
    assert_eq!(checks(&list[0]), ["seccompProfile_restricted"]);
    assert_eq!(list[1]["allowed"], true);
    assert_eq!(
        checks(&list[2]),
        [
            "privileged",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
    assert_eq!(list[2]["violations"][0]["detail"], "container \"falco\" must not set securityContext.privileged=true");
}

#[test]
fn pss_at_a_version_before_a_check_exists_does_not_run_it() {
    // seccompProfile_restricted starts at v1.19: the seed's secure-pod passes at v1.18.
    let out =
        podwall(&["pss", "-f", "tests/pss/seeds.yaml", "--level", "restricted", "--version", "v1.18", "-o", "json"]);
    let list = json(&out);
    assert_eq!(list[0]["name"], "secure-pod");
    assert_eq!(list[0]["allowed"], true, "{}", list[0]);
}

#[test]
fn pss_exits_0_when_every_entry_is_allowed_and_1_otherwise() {
    let all = podwall(&["pss", "-f", "tests/pss/seeds.yaml", "--level", "privileged"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    let some = podwall(&["pss", "-f", "tests/pss/seeds.yaml", "--level", "baseline"]);
    assert_eq!(some.status.code(), Some(1));
}

#[test]
fn pss_text_groups_by_namespace_and_names_each_check() {
    let out = podwall(&["pss", "-f", "tests/pss/seeds.yaml", "--level", "baseline"]);
    let s = text(&out.stdout);
    let monitoring = s.find("namespace monitoring (baseline:latest): 1 of 1 rejected").expect(&s);
    let production = s.find("namespace production (baseline:latest): 0 of 2 rejected").expect(&s);
    assert!(monitoring < production, "{s}");
    assert!(s.contains("DaemonSet falco") && s.contains("tests/pss/seeds.yaml:62"), "{s}");
    assert!(s.contains("hostPathVolumes: volume \"proc\""), "{s}");
    assert!(s.contains("1 of 4 pods and templates would be rejected at baseline:latest"), "{s}");
}

#[test]
fn pss_unknown_level_or_malformed_version_is_exit_2() {
    for args in [["--level", "strict", "--version", "latest"], ["--level", "baseline", "--version", "v1.05"]] {
        let mut all = vec!["pss", "-f", "tests/pss/seeds.yaml"];
        all.extend(args);
        let out = podwall(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("must be one of privileged, baseline, restricted")
                || err.contains("must be \"latest\" or \"v1.x\""),
            "{err}"
        );
    }
}

#[test]
fn pss_misspelt_security_context_field_is_exit_2_naming_file_line_and_field() {
    let out = podwall(&["pss", "-f", "tests/pss/misspelt.yaml", "--level", "restricted"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("tests/pss/misspelt.yaml:6: Deployment shop/web: spec.template.spec.containers[0].securityContext.allowPrivilegeEscalaton: unknown field"),
        "{err}"
    );
    assert!(err.contains("did you mean `allowPrivilegeEscalation`?"), "{err}");
    let out = podwall(&["pss", "-f", "tests/pss/wrong-type.yaml", "--level", "restricted"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("tests/pss/wrong-type.yaml:1: Pod shop/p: spec.containers[0].securityContext.runAsUser:"),
        "{err}"
    );
}

#[test]
fn pss_skip_invalid_passes_over_unreadable_pod_specs_in_folders_with_a_warning() {
    let out = podwall(&["pss", "-f", "tests/pss", "--skip-invalid", "--level", "baseline", "-o", "json"]);
    let err = text(&out.stderr);
    assert!(err.contains("warning[IN002]") && err.contains("allowPrivilegeEscalaton"), "{err}");
    assert!(err.contains("tests/pss/wrong-type.yaml:1"), "{err}");
    assert_eq!(json(&out).as_array().map(Vec::len), Some(4), "the seeds' four pods and templates");
    let strict = podwall(&["pss", "-f", "tests/pss", "--skip-invalid", "--strict", "--level", "baseline"]);
    assert_eq!(strict.status.code(), Some(2));
}
