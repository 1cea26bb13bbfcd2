//! Kubernetes NetworkPolicy semantics, one test per rule of `shared/specs/netpol.md`.
//!
//! Every expectation here was written from the Kubernetes documentation and the API
//! reference (networking.k8s.io/v1), not from podwall's output. Clusters are small
//! inline manifests; `common::allowed` judges each connection with the reference
//! evaluator and, for pod pairs, cross-checks the set-based matrix.
//!
//! Addresses: pods live in 10.0.0.0/16; 203.0.113.0/24 and 198.51.100.0/24 are
//! outside the cluster. Only `pod_cannot_block_access_to_itself` looks at a pod talking
//! to itself.
mod common;

use common::{allowed, cluster_str};
use podwall_ir::{Cluster, Protocol};

const TCP: Protocol = Protocol::TCP;
const UDP: Protocol = Protocol::UDP;
const SCTP: Protocol = Protocol::SCTP;

const OUTSIDE: &str = "203.0.113.9";

/// A Namespace with labels (a YAML flow mapping, e.g. `{team: a}`).
fn ns(name: &str, labels: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {labels}\n---\n")
}

/// A Pod without container ports.
fn pod(ns: &str, name: &str, labels: &str, ip: &str) -> String {
    pod_ports(ns, name, labels, ip, "[]")
}

/// A Pod with container ports (a YAML flow sequence of ContainerPorts).
fn pod_ports(ns: &str, name: &str, labels: &str, ip: &str, ports: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {labels}\n\
         spec:\n  containers:\n  - name: c\n    image: busybox\n    ports: {ports}\nstatus:\n  podIP: {ip}\n---\n"
    )
}

/// Strips the common indentation of `text` and indents every line by `by` spaces.
fn reindent(text: &str, by: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let min = lines.iter().map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let pad = " ".repeat(by);
    lines.iter().map(|l| format!("{pad}{}\n", &l[min..])).collect()
}

/// A NetworkPolicy in namespace `ns` with `spec` (YAML, any common indentation).
fn np(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{}---\n",
        reindent(spec, 2)
    )
}

fn cluster(parts: &[String]) -> Cluster {
    cluster_str(&parts.concat())
}

