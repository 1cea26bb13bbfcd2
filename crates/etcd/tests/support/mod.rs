//! A real etcd for tests: started on free loopback ports with a temporary data folder,
//! stopped and removed when dropped. Without an `etcd` binary the test is skipped,
//! saying so, unless `PODWALL_REQUIRE_PRIVILEGED_TESTS=1`, where it fails.
#![allow(dead_code)]
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use podwall_etcd::http::{Client, Tls};
use podwall_etcd::Etcd;

/// A running etcd.
pub struct Server {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:PORT` (or `https://` with TLS).
    pub endpoint: String,
    /// The client TLS settings when started with TLS.
    pub tls: Tls,
}

fn binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("etcd")).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates.into_iter().chain([PathBuf::from("/usr/bin/etcd")]).find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn required() -> bool {
    std::env::var("PODWALL_REQUIRE_PRIVILEGED_TESTS").as_deref() == Ok("1")
}

/// Server certificate files for TLS: (dir holding ca.pem, server.pem, server-key.pem,
/// client.pem, client-key.pem).
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server: PathBuf,
    pub server_key: PathBuf,
    pub client: PathBuf,
    pub client_key: PathBuf,
}

fn write_tls(dir: &Path) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issue = |names: Vec<String>, client: bool| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = if client {
            vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth]
        };
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server, server_key) = issue(vec!["localhost".into(), "127.0.0.1".into()], false);
    let (client, client_key) = issue(vec!["rewrap".into()], true);
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        server: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
    };
    std::fs::write(&files.ca, ca.pem()).unwrap();
    std::fs::write(&files.server, server).unwrap();
    std::fs::write(&files.server_key, server_key).unwrap();
    std::fs::write(&files.client, client).unwrap();
    std::fs::write(&files.client_key, client_key).unwrap();
    files
}

impl Server {
    /// Starts etcd, or `None` (the test returns) when there is none and it is not required.
    pub fn start(test: &str) -> Option<Server> {
        Server::start_with(test, false)
    }

    /// Starts etcd serving clients over TLS with client certificates required.
    pub fn start_tls(test: &str) -> Option<Server> {
        Server::start_with(test, true)
    }

    fn start_with(test: &str, tls: bool) -> Option<Server> {
        let Some(bin) = binary() else {
            if required() {
                panic!(
                    "{test}: no etcd binary (Debian: etcd-server), and PODWALL_REQUIRE_PRIVILEGED_TESTS=1 requires it"
                );
            }
            eprintln!("SKIPPED {test}: no etcd binary (install etcd-server; PODWALL_REQUIRE_PRIVILEGED_TESTS=1 makes this a failure)");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("podwall-etcd-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for attempt in 0..3 {
            let (client, peer) = (free_port(), free_port());
            let scheme = if tls { "https" } else { "http" };
            let endpoint = format!("{scheme}://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let mut cmd = Command::new(&bin);
            cmd.arg("--name")
                .arg("test")
                .arg("--data-dir")
                .arg(dir.join(format!("data{attempt}")))
                .arg("--listen-client-urls")
                .arg(&endpoint)
                .arg("--advertise-client-urls")
                .arg(&endpoint)
                .arg("--listen-peer-urls")
                .arg(&peer_url)
                .arg("--initial-advertise-peer-urls")
                .arg(&peer_url)
                .arg("--initial-cluster")
                .arg(format!("test={peer_url}"))
                .arg("--log-level")
                .arg("error")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("etcd.log")).unwrap());
            let mut client_tls = Tls::default();
            if tls {
                let files = write_tls(&dir);
                cmd.arg("--cert-file")
                    .arg(&files.server)
                    .arg("--key-file")
                    .arg(&files.server_key)
                    .arg("--trusted-ca-file")
                    .arg(&files.ca)
                    .arg("--client-cert-auth");
                client_tls = Tls { ca: Some(files.ca), cert: Some(files.client), key: Some(files.client_key) };
            }
            let child = cmd.spawn().expect("etcd starts");
            let mut server = Server { child, dir: dir.clone(), endpoint, tls: client_tls };
            if server.ready(Duration::from_secs(20)) {
                return Some(server);
            }
            server.stop();
        }
        let log = std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default();
        panic!("{test}: etcd did not answer; its log:\n{log}");
    }

    fn ready(&mut self, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.etcd().is_ok_and(|mut e| e.count(b"\0", b"\0").is_ok()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// A new connection.
    pub fn etcd(&self) -> Result<Etcd, podwall_etcd::http::Error> {
        Client::new(&self.endpoint, &self.tls, Duration::from_secs(10)).map(Etcd::new)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
