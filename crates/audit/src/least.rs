//! `audit rbac`: the least Roles and ClusterRoles, and their bindings, that allow every
//! request one user made in an audit log.
//!
//! Each request is recorded as the authorizer saw it ([`Event::target`]): a
//! namespaced request becomes a rule of a Role in its namespace, a cluster-wide one (a
//! cluster-scoped resource, a list across namespaces, a URL) a rule of the ClusterRole.
//! A rule names the objects (`resourceNames`) only when every request of that verb on
//! that resource named one in its URL; the authorizer never sees the name of an object
//! being created, nor of the objects of a list without a `metadata.name` field selector,
//! so those verbs get rules without names (a rule with names would refuse them). When a
//! verb touches more distinct objects than the threshold, the rule drops the names.
//!
//! A request made while impersonating is authorized as the impersonated user; the
//! impersonator needs the `impersonate` verb on that user (`users`, or `serviceaccounts`
//! in the account's namespace) and on each group it asked for (`groups`), which is
//! what the impersonator's roles get.
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::check::Target;
use crate::log::Event;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The objects a verb on a resource touched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Names {
    /// Any object: some request had no name the authorizer saw, or there were more than
    /// the threshold.
    Any,
    /// Only these.
    Only(BTreeSet<String>),
}

/// One verb on one resource in one scope, and the objects it touched.
#[derive(Clone, Copy, Debug)]
pub struct Access<'a> {
    /// The namespace; `""` for cluster-wide.
    pub namespace: &'a str,
    /// The API group.
    pub group: &'a str,
    /// `RESOURCE` or `RESOURCE/SUBRESOURCE`.
    pub resource: &'a str,
    /// The verb.
    pub verb: &'a str,
    /// The objects.
    pub names: &'a Names,
}

/// A resource in one scope: `(API group, resource[/subresource])`.
type ResourceKey = (String, String);

/// What one user did, as the authorizer saw it.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    user: String,
    threshold: usize,
    /// Namespace (`""` for cluster-wide) → resource → verb → names.
    resources: BTreeMap<String, BTreeMap<ResourceKey, BTreeMap<String, Names>>>,
    /// URL path → verbs.
    urls: BTreeMap<String, BTreeSet<String>>,
    /// Requests recorded by their final event, and by their first.
    finals: u64,
    received: u64,
    /// Of the requests recorded, those the authorizer refused at the time.
    pub denied: u64,
}

impl Recorder {
    /// Records `user`'s requests; a verb touching more than `threshold` objects gets a
    /// rule without names.
    pub fn new(user: &str, threshold: usize) -> Self {
        Recorder { user: user.to_string(), threshold, ..Default::default() }
    }

    /// Records one event if it concerns the user: as the one authorized (themselves, or
    /// impersonated by someone), or as the impersonator.
    pub fn add(&mut self, e: &Event) {
        if e.effective_user().username == self.user {
            if e.is_final() {
                self.finals += 1;
                self.denied += u64::from(e.denied());
            } else if e.stage == "RequestReceived" {
                self.received += 1;
            }
            match e.target() {
                Target::Resource { group, resource, subresource, name, namespace } => {
                    let resource = if subresource.is_empty() { resource } else { format!("{resource}/{subresource}") };
                    self.resource(&namespace, &group, &resource, &e.verb, &name);
                }
                Target::NonResource { path } => {
                    self.urls.entry(path).or_default().insert(e.verb.clone());
                }
            }
        }
        if e.user.username == self.user {
            if let Some(target) = &e.impersonated_user {
                self.impersonation(target);
            }
        }
    }

    fn impersonation(&mut self, target: &crate::log::EventUser) {
        let account = service_account(&target.username);
        match account {
            Some((ns, name)) => self.resource(ns, "", "serviceaccounts", "impersonate", name),
            None => self.resource("", "", "users", "impersonate", &target.username),
        }
        for g in &target.groups {
            // Added by the API server after impersonation, never checked.
            let implied = g == "system:authenticated"
                || (account.is_some() && (g == "system:serviceaccounts" || g.starts_with("system:serviceaccounts:")));
            if !implied {
                self.resource("", "", "groups", "impersonate", g);
            }
        }
    }

