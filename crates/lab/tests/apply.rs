//! Updates of a running lab (`lab apply`): one transaction computed against what the
//! node holds; after it the kernel equals the model of the new policies, chains the
//! change does not concern keep their kernel handles (they were not replaced), and
//! established connections the change denies are kept or cut as asked.
mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use podwall_lab::{netns, Established};

const PODS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  containers:
    - name: web
      image: nginx
      ports: [{containerPort: 8080, protocol: TCP}, {containerPort: 53, protocol: UDP}]
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.2.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec:
  containers:
    - name: db
      image: postgres
      ports: [{containerPort: 9090, protocol: TCP}]
status: {podIP: 10.0.2.2}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: b, labels: {app: BATCH}}
spec:
  containers: [{name: c, image: busybox}]
status: {podIP: 10.0.2.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{podSelector: {}}]
      ports: [{port: 8080}]
---
"#;

/// Before: db takes anything from namespace a.
const DB_FROM_A: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: b}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: a}}}]}]
"#;

/// After: db takes only b's client.
const DB_FROM_B_CLIENT: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: b}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
"#;

/// The pods, with b/batch labelled `app: <batch>`.
fn pods(batch: &str) -> String {
    PODS.replace("BATCH", batch)
}

fn chain_of(r: &Running, pod: &str) -> String {
    let id = r.cluster.endpoint(pod).expect("pod");
    let ruleset = podwall_lab::compile(&r.lab, &r.cluster).expect("compile");
    ruleset.dispatch(id).and_then(|d| d.ingress.clone()).expect("an ingress chain")
}

#[test]
fn apply_sends_one_delta_after_which_the_kernel_equals_the_new_model_and_untouched_chains_keep_their_handles() {
    let case =
        "apply_sends_one_delta_after_which_the_kernel_equals_the_new_model_and_untouched_chains_keep_their_handles";
    if !privileged(case) {
        return;
    }
    let mut r = up("t-apply", &cluster_of(&format!("{}{DB_FROM_A}", pods("batch"))));
    assert_kernel_is_model("before the change", &r);
    let (web, db_before) = (chain_of(&r, "a/web"), chain_of(&r, "b/db"));
    let before = handles(&r);

    let done = apply(&mut r, &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("batch"))), Established::Keep);
    let d = done.delta.expect("a delta, not a whole reload");
    assert_eq!(done.path, podwall_lab::apply::Path::NftDelta);
    assert_kernel_is_model("after the change", &r);

    let after = handles(&r);
    let db_after = chain_of(&r, "b/db");
    assert_ne!(db_before, db_after);
    assert_eq!(chain_of(&r, "a/web"), web);
    assert_eq!(after.get(&web), before.get(&web), "web's chain was not replaced: same chain and rule handles");
    assert_eq!(after.get("forward"), before.get("forward"), "the base chain was not replaced");
    assert!(!after.contains_key(&db_before), "db's old chain is gone");
    assert!(after.contains_key(&db_after), "db's new chain is there");
    assert_eq!(d.kept_chains, 1, "{d:#?}");
    assert_eq!(d.new_chains.len(), 1, "{d:#?}");

    // Applying the same state again sends nothing.
    let again = apply(&mut r, &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("batch"))), Established::Keep);
    assert_eq!(again.path, podwall_lab::apply::Path::Nothing);
    assert_eq!(handles(&r), after);
}

/// A TCP connection from a/client to b/db port 7000, opened while db-in allows it, to a
/// listener of the test's own that echoes.
fn open_connection(r: &Running) -> TcpStream {
    let db = r.lab.pods.iter().find(|p| p.name == "b/db").expect("db").clone();
    let client = r.lab.pods.iter().find(|p| p.name == "a/client").expect("client").clone();
    let at = SocketAddr::new(db.address, 7000);
    let listener = netns::run_in(&db.netns, move || TcpListener::bind(at)).expect("listen in db");
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = listener.accept() {
            let mut b = [0u8; 64];
            while let Ok(n) = c.read(&mut b) {
                if n == 0 || c.write_all(&b[..n]).is_err() {
                    break;
                }
            }
        }
    });
    let s = netns::run_in(&client.netns, move || TcpStream::connect_timeout(&at, Duration::from_secs(2)))
        .expect("connect while allowed");
    s.set_read_timeout(Some(Duration::from_millis(1500))).expect("timeout");
    s
}

fn echoes(s: &mut TcpStream) -> bool {
    if s.write_all(b"ping").is_err() {
        return false;
    }
    let mut b = [0u8; 4];
    s.read_exact(&mut b).is_ok() && &b == b"ping"
}