/// Asserts a list of `(from, to, protocol, port, expected)` verdicts, reporting all
/// failures at once.
#[track_caller]
fn expect(c: &Cluster, cases: &[(&str, &str, Protocol, u16, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|&(from, to, proto, port, want)| {
            let got = allowed(c, from, to, proto, Some(port));
            (got != want).then(|| {
                format!(
                    "{from} -> {to} {proto}/{port}: expected {}, got {}",
                    if want { "allow" } else { "deny" },
                    if got { "allow" } else { "deny" }
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
}

const ALLOW: bool = true;
const DENY: bool = false;

// --- Isolation ------------------------------------------------------------------

#[test]
fn isolation_is_per_direction() {
    let pods = [pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "client", "{app: client}", "10.0.0.2")];
    // An Ingress-only policy isolates web for ingress; web's egress stays open.
    let ingress_only = np("a", "deny-in", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress]");
    let c = cluster(&[pods[0].clone(), pods[1].clone(), ingress_only]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, DENY),
            ("a/web", "a/client", TCP, 80, ALLOW),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
    // An Egress-only policy isolates client for egress; its ingress stays open.
    let egress_only = np("a", "deny-out", "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]");
    let c = cluster(&[pods[0].clone(), pods[1].clone(), egress_only]);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, DENY),
            ("a/client", OUTSIDE, TCP, 443, DENY),
            ("a/web", "a/client", TCP, 80, ALLOW),
            (OUTSIDE, "a/client", TCP, 80, ALLOW),
        ],
    );
}

#[test]
fn policies_are_additive_union() {
    let pods = [
        pod("a", "db", "{app: db}", "10.0.0.1"),
        pod("a", "x", "{role: x}", "10.0.0.2"),
        pod("a", "y", "{role: y}", "10.0.0.3"),
    ];
    let p1 = np(
        "a",
        "from-x-80",
        r#"
        podSelector: {matchLabels: {app: db}}
        ingress:
        - from: [{podSelector: {matchLabels: {role: x}}}]
          ports: [{port: 80}]
        "#,
    );
    let p2 = np(
        "a",
        "from-y-443",
        r#"
        podSelector: {matchLabels: {app: db}}
        ingress:
        - from: [{podSelector: {matchLabels: {role: y}}}]
          ports: [{port: 443}]
        "#,
    );
    // A deny-all selecting the same pod removes nothing: there is no deny.
    let deny_all = np("a", "deny-all", "podSelector: {}\npolicyTypes: [Ingress]");
    let cases = [
        ("a/x", "a/db", TCP, 80, ALLOW),
        ("a/x", "a/db", TCP, 443, DENY),
        ("a/y", "a/db", TCP, 443, ALLOW),
        ("a/y", "a/db", TCP, 80, DENY),
    ];
    let mut parts = pods.to_vec();
    parts.extend([p1.clone(), p2.clone()]);
    expect(&cluster(&parts), &cases);
    // Order does not matter.
    let mut parts = pods.to_vec();
    parts.extend([deny_all.clone(), p2.clone(), p1.clone()]);
    expect(&cluster(&parts), &cases);
    let mut parts = vec![p1, deny_all, p2];
    parts.extend(pods.iter().cloned());
    expect(&cluster(&parts), &cases);
}

#[test]
fn both_egress_and_ingress_must_allow() {
    let pods = [
        pod("a", "s", "{app: s}", "10.0.0.1"),
        pod("a", "d", "{app: d}", "10.0.0.2"),
        pod("a", "o", "{app: o}", "10.0.0.3"),
    ];
    let s_egress = np(
        "a",
        "s-egress",
        r#"
        podSelector: {matchLabels: {app: s}}
        policyTypes: [Egress]
        egress:
        - to: [{podSelector: {matchLabels: {app: d}}}]
          ports: [{port: 80}]
        "#,
    );
    let d_ingress = np(
        "a",
        "d-ingress",
        r#"
        podSelector: {matchLabels: {app: d}}
        ingress:
        - from: [{podSelector: {matchLabels: {app: o}}}]
        "#,
    );
    let mut parts = pods.to_vec();
    parts.extend([s_egress.clone(), d_ingress.clone()]);
    expect(
        &cluster(&parts),
        &[
            ("a/s", "a/d", TCP, 80, DENY),  // egress allows, ingress does not
            ("a/o", "a/d", TCP, 80, ALLOW), // o is not isolated, d admits o
            ("a/s", "a/o", TCP, 80, DENY),  // ingress open, egress does not allow
        ],
    );
    let d_admits_s = np(
        "a",
        "d-admits-s",
        r#"
        podSelector: {matchLabels: {app: d}}
        ingress:
        - from: [{podSelector: {matchLabels: {app: s}}}]
        "#,
    );
    let mut parts = pods.to_vec();
    parts.extend([s_egress, d_ingress, d_admits_s]);
    expect(
        &cluster(&parts),
        &[
            ("a/s", "a/d", TCP, 80, ALLOW), // both sides allow
            ("a/s", "a/d", TCP, 81, DENY),  // ingress allows any port, egress only 80
        ],
    );
}

#[test]
fn policy_never_affects_other_namespaces() {
    let parts = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("b", "web", "{app: web}", "10.0.1.1"),
        pod("b", "client", "{app: client}", "10.0.1.2"),
        np("a", "deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
        np("a", "deny-web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress]"),
    ];
    expect(
        &cluster(&parts),
        &[
            ("b/client", "b/web", TCP, 80, ALLOW),
            ("b/web", "b/client", TCP, 80, ALLOW),
            ("b/web", OUTSIDE, TCP, 443, ALLOW),
            (OUTSIDE, "b/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, DENY), // a/web's ingress is isolated
            ("a/client", "b/web", TCP, 80, DENY), // a/client's egress is isolated
        ],
    );
}

#[test]
fn missing_or_empty_pod_selector_selects_every_pod_of_own_namespace() {
    let pods = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("b", "client", "{app: client}", "10.0.1.2"),
    ];
    for spec in [
        "policyTypes: [Ingress]",
        "podSelector: {}\npolicyTypes: [Ingress]",
        "podSelector: {matchLabels: {}}\npolicyTypes: [Ingress]",
    ] {
        let mut parts = pods.to_vec();
        parts.push(np("a", "deny-in", spec));
        expect(
            &cluster(&parts),
            &[
                ("b/client", "a/web", TCP, 80, DENY),
                ("b/client", "a/client", TCP, 80, DENY),
                ("a/web", "a/client", TCP, 80, DENY),
                ("a/web", "b/client", TCP, 80, ALLOW),
            ],
        );
    }
}

#[test]
fn policy_selecting_no_pod_has_no_effect() {
    let parts = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        np("a", "deny-nobody", "podSelector: {matchLabels: {app: nothing}}\npolicyTypes: [Ingress, Egress]"),
        np(
            "a",
            "allow-nobody",
            r#"
            podSelector: {matchLabels: {app: nothing}}
            ingress:
            - from: [{podSelector: {matchLabels: {app: client}}}]
              ports: [{port: 80}]
            "#,
        ),
        // A policy in a namespace without pods selects no pod either.
        np("empty", "deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
    ];
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 81, ALLOW),
            ("a/web", "a/client", UDP, 53, ALLOW),
            (OUTSIDE, "a/web", TCP, 22, ALLOW),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
}

#[test]
fn udp_only_rule_still_isolates_tcp() {
    let pods = [pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "client", "{app: client}", "10.0.0.2")];
    let udp = np(
        "a",
        "udp-53",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
        - ports: [{protocol: UDP, port: 53}]
        "#,
    );
    let mut parts = pods.to_vec();
    parts.push(udp);
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", UDP, 53, ALLOW),
            ("a/client", "a/web", TCP, 53, DENY),
            ("a/client", "a/web", TCP, 80, DENY),
            ("a/client", "a/web", SCTP, 53, DENY),
        ],
    );
    let sctp = np(
        "a",
        "sctp-5000",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
        - ports: [{protocol: SCTP, port: 5000}]
        "#,
    );
    let mut parts = pods.to_vec();
    parts.push(sctp);
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", SCTP, 5000, ALLOW),
            ("a/client", "a/web", TCP, 5000, DENY),
            ("a/client", "a/web", UDP, 5000, DENY),
        ],
    );
}

// --- policyTypes ------------------------------------------------------------------

