//! `podwall-bench` run as a user runs it: the generator writes clusters that the engine
//! benchmark reads, a closed pipe ends it quietly, and the benchmarks that time the
//! product start the `podwall` binary beside it.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall-bench"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podwall-bench")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(out: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("podwall-bench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The `podwall` binary cargo builds beside this one (`cargo test --workspace`, or
/// `cargo build -p podwall` first).
fn podwall() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_podwall-bench")).with_file_name("podwall");
    assert!(
        p.is_file(),
        "{} is not built: run `cargo build -p podwall` (cargo test --workspace builds it)",
        p.display()
    );
    p
}

#[test]
fn gen_writes_calico_and_admin_files_that_run_reads() {
    let dir = scratch("gen");
    let d = dir.display().to_string();
    let out = bench(&[
        "gen",
        "--pods",
        "300",
        "--namespaces",
        "12",
        "--policies",
        "40",
        "--calico-policies",
        "25",
        "--admin-policies",
        "5",
        "-o",
        &d,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    for file in ["calico.json", "admin.json", "ns-0000.json", "kube-system.json"] {
        assert!(dir.join(file).is_file(), "{file} missing\n{}", describe(&out));
    }
    let out = bench(&["run", &d, "--pairs", "100", "--oracle-pairs", "50", "--changes", "3"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    // 40 NetworkPolicies, 25 Calico policies, 5 AdminNetworkPolicies and the baseline.
    assert!(stdout.contains("cluster: 300 endpoints, 12 namespaces, 71 policies"), "{}", describe(&out));
    assert!(stdout.contains("one policy change"), "{}", describe(&out));
}

#[test]
fn a_reader_that_goes_away_ends_run_quietly() {
    // `podwall-bench run DIR | head`: once the reader closes the pipe, the command stops
    // with exit 0 and says nothing (no "error: Broken pipe", no panic).
    let dir = scratch("pipe");
    let d = dir.display().to_string();
    let out = bench(&["gen", "--pods", "300", "--namespaces", "20", "--policies", "40", "-o", &d]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall-bench"))
        .args(["run", &d, "--pairs", "10", "--oracle-pairs", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podwall-bench");
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().expect("piped"), &mut first).expect("some output");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("podwall-bench ends");
    std::fs::remove_dir_all(&dir).ok();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
}

#[test]
fn webhook_runs_podwall_webhook_over_https_and_every_request_is_answered() {
    // Without --podwall the one beside podwall-bench is started.
    podwall();
    let out = bench(&["webhook", "--rate", "60", "--duration", "1", "--connections", "2", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    assert_eq!(report["answered"], 60, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["rss_peak_kib"].as_u64().is_some_and(|k| k > 0), "the server's memory is sampled: {report}");
}

#[test]
fn a_podwall_that_is_not_there_is_an_error_that_says_how_to_get_one() {
    let out = bench(&["webhook", "--duration", "1", "--podwall", "/nonexistent/podwall"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("--podwall /nonexistent/podwall: no such file"), "{}", describe(&out));
}
