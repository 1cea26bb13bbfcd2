//! `podwall can-i` as a program: kubectl's grammar, its yes/no and exit codes, its
//! `--list` table, and bad RBAC input ending with exit 2 naming file, line and field.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

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

fn can_i(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["can-i"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-f", "tests/rbac"]);
    let out = podwall(&all);
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn yes_exits_0_and_no_exits_1() {
    assert_eq!(can_i(&["list", "secrets", "-n", "prod", "--as", "system:serviceaccount:prod:api"]).0, 0);
    let (code, out, _) = can_i(&["list", "secrets", "-n", "dev", "--as", "system:serviceaccount:prod:api"]);
    assert_eq!((code, out.as_str()), (1, "no\n"));
    let (code, out, _) = can_i(&["delete", "secrets", "-n", "prod", "--as", "system:serviceaccount:prod:api"]);
    assert_eq!((code, out.as_str()), (1, "no\n"));
}

#[test]
fn type_slash_name_is_a_name_and_subresources_go_in_the_flag() {
    let jane = ["-n", "prod", "--as", "jane", "--as-group", "devs"];
    let (code, out, _) = can_i(&[&["create", "pods", "--subresource", "exec"][..], &jane].concat());
    assert_eq!((code, out.as_str()), (0, "yes\n"));
    // `pods/exec` is the pod named exec: `create` on pods is not granted.
    assert_eq!(can_i(&[&["create", "pods/exec"][..], &jane].concat()).0, 1);
}

#[test]
fn short_names_kinds_and_crd_types_resolve() {
    let jane = ["-n", "prod", "--as", "jane", "--as-group", "devs"];
    assert_eq!(can_i(&[&["watch", "po"][..], &jane].concat()).0, 0);
    assert_eq!(can_i(&[&["watch", "Pod"][..], &jane].concat()).0, 0);
    assert_eq!(can_i(&[&["update", "wd/blue"][..], &jane].concat()).0, 0, "a CRD's short name");
    assert_eq!(can_i(&[&["update", "widgets.example.com/blue"][..], &jane].concat()).0, 0);
    assert_eq!(can_i(&[&["update", "widgets.example.com"][..], &jane].concat()).0, 1, "resourceNames need a name");
}

#[test]
fn non_resource_urls_are_asked_without_namespace() {
    assert_eq!(can_i(&["get", "/healthz", "--as", "jane"]).0, 0);
    assert_eq!(can_i(&["get", "/healthz/ready", "--as", "jane", "-n", "anything"]).0, 0);
    assert_eq!(can_i(&["post", "/healthz", "--as", "jane"]).0, 1);
    let (code, _, err) = can_i(&["get", "/healthz", "--as", "jane", "--subresource", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--subresource can not be used with NonResourceURL"), "{err}");
}

#[test]
fn all_namespaces_asks_cluster_wide_where_role_bindings_do_not_count() {
    assert_eq!(can_i(&["list", "secrets", "-A", "--as", "system:serviceaccount:prod:api"]).0, 1);
}

#[test]
fn a_cluster_scoped_type_in_a_namespace_is_warned_about_as_kubectl_does() {
    let (code, out, err) = can_i(&["get", "nodes", "--as", "jane"]);
    assert_eq!((code, out.as_str()), (1, "no\n"));
    assert!(err.contains("Warning: resource 'nodes' is not namespace scoped"), "{err}");
}

#[test]
fn list_prints_kubectls_table_sorted_by_verbs() {
    let (code, out, _) = can_i(&["--list", "-n", "prod", "--as", "jane", "--as-group", "devs"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "Resources             Non-Resource URLs   Resource Names   Verbs\n\
         pods/exec             []                  []               [create]\n\
         pods/log              []                  []               [get list watch]\n\
         pods                  []                  []               [get list watch]\n\
         widgets.example.com   []                  [blue]           [get update]\n                      \
         [/healthz/*]        []               [get]\n                      \
         [/healthz]          []               [get]\n"
    );
}

#[test]
fn list_json_is_the_self_subject_rules_review() {
    let (code, out, _) = can_i(&["--list", "-n", "prod", "--as", "jane", "-o", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["kind"], "SelfSubjectRulesReview");
    assert_eq!(v["status"]["resourceRules"][0]["resources"][0], "widgets");
    assert_eq!(v["status"]["nonResourceRules"][0]["nonResourceURLs"][1], "/healthz/*");
    assert_eq!(v["status"]["incomplete"], false);
}

#[test]
fn usage_errors_use_kubectls_words_and_exit_2() {
    let (code, _, err) = can_i(&["get", "--as", "jane"]);
    assert_eq!(code, 2);
    assert!(err.contains("you must specify two arguments: verb resource or verb resource/resourceName."), "{err}");
    let (code, _, err) = can_i(&["--list", "-A", "--as", "jane"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("list option can't be specified with neither quiet, all-namespaces nor subresource options"),
        "{err}"
    );
    assert_eq!(can_i(&["--list", "get", "pods", "--as", "jane"]).0, 2);
    let (code, _, err) = can_i(&["get", "pods", "--as-group", "devs"]);
    assert_eq!(code, 2);
    assert!(err.contains("--as-group needs --as"), "{err}");
}

#[test]
fn unknown_resource_type_in_can_i_is_exit_2_in_kubectls_words() {
    let (code, out, err) = can_i(&["get", "gizmos", "--as", "jane"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("the server doesn't have a resource type 'gizmos'"), "{err}");
    let (code, _, err) = can_i(&["get", "widgets.other.io", "--as", "jane"]);
    assert_eq!(code, 2);
    assert!(err.contains("'widgets' in group 'other.io'"), "{err}");
}

#[test]
fn quiet_prints_nothing_and_the_exit_code_answers() {
    let (code, out, _) = can_i(&["-q", "get", "/healthz", "--as", "jane"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn other_kinds_in_the_folder_are_not_checked_so_a_bad_network_policy_does_not_stop_can_i() {
    // tests/rbac holds a NetworkPolicy with an invalid CIDR; matrix refuses it.
    assert_eq!(podwall(&["matrix", "-f", "tests/rbac", "--port", "80"]).status.code(), Some(2));
    assert_eq!(can_i(&["get", "/healthz", "--as", "jane"]).0, 0);
}

fn bad(file: &str) -> String {
    let out = podwall(&["can-i", "get", "pods", "--as", "jane", "-f", &format!("tests/rbac-bad/{file}")]);
    assert_eq!(out.status.code(), Some(2), "{file}");
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into()
}

#[test]
fn a_rule_without_verbs_is_refused_naming_file_line_and_field() {
    let err = bad("rule-without-verbs.yaml");
    assert!(err.contains("tests/rbac-bad/rule-without-verbs.yaml:1: ClusterRole no-verbs: rules[0].verbs: Required value: verbs must contain at least one value"), "{err}");
}

#[test]
fn a_role_ref_kind_other_than_role_or_cluster_role_is_refused() {
    let err = bad("role-ref-kind.yaml");
    assert!(err.contains("role-ref-kind.yaml:5: RoleBinding prod/wrong-kind: roleRef.kind: Unsupported value: \"Group\": supported values: \"Role\", \"ClusterRole\""), "{err}");
    let err = bad("cluster-role-binding-to-role.yaml");
    assert!(
        err.contains(
            "ClusterRoleBinding to-role: roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""
        ),
        "{err}"
    );
}

#[test]
fn a_role_binding_to_a_role_in_another_namespace_is_refused() {
    let err = bad("role-in-other-namespace.yaml");
    assert!(
        err.contains(
            "role-in-other-namespace.yaml:1: RoleBinding prod/cross: roleRef.namespace: unknown field `namespace`"
        ),
        "{err}"
    );
    assert!(err.contains("a RoleBinding grants a Role of its own namespace"), "{err}");
}

#[test]
fn a_subject_of_unknown_kind_is_refused_as_the_api_server_does() {
    let err = bad("unknown-subject-kind.yaml");
    assert!(err.contains("subjects[0].kind: Unsupported value: \"Robot\""), "{err}");
}

#[test]
fn who_can_names_each_subject_with_binding_role_rule_and_its_pods() {
    let out = podwall(&["who-can", "get", "secrets", "-n", "prod", "-f", "tests/rbac"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(
        "ServiceAccount prod/api\n  via RoleBinding prod/api-reads-secrets → Role prod/secret-reader → rule 1 (get,list secrets (apiGroups core))\n  pods running as it: prod/api-0\n"
    ), "{text}");
    let out =
        podwall(&["who-can", "get", "pods", "--subresource", "log", "-A", "-f", "tests/rbac", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["subjects"][0]["subject"]["name"], "devs");
    assert_eq!(v["subjects"][0]["grants"][0]["binding"]["name"], "devs-debug");
    assert_eq!(v["subjects"][0]["grants"][0]["rule"], 1);
    let out = podwall(&["who-can", "delete", "nodes", "-A", "-f", "tests/rbac"]);
    assert_eq!(out.status.code(), Some(1), "nobody");
}

#[test]
fn rbac_risky_prints_findings_worst_first_and_each_path_step_by_step() {
    let out = podwall(&["rbac", "risky", "-f", "tests/rbac-risky"]);
    assert_eq!(out.status.code(), Some(1), "critical findings");
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "critical RB101 tests/rbac-risky/cluster.yaml:66: ClusterRoleBinding monitoring-reads-secrets:"
        ),
        "{text}"
    );
    assert!(text.contains("high     RB200 User dev (5 steps)\n  1. creates pods or workloads (RoleBinding ci/dev-deploys → ClusterRole deployer (in namespace ci) → rule 1"), "{text}");
    assert!(text.contains("  4. picks ServiceAccount kube-system/platform\n  5. holds cluster-admin's rule (ClusterRoleBinding platform-admin"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning[RB001]: tests/rbac-risky/cluster.yaml:78: RoleBinding shop/dangling"), "{err}");
    let out = podwall(&["rbac", "risky", "-f", "tests/rbac-risky", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let dev = v["paths"].as_array().expect("paths").iter().find(|p| p["from"] == "User dev").expect("dev");
    assert_eq!(dev["steps"][2]["grant"]["binding"]["name"], "builder-mints");
    assert!(v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| f["id"].as_str().is_some_and(|i| i.starts_with("RB"))));
}

#[test]
fn an_allowed_pod_create_names_the_service_accounts_it_unlocks_beside_kubectls_answer() {
    let args = ["can-i", "create", "pods", "-n", "prod", "--as", "jane", "-f", "tests/rbac-pods"];
    let out = podwall(&args);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "yes\n", "stdout stays kubectl's answer");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "unlocks ServiceAccount prod/deployer (RoleBinding prod/deployer-reads → ClusterRole secret-reader)"
        ),
        "{err}"
    );
    assert!(!err.contains("dev/builder"), "a pod in prod cannot run as a dev account: {err}");
    let json = podwall(&[&args[..], &["-o", "json"]].concat());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["unlocks"].as_array().map(Vec::len), Some(1), "{v}");
    // A request that makes no pod says nothing of accounts.
    let get = podwall(&[
        "can-i",
        "get",
        "secrets",
        "-n",
        "prod",
        "--as",
        "system:serviceaccount:prod:deployer",
        "-f",
        "tests/rbac-pods",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!((v["allowed"].as_bool(), v.get("unlocks")), (Some(true), None));
}

#[test]
fn the_example_clusters_deployer_unlocks_the_api_account_and_not_itself() {
    let out = podwall(&["rbac", "risky", "-f", "../../examples", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rb102: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "RB102")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(rb102.len(), 1, "{v:#}");
    assert!(
        rb102[0].contains("it unlocks the grants of the service accounts of shop: ServiceAccount shop/api ("),
        "{}",
        rb102[0]
    );
    assert!(
        !rb102[0].contains("ServiceAccount shop/ci-deployer (RoleBinding"),
        "its own grants are not unlocked: {}",
        rb102[0]
    );
}
