//! A namespace's policy: its `pod-security.kubernetes.io/*` labels over the
//! configured defaults, read as the admission plugin reads them.
//!
//! - A missing label keeps the default (`privileged`, `latest` unless configured).
//! - An invalid `enforce` level fails closed (`restricted`); an invalid `audit` or
//!   `warn` level fails open (`privileged`); an invalid version is `latest`. Each
//!   invalid value is reported, naming the label and what is wrong.
//! - Without a `warn` label, a valid `enforce` level stricter than the warn default
//!   becomes the warn level too (with the enforce version unless `warn-version` is set).
use std::collections::BTreeMap;

use podwall_findings::{Finding, ObjectRef, Origin, Severity};

use crate::level::{Level, LevelVersion, Version};

/// The finding ID of a pod-security label the plugin cannot read.
pub const INVALID_LABEL: &str = "PSS001";

/// The label prefix.
pub const PREFIX: &str = "pod-security.kubernetes.io/";
/// `pod-security.kubernetes.io/enforce`.
pub const ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// `pod-security.kubernetes.io/enforce-version`.
pub const ENFORCE_VERSION: &str = "pod-security.kubernetes.io/enforce-version";
/// `pod-security.kubernetes.io/audit`.
pub const AUDIT: &str = "pod-security.kubernetes.io/audit";
/// `pod-security.kubernetes.io/audit-version`.
pub const AUDIT_VERSION: &str = "pod-security.kubernetes.io/audit-version";
/// `pod-security.kubernetes.io/warn`.
pub const WARN: &str = "pod-security.kubernetes.io/warn";
/// `pod-security.kubernetes.io/warn-version`.
pub const WARN_VERSION: &str = "pod-security.kubernetes.io/warn-version";

/// The three modes' levels and versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Pods that violate it are rejected.
    pub enforce: LevelVersion,
    /// Violations are recorded in the audit log.
    pub audit: LevelVersion,
    /// Violations are returned to the client as warnings.
    pub warn: LevelVersion,
}

impl Default for Policy {
    /// Everything privileged at `latest`: the plugin's defaults without configuration.
    fn default() -> Self {
        let p = LevelVersion::new(Level::Privileged, Version::Latest);
        Policy { enforce: p, audit: p, warn: p }
    }
}

impl Policy {
    /// Whether no mode checks anything.
    pub fn fully_privileged(&self) -> bool {
        [self.enforce, self.audit, self.warn].iter().all(|m| m.level == Level::Privileged)
    }

    /// Upstream's `Equivalent`: every mode [`LevelVersion::equivalent`].
    pub fn equivalent(&self, other: &Policy) -> bool {
        self.enforce.equivalent(&other.enforce)
            && self.audit.equivalent(&other.audit)
            && self.warn.equivalent(&other.warn)
    }
}

/// A label whose value the plugin cannot read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelError {
    /// The label's key.
    pub label: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong (upstream's words).
    pub message: String,
    /// What the plugin uses instead.
    pub instead: String,
}

impl LabelError {
    /// `metadata.labels[KEY]`.
    pub fn field(&self) -> String {
        format!("metadata.labels[{}]", self.label)
    }
}

impl LabelError {
    /// As a finding about the namespace `name`, read at `source`.
    pub fn finding(&self, name: &str, source: &podwall_load::Source) -> Finding {
        let f = Finding::new(
            INVALID_LABEL,
            Severity::High,
            format!("{}: invalid value {:?}: {}; {}", self.field(), self.value, self.message, self.instead),
        )
        .object(ObjectRef::cluster("", "Namespace", name))
        .remediation(format!("set {} to a valid value; the API server refuses a namespace with this label", self.label))
        .origin(Origin::file(&source.file, source.line));
        f
    }
}

