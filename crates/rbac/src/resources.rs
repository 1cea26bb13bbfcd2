//! The API's resource types, as `kubectl` learns them from discovery: the built-in API
//! of Kubernetes 1.33 (the version the workspace's `k8s-openapi` types follow), grown by
//! the CustomResourceDefinitions in the input. `kubectl auth can-i` resolves its TYPE
//! argument through this: plural, singular, short name or kind, any case, with an
//! optional `.group` or `.version.group`.
use serde::Deserialize;

use podwall_load::{InputError, Object};

/// One resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiResource {
    /// Its API group (`""` for core).
    pub group: String,
    /// The versions it is served at.
    pub versions: Vec<String>,
    /// The plural name (what RBAC rules name).
    pub plural: String,
    /// The singular name (the lower-cased kind, unless a CRD says otherwise).
    pub singular: String,
    /// Short names (`po`, `deploy`).
    pub short_names: Vec<String>,
    /// The kind.
    pub kind: String,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

/// Built-in resources: (group, version, plural, kind, namespaced, short names), in the
/// order discovery lists groups (core first, so `events` is the core group's).
/// (group, version, plural, kind, namespaced, short names).
type BuiltIn = (&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str]);

const BUILT_IN: &[BuiltIn] = &[
    ("", "v1", "bindings", "Binding", true, &[]),
    ("", "v1", "componentstatuses", "ComponentStatus", false, &["cs"]),
    ("", "v1", "configmaps", "ConfigMap", true, &["cm"]),
    ("", "v1", "endpoints", "Endpoints", true, &["ep"]),
    ("", "v1", "events", "Event", true, &["ev"]),
    ("", "v1", "limitranges", "LimitRange", true, &["limits"]),
    ("", "v1", "namespaces", "Namespace", false, &["ns"]),
    ("", "v1", "nodes", "Node", false, &["no"]),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, &["pvc"]),
    ("", "v1", "persistentvolumes", "PersistentVolume", false, &["pv"]),
    ("", "v1", "pods", "Pod", true, &["po"]),
    ("", "v1", "podtemplates", "PodTemplate", true, &[]),
    ("", "v1", "replicationcontrollers", "ReplicationController", true, &["rc"]),
    ("", "v1", "resourcequotas", "ResourceQuota", true, &["quota"]),
    ("", "v1", "secrets", "Secret", true, &[]),
    ("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"]),
    ("", "v1", "services", "Service", true, &["svc"]),
    ("apiregistration.k8s.io", "v1", "apiservices", "APIService", false, &[]),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", true, &[]),
    ("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"]),
    ("apps", "v1", "deployments", "Deployment", true, &["deploy"]),
    ("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"]),
    ("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"]),
    ("events.k8s.io", "v1", "events", "Event", true, &["ev"]),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", false, &[]),
    ("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", false, &[]),
    ("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", true, &[]),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", false, &[]),
    ("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", false, &[]),
    ("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", false, &[]),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"]),
    ("batch", "v1", "cronjobs", "CronJob", true, &["cj"]),
    ("batch", "v1", "jobs", "Job", true, &[]),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", false, &["csr"]),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, &[]),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true, &["ing"]),
    ("networking.k8s.io", "v1", "ipaddresses", "IPAddress", false, &["ip"]),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, &["netpol"]),
    ("networking.k8s.io", "v1", "servicecidrs", "ServiceCIDR", false, &[]),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"]),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, &[]),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, &[]),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, &[]),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &[]),
    ("storage.k8s.io", "v1", "csidrivers", "CSIDriver", false, &[]),
    ("storage.k8s.io", "v1", "csinodes", "CSINode", false, &[]),
    ("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity", true, &[]),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, &["sc"]),
    ("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", false, &[]),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false, &[]),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", false, &[]),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        &[],
    ),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, &["crd", "crds"]),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, &["pc"]),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, &[]),
    ("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", false, &[]),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, &[]),
    ("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", false, &[]),
    ("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration", false, &[]),
];

/// Types the API server serves that discovery does not list: the `impersonate` verb's
/// targets. `kubectl auth can-i` takes them as core-group resources without a warning.
const NON_STANDARD: &[&str] = &["users", "groups"];

/// The resource types podwall knows.
#[derive(Clone, Debug)]
pub struct ApiResources {
    /// Every type, built-ins first in discovery order, then CRDs in input order.
    pub all: Vec<ApiResource>,
}

impl Default for ApiResources {
    fn default() -> Self {
        let all = BUILT_IN
            .iter()
            .map(|&(group, version, plural, kind, namespaced, short)| ApiResource {
                group: group.into(),
                versions: vec![version.into()],
                plural: plural.into(),
                singular: kind.to_lowercase(),
                short_names: short.iter().map(|s| s.to_string()).collect(),
                kind: kind.into(),
                namespaced,
            })
            .collect();
        ApiResources { all }
    }
}

