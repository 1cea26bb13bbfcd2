//! Every example of the seed articles, with verdicts written by hand from the
//! specification (`tests/seeds/*/expect.txt`), and the demo cluster in `examples/`.
mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn seed_examples_give_the_verdicts_written_by_hand() {
    let dir = root().join("tests/seeds");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("tests/seeds").map(|e| e.expect("entry").path()).collect();
    cases.sort();
    assert!(cases.len() >= 20, "expected the seed fixtures, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let c = common::cluster(&[&case.join("cluster.yaml")]);
        failures.extend(common::check_all(&c, &case.join("expect.txt")));
    }
    assert!(failures.is_empty(), "{} wrong verdicts:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn demo_cluster_gives_the_verdicts_written_by_hand() {
    let ex = root().join("examples");
    let c = common::cluster(&[&ex]);
    let failures = common::check_all(&c, &ex.join("expect.txt"));
    assert!(failures.is_empty(), "{} wrong verdicts:\n{}", failures.len(), failures.join("\n"));
}
