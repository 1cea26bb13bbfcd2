//! From typed objects to the tiered intermediate form.
//!
//! [`compile`] builds the universe (namespaces, endpoints from Pods and workload
//! templates, nodes, service accounts) and translates every policy object into
//! [`podwall_ir::Policy`]s placed in [`podwall_ir::Tier`]s. Each dialect has one module
//! and is the only place that dialect is interpreted. Semantic errors (an invalid CIDR,
//! an unknown protocol, a bad operator) are [`InputError`]s naming the file, the
//! object and the field.
#![forbid(unsafe_code)]

mod k8s;
mod labels;
mod universe;

use podwall_ir::{Cluster, PolicySet, Tier, TierDefault, DEFAULT_TIER, DEFAULT_TIER_ORDER};
use podwall_load::{Input, InputError};

/// Compiles the input into a [`Cluster`].
pub fn compile(input: &Input) -> Result<Cluster, InputError> {
    let mut cluster = universe::build(input)?;
    let mut default_tier = Tier {
        name: DEFAULT_TIER.into(),
        order: Some(DEFAULT_TIER_ORDER),
        default_action: TierDefault::Deny,
        policies: vec![],
    };
    for obj in &input.objects {
        if let podwall_load::Resource::NetworkPolicy(np) = &obj.resource {
            default_tier.policies.push(k8s::compile(obj, np)?);
        }
    }
    cluster.policies = PolicySet::new(vec![default_tier]);
    Ok(cluster)
}
