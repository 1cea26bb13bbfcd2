//! The namespaces the webhook knows: their pod-security policy, read once from their
//! labels over the configured defaults, as the plugin reads them; and the Pods of the
//! same files, the existing pods a namespace update that tightens enforce dry-runs
//! (none when the files hold none). Read from the API instead ([`crate::follow`]), the
//! same structure is rebuilt from the watch's events, and is unsynced until the first
//! lists.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use podwall_load::podspec::pod_spec;
use podwall_load::{InputError, Resource};
use podwall_pod_security::admission::ExistingPods;
use podwall_pod_security::policy::{from_labels, LabelError, Policy};

/// One namespace's policy, and the labels the plugin could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespacePolicy {
    /// Its enforce, audit and warn levels and versions.
    pub policy: Policy,
    /// Labels the plugin could not read (the policy holds what it uses instead).
    pub errors: Vec<LabelError>,
}

/// What a request in a namespace not among the known ones gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unknown {
    /// What the plugin does when its namespace lookup fails: a Pod is refused with an
    /// internal error, a workload is admitted with the error in its audit annotations.
    #[default]
    Refuse,
    /// The namespace is taken as unlabelled: the configured defaults decide.
    Defaults,
}

/// Namespaces by name, and what the others get.
#[derive(Clone, Debug, Default)]
pub struct Namespaces {
    by_name: HashMap<String, NamespacePolicy>,
    unknown: Unknown,
    /// The pods of each namespace (whether or not the namespace is among the known).
    pods: HashMap<String, Arc<ExistingPods>>,
    /// Why no namespace can be looked up yet (read from the API: not listed yet).
    unsynced: Option<String>,
}

/// A label error in the API's words: `FIELD: Invalid value: "VALUE": MESSAGE`.
pub fn field_error(e: &LabelError) -> String {
    format!("{}: {}", e.field(), invalid_value(e))
}

/// `Invalid value: "VALUE": MESSAGE`, the body of a field error.
pub fn invalid_value(e: &LabelError) -> String {
    format!("Invalid value: {:?}: {}", e.value, e.message)
}

/// Several field errors as one, as the API machinery aggregates them: one alone, or
/// `[first, second]`.
pub fn aggregate(errors: &[LabelError]) -> String {
    let all: Vec<String> = errors.iter().map(field_error).collect();
    match all.len() {
        1 => all.into_iter().next().unwrap_or_default(),
        _ => format!("[{}]", all.join(", ")),
    }
}

