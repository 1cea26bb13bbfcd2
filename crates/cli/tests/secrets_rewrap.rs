//! `podwall secrets rewrap` end to end against a real etcd (skipped without one unless
//! PODWALL_REQUIRE_PRIVILEGED_TESTS=1), and its refusals of bad input.
#[path = "../../etcd/tests/support/mod.rs"]
mod support;

use std::process::{Command, Output};

use podwall_encryption::{Config, Transformer};

const ROTATED: &str = "tests/secrets/rotated.yaml";

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall")).args(args).output().expect("podwall runs")
}

fn rotated() -> Config {
    let input = podwall_load::load_paths(&[ROTATED]).unwrap();
    Config::load(&input.objects, ROTATED).unwrap()
}

#[test]
fn rewrap_counts_rewritten_skipped_and_failed_and_exits_1_on_a_failure() {
    let Some(server) = support::Server::start("cli_rewrap") else { return };
    let mut etcd = server.etcd().unwrap();
    let config = rotated();
    let t = Transformer::for_resource(&config, "secrets");
    for i in 0..6 {
        let key = format!("/registry/secrets/default/s{i}");
        // Unencrypted values (written before encryption was configured) and values
        // already under the new key.
        let stored = if i < 4 { b"k8s\0plain".to_vec() } else { t.write(b"k8s\0current", key.as_bytes()).unwrap() };
        etcd.put(key.as_bytes(), &stored).unwrap();
    }
    etcd.put(
        b"/registry/secrets/default/z-foreign",
        b"k8s:enc:secretbox:v1:lost:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    )
    .unwrap();

    let dry =
        podwall(&["secrets", "rewrap", "--config", ROTATED, "--etcd", &server.endpoint, "--dry-run", "-o", "json"]);
    assert_eq!(dry.status.code(), Some(1), "{}", String::from_utf8_lossy(&dry.stderr));
    let counts: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!((counts["dry_run"].as_bool(), counts["rewritten"].as_u64()), (Some(true), Some(4)));
    assert_eq!(etcd.get(b"/registry/secrets/default/s0").unwrap().unwrap().value.as_slice(), b"k8s\0plain");

    let out = podwall(&["secrets", "rewrap", "--config", ROTATED, "--etcd", &server.endpoint]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("rewritten 4, skipped 2 (already current), failed 1"), "{stdout}");
    assert!(stderr.contains("failed: /registry/secrets/default/z-foreign"), "{stderr}");
    assert!(!stderr.contains("plain"), "a value on standard error: {stderr}");
    for i in 0..4 {
        let key = format!("/registry/secrets/default/s{i}");
        let v = etcd.get(key.as_bytes()).unwrap().unwrap();
        assert!(v.value.starts_with(b"k8s:enc:aesgcm:v1:new:"));
        assert_eq!(&t.read(&v.value, key.as_bytes()).unwrap().data[..], b"k8s\0plain");
    }
}

#[test]
fn rewrap_refuses_bad_input_with_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--config", "tests/secrets/wildcard.yaml"], "--resource"),
        (&["--config", "tests/secrets/short-key.yaml"], "short-key.yaml"),
        (&["--config", ROTATED, "--etcd", "127.0.0.1:2379"], "http://HOST:PORT"),
        (&["--config", ROTATED, "--etcd", "https://127.0.0.1:2379"], "--cacert"),
        (&["--config", ROTATED, "--etcd", "https://127.0.0.1:2379", "--cacert", "nowhere.pem"], "nowhere.pem"),
    ];
    for (args, says) in cases {
        let out = podwall(&[&["secrets", "rewrap"], *args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn an_unreachable_etcd_is_exit_2_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = podwall(&["secrets", "rewrap", "--config", ROTATED, "--etcd", &endpoint, "--timeout", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&endpoint), "{stderr}");
}
