//! The audit policy checker against the rules of the API server's `policy/checker.go`
//! and the policy reader's validation.
use podwall_audit::check::{Request, Target, User};
use podwall_audit::{Level, Policy, Stage};

fn policy(yaml: &str) -> Result<Policy, String> {
    let text = format!("apiVersion: audit.k8s.io/v1\nkind: Policy\n{yaml}");
    let input = podwall_load::load_str("policy.yaml", &text).map_err(|e| e.to_string())?;
    podwall_audit::policy::from_objects(&input.objects, "policy.yaml").map_err(|e| e.to_string())
}

fn ok(yaml: &str) -> Policy {
    policy(yaml).expect("valid policy")
}

fn user(name: &str, groups: &[&str]) -> User {
    User { name: name.into(), groups: groups.iter().map(|g| (*g).to_string()).collect() }
}

/// `verb` on `group/resource[/sub]` named `name` in `ns`, by jane.
fn res(verb: &str, group: &str, resource: &str, name: &str, ns: &str) -> Request {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    Request {
        user: user("jane", &["system:authenticated"]),
        verb: verb.into(),
        target: Target::Resource {
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            namespace: ns.into(),
        },
    }
}

fn url(verb: &str, path: &str) -> Request {
    Request {
        user: user("jane", &["system:authenticated"]),
        verb: verb.into(),
        target: Target::NonResource { path: path.into() },
    }
}

fn level(p: &Policy, r: &Request) -> Level {
    p.evaluate(r).level
}

#[test]
fn the_first_matching_rule_decides() {
    let p = ok("rules:\n- level: None\n  verbs: [get]\n- level: RequestResponse\n");
    assert_eq!(level(&p, &res("get", "", "pods", "a", "prod")), Level::None);
    assert_eq!(level(&p, &res("delete", "", "pods", "a", "prod")), Level::RequestResponse);
    assert_eq!(p.evaluate(&res("delete", "", "pods", "a", "prod")).rule, Some(1));
}

#[test]
fn no_matching_rule_is_level_none_with_the_policys_stages() {
    let p = ok("omitStages: [RequestReceived]\nrules:\n- level: Metadata\n  verbs: [get]\n");
    let d = p.evaluate(&res("list", "", "pods", "", "prod"));
    assert_eq!((d.level, d.rule), (Level::None, None));
    assert_eq!(d.omit_stages, vec![Stage::RequestReceived]);
}

#[test]
fn users_are_matched_exactly_by_name() {
    let p = ok("rules:\n- level: Request\n  users: [jane, \"*\"]\n");
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::Request);
    let mut other = res("get", "", "pods", "", "prod");
    other.user = user("Jane", &[]);
    assert_eq!(level(&p, &other), Level::None, "no case folding, and * is not a wildcard");
}

#[test]
fn user_groups_match_when_any_group_is_listed() {
    let p = ok("rules:\n- level: Metadata\n  userGroups: [system:nodes, admins]\n");
    let mut r = res("get", "", "pods", "", "prod");
    r.user = user("kubelet", &["system:authenticated", "system:nodes"]);
    assert_eq!(level(&p, &r), Level::Metadata);
    r.user = user("kubelet", &[]);
    assert_eq!(level(&p, &r), Level::None);
}

#[test]
fn verbs_have_no_wildcard() {
    let p = ok("rules:\n- level: Metadata\n  verbs: [\"*\"]\n");
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::None);
    assert_eq!(level(&p, &res("*", "", "pods", "", "prod")), Level::Metadata);
}

#[test]
fn namespace_empty_string_selects_cluster_scoped_requests() {
    let p = ok("rules:\n- level: Metadata\n  namespaces: [\"\"]\n");
    assert_eq!(level(&p, &res("get", "", "nodes", "n1", "")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "pods", "a", "prod")), Level::None);
}

