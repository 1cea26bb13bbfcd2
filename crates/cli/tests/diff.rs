//! `podwall diff` run as a program on the fixtures in `tests/diff/`.
//!
//! `before/` is a shop: web, api and db pods in `shop`, a probe in `ops`; only the api
//! is isolated (ingress), admitting the web pods on TCP 8080. Declared ports: TCP 80
//! (web), 8080 (api), 5432 (db). The expectations below follow from that by hand.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(out: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `podwall diff -f before/ --to ...`.
fn diff(to: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["diff", "-f", "tests/diff/before"];
    for t in to {
        args.extend(["--to", t]);
    }
    args.extend(extra);
    podwall(&args)
}

/// The changed-pair lines (`+ …` / `- …`) of a text report, without the object list
/// (indented) or the endpoint lists (after their heading).
fn pair_lines(out: &Output) -> BTreeSet<String> {
    text(&out.stdout)
        .lines()
        .take_while(|l| !l.starts_with("endpoints only"))
        .filter(|l| l.starts_with("+ ") || l.starts_with("- "))
        .map(str::to_string)
        .collect()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", describe(out)))
}

#[test]
fn a_default_deny_denies_what_reached_the_pods_it_isolates() {
    // default-deny isolates web and db (the api already was): every other endpoint loses
    // them, on each of the three ports; nothing is newly allowed.
    let out = diff(&["tests/diff/before", "tests/diff/default-deny.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("+ NetworkPolicy shop/default-deny"), "the object change is listed\n{stdout}");
    let want: BTreeSet<String> = [
        "- ops/probe, shop/api, shop/web → shop/db  (3 pairs)",
        "- ops/probe, shop/api, shop/db → shop/web  (3 pairs)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(pair_lines(&out), want, "{}", describe(&out));
    assert!(stdout.contains("TCP/80, TCP/5432, TCP/8080: +0 -6 on each"), "{stdout}");
    assert!(stdout.contains("18 pairs newly denied"), "{stdout}");
    // The reason, before and after, for the direction that changed (ingress) only.
    assert!(stdout.contains("was allowed: no policy selects shop/web for ingress"), "{stdout}");
    assert!(
        stdout.contains("now denied:  shop/web is isolated for ingress by NetworkPolicy shop/default-deny"),
        "{stdout}"
    );
    let (flows, findings) = stdout.split_once("\nfindings: ").expect("a findings section");
    assert!(!flows.contains("egress"), "egress did not change\n{stdout}");
    // The pods it isolates no longer carry NP001, nor the namespace NP002.
    assert!(findings.starts_with("0 added (0 high or worse), 3 fixed"), "{stdout}");
    assert!(findings.contains("  - medium   NP002  Namespace shop: "), "{stdout}");
}

#[test]
fn loosening_an_allow_admits_new_sources_on_its_port_only() {
    // api-allow now admits every namespace's pods on 8080: the db and the probe reach the
    // api on TCP/8080 (the web already did); other ports stay closed.
    let out = diff(&["tests/diff/before/workloads.yaml", "tests/diff/loosened.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("~ NetworkPolicy shop/api-allow"), "{stdout}");
    let want: BTreeSet<String> = ["+ ops/probe, shop/db → shop/api  (2 pairs)".to_string()].into();
    assert_eq!(pair_lines(&out), want, "{}", describe(&out));
    assert!(stdout.contains("\nTCP/8080: +2 -0\n"), "{stdout}");
    assert!(!stdout.contains("TCP/80:") && !stdout.contains("TCP/5432:"), "{stdout}");
    assert!(stdout.contains("now allowed: tier \"default\""), "{stdout}");
    assert!(stdout.contains("NetworkPolicy shop/api-allow ingress rule 1"), "{stdout}");
    // The reverse change takes exactly those pairs away.
    let out = podwall(&[
        "diff",
        "-f",
        "tests/diff/before/workloads.yaml",
        "-f",
        "tests/diff/loosened.yaml",
        "--to",
        "tests/diff/before",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let want: BTreeSet<String> = ["- ops/probe, shop/db → shop/api  (2 pairs)".to_string()].into();
    assert_eq!(pair_lines(&out), want, "{}", describe(&out));
}

#[test]
fn the_same_objects_read_from_other_files_are_no_change() {
    let out = diff(&["tests/diff/split"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("objects: no change"), "{stdout}");
    assert!(stdout.contains("reachability: no pair changed on 3 ports"), "{stdout}");
    assert!(pair_lines(&out).is_empty(), "{stdout}");
    let out = diff(&["tests/diff/split"], &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json(&out);
    assert_eq!(v["changed"], Value::Bool(false));
    assert_eq!(v["objects"], serde_json::json!([]));
}

#[test]
fn a_pod_only_in_one_state_is_listed_with_its_counts() {
    // web-2 is like web: not isolated. On TCP/80 it reaches db, probe, web and itself
    // (not the api: 8080 only) and is reached by all five; on 8080 it reaches the api too.
    let out = diff(&["tests/diff/before", "tests/diff/rollout.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "a new endpoint is a change\n{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("+ pod shop/web-2"), "{stdout}");
    assert!(stdout.contains("no pair changed"), "pairs of endpoints in both states are unchanged\n{stdout}");
    assert!(stdout.contains("endpoints only in the new state"), "{stdout}");
    assert!(stdout.contains("+ shop/web-2  TCP/80 4/5  TCP/5432 4/5  TCP/8080 5/5"), "{stdout}");
    // And the other way round, as a removal with its counts in the old state.
    let out = podwall(&[
        "diff",
        "-f",
        "tests/diff/before",
        "-f",
        "tests/diff/rollout.yaml",
        "--to",
        "tests/diff/before",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json(&out);
    assert_eq!(v["added"], serde_json::json!([]));
    let removed = v["removed"].as_array().expect("removed");
    assert_eq!(removed.len(), 1, "{v:#}");
    assert_eq!(removed[0]["endpoint"], "shop/web-2");
    let p80 = removed[0]["ports"].as_array().expect("ports").iter().find(|p| p["port"] == 80).expect("TCP/80");
    assert_eq!((p80["reaches"].as_u64(), p80["reached_by"].as_u64()), (Some(4), Some(5)), "{v:#}");
}

#[test]
fn json_lists_every_changed_pair_with_both_reasons() {
    let out = diff(&["tests/diff/before", "tests/diff/default-deny.yaml"], &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json(&out);
    let mut keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["added", "changed", "findings", "flows", "gate", "objects", "ports", "removed", "updates", "version"],
        "{v:#}"
    );
    assert_eq!(v["version"], 2);
    assert_eq!(v["gate"], Value::Null, "no --fail-on, no gate");
    assert_eq!((v["flows"]["opened"].as_u64(), v["flows"]["closed"].as_u64()), (Some(0), Some(18)), "{v:#}");
    assert_eq!(v["changed"], Value::Bool(true));
    let objects = v["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 1, "{v:#}");
    assert_eq!(objects[0]["kind"], "NetworkPolicy");
    assert_eq!(objects[0]["namespace"], "shop");
    assert_eq!(objects[0]["name"], "default-deny");
    assert_eq!(objects[0]["change"], "added");
    let update = &v["updates"][0];
    assert!(update["rebuilt"].is_null(), "a policy is added in place: {v:#}");
    let ports = v["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 3, "one entry per compared port: {v:#}");
    let mut pairs: BTreeSet<(u64, String, String)> = BTreeSet::new();
    for p in ports {
        assert_eq!(p["protocol"], "TCP");
        assert_eq!(p["newly_allowed"], 0);
        assert_eq!(p["newly_denied"], 6);
        let port = p["port"].as_u64().expect("a number");
        for c in p["changes"].as_array().expect("changes") {
            let mut ck: Vec<&str> = c.as_object().expect("a change").keys().map(String::as_str).collect();
            ck.sort();
            assert_eq!(ck, ["allowed", "egress", "from", "ingress", "pairs", "to"], "{c:#}");
            assert_eq!(c["allowed"], Value::Bool(false));
            assert!(c["egress"].is_null(), "egress did not change: {c:#}");
            assert_eq!(c["ingress"]["before"]["allowed"], Value::Bool(true));
            assert_eq!(c["ingress"]["before"]["decision"], "no-policy");
            assert_eq!(c["ingress"]["after"]["allowed"], Value::Bool(false));
            assert_eq!(c["ingress"]["after"]["decision"], "tier-default");
            let names = |k: &str| -> Vec<String> {
                c[k].as_array().expect("names").iter().map(|n| n.as_str().expect("a name").to_string()).collect()
            };
            let mut n = 0;
            for f in names("from") {
                for t in names("to") {
                    if f != t {
                        assert!(pairs.insert((port, f.clone(), t)), "a pair listed twice");
                        n += 1;
                    }
                }
            }
            assert_eq!(c["pairs"].as_u64(), Some(n), "{c:#}");
        }
    }
    let want: BTreeSet<(u64, String, String)> = [80, 5432, 8080]
        .into_iter()
        .flat_map(|port| {
            ["shop/web", "shop/db"].into_iter().flat_map(move |dst| {
                ["ops/probe", "shop/api", "shop/db", "shop/web"]
                    .into_iter()
                    .filter(move |src| *src != dst)
                    .map(move |src| (port, src.to_string(), dst.to_string()))
            })
        })
        .collect();
    assert_eq!(pairs, want);
}

#[test]
fn port_and_verbose_flags() {
    let out = diff(&["tests/diff/before", "tests/diff/default-deny.yaml"], &["--port", "5432", "-v"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\nTCP/5432: +0 -6\n"), "{stdout}");
    assert!(!stdout.contains("TCP/80") && !stdout.contains("TCP/8080"), "{stdout}");
    assert!(stdout.contains("index updates:"), "{stdout}");
    assert!(stdout.contains("NetworkPolicy shop/default-deny added (tier default): in place"), "{stdout}");
    // A port nobody's answer changes on.
    let out = diff(&["tests/diff/before", "tests/diff/default-deny.yaml"], &["--port", "5432", "--protocol", "UDP"]);
    assert_eq!(out.status.code(), Some(1), "UDP/5432: the same isolation\n{}", describe(&out));
    let out = diff(&["tests/diff/before/workloads.yaml", "tests/diff/loosened.yaml"], &["--port", "80"]);
    assert_eq!(out.status.code(), Some(0), "loosening 8080 changes nothing on 80\n{}", describe(&out));
}

#[test]
fn long_lists_are_shortened_unless_all() {
    // Five clients lose the server to a default deny.
    let dir = std::env::temp_dir().join(format!("podwall-diff-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let mut pods = String::new();
    for i in 0..5 {
        pods += &format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: client-{i}, namespace: n}}\nstatus: {{podIP: 10.0.0.{}}}\n",
            10 + i
        );
    }
    pods += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: n, labels: {app: server}}\nspec: {containers: [{name: s, image: s, ports: [{containerPort: 80}]}]}\nstatus: {podIP: 10.0.0.1}\n";
    let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {podSelector: {matchLabels: {app: server}}, policyTypes: [Ingress]}\n";
    std::fs::write(dir.join("pods.yaml"), &pods).expect("write");
    std::fs::write(dir.join("deny.yaml"), deny).expect("write");
    let (p, d) = (dir.join("pods.yaml").display().to_string(), dir.join("deny.yaml").display().to_string());
    let out = podwall(&["diff", "-f", &p, "--to", &p, "--to", &d]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let want: BTreeSet<String> =
        ["- n/client-0, n/client-1, n/client-2 and 2 more → n/server  (5 pairs)".to_string()].into();
    assert_eq!(pair_lines(&out), want, "{}", describe(&out));
    let out = podwall(&["diff", "-f", &p, "--to", &p, "--to", &d, "--all"]);
    let want: BTreeSet<String> =
        ["- n/client-0, n/client-1, n/client-2, n/client-3, n/client-4 → n/server  (5 pairs)".to_string()].into();
    assert_eq!(pair_lines(&out), want, "{}", describe(&out));
    // One destination: the reason names it.
    assert!(
        text(&out.stdout).contains("n/server is isolated for ingress by NetworkPolicy n/deny"),
        "{}",
        describe(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_and_names_the_file() {
    // A broken file in the new state.
    let out = diff(&["tests/diff/before", "tests/bad/invalid-cidr.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("tests/bad/invalid-cidr.yaml"), "{}", describe(&out));
    assert!(!err.contains("panicked"), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    // And in the old one.
    let out = podwall(&["diff", "-f", "tests/bad/malformed-yaml.yaml", "--to", "tests/diff/before"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("tests/bad/malformed-yaml.yaml"), "{}", describe(&out));
    // A missing file.
    let out = diff(&["tests/diff/no-such-file.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("tests/diff/no-such-file.yaml"), "{}", describe(&out));
    // Standard input can be read once.
    let out = podwall(&["diff", "-f", "-", "--to", "-"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("standard input"), "{}", describe(&out));
    // No new state; a protocol without ports.
    let out = podwall(&["diff", "-f", "tests/diff/before"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = diff(&["tests/diff/before"], &["--protocol", "ICMP", "--port", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!text(&out.stderr).contains("panicked"), "{}", describe(&out));
}

/// Changed pairs group by what changed: the direction whose verdict turned and its new
/// reason. A direction that still allows, in other words (here `n/a`'s egress, now
/// allowed by a rule instead of by no policy), does not split the groups.
#[test]
fn groups_follow_the_direction_whose_verdict_turned() {
    let out = podwall(&[
        "diff",
        "-f",
        "tests/diff/grouping/pods.yaml",
        "--to",
        "tests/diff/grouping/pods.yaml",
        "--to",
        "tests/diff/grouping/policies.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let changes = v["ports"][0]["changes"].as_array().expect("changes");
    let shape: Vec<(Vec<&str>, Vec<&str>)> = changes
        .iter()
        .map(|c| {
            let names = |k: &str| c[k].as_array().expect("names").iter().filter_map(|n| n.as_str()).collect();
            (names("from"), names("to"))
        })
        .collect();
    assert_eq!(shape, [(vec!["n/a", "n/c"], vec!["n/b"]), (vec!["n/a", "n/b"], vec!["n/c"])], "{v}");
    assert!(changes.iter().all(|c| c["egress"].is_null()), "{v}");
}
