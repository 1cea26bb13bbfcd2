//! The shipped manifests (deploy/webhook) configure a webhook that this crate serves.
use std::path::PathBuf;

use podwall_pod_security::config;
use podwall_webhook::Namespaces;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/webhook").join(file)
}

#[test]
fn the_shipped_configmap_holds_namespaces_and_a_configuration_the_webhook_reads() {
    let text = std::fs::read_to_string(deploy("config.yaml")).expect("config.yaml");
    let map: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let data = |key: &str| map["data"][key].as_str().unwrap_or_else(|| panic!("data.{key}")).to_string();
    let dir = std::env::temp_dir().join(format!("podwall-deploy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    std::fs::write(dir.join("admission.yaml"), data("admission.yaml")).expect("write");
    std::fs::write(dir.join("namespaces.yaml"), data("namespaces.yaml")).expect("write");
    let config = config::from_file(dir.join("admission.yaml").to_str().expect("path")).expect("admission.yaml reads");
    assert_eq!(config.exemptions.namespaces, ["kube-system"]);
    let (namespaces, _) = Namespaces::load(&[dir.join("namespaces.yaml")], config.defaults).expect("namespaces read");
    assert!(namespaces.get("default").is_some_and(|n| n.errors.is_empty()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_webhook_configuration_asks_for_every_kind_the_plugin_judges_in_v1_only() {
    let text = std::fs::read_to_string(deploy("webhook.yaml")).expect("webhook.yaml");
    let vwc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let hook = &vwc["webhooks"][0];
    assert_eq!(hook["admissionReviewVersions"], serde_yaml_ng::Value::from(vec!["v1"]));
    assert_eq!(hook["clientConfig"]["service"]["path"].as_str(), Some("/validate"));
    let mut resources: Vec<String> = Vec::new();
    for rule in hook["rules"].as_sequence().expect("rules") {
        let group = rule["apiGroups"][0].as_str().expect("group").to_string();
        for r in rule["resources"].as_sequence().expect("resources") {
            resources.push(format!("{group}/{}", r.as_str().expect("resource")));
        }
    }
    for want in [
        "/pods",
        "/pods/ephemeralcontainers",
        "/replicationcontrollers",
        "/podtemplates",
        "/namespaces",
        "apps/deployments",
        "apps/replicasets",
        "apps/statefulsets",
        "apps/daemonsets",
        "batch/jobs",
        "batch/cronjobs",
    ] {
        assert!(resources.iter().any(|r| r == want), "{want} missing from {resources:?}");
    }
}