#[test]
fn a_namespaces_rule_never_matches_a_non_resource_request() {
    let p = ok("rules:\n- level: Metadata\n  namespaces: [prod]\n");
    assert_eq!(level(&p, &url("get", "/healthz")), Level::None);
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::Metadata);
}

#[test]
fn a_resources_rule_never_matches_a_non_resource_request_and_the_reverse() {
    let p =
        ok("rules:\n- level: Request\n  resources: [{group: \"\"}]\n- level: Metadata\n  nonResourceURLs: [\"*\"]\n");
    assert_eq!(level(&p, &url("get", "/api")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::Request);
    let only_urls = ok("rules:\n- level: Metadata\n  nonResourceURLs: [\"*\"]\n");
    assert_eq!(level(&only_urls, &res("get", "", "pods", "", "prod")), Level::None);
}

#[test]
fn a_rule_without_resource_or_url_fields_matches_both_kinds() {
    let p = ok("rules:\n- level: Metadata\n  users: [jane]\n");
    assert_eq!(level(&p, &url("get", "/metrics")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::Metadata);
}

#[test]
fn the_group_is_compared_exactly_and_empty_is_core() {
    let p = ok("rules:\n- level: Metadata\n  resources: [{group: \"\", resources: [pods]}]\n");
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "metrics.k8s.io", "pods", "", "prod")), Level::None);
}

#[test]
fn a_group_without_resources_matches_every_resource_and_subresource_of_it() {
    let p = ok("rules:\n- level: Metadata\n  resources: [{group: apps}]\n");
    assert_eq!(level(&p, &res("get", "apps", "deployments/scale", "web", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "pods", "", "prod")), Level::None);
}

#[test]
fn a_plain_resource_does_not_cover_its_subresources() {
    let p = ok("rules:\n- level: Metadata\n  resources: [{group: \"\", resources: [services, pods/log]}]\n");
    assert_eq!(level(&p, &res("get", "", "services", "s", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "services/proxy", "s", "prod")), Level::None);
    assert_eq!(level(&p, &res("get", "", "pods/log", "p", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "pods", "p", "prod")), Level::None);
}

#[test]
fn star_matches_every_resource_and_subresource() {
    let p = ok("rules:\n- level: Metadata\n  resources: [{group: \"\", resources: [\"*\"]}]\n");
    assert_eq!(level(&p, &res("get", "", "pods/exec", "p", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "secrets", "", "prod")), Level::Metadata);
}

