//! Each network check `NP0xx` pinned by a fixture written from the upstream semantics
//! (Kubernetes NetworkPolicy, Calico v3, AdminNetworkPolicy): one case where the finding
//! appears, on its object with its file and line, and a near miss where it must not.
//! Fixtures are YAML documents in flow style, one object a document.
use std::sync::Arc;

use podwall_engine::Index;
use podwall_findings::{Finding, Origin};

const FILE: &str = "np.yaml";

/// A Pod: its labels and container ports in flow style.
fn pod(ns: &str, name: &str, labels: &str, ports: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\n\
         spec: {{containers: [{{name: c, image: i, ports: {ports}}}]}}\nstatus: {{podIP: {ip}}}\n"
    )
}

/// A Kubernetes NetworkPolicy with `spec` in flow style.
fn np(ns: &str, name: &str, spec: &str) -> String {
    format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n")
}

/// A Calico object (`NetworkPolicy` in shop, `GlobalNetworkPolicy`, `Tier`).
fn calico(kind: &str, name: &str, spec: &str) -> String {
    let ns = if kind == "NetworkPolicy" { ", namespace: shop" } else { "" };
    format!("apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata: {{name: {name}{ns}}}\nspec: {spec}\n")
}

fn namespace(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
}

/// Two namespaces with a web pod, a database and the cluster DNS, and `extra`.
fn fixture(extra: &[String]) -> String {
    let mut docs = vec![
        namespace("shop"),
        namespace("kube-system"),
        pod("shop", "web", "{app: web}", "[{name: http, containerPort: 80}]", "10.0.1.10"),
        pod("shop", "db", "{app: db}", "[{name: pg, containerPort: 5432}]", "10.0.1.20"),
        pod(
            "kube-system",
            "coredns",
            "{k8s-app: kube-dns}",
            "[{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}]",
            "10.0.3.10",
        ),
    ];
    docs.extend(extra.iter().cloned());
    docs.join("---\n")
}

/// Every network finding of the text.
fn network(text: &str) -> Vec<Finding> {
    let mut input = podwall_load::load_str(FILE, text).expect("fixture loads");
    let cluster = Arc::new(podwall_dialects::compile_lenient(&mut input).expect("fixture compiles"));
    let index = Index::build(cluster.clone());
    podwall_report::network::findings(&cluster, &index)
}

fn with_id<'a>(fs: &'a [Finding], id: &str) -> Vec<&'a Finding> {
    fs.iter().filter(|f| f.id == id).collect()
}

fn about<'a>(fs: &'a [Finding], id: &str, about: &str) -> Vec<&'a Finding> {
    with_id(fs, id).into_iter().filter(|f| f.about().as_deref() == Some(about)).collect()
}

/// The line the document of object `name` of `kind` starts on.
fn line_of(text: &str, kind: &str, name: &str) -> usize {
    let mut line = 1;
    for doc in text.split("---\n") {
        if doc.contains(&format!("kind: {kind}\n"))
            && (doc.contains(&format!("{{name: {name},")) || doc.contains(&format!("{{name: {name}}}")))
        {
            return line;
        }
        line += doc.lines().count() + 1;
    }
    panic!("no {kind} {name} in the fixture")
}

/// The one finding `id` about `what`, checked to carry the object's file and line.
fn found<'a>(fs: &'a [Finding], text: &str, id: &str, kind: &str, what: &str) -> &'a Finding {
    let hits = about(fs, id, what);
    assert_eq!(hits.len(), 1, "{id} on {what:?} once: {fs:#?}");
    let name = what.rsplit(['/', ' ']).next().unwrap();
    assert_eq!(hits[0].origin, Some(Origin::file(FILE, line_of(text, kind, name))), "{id}: {:?}", hits[0]);
    hits[0]
}

fn absent(fs: &[Finding], id: &str) {
    assert!(with_id(fs, id).is_empty(), "{id} must not appear: {:#?}", with_id(fs, id));
}

/// Ingress to db from web on `ports` (flow style).
fn db_from_web(name: &str, ports: &str) -> String {
    np(
        "shop",
        name,
        &format!("{{podSelector: {{matchLabels: {{app: db}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: web}}}}}}], ports: {ports}}}]}}"),
    )
}

// NP001 ---------------------------------------------------------------------------------

#[test]
fn np001_a_pod_no_policy_selects_is_open_both_ways() {
    let text = fixture(&[]);
    found(&network(&text), &text, "NP001", "Pod", "shop/web");
}

