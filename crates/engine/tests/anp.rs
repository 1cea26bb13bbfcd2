//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).
//!
//! Each test pins one rule of the API (its type documentation, API overview and
//! conformance tests) as the spec note `calico-anp.md` section 8 states it, on a small
//! cluster: namespaces `a` (team=a) and `b` (team=b), two pods in each, and [`NODES`].
mod common;

use common::{addr, allowed, cluster_str, compile_error, isolate, np_allow_all, NODES};
use podwall_engine::{evaluate, Decision, Packet};
use podwall_ir::{Cluster, Protocol};
use podwall_load::InputError;

const UNIVERSE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  containers:
    - name: web
      image: nginx
      ports:
        - {name: http, containerPort: 8080, protocol: TCP}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec:
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
        - {name: dns, containerPort: 53, protocol: UDP}
status: {podIP: 10.0.2.2}
"#;

/// The universe plus `policies`.
fn with(policies: &str) -> Cluster {
    cluster_str(&format!("{UNIVERSE}\n---\n{NODES}\n---\n{policies}"))
}

/// The error compiling the universe plus `policies` gives.
fn error(policies: &str) -> InputError {
    compile_error(&format!("{UNIVERSE}\n---\n{NODES}\n---\n{policies}"))
}

fn tcp(c: &Cluster, from: &str, to: &str, port: u16) -> bool {
    allowed(c, from, to, Protocol::TCP, Some(port))
}

fn udp(c: &Cluster, from: &str, to: &str, port: u16) -> bool {
    allowed(c, from, to, Protocol::UDP, Some(port))
}

fn join(docs: &[&str]) -> String {
    docs.join("\n---\n")
}

// ---- precedence between ANP, NetworkPolicy and BANP ----

#[test]
fn anp_allow_is_final_over_networkpolicy_isolation() {
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-b-to-a}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Allow
      from: [{namespaces: {matchLabels: {team: b}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-b-egress-to-a}
spec:
  priority: 11
  subject: {namespaces: {matchLabels: {team: b}}}
  egress:
    - action: Allow
      to: [{namespaces: {matchLabels: {team: a}}}]
"#;
    // Without the ANP, the NetworkPolicies isolate: nothing gets in to `a`, nothing out of `b`.
    let np = join(&[&isolate("a", "Ingress"), &isolate("b", "Egress")]);
    let c = with(&np);
    assert!(!tcp(&c, "b/client", "a/web", 80));
    let c = with(&join(&[&np, anp]));
    // Ingress subject (a/web): the ANP Allow wins over a's isolation; egress subject
    // (b/client): the ANP Allow wins over b's egress isolation.
    assert!(tcp(&c, "b/client", "a/web", 80));
    assert!(tcp(&c, "b/db", "a/client", 443));
    // Traffic no ANP rule matches still meets the NetworkPolicy isolation.
    assert!(!tcp(&c, "a/client", "a/web", 80), "a -> a is isolated at ingress");
    assert!(!tcp(&c, "b/client", "b/db", 80), "b -> b is isolated at egress");
}

#[test]
fn anp_deny_is_final_over_networkpolicy_allow() {
    let np = join(&[&np_allow_all("a", "Ingress"), &np_allow_all("b", "Egress")]);
    let ingress = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-b-to-a}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{namespaces: {matchLabels: {team: b}}}]
"#;
    let c = with(&join(&[&np, ingress]));
    assert!(!tcp(&c, "b/client", "a/web", 80));
    assert!(tcp(&c, "a/client", "a/web", 80), "a -> a: no ANP rule matches, the NetworkPolicy allows");
    let egress = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-b-to-web}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: client}}}}
  egress:
    - action: Deny
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
"#;
    let c = with(&join(&[&np, egress]));
    assert!(!tcp(&c, "b/client", "a/web", 80), "egress subject b/client is denied");
    assert!(tcp(&c, "b/db", "a/web", 80), "b/db is not in the subject");
    assert!(tcp(&c, "b/client", "a/client", 80), "a/client is not a peer");
}

#[test]
fn anp_pass_defers_to_networkpolicy() {
    // a admits only b/client; ANP 10 passes everything from b; ANP 20 would deny it.
    let np = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b-client, namespace: a}
spec:
  podSelector: {}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: client}}}]
