//! Proof tests on generated clusters mixing every dialect (`podwall-synth`), a few fixed
//! seeds so the run stays short. Seeds 1, 2 and 5 hold ClusterNetworkPolicies, 9 two in
//! the Baseline tier, 15 both tiers.
mod common;
use common::*;

fn seed(s: u64) {
    let case = format!("synth_mixed_seed_{s}");
    if !privileged(&case) {
        return;
    }
    let input = podwall_load::load_values("generated", podwall_synth::generate_small_mixed(s)).expect("load");
    let cluster = podwall_dialects::compile(&input).expect("compile");
    let r = up(&format!("t-synth-{s}"), &cluster);
    if r.cluster.declared_ports().is_empty() {
        eprintln!("{case}: no declared ports, nothing to compare");
        return;
    }
    assert_kernel_equals_model(&case, &r);
}

macro_rules! seeds {
    ($($name:ident = $s:expr),*) => {$(
        #[test]
        fn $name() {
            seed($s);
        }
    )*};
}

seeds!(
    synth_mixed_seed_1 = 1,
    synth_mixed_seed_2 = 2,
    synth_mixed_seed_3 = 3,
    synth_mixed_seed_4 = 4,
    synth_mixed_seed_5 = 5,
    synth_mixed_seed_6 = 6,
    synth_mixed_seed_9 = 9,
    synth_mixed_seed_15 = 15
);
