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

fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array().expect("a list").iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn pss_without_level_follows_each_namespaces_labels_and_their_versions() {
    let out = podwall(&["pss", "-f", "tests/pss-labels/cluster.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let list = json(&out);
    // team-a: enforce baseline at v1.33, when hostProbesAndHostLifecycle did not exist yet.
    let probe = entry(&list, "probe-host");
    assert_eq!(probe["allowed"], true);
    assert_eq!(probe["enforce"]["policy"], "baseline:v1.33");
    // warn follows enforce's level and version when no warn label is set.
    assert_eq!(probe["warn"]["policy"], "baseline:v1.33");
    let root = entry(&list, "root-shell");
    assert_eq!((root["allowed"].clone(), checks(root)), (Value::Bool(false), vec!["hostNamespaces"]));
    assert_eq!(root["warn"], Value::Null, "a rejected pod gets no warning");
    // team-b: no enforce label (privileged); audit baseline and warn restricted report.
    let web = entry(&list, "web");
    assert_eq!(web["allowed"], true);
    assert_eq!(web["audit"]["violations"][0]["check"], "privileged");
    assert_eq!(web["warn"]["policy"], "restricted:latest");
    // A namespace not in the input has no labels: privileged.
    assert_eq!(entry(&list, "plain")["allowed"], true);
}

#[test]
fn pss_config_sets_defaults_and_exempts_namespaces_runtime_classes_and_users() {
    let out = podwall(&[
        "pss",
        "-f",
        "tests/pss-labels/cluster.yaml",
        "--config",
        "tests/pss-labels/admission.yaml",
        "-o",
        "json",
    ]);
    let list = json(&out);
    assert_eq!(entry(&list, "agent")["exempt"], "namespace");
    assert_eq!(entry(&list, "sandboxed")["exempt"], "runtimeClass");
    let plain = entry(&list, "plain");
    assert_eq!(
        (plain["allowed"].clone(), plain["enforce"]["policy"].clone()),
        (Value::Bool(false), Value::from("baseline:latest"))
    );
    // The default enforce level fills team-b's missing enforce label: the Deployment's pods would be rejected.
    assert_eq!(entry(&list, "web")["allowed"], false);
    let as_bot = podwall(&[
        "pss",
        "-f",
        "tests/pss-labels/cluster.yaml",
        "--config",
        "tests/pss-labels/admission.yaml",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(as_bot.status.code(), Some(0), "{}", text(&as_bot.stdout));
    let by_path = podwall(&[
        "pss",
        "-f",
        "tests/pss-labels/cluster.yaml",
        "--config",
        "tests/pss-labels/admission-path.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(entry(&json(&by_path), "plain")["audit"]["policy"], "restricted:v1.30");
}

#[test]
fn pss_text_says_which_mode_rejects_audits_or_warns() {
    let out = podwall(&["pss", "-f", "tests/pss-labels/cluster.yaml", "--config", "tests/pss-labels/admission.yaml"]);
    let s = text(&out.stdout);
    assert!(
        s.contains("namespace team-b (enforce=baseline:latest, audit=baseline:latest, warn=restricted:latest)"),
        "{s}"
    );
    assert!(s.contains("Deployment web  PODS REJECTED, audited, warned"), "{s}");
    assert!(s.contains("enforce+audit baseline:latest:"), "{s}");
    assert!(s.contains("exempt (runtimeClass)"), "{s}");
}

#[test]
fn pss_invalid_label_values_are_findings_naming_the_label_and_exit_2() {
    let out = podwall(&["pss", "-f", "tests/pss-labels/bad/invalid-labels.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("warning[PSS001]: tests/pss-labels/bad/invalid-labels.yaml:1: Namespace broken: metadata.labels[pod-security.kubernetes.io/enforce]: invalid value \"Baseline\": must be one of privileged, baseline, restricted; restricted is used"), "{err}");
    assert!(err.contains("pod-security.kubernetes.io/warn-version]: invalid value \"v1.05\""), "{err}");
    // The answer is still the plugin's: an unreadable enforce level fails closed.
    assert_eq!(entry(&json(&out), "p")["enforce"]["policy"], "restricted:latest");
}

#[test]
fn pss_malformed_admission_configuration_is_exit_2_naming_file_line_and_field() {
    for (file, field) in [
        ("config-level.yaml", "plugins[0].configuration.defaults.enforce: Invalid value: \"strict\""),
        ("config-duplicate.yaml", "exemptions.namespaces[1]: Duplicate value: \"kube-system\""),
        ("config-unknown-field.yaml", "plugins[0].configuration.exemption: unknown field `exemption`"),
    ] {
        let path = format!("tests/pss-labels/bad/{file}");
        let out = podwall(&["pss", "-f", "tests/pss-labels/cluster.yaml", "--config", &path]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{path}:1: ")) && err.contains(field), "{err}");
    }
}

#[test]
fn the_shipped_webhook_manifests_pass_podwalls_own_pss_and_lint() {
    let deploy = "../../deploy/webhook/";
    let out = podwall(&["pss", "-f", deploy]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("Deployment podwall-webhook"), "{}", text(&out.stdout));
    let out = podwall(&["pss", "-f", deploy, "--level", "restricted", "--version", "latest", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(json(&out).as_array().map(Vec::len), Some(1));
    let out = podwall(&["lint", "-f", deploy, "--config", "tests/webhook/lint.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn webhook_with_an_unreadable_certificate_exits_2_naming_the_file() {
    let out = podwall(&[
        "webhook",
        "--tls-cert",
        "tests/webhook/none.crt",
        "--tls-key",
        "tests/webhook/none.key",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("tests/webhook/none.crt"), "{}", text(&out.stderr));
    let out = podwall(&[
        "webhook",
        "--tls-cert",
        "tests/webhook/lint.yaml",
        "--tls-key",
        "tests/webhook/lint.yaml",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no PEM certificate"), "{}", text(&out.stderr));
}