impl Namespaces {
    /// Namespaces from `(name, labels)` pairs, over `defaults`.
    pub fn from_labels<'a>(
        namespaces: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
        defaults: Policy,
    ) -> Self {
        let by_name = namespaces
            .into_iter()
            .map(|(name, labels)| {
                let (policy, errors) = from_labels(labels, defaults);
                (name.to_string(), NamespacePolicy { policy, errors })
            })
            .collect();
        Namespaces { by_name, unknown: Unknown::default(), pods: HashMap::new(), unsynced: None }
    }

    /// No namespace at all, and every lookup failing with `why`: a lister whose informer
    /// has not synced.
    pub fn unsynced(why: String) -> Self {
        Namespaces { unsynced: Some(why), ..Namespaces::default() }
    }

    /// Why no namespace can be looked up yet, when that is so.
    pub fn unsynced_reason(&self) -> Option<&str> {
        self.unsynced.as_deref()
    }

    /// The same namespaces, with these pods, by namespace.
    pub fn with_pods(self, pods: HashMap<String, ExistingPods>) -> Self {
        self.with_pod_stores(pods.into_iter().map(|(ns, p)| (ns, Arc::new(p))).collect())
    }

    /// The same namespaces, with these pods, by namespace, shared with whoever built them.
    pub fn with_pod_stores(self, pods: HashMap<String, Arc<ExistingPods>>) -> Self {
        Namespaces { pods, ..self }
    }

    /// The pods in a namespace (none when the input holds none).
    pub fn pods_in(&self, namespace: &str) -> Option<&ExistingPods> {
        self.pods.get(namespace).map(|p| &**p)
    }

    /// How many pods there are, in all namespaces.
    pub fn pod_count(&self) -> usize {
        self.pods.values().map(|p| p.len()).sum()
    }

    /// The same namespaces, the others getting `unknown`.
    pub fn with_unknown(self, unknown: Unknown) -> Self {
        Namespaces { unknown, ..self }
    }

    /// What a namespace not among these gets.
    pub fn unknown(&self) -> Unknown {
        self.unknown
    }

    /// The Namespace and Pod objects of manifest files and folders (returning the
    /// Namespace objects); other objects are read (and must be well-formed) but not kept.
    /// A Pod's whole spec is read, as `pss` reads it: one that does not read is an error.
    pub fn load<P: AsRef<Path>>(
        paths: &[P],
        defaults: Policy,
    ) -> Result<(Self, Vec<podwall_load::Object>), InputError> {
        let keep = |k: &podwall_load::Key<'_>| k.group.is_empty() && matches!(k.kind, "Namespace" | "Pod");
        let raw = |k: &podwall_load::Key<'_>| k.group.is_empty() && k.kind == "Pod";
        let options = podwall_load::Options { keep: &keep, raw: &raw, ..Default::default() };
        let input = podwall_load::load_paths_with(paths, options)?;
        let mut by_namespace: BTreeMap<String, Vec<_>> = BTreeMap::new();
        let mut objects = Vec::new();
        for o in input.objects {
            if matches!(o.resource, Resource::Namespace(_)) {
                objects.push(o);
            } else if let Some(pod) = pod_spec(&o)? {
                let namespace = o.namespace.unwrap_or_else(|| "default".to_string());
                by_namespace.entry(namespace).or_default().push((o.name, pod.meta, pod.spec));
            }
        }
        let pods = by_namespace.into_iter().map(|(ns, pods)| (ns, ExistingPods::new(pods))).collect();
        let empty = BTreeMap::new();
        let pairs: Vec<(&str, &BTreeMap<String, String>)> = objects
            .iter()
            .map(|o| match &o.resource {
                Resource::Namespace(ns) => (o.name.as_str(), ns.metadata.labels.as_ref().unwrap_or(&empty)),
                _ => (o.name.as_str(), &empty),
            })
            .collect();
        let namespaces = Namespaces::from_labels(pairs, defaults).with_pods(pods);
        Ok((namespaces, objects))
    }

    /// Sets one namespace's policy from its labels, over `defaults`; returns it.
    pub fn set(&mut self, name: &str, labels: &BTreeMap<String, String>, defaults: Policy) -> &NamespacePolicy {
        let (policy, errors) = from_labels(labels, defaults);
        self.by_name.insert(name.to_string(), NamespacePolicy { policy, errors });
        &self.by_name[name]
    }

    /// Forgets a namespace (it becomes unknown); whether it was known.
    pub fn remove(&mut self, name: &str) -> bool {
        self.by_name.remove(name).is_some()
    }

    /// Forgets every namespace (their pods stay).
    pub fn clear(&mut self) {
        self.by_name.clear();
    }

    /// Sets the pods of one namespace (`None`: it has none).
    pub fn set_pods(&mut self, namespace: &str, pods: Option<Arc<ExistingPods>>) {
        match pods {
            Some(p) => self.pods.insert(namespace.to_string(), p),
            None => self.pods.remove(namespace),
        };
    }

    /// Sets why no namespace can be looked up (`None`: lookups answer).
    pub fn set_unsynced(&mut self, why: Option<String>) {
        self.unsynced = why;
    }

    /// A namespace by name.
    pub fn get(&self, name: &str) -> Option<&NamespacePolicy> {
        self.by_name.get(name)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