#[test]
fn np001_a_pod_isolated_for_egress_only_is_not_open_both_ways() {
    // policyTypes [Egress] isolates for egress only; ingress stays open, which is not NP001.
    let text = fixture(&[np("shop", "web-egress", "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress]}")]);
    let fs = network(&text);
    assert!(about(&fs, "NP001", "shop/web").is_empty(), "{fs:#?}");
    found(&fs, &text, "NP001", "Pod", "shop/db");
}

// NP002 ---------------------------------------------------------------------------------

#[test]
fn np002_a_namespace_whose_policies_select_only_labelled_pods_has_no_default_deny() {
    let text = fixture(&[np("shop", "web-only", "{podSelector: {matchLabels: {app: web}}}")]);
    assert_eq!(about(&network(&text), "NP002", "Namespace shop").len(), 1);
}

#[test]
fn np002_an_empty_pod_selector_without_policy_types_is_a_default_deny_for_ingress() {
    // No policyTypes: Ingress is always included, so {} isolates every new pod for ingress.
    let text = fixture(&[np("shop", "deny", "{podSelector: {}}")]);
    assert!(about(&network(&text), "NP002", "Namespace shop").is_empty());
}

// NP003 ---------------------------------------------------------------------------------

#[test]
fn np003_egress_isolation_that_admits_only_tcp_53_leaves_pods_without_dns() {
    // DNS is UDP first: an egress allowance on TCP/53 alone does not keep name resolution.
    let text = fixture(&[np(
        "shop",
        "egress-tcp-dns",
        "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: \
         {matchLabels: {kubernetes.io/metadata.name: kube-system}}}], ports: [{protocol: TCP, port: 53}]}]}",
    )]);
    let fs = network(&text);
    found(&fs, &text, "NP003", "Pod", "shop/web");
    assert_eq!(with_id(&fs, "NP003").len(), 1, "db is not isolated for egress: {fs:#?}");
}

#[test]
fn np003_an_egress_allowance_to_kube_dns_on_udp_53_keeps_dns() {
    let text = fixture(&[np(
        "shop",
        "egress-dns",
        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}, podSelector: \
         {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}]}]}",
    )]);
    absent(&network(&text), "NP003");
}

// NP004 ---------------------------------------------------------------------------------

#[test]
fn np004_a_policy_whose_pod_selector_matches_no_pod_of_its_namespace_selects_nothing() {
    // `app: db` exists, but in shop; a policy never selects pods of another namespace.
    let text = fixture(&[namespace("other"), np("other", "db-elsewhere", "{podSelector: {matchLabels: {app: db}}}")]);
    found(&network(&text), &text, "NP004", "NetworkPolicy", "NetworkPolicy other/db-elsewhere");
}

#[test]
fn np004_a_policy_selecting_a_pod_by_match_expressions_selects_something() {
    let text = fixture(&[np(
        "shop",
        "not-web",
        "{podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}}",
    )]);
    absent(&network(&text), "NP004");
}

// NP005 ---------------------------------------------------------------------------------

#[test]
fn np005_a_named_port_declared_with_another_protocol_matches_nothing() {
    // The name resolves on the destination pod, name and protocol both: db's "pg" is TCP.
    let text = fixture(&[db_from_web("db-ingress", "[{protocol: UDP, port: pg}]")]);
    let fs = network(&text);
    let f = found(&fs, &text, "NP005", "NetworkPolicy", "NetworkPolicy shop/db-ingress");
    assert!(f.message.contains("pg"), "{f:?}");
}

#[test]
fn np005_a_named_port_the_selected_pod_declares_resolves() {
    let text = fixture(&[db_from_web("db-ingress", "[{port: pg}]")]);
    absent(&network(&text), "NP005");
}

#[test]
fn np005_an_egress_named_port_resolves_on_the_peer_pods_not_the_local_ones() {
    // web declares "http", but on egress the name resolves on the destination (db).
    let text = fixture(&[np(
        "shop",
        "web-egress",
        "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], \
         egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: http}]}]}",
    )]);
    found(&network(&text), &text, "NP005", "NetworkPolicy", "NetworkPolicy shop/web-egress");
}

// NP006 ---------------------------------------------------------------------------------

#[test]
fn np006_a_rule_covered_by_an_earlier_broader_rule_of_its_policy_is_shadowed() {
    let text = fixture(&[np(
        "shop",
        "db-ingress",
        "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {}}]}, \
         {from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]}",
    )]);
    let fs = network(&text);
    let f = found(&fs, &text, "NP006", "NetworkPolicy", "NetworkPolicy shop/db-ingress");
    assert!(f.message.starts_with("ingress rule 2"), "{f:?}");
}

