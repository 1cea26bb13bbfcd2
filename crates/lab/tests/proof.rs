//! Proof tests: the kernel's verdicts in a lab equal the model's matrix for every ordered
//! pod pair on every declared port and protocol.
mod common;
use common::*;

#[test]
fn examples_kernel_verdicts_equal_model_matrix() {
    if !privileged("examples_kernel_verdicts_equal_model_matrix") {
        return;
    }
    let r = up("t-examples", &examples());
    assert_kernel_is_model("examples", &r);
}

/// The comparison can fail: with the ruleset replaced by an empty table every pair is
/// reached, and the example cluster's denied pairs must show up as differences.
#[test]
fn probes_catch_a_ruleset_that_differs_from_the_model() {
    if !privileged("probes_catch_a_ruleset_that_differs_from_the_model") {
        return;
    }
    let r = up("t-wrong", &examples());
    let t = podwall_lab::TABLE;
    podwall_lab::load_ruleset(&r.lab, &format!("table inet {t}\ndelete table inet {t}\ntable inet {t} {{}}\n"))
        .expect("empty ruleset");
    let bad = mismatches(&r);
    assert!(!bad.is_empty(), "an open data plane must differ from the examples' model");
    assert!(bad.iter().all(|m| !m.model && m.kernel), "only model-denied pairs can differ: {bad:?}");
}
