//! What is wrong with an encryption configuration, as findings `EN…`.
//!
//! EN001–EN012 are the API server's own refusals (a `--encryption-provider-config` that
//! breaks one stops kube-apiserver from starting); [`crate::Config::load`] turns the
//! first into an error. EN020 onward are weaknesses the API server accepts.
use std::collections::BTreeMap;

use podwall_findings::{Finding, Origin, Severity};

use crate::config::{split_resource, Config, ProviderKind};

/// One problem, before it becomes a [`Finding`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The stable ID.
    pub id: &'static str,
    /// The field path in the document (`resources[0].providers[1].aescbc.keys[0].secret`).
    pub field: String,
    /// What is wrong. Never holds a secret.
    pub message: String,
}

/// Per ID: severity, whether the API server refuses the file, and the fix.
const RULES: &[(&str, Severity, bool, &str)] = &[
    ("EN001", Severity::High, true, "give at least one entry under resources"),
    ("EN002", Severity::High, true, "list at least one resource in every entry"),
    ("EN003", Severity::High, true, "list at least one provider in every entry"),
    ("EN004", Severity::High, true, "name exactly one provider type per providers element"),
    ("EN005", Severity::High, true, "give the keyed provider at least one key"),
    ("EN006", Severity::High, true, "give every key a non-empty name"),
    ("EN007", Severity::High, true, "encode the secret as standard base64 with padding"),
    ("EN008", Severity::High, true, "use a 32-byte key (aescbc and aesgcm take 16, 24 or 32; secretbox 32)"),
    ("EN009", Severity::High, true, "write resources in lower case"),
    ("EN010", Severity::High, true, "use `*.` for every core resource or `*.*` for everything, never `*`"),
    ("EN011", Severity::High, true, "list each resource once per entry, and not beside a wildcard that covers it"),
    ("EN012", Severity::High, true, "remove the resource: an earlier entry's wildcard already covers it"),
    ("EN020", Severity::High, false, "put an encrypting provider first; keep identity last, for reading old data"),
    ("EN021", Severity::Medium, false, "prefer secretbox or aesgcm (or kms v2): upstream recommends against aescbc"),
    ("EN022", Severity::Medium, false, "give each key of a provider its own name"),
    ("EN023", Severity::Low, false, "list the resource in one entry; its providers are appended in entry order"),
    ("EN024", Severity::Info, false, "check the KMS plugin on the control plane; podwall cannot reach it"),
];

/// What each ID means, in one line, in ID order.
const SUMMARIES: &[(&str, &str)] = &[
    ("EN001", "an EncryptionConfiguration with no entries"),
    ("EN002", "an entry that lists no resource"),
    ("EN003", "an entry that lists no provider"),
    ("EN004", "a providers element naming no provider type, or several"),
    ("EN005", "a keyed provider without keys"),
    ("EN006", "a key without a name"),
    ("EN007", "a key secret that is not standard base64"),
    ("EN008", "a key of the wrong size for its provider"),
    ("EN009", "a resource not written in lower case"),
    ("EN010", "the resource `*` alone"),
    ("EN011", "a resource repeated in an entry, or beside a wildcard covering it"),
    ("EN012", "a resource an earlier entry's wildcard already covers"),
    ("EN020", "identity first: writes are stored unencrypted"),
    ("EN021", "aescbc writes: upstream recommends against it"),
    ("EN022", "two keys of one provider with one name"),
    ("EN023", "a resource in two entries"),
    ("EN024", "a kms provider, which podwall cannot check offline"),
];

/// Every ID with its severity, meaning and fix, in ID order: the catalogue.
pub fn catalogue() -> Vec<(&'static str, Severity, &'static str, &'static str)> {
    RULES
        .iter()
        .map(|(id, severity, _, fix)| {
            let summary = SUMMARIES.iter().find(|(i, _)| i == id).map_or("", |(_, s)| *s);
            (*id, *severity, summary, *fix)
        })
        .collect()
}

impl Problem {
    fn rule(&self) -> (&'static str, Severity, bool, &'static str) {
        RULES.iter().copied().find(|r| r.0 == self.id).unwrap_or((self.id, Severity::High, true, ""))
    }

    /// Whether the API server refuses a file with this problem.
    pub fn refuses(&self) -> bool {
        self.rule().2
    }

    /// As a finding about the configuration read at `config.source`.
    pub fn finding(&self, config: &Config) -> Finding {
        let (id, severity, refuses, fix) = self.rule();
        let message = if refuses {
            format!("{}: {} (kube-apiserver refuses this file)", self.field, self.message)
        } else {
            format!("{}: {}", self.field, self.message)
        };
        Finding::new(id, severity, message)
            .subject("EncryptionConfiguration")
            .origin(Origin::file(&config.source.file, config.source.line))
            .remediation(fix)
    }
}

/// Every finding about `config`, in file order.
pub fn findings(config: &Config) -> Vec<Finding> {
    problems(config).iter().map(|p| p.finding(config)).collect()
}

