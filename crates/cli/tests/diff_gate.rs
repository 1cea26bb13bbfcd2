//! `podwall diff` as a pull-request gate: both sides read from commits of a temporary
//! git repository (`--base-rev`, `--head-rev`), each `--fail-on` condition, `-o json`
//! and `-o markdown`.
//!
//! The repository's `deploy/` holds a shop: web (TCP 80), api (8080) and db (5432) pods,
//! every image pinned by digest; only the api is isolated, admitting the web on 8080. Each change
//! below is one commit on top of that base, and what it must do follows by hand:
//! - `loosen`: the api admits every pod on 8080 (db → api opens; no finding comes or goes);
//! - `untag`: the db's image loses its tag (PL001 added, medium; no flow changes);
//! - `deny`: a default deny for ingress in shop (web → db, api → db, db → web, api → web
//!   close on each of the three ports; web and db lose NP001, the namespace NP002).
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";

fn pod(name: &str, image: &str, port: u16, ip: u8) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: {name}}}}}\n\
         spec: {{containers: [{{name: {name}, image: \"{image}\", ports: [{{containerPort: {port}}}]}}]}}\n\
         status: {{podIP: 10.0.0.{ip}}}\n"
    )
}

/// An image pinned by digest: neither PL001 (no tag) nor PL003/PL004 (mutable tag).
fn pinned(name: &str) -> String {
    format!("{name}@sha256:{}", "0123456789abcdef".repeat(4))
}

fn workloads(db_image: &str) -> String {
    let (web, api) = (pinned("nginx:1.27"), pinned("api:2.1"));
    [NAMESPACE.to_string(), pod("web", &web, 80, 1), pod("api", &api, 8080, 2), pod("db", db_image, 5432, 3)].concat()
}

fn api_allow(from: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: api-allow, namespace: shop}}\n\
         spec:\n  podSelector: {{matchLabels: {{app: api}}}}\n  ingress:\n  - {from}ports: [{{port: 8080}}]\n"
    )
}

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";

/// A temporary repository; removed when dropped.
struct Scratch {
    dir: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs git in `dir` with no user or system configuration; its trimmed output.
fn run_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .output()
        .expect("git runs (these tests need git)");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `files` under the repository and commits them; the commit's ID.
fn commit_files(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("folders");
        std::fs::write(&p, text).expect("write");
    }
    run_git(dir, &["add", "-A"]);
    run_git(dir, &["commit", "-q", "-m", message]);
    run_git(dir, &["rev-parse", "HEAD"])
}

/// The repository: `main` is the base; `loosen`, `untag` and `deny` each branch from it.
fn shop(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("podwall-gate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let s = Scratch { dir };
    run_git(&s.dir, &["init", "-q", "-b", "main"]);
    let from_web = "from: [{podSelector: {matchLabels: {app: web}}}]\n    ";
    let write = |files: Vec<(&str, String)>, message: &str| {
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        commit_files(&s.dir, &borrowed, message)
    };
    write(
        vec![("deploy/shop.yaml", workloads(&pinned("postgres:16.4"))), ("deploy/policies.yaml", api_allow(from_web))],
        "base",
    );
    for (branch, files) in [
        ("loosen", vec![("deploy/policies.yaml", api_allow(""))]),
        ("untag", vec![("deploy/shop.yaml", workloads("postgres"))]),
        ("deny", vec![("deploy/deny.yaml", DENY.to_string())]),
    ] {
        run_git(&s.dir, &["checkout", "-q", "-b", branch, "main"]);
        write(files, branch);
    }
    run_git(&s.dir, &["checkout", "-q", "main"]);
    s
}

fn podwall(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

/// `podwall diff -f deploy --base-rev BASE --head-rev HEAD EXTRA…` in the repository.
fn gate(s: &Scratch, base: &str, head: &str, extra: &[&str]) -> Output {
    let mut args = vec!["diff", "-f", "deploy", "--base-rev", base, "--head-rev", head];
    args.extend(extra);
    podwall(&s.dir, &args)
}

fn describe(out: &Output) -> String {
    let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), t(&out.stdout), t(&out.stderr))
}

/// Each `(base, head, --fail-on CONDITIONS, exit code wanted)`.
fn assert_gates(s: &Scratch, cases: &[(&str, &str, &str, i32)]) {
    for &(base, head, conditions, want) in cases {
        let out = gate(s, base, head, &["--fail-on", conditions]);
        assert_eq!(out.status.code(), Some(want), "{base}..{head} --fail-on {conditions}\n{}", describe(&out));
    }
}

