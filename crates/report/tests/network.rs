//! Each network check `NP0xx` pinned by a fixture written from the upstream semantics
//! (Kubernetes NetworkPolicy, Calico v3, AdminNetworkPolicy): one case where the finding
//! appears, on its object with its file and line, and a near miss where it must not.
use std::sync::Arc;

use podwall_engine::Index;
use podwall_findings::{Finding, Origin};

const FILE: &str = "np.yaml";

/// Two namespaces with a web pod, a database and the cluster DNS.
const BASE: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  containers:
    - name: web
      image: web:1
      ports:
        - name: http
          containerPort: 80
status:
  podIP: 10.0.1.10
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: shop
  labels:
    app: db
spec:
  containers:
    - name: db
      image: db:1
      ports:
        - name: pg
          containerPort: 5432
status:
  podIP: 10.0.1.20
---
apiVersion: v1
kind: Pod
metadata:
  name: coredns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  containers:
    - name: coredns
      image: coredns:1
      ports:
        - name: dns
          containerPort: 53
          protocol: UDP
        - name: dns-tcp
          containerPort: 53
          protocol: TCP
status:
  podIP: 10.0.3.10
"#;

/// The base cluster and `extra` documents, as one file.
fn fixture(extra: &str) -> String {
    format!("{BASE}---\n{}", extra.trim_start_matches('\n'))
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

/// The line the document of object `name` of `kind` starts on (its first line with content).
fn line_of(text: &str, kind: &str, name: &str) -> usize {
    let mut start = 1;
    let mut doc: Vec<&str> = vec![];
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().chain(std::iter::once(&"---")).enumerate() {
        if *l == "---" {
            let named = doc.iter().any(|d| d.trim() == format!("name: {name}"));
            if named && doc.iter().any(|d| d.trim() == format!("kind: {kind}")) {
                let lead = doc.iter().take_while(|d| d.trim().is_empty() || d.trim_start().starts_with('#')).count();
                return start + lead;
            }
            start = i + 2;
            doc.clear();
        } else {
            doc.push(l);
        }
    }
    panic!("no {kind} {name} in the fixture")
}

/// The one finding `id` about `about`, checked to carry the object's file and line.
fn found<'a>(fs: &'a [Finding], text: &str, id: &str, kind: &str, about: &str) -> &'a Finding {
    let hits: Vec<&Finding> = with_id(fs, id).into_iter().filter(|f| f.about().as_deref() == Some(about)).collect();
    assert_eq!(hits.len(), 1, "{id} on {about:?} once: {fs:#?}");
    let name = about.rsplit(['/', ' ']).next().unwrap();
    assert_eq!(hits[0].origin, Some(Origin::file(FILE, line_of(text, kind, name))), "{id}: {:?}", hits[0]);
    hits[0]
}

fn absent(fs: &[Finding], id: &str) {
    assert!(with_id(fs, id).is_empty(), "{id} must not appear: {:#?}", with_id(fs, id));
}

const DENY_ALL_SHOP: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"#;

// NP001 ---------------------------------------------------------------------------------

#[test]
fn np001_a_pod_no_policy_selects_is_open_both_ways() {
    let text = fixture("");
    let fs = network(&text);
    found(&fs, &text, "NP001", "Pod", "shop/web");
}

#[test]
fn np001_a_pod_isolated_for_egress_only_is_not_open_both_ways() {
    // policyTypes [Egress] isolates for egress only; ingress stays open, which is not NP001.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
"#,
    );
    let fs = network(&text);
    assert!(with_id(&fs, "NP001").iter().all(|f| f.about().as_deref() != Some("shop/web")), "{fs:#?}");
    found(&fs, &text, "NP001", "Pod", "shop/db");
}

// NP002 ---------------------------------------------------------------------------------

#[test]
fn np002_a_namespace_whose_policies_select_only_labelled_pods_has_no_default_deny() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-only
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
"#,
    );
    let fs = network(&text);
    let hits: Vec<_> =
        with_id(&fs, "NP002").into_iter().filter(|f| f.about().as_deref() == Some("Namespace shop")).collect();
    assert_eq!(hits.len(), 1, "{fs:#?}");
}

