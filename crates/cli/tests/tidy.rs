//! Tidy tests: the invariants ARCHITECTURE.md states, checked from the Cargo manifests and
//! the sources, so that they cannot drift without a failing test.
//!
//! - The semantic core (`selector`, `ir`, `engine`) does no I/O and depends on no crate
//!   that reads input or talks to the system.
//! - No dialect is interpreted outside `crates/load` (wire types) and `crates/dialects`:
//!   the other crates name no dialect's API group or label convention.
//! - Heavy dependencies stay out of the core crates.
//! - The map names every crate, and the crates each one reads are its manifest's.
//! - The generator and the benchmarks are not in the product: only `podwall-bench` builds
//!   on `synth`, and the `podwall` binary has no `bench` command.
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `[dependencies]` names of a crate (not dev-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let path = workspace().join("crates").join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            out.push(name.to_string());
        }
    }
    out
}

/// Every `.rs` file below `crates/<krate>/src`, with its text, test modules cut off.
fn sources(krate: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") && p.file_name().is_some_and(|n| n != "tests.rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                // Unit tests may read fixtures; the code under test may not.
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
                out.push((p, code));
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace().join("crates").join(krate).join("src"), &mut out);
    assert!(!out.is_empty(), "crate {krate} has no sources");
    out
}

