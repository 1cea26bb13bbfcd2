//! `EncryptionConfiguration` (apiserver.config.k8s.io/v1) typed from the loader's kept
//! document. Reading is structural only (unknown fields, wrong types, wrong apiVersion);
//! the rules the API server applies on top (key sizes, base64, resource names) are
//! [`crate::validate`]'s, and [`Config::load`] refuses a file that breaks any of them.
use std::fmt;

use base64::Engine as _;
use podwall_load::{InputError, Object, Source};
use serde::Deserialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The only apiVersion the API server reads for this kind.
pub const API_VERSION: &str = "apiserver.config.k8s.io/v1";

/// A provider's type, as named in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Stores the bytes as they are.
    Identity,
    /// AES-CBC with PKCS#7 padding; no integrity.
    Aescbc,
    /// AES-GCM, the storage key path as additional data.
    Aesgcm,
    /// NaCl secretbox (XSalsa20-Poly1305).
    Secretbox,
    /// An external key management service (v1 or v2); not reachable offline.
    Kms,
}

impl ProviderKind {
    /// The name used in the file and in the stored prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Identity => "identity",
            ProviderKind::Aescbc => "aescbc",
            ProviderKind::Aesgcm => "aesgcm",
            ProviderKind::Secretbox => "secretbox",
            ProviderKind::Kms => "kms",
        }
    }

    /// Whether the provider holds keys in the file.
    pub fn is_keyed(self) -> bool {
        matches!(self, ProviderKind::Aescbc | ProviderKind::Aesgcm | ProviderKind::Secretbox)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key of a keyed provider. Its secret is wiped from memory when the key is dropped
/// and never shown by `Debug`.
#[derive(Clone)]
pub struct Key {
    /// The key's name, part of the stored prefix.
    pub name: String,
    /// The decoded secret; `None` when the file's value is not standard base64.
    pub(crate) bytes: Option<Zeroizing<Vec<u8>>>,
}

impl Key {
    /// A key from its name and decoded secret.
    pub fn new(name: &str, secret: &[u8]) -> Self {
        Key { name: name.to_string(), bytes: Some(Zeroizing::new(secret.to_vec())) }
    }

    /// The length of the decoded secret, when it decodes.
    pub fn len(&self) -> Option<usize> {
        self.bytes.as_ref().map(|b| b.len())
    }

    /// Whether the secret decodes to nothing (or does not decode).
    pub fn is_empty(&self) -> bool {
        self.len().unwrap_or(0) == 0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key {{ name: {:?}, secret: <{} bytes, hidden> }}", self.name, self.len().unwrap_or(0))
    }
}

/// An external KMS provider, recognised so that it can be reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kms {
    /// Its `name` (part of the stored prefix).
    pub name: String,
    /// `v1` (the default) or `v2`.
    pub api_version: String,
}

/// One element of `providers`.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Its 0-based position in the entry's `providers`.
    pub index: usize,
    /// Its type; `None` when the element names no type or more than one (`types` says
    /// which).
    pub kind: Option<ProviderKind>,
    /// The types the element names (normally exactly one).
    pub types: Vec<ProviderKind>,
    /// The keys of a keyed provider, in file order (the first writes).
    pub keys: Vec<Key>,
    /// The KMS settings of a `kms` provider.
    pub kms: Option<Kms>,
}

/// One element of `resources`: which resources, and their providers in order.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its 0-based position in `resources`.
    pub index: usize,
    /// Resource strings as written: `secrets`, `deployments.apps`, `*.`, `*.apps`, `*.*`.
    pub resources: Vec<String>,
    /// Providers in order; the first writes.
    pub providers: Vec<Provider>,
}