"#;
    let anps = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-b}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Pass
      from: [{namespaces: {matchLabels: {team: b}}}]
    - action: Deny
      from: [{namespaces: {matchLabels: {team: b}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-b}
spec:
  priority: 20
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{namespaces: {matchLabels: {team: b}}}]
"#;
    let c = with(&join(&[np, anps]));
    // Pass skips the rest of its ANP and every later ANP: the NetworkPolicy decides.
    assert!(tcp(&c, "b/client", "a/web", 80), "the NetworkPolicy allows b/client");
    assert!(!tcp(&c, "b/db", "a/web", 80), "the NetworkPolicy isolates a from b/db");

    // Egress: b passes to a; b's NetworkPolicy isolates egress, a later ANP would allow.
    let egress = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-egress}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {team: b}}}
  egress:
    - action: Pass
      to: [{namespaces: {matchLabels: {team: a}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-egress}
spec:
  priority: 2
  subject: {namespaces: {matchLabels: {team: b}}}
  egress:
    - action: Allow
      to: [{namespaces: {}}]
"#;
    let c = with(&join(&[&isolate("b", "Egress"), egress]));
    assert!(!tcp(&c, "b/client", "a/web", 80), "passed to b's isolating NetworkPolicy");
    assert!(tcp(&c, "b/client", "b/db", 80), "not passed: the later ANP allows");
}

#[test]
fn anp_pass_then_banp_when_no_networkpolicy() {
    let policies = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-b}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress:
    - action: Pass
      from: [{namespaces: {matchLabels: {team: b}}}]
  egress:
    - action: Pass
      to: [{namespaces: {matchLabels: {team: a}}}]
    - action: Allow
      to: [{namespaces: {}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{namespaces: {matchLabels: {team: b}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {team: b}}}
  egress:
    - action: Deny
      to: [{pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: web}}}}]
"#;
    // The second BANP declaration replaces the first (one object, declared twice).
    let c = with(policies);
    assert!(c.warnings.iter().any(|w| w.about().as_deref() == Some("BaselineAdminNetworkPolicy default")));
    assert!(!tcp(&c, "b/client", "a/web", 80), "egress: passed, no NetworkPolicy, the BANP denies");
    assert!(tcp(&c, "b/client", "a/client", 80), "egress: passed, the BANP rule does not match: allowed");
    assert!(tcp(&c, "b/client", "b/db", 80), "egress: the ANP's second rule allows");

    let only_ingress = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-b}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress:
    - action: Pass
      from: [{namespaces: {matchLabels: {team: b}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{namespaces: {matchLabels: {team: b}}}]
"#;
    let c = with(only_ingress);
    assert!(!tcp(&c, "b/client", "a/web", 80), "ingress: passed, no NetworkPolicy, the BANP denies");
    assert!(tcp(&c, "a/client", "a/web", 80), "ingress: nothing matches anywhere: allowed");
}

#[test]
fn networkpolicy_isolation_hides_banp() {
    let banp_allow = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
    - action: Allow
      from: [{namespaces: {}}]
  egress:
    - action: Allow
      to: [{namespaces: {}}]
"#;
    // A pod a NetworkPolicy selects is decided there: isolation denies, the BANP Allow
    // is never consulted (ingress subject a/web, egress subject b/client).
    let c = with(&join(&[&isolate("a", "Ingress"), &isolate("b", "Egress"), banp_allow]));
    assert!(!tcp(&c, "a/client", "a/web", 80), "a/client's egress: BANP allows; a/web's ingress: isolated");
    assert!(!tcp(&c, "b/client", "b/db", 80), "b/client's egress: isolated; b/db's ingress: BANP allows");
    assert!(tcp(&c, "a/client", "b/db", 80), "no NetworkPolicy on a's egress nor b's ingress");

    let banp_deny = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
    - action: Deny
      from: [{namespaces: {}}]
  egress:
    - action: Deny
      to: [{namespaces: {}}]
"#;
    // A NetworkPolicy allow is likewise final over the BANP Deny.
    let c = with(&join(&[&np_allow_all("a", "Ingress"), &np_allow_all("a", "Egress"), banp_deny]));
    assert!(tcp(&c, "a/client", "a/web", 80), "a's NetworkPolicies allow both directions");
    assert!(!tcp(&c, "a/client", "b/db", 80), "b's ingress falls to the BANP Deny");
    assert!(!tcp(&c, "b/client", "a/web", 80), "b's egress falls to the BANP Deny");
}

#[test]
fn pods_select_by_namespace_and_pod_labels() {
    // a/client and b/client share app=client; only the namespace labels tell them apart.
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: b-clients}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: client}}}}
  ingress:
    - action: Deny
      from: [{pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: client}}}}]
  egress:
    - action: Deny
      to: [{pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: client}}}}]