/// Code lines (comments and doc comments dropped) that contain `needle`.
fn code_hits(files: &[(PathBuf, String)], needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for (path, text) in files {
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains(needle) {
                hits.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    hits
}

const CORE: [&str; 3] = ["selector", "ir", "engine"];

#[test]
fn the_semantic_core_does_no_io() {
    let io = [
        "std::fs",
        "std::net::Tcp",
        "std::net::Udp",
        "std::process",
        "std::io::stdin",
        "println!",
        "eprintln!",
        "print!(",
    ];
    let mut found = Vec::new();
    for krate in CORE {
        let files = sources(krate);
        for needle in io {
            found.extend(code_hits(&files, needle));
        }
    }
    assert!(found.is_empty(), "I/O in the semantic core:\n{}", found.join("\n"));
}

#[test]
fn the_semantic_core_depends_only_on_the_core_and_small_pure_crates() {
    let allowed =
        ["podwall-selector", "podwall-ir", "podwall-engine", "podwall-findings", "ipnet", "rayon", "thiserror"];
    for krate in CORE {
        for dep in dependencies(krate) {
            assert!(allowed.contains(&dep.as_str()), "crate {krate} depends on {dep}, outside the core's allowed set");
        }
    }
}

#[test]
fn no_dialect_is_named_outside_the_loader_and_the_dialects() {
    // API groups, label conventions and tier names that belong to one dialect.
    let dialect_words = [
        "projectcalico.org",
        "policy.networking.k8s.io",
        "cilium.io",
        "\"pcns.",
        "\"pcsa.",
        "pcns.\"",
        "pcsa.\"",
        "\"adminnetworkpolicy\"",
        "\"baselineadminnetworkpolicy\"",
        "\"clusternetworkpolicy-",
    ];
    let mut found = Vec::new();
    for krate in ["selector", "ir", "engine", "nftables"] {
        if !workspace().join("crates").join(krate).exists() {
            continue;
        }
        let files = sources(krate);
        for w in dialect_words {
            found.extend(code_hits(&files, w));
        }
    }
    assert!(found.is_empty(), "a dialect named outside crates/load and crates/dialects:\n{}", found.join("\n"));
}

#[test]
fn the_intermediate_form_places_no_dialect_in_a_tier() {
    // Which tier a dialect's policies land in, and at what order, is the dialect's
    // decision (`crates/dialects/src/tiers.rs`); the IR only sorts tiers by order.
    let files = sources("ir");
    let mut found = Vec::new();
    for needle in ["_TIER:", "_TIER_ORDER", "_POLICY_ORDER", "\"default\""] {
        found.extend(code_hits(&files, needle));
    }
    assert!(found.is_empty(), "a dialect's tier placement in the IR:\n{}", found.join("\n"));
}

#[test]
fn the_engine_and_the_data_plane_read_no_input() {
    for krate in ["engine", "nftables"] {
        if !workspace().join("crates").join(krate).exists() {
            continue;
        }
        for dep in dependencies(krate) {
            assert!(
                !["podwall-load", "podwall-dialects", "k8s-openapi", "serde_yaml_ng"].contains(&dep.as_str()),
                "crate {krate} depends on {dep}: it must read only the intermediate form"
            );
        }
    }
}

#[test]
fn heavy_dependencies_stay_out_of_the_core() {
    for krate in ["selector", "ir", "engine", "load", "dialects", "nftables"] {
        if !workspace().join("crates").join(krate).exists() {
            continue;
        }
        for dep in dependencies(krate) {
            assert!(
                !["kube", "tokio", "axum", "hyper", "reqwest"].contains(&dep.as_str()),
                "crate {krate} depends on {dep}"
            );
        }
    }
}

#[test]
fn the_cli_decides_nothing() {
    // Judging is the engine's: which policies apply, what the evaluator says of a
    // direction, which remote ends the index judges alike, and what a reason is by the
    // kind of policy (`engine::Why`). The CLI words and prints what the engine decided.
    let judging = ["evaluate_direction_with", "applicable_policies", ".alike(", "PolicyKind::", "only_k8s"];
    let files = sources("cli");
    let mut found = Vec::new();
    for needle in judging {
        found.extend(code_hits(&files, needle));
    }
    assert!(found.is_empty(), "judging in the CLI (it belongs in crates/engine):\n{}", found.join("\n"));
}

#[test]
fn the_cli_prints_json_from_types() {
    // Every JSON form is a struct in `crates/cli/src/output.rs` (or the engine's matrix
    // writer), so its shape is written down once and reviewed as a type.
    let files: Vec<(PathBuf, String)> = sources("cli");
    let found = code_hits(&files, "json!(");
    assert!(found.is_empty(), "ad hoc JSON in the CLI (add a type to output.rs):\n{}", found.join("\n"));
}

#[test]
fn the_async_stack_stays_in_the_crates_that_talk_over_the_network() {
    // kube only in the cluster reader; tokio and hyper there and in the webhook.
    let entries = std::fs::read_dir(workspace().join("crates")).expect("crates");
    for entry in entries.filter_map(Result::ok) {
        let krate = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().join("Cargo.toml").exists() {
            continue;
        }
        for dep in dependencies(&krate) {
            let allowed: &[&str] = match dep.as_str() {
                "kube" => &["cluster"],
                "tokio" | "hyper" | "hyper-util" | "tokio-rustls" => &["cluster", "webhook"],
                _ => continue,
            };
            assert!(allowed.contains(&krate.as_str()), "crate {krate} depends on {dep}");
        }
    }
}

#[test]
fn the_map_has_a_row_per_crate_naming_the_workspace_crates_it_depends_on() {
    let map = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let rows: std::collections::BTreeMap<String, String> = map
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("| `crates/")?;
            let (name, _) = rest.split_once('`')?;
            let reads = l.trim_end().trim_end_matches('|').rsplit('|').next()?.trim();
            Some((name.to_string(), reads.to_string()))
        })
        .collect();
    let mut wrong = Vec::new();
    let mut crates: Vec<String> = std::fs::read_dir(workspace().join("crates"))
        .expect("crates/")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    crates.sort();
    for krate in &crates {
        let mut deps: Vec<String> =
            dependencies(krate).into_iter().filter_map(|d| d.strip_prefix("podwall-").map(str::to_string)).collect();
        deps.sort();
        match rows.get(krate).map(String::as_str) {
            None => wrong.push(format!("crates/{krate}: no row")),
            // The binary reads every crate.
            Some("all") if krate == "cli" => {}
            Some(reads) => {
                let mut named: Vec<String> =
                    reads.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty() && r != "—").collect();
                named.sort();
                if named != deps {
                    wrong.push(format!("crates/{krate}: the map says {named:?}, the manifest {deps:?}"));
                }
            }
        }
    }
    for name in rows.keys().filter(|n| !crates.contains(n)) {
        wrong.push(format!("crates/{name}: a row for a crate that does not exist"));
    }
    assert!(wrong.is_empty(), "ARCHITECTURE.md's map and the manifests differ:\n{}", wrong.join("\n"));
}

#[test]
fn the_generator_and_the_benchmarks_stay_out_of_the_product() {
    // Synthetic clusters and measuring harnesses belong to `podwall-bench`; a product
    // crate that needed the generator would ship it (dev-dependencies are for tests).
    let entries = std::fs::read_dir(workspace().join("crates")).expect("crates");
    let mut wrong = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let krate = entry.file_name().to_string_lossy().into_owned();
        if krate != "bench"
            && entry.path().join("Cargo.toml").exists()
            && dependencies(&krate).iter().any(|d| d == "podwall-synth")
        {
            wrong.push(krate);
        }
    }
    assert!(wrong.is_empty(), "crates that build the generator into the product: {wrong:?}");
    let main = std::fs::read_to_string(workspace().join("crates/cli/src/main.rs")).expect("main.rs");
    assert!(!main.contains("Bench("), "the podwall binary has a bench command again (it belongs in crates/bench)");
}
