//! The command line, run as a program: the bad-input contract (every problem ends
//! with exit code 2 and a message naming the file, the object, the field and the
//! problem, never a panic) and the happy paths on `examples/`.
//!
//! Issue contract: "Malformed YAML, a NetworkPolicy with an invalid CIDR, an unknown
//! protocol, a bad label selector operator, a port out of range: exit 2 with the file,
//! the object, and the problem; never a panic." Each fixture in `tests/bad/` holds one
//! such problem and has its own test below.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> String {
    manifest_dir().join("../../examples").display().to_string()
}

/// Runs podwall from the crate folder (so `tests/bad/...` paths are relative).
fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

/// Runs podwall with `input` on standard input.
fn podwall_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(manifest_dir())
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

// --- Bad input -----------------------------------------------------------------------

/// What the error message for one fixture must contain.
struct Bad {
    /// `Kind ns/name`, when the object can be named.
    object: Option<&'static str>,
    /// The field path inside the object, when the problem is in a field.
    field: Option<&'static str>,
    /// Strings that must all appear (values quoted from the input).
    quotes: &'static [&'static str],
    /// At least one of these words must appear (case-insensitive): the problem.
    problem: &'static [&'static str],
    /// The line the message must point at, when the object cannot be named.
    lines: Option<std::ops::RangeInclusive<usize>>,
}

const NO: Bad = Bad { object: None, field: None, quotes: &[], problem: &[], lines: None };

/// Runs `matrix` and `check` on `tests/bad/{name}.yaml` (or `.json`) and checks the contract.
#[track_caller]
fn bad(name: &str, want: Bad) {
    let json = format!("tests/bad/{name}.json");
    let file = if manifest_dir().join(&json).is_file() { json } else { format!("tests/bad/{name}.yaml") };
    assert!(manifest_dir().join(&file).is_file(), "missing fixture {file}");
    let runs = [
        podwall(&["matrix", "-f", &file, "--port", "80"]),
        podwall(&["check", "-f", &file, "--from", "shop/web", "--to", "shop/db", "--port", "80"]),
    ];
    for out in &runs {
        let err = text(&out.stderr);
        let all = describe(out);
        assert!(!err.contains("panicked"), "{file}: podwall panicked\n{all}");
        assert_eq!(out.status.code(), Some(2), "{file}: expected exit 2\n{all}");
        assert!(out.stdout.is_empty(), "{file}: stdout must stay empty on error\n{all}");
        assert!(err.contains(&file), "{file}: stderr must name the file\n{all}");
        if let Some(o) = want.object {
            assert!(err.contains(o), "{file}: stderr must name the object {o:?}\n{all}");
        }
        if let Some(f) = want.field {
            assert!(err.contains(f), "{file}: stderr must name the field {f:?}\n{all}");
        }
        for q in want.quotes {
            assert!(err.contains(q), "{file}: stderr must quote {q:?}\n{all}");
        }
        if !want.problem.is_empty() {
            let lower = err.to_lowercase();
            assert!(
                want.problem.iter().any(|w| lower.contains(&w.to_lowercase())),
                "{file}: stderr must say what is wrong (one of {:?})\n{all}",
                want.problem
            );
        }
        if let Some(lines) = &want.lines {
            let line = err
                .split(&format!("{file}:"))
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<usize>().ok());
            assert!(
                line.is_some_and(|l| lines.contains(&l)),
                "{file}: stderr must point at a line in {lines:?}, got {line:?}\n{all}"
            );
        }
        assert_eq!(err.lines().filter(|l| !l.trim().is_empty()).count(), 1, "{file}: one error line\n{all}");
    }
}

#[test]
fn bad_malformed_yaml() {
    // The second document (lines 7-13) never closes its flow sequence.
    bad("malformed-yaml", Bad { problem: &["YAML"], lines: Some(7..=13), ..NO });
}

#[test]
fn bad_invalid_cidr() {
    bad(
        "invalid-cidr",
        Bad {
            object: Some("NetworkPolicy shop/bad-cidr"),
            field: Some("spec.ingress[0].from[0].ipBlock.cidr"),
            quotes: &["10.0.0.0/33"],
            problem: &["CIDR"],
            ..NO
        },
    );
}

