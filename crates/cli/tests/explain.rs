//! `podwall explain` and the other commands agreeing with `check`.
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs podwall with `input` on standard input.
fn podwall_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podwall");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for podwall")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PASS_TIER: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 200, defaultAction: Deny}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.gate}
spec:
  tier: platform
  selector: app == 'web'
  ingress: [{action: Pass, source: {selector: app == 'client'}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{}]
"#;

/// A tier ending in Deny that holds a Pass rule hands the passed packets to the next
/// tier, which explain must show as reached (the Calico tier semantics).
#[test]
fn explain_shows_tiers_after_a_deny_tier_with_a_pass_rule_as_reached() {
    let text = stdout(&podwall_stdin(&["explain", "-f", "-", "a/web"], PASS_TIER));
    assert!(!text.contains("never reached"), "{text}");
    assert!(text.contains("tier \"default\" (order 1000000), in order:"), "{text}");
    // And without the Pass rule, the default tier is never reached.
    let allow_only = PASS_TIER.replace("action: Pass", "action: Allow");
    let text = stdout(&podwall_stdin(&["explain", "-f", "-", "a/web"], &allow_only));
    assert!(text.contains("tier \"default\" (order 1000000) — never reached: tier \"platform\""), "{text}");
}
