//! Unknown fields are errors, as with kubectl's default `--validate=strict`: a misspelt
//! `matchLabel` must not turn a selector into one that selects everything.
//!
//! Objects are typed with [`serde_ignored`] watching: every field the typed view passes
//! over is checked against a schema, the Kubernetes type of the whole object. For views
//! that read the whole object (NetworkPolicy, Namespace, the Calico and ANP wire types)
//! the view is the schema. For the Pod and workload projections of [`crate::pods`] the
//! schema is the full `k8s_openapi` type: a field the projection skips is fine if the
//! full type has it at that place. The projection skips whole subtrees it does not
//! read (`volumes`, `securityContext`, `affinity`, ...), so fields *inside* those are
//! not checked; everything the projection descends into is — the object's top level,
//! `metadata`, the pod spec (and a workload's spec and template), each entry of
//! `containers`, and each container port.
//!
//! Free-form: `status` (and all below it), `metadata.managedFields`, labels and
//! annotations (maps, so never "unknown"). `apiVersion` and `kind` are always known.
//! `metadata` is checked against the Kubernetes ObjectMeta, whatever the view.
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::de::{self, DeserializeSeed, Visitor};

/// Field names of the struct at a path of keys (sequence indexes left out), or `None`
/// when the path does not lead to a struct of the schema.
pub(crate) type Schema = fn(&[&str]) -> Option<&'static [&'static str]>;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// The path of an ignored field.
fn steps(path: &serde_ignored::Path<'_>) -> Vec<Step> {
    let mut out = Vec::new();
    let mut p = path;
    loop {
        match p {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                out.push(Step::Index(*index));
                p = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                out.push(Step::Key(key.clone()));
                p = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => p = parent,
        }
    }
    out.reverse();
    out
}

/// `spec.ingress[0].ports`, as serde_path_to_error writes paths.
fn render(steps: &[Step]) -> String {
    let mut s = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Why an ignored field is an error, or `None` when it is allowed.
fn check(steps: &[Step], schema: Schema) -> Option<String> {
    let keys: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    let (&field, parent) = keys.split_last()?;
    match keys[..] {
        ["apiVersion" | "kind"] | ["status", ..] | ["metadata", "managedFields", ..] => return None,
        _ => {}
    }
    let known = match parent.first() {
        Some(&"metadata") => fields_at::<ObjectMeta>(&parent[1..]),
        _ => schema(parent),
    }?;
    if known.contains(&field) {
        return None;
    }
    let hint = suggestion(field, known).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
    Some(format!("unknown field `{field}`{hint}; the API server refuses unknown fields"))
}

thread_local! {
    /// Paths (hashed with their schema) already found to be known: the same few come up
    /// for every pod, and this keeps the common case free of allocation.
    static KNOWN: RefCell<HashSet<u64>> = RefCell::new(HashSet::new());
}

/// Like [`check`], straight from the ignored path, remembering the paths that are fine.
pub(crate) fn check_ignored(path: &serde_ignored::Path<'_>, schema: Schema) -> Option<(String, String)> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (schema as usize).hash(&mut hasher);
    let (mut p, mut root, mut depth) = (path, "", 0usize);
    loop {
        match p {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Map { parent, key } => {
                key.hash(&mut hasher);
                (root, depth, p) = (key.as_str(), depth + 1, parent);
            }
            serde_ignored::Path::Seq { parent, .. }
            | serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => p = parent,
        }
    }
    if root == "status" || (depth == 1 && matches!(root, "apiVersion" | "kind")) {
        return None;
    }
    let key = hasher.finish();
    if KNOWN.with(|k| k.borrow().contains(&key)) {
        return None;
    }
    let steps = steps(path);
    match check(&steps, schema) {
        Some(why) => Some((render(&steps), why)),
        None => {
            KNOWN.with(|k| k.borrow_mut().insert(key));
            None
        }
    }
}

/// The one known field close to `field` (edit distance at most 2, and closer than any
/// other), if there is one.
fn suggestion(field: &str, known: &[&'static str]) -> Option<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = known.iter().map(|k| (distance(field, k), *k)).collect();
    scored.sort();
    match scored[..] {
        [(d, k), (d2, _), ..] if d <= 2 && d < d2 => Some(k),
        [(d, k)] if d <= 2 => Some(k),
        _ => None,
    }
}

/// Levenshtein distance, case-insensitive (`Items` is one step from `items`... and zero
/// here, which is what a capitalisation slip deserves).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The field names of the struct `T` has at `path`, found by letting `T` deserialize
/// from a probe that walks down `path` and stops at the struct there: derived and
/// generated `Deserialize` impls name their fields when they ask for a struct.
pub(crate) fn fields_at<T: DeserializeOwned>(path: &[&str]) -> Option<&'static [&'static str]> {
    match T::deserialize(Probe { rest: path }) {
        Err(ProbeEnd::Found(fields)) => Some(fields),
        _ => None,
    }
}

#[derive(Debug)]
enum ProbeEnd {
    Found(&'static [&'static str]),
    Lost,
}

