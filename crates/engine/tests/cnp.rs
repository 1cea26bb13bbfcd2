//! ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2).
//!
//! Each test pins one rule of the upstream API (the `apis/v1alpha2` type
//! documentation, its CRD validation, and the conformance suite's scenarios) on a
//! small cluster in the conformance suite's image: namespaces `gryffindor`,
//! `slytherin` and `ravenclaw` (label `conformance-house`), a pod or two in each, and
//! [`NODES`]. The last tests pin how podwall orders
//! v1alpha2 against the v1alpha1 kinds, which upstream does not define.
mod common;

use common::{addr, allowed, cluster_str, compile_error, isolate, np_allow_all, NODES};
use podwall_engine::{evaluate, Decision, Packet};
use podwall_ir::{Action, Cluster, Direction, Protocol};
use podwall_load::InputError;

const UNIVERSE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: gryffindor, labels: {conformance-house: gryffindor}}
---
apiVersion: v1
kind: Namespace
metadata: {name: slytherin, labels: {conformance-house: slytherin}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ravenclaw, labels: {conformance-house: ravenclaw}}
---
apiVersion: v1
kind: Pod
metadata: {name: harry, namespace: gryffindor, labels: {conformance-house: gryffindor, app: harry}}
spec:
  containers:
    - name: harry
      image: agnhost
      ports: [{name: web, containerPort: 80, protocol: TCP}, {name: dns, containerPort: 53, protocol: UDP}]
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: hermione, namespace: gryffindor, labels: {conformance-house: gryffindor, app: hermione}}
spec:
  containers: [{name: c, image: agnhost}]
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: draco, namespace: slytherin, labels: {conformance-house: slytherin, app: draco}}
spec:
  containers:
    - name: draco
      image: agnhost
      ports: [{name: web, containerPort: 8080, protocol: TCP}, {name: sctp-port, containerPort: 9003, protocol: SCTP}]
status: {podIP: 10.0.2.1}
---
apiVersion: v1
kind: Pod
metadata: {name: luna, namespace: ravenclaw, labels: {conformance-house: ravenclaw, app: luna}}
spec:
  containers: [{name: c, image: agnhost}]
status: {podIP: 10.0.3.1}
"#;

fn with(docs: &[&str]) -> Cluster {
    let mut all = vec![UNIVERSE, NODES];
    all.extend_from_slice(docs);
    cluster_str(&all.join("\n---\n"))
}

fn error(policy: &str) -> InputError {
    compile_error(&format!("{UNIVERSE}\n---\n{NODES}\n---\n{policy}"))
}

fn tcp(c: &Cluster, from: &str, to: &str, port: u16) -> bool {
    allowed(c, from, to, Protocol::TCP, Some(port))
}

/// A ClusterNetworkPolicy: `tier`, `priority`, a subject and the rest of the spec.
fn cnp(name: &str, tier: &str, priority: i64, subject: &str, rest: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
         spec:\n  tier: {tier}\n  priority: {priority}\n  subject:\n    {subject}\n{rest}"
    )
}

/// Subject: every pod of one house.
fn house(h: &str) -> String {
    format!("namespaces: {{matchLabels: {{conformance-house: {h}}}}}")
}

/// One ingress rule from every pod of house `from`.
fn ingress_from(name: &str, action: &str, from: &str) -> String {
    format!(
        "  ingress:\n  - name: {name}\n    action: {action}\n    from:\n    - namespaces: {{matchLabels: {{conformance-house: {from}}}}}\n"
    )
}

/// One egress rule to every pod of house `to`.
fn egress_to(name: &str, action: &str, to: &str) -> String {
    format!(
        "  egress:\n  - name: {name}\n    action: {action}\n    to:\n    - namespaces: {{matchLabels: {{conformance-house: {to}}}}}\n"
    )
}

const DRACO_TO_HARRY: (&str, &str) = ("slytherin/draco", "gryffindor/harry");

fn draco_to_harry(c: &Cluster) -> bool {
    tcp(c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80)
}

fn ingress_decision(c: &Cluster, from: &str, to: &str, port: u16) -> Decision {
    let pkt = Packet {
        src: addr(c, from),
        dst: addr(c, to),
        protocol: Protocol::TCP,
        port: Some(port),
        icmp: None,
        http: None,
    };
    evaluate(c, &pkt).ingress.decision
}

