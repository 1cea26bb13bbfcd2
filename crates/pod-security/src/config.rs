//! The API server's PodSecurity configuration: an `AdmissionConfiguration` whose
//! `PodSecurity` plugin holds a `PodSecurityConfiguration` (inline, or in a file named
//! by `path`), or a `PodSecurityConfiguration` on its own. Defaults and exemptions are
//! read, defaulted and validated as the plugin does; unknown fields are errors.
use std::path::Path;

use podwall_load::{InputError, Object, Source};
use serde::Deserialize;
use serde_json::Value;

use crate::level::{Level, LevelVersion, Version};
use crate::policy::Policy;

/// What the plugin is configured with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The policy of a namespace without labels, and under the labels it lacks.
    pub defaults: Policy,
    /// Requests never judged.
    pub exemptions: Exemptions,
}

/// Requests the plugin never judges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exemptions {
    /// By the requesting user's name.
    pub usernames: Vec<String>,
    /// By the namespace.
    pub namespaces: Vec<String>,
    /// By the pod's `runtimeClassName`.
    pub runtime_classes: Vec<String>,
}

impl Config {
    /// Whether requests in this namespace are never judged (an empty name never is).
    pub fn exempt_namespace(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.exemptions.namespaces.iter().any(|n| n == namespace)
    }

    /// Whether this user's requests are never judged (an empty name never is).
    pub fn exempt_user(&self, user: &str) -> bool {
        !user.is_empty() && self.exemptions.usernames.iter().any(|n| n == user)
    }

    /// Whether pods of this runtime class are never judged (none, or an empty one,
    /// never is).
    pub fn exempt_runtime_class(&self, runtime_class: Option<&str>) -> bool {
        runtime_class.is_some_and(|rc| !rc.is_empty() && self.exemptions.runtime_classes.iter().any(|n| n == rc))
    }
}

