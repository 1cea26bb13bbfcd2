//! The reverse question: every subject some binding lets make a request, each with the
//! path binding → role → rule that grants it, and the pods that run as it.
use std::collections::BTreeMap;

use crate::authorize::{rule_allows, Grant, Request, Target};
use crate::objects::{BindingKind, Subject, SubjectKind};
use crate::user::{split_service_account, ALL_SERVICE_ACCOUNTS, AUTHENTICATED};
use crate::{PodIdentity, Rbac};

/// Where to look for RoleBindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The request's own namespace (none: cluster-wide, ClusterRoleBindings only).
    Request,
    /// Every namespace: a RoleBinding anywhere counts, in its own namespace.
    AllNamespaces,
}

/// One subject that may make the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The subject, a service account's namespace filled in from its RoleBinding.
    pub subject: Subject,
    /// Every binding that grants it, with the first rule of its role that matches.
    pub grants: Vec<Grant>,
}

/// The answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WhoCan {
    /// Subjects, by kind, namespace and name.
    pub holders: Vec<Holder>,
    /// Bindings that could have granted it but whose role is missing (as the
    /// authorizer's not-found errors), by binding index.
    pub missing: Vec<usize>,
}

impl Rbac {
    /// Who may make `request`: the subjects of every binding (ClusterRoleBindings, and
    /// RoleBindings of the request's namespace, or of any namespace) whose role has a
    /// rule allowing it. The `system:masters` group, allowed everything outside RBAC, is
    /// not listed here.
    pub fn who_can(&self, request: &Request, scope: Scope) -> WhoCan {
        let mut lists: Vec<&[usize]> = vec![self.cluster_bindings()];
        let namespaces: Vec<&str> = match (&request.target, scope) {
            (Target::NonResource { .. }, _) => Vec::new(),
            (_, Scope::AllNamespaces) => self.binding_namespaces().collect(),
            _ => request.namespace().into_iter().collect(),
        };
        lists.extend(namespaces.iter().map(|ns| self.bindings_in(ns)));
        let mut by_subject: BTreeMap<Subject, Vec<Grant>> = BTreeMap::new();
        let mut missing = Vec::new();
        for list in lists {
            for &b in list {
                let binding = &self.bindings[b];
                let Some(role) = self.role_of(binding) else {
                    if !binding.subjects.is_empty() {
                        missing.push(b);
                    }
                    continue;
                };
                let Some(rule) = self.roles[role].rules.iter().position(|r| rule_allows(r, request)) else { continue };
                for (s, subject) in binding.subjects.iter().enumerate() {
                    let mut subject = subject.clone();
                    if subject.kind == SubjectKind::ServiceAccount && subject.namespace.is_none() {
                        if binding.kind == BindingKind::ClusterRoleBinding {
                            continue; // stands for nobody
                        }
                        subject.namespace = binding.namespace.clone();
                    }
                    by_subject.entry(subject).or_default().push(Grant { binding: b, role, rule, subject: s });
                }
            }
        }
        WhoCan {
            holders: by_subject.into_iter().map(|(subject, grants)| Holder { subject, grants }).collect(),
            missing,
        }
    }

    /// The pods (and workload templates) that run as an identity the subject names: its
    /// service account; every service account of a namespace or of the cluster for
    /// `system:serviceaccounts[:NS]`; every pod for `system:authenticated`.
    pub fn pods_of(&self, subject: &Subject) -> Vec<&PodIdentity> {
        let pick = |f: &dyn Fn(&PodIdentity) -> bool| self.pods.iter().filter(|p| f(p)).collect::<Vec<_>>();
        match subject.kind {
            SubjectKind::ServiceAccount => {
                let ns = subject.namespace.as_deref().unwrap_or_default();
                pick(&|p| p.namespace == ns && p.service_account == subject.name)
            }
            SubjectKind::User => match split_service_account(&subject.name) {
                Some((ns, name)) => pick(&|p| p.namespace == ns && p.service_account == name),
                None => Vec::new(),
            },
            SubjectKind::Group => {
                let g = subject.name.as_str();
                if g == ALL_SERVICE_ACCOUNTS || g == AUTHENTICATED {
                    return pick(&|_| true);
                }
                match g.strip_prefix(ALL_SERVICE_ACCOUNTS).and_then(|rest| rest.strip_prefix(':')) {
                    Some(ns) => pick(&|p| p.namespace == ns),
                    None => Vec::new(),
                }
            }
        }
    }
}
