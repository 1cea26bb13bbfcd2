//! Calico v3 semantics (Tier, NetworkPolicy, GlobalNetworkPolicy, NetworkSet,
//! GlobalNetworkSet), one test per rule of `shared/specs/calico-anp.md` sections 0–7.
//!
//! Every expectation was written from the spec note and the Calico resource reference
//! (tiers, policy ordering, entity rules, network sets), not from podwall's output.
//! Each test builds a small cluster: namespaces `a` (team=a, env=prod) and `b` (team=b,
//! env=dev), a handful of pods with fixed IPs, and a host-network pod. `common::allowed`
//! judges each connection with the reference evaluator and, for pod pairs, cross-checks
//! the set-based matrix; explanations are read from `podwall_engine::evaluate`.
//!
//! Addresses: pods live in 10.0.0.0/16 (one IPv6 pod in fd00::/64); 203.0.113.0/24,
//! 198.51.100.0/24 and 192.0.2.0/24 are outside the cluster. No test depends on a pod's
//! connection to itself.
mod common;

use common::{addr, allowed, cluster_str};
use podwall_engine::{evaluate, Decision, DirectionVerdict, HttpRequest, Packet, RuleRef, Verdict};
use podwall_ir::{Cluster, Direction, PolicyKind, Protocol};
use podwall_load::InputError;

const TCP: Protocol = Protocol::TCP;
const UDP: Protocol = Protocol::UDP;
const SCTP: Protocol = Protocol::SCTP;
const ICMP: Protocol = Protocol::ICMP;

const ALLOW: bool = true;
const DENY: bool = false;

/// Outside the cluster.
const OUTSIDE: &str = "203.0.113.9";
/// Outside the cluster, another range.
const OUTSIDE2: &str = "198.51.100.7";
/// Outside the cluster, a third range.
const OUTSIDE3: &str = "192.0.2.7";

const UNIVERSE: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: b, env: dev}}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  serviceAccountName: web-sa
  containers:
    - name: web
      image: nginx
      ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        - {name: dns, containerPort: 53, protocol: UDP}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec:
  serviceAccountName: client-sa
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: a, labels: {app: tool, team: b}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.1.3}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: a, labels: {app: batch}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.1.4}
---
apiVersion: v1
kind: Pod
metadata: {name: v6, namespace: a, labels: {app: v6}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: "fd00::1:5"}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec:
  serviceAccountName: client-sa
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.2.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec:
  containers:
    - name: db
      image: postgres
      ports:
        - {name: http, containerPort: 9090, protocol: TCP}
status: {podIP: 10.0.2.2}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system, labels: {app: agent}}
spec:
  hostNetwork: true
  containers: [{name: agent, image: agent}]
status: {podIP: 192.168.0.1}
---
"#;

// ---- manifests ----

/// Strips the common indentation of `text` and indents every line by `by` spaces.
fn reindent(text: &str, by: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let min = lines.iter().map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let pad = " ".repeat(by);
    lines.iter().map(|l| format!("{pad}{}\n", &l[min..])).collect()
}

fn object(api: &str, kind: &str, meta: &str, spec: &str) -> String {
    let spec = if spec.trim().is_empty() { "spec: {}\n".to_string() } else { format!("spec:\n{}", reindent(spec, 2)) };
    format!("apiVersion: {api}\nkind: {kind}\nmetadata: {meta}\n{spec}---\n")
}

/// A Calico Tier.
fn tier(name: &str, spec: &str) -> String {
    object("projectcalico.org/v3", "Tier", &format!("{{name: {name}}}"), spec)
}

/// A Calico GlobalNetworkPolicy.
fn gnp(name: &str, spec: &str) -> String {
    object("projectcalico.org/v3", "GlobalNetworkPolicy", &format!("{{name: {name}}}"), spec)
}

/// A Calico NetworkPolicy in `ns`.
fn cnp(ns: &str, name: &str, spec: &str) -> String {
    object("projectcalico.org/v3", "NetworkPolicy", &format!("{{name: {name}, namespace: {ns}}}"), spec)
}

/// A Kubernetes NetworkPolicy in `ns`.
fn knp(ns: &str, name: &str, spec: &str) -> String {
    object("networking.k8s.io/v1", "NetworkPolicy", &format!("{{name: {name}, namespace: {ns}}}"), spec)
}

/// A GlobalNetworkSet with labels (a YAML flow mapping) and nets (a YAML flow sequence).
fn global_set(name: &str, labels: &str, nets: &str) -> String {
    object(
        "projectcalico.org/v3",
        "GlobalNetworkSet",
        &format!("{{name: {name}, labels: {labels}}}"),
        &format!("nets: {nets}"),
    )
}

/// A namespaced NetworkSet.
fn net_set(ns: &str, name: &str, labels: &str, nets: &str) -> String {
    object(
        "projectcalico.org/v3",
        "NetworkSet",
        &format!("{{name: {name}, namespace: {ns}, labels: {labels}}}"),
        &format!("nets: {nets}"),
    )
}

fn input(docs: &[String]) -> String {
    format!("{UNIVERSE}{}", docs.concat())
}

/// The universe plus `docs`, compiled.
fn with(docs: &[String]) -> Cluster {
    cluster_str(&input(docs))
}

