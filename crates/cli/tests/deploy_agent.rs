//! deploy/agent: the ClusterRole grants the agent's ServiceAccount list and watch on
//! exactly the kinds the agent watches (derived from `podwall_agent::WATCHED` and where
//! the cluster reader finds each kind), and nothing else; the DaemonSet asks for the host
//! network and CAP_NET_ADMIN and nothing more; podwall's own checks find nothing in the
//! manifests but the exceptions a node agent needs, each justified here.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::apps::v1::DaemonSet;
use podwall_cluster::kinds::{served, Served};
use podwall_rbac::{Rbac, Request, User};

const AGENT: &str = "system:serviceaccount:podwall-node:podwall-agent";

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/agent")
}

/// (group, resource) of every place the agent may watch a kind it watches.
fn watched() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for info in podwall_agent::follow::watched_kinds() {
        let Served::At(apis) = served(info) else { panic!("{} is watched but not served", info.kind) };
        out.extend(apis.iter().map(|a| (a.group.to_string(), a.resource.to_string())));
    }
    out
}

/// The RBAC objects of deploy/agent, and what they let the agent's ServiceAccount do.
struct Grants {
    rbac: Rbac,
    agent: User,
}

impl Grants {
    fn read() -> Grants {
        let objects = podwall_load::load_paths(&[deploy()]).expect("deploy/agent loads");
        let rbac = Rbac::from_input(&objects).expect("valid RBAC");
        assert_eq!(rbac.findings.len(), 0, "{:?}", rbac.findings);
        Grants { rbac, agent: User::impersonate(AGENT, &[]) }
    }

    fn allow(&self, verb: &str, namespace: &str, group: &str, resource: &str) -> bool {
        self.rbac.authorize(&self.agent, &Request::resource(verb, namespace, group, resource, "", "")).allowed()
    }
}

#[test]
fn the_cluster_role_grants_list_and_watch_on_exactly_the_kinds_the_agent_watches() {
    let grants = Grants::read();
    let watched = watched();
    assert!(watched.len() >= podwall_agent::WATCHED.len(), "{watched:?}");
    let mut resources: BTreeSet<(String, String)> =
        grants.rbac.resources.all.iter().map(|r| (r.group.clone(), r.plural.clone())).collect();
    resources.extend(watched.iter().cloned());
    resources
        .extend(podwall_cluster::kinds::listed().iter().map(|(_, a)| (a.group.to_string(), a.resource.to_string())));
    let mut asked = 0;
    for (group, resource) in &resources {
        for verb in
            "get list watch create update patch delete deletecollection use bind escalate impersonate".split(' ')
        {
            for namespace in ["", "kube-system"] {
                let want = ["list", "watch"].contains(&verb) && watched.contains(&(group.clone(), resource.clone()));
                assert_eq!(
                    grants.allow(verb, namespace, group, resource),
                    want,
                    "{verb} {resource}.{group} in {namespace:?}"
                );
                asked += 1;
            }
        }
    }
    assert!(asked > 500, "{asked}");
    assert!(!grants.allow("list", "", "", "secrets"), "no Secrets");
    assert!(grants.rbac.risky().is_empty(), "{:#?}", grants.rbac.risky());
}

fn daemonset() -> DaemonSet {
    let text = std::fs::read_to_string(deploy().join("daemonset.yaml")).expect("read");
    let doc = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| <serde_json::Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .find(|v| v["kind"] == "DaemonSet")
        .expect("a DaemonSet");
    serde_json::from_value(doc).expect("a valid DaemonSet")
}