#[test]
fn bad_invalid_cidr_in_ignored_direction() {
    // The API server validates every ingress and egress rule whatever policyTypes says
    // (ValidateNetworkPolicySpec loops over spec.ingress and spec.egress
    // unconditionally), so this object is as invalid as `invalid-cidr`.
    bad(
        "invalid-cidr-in-ignored-direction",
        Bad {
            object: Some("NetworkPolicy shop/ignored-egress"),
            field: Some("spec.egress[0].to[0].ipBlock.cidr"),
            quotes: &["300.1.2.0/24"],
            problem: &["CIDR"],
            ..NO
        },
    );
}

#[test]
fn bad_except_outside_cidr() {
    bad(
        "except-outside-cidr",
        Bad {
            object: Some("NetworkPolicy shop/bad-except"),
            field: Some("spec.ingress[0].from[0].ipBlock.except[1]"),
            quotes: &["192.168.0.0/24"],
            problem: &["inside", "outside", "subset", "within"],
            ..NO
        },
    );
}

#[test]
fn bad_unknown_protocol() {
    bad(
        "unknown-protocol",
        Bad {
            object: Some("NetworkPolicy shop/bad-protocol"),
            field: Some("spec.egress[0].ports[0].protocol"),
            quotes: &["ICMP"],
            problem: &["protocol"],
            ..NO
        },
    );
}

#[test]
fn bad_operator() {
    bad(
        "bad-operator",
        Bad {
            object: Some("NetworkPolicy shop/bad-operator"),
            field: Some("spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].operator"),
            quotes: &["Equals"],
            problem: &["operator"],
            ..NO
        },
    );
}

#[test]
fn bad_in_without_values() {
    bad(
        "in-without-values",
        Bad {
            object: Some("NetworkPolicy shop/in-without-values"),
            field: Some("spec.podSelector.matchExpressions[0].values"),
            problem: &["value"],
            ..NO
        },
    );
}

#[test]
fn bad_port_out_of_range() {
    bad(
        "port-out-of-range",
        Bad {
            object: Some("NetworkPolicy shop/big-port"),
            field: Some("spec.ingress[0].ports[1].port"),
            quotes: &["70000"],
            problem: &["range", "65535"],
            ..NO
        },
    );
}

#[test]
fn bad_endport_below_port() {
    bad(
        "endport-below-port",
        Bad {
            object: Some("NetworkPolicy shop/backwards-range"),
            field: Some("spec.ingress[0].ports[0].endPort"),
            quotes: &["8000"],
            problem: &["below", "less", "greater", ">="],
            ..NO
        },
    );
}

#[test]
fn bad_endport_with_named_port() {
    bad(
        "endport-with-named-port",
        Bad {
            object: Some("NetworkPolicy shop/named-range"),
            field: Some("spec.ingress[0].ports[0].endPort"),
            problem: &["numeric", "named", "number"],
            ..NO
        },
    );
}

#[test]
fn bad_invalid_port_name() {
    bad(
        "invalid-port-name",
        Bad {
            object: Some("NetworkPolicy shop/bad-port-name"),
            field: Some("spec.ingress[0].ports[0].port"),
            quotes: &["HTTP_Port"],
            problem: &["port name", "name"],
            ..NO
        },
    );
}

#[test]
fn bad_ipblock_with_selector() {
    bad(
        "ipblock-with-selector",
        Bad {
            object: Some("NetworkPolicy shop/mixed-peer"),
            field: Some("spec.ingress[0].from[0]"),
            quotes: &["ipBlock"],
            problem: &["combined", "both", "together"],
            ..NO
        },
    );
}

#[test]
fn bad_peer_without_fields() {
    bad(
        "peer-without-fields",
        Bad {
            object: Some("NetworkPolicy shop/empty-peer"),
            field: Some("spec.ingress[0].from[1]"),
            problem: &["peer", "must"],
            ..NO
        },
    );
}

#[test]
fn bad_unknown_policy_type() {
    bad(
        "unknown-policy-type",
        Bad {
            object: Some("NetworkPolicy shop/typo-type"),
            field: Some("spec.policyTypes[0]"),
            quotes: &["Ingres"],
            problem: &["policy type", "policyType"],
            ..NO
        },
    );
}

#[test]
fn bad_pod_ip() {
    bad(
        "bad-pod-ip",
        Bad {
            object: Some("Pod shop/web"),
            field: Some("status.podIP"),
            quotes: &["10.0.0.300"],
            problem: &["IP"],
            ..NO
        },
    );
}

