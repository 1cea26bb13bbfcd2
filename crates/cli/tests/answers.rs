//! What answers say: explain, check and summary agreeing, and saying what they leave out; flags and names as users type them.
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

const CILIUM: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: b, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.3}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: lock, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: []
"#;

fn podwall_out(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let out = podwall_stdin(args, input);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A policy kind podwall cannot evaluate is never a silent "everything is allowed": it is
/// warned about with its name, every answer about a pod it could select says that the
/// answer leaves it out, and `--fail-on-unknown-policy` turns it into exit 2.
#[test]
fn answers_about_pods_an_unevaluated_policy_could_select_say_so() {
    let (code, out, err) =
        podwall_out(&["check", "-f", "-", "--from", "b/other", "--to", "a/web", "--port", "80"], CILIUM);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("warning[NM002]: -:") && err.contains("CiliumNetworkPolicy a/lock"), "{err}");
    assert!(out.contains("note: CiliumNetworkPolicy a/lock may select a/web"), "{out}");
    // A pod of another namespace cannot be selected by a namespaced policy.
    let (_, out, _) = podwall_out(&["check", "-f", "-", "--from", "a/web", "--to", "b/other", "--port", "80"], CILIUM);
    assert!(out.contains("may select a/web") && !out.contains("may select b/other"), "{out}");
    let (_, out, _) = podwall_out(&["explain", "-f", "-", "b/other"], CILIUM);
    assert!(!out.contains("CiliumNetworkPolicy"), "{out}");
    let (_, out, _) = podwall_out(&["explain", "-f", "-", "a/web"], CILIUM);
    assert!(out.contains("note: CiliumNetworkPolicy a/lock may select a/web"), "{out}");
    let (_, out, _) =
        podwall_out(&["check", "-f", "-", "--from", "b/other", "--to", "a/web", "--port", "80", "-o", "json"], CILIUM);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["notes"].as_array().map(Vec::len), Some(1), "{v}");
    let (code, _, err) = podwall_out(
        &["check", "-f", "-", "--fail-on-unknown-policy", "--from", "b/other", "--to", "a/web", "--port", "80"],
        CILIUM,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("CiliumNetworkPolicy a/lock"), "{err}");
}

/// Workload templates have no address, so ipBlock rules never match them; the answer says
/// why instead of only "no rule admits this connection".
#[test]
fn a_template_end_and_ipblock_rules_are_explained() {
    let input = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: a}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]
"#;
    let (code, out, err) = podwall_out(
        &["check", "-f", "-", "--from", "a/Deployment/web", "--to", "a/Deployment/api", "--port", "80"],
        input,
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("note: a/Deployment/web has no address (a workload template): ipBlock rules never match it"),
        "{out}"
    );
}

/// No cluster holds two objects of one kind, namespace and name: the one read last is
/// used (as `kubectl apply` of the files in order leaves it), with a warning naming every
/// place; the union of both is never enforced.
#[test]
fn an_object_given_twice_counts_once_the_later_wins() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dup");
    let out = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(["check", "-f", dir, "--from", "default/client", "--to", "default/web", "--port", "80"])
        .output()
        .expect("run");
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{o}{e}");
    assert!(e.contains("b-policy.yaml:2: NetworkPolicy default/web: given 2 times"), "{e}");
    assert!(e.contains("a-pods.yaml:14"), "{e}");
    let out =
        Command::new(env!("CARGO_BIN_EXE_podwall")).args(["explain", "-f", dir, "default/web"]).output().expect("run");
    let o = String::from_utf8_lossy(&out.stdout);
    assert!(o.contains("ingress: governed by 1 policy"), "{o}");
    // The same file given twice is the same case.
    let file = format!("{dir}/a-pods.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(["explain", "-f", &file, "-f", &file, "default/web"])
        .output()
        .expect("run");
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(o.contains("ingress: governed by 1 policy") && e.contains("given 2 times"), "{o}{e}");
}

const DUMP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d4f
  namespace: a
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d4f-x1
  namespace: a
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4f, uid: u2, controller: true}]
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}, {ip: "fd00::1"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: lonely, namespace: a}
spec:
  selector: {matchLabels: {app: lonely}}
  template:
    metadata: {labels: {app: lonely}}
    spec: {containers: [{name: c, image: i}]}
"#;

