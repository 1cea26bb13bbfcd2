//! The one table of kinds podwall reads: for each (API group, kind), whether its objects
//! live in a namespace, which reader types them, and whether they must carry
//! `metadata.name`. Everything that asks "is this a workload / a policy / namespaced?"
//! asks this table; a new kind is one new row (and, if it is typed, one reader).
//!
//! A kind not in the table is passed over and counted in [`crate::Input::skipped`].

/// Where objects of a kind live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In a namespace (`default` when the object names none).
    Namespaced,
    /// Cluster-wide (no namespace, whatever `metadata.namespace` says).
    Cluster,
}

/// How objects of a kind are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// v1 Namespace.
    Namespace,
    /// v1 Pod (the projection in [`crate::pods`]).
    Pod,
    /// A workload's pod template (the projection in [`crate::pods`]).
    Workload,
    /// v1 Node.
    Node,
    /// v1 ServiceAccount.
    ServiceAccount,
    /// networking.k8s.io/v1 NetworkPolicy.
    NetworkPolicy,
    /// Calico Tier.
    CalicoTier,
    /// Calico (Global)NetworkPolicy and their Staged variants.
    CalicoPolicy {
        /// GlobalNetworkPolicy (cluster-wide selection).
        global: bool,
        /// Staged: recognised, not enforced.
        staged: bool,
    },
    /// Calico StagedKubernetesNetworkPolicy: recognised, not enforced.
    CalicoStagedKubernetes,
    /// Calico (Global)NetworkSet.
    CalicoNetworkSet {
        /// GlobalNetworkSet.
        global: bool,
    },
    /// AdminNetworkPolicy or BaselineAdminNetworkPolicy.
    AdminPolicy {
        /// BaselineAdminNetworkPolicy.
        baseline: bool,
    },
    /// policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy.
    ClusterPolicy,
    /// A policy kind podwall recognises but does not evaluate (Cilium's, the retired
    /// `extensions/v1beta1` NetworkPolicy): kept with its raw document, and every answer
    /// about an endpoint it could select says that it was left out.
    Unevaluated,
    /// Not typed: the object is kept with its raw document ([`crate::Object::raw`]) for
    /// checks that type their own view of it.
    Kept,
}

/// What podwall knows of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// The API groups it is served under (empty for core).
    pub groups: &'static [&'static str],
    /// The kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// How it is typed.
    pub reader: Reader,
    /// Whether an object without `metadata.name` is an error. Configuration files that
    /// look like objects (`EncryptionConfiguration`, an audit `Policy`) have no name.
    pub name_required: bool,
    /// Whether it is a policy that selects pods: questions about a few endpoints read
    /// the namespaced ones only in those endpoints' namespaces.
    pub policy: bool,
}

impl KindInfo {
    /// Whether objects of this kind carry a pod template that podwall reads.
    pub fn is_workload(&self) -> bool {
        self.reader == Reader::Workload
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }
}

const CORE: &[&str] = &[""];
const CALICO: &[&str] = &["projectcalico.org", "crd.projectcalico.org"];
const ANP: &[&str] = &["policy.networking.k8s.io"];
const RBAC: &[&str] = &["rbac.authorization.k8s.io"];
const CILIUM: &[&str] = &["cilium.io"];

const fn entry(groups: &'static [&'static str], kind: &'static str, scope: Scope, reader: Reader) -> KindInfo {
    KindInfo { groups, kind, scope, reader, name_required: true, policy: false }
}

const fn policy(groups: &'static [&'static str], kind: &'static str, scope: Scope, reader: Reader) -> KindInfo {
    KindInfo { groups, kind, scope, reader, name_required: true, policy: true }
}

const fn nameless(groups: &'static [&'static str], kind: &'static str) -> KindInfo {
    KindInfo { groups, kind, scope: Scope::Cluster, reader: Reader::Kept, name_required: false, policy: false }
}

use Reader as R;
use Scope::{Cluster, Namespaced};

