//! The API server's TLS settings as it reads them (`k8s.io/component-base/cli/flag`
//! `ciphersuites_flag.go`, applied by `k8s.io/apiserver/pkg/server/options/serving.go`):
//! `--tls-cipher-suites` names Go `crypto/tls` suites, secure or insecure, plus two legacy
//! ChaCha20 names; any other name and the server does not start. `--tls-min-version` is
//! one of `VersionTLS10`…`VersionTLS13`.
use podwall_load::InputError;

use crate::flags::Flags;

/// Every suite name kube-apiserver accepts: Go's `tls.CipherSuites()` and
/// `tls.InsecureCipherSuites()` (the union is the same set in every Go release since
/// 1.14; releases only move suites between the two), and the legacy ChaCha20 names.
pub const KNOWN: &[&str] = &[
    // TLS 1.3
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    // ECDHE
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    // RSA key exchange
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_RC4_128_SHA",
    // Kubernetes' legacy names for the ECDHE ChaCha20 suites
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/// The suites CIS Kubernetes Benchmark v1.12 recommendation 1.2.29 lists as strong
/// (kube-bench `cfg/cis-1.12/master.yaml`): the AEAD suites with forward secrecy, no CBC.
pub const CIS_STRONG: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// The versions `--tls-min-version` accepts.
const VERSIONS: &[&str] = &["VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"];

/// The server's TLS settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// `--tls-cipher-suites`, empty when not given (Go's defaults are used).
    pub suites: Vec<String>,
    /// `--tls-min-version` when given.
    pub min_version: Option<String>,
}

impl Tls {
    /// Whether only TLS 1.3 is served: its suites are not configurable and all strong.
    pub fn tls13_only(&self) -> bool {
        self.min_version.as_deref() == Some("VersionTLS13")
    }

    /// The configured suites CIS 1.2.29 does not list as strong.
    pub fn weak(&self) -> Vec<&str> {
        self.suites.iter().map(String::as_str).filter(|s| !CIS_STRONG.contains(s)).collect()
    }
}

/// The TLS settings of `flags`, or the error the server stops with.
pub fn read(flags: &Flags) -> Result<Tls, InputError> {
    let suites = flags.items("tls-cipher-suites")?.unwrap_or_default();
    if let Some(unknown) = suites.iter().find(|s| !KNOWN.contains(&s.as_str())) {
        return Err(flags.refused(format!(
            "--tls-cipher-suites: cipher suite {unknown:?} is not supported or does not exist; kube-apiserver would not start"
        )));
    }
    let min_version = flags.get("tls-min-version").filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(v) = min_version.as_deref().filter(|v| !VERSIONS.contains(v)) {
        return Err(flags.refused(format!(
            "--tls-min-version={v:?} is an unknown TLS version (one of {}); kube-apiserver would not start",
            VERSIONS.join(", ")
        )));
    }
    Ok(Tls { suites, min_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strong_suite_is_a_known_one() {
        for s in CIS_STRONG {
            assert!(KNOWN.contains(s), "{s}");
        }
        assert_eq!(KNOWN.len(), 27, "25 Go suites and 2 legacy names");
    }
}