"#;
    let c = with(anp);
    assert!(!tcp(&c, "a/client", "b/client", 80), "ingress at the subject b/client");
    assert!(!tcp(&c, "b/client", "a/client", 80), "egress at the subject b/client");
    assert!(tcp(&c, "a/client", "a/web", 80), "a/client is no subject");
    assert!(tcp(&c, "b/client", "b/client", 80), "b/client is no peer");
    assert!(tcp(&c, "a/web", "b/client", 80), "a/web is no peer");
    assert!(tcp(&c, "a/client", "b/db", 80), "b/db is no subject");
}

// ---- order ----

#[test]
fn lower_priority_number_runs_first() {
    // Names sort against priorities, and 9 < 10 numerically (not as text).
    let anps = |allow: u32, deny: u32| {
        format!(
            r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: z-allow}}
spec:
  priority: {allow}
  subject: {{namespaces: {{matchLabels: {{team: a}}}}}}
  ingress:
    - action: Allow
      from: [{{namespaces: {{}}}}]
  egress:
    - action: Allow
      to: [{{namespaces: {{}}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: a-deny}}
spec:
  priority: {deny}
  subject: {{namespaces: {{matchLabels: {{team: a}}}}}}
  ingress:
    - action: Deny
      from: [{{namespaces: {{}}}}]
  egress:
    - action: Deny
      to: [{{namespaces: {{}}}}]
"#
        )
    };
    let c = with(&anps(9, 10));
    assert!(tcp(&c, "b/client", "a/web", 80), "ingress: priority 9 Allow runs before 10 Deny");
    assert!(tcp(&c, "a/web", "b/client", 80), "egress: priority 9 Allow runs before 10 Deny");
    let c = with(&anps(10, 9));
    assert!(!tcp(&c, "b/client", "a/web", 80), "ingress: priority 9 Deny runs before 10 Allow");
    assert!(!tcp(&c, "a/web", "b/client", 80), "egress: priority 9 Deny runs before 10 Allow");
}

#[test]
fn same_priority_is_warned_about() {
    let anps = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: one}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: two}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
"#;
    let c = with(anps);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.about().as_deref() == Some("AdminNetworkPolicy one") && w.message.contains("two")));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.about().as_deref() == Some("AdminNetworkPolicy two") && w.message.contains("one")));
}

#[test]
fn rules_run_in_written_order() {
    let deny_first = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ordered}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}]
      ports: [{portNumber: {port: 80}}]
    - action: Allow
      from: [{namespaces: {}}]
  egress:
    - action: Deny
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}]
      ports: [{portNumber: {port: 80}}]
    - action: Allow
      to: [{namespaces: {}}]
"#;
    let c = with(&join(&[&isolate("a", "Ingress"), &isolate("a", "Egress"), deny_first]));
    // Ingress at a/web.
    assert!(!tcp(&c, "b/client", "a/web", 80), "rule 0 (Deny) matches first");
    assert!(tcp(&c, "b/client", "a/web", 443), "rule 0 does not match port 443; rule 1 allows");
    assert!(tcp(&c, "b/db", "a/web", 80), "rule 0 does not match b/db; rule 1 allows");
    // Egress at a/web.
    assert!(!tcp(&c, "a/web", "b/db", 80), "rule 0 (Deny) matches first");
    assert!(tcp(&c, "a/web", "b/db", 443), "rule 1 allows the rest");
    assert!(tcp(&c, "a/web", "b/client", 80), "rule 1 allows the rest");

    let allow_first = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ordered}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Allow
      from: [{namespaces: {}}]
    - action: Deny
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}]
      ports: [{portNumber: {port: 80}}]
  egress:
    - action: Allow
      to: [{namespaces: {}}]
    - action: Deny
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}]
      ports: [{portNumber: {port: 80}}]
"#;
    let c = with(allow_first);
    assert!(tcp(&c, "b/client", "a/web", 80), "rule 0 (Allow) matches first");
    assert!(tcp(&c, "a/web", "b/db", 80), "rule 0 (Allow) matches first");
}

// ---- peers ----

#[test]
fn anp_networks_match_pod_ips() {
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-b-range}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  egress:
    - action: Deny
      to: [{networks: ["10.0.2.0/24", "203.0.113.0/24"]}]
