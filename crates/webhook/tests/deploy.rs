//! The shipped manifests (deploy/webhook) configure a webhook that this crate serves.
use std::path::PathBuf;

use podwall_pod_security::config;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/webhook").join(file)
}

#[test]
fn the_shipped_configmap_holds_a_configuration_the_webhook_reads() {
    let text = std::fs::read_to_string(deploy("config.yaml")).expect("config.yaml");
    let map: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let data = |key: &str| map["data"][key].as_str().unwrap_or_else(|| panic!("data.{key}")).to_string();
    let dir = std::env::temp_dir().join(format!("podwall-deploy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    std::fs::write(dir.join("admission.yaml"), data("admission.yaml")).expect("write");
    let config = config::from_file(dir.join("admission.yaml").to_str().expect("path")).expect("admission.yaml reads");
    assert_eq!(config.exemptions.namespaces, ["kube-system"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each document of a shipped file.
fn documents(file: &str) -> Vec<serde_yaml_ng::Value> {
    let text = std::fs::read_to_string(deploy(file)).expect(file);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .filter(|v: &serde_yaml_ng::Value| !v.is_null())
        .collect()
}

#[test]
fn the_shipped_webhook_follows_its_cluster_with_list_watch_and_get_on_exactly_what_it_reads() {
    // The Deployment reads no -f: in a pod, the webhook follows the cluster it runs in,
    // with the ServiceAccount's token mounted.
    let deployment = documents("deployment.yaml").into_iter().find(|d| d["kind"] == "Deployment").expect("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let args: Vec<&str> =
        pod["containers"][0]["args"].as_sequence().expect("args").iter().filter_map(|a| a.as_str()).collect();
    assert!(args.iter().all(|a| *a != "-f" && !a.starts_with("--filename")), "{args:?}");
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(true));
    let account = pod["serviceAccountName"].as_str().expect("serviceAccountName");
    // The ClusterRole: list and watch on each watched kind's resource, get on each kind
    // the namespace lookup's fallback reads, nothing else.
    let rbac = documents("rbac.yaml");
    let role = rbac.iter().find(|d| d["kind"] == "ClusterRole").expect("ClusterRole");
    let mut granted = Vec::new();
    for rule in role["rules"].as_sequence().expect("rules") {
        let verbs: Vec<&str> = rule["verbs"].as_sequence().expect("verbs").iter().filter_map(|v| v.as_str()).collect();
        for g in rule["apiGroups"].as_sequence().expect("groups") {
            for r in rule["resources"].as_sequence().expect("resources") {
                for v in &verbs {
                    granted.push(format!("{v} {}/{}", g.as_str().expect("group"), r.as_str().expect("resource")));
                }
            }
        }
    }
    let resource = |group: &str, kind: &str| format!("{group}/{}s", kind.to_lowercase());
    let mut wanted: Vec<String> = podwall_webhook::follow::WATCHED
        .iter()
        .flat_map(|(group, kind)| ["list", "watch"].map(|v| format!("{v} {}", resource(group, kind))))
        .chain(podwall_webhook::lookup::FETCHED.iter().map(|(group, kind)| format!("get {}", resource(group, kind))))
        .collect();
    granted.sort();
    wanted.sort();
    assert_eq!(granted, wanted, "least privilege: exactly these verbs, no write");
    let binding = rbac.iter().find(|d| d["kind"] == "ClusterRoleBinding").expect("ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"].as_str(), Some(account));
    assert_eq!(binding["subjects"][0]["namespace"], deployment["metadata"]["namespace"]);
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