/// Every kind podwall reads.
pub static KINDS: &[KindInfo] = &[
    entry(CORE, "Namespace", Cluster, R::Namespace),
    entry(CORE, "Pod", Namespaced, R::Pod),
    entry(CORE, "Node", Cluster, R::Node),
    entry(CORE, "ServiceAccount", Namespaced, R::ServiceAccount),
    entry(CORE, "ReplicationController", Namespaced, R::Workload),
    entry(&["apps"], "Deployment", Namespaced, R::Workload),
    entry(&["apps"], "ReplicaSet", Namespaced, R::Workload),
    entry(&["apps"], "StatefulSet", Namespaced, R::Workload),
    entry(&["apps"], "DaemonSet", Namespaced, R::Workload),
    entry(&["batch"], "Job", Namespaced, R::Workload),
    entry(&["batch"], "CronJob", Namespaced, R::Workload),
    // A pod template of its own makes no pods: nothing for the network model, a pod
    // spec for Pod Security (`crate::podspec`).
    entry(CORE, "PodTemplate", Namespaced, R::Kept),
    // Kept for the checks that ask whether a Secret a pod names exists.
    entry(CORE, "Secret", Namespaced, R::Kept),
    policy(&["networking.k8s.io"], "NetworkPolicy", Namespaced, R::NetworkPolicy),
    entry(CALICO, "Tier", Cluster, R::CalicoTier),
    policy(CALICO, "NetworkPolicy", Namespaced, R::CalicoPolicy { global: false, staged: false }),
    policy(CALICO, "GlobalNetworkPolicy", Cluster, R::CalicoPolicy { global: true, staged: false }),
    policy(CALICO, "StagedNetworkPolicy", Namespaced, R::CalicoPolicy { global: false, staged: true }),
    policy(CALICO, "StagedGlobalNetworkPolicy", Cluster, R::CalicoPolicy { global: true, staged: true }),
    policy(CALICO, "StagedKubernetesNetworkPolicy", Namespaced, R::CalicoStagedKubernetes),
    entry(CALICO, "NetworkSet", Namespaced, R::CalicoNetworkSet { global: false }),
    entry(CALICO, "GlobalNetworkSet", Cluster, R::CalicoNetworkSet { global: true }),
    policy(ANP, "AdminNetworkPolicy", Cluster, R::AdminPolicy { baseline: false }),
    policy(ANP, "BaselineAdminNetworkPolicy", Cluster, R::AdminPolicy { baseline: true }),
    policy(ANP, "ClusterNetworkPolicy", Cluster, R::ClusterPolicy),
    policy(CILIUM, "CiliumNetworkPolicy", Namespaced, R::Unevaluated),
    policy(CILIUM, "CiliumClusterwideNetworkPolicy", Cluster, R::Unevaluated),
    policy(&["extensions"], "NetworkPolicy", Namespaced, R::Unevaluated),
    entry(RBAC, "Role", Namespaced, R::Kept),
    entry(RBAC, "RoleBinding", Namespaced, R::Kept),
    entry(RBAC, "ClusterRole", Cluster, R::Kept),
    entry(RBAC, "ClusterRoleBinding", Cluster, R::Kept),
    entry(&["apiextensions.k8s.io"], "CustomResourceDefinition", Cluster, R::Kept),
    nameless(&["apiserver.config.k8s.io"], "EncryptionConfiguration"),
    nameless(&["audit.k8s.io"], "Policy"),
    nameless(&["apiserver.config.k8s.io", "apiserver.k8s.io"], "AdmissionConfiguration"),
    nameless(&["pod-security.admission.config.k8s.io"], "PodSecurityConfiguration"),
];

/// What podwall knows of this API group and kind; `None` for kinds it does not read.
pub fn kind_info(group: &str, kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind && k.groups.contains(&group))
}

/// Whether objects of this API group and kind are workloads whose pod template podwall
/// reads.
pub fn is_workload(group: &str, kind: &str) -> bool {
    kind_info(group, kind).is_some_and(KindInfo::is_workload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_and_kind_has_one_row() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                let shared = a.groups.iter().any(|g| b.groups.contains(g));
                assert!(!(shared && a.kind == b.kind), "{} listed twice", a.kind);
            }
        }
    }

    #[test]
    fn cluster_role_is_cluster_scoped_and_role_is_namespaced() {
        let cr = kind_info("rbac.authorization.k8s.io", "ClusterRole").expect("registered");
        assert_eq!(cr.scope, Scope::Cluster);
        let r = kind_info("rbac.authorization.k8s.io", "Role").expect("registered");
        assert_eq!(r.scope, Scope::Namespaced);
    }

    #[test]
    fn same_kind_name_in_another_group_is_another_kind() {
        // audit.k8s.io Policy is not policy.networking.k8s.io anything, and core has no
        // NetworkPolicy.
        assert_eq!(kind_info("audit.k8s.io", "Policy").map(|k| k.reader), Some(Reader::Kept));
        assert!(kind_info("", "NetworkPolicy").is_none());
    }
}