"#;
    let c = with(anp);
    assert!(!tcp(&c, "a/client", "b/client", 80), "a pod address inside the network");
    assert!(!tcp(&c, "a/web", "b/db", 80), "a pod address inside the network");
    assert!(!tcp(&c, "a/web", "203.0.113.9", 443), "an outside address inside the network");
    assert!(tcp(&c, "a/client", "a/web", 80), "10.0.1.1 is outside the networks");
    assert!(tcp(&c, "a/client", "198.51.100.1", 80));
    assert!(tcp(&c, "b/client", "b/db", 80), "b is not the subject");

    // The baseline's networks match pod addresses too.
    let banp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress:
    - action: Deny
      to: [{networks: ["10.0.1.1/32"]}]
"#;
    let c = with(banp);
    assert!(!tcp(&c, "b/client", "a/web", 80));
    assert!(tcp(&c, "b/client", "a/client", 80));
}

#[test]
fn nodes_peer_matches_node_addresses() {
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-workers}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
    - action: Deny
      to: [{nodes: {matchLabels: {role: worker}}}]
"#;
    let c = with(anp);
    assert!(!tcp(&c, "a/client", "192.168.0.1", 10250), "node-1's address");
    assert!(!tcp(&c, "a/client", "kube-system/agent", 9100), "a host-network pod has its node's address");
    assert!(!tcp(&c, "a/client", "fd00::1", 10250), "node-1's IPv6 address");
    assert!(tcp(&c, "a/client", "fd00::2", 10250), "a /128, not a wider range");
    assert!(tcp(&c, "a/client", "192.168.0.2", 10250), "node-2 is not a worker");
    assert!(tcp(&c, "a/client", "b/client", 80), "pods are not nodes");

    // A selector no node matches makes a peer that matches nothing.
    let none = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-gpu}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
    - action: Deny
      to: [{nodes: {matchLabels: {role: gpu}}}]
"#;
    let c = with(none);
    assert!(tcp(&c, "a/client", "192.168.0.1", 10250));
    assert!(tcp(&c, "a/client", "b/client", 80));
    assert!(tcp(&c, "a/client", "8.8.8.8", 53));

    // `{}` selects every node.
    let all = anp.replace("{matchLabels: {role: worker}}", "{}");
    let c = with(&all);
    assert!(!tcp(&c, "a/client", "192.168.0.2", 10250));
}

#[test]
fn host_network_pods_are_never_subjects_nor_pod_peers() {
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-all}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress:
    - action: Deny
      from: [{namespaces: {}}]
  egress:
    - action: Deny
      to: [{namespaces: {}}]
"#;
    let c = with(anp);
    assert!(!tcp(&c, "a/client", "b/db", 80));
    // The host-network pod is no subject (its egress and ingress are unaffected) and no
    // `namespaces` peer (pods reaching it are not denied).
    assert!(tcp(&c, "a/client", "kube-system/agent", 9100));
    assert!(tcp(&c, "kube-system/agent", "kube-system/agent", 9100));
    assert!(tcp(&c, "kube-system/agent", "a/web", 80), "the agent is no namespaces peer of a/web's ingress");
}

#[test]
fn domain_names_match_nothing_and_are_warned_about() {
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-dns-names}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  egress:
    - action: Allow
      to: [{domainNames: ["*.example.com"]}]
    - action: Deny
      to: [{networks: ["0.0.0.0/0"]}]
"#;
    let c = with(anp);
    let w = c
        .warnings
        .iter()
        .find(|w| w.about().as_deref() == Some("AdminNetworkPolicy allow-dns-names"))
        .expect("a warning");
    assert!(w.message.contains("spec.egress[0].to[0].domainNames"), "{}", w.message);
    assert!(!tcp(&c, "a/client", "93.184.215.14", 443), "the domain peer matches nothing; the Deny does");
    assert!(!tcp(&c, "a/client", "b/client", 80));
}

// ---- ports ----

#[test]
fn named_port_resolves_on_destination() {
    let ingress = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-http}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{namespaces: {}}]
      ports: [{namedPort: http}]
"#;
    let c = with(ingress);
    // Ingress: resolved on the subject; a/web names 8080 `http` (b/db names 9090 so).
    assert!(!tcp(&c, "b/client", "a/web", 8080));
    assert!(!tcp(&c, "b/db", "a/web", 8080), "the source's own http port does not matter");
    assert!(tcp(&c, "b/client", "a/web", 9090), "9090 is b/db's http, not a/web's");
    assert!(tcp(&c, "b/client", "a/client", 8080), "a/client declares no http port");

    let egress = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-http-egress}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: b}}}
  egress:
    - action: Deny
      to: [{namespaces: {}}]
      ports: [{namedPort: http}]
