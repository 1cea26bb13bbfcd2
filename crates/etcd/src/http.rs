//! A blocking HTTP/1.1 client for one server: `POST` with a JSON body, the response read
//! by `Content-Length` or chunked transfer coding, the connection kept open between
//! requests. Plain TCP, or TLS through rustls (a CA bundle, optionally a client
//! certificate). Enough for etcd's gateway; not a general client (no redirects, no
//! proxies, no compression).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint is not `http://HOST:PORT` or `https://HOST:PORT`.
    #[error("endpoint {0:?}: expected http://HOST:PORT or https://HOST:PORT")]
    Endpoint(String),
    /// A TLS file that does not read, or a configuration rustls refuses.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting, sending or receiving failed.
    #[error("{endpoint}: {source}")]
    Io {
        /// The server.
        endpoint: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The server answered something that is not HTTP/1.1 as expected.
    #[error("{endpoint}: malformed response: {message}")]
    Protocol {
        /// The server.
        endpoint: String,
        /// What is wrong.
        message: String,
    },
}

/// TLS settings: the CA that signed the server's certificate, and the client's own
/// certificate and key when the server asks for one (etcd's `--client-cert-auth`).
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// PEM CA bundle; required for `https`.
    pub ca: Option<std::path::PathBuf>,
    /// PEM client certificate chain.
    pub cert: Option<std::path::PathBuf>,
    /// PEM client private key.
    pub key: Option<std::path::PathBuf>,
}

/// A response: status code and body.
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One server, one connection at a time, reopened when the server closes it.
pub struct Client {
    endpoint: String,
    host: String,
    port: u16,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    timeout: Duration,
    conn: Option<BufReader<Box<dyn Stream>>>,
}

impl Client {
    /// A client of `endpoint` (`http://127.0.0.1:2379`, `https://etcd:2379`); nothing is
    /// connected yet.
    pub fn new(endpoint: &str, tls: &Tls, timeout: Duration) -> Result<Client, Error> {
        let bad = || Error::Endpoint(endpoint.to_string());
        let (secure, rest) = if let Some(r) = endpoint.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = endpoint.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad());
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() || rest.contains('/') {
            return Err(bad());
        }
        let tls = if secure {
            let name = ServerName::try_from(host.clone()).map_err(|e| Error::Tls(format!("{host:?}: {e}")))?;
            Some((client_config(tls)?, name))
        } else {
            if tls.ca.is_some() || tls.cert.is_some() || tls.key.is_some() {
                return Err(Error::Tls(format!("{endpoint} is plain http: use https:// with TLS files")));
            }
            None
        };
        Ok(Client { endpoint: endpoint.to_string(), host, port, tls, timeout, conn: None })
    }

    /// The endpoint as given.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `POST path` with a JSON `body`. A request that fails on a kept connection before
    /// any byte of the answer is sent once more on a new one.
    pub fn post(&mut self, path: &str, body: &[u8]) -> Result<Response, Error> {
        let reused = self.conn.is_some();
        match self.attempt(path, body) {
            Err(Error::Io { .. }) if reused => {
                self.conn = None;
                self.attempt(path, body)
            }
            other => other,
        }
    }

    fn attempt(&mut self, path: &str, body: &[u8]) -> Result<Response, Error> {
        let io = |endpoint: &str, source| Error::Io { endpoint: endpoint.to_string(), source };
        let conn = match self.conn.take() {
            Some(kept) => kept,
            None => BufReader::new(self.connect()?),
        };
        let conn = self.conn.insert(conn);
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.port,
            body.len()
        );
        let sent = conn.get_mut().write_all(head.as_bytes()).and_then(|_| conn.get_mut().write_all(body));
        let sent = sent.and_then(|_| conn.get_mut().flush());
        if let Err(e) = sent {
            self.conn = None;
            return Err(io(&self.endpoint, e));
        }
        match read_response(conn, &self.endpoint) {
            Ok((response, keep)) => {
                if !keep {
                    self.conn = None;
                }
                Ok(response)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    fn connect(&self) -> Result<Box<dyn Stream>, Error> {
        let io = |source| Error::Io { endpoint: self.endpoint.clone(), source };
        let addrs = (self.host.as_str(), self.port).to_socket_addrs().map_err(io)?;
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the host resolves to no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(tcp) => {
                    tcp.set_read_timeout(Some(self.timeout)).map_err(io)?;
                    tcp.set_write_timeout(Some(self.timeout)).map_err(io)?;
                    tcp.set_nodelay(true).map_err(io)?;
                    return match &self.tls {
                        None => Ok(Box::new(tcp)),
                        Some((config, name)) => {
                            let conn = rustls::ClientConnection::new(config.clone(), name.clone())
                                .map_err(|e| Error::Tls(e.to_string()))?;
                            Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
                        }
                    };
                }
                Err(e) => last = e,
            }
        }
        Err(io(last))
    }
}

