//! `podwall apiserver` end to end: exit codes and bad input.
use std::process::Command;

fn podwall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_podwall")).args(args).output().expect("runs")
}

#[test]
fn a_manifest_without_a_kube_apiserver_container_exits_2_with_what_it_holds() {
    let dir = std::env::temp_dir().join(format!("podwall-apiserver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("etcd.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\nspec:\n  containers:\n  - {name: etcd, image: etcd}\n").expect("write");
    let out = podwall(&["apiserver", "-f", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no kube-apiserver container") && err.contains("Pod kube-system/etcd (containers: etcd)"),
        "{err}"
    );
    let flags = dir.join("flags");
    std::fs::write(&flags, "kube-apiserver --anonymous-auth=false --authorization-mode=Node,RBAC\n").expect("write");
    let out = podwall(&["apiserver", "--flags", flags.to_str().expect("utf-8"), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "findings: exit 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = v.as_array().expect("list").iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"AP008") && !ids.contains(&"AP001"), "{ids:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_encryption_provider_config_given_is_judged_with_the_flags() {
    let manifest = "tests/apiserver/kube-apiserver.yaml";
    let without = podwall(&["apiserver", "-f", manifest, "-o", "json"]);
    let ids = |out: &std::process::Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v.as_array().expect("list").iter().filter_map(|f| f["id"].as_str().map(String::from)).collect()
    };
    assert!(!ids(&without).iter().any(|i| i == "AP028" || i.starts_with("EN")));
    // weak.yaml: identity first for secrets, aescbc after it.
    let with = podwall(&[
        "apiserver",
        "-f",
        manifest,
        "--encryption-provider-config",
        "tests/secrets/weak.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(with.status.code(), Some(1));
    let got = ids(&with);
    assert!(got.iter().any(|i| i == "AP028") && got.iter().any(|i| i == "EN020"), "{got:?}");
    let good =
        podwall(&["apiserver", "-f", manifest, "--encryption-provider-config", "tests/secrets/gcm.yaml", "-o", "json"]);
    assert!(!ids(&good).iter().any(|i| i == "AP028"));
    let missing = podwall(&["apiserver", "-f", manifest, "--encryption-provider-config", "tests/secrets/none.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn analyze_reports_the_api_server_and_its_encryption_configuration_found_in_the_input() {
    let dir = std::env::temp_dir().join(format!("podwall-analyze-cp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy("tests/apiserver/kube-apiserver.yaml", dir.join("kube-apiserver.yaml")).expect("copy");
    std::fs::copy("tests/secrets/weak.yaml", dir.join("encryption.yaml")).expect("copy");
    let out = podwall(&["analyze", "-f", dir.to_str().expect("utf-8"), "--format", "json"]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = v["findings"].as_array().expect("findings").iter().filter_map(|f| f["id"].as_str()).collect();
    for id in ["AP028", "EN020", "EN021"] {
        assert!(ids.contains(&id), "{id} missing: {ids:?}");
    }
    assert_eq!(ids.iter().filter(|i| **i == "EN020").count(), 1, "reported once: {ids:?}");
    assert!(v["summary"]["by_area"]["apiserver"].as_u64().unwrap_or(0) > 0, "{}", v["summary"]);
}

#[test]
fn a_command_line_the_server_refuses_exits_2_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("podwall-apiserver-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, line, why) in [
        (
            "overlap",
            "--enable-admission-plugins=AlwaysPullImages --disable-admission-plugins=AlwaysPullImages",
            "in both --enable-admission-plugins and --disable-admission-plugins",
        ),
        ("suite", "--tls-cipher-suites=TLS_NO_SUCH_SUITE", "is not supported or does not exist"),
    ] {
        let flags = dir.join(name);
        std::fs::write(&flags, line).expect("write");
        let path = flags.to_str().expect("utf-8");
        let out = podwall(&["apiserver", "--flags", path]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(path) && err.contains(why), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
