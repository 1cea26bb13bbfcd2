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