/// A dump of a Deployment, its ReplicaSet and its Pods lists the Pods only: pods with an
/// owner in the input stand for it, and a template is an endpoint only when none of its
/// pods is given.
#[test]
fn pods_stand_for_the_workloads_that_own_them() {
    let (code, out, err) = podwall_out(&["matrix", "-f", "-", "--port", "80", "-o", "json"], DUMP);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["pods"], serde_json::json!(["a/Deployment/lonely", "a/web-5d4f-x1"]), "{v}");
    let (_, out, _) = podwall_out(&["explain", "-f", "-", "a/web-5d4f-x1"], DUMP);
    assert!(out.contains("made by a/Deployment/web"), "{out}");
    let (code, _, err) = podwall_out(&["explain", "-f", "-", "a/ReplicaSet/web-5d4f"], DUMP);
    assert_eq!(code, Some(2));
    assert!(err.contains("its pods in the input stand for it (a/web-5d4f-x1)"), "{err}");
    // Every address of a dual-stack pod is read.
    let (_, out, _) = podwall_out(&["explain", "-f", "-", "a/web-5d4f-x1", "-o", "json"], DUMP);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["addresses"], serde_json::json!(["10.0.0.1", "fd00::1"]), "{v}");
}

/// One definition of "reaches", shared by `explain` and `matrix --summary`: every endpoint
/// the matrix allows, the endpoint itself included. Checked on every endpoint of the
/// example cluster and of a dump where a workload's replicas talk to each other.
#[test]
fn explain_and_summary_count_the_same_peers() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let run = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_podwall")).args(args).output().expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).expect("json")
    };
    let summary = run(&["matrix", "-f", examples, "--summary", "-o", "json"]);
    let rows = summary.as_array().expect("rows");
    assert!(rows.len() > 3);
    let mut compared = 0;
    for row in rows {
        let pod = row["pod"].as_str().expect("pod");
        let explained = run(&["explain", "-f", examples, pod, "-o", "json"]);
        for (dir, key) in [("egress", "reaches"), ("ingress", "reached_by")] {
            for e in explained[dir]["effective"].as_array().expect("effective") {
                let port = row["ports"]
                    .as_array()
                    .expect("ports")
                    .iter()
                    .find(|p| p["protocol"] == e["protocol"] && p["port"] == e["port"])
                    .expect("the summary has every declared port");
                assert_eq!(e["count"], port[key], "{pod} {dir} {}/{}", e["protocol"], e["port"]);
                compared += 1;
            }
        }
    }
    assert!(compared > 10, "{compared}");
    // Replicas of one workload reach each other: the template counts itself.
    let sts = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: a}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 5432}]}]}
"#;
    let (_, out, _) = podwall_out(&["explain", "-f", "-", "a/StatefulSet/db", "-o", "json"], sts);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["egress"]["effective"][0]["count"], 1, "{v}");
    assert_eq!(v["ingress"]["effective"][0]["count"], 1, "{v}");
}