/// The error loading or compiling the universe plus `docs` gives.
fn error(docs: &[String]) -> InputError {
    let result = podwall_load::load_str("test.yaml", &input(docs)).and_then(|i| podwall_dialects::compile(&i));
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

// ---- verdicts and explanations ----

/// Asserts a list of `(from, to, protocol, port, expected)` verdicts (the port is
/// ignored for protocols without ports), reporting all failures at once.
#[track_caller]
fn expect(c: &Cluster, cases: &[(&str, &str, Protocol, u16, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|&(from, to, proto, port, want)| {
            let port = proto.has_ports().then_some(port);
            let got = allowed(c, from, to, proto, port);
            (got != want).then(|| {
                format!(
                    "{from} -> {to} {proto}/{port:?}: expected {}, got {}",
                    if want { "allow" } else { "deny" },
                    if got { "allow" } else { "deny" }
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
}

fn packet(c: &Cluster, from: &str, to: &str, proto: Protocol, port: Option<u16>) -> Packet {
    let icmp = (!proto.has_ports()).then_some((8, 0));
    Packet { src: addr(c, from), dst: addr(c, to), protocol: proto, port, icmp, http: None }
}

/// The verdict of a TCP connection.
fn tcp_verdict(c: &Cluster, from: &str, to: &str, port: u16) -> Verdict {
    evaluate(c, &packet(c, from, to, TCP, Some(port)))
}

/// `tier/policy#rule`.
fn rule_name(c: &Cluster, r: &RuleRef) -> String {
    let t = &c.policies.tiers()[r.tier];
    format!("{}/{}#{}", t.name, t.policies[r.policy].name, r.rule)
}

/// What decided a direction, in words: `tier/policy#rule Action`, `end of tier T`,
/// `no policy`, `passed`, `not an endpoint`.
fn said(c: &Cluster, d: &DirectionVerdict) -> String {
    match d.decision {
        Decision::Rule(r) => format!("{} {}", rule_name(c, &r), r.action),
        Decision::TierDefault(t) => format!("end of tier {}", c.policies.tiers()[t].name),
        Decision::NoPolicy => "no policy".into(),
        Decision::Passed => "passed".into(),
        Decision::NotAnEndpoint => "not an endpoint".into(),
        Decision::OwnTraffic => "own traffic".into(),
    }
}

fn names(c: &Cluster, refs: &[RuleRef]) -> Vec<String> {
    refs.iter().map(|r| rule_name(c, r)).collect()
}

/// The tier names, in evaluation order.
fn tier_names(c: &Cluster) -> Vec<&str> {
    c.policies.tiers().iter().map(|t| t.name.as_str()).collect()
}

/// The policy names of a tier, in evaluation order.
fn policy_names<'a>(c: &'a Cluster, tier: &str) -> Vec<&'a str> {
    let t = c.policies.tiers().iter().find(|t| t.name == tier).unwrap_or_else(|| panic!("no tier {tier}"));
    t.policies.iter().map(|p| p.name.as_str()).collect()
}

// ---- 6. Tiers and ordering ----

#[test]
fn tiers_sort_by_order_then_name() {
    let c = with(&[
        tier("b-tier", "order: 100"),
        tier("a-tier", "order: 100"),
        tier("z-early", "order: 10"),
        gnp(
            "early",
            r#"
            tier: z-early
            selector: app == 'web'
            ingress:
              - action: Deny
                source: {nets: [10.0.2.1/32]}
              - action: Pass
            "#,
        ),
        gnp("a-allow", "tier: a-tier\nselector: app == 'web'\ningress: [{action: Allow}]"),
        gnp("b-deny", "tier: b-tier\nselector: app == 'web'\ningress: [{action: Deny}]"),
    ]);
    let order: Vec<&str> =
        tier_names(&c).into_iter().filter(|n| ["z-early", "a-tier", "b-tier", "default"].contains(n)).collect();
    assert_eq!(order, ["z-early", "a-tier", "b-tier", "default"]);
    expect(&c, &[("b/client", "a/web", TCP, 80, DENY), ("a/client", "a/web", TCP, 80, ALLOW)]);
    // Order 10 beats any name; between equal orders, the name decides.
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "z-early/early#0 Deny");
    let v = tcp_verdict(&c, "a/client", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "a-tier/a-allow#0 Allow");
    assert_eq!(names(&c, &v.ingress.passed), ["z-early/early#1"]);
}

#[test]
fn unordered_tier_sorts_last() {
    let c = with(&[
        tier("aaa", ""),
        tier("zzz", "order: 5000000"),
        // Default tier (order 1,000,000): pass everything on.
        gnp("pass-on", "selector: app == 'web'\ningress: [{action: Pass}]"),
        gnp(
            "zzz-allow",
            r#"
            tier: zzz
            selector: app == 'web'
            ingress:
              - action: Allow
                source: {nets: [10.0.1.2/32]}
              - action: Pass
            "#,
        ),
        gnp("aaa-deny", "tier: aaa\nselector: app == 'web'\ningress: [{action: Deny}]"),
    ]);
    let order: Vec<&str> = tier_names(&c).into_iter().filter(|n| ["aaa", "zzz", "default"].contains(n)).collect();
    assert_eq!(order, ["default", "zzz", "aaa"], "a tier without order runs after every ordered tier");
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("b/client", "a/web", TCP, 80, DENY)]);
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "zzz/zzz-allow#0 Allow");
    let v = tcp_verdict(&c, "b/client", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "aaa/aaa-deny#0 Deny");
    assert_eq!(names(&c, &v.ingress.passed), ["default/pass-on#0", "zzz/zzz-allow#1"]);
}

#[test]
fn policy_order_within_tier_and_missing_order_last() {
    // Names are chosen against the orders so that sorting by name alone would fail.
    let c = with(&[
        gnp("zz-low", "order: 100\nselector: app == 'web'\ningress: [{action: Allow, source: {nets: [10.0.1.2/32]}}]"),
        gnp(
            "aa-high",
            "order: 200\nselector: app == 'web'\ningress: [{action: Deny, source: {nets: [10.0.1.2/32, 10.0.2.1/32]}}]",
        ),
        gnp("tie-b", "order: 300\nselector: app == 'web'\ningress: [{action: Allow, source: {nets: [10.0.2.2/32]}}]"),
        gnp("tie-a", "order: 300\nselector: app == 'web'\ningress: [{action: Deny, source: {nets: [10.0.2.2/32]}}]"),
        gnp("mid", "order: 250.5\nselector: app == 'web'\ningress: [{action: Log}]"),
        gnp("00-none", "selector: app == 'web'\ningress: [{action: Allow}]"),
    ]);
    assert_eq!(policy_names(&c, "default"), ["zz-low", "aa-high", "mid", "tie-a", "tie-b", "00-none"]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, DENY),
            ("b/db", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, ALLOW),
            ("a/tool", "a/web", TCP, 80, ALLOW),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "default/zz-low#0 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "default/aa-high#0 Deny");
    assert_eq!(said(&c, &tcp_verdict(&c, "b/db", "a/web", 80).ingress), "default/tie-a#0 Deny");
    assert_eq!(said(&c, &tcp_verdict(&c, OUTSIDE, "a/web", 80).ingress), "default/00-none#0 Allow");
}

#[test]
fn first_matching_allow_or_deny_decides() {
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            protocol: TCP
            source: {nets: [10.0.1.2/32]}
            destination: {ports: [8080]}
          - action: Deny
            source: {nets: [10.0.1.2/32]}
          - action: Allow
        "#,
    )]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 8080, ALLOW),
            ("a/client", "a/web", TCP, 9999, DENY),
            ("b/client", "a/web", TCP, 9999, ALLOW),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 8080).ingress), "default/web-in#0 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 9999).ingress), "default/web-in#1 Deny");
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 9999).ingress), "default/web-in#2 Allow");
}

#[test]
fn deny_in_earlier_policy_wins_over_allow_in_later_policy_same_tier() {
    let c = with(&[
        gnp(
            "first",
            r#"
            order: 1
            selector: app == 'web'
            ingress:
              - action: Deny
                source: {selector: app == 'client', namespaceSelector: team == 'b'}
            "#,
        ),
        gnp("second", "order: 2\nselector: app == 'web'\ningress: [{action: Allow, source: {nets: [10.0.0.0/16]}}]"),
    ]);
    expect(
        &c,
        &[
            ("b/client", "a/web", TCP, 80, DENY),
            // `first` matches nothing here: no verdict, `second` gets its turn.
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/db", "a/web", TCP, 80, ALLOW),
            // Neither matches: the default tier's end-of-tier drop.
            (OUTSIDE, "a/web", TCP, 80, DENY),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "default/first#0 Deny");
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "default/second#0 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, OUTSIDE, "a/web", 80).ingress), "end of tier default");
}

#[test]
fn pass_skips_rest_of_tier_to_next_tier() {
    let c = with(&[
        tier("t1", "order: 10"),
        tier("t2", "order: 20"),
        gnp(
            "p1",
            r#"
            tier: t1
            order: 1
            selector: app == 'web'
            ingress:
              - action: Pass
                source: {nets: [10.0.2.0/24]}
              - action: Deny
                source: {nets: [10.0.2.0/24]}
            "#,
        ),
        gnp("p2", "tier: t1\norder: 2\nselector: app == 'web'\ningress: [{action: Deny}]"),
        // t2 does not select web: it does not apply and is skipped.
        gnp("only-db", "tier: t2\nselector: app == 'db'\ningress: [{action: Deny}]"),
        gnp("allow-web", "selector: app == 'web'\ningress: [{action: Allow, source: {nets: [10.0.2.1/32]}}]"),
    ]);
    expect(
        &c,
        &[
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/db", "a/web", TCP, 80, DENY),
            ("a/client", "a/web", TCP, 80, DENY),
        ],
    );
    let v = tcp_verdict(&c, "b/client", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "default/allow-web#0 Allow");
    assert_eq!(names(&c, &v.ingress.passed), ["t1/p1#0"]);
    // Passed on, and the default tier does not admit it: its own end-of-tier drop.
    assert_eq!(said(&c, &tcp_verdict(&c, "b/db", "a/web", 80).ingress), "end of tier default");
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "t1/p2#0 Deny");
}

#[test]
fn pass_out_of_last_tier_reaches_profile_allow() {
    let c = with(&[
        tier("t1", "order: 10\ndefaultAction: Deny"),
        gnp("pass-all", "tier: t1\nselector: app == 'web'\ningress: [{action: Pass}]"),
        // The default tier holds a policy, but not one that selects web.
        knp("b", "isolate-db", "podSelector: {matchLabels: {app: db}}\npolicyTypes: [Ingress]"),
    ]);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("a/client", "b/db", TCP, 80, DENY)]);
    let v = tcp_verdict(&c, "a/client", "a/web", 80);
    assert_eq!(v.ingress.decision, Decision::Passed);
    assert_eq!(names(&c, &v.ingress.passed), ["t1/pass-all#0"]);
}

