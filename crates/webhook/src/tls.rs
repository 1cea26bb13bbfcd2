//! TLS: the server's certificate and key from PEM files, and a self-signed pair for
//! tests and benchmarks.
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate file that does not read.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Certificate and key that rustls refuses together.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration from a PEM certificate chain and a PEM private key (PKCS#8,
/// PKCS#1 or SEC1), speaking HTTP/1.1.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let file_error = |p: &Path, m: String| TlsError::File { file: p.display().to_string(), message: m };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(cert, "no PEM certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, format!("no private key: {e}")))?;
    server_config_from(certs, key_der)
}

/// A server configuration from DER certificate chain and key.
pub fn server_config_from(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM: (certificate, key).
pub fn self_signed() -> Result<(String, String), rcgen::Error> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(names)?;
    Ok((cert.pem(), key_pair.serialize_pem()))
}

/// A client configuration that trusts exactly the PEM certificate `ca`.
pub fn client_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let bad = |m: String| TlsError::File { file: "certificate".into(), message: m };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(|e| bad(e.to_string()))?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The name a loopback client checks the certificate for.
pub fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()))
}
