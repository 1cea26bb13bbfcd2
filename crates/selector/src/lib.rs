//! Label expressions.
//!
//! Every selector podwall meets — a Kubernetes `LabelSelector`, a Calico selector
//! string, an AdminNetworkPolicy subject — is compiled into one [`Expr`]. An
//! expression reads labels through a [`Scope`], so that a Kubernetes pod selector
//! sees only the pod's own labels while a Calico selector sees the label map Calico
//! gives an endpoint (pod labels plus `projectcalico.org/*`, `pcns.*` and `pcsa.*`).
//!
//! ```
//! use podwall_selector::{Expr, Label, Scope, Labels};
//! let e = Expr::Eq(Label::pod("app"), "web".into());
//! let labels: std::collections::BTreeMap<String, String> =
//!     [("app".to_string(), "web".to_string())].into();
//! assert!(e.matches(&Labels(&labels)));
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod parse;
pub use parse::{parse, ParseError};

/// Which label map a label reference reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The object's own labels (a pod's, or a network set's).
    Pod,
    /// The labels of the namespace the object lives in.
    Namespace,
    /// The labels of the object's service account (known only from ServiceAccount objects).
    ServiceAccount,
    /// A key as written in a Calico selector, before the Calico dialect resolves it into
    /// the object's own labels or a [`Scope::Context`] fact. Unresolved, it reads the
    /// object's own labels.
    Calico,
    /// A fact of the object's context rather than one of its own labels, shown under the
    /// key as written (a dialect's reserved key or prefix names it; the key is kept only
    /// to render the expression as the user wrote it, and to read prefixed labels).
    Context(Context),
}

/// A fact of an object's context that a selector can read like a label.
///
/// Each is defined for endpoints; network sets and namespaces read the ones that make
/// sense for them, and for the facts only endpoints have ([`Context::Orchestrator`],
/// [`Context::RunsAs`], [`Context::ServiceAccountName`], [`Context::ServiceAccountLabel`])
/// a network set reads its own label under the key as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// The name of the namespace the object is in (a namespace: its own name).
    NamespaceName,
    /// A label of the object's namespace: the key as written without its first `n` bytes.
    NamespaceLabel(u8),
    /// The orchestrator that made the endpoint: always `k8s`.
    Orchestrator,
    /// The name of the service account the endpoint runs as, when it has at most `max`
    /// bytes.
    RunsAs {
        /// The longest name that is shown.
        max: u8,
    },
    /// The name of the endpoint's service account, when a ServiceAccount object is given.
    ServiceAccountName,
    /// A label of the endpoint's service account (when a ServiceAccount object is given):
    /// the key as written without its first `n` bytes.
    ServiceAccountLabel(u8),
}

/// A label key read in a given scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label map the key is looked up in.
    pub scope: Scope,
    /// The label key.
    pub key: String,
}

impl Label {
    /// A key in the object's own labels.
    pub fn pod(key: &str) -> Self {
        Label { scope: Scope::Pod, key: key.to_string() }
    }
    /// A key in the object's namespace labels.
    pub fn namespace(key: &str) -> Self {
        Label { scope: Scope::Namespace, key: key.to_string() }
    }
    /// A key in Calico's endpoint label view.
    pub fn calico(key: &str) -> Self {
        Label { scope: Scope::Calico, key: key.to_string() }
    }
}

/// A boolean expression over labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// Matches everything (`all()`, an empty Kubernetes selector, an empty Calico selector).
    All,
    /// Calico's `global()`: true on its own; in a namespaceSelector it is rewritten to
    /// "not in any namespace" before evaluation.
    Global,
    /// The label exists (any value, the empty string included).
    Has(Label),
    /// The label exists and equals the value.
    Eq(Label, String),
    /// The label is missing or differs from the value.
    Ne(Label, String),
    /// The label exists and its value is one of the set.
    In(Label, BTreeSet<String>),
    /// The label is missing or its value is none of the set.
    NotIn(Label, BTreeSet<String>),
    /// The label exists and contains the string.
    Contains(Label, String),
    /// The label exists and starts with the string.
    StartsWith(Label, String),
    /// The label exists and ends with the string.
    EndsWith(Label, String),
    /// The object lives in this namespace (false for objects outside any namespace).
    InNamespace(String),
    /// Negation.
    Not(Box<Expr>),
    /// Every operand holds (true when empty).
    And(Vec<Expr>),
    /// Some operand holds (false when empty).
    Or(Vec<Expr>),
}

/// Something whose labels an [`Expr`] can read.
pub trait LabelSource {
    /// The value of `key` in `scope`, if the label exists.
    fn label(&self, scope: Scope, key: &str) -> Option<&str>;
    /// The namespace of the object, if it has one.
    fn namespace(&self) -> Option<&str>;
}

/// A plain label map seen as a [`LabelSource`] with no namespace; every scope reads it.
pub struct Labels<'a>(pub &'a BTreeMap<String, String>);

impl LabelSource for Labels<'_> {
    fn label(&self, _scope: Scope, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn namespace(&self) -> Option<&str> {
        None
    }
}