#[test]
fn log_continues() {
    let c = with(&[
        gnp(
            "logger",
            r#"
            order: 1
            selector: app == 'web'
            ingress:
              - action: Log
              - action: Log
                source: {nets: [10.0.1.2/32]}
            "#,
        ),
        gnp("allow", "order: 2\nselector: app == 'web'\ningress: [{action: Allow, source: {nets: [10.0.1.2/32]}}]"),
    ]);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("b/client", "a/web", TCP, 80, DENY)]);
    let v = tcp_verdict(&c, "a/client", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "default/allow#0 Allow");
    assert_eq!(names(&c, &v.ingress.logged), ["default/logger#0", "default/logger#1"]);
    // Log is never a verdict: a tier whose only match is a Log ends in its default action.
    let v = tcp_verdict(&c, "b/client", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "end of tier default");
    assert_eq!(names(&c, &v.ingress.logged), ["default/logger#0"]);
}

#[test]
fn tier_selecting_endpoint_without_match_ends_in_default_deny() {
    let c = with(&[
        tier("t1", "order: 10"),
        gnp("t1-web", "tier: t1\nselector: app == 'web'\ningress: [{action: Allow, source: {nets: [10.0.1.2/32]}}]"),
        gnp("allow-all", "selector: app == 'web'\ningress: [{action: Allow}]"),
    ]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            // t1 applies to web and does not decide: dropped, the default tier is never reached.
            ("b/client", "a/web", TCP, 80, DENY),
            // t1 does not apply to db.
            ("b/client", "b/db", TCP, 80, ALLOW),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "end of tier t1");
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "b/db", 80).ingress), "no policy");
}

#[test]
fn tier_default_action_pass_continues() {
    let t1 = [
        tier("t1", "order: 10\ndefaultAction: Pass"),
        gnp("watch", "tier: t1\nselector: app == 'web'\ningress: [{action: Deny, source: {nets: [10.0.2.1/32]}}]"),
    ];
    let c = with(&t1);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("b/client", "a/web", TCP, 80, DENY)]);
    assert_eq!(tcp_verdict(&c, "a/client", "a/web", 80).ingress.decision, Decision::Passed);
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "t1/watch#0 Deny");

    // What t1 lets through meets the next tier that applies.
    let mut docs = t1.to_vec();
    docs.push(tier("t2", "order: 20"));
    docs.push(gnp("deny-all", "tier: t2\nselector: app == 'web'\ningress: [{action: Deny}]"));
    let c = with(&docs);
    expect(&c, &[("a/client", "a/web", TCP, 80, DENY)]);
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "t2/deny-all#0 Deny");
}

#[test]
fn tier_applies_only_in_its_directions() {
    let c = with(&[
        tier("t1", "order: 10"),
        tier("t2", "order: 20"),
        gnp(
            "in-only",
            r#"
            tier: t1
            selector: app == 'web'
            types: [Ingress]
            ingress:
              - action: Allow
                source: {nets: [10.0.1.2/32]}
              - action: Pass
                source: {nets: [203.0.113.0/24]}
            "#,
        ),
        gnp("out-only", "tier: t2\nselector: app == 'web'\ntypes: [Egress]"),
    ]);
    expect(
        &c,
        &[
            ("a/web", OUTSIDE, TCP, 443, DENY),
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, ALLOW),
        ],
    );
    // Egress: t1 is not typed for it and does not apply; t2 does.
    let v = tcp_verdict(&c, "a/web", OUTSIDE, 443);
    assert_eq!(said(&c, &v.egress), "end of tier t2");
    assert_eq!(v.egress.applied.len(), 1);
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "end of tier t1");
    // Ingress: passed by t1, and t2 (egress only) does not apply: the profile allows.
    assert_eq!(tcp_verdict(&c, OUTSIDE, "a/web", 80).ingress.decision, Decision::Passed);
}

#[test]
fn endpoint_selected_by_no_policy_is_allowed() {
    let c = with(&[gnp("web-only", "selector: app == 'web'\ntypes: [Ingress, Egress]")]);
    expect(
        &c,
        &[
            ("b/client", "b/db", TCP, 5432, ALLOW),
            (OUTSIDE, "b/db", TCP, 5432, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
        ],
    );
    let v = tcp_verdict(&c, "b/client", "b/db", 5432);
    assert_eq!(v.egress.decision, Decision::NoPolicy);
    assert_eq!(v.ingress.decision, Decision::NoPolicy);
    assert!(v.ingress.applied.is_empty());
}

#[test]
fn host_network_pod_is_never_selected() {
    let c = with(&[
        gnp("everything", "selector: all()\ntypes: [Ingress]"),
        gnp("web-in", "selector: app == 'web'\ningress: [{action: Allow, source: {selector: all()}}]"),
    ]);
    expect(
        &c,
        &[
            // No policy applies to the host-network pod, even one selecting all().
            (OUTSIDE, "kube-system/agent", TCP, 10250, ALLOW),
            ("b/db", "kube-system/agent", TCP, 10250, ALLOW),
            // And no selector matches it as a peer.
            ("kube-system/agent", "a/web", TCP, 80, DENY),
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "b/db", TCP, 80, DENY),
        ],
    );
    assert_eq!(tcp_verdict(&c, OUTSIDE, "kube-system/agent", 10250).ingress.decision, Decision::NotAnEndpoint);
    // Only address rules see it: its traffic carries the node's address.
    let c =
        with(&[gnp("web-in", "selector: app == 'web'\ningress: [{action: Allow, source: {nets: [192.168.0.0/24]}}]")]);
    expect(&c, &[("kube-system/agent", "a/web", TCP, 80, ALLOW), ("a/client", "a/web", TCP, 80, DENY)]);
}

// ---- 7. Kubernetes NetworkPolicy inside Calico ----

#[test]
fn k8s_networkpolicy_sits_in_default_tier_at_order_1000() {
    let np = knp(
        "a",
        "allow-client",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
          - from: [{podSelector: {matchLabels: {app: client}}}]
            ports: [{protocol: TCP, port: 8080}]
        "#,
    );
    let c = with(std::slice::from_ref(&np));
    let k8s: Vec<_> = c.policies.tiers().iter().flat_map(|t| t.policies.iter().map(move |p| (t, p))).collect();
    let (t, p) = k8s.iter().find(|(_, p)| p.kind == PolicyKind::NetworkPolicy).expect("the NetworkPolicy");
    assert_eq!((t.name.as_str(), p.order), ("default", Some(1000.0)));

    // Order 500 runs before the NetworkPolicy.
    let early = cnp(
        "a",
        "early",
        "order: 500\nselector: app == 'web'\ningress: [{action: Deny, source: {selector: app == 'client'}}]",
    );
    let c = with(&[np.clone(), early]);
    expect(&c, &[("a/client", "a/web", TCP, 8080, DENY)]);
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 8080).ingress), "default/early#0 Deny");

    // Order 2000 runs after it; the NetworkPolicy's isolation is the end-of-tier drop,
    // so a later Calico Allow in the default tier can still admit what it does not.
    let late = cnp(
        "a",
        "late",
        r#"
        order: 2000
        selector: app == 'web'
        ingress:
          - action: Deny
            source: {selector: app == 'client'}
          - action: Allow
            source: {nets: [10.0.2.1/32]}
        "#,
    );
    let c = with(&[np.clone(), late]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 8080, ALLOW),
            ("b/client", "a/web", TCP, 8080, ALLOW),
            ("a/client", "a/web", TCP, 9999, DENY),
            (OUTSIDE, "a/web", TCP, 8080, DENY),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 8080).ingress), "default/allow-client#0 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 8080).ingress), "default/late#1 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 9999).ingress), "default/late#0 Deny");
    assert_eq!(said(&c, &tcp_verdict(&c, OUTSIDE, "a/web", 8080).ingress), "end of tier default");

    // A Calico policy without order runs after it too.
    let unordered =
        cnp("a", "unordered", "selector: app == 'web'\ningress: [{action: Deny, source: {selector: app == 'client'}}]");
    let c = with(&[np.clone(), unordered]);
    expect(&c, &[("a/client", "a/web", TCP, 8080, ALLOW), ("a/client", "a/web", TCP, 9999, DENY)]);

    // Any earlier tier runs before it.
    let c = with(&[
        np,
        tier("t1", "order: 10"),
        gnp(
            "deny-client",
            "tier: t1\nselector: app == 'web'\ningress: [{action: Deny, source: {nets: [10.0.1.2/32]}}, {action: Pass}]",
        ),
    ]);
    expect(&c, &[("a/client", "a/web", TCP, 8080, DENY)]);
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 8080).ingress), "t1/deny-client#0 Deny");
}

