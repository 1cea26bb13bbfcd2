//! `rbac risky`: each dangerous grant is a finding with its stable ID, and escalation
//! paths are the shortest ones, edge by edge as the rules allow them.
use podwall_rbac::escalate::{How, Node};
use podwall_rbac::Rbac;

fn rbac(yaml: &str) -> Rbac {
    Rbac::from_input(&podwall_load::load_str("rbac.yaml", yaml).expect("loads")).expect("valid")
}

fn doc(kind: &str, ns: Option<&str>, name: &str, body: &str) -> String {
    let meta = match ns {
        Some(ns) => format!("{{name: {name}, namespace: {ns}}}"),
        None => format!("{{name: {name}}}"),
    };
    format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {meta}\n{body}\n---\n")
}

fn cr(name: &str, rules: &str) -> String {
    doc("ClusterRole", None, name, &format!("rules: {rules}"))
}

fn crb(name: &str, role: &str, subjects: &str) -> String {
    doc(
        "ClusterRoleBinding",
        None,
        name,
        &format!(
            "roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: {subjects}"
        ),
    )
}

fn rb(ns: &str, name: &str, role: &str, subjects: &str) -> String {
    doc(
        "RoleBinding",
        Some(ns),
        name,
        &format!(
            "roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: {subjects}"
        ),
    )
}

fn sa(ns: &str, name: &str) -> String {
    format!("apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}, namespace: {ns}}}\n---\n")
}

fn pod(ns: &str, name: &str, account: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{serviceAccountName: {account}, containers: [{{name: c, image: i}}]}}\n---\n")
}

const ADMIN: &str = "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]";
const JANE: &str = "[{kind: User, name: jane}]";

fn ids(r: &Rbac) -> Vec<&'static str> {
    let mut v: Vec<&str> = r.risky().iter().map(|f| f.id).collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn each_dangerous_permission_has_its_stable_id() {
    let cases = [
        ("[{apiGroups: [''], resources: [secrets], verbs: [list]}]", "RB101"),
        ("[{apiGroups: [apps], resources: [daemonsets], verbs: [create]}]", "RB102"),
        ("[{apiGroups: [''], resources: [pods/attach], verbs: [create]}]", "RB103"),
        ("[{apiGroups: [''], resources: [pods/ephemeralcontainers], verbs: [patch]}]", "RB103"),
        ("[{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}]", "RB104"),
        ("[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}]", "RB105"),
        ("[{apiGroups: [''], resources: ['*'], verbs: [get]}]", "RB106"),
        ("[{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}]", "RB107"),
        ("[{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}]", "RB108"),
        (
            "[{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}]",
            "RB109",
        ),
        (
            "[{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [patch]}]",
            "RB110",
        ),
    ];
    for (rules, id) in cases {
        let r = rbac(&(cr("r", rules) + &crb("b", "r", JANE)));
        assert!(ids(&r).contains(&id), "{rules}: {:?}", ids(&r));
    }
    let harmless = rbac(
        &(cr("r", "[{apiGroups: [''], resources: [pods, configmaps], verbs: [get, list, watch]}]")
            + &crb("b", "r", JANE)),
    );
    assert!(harmless.risky().is_empty(), "{:?}", harmless.risky());
}

#[test]
fn secrets_are_risky_cluster_wide_and_in_kube_system_only() {
    let rules = "[{apiGroups: [''], resources: [secrets], verbs: [get]}]";
    assert!(ids(&rbac(&(cr("r", rules) + &rb("kube-system", "b", "r", JANE)))).contains(&"RB101"));
    assert!(!ids(&rbac(&(cr("r", rules) + &rb("shop", "b", "r", JANE)))).contains(&"RB101"));
}

#[test]
fn cluster_admin_to_service_accounts_or_everyone_is_rb111_and_reported_once() {
    let r = rbac(
        &(cr("admin", ADMIN)
            + &crb("b", "admin", "[{kind: Group, name: 'system:authenticated'}, {kind: User, name: alice}]")),
    );
    let f: Vec<&str> = r.risky().iter().map(|f| f.id).collect();
    assert_eq!(f, ["RB106", "RB111"], "one finding for the admin rule, one for handing it to everyone");
}

