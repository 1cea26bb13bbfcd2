//! Whole pod specs, for posture checks (Pod Security, lint): a second projection of
//! the same objects, typed from the document the loader kept ([`Object::raw`]), with
//! the full `k8s_openapi` types.
//!
//! The network model does not pay for it: `check` and `matrix` keep no documents and
//! type only [`crate::pods`]. A command that needs whole pod specs loads with
//! [`Options::raw`](crate::Options) set to [`carries_pod_spec`], then calls [`pod_spec`]
//! on each object. Every field of the pod spec (and the template's metadata) is
//! checked: an unknown one is an error naming its path, as everywhere.
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::object::{typed_as, workload_schema, Doc};
use crate::strict::{fields_at, Schema};
use crate::{InputError, Key, Object};

/// A pod's, or a pod template's, metadata and spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodSpecView {
    /// Where in the object the pod spec sits: `""` for a Pod, `spec.template`,
    /// `template` (PodTemplate) or `spec.jobTemplate.spec.template` (CronJob).
    pub path: &'static str,
    /// The pod's metadata, or the template's (a workload's own metadata is not the
    /// template's).
    pub meta: ObjectMeta,
    /// The pod spec (empty when the document has none).
    pub spec: PodSpec,
}

/// Where the pod spec of this kind of object is, or `None` when it has none.
pub fn pod_spec_path(group: &str, kind: &str) -> Option<&'static str> {
    Some(match (group, kind) {
        ("", "Pod") => "",
        ("", "PodTemplate") => "template",
        ("batch", "CronJob") => "spec.jobTemplate.spec.template",
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => "spec.template",
        ("", "ReplicationController") => "spec.template",
        _ => return None,
    })
}

/// Whether objects like this one carry a pod spec: the [`crate::Options::raw`] filter of
/// commands that read them.
pub fn carries_pod_spec(key: &Key<'_>) -> bool {
    pod_spec_path(key.group, key.kind).is_some()
}

fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

#[derive(Deserialize)]
struct PodDoc {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<PodSpec>,
}

#[derive(Deserialize)]
struct PodTemplateDoc {
    template: Option<core::PodTemplateSpec>,
}

#[derive(Deserialize)]
struct TemplateSpec {
    template: Option<core::PodTemplateSpec>,
}

#[derive(Deserialize)]
struct WorkloadDoc {
    spec: Option<TemplateSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronSpec {
    job_template: Option<JobTemplate>,
}

#[derive(Deserialize)]
struct JobTemplate {
    spec: Option<TemplateSpec>,
}

#[derive(Deserialize)]
struct CronJobDoc {
    spec: Option<CronSpec>,
}

fn typed<T: DeserializeOwned>(object: &Object, text: &str, schema: Schema) -> Result<T, InputError> {
    typed_as(Doc::Raw(text), &object.source, &object.display(), schema)
}

/// The whole pod spec of a Pod or pod template; `None` for objects of other kinds.
/// Errors: the object's document was not kept (load with [`carries_pod_spec`] as the
/// raw filter), a field that does not parse or is unknown, a workload with no template.
pub fn pod_spec(object: &Object) -> Result<Option<PodSpecView>, InputError> {
    let Some(path) = pod_spec_path(group(&object.api_version), &object.kind) else { return Ok(None) };
    let raw = object.raw.as_ref().ok_or_else(|| {
        InputError::at(object.source.clone(), format!("internal: the document of {} was not kept", object.display()))
    })?;
    let text = raw.0.get();
    let template = match object.kind.as_str() {
        "Pod" => {
            let pod: PodDoc = typed(object, text, fields_at::<core::Pod>)?;
            return Ok(Some(PodSpecView { path, meta: pod.metadata, spec: pod.spec.unwrap_or_default() }));
        }
        "PodTemplate" => typed::<PodTemplateDoc>(object, text, fields_at::<core::PodTemplate>)?.template,
        kind => {
            let schema = workload_schema(kind)
                .ok_or_else(|| InputError::at(object.source.clone(), format!("internal: no schema for {kind}")))?;
            match kind {
                "CronJob" => typed::<CronJobDoc>(object, text, schema)?
                    .spec
                    .and_then(|s| s.job_template)
                    .and_then(|j| j.spec)
                    .and_then(|s| s.template),
                _ => typed::<WorkloadDoc>(object, text, schema)?.spec.and_then(|s| s.template),
            }
        }
    };
    let template = template
        .ok_or_else(|| InputError::field(&object.source, &object.display(), path, "the object has no pod template"))?;
    Ok(Some(PodSpecView { path, meta: template.metadata.unwrap_or_default(), spec: template.spec.unwrap_or_default() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load_str, load_str_keeping};

    fn load(text: &str) -> Vec<Object> {
        load_str_keeping("t.yaml", text, &carries_pod_spec).expect("loads").objects
    }

    #[test]
    fn every_pod_bearing_kind_gives_its_template_spec_and_template_annotations() {
        let text = "\
apiVersion: batch/v1
kind: CronJob
metadata: {name: c, annotations: {top: level}}
spec:
  schedule: '* * * * *'
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {a: b}}
        spec:
          hostPID: true
          containers: [{name: x, image: i, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    ephemeralContainers: [{name: e, image: i}]
    containers: [{name: x, image: i}]
";
        let objects = load(text);
        let cron = pod_spec(&objects[0]).expect("types").expect("a pod spec");
        assert_eq!(cron.path, "spec.jobTemplate.spec.template");
        assert_eq!(cron.spec.host_pid, Some(true));
        let annotations = cron.meta.annotations.expect("template annotations");
        assert_eq!(annotations.get("a").map(String::as_str), Some("b"));
        assert!(!annotations.contains_key("top"), "the workload's own annotations are not the template's");
        let sc = cron.spec.containers[0].security_context.as_ref().expect("security context");
        assert_eq!(sc.privileged, Some(true));
        let t = pod_spec(&objects[1]).expect("types").expect("a pod spec");
        assert_eq!(t.spec.ephemeral_containers.map(|e| e.len()), Some(1));
    }

    #[test]
    fn unknown_field_inside_a_security_context_names_its_path() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: i\n        securityContext: {runAsNonRot: true}\n";
        let objects = load(text);
        let err = pod_spec(&objects[0]).expect_err("a misspelt field must be refused");
        assert_eq!(err.field.as_deref(), Some("spec.template.spec.containers[0].securityContext.runAsNonRot"), "{err}");
        assert!(err.message.contains("did you mean `runAsNonRoot`?"), "{err}");
        assert_eq!(err.location.line, 1);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_path() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsUser: root}\n  containers: [{name: a, image: i}]\n";
        let err = pod_spec(&load(text)[0]).expect_err("a string runAsUser must be refused");
        assert_eq!(err.field.as_deref(), Some("spec.securityContext.runAsUser"), "{err}");
    }

    #[test]
    fn documents_are_kept_only_when_asked_for() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: i}]}\n";
        assert!(load_str("t.yaml", text).expect("loads").objects[0].raw.is_none());
        assert!(load(text)[0].raw.is_some());
        assert!(pod_spec(&load_str("t.yaml", text).expect("loads").objects[0]).is_err());
    }
}