/// The IDs of `findings.added` or `findings.fixed` in `diff -o json`.
fn ids<'a>(v: &'a Value, which: &str) -> Vec<&'a str> {
    v["findings"][which].as_array().expect("a list").iter().filter_map(|f| f["id"].as_str()).collect()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", describe(out)))
}

#[test]
fn opened_flows_trips_on_a_loosened_allow_and_new_findings_does_not() {
    let s = shop("loosen");
    assert_gates(
        &s,
        &[
            ("main", "loosen", "opened-flows", 1),
            ("main", "loosen", "closed-flows", 0),
            ("main", "loosen", "new-findings", 0),
            ("main", "loosen", "any", 1),
            // The other way round, the same change closes what it opened.
            ("loosen", "main", "opened-flows", 0),
            ("loosen", "main", "closed-flows", 1),
        ],
    );
    let v = json(&gate(&s, "main", "loosen", &["-o", "json", "--fail-on", "closed-flows,opened-flows"]));
    // db → api on 8080 (web → api already was, and api → api is not isolated away).
    assert_eq!(v["flows"]["opened"], 1, "{v:#}");
    assert_eq!(v["flows"]["closed"], 0, "{v:#}");
    assert_eq!(v["gate"]["conditions"], serde_json::json!(["closed-flows", "opened-flows"]));
    assert_eq!(v["gate"]["failed"], serde_json::json!(["opened-flows"]));
}

#[test]
fn new_findings_trips_on_an_added_finding_at_or_above_its_severity() {
    let s = shop("untag");
    assert_gates(
        &s,
        &[
            ("main", "untag", "new-findings", 1),
            ("main", "untag", "new-findings:medium", 1),
            ("main", "untag", "new-findings:high", 0),
            ("main", "untag", "opened-flows,closed-flows", 0),
            ("main", "untag", "any", 1),
            // Reverting the change fixes the finding: that trips nothing.
            ("untag", "main", "new-findings", 0),
        ],
    );
    let v = json(&gate(&s, "untag", "main", &["-o", "json"]));
    assert_eq!(ids(&v, "fixed"), ["PL001"], "{v:#}");
    assert_eq!(v["findings"]["added"], serde_json::json!([]), "{v:#}");
}