#[test]
fn default_service_account_with_grants_is_rb112() {
    let r = rbac(
        &(cr("r", "[{apiGroups: [''], resources: [pods], verbs: [get]}]")
            + &rb("shop", "b", "r", "[{kind: ServiceAccount, name: default}]")),
    );
    assert_eq!(ids(&r), ["RB112"]);
}

fn path_of(r: &Rbac, node: Node) -> Option<Vec<How>> {
    let g = r.escalation_graph();
    let from = g.find(&node)?;
    let paths = r.escalation_paths(&g);
    paths.iter().find(|p| p.from == from).map(|p| p.steps.iter().map(|e| e.how.clone()).collect())
}

#[test]
fn creating_workloads_runs_as_any_service_account_of_the_namespace_and_a_token_for_one_leads_on() {
    let r = rbac(
        &(cr("admin", ADMIN)
            + &crb("top", "admin", "[{kind: ServiceAccount, name: platform, namespace: kube-system}]")
            + &cr("deploy", "[{apiGroups: [apps], resources: [deployments], verbs: [create]}]")
            + &rb("ci", "dev", "deploy", JANE)
            + &cr("mint", "[{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}]")
            + &rb("kube-system", "mint", "mint", "[{kind: ServiceAccount, name: builder, namespace: ci}]")
            + &sa("ci", "builder")
            + &sa("kube-system", "platform")),
    );
    assert_eq!(
        path_of(&r, Node::User("jane".into())),
        Some(vec![How::RunsPods, How::Picks, How::MintsToken, How::Picks, How::HoldsAdmin])
    );
    // The direct holder of cluster-admin has no escalation path of its own to report.
    assert_eq!(path_of(&r, Node::ServiceAccount("kube-system".into(), "platform".into())), None);
}

#[test]
fn the_path_found_is_the_shortest() {
    let r = rbac(
        &(cr("admin", ADMIN)
            + &crb("top", "admin", "[{kind: ServiceAccount, name: platform, namespace: kube-system}]")
            + &cr("deploy", "[{apiGroups: [''], resources: [pods], verbs: [create]}]")
            + &rb("ci", "long", "deploy", JANE)
            + &rb("kube-system", "short", "deploy", JANE)
            + &cr("mint", "[{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}]")
            + &rb("kube-system", "mint", "mint", "[{kind: ServiceAccount, name: builder, namespace: ci}]")
            + &sa("ci", "builder")
            + &sa("kube-system", "platform")),
    );
    assert_eq!(path_of(&r, Node::User("jane".into())), Some(vec![How::RunsPods, How::Picks, How::HoldsAdmin]));
}

#[test]
fn impersonating_system_masters_needs_a_user_to_impersonate_too() {
    let groups_only =
        rbac(&(cr("imp", "[{apiGroups: [''], resources: [groups], verbs: [impersonate]}]") + &crb("b", "imp", JANE)));
    assert_eq!(path_of(&groups_only, Node::User("jane".into())), None);
    let both = rbac(
        &(cr("imp", "[{apiGroups: [''], resources: [groups, users], verbs: [impersonate]}]") + &crb("b", "imp", JANE)),
    );
    assert_eq!(path_of(&both, Node::User("jane".into())), Some(vec![How::Impersonates]));
    let named = rbac(&(cr("imp", "[{apiGroups: [''], resources: [groups], verbs: [impersonate], resourceNames: [devs]}, {apiGroups: [''], resources: [users], verbs: [impersonate]}]") + &crb("b", "imp", JANE)));
    assert_eq!(path_of(&named, Node::User("jane".into())), None, "only group devs");
}

#[test]
fn bind_reaches_cluster_admin_only_with_create_clusterrolebindings() {
    let bind = "{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}";
    let create = "{apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}";
    let only_bind = rbac(&(cr("r", &format!("[{bind}]")) + &crb("b", "r", JANE)));
    assert_eq!(path_of(&only_bind, Node::User("jane".into())), None);
    let both = rbac(&(cr("r", &format!("[{bind}, {create}]")) + &crb("b", "r", JANE)));
    assert_eq!(path_of(&both, Node::User("jane".into())), Some(vec![How::Binds]));
}