#[test]
fn star_slash_sub_matches_that_subresource_of_any_resource_never_a_parent() {
    let p = ok("rules:\n- level: Metadata\n  resources: [{group: \"\", resources: [\"*/status\"]}]\n");
    assert_eq!(level(&p, &res("update", "", "pods/status", "p", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("update", "", "nodes/status", "n", "")), Level::Metadata);
    assert_eq!(level(&p, &res("update", "", "pods", "p", "prod")), Level::None);
    assert_eq!(level(&p, &res("update", "", "pods/log", "p", "prod")), Level::None);
}

#[test]
fn resource_slash_star_matches_the_resource_with_or_without_a_subresource() {
    let p = ok("rules:\n- level: Metadata\n  resources: [{group: \"\", resources: [\"pods/*\"]}]\n");
    assert_eq!(level(&p, &res("get", "", "pods/exec", "p", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "pods", "p", "prod")), Level::Metadata);
    assert_eq!(level(&p, &res("get", "", "services", "p", "prod")), Level::None);
}

#[test]
fn resource_names_must_list_the_name_and_unnamed_requests_never_match() {
    let p =
        ok("rules:\n- level: Request\n  resources: [{group: \"\", resources: [configmaps], resourceNames: [cfg]}]\n");
    assert_eq!(level(&p, &res("get", "", "configmaps", "cfg", "prod")), Level::Request);
    assert_eq!(level(&p, &res("get", "", "configmaps", "other", "prod")), Level::None);
    assert_eq!(level(&p, &res("list", "", "configmaps", "", "prod")), Level::None);
}

#[test]
fn non_resource_urls_match_exactly_star_or_by_a_trailing_star_prefix() {
    let p = ok("rules:\n- level: Metadata\n  nonResourceURLs: [/healthz, \"/stats*\", \"/custom/*\"]\n");
    for (path, want) in [
        ("/healthz", Level::Metadata),
        ("/healthz/etcd", Level::None),
        ("/stats", Level::Metadata),
        ("/statsfoo", Level::Metadata),
        ("/custom/", Level::Metadata),
        ("/custom/a", Level::Metadata),
        ("/custom", Level::None),
    ] {
        assert_eq!(level(&p, &url("get", path)), want, "{path}");
    }
}

#[test]
fn omit_stages_is_the_union_of_the_policys_and_the_rules_in_stage_order() {
    let p = ok(
        "omitStages: [Panic, RequestReceived]\nrules:\n- level: Metadata\n  omitStages: [ResponseStarted, RequestReceived]\n",
    );
    let d = p.evaluate(&res("get", "", "pods", "", "prod"));
    assert_eq!(d.omit_stages, vec![Stage::RequestReceived, Stage::ResponseStarted, Stage::Panic]);
}

#[test]
fn omit_managed_fields_is_the_rules_when_set_else_the_policys() {
    let p = ok("omitManagedFields: true\nrules:\n- level: Request\n  verbs: [get]\n  omitManagedFields: false\n- level: Request\n");
    assert!(!p.evaluate(&res("get", "", "pods", "", "prod")).omit_managed_fields);
    assert!(p.evaluate(&res("list", "", "pods", "", "prod")).omit_managed_fields);
    assert!(p.evaluate(&url("post", "/x")).omit_managed_fields);
}

#[test]
fn an_unknown_level_is_refused_with_file_line_and_field() {
    let e = policy("rules:\n- level: Metadata\n- level: Verbose\n").unwrap_err();
    assert!(e.starts_with("policy.yaml:1: Policy: rules[1].level: Unsupported value: \"Verbose\""), "{e}");
    let e = policy("rules:\n- verbs: [get]\n").unwrap_err();
    assert!(e.contains("rules[0].level: Required value"), "{e}");
}

#[test]
fn validation_refuses_what_the_api_server_refuses() {
    for (yaml, field) in [
        ("rules:\n- level: None\n  nonResourceURLs: [healthz]\n", "rules[0].nonResourceURLs[0]"),
        ("rules:\n- level: None\n  nonResourceURLs: [\"/a*b\"]\n", "rules[0].nonResourceURLs[0]"),
        ("rules:\n- level: None\n  nonResourceURLs: [/a]\n  namespaces: [x]\n", "rules[0].nonResourceURLs"),
        (
            "rules:\n- level: None\n  resources: [{group: \"\", resourceNames: [a]}]\n",
            "rules[0].resources[0].resourceNames",
        ),
        ("rules:\n- level: None\n  resources: [{group: apps/v1}]\n", "rules[0].resources[0].group"),
        ("rules:\n- level: None\n  omitStages: [Done]\n", "rules[0].omitStages[0]"),
        ("omitStages: [Done]\nrules:\n- level: None\n", "omitStages[0]"),
        ("rules: []\n", "rules"),
        ("rules:\n- level: None\n  verb: [get]\n", "rules[0]"),
    ] {
        let e = policy(yaml).expect_err(yaml);
        assert!(e.contains(&format!("Policy: {field}")), "{yaml}: {e}");
    }
    let e =
        podwall_load::load_str("p.yaml", "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n")
            .map_err(|e| e.to_string())
            .and_then(|i| podwall_audit::policy::from_objects(&i.objects, "p.yaml").map_err(|e| e.to_string()))
            .unwrap_err();
    assert!(e.contains("apiVersion"), "{e}");
}
