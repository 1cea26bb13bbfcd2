//! The prefix transformer kube-apiserver puts in front of storage
//! (`staging/src/k8s.io/apiserver/pkg/storage/value/transformer.go`, `prefixTransformers`):
//! the first provider's first key writes, prefixing its payload with
//! `k8s:enc:<provider>:v1:<key>:`; a read tries, in order, every provider and key whose
//! prefix the data starts with, keeps going after a failure (rotation can put the same
//! key name in two providers), and fails only when none succeeds. Identity has no prefix
//! and refuses data that starts with `k8s:enc:`.
//!
//! Authenticated data, from upstream: `storage/value/encrypt/aes/aes.go` seals and opens
//! AES-GCM with `dataCtx.AuthenticatedData()`, and the storage layer's context is the etcd
//! key path (`value.DefaultContext(key)`), so an aesgcm value only opens under the path
//! it was written at. The CBC transformer in the same file and
//! `storage/value/encrypt/secretbox/secretbox.go` ignore the context: for them the path
//! is not bound.
use zeroize::Zeroizing;

use crate::cipher::{self, CryptoError};
use crate::config::{Config, Key, Provider, ProviderKind};
use crate::prefix;

/// Why a value could not be written or read. Holds no key material and no plaintext.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The write provider is a KMS, which needs the KMS plugin's socket.
    #[error("the write provider is kms {name:?} ({version}): a KMS is not reachable offline")]
    KmsWrite {
        /// The provider's name.
        name: String,
        /// Its API version.
        version: String,
    },
    /// The write provider has no key, or a key of the wrong size (an unvalidated file).
    #[error("{0}")]
    Write(String),
    /// No configured provider's prefix starts the data.
    #[error("no configured provider reads this value: {0}")]
    NoReader(String),
    /// Every provider whose prefix matched failed; the reasons, in the order tried.
    #[error("no provider could read the value: {}", .0.join("; "))]
    Failed(Vec<String>),
}

/// A value read back.
pub struct Plain {
    /// The plaintext; wiped when dropped.
    pub data: Zeroizing<Vec<u8>>,
    /// What read it: `identity` or `<provider> key <name>`.
    pub by: String,
    /// Whether a write now would store it differently (another provider or key wrote it).
    pub stale: bool,
}

/// The providers of one resource, as the API server applies them.
pub struct Transformer<'a> {
    providers: Vec<&'a Provider>,
}

impl<'a> Transformer<'a> {
    /// The transformer of `resource` (`secrets`, `deployments.apps`); an unconfigured
    /// resource gets a lone identity.
    pub fn for_resource(config: &'a Config, resource: &str) -> Self {
        Transformer { providers: config.providers_for(resource) }
    }

    /// The stored form of `plain` under the etcd key `key_path`.
    pub fn write(&self, plain: &[u8], key_path: &[u8]) -> Result<Vec<u8>, Error> {
        let Some(first) = self.providers.first() else {
            return Ok(plain.to_vec());
        };
        let kind = first.kind.ok_or_else(|| Error::Write("the write provider names no single type".into()))?;
        if kind == ProviderKind::Identity {
            return Ok(plain.to_vec());
        }
        if kind == ProviderKind::Kms {
            let (name, version) = first
                .kms
                .as_ref()
                .map(|k| (k.name.clone(), k.api_version.clone()))
                .unwrap_or_else(|| (String::new(), "v1".into()));
            return Err(Error::KmsWrite { name, version });
        }
        let key = first.keys.first().ok_or_else(|| Error::Write(format!("{kind} has no key to write with")))?;
        let secret =
            key.bytes.as_ref().ok_or_else(|| Error::Write(format!("{kind} key {:?} is not base64", key.name)))?;
        let payload = match kind {
            ProviderKind::Aescbc => cipher::aescbc_seal(secret, plain),
            ProviderKind::Aesgcm => cipher::aesgcm_seal(secret, plain, key_path),
            _ => cipher::secretbox_seal(secret, plain),
        }
        .map_err(|e| Error::Write(format!("{kind} key {:?}: {e}", key.name)))?;
        let mut out = prefix::format(kind.as_str(), "v1", &key.name);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// The plaintext of the stored `data` read under the etcd key `key_path`.
    pub fn read(&self, data: &[u8], key_path: &[u8]) -> Result<Plain, Error> {
        if self.providers.is_empty() {
            return identity(data, true);
        }
        let mut failures = Vec::new();
        for (at, p) in self.providers.iter().enumerate() {
            match p.kind {
                Some(ProviderKind::Identity) => {
                    if let Ok(plain) = identity(data, at == 0) {
                        return Ok(plain);
                    }
                }
                Some(ProviderKind::Kms) => {
                    let name = p.kms.as_ref().map(|k| k.name.as_str()).unwrap_or_default();
                    let version = p.kms.as_ref().map(|k| k.api_version.as_str()).unwrap_or("v1");
                    // KMS v1 writes `k8s:enc:kms:v1:<name>:`, v2 `k8s:enc:kms:v2:<name>:`.
                    if data.starts_with(&prefix::format("kms", version, name)) {
                        failures.push(format!("kms {name:?} ({version}): a KMS is not reachable offline"));
                    }
                }
                Some(kind) => {
                    for (i, key) in p.keys.iter().enumerate() {
                        let pre = prefix::format(kind.as_str(), "v1", &key.name);
                        let Some(body) = data.strip_prefix(&pre[..]) else { continue };
                        match open(kind, key, body, key_path) {
                            Ok(plain) => {
                                return Ok(Plain {
                                    data: plain,
                                    by: format!("{kind} key {}", key.name),
                                    stale: !(at == 0 && i == 0),
                                })
                            }
                            Err(e) => failures.push(format!("{kind} key {:?}: {e}", key.name)),
                        }
                    }
                }
                None => {}
            }
        }
        if !failures.is_empty() {
            return Err(Error::Failed(failures));
        }
        Err(Error::NoReader(match prefix::parse(data) {
            Some(p) => format!(
                "it was written by {} key {:?} ({}), which the configuration does not list",
                p.provider, p.key, p.version
            ),
            None => "it is not encrypted and no identity provider is listed".into(),
        }))
    }
}

fn identity(data: &[u8], first: bool) -> Result<Plain, Error> {
    if data.starts_with(prefix::ENCRYPTED) {
        return Err(Error::NoReader("the value is encrypted and the resource is not configured".into()));
    }
    Ok(Plain { data: Zeroizing::new(data.to_vec()), by: "identity".into(), stale: !first })
}

fn open(kind: ProviderKind, key: &Key, body: &[u8], key_path: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let secret = key.bytes.as_ref().ok_or(CryptoError::KeySize(0))?;
    match kind {
        ProviderKind::Aescbc => cipher::aescbc_open(secret, body),
        ProviderKind::Aesgcm => cipher::aesgcm_open(secret, body, key_path),
        _ => cipher::secretbox_open(secret, body),
    }
}
