//! The RBAC authorizer's rules, each pinned by a test named after it. The cases follow
//! the authorizer's documented behaviour and the cases of its upstream test tables
//! (`plugin/pkg/auth/authorizer/rbac`, `pkg/apis/rbac/v1` evaluation helpers,
//! `pkg/registry/rbac/validation` rule resolution, the aggregation controller).
use podwall_rbac::{Decision, Rbac, Request, User};

fn rbac(yaml: &str) -> Rbac {
    let input = podwall_load::load_str("rbac.yaml", yaml).expect("loads");
    Rbac::from_input(&input).expect("valid RBAC")
}

fn user(name: &str) -> User {
    User::impersonate(name, &[])
}

/// One argument per attribute of a resource request, in the authorizer's order.
#[allow(clippy::too_many_arguments)]
fn can(r: &Rbac, who: &User, verb: &str, ns: &str, group: &str, resource: &str, sub: &str, name: &str) -> bool {
    r.authorize(who, &Request::resource(verb, ns, group, resource, sub, name)).allowed()
}

fn cluster_role(name: &str, rules: &str) -> String {
    format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {name}}}\nrules: {rules}\n---\n")
}

fn role(ns: &str, name: &str, rules: &str) -> String {
    format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {name}, namespace: {ns}}}\nrules: {rules}\n---\n")
}

fn crb(name: &str, role: &str, subjects: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {name}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: {subjects}\n---\n"
    )
}

fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {kind}, name: {role}}}\nsubjects: {subjects}\n---\n"
    )
}

const JANE: &str = "[{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]";

#[test]
fn verb_star_matches_every_verb_and_verbs_compare_exactly() {
    let r = rbac(
        &(cluster_role("all", "[{apiGroups: [''], resources: [pods], verbs: ['*']}]")
            + &cluster_role("get", "[{apiGroups: [''], resources: [secrets], verbs: [get]}]")
            + &crb("a", "all", JANE)
            + &crb("b", "get", JANE)),
    );
    let jane = user("jane");
    assert!(can(&r, &jane, "deletecollection", "x", "", "pods", "", ""));
    assert!(can(&r, &jane, "get", "x", "", "secrets", "", ""));
    assert!(!can(&r, &jane, "GET", "x", "", "secrets", "", ""), "verbs are case-sensitive");
    assert!(!can(&r, &jane, "*", "x", "", "secrets", "", ""), "a request for * needs a rule listing *");
    assert!(can(&r, &jane, "*", "x", "", "pods", "", ""));
}

#[test]
fn api_group_star_matches_every_group_and_core_is_only_core() {
    let r = rbac(
        &(cluster_role("core", "[{apiGroups: [''], resources: [deployments], verbs: [get]}]")
            + &cluster_role("any", "[{apiGroups: ['*'], resources: [jobs], verbs: [get]}]")
            + &crb("a", "core", JANE)
            + &crb("b", "any", JANE)),
    );
    let jane = user("jane");
    assert!(!can(&r, &jane, "get", "x", "apps", "deployments", "", ""));
    assert!(can(&r, &jane, "get", "x", "", "deployments", "", ""));
    assert!(can(&r, &jane, "get", "x", "batch", "jobs", "", ""));
}

#[test]
fn resource_star_covers_every_resource_and_subresource_but_a_request_for_star_needs_star() {
    let r = rbac(
        &(cluster_role("all", "[{apiGroups: [''], resources: ['*'], verbs: [get]}]")
            + &cluster_role("pods", "[{apiGroups: [apps], resources: [deployments], verbs: [get]}]")
            + &crb("a", "all", JANE)
            + &crb("b", "pods", JANE)),
    );
    let jane = user("jane");
    assert!(can(&r, &jane, "get", "x", "", "pods", "log", ""));
    assert!(can(&r, &jane, "get", "x", "", "*", "", ""));
    assert!(!can(&r, &jane, "get", "x", "apps", "*", "", ""), "resource * only matches a rule resource *");
}

#[test]
fn star_slash_subresource_matches_that_subresource_of_any_resource_and_never_the_parent() {
    let r = rbac(
        &(cluster_role("scale", "[{apiGroups: ['*'], resources: ['*/scale'], verbs: [update]}]")
            + &crb("a", "scale", JANE)),
    );
    let jane = user("jane");
    assert!(can(&r, &jane, "update", "x", "apps", "deployments", "scale", ""));
    assert!(can(&r, &jane, "update", "x", "", "replicationcontrollers", "scale", ""));
    assert!(!can(&r, &jane, "update", "x", "apps", "deployments", "", ""));
    assert!(!can(&r, &jane, "update", "x", "apps", "deployments", "status", ""));
}

