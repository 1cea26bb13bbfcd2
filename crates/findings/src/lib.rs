//! Findings: what a check noticed, as one type that every check emits and every report
//! renders. A finding names a stable check ID, a severity, the object it is about and
//! where that object was read; checks never print.
//!
//! ```
//! use podwall_findings::{Finding, ObjectRef, Origin, Severity};
//! let f = Finding::new("NP100", Severity::Medium, "given 2 times; the later is used")
//!     .object(ObjectRef::namespaced("networking.k8s.io", "NetworkPolicy", "shop", "web"))
//!     .origin(Origin::file("policies/web.yaml", 3));
//! assert_eq!(f.to_string(), "policies/web.yaml:3: NetworkPolicy shop/web: given 2 times; the later is used");
//! ```
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// How much a finding matters, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// A weakness with little exposure.
    Low,
    /// A weakness or an answer that leaves something out.
    Medium,
    /// A real exposure.
    High,
    /// An exposure that must be fixed now.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

/// The object a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// Its API group (empty for core).
    pub group: String,
    /// Its kind.
    pub kind: String,
    /// Its namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// A namespaced object.
    pub fn namespaced(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        ObjectRef { group: group.into(), kind: kind.into(), namespace: Some(namespace.into()), name: name.into() }
    }

    /// A cluster-scoped object.
    pub fn cluster(group: &str, kind: &str, name: &str) -> Self {
        ObjectRef { group: group.into(), kind: kind.into(), namespace: None, name: name.into() }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Where the object was read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Origin {
    /// A file (`-` is standard input) and the 1-based line its document starts on.
    File {
        /// The file as the user named it.
        file: String,
        /// The line.
        line: usize,
    },
    /// A live cluster, by its kubeconfig context.
    Cluster {
        /// The context.
        context: String,
    },
}

impl Origin {
    /// A file and line.
    pub fn file(file: &str, line: usize) -> Self {
        Origin::File { file: file.into(), line }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, line } => write!(f, "{file}:{line}"),
            Origin::Cluster { context } => write!(f, "cluster {context}"),
        }
    }
}

/// What a check noticed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check's stable ID (`NP101`): what the finding is, for filters and reports.
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// The object it is about, when one is.
    pub object: Option<ObjectRef>,
    /// The object as shown when no [`ObjectRef`] can be given (an endpoint, a tier).
    pub subject: Option<String>,
    /// Where the object was read, when known.
    pub origin: Option<Origin>,
    /// What is the matter, in one line.
    pub message: String,
    /// What to do about it (most checks give one fixed text per ID: borrowed, not copied
    /// into each of a large cluster's findings).
    pub remediation: Option<Cow<'static, str>>,
}

impl Finding {
    /// A finding with no object or origin yet.
    pub fn new(id: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Finding { id, severity, object: None, subject: None, origin: None, message: message.into(), remediation: None }
    }

    /// The object it is about.
    pub fn object(mut self, object: ObjectRef) -> Self {
        self.object = Some(object);
        self
    }

    /// What it is about, in words, when it is no API object.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Where it was read.
    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// What to do about it.
    pub fn remediation(mut self, remediation: impl Into<Cow<'static, str>>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    /// The object as a reader sees it: `Kind ns/name`, or the subject.
    pub fn about(&self) -> Option<String> {
        self.object.as_ref().map(ToString::to_string).or_else(|| self.subject.clone())
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.origin {
            write!(f, "{o}: ")?;
        }
        if let Some(a) = self.about() {
            write!(f, "{a}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
    }

    #[test]
    fn a_finding_without_origin_or_object_is_its_message() {
        assert_eq!(Finding::new("X1", Severity::Info, "m").to_string(), "m");
        let f = Finding::new("X1", Severity::Info, "m").subject("shop/api").origin(Origin::file("-", 2));
        assert_eq!(f.to_string(), "-:2: shop/api: m");
    }

    #[test]
    fn findings_serialize_with_their_id_and_lowercase_severity() {
        let f = Finding::new("NP100", Severity::Medium, "m").origin(Origin::file("a.yaml", 1));
        let v = serde_json::to_value(&f).expect("serializes");
        assert_eq!(v["id"], "NP100");
        assert_eq!(v["severity"], "medium");
        assert_eq!(v["origin"], serde_json::json!({"type": "file", "file": "a.yaml", "line": 1}));
    }
}
