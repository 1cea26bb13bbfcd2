//! `podwall selector`, run as a program: which endpoints and network sets a Calico
//! selector picks on `examples/` and on small inputs given on standard input, the
//! `--namespace-selector` reading, and the parse-error contract (exit 2, the position,
//! the input with a caret under it).
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn examples() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").display().to_string()
}

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall")).args(args).stdin(Stdio::null()).output().expect("run podwall")
}

fn podwall_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podwall");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for podwall")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(out: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Runs `podwall selector EXPR -f examples [extra...]`, expecting success; returns stdout lines.
#[track_caller]
fn lines(expr: &str, extra: &[&str]) -> Vec<String> {
    let ex = examples();
    let mut args = vec!["selector", expr, "-f", &ex];
    args.extend_from_slice(extra);
    let out = podwall(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[track_caller]
fn json(expr: &str, extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.extend(["-o", "json"]);
    let out = lines(expr, &args).join("\n");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().filter_map(Value::as_str).collect()
}

#[test]
fn lists_matching_endpoints_one_per_line_with_a_count() {
    // shop/api and the worker Deployment's pod template carry tier=backend.
    assert_eq!(lines("tier == 'backend'", &[]), ["shop/Deployment/worker", "shop/api", "2 endpoints, 0 network sets"]);
    assert_eq!(lines("app == 'nothing'", &[]), ["0 endpoints, 0 network sets"]);
    assert_eq!(lines("app == 'api'", &[]), ["shop/api", "1 endpoint, 0 network sets"]);
}

#[test]
fn reads_calico_endpoint_labels() {
    let v = json("projectcalico.org/namespace == 'kube-system'", &[]);
    assert_eq!(v["selector"], "projectcalico.org/namespace == 'kube-system'");
    assert_eq!(strings(&v["endpoints"]), ["kube-system/coredns", "kube-system/metrics-server"]);
    assert_eq!(strings(&v["network_sets"]), Vec::<&str>::new());
    // Namespace labels are inherited as pcns.* (monitoring is labelled name=monitoring).
    assert_eq!(strings(&json("pcns.name == 'monitoring'", &[])["endpoints"]), ["monitoring/prometheus"]);
    // A missing label makes != true: every endpoint without `quarantine`, i.e. all but the canary.
    let all = strings(&json("all()", &[])["endpoints"]).len();
    let not_quarantined = json("quarantine != 'true'", &[]);
    let not_quarantined = strings(&not_quarantined["endpoints"]);
    assert_eq!(not_quarantined.len(), all - 1);
    assert!(!not_quarantined.contains(&"shop/frontend-canary"));
}

#[test]
fn namespace_selector_lists_namespaces() {
    assert_eq!(lines("name == 'monitoring'", &["--namespace-selector"]), ["monitoring", "1 namespace"]);
    assert_eq!(
        strings(&json("all()", &["--namespace-selector"])["namespaces"]),
        ["default", "kube-system", "monitoring", "shop"]
    );
    assert_eq!(strings(&json("projectcalico.org/name == 'shop'", &["--namespace-selector"])["namespaces"]), ["shop"]);
    assert_eq!(strings(&json("env == 'production'", &["--namespace-selector"])["namespaces"]), ["shop"]);
    // global() in a namespaceSelector means "in no namespace".
    assert_eq!(lines("global()", &["--namespace-selector"]), ["0 namespaces"]);
}

#[test]
fn network_sets_are_listed_and_host_network_pods_never_are() {
    let input = r#"
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {role: partners}}
spec: {containers: [{name: c, image: nginx}]}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: a, labels: {role: partners}}
spec: {hostNetwork: true, containers: [{name: c, image: agent}]}
status: {podIP: 192.168.0.1}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: global-partners, labels: {role: partners}}
spec: {nets: [198.51.100.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: local-partners, namespace: a, labels: {role: partners}}
spec: {nets: [192.0.2.0/24]}
"#;
    let out = podwall_stdin(&["selector", "role == 'partners'", "-f", "-", "-o", "json"], input);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(strings(&v["endpoints"]), ["a/web"]);
    let sets: Vec<&str> =
        v["network_sets"].as_array().expect("array").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(sets, ["global-partners", "a/local-partners"]);
    assert_eq!(v["network_sets"][0]["nets"][0], "198.51.100.0/24");

    // A namespaced NetworkSet is in its namespace; a GlobalNetworkSet is in none.
    let out = podwall_stdin(&["selector", "projectcalico.org/namespace == 'a'", "-f", "-"], input);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let got: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(got, ["a/web", "network set a/local-partners (192.0.2.0/24)", "1 endpoint, 1 network set"]);
}

#[test]
fn invalid_selector_exits_2_with_position_and_caret() {
    let ex = examples();
    let out = podwall(&["selector", "app = 'web'", "-f", &ex]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("position 4"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let at = lines.iter().position(|l| l.ends_with("app = 'web'")).unwrap_or_else(|| panic!("no input line:\n{err}"));
    let input_col = lines[at].len() - "app = 'web'".len();
    let caret = lines.get(at + 1).unwrap_or_else(|| panic!("no caret line:\n{err}"));
    assert_eq!(caret.trim_end(), format!("{}^", " ".repeat(input_col + 4)), "caret under the '=':\n{err}");
    assert!(text(&out.stdout).is_empty(), "{}", describe(&out));

    // Also in namespace-selector mode, and before reading any input.
    let out = podwall(&["selector", "--namespace-selector", "team in {'a'", "-f", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("position"), "{}", describe(&out));
}