#[test]
fn resource_slash_star_is_not_a_wildcard_and_a_parent_does_not_cover_subresources() {
    let r = rbac(
        &(cluster_role("r", "[{apiGroups: [''], resources: ['pods/*', services], verbs: [get]}]")
            + &crb("a", "r", JANE)),
    );
    let jane = user("jane");
    assert!(!can(&r, &jane, "get", "x", "", "pods", "log", ""));
    assert!(!can(&r, &jane, "get", "x", "", "pods", "", ""));
    assert!(can(&r, &jane, "get", "x", "", "pods", "*", ""), "only a subresource literally named *");
    assert!(!can(&r, &jane, "get", "x", "", "services", "proxy", ""));
}

#[test]
fn resource_names_match_only_named_requests_so_list_and_create_never_match() {
    let r = rbac(&(cluster_role("r", "[{apiGroups: [''], resources: [configmaps], resourceNames: [app-config], verbs: [get, list, create, update]}]")
        + &crb("a", "r", JANE)));
    let jane = user("jane");
    assert!(can(&r, &jane, "get", "x", "", "configmaps", "", "app-config"));
    assert!(can(&r, &jane, "update", "x", "", "configmaps", "", "app-config"));
    assert!(!can(&r, &jane, "get", "x", "", "configmaps", "", "other"));
    assert!(!can(&r, &jane, "list", "x", "", "configmaps", "", ""));
    assert!(!can(&r, &jane, "create", "x", "", "configmaps", "", ""));
}

#[test]
fn non_resource_urls_match_exactly_or_by_trailing_star_prefix_and_only_through_cluster_role_bindings() {
    let r = rbac(
        &(cluster_role("urls", "[{nonResourceURLs: [/healthz, '/metrics*', '/logs/*'], verbs: [get]}]")
            + &crb("a", "urls", JANE)
            + &rb("prod", "b", "ClusterRole", "urls", "[{kind: User, name: bob}]")),
    );
    let (jane, bob) = (user("jane"), user("bob"));
    let get = |u: &User, p: &str| r.authorize(u, &Request::url("get", p)).allowed();
    assert!(get(&jane, "/healthz") && !get(&jane, "/healthz/ready"));
    assert!(get(&jane, "/metrics") && get(&jane, "/metricsfoo") && get(&jane, "/metrics/x"));
    assert!(get(&jane, "/logs/") && get(&jane, "/logs/a") && !get(&jane, "/logs"));
    assert!(!r.authorize(&jane, &Request::url("post", "/healthz")).allowed());
    assert!(!get(&bob, "/healthz"), "a RoleBinding never grants a URL");
}

#[test]
fn resource_rules_never_grant_urls_and_url_rules_never_grant_resources() {
    let r = rbac(&(cluster_role("r", "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]") + &crb("a", "r", JANE)));
    assert!(!r.authorize(&user("jane"), &Request::url("get", "/healthz")).allowed());
    let r = rbac(&(cluster_role("u", "[{nonResourceURLs: ['*'], verbs: ['*']}]") + &crb("a", "u", JANE)));
    assert!(!can(&r, &user("jane"), "get", "x", "", "pods", "", ""));
}

#[test]
fn role_binding_to_cluster_role_grants_only_in_the_binding_namespace() {
    let r = rbac(
        &(cluster_role("view", "[{apiGroups: [''], resources: [pods, nodes], verbs: [get]}]")
            + &rb("prod", "view", "ClusterRole", "view", JANE)),
    );
    let jane = user("jane");
    assert!(can(&r, &jane, "get", "prod", "", "pods", "", ""));
    assert!(!can(&r, &jane, "get", "dev", "", "pods", "", ""));
    assert!(!can(&r, &jane, "get", "", "", "pods", "", ""), "a cluster-wide request sees no RoleBinding");
    // kubectl sends the namespace even for cluster-scoped types; the authorizer answers
    // the namespaced question.
    assert!(can(&r, &jane, "get", "prod", "", "nodes", "", ""));
}

