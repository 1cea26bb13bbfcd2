//! `podwall audit rbac` and `podwall audit summarize` as a user runs them, on a small
//! audit log written by hand (what the API server's log backend writes: two events per
//! request, RequestReceived and ResponseComplete).
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn podwall(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podwall");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

const LOG: &str = "tests/audit/log/audit.log";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn summarize_counts_each_request_once_and_lists_the_refused() {
    let out = podwall(&["audit", "summarize", "--log", LOG, "-o", "json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["events"].as_u64(), v["requests"].as_u64(), v["denied"].as_u64()), (Some(20), Some(10), Some(1)));
    assert_eq!(v["countedBy"], "ResponseComplete");
    assert_eq!(v["users"][0], serde_json::json!({"name": "jane", "count": 9}));
    assert_eq!(
        v["refusals"][0],
        serde_json::json!({"user": "jane", "verb": "get", "resource": "secrets", "namespace": "prod", "count": 1})
    );
}

#[test]
fn a_gzip_log_and_standard_input_read_the_same() {
    let plain = podwall(&["audit", "summarize", "--log", LOG, "-o", "json"], None);
    let gz = podwall(&["audit", "summarize", "--log", "tests/audit/log/audit.log.gz", "-o", "json"], None);
    let bytes = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(LOG)).unwrap();
    let stdin = podwall(&["audit", "summarize", "--log", "-", "-o", "json"], Some(&bytes));
    assert!(gz.status.success() && stdin.status.success(), "{}{}", text(&gz.stderr), text(&stdin.stderr));
    assert_eq!(plain.stdout, gz.stdout);
    assert_eq!(plain.stdout, stdin.stdout);
}

#[test]
fn rbac_writes_a_role_per_namespace_and_a_cluster_role_that_kubectl_would_apply() {
    let out = podwall(&["audit", "rbac", "--log", LOG, "--user", "jane"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let input = podwall_load::load_str("out.yaml", &yaml).unwrap();
    let kinds: Vec<String> = input.objects.iter().map(|o| format!("{}/{}", o.kind, o.name)).collect();
    assert_eq!(
        kinds,
        [
            "ClusterRole/podwall:audit:jane",
            "ClusterRoleBinding/podwall:audit:jane",
            "Role/podwall:audit:jane",
            "RoleBinding/podwall:audit:jane"
        ]
    );
    let rbac = podwall_rbac::Rbac::from_input(&input).unwrap();
    let jane = podwall_rbac::User::impersonate("jane", &[]);
    let can = |r: podwall_rbac::Request| rbac.authorize(&jane, &r).allowed();
    use podwall_rbac::Request as R;
    // What she did.
    assert!(can(R::resource("create", "prod", "", "configmaps", "", "")));
    assert!(can(R::resource("get", "prod", "", "configmaps", "", "cfg")));
    assert!(can(R::resource("get", "prod", "", "pods", "log", "web-1")));
    assert!(
        can(R::resource("get", "prod", "", "secrets", "", "db")),
        "the refused request is allowed too: she made it"
    );
    assert!(can(R::resource("get", "", "", "nodes", "", "n1")));
    assert!(can(R::url("get", "/healthz")));
    // Nothing more.
    assert!(!can(R::resource("get", "prod", "", "configmaps", "", "other")));
    assert!(!can(R::resource("get", "prod", "", "pods", "", "web-1")), "pods/log does not give pods");
    assert!(!can(R::resource("list", "dev", "", "pods", "", "")));
    assert!(!can(R::resource("delete", "prod", "apps", "deployments", "", "web")));
    assert!(text(&out.stderr).contains("9 request(s) by jane (1 refused when made)"), "{}", text(&out.stderr));
}

#[test]
fn a_malformed_line_is_named_with_its_number_the_rest_read_and_the_exit_is_2() {
    let out = podwall(&["audit", "summarize", "--log", "tests/audit/log/truncated.log", "-o", "json"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("tests/audit/log/truncated.log:3: not a JSON audit event"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 4, "lines after the bad one are read");
    let skip = podwall(&["audit", "summarize", "--log", "tests/audit/log/truncated.log", "--skip-invalid"], None);
    assert_eq!(skip.status.code(), Some(0), "{}", text(&skip.stderr));
    assert!(text(&skip.stderr).contains(":3:"));
}

#[test]
fn a_user_absent_from_the_log_is_an_error_not_an_empty_role() {
    let out = podwall(&["audit", "rbac", "--log", LOG, "--user", "Jane"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("no request by or impersonating \"Jane\""), "{}", text(&out.stderr));
}

#[test]
fn a_missing_or_corrupt_log_is_refused_with_its_name() {
    let out = podwall(&["audit", "summarize", "--log", "tests/audit/log/none.log"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("tests/audit/log/none.log"), "{}", text(&out.stderr));
    let gz = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/audit/log/audit.log.gz")).unwrap();
    let out = podwall(&["audit", "summarize", "--log", "-"], Some(&gz[..gz.len() / 2]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("(stdin)"), "{}", text(&out.stderr));
}
