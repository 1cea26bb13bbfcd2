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
pub mod notes;
mod relevance;
mod tiers;
mod universe;

use std::collections::BTreeMap;

pub use relevance::Relevance;
pub use tiers::*;

use podwall_ir::{Cluster, PolicySet, Tier, TierDefault};
use podwall_load::{Input, InputError, Resource};
use rayon::prelude::*;

/// Reads a parsed Calico selector in Calico's endpoint label view, as a policy's
/// `selector` is (evaluate the result on an endpoint's or a network set's view).
pub fn calico_selector(e: podwall_ir::Expr) -> podwall_ir::Expr {
    calico::resolve(e)
}

/// Reads a Calico selector as a `namespaceSelector`: its labels become namespace labels
/// (evaluate the result on [`Cluster::namespace_view`] or on an endpoint's view).
pub fn calico_namespace_selector(e: podwall_ir::Expr) -> podwall_ir::Expr {
    calico::resolve(calico::namespace_view(e))
}

/// The objects of `input` with one object per (API group, kind, namespace, name): the
/// one read last, as `kubectl apply` of the files in order would leave the cluster, with
/// a warning naming every place the object was given. `None` when every name is unique.
fn one_per_name(input: &Input) -> Option<(Input, Vec<podwall_ir::Finding>)> {
    use std::collections::HashMap;
    fn group(api: &str) -> &str {
        match api.rsplit_once('/').map_or("", |(g, _)| g) {
            // Calico's API server and its CRDs store the same objects.
            "crd.projectcalico.org" => "projectcalico.org",
            g => g,
        }
    }
    let mut last: HashMap<(&str, &str, Option<&str>, &str), Vec<usize>> = HashMap::new();
    for (i, o) in input.objects.iter().enumerate() {
        last.entry((group(&o.api_version), &o.kind, o.namespace.as_deref(), &o.name)).or_default().push(i);
    }
    if last.len() == input.objects.len() {
        return None;
    }
    let mut warnings = Vec::new();
    let mut dropped = vec![false; input.objects.len()];
    let mut repeated: Vec<&Vec<usize>> = last.values().filter(|v| v.len() > 1).collect();
    repeated.sort();
    for places in repeated {
        let (&kept, earlier) = places.split_last().expect("two or more places");
        earlier.iter().for_each(|&i| dropped[i] = true);
        let o = &input.objects[kept];
        let at: Vec<String> = earlier.iter().map(|&i| input.objects[i].source.to_string()).collect();
        warnings.push(notes::about(
            notes::DUPLICATE,
            o,
            format!(
                "given {} times; the one read last (here) is used, as `kubectl apply` would leave it; also at {}",
                places.len(),
                at.join(", ")
            ),
        ));
    }
    let mut unique = input.clone();
    let mut keep = dropped.iter().map(|d| !d);
    unique.objects.retain(|_| keep.next().unwrap_or(true));
    Some((unique, warnings))
}

/// Compiles the input into a [`Cluster`]. An object given more than once (same kind,
/// namespace and name) counts once: the one read last, with a warning.
pub fn compile(input: &Input) -> Result<Cluster, InputError> {
    match one_per_name(input) {
        Some((unique, warnings)) => {
            let mut cluster = compile_unique(&unique)?;
            cluster.warnings.splice(0..0, warnings);
            Ok(cluster)
        }
        None => compile_unique(input),
    }
}

/// Like [`compile`], passing over what [`podwall_load::Options::skip_invalid`] allows:
/// an object of a [`Input::lenient`] file that does not compile (one the API server
/// would refuse) is taken out of `input` and listed in `input.invalid`; an error about
/// any other object still ends the compile. Everything passed over, by the reader or
/// here, becomes a warning of the cluster.
pub fn compile_lenient(input: &mut Input) -> Result<Cluster, InputError> {
    let mut cluster = loop {
        let error = match compile(input) {
            Ok(cluster) => break cluster,
            Err(e) => e,
        };
        let Some(object) = error.object.as_deref() else { return Err(error) };
        if !input.lenient.contains(&error.location.file) {
            return Err(error);
        }
        let before = input.objects.len();
        input.objects.retain(|o| !(o.source == error.location && o.display() == object));
        if input.objects.len() == before {
            return Err(error);
        }
        input.invalid.push(podwall_load::Invalid { error, whole_file: false });
    };
    // In input order: by file as read, then by line.
    let order: std::collections::HashMap<&str, usize> =
        input.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let mut passed: Vec<&podwall_load::Invalid> = input.invalid.iter().collect();
    passed.sort_by_key(|i| (order.get(i.error.location.file.as_str()), i.error.location.line));
    let passed: Vec<_> = notes::gaps(&input.gaps).into_iter().chain(passed.into_iter().map(notes::invalid)).collect();
    cluster.warnings.splice(0..0, passed);
    Ok(cluster)
}

fn compile_unique(input: &Input) -> Result<Cluster, InputError> {
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
            Resource::Unevaluated => {
                cluster.warnings.push(notes::about(
                    notes::UNEVALUATED,
                    obj,
                    format!(
                        "{} policies are not evaluated by podwall: answers about pods it could select leave it out",
                        obj.api_version
                    ),
                ));
                cluster.unevaluated.push(podwall_ir::Unevaluated {
                    object: obj.display(),
                    namespace: obj.namespace.clone(),
                    source: Some(obj.source.clone()),
                });
            }
            Resource::StagedKubernetesNetworkPolicy => cluster.warnings.push(notes::about(
                notes::STAGED,
                obj,
                "staged policies are not enforced; podwall reports what is enforced",
            )),
            _ => {}
        }
    }
    cluster.policies = PolicySet::new(tiers.into_values().collect());
    Ok(cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWICE: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]\n";

    #[test]
    fn an_invalid_later_copy_is_skipped_and_the_earlier_copy_is_used() {
        // `kubectl apply` of both: the API server refuses the second, the first stays.
        let mut input = podwall_load::load_str("a.yaml", TWICE).expect("loads");
        input.lenient.insert("a.yaml".into());
        let cluster = compile_lenient(&mut input).expect("the invalid copy is skipped");
        assert_eq!(input.invalid.len(), 1);
        assert_eq!(input.invalid[0].error.location.line, 8);
        let policies: Vec<_> = cluster.policies.policies().map(|(_, p)| p).collect();
        assert_eq!(policies.len(), 1);
        assert_eq!(policies[0].source.as_ref().map(|s| s.line), Some(1));
        assert_eq!(cluster.warnings[0].id, notes::OBJECT_SKIPPED);
        assert!(cluster.warnings[0].message.contains("invalid CIDR"), "{}", cluster.warnings[0]);
    }

    #[test]
    fn an_invalid_object_outside_lenient_files_is_still_an_error() {
        let mut input = podwall_load::load_str("a.yaml", TWICE).expect("loads");
        let err = compile_lenient(&mut input).expect_err("not lenient");
        assert_eq!(err.location.line, 8);
        assert!(input.invalid.is_empty());
    }
}