    fn resource(&mut self, namespace: &str, group: &str, resource: &str, verb: &str, name: &str) {
        let verbs = self
            .resources
            .entry(namespace.to_string())
            .or_default()
            .entry((group.to_string(), resource.to_string()))
            .or_default();
        let names = verbs.entry(verb.to_string()).or_insert_with(|| Names::Only(BTreeSet::new()));
        if let Names::Only(set) = names {
            if name.is_empty() {
                *names = Names::Any;
            } else {
                set.insert(name.to_string());
                if set.len() > self.threshold {
                    *names = Names::Any;
                }
            }
        }
    }

    /// Every access recorded, and every `(path, verb)`: what the generated roles must
    /// allow.
    pub fn accesses(&self) -> (Vec<Access<'_>>, Vec<(&str, &str)>) {
        let mut res = vec![];
        for (ns, resources) in &self.resources {
            for ((group, resource), verbs) in resources {
                for (verb, names) in verbs {
                    res.push(Access { namespace: ns, group, resource, verb, names });
                }
            }
        }
        let urls =
            self.urls.iter().flat_map(|(p, verbs)| verbs.iter().map(move |v| (p.as_str(), v.as_str()))).collect();
        (res, urls)
    }

    /// The number of requests recorded (each counted once: by its final event, or by its
    /// `RequestReceived` event in a log whose policy omits the final stages).
    pub fn requests(&self) -> u64 {
        if self.finals > 0 {
            self.finals
        } else {
            self.received
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.urls.is_empty()
    }

    /// The roles and bindings, named `name`.
    pub fn generate(&self, name: &str) -> Generated {
        let subject = subject_of(&self.user);
        let mut out = Generated::default();
        let mut cluster_rules = vec![];
        for (ns, resources) in &self.resources {
            let rules = resource_rules(resources);
            if ns.is_empty() {
                cluster_rules.extend(rules);
                continue;
            }
            let meta = ObjectMeta { name: Some(name.to_string()), namespace: Some(ns.clone()), ..Default::default() };
            out.roles.push(Role { metadata: meta.clone(), rules: Some(rules) });
            out.role_bindings.push(RoleBinding {
                metadata: meta,
                role_ref: RoleRef { api_group: RBAC_GROUP.into(), kind: "Role".into(), name: name.to_string() },
                subjects: Some(vec![subject.clone()]),
            });
        }
        cluster_rules.extend(url_rules(&self.urls));
        if !cluster_rules.is_empty() {
            let meta = ObjectMeta { name: Some(name.to_string()), ..Default::default() };
            out.cluster_roles.push(ClusterRole {
                metadata: meta.clone(),
                rules: Some(cluster_rules),
                aggregation_rule: None,
            });
            out.cluster_role_bindings.push(ClusterRoleBinding {
                metadata: meta,
                role_ref: RoleRef { api_group: RBAC_GROUP.into(), kind: "ClusterRole".into(), name: name.to_string() },
                subjects: Some(vec![subject]),
            });
        }
        out
    }
}

/// `system:serviceaccount:NS:NAME` → `(NS, NAME)`.
pub fn service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

fn subject_of(user: &str) -> Subject {
    match service_account(user) {
        Some((ns, name)) => Subject {
            api_group: Some(String::new()),
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(ns.into()),
        },
        None => Subject { api_group: Some(RBAC_GROUP.into()), kind: "User".into(), name: user.into(), namespace: None },
    }
}

/// The rules of one scope: per group, the resources whose verbs touch any object share
/// a rule when their verbs agree; verbs restricted to names get a rule per resource
/// (names on a rule hold for every resource of it, which would widen them).
fn resource_rules(resources: &BTreeMap<ResourceKey, BTreeMap<String, Names>>) -> Vec<PolicyRule> {
    // (group, verbs) → resources, for unnamed rules; kept in first-seen order by the map.
    let mut any: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    let mut named = vec![];
    for ((group, resource), verbs) in resources {
        let mut by_names: BTreeMap<&Names, Vec<String>> = BTreeMap::new();
        for (verb, names) in verbs {
            by_names.entry(names).or_default().push(verb.clone());
        }
        for (names, verbs) in by_names {
            match names {
                Names::Any => any.entry((group.clone(), verbs)).or_default().push(resource.clone()),
                Names::Only(set) => named.push(PolicyRule {
                    api_groups: Some(vec![group.clone()]),
                    resources: Some(vec![resource.clone()]),
                    resource_names: Some(set.iter().cloned().collect()),
                    verbs,
                    non_resource_urls: None,
                }),
            }
        }
    }
    let mut rules: Vec<PolicyRule> = any
        .into_iter()
        .map(|((group, verbs), resources)| PolicyRule {
            api_groups: Some(vec![group]),
            resources: Some(resources),
            verbs,
            resource_names: None,
            non_resource_urls: None,
        })
        .collect();
    rules.extend(named);
    rules
}

fn url_rules(urls: &BTreeMap<String, BTreeSet<String>>) -> Vec<PolicyRule> {
    let mut by_verbs: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (path, verbs) in urls {
        by_verbs.entry(verbs.iter().cloned().collect()).or_default().push(path.clone());
    }
    by_verbs
        .into_iter()
        .map(|(verbs, paths)| PolicyRule {
            non_resource_urls: Some(paths),
            verbs,
            api_groups: None,
            resources: None,
            resource_names: None,
        })
        .collect()
}

/// The generated objects.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// One Role per namespace the user acted in.
    pub roles: Vec<Role>,
    /// Their bindings.
    pub role_bindings: Vec<RoleBinding>,
    /// The ClusterRole for cluster-wide requests and URLs, if any.
    pub cluster_roles: Vec<ClusterRole>,
    /// Its binding.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

impl Generated {
    /// The objects as one multi-document YAML stream: cluster roles, then per namespace
    /// its role and binding.
    pub fn to_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        let mut docs = vec![];
        for (r, b) in self.cluster_roles.iter().zip(&self.cluster_role_bindings) {
            docs.push(serde_yaml_ng::to_string(r)?);
            docs.push(serde_yaml_ng::to_string(b)?);
        }
        for (r, b) in self.roles.iter().zip(&self.role_bindings) {
            docs.push(serde_yaml_ng::to_string(r)?);
            docs.push(serde_yaml_ng::to_string(b)?);
        }
        Ok(docs.join("---\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::parse;

    fn ev(user: &str, verb: &str, object: &str) -> Event {
        let object = if object.is_empty() { String::new() } else { format!(r#","objectRef":{object}"#) };
        parse(
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x","stage":"ResponseComplete","verb":"{verb}",
                "requestURI":"/healthz","user":{{"username":"{user}"}}{object}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn rules(g: &Generated) -> Vec<String> {
        let mut out = vec![];
        for r in &g.roles {
            for rule in r.rules.iter().flatten() {
                out.push(format!("{} {rule:?}", r.metadata.namespace.as_deref().unwrap()));
            }
        }
        for r in &g.cluster_roles {
            for rule in r.rules.iter().flatten() {
                out.push(format!("cluster {rule:?}"));
            }
        }
        out
    }

    #[test]
    fn a_create_never_gets_resource_names() {
        let mut r = Recorder::new("jane", 5);
        r.add(&ev("jane", "create", r#"{"resource":"configmaps","namespace":"prod","name":"cfg"}"#));
        r.add(&ev("jane", "get", r#"{"resource":"configmaps","namespace":"prod","name":"cfg"}"#));
        let g = r.generate("podwall:audit:jane");
        let role = &g.roles[0];
        let rules = role.rules.as_ref().unwrap();
        let create = rules.iter().find(|r| r.verbs.contains(&"create".to_string())).unwrap();
        assert_eq!(create.resource_names, None);
        let get = rules.iter().find(|r| r.verbs.contains(&"get".to_string())).unwrap();
        assert_eq!(get.resource_names.as_deref(), Some(&["cfg".to_string()][..]));
    }

    #[test]
    fn a_namespaced_request_makes_a_role_and_a_cluster_wide_one_the_cluster_role() {
        let mut r = Recorder::new("jane", 5);
        r.add(&ev("jane", "list", r#"{"resource":"pods","namespace":"prod"}"#));
        r.add(&ev("jane", "list", r#"{"resource":"pods"}"#));
        r.add(&ev("jane", "get", r#"{"resource":"nodes","name":"n1"}"#));
        r.add(&ev("jane", "get", ""));
        let g = r.generate("r");
        assert_eq!(g.roles.len(), 1);
        assert_eq!(g.cluster_roles.len(), 1);
        let cluster = g.cluster_roles[0].rules.as_ref().unwrap();
        assert!(cluster.iter().any(|r| r.non_resource_urls.as_deref() == Some(&["/healthz".to_string()][..])));
        assert!(cluster.iter().any(|r| r.resource_names.as_deref() == Some(&["n1".to_string()][..])));
        assert_eq!(g.cluster_role_bindings[0].subjects.as_ref().unwrap()[0].kind, "User");
    }

    #[test]
    fn more_objects_than_the_threshold_drop_the_names() {
        let mut r = Recorder::new("jane", 2);
        for n in ["a", "b", "c"] {
            r.add(&ev("jane", "get", &format!(r#"{{"resource":"secrets","namespace":"prod","name":"{n}"}}"#)));
        }
        let g = r.generate("r");
        assert_eq!(g.roles[0].rules.as_ref().unwrap()[0].resource_names, None);
    }

    #[test]
    fn other_users_requests_are_not_recorded() {
        let mut r = Recorder::new("jane", 5);
        r.add(&ev("bob", "get", r#"{"resource":"pods","namespace":"prod","name":"a"}"#));
        assert!(r.is_empty());
    }

    #[test]
    fn an_impersonator_needs_impersonate_on_the_user_and_its_asked_groups_only() {
        let mut r = Recorder::new("admin", 5);
        let mut e = ev("admin", "get", r#"{"resource":"pods","namespace":"prod","name":"a"}"#);
        e.impersonated_user = Some(crate::log::EventUser {
            username: "jane".into(),
            groups: vec!["dev".into(), "system:authenticated".into()],
        });
        r.add(&e);
        let got = rules(&r.generate("r"));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|r| r.starts_with("cluster") && r.contains("impersonate")), "{got:?}");
        assert!(got.iter().any(|r| r.contains("\"users\"") && r.contains("\"jane\"")), "{got:?}");
        assert!(got.iter().any(|r| r.contains("\"groups\"") && r.contains("\"dev\"")), "{got:?}");
    }

    #[test]
    fn a_service_account_is_bound_as_one() {
        let mut r = Recorder::new("system:serviceaccount:ci:deployer", 5);
        r.add(&ev(
            "system:serviceaccount:ci:deployer",
            "patch",
            r#"{"resource":"deployments","apiGroup":"apps","namespace":"prod","name":"web"}"#,
        ));
        let g = r.generate("r");
        let s = &g.role_bindings[0].subjects.as_ref().unwrap()[0];
        assert_eq!(
            (s.kind.as_str(), s.name.as_str(), s.namespace.as_deref()),
            ("ServiceAccount", "deployer", Some("ci"))
        );
        assert_eq!(service_account("system:serviceaccount:ci"), None);
    }
}