const PSC_GROUP: &str = "pod-security.admission.config.k8s.io";
const PSC_VERSIONS: &[&str] = &["v1", "v1beta1", "v1alpha1"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AdmissionConfiguration {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    plugins: Vec<Plugin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Plugin {
    name: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    configuration: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PodSecurityConfiguration {
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    exemptions: ExemptionsWire,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Defaults {
    #[serde(default)]
    enforce: String,
    #[serde(default, rename = "enforce-version")]
    enforce_version: String,
    #[serde(default)]
    audit: String,
    #[serde(default, rename = "audit-version")]
    audit_version: String,
    #[serde(default)]
    warn: String,
    #[serde(default, rename = "warn-version")]
    warn_version: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExemptionsWire {
    #[serde(default)]
    usernames: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    runtime_classes: Vec<String>,
}

/// Where a configuration came from, for errors.
struct Place<'a> {
    source: &'a Source,
    object: &'a str,
    /// The path of the `PodSecurityConfiguration` inside the document.
    prefix: String,
}

impl Place<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> InputError {
        let field = match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{field}", self.prefix),
        };
        InputError::field(self.source, self.object, field, message)
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: &Value, place: &Place<'_>) -> Result<T, InputError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        place.error(if path == "." { "" } else { &path }, e.into_inner().to_string())
    })
}

/// The configuration in a file (`--config`): [`from_objects`] over what it holds.
pub fn from_file(file: &str) -> Result<Config, InputError> {
    let input = podwall_load::load_paths(&[file])?;
    from_objects(&input.objects, file)
}

/// The configuration among `objects` (read from the `--config` file): the first
/// `AdmissionConfiguration` or `PodSecurityConfiguration`. An `AdmissionConfiguration`
/// without a `PodSecurity` plugin configures nothing: the plugin's defaults apply.
pub fn from_objects(objects: &[Object], file: &str) -> Result<Config, InputError> {
    let found =
        objects.iter().find(|o| matches!(o.kind.as_str(), "AdmissionConfiguration" | "PodSecurityConfiguration"));
    let Some(object) = found else {
        return Err(InputError::at(
            Source { file: file.to_string(), line: 0 },
            "no AdmissionConfiguration or PodSecurityConfiguration in the file",
        ));
    };
    let raw =
        object.raw.as_ref().ok_or_else(|| InputError::at(object.source.clone(), "internal: document not kept"))?;
    let value: Value =
        serde_json::from_str(raw.0.get()).map_err(|e| InputError::at(object.source.clone(), e.to_string()))?;
    let name = object.kind.clone();
    let place = Place { source: &object.source, object: &name, prefix: String::new() };
    if object.kind == "PodSecurityConfiguration" {
        return pod_security_configuration(&value, &place);
    }
    let admission: AdmissionConfiguration = typed(&value, &place)?;
    let Some((i, plugin)) = admission.plugins.iter().enumerate().find(|(_, p)| p.name == "PodSecurity") else {
        return Ok(Config::default());
    };
    match (&plugin.configuration, &plugin.path) {
        (Some(_), Some(_)) => {
            Err(place.error(&format!("plugins[{i}]"), "give either `configuration` or `path`, not both"))
        }
        (Some(c), None) => {
            let inner = Place { prefix: format!("plugins[{i}].configuration"), ..place };
            pod_security_configuration(c, &inner)
        }
        (None, Some(p)) => {
            // A relative path is relative to the AdmissionConfiguration's file.
            let dir = Path::new(&object.source.file).parent().unwrap_or(Path::new(""));
            let full = dir.join(p);
            let input = podwall_load::load_paths(&[&full])?;
            let inner = input.objects.iter().find(|o| o.kind == "PodSecurityConfiguration").ok_or_else(|| {
                place.error(
                    &format!("plugins[{i}].path"),
                    format!("{} holds no PodSecurityConfiguration", full.display()),
                )
            })?;
            from_objects(std::slice::from_ref(inner), &full.display().to_string())
        }
        (None, None) => Ok(Config::default()),
    }
}

fn pod_security_configuration(value: &Value, place: &Place<'_>) -> Result<Config, InputError> {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != "PodSecurityConfiguration" {
        return Err(place.error("kind", format!("expected PodSecurityConfiguration, not {kind:?}")));
    }
    let wire: PodSecurityConfiguration = typed(value, place)?;
    let version_ok = wire.api_version.split_once('/').is_some_and(|(g, v)| g == PSC_GROUP && PSC_VERSIONS.contains(&v));
    if !version_ok {
        return Err(
            place.error("apiVersion", format!("{:?} is not {PSC_GROUP}/v1 (or v1beta1, v1alpha1)", wire.api_version))
        );
    }
    let d = &wire.defaults;
    let level = |field: &str, v: &str| -> Result<Level, InputError> {
        match v {
            "" => Ok(Level::Privileged),
            v => Level::parse(v)
                .map_err(|m| place.error(&format!("defaults.{field}"), format!("Invalid value: {v:?}: {m}"))),
        }
    };
    let version = |field: &str, v: &str| -> Result<Version, InputError> {
        match v {
            "" => Ok(Version::Latest),
            v => Version::parse(v)
                .map_err(|m| place.error(&format!("defaults.{field}"), format!("Invalid value: {v:?}: {m}"))),
        }
    };
    let defaults = Policy {
        enforce: LevelVersion::new(level("enforce", &d.enforce)?, version("enforce-version", &d.enforce_version)?),
        audit: LevelVersion::new(level("audit", &d.audit)?, version("audit-version", &d.audit_version)?),
        warn: LevelVersion::new(level("warn", &d.warn)?, version("warn-version", &d.warn_version)?),
    };
    let e = wire.exemptions;
    unique(&e.namespaces, "exemptions.namespaces", place, dns_label)?;
    unique(&e.runtime_classes, "exemptions.runtimeClasses", place, dns_subdomain)?;
    unique(&e.usernames, "exemptions.usernames", place, |u| match u.is_empty() {
        true => Err("username must not be empty".into()),
        false => Ok(()),
    })?;
    Ok(Config {
        defaults,
        exemptions: Exemptions { usernames: e.usernames, namespaces: e.namespaces, runtime_classes: e.runtime_classes },
    })
}

/// Each entry valid and given once.
fn unique(
    list: &[String],
    field: &str,
    place: &Place<'_>,
    valid: fn(&str) -> Result<(), String>,
) -> Result<(), InputError> {
    for (i, s) in list.iter().enumerate() {
        if let Err(m) = valid(s) {
            return Err(place.error(&format!("{field}[{i}]"), format!("Invalid value: {s:?}: {m}")));
        }
        if list[..i].contains(s) {
            return Err(place.error(&format!("{field}[{i}]"), format!("Duplicate value: {s:?}")));
        }
    }
    Ok(())
}

/// A namespace name: an RFC 1123 label.
fn dns_label(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    match ok {
        true => Ok(()),
        false => Err("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".into()),
    }
}

/// A runtime class name: an RFC 1123 subdomain.
fn dns_subdomain(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    match ok {
        true => Ok(()),
        false => Err("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".into()),
    }
}