#[test]
fn np006_a_narrower_rule_before_a_broader_one_shadows_nothing() {
    // The broad rule comes second: it still admits what the first does not.
    let text = fixture(&[np(
        "shop",
        "db-ingress",
        "{podSelector: {matchLabels: {app: db}}, ingress: [\
         {from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}, \
         {from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]}]}",
    )]);
    absent(&network(&text), "NP006");
}

/// "a-first" selecting `selects` and admitting every shop pod, then "b-db".
fn earlier_policy_then_db(selects: &str) -> String {
    fixture(&[
        np("shop", "a-first", &format!("{{podSelector: {selects}, ingress: [{{from: [{{podSelector: {{}}}}]}}]}}")),
        db_from_web("b-db", "[]"),
    ])
}

#[test]
fn np006_a_rule_covered_by_an_earlier_policy_of_the_tier_for_every_pod_it_selects_is_shadowed() {
    // Both Kubernetes policies sit in the default tier at one order, by name: "a-first"
    // runs first, selects every shop pod and admits all of shop; "b-db"'s rule never decides.
    let text = earlier_policy_then_db("{}");
    let fs = network(&text);
    let f = found(&fs, &text, "NP006", "NetworkPolicy", "NetworkPolicy shop/b-db");
    assert!(f.message.contains("a-first"), "names the covering policy: {f:?}");
}

#[test]
fn np006_an_earlier_policy_that_selects_fewer_pods_shadows_nothing() {
    // "a-first" covers the rule's peers but does not select db: "b-db" still decides for db.
    let text = earlier_policy_then_db("{matchLabels: {app: web}}");
    absent(&network(&text), "NP006");
}

/// A policy at order 10 of tier `tier` with `action` from web, then an Allow from web to db.
fn calico_before_allow(tier: &str, action: &str) -> String {
    let mut docs = vec![];
    let mut first = "deny-web".to_string();
    if tier != "default" {
        docs.push(calico("Tier", tier, "{order: 100, defaultAction: Pass}"));
        first = format!("{tier}.pass-web");
    }
    docs.push(calico(
        "GlobalNetworkPolicy",
        &first,
        &format!("{{tier: {tier}, order: 10, selector: all(), types: [Ingress], ingress: [{{action: {action}, source: {{selector: app == 'web'}}}}]}}"),
    ));
    docs.push(calico(
        "NetworkPolicy",
        "allow-web",
        "{order: 20, selector: app == 'db', types: [Ingress], ingress: [{action: Allow, protocol: TCP, \
         source: {selector: app == 'web'}, destination: {ports: [5432]}}]}",
    ));
    fixture(&docs)
}

#[test]
fn np006_a_calico_deny_before_an_allow_in_the_same_tier_shadows_it() {
    // Calico policies of one tier run by order; the Deny at order 10 decides first.
    let text = calico_before_allow("default", "Deny");
    let fs = network(&text);
    let f = found(&fs, &text, "NP006", "NetworkPolicy", "Calico NetworkPolicy shop/allow-web");
    assert!(f.message.contains("Deny"), "{f:?}");
}

#[test]
fn np006_a_pass_in_an_earlier_tier_shadows_nothing_in_the_next() {
    // The earlier policy sits in another tier: NP006 judges within one tier only, and a
    // Pass there leaves the later tier to decide.
    let text = calico_before_allow("first", "Pass");
    absent(&network(&text), "NP006");
}

// NP007 ---------------------------------------------------------------------------------

/// A tier at order 100 whose one policy selects every pod, then a NetworkPolicy for db.
fn tier_before(default_action: &str, action: &str) -> String {
    fixture(&[
        calico("Tier", "first", &format!("{{order: 100, defaultAction: {default_action}}}")),
        calico(
            "GlobalNetworkPolicy",
            "first.everything",
            &format!("{{tier: first, order: 10, selector: all(), types: [Ingress], ingress: [{{action: {action}, source: {{selector: app == 'web'}}}}]}}"),
        ),
        np("shop", "db-ingress", "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {}}]}]}"),
    ])
}

#[test]
fn np007_a_policy_after_a_tier_that_ends_in_deny_with_no_pass_is_never_reached() {
    let text = tier_before("Deny", "Allow");
    found(&network(&text), &text, "NP007", "NetworkPolicy", "NetworkPolicy shop/db-ingress");
}

#[test]
fn np007_a_pass_rule_in_the_earlier_tier_lets_the_policy_be_reached() {
    absent(&network(&tier_before("Deny", "Pass")), "NP007");
}

