//! A kube-apiserver's command line as its flag parser (spf13/pflag) reads it:
//! `--name=value`, `--name value`, and a bare `--name` for a boolean; a later occurrence
//! of a flag replaces an earlier one, except for list flags (admission plugins,
//! authorization modes, cipher suites), where occurrences add up (pflag's string
//! slices: an empty occurrence adds nothing).
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use podwall_load::{InputError, Object, Source};

/// kube-apiserver's boolean flags: the ones that take no value when given bare
/// (`--profiling`). `-v`/`--v` is a verbosity level, not a boolean: it needs a value.
const BOOLEAN: &[&str] = &[
    "aggregator-reject-forwarding-redirect",
    "allow-privileged",
    "anonymous-auth",
    "audit-log-batch-throttle-enable",
    "audit-log-compress",
    "audit-log-truncate-enabled",
    "audit-webhook-batch-throttle-enable",
    "audit-webhook-truncate-enabled",
    "contention-profiling",
    "enable-aggregator-routing",
    "enable-bootstrap-token-auth",
    "enable-garbage-collector",
    "enable-logs-handler",
    "enable-priority-and-fairness",
    "encryption-provider-config-automatic-reload",
    "kubelet-https",
    "log-json-split-stream",
    "permit-address-sharing",
    "permit-port-sharing",
    "profiling",
    "service-account-extend-token-expiration",
    "service-account-lookup",
    "shutdown-send-retry-after",
    "watch-cache",
];

/// List flags (pflag string slices), whose occurrences add up.
const LISTS: &[&str] = &[
    "admission-control",
    "enable-admission-plugins",
    "disable-admission-plugins",
    "authorization-mode",
    "tls-cipher-suites",
];

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

    /// The items of list flag `--name` exactly as the server's flag parser reads a string
    /// slice: one line of CSV (Go's `encoding/csv`), so spaces are kept, `""` in a quoted
    /// item is a quote, and an empty value holds no item. `None` when the flag is not
    /// given; an error when the value is no CSV the server accepts.
    pub fn items(&self, name: &str) -> Result<Option<Vec<String>>, InputError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        csv_record(value)
            .map(Some)
            .map_err(|why| self.refused(format!("--{name}={value:?}: {why}; kube-apiserver would not start")))
    }

    /// The error for a command line kube-apiserver refuses, naming where it was read.
    pub fn refused(&self, message: String) -> InputError {
        let mut e = InputError::at(self.source.clone(), message);
        if let Some((pod, container)) = &self.container {
            e.object = Some(format!("Pod {pod} container {container}"));
        }
        e
    }
}

/// One CSV record as Go's `encoding/csv` reads it with its defaults (comma-separated,
/// leading spaces kept, strict quotes); the empty string holds no field.
fn csv_record(value: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    if value.is_empty() {
        return Ok(fields);
    }
    let mut rest = value;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            let mut chars = quoted.char_indices();
            let after = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        field.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break &quoted[i + 1..],
                    Some((_, c)) => field.push(c),
                    None => return Err("an item's opening quote is never closed".into()),
                }
            };
            fields.push(field);
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(fields),
                None => return Err("a quoted item is followed by more than a comma".into()),
            }
        } else {
            let (field, next) = match rest.split_once(',') {
                Some((f, n)) => (f, Some(n)),
                None => (rest, None),
            };
            if field.contains('"') {
                return Err(format!("a quote inside the unquoted item {field:?}"));
            }
            fields.push(field.to_string());
            match next {
                Some(n) => rest = n,
                None => return Ok(fields),
            }
        }
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
                if old.is_empty() {
                    *old = value;
                } else if !value.is_empty() {
                    old.push(',');
                    old.push_str(&value);
                }
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
    fn an_empty_occurrence_of_a_list_flag_adds_no_item() {
        let f =
            flags("--enable-admission-plugins= --enable-admission-plugins=NodeRestriction --enable-admission-plugins=");
        assert_eq!(f.items("enable-admission-plugins").unwrap(), Some(vec!["NodeRestriction".to_string()]));
        assert_eq!(flags("--tls-cipher-suites=").items("tls-cipher-suites").unwrap(), Some(vec![]));
        assert_eq!(flags("--profiling=false").items("tls-cipher-suites").unwrap(), None);
    }

    #[test]
    fn list_items_are_read_as_one_csv_line_keeping_spaces_and_quotes() {
        let items = |v: &str| csv_record(v);
        assert_eq!(items("A, B").unwrap(), vec!["A", " B"], "encoding/csv keeps leading spaces");
        assert_eq!(items("A,,B").unwrap(), vec!["A", "", "B"]);
        assert_eq!(items(r#""A,B",C"#).unwrap(), vec!["A,B", "C"]);
        assert_eq!(items(r#""say ""hi""""#).unwrap(), vec![r#"say "hi""#]);
        assert!(items(r#"A"B"#).is_err(), "a bare quote");
        assert!(items(r#""A"B"#).is_err(), "text after a closing quote");
        assert!(items(r#""A"#).is_err(), "an unclosed quote");
    }

    #[test]
    fn the_verbosity_flag_takes_a_value_and_the_servers_booleans_may_be_bare() {
        let f = flags("--v 2 --watch-cache --audit-log-truncate-enabled --profiling=false");
        assert_eq!(f.get("v"), Some("2"));
        assert_eq!((f.get("watch-cache"), f.get("audit-log-truncate-enabled")), (Some("true"), Some("true")));
        assert!(from_text("f", "--v --profiling=false").unwrap_err().to_string().contains("--v needs a value"));
    }

    #[test]
    fn a_value_flag_without_a_value_is_refused() {
        assert!(from_text("f", "--tls-cert-file").unwrap_err().to_string().contains("--tls-cert-file needs a value"));
    }
}
