//! `podwall secrets`: values stored and read back as kube-apiserver does, failures that
//! write nothing, and configurations the API server refuses.
use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/secrets");
const PATH: &str = "/registry/secrets/prod/db";

fn podwall(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(stdin).expect("writes");
    child.wait_with_output().expect("ends")
}

fn file(name: &str) -> String {
    format!("{DIR}/{name}")
}

fn crypt(verb: &str, config: &str, path: &str, data: &[u8]) -> Output {
    podwall(&["secrets", verb, "--config", &file(config), "--resource", "secrets", "--key-path", path], data)
}

#[test]
fn encrypt_then_decrypt_returns_the_exact_bytes_under_the_first_key() {
    let plain = b"\x00binary\npayload\xff";
    let stored = crypt("encrypt", "gcm.yaml", PATH, plain);
    assert_eq!(stored.status.code(), Some(0), "{}", String::from_utf8_lossy(&stored.stderr));
    assert!(stored.stdout.starts_with(b"k8s:enc:aesgcm:v1:new:"));
    assert_eq!(stored.stdout.len(), "k8s:enc:aesgcm:v1:new:".len() + 12 + plain.len() + 16);
    let back = crypt("decrypt", "gcm.yaml", PATH, &stored.stdout);
    assert_eq!(back.status.code(), Some(0));
    assert_eq!(back.stdout, plain);
}

#[test]
fn a_tampered_value_or_another_key_path_fails_with_nothing_on_stdout() {
    let stored = crypt("encrypt", "gcm.yaml", PATH, b"secret").stdout;
    let mut bad = stored.clone();
    *bad.last_mut().expect("bytes") ^= 1;
    for (data, path) in [(&bad, PATH), (&stored, "/registry/secrets/prod/other")] {
        let out = crypt("decrypt", "gcm.yaml", path, data);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty(), "no partial plaintext");
        assert!(String::from_utf8_lossy(&out.stderr).contains("does not authenticate"));
    }
}

#[test]
fn plaintext_is_read_through_the_listed_identity() {
    let out = crypt("decrypt", "gcm.yaml", PATH, b"not encrypted");
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"not encrypted"[..]));
}

#[test]
fn a_17_byte_key_is_refused_naming_file_line_and_field_with_exit_2() {
    let out = crypt("encrypt", "short-key.yaml", PATH, b"x");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("short-key.yaml:2"), "{err}");
    assert!(err.contains("resources[0].providers[0].secretbox.keys[0].secret"), "{err}");
    assert!(err.contains("17 bytes"), "{err}");
    assert!(!err.contains("MDEy"), "the secret is never shown: {err}");
}

#[test]
fn a_malformed_configuration_is_bad_input_with_its_file_and_line() {
    let out = crypt("decrypt", "malformed.yaml", PATH, b"x");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("malformed.yaml:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn validate_reports_identity_first_aescbc_duplicate_names_and_repeated_resources() {
    let out = podwall(&["secrets", "validate", "--config", &file("weak.yaml"), "-o", "json"], b"");
    assert_eq!(out.status.code(), Some(1));
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = findings.iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, ["EN022", "EN020", "EN023", "EN021"], "{findings:#?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("YWFh"), "no secret in findings");
}

#[test]
fn rotate_config_puts_a_fresh_key_first_and_old_values_still_read() {
    let old = crypt("encrypt", "gcm.yaml", PATH, b"before rotation").stdout;
    let out = podwall(&["secrets", "rotate-config", "--config", &file("gcm.yaml"), "--name", "k2"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = std::env::temp_dir().join(format!("podwall-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let rotated = dir.join("rotated.yaml");
    std::fs::write(&rotated, &out.stdout).expect("writes");
    let rotated = rotated.to_str().expect("utf-8");
    let args = |verb: &'static str| ["secrets", verb, "--config", rotated, "--key-path", PATH];
    assert_eq!(podwall(&args("decrypt"), &old).stdout, b"before rotation");
    let new = podwall(&args("encrypt"), b"after").stdout;
    assert!(new.starts_with(b"k8s:enc:aesgcm:v1:k2:"), "{}", String::from_utf8_lossy(&new));
    let again = podwall(&["secrets", "rotate-config", "--config", rotated, "--name", "k2"], b"");
    assert_eq!(again.status.code(), Some(2), "a taken name is refused");
    std::fs::remove_dir_all(&dir).ok();
}