"#;
    let c = with(egress);
    // Egress: resolved on the peer (the destination), not on the subject b/db (http = 9090).
    assert!(!tcp(&c, "b/db", "a/web", 8080));
    assert!(tcp(&c, "b/db", "a/web", 9090));
    assert!(!tcp(&c, "b/client", "b/db", 9090), "b/db's http port, as the destination");
    assert!(tcp(&c, "b/client", "a/client", 8080), "a/client declares no http port");
    // A named port matches its declared protocol only.
    let c = with(&egress.replace("namedPort: http", "namedPort: dns"));
    assert!(!udp(&c, "b/client", "b/db", 53));
    assert!(tcp(&c, "b/client", "b/db", 53));
}

#[test]
fn port_number_defaults_to_tcp_and_ranges_are_inclusive() {
    let anp = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ports}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{namespaces: {}}]
      ports:
        - portNumber: {port: 80}
        - portRange: {protocol: UDP, start: 1000, end: 1002}
        - portNumber: {protocol: SCTP, port: 7000}
"#;
    let c = with(anp);
    assert!(!tcp(&c, "b/client", "a/web", 80));
    assert!(udp(&c, "b/client", "a/web", 80), "portNumber defaults to TCP");
    assert!(udp(&c, "b/client", "a/web", 999));
    assert!(!udp(&c, "b/client", "a/web", 1000));
    assert!(!udp(&c, "b/client", "a/web", 1002));
    assert!(udp(&c, "b/client", "a/web", 1003));
    assert!(tcp(&c, "b/client", "a/web", 1001), "the range is UDP only");
    assert!(!allowed(&c, "b/client", "a/web", Protocol::SCTP, Some(7000)));
    // Without ports, every port and protocol matches.
    let any = anp.replace("      ports:\n        - portNumber: {port: 80}\n        - portRange: {protocol: UDP, start: 1000, end: 1002}\n        - portNumber: {protocol: SCTP, port: 7000}\n", "");
    assert_ne!(any, anp);
    let c = with(&any);
    assert!(!udp(&c, "b/client", "a/web", 5353));
    assert!(!allowed(&c, "b/client", "a/web", Protocol::ICMP, None));
}

// ---- directions ----

#[test]
fn no_rules_in_direction_leaves_it_unaffected() {
    let policies = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ingress-only}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress:
    - action: Deny
      from: [{namespaces: {matchLabels: {team: b}}}]
  egress: []
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
    - action: Deny
      from: [{namespaces: {matchLabels: {team: a}}}]
"#;
    let c = with(policies);
    assert!(!tcp(&c, "b/client", "a/web", 80));
    assert!(!tcp(&c, "a/client", "a/web", 80));
    // Egress: neither policy has egress rules, so no policy applies to it at all.
    let pkt = Packet::new(addr(&c, "a/client"), addr(&c, "b/db"), Protocol::TCP, 80);
    let v = evaluate(&c, &pkt);
    assert_eq!(v.egress.decision, Decision::NoPolicy);
    assert!(v.egress.applied.is_empty());
    assert!(v.egress.allowed);
    // Ingress at b/db: the ANP applies (no rule matches a), then the BANP denies a.
    assert!(!v.ingress.allowed);
    assert_eq!(v.ingress.applied.len(), 2);
}

// ---- errors ----

#[test]
fn banp_must_be_named_default() {
    let e = error(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: baseline}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
"#,
    );
    assert_eq!(e.field.as_deref(), Some("metadata.name"), "{e}");
    assert_eq!(e.object.as_deref(), Some("BaselineAdminNetworkPolicy baseline"));
}

#[test]
fn banp_has_no_pass_action() {
    let e = error(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
    - {action: Deny, from: [{namespaces: {}}]}
    - {action: Pass, from: [{namespaces: {}}]}
"#,
    );
    assert_eq!(e.field.as_deref(), Some("spec.ingress[1].action"), "{e}");
}

#[test]
fn unknown_action_is_an_error_naming_the_field() {
    let e = error(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: allow, to: [{namespaces: {}}]}]
"#,
    );
    assert_eq!(e.field.as_deref(), Some("spec.egress[0].action"), "{e}");
}

#[test]
fn invalid_cidr_is_an_error_naming_the_field() {
    let e = error(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: ["10.0.0.0/8", "10.0.0.300/32"]}]}]