#[test]
fn bad_missing_kind() {
    // The object without `kind` is the second document, starting on line 6.
    bad("missing-kind", Bad { problem: &["kind"], lines: Some(6..=6), ..NO });
}

#[test]
fn bad_list_items_not_a_list() {
    bad("list-items-not-a-list", Bad { quotes: &["items"], problem: &["list"], ..NO });
}

/// kubectl's default `--validate=strict` refuses unknown fields; read leniently, this
/// `matchLabel` would select every pod.
#[test]
fn bad_unknown_field_is_refused_with_a_suggestion() {
    let want = Bad {
        object: Some("NetworkPolicy shop/db-ingress"),
        field: Some("spec.podSelector.matchLabel"),
        quotes: &["did you mean `matchLabels`?"],
        ..NO
    };
    bad("unknown-field", want);
}

/// kubectl: "mapping key already defined"; the last value must not win silently.
#[test]
fn bad_duplicate_key_is_refused_with_its_line() {
    bad("duplicate-key", Bad { quotes: &["\"app\""], problem: &["duplicate"], lines: Some(8..=8), ..NO });
}

/// The same in JSON: kubectl's strict decoding refuses it too.
#[test]
fn bad_duplicate_key_in_json_is_refused_with_its_line() {
    bad("duplicate-key-json", Bad { quotes: &["\"app\""], problem: &["duplicate"], lines: Some(9..=9), ..NO });
}

/// `Items:` is not `items:` (keys are case-sensitive): the list must not be passed over.
#[test]
fn bad_list_items_capitalised_is_refused_not_skipped() {
    bad("list-items-capitalised", Bad { object: Some("AdminNetworkPolicyList"), field: Some("items"), ..NO });
}

/// Kubernetes protocols are case-sensitive (`Protocol` is an enum of TCP, UDP, SCTP): the
/// API server refuses `tcp`, and so does podwall, saying so.
#[test]
fn bad_lower_case_protocol_says_the_api_server_would_refuse_it() {
    let want = Bad {
        object: Some("Pod shop/web"),
        field: Some("protocol"),
        quotes: &["\"tcp\"", "case-sensitive", "API server would refuse"],
        ..NO
    };
    bad("lower-case-protocol", want);
}