/// An encryption configuration as given to `--encryption-provider-config`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the document starts.
    pub source: Source,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigWire {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Value>,
    #[serde(default)]
    resources: Vec<EntryWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryWire {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<ProviderWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderWire {
    identity: Option<IdentityWire>,
    aescbc: Option<KeysWire>,
    aesgcm: Option<KeysWire>,
    secretbox: Option<KeysWire>,
    kms: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityWire {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysWire {
    #[serde(default)]
    keys: Vec<KeyWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

impl Drop for KeyWire {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// Decodes standard base64 with padding, as Go's `base64.StdEncoding` does.
pub(crate) fn decode_secret(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok().map(Zeroizing::new)
}

/// Encodes a secret as the file holds it.
pub(crate) fn encode_secret(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

impl Config {
    /// The first `EncryptionConfiguration` among `objects` (read from `file`), read as
    /// it is written, without the API server's rules (see [`crate::validate`]).
    pub fn read(objects: &[Object], file: &str) -> Result<Config, InputError> {
        let object = find(objects, file)?;
        let wire: ConfigWire = object.typed_document()?;
        Ok(Config::from_wire(wire, &object.source))
    }

    /// The configuration in `objects`, refused (with file, line and field) when the API
    /// server would refuse it.
    pub fn load(objects: &[Object], file: &str) -> Result<Config, InputError> {
        Config::read(objects, file)?.refused()
    }

    /// The configuration in the document `value` read at `source`, refused when the API
    /// server would refuse it.
    pub fn from_value(value: &Value, source: &Source) -> Result<Config, InputError> {
        let err = |field: &str, m: String| InputError::field(source, "EncryptionConfiguration", field, m);
        let version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if version != API_VERSION {
            return Err(err("apiVersion", format!("{version:?} is not {API_VERSION}")));
        }
        let wire: ConfigWire = serde_json::from_value(value.clone()).map_err(|e| err("", e.to_string()))?;
        Config::from_wire(wire, source).refused()
    }

    fn refused(self) -> Result<Config, InputError> {
        if let Some(p) = crate::validate::problems(&self).into_iter().find(|p| p.refuses()) {
            return Err(InputError::field(&self.source, "EncryptionConfiguration", p.field, p.message));
        }
        Ok(self)
    }

    fn from_wire(wire: ConfigWire, source: &Source) -> Config {
        let entries = wire
            .resources
            .into_iter()
            .enumerate()
            .map(|(index, e)| Entry {
                index,
                resources: e.resources,
                providers: e.providers.into_iter().enumerate().map(|(i, p)| provider(i, p)).collect(),
            })
            .collect();
        Config { source: source.clone(), entries }
    }

    /// The providers that apply to `resource` (`secrets`, `deployments.apps`), in the
    /// order they are tried: every entry naming the resource exactly, appended in entry
    /// order; else those naming `*.<group>`; else `*.*`. Empty: not configured (the
    /// API server stores it unencrypted and reads it as a lone `identity`).
    pub fn providers_for(&self, resource: &str) -> Vec<&Provider> {
        let (name, group) = split_resource(resource);
        let pick = |want: &dyn Fn(&str, &str) -> bool| -> Vec<&Provider> {
            self.entries
                .iter()
                .filter(|e| {
                    e.resources.iter().any(|r| {
                        let (rn, rg) = split_resource(r);
                        want(rn, rg)
                    })
                })
                .flat_map(|e| e.providers.iter())
                .collect()
        };
        let exact = pick(&|rn, rg| rn == name && rg == group);
        if !exact.is_empty() {
            return exact;
        }
        let group_wide = pick(&|rn, rg| rn == "*" && rg == group);
        if !group_wide.is_empty() {
            return group_wide;
        }
        pick(&|rn, rg| rn == "*" && rg == "*")
    }
}

/// The first `EncryptionConfiguration` object among `objects`.
pub fn find<'a>(objects: &'a [Object], file: &str) -> Result<&'a Object, InputError> {
    let Some(object) = objects.iter().find(|o| o.kind == "EncryptionConfiguration") else {
        return Err(InputError::at(
            Source { file: file.to_string(), line: 0 },
            "no apiserver.config.k8s.io/v1 EncryptionConfiguration in the file",
        ));
    };
    if object.api_version != API_VERSION {
        return Err(InputError::field(
            &object.source,
            "EncryptionConfiguration",
            "apiVersion",
            format!("{:?} is not {API_VERSION}", object.api_version),
        ));
    }
    Ok(object)
}

/// `secrets` → (`secrets`, ``); `deployments.apps` → (`deployments`, `apps`); `*.` →
/// (`*`, ``); `*.*` → (`*`, `*`): split at the first dot.
pub fn split_resource(r: &str) -> (&str, &str) {
    r.split_once('.').unwrap_or((r, ""))
}

fn provider(index: usize, p: ProviderWire) -> Provider {
    let mut types = Vec::new();
    let mut keys = Vec::new();
    let mut kms = None;
    if p.identity.is_some() {
        types.push(ProviderKind::Identity);
    }
    for (kind, k) in
        [(ProviderKind::Aescbc, &p.aescbc), (ProviderKind::Aesgcm, &p.aesgcm), (ProviderKind::Secretbox, &p.secretbox)]
    {
        if let Some(k) = k {
            types.push(kind);
            keys = k.keys.iter().map(|w| Key { name: w.name.clone(), bytes: decode_secret(&w.secret) }).collect();
        }
    }
    if let Some(m) = &p.kms {
        types.push(ProviderKind::Kms);
        let text = |f: &str| m.get(f).and_then(Value::as_str).unwrap_or_default().to_string();
        let version = text("apiVersion");
        kms = Some(Kms { name: text("name"), api_version: if version.is_empty() { "v1".into() } else { version } });
    }
    let kind = if types.len() == 1 { Some(types[0]) } else { None };
    Provider { index, kind, types, keys, kms }
}