// ---- 3. Which endpoints a policy applies to; policy types ----

#[test]
fn explicit_types_used_as_given() {
    let c = with(&[
        gnp("egress-typed", "selector: app == 'web'\ntypes: [Egress]"),
        gnp("both-typed", "selector: app == 'db'\ntypes: [Ingress, Egress]\ningress: [{action: Allow}]"),
    ]);
    expect(
        &c,
        &[
            // Typed Egress with no egress rules: every egress denied.
            ("a/web", OUTSIDE, TCP, 443, DENY),
            ("a/web", "a/client", TCP, 80, DENY),
            // Ingress is not among its types.
            ("a/client", "a/web", TCP, 80, ALLOW),
            // Typed both ways with only ingress rules: egress denied.
            ("b/db", OUTSIDE, TCP, 443, DENY),
            ("b/client", "b/db", TCP, 5432, ALLOW),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "a/web", OUTSIDE, 443).egress), "end of tier default");
    assert_eq!(tcp_verdict(&c, "a/client", "a/web", 80).ingress.decision, Decision::NoPolicy);
}

#[test]
fn types_default_egress_only_when_only_egress_rules() {
    let c = with(&[
        // Only egress rules: [Egress].
        gnp("eg", "selector: app == 'web'\negress: [{action: Allow, destination: {nets: [10.0.1.2/32]}}]"),
        // No rules at all: [Ingress].
        gnp("none", "selector: app == 'db'"),
        // Both: [Ingress, Egress].
        gnp(
            "both",
            r#"
            selector: app == 'tool'
            ingress: [{action: Allow, source: {nets: [10.0.1.2/32]}}]
            egress: [{action: Allow, destination: {nets: [10.0.1.2/32]}}]
            "#,
        ),
    ]);
    expect(
        &c,
        &[
            ("a/web", "a/client", TCP, 80, ALLOW),
            ("a/web", OUTSIDE, TCP, 443, DENY),
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "b/db", TCP, 5432, DENY),
            ("b/db", OUTSIDE, TCP, 443, ALLOW),
            ("a/tool", "a/client", TCP, 80, ALLOW),
            ("a/tool", OUTSIDE, TCP, 443, DENY),
            ("a/client", "a/tool", TCP, 80, ALLOW),
            ("b/client", "a/tool", TCP, 80, DENY),
        ],
    );
}

#[test]
fn namespaced_policy_applies_only_in_its_namespace() {
    let c = with(&[
        cnp("a", "deny", "selector: app == 'client'\ntypes: [Ingress]"),
        cnp("b", "all-out", "selector: all()\ntypes: [Egress]"),
    ]);
    expect(
        &c,
        &[
            ("a/web", "a/client", TCP, 80, DENY),
            // b/client has the same labels, in another namespace.
            ("a/web", "b/client", TCP, 80, ALLOW),
            ("b/db", OUTSIDE, TCP, 443, DENY),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
}

#[test]
fn global_policy_namespace_selector_reads_namespace_labels() {
    let c = with(&[
        gnp("clients-in-b", "selector: app == 'client'\nnamespaceSelector: team == 'b'\ntypes: [Ingress]"),
        gnp("team-b-out", "selector: all()\nnamespaceSelector: team == 'b'\ntypes: [Egress]"),
        gnp(
            "web-from-dev",
            r#"
            selector: app == 'web'
            namespaceSelector: projectcalico.org/name == 'a'
            ingress: [{action: Allow, source: {namespaceSelector: env == 'dev'}}]
            "#,
        ),
    ]);
    expect(
        &c,
        &[
            ("a/web", "b/client", TCP, 80, DENY),
            ("a/web", "a/client", TCP, 80, ALLOW),
            ("b/db", OUTSIDE, TCP, 443, DENY),
            // a/tool carries a pod label team=b: a namespaceSelector does not read it.
            ("a/tool", OUTSIDE, TCP, 443, ALLOW),
            // The rule's namespaceSelector reads namespace labels too (b is env=dev).
            ("b/db", "a/web", TCP, 80, DENY), // b/db's own egress is denied by team-b-out
            ("a/client", "a/web", TCP, 80, DENY),
        ],
    );
    let v = tcp_verdict(&c, "b/db", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "default/web-from-dev#0 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "end of tier default");
}

// ---- 4. Entity rules: the effective selector ----

#[test]
fn entity_selector_in_namespaced_policy_is_limited_to_own_namespace() {
    let rules = r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            source: {selector: app == 'client'}
          - action: Allow
            protocol: TCP
            source: {selector: all()}
            destination: {ports: [81]}
        "#;
    let c = with(&[cnp("a", "web-in", rules)]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, DENY),
            ("a/tool", "a/web", TCP, 81, ALLOW),
            ("b/db", "a/web", TCP, 81, DENY),
            (OUTSIDE, "a/web", TCP, 81, DENY),
        ],
    );
    // The same rules in a GlobalNetworkPolicy span every namespace.
    let c = with(&[gnp("web-in", rules)]);
    expect(
        &c,
        &[("b/client", "a/web", TCP, 80, ALLOW), ("b/db", "a/web", TCP, 81, ALLOW), (OUTSIDE, "a/web", TCP, 81, DENY)],
    );
}

#[test]
fn entity_with_only_nets_or_ports_matches_any_namespace_and_external() {
    let c = with(&[cnp(
        "a",
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            protocol: TCP
            destination: {ports: [8080]}
          - action: Allow
            source: {nets: [10.0.2.0/24]}
          - action: Allow
            protocol: UDP
            source: {}
        "#,
    )]);
    expect(
        &c,
        &[
            ("b/client", "a/web", TCP, 8080, ALLOW),
            (OUTSIDE, "a/web", TCP, 8080, ALLOW),
            ("b/db", "a/web", TCP, 9999, ALLOW),
            (OUTSIDE, "a/web", TCP, 9999, DENY),
            ("a/client", "a/web", TCP, 9999, DENY),
            (OUTSIDE, "a/web", UDP, 53, ALLOW),
            ("b/client", "a/web", UDP, 53, ALLOW),
        ],
    );
}

#[test]
fn namespace_selector_all_means_every_namespace() {
    let c = with(&[
        net_set("b", "b-range", "{}", "[198.51.100.0/24]"),
        global_set("global-range", "{}", "[192.0.2.0/24]"),
        cnp(
            "a",
            "web-in",
            r#"
            selector: app == 'web'
            ingress:
              - action: Allow
                source: {namespaceSelector: all(), selector: app == 'client'}
              - action: Allow
                protocol: TCP
                source: {namespaceSelector: all()}
                destination: {ports: [81]}
            "#,
        ),
    ]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/db", "a/web", TCP, 80, DENY),
            ("b/db", "a/web", TCP, 81, ALLOW),
            // Outside any namespace: not matched.
            (OUTSIDE, "a/web", TCP, 81, DENY),
            // A namespaced NetworkSet is in a namespace; a GlobalNetworkSet is not.
            (OUTSIDE2, "a/web", TCP, 81, ALLOW),
            (OUTSIDE3, "a/web", TCP, 81, DENY),
        ],
    );
}