"#,
    );
    assert_eq!(e.field.as_deref(), Some("spec.egress[0].to[0].networks[1]"), "{e}");
    assert_eq!(e.object.as_deref(), Some("AdminNetworkPolicy x"));
}

#[test]
fn empty_subject_is_an_error() {
    let none = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
"#;
    assert_eq!(error(none).field.as_deref(), Some("spec.subject"));
    let both = none.replace("subject: {}", "subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}");
    assert_eq!(error(&both).field.as_deref(), Some("spec.subject"));
}

#[test]
fn priority_is_required_and_in_range() {
    let anp = |p: &str| {
        format!(
            r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: x}}
spec:
  {p}
  subject: {{namespaces: {{}}}}
  ingress: [{{action: Deny, from: [{{namespaces: {{}}}}]}}]
"#
        )
    };
    assert_eq!(error(&anp("")).field.as_deref(), Some("spec.priority"));
    assert_eq!(error(&anp("priority: 1001")).field.as_deref(), Some("spec.priority"));
    assert_eq!(error(&anp("priority: -1")).field.as_deref(), Some("spec.priority"));
    let c = with(&anp("priority: 1000"));
    assert!(!tcp(&c, "a/client", "b/db", 80));
}

#[test]
fn peer_must_set_exactly_one_field() {
    let anp = |peer: &str| {
        format!(
            r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: x}}
spec:
  priority: 1
  subject: {{namespaces: {{}}}}
  egress: [{{action: Deny, to: [{{namespaces: {{}}}}, {peer}]}}]
"#
        )
    };
    assert_eq!(error(&anp("{}")).field.as_deref(), Some("spec.egress[0].to[1]"));
    assert_eq!(error(&anp("{namespaces: {}, networks: [10.0.0.0/8]}")).field.as_deref(), Some("spec.egress[0].to[1]"));
}

#[test]
fn ingress_peers_are_pods_or_namespaces_only() {
    let e = error(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{networks: [10.0.0.0/8]}]}]
"#,
    );
    assert_eq!(e.field.as_deref(), Some("spec.ingress[0].from[0].networks"), "{e}");
}

#[test]
fn empty_peer_list_is_an_error_not_a_match_all() {
    let anp = |rule: &str| {
        format!(
            r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: x}}
spec:
  priority: 1
  subject: {{namespaces: {{}}}}
  egress: [{rule}]
"#
        )
    };
    assert_eq!(error(&anp("{action: Deny, to: []}")).field.as_deref(), Some("spec.egress[0].to"));
    assert_eq!(error(&anp("{action: Deny}")).field.as_deref(), Some("spec.egress[0].to"));
    assert_eq!(
        error(&anp("{action: Deny, to: [{networks: []}]}")).field.as_deref(),
        Some("spec.egress[0].to[0].networks")
    );
    assert_eq!(
        error(&anp("{action: Deny, to: [{namespaces: {}}], ports: []}")).field.as_deref(),
        Some("spec.egress[0].ports")
    );
}

#[test]
fn invalid_ports_are_errors_naming_the_field() {
    let anp = |port: &str| {
        format!(
            r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: x}}
spec:
  priority: 1
  subject: {{namespaces: {{}}}}
  ingress: [{{action: Deny, from: [{{namespaces: {{}}}}], ports: [{port}]}}]
"#
        )
    };
    let field = |port: &str| error(&anp(port)).field;
    assert_eq!(field("{portNumber: {port: 0}}").as_deref(), Some("spec.ingress[0].ports[0].portNumber.port"));
    assert_eq!(field("{portNumber: {port: 65536}}").as_deref(), Some("spec.ingress[0].ports[0].portNumber.port"));
    assert_eq!(
        field("{portNumber: {protocol: tcp, port: 80}}").as_deref(),
        Some("spec.ingress[0].ports[0].portNumber.protocol")
    );
    assert_eq!(field("{portRange: {start: 90, end: 80}}").as_deref(), Some("spec.ingress[0].ports[0].portRange.end"));
    assert_eq!(field("{namedPort: HTTP}").as_deref(), Some("spec.ingress[0].ports[0].namedPort"));
    assert_eq!(field("{}").as_deref(), Some("spec.ingress[0].ports[0]"));
    assert_eq!(field("{namedPort: http, portNumber: {port: 80}}").as_deref(), Some("spec.ingress[0].ports[0]"));
}

#[test]
fn named_port_with_address_peers_is_an_error() {
    let e = error(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], ports: [{namedPort: http}]}]
"#,
    );
    assert_eq!(e.field.as_deref(), Some("spec.egress[0]"), "{e}");
}