impl fmt::Display for ProbeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for ProbeEnd {}

impl de::Error for ProbeEnd {
    fn custom<M: fmt::Display>(_: M) -> Self {
        ProbeEnd::Lost
    }
}

struct Probe<'p> {
    rest: &'p [&'p str],
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeEnd;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeEnd> {
        Err(ProbeEnd::Lost)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeEnd> {
        match self.rest {
            [] => Err(ProbeEnd::Found(fields)),
            _ => visitor.visit_map(Entry { rest: self.rest, done: false }),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeEnd> {
        match self.rest {
            [] => Err(ProbeEnd::Lost),
            _ => visitor.visit_map(Entry { rest: self.rest, done: false }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeEnd> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeEnd> {
        visitor.visit_seq(Element { probe: Some(self) })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, ProbeEnd> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple
        tuple_struct enum identifier ignored_any
    }
}

/// A map of one entry: the next key of the path, then the probe for the rest.
struct Entry<'p> {
    rest: &'p [&'p str],
    done: bool,
}

impl<'de> de::MapAccess<'de> for Entry<'_> {
    type Error = ProbeEnd;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, ProbeEnd> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        seed.deserialize(de::value::StrDeserializer::new(self.rest[0])).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ProbeEnd> {
        seed.deserialize(Probe { rest: &self.rest[1..] })
    }
}

/// A sequence of one element (indexes are not part of the path).
struct Element<'p> {
    probe: Option<Probe<'p>>,
}

impl<'de> de::SeqAccess<'de> for Element<'_> {
    type Error = ProbeEnd;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, ProbeEnd> {
        match self.probe.take() {
            Some(p) => seed.deserialize(p).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    #[test]
    fn probe_finds_the_fields_of_nested_structs() {
        let spec = fields_at::<NetworkPolicy>(&["spec"]).expect("spec");
        assert!(spec.contains(&"podSelector") && spec.contains(&"policyTypes"), "{spec:?}");
        let sel = fields_at::<NetworkPolicy>(&["spec", "ingress", "from", "podSelector"]).expect("selector");
        assert_eq!(sel, ["matchExpressions", "matchLabels"]);
        let container = fields_at::<Pod>(&["spec", "containers"]).expect("container");
        assert!(container.contains(&"image") && container.contains(&"ports"));
        assert!(fields_at::<Pod>(&["spec", "nonsense"]).is_none());
    }

    #[test]
    fn close_misspelling_is_suggested_and_far_one_is_not() {
        assert_eq!(suggestion("matchLabel", &["matchExpressions", "matchLabels"]), Some("matchLabels"));
        assert_eq!(suggestion("ingres", &["podSelector", "ingress", "egress", "policyTypes"]), Some("ingress"));
        assert_eq!(suggestion("selector", &["matchExpressions", "matchLabels"]), None);
    }
}