#[test]
fn np002_an_empty_pod_selector_without_policy_types_is_a_default_deny_for_ingress() {
    // No policyTypes: Ingress is always included, so {} isolates every new pod for ingress.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny
  namespace: shop
spec:
  podSelector: {}
"#,
    );
    let fs = network(&text);
    assert!(with_id(&fs, "NP002").iter().all(|f| f.about().as_deref() != Some("Namespace shop")), "{fs:#?}");
}

// NP003 ---------------------------------------------------------------------------------

#[test]
fn np003_egress_isolation_that_admits_only_tcp_53_leaves_pods_without_dns() {
    // DNS is UDP first: an egress allowance on TCP/53 alone does not keep name resolution.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egress-tcp-dns
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
      ports:
        - protocol: TCP
          port: 53
"#,
    );
    let fs = network(&text);
    found(&fs, &text, "NP003", "Pod", "shop/web");
    assert_eq!(with_id(&fs, "NP003").len(), 1, "db is not isolated for egress: {fs:#?}");
}

#[test]
fn np003_an_egress_allowance_to_kube_dns_on_udp_53_keeps_dns() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egress-dns
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
"#,
    );
    absent(&network(&text), "NP003");
}

// NP004 ---------------------------------------------------------------------------------

#[test]
fn np004_a_policy_whose_pod_selector_matches_no_pod_of_its_namespace_selects_nothing() {
    // `app: db` exists, but in shop; a policy never selects pods of another namespace.
    let text = fixture(
        r#"
apiVersion: v1
kind: Namespace
metadata:
  name: other
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-elsewhere
  namespace: other
spec:
  podSelector:
    matchLabels:
      app: db
"#,
    );
    let fs = network(&text);
    found(&fs, &text, "NP004", "NetworkPolicy", "NetworkPolicy other/db-elsewhere");
}

#[test]
fn np004_a_policy_selecting_a_pod_by_match_expressions_selects_something() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: not-web
  namespace: shop
spec:
  podSelector:
    matchExpressions:
      - key: app
        operator: NotIn
        values: [web]
"#,
    );
    absent(&network(&text), "NP004");
}

// NP005 ---------------------------------------------------------------------------------

#[test]
fn np005_a_named_port_declared_with_another_protocol_matches_nothing() {
    // The name resolves on the destination pod, name and protocol both: db's "pg" is TCP.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - protocol: UDP
          port: pg
"#,
    );
    let fs = network(&text);
    let f = found(&fs, &text, "NP005", "NetworkPolicy", "NetworkPolicy shop/db-ingress");
    assert!(f.message.contains("pg"), "{f:?}");
}

#[test]
fn np005_a_named_port_the_selected_pod_declares_resolves() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: pg
"#,
    );
    absent(&network(&text), "NP005");
}

#[test]
fn np005_an_egress_named_port_resolves_on_the_peer_pods_not_the_local_ones() {
    // web declares "http", but on egress the name resolves on the destination (db).
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - podSelector:
            matchLabels:
              app: db
      ports:
        - port: http
"#,
    );
    let fs = network(&text);
    found(&fs, &text, "NP005", "NetworkPolicy", "NetworkPolicy shop/web-egress");
}

// NP006 ---------------------------------------------------------------------------------

#[test]
fn np006_a_rule_covered_by_an_earlier_broader_rule_of_its_policy_is_shadowed() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector: {}
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: 5432
"#,
    );
    let fs = network(&text);
    let f = found(&fs, &text, "NP006", "NetworkPolicy", "NetworkPolicy shop/db-ingress");
    assert!(f.message.starts_with("ingress rule 2"), "{f:?}");
}

#[test]
fn np006_a_narrower_rule_before_a_broader_one_shadows_nothing() {
    // The broad rule comes second: it still admits what the first does not.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: 5432
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
"#,
    );
    absent(&network(&text), "NP006");
}

