//! Proof tests on hand-written policies, one per dialect feature, on a small cluster:
//! namespaces `a` and `b`, four pods with addresses and one workload template without
//! (the lab allocates its address from 198.18.0.0/15, and the model sees the same one).
mod common;
use common::*;

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
        - {name: dns, containerPort: 53, protocol: UDP}
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
  containers:
    - name: c
      image: busybox
      ports: [{name: alt, containerPort: 9090, protocol: TCP}]
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
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: b}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: w
          image: w
          ports: [{containerPort: 8080, protocol: TCP}]
---
"#;

fn run(case: &str, lab: &str, policies: &str) {
    if !privileged(case) {
        return;
    }
    let r = up(lab, &cluster_of(&format!("{UNIVERSE}{policies}")));
    assert_kernel_is_model(case, &r);
}

#[test]
fn networkpolicy_ingress_isolation_named_port_and_egress_ipblock_except() {
    run(
        "networkpolicy_ingress_isolation_named_port_and_egress_ipblock_except",
        "t-knp",
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-b, namespace: a}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {team: b}}}]
      ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-egress, namespace: b}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.2/32]}}]
      ports: [{protocol: TCP, port: 8080}, {protocol: UDP, port: 53}]
"#,
    );
}

#[test]
fn calico_tiers_deny_pass_log_allow_and_default_action() {
    run(
        "calico_tiers_deny_pass_log_allow_and_default_action",
        "t-calico",
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 200, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.guard}
spec:
  tier: security
  order: 10
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Deny
      source: {selector: app == 'client', namespaceSelector: team == 'a'}
    - action: Log
    - action: Pass
      protocol: TCP
    - action: Allow
      protocol: UDP
      destination: {ports: [53]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.web}
spec:
  tier: platform
  order: 10
  selector: app == 'web'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      source: {namespaceSelector: team == 'b'}
      destination: {ports: [8080]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: default.db-tcp, namespace: b}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      source: {selector: app == 'worker'}
"#,
    );
}

#[test]
fn adminnetworkpolicy_allow_deny_pass_and_baseline_deny() {
    run(
        "adminnetworkpolicy_allow_deny_pass_and_baseline_deny",
        "t-anp",
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a-ingress}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - action: Deny
      from: [{pods: {namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: db}}}}]
    - action: Allow
      from: [{namespaces: {matchLabels: {team: b}}}]
      ports: [{portNumber: {protocol: TCP, port: 8080}}]
    - action: Pass
      from: [{namespaces: {matchLabels: {team: a}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
    - action: Deny
      from: [{namespaces: {}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-internal, namespace: a}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
"#,
    );
}