#[test]
fn np007_an_earlier_tier_whose_default_is_pass_lets_the_policy_be_reached() {
    absent(&network(&tier_before("Pass", "Allow")), "NP007");
}

// NP008 ---------------------------------------------------------------------------------

/// A kube-system pod serving on TCP 443, a monitoring namespace, a policy admitting
/// `from` to kube-system, and `extra`.
fn kube_system_ingress(from: &str, extra: &[String]) -> String {
    let mut docs = vec![
        pod("kube-system", "metrics", "{k8s-app: metrics}", "[{name: https, containerPort: 443}]", "10.0.3.20"),
        namespace("monitoring"),
        pod("monitoring", "prometheus", "{app: prometheus}", "[]", "10.0.2.10"),
        np("kube-system", "kube-system-ingress", &format!("{{podSelector: {{}}, ingress: [{{from: [{from}]}}]}}")),
    ];
    docs.extend(extra.iter().cloned());
    fixture(&docs)
}

#[test]
fn np008_a_kube_system_pod_every_namespace_reaches_is_reported() {
    let text = kube_system_ingress("{namespaceSelector: {}}", &[]);
    let fs = network(&text);
    let f = found(&fs, &text, "NP008", "Pod", "kube-system/metrics");
    assert!(f.message.contains("TCP/443"), "{f:?}");
    // The cluster DNS on UDP/TCP 53 is meant to be reached from everywhere.
    assert!(about(&fs, "NP008", "kube-system/coredns").is_empty(), "{fs:#?}");
}

#[test]
fn np008_a_kube_system_pod_reached_from_one_namespace_only_is_not_reported() {
    // Only monitoring may connect: shop cannot, so not every namespace reaches it.
    let text =
        kube_system_ingress("{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}", &[]);
    absent(&network(&text), "NP008");
}

#[test]
fn np008_egress_isolation_of_one_namespace_is_judged_too() {
    // kube-system admits everyone, but shop's egress default deny keeps shop out.
    let deny = np("shop", "default-deny", "{podSelector: {}, policyTypes: [Ingress, Egress]}");
    let text = kube_system_ingress("{namespaceSelector: {}}", &[deny]);
    absent(&network(&text), "NP008");
}

// NP009 ---------------------------------------------------------------------------------

fn web_egress(rules: &str) -> String {
    fixture(&[np(
        "shop",
        "web-out",
        &format!("{{podSelector: {{matchLabels: {{app: web}}}}, policyTypes: [Egress], egress: {rules}}}"),
    )])
}

#[test]
fn np009_an_egress_rule_to_0_0_0_0_slash_0_without_ports_allows_everything() {
    let text = web_egress("[{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]");
    found(&network(&text), &text, "NP009", "NetworkPolicy", "NetworkPolicy shop/web-out");
}

#[test]
fn np009_an_egress_rule_to_0_0_0_0_slash_0_on_one_port_is_not_anywhere() {
    let text = web_egress(
        "[{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]}, {to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 443}]}]",
    );
    absent(&network(&text), "NP009");
}

// NP010 ---------------------------------------------------------------------------------

fn calico_rules(rules: &str) -> String {
    fixture(&[calico(
        "NetworkPolicy",
        "db-calico",
        &format!("{{selector: app == 'db', types: [Ingress], ingress: {rules}}}"),
    )])
}

#[test]
fn np010_a_log_rule_last_in_its_policy_decides_nothing() {
    let text = calico_rules("[{action: Allow, source: {selector: app == 'web'}}, {action: Log}]");
    let fs = network(&text);
    let f = found(&fs, &text, "NP010", "NetworkPolicy", "Calico NetworkPolicy shop/db-calico");
    assert!(f.message.starts_with("ingress rule 2"), "{f:?}");
}

#[test]
fn np010_a_log_rule_followed_by_a_deny_is_not_log_only() {
    absent(&network(&calico_rules("[{action: Log}, {action: Deny}]")), "NP010");
}

// NP011 ---------------------------------------------------------------------------------

#[test]
fn np011_a_calico_rule_with_an_http_match_is_enforced_at_layer_4() {
    let text = calico_rules("[{action: Allow, protocol: TCP, http: {methods: [GET]}, destination: {ports: [5432]}}]");
    found(&network(&text), &text, "NP011", "NetworkPolicy", "Calico NetworkPolicy shop/db-calico");
}

#[test]
fn np011_the_same_rule_without_http_is_not_reported() {
    absent(&network(&calico_rules("[{action: Allow, protocol: TCP, destination: {ports: [5432]}}]")), "NP011");
}