fn examples_run(args: &[&str]) -> (Option<i32>, String, String) {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut all = vec![args[0], "-f", examples];
    all.extend_from_slice(&args[1..]);
    let out = Command::new(env!("CARGO_BIN_EXE_podwall")).args(&all).output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--protocol` without `--port` picks the declared ports of that protocol.
#[test]
fn matrix_protocol_without_port_keeps_that_protocol() {
    let (code, out, err) = examples_run(&["matrix", "--protocol", "UDP", "-o", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let protocols: Vec<&str> = v.as_array().expect("array").iter().filter_map(|m| m["protocol"].as_str()).collect();
    assert!(!protocols.is_empty() && protocols.iter().all(|p| *p == "UDP"), "{protocols:?}");
}

/// Ports are 1-65535; a port name is a number only on the pod that declares it, so
/// `check` resolves it on the destination and `matrix` asks for the number.
#[test]
fn port_flags_take_numbers_and_check_resolves_names_on_the_destination() {
    let (code, _, err) = examples_run(&["matrix", "--port", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("port 0 is out of range (1-65535)"), "{err}");
    let (code, _, err) = examples_run(&["matrix", "--port", "http"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("\"http\" is a port name"), "{err}");
    let by_name = examples_run(&["check", "--from", "shop/frontend", "--to", "shop/api", "--port", "http"]);
    let by_number = examples_run(&["check", "--from", "shop/frontend", "--to", "shop/api", "--port", "8080"]);
    assert_eq!(by_name, by_number);
    let (code, _, err) = examples_run(&["check", "--from", "shop/frontend", "--to", "shop/api", "--port", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("declares no TCP port named \"nope\""), "{err}");
}

/// ICMP answers name the type and code; ICMP flags on a protocol with ports are an error,
/// not silently ignored.
#[test]
fn icmp_checks_show_type_and_code_and_icmp_flags_need_icmp() {
    let (_, out, _) = examples_run(&[
        "check",
        "--from",
        "shop/frontend",
        "--to",
        "shop/api",
        "--protocol",
        "ICMP",
        "--icmp-type",
        "8",
    ]);
    assert!(out.contains("ICMP type 8 code 0"), "{out}");
    let (code, _, err) =
        examples_run(&["check", "--from", "shop/frontend", "--to", "shop/api", "--port", "8080", "--icmp-type", "8"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--icmp-type and --icmp-code apply to ICMP, not TCP"), "{err}");
}

/// Names as users type them: kinds in any case; a workload named like a pod is offered;
/// a long list of pods says how many it leaves out.
#[test]
fn endpoint_names_as_users_type_them() {
    let input = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: f}}
  template:
    metadata: {labels: {app: f}}
    spec: {containers: [{name: c, image: i}]}
"#;
    let (code, out, err) = podwall_out(&["explain", "-f", "-", "shop/deployment/frontend"], input);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("shop/Deployment/frontend"), "{out}");
    let (code, _, err) = podwall_out(&["explain", "-f", "-", "shop/frontend"], input);
    assert_eq!(code, Some(2));
    assert!(err.contains("did you mean shop/Deployment/frontend?"), "{err}");
    let many: String = (0..12)
        .map(|i| format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i:02}, namespace: n}}\nspec: {{containers: [{{name: c, image: i}}]}}\n"))
        .collect();
    let (_, _, err) = podwall_out(&["explain", "-f", "-", "n/nope"], &many);
    assert!(err.contains("n/p07 and 4 more"), "{err}");
}

/// A Kubernetes isolation deny reads the same whatever other tiers did before it.
#[test]
fn a_kubernetes_deny_is_worded_one_way() {
    let base = r#"
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
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
"#;
    let calico = r#"
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.watch}
spec:
  tier: platform
  selector: app == 'web'
  ingress: [{action: Log}]
"#;
    let args = ["check", "-f", "-", "--from", "a/client", "--to", "a/web", "--port", "80"];
    let (_, plain, _) = podwall_out(&args, base);
    let (_, mixed, _) = podwall_out(&args, &format!("{base}{calico}"));
    let line = |t: &str| t.lines().find(|l| l.trim_start().starts_with("ingress")).unwrap_or_default().to_string();
    assert!(line(&plain).contains("a/web is isolated for ingress by NetworkPolicy a/web"), "{plain}");
    assert_eq!(line(&plain), line(&mixed), "{mixed}");
}

/// Every `port` key in a JSON document, with where it is.
fn ports_in(v: &serde_json::Value, at: &str, out: &mut Vec<(String, serde_json::Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "port" {
                    out.push((format!("{at}.port"), x.clone()));
                }
                ports_in(x, &format!("{at}.{k}"), out);
            }
        }
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| ports_in(x, &format!("{at}[{i}]"), out)),
        _ => {}
    }
}

/// One type for a port in every JSON output: a number (the matrix form says so with
/// `"version": 2`).
#[test]
fn every_json_output_gives_the_port_as_a_number() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let runs: [&[&str]; 6] = [
        &["matrix", "--port", "8080", "-o", "json"],
        &["matrix", "-o", "json"],
        &["matrix", "--summary", "-o", "json"],
        &["check", "--from", "shop/frontend", "--to", "shop/api", "--port", "8080", "-o", "json"],
        &["explain", "shop/api", "-o", "json"],
        &[
            "diff",
            "--to",
            examples,
            "--to",
            &format!("{examples}/../crates/cli/tests/diff/default-deny.yaml"),
            "-o",
            "json",
        ],
    ];
    for args in runs {
        let (code, out, err) = examples_run(args);
        assert!(matches!(code, Some(0 | 1)), "{args:?}: exit {code:?}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
        let mut ports = Vec::new();
        ports_in(&v, "", &mut ports);
        assert!(!ports.is_empty(), "{args:?}: no port in {v}");
        for (at, p) in ports {
            assert!(p.as_u64().is_some_and(|n| (1..=65535).contains(&n)), "{args:?}: {at} is {p}, not a port number");
        }
        if args[0] == "matrix" && !args.contains(&"--summary") {
            let matrices = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
            assert!(matrices.iter().all(|m| m["version"] == 2), "{args:?}: {v}");
        }
    }
}