#[test]
fn the_daemonset_runs_on_the_host_network_with_net_admin_only_and_installs_the_cni_plugin_first() {
    let ds = daemonset();
    let spec = ds.spec.expect("spec").template.spec.expect("pod spec");
    assert_eq!(spec.host_network, Some(true), "the ruleset goes into the node's own namespace");
    assert_eq!(spec.service_account_name.as_deref(), Some("podwall-agent"));
    assert!(spec.host_pid.is_none() && spec.host_ipc.is_none());
    let caps = |c: &k8s_openapi::api::core::v1::Container| {
        let sc = c.security_context.clone().expect("a security context");
        assert_ne!(sc.privileged, Some(true), "{}: never privileged", c.name);
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
        let caps = sc.capabilities.expect("capabilities");
        assert_eq!(caps.drop, Some(vec!["ALL".to_string()]), "{}: every default capability dropped", c.name);
        caps.add.unwrap_or_default()
    };
    let agent = &spec.containers[0];
    assert_eq!(spec.containers.len(), 1);
    assert_eq!(caps(agent), ["NET_ADMIN"], "nft and the nf_tables netlink batch need NET_ADMIN, nothing else");
    let args = agent.args.clone().unwrap_or_default();
    assert_eq!(args[0], "agent");
    assert!(!args.iter().any(|a| a == "-f" || a.starts_with("--kubeconfig")), "in-cluster: {args:?}");
    let env: Vec<&str> = agent.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert!(env.contains(&"NODE_NAME"), "the node's name from spec.nodeName: {env:?}");
    let init = spec.init_containers.as_deref().unwrap_or_default();
    assert_eq!(init.len(), 1);
    assert!(caps(&init[0]).is_empty(), "installing files needs no capability");
    let mounts: Vec<&str> = init[0].volume_mounts.iter().flatten().map(|m| m.mount_path.as_str()).collect();
    assert!(mounts.contains(&"/host/opt/cni/bin") && mounts.contains(&"/host/etc/cni/net.d"), "{mounts:?}");
    let agent_mounts: Vec<&str> = agent.volume_mounts.iter().flatten().map(|m| m.mount_path.as_str()).collect();
    assert_eq!(agent_mounts, ["/run/podwall"], "the agent sees only its state folder");

    // The conflist the init container installs is one `podwall cni` reads.
    let text = std::fs::read_to_string(deploy().join("daemonset.yaml")).expect("read");
    let map = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| <serde_json::Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .find(|v| v["kind"] == "ConfigMap")
        .expect("the conflist's ConfigMap");
    let conflist: serde_json::Value =
        serde_json::from_str(map["data"]["10-podwall.conflist"].as_str().expect("conflist")).expect("JSON");
    assert_eq!(conflist["plugins"][0]["type"], "podwall");
    // What the runtime hands the plugin: the first plugin's configuration, derived.
    let first = podwall_cni::runtime::Runtime::derive(&conflist, 0, None, None);
    let conf = podwall_cni::config::parse(first.to_string().as_bytes()).expect("podwall cni accepts its configuration");
    podwall_cni::config::HostLocal::of(&conf).expect("and its IPAM ranges");
}

#[test]
fn podwall_finds_nothing_in_the_agents_manifests_but_the_exceptions_a_node_agent_needs() {
    let out = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(["analyze", "-f"])
        .arg(deploy())
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let found: BTreeSet<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| format!("{} {}", f["id"].as_str().unwrap_or(""), f["message"].as_str().unwrap_or("")))
        .collect();
    let justified: BTreeSet<String> = [
        // The ruleset is loaded into the node's kernel: nft and netlink need NET_ADMIN.
        r#"capabilities_baseline non-default capabilities (container "agent" must not include "NET_ADMIN" in securityContext.capabilities.add)"#,
        // The pods' veths and the table are in the node's network namespace.
        "hostNamespaces host namespaces (hostNetwork=true)",
        // Where the runtime reads CNI plugins and configuration, and the record of the
        // table in the node's kernel, which must outlive the container.
        r#"hostPathVolumes hostPath volumes (volumes "cni-bin", "cni-conf", "state")"#,
        // The agent refuses to run as another user; the host folders are root's. Every
        // capability but NET_ADMIN is dropped and privilege escalation is off.
        r#"PL010 container "agent" may run as root: runAsNonRoot is not true"#,
        r#"PL010 container "install-cni" may run as root: runAsNonRoot is not true"#,
        // There is no published image to pin; a deployment pins its own build.
        r#"PL003 container "agent": image "podwall:0.1.0" is not pinned by digest"#,
        r#"PL003 container "install-cni": image "podwall:0.1.0" is not pinned by digest"#,
        // The default deny is for pods that are not meant to be there: the agent is a
        // host-network pod, which no NetworkPolicy selects.
        "NP004 selects no endpoint of the input",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(found, justified, "stderr: {}", String::from_utf8_lossy(&out.stderr));
}
