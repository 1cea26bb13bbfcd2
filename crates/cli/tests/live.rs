//! Reading a live cluster from the command line, against a recorded API served over
//! real HTTP (crates/cluster/tests/support): the same answers as the same objects in
//! files, a forbidden kind reported, and the refusals (-f with --kubeconfig, no input, a
//! server that is not there).
#[path = "../../cluster/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{Answer, Server};

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run podwall")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The findings without where they were read (a file and line, or the cluster).
fn findings(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let mut all: Vec<Value> = v["findings"].as_array().expect("findings").clone();
    for f in &mut all {
        f.as_object_mut().expect("object").remove("origin");
    }
    all
}

#[test]
fn matrix_of_the_served_examples_equals_the_matrix_of_the_files() {
    let server = support::serve_examples();
    let dir = support::scratch("cli-matrix");
    let config = support::kubeconfig(&dir, &server.url());
    let config = config.to_str().expect("utf-8");
    for port in ["8080", "5432"] {
        let files = podwall(&["matrix", "-f", "examples/", "--port", port, "-o", "json"]);
        let live = podwall(&["matrix", "--kubeconfig", config, "--port", port, "-o", "json"]);
        assert!(live.status.success(), "{}", text(&live.stderr));
        assert_eq!(text(&live.stdout), text(&files.stdout), "port {port}");
    }
    // What the cluster does not serve is said once, not skipped silently.
    let live = podwall(&["matrix", "--kubeconfig", config, "--context", "recorded", "--port", "80"]);
    let notes: Vec<String> = text(&live.stderr).lines().filter(|l| l.contains("IN004")).map(str::to_string).collect();
    assert_eq!(notes.len(), 1, "{}", text(&live.stderr));
    assert!(notes[0].contains("CiliumNetworkPolicy.cilium.io"), "{}", notes[0]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn analyze_of_the_served_examples_equals_analyze_of_the_files() {
    let server = support::serve_examples();
    let dir = support::scratch("cli-analyze");
    let config = support::kubeconfig(&dir, &server.url());
    let files = findings(&podwall(&["analyze", "-f", "examples/", "--format", "json"]));
    let out = podwall(&["analyze", "--kubeconfig", config.to_str().expect("utf-8"), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let live = findings(&out);
    let (not_served, live): (Vec<Value>, Vec<Value>) = live.into_iter().partition(|f| f["id"] == "IN004");
    assert_eq!(not_served.len(), 1, "{not_served:?}");
    assert!(files.len() > 10, "{files:?}");
    let only_live: Vec<&Value> = live.iter().filter(|f| !files.contains(f)).collect();
    let only_files: Vec<&Value> = files.iter().filter(|f| !live.contains(f)).collect();
    assert!(only_live.is_empty() && only_files.is_empty(), "live only: {only_live:#?}\nfiles only: {only_files:#?}");
    // Each as often (within a severity, findings come in the order their objects were
    // read: files by path, a cluster by kind).
    let sorted = |v: &[Value]| {
        let mut t: Vec<String> = v.iter().map(Value::to_string).collect();
        t.sort();
        t
    };
    assert_eq!(sorted(&live), sorted(&files));
    // SARIF names no file for what was read from the cluster.
    let out = podwall(&["analyze", "--kubeconfig", config.to_str().expect("utf-8"), "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.len() > 10 && results.iter().all(|r| r.get("locations").is_none()), "{}", text(&out.stdout));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_forbidden_kind_makes_a_partial_report_that_says_so() {
    let items = support::served_items();
    let server = Server::start(move |seen| match (seen.path.as_str(), items.get(&seen.path)) {
        ("/apis/rbac.authorization.k8s.io/v1/rolebindings", _) => {
            Answer::status(403, "Forbidden", "rolebindings.rbac.authorization.k8s.io is forbidden")
        }
        (_, Some((list, version, items))) => support::paged(list, version, items, seen),
        _ => Answer::not_found(),
    });
    let dir = support::scratch("cli-forbidden");
    let config = support::kubeconfig(&dir, &server.url());
    let out = podwall(&["analyze", "--kubeconfig", config.to_str().expect("utf-8"), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let partial: Vec<Value> = findings(&out).into_iter().filter(|f| f["id"] == "IN003").collect();
    assert_eq!(partial.len(), 1, "{partial:?}");
    let message = partial[0]["message"].as_str().expect("message");
    assert!(message.contains("RoleBinding.rbac.authorization.k8s.io") && message.contains("partial"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn files_and_a_kubeconfig_together_are_refused() {
    let out = podwall(&["matrix", "-f", "examples/", "--kubeconfig", "/nonexistent", "--port", "80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot be used with"), "{}", text(&out.stderr));
}

#[test]
fn no_input_at_all_says_what_to_give() {
    let out = podwall(&["matrix", "--port", "80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no input: give -f"), "{}", text(&out.stderr));
}

#[test]
fn a_server_that_is_not_there_exits_2_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = support::scratch("cli-absent");
    let url = format!("http://127.0.0.1:{port}");
    let config = support::kubeconfig(&dir, &url);
    let out = podwall(&["analyze", "--kubeconfig", config.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("cannot reach the API server at") && err.contains(&url), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn inside_a_pod_without_a_service_account_token_the_in_cluster_read_says_why() {
    // KUBERNETES_SERVICE_HOST and no -f: the cluster the pod runs in. Here there is no
    // mounted token, which the error names.
    let out = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(["matrix", "--port", "80"])
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("reading the cluster this pod runs in") && err.contains("in-cluster"), "{err}");
}

#[test]
fn a_slow_server_exits_2_with_the_timeout() {
    let server = Server::start(|_| Answer { delay: std::time::Duration::from_secs(4), ..Answer::not_found() });
    let dir = support::scratch("cli-slow");
    let config = support::kubeconfig(&dir, &server.url());
    let started = std::time::Instant::now();
    let out =
        podwall(&["matrix", "--kubeconfig", config.to_str().expect("utf-8"), "--request-timeout", "1", "--port", "80"]);
    assert!(started.elapsed().as_secs() < 4, "{:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did not answer") && text(&out.stderr).contains("within 1 s"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn diff_from_the_served_examples_to_their_files_changes_nothing() {
    // The state before read from the cluster, the state after from files: what applying
    // the files would change (here nothing: they are the same objects).
    let server = support::serve_examples();
    let dir = support::scratch("cli-diff");
    let config = support::kubeconfig(&dir, &server.url());
    let out =
        podwall(&["diff", "--kubeconfig", config.to_str().expect("utf-8"), "--to", "examples/", "--port", "8080"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let changed = podwall(&[
        "diff",
        "--kubeconfig",
        config.to_str().expect("utf-8"),
        "--to",
        "examples/shop.yaml",
        "--port",
        "8080",
    ]);
    assert_eq!(changed.status.code(), Some(1), "fewer objects after: reachability changes");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn rbac_questions_read_the_served_roles_as_they_read_the_files() {
    let server = support::serve_examples();
    let dir = support::scratch("cli-rbac");
    let config = support::kubeconfig(&dir, &server.url());
    let config = config.to_str().expect("utf-8");
    let questions: [&[&str]; 3] = [
        &["can-i", "list", "secrets", "-A", "--as", "system:serviceaccount:monitoring:prometheus"],
        &["who-can", "create", "deployments", "-n", "shop"],
        &["rbac", "risky", "-o", "json"],
    ];
    for q in questions {
        let files = podwall(&[q, &["-f", "examples/"]].concat());
        let live = podwall(&[q, &["--kubeconfig", config]].concat());
        assert_eq!(live.status.code(), files.status.code(), "{q:?}: {}", text(&live.stderr));
        assert!(!text(&live.stdout).is_empty(), "{q:?}");
        if q[0] != "rbac" {
            assert_eq!(text(&live.stdout), text(&files.stdout), "{q:?}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
