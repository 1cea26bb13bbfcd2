//! Where each kind of the loader's table ([`podwall_load::kinds::KINDS`]) is served: the
//! API group, version and resource to list it under, or why it is not read from a
//! cluster. A kind added to the loader's table and not given a row here fails
//! `every_kind_of_the_loader_has_a_row`.
use podwall_load::KindInfo;

/// One place a kind may be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Api {
    /// The API group (empty for core).
    pub group: &'static str,
    /// The version.
    pub version: &'static str,
    /// The resource (plural), as RBAC names it.
    pub resource: &'static str,
}

impl Api {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        match self.group {
            "" => self.version.to_string(),
            g => format!("{g}/{}", self.version),
        }
    }

    /// The path that lists every object of it, in every namespace.
    pub fn list_path(&self) -> String {
        match self.group {
            "" => format!("/api/{}/{}", self.version, self.resource),
            g => format!("/apis/{g}/{}/{}", self.version, self.resource),
        }
    }
}

/// How a kind is read from a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Listed at the first of these places the server serves (a 404 moves on to the
    /// next; none served is a note, not an error).
    At(&'static [Api]),
    /// Not an API object: a file on the control plane's nodes, given with `-f`.
    NotAnObject,
    /// Served, but not read, for the reason given.
    Withheld(&'static str),
}

const fn at(group: &'static str, version: &'static str, resource: &'static str) -> Api {
    Api { group, version, resource }
}

/// Why Secrets are not listed.
pub const SECRETS_WITHHELD: &str = "listing Secrets needs `list secrets`, which hands over every secret's value; \
     podwall reads none from a cluster (finding PL015, imagePullSecrets naming a missing Secret, is not judged)";

/// How the kind of this row of the loader's table is read from a cluster.
pub fn served(info: &KindInfo) -> Served {
    let group = info.groups.first().copied().unwrap_or_default();
    macro_rules! list {
        ($($g:literal, $v:literal, $r:literal);+) => {{
            const AT: &[Api] = &[$(at($g, $v, $r)),+];
            Served::At(AT)
        }};
    }
    match (group, info.kind) {
        ("", "Namespace") => list!("", "v1", "namespaces"),
        ("", "Pod") => list!("", "v1", "pods"),
        ("", "Node") => list!("", "v1", "nodes"),
        ("", "ServiceAccount") => list!("", "v1", "serviceaccounts"),
        ("", "ReplicationController") => list!("", "v1", "replicationcontrollers"),
        ("", "PodTemplate") => list!("", "v1", "podtemplates"),
        ("", "Secret") => Served::Withheld(SECRETS_WITHHELD),
        ("apps", "Deployment") => list!("apps", "v1", "deployments"),
        ("apps", "ReplicaSet") => list!("apps", "v1", "replicasets"),
        ("apps", "StatefulSet") => list!("apps", "v1", "statefulsets"),
        ("apps", "DaemonSet") => list!("apps", "v1", "daemonsets"),
        ("batch", "Job") => list!("batch", "v1", "jobs"),
        ("batch", "CronJob") => list!("batch", "v1", "cronjobs"),
        ("networking.k8s.io", "NetworkPolicy") => list!("networking.k8s.io", "v1", "networkpolicies"),
        // Calico's API server serves projectcalico.org/v3; without it only the CRDs
        // behind it are there. Both hold the same policies: the first served is read.
        ("projectcalico.org", kind) => match kind {
            "Tier" => list!("projectcalico.org", "v3", "tiers"; "crd.projectcalico.org", "v1", "tiers"),
            "NetworkPolicy" => list!(
                "projectcalico.org", "v3", "networkpolicies"; "crd.projectcalico.org", "v1", "networkpolicies"
            ),
            "GlobalNetworkPolicy" => list!(
                "projectcalico.org", "v3", "globalnetworkpolicies";
                "crd.projectcalico.org", "v1", "globalnetworkpolicies"
            ),
            "StagedNetworkPolicy" => list!(
                "projectcalico.org", "v3", "stagednetworkpolicies";
                "crd.projectcalico.org", "v1", "stagednetworkpolicies"
            ),
            "StagedGlobalNetworkPolicy" => list!(
                "projectcalico.org", "v3", "stagedglobalnetworkpolicies";
                "crd.projectcalico.org", "v1", "stagedglobalnetworkpolicies"
            ),
            "StagedKubernetesNetworkPolicy" => list!(
                "projectcalico.org", "v3", "stagedkubernetesnetworkpolicies";
                "crd.projectcalico.org", "v1", "stagedkubernetesnetworkpolicies"
            ),
            "NetworkSet" => {
                list!("projectcalico.org", "v3", "networksets"; "crd.projectcalico.org", "v1", "networksets")
            }
            "GlobalNetworkSet" => list!(
                "projectcalico.org", "v3", "globalnetworksets"; "crd.projectcalico.org", "v1", "globalnetworksets"
            ),
            _ => Served::Withheld("no Calico resource of this kind is known"),
        },
        ("policy.networking.k8s.io", "AdminNetworkPolicy") => {
            list!("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies")
        }
        ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy") => {
            list!("policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies")
        }
        ("policy.networking.k8s.io", "ClusterNetworkPolicy") => {
            list!("policy.networking.k8s.io", "v1alpha2", "clusternetworkpolicies")
        }
        ("cilium.io", "CiliumNetworkPolicy") => list!("cilium.io", "v2", "ciliumnetworkpolicies"),
        ("cilium.io", "CiliumClusterwideNetworkPolicy") => list!("cilium.io", "v2", "ciliumclusterwidenetworkpolicies"),
        ("extensions", "NetworkPolicy") => Served::Withheld(
            "extensions/v1beta1 is served by no Kubernetes since 1.16, and where it was it served the \
             networking.k8s.io policies again",
        ),
        ("rbac.authorization.k8s.io", "Role") => list!("rbac.authorization.k8s.io", "v1", "roles"),
        ("rbac.authorization.k8s.io", "RoleBinding") => list!("rbac.authorization.k8s.io", "v1", "rolebindings"),
        ("rbac.authorization.k8s.io", "ClusterRole") => list!("rbac.authorization.k8s.io", "v1", "clusterroles"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            list!("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            list!("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        }
        _ if !info.name_required => Served::NotAnObject,
        _ => Served::Withheld("not known to the cluster reader"),
    }
}

/// Every place the reader may list, in the loader's table order: what a read-only
/// ClusterRole must allow (`list`, cluster-wide) and all it needs to.
pub fn listed() -> Vec<(&'static KindInfo, Api)> {
    let mut out = Vec::new();
    for info in podwall_load::kinds::KINDS {
        if let Served::At(apis) = served(info) {
            out.extend(apis.iter().map(|a| (info, *a)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::Resource;

    #[test]
    fn every_kind_of_the_loader_has_a_row() {
        for info in podwall_load::kinds::KINDS {
            let s = served(info);
            assert_ne!(s, Served::Withheld("not known to the cluster reader"), "{} has no row", info.kind);
            assert_ne!(s, Served::Withheld("no Calico resource of this kind is known"), "{}", info.kind);
            if let Served::At(apis) = s {
                for a in apis {
                    assert!(info.groups.contains(&a.group), "{}: {} is not among its groups", info.kind, a.group);
                }
            }
        }
    }

    #[test]
    fn built_in_kinds_are_listed_where_k8s_openapi_says_they_are_served() {
        fn same<K: Resource>(group: &str, kind: &str) {
            let info = podwall_load::kind_info(group, kind).expect("in the loader's table");
            let Served::At([api]) = served(info) else { panic!("{kind} is listed at one place") };
            assert_eq!((api.api_version(), api.resource), (K::API_VERSION.to_string(), K::URL_PATH_SEGMENT), "{kind}");
        }
        use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core, rbac::v1 as rbac};
        same::<core::Namespace>("", "Namespace");
        same::<core::Pod>("", "Pod");
        same::<core::Node>("", "Node");
        same::<core::ServiceAccount>("", "ServiceAccount");
        same::<core::ReplicationController>("", "ReplicationController");
        same::<core::PodTemplate>("", "PodTemplate");
        same::<apps::Deployment>("apps", "Deployment");
        same::<apps::ReplicaSet>("apps", "ReplicaSet");
        same::<apps::StatefulSet>("apps", "StatefulSet");
        same::<apps::DaemonSet>("apps", "DaemonSet");
        same::<batch::Job>("batch", "Job");
        same::<batch::CronJob>("batch", "CronJob");
        same::<k8s_openapi::api::networking::v1::NetworkPolicy>("networking.k8s.io", "NetworkPolicy");
        same::<rbac::Role>("rbac.authorization.k8s.io", "Role");
        same::<rbac::RoleBinding>("rbac.authorization.k8s.io", "RoleBinding");
        same::<rbac::ClusterRole>("rbac.authorization.k8s.io", "ClusterRole");
        same::<rbac::ClusterRoleBinding>("rbac.authorization.k8s.io", "ClusterRoleBinding");
        same::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
        );
    }

    #[test]
    fn configuration_files_and_secrets_are_not_listed() {
        let listed: Vec<&str> = listed().iter().map(|(_, a)| a.resource).collect();
        assert!(!listed.contains(&"secrets"));
        let encryption = podwall_load::kind_info("apiserver.config.k8s.io", "EncryptionConfiguration").expect("row");
        assert_eq!(served(encryption), Served::NotAnObject);
    }
}