impl Expr {
    /// Builds the conjunction of `parts`, flattening nested `And`s and dropping `All`.
    pub fn and(parts: impl IntoIterator<Item = Expr>) -> Expr {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Expr::All => {}
                Expr::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Expr::All,
            1 => out.pop().unwrap_or(Expr::All),
            _ => Expr::And(out),
        }
    }

    /// Builds the negation of `e`, collapsing a double negation.
    // A constructor named like its sibling `Expr::and`, called as `Expr::not(e)`;
    // not meant as `std::ops::Not`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(e: Expr) -> Expr {
        match e {
            Expr::Not(inner) => *inner,
            other => Expr::Not(Box::new(other)),
        }
    }

    /// Whether `global()` appears anywhere in the expression.
    pub fn mentions_global(&self) -> bool {
        match self {
            Expr::Global => true,
            Expr::Not(x) => x.mentions_global(),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::mentions_global),
            _ => false,
        }
    }

    /// Evaluates the expression on `src`.
    pub fn matches(&self, src: &impl LabelSource) -> bool {
        match self {
            Expr::All | Expr::Global => true,
            Expr::Has(l) => src.label(l.scope, &l.key).is_some(),
            Expr::Eq(l, v) => src.label(l.scope, &l.key) == Some(v.as_str()),
            Expr::Ne(l, v) => src.label(l.scope, &l.key) != Some(v.as_str()),
            Expr::In(l, set) => src.label(l.scope, &l.key).is_some_and(|x| set.contains(x)),
            Expr::NotIn(l, set) => !src.label(l.scope, &l.key).is_some_and(|x| set.contains(x)),
            Expr::Contains(l, s) => src.label(l.scope, &l.key).is_some_and(|x| x.contains(s.as_str())),
            Expr::StartsWith(l, s) => src.label(l.scope, &l.key).is_some_and(|x| x.starts_with(s.as_str())),
            Expr::EndsWith(l, s) => src.label(l.scope, &l.key).is_some_and(|x| x.ends_with(s.as_str())),
            Expr::InNamespace(ns) => src.namespace() == Some(ns.as_str()),
            Expr::Not(e) => !e.matches(src),
            Expr::And(es) => es.iter().all(|e| e.matches(src)),
            Expr::Or(es) => es.iter().any(|e| e.matches(src)),
        }
    }
}

fn quote(s: &str) -> String {
    if s.contains('\'') {
        format!("\"{s}\"")
    } else {
        format!("'{s}'")
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Pod | Scope::Calico | Scope::Context(_) => write!(f, "{}", self.key),
            Scope::Namespace => write!(f, "namespace:{}", self.key),
            Scope::ServiceAccount => write!(f, "serviceaccount:{}", self.key),
        }
    }
}

/// Renders the expression in Calico's selector syntax (scopes other than the
/// object's own labels are shown with a `namespace:` or `serviceaccount:` prefix).
///
/// For an expression whose labels are all in [`Scope::Calico`], which has no
/// [`Expr::InNamespace`], and no value holding both quote characters (Calico
/// strings have no escapes), [`parse()`] reads the output back into an
/// expression that matches exactly the same label maps; for an expression that
/// [`parse()`] produced, it reads back into the very same expression. An empty
/// [`Expr::And`] is written `all()` and an empty [`Expr::Or`] `!all()`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &BTreeSet<String>| s.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ");
        match self {
            Expr::All => write!(f, "all()"),
            Expr::Global => write!(f, "global()"),
            Expr::Has(l) => write!(f, "has({l})"),
            Expr::Eq(l, v) => write!(f, "{l} == {}", quote(v)),
            Expr::Ne(l, v) => write!(f, "{l} != {}", quote(v)),
            Expr::In(l, s) => write!(f, "{l} in {{{}}}", set(s)),
            Expr::NotIn(l, s) => write!(f, "{l} not in {{{}}}", set(s)),
            Expr::Contains(l, v) => write!(f, "{l} contains {}", quote(v)),
            Expr::StartsWith(l, v) => write!(f, "{l} starts with {}", quote(v)),
            Expr::EndsWith(l, v) => write!(f, "{l} ends with {}", quote(v)),
            Expr::InNamespace(ns) => write!(f, "namespace == {}", quote(ns)),
            Expr::Not(e) => match **e {
                Expr::And(_) | Expr::Or(_) => write!(f, "!({e})"),
                _ => write!(f, "!{e}"),
            },
            Expr::And(es) if es.is_empty() => write!(f, "all()"),
            Expr::Or(es) if es.is_empty() => write!(f, "!all()"),
            Expr::And(es) => {
                let parts: Vec<String> = es
                    .iter()
                    .map(|e| match e {
                        Expr::Or(_) => format!("({e})"),
                        _ => e.to_string(),
                    })
                    .collect();
                write!(f, "{}", parts.join(" && "))
            }
            Expr::Or(es) => {
                let parts: Vec<String> = es.iter().map(|e| e.to_string()).collect();
                write!(f, "{}", parts.join(" || "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn missing_label_makes_negative_operators_true() {
        let l = labels(&[("app", "web")]);
        let src = Labels(&l);
        assert!(Expr::Ne(Label::pod("tier"), "x".into()).matches(&src));
        assert!(Expr::NotIn(Label::pod("tier"), ["x".to_string()].into()).matches(&src));
        assert!(!Expr::Eq(Label::pod("tier"), "x".into()).matches(&src));
        assert!(!Expr::In(Label::pod("tier"), ["x".to_string()].into()).matches(&src));
        assert!(!Expr::Has(Label::pod("tier")).matches(&src));
    }

    #[test]
    fn has_matches_empty_value() {
        let l = labels(&[("flag", "")]);
        assert!(Expr::Has(Label::pod("flag")).matches(&Labels(&l)));
    }

    #[test]
    fn empty_and_is_true_and_empty_or_is_false() {
        let l = labels(&[]);
        assert!(Expr::And(vec![]).matches(&Labels(&l)));
        assert!(!Expr::Or(vec![]).matches(&Labels(&l)));
    }
}
