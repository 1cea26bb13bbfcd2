//! Shared by the privileged lab tests: the privilege check, a lab that cleans up on drop
//! (also on panic), and the kernel-against-model comparison.
#![allow(dead_code)]
use podwall_engine::Index;
use podwall_ir::Cluster;
use podwall_lab::verify::{compare, Mismatch};
use podwall_lab::{serve::Responders, Lab};

/// Whether the privileged tests can run here (see `podwall_lab::privileged_test`).
pub fn privileged(test: &str) -> bool {
    podwall_lab::privileged_test(test)
}

/// A running lab: torn down when dropped.
pub struct Running {
    pub lab: Lab,
    pub cluster: Cluster,
    responders: Option<Responders>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.responders.take();
        let _ = podwall_lab::down(&self.lab.name);
    }
}

/// Brings a lab named `name` up from `cluster`, with responders in this process.
pub fn up(name: &str, cluster: &Cluster) -> Running {
    let (cluster, allocated) = podwall_lab::lab_cluster(cluster).expect("lab cluster");
    let lab = podwall_lab::plan(name, &cluster, &allocated).expect("plan");
    let mut running = Running { lab, cluster, responders: None };
    podwall_lab::up(&running.lab, &running.cluster, true).expect("lab up");
    running.responders = Some(podwall_lab::serve::start(&running.lab).expect("responders"));
    running
}

/// Probes every declared port and protocol of the lab and returns every pair where the
/// kernel and the model differ.
pub fn mismatches(r: &Running) -> Vec<Mismatch> {
    let index = Index::new(&r.cluster);
    let mut out = Vec::new();
    for (proto, port) in r.cluster.declared_ports() {
        let kernel = podwall_lab::probe(&r.lab, proto, port).expect("probe");
        out.extend(compare(&r.lab, &index, proto, port, &kernel));
    }
    out
}

/// Fails naming every differing pair, and if the case's verdicts are all alike.
pub fn assert_kernel_is_model(case: &str, r: &Running) {
    assert_not_uniform(case, r);
    assert_kernel_equals_model(case, r);
}

/// Fails naming every pair where the kernel and the model differ.
pub fn assert_kernel_equals_model(case: &str, r: &Running) {
    let bad = mismatches(r);
    let ports = r.cluster.declared_ports();
    assert!(!ports.is_empty(), "{case}: no declared ports: nothing would be compared");
    let list: Vec<String> = bad.iter().map(|m| m.to_string()).collect();
    assert!(bad.is_empty(), "{case}: kernel and model differ on {} pair(s):\n{}", bad.len(), list.join("\n"));
}

/// Loads a cluster from manifests.
pub fn cluster_of(yaml: &str) -> Cluster {
    let input = podwall_load::load_str("case.yaml", yaml).expect("load");
    podwall_dialects::compile(&input).expect("compile")
}

/// Loads the shipped example cluster.
pub fn examples() -> Cluster {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples").to_string();
    let input = podwall_load::load_paths(&[dir]).expect("load examples");
    podwall_dialects::compile(&input).expect("compile examples")
}

/// Fails unless the model both allows and denies some pair between different pods: a
/// case where every verdict is the same would prove little.
pub fn assert_not_uniform(case: &str, r: &Running) {
    let index = Index::new(&r.cluster);
    let (mut yes, mut no) = (false, false);
    for (proto, port) in r.cluster.declared_ports() {
        let m = podwall_lab::verify::model(&r.lab, &index, proto, port);
        for (i, row) in m.iter().enumerate() {
            for (j, &a) in row.iter().enumerate() {
                if i != j && podwall_lab::verify::comparable(&r.lab, i, j) {
                    yes |= a;
                    no |= !a;
                }
            }
        }
    }
    assert!(yes && no, "{case}: the model's verdicts are uniform (allowed somewhere: {yes}, denied somewhere: {no})");
}

/// Applies `cluster`'s policies to the running lab, as `lab apply` does.
pub fn apply(r: &mut Running, cluster: &Cluster, established: podwall_lab::Established) -> podwall_lab::Applied {
    let (cluster, allocated) = podwall_lab::lab_cluster(cluster).expect("lab cluster");
    let lab = podwall_lab::replan(&r.lab, &cluster, &allocated).expect("replan");
    let done = podwall_lab::apply(&lab, &cluster, established).expect("apply");
    r.lab = lab;
    r.cluster = cluster;
    done
}

/// The node's chains with their kernel handles: chain name → (chain handle, rule handles).
pub fn handles(r: &Running) -> std::collections::BTreeMap<String, (u64, Vec<u64>)> {
    let text = podwall_lab::nft(&r.lab, &["-a", "list", "table", "inet", podwall_lab::TABLE], "").expect("nft list");
    let mut out = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    let handle = |l: &str| l.rsplit_once("# handle ").and_then(|(_, h)| h.trim().parse::<u64>().ok());
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("chain ") {
            let name = rest.split_whitespace().next().unwrap_or_default().to_string();
            out.insert(name.clone(), (handle(t).expect("chain handle"), vec![]));
            current = Some(name);
        } else if t.starts_with("map ") || t.starts_with("set ") || t == "}" {
            current = None;
        } else if let (Some(c), Some(h)) = (&current, handle(t)) {
            out.get_mut(c).expect("chain").1.push(h);
        }
    }
    out
}
