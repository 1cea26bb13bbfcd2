//! TLS: the server's certificate and key from PEM files, read again when they change
//! (cert-manager and the kubelet's Secret volumes replace them in place), and a
//! self-signed pair for tests and benchmarks.
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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

/// A certificate chain and its private key (PKCS#8, PKCS#1 or SEC1) from PEM files,
/// checked to belong together.
fn load_pair(cert: &Path, key: &Path) -> Result<rustls::sign::CertifiedKey, TlsError> {
    let file_error = |p: &Path, m: String| TlsError::File { file: p.display().to_string(), message: m };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(cert, "no PEM certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, format!("no private key: {e}")))?;
    Ok(rustls::sign::CertifiedKey::from_der(certs, key_der, &provider())?)
}

/// How often, at most, the certificate files are looked at again (on a handshake).
pub const RECHECK: Duration = Duration::from_secs(1);

/// What a reload says: a new certificate in use, or why the previous one stays.
pub type ReloadLog = Arc<dyn Fn(Result<(), &TlsError>) + Send + Sync>;

/// Size, modification time and inode of each file: a Secret volume swaps a symlink, an
/// editor or `cp` rewrites in place, and each changes one of them.
fn stamp(files: [&Path; 2]) -> [Option<(u64, Option<SystemTime>, u64)>; 2] {
    files.map(|f| std::fs::metadata(f).ok().map(|m| (m.len(), m.modified().ok(), m.ino())))
}

struct Current {
    key: Arc<rustls::sign::CertifiedKey>,
    seen: [Option<(u64, Option<SystemTime>, u64)>; 2],
    checked: Instant,
}

/// The server's certificate from two files, read again on the first handshake at least
/// [`RECHECK`] after the last look when either file changed. A pair that does not read
/// or does not match (the certificate written, the key not yet) keeps the previous
/// certificate in use; the next change is tried again.
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<Current>,
    log: ReloadLog,
}

impl std::fmt::Debug for Reloading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading").field("cert", &self.cert).field("key", &self.key).finish_non_exhaustive()
    }
}

impl rustls::server::ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let mut c = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if c.checked.elapsed() >= RECHECK {
            c.checked = Instant::now();
            let now = stamp([&self.cert, &self.key]);
            if now != c.seen {
                c.seen = now;
                match load_pair(&self.cert, &self.key) {
                    Ok(key) => {
                        c.key = Arc::new(key);
                        (self.log)(Ok(()));
                    }
                    Err(e) => (self.log)(Err(&e)),
                }
            }
        }
        Some(c.key.clone())
    }
}

/// A server configuration from a PEM certificate chain and a PEM private key, speaking
/// HTTP/1.1, that follows the files when they are replaced (see [`RECHECK`]); `log` hears
/// of each reload. The files must read and match at start.
pub fn server_config(cert: &Path, key: &Path, log: ReloadLog) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let seen = stamp([cert, key]);
    let first = load_pair(cert, key)?;
    let resolver = Reloading {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        current: Mutex::new(Current { key: Arc::new(first), seen, checked: Instant::now() }),
        log,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
