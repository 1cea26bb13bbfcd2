//! The namespaces the webhook knows: their pod-security policy, read once from their
//! labels over the configured defaults, as the plugin reads them.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use podwall_load::{InputError, Resource};
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
        Namespaces { by_name, unknown: Unknown::default() }
    }

    /// The same namespaces, the others getting `unknown`.
    pub fn with_unknown(self, unknown: Unknown) -> Self {
        Namespaces { unknown, ..self }
    }

    /// What a namespace not among these gets.
    pub fn unknown(&self) -> Unknown {
        self.unknown
    }

    /// The Namespace objects of manifest files and folders; other objects are read (and
    /// must be well-formed) but not kept.
    pub fn load<P: AsRef<Path>>(
        paths: &[P],
        defaults: Policy,
    ) -> Result<(Self, Vec<podwall_load::Object>), InputError> {
        let keep = |k: &podwall_load::Key<'_>| k.group.is_empty() && k.kind == "Namespace";
        let input = podwall_load::load_paths_where(paths, &keep)?;
        let objects: Vec<podwall_load::Object> =
            input.objects.into_iter().filter(|o| matches!(o.resource, Resource::Namespace(_))).collect();
        let empty = BTreeMap::new();
        let pairs: Vec<(&str, &BTreeMap<String, String>)> = objects
            .iter()
            .map(|o| match &o.resource {
                Resource::Namespace(ns) => (o.name.as_str(), ns.metadata.labels.as_ref().unwrap_or(&empty)),
                _ => (o.name.as_str(), &empty),
            })
            .collect();
        let namespaces = Namespaces::from_labels(pairs, defaults);
        Ok((namespaces, objects))
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