#[test]
fn not_selector_is_not_namespace_limited_but_scopes_to_own_namespace() {
    // A GlobalNetworkSet covering a/tool's address: a namespace-limited selector
    // could not see it, the raw notSelector does.
    let blocked = global_set("blocked", "{role: blocked}", "[10.0.1.3/32]");
    let c = with(&[
        blocked.clone(),
        cnp(
            "a",
            "web-in",
            r#"
            selector: app == 'web'
            ingress:
              - action: Allow
                source: {notSelector: "app == 'client' || role == 'blocked'"}
            "#,
        ),
    ]);
    expect(
        &c,
        &[
            ("a/batch", "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
            ("a/tool", "a/web", TCP, 80, DENY),
            // "From this namespace, excluding X": other namespaces and outside do not match.
            ("b/db", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, DENY),
        ],
    );
    // In a GlobalNetworkPolicy there is no namespace part: anything but X.
    let c = with(&[
        blocked,
        gnp("web-in", "selector: app == 'web'\ningress: [{action: Allow, source: {notSelector: app == 'client'}}]"),
    ]);
    expect(
        &c,
        &[
            ("b/db", "a/web", TCP, 80, ALLOW),
            (OUTSIDE, "a/web", TCP, 80, ALLOW),
            ("a/tool", "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
            ("b/client", "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn nets_and_not_nets() {
    let c = with(&[gnp(
        "web",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            source: {nets: [10.0.2.0/24, 203.0.113.0/24], notNets: [10.0.2.2/32]}
        egress:
          - action: Allow
            destination: {notNets: [10.0.0.0/8]}
        "#,
    )]);
    expect(
        &c,
        &[
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/db", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
            (OUTSIDE2, "a/web", TCP, 80, DENY),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
            ("a/web", "b/db", TCP, 9090, DENY),
        ],
    );
    // Every field that is set must match: nets AND selector.
    let c = with(&[gnp(
        "web",
        "selector: app == 'web'\ningress: [{action: Allow, source: {selector: app == 'client', nets: [10.0.2.0/24]}}]",
    )]);
    expect(
        &c,
        &[
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
            ("b/db", "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn not_ports_and_port_ranges_and_named_ports() {
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            protocol: TCP
            destination: {ports: ["9000:9100", 443], notPorts: [9050]}
          - action: Allow
            protocol: TCP
            destination: {ports: [http]}
          - action: Allow
            protocol: UDP
            destination: {ports: [dns]}
        "#,
    )]);
    let from = "a/client";
    expect(
        &c,
        &[
            (from, "a/web", TCP, 9000, ALLOW),
            (from, "a/web", TCP, 9100, ALLOW),
            (from, "a/web", TCP, 9050, DENY),
            (from, "a/web", TCP, 8999, DENY),
            (from, "a/web", TCP, 9101, DENY),
            (from, "a/web", TCP, 443, ALLOW),
            (from, "a/web", TCP, 8080, ALLOW),
            (from, "a/web", TCP, 8081, DENY),
            (from, "a/web", UDP, 53, ALLOW),
            (from, "a/web", UDP, 54, DENY),
            // `dns` is a UDP port: a TCP rule naming it does not match TCP/53.
            (from, "a/web", TCP, 53, DENY),
        ],
    );
    let c = with(&[gnp(
        "web-in",
        "selector: app == 'web'\ningress: [{action: Allow, protocol: TCP, destination: {notPorts: [http]}}]",
    )]);
    expect(&c, &[(from, "a/web", TCP, 8080, DENY), (from, "a/web", TCP, 8081, ALLOW)]);
}

#[test]
fn named_port_requires_destination_to_declare_it_with_protocol() {
    let c = with(&[gnp(
        "client-out",
        r#"
        selector: app == 'client' && projectcalico.org/namespace == 'a'
        egress:
          - action: Allow
            protocol: TCP
            destination: {ports: [http]}
          - action: Allow
            protocol: TCP
            destination: {ports: [dns]}
          - action: Allow
            protocol: UDP
            destination: {selector: app == 'db', ports: [dns]}
          - action: Allow
            protocol: UDP
            destination: {selector: app == 'web', ports: [dns]}
        "#,
    )]);
    let from = "a/client";
    expect(
        &c,
        &[
            // web declares http=8080/TCP, db declares http=9090/TCP.
            (from, "a/web", TCP, 8080, ALLOW),
            (from, "b/db", TCP, 9090, ALLOW),
            (from, "b/db", TCP, 8080, DENY),
            (from, "a/web", TCP, 9090, DENY),
            // Not an endpoint: no named port to resolve.
            (from, OUTSIDE, TCP, 8080, DENY),
            // web's dns is UDP.
            (from, "a/web", TCP, 53, DENY),
            (from, "a/web", UDP, 53, ALLOW),
        ],
    );
    // The UDP rule restricted to db does not match web; the one for web does.
    let v = evaluate(&c, &packet(&c, from, "a/web", UDP, Some(53)));
    assert_eq!(said(&c, &v.egress), "default/client-out#3 Allow");
}

#[test]
fn protocol_numbers_and_names() {
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            protocol: 17
          - action: Allow
            protocol: 6
            destination: {ports: [80]}
          - action: Allow
            protocol: SCTP
          - action: Allow
            protocol: 1
        "#,
    )]);
    let from = "a/client";
    expect(
        &c,
        &[
            (from, "a/web", UDP, 9999, ALLOW),
            (from, "a/web", TCP, 80, ALLOW),
            (from, "a/web", TCP, 81, DENY),
            (from, "a/web", SCTP, 5000, ALLOW),
            (from, "a/web", ICMP, 0, ALLOW),
        ],
    );
    let v = evaluate(&c, &packet(&c, from, "a/web", TCP, Some(80)));
    assert_eq!(said(&c, &v.ingress), "default/web-in#1 Allow");
    // The v3 validator accepts exactly TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255.
    for bad in ["tcp", "0", "256", "HTTP"] {
        let e = error(&[gnp("bad", &format!("selector: all()\ningress: [{{action: Allow, protocol: {bad}}}]"))]);
        assert_eq!(e.field.as_deref(), Some("spec.ingress[0].protocol"), "{bad}: {e}");
    }
    for good in ["ICMPv6", "UDPLite", "UDP", "132"] {
        with(&[gnp("good", &format!("selector: all()\ningress: [{{action: Allow, protocol: {good}}}]"))]);
    }
}

#[test]
fn not_protocol() {
    let c = with(&[gnp("web-in", "selector: app == 'web'\ningress: [{action: Allow, notProtocol: TCP}]")]);
    let from = "a/client";
    expect(
        &c,
        &[
            (from, "a/web", UDP, 53, ALLOW),
            (from, "a/web", TCP, 80, DENY),
            (from, "a/web", ICMP, 0, ALLOW),
            (from, "a/web", SCTP, 5000, ALLOW),
        ],
    );
}

#[test]
fn icmp_type_code_only_matches_icmp() {
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            protocol: ICMP
            icmp: {type: 8, code: 0}
          - action: Deny
            protocol: ICMP
            icmp: {type: 8}
          - action: Allow
            protocol: ICMP
            notICMP: {type: 13}
        "#,
    )]);
    let icmp = |t: u8, code: u8| {
        let mut p = packet(&c, "a/client", "a/web", ICMP, None);
        p.icmp = Some((t, code));
        evaluate(&c, &p)
    };
    let v = icmp(8, 0);
    assert!(v.allowed);
    assert_eq!(said(&c, &v.ingress), "default/web-in#0 Allow");
    let v = icmp(8, 1);
    assert!(!v.allowed, "a type without code matches every code");
    assert_eq!(said(&c, &v.ingress), "default/web-in#1 Deny");
    let v = icmp(0, 0);
    assert!(v.allowed);
    assert_eq!(said(&c, &v.ingress), "default/web-in#2 Allow");
    let v = icmp(13, 0);
    assert!(!v.allowed);
    assert_eq!(said(&c, &v.ingress), "end of tier default");
    // ICMP rules never match TCP.
    expect(&c, &[("a/client", "a/web", TCP, 80, DENY)]);
    // An ICMP match needs protocol ICMP or ICMPv6.
    let e = error(&[gnp("bad", "selector: all()\ningress: [{action: Allow, icmp: {type: 8}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].icmp"), "{e}");
    let e = error(&[gnp("bad", "selector: all()\ningress: [{action: Allow, protocol: TCP, notICMP: {type: 8}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].notICMP"), "{e}");
}

/// Calico matches `ipVersion` against the packet's family: between two IPv6 pods an
/// `ipVersion: 6` rule matches and an `ipVersion: 4` rule does not, in every evaluator.
#[test]
fn ip_version_is_the_packets_family_between_ipv6_pods() {
    let pods = r#"
apiVersion: v1
kind: Pod
metadata: {name: x, namespace: six, labels: {app: x}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: "fd00::10"}
---
apiVersion: v1
kind: Pod
metadata: {name: y, namespace: six, labels: {app: y}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: "fd00::11"}
---
apiVersion: v1
kind: Pod
metadata: {name: z, namespace: six, labels: {app: z}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: "10.9.0.1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: t, namespace: six}
spec:
  selector: {matchLabels: {app: t}}
  template:
    metadata: {labels: {app: t}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
"#;
    let only = |version: u8| {
        let policy =
            gnp("v", &format!("selector: all()\ntypes: [Egress]\negress: [{{action: Allow, ipVersion: {version}}}]"));
        cluster_str(&format!("{pods}{policy}"))
    };
    let six = only(6);
    expect(
        &six,
        &[
            ("six/x", "six/y", TCP, 80, ALLOW),
            ("six/y", "six/x", TCP, 80, ALLOW),
            ("six/z", "six/x", TCP, 80, DENY),
            ("six/x", "six/z", TCP, 80, ALLOW),
            // A template has no address: the family is the other end's.
            ("six/Deployment/t", "six/x", TCP, 80, ALLOW),
            ("six/Deployment/t", "six/z", TCP, 80, DENY),
            ("six/x", "six/Deployment/t", TCP, 80, ALLOW),
        ],
    );
    let four = only(4);
    expect(
        &four,
        &[
            ("six/x", "six/y", TCP, 80, DENY),
            ("six/z", "six/x", TCP, 80, ALLOW),
            ("six/x", "six/z", TCP, 80, DENY),
            ("six/Deployment/t", "six/z", TCP, 80, ALLOW),
            ("six/Deployment/t", "six/x", TCP, 80, DENY),
            ("six/z", "six/Deployment/t", TCP, 80, ALLOW),
        ],
    );
}

#[test]
fn ip_version_4_vs_6() {
    let c = with(&[gnp(
        "out",
        r#"
        selector: all()
        types: [Egress]
        egress:
          - action: Allow
            ipVersion: 4
          - action: Allow
            ipVersion: 6
            destination: {nets: ["2001:db8::/32"]}
        "#,
    )]);
    expect(
        &c,
        &[
            ("a/client", OUTSIDE2, TCP, 443, ALLOW),
            ("a/v6", "2001:db8::9", TCP, 443, ALLOW),
            // IPv6 outside 2001:db8::/32: the ipVersion 4 rule does not match it.
            ("a/v6", "2001:db9::9", TCP, 443, DENY),
        ],
    );
    let v = evaluate(&c, &packet(&c, "a/client", OUTSIDE2, TCP, Some(443)));
    assert_eq!(said(&c, &v.egress), "default/out#0 Allow");
    let e = error(&[gnp("bad", "selector: all()\negress: [{action: Allow, ipVersion: 5}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.egress[0].ipVersion"), "{e}");
}

#[test]
fn service_account_names_match_projectcalico_serviceaccount_label() {
    let rules = "selector: app == 'web'\ningress: [{action: Allow, source: {serviceAccounts: {names: [client-sa]}}}]";
    let c = with(&[cnp("a", "web-in", rules)]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            // No serviceAccountName: the service account is `default`.
            ("a/tool", "a/web", TCP, 80, DENY),
            // Same service account name, other namespace: the namespace part applies.
            ("b/client", "a/web", TCP, 80, DENY),
        ],
    );
    let c = with(&[gnp("web-in", rules)]);
    expect(&c, &[("b/client", "a/web", TCP, 80, ALLOW), ("a/tool", "a/web", TCP, 80, DENY)]);
    // The label itself, in a policy selector.
    let c = with(&[
        gnp("by-label", "selector: projectcalico.org/serviceaccount == 'web-sa'\ntypes: [Ingress]"),
        gnp("default-sa", "selector: projectcalico.org/serviceaccount == 'default'\ntypes: [Egress]"),
    ]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, DENY),
            ("a/web", "a/client", TCP, 80, ALLOW),
            ("a/tool", OUTSIDE, TCP, 443, DENY),
            ("a/client", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
}

#[test]
fn service_account_selector_needs_serviceaccount_objects() {
    let sa = object("v1", "ServiceAccount", "{name: client-sa, namespace: a, labels: {role: frontend}}", "")
        .replace("spec: {}\n", "");
    let rule = cnp(
        "a",
        "web-in",
        "selector: app == 'web'\ningress: [{action: Allow, source: {serviceAccounts: {selector: role == 'frontend'}}}]",
    );
    let policy = gnp("sa-out", "serviceAccountSelector: role == 'frontend'\ntypes: [Egress]");
    // Without ServiceAccount objects no service account has labels: nothing matches.
    let c = with(&[rule.clone(), policy.clone()]);
    expect(&c, &[("a/client", "a/web", TCP, 80, DENY), ("a/client", OUTSIDE, TCP, 443, ALLOW)]);
    let c = with(&[sa, rule, policy]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, DENY), // a/client's egress is now denied by sa-out
            ("a/client", OUTSIDE, TCP, 443, DENY),
            ("a/tool", "a/web", TCP, 80, DENY),
            // b/client's service account has the same name, but no object with labels.
            ("b/client", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "default/web-in#0 Allow");
}

// ---- Network sets ----

#[test]
fn network_set_cidr_matches_pod_ip_via_selector() {
    let c = with(&[
        global_set("partners", "{role: partners}", "[203.0.113.0/24, 10.0.2.1/32]"),
        net_set("b", "more", "{role: partners}", "[198.51.100.0/24]"),
        gnp("web-in", "selector: app == 'web'\ningress: [{action: Allow, source: {selector: role == 'partners'}}]"),
    ]);
    expect(
        &c,
        &[
            (OUTSIDE, "a/web", TCP, 80, ALLOW),
            // b/client's own labels do not match, its address is in a matching set.
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/db", "a/web", TCP, 80, DENY),
            (OUTSIDE2, "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
            (OUTSIDE3, "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn namespaced_network_set_visible_only_from_own_namespace() {
    let sets = [
        net_set("a", "partners-a", "{role: partners}", "[198.51.100.0/24]"),
        net_set("b", "partners-b", "{role: partners}", "[192.0.2.0/24]"),
    ];
    let policy = |source: &str| {
        let mut docs = sets.to_vec();
        docs.push(cnp(
            "a",
            "web-in",
            &format!("selector: app == 'web'\ningress: [{{action: Allow, source: {source}}}]"),
        ));
        with(&docs)
    };
    let c = policy("{selector: role == 'partners'}");
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, ALLOW), (OUTSIDE3, "a/web", TCP, 80, DENY)]);
    // A namespaceSelector widens the scope, and reads the set's namespace labels.
    let c = policy("{selector: role == 'partners', namespaceSelector: team == 'b'}");
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, DENY), (OUTSIDE3, "a/web", TCP, 80, ALLOW)]);
    let c = policy("{selector: role == 'partners', namespaceSelector: all()}");
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, ALLOW), (OUTSIDE3, "a/web", TCP, 80, ALLOW)]);
}