fn client_config(tls: &Tls) -> Result<Arc<rustls::ClientConfig>, Error> {
    let file = |p: &Path, m: String| Error::Tls(format!("{}: {m}", p.display()));
    let certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, Error> {
        let certs: Vec<_> = CertificateDer::pem_file_iter(p)
            .map_err(|e| file(p, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| file(p, e.to_string()))?;
        if certs.is_empty() {
            return Err(file(p, "no PEM certificate in the file".into()));
        }
        Ok(certs)
    };
    let ca = tls.ca.as_deref().ok_or_else(|| Error::Tls("https needs --cacert (the CA of the server)".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        roots.add(c).map_err(|e| file(ca, e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file(key, format!("no private key: {e}")))?;
            builder.with_client_auth_cert(certs(cert)?, key_der).map_err(|e| Error::Tls(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::Tls("--cert and --key go together".into())),
    };
    Ok(Arc::new(config))
}

/// Reads one response; `true` when the connection may carry the next request.
fn read_response(conn: &mut impl BufRead, endpoint: &str) -> Result<(Response, bool), Error> {
    let io = |source| Error::Io { endpoint: endpoint.to_string(), source };
    let bad = |m: &str| Error::Protocol { endpoint: endpoint.to_string(), message: m.to_string() };
    let mut line = String::new();
    if conn.read_line(&mut line).map_err(io)? == 0 {
        return Err(io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed")));
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad(&format!("status line {:?}", line.trim_end())));
    }
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status code"))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep = version == "HTTP/1.1";
    loop {
        line.clear();
        if conn.read_line(&mut line).map_err(io)? == 0 {
            return Err(bad("headers cut short"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else { return Err(bad("a header without a colon")) };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.parse::<usize>().map_err(|_| bad("bad Content-Length"))?),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" if value.eq_ignore_ascii_case("close") => keep = false,
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line).map_err(io)?;
            let size = line.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if conn.read_line(&mut line).map_err(io)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..]).map_err(io)?;
            line.clear();
            conn.read_line(&mut line).map_err(io)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        conn.read_exact(&mut body).map_err(io)?;
    } else {
        conn.read_to_end(&mut body).map_err(io)?;
        keep = false;
    }
    Ok((Response { status, body }, keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> (Response, bool) {
        read_response(&mut raw.as_bytes(), "test").unwrap()
    }

    #[test]
    fn a_body_is_read_by_content_length_and_the_connection_kept() {
        let (r, keep) = read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA");
        assert_eq!((r.status, &r.body[..], keep), (200, &b"hello"[..], true));
    }

    #[test]
    fn a_chunked_body_is_joined() {
        let (r, keep) =
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\n\r\n");
        assert_eq!((&r.body[..], keep), (&b"abc0123456789"[..], true));
    }

    #[test]
    fn connection_close_or_no_length_ends_the_connection() {
        assert!(!read("HTTP/1.1 400 Bad\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").1);
        let (r, keep) = read("HTTP/1.1 200 OK\r\n\r\nto the end");
        assert_eq!((&r.body[..], keep), (&b"to the end"[..], false));
    }

    #[test]
    fn a_response_that_is_not_http_is_an_error_not_a_panic() {
        for raw in ["", "SSH-2.0\r\n", "HTTP/1.1 abc\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"] {
            assert!(read_response(&mut raw.as_bytes(), "test").is_err(), "{raw:?}");
        }
    }

    #[test]
    fn endpoints_are_http_or_https_with_a_port() {
        let tls = Tls::default();
        let t = Duration::from_secs(1);
        assert!(Client::new("http://127.0.0.1:2379", &tls, t).is_ok());
        assert!(Client::new("http://[::1]:2379/", &tls, t).is_ok());
        for bad in ["127.0.0.1:2379", "http://127.0.0.1", "http://h:2379/v3", "ftp://h:1", "http://:1"] {
            assert!(matches!(Client::new(bad, &tls, t), Err(Error::Endpoint(_))), "{bad}");
        }
        assert!(matches!(Client::new("https://h:2379", &tls, t), Err(Error::Tls(_))));
    }
}