#[test]
fn role_binding_role_ref_is_the_role_of_its_own_namespace_and_the_kind_decides() {
    let r = rbac(
        &(role("prod", "x", "[{apiGroups: [''], resources: [secrets], verbs: [get]}]")
            + &role("dev", "y", "[{apiGroups: [''], resources: [pods], verbs: [get]}]")
            + &cluster_role("x", "[{apiGroups: [''], resources: [configmaps], verbs: [get]}]")
            + &rb("prod", "to-role", "Role", "x", JANE)
            + &rb("prod", "to-cluster-role", "ClusterRole", "x", "[{kind: User, name: bob}]")
            + &rb("prod", "to-other-ns", "Role", "y", "[{kind: User, name: carol}]")),
    );
    let (jane, bob, carol) = (user("jane"), user("bob"), user("carol"));
    assert!(
        can(&r, &jane, "get", "prod", "", "secrets", "", "")
            && !can(&r, &jane, "get", "prod", "", "configmaps", "", "")
    );
    assert!(
        can(&r, &bob, "get", "prod", "", "configmaps", "", "") && !can(&r, &bob, "get", "prod", "", "secrets", "", "")
    );
    assert!(!can(&r, &carol, "get", "prod", "", "pods", "", "") && !can(&r, &carol, "get", "dev", "", "pods", "", ""));
}

#[test]
fn cluster_role_binding_grants_in_every_namespace_and_cluster_wide() {
    let r = rbac(&(cluster_role("r", "[{apiGroups: [''], resources: [pods], verbs: [list]}]") + &crb("a", "r", JANE)));
    let jane = user("jane");
    assert!(can(&r, &jane, "list", "", "", "pods", "", "") && can(&r, &jane, "list", "any", "", "pods", "", ""));
}

#[test]
fn service_account_subject_is_its_user_name_and_defaults_to_the_binding_namespace() {
    let r = rbac(
        &(cluster_role("r", "[{apiGroups: [''], resources: [pods], verbs: [get]}]")
            + &rb("prod", "a", "ClusterRole", "r", "[{kind: ServiceAccount, name: api}]")
            + &rb("prod", "b", "ClusterRole", "r", "[{kind: ServiceAccount, name: web, namespace: dev}]")),
    );
    let api = user("system:serviceaccount:prod:api");
    let web = user("system:serviceaccount:dev:web");
    assert!(can(&r, &api, "get", "prod", "", "pods", "", ""));
    assert!(!can(&r, &user("system:serviceaccount:dev:api"), "get", "prod", "", "pods", "", ""));
    assert!(
        can(&r, &web, "get", "prod", "", "pods", "", ""),
        "a RoleBinding may name another namespace's service account"
    );
    assert!(!can(&r, &web, "get", "dev", "", "pods", "", ""));
}

#[test]
fn a_user_subject_named_like_a_service_account_matches_it_and_groups_never_match_names() {
    let r = rbac(
        &(cluster_role("r", "[{apiGroups: [''], resources: [pods], verbs: [get]}]")
            + &crb("a", "r", "[{kind: User, name: 'system:serviceaccount:prod:api'}]")
            + &crb("b", "r", "[{kind: Group, name: jane}]")),
    );
    assert!(can(&r, &user("system:serviceaccount:prod:api"), "get", "x", "", "pods", "", ""));
    assert!(!can(&r, &user("jane"), "get", "x", "", "pods", "", ""));
}

#[test]
fn service_account_groups_and_system_authenticated_come_from_impersonation() {
    let r = rbac(
        &(cluster_role("r", "[{apiGroups: [''], resources: [pods], verbs: [get]}]")
            + &crb("all-sa", "r", "[{kind: Group, name: 'system:serviceaccounts:prod'}]")
            + &cluster_role("s", "[{apiGroups: [''], resources: [secrets], verbs: [get]}]")
            + &crb("everyone", "s", "[{kind: Group, name: 'system:authenticated'}]")),
    );
    let api = user("system:serviceaccount:prod:api");
    assert!(can(&r, &api, "get", "x", "", "pods", "", ""));
    assert!(!can(
        &r,
        &User::impersonate("system:serviceaccount:prod:api", &["devs".into()]),
        "get",
        "x",
        "",
        "pods",
        "",
        ""
    ));
    assert!(can(&r, &user("anyone"), "get", "x", "", "secrets", "", ""));
    assert!(!can(&r, &user("system:anonymous"), "get", "x", "", "secrets", "", ""));
}