#[test]
fn policy_types_absent_means_ingress_plus_egress_iff_egress_rules() {
    let pods = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "db", "{app: db}", "10.0.0.2"),
        pod("a", "client", "{app: client}", "10.0.0.3"),
    ];
    // Only egress rules and no policyTypes: Ingress (deny-all) and Egress.
    let egress_rules = r#"
        podSelector: {matchLabels: {app: web}}
        egress:
        - to: [{podSelector: {matchLabels: {app: db}}}]
          ports: [{port: 5432}]
        "#;
    // An explicit empty list is defaulted like an absent one.
    let empty_types = format!("{}policyTypes: []\n", reindent(egress_rules, 0));
    for spec in [egress_rules, empty_types.as_str()] {
        let mut parts = pods.to_vec();
        parts.push(np("a", "web-egress", spec));
        expect(
            &cluster(&parts),
            &[
                ("a/client", "a/web", TCP, 80, DENY), // ingress isolated, no ingress rule
                (OUTSIDE, "a/web", TCP, 80, DENY),
                ("a/web", "a/db", TCP, 5432, ALLOW),
                ("a/web", "a/db", TCP, 80, DENY),
                ("a/web", OUTSIDE, TCP, 443, DENY),
            ],
        );
    }
    // Only ingress rules and no policyTypes: Ingress only; egress stays open.
    let mut parts = pods.to_vec();
    parts.push(np(
        "a",
        "web-ingress",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
        - from: [{podSelector: {matchLabels: {app: client}}}]
          ports: [{port: 80}]
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("a/db", "a/web", TCP, 80, DENY),
            ("a/web", "a/db", TCP, 5432, ALLOW),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
}

#[test]
fn empty_egress_list_without_policy_types_is_ingress_only() {
    // The API server adds Egress only when len(egress) != 0.
    let pods = [pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "db", "{app: db}", "10.0.0.2")];
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: web}}\ningress: [{}]\negress: []"));
    expect(
        &cluster(&parts),
        &[
            ("a/db", "a/web", TCP, 80, ALLOW), // the empty ingress rule admits everything
            ("a/web", "a/db", TCP, 5432, ALLOW),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: web}}\negress: []"));
    expect(
        &cluster(&parts),
        &[
            ("a/db", "a/web", TCP, 80, DENY), // Ingress included, no ingress rule
            ("a/web", "a/db", TCP, 5432, ALLOW),
            ("a/web", OUTSIDE, TCP, 443, ALLOW),
        ],
    );
}

#[test]
fn policy_types_egress_ignores_ingress_rules() {
    let parts = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "db", "{app: db}", "10.0.0.2"),
        pod("a", "client", "{app: client}", "10.0.0.3"),
        np(
            "a",
            "egress-only",
            r#"
            podSelector: {matchLabels: {app: web}}
            policyTypes: [Egress]
            ingress:
            - from: [{podSelector: {matchLabels: {app: client}}}]
              ports: [{port: 80}]
            egress:
            - to: [{podSelector: {matchLabels: {app: db}}}]
            "#,
        ),
    ];
    expect(
        &cluster(&parts),
        &[
            // web is not isolated for ingress: the ingress rules are ignored.
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("a/db", "a/web", TCP, 80, ALLOW),
            ("a/db", "a/web", TCP, 9999, ALLOW),
            (OUTSIDE, "a/web", UDP, 53, ALLOW),
            // Egress is isolated and follows the egress rules.
            ("a/web", "a/db", TCP, 80, ALLOW),
            ("a/web", "a/client", TCP, 80, DENY),
            ("a/web", OUTSIDE, TCP, 443, DENY),
        ],
    );
}

#[test]
fn direction_in_policy_types_without_rules_denies_all() {
    let pods = [pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "client", "{app: client}", "10.0.0.2")];
    for spec in [
        "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress, Egress]",
        "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress, Egress]\ningress: []\negress: []",
    ] {
        let mut parts = pods.to_vec();
        parts.push(np("a", "deny-all", spec));
        expect(
            &cluster(&parts),
            &[
                ("a/client", "a/web", TCP, 80, DENY),
                ("a/client", "a/web", UDP, 53, DENY),
                (OUTSIDE, "a/web", TCP, 80, DENY),
                ("a/web", "a/client", TCP, 80, DENY),
                ("a/web", OUTSIDE, TCP, 443, DENY),
            ],
        );
    }
}

// --- Rules and peers -----------------------------------------------------------------

#[test]
fn rule_without_from_matches_every_peer_including_external() {
    let pods = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("b", "client", "{app: client}", "10.0.1.2"),
    ];
    for rule in ["- ports: [{port: 80}]", "- from: []\n  ports: [{port: 80}]"] {
        let mut parts = pods.to_vec();
        parts.push(np("a", "web-80", &format!("podSelector: {{matchLabels: {{app: web}}}}\ningress:\n{rule}")));
        expect(
            &cluster(&parts),
            &[
                ("a/client", "a/web", TCP, 80, ALLOW),
                ("b/client", "a/web", TCP, 80, ALLOW),
                (OUTSIDE, "a/web", TCP, 80, ALLOW),
                ("198.51.100.1", "a/web", TCP, 80, ALLOW),
                ("a/client", "a/web", TCP, 81, DENY),
                (OUTSIDE, "a/web", TCP, 81, DENY),
            ],
        );
    }
    // The same for egress rules without `to`.
    for rule in ["- ports: [{port: 443}]", "- to: []\n  ports: [{port: 443}]"] {
        let mut parts = pods.to_vec();
        parts.push(np(
            "a",
            "client-443",
            &format!("podSelector: {{matchLabels: {{app: client}}}}\npolicyTypes: [Egress]\negress:\n{rule}"),
        ));
        expect(
            &cluster(&parts),
            &[
                ("a/client", OUTSIDE, TCP, 443, ALLOW),
                ("a/client", "a/web", TCP, 443, ALLOW),
                ("a/client", "b/client", TCP, 443, ALLOW),
                ("a/client", OUTSIDE, TCP, 80, DENY),
            ],
        );
    }
}

