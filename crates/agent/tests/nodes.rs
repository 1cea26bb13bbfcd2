//! Which pods of a folder are this node's (`podwall agent -f DIR --node NAME`): those
//! whose `spec.nodeName` is the node's name, as the API mode picks them; without
//! `--node` every pod of the folder is local. No root needed: this is the choice, not
//! the install.
use std::collections::BTreeMap;

use podwall_agent::{local_attachments, Local};

fn pod(name: &str, node: Option<&str>, ip: &str) -> String {
    let node = node.map(|n| format!(", nodeName: {n}")).unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop}}\n\
         spec: {{containers: [{{name: c, image: i}}]{node}}}\nstatus: {{podIP: {ip}}}\n"
    )
}

#[test]
fn with_node_only_the_folders_pods_scheduled_there_are_local() {
    let dir = std::env::temp_dir().join(format!("podwall-agent-nodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let docs = [pod("a", Some("n1"), "10.0.0.10"), pod("b", Some("n2"), "10.0.0.11"), pod("c", None, "10.0.0.12")];
    std::fs::write(dir.join("pods.yaml"), docs.join("---\n")).expect("manifest");
    let (cluster, counts, nodes) = podwall_agent::load(&dir).expect("load");
    assert_eq!(counts.get("Pod"), Some(&3));
    let want: BTreeMap<String, String> =
        [("shop/a", "n1"), ("shop/b", "n2")].iter().map(|(p, n)| (p.to_string(), n.to_string())).collect();
    assert_eq!(nodes, want, "each scheduled pod's node, by endpoint name");
    let local = |which: &Local| -> Vec<String> {
        local_attachments(&cluster, which, &nodes).iter().map(|a| cluster.endpoints[a.endpoint].name.clone()).collect()
    };
    assert_eq!(local(&Local::Node("n1".into())), ["shop/a"]);
    assert_eq!(local(&Local::Node("n3".into())), Vec::<String>::new(), "a node with no pods has none");
    assert_eq!(local(&Local::Every), ["shop/a", "shop/b", "shop/c"]);
    std::fs::remove_dir_all(&dir).ok();
}