#[test]
fn exec_acts_as_the_service_accounts_of_running_pods_only() {
    let base = cr("admin", ADMIN)
        + &crb("top", "admin", "[{kind: ServiceAccount, name: platform, namespace: kube-system}]")
        + &cr("exec", "[{apiGroups: [''], resources: [pods/exec], verbs: [create]}]")
        + &rb("kube-system", "e", "exec", JANE)
        + &sa("kube-system", "platform");
    assert_eq!(path_of(&rbac(&base), Node::User("jane".into())), None, "no pod runs as platform");
    let with_pod = base + &pod("kube-system", "operator", "platform");
    assert_eq!(
        path_of(&rbac(&with_pod), Node::User("jane".into())),
        Some(vec![How::Execs, How::RunsAs, How::HoldsAdmin])
    );
}

#[test]
fn a_grant_to_system_authenticated_is_every_users_and_is_reported_on_the_group() {
    let r = rbac(
        &(cr("admin", ADMIN)
            + &crb("top", "admin", "[{kind: ServiceAccount, name: platform, namespace: kube-system}]")
            + &cr("mint", "[{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}]")
            + &rb("kube-system", "oops", "mint", "[{kind: Group, name: 'system:authenticated'}]")
            + &crb("other", "mint", JANE)
            + &sa("kube-system", "platform")),
    );
    let g = r.escalation_graph();
    let paths = r.escalation_paths(&g);
    let from: Vec<String> = paths.iter().map(|p| g.nodes[p.from].display()).collect();
    assert!(from.contains(&"Group system:authenticated".to_string()), "{from:?}");
    // jane mints tokens herself (her own grant, cluster-wide), so her own path is reported.
    assert!(from.contains(&"User jane".to_string()), "{from:?}");
}

#[test]
fn creating_pods_in_a_namespace_unlocks_the_grants_of_that_namespaces_service_accounts_only() {
    // A pod may only run as a service account of its own namespace.
    let yaml = [
        cr("pod-maker", "[{apiGroups: [''], resources: [pods], verbs: [create]}]"),
        cr("secret-reader", "[{apiGroups: [''], resources: [secrets], verbs: [get]}]"),
        rb("prod", "make", "pod-maker", JANE),
        rb("prod", "deployer-reads", "secret-reader", "[{kind: ServiceAccount, name: deployer}]"),
        rb("dev", "dev-reads", "secret-reader", "[{kind: ServiceAccount, name: builder}]"),
        crb("all-prod-sas", "secret-reader", "[{kind: Group, name: 'system:serviceaccounts:prod'}]"),
        crb("as-user", "secret-reader", "[{kind: User, name: 'system:serviceaccount:prod:api'}]"),
        sa("prod", "deployer"),
    ]
    .concat();
    let r = rbac(&yaml);
    let unlocked: Vec<String> = r.unlocked_by_pods(Some("prod")).iter().map(|u| u.to_string()).collect();
    assert_eq!(
        unlocked,
        [
            "every service account of prod (ClusterRoleBinding all-prod-sas → ClusterRole secret-reader)",
            "ServiceAccount prod/api (ClusterRoleBinding as-user → ClusterRole secret-reader)",
            "ServiceAccount prod/deployer (RoleBinding prod/deployer-reads → ClusterRole secret-reader)",
        ]
    );
    let f = r.risky().into_iter().find(|f| f.id == "RB102").expect("RB102");
    assert!(
        f.message.contains("it unlocks the grants of the service accounts of prod: every service account of prod"),
        "{}",
        f.message
    );
    assert!(f.message.contains("ServiceAccount prod/deployer"), "{}", f.message);
    assert!(!f.message.contains("dev/builder"), "a pod in prod cannot run as a dev account: {}", f.message);
    // Cluster-wide, every namespace's accounts.
    let all: Vec<String> = r.unlocked_by_pods(None).iter().map(|u| format!("{}/{:?}", u.namespace, u.name)).collect();
    assert!(all.contains(&"dev/Some(\"builder\")".to_string()), "{all:?}");
}

#[test]
fn a_pod_creator_where_no_account_holds_grants_is_told_so() {
    let yaml = [
        cr("pod-maker", "[{apiGroups: [''], resources: [pods], verbs: [create]}]"),
        rb("prod", "make", "pod-maker", JANE),
    ]
    .concat();
    let f = rbac(&yaml).risky().into_iter().find(|f| f.id == "RB102").expect("RB102");
    assert!(f.message.ends_with("; no service accounts of prod hold grants in the input"), "{}", f.message);
}