#[test]
fn rule_without_ports_matches_every_port_and_protocol() {
    let pods = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("a", "other", "{app: other}", "10.0.0.3"),
    ];
    for rule in [
        "- from: [{podSelector: {matchLabels: {app: client}}}]",
        "- from: [{podSelector: {matchLabels: {app: client}}}]\n  ports: []",
    ] {
        let mut parts = pods.to_vec();
        parts.push(np("a", "from-client", &format!("podSelector: {{matchLabels: {{app: web}}}}\ningress:\n{rule}")));
        expect(
            &cluster(&parts),
            &[
                ("a/client", "a/web", TCP, 1, ALLOW),
                ("a/client", "a/web", TCP, 80, ALLOW),
                ("a/client", "a/web", TCP, 65535, ALLOW),
                ("a/client", "a/web", UDP, 53, ALLOW),
                ("a/client", "a/web", SCTP, 9, ALLOW),
                ("a/other", "a/web", TCP, 80, DENY),
            ],
        );
    }
}

#[test]
fn peers_or_ports_and() {
    let pods = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "x", "{role: x}", "10.0.0.2"),
        pod("a", "y", "{role: y}", "10.0.0.3"),
        pod("a", "z", "{role: z}", "10.0.0.4"),
    ];
    let mut parts = pods.to_vec();
    parts.push(np(
        "a",
        "one-rule",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
        - from:
          - podSelector: {matchLabels: {role: x}}
          - podSelector: {matchLabels: {role: y}}
          ports:
          - port: 80
          - port: 443
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("a/x", "a/web", TCP, 80, ALLOW),
            ("a/x", "a/web", TCP, 443, ALLOW),
            ("a/y", "a/web", TCP, 80, ALLOW),
            ("a/y", "a/web", TCP, 443, ALLOW),
            ("a/x", "a/web", TCP, 22, DENY), // a listed peer, an unlisted port
            ("a/z", "a/web", TCP, 80, DENY), // a listed port, an unlisted peer
        ],
    );
    // Two rules: each pairs its own peers with its own ports, no cross product.
    let mut parts = pods.to_vec();
    parts.push(np(
        "a",
        "two-rules",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
        - from: [{podSelector: {matchLabels: {role: x}}}]
          ports: [{port: 80}]
        - from: [{podSelector: {matchLabels: {role: y}}}]
          ports: [{port: 443}]
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("a/x", "a/web", TCP, 80, ALLOW),
            ("a/x", "a/web", TCP, 443, DENY),
            ("a/y", "a/web", TCP, 443, ALLOW),
            ("a/y", "a/web", TCP, 80, DENY),
        ],
    );
}

/// Namespaces a (team=a), b (team=b), c (team=c); a/web is the target of every test.
fn three_namespaces() -> Vec<String> {
    vec![
        ns("a", "{team: a}"),
        ns("b", "{team: b}"),
        ns("c", "{team: c}"),
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("b", "client", "{app: client}", "10.0.1.2"),
        pod("b", "other", "{app: other}", "10.0.1.3"),
        pod("c", "client", "{app: client}", "10.0.2.2"),
    ]
}

fn web_admits(peers: &str) -> String {
    np(
        "a",
        "web-admits",
        &format!("podSelector: {{matchLabels: {{app: web}}}}\ningress:\n- from:\n{}", reindent(peers, 2)),
    )
}