/// The tier name and policy name of the rule that decided ingress.
fn ingress_decider(c: &Cluster, from: &str, to: &str, port: u16) -> (String, String, Action) {
    match ingress_decision(c, from, to, port) {
        Decision::Rule(r) => {
            let t = &c.policies.tiers()[r.tier];
            (t.name.clone(), t.policies[r.policy].name.clone(), r.action)
        }
        other => panic!("ingress decided by {other:?}, not a rule"),
    }
}

// ---- the three tiers: Admin, NetworkPolicy, Baseline ----

#[test]
fn admin_tier_accept_is_final_over_networkpolicy_isolation() {
    let isolated = with(&[&isolate("gryffindor", "Ingress")]);
    assert!(!draco_to_harry(&isolated));
    let c = with(&[
        &isolate("gryffindor", "Ingress"),
        &cnp("accept-slytherin", "Admin", 10, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
    ]);
    assert!(draco_to_harry(&c), "an Admin-tier Accept ends evaluation: the NetworkPolicy is never reached");
}

#[test]
fn admin_tier_deny_is_final_over_networkpolicy_allow() {
    // Conformance "Should Deny traffic from slytherin to gryffindor respecting admin CNP",
    // with the NetworkPolicy that allows it.
    let c = with(&[
        &np_allow_all("gryffindor", "Ingress"),
        &cnp(
            "pass-example",
            "Admin",
            10,
            &house("gryffindor"),
            &ingress_from("deny-all-ingress-from-slytherin", "Deny", "slytherin"),
        ),
    ]);
    assert!(!draco_to_harry(&c));
    assert!(tcp(&c, "ravenclaw/luna", "gryffindor/harry", 80), "other houses reach the NetworkPolicy, which allows");
    // "Should Deny traffic to slytherin from gryffindor respecting admin CNP".
    let c = with(&[
        &np_allow_all("gryffindor", "Egress"),
        &cnp(
            "pass-example",
            "Admin",
            10,
            &house("gryffindor"),
            &egress_to("deny-all-egress-to-slytherin", "Deny", "slytherin"),
        ),
    ]);
    assert!(!tcp(&c, "gryffindor/harry", "slytherin/draco", 8080));
    assert!(tcp(&c, "gryffindor/harry", "ravenclaw/luna", 8080));
}

#[test]
fn admin_tier_pass_defers_to_networkpolicy() {
    // Conformance "Should support a 'pass-ingress' policy for admin CNP and respect the
    // match for network policy": Pass, then a NetworkPolicy isolating gryffindor.
    let c = with(&[
        &isolate("gryffindor", "Ingress"),
        &cnp("pass-example", "Admin", 10, &house("gryffindor"), &ingress_from("pass", "Pass", "slytherin")),
        &cnp("accept-later", "Admin", 20, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
    ]);
    assert!(!draco_to_harry(&c), "Pass skips the rest of the Admin tier; the NetworkPolicy isolates");
}

#[test]
fn admin_tier_pass_reaches_baseline_tier_when_no_networkpolicy() {
    // Conformance "... and respect the match for baseline cluster network policy".
    let c = with(&[
        &cnp("pass-example", "Admin", 10, &house("gryffindor"), &ingress_from("pass", "Pass", "slytherin")),
        &cnp(
            "default",
            "Baseline",
            10,
            &house("gryffindor"),
            &ingress_from("deny-all-ingress-from-slytherin", "Deny", "slytherin"),
        ),
    ]);
    assert!(!draco_to_harry(&c));
    assert_eq!(ingress_decider(&c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80).1, "default");
}

#[test]
fn networkpolicy_overrides_baseline_tier() {
    // "Baseline tier is a cluster-wide policy that can be overridden by the
    // v1.NetworkPolicy": an allowing NetworkPolicy wins over a Baseline Deny ...
    let baseline = cnp("default", "Baseline", 10, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin"));
    let c = with(&[&np_allow_all("gryffindor", "Ingress"), &baseline]);
    assert!(draco_to_harry(&c));
    // ... and a NetworkPolicy's isolation hides a Baseline Accept: "v1.NetworkPolicy always
    // makes a final decision for selected pods".
    let accept = cnp("default", "Baseline", 10, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin"));
    let c = with(&[&isolate("gryffindor", "Ingress"), &accept]);
    assert!(!draco_to_harry(&c));
}

#[test]
fn baseline_tier_decides_pods_no_networkpolicy_selects() {
    let c = with(&[&cnp("default", "Baseline", 10, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin"))]);
    assert!(!draco_to_harry(&c));
    assert!(tcp(&c, "ravenclaw/luna", "gryffindor/harry", 80), "no rule matches: the default allows");
}

#[test]
fn baseline_tier_pass_skips_the_rest_of_the_tier_and_allows() {
    // v1alpha2 allows Pass in the Baseline tier: it skips the Baseline tier's remaining
    // rules; no tier follows, so the default (allow) applies.
    let c = with(&[
        &cnp("first", "Baseline", 1, &house("gryffindor"), &ingress_from("pass", "Pass", "slytherin")),
        &cnp("second", "Baseline", 2, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    assert!(draco_to_harry(&c));
    assert!(matches!(ingress_decision(&c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80), Decision::Passed));
}

#[test]
fn every_admin_rule_precedes_every_baseline_rule_whatever_the_priority() {
    // "All Admin tier rules have higher precedence than NetworkPolicy or Baseline tier rules."
    let c = with(&[
        &cnp("late-admin", "Admin", 1000, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
        &cnp("early-baseline", "Baseline", 0, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
    ]);
    assert!(!draco_to_harry(&c));
}

// ---- priority and rule order ----

#[test]
fn lower_priority_value_runs_first_within_a_tier() {
    for tier in ["Admin", "Baseline"] {
        let c = with(&[
            &cnp("b-deny", tier, 20, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
            &cnp("a-accept", tier, 5, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
        ]);
        assert!(draco_to_harry(&c), "{tier}: priority 5 runs before 20");
        let c = with(&[
            &cnp("b-deny", tier, 5, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
            &cnp("a-accept", tier, 20, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
        ]);
        assert!(!draco_to_harry(&c), "{tier}: priority 5 runs before 20");
    }
}

#[test]
fn same_priority_runs_by_name_with_a_warning() {
    // Upstream: "the implementation can apply any of the matching policies"; podwall
    // picks the name order and says so.
    let c = with(&[
        &cnp("zeta", "Admin", 7, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
        &cnp("alpha", "Admin", 7, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    assert!(!draco_to_harry(&c), "alpha runs before zeta");
    let warned: Vec<_> = c.warnings.iter().filter(|w| w.message.contains("shares priority 7")).collect();
    assert_eq!(warned.len(), 2, "{:?}", c.warnings);
    // The same priority in the two tiers is no tie.
    let c = with(&[
        &cnp("zeta", "Admin", 7, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
        &cnp("alpha", "Baseline", 7, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    assert!(c.warnings.iter().all(|w| !w.message.contains("shares priority")), "{:?}", c.warnings);
}

#[test]
fn rules_run_in_written_order() {
    let rules = r#"  ingress:
  - name: accept-draco
    action: Accept
    from:
    - pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: draco}}}
  - name: deny-slytherin
    action: Deny
    from:
    - namespaces: {matchLabels: {conformance-house: slytherin}}
"#;
    let c = with(&[&isolate("gryffindor", "Ingress"), &cnp("ordered", "Admin", 1, &house("gryffindor"), rules)]);
    assert!(draco_to_harry(&c), "the first matching rule decides");
    let (_, _, action) = ingress_decider(&c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80);
    assert_eq!(action, Action::Allow);
}

#[test]
fn rule_names_are_kept_for_explanations() {
    let c =
        with(&[&cnp("named", "Admin", 1, &house("gryffindor"), &ingress_from("deny-slytherin", "Deny", "slytherin"))]);
    let Decision::Rule(r) = ingress_decision(&c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80) else {
        panic!("a rule decides")
    };
    let policy = &c.policies.tiers()[r.tier].policies[r.policy];
    assert_eq!(policy.kind.to_string(), "ClusterNetworkPolicy");
    let rule = &policy.rules(Direction::Ingress).expect("ingress rules")[r.rule];
    assert_eq!(rule.name.as_deref(), Some("deny-slytherin"));
}

// ---- subjects and peers ----

#[test]
fn subject_pods_select_by_namespace_and_pod_labels() {
    let subject = "pods: {namespaceSelector: {matchLabels: {conformance-house: gryffindor}}, podSelector: {matchLabels: {app: harry}}}";
    let c = with(&[&cnp("harry-only", "Admin", 1, subject, &ingress_from("deny", "Deny", "slytherin"))]);
    assert!(!draco_to_harry(&c));
    assert!(tcp(&c, "slytherin/draco", "gryffindor/hermione", 80), "hermione is not a subject");
}

#[test]
fn no_rules_in_a_direction_leave_it_unaffected() {
    // "CNPs with no egress rules do not affect egress traffic."
    let c = with(&[
        &isolate("slytherin", "Egress"),
        &cnp("ingress-only", "Admin", 1, &house("slytherin"), &ingress_from("accept", "Accept", "gryffindor")),
    ]);
    assert!(!draco_to_harry(&c), "the NetworkPolicy still isolates draco's egress");
}

#[test]
fn networks_match_pod_addresses_and_outside_addresses() {
    // "cluster-internal traffic will be checked against the rule as well".
    let rest =
        "  egress:\n  - name: deny-net\n    action: Deny\n    to:\n    - networks: [10.0.1.0/24, 203.0.113.0/24]\n";
    let c = with(&[&cnp("deny-net", "Admin", 1, &house("slytherin"), rest)]);
    assert!(!draco_to_harry(&c), "harry's address is in 10.0.1.0/24");
    assert!(!tcp(&c, "slytherin/draco", "203.0.113.9", 443));
    assert!(tcp(&c, "slytherin/draco", "198.51.100.1", 443));
    assert!(tcp(&c, "slytherin/draco", "ravenclaw/luna", 80));
}

#[test]
fn nodes_peer_matches_node_addresses() {
    let rest =
        "  egress:\n  - name: deny-workers\n    action: Deny\n    to:\n    - nodes: {matchLabels: {role: worker}}\n";
    let c = with(&[&cnp("deny-workers", "Admin", 1, &house("slytherin"), rest)]);
    assert!(!tcp(&c, "slytherin/draco", "192.168.0.1", 10250), "node-1's address");
    assert!(!tcp(&c, "slytherin/draco", "kube-system/agent", 10250), "a host-network pod has its node's address");
    assert!(tcp(&c, "slytherin/draco", "192.168.0.2", 10250), "node-2 is no worker");
}

#[test]
fn host_network_pods_are_never_subjects_nor_pod_peers() {
    let all = "namespaces: {}";
    let c =
        with(&[&cnp("deny-all", "Admin", 1, all, "  ingress:\n  - action: Deny\n    from:\n    - namespaces: {}\n")]);
    assert!(tcp(&c, "slytherin/draco", "kube-system/agent", 80), "the host-network pod is not a subject");
    assert!(tcp(&c, "kube-system/agent", "gryffindor/harry", 80), "a namespaces peer never matches a host-network pod");
    let rest = "  egress:\n  - action: Deny\n    to:\n    - namespaces: {}\n";
    let c = with(&[&cnp("deny-all-egress", "Admin", 1, &house("slytherin"), rest)]);
    assert!(tcp(&c, "slytherin/draco", "kube-system/agent", 80), "a namespaces peer never matches a host-network pod");
    assert!(!draco_to_harry(&c));
}

#[test]
fn domain_names_match_nothing_and_are_warned_about() {
    let rest = "  egress:\n  - name: accept-k8s\n    action: Accept\n    to:\n    - domainNames: [kubernetes.io, \"*.kubernetes.io\"]\n  - name: deny-rest\n    action: Deny\n    to:\n    - networks: [0.0.0.0/0]\n";
    let c = with(&[&cnp("fqdn", "Baseline", 1, &house("slytherin"), rest)]);
    assert!(!tcp(&c, "slytherin/draco", "203.0.113.9", 443), "no address is known to be a domain's");
    assert!(c.warnings.iter().any(|w| w.message.contains("domainNames")), "{:?}", c.warnings);
    // Deny with domainNames: upstream supports them in Accept rules only.
    let rest = "  egress:\n  - action: Deny\n    to:\n    - domainNames: [example.com]\n";
    let c = with(&[&cnp("fqdn-deny", "Admin", 1, &house("slytherin"), rest)]);
    assert!(c.warnings.iter().any(|w| w.message.contains("only in Accept rules")), "{:?}", c.warnings);
}

// ---- protocols ----

#[test]
fn protocols_match_destination_port_numbers_and_inclusive_ranges() {
    let rest = r#"  ingress:
  - name: deny-some
    action: Deny
    from:
    - namespaces: {}
    protocols:
    - tcp: {destinationPort: {number: 80}}
    - udp: {destinationPort: {range: {start: 50, end: 53}}}
    - sctp: {destinationPort: {number: 9003}}
"#;
    let c = with(&[&cnp("ports", "Admin", 1, &house("gryffindor"), rest)]);
    assert!(!draco_to_harry(&c));
    assert!(tcp(&c, "slytherin/draco", "gryffindor/harry", 81));
    assert!(!allowed(&c, "slytherin/draco", "gryffindor/harry", Protocol::UDP, Some(53)), "the range is inclusive");
    assert!(!allowed(&c, "slytherin/draco", "gryffindor/harry", Protocol::UDP, Some(50)));
    assert!(allowed(&c, "slytherin/draco", "gryffindor/harry", Protocol::UDP, Some(54)));
    assert!(allowed(&c, "slytherin/draco", "gryffindor/harry", Protocol::UDP, Some(80)), "tcp 80 is not udp 80");
    assert!(!allowed(&c, "slytherin/draco", "gryffindor/harry", Protocol::SCTP, Some(9003)));
}

#[test]
fn without_protocols_every_protocol_and_port_matches() {
    let c = with(&[&cnp("all", "Admin", 1, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin"))]);
    for (proto, port) in [(Protocol::TCP, 1), (Protocol::UDP, 53), (Protocol::SCTP, 9003)] {
        assert!(!allowed(&c, "slytherin/draco", "gryffindor/harry", proto, Some(port)), "{proto}/{port}");
    }
}

#[test]
fn destination_named_port_resolves_on_the_destination_pod() {
    // Ingress: the destination is the subject (harry: web = TCP 80).
    let rest = "  ingress:\n  - action: Deny\n    from:\n    - namespaces: {}\n    protocols:\n    - destinationNamedPort: web\n";
    let c = with(&[&cnp("named-in", "Admin", 1, &house("gryffindor"), rest)]);
    assert!(!draco_to_harry(&c));
    assert!(tcp(&c, "slytherin/draco", "gryffindor/harry", 8080));
    // Egress: the destination is the peer (draco: web = TCP 8080, sctp-port = SCTP 9003).
    let rest = "  egress:\n  - action: Deny\n    to:\n    - namespaces: {}\n    protocols:\n    - destinationNamedPort: web\n    - destinationNamedPort: sctp-port\n";
    let c = with(&[&cnp("named-out", "Admin", 1, &house("gryffindor"), rest)]);
    assert!(!tcp(&c, "gryffindor/harry", "slytherin/draco", 8080));
    assert!(tcp(&c, "gryffindor/harry", "slytherin/draco", 80));
    assert!(!allowed(&c, "gryffindor/harry", "slytherin/draco", Protocol::SCTP, Some(9003)));
    assert!(allowed(&c, "gryffindor/harry", "slytherin/draco", Protocol::TCP, Some(9003)), "the port's own protocol");
    assert!(tcp(&c, "gryffindor/harry", "ravenclaw/luna", 8080), "luna has no port named web");
}

// ---- with the v1alpha1 kinds ----

fn anp(name: &str, priority: i64, action: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: {name}}}\n\
         spec:\n  priority: {priority}\n  subject:\n    {}\n  ingress:\n  - name: v1alpha1-{action}\n    action: {action}\n    from:\n    - namespaces: {{matchLabels: {{conformance-house: slytherin}}}}\n",
        house("gryffindor")
    )
}

fn banp(action: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {{name: default}}\n\
         spec:\n  subject:\n    {}\n  ingress:\n  - action: {action}\n    from:\n    - namespaces: {{matchLabels: {{conformance-house: slytherin}}}}\n",
        house("gryffindor")
    )
}

#[test]
fn tiers_nest_admin_anp_networkpolicy_banp_baseline() {
    let c = with(&[
        &np_allow_all("gryffindor", "Egress"),
        &anp("v1", 1, "Allow"),
        &banp("Deny"),
        &cnp("a", "Admin", 1, &house("gryffindor"), &ingress_from("x", "Pass", "slytherin")),
        &cnp("b", "Baseline", 1, &house("gryffindor"), &ingress_from("x", "Deny", "slytherin")),
    ]);
    let names: Vec<&str> = c.policies.tiers().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            podwall_dialects::CNP_ADMIN_TIER,
            podwall_dialects::ADMIN_TIER,
            podwall_dialects::DEFAULT_TIER,
            podwall_dialects::BASELINE_TIER,
            podwall_dialects::CNP_BASELINE_TIER
        ]
    );
}

#[test]
fn cnp_admin_tier_runs_before_admin_network_policies() {
    // A v1alpha2 Admin rule at the lowest precedence still beats a v1alpha1 ANP at the highest.
    let c = with(&[
        &anp("v1-allow", 0, "Allow"),
        &cnp("v2-deny", "Admin", 1000, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    assert!(!draco_to_harry(&c));
    assert_eq!(ingress_decider(&c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80).0, podwall_dialects::CNP_ADMIN_TIER);
}

#[test]
fn cnp_admin_pass_reaches_admin_network_policies_before_networkpolicy() {
    let c = with(&[
        &np_allow_all("gryffindor", "Ingress"),
        &anp("v1-deny", 5, "Deny"),
        &cnp("v2-pass", "Admin", 1, &house("gryffindor"), &ingress_from("pass", "Pass", "slytherin")),
    ]);
    assert!(!draco_to_harry(&c), "the ANP tier is the next tier after the v1alpha2 Admin tier");
    assert_eq!(ingress_decider(&c, DRACO_TO_HARRY.0, DRACO_TO_HARRY.1, 80).1, "v1-deny");
}

#[test]
fn baseline_admin_network_policy_runs_before_the_cnp_baseline_tier() {
    let c = with(&[
        &banp("Allow"),
        &cnp("v2-deny", "Baseline", 0, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    assert!(draco_to_harry(&c), "the BANP decides first");
    let c = with(&[
        &banp("Deny"),
        &cnp("v2-accept", "Baseline", 0, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
    ]);
    assert!(!draco_to_harry(&c));
    // A v1alpha2 Baseline Pass does not return to the BANP: it is already behind.
    let c = with(&[
        &cnp("v2-pass", "Baseline", 0, &house("gryffindor"), &ingress_from("pass", "Pass", "slytherin")),
        &cnp("v2-deny", "Baseline", 1, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    assert!(draco_to_harry(&c));
}

#[test]
fn a_cnp_and_an_anp_may_share_a_name() {
    // Different kinds: two objects, two policies.
    let c = with(&[
        &anp("same", 1, "Deny"),
        &cnp("same", "Baseline", 1, &house("gryffindor"), &ingress_from("accept", "Accept", "slytherin")),
    ]);
    assert_eq!(c.policies.policies().filter(|(_, p)| p.name == "same").count(), 2);
    assert!(c.warnings.iter().all(|w| !w.message.contains("given 2 times")), "{:?}", c.warnings);
}

#[test]
fn a_second_declaration_replaces_the_first_even_in_another_tier() {
    let c = with(&[
        &cnp("twice", "Admin", 1, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
        &cnp("twice", "Baseline", 1, &house("gryffindor"), &ingress_from("deny", "Deny", "slytherin")),
    ]);
    let found: Vec<_> = c.policies.policies().filter(|(_, p)| p.name == "twice").collect();
    assert_eq!(found.len(), 1);
    assert_eq!(c.policies.tiers()[found[0].0].name, podwall_dialects::CNP_BASELINE_TIER);
    assert!(c.warnings.iter().any(|w| w.message.contains("given 2 times")), "{:?}", c.warnings);
}

// ---- what the API server's validation rejects ----

#[track_caller]
fn rejects(policy: &str, field: &str, words: &str) {
    let e = error(policy);
    assert_eq!(e.object.as_deref(), Some("ClusterNetworkPolicy bad"), "{e}");
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert!(e.message.contains(words), "{e}");
}

fn bad(tier: &str, priority: i64, rest: &str) -> String {
    cnp("bad", tier, priority, &house("gryffindor"), rest)
}

#[test]
fn priority_must_be_0_to_1000() {
    let ok = ingress_from("r", "Deny", "slytherin");
    rejects(&bad("Admin", 1001, &ok), "spec.priority", "out of range 0-1000");
    rejects(&bad("Baseline", -1, &ok), "spec.priority", "out of range 0-1000");
    let c = with(&[&bad("Admin", 0, &ok), &cnp("top", "Admin", 1000, &house("ravenclaw"), &ok)]);
    assert_eq!(c.policies.policies().count(), 2, "0 and 1000 are valid");
    let missing = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: bad}\nspec:\n  tier: Admin\n  subject: {namespaces: {}}\n";
    rejects(missing, "spec.priority", "needs a priority");
}

#[test]
fn tier_must_be_admin_or_baseline() {
    let ok = ingress_from("r", "Deny", "slytherin");
    rejects(&bad("admin", 1, &ok), "spec.tier", "expected Admin or Baseline");
    rejects(&bad("NetworkPolicy", 1, &ok), "spec.tier", "expected Admin or Baseline");
    let missing = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: bad}\nspec:\n  priority: 1\n  subject: {namespaces: {}}\n";
    rejects(missing, "spec.tier", "needs a tier");
}

#[test]
fn actions_are_accept_deny_pass() {
    rejects(&bad("Admin", 1, &ingress_from("r", "Allow", "slytherin")), "spec.ingress[0].action", "Accept");
    rejects(&bad("Admin", 1, &ingress_from("r", "accept", "slytherin")), "spec.ingress[0].action", "unknown action");
    // Pass is valid in both tiers.
    with(&[&bad("Baseline", 1, &ingress_from("r", "Pass", "slytherin"))]);
}

#[test]
fn subject_is_required_and_sets_exactly_one_field() {
    let none = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: bad}\nspec:\n  tier: Admin\n  priority: 1\n";
    rejects(none, "spec.subject", "needs a subject");
    let both = cnp("bad", "Admin", 1, "namespaces: {}\n    pods: {podSelector: {}}", "");
    rejects(&both, "spec.subject", "only one");
    rejects(&cnp("bad", "Admin", 1, "{}", ""), "spec.subject", "sets neither");
}

#[test]
fn a_rule_needs_at_least_one_peer() {
    rejects(
        &bad("Admin", 1, "  ingress:\n  - action: Deny\n    from: []\n"),
        "spec.ingress[0].from",
        "at least one peer",
    );
    rejects(&bad("Admin", 1, "  egress:\n  - action: Deny\n"), "spec.egress[0].to", "at least one peer");
    rejects(&bad("Admin", 1, "  ingress:\n  - action: Deny\n    from: [{}]\n"), "spec.ingress[0].from[0]", "sets none");
}

#[test]
fn ingress_peers_are_namespaces_or_pods_only() {
    let rest = "  ingress:\n  - action: Deny\n    from:\n    - networks: [10.0.0.0/8]\n";
    rejects(&bad("Admin", 1, rest), "spec.ingress[0].from[0].networks", "only allowed in egress");
    let rest = "  ingress:\n  - action: Deny\n    to:\n    - namespaces: {}\n";
    rejects(&bad("Admin", 1, rest), "spec.ingress[0].to", "take `from`");
}

#[test]
fn invalid_networks_are_errors() {
    let rest = "  egress:\n  - action: Deny\n    to:\n    - networks: [10.0.0.0/33]\n";
    rejects(&bad("Admin", 1, rest), "spec.egress[0].to[0].networks[0]", "invalid CIDR");
    let rest = "  egress:\n  - action: Deny\n    to:\n    - networks: []\n";
    rejects(&bad("Admin", 1, rest), "spec.egress[0].to[0].networks", "at least one CIDR");
}

#[test]
fn protocol_entries_are_validated_like_the_crd() {
    let rule = |protocols: &str| {
        format!("  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    protocols: {protocols}\n")
    };
    let f = "spec.ingress[0].protocols";
    rejects(&bad("Admin", 1, &rule("[]")), f, "at least one entry");
    rejects(&bad("Admin", 1, &rule("[{}]")), &format!("{f}[0]"), "sets none");
    rejects(
        &bad("Admin", 1, &rule("[{tcp: {destinationPort: {number: 80}}, destinationNamedPort: web}]")),
        &format!("{f}[0]"),
        "only one",
    );
    rejects(&bad("Admin", 1, &rule("[{tcp: {}}]")), &format!("{f}[0].tcp.destinationPort"), "required");
    rejects(
        &bad("Admin", 1, &rule("[{udp: {destinationPort: {}}}]")),
        &format!("{f}[0].udp.destinationPort"),
        "neither",
    );
    rejects(
        &bad("Admin", 1, &rule("[{tcp: {destinationPort: {number: 0}}}]")),
        &format!("{f}[0].tcp.destinationPort.number"),
        "",
    );
    rejects(
        &bad("Admin", 1, &rule("[{tcp: {destinationPort: {number: 65536}}}]")),
        &format!("{f}[0].tcp.destinationPort.number"),
        "",
    );
    // "Start port must be less than End port": equal is rejected too.
    rejects(
        &bad("Admin", 1, &rule("[{sctp: {destinationPort: {range: {start: 90, end: 90}}}}]")),
        &format!("{f}[0].sctp.destinationPort.range"),
        "less than end",
    );
    rejects(
        &bad("Admin", 1, &rule("[{tcp: {destinationPort: {range: {start: 90}}}}]")),
        &format!("{f}[0].tcp.destinationPort.range.end"),
        "required",
    );
}

#[test]
fn destination_named_port_with_address_peers_is_an_error() {
    for peer in ["networks: [10.0.0.0/8]", "nodes: {}", "domainNames: [example.com]"] {
        let rest = format!(
            "  egress:\n  - action: Accept\n    to:\n    - {peer}\n    protocols:\n    - destinationNamedPort: web\n"
        );
        rejects(&bad("Admin", 1, &rest), "spec.egress[0]", "destinationNamedPort cannot be combined");
    }
}

#[test]
fn crd_limits_on_rules_peers_and_names() {
    let one = "  - action: Deny\n    from: [{namespaces: {}}]\n";
    let many = format!("  ingress:\n{}", one.repeat(26));
    rejects(&bad("Admin", 1, &many), "spec.ingress", "at most 25");
    with(&[&bad("Admin", 1, &format!("  ingress:\n{}", one.repeat(25)))]);
    let long =
        format!("  ingress:\n  - name: {}\n    action: Deny\n    from: [{{namespaces: {{}}}}]\n", "n".repeat(101));
    rejects(&bad("Admin", 1, &long), "spec.ingress[0].name", "at most 100");
}

#[test]
fn misspelt_and_v1alpha1_fields_are_errors_naming_the_field() {
    // v1alpha1's `ports` does not exist in v1alpha2.
    let text = format!(
        "{UNIVERSE}\n---\n{}",
        bad(
            "Admin",
            1,
            "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    ports: [{portNumber: {port: 80}}]\n"
        )
    );
    let e = podwall_load::load_str("test.yaml", &text).expect_err("unknown field");
    assert_eq!(e.object.as_deref(), Some("ClusterNetworkPolicy bad"), "{e}");
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].ports"), "{e}");
    assert!(e.message.contains("ports"), "{e}");
    let text = format!("{UNIVERSE}\n---\n{}", bad("Admin", 1, "  ingres: []\n"));
    let e = podwall_load::load_str("test.yaml", &text).expect_err("unknown field");
    assert!(e.message.contains("ingres"), "{e}");
}

// ---- loading ----

#[test]
fn cluster_network_policies_are_cluster_scoped_and_kept_for_check() {
    let text = format!("{UNIVERSE}\n---\n{}", bad("Admin", 1, &ingress_from("r", "Deny", "slytherin")));
    let input = podwall_load::load_str("test.yaml", &text).expect("load");
    let obj = input.objects.iter().find(|o| o.kind == "ClusterNetworkPolicy").expect("the object");
    assert_eq!(obj.namespace, None);
    let keep = podwall_dialects::Relevance::between(&["gryffindor/harry", "slytherin/draco"]).expect("names");
    let key = podwall_load::Key {
        group: "policy.networking.k8s.io",
        kind: "ClusterNetworkPolicy",
        namespace: None,
        name: "bad",
    };
    assert!(keep.keeps(&key));
    let file = std::env::temp_dir().join(format!("podwall-cnp-relevance-{}.yaml", std::process::id()));
    std::fs::write(&file, &text).expect("write");
    let partial = podwall_load::load_paths_where(&[&file], &|k| keep.keeps(k));
    std::fs::remove_file(&file).ok();
    let partial = podwall_dialects::compile(&partial.expect("load")).expect("compile");
    assert!(!draco_to_harry(&partial), "the policy is loaded for a pair it bears on");
}