/// The policy that `labels` set over `defaults`, and the labels that could not be read,
/// in the order the plugin reads them.
pub fn from_labels(labels: &BTreeMap<String, String>, defaults: Policy) -> (Policy, Vec<LabelError>) {
    let mut p = defaults;
    let mut errors = Vec::new();
    if labels.is_empty() {
        return (p, errors);
    }
    let enforce_valid = read_level(labels, ENFORCE, Level::Restricted, &mut p.enforce.level, &mut errors);
    read_version(labels, ENFORCE_VERSION, &mut p.enforce.version, &mut errors);
    read_level(labels, AUDIT, Level::Privileged, &mut p.audit.level, &mut errors);
    read_version(labels, AUDIT_VERSION, &mut p.audit.version, &mut errors);
    read_level(labels, WARN, Level::Privileged, &mut p.warn.level, &mut errors);
    read_version(labels, WARN_VERSION, &mut p.warn.version, &mut errors);
    if !labels.contains_key(WARN) && enforce_valid == Some(true) && p.enforce.level > p.warn.level {
        p.warn.level = p.enforce.level;
        if !labels.contains_key(WARN_VERSION) {
            p.warn.version = p.enforce.version;
        }
    }
    (p, errors)
}

/// Reads a level label into `slot`: `Some(true)` when valid, `Some(false)` when invalid
/// (then `fallback` is used), `None` when absent.
fn read_level(
    labels: &BTreeMap<String, String>,
    key: &'static str,
    fallback: Level,
    slot: &mut Level,
    errors: &mut Vec<LabelError>,
) -> Option<bool> {
    let value = labels.get(key)?;
    Some(match Level::parse(value) {
        Ok(l) => {
            *slot = l;
            true
        }
        Err(message) => {
            *slot = fallback;
            errors.push(LabelError {
                label: key,
                value: value.clone(),
                message,
                instead: format!("{fallback} is used"),
            });
            false
        }
    })
}

/// Reads a version label into `slot`; an invalid one is `latest`.
fn read_version(
    labels: &BTreeMap<String, String>,
    key: &'static str,
    slot: &mut Version,
    errors: &mut Vec<LabelError>,
) {
    if let Some(value) = labels.get(key) {
        *slot = Version::parse(value).unwrap_or_else(|message| {
            errors.push(LabelError { label: key, value: value.clone(), message, instead: "latest is used".into() });
            Version::Latest
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn lv(level: Level, version: Version) -> LevelVersion {
        LevelVersion::new(level, version)
    }

    #[test]
    fn missing_labels_keep_the_defaults() {
        let (p, errors) = from_labels(&labels(&[("app", "x")]), Policy::default());
        assert_eq!(p, Policy::default());
        assert!(errors.is_empty() && p.fully_privileged());
    }

    #[test]
    fn invalid_enforce_level_fails_closed_and_invalid_audit_or_warn_level_fails_open() {
        let defaults = Policy { audit: lv(Level::Baseline, Version::Latest), ..Policy::default() };
        let l = labels(&[(ENFORCE, "Restricted"), (AUDIT, "strict"), (WARN, "x"), (ENFORCE_VERSION, "v1.05")]);
        let (p, errors) = from_labels(&l, defaults);
        assert_eq!(p.enforce, lv(Level::Restricted, Version::Latest));
        assert_eq!(p.audit.level, Level::Privileged);
        assert_eq!(p.warn.level, Level::Privileged);
        let what: Vec<(&str, &str)> = errors.iter().map(|e| (e.label, e.value.as_str())).collect();
        assert_eq!(what, [(ENFORCE, "Restricted"), (ENFORCE_VERSION, "v1.05"), (AUDIT, "strict"), (WARN, "x")]);
        assert_eq!(errors[1].message, "must be \"latest\" or \"v1.x\"");
        assert_eq!(errors[0].field(), "metadata.labels[pod-security.kubernetes.io/enforce]");
    }

    #[test]
    fn warn_follows_a_stricter_enforce_level_and_its_version_when_unset() {
        let l = labels(&[(ENFORCE, "baseline"), (ENFORCE_VERSION, "v1.25")]);
        let (p, _) = from_labels(&l, Policy::default());
        assert_eq!(p.warn, lv(Level::Baseline, Version::V1(25)));
        let l = labels(&[(ENFORCE, "baseline"), (ENFORCE_VERSION, "v1.25"), (WARN_VERSION, "v1.30")]);
        assert_eq!(from_labels(&l, Policy::default()).0.warn, lv(Level::Baseline, Version::V1(30)));
        let l = labels(&[(ENFORCE, "restricted"), (WARN, "privileged")]);
        assert_eq!(from_labels(&l, Policy::default()).0.warn.level, Level::Privileged);
        let l = labels(&[(ENFORCE, "bogus")]);
        assert_eq!(
            from_labels(&l, Policy::default()).0.warn.level,
            Level::Privileged,
            "an invalid enforce is not copied"
        );
    }
}