#[test]
fn empty_folder_exits_2_saying_no_manifests_found() {
    let dir = std::env::temp_dir().join(format!("podwall-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("README.md"), "not a manifest").expect("write");
    let d = dir.display().to_string();
    let out = podwall(&["matrix", "-f", &d, "--port", "80"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains(&format!("{d}: no manifests found")), "{}", describe(&out));
    // Upper-case extensions are manifests too.
    std::fs::write(dir.join("NS.YAML"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n").expect("write");
    let out = podwall(&["matrix", "-f", &d, "--port", "80", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_cnp_priority_out_of_range() {
    // The CRD's `priority` bounds: 0 to 1000.
    bad(
        "cnp-priority-out-of-range",
        Bad {
            object: Some("ClusterNetworkPolicy too-late"),
            field: Some("spec.priority"),
            quotes: &["1001"],
            problem: &["out of range"],
            ..NO
        },
    );
}

#[test]
fn every_bad_fixture_has_a_test() {
    let tested = [
        "malformed-yaml",
        "invalid-cidr",
        "invalid-cidr-in-ignored-direction",
        "except-outside-cidr",
        "unknown-protocol",
        "bad-operator",
        "in-without-values",
        "port-out-of-range",
        "endport-below-port",
        "endport-with-named-port",
        "invalid-port-name",
        "ipblock-with-selector",
        "peer-without-fields",
        "unknown-policy-type",
        "bad-pod-ip",
        "missing-kind",
        "list-items-not-a-list",
        "cnp-priority-out-of-range",
        "unknown-field",
        "duplicate-key",
        "duplicate-key-json",
        "list-items-capitalised",
        "lower-case-protocol",
    ];
    let mut found: Vec<String> = std::fs::read_dir(manifest_dir().join("tests/bad"))
        .expect("tests/bad")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut tested: Vec<String> = tested.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(found, tested, "every fixture in tests/bad needs its own test");
}

#[test]
fn missing_file_exits_2_and_names_it() {
    let out = podwall(&["matrix", "-f", "tests/bad/no-such-file.yaml", "--port", "80"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("tests/bad/no-such-file.yaml: no such file or directory"), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

// --- Happy paths on examples/ ----------------------------------------------------------

#[test]
fn check_allowed_pair_exits_0() {
    let ex = examples();
    // frontend-egress opens TCP 8080 to app=api; api-policy admits frontend on `http` (8080 on api).
    let out = podwall(&["check", "-f", &ex, "--from", "shop/frontend", "--to", "shop/api", "--port", "8080"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // api-policy egress to app=database on TCP 5432; database-policy admits app=api on 5432.
    let out = podwall(&["check", "-f", &ex, "--from", "shop/api", "--to", "shop/database", "--port", "5432"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn check_denied_pair_exits_1() {
    let ex = examples();
    // frontend-egress opens only TCP 8080 towards the api.
    let out = podwall(&["check", "-f", &ex, "--from", "shop/frontend", "--to", "shop/api", "--port", "9090"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!out.stdout.is_empty(), "the verdict is printed\n{}", describe(&out));
    // database-policy admits TCP only (the protocol defaults to TCP).
    let out = podwall(&[
        "check",
        "-f",
        &ex,
        "--from",
        "shop/api",
        "--to",
        "shop/database",
        "--protocol",
        "UDP",
        "--port",
        "5432",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

fn check_json(from: &str, to: &str, port: &str) -> (Option<i32>, Value) {
    let ex = examples();
    let out = podwall(&["check", "-f", &ex, "--from", from, "--to", to, "--port", port, "-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", describe(&out)));
    (out.status.code(), v)
}

#[test]
fn check_json_has_allowed_egress_ingress() {
    let (code, v) = check_json("shop/frontend", "shop/api", "8080");
    assert_eq!(code, Some(0));
    assert_eq!(v["allowed"], Value::Bool(true), "{v:#}");
    assert_eq!(v["egress"]["allowed"], Value::Bool(true), "{v:#}");
    assert_eq!(v["ingress"]["allowed"], Value::Bool(true), "{v:#}");

    let (code, v) = check_json("shop/frontend", "shop/api", "9090");
    assert_eq!(code, Some(1));
    assert_eq!(v["allowed"], Value::Bool(false), "{v:#}");
    // The frontend's egress is what refuses 9090.
    assert_eq!(v["egress"]["allowed"], Value::Bool(false), "{v:#}");
    assert!(v["ingress"]["allowed"].is_boolean(), "{v:#}");
}

#[test]
fn matrix_json_shape() {
    let ex = examples();
    let out = podwall(&["matrix", "-f", &ex, "-o", "json", "--port", "8080"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", describe(&out)));
    let obj = v.as_object().expect("an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["allowed", "pods", "port", "protocol", "version"], "{v:#}");
    assert_eq!(v["version"], 2, "the form's version: 2 since the port is a number");
    assert_eq!(v["port"], 8080, "port is a number, as in every other JSON output");
    assert_eq!(v["protocol"], Value::String("TCP".into()));
    let pods: Vec<&str> = v["pods"].as_array().expect("pods").iter().map(|p| p.as_str().expect("name")).collect();
    let mut sorted = pods.clone();
    sorted.sort();
    assert_eq!(pods, sorted, "pods are sorted");
    // Every pod of the input, including those without container ports and templates.
    let mut want = vec![
        "default/debug",
        "kube-system/coredns",
        "kube-system/metrics-server",
        "monitoring/prometheus",
        "shop/Deployment/worker",
        "shop/api",
        "shop/database",
        "shop/frontend",
        "shop/frontend-canary",
    ];
    want.sort();
    assert_eq!(pods, want);
    let rows = v["allowed"].as_array().expect("allowed");
    assert_eq!(rows.len(), pods.len(), "one row per pod");
    for row in rows {
        let row = row.as_array().expect("a row");
        assert_eq!(row.len(), pods.len(), "square");
        assert!(row.iter().all(Value::is_boolean), "booleans");
    }
    let at = |from: &str, to: &str| {
        let i = pods.iter().position(|p| *p == from).expect("from");
        let j = pods.iter().position(|p| *p == to).expect("to");
        rows[i][j].as_bool().expect("bool")
    };
    assert!(at("shop/frontend", "shop/api"), "frontend -> api on 8080 is allowed");
    assert!(!at("shop/database", "shop/api"), "database egress is DNS only");
    assert!(!at("shop/frontend", "shop/database"), "database admits only the api, on 5432");
}

const SMALL: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec: {containers: [{name: c, image: busybox}]}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: http}]
"#;

#[test]
fn stdin_is_read_with_dash() {
    let out =
        podwall_stdin(&["check", "-f", "-", "--from", "default/client", "--to", "default/web", "--port", "80"], SMALL);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out =
        podwall_stdin(&["check", "-f", "-", "--from", "default/client", "--to", "default/web", "--port", "81"], SMALL);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let out =
        podwall_stdin(&["check", "-f", "-", "--from", "default/web", "--to", "default/client", "--port", "80"], SMALL);
    assert_eq!(out.status.code(), Some(0), "client is not isolated\n{}", describe(&out));
    let out = podwall_stdin(&["matrix", "-f", "-", "-o", "json", "--port", "80"], SMALL);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["pods"], serde_json::json!(["default/client", "default/web"]));
}

#[test]
fn stdin_errors_name_standard_input() {
    let input = format!("{SMALL}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: broken}}\nspec:\n  ingress:\n  - ports: [{{protocol: TCP, port: 0}}]\n");
    let out = podwall_stdin(&["matrix", "-f", "-", "--port", "80"], &input);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(err.contains("-:"), "the file is `-`\n{}", describe(&out));
    assert!(err.contains("NetworkPolicy default/broken"), "{}", describe(&out));
    assert!(err.contains("spec.ingress[0].ports[0].port"), "{}", describe(&out));
    assert!(!err.contains("panicked"));
    assert!(out.stdout.is_empty());
}

const WITH_UNKNOWN_KINDS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec: {containers: [{name: web, image: nginx}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
"#;

#[test]
fn unknown_kinds_are_counted_and_named_with_verbose() {
    let out = podwall_stdin(&["matrix", "-f", "-", "--port", "80"], WITH_UNKNOWN_KINDS);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!out.stdout.is_empty(), "the matrix is still printed\n{}", describe(&out));
    assert!(err.contains('2') && err.to_lowercase().contains("skip"), "two objects skipped\n{}", describe(&out));
    assert!(!err.contains("ConfigMap"), "names only with --verbose\n{}", describe(&out));

    let out = podwall_stdin(&["matrix", "-f", "-", "--port", "80", "--verbose"], WITH_UNKNOWN_KINDS);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(err.contains("Service"), "{}", describe(&out));
    assert!(err.contains("ConfigMap"), "{}", describe(&out));
}

#[test]
fn folder_is_read_recursively() {
    let ex = examples();
    // Only examples/policies/kubernetes.yaml (a sub-folder) refuses frontend -> database.
    let out = podwall(&["check", "-f", &ex, "--from", "shop/frontend", "--to", "shop/database", "--port", "5432"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let shop = Path::new(&ex).join("shop.yaml").display().to_string();
    let namespaces = Path::new(&ex).join("namespaces.yaml").display().to_string();
    let out = podwall(&[
        "check",
        "-f",
        &shop,
        "-f",
        &namespaces,
        "--from",
        "shop/frontend",
        "--to",
        "shop/database",
        "--port",
        "5432",
    ]);
    assert_eq!(out.status.code(), Some(0), "without the policies nothing is isolated\n{}", describe(&out));
    let policies = Path::new(&ex).join("policies").display().to_string();
    let out = podwall(&[
        "check",
        "-f",
        &shop,
        "-f",
        &namespaces,
        "-f",
        &policies,
        "--from",
        "shop/frontend",
        "--to",
        "shop/database",
        "--port",
        "5432",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn unknown_pod_exits_2() {
    let ex = examples();
    let out = podwall(&["check", "-f", &ex, "--from", "shop/nope", "--to", "shop/api", "--port", "8080"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(err.contains("shop/nope"), "{}", describe(&out));
    assert!(!err.contains("panicked"), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let out = podwall(&["check", "-f", &ex, "--from", "shop/api", "--to", "nowhere/x", "--port", "8080"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("nowhere/x"), "{}", describe(&out));
}

#[test]
fn check_and_explain_name_the_cluster_network_policy_and_its_rule() {
    let file = "tests/cnp/cluster.yaml";
    // The Admin tier runs before the v1alpha1 AdminNetworkPolicy that would allow it.
    let out = podwall(&["check", "-f", file, "--from", "slytherin/draco", "--to", "gryffindor/harry", "--port", "80"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains(
            r#"ClusterNetworkPolicy guard-gryffindor ingress rule 1 "deny-all-ingress-from-slytherin" (Deny"#
        ),
        "{}",
        describe(&out)
    );
    assert!(said.contains("clusternetworkpolicy-admin"), "{}", describe(&out));
    // A Pass on the named port goes through the other tiers to the Baseline tier.
    let out = podwall(&[
        "check",
        "-f",
        file,
        "--from",
        "ravenclaw/luna",
        "--to",
        "gryffindor/harry",
        "--port",
        "80",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", describe(&out)));
    let ingress = &v["ingress"];
    assert_eq!(ingress["rule"]["policy"]["name"], "default", "{v:#}");
    assert_eq!(ingress["rule"]["policy"]["kind"], "ClusterNetworkPolicy", "{v:#}");
    assert_eq!(ingress["rule"]["name"], "deny-by-default", "{v:#}");
    assert_eq!(ingress["passed"][0]["name"], "pass-ravenclaw-web", "{v:#}");
    // explain lists the policy with each rule's name.
    let out = podwall(&["explain", "-f", file, "gryffindor/harry"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let said = text(&out.stdout);
    for want in [
        "ClusterNetworkPolicy guard-gryffindor",
        r#"1. "deny-all-ingress-from-slytherin" Deny"#,
        r#"2. "pass-ravenclaw-web" Pass"#,
        "AdminNetworkPolicy legacy",
        "ClusterNetworkPolicy default",
    ] {
        assert!(said.contains(want), "explain must say {want:?}\n{}", describe(&out));
    }
}

#[test]
fn check_reads_only_what_bears_on_the_pair() {
    let file = "tests/partial/cluster.yaml";
    // shop's policy admits web on the named port pg (5432 on db) and nothing else.
    let out = podwall(&["check", "-f", file, "--from", "shop/web", "--to", "shop/db", "--port", "5432"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(text(&out.stdout).contains("db-from-web"), "the deciding policy is named\n{}", describe(&out));
    let out = podwall(&["check", "-f", file, "--from", "shop/web", "--to", "shop/db", "--port", "80"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // The objects left unread are counted with --verbose.
    let out = podwall(&["check", "-v", "-f", file, "--from", "shop/web", "--to", "shop/db", "--port", "5432"]);
    assert!(text(&out.stderr).contains("2 object(s) cannot bear"), "{}", describe(&out));
    // A question that involves the broken namespace reads it, and fails on it.
    let out = podwall(&["check", "-f", file, "--from", "shop/web", "--to", "other/broken", "--port", "80"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // So does matrix, which reads everything.
    let out = podwall(&["matrix", "-f", file, "--port", "80"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // An address may be any pod's: everything is read.
    let out = podwall(&["check", "-f", file, "--from", "10.0.0.1", "--to", "shop/db", "--port", "5432"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // A name that is not there is looked up in the whole input for the hint (which then
    // meets the broken objects, and says so).
    let out = podwall(&["check", "-f", file, "--from", "shop/nope", "--to", "shop/db", "--port", "5432"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    // `podwall matrix ... | head`: once the reader closes the pipe, podwall stops with
    // exit 0 and says nothing (no "error: Broken pipe", no panic).
    let dir = std::env::temp_dir().join(format!("podwall-cli-pipe-{}", std::process::id()));
    let d = dir.to_string_lossy().to_string();
    let p = podwall_synth::Params { pods: 300, namespaces: 20, policies: 40, ..podwall_synth::Params::default() };
    podwall_synth::write(&p, &dir).expect("write the cluster");
    for args in [vec!["matrix", "-f", &d, "-o", "json"], vec!["matrix", "-f", &d, "--summary"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run podwall");
        let mut first = [0u8; 16];
        std::io::Read::read_exact(child.stdout.as_mut().expect("piped"), &mut first).expect("some output");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("podwall ends");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("error"), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Found on argo-cd's test data: kubectl decodes UTF-16 after its byte-order mark
/// (some Windows tools write it); podwall refused it as "not valid UTF-8".
#[test]
fn utf16_manifest_with_a_byte_order_mark_is_read() {
    let out = podwall(&["matrix", "-f", "tests/encodings/utf-16le.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["pods"], serde_json::json!(["shop/café"]), "{v}");
}
