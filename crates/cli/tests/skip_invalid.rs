//! `--skip-invalid` and `--strict` on a folder as repositories hold them
//! (`tests/skip/`): manifests beside a Helm template with `{{ }}`, an application's
//! own YAML with no `kind`, and invalid objects among good ones.
//!
//! The rules: by default the first unreadable file ends the run with exit 2. With
//! `--skip-invalid`, a file that is not Kubernetes manifests is skipped whole and an
//! object the API server would refuse alone, each named on stderr with its reason, and
//! the rest is read. `--strict` answers and then exits 2 when anything was skipped.
//! Files named directly stay fatal.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const FOLDER: &str = "tests/skip";

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The warning lines of one finding ID.
fn warnings<'a>(err: &'a str, id: &str) -> Vec<&'a str> {
    err.lines().filter(|l| l.starts_with(&format!("warning[{id}]: "))).collect()
}

fn pods(out: &Output) -> Vec<String> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", describe(out)));
    v["pods"].as_array().expect("pods").iter().map(|p| p.as_str().expect("name").to_string()).collect()
}

#[test]
fn a_walked_folder_stops_at_the_first_unreadable_file_by_default() {
    let out = podwall(&["matrix", "-f", FOLDER, "--port", "8080"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("chart/templates/deployment.yaml:6") && err.contains("helm template"), "{err}");
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

#[test]
fn skip_invalid_names_each_skipped_file_with_its_reason_and_reads_the_rest() {
    let out = podwall(&["matrix", "-f", FOLDER, "--port", "8080", "-o", "json", "--skip-invalid"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = stderr(&out);
    let files = warnings(&err, "IN001");
    assert_eq!(files.len(), 2, "{err}");
    assert!(files[0].contains("chart/templates/deployment.yaml:6: invalid YAML"), "{err}");
    assert!(files[1].contains("config/settings.yaml:2: ") && files[1].contains("no `kind`"), "{err}");
    assert!(files.iter().all(|l| l.contains("the file was skipped")), "{err}");
    assert_eq!(pods(&out), ["shop/api", "shop/web"]);
}

#[test]
fn skip_invalid_skips_only_the_object_the_api_server_would_refuse() {
    let out = podwall(&["matrix", "-f", FOLDER, "--port", "8080", "-o", "json", "--skip-invalid"]);
    let err = stderr(&out);
    let objects = warnings(&err, "IN002");
    let broken = objects.iter().find(|l| l.contains("Pod shop/broken")).unwrap_or_else(|| panic!("{err}"));
    assert!(broken.contains("cluster.yaml:16: "), "{broken}");
    assert!(broken.contains(r#"protocol "tcp""#) && broken.contains("the API server would refuse"), "{broken}");
    // The good pods of the same file (before and after it) are read.
    assert_eq!(pods(&out), ["shop/api", "shop/web"]);
    // Objects refused while typing (an unknown field) and while compiling (a bad CIDR).
    assert!(objects.iter().any(|l| l.contains("NetworkPolicy shop/misspelt") && l.contains("matchLabel")), "{err}");
    assert!(objects.iter().any(|l| l.contains("NetworkPolicy shop/web-deny") && l.contains("invalid CIDR")), "{err}");
    assert_eq!(objects.len(), 3, "{err}");
}

#[test]
fn answers_leave_a_skipped_policy_out_and_keep_the_valid_ones() {
    let check = |from: &str, to: &str| {
        let out = podwall(&["check", "-f", FOLDER, "--from", from, "--to", to, "--port", "8080", "--skip-invalid"]);
        assert!(warnings(&stderr(&out), "IN002").len() >= 2, "{}", describe(&out));
        out.status.code()
    };
    // api-from-web is read: web reaches api, an address outside the cluster does not.
    assert_eq!(check("shop/web", "shop/api"), Some(0));
    assert_eq!(check("192.0.2.1", "shop/api"), Some(1));
    // web-deny is skipped: web stays open to api.
    assert_eq!(check("shop/api", "shop/web"), Some(0));
}

#[test]
fn strict_answers_then_exits_2_when_anything_was_skipped() {
    let out = podwall(&["matrix", "-f", FOLDER, "--port", "8080", "-o", "json", "--skip-invalid", "--strict"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_eq!(pods(&out), ["shop/api", "shop/web"], "the answer comes first");
    let err = stderr(&out);
    assert_eq!(warnings(&err, "IN001").len() + warnings(&err, "IN002").len(), 5, "{err}");
    assert!(err.lines().last().is_some_and(|l| l.contains("5 unreadable") && l.contains("--strict")), "{err}");
    // The same in diff, over both states.
    let out = podwall(&["diff", "-f", FOLDER, "--to", FOLDER, "--skip-invalid", "--strict"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("10 unreadable"), "{}", describe(&out));
    let out = podwall(&["diff", "-f", FOLDER, "--to", FOLDER, "--skip-invalid"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn strict_on_a_readable_folder_changes_nothing() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").display().to_string();
    let plain = podwall(&["matrix", "-f", &examples, "--port", "8080"]);
    let strict = podwall(&["matrix", "-f", &examples, "--port", "8080", "--skip-invalid", "--strict"]);
    assert_eq!(strict.status.code(), Some(0), "{}", describe(&strict));
    assert_eq!(plain.stdout, strict.stdout);
    assert!(!stderr(&strict).contains("warning[IN00"), "{}", describe(&strict));
}

#[test]
fn files_named_directly_stay_fatal_with_skip_invalid() {
    for file in ["tests/skip/config/settings.yaml", "tests/skip/cluster.yaml"] {
        let out = podwall(&["matrix", "-f", file, "--port", "8080", "--skip-invalid"]);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", describe(&out));
        assert!(stderr(&out).starts_with(&format!("error: {file}:")), "{}", describe(&out));
    }
}

#[test]
fn strict_without_skip_invalid_is_a_usage_error() {
    let out = podwall(&["matrix", "-f", FOLDER, "--strict"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("--skip-invalid"), "{}", describe(&out));
}
