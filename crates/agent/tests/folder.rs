//! The agent in folder mode, end to end on real network namespaces: a lab's pods, the
//! agent installing into the lab's node. A changed file turns the kernel's verdicts into
//! the new model's within a stated time; a restart installs nothing until it replaces
//! the table in one transaction (the old ruleset enforces meanwhile); a folder that no
//! longer loads leaves the last good ruleset enforced and the health degraded.
mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use podwall_agent::{Agent, Config, Local, Source};
use podwall_engine::Index;
use podwall_lab::install::{Node, Path as Sent};
use podwall_lab::verify::compare;

use common::{lab, reaches, Lab, DB_FROM_A, DB_FROM_B_CLIENT};

/// The longest a change may take from being written to being what the kernel does (the
/// poll interval is 100 ms; the rest is load, compile and one transaction, on a busy
/// machine).
const WITHIN: Duration = Duration::from_secs(10);

fn cluster(dir: &Path) -> podwall_ir::Cluster {
    let (c, _, _) = podwall_agent::load(dir).expect("load");
    podwall_lab::lab_cluster(&c).expect("lab cluster").0
}

fn agent(l: &Lab) -> Agent {
    Agent::new(Config {
        source: Source::Folder(l.dir.clone()),
        node: Node::Named(l.lab.node.clone()),
        state: l.dir.with_extension("state"),
        local: Local::Every,
    })
}

/// The pairs where the kernel differs from the model of the folder as it is now.
fn differing(l: &Lab) -> Vec<String> {
    let c = cluster(&l.dir);
    let index = Index::new(&c);
    let kernel = podwall_lab::probe(&l.lab, podwall_ir::Protocol::TCP, 9090).expect("probe");
    compare(&l.lab, &index, podwall_ir::Protocol::TCP, 9090, &kernel).iter().map(|m| m.to_string()).collect()
}

fn b_client_reaches_db(l: &Lab) -> bool {
    reaches(l, "b/client", "b/db")
}

#[test]
fn a_changed_file_turns_the_kernel_verdicts_into_the_new_model_within_the_stated_time() {
    if !podwall_lab::privileged_test(
        "a_changed_file_turns_the_kernel_verdicts_into_the_new_model_within_the_stated_time",
    ) {
        return;
    }
    let l = lab("agw", &[("db.yaml", DB_FROM_A)]);
    let mut a = agent(&l);
    assert!(!a.knows_installed());
    let first = a.sync().expect("first sync");
    assert_eq!(first.path, Sent::NftFull, "with no record, the table is replaced whole");
    assert_eq!(differing(&l), Vec::<String>::new());
    assert!(!b_client_reaches_db(&l), "before: db takes only namespace a");

    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let status = a.status.clone();
    let watcher = std::thread::spawn(move || {
        podwall_agent::watch(&mut a, Duration::from_millis(100), || stopped.load(Ordering::Relaxed));
    });
    let written = Instant::now();
    std::fs::write(l.dir.join("db.yaml"), DB_FROM_B_CLIENT).unwrap();
    while !b_client_reaches_db(&l) {
        assert!(written.elapsed() < WITHIN, "the kernel did not follow the changed file within {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("kernel followed the file {} ms after it was written", written.elapsed().as_millis());
    assert_eq!(differing(&l), Vec::<String>::new(), "after the change the kernel is the new model");
    {
        let st = status.lock().unwrap();
        assert_eq!(st.syncs.get("nft-delta").copied().unwrap_or(0) + st.syncs.get("netlink").copied().unwrap_or(0), 1);
        assert!(st.health().0);
    }

    // A folder that no longer loads: reported, and the last good ruleset stays.
    std::fs::write(l.dir.join("db.yaml"), "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: x, namespace: b}\nspec: {podSelector: {matchLabel: {}}}\n").unwrap();
    let written = Instant::now();
    while status.lock().unwrap().error.is_none() {
        assert!(written.elapsed() < WITHIN, "a broken file was not reported within {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (healthy, text) = status.lock().unwrap().health();
    assert!(!healthy && text.contains("matchLabel"), "health names the problem: {text}");
    assert!(b_client_reaches_db(&l), "the last good ruleset is still enforced");
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
}

#[test]
fn a_restart_keeps_the_installed_table_until_one_transaction_replaces_it() {
    if !podwall_lab::privileged_test("a_restart_keeps_the_installed_table_until_one_transaction_replaces_it") {
        return;
    }
    let l = lab("agr", &[("db.yaml", DB_FROM_A)]);
    agent(&l).sync().expect("first run");
    // The first run is gone; the policy changes while no agent runs.
    std::fs::write(l.dir.join("db.yaml"), DB_FROM_B_CLIENT).unwrap();
    let mut again = agent(&l);
    assert!(again.knows_installed(), "the second run starts from the first run's record");
    // Before its first sync, the first run's ruleset still filters: no window.
    assert!(!b_client_reaches_db(&l), "the old ruleset enforces until it is replaced");
    let node = Node::Named(l.lab.node.clone());
    node.nft(&["list", "table", "inet", podwall_lab::TABLE], "").expect("the table is still installed");
    let s = again.sync().expect("second run");
    assert_ne!(s.path, Sent::NftFull, "a restart sends a delta against the record, not a reload");
    assert_eq!(differing(&l), Vec::<String>::new());
    assert!(b_client_reaches_db(&l));
    // Nothing changed: nothing is sent.
    assert_eq!(again.sync().expect("third").path, Sent::Nothing);
}