#[test]
fn system_masters_is_allowed_everything_outside_rbac() {
    let r = rbac("");
    let admin = User::impersonate("someone", &["system:masters".into()]);
    assert_eq!(r.authorize(&admin, &Request::resource("delete", "", "", "nodes", "", "")), Decision::Masters);
    assert!(r.authorize(&admin, &Request::url("get", "/anything")).allowed());
    assert!(!can(&r, &user("someone"), "get", "x", "", "pods", "", ""));
}

#[test]
fn missing_role_grants_nothing_is_a_finding_and_the_denial_says_so() {
    let r = rbac(&(crb("dangling", "gone", JANE) + &rb("prod", "dangling", "Role", "nope", JANE)));
    let d = r.authorize(&user("jane"), &Request::resource("get", "prod", "", "pods", "", ""));
    assert_eq!(
        d.reason().as_deref(),
        Some(
            r#"RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, role.rbac.authorization.k8s.io "nope" not found]"#
        )
    );
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, ["RB001", "RB001"]);
    assert!(r.findings[0].to_string().starts_with("rbac.yaml:1: ClusterRoleBinding dangling:"), "{}", r.findings[0]);
    // Bindings that do not name the user report nothing.
    assert_eq!(r.authorize(&user("bob"), &Request::resource("get", "prod", "", "pods", "", "")).reason(), None);
}

#[test]
fn aggregation_replaces_written_rules_and_follows_aggregated_roles_transitively() {
    let yaml = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: top}\n\
        aggregationRule: {clusterRoleSelectors: [{matchLabels: {agg: top}}]}\n\
        rules: [{apiGroups: [''], resources: [nodes], verbs: [delete]}]\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: middle, labels: {agg: top}}\n\
        aggregationRule: {clusterRoleSelectors: [{matchExpressions: [{key: agg, operator: In, values: [middle]}]}]}\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: leaf, labels: {agg: middle}}\n\
        rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]\n---\n"
        .to_string()
        + &crb("a", "top", JANE);
    let r = rbac(&yaml);
    let jane = user("jane");
    assert!(can(&r, &jane, "get", "x", "", "secrets", "", ""), "leaf → middle → top");
    assert!(!can(&r, &jane, "delete", "", "", "nodes", "", ""), "rules written into an aggregated role are replaced");
}

#[test]
fn aggregation_takes_each_rule_once_and_an_aggregated_role_never_selects_itself() {
    let yaml = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg, labels: {x: y}}\n\
        aggregationRule: {clusterRoleSelectors: [{matchLabels: {x: y}}, {}]}\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a, labels: {x: y}}\n\
        rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: b}\n\
        rules: [{apiGroups: [''], resources: [pods], verbs: [get]}, {apiGroups: [''], resources: [services], verbs: [get]}]\n";
    let r = rbac(yaml);
    let agg = r.roles.iter().find(|x| x.name == "agg").expect("agg");
    let resources: Vec<&str> = agg.rules.iter().map(|x| x.resources[0].as_str()).collect();
    assert_eq!(resources, ["pods", "services"]);
}

#[test]
fn roles_are_never_aggregated_into_cluster_roles() {
    let yaml = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\n\
        aggregationRule: {clusterRoleSelectors: [{}]}\n---\n"
        .to_string()
        + &role("prod", "r", "[{apiGroups: [''], resources: [pods], verbs: [get]}]");
    let r = rbac(&yaml);
    assert!(r.roles.iter().find(|x| x.name == "agg").expect("agg").rules.is_empty());
}

#[test]
fn a_denial_visits_every_binding_and_the_first_matching_rule_is_the_grant() {
    let r = rbac(&(cluster_role("r", "[{apiGroups: [''], resources: [secrets], verbs: [list]}, {apiGroups: [''], resources: [pods], verbs: [get]}]")
        + &rb("prod", "b", "ClusterRole", "r", JANE)));
    match r.authorize(&user("jane"), &Request::resource("get", "prod", "", "pods", "", "")) {
        Decision::Allowed(g) => {
            assert_eq!(
                r.describe(&g),
                "RoleBinding prod/b → ClusterRole r (in namespace prod) → rule 2 (get pods (apiGroups core))"
            );
        }
        other => panic!("{other:?}"),
    }
}
