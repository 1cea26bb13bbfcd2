//! Audit policy findings, each proved with the checker: unreachable rules (AU001),
//! sensitive resources logged with bodies (AU002), requests no rule matches (AU003).
use podwall_audit::lint::lint;
use podwall_audit::Policy;

fn policy(rules: &str) -> Policy {
    let text = format!("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}");
    let input = podwall_load::load_str("policy.yaml", &text).expect("loads");
    podwall_audit::policy::from_objects(&input.objects, "policy.yaml").expect("valid policy")
}

/// (ID, 1-based rule number in the subject, or 0) of every finding.
fn found(rules: &str) -> Vec<(&'static str, usize)> {
    lint(&policy(rules))
        .iter()
        .map(|f| {
            let n = f.subject.as_deref().and_then(|s| s.strip_prefix("rule ")).and_then(|s| s.split(' ').next());
            (f.id, n.and_then(|n| n.parse().ok()).unwrap_or(0))
        })
        .collect()
}

fn unreachable(rules: &str) -> Vec<usize> {
    found(rules).into_iter().filter(|(id, _)| *id == "AU001").map(|(_, n)| n).collect()
}

const CATCH_ALL: &str = "- level: Metadata\n";

#[test]
fn a_rule_after_a_broader_one_is_unreachable() {
    let rules = "- level: None\n  resources: [{group: \"\"}]\n- level: Request\n  resources: [{group: \"\", resources: [pods]}]\n";
    assert_eq!(unreachable(rules), vec![2]);
    let f = lint(&policy(rules)).into_iter().find(|f| f.id == "AU001").expect("AU001");
    assert!(f.message.contains("matched first by rule 1"), "{}", f.message);
}

#[test]
fn a_narrower_rule_first_leaves_the_broader_reachable() {
    let rules = "- level: Request\n  resources: [{group: \"\", resources: [pods]}]\n- level: None\n  resources: [{group: \"\"}]\n";
    assert_eq!(unreachable(rules), Vec::<usize>::new());
}

#[test]
fn a_rule_covered_only_by_several_earlier_rules_together_is_unreachable() {
    let rules = "- level: None\n  resources: [{group: \"\", resources: [pods]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [\"*/log\"]}]\n- level: Request\n  resources: [{group: \"\", resources: [pods, pods/log]}]\n";
    assert_eq!(unreachable(rules), vec![3]);
    let f = lint(&policy(rules)).into_iter().find(|f| f.id == "AU001").expect("AU001");
    assert!(f.message.contains("rules 1, 2"), "{}", f.message);
}

#[test]
fn resource_slash_star_shadows_the_resource_itself() {
    let rules = "- level: None\n  resources: [{group: \"\", resources: [\"pods/*\"]}]\n- level: Request\n  resources: [{group: \"\", resources: [pods]}]\n";
    assert_eq!(unreachable(rules), vec![2]);
}

#[test]
fn a_plain_resource_does_not_shadow_its_subresources() {
    let rules = "- level: None\n  resources: [{group: \"\", resources: [services]}]\n- level: Request\n  resources: [{group: \"\", resources: [services/proxy]}]\n";
    assert_eq!(unreachable(rules), Vec::<usize>::new());
}

#[test]
fn resource_names_narrow_a_rule_so_it_shadows_less() {
    let named = "- level: None\n  resources: [{group: \"\", resources: [configmaps], resourceNames: [a]}]\n- level: Request\n  resources: [{group: \"\", resources: [configmaps]}]\n";
    assert_eq!(unreachable(named), Vec::<usize>::new());
    let reversed = "- level: None\n  resources: [{group: \"\", resources: [configmaps]}]\n- level: Request\n  resources: [{group: \"\", resources: [configmaps], resourceNames: [a]}]\n";
    assert_eq!(unreachable(reversed), vec![2]);
}

#[test]
fn a_url_prefix_shadows_longer_urls_and_not_the_reverse() {
    let prefix_first = "- level: None\n  nonResourceURLs: [\"/healthz*\"]\n- level: Request\n  nonResourceURLs: [/healthz/etcd, \"/healthz/x*\"]\n";
    assert_eq!(unreachable(prefix_first), vec![2]);
    let exact_first =
        "- level: None\n  nonResourceURLs: [/healthz/etcd]\n- level: Request\n  nonResourceURLs: [\"/healthz*\"]\n";
    assert_eq!(unreachable(exact_first), Vec::<usize>::new());
}