#[test]
fn closing_flows_and_fixing_findings_passes_every_condition_but_closed_flows() {
    let s = shop("deny");
    assert_gates(&s, &[("main", "deny", "opened-flows,new-findings", 0), ("main", "deny", "closed-flows", 1)]);
    let out = gate(&s, "main", "deny", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    // Without --fail-on the exit says whether reachability changed, as before.
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // web and db lose NP001 (the api was isolated already), shop loses NP002.
    assert!(text.contains("findings: 0 added (0 high or worse), 3 fixed"), "{text}");
    assert!(text.contains("  - medium   NP001  deploy/shop.yaml:5: shop/web: "), "{text}");
    assert!(text.contains("  - medium   NP002  Namespace shop: "), "{text}");
}

#[test]
fn without_fail_on_a_change_of_findings_only_exits_0() {
    let s = shop("quiet");
    let out = gate(&s, "main", "untag", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = gate(&s, "main", "main", &["--fail-on", "any"]);
    assert_eq!(out.status.code(), Some(0), "the same revision twice changes nothing\n{}", describe(&out));
}

#[test]
fn an_unknown_revision_or_condition_exits_2_naming_it() {
    let s = shop("bad");
    let out = gate(&s, "main", "no-such-branch", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("head revision no-such-branch") && err.contains("unknown revision"), "{err}");
    let out = gate(&s, "main", "untag", &["--fail-on", "opened"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown condition \"opened\""), "{}", describe(&out));
    // --to names another state: not with revisions.
    let out = gate(&s, "main", "untag", &["--to", "deploy"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // A path that holds manifests at neither revision.
    let out = podwall(&s.dir, &["diff", "-f", "nothing-here", "--base-rev", "main", "--head-rev", "untag"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifests at either revision"), "{}", describe(&out));
}

#[test]
fn a_dirty_working_tree_does_not_change_what_a_revision_reads() {
    let s = shop("dirty");
    std::fs::write(s.dir.join("deploy/policies.yaml"), "not: [valid").expect("write");
    std::fs::write(s.dir.join("deploy/extra.yaml"), DENY).expect("write");
    let v = json(&gate(&s, "main", "untag", &["-o", "json"]));
    assert_eq!(v["changed"], false, "{v:#}");
    assert_eq!(ids(&v, "added"), ["PL001"], "the default deny on disk is no part of either side\n{v:#}");
    assert_eq!(v["findings"]["fixed"], serde_json::json!([]), "{v:#}");
}

#[test]
fn json_findings_carry_the_fingerprint_sarif_gives_them() {
    let s = shop("sarif");
    let v = json(&gate(&s, "main", "untag", &["-o", "json", "--fail-on", "new-findings"]));
    assert_eq!(v["version"], 2);
    assert_eq!(v["gate"]["failed"], serde_json::json!(["new-findings"]));
    let added = v["findings"]["added"].as_array().expect("added");
    assert_eq!(added.len(), 1, "{v:#}");
    assert_eq!((added[0]["id"].as_str(), added[0]["severity"].as_str()), (Some("PL001"), Some("medium")), "{v:#}");
    // The head's own SARIF, read from the checked-out head.
    run_git(&s.dir, &["checkout", "-q", "untag"]);
    let out = podwall(&s.dir, &["analyze", "-f", "deploy", "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", describe(&out)));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let db_tag = results
        .iter()
        .find(|r| r["ruleId"] == "PL001" && r["message"]["text"].as_str().is_some_and(|m| m.contains("shop/db")))
        .expect("PL001 on the db");
    assert_eq!(added[0]["fingerprint"], db_tag["partialFingerprints"]["podwall/v2"], "{v:#}");
}

#[test]
fn markdown_is_a_comment_with_a_headline_tables_and_a_cap() {
    let s = shop("markdown");
    let out = gate(&s, "main", "loosen", &["-o", "markdown", "--fail-on", "opened-flows"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("## podwall diff\n\n**opens 1 flow, closes 0, adds 0 findings (0 high)**\n"), "{md}");
    assert!(md.contains("`--fail-on opened-flows: fails on opened-flows`"), "{md}");
    let flows = md.split_once("### Flows\n\n").expect("a flows table").1;
    let row = flows.lines().find(|l| l.starts_with("| opened |")).expect("an opened row");
    assert!(row.contains("shop/db") && row.contains("shop/api") && row.contains("TCP/8080"), "{row}");
    assert!(!md.contains("### Findings"), "no finding came or went\n{md}");
    // Many findings at once: the table shows the first ten rows and folds the rest.
    let many: String = (10..24).map(|i| pod(&format!("w{i}"), "w", 9000, i)).collect();
    run_git(&s.dir, &["checkout", "-q", "-b", "many", "main"]);
    commit_files(&s.dir, &[("deploy/many.yaml", &many)], "many");
    let out = gate(&s, "main", "many", &["-o", "markdown"]);
    let md = String::from_utf8_lossy(&out.stdout);
    let added = md.split_once("### Findings added\n\n").expect("a findings table").1;
    let total: usize = md
        .split_once("adds ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the headline counts the findings added");
    assert!(total > 50, "14 new pods bring NP001 and lint findings each\n{md}");
    let rows = |t: &str| t.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| severity")).count();
    // Ten rows open, forty folded, and the rest counted.
    let (open, folded) = added.split_once("<details>").expect("folded");
    assert_eq!(rows(open), 10, "{md}");
    assert!(folded.starts_with(&format!("<summary>and {} more</summary>", total - 10)), "{md}");
    let folded = folded.split("</details>").next().unwrap_or_default();
    assert_eq!(rows(folded), 40, "{md}");
    assert!(folded.contains(&format!("… and {} more (`podwall diff -o json` lists every one)", total - 50)), "{md}");
    // --all lists every one.
    let all = String::from_utf8_lossy(&gate(&s, "main", "many", &["-o", "markdown", "--all"]).stdout).into_owned();
    let all_added = all.split_once("### Findings added\n\n").expect("a findings table").1;
    assert_eq!(rows(all_added.split("### ").next().unwrap_or_default()), total, "{all}");
    // Every row is one finding: the pipes in a cell are escaped.
    assert!(open.lines().filter(|l| l.starts_with("| ")).all(|l| l.matches(" | ").count() == 4), "{md}");
}
