//! The rendered rulesets pass `nft -c` (the kernel's own parser and checks, nothing
//! applied). Needs root and the `nft` binary: without them the test says so and passes,
//! unless PODWALL_REQUIRE_PRIVILEGED_TESTS=1, where it fails.
use std::io::Write;
use std::process::{Command, Stdio};

use podwall_ir::Cluster;
use podwall_nftables::{compile, default_attachments, Options};

fn required() -> bool {
    std::env::var("PODWALL_REQUIRE_PRIVILEGED_TESTS").is_ok_and(|v| v == "1")
}

/// Runs `nft -c -f -` on the script; `Err` with nft's message.
fn nft_check(script: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-c", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Whether `nft -c` can run here at all (binary present, privileges to talk to the
/// kernel); a message when not.
fn available() -> Result<(), String> {
    nft_check("table inet podwall_probe\ndelete table inet podwall_probe\ntable inet podwall_probe { }\n")
}

fn skip_unless_available() -> bool {
    match available() {
        Ok(()) => true,
        Err(e) if required() => panic!("nft -c is required here (PODWALL_REQUIRE_PRIVILEGED_TESTS=1) but fails: {e}"),
        Err(e) => {
            eprintln!(
                "skipped: nft -c cannot run here ({}); set PODWALL_REQUIRE_PRIVILEGED_TESTS=1 to fail instead",
                e.trim()
            );
            false
        }
    }
}

fn compile_values(what: &str, values: Vec<serde_json::Value>) -> Cluster {
    let input = podwall_load::load_values(what, values).unwrap_or_else(|e| panic!("{what}: load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("{what}: compile: {e}"))
}

fn check_cluster(what: &str, cluster: &Cluster) {
    let ruleset =
        compile(cluster, &default_attachments(cluster), &Options::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let script = ruleset.render();
    if let Err(e) = nft_check(&script) {
        panic!("{what}: nft -c rejects the ruleset:\n{e}\n--- script ---\n{script}");
    }
}

#[test]
fn the_example_cluster_ruleset_passes_nft_check() {
    if !skip_unless_available() {
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let input = podwall_load::load_paths(&[std::path::PathBuf::from(dir)]).expect("examples load");
    let cluster = podwall_dialects::compile(&input).expect("examples compile");
    check_cluster("examples/", &cluster);
}

#[test]
fn generated_clusters_of_every_dialect_pass_nft_check() {
    if !skip_unless_available() {
        return;
    }
    for seed in 0..40 {
        check_cluster(
            &format!("generate_small({seed})"),
            &compile_values("generated", podwall_synth::generate_small(seed)),
        );
        let mixed = compile_values("generated", podwall_synth::generate_small_mixed(seed));
        check_cluster(&format!("generate_small_mixed({seed})"), &mixed);
    }
}