#[test]
fn user_groups_shadow_when_the_earlier_rule_lists_every_group_of_the_later() {
    let wider_first = "- level: None\n  userGroups: [a, b]\n- level: Request\n  userGroups: [a]\n";
    assert_eq!(unreachable(wider_first), vec![2]);
    let narrower_first = "- level: None\n  userGroups: [a]\n- level: Request\n  userGroups: [a, b]\n";
    assert_eq!(unreachable(narrower_first), Vec::<usize>::new());
}

#[test]
fn verbs_and_users_split_coverage_across_rules() {
    let rules = "- level: None\n  verbs: [get]\n- level: None\n  verbs: [list]\n- level: Request\n  verbs: [get, list]\n  users: [jane]\n";
    assert_eq!(unreachable(rules), vec![3]);
    let partial = "- level: None\n  verbs: [get]\n- level: Request\n  verbs: [get, list]\n";
    assert_eq!(unreachable(partial), Vec::<usize>::new());
}

#[test]
fn resource_rules_never_shadow_url_requests() {
    let rules =
        "- level: None\n  resources: [{group: \"\"}]\n  namespaces: [\"\"]\n- level: Request\n  users: [jane]\n";
    assert_eq!(unreachable(rules), Vec::<usize>::new());
    let all_urls_and_everything = "- level: None\n  nonResourceURLs: [\"*\"]\n- level: None\n  users: [jane]\n- level: Request\n  nonResourceURLs: [/metrics]\n  users: [jane]\n";
    assert_eq!(unreachable(all_urls_and_everything), vec![3]);
}

#[test]
fn secrets_configmaps_tokenreviews_and_tokens_logged_with_bodies_are_found() {
    let rules = "- level: RequestResponse\n";
    let au002: Vec<_> = lint(&policy(rules)).into_iter().filter(|f| f.id == "AU002").collect();
    let msgs: Vec<&str> = au002.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(au002.len(), 4, "{msgs:?}");
    for what in ["Secrets", "ConfigMaps", "TokenReviews", "serviceaccounts/token"] {
        assert!(msgs.iter().any(|m| m.contains(what)), "{what}: {msgs:?}");
    }
}

#[test]
fn sensitive_resources_at_metadata_first_are_not_found() {
    let rules = "- level: Metadata\n  resources:\n  - group: \"\"\n    resources: [secrets, configmaps, serviceaccounts/token]\n  - group: authentication.k8s.io\n    resources: [tokenreviews]\n- level: RequestResponse\n";
    assert!(!found(rules).iter().any(|(id, _)| *id == "AU002"), "{:?}", found(rules));
}

#[test]
fn a_body_level_reached_only_by_some_users_is_found_at_that_rule() {
    let rules = "- level: RequestResponse\n  users: [admin]\n  verbs: [get]\n- level: Metadata\n";
    let f = found(rules);
    assert!(f.contains(&("AU002", 1)), "{f:?}");
    assert!(!f.contains(&("AU002", 2)), "{f:?}");
}

#[test]
fn requests_no_rule_matches_mean_no_catch_all() {
    let rules = "- level: Metadata\n  resources: [{group: \"\"}]\n";
    let f = lint(&policy(rules)).into_iter().find(|f| f.id == "AU003").expect("AU003");
    assert!(f.message.contains("not logged"), "{}", f.message);
    assert!(!found(&format!("{rules}{CATCH_ALL}")).iter().any(|(id, _)| *id == "AU003"));
    // A final `level: None` is a catch-all too: the choice not to log is explicit.
    assert!(!found(&format!("{rules}- level: None\n")).iter().any(|(id, _)| *id == "AU003"));
}

#[test]
fn only_a_rule_without_conditions_catches_every_request() {
    let rules = "- level: None\n  verbs: [get]\n- level: Metadata\n  nonResourceURLs: [\"*\"]\n- level: Metadata\n  namespaces: [\"\"]\n";
    let f = found(rules);
    assert!(f.iter().any(|(id, _)| *id == "AU003"), "namespaced requests other than get fall through: {f:?}");
}
