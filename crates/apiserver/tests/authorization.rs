//! `--authorization-mode` and `--authorization-config` as kube-apiserver validates them
//! before it starts (`pkg/kubeapiserver/options/authorization.go`): a chain the server
//! refuses is bad input, exit 2, never judged as if it ran.
use podwall_apiserver::authorization::{read, Authorization};
use podwall_apiserver::checks::{run, Report};
use podwall_apiserver::flags::{from_text, from_tokens};
use podwall_load::Source;

fn judge(line: &str) -> Result<Report, String> {
    let flags = from_text("flags", line).map_err(|e| e.to_string())?;
    run(&flags).map_err(|e| e.to_string())
}

fn modes(line: &str) -> Authorization {
    read(&from_text("flags", line).expect("flags")).expect("the server accepts it")
}

#[test]
fn no_mode_and_no_config_default_to_always_allow() {
    let want = Authorization::Modes { modes: vec!["AlwaysAllow".into()], defaulted: true };
    assert_eq!(modes("--anonymous-auth=false"), want);
    // An empty occurrence adds nothing to the string slice; Complete then defaults it.
    assert_eq!(modes("--authorization-mode="), want);
    let r = judge("--authorization-mode=").expect("judges");
    assert!(r.failed("AP005").expect("AlwaysAllow").message.contains("AlwaysAllow"));
}

#[test]
fn the_modes_are_read_in_order_and_occurrences_add_up() {
    let got = modes("--authorization-mode=Node --authorization-mode=RBAC,Webhook --authorization-webhook-config-file=/etc/authz.kubeconfig");
    assert_eq!(
        got,
        Authorization::Modes { modes: vec!["Node".into(), "RBAC".into(), "Webhook".into()], defaulted: false }
    );
}

#[test]
fn an_unknown_mode_is_refused_and_modes_are_case_sensitive() {
    let e = judge("--authorization-mode=Node,Rbac").expect_err("Rbac is not RBAC");
    assert!(e.contains("authorization mode \"Rbac\" is not a valid mode"), "{e}");
    assert!(e.contains("kube-apiserver would not start"), "{e}");
    // pflag's string slice keeps the space (a manifest's command item may hold one):
    // " RBAC" is no mode either.
    let source = Source { file: "kube-apiserver.yaml".into(), line: 1 };
    let flags = from_tokens(source, &["--authorization-mode=Node, RBAC".to_string()]).expect("flags");
    let e = run(&flags).expect_err("a space is kept").to_string();
    assert!(e.contains("\" RBAC\" is not a valid mode"), "{e}");
}

#[test]
fn a_mode_named_twice_is_refused() {
    let e = judge("--authorization-mode=Node,RBAC --authorization-mode=RBAC").expect_err("RBAC twice");
    assert!(e.contains("mode RBAC is named more than once"), "{e}");
}

#[test]
fn abac_and_webhook_need_their_files_and_the_files_need_their_modes() {
    let e = judge("--authorization-mode=Node,ABAC").expect_err("no policy file");
    assert!(e.contains("mode ABAC needs --authorization-policy-file"), "{e}");
    let e = judge("--authorization-mode=Node,Webhook").expect_err("no webhook kubeconfig");
    assert!(e.contains("mode Webhook needs --authorization-webhook-config-file"), "{e}");
    let e = judge("--authorization-mode=Node,RBAC --authorization-policy-file=/etc/abac.jsonl").expect_err("no ABAC");
    assert!(e.contains("--authorization-policy-file is given without mode ABAC"), "{e}");
    let e = judge("--authorization-mode=Node,RBAC --authorization-webhook-config-file=/etc/w.kubeconfig")
        .expect_err("no Webhook");
    assert!(e.contains("--authorization-webhook-config-file is given without mode Webhook"), "{e}");
    judge("--authorization-mode=Node,ABAC,RBAC --authorization-policy-file=/etc/abac.jsonl")
        .expect("ABAC with its file");
}

#[test]
fn every_problem_is_named_at_once_as_the_server_lists_them() {
    let e = judge("--authorization-mode=Foo,ABAC,ABAC").expect_err("three problems");
    for part in [
        "\"Foo\" is not a valid mode",
        "mode ABAC needs --authorization-policy-file",
        "mode ABAC is named more than once",
    ] {
        assert!(e.contains(part), "{part}: {e}");
    }
}

#[test]
fn the_structured_config_excludes_the_legacy_flags() {
    assert_eq!(modes("--authorization-config=/etc/kubernetes/authz.yaml"), Authorization::Structured);
    for legacy in [
        "--authorization-mode=Node,RBAC",
        "--authorization-mode=",
        "--authorization-webhook-config-file=/etc/w.kubeconfig",
        "--authorization-webhook-version=v1",
        "--authorization-webhook-cache-authorized-ttl=5m",
        "--authorization-webhook-cache-unauthorized-ttl=30s",
    ] {
        let e = judge(&format!("--authorization-config=/etc/kubernetes/authz.yaml {legacy}")).expect_err(legacy);
        assert!(e.contains("--authorization-config cannot be given with --authorization-"), "{legacy}: {e}");
    }
    // The ABAC policy file is not one of the flags the server counts as legacy.
    assert_eq!(
        modes("--authorization-config=/etc/kubernetes/authz.yaml --authorization-policy-file=/etc/abac.jsonl"),
        Authorization::Structured
    );
}