/// What a CRD says about the type it defines.
#[derive(Deserialize)]
struct Crd {
    spec: CrdSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrdSpec {
    group: String,
    names: CrdNames,
    scope: String,
    #[serde(default)]
    versions: Vec<CrdVersion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrdNames {
    plural: String,
    #[serde(default)]
    singular: Option<String>,
    #[serde(default)]
    short_names: Vec<String>,
    kind: String,
}

#[derive(Deserialize)]
struct CrdVersion {
    name: String,
    #[serde(default = "yes")]
    served: bool,
}

fn yes() -> bool {
    true
}

/// A resolved `TYPE` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The API group.
    pub group: String,
    /// The plural resource name.
    pub resource: String,
    /// Whether it is namespaced (`None` for `*` and the non-standard types).
    pub namespaced: Option<bool>,
}

impl ApiResources {
    /// Adds the type a CustomResourceDefinition defines (its own `names`, `group`,
    /// `scope` and served versions). The CRD's document is read for these fields only.
    pub fn add_crd(&mut self, obj: &Object) -> Result<(), InputError> {
        let raw = obj.raw.as_ref().map(|r| r.0.get()).unwrap_or("{}");
        let crd: Crd = serde_json::from_str(raw)
            .map_err(|e| InputError::field(&obj.source, &obj.display(), "spec", e.to_string()))?;
        let s = crd.spec;
        let namespaced = match s.scope.as_str() {
            "Namespaced" => true,
            "Cluster" => false,
            other => {
                return Err(InputError::field(
                    &obj.source,
                    &obj.display(),
                    "spec.scope",
                    format!("Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""),
                ))
            }
        };
        let singular = s.names.singular.filter(|n| !n.is_empty()).unwrap_or_else(|| s.names.kind.to_lowercase());
        self.all.push(ApiResource {
            group: s.group,
            versions: s.versions.into_iter().filter(|v| v.served).map(|v| v.name).collect(),
            plural: s.names.plural,
            singular,
            short_names: s.names.short_names,
            kind: s.names.kind,
            namespaced,
        });
        Ok(())
    }

    /// The first type, in discovery order, that `name` (plural, singular or short name)
    /// names in `group` (any group when `None`) at `version` (any when `None`).
    fn find(&self, name: &str, group: Option<&str>, version: Option<&str>) -> Option<&ApiResource> {
        let in_scope = |r: &&ApiResource| {
            group.is_none_or(|g| r.group == g) && version.is_none_or(|v| r.versions.iter().any(|x| x == v))
        };
        let by = |pick: &dyn Fn(&ApiResource) -> bool| self.all.iter().filter(in_scope).find(|r| pick(r));
        by(&|r| r.plural == name)
            .or_else(|| by(&|r| r.singular == name))
            .or_else(|| by(&|r| r.short_names.iter().any(|s| s == name)))
    }

    /// Resolves `kubectl auth can-i`'s TYPE as kubectl does: `*` is itself (core group);
    /// the argument is lower-cased; `a.b.c` is first tried as resource `a`, version `b`,
    /// group `c`, then (like `a.b`) as resource `a` of group `b.c`; a bare name is looked
    /// up in every group. `users` and `groups` are core types. Anything else is an
    /// error in kubectl's words (kubectl only warns, having asked a server; podwall
    /// knows only the built-in API and the input's CRDs, so a type it does not know
    /// would silently be answered about nothing).
    pub fn resolve(&self, arg: &str) -> Result<Resolved, String> {
        if arg == "*" {
            return Ok(Resolved { group: String::new(), resource: "*".into(), namespaced: None });
        }
        let lower = arg.to_lowercase();
        let (resource, group) = match lower.split_once('.') {
            Some((r, g)) => (r, Some(g)),
            None => (lower.as_str(), None),
        };
        if let Some(g) = group {
            let parts: Vec<&str> = lower.splitn(3, '.').collect();
            if let [r, v, g3] = parts[..] {
                if let Some(found) = self.find(r, Some(g3), Some(v)) {
                    return Ok(Resolved {
                        group: found.group.clone(),
                        resource: found.plural.clone(),
                        namespaced: Some(found.namespaced),
                    });
                }
            }
            if let Some(found) = self.find(resource, Some(g), None) {
                return Ok(Resolved {
                    group: found.group.clone(),
                    resource: found.plural.clone(),
                    namespaced: Some(found.namespaced),
                });
            }
            return Err(format!(
                "the server doesn't have a resource type '{resource}' in group '{g}' (podwall knows the built-in API and the CustomResourceDefinitions in the input)"
            ));
        }
        if let Some(found) = self.find(resource, None, None) {
            return Ok(Resolved {
                group: found.group.clone(),
                resource: found.plural.clone(),
                namespaced: Some(found.namespaced),
            });
        }
        if NON_STANDARD.contains(&resource) {
            return Ok(Resolved { group: String::new(), resource: resource.into(), namespaced: None });
        }
        Err(format!(
            "the server doesn't have a resource type '{resource}' (podwall knows the built-in API and the CustomResourceDefinitions in the input)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(arg: &str) -> (String, String) {
        let x = ApiResources::default().resolve(arg).expect("resolves");
        (x.group, x.resource)
    }

    #[test]
    fn short_names_kinds_and_singulars_resolve_to_the_plural_and_its_group() {
        assert_eq!(r("po"), ("".into(), "pods".into()));
        assert_eq!(r("deploy"), ("apps".into(), "deployments".into()));
        assert_eq!(r("Deployment"), ("apps".into(), "deployments".into()));
        assert_eq!(r("svc"), ("".into(), "services".into()));
        assert_eq!(r("deployments.apps"), ("apps".into(), "deployments".into()));
        assert_eq!(r("deployments.v1.apps"), ("apps".into(), "deployments".into()));
        assert_eq!(r("certificatesigningrequests.certificates.k8s.io").0, "certificates.k8s.io");
    }

    #[test]
    fn a_bare_name_in_two_groups_is_the_first_in_discovery_order() {
        assert_eq!(r("events"), ("".into(), "events".into()));
        assert_eq!(r("events.events.k8s.io"), ("events.k8s.io".into(), "events".into()));
    }

    #[test]
    fn unknown_types_are_errors_in_kubectls_words_and_users_groups_are_known() {
        let all = ApiResources::default();
        assert!(all.resolve("widgets").unwrap_err().starts_with("the server doesn't have a resource type 'widgets'"));
        assert!(all.resolve("pods.apps").unwrap_err().contains("in group 'apps'"));
        assert_eq!(r("users"), ("".into(), "users".into()));
    }
}