#[test]
fn global_network_set_needs_namespace_selector_global() {
    let set = global_set("partners", "{role: partners, app: client}", "[198.51.100.0/24]");
    let policy = |source: &str, global: bool| {
        let spec = format!("selector: app == 'web'\ningress: [{{action: Allow, source: {source}}}]");
        with(&[set.clone(), if global { gnp("web-in", &spec) } else { cnp("a", "web-in", &spec) }])
    };
    let c = policy("{selector: role == 'partners'}", false);
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, DENY)]);
    let c = policy("{selector: role == 'partners', namespaceSelector: global()}", false);
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, ALLOW)]);
    let c = policy("{selector: role == 'partners', namespaceSelector: all()}", false);
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, DENY)]);
    // global() matches no pod: every pod is in a namespace.
    let c = policy("{selector: app == 'client', namespaceSelector: global()}", false);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, DENY),
            ("b/client", "a/web", TCP, 80, DENY),
            (OUTSIDE2, "a/web", TCP, 80, ALLOW),
        ],
    );
    // In a GlobalNetworkPolicy a plain selector reaches global sets.
    let c = policy("{selector: role == 'partners'}", true);
    expect(&c, &[(OUTSIDE2, "a/web", TCP, 80, ALLOW)]);
    // global() is rejected in an entity's selector.
    let e = error(&[cnp("a", "bad", "selector: all()\ningress: [{action: Allow, source: {selector: global()}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].source.selector"), "{e}");
}

