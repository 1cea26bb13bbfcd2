//! Typed objects.
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::kinds::{KindInfo, Reader};
use crate::strict::{check_ignored, fields_at, Schema};
use crate::InputError;
use podwall_ir::Source;

/// A workload's pod template.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// `Deployment`, `StatefulSet`, ...
    pub kind: String,
    /// The template its pods are made from.
    pub template: crate::pods::Template,
    /// The workload's owners (a Deployment owns its ReplicaSets): (kind, name).
    pub owners: Vec<(String, String)>,
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
    /// A policy podwall recognises but does not evaluate; its document is [`Object::raw`].
    Unevaluated,
    /// A kind podwall keeps without typing it: its document is [`Object::raw`].
    Kept,
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
    /// The object's document as it was read, for checks that type their own view of it:
    /// always there for [`Resource::Kept`] kinds; for the others only when asked for.
    pub raw: Option<RawDoc>,
}

/// An object's document as read (JSON text), shared.
#[derive(Clone, Debug)]
pub struct RawDoc(pub Arc<RawValue>);

impl PartialEq for RawDoc {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Object {
    /// `Kind ns/name` or `Kind name`, for messages.
    pub fn display(&self) -> String {
        display(&self.kind, self.namespace.as_deref(), &self.name)
    }

    /// Types the object's kept document ([`Object::raw`]) as `T`, the way every kind the
    /// loader types is typed: a missing or mistyped field is an error naming its path,
    /// and so is a field `T` does not know (as with kubectl's `--validate=strict`). For
    /// checks that read a [`Reader::Kept`] kind in their own types.
    pub fn typed_document<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        let raw = self.raw.as_ref().ok_or_else(|| {
            InputError::at(self.source.clone(), format!("internal: {} was not kept with its document", self.display()))
        })?;
        typed(Doc::Raw(raw.0.get()), &self.source, &self.display())
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

impl Doc<'_> {
    /// The document's text, kept.
    pub(crate) fn raw(&self) -> Result<RawDoc, serde_json::Error> {
        Ok(RawDoc(Arc::from(match self {
            Doc::Value(v) => serde_json::value::to_raw_value(v)?,
            Doc::Raw(text) => RawValue::from_string(text.to_string())?,
        })))
    }
}

fn typed<T: DeserializeOwned>(doc: Doc<'_>, source: &Source, object: &str) -> Result<T, InputError> {
    typed_as(doc, source, object, fields_at::<T>)
}

/// Types `T`, refusing fields `schema` does not know (see [`crate::strict`]).
pub(crate) fn typed_as<T: DeserializeOwned>(
    doc: Doc<'_>,
    source: &Source,
    object: &str,
    schema: Schema,
) -> Result<T, InputError> {
    let mut unknown: Option<(String, String)> = None;
    let mut seen = |path: serde_ignored::Path<'_>| {
        if unknown.is_none() {
            unknown = check_ignored(&path, schema);
        }
    };
    let result = match doc {
        Doc::Value(v) => serde_path_to_error::deserialize(serde_ignored::Deserializer::new(v, &mut seen)),
        Doc::Raw(text) => {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&mut de, &mut seen))
        }
    };
    let value = result.map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { None } else { Some(path) };
        InputError {
            location: source.clone(),
            object: Some(object.to_string()),
            field,
            message: e.into_inner().to_string(),
        }
    })?;
    match unknown {
        Some((field, why)) => Err(InputError::field(source, object, field, why)),
        None => Ok(value),
    }
}

/// The full Kubernetes type of a workload kind, the schema its projection is checked
/// against.
pub(crate) fn workload_schema(kind: &str) -> Option<Schema> {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch};
    Some(match kind {
        "Deployment" => fields_at::<apps::Deployment>,
        "ReplicaSet" => fields_at::<apps::ReplicaSet>,
        "StatefulSet" => fields_at::<apps::StatefulSet>,
        "DaemonSet" => fields_at::<apps::DaemonSet>,
        "Job" => fields_at::<batch::Job>,
        "CronJob" => fields_at::<batch::CronJob>,
        "ReplicationController" => fields_at::<core::ReplicationController>,
        _ => return None,
    })
}

/// Types a known object of the kind `info` describes.
pub(crate) fn resource(info: &KindInfo, doc: Doc<'_>, source: &Source, object: &str) -> Result<Resource, InputError> {
    Ok(match info.reader {
        Reader::Namespace => Resource::Namespace(typed(doc, source, object)?),
        Reader::Pod => Resource::Pod(typed_as(doc, source, object, fields_at::<core::Pod>)?),
        Reader::Node => Resource::Node(typed(doc, source, object)?),
        Reader::ServiceAccount => Resource::ServiceAccount(typed(doc, source, object)?),
        Reader::NetworkPolicy => Resource::NetworkPolicy(typed(doc, source, object)?),
        Reader::Workload => {
            let schema = workload_schema(info.kind)
                .ok_or_else(|| InputError::at(source.clone(), format!("internal: no schema for {}", info.kind)))?;
            let w: crate::pods::WorkloadObject = typed_as(doc, source, object, schema)?;
            let path = if info.kind == "CronJob" { "spec.jobTemplate.spec.template" } else { "spec.template" };
            let owners = w.metadata().owners().map(|(k, n)| (k.to_string(), n.to_string())).collect();
            let template = w
                .into_template()
                .ok_or_else(|| InputError::field(source, object, path, "the workload has no pod template"))?;
            Resource::Workload(Box::new(Workload { kind: info.kind.to_string(), template, owners }))
        }
        Reader::CalicoTier => Resource::CalicoTier(typed(doc, source, object)?),
        Reader::CalicoPolicy { global, staged } => {
            Resource::CalicoPolicy { global, staged, policy: typed(doc, source, object)? }
        }
        Reader::CalicoStagedKubernetes => Resource::StagedKubernetesNetworkPolicy,
        Reader::CalicoNetworkSet { global } => Resource::CalicoNetworkSet { global, set: typed(doc, source, object)? },
        Reader::AdminPolicy { baseline } => Resource::AdminPolicy { baseline, policy: typed(doc, source, object)? },
        Reader::ClusterPolicy => Resource::ClusterPolicy(typed(doc, source, object)?),
        Reader::Unevaluated => Resource::Unevaluated,
        Reader::Kept => Resource::Kept,
    })
}