/// Every problem of `config`, in file order.
pub fn problems(config: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut push = |id: &'static str, field: String, message: String| out.push(Problem { id, field, message });
    if config.entries.is_empty() {
        push("EN001", "resources".into(), "Required value: no entries".into());
    }
    // Wildcards of earlier entries (EN012) and where each exact resource was first
    // listed (EN023).
    let mut covered: Vec<(String, usize)> = Vec::new();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &config.entries {
        let at = |f: &str| format!("resources[{}].{f}", e.index);
        if e.resources.is_empty() {
            push("EN002", at("resources"), "Required value: no resources".into());
        }
        if e.providers.is_empty() {
            push("EN003", at("providers"), "Required value: no providers".into());
        }
        let mut in_entry: Vec<(&str, &str)> = Vec::new();
        for (i, r) in e.resources.iter().enumerate() {
            let field = at(&format!("resources[{i}]"));
            if r.chars().any(char::is_uppercase) {
                push("EN009", field.clone(), format!("Invalid value: {r:?}: resource names must be lower case"));
            }
            if r == "*" {
                push("EN010", field.clone(), "Invalid value: \"*\": use \"*.\" or \"*.*\"".into());
                continue;
            }
            let (name, group) = split_resource(r);
            let overlaps = in_entry.iter().any(|&(n, g)| {
                (n == name && g == group)
                    || (n == "*" && (g == "*" || g == group))
                    || (name == "*" && (group == "*" || group == g))
            });
            if overlaps {
                push(
                    "EN011",
                    field.clone(),
                    format!("Invalid value: {r:?}: repeated or covered by a wildcard in the same entry"),
                );
            }
            if let Some((w, j)) = covered.iter().find(|(w, _)| {
                let wg = split_resource(w).1;
                wg == "*" || wg == group
            }) {
                push(
                    "EN012",
                    field.clone(),
                    format!("Invalid value: {r:?}: already covered by {w:?} of resources[{j}]"),
                );
            }
            if name != "*" {
                match seen.get(&(name.to_string(), group.to_string())) {
                    Some(j) if *j != e.index => {
                        push("EN023", field.clone(), format!("{r:?} is also listed in resources[{j}]"));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert((name.to_string(), group.to_string()), e.index);
                    }
                }
            }
            in_entry.push((name, group));
        }
        for r in &e.resources {
            if split_resource(r).0 == "*" && r != "*" {
                covered.push((r.clone(), e.index));
            }
        }
        for p in &e.providers {
            let pat = |f: &str| at(&format!("providers[{}]{f}", p.index));
            let Some(kind) = p.kind else {
                let names: Vec<&str> = p.types.iter().map(|t| t.as_str()).collect();
                let message = if names.is_empty() {
                    "Required value: names no provider type".to_string()
                } else {
                    format!("Invalid value: names {} provider types ({})", names.len(), names.join(", "))
                };
                push("EN004", pat(""), message);
                continue;
            };
            if kind == ProviderKind::Kms {
                let name = p.kms.as_ref().map(|k| k.name.as_str()).unwrap_or_default();
                push("EN024", pat(".kms"), format!("kms provider {name:?} is not handled offline"));
                continue;
            }
            if !kind.is_keyed() {
                continue;
            }
            if p.keys.is_empty() {
                push("EN005", pat(&format!(".{kind}.keys")), "Required value: no keys".into());
            }
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (k, key) in p.keys.iter().enumerate() {
                let kat = |f: &str| pat(&format!(".{kind}.keys[{k}].{f}"));
                if key.name.is_empty() {
                    push("EN006", kat("name"), "Required value: empty key name".into());
                } else if let Some(&first) = names.get(key.name.as_str()) {
                    push(
                        "EN022",
                        kat("name"),
                        format!("key name {:?} is also keys[{first}]: both share one prefix", key.name),
                    );
                } else {
                    names.insert(&key.name, k);
                }
                match key.len() {
                    None => {
                        push("EN007", kat("secret"), format!("key {:?}: the secret is not standard base64", key.name))
                    }
                    Some(n) => {
                        let ok = match kind {
                            ProviderKind::Secretbox => n == 32,
                            _ => matches!(n, 16 | 24 | 32),
                        };
                        if !ok {
                            let want = if kind == ProviderKind::Secretbox { "32" } else { "16, 24 or 32" };
                            push(
                                "EN008",
                                kat("secret"),
                                format!("key {:?} is {n} bytes; {kind} takes {want}", key.name),
                            );
                        }
                    }
                }
            }
            if kind == ProviderKind::Aescbc && p.index == 0 {
                push(
                    "EN021",
                    pat(".aescbc"),
                    "aescbc writes: CBC has no integrity check and is open to padding-oracle attacks".into(),
                );
            }
        }
        if e.providers.first().is_some_and(|p| p.kind == Some(ProviderKind::Identity)) {
            push(
                "EN020",
                at("providers[0]"),
                "identity is first: this entry's resources are written unencrypted".into(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_has_a_meaning() {
        for (id, _, summary, fix) in super::catalogue() {
            assert!(!summary.is_empty() && !fix.is_empty(), "{id}");
        }
    }
}
