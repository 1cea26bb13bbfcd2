//! Labs of different names are independent (README: "labs of different names run side by
//! side"): taking several down at the same moment, or replacing one with `--force` while
//! another goes down, must neither fail nor leave anything of either lab behind, nor
//! remove anything of a lab that stays.
mod common;
use common::*;

use std::path::Path;
use std::sync::{Arc, Barrier};

use podwall_ir::Cluster;
use podwall_lab::{netns, state_dir, Lab};

/// The named namespaces of lab `name` that exist.
fn namespaces(name: &str) -> Vec<String> {
    netns::list(&podwall_lab::netns_prefix(name))
}

/// Nothing of lab `name` is left: no namespace name under /run/netns, no state folder,
/// no lock file.
fn assert_gone(name: &str) {
    let left = namespaces(name);
    assert!(left.is_empty(), "lab {name} left namespaces {left:?}");
    let dir = state_dir(name);
    assert!(!dir.exists(), "lab {name} left its state folder {}", dir.display());
    let lock = podwall_lab::lock::path(name);
    assert!(!lock.exists(), "lab {name} left its lock file {}", lock.display());
}

/// Lab `lab` is whole: every namespace, every pod's node-side link, its state files and
/// its table in the node.
fn assert_whole(lab: &Lab) {
    let mut want: Vec<String> = lab.pods.iter().map(|p| p.netns.clone()).collect();
    want.push(lab.node.clone());
    want.sort();
    assert_eq!(namespaces(&lab.name), want, "lab {}: its namespaces", lab.name);
    assert_eq!(&podwall_lab::load(&lab.name).expect("state.json"), lab, "lab {}: its state", lab.name);
    podwall_lab::load_installed(&lab.name).expect("installed.json");
    let table = podwall_lab::show(lab).expect("the node's table");
    assert!(table.contains(&format!("table inet {}", podwall_lab::TABLE)), "lab {}: {table}", lab.name);
    let links = podwall_lab::install::Node::Named(lab.node.clone())
        .command("ip", &["-o", "link", "show"], "")
        .expect("ip link in the node");
    let links = String::from_utf8_lossy(&links.stdout);
    for p in &lab.pods {
        assert!(
            links.contains(&format!(": {}@", p.interface)),
            "lab {}: pod {}'s link {}",
            lab.name,
            p.name,
            p.interface
        );
    }
}

fn planned(name: &str, cluster: &Cluster) -> (Lab, Cluster) {
    let (cluster, allocated) = podwall_lab::lab_cluster(cluster).expect("lab cluster");
    (podwall_lab::plan(name, &cluster, &allocated).expect("plan"), cluster)
}

/// A generated cluster big enough that the teardowns overlap for a while.
fn cluster() -> Cluster {
    let p = podwall_synth::Params { pods: 40, namespaces: 4, policies: 8, seed: 7, ..Default::default() };
    let input = podwall_load::load_values("generated", podwall_synth::generate(&p)).expect("load");
    podwall_dialects::compile(&input).expect("compile")
}

/// Runs `jobs` at once (released together by a barrier) and returns their results in order.
fn at_once<T: Send + 'static>(jobs: Vec<Box<dyn FnOnce() -> T + Send>>) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(jobs.len()));
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                job()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("no panic")).collect()
}

/// Removes what a failed round left, so that one failure does not leak into other tests.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = podwall_lab::down(n);
        }
    }
}

#[test]
fn labs_taken_down_at_once_all_go_none_fails_and_a_bystander_stays_whole() {
    if !privileged("labs_taken_down_at_once_all_go_none_fails_and_a_bystander_stays_whole") {
        return;
    }
    let c = cluster();
    // Each name is the start of the next: only the dot after a name tells their
    // namespaces apart. The last lab stands by and must not be touched.
    let names = ["t-race", "t-race-b", "t-race-b-c"];
    let (bystander, cb) = planned("t-race-b-c-d", &c);
    let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    all.push(bystander.name.clone());
    let _cleanup = Cleanup(all);
    podwall_lab::up(&bystander, &cb, true).expect("lab up");
    for round in 0..4 {
        let labs: Vec<(Lab, Cluster)> = names.iter().map(|n| planned(n, &c)).collect();
        for (lab, cluster) in &labs {
            podwall_lab::up(lab, cluster, true).expect("lab up");
            assert_whole(lab);
        }
        let jobs = names
            .iter()
            .map(|n| {
                let n = n.to_string();
                Box::new(move || podwall_lab::down(&n).map_err(|e| format!("lab down --name {n}: {e}")))
                    as Box<dyn FnOnce() -> Result<(), String> + Send>
            })
            .collect();
        for r in at_once(jobs) {
            r.unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        for n in names {
            assert_gone(n);
        }
        assert_whole(&bystander);
    }
    podwall_lab::down(&bystander.name).expect("lab down");
    assert_gone(&bystander.name);
}

#[test]
fn a_lab_replaced_with_force_while_another_goes_down_is_whole_and_the_other_gone() {
    if !privileged("a_lab_replaced_with_force_while_another_goes_down_is_whole_and_the_other_gone") {
        return;
    }
    let c = cluster();
    // The lab that goes has a name the others start with; the last one stands by.
    let (stay, going) = ("t-racing-x", "t-racing");
    let (bystander, cb) = planned("t-racing-y", &c);
    let _cleanup = Cleanup(vec![stay.into(), going.into(), bystander.name.clone()]);
    podwall_lab::up(&bystander, &cb, true).expect("lab up");
    for round in 0..4 {
        let (a, ca) = planned(stay, &c);
        let (b, cb) = planned(going, &c);
        podwall_lab::up(&a, &ca, true).expect("lab up");
        podwall_lab::up(&b, &cb, true).expect("lab up");
        let (a2, ca2) = (a.clone(), ca.clone());
        let jobs: Vec<Box<dyn FnOnce() -> Result<(), String> + Send>> = vec![
            Box::new(move || {
                podwall_lab::up(&a2, &ca2, true).map(|_| ()).map_err(|e| format!("lab up --force --name {stay}: {e}"))
            }),
            Box::new(move || podwall_lab::down(going).map_err(|e| format!("lab down --name {going}: {e}"))),
        ];
        for r in at_once(jobs) {
            r.unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        assert_whole(&a);
        assert_gone(going);
        assert_whole(&bystander);
        podwall_lab::down(stay).expect("lab down");
        assert_gone(stay);
        assert!(!Path::new(&netns::path(&a.node)).exists());
    }
    podwall_lab::down(&bystander.name).expect("lab down");
    assert_gone(&bystander.name);
}
