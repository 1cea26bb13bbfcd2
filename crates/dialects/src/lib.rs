//! From typed objects to the tiered intermediate form.
//!
//! [`compile`] builds the universe (namespaces, endpoints from Pods and workload
//! templates, nodes, service accounts, network sets) and translates every policy object
//! into [`podwall_ir::Policy`]s placed in [`podwall_ir::Tier`]s. Each dialect has one
//! module and is the only place that dialect is interpreted. Semantic errors (an invalid
//! CIDR, an unknown protocol, a bad operator) are [`InputError`]s naming the file, the
//! object and the field.
#![forbid(unsafe_code)]

mod anp;
mod calico;
mod cnp;
mod k8s;
mod labels;
mod relevance;
mod universe;

use std::collections::BTreeMap;

pub use cnp::{CNP_ADMIN_TIER, CNP_ADMIN_TIER_ORDER, CNP_BASELINE_TIER, CNP_BASELINE_TIER_ORDER};
pub use relevance::Relevance;

use podwall_ir::{Cluster, PolicySet, Tier, TierDefault, DEFAULT_TIER, DEFAULT_TIER_ORDER};
use podwall_load::{Input, InputError, Resource};
use rayon::prelude::*;

/// Reads a Calico selector as a `namespaceSelector`: its labels become namespace labels
/// (evaluate the result on [`Cluster::namespace_view`] or on an endpoint's view).
pub fn calico_namespace_selector(e: podwall_ir::Expr) -> podwall_ir::Expr {
    calico::namespace_view(e)
}

/// Compiles the input into a [`Cluster`].
pub fn compile(input: &Input) -> Result<Cluster, InputError> {
    let mut cluster = universe::build(input)?;
    let mut tiers: BTreeMap<String, Tier> = BTreeMap::new();
    tiers.insert(
        DEFAULT_TIER.into(),
        Tier {
            name: DEFAULT_TIER.into(),
            order: Some(DEFAULT_TIER_ORDER),
            default_action: TierDefault::Deny,
            policies: vec![],
        },
    );
    calico::tiers(input, &mut tiers)?;
    anp::tiers(input, &mut tiers, &mut cluster)?;
    cnp::tiers(input, &mut tiers, &mut cluster)?;
    calico::network_sets(input, &mut cluster)?;
    // Kubernetes NetworkPolicies compile independently of each other: in parallel, first
    // error in input order.
    let k8s: Vec<Result<podwall_ir::Policy, InputError>> = input
        .objects
        .par_iter()
        .filter_map(|obj| match &obj.resource {
            Resource::NetworkPolicy(np) => Some(k8s::compile(obj, np)),
            _ => None,
        })
        .collect();
    for p in k8s {
        let p = p?;
        if let Some(t) = tiers.get_mut(DEFAULT_TIER) {
            t.policies.push(p);
        }
    }
    for obj in &input.objects {
        match &obj.resource {
            Resource::CalicoPolicy { global, staged, policy } => {
                if let Some((tier, p)) = calico::compile(obj, *global, *staged, policy, &tiers, &mut cluster)? {
                    if let Some(t) = tiers.get_mut(&tier) {
                        t.policies.push(p);
                    }
                }
            }
            Resource::StagedKubernetesNetworkPolicy => cluster.warnings.push(podwall_ir::Warning {
                source: Some(obj.source.clone()),
                object: obj.display(),
                message: "staged policies are not enforced; podwall reports what is enforced".into(),
            }),
            _ => {}
        }
    }
    cluster.policies = PolicySet::new(tiers.into_values().collect());
    Ok(cluster)
}