#[test]
fn namespace_and_pod_selector_in_one_peer_is_and() {
    let mut parts = three_namespaces();
    parts.push(web_admits(
        r#"
        - namespaceSelector: {matchLabels: {team: b}}
          podSelector: {matchLabels: {app: client}}
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/other", "a/web", TCP, 80, DENY),  // right namespace, wrong pod
            ("c/client", "a/web", TCP, 80, DENY), // right pod, wrong namespace
            ("a/client", "a/web", TCP, 80, DENY), // the policy's own namespace is not team=b
            (OUTSIDE, "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn pod_selector_alone_means_own_namespace() {
    let mut parts = three_namespaces();
    parts.push(web_admits("- podSelector: {matchLabels: {app: client}}"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, DENY),
            ("c/client", "a/web", TCP, 80, DENY),
        ],
    );
    // `podSelector: {}` alone: every pod of the own namespace, and nothing else.
    let mut parts = three_namespaces();
    parts.push(web_admits("- podSelector: {}"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn namespace_selector_alone_means_all_pods_of_matching_namespaces() {
    let mut parts = three_namespaces();
    parts.push(web_admits("- namespaceSelector: {matchLabels: {team: b}}"));
    expect(
        &cluster(&parts),
        &[
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/other", "a/web", TCP, 80, ALLOW),
            ("c/client", "a/web", TCP, 80, DENY),
            ("a/client", "a/web", TCP, 80, DENY),
            (OUTSIDE, "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn empty_namespace_selector_means_all_namespaces() {
    let mut parts = three_namespaces();
    parts.push(web_admits("- namespaceSelector: {}"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("b/other", "a/web", TCP, 80, ALLOW),
            ("c/client", "a/web", TCP, 80, ALLOW),
            (OUTSIDE, "a/web", TCP, 80, DENY), // all pods, not all addresses
        ],
    );
    let mut parts = three_namespaces();
    parts.push(web_admits("- namespaceSelector: {}\n  podSelector: {matchLabels: {app: client}}"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("c/client", "a/web", TCP, 80, ALLOW),
            ("b/other", "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn two_list_items_are_or() {
    // The documentation's YAML-indentation example: two items, not one.
    let mut parts = three_namespaces();
    parts.push(web_admits(
        r#"
        - namespaceSelector: {matchLabels: {team: b}}
        - podSelector: {matchLabels: {app: client}}
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("b/other", "a/web", TCP, 80, ALLOW),  // by the namespace item
            ("a/client", "a/web", TCP, 80, ALLOW), // by the pod item (own namespace)
            ("b/client", "a/web", TCP, 80, ALLOW),
            ("c/client", "a/web", TCP, 80, DENY), // neither item
        ],
    );
}

#[test]
fn ipblock_except_removed() {
    let mut parts = vec![pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "client", "{app: client}", "10.0.0.2")];
    parts.push(np(
        "a",
        "from-block",
        r#"
        podSelector: {matchLabels: {app: web}}
        ingress:
        - from:
          - ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}
        "#,
    ));
    parts.push(np(
        "a",
        "to-block",
        r#"
        podSelector: {matchLabels: {app: client}}
        policyTypes: [Egress]
        egress:
        - to:
          - ipBlock: {cidr: 198.51.100.0/24, except: [198.51.100.0/28, 198.51.100.64/26]}
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("203.0.113.5", "a/web", TCP, 80, ALLOW),
            ("203.0.113.127", "a/web", TCP, 80, ALLOW),
            ("203.0.113.128", "a/web", TCP, 80, DENY),
            ("203.0.113.200", "a/web", TCP, 80, DENY),
            ("198.51.100.1", "a/web", TCP, 80, DENY),
            ("a/client", "198.51.100.16", TCP, 443, ALLOW),
            ("a/client", "198.51.100.15", TCP, 443, DENY),
            ("a/client", "198.51.100.100", TCP, 443, DENY),
            ("a/client", "198.51.100.200", TCP, 443, ALLOW),
            ("a/client", OUTSIDE, TCP, 443, DENY),
        ],
    );
}

#[test]
fn ipblock_matches_pod_ip() {
    let parts = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "db", "{app: db}", "10.0.0.5"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("b", "inside", "{app: x}", "10.0.0.20"),
        pod("b", "excepted", "{app: x}", "10.0.0.200"),
        pod("b", "elsewhere", "{app: x}", "10.9.0.1"),
        np(
            "a",
            "from-pod-range",
            r#"
            podSelector: {matchLabels: {app: web}}
            ingress:
            - from:
              - ipBlock: {cidr: 10.0.0.0/24, except: [10.0.0.128/25]}
            "#,
        ),
        np(
            "a",
            "client-to-db-ip",
            r#"
            podSelector: {matchLabels: {app: client}}
            policyTypes: [Egress]
            egress:
            - to:
              - ipBlock: {cidr: 10.0.0.5/32}
            "#,
        ),
    ];
    expect(
        &cluster(&parts),
        &[
            ("b/inside", "a/web", TCP, 80, ALLOW),
            ("10.0.0.20", "a/web", TCP, 80, ALLOW), // the same pod, by its address
            ("b/excepted", "a/web", TCP, 80, DENY),
            ("b/elsewhere", "a/web", TCP, 80, DENY),
            ("a/client", "a/db", TCP, 5432, ALLOW),
            ("a/client", "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn match_labels_and_expressions_are_anded() {
    let mut parts = vec![
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "c1", "{app: client, env: prod, track: stable}", "10.0.0.11"),
        pod("a", "c2", "{app: client, env: dev}", "10.0.0.12"),
        pod("a", "c3", "{app: other, env: prod}", "10.0.0.13"),
        pod("a", "c4", "{app: client}", "10.0.0.14"),
        pod("a", "c5", "{app: client, env: staging, track: canary}", "10.0.0.15"),
        pod("a", "c6", "{app: client, env: staging}", "10.0.0.16"),
    ];
    parts.push(web_admits(
        r#"
        - podSelector:
            matchLabels: {app: client}
            matchExpressions:
            - {key: env, operator: In, values: [prod, staging]}
            - {key: track, operator: NotIn, values: [canary]}
        "#,
    ));
    expect(
        &cluster(&parts),
        &[
            ("a/c1", "a/web", TCP, 80, ALLOW),
            ("a/c2", "a/web", TCP, 80, DENY), // env not in the set
            ("a/c3", "a/web", TCP, 80, DENY), // matchLabels fails
            ("a/c4", "a/web", TCP, 80, DENY), // no env: In needs the key
            ("a/c5", "a/web", TCP, 80, DENY), // second expression fails
            ("a/c6", "a/web", TCP, 80, ALLOW),
        ],
    );
}

#[test]
fn not_in_and_does_not_exist_match_missing_key() {
    let pods = [
        ns("a", "{}"),
        ns("prod", "{env: prod}"),
        ns("bare", "{}"),
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "none", "{app: x}", "10.0.0.2"),
        pod("a", "dev", "{app: x, env: dev}", "10.0.0.3"),
        pod("a", "prod", "{app: x, env: prod}", "10.0.0.4"),
        pod("a", "blank", "{app: x, env: \"\"}", "10.0.0.5"),
        pod("prod", "p", "{app: x}", "10.0.1.1"),
        pod("bare", "p", "{app: x}", "10.0.2.1"),
    ];
    let mut parts = pods.to_vec();
    parts.push(web_admits("- podSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}"));
    expect(
        &cluster(&parts),
        &[
            ("a/none", "a/web", TCP, 80, ALLOW), // no env label at all
            ("a/dev", "a/web", TCP, 80, ALLOW),
            ("a/blank", "a/web", TCP, 80, ALLOW),
            ("a/prod", "a/web", TCP, 80, DENY),
        ],
    );
    let mut parts = pods.to_vec();
    parts.push(web_admits("- podSelector: {matchExpressions: [{key: env, operator: DoesNotExist}]}"));
    expect(
        &cluster(&parts),
        &[
            ("a/none", "a/web", TCP, 80, ALLOW),
            ("a/dev", "a/web", TCP, 80, DENY),
            ("a/blank", "a/web", TCP, 80, DENY), // the key exists, with an empty value
        ],
    );
    // The same holds for namespace labels.
    let mut parts = pods.to_vec();
    parts.push(web_admits("- namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}"));
    expect(&cluster(&parts), &[("bare/p", "a/web", TCP, 80, ALLOW), ("prod/p", "a/web", TCP, 80, DENY)]);
    let mut parts = pods.to_vec();
    parts.push(web_admits("- namespaceSelector: {matchExpressions: [{key: env, operator: DoesNotExist}]}"));
    expect(&cluster(&parts), &[("bare/p", "a/web", TCP, 80, ALLOW), ("prod/p", "a/web", TCP, 80, DENY)]);
}

#[test]
fn exists_matches_empty_value() {
    let pods = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "blank", "{canary: \"\"}", "10.0.0.2"),
        pod("a", "set", "{canary: \"yes\"}", "10.0.0.3"),
        pod("a", "none", "{app: x}", "10.0.0.4"),
    ];
    let mut parts = pods.to_vec();
    parts.push(web_admits("- podSelector: {matchExpressions: [{key: canary, operator: Exists}]}"));
    expect(
        &cluster(&parts),
        &[("a/blank", "a/web", TCP, 80, ALLOW), ("a/set", "a/web", TCP, 80, ALLOW), ("a/none", "a/web", TCP, 80, DENY)],
    );
    // matchLabels with an empty value matches exactly the empty value.
    let mut parts = pods.to_vec();
    parts.push(web_admits("- podSelector: {matchLabels: {canary: \"\"}}"));
    expect(
        &cluster(&parts),
        &[("a/blank", "a/web", TCP, 80, ALLOW), ("a/set", "a/web", TCP, 80, DENY), ("a/none", "a/web", TCP, 80, DENY)],
    );
}

#[test]
fn every_namespace_has_metadata_name_label() {
    let parts = [
        ns("a", "{team: a}"),
        ns("declared", "{}"),                                  // declared, no labels at all
        ns("other", "{team: x}"),                              // declared, other labels only
        ns("liar", "{kubernetes.io/metadata.name: declared}"), // the server sets the real name
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("declared", "p", "{app: x}", "10.0.1.1"),
        pod("undeclared", "p", "{app: x}", "10.0.2.1"), // no Namespace object
        pod("other", "p", "{app: x}", "10.0.3.1"),
        pod("liar", "p", "{app: x}", "10.0.4.1"),
        web_admits(
            r#"
            - namespaceSelector:
                matchExpressions:
                - {key: kubernetes.io/metadata.name, operator: In, values: [declared, undeclared]}
            - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}
              podSelector: {matchLabels: {app: client}}
            "#,
        ),
    ];
    expect(
        &cluster(&parts),
        &[
            ("declared/p", "a/web", TCP, 80, ALLOW),
            ("undeclared/p", "a/web", TCP, 80, ALLOW),
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("other/p", "a/web", TCP, 80, DENY),
            ("liar/p", "a/web", TCP, 80, DENY),
        ],
    );
}

#[test]
fn answers_depend_only_on_the_objects_given() {
    // The same policy; only a namespace label differs between the two inputs.
    let policy = web_admits("- namespaceSelector: {matchLabels: {team: ops}}");
    let base = |labels: &str| {
        vec![
            ns("b", labels),
            pod("a", "web", "{app: web}", "10.0.0.1"),
            pod("b", "client", "{app: client}", "10.0.1.2"),
            policy.clone(),
        ]
    };
    expect(&cluster(&base("{team: ops}")), &[("b/client", "a/web", TCP, 80, ALLOW)]);
    expect(&cluster(&base("{team: dev}")), &[("b/client", "a/web", TCP, 80, DENY)]);
}

// --- Ports ---------------------------------------------------------------------------

#[test]
fn protocol_defaults_to_tcp() {
    let pods = [pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "client", "{app: client}", "10.0.0.2")];
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{port: 53}]"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 53, ALLOW),
            ("a/client", "a/web", UDP, 53, DENY),
            ("a/client", "a/web", SCTP, 53, DENY),
        ],
    );
    // A port entry with neither protocol nor port: every TCP port, nothing else.
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{}]"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 1, ALLOW),
            ("a/client", "a/web", TCP, 8080, ALLOW),
            ("a/client", "a/web", UDP, 53, DENY),
        ],
    );
}