#[test]
fn np006_a_rule_covered_by_an_earlier_policy_of_the_tier_for_every_pod_it_selects_is_shadowed() {
    // Both Kubernetes policies sit in the default tier at one order, by name: "a-..." first.
    // It selects every shop pod and admits all of shop; "b-..."'s rule never decides.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: a-namespace
  namespace: shop
spec:
  podSelector: {}
  ingress:
    - from:
        - podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: b-db
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
"#,
    );
    let fs = network(&text);
    let f = found(&fs, &text, "NP006", "NetworkPolicy", "NetworkPolicy shop/b-db");
    assert!(f.message.contains("a-namespace"), "names the covering policy: {f:?}");
}

#[test]
fn np006_an_earlier_policy_that_selects_fewer_pods_shadows_nothing() {
    // "a-web" covers the rule's peers but does not select db: "b-db" still decides for db.
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: a-web
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
    - from:
        - podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: b-db
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
"#,
    );
    absent(&network(&text), "NP006");
}

#[test]
fn np006_a_calico_deny_before_an_allow_in_the_same_tier_shadows_it() {
    // Calico policies of one tier run by order; the Deny at order 10 decides first.
    let text = fixture(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-web
spec:
  order: 10
  selector: all()
  types: [Ingress]
  ingress:
    - action: Deny
      source:
        selector: app == 'web'
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-web
  namespace: shop
spec:
  order: 20
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: app == 'web'
      destination:
        ports: [5432]
"#,
    );
    let fs = network(&text);
    let f = found(&fs, &text, "NP006", "NetworkPolicy", "Calico NetworkPolicy shop/allow-web");
    assert!(f.message.contains("Deny"), "{f:?}");
}

#[test]
fn np006_a_later_order_in_another_tier_is_not_shadowed_by_a_pass() {
    // The earlier policy sits in another tier: NP006 judges within one tier only, and a
    // Pass there leaves the later tier to decide.
    let text = fixture(
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: first
spec:
  order: 100
  defaultAction: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: first.pass-web
spec:
  tier: first
  order: 10
  selector: all()
  types: [Ingress]
  ingress:
    - action: Pass
      source:
        selector: app == 'web'
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-web
  namespace: shop
spec:
  order: 20
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Allow
      source:
        selector: app == 'web'
"#,
    );
    absent(&network(&text), "NP006");
}

// NP007 ---------------------------------------------------------------------------------

/// A tier at order 100 whose one policy selects every pod and ends in the tier's default.
fn tier_before(default_action: &str, action: &str) -> String {
    format!(
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: first
spec:
  order: 100
  defaultAction: {default_action}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: first.everything
spec:
  tier: first
  order: 10
  selector: all()
  types: [Ingress]
  ingress:
    - action: {action}
      source:
        selector: app == 'web'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
    - from:
        - podSelector: {{}}
"#
    )
}

#[test]
fn np007_a_policy_after_a_tier_that_ends_in_deny_with_no_pass_is_never_reached() {
    let text = fixture(&tier_before("Deny", "Allow"));
    let fs = network(&text);
    found(&fs, &text, "NP007", "NetworkPolicy", "NetworkPolicy shop/db-ingress");
}

#[test]
fn np007_a_pass_rule_in_the_earlier_tier_lets_the_policy_be_reached() {
    let text = fixture(&tier_before("Deny", "Pass"));
    absent(&network(&text), "NP007");
}

#[test]
fn np007_an_earlier_tier_whose_default_is_pass_lets_the_policy_be_reached() {
    let text = fixture(&tier_before("Pass", "Allow"));
    absent(&network(&text), "NP007");
}

// NP008 ---------------------------------------------------------------------------------