fn new_connection_blocked(r: &Running) -> bool {
    let db = r.lab.pods.iter().find(|p| p.name == "b/db").expect("db").address;
    let client = r.lab.pods.iter().find(|p| p.name == "a/client").expect("client").netns.clone();
    let at = SocketAddr::new(db, 9090);
    netns::run_in(&client, move || Ok(TcpStream::connect_timeout(&at, Duration::from_millis(500)).is_err())).unwrap()
}

fn established_case(case: &str, lab: &str, how: Established) -> bool {
    let mut r = up(lab, &cluster_of(&format!("{}{DB_FROM_A}", pods("batch"))));
    let mut s = open_connection(&r);
    assert!(echoes(&mut s), "{case}: the connection works while allowed");
    let done = apply(&mut r, &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("batch"))), how);
    assert!(new_connection_blocked(&r), "{case}: after the change a new connection is denied");
    let expected = usize::from(how == Established::Flush);
    assert_eq!(done.flushed, expected, "{case}: conntrack entries deleted");
    echoes(&mut s)
}

#[test]
fn established_keep_leaves_a_connection_the_change_denies_open() {
    let case = "established_keep_leaves_a_connection_the_change_denies_open";
    if !privileged(case) {
        return;
    }
    assert!(established_case(case, "t-keep", Established::Keep), "{case}: kept connection still echoes");
}

#[test]
fn established_flush_cuts_a_connection_the_change_denies() {
    let case = "established_flush_cuts_a_connection_the_change_denies";
    if !privileged(case) {
        return;
    }
    assert!(!established_case(case, "t-flush", Established::Flush), "{case}: the flushed connection is cut");
}

#[test]
fn label_changes_go_as_one_netlink_element_batch_and_the_kernel_equals_the_new_model() {
    let case = "label_changes_go_as_one_netlink_element_batch_and_the_kernel_equals_the_new_model";
    if !privileged(case) {
        return;
    }
    let mut r = up("t-netlink", &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("batch"))));
    let before = handles(&r);
    let db = chain_of(&r, "b/db");

    // b/batch becomes a client: one more element in db's peer set.
    let done = apply(&mut r, &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("client"))), Established::Keep);
    let d = done.delta.expect("a delta");
    assert_eq!(done.path, podwall_lab::apply::Path::Netlink, "{d:#?}");
    assert_eq!(d.element_count(), 1, "{d:#?}");
    assert_kernel_is_model("b/batch relabelled a client", &r);
    assert_eq!(handles(&r), before, "no chain was touched");

    // b/batch becomes a db: selected by db-in, its ingress joins db's chain (a map
    // element), and it leaves the client set (a set element).
    let done = apply(&mut r, &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("db"))), Established::Keep);
    let d = done.delta.expect("a delta");
    assert_eq!(done.path, podwall_lab::apply::Path::Netlink, "{d:#?}");
    assert_eq!(d.map_changes.len(), 1, "{d:#?}");
    assert_eq!(d.map_changes[0].new.as_ref().map(|e| e.chain.clone()), Some(db.clone()));
    assert_kernel_is_model("b/batch relabelled a db", &r);
    assert_eq!(handles(&r), before, "no chain was touched");
    let listing = podwall_lab::show(&r.lab).expect("show");
    assert!(
        listing.contains(&format!("comment \"b/batch\" : jump {db}")),
        "the map element carries its pod: {listing}"
    );
}

#[test]
fn a_foreign_table_in_the_node_survives_apply_and_a_whole_reload() {
    let case = "a_foreign_table_in_the_node_survives_apply_and_a_whole_reload";
    if !privileged(case) {
        return;
    }
    let mut r = up("t-foreign", &cluster_of(&format!("{}{DB_FROM_A}", pods("batch"))));
    // Another tool's table in the node, with a base chain on the same hook.
    let foreign = "table inet othertool {\n\tchain filter_forward {\n\t\ttype filter hook forward priority 10; policy accept;\n\t\tcounter\n\t}\n}\n";
    podwall_lab::nft(&r.lab, &["-f", "-"], foreign).expect("foreign table");
    let listed = |r: &Running| {
        podwall_lab::nft(&r.lab, &["list", "table", "inet", "othertool"], "").expect("othertool is there")
    };
    let before = listed(&r).replace(|c: char| c.is_ascii_digit(), "");
    let done = apply(&mut r, &cluster_of(&format!("{}{DB_FROM_B_CLIENT}", pods("batch"))), Established::Keep);
    assert_eq!(done.path, podwall_lab::apply::Path::NftDelta);
    let ruleset = podwall_lab::compile(&r.lab, &r.cluster).expect("compile");
    podwall_lab::load_ruleset(&r.lab, &ruleset.render()).expect("whole reload");
    assert_kernel_is_model("with a foreign table in the node", &r);
    // Its counter moved (it saw the probes); its rules are as they were.
    assert_eq!(listed(&r).replace(|c: char| c.is_ascii_digit(), ""), before, "the foreign table is untouched");
}