#[test]
fn named_port_resolves_against_destination_pod_per_protocol() {
    let srv_ports = "[{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}, {name: web, containerPort: 8080}]";
    let pods = [
        pod_ports("a", "srv", "{app: srv}", "10.0.0.1", srv_ports),
        // The client declares the same names with other numbers.
        pod_ports(
            "a",
            "client",
            "{app: client}",
            "10.0.0.2",
            "[{name: dns, containerPort: 5353, protocol: UDP}, {name: web, containerPort: 9000}]",
        ),
    ];
    // `port: dns` with the default protocol TCP: srv's `dns` is UDP, so nothing matches.
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: srv}}\ningress:\n- ports: [{port: dns}]"));
    expect(&cluster(&parts), &[("a/client", "a/srv", TCP, 53, DENY), ("a/client", "a/srv", UDP, 53, DENY)]);
    // With protocol UDP the name resolves on srv (the destination), not on the client.
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: srv}}\ningress:\n- ports: [{protocol: UDP, port: dns}]"));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/srv", UDP, 53, ALLOW),
            ("a/client", "a/srv", TCP, 53, DENY),
            ("a/client", "a/srv", UDP, 5353, DENY),
        ],
    );
    // In an egress rule the destination is the peer: `web` means srv's 8080, not the
    // client's own 9000.
    let mut parts = pods.to_vec();
    parts.push(np(
        "a",
        "p",
        "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\negress:\n- ports: [{port: web}]",
    ));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/srv", TCP, 8080, ALLOW),
            ("a/client", "a/srv", TCP, 9000, DENY),
            ("a/client", "a/srv", UDP, 8080, DENY),
        ],
    );
}