// ---- Matching details ----

#[test]
fn source_ports_never_match_new_connection() {
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Deny
            protocol: TCP
            source: {ports: ["1024:65535"]}
          - action: Allow
            protocol: TCP
            source: {ports: [80]}
          - action: Allow
            source: {nets: [10.0.1.2/32]}
        "#,
    )]);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("b/client", "a/web", TCP, 80, DENY)]);
    assert_eq!(said(&c, &tcp_verdict(&c, "a/client", "a/web", 80).ingress), "default/web-in#2 Allow");
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "end of tier default");
    let warned: Vec<_> =
        c.warnings.iter().filter(|w| w.about().as_deref() == Some("GlobalNetworkPolicy web-in")).collect();
    assert!(
        warned.iter().any(|w| w.message.contains("spec.ingress[0].source.ports")),
        "no warning about source ports: {warned:?}"
    );
}

#[test]
fn missing_label_not_equal_is_true() {
    // No pod has a `tier` label: `tier != 'frontend'` selects every one of them.
    let c = with(&[gnp("no-tier", "selector: tier != 'frontend'\ntypes: [Ingress]")]);
    expect(&c, &[("a/client", "a/web", TCP, 80, DENY), ("b/client", "b/db", TCP, 80, DENY)]);
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Deny
            source: {selector: has(tier)}
          - action: Deny
            source: {selector: tier == 'x'}
          - action: Allow
            source: {selector: "tier not in {'x'}"}
        "#,
    )]);
    expect(
        &c,
        &[("a/client", "a/web", TCP, 80, ALLOW), ("b/db", "a/web", TCP, 80, ALLOW), (OUTSIDE, "a/web", TCP, 80, DENY)],
    );
    assert_eq!(said(&c, &tcp_verdict(&c, "b/db", "a/web", 80).ingress), "default/web-in#2 Allow");
}

#[test]
fn http_rule_counts_as_match_at_l4() {
    let c = with(&[gnp(
        "web-in",
        r#"
        selector: app == 'web'
        ingress:
          - action: Allow
            source: {nets: [10.0.1.2/32]}
            http: {methods: [GET], paths: [{exact: /api}]}
          - action: Deny
            http: {methods: [POST]}
          - action: Allow
        "#,
    )]);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("b/client", "a/web", TCP, 80, DENY)]);
    let v = tcp_verdict(&c, "a/client", "a/web", 80);
    assert_eq!(said(&c, &v.ingress), "default/web-in#0 Allow");
    assert_eq!(names(&c, &v.ingress.unchecked_http), ["default/web-in#0"]);
    assert_eq!(said(&c, &tcp_verdict(&c, "b/client", "a/web", 80).ingress), "default/web-in#1 Deny");
    // With the request known, the HTTP match is evaluated.
    let mut p = packet(&c, "a/client", "a/web", TCP, Some(80));
    p.http = Some(HttpRequest { method: Some("POST".into()), path: Some("/api".into()) });
    let v = evaluate(&c, &p);
    assert_eq!(said(&c, &v.ingress), "default/web-in#1 Deny");
    p.http = Some(HttpRequest { method: Some("PUT".into()), path: Some("/x".into()) });
    assert_eq!(said(&c, &evaluate(&c, &p).ingress), "default/web-in#2 Allow");
}

// ---- Objects that are not enforced ----

#[test]
fn staged_policies_not_enforced_and_warned() {
    let staged = |kind: &str, meta: &str| {
        object("projectcalico.org/v3", kind, meta, "selector: all()\ntypes: [Ingress, Egress]")
    };
    let c = with(&[
        staged("StagedGlobalNetworkPolicy", "{name: deny-all}"),
        staged("StagedNetworkPolicy", "{name: deny-a, namespace: a}"),
        object(
            "projectcalico.org/v3",
            "StagedKubernetesNetworkPolicy",
            "{name: isolate, namespace: a}",
            "podSelector: {}\npolicyTypes: [Ingress]",
        ),
    ]);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("b/db", "a/web", TCP, 80, ALLOW)]);
    assert_eq!(c.policies.policies().count(), 0);
    for object in [
        "StagedGlobalNetworkPolicy deny-all",
        "StagedNetworkPolicy a/deny-a",
        "StagedKubernetesNetworkPolicy a/isolate",
    ] {
        assert!(
            c.warnings.iter().any(|w| w.about().as_deref() == Some(object) && w.message.contains("staged")),
            "no warning for {object}: {:?}",
            c.warnings
        );
    }
}

#[test]
fn prednat_and_donottrack_ignored_with_warning() {
    let c = with(&[
        gnp("pre", "selector: all()\npreDNAT: true\napplyOnForward: true\ntypes: [Ingress]\ningress: [{action: Deny}]"),
        gnp(
            "untracked",
            "selector: all()\ndoNotTrack: true\napplyOnForward: true\ntypes: [Ingress]\ningress: [{action: Deny}]",
        ),
    ]);
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), (OUTSIDE, "b/db", TCP, 80, ALLOW)]);
    assert_eq!(c.policies.policies().count(), 0);
    for (object, word) in [("GlobalNetworkPolicy pre", "preDNAT"), ("GlobalNetworkPolicy untracked", "doNotTrack")] {
        assert!(
            c.warnings.iter().any(|w| w.about().as_deref() == Some(object) && w.message.contains(word)),
            "no warning for {object}: {:?}",
            c.warnings
        );
    }
}

// ---- Errors ----

#[test]
fn policy_in_missing_tier_is_error_naming_field() {
    let e = error(&[gnp("x", "tier: nope\nselector: all()")]);
    assert_eq!(e.object.as_deref(), Some("GlobalNetworkPolicy x"), "{e}");
    assert_eq!(e.field.as_deref(), Some("spec.tier"), "{e}");
    assert!(e.message.contains("nope"), "{e}");
    let e = error(&[cnp("a", "y", "tier: nope\nselector: all()")]);
    assert_eq!(e.object.as_deref(), Some("NetworkPolicy a/y"), "{e}");
    assert_eq!(e.field.as_deref(), Some("spec.tier"), "{e}");
}

