//! `who-can`: the reverse of the authorizer's question, tested against the authorizer
//! itself and on the cases other tools miss (RoleBindings to ClusterRoles, wildcards,
//! subresources).
use podwall_rbac::whocan::Scope;
use podwall_rbac::{Rbac, Request, SubjectKind, User};

fn rbac(yaml: &str) -> Rbac {
    Rbac::from_input(&podwall_load::load_str("rbac.yaml", yaml).expect("loads")).expect("valid")
}

const FIXTURE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: star}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: logs}
rules: [{apiGroups: [""], resources: ["*/log"], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ops-star, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: star}
subjects: [{kind: ServiceAccount, name: robot}, {kind: Group, name: ops}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-logs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: logs}
subjects: [{kind: User, name: auditor}, {kind: ServiceAccount, name: shipper, namespace: logging}]
---
apiVersion: v1
kind: Pod
metadata: {name: robot-1, namespace: ops}
spec: {serviceAccountName: robot, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: ops}
spec: {containers: [{name: c, image: i}]}
"#;

fn names(r: &Rbac, req: &Request, scope: Scope) -> Vec<String> {
    r.who_can(req, scope)
        .holders
        .iter()
        .map(|h| {
            format!("{}:{}:{}", h.subject.kind.as_str(), h.subject.namespace.as_deref().unwrap_or(""), h.subject.name)
        })
        .collect()
}

#[test]
fn who_can_finds_role_bindings_to_cluster_roles_in_their_namespace_only() {
    let r = rbac(FIXTURE);
    let req = Request::resource("delete", "ops", "apps", "deployments", "", "");
    assert_eq!(names(&r, &req, Scope::Request), ["Group::ops", "ServiceAccount:ops:robot"]);
    let elsewhere = Request::resource("delete", "prod", "apps", "deployments", "", "");
    assert!(names(&r, &elsewhere, Scope::Request).is_empty());
    assert_eq!(names(&r, &elsewhere, Scope::AllNamespaces).len(), 2, "-A: a RoleBinding anywhere counts");
}

#[test]
fn who_can_follows_star_slash_subresource_and_never_the_parent() {
    let r = rbac(FIXTURE);
    let log = Request::resource("get", "prod", "", "pods", "log", "");
    assert_eq!(names(&r, &log, Scope::Request), ["User::auditor", "ServiceAccount:logging:shipper"]);
    let pods = Request::resource("get", "prod", "", "pods", "", "");
    assert!(names(&r, &pods, Scope::Request).is_empty());
}

#[test]
fn every_subject_who_can_lists_is_allowed_by_the_authorizer_and_no_other_named_one_is() {
    let r = rbac(FIXTURE);
    let requests = [
        Request::resource("delete", "ops", "apps", "deployments", "", ""),
        Request::resource("get", "ops", "", "pods", "log", ""),
        Request::resource("get", "", "", "nodes", "proxy", ""),
        Request::resource("get", "kube-system", "", "secrets", "", ""),
    ];
    let users = [
        User::impersonate("system:serviceaccount:ops:robot", &[]),
        User::impersonate("system:serviceaccount:logging:shipper", &[]),
        User::impersonate("auditor", &[]),
        User::impersonate("x", &["ops".into()]),
        User::impersonate("nobody", &[]),
    ];
    for req in &requests {
        let holders = r.who_can(req, Scope::Request).holders;
        for u in &users {
            let listed = holders.iter().any(|h| match h.subject.kind {
                SubjectKind::User => h.subject.name == u.name,
                SubjectKind::Group => u.in_group(&h.subject.name),
                SubjectKind::ServiceAccount => {
                    podwall_rbac::user::service_account_user(
                        h.subject.namespace.as_deref().unwrap_or(""),
                        &h.subject.name,
                    ) == u.name
                }
            });
            assert_eq!(listed, r.authorize(u, req).allowed(), "{u:?} {req:?}");
        }
    }
}

#[test]
fn pods_running_as_a_service_account_hold_what_it_is_granted() {
    let r = rbac(FIXTURE);
    let req = Request::resource("delete", "ops", "apps", "deployments", "", "");
    let answer = r.who_can(&req, Scope::Request);
    let robot = answer.holders.iter().find(|h| h.subject.name == "robot").expect("robot");
    let pods: Vec<&str> = r.pods_of(&robot.subject).iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pods, ["robot-1"]);
    let other = r.pods.iter().find(|p| p.name == "other").expect("other");
    assert_eq!(other.service_account, "default", "a pod naming no service account runs as default");
}