#[test]
fn named_port_means_different_numbers_on_different_pods() {
    let pods = [
        pod_ports("a", "web1", "{app: web}", "10.0.0.1", "[{name: http, containerPort: 80}]"),
        pod_ports("a", "web2", "{app: web}", "10.0.0.2", "[{name: http, containerPort: 8080}]"),
        pod("a", "web3", "{app: web}", "10.0.0.3"), // no port named http
        pod("a", "client", "{app: client}", "10.0.0.9"),
    ];
    let cases = [
        ("a/client", "a/web1", TCP, 80, ALLOW),
        ("a/client", "a/web1", TCP, 8080, DENY),
        ("a/client", "a/web2", TCP, 8080, ALLOW),
        ("a/client", "a/web2", TCP, 80, DENY),
        ("a/client", "a/web3", TCP, 80, DENY),
        ("a/client", "a/web3", TCP, 8080, DENY),
    ];
    let mut parts = pods.to_vec();
    parts.push(np("a", "p", "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{port: http}]"));
    expect(&cluster(&parts), &cases);
    let mut parts = pods.to_vec();
    parts.push(np(
        "a",
        "p",
        "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\negress:\n- ports: [{port: http}]",
    ));
    expect(&cluster(&parts), &cases);
}

#[test]
fn named_port_in_egress_never_matches_external_address() {
    let pods = [
        pod_ports("a", "web", "{app: web}", "10.0.0.1", "[{name: http, containerPort: 80}]"),
        pod_ports("a", "client", "{app: client}", "10.0.0.2", "[{name: http, containerPort: 80}]"),
    ];
    for rule in ["- ports: [{port: http}]", "- to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n  ports: [{port: http}]"] {
        let mut parts = pods.to_vec();
        parts.push(np(
            "a",
            "p",
            &format!("podSelector: {{matchLabels: {{app: client}}}}\npolicyTypes: [Egress]\negress:\n{rule}"),
        ));
        expect(
            &cluster(&parts),
            &[
                ("a/client", "a/web", TCP, 80, ALLOW),
                ("a/client", OUTSIDE, TCP, 80, DENY),
                ("a/client", "198.51.100.1", TCP, 80, DENY),
            ],
        );
    }
}

#[test]
fn end_port_makes_inclusive_range() {
    let mut parts = vec![pod("a", "web", "{app: web}", "10.0.0.1"), pod("a", "client", "{app: client}", "10.0.0.2")];
    parts.push(np(
        "a",
        "range",
        "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{protocol: TCP, port: 32000, endPort: 32768}]",
    ));
    parts.push(np(
        "a",
        "single",
        "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\negress:\n- ports: [{port: 53, endPort: 53}]",
    ));
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", TCP, 31999, DENY),
            ("a/client", "a/web", TCP, 32000, DENY), // client's egress admits only 53
            (OUTSIDE, "a/web", TCP, 31999, DENY),
            (OUTSIDE, "a/web", TCP, 32000, ALLOW),
            (OUTSIDE, "a/web", TCP, 32500, ALLOW),
            (OUTSIDE, "a/web", TCP, 32768, ALLOW),
            (OUTSIDE, "a/web", TCP, 32769, DENY),
            (OUTSIDE, "a/web", UDP, 32000, DENY),
            ("a/client", OUTSIDE, TCP, 53, ALLOW),
            ("a/client", OUTSIDE, TCP, 52, DENY),
            ("a/client", OUTSIDE, TCP, 54, DENY),
        ],
    );
}

#[test]
fn port_entry_with_protocol_only_matches_all_ports_of_it() {
    let parts = [
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        np("a", "p", "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{protocol: UDP}]"),
    ];
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/web", UDP, 1, ALLOW),
            ("a/client", "a/web", UDP, 53, ALLOW),
            ("a/client", "a/web", UDP, 65535, ALLOW),
            ("a/client", "a/web", TCP, 53, DENY),
            ("a/client", "a/web", SCTP, 53, DENY),
        ],
    );
}