#[test]
fn unparsable_selector_error_has_position() {
    let e = error(&[gnp("x", "selector: app = 'web'")]);
    assert_eq!(e.field.as_deref(), Some("spec.selector"), "{e}");
    assert!(e.message.contains("position 4"), "the single '=' is at byte 4: {e}");
    assert!(e.message.contains("app = 'web'"), "{e}");
    let e =
        error(&[cnp("a", "y", "selector: all()\ningress: [{action: Allow, source: {selector: \"app == 'web' &&\"}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].source.selector"), "{e}");
    assert!(e.message.contains("position 15"), "the selector ends at byte 15: {e}");
    let e = error(&[gnp("z", "selector: all()\nnamespaceSelector: \"team in {'a'\"")]);
    assert_eq!(e.field.as_deref(), Some("spec.namespaceSelector"), "{e}");
    assert!(e.message.contains("position"), "{e}");
}

#[test]
fn invalid_cidr_error() {
    let e =
        error(&[gnp("x", "selector: all()\ningress: [{action: Allow, source: {nets: [10.0.0.0/8, 10.0.0.0/33]}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].source.nets[1]"), "{e}");
    assert!(e.message.contains("10.0.0.0/33"), "{e}");
    let e = error(&[gnp("x", "selector: all()\negress: [{action: Allow, destination: {notNets: [bogus]}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.egress[0].destination.notNets[0]"), "{e}");
    let e = error(&[global_set("bad", "{}", "[300.0.0.0/8]")]);
    assert_eq!(e.object.as_deref(), Some("GlobalNetworkSet bad"), "{e}");
    assert_eq!(e.field.as_deref(), Some("spec.nets[0]"), "{e}");
}

#[test]
fn reversed_port_range_error() {
    let e = error(&[gnp(
        "x",
        "selector: all()\ningress: [{action: Allow, protocol: TCP, destination: {ports: [80, \"9000:8000\"]}}]",
    )]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].destination.ports[1]"), "{e}");
    assert!(e.message.contains("9000:8000"), "{e}");
    let e =
        error(&[gnp("x", "selector: all()\ningress: [{action: Allow, protocol: TCP, destination: {ports: [70000]}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].destination.ports[0]"), "{e}");
}

#[test]
fn ports_without_tcp_udp_protocol_error() {
    let e = error(&[gnp("x", "selector: all()\ningress: [{action: Allow, destination: {ports: [80]}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].destination.ports"), "{e}");
    let e =
        error(&[gnp("x", "selector: all()\ningress: [{action: Allow, protocol: ICMP, destination: {ports: [80]}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].destination.ports"), "{e}");
    let e = error(&[gnp("x", "selector: all()\negress: [{action: Allow, destination: {notPorts: [80]}}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.egress[0].destination.notPorts"), "{e}");
    // Only TCP, UDP and SCTP carry ports (upstream `Protocol.SupportsPorts`): not UDPLite.
    let e = error(&[gnp(
        "x",
        "selector: all()\ningress: [{action: Allow, protocol: UDPLite, destination: {ports: [80]}}]",
    )]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].destination.ports"), "{e}");
    for proto in ["TCP", "UDP", "SCTP", "6", "17", "132"] {
        with(&[gnp(
            "ok",
            &format!("selector: all()\ningress: [{{action: Allow, protocol: {proto}, destination: {{ports: [80]}}}}]"),
        )]);
    }
}

#[test]
fn unknown_field_is_error() {
    let e = error(&[gnp("x", "selector: all()\ningress: [{action: Allow, source: {notnets: [10.0.0.0/8]}}]")]);
    assert_eq!(e.object.as_deref(), Some("GlobalNetworkPolicy x"), "{e}");
    assert!(e.field.as_deref().is_some_and(|f| f.starts_with("spec.ingress[0].source")), "{e}");
    assert!(e.message.contains("notnets"), "{e}");
    let e = error(&[cnp("a", "y", "selecter: all()")]);
    assert!(e.field.as_deref().is_some_and(|f| f.starts_with("spec")), "{e}");
    assert!(e.message.contains("selecter"), "{e}");
    let e = error(&[tier("t", "order: 1\ndefaultActon: Pass")]);
    assert!(e.message.contains("defaultActon"), "{e}");
}

#[test]
fn unknown_action_type_or_default_action_is_error() {
    let e = error(&[gnp("x", "selector: all()\ningress: [{action: Allow}, {action: allow}]")]);
    assert_eq!(e.field.as_deref(), Some("spec.ingress[1].action"), "{e}");
    let e = error(&[gnp("x", "selector: all()\ntypes: [Ingress, Outgress]")]);
    assert_eq!(e.field.as_deref(), Some("spec.types[1]"), "{e}");
    let e = error(&[tier("t", "order: 1\ndefaultAction: Allow")]);
    assert_eq!(e.field.as_deref(), Some("spec.defaultAction"), "{e}");
}

#[test]
fn service_account_label_only_under_63_characters() {
    let pod = |name: &str, ip: &str, sa: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: b, labels: {{app: sa-test}}}}\n\
             spec: {{serviceAccountName: {sa}, containers: [{{name: c, image: busybox}}]}}\nstatus: {{podIP: {ip}}}\n---\n"
        )
    };
    let c = with(&[
        pod("short", "10.0.2.10", &"s".repeat(62)),
        pod("long", "10.0.2.11", &"l".repeat(63)),
        gnp("has-sa", "selector: app == 'sa-test' && has(projectcalico.org/serviceaccount)\ntypes: [Ingress]"),
    ]);
    expect(&c, &[("a/client", "b/short", TCP, 80, DENY), ("a/client", "b/long", TCP, 80, ALLOW)]);
}

/// A tier that ends in Deny still lets later tiers see the packets its Pass rules send
/// on; only a Deny-ending tier with no Pass rule for the direction hides the tiers after it.
#[test]
fn a_deny_tier_with_a_pass_rule_still_reaches_later_tiers() {
    let governing = |rule: &str| {
        let c = with(&[
            tier("platform", "order: 200\ndefaultAction: Deny"),
            gnp("platform.gate", &format!("tier: platform\nselector: app == 'web'\ningress: [{rule}]")),
            knp("a", "web", "podSelector: {matchLabels: {app: web}}\ningress: [{}]"),
        ]);
        let web = c.endpoint("a/web").expect("a/web");
        let tiers = podwall_engine::governing_tiers(&c, web, Direction::Ingress);
        let names: Vec<(String, Option<String>)> = tiers
            .iter()
            .map(|g| {
                let t = &c.policies.tiers();
                (t[g.tier].name.clone(), g.unreachable_after.map(|b| t[b].name.clone()))
            })
            .collect();
        (c, names)
    };
    let (c, with_pass) = governing("{action: Pass, source: {selector: app == 'client'}}");
    assert_eq!(with_pass, [("platform".into(), None), ("default".into(), None)]);
    // The passed packet is decided by the default tier's NetworkPolicy.
    expect(&c, &[("a/client", "a/web", TCP, 80, ALLOW), ("a/tool", "a/web", TCP, 80, DENY)]);
    let (_, allow_only) = governing("{action: Allow, source: {selector: app == 'client'}}");
    assert_eq!(allow_only, [("platform".into(), None), ("default".into(), Some("platform".into()))]);
}

/// A tier's end that only Kubernetes NetworkPolicies reached is Kubernetes isolation,
/// whatever tiers ran before; once a Calico policy of that tier applies too, it is the
/// tier's default action.
#[test]
fn a_tier_end_reached_only_by_network_policies_is_kubernetes_isolation() {
    let why = |extra: &[String]| {
        let mut objects = vec![
            tier("platform", "order: 200\ndefaultAction: Pass"),
            gnp("platform.pass", "tier: platform\nselector: app == 'web'\ningress: [{action: Pass}]"),
            knp("a", "web", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: nobody}}}]}]"),
        ];
        objects.extend_from_slice(extra);
        let c = with(&objects);
        let pkt = Packet::new(addr(&c, "a/client"), addr(&c, "a/web"), TCP, 80);
        let v = podwall_engine::evaluate(&c, &pkt).ingress;
        assert!(!v.allowed);
        let named = |ps: &[(usize, usize)]| -> Vec<String> {
            ps.iter().map(|&(t, p)| c.policies.tiers()[t].policies[p].name.clone()).collect()
        };
        match v.why(&c) {
            podwall_engine::Why::Isolated { policies, .. } => ("isolated", named(&policies)),
            podwall_engine::Why::TierEnd { policies, default, .. } => {
                assert_eq!(default, podwall_ir::TierDefault::Deny);
                ("tier end", named(&policies))
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(why(&[]), ("isolated", vec!["web".to_string()]));
    let calico = gnp("default.log", "selector: app == 'web'\ningress: [{action: Log}]");
    // The Calico policy has no order: it sorts after the NetworkPolicy (order 1000).
    assert_eq!(why(&[calico]), ("tier end", vec!["web".to_string(), "default.log".to_string()]));
}
