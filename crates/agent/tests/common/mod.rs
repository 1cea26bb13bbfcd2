//! What the agent's end-to-end tests share: the pods of one node (the lab runs them), two
//! versions of the policy that guards db, and the lab.
#![allow(dead_code)]
use std::path::PathBuf;

/// The pods of `node-1`, in two namespaces.
pub const PODS: &str = include_str!("../fixtures/pods.yaml");

/// db takes anything from namespace a (so not b's client).
pub const DB_FROM_A: &str = include_str!("../fixtures/db-from-a.yaml");

/// db takes only b's clients.
pub const DB_FROM_B_CLIENT: &str = include_str!("../fixtures/db-from-b-client.yaml");

/// A lab brought up from a folder, torn down (with the folder and its state folder) on
/// drop.
pub struct Lab {
    pub lab: podwall_lab::Lab,
    pub dir: PathBuf,
    _responders: podwall_lab::serve::Responders,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = podwall_lab::down(&self.lab.name);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.dir.with_extension("state"));
    }
}

/// A lab named `name` plus the process id (so that concurrent runs never share one),
/// from a folder holding [`PODS`] and `files` (name, text).
pub fn lab(name: &str, files: &[(&str, &str)]) -> Lab {
    let name = format!("{name}{}", std::process::id() % 100_000);
    let dir = std::env::temp_dir().join(format!("podwall-agent-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(dir.with_extension("state"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pods.yaml"), PODS).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let (c, _, _) = podwall_agent::load(&dir).expect("load");
    let (c, allocated) = podwall_lab::lab_cluster(&c).unwrap();
    let plan = podwall_lab::plan(&name, &c, &allocated).unwrap();
    podwall_lab::up(&plan, &c, true).expect("lab up");
    let responders = podwall_lab::serve::start(&plan).expect("responders");
    Lab { lab: plan, dir, _responders: responders }
}

/// Whether the kernel lets `from` connect to `to` on TCP 9090 (pods by `NS/NAME`).
pub fn reaches(l: &Lab, from: &str, to: &str) -> bool {
    let kernel = podwall_lab::probe(&l.lab, podwall_ir::Protocol::TCP, 9090).expect("probe");
    let at = |n: &str| l.lab.pods.iter().position(|p| p.name == n).expect("pod");
    kernel[at(from)][at(to)]
}