#[test]
fn external_address_governed_by_ipblock_only() {
    let mut parts = vec![
        pod("a", "web", "{app: web}", "10.0.0.1"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        pod("b", "client", "{app: client}", "10.0.1.2"),
        pod("b", "open", "{app: open}", "10.0.1.3"),
    ];
    parts.push(web_admits("- podSelector: {}\n- namespaceSelector: {}"));
    parts.push(np(
        "a",
        "client-egress",
        "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\negress:\n- to: [{namespaceSelector: {}}]",
    ));
    let c = cluster(&parts);
    expect(
        &c,
        &[
            ("a/client", "a/web", TCP, 80, ALLOW),
            ("b/client", "a/web", TCP, 80, ALLOW),
            (OUTSIDE, "a/web", TCP, 80, DENY), // selectors never match an outside address
            ("a/client", "b/open", TCP, 80, ALLOW),
            ("a/client", OUTSIDE, TCP, 80, DENY),
            (OUTSIDE, "b/open", TCP, 80, ALLOW), // not isolated: no policy, nothing to match
            ("b/open", OUTSIDE, TCP, 80, ALLOW),
        ],
    );
    parts.push(np(
        "a",
        "web-from-block",
        "podSelector: {matchLabels: {app: web}}\ningress:\n- from: [{ipBlock: {cidr: 203.0.113.0/24}}]",
    ));
    expect(&cluster(&parts), &[(OUTSIDE, "a/web", TCP, 80, ALLOW), ("198.51.100.1", "a/web", TCP, 80, DENY)]);
}

// --- Objects ---------------------------------------------------------------------------

#[test]
fn objects_without_namespace_land_in_default() {
    let text = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec: {containers: [{name: c, image: nginx}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec: {containers: [{name: c, image: busybox}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec: {containers: [{name: c, image: busybox}]}
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: named, namespace: b, labels: {app: named}}
spec: {containers: [{name: c, image: busybox}]}
status: {podIP: 10.0.1.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: b}
spec:
  podSelector: {matchLabels: {app: named}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}}]
"#;
    let c = cluster_str(text);
    assert!(c.endpoint("default/web").is_some(), "a Pod without namespace is default/web");
    assert!(c.endpoint("default/client").is_some());
    expect(
        &c,
        &[
            ("default/client", "default/web", TCP, 80, ALLOW),
            ("b/client", "default/web", TCP, 80, DENY), // the policy's namespace is default
            ("default/client", "b/named", TCP, 80, ALLOW), // default carries its name label
            ("b/client", "b/named", TCP, 80, DENY),
        ],
    );
}

#[test]
fn template_endpoints_named_ns_kind_name() {
    let text = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a, labels: {app: wrong}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: api
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: a}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: a, labels: {app: client}}
spec: {containers: [{name: c, image: busybox}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: a, labels: {app: other}}
spec: {containers: [{name: c, image: busybox}]}
status: {podIP: 10.0.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: a}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
"#;
    let c = cluster_str(text);
    assert!(c.endpoint("a/Deployment/api").is_some(), "the Deployment's pods are a/Deployment/api");
    assert!(c.endpoint("a/StatefulSet/db").is_some(), "the StatefulSet's pods are a/StatefulSet/db");
    assert!(c.endpoint("a/api").is_some(), "a Pod named like the Deployment stays a/api");
    expect(
        &c,
        &[
            // Selected by the template's labels; the named port resolves on the template.
            ("a/api", "a/Deployment/api", TCP, 8080, ALLOW),
            ("a/api", "a/Deployment/api", TCP, 9090, DENY),
            ("a/other", "a/Deployment/api", TCP, 8080, DENY),
            // The template's labels (not the Deployment's) match peers.
            ("a/Deployment/api", "a/StatefulSet/db", TCP, 5432, ALLOW),
            ("a/api", "a/StatefulSet/db", TCP, 5432, DENY),
        ],
    );
}

#[test]
fn sctp_is_supported() {
    let parts = [
        pod_ports("a", "mme", "{app: mme}", "10.0.0.1", "[{name: diameter, containerPort: 3868, protocol: SCTP}]"),
        pod("a", "client", "{app: client}", "10.0.0.2"),
        np(
            "a",
            "p",
            r#"
            podSelector: {matchLabels: {app: mme}}
            ingress:
            - ports:
              - {protocol: SCTP, port: 9999}
              - {protocol: SCTP, port: diameter}
            "#,
        ),
    ];
    expect(
        &cluster(&parts),
        &[
            ("a/client", "a/mme", SCTP, 9999, ALLOW),
            ("a/client", "a/mme", SCTP, 3868, ALLOW),
            ("a/client", "a/mme", SCTP, 3869, DENY),
            ("a/client", "a/mme", TCP, 9999, DENY),
            ("a/client", "a/mme", UDP, 9999, DENY),
            ("a/client", "a/mme", TCP, 3868, DENY),
        ],
    );
}

/// "A pod cannot block access to itself" (Kubernetes docs, Network Policies: the entities
/// a pod can communicate with). A workload template stands for many pods: its pair with
/// itself is replica to replica and stays governed.
#[test]
fn pod_cannot_block_access_to_itself() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\n\
        spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: x}]}\n---\n"
        .to_string();
    let c = cluster(&[
        pod("a", "web", "{app: web}", "10.0.0.1"),
        deployment,
        np("a", "deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
    ]);
    expect(&c, &[("a/web", "a/web", TCP, 80, ALLOW), ("a/Deployment/web", "a/Deployment/web", TCP, 80, DENY)]);
}

/// An endpoint without an address (a template, a pending pod) is known to lie in an
/// ipBlock only when the block holds every address: a /0 with no `except`. With an
/// except, the address it will get may be the excluded one (typically the pod network).
#[test]
fn ipblock_with_except_never_matches_an_endpoint_without_address() {
    let c = cluster(&[
        pod("a", "client", "{app: client}", "10.0.0.1"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: pending, namespace: a, labels: {app: s}}\nspec: {containers: [{name: c, image: x}]}\n---\n".to_string(),
        np("a", "internet", "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\negress:\n- to:\n  - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}"),
    ]);
    expect(&c, &[("a/client", "a/pending", TCP, 80, DENY), ("a/client", OUTSIDE, TCP, 80, ALLOW)]);
    let c = cluster(&[
        pod("a", "client", "{app: client}", "10.0.0.1"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: pending, namespace: a, labels: {app: s}}\nspec: {containers: [{name: c, image: x}]}\n---\n".to_string(),
        np("a", "anywhere", "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\negress:\n- to:\n  - ipBlock: {cidr: 0.0.0.0/0}"),
    ]);
    expect(&c, &[("a/client", "a/pending", TCP, 80, ALLOW)]);
}
