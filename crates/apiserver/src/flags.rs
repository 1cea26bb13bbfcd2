//! A kube-apiserver's command line as its flag parser (spf13/pflag) reads it:
//! `--name=value`, `--name value`, and a bare `--name` for a boolean; a later occurrence
//! of a flag replaces an earlier one, except for list flags (admission plugins,
//! authorization modes, cipher suites), where occurrences add up.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use podwall_load::{InputError, Object, Source};

/// Flags that take no value when given bare (`--profiling`).
const BOOLEAN: &[&str] = &[
    "anonymous-auth",
    "profiling",
    "service-account-lookup",
    "allow-privileged",
    "enable-bootstrap-token-auth",
    "kubelet-https",
    "enable-aggregator-routing",
    "enable-priority-and-fairness",
    "service-account-extend-token-expiration",
    "audit-log-compress",
    "v",
];

/// List flags, whose occurrences add up.
const LISTS: &[&str] =
    &["enable-admission-plugins", "disable-admission-plugins", "authorization-mode", "tls-cipher-suites"];

/// The flags of one kube-apiserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flags {
    /// Where they were read: the manifest's document, or the flags file.
    pub source: Source,
    /// The Pod (`namespace/name`) and container they come from, when read from a manifest.
    pub container: Option<(String, String)>,
    /// Flag name (without dashes) → value as given (`true` for a bare boolean).
    pub values: BTreeMap<String, String>,
}

impl Flags {
    /// The value of `--name`, when given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The comma-separated items of list flag `--name` (empty when not given).
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.get(name).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    }
}

/// Flags from command-line tokens (the binary's own name, if first, is passed over).
pub fn from_tokens(source: Source, tokens: &[String]) -> Result<Flags, InputError> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].trim();
        i += 1;
        if t.is_empty() {
            continue;
        }
        let Some(body) = t.strip_prefix("--").or_else(|| t.strip_prefix('-')) else {
            if i == 1 {
                continue; // the binary: `kube-apiserver`, `/usr/local/bin/kube-apiserver`
            }
            return Err(InputError::at(source.clone(), format!("{t:?} is no flag (flags start with --)")));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None if BOOLEAN.contains(&body) => (body.to_string(), "true".to_string()),
            None => match tokens.get(i) {
                Some(v) if !v.starts_with('-') => {
                    i += 1;
                    (body.to_string(), v.clone())
                }
                _ => return Err(InputError::at(source.clone(), format!("flag --{body} needs a value"))),
            },
        };
        if name.is_empty() {
            return Err(InputError::at(source.clone(), format!("{t:?} names no flag")));
        }
        match values.get_mut(&name) {
            Some(old) if LISTS.contains(&name.as_str()) => {
                old.push(',');
                old.push_str(&value);
            }
            _ => {
                values.insert(name, value);
            }
        }
    }
    Ok(Flags { source, container: None, values })
}

/// Flags from a flags file: whitespace-separated tokens, `#` to the end of a line a
/// comment.
pub fn from_text(file: &str, text: &str) -> Result<Flags, InputError> {
    let tokens: Vec<String> = text
        .lines()
        .flat_map(|l| l.split('#').next().unwrap_or_default().split_whitespace())
        .map(str::to_string)
        .collect();
    from_tokens(Source { file: file.to_string(), line: 1 }, &tokens)
}

/// Whether a container runs kube-apiserver: named so, or its command's program is.
fn runs_apiserver(c: &Container) -> bool {
    let program = c.command.as_ref().and_then(|cmd| cmd.first()).map(|p| p.rsplit('/').next().unwrap_or(p));
    c.name == "kube-apiserver" || program == Some("kube-apiserver")
}

/// The flags of the kube-apiserver container of the first Pod in `objects` (read from
/// `file`) that has one: its `command` then its `args`. Objects must have been loaded
/// keeping pod documents ([`podwall_load::podspec::carries_pod_spec`]).
pub fn from_manifest(objects: &[Object], file: &str) -> Result<Flags, InputError> {
    let mut seen = Vec::new();
    for o in objects.iter().filter(|o| o.kind == "Pod" && o.api_version == "v1") {
        let Some(view) = podwall_load::podspec::pod_spec(o)? else { continue };
        if let Some(flags) = from_pod(o)? {
            return Ok(flags);
        }
        seen.push(format!(
            "{} (containers: {})",
            o.display(),
            view.spec.containers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let message = if seen.is_empty() {
        "no Pod in the file: give the kube-apiserver static pod manifest (or a flags file with --flags)".to_string()
    } else {
        format!(
            "no kube-apiserver container (named kube-apiserver, or running the kube-apiserver program) in {}",
            seen.join("; ")
        )
    };
    Err(InputError::at(Source { file: file.to_string(), line: objects.first().map_or(0, |o| o.source.line) }, message))
}

/// The flags of the kube-apiserver container of Pod `o`, when it has one (its document
/// kept by the loader).
pub fn from_pod(o: &Object) -> Result<Option<Flags>, InputError> {
    if o.kind != "Pod" || o.api_version != "v1" {
        return Ok(None);
    }
    let Some(view) = podwall_load::podspec::pod_spec(o)? else { return Ok(None) };
    let Some(c) = view.spec.containers.iter().find(|c| runs_apiserver(c)) else { return Ok(None) };
    let mut tokens: Vec<String> = c.command.clone().unwrap_or_default();
    tokens.extend(c.args.clone().unwrap_or_default());
    let mut flags = from_tokens(o.source.clone(), &tokens)?;
    flags.container = Some((format!("{}/{}", o.namespace.as_deref().unwrap_or("default"), o.name), c.name.clone()));
    Ok(Some(flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(line: &str) -> Flags {
        from_text("f", line).expect("parses")
    }

    #[test]
    fn equals_and_separate_values_and_bare_booleans_are_read_as_pflag_reads_them() {
        let f = flags("kube-apiserver --a=1 --b 2 --profiling --anonymous-auth=false");
        assert_eq!(
            (f.get("a"), f.get("b"), f.get("profiling"), f.get("anonymous-auth")),
            (Some("1"), Some("2"), Some("true"), Some("false"))
        );
    }

    #[test]
    fn a_later_flag_replaces_an_earlier_one_but_list_flags_add_up() {
        let f = flags("--profiling=true --profiling=false --authorization-mode=Node --authorization-mode=RBAC");
        assert_eq!(f.get("profiling"), Some("false"));
        assert_eq!(f.list("authorization-mode"), vec!["Node", "RBAC"]);
    }

    #[test]
    fn a_value_flag_without_a_value_is_refused() {
        assert!(from_text("f", "--tls-cert-file").unwrap_err().to_string().contains("--tls-cert-file needs a value"));
    }
}
