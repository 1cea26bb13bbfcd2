//! Encryption at rest as kube-apiserver does it: the `EncryptionConfiguration`
//! (apiserver.config.k8s.io/v1) read and validated as the API server reads
//! `--encryption-provider-config` (`config`), the stored byte format of each provider
//! (`cipher`: aescbc, aesgcm, secretbox, identity; kms recognised, not handled offline),
//! the prefix a stored value carries (`prefix`), the prefix transformer that writes with
//! the first provider and reads by prefix (`transform`), posture findings about a
//! configuration (`validate`) and key rotation (`rotate`).
//!
//! ```
//! use podwall_encryption::{config, transform::Transformer};
//! let doc = serde_json::json!({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
//!     "resources": [{"resources": ["secrets"], "providers": [
//!         {"aesgcm": {"keys": [{"name": "k1", "secret": "MDEyMzQ1Njc4OWFiY2RlZg=="}]}}, {"identity": {}}]}]});
//! let source = podwall_load::Source { file: "enc.yaml".into(), line: 1 };
//! let config = config::Config::from_value(&doc, &source).unwrap();
//! let t = Transformer::for_resource(&config, "secrets");
//! let stored = t.write(b"hello", b"/registry/secrets/ns/s").unwrap();
//! assert!(stored.starts_with(b"k8s:enc:aesgcm:v1:k1:"));
//! assert_eq!(&t.read(&stored, b"/registry/secrets/ns/s").unwrap().data[..], b"hello");
//! assert!(t.read(&stored, b"/registry/secrets/ns/other").is_err());
//! ```
#![forbid(unsafe_code)]

pub mod cipher;
pub mod config;
pub mod prefix;
pub mod rotate;
pub mod transform;
pub mod validate;

pub use config::{Config, Provider, ProviderKind};
pub use transform::Transformer;
