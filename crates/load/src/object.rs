//! Typed objects.
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use serde::de::DeserializeOwned;

use crate::InputError;
use podwall_ir::Source;

/// A workload's pod template.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// `Deployment`, `StatefulSet`, ...
    pub kind: String,
    /// The template its pods are made from.
    pub template: crate::pods::Template,
}

/// An object podwall reads, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// v1 Namespace.
    Namespace(Box<core::Namespace>),
    /// v1 Pod (what policy reads of it).
    Pod(Box<crate::pods::Pod>),
    /// A workload's pod template.
    Workload(Box<Workload>),
    /// networking.k8s.io/v1 NetworkPolicy.
    NetworkPolicy(Box<net::NetworkPolicy>),
    /// v1 Node.
    Node(Box<core::Node>),
    /// v1 ServiceAccount.
    ServiceAccount(Box<core::ServiceAccount>),
    /// Calico Tier.
    CalicoTier(Box<crate::calico::Tier>),
    /// Calico NetworkPolicy (`global: false`) or GlobalNetworkPolicy (`global: true`);
    /// `staged` for the Staged variants, which are recognised but not enforced.
    CalicoPolicy { global: bool, staged: bool, policy: Box<crate::calico::Policy> },
    /// Calico NetworkSet (`global: false`) or GlobalNetworkSet.
    CalicoNetworkSet { global: bool, set: Box<crate::calico::NetworkSet> },
    /// A StagedKubernetesNetworkPolicy: recognised, not enforced.
    StagedKubernetesNetworkPolicy,
    /// AdminNetworkPolicy (`baseline: false`) or BaselineAdminNetworkPolicy.
    AdminPolicy { baseline: bool, policy: Box<crate::anp::Policy> },
    /// policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy.
    ClusterPolicy(Box<crate::cnp::Policy>),
}

/// One object of the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// Where it was read.
    pub source: Source,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
    /// Its namespace (`default` for namespaced kinds that give none; `None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The typed object.
    pub resource: Resource,
}

impl Object {
    /// `Kind ns/name` or `Kind name`, for messages.
    pub fn display(&self) -> String {
        display(&self.kind, self.namespace.as_deref(), &self.name)
    }
}

pub(crate) fn display(kind: &str, ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// An object's text or tree, to be typed once its kind is known.
pub(crate) enum Doc<'a> {
    /// A parsed tree (YAML documents).
    Value(serde_json::Value),
    /// JSON text, typed without building a tree.
    Raw(&'a str),
}

fn typed<T: DeserializeOwned>(doc: Doc<'_>, source: &Source, object: &str) -> Result<T, InputError> {
    let result = match doc {
        Doc::Value(v) => serde_path_to_error::deserialize(v),
        Doc::Raw(text) => serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)),
    };
    result.map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { None } else { Some(path) };
        InputError {
            location: source.clone(),
            object: Some(object.to_string()),
            field,
            message: e.into_inner().to_string(),
        }
    })
}

/// Whether objects of this API group and kind are workloads whose pod template podwall
/// reads.
pub fn is_workload(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
            | ("batch", "Job" | "CronJob")
            | ("", "ReplicationController")
    )
}

/// Whether podwall reads objects of this API group and kind.
pub(crate) fn is_known(group: &str, kind: &str) -> bool {
    is_workload(group, kind)
        || matches!(
            (group, kind),
            ("", "Namespace" | "Pod" | "Node" | "ServiceAccount")
                | ("networking.k8s.io", "NetworkPolicy")
                | (
                    "projectcalico.org" | "crd.projectcalico.org",
                    "Tier"
                        | "NetworkPolicy"
                        | "GlobalNetworkPolicy"
                        | "StagedNetworkPolicy"
                        | "StagedGlobalNetworkPolicy"
                        | "StagedKubernetesNetworkPolicy"
                        | "NetworkSet"
                        | "GlobalNetworkSet"
                )
                | (
                    "policy.networking.k8s.io",
                    "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy"
                )
        )
}

/// Types a known object. `group` is the API group of `apiVersion` (empty for core).
pub(crate) fn resource(
    group: &str,
    kind: &str,
    value: Doc<'_>,
    source: &Source,
    object: &str,
) -> Result<Resource, InputError> {
    let workload = |template| Ok(Resource::Workload(Box::new(Workload { kind: kind.to_string(), template })));
    match (group, kind) {
        ("", "Namespace") => Ok(Resource::Namespace(typed(value, source, object)?)),
        ("", "Pod") => Ok(Resource::Pod(typed(value, source, object)?)),
        ("", "Node") => Ok(Resource::Node(typed(value, source, object)?)),
        ("", "ServiceAccount") => Ok(Resource::ServiceAccount(typed(value, source, object)?)),
        ("networking.k8s.io", "NetworkPolicy") => Ok(Resource::NetworkPolicy(typed(value, source, object)?)),
        _ if is_workload(group, kind) => {
            let w: crate::pods::WorkloadObject = typed(value, source, object)?;
            let path = if kind == "CronJob" { "spec.jobTemplate.spec.template" } else { "spec.template" };
            let template = w
                .template()
                .ok_or_else(|| InputError::field(source, object, path, "the workload has no pod template"))?;
            workload(template)
        }
        ("projectcalico.org" | "crd.projectcalico.org", _) => {
            let policy = |global, staged, value| -> Result<Resource, InputError> {
                Ok(Resource::CalicoPolicy { global, staged, policy: typed(value, source, object)? })
            };
            match kind {
                "Tier" => Ok(Resource::CalicoTier(typed(value, source, object)?)),
                "NetworkPolicy" => policy(false, false, value),
                "GlobalNetworkPolicy" => policy(true, false, value),
                "StagedNetworkPolicy" => policy(false, true, value),
                "StagedGlobalNetworkPolicy" => policy(true, true, value),
                "StagedKubernetesNetworkPolicy" => Ok(Resource::StagedKubernetesNetworkPolicy),
                "NetworkSet" => Ok(Resource::CalicoNetworkSet { global: false, set: typed(value, source, object)? }),
                _ => Ok(Resource::CalicoNetworkSet { global: true, set: typed(value, source, object)? }),
            }
        }
        ("policy.networking.k8s.io", "ClusterNetworkPolicy") => {
            Ok(Resource::ClusterPolicy(typed(value, source, object)?))
        }
        ("policy.networking.k8s.io", _) => Ok(Resource::AdminPolicy {
            baseline: kind == "BaselineAdminNetworkPolicy",
            policy: typed(value, source, object)?,
        }),
        _ => Err(InputError::at(source.clone(), format!("internal: no reader for {group}/{kind}"))),
    }
}

/// Whether objects of this kind live in a namespace.
pub(crate) fn is_namespaced(kind: &str) -> bool {
    !matches!(
        kind,
        "Namespace"
            | "Node"
            | "Tier"
            | "GlobalNetworkPolicy"
            | "StagedGlobalNetworkPolicy"
            | "GlobalNetworkSet"
            | "AdminNetworkPolicy"
            | "BaselineAdminNetworkPolicy"
            | "ClusterNetworkPolicy"
    )
}