/// A kube-system pod serving on TCP 443, and a policy admitting `from` to it.
fn kube_system_ingress(from: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: metrics
  namespace: kube-system
  labels:
    k8s-app: metrics
spec:
  containers:
    - name: metrics
      image: metrics:1
      ports:
        - name: https
          containerPort: 443
status:
  podIP: 10.0.3.20
---
apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
---
apiVersion: v1
kind: Pod
metadata:
  name: prometheus
  namespace: monitoring
  labels:
    app: prometheus
spec:
  containers:
    - name: prometheus
      image: prometheus:1
status:
  podIP: 10.0.2.10
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: kube-system-ingress
  namespace: kube-system
spec:
  podSelector: {{}}
  ingress:
    - from:
{from}
"#
    )
}

#[test]
fn np008_a_kube_system_pod_every_namespace_reaches_is_reported() {
    let text = fixture(&kube_system_ingress("        - namespaceSelector: {}"));
    let fs = network(&text);
    let f = found(&fs, &text, "NP008", "Pod", "kube-system/metrics");
    assert!(f.message.contains("TCP/443"), "{f:?}");
    // The cluster DNS on UDP/TCP 53 is meant to be reached from everywhere.
    assert!(with_id(&fs, "NP008").iter().all(|f| f.about().as_deref() != Some("kube-system/coredns")), "{fs:#?}");
}

#[test]
fn np008_a_kube_system_pod_reached_from_one_namespace_only_is_not_reported() {
    // Only monitoring may connect: shop cannot, so not every namespace reaches it.
    let text = fixture(&kube_system_ingress(
        "        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: monitoring",
    ));
    absent(&network(&text), "NP008");
}

#[test]
fn np008_egress_isolation_of_one_namespace_is_judged_too() {
    // kube-system admits everyone, but shop's egress default deny keeps shop out.
    let text = fixture(&(kube_system_ingress("        - namespaceSelector: {}") + "---" + DENY_ALL_SHOP));
    absent(&network(&text), "NP008");
}

// NP009 ---------------------------------------------------------------------------------

#[test]
fn np009_an_egress_rule_to_0_0_0_0_slash_0_without_ports_allows_everything() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-out
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
"#,
    );
    let fs = network(&text);
    found(&fs, &text, "NP009", "NetworkPolicy", "NetworkPolicy shop/web-out");
}

#[test]
fn np009_an_egress_rule_to_0_0_0_0_slash_0_on_one_port_is_not_anywhere() {
    let text = fixture(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-out
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
            except: [10.0.0.0/8]
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
      ports:
        - port: 443
"#,
    );
    absent(&network(&text), "NP009");
}

// NP010 ---------------------------------------------------------------------------------

fn calico_rules(rules: &str) -> String {
    format!(
        r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: db-calico
  namespace: shop
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
{rules}
"#
    )
}

#[test]
fn np010_a_log_rule_last_in_its_policy_decides_nothing() {
    let text =
        fixture(&calico_rules("    - action: Allow\n      source:\n        selector: app == 'web'\n    - action: Log"));
    let fs = network(&text);
    let f = found(&fs, &text, "NP010", "NetworkPolicy", "Calico NetworkPolicy shop/db-calico");
    assert!(f.message.starts_with("ingress rule 2"), "{f:?}");
}

#[test]
fn np010_a_log_rule_followed_by_a_deny_is_not_log_only() {
    let text = fixture(&calico_rules("    - action: Log\n    - action: Deny"));
    absent(&network(&text), "NP010");
}

// NP011 ---------------------------------------------------------------------------------

#[test]
fn np011_a_calico_rule_with_an_http_match_is_enforced_at_layer_4() {
    let text = fixture(&calico_rules(
        "    - action: Allow\n      protocol: TCP\n      http:\n        methods: [GET]\n      destination:\n        ports: [5432]",
    ));
    let fs = network(&text);
    found(&fs, &text, "NP011", "NetworkPolicy", "Calico NetworkPolicy shop/db-calico");
}

#[test]
fn np011_the_same_rule_without_http_is_not_reported() {
    let text =
        fixture(&calico_rules("    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [5432]"));
    absent(&network(&text), "NP011");
}
