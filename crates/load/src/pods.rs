//! What the network model reads of Pods and pod templates: a projection typed straight
//! from the manifest that skips everything else (managed fields, volumes, env, ...).
//!
//! Measured on a generated 100,000-pod cluster, reading whole `k8s_openapi` Pods made
//! loading about twice as slow as merely parsing the JSON; the projection keeps `check`
//! near that floor. Checks that need whole pod specs (Pod Security) read them with
//! `k8s_openapi` types in their own pass.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ContainerPort;
use serde::Deserialize;

/// The metadata a template or pod carries that matters to policy.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Meta {
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The objects that own this one (a ReplicaSet owns its Pods, a Deployment its
    /// ReplicaSets).
    #[serde(default, rename = "ownerReferences")]
    pub owner_references: Option<Vec<OwnerRef>>,
}

/// One `metadata.ownerReferences` entry: what podwall needs to find the owner in the
/// input (owners live in the namespace of what they own).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct OwnerRef {
    /// The owner's kind.
    #[serde(default)]
    pub kind: String,
    /// The owner's name.
    #[serde(default)]
    pub name: String,
}

impl Meta {
    /// The owners' (kind, name).
    pub fn owners(&self) -> impl Iterator<Item = (&str, &str)> {
        self.owner_references.iter().flatten().map(|o| (o.kind.as_str(), o.name.as_str()))
    }
}

/// A container's declared ports.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Container {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its ports.
    #[serde(default)]
    pub ports: Option<Vec<ContainerPort>>,
}

/// The parts of a pod spec that matter to policy.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// Containers (init and ephemeral containers serve no ports to policy).
    #[serde(default)]
    pub containers: Vec<Container>,
    /// The service account.
    pub service_account_name: Option<String>,
    /// The deprecated alias of `serviceAccountName`.
    pub service_account: Option<String>,
    /// Whether the pod uses its node's network namespace.
    pub host_network: Option<bool>,
    /// The node it was scheduled to (`spec.nodeName`), which a node agent reads to know
    /// its own pods.
    pub node_name: Option<String>,
}

/// The status field that matters: the address.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// `status.podIP`.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// `status.podIPs`: every address, one per family; the first is `podIP`.
    #[serde(default, rename = "podIPs")]
    pub pod_ips: Option<Vec<PodIp>>,
}

/// One `status.podIPs` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct PodIp {
    /// The address.
    #[serde(default)]
    pub ip: String,
}

/// A Pod, as policy sees it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Pod {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    pub spec: Option<Spec>,
    /// Status.
    pub status: Option<Status>,
}

/// A pod template, as policy sees it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Template {
    /// Metadata.
    pub metadata: Option<Meta>,
    /// Spec.
    pub spec: Option<Spec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobTemplate {
    spec: Option<Box<WorkloadSpec>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadSpec {
    template: Option<Template>,
    job_template: Option<JobTemplate>,
}

/// Any workload kind: where its template is.
#[derive(Deserialize)]
pub(crate) struct WorkloadObject {
    #[serde(default)]
    metadata: Meta,
    spec: Option<WorkloadSpec>,
}

impl WorkloadObject {
    /// The workload's own metadata (its owners).
    pub fn metadata(&self) -> &Meta {
        &self.metadata
    }

    /// The pod template (`spec.template`, or `spec.jobTemplate.spec.template` for a CronJob).
    pub fn into_template(self) -> Option<Template> {
        let spec = self.spec?;
        match spec.job_template {
            Some(job) => job.spec?.template,
            None => spec.template,
        }
    }
}
