//! A fixed-rate load generator for the webhook over loopback, and the HTTPS client it
//! (and the tests) use.
//!
//! Open loop: request `i` is due at `start + i / rate`, whatever happened to the ones
//! before; a request's latency runs from when it was due to when its answer was read, so
//! a slow server shows as latency rather than as a lower rate with flattering numbers.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// One kept-alive HTTPS connection to the webhook.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    /// Connects to `addr`, trusting `tls`'s roots, checking the certificate for
    /// `localhost`.
    pub async fn connect(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Result<Client, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let stream =
            TlsConnector::from(tls).connect(crate::tls::localhost(), tcp).await.map_err(|e| format!("TLS: {e}"))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("HTTP: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Client { sender })
    }

    /// Sends one request; the status and the body of the answer.
    pub async fn send(&mut self, method: &str, path: &str, body: Vec<u8>) -> Result<(StatusCode, Vec<u8>), String> {
        self.sender.ready().await.map_err(|e| format!("connection: {e}"))?;
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let answer = self.sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
        let status = answer.status();
        let body = answer.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
        Ok((status, body.to_vec()))
    }

    /// GETs `path`; the status, the `Content-Type` and the body of the answer.
    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, String, Vec<u8>), String> {
        self.sender.ready().await.map_err(|e| format!("connection: {e}"))?;
        let request = hyper::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let answer = self.sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
        let status = answer.status();
        let content_type = answer
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = answer.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
        Ok((status, content_type, body.to_vec()))
    }

    /// POSTs an AdmissionReview to `/validate`.
    pub async fn review(&mut self, body: Vec<u8>) -> Result<(StatusCode, Vec<u8>), String> {
        self.send("POST", "/validate", body).await
    }
}

/// An AdmissionReview body around `request` (which should hold a `uid`).
pub fn review_body(request: Value) -> Vec<u8> {
    let review = json!({"apiVersion": crate::review::API_VERSION, "kind": "AdmissionReview", "request": request});
    serde_json::to_vec(&review).unwrap_or_default()
}

/// An AdmissionReview request to create `object` (a Pod or workload) in `namespace`.
pub fn create_request(uid: &str, namespace: &str, resource: (&str, &str), object: Value) -> Value {
    let (group, resource) = resource;
    let kind = object.get("kind").cloned().unwrap_or(Value::Null);
    let name = object.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
    let version = "v1";
    json!({
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": name,
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    })
}

/// The namespaces the benchmark's webhook knows, as a manifest.
pub const SAMPLE_NAMESPACES: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: locked
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: team
  labels:
    pod-security.kubernetes.io/enforce: baseline
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
";

fn sample_pod(name: &str, hardened: bool) -> Value {
    let context = match hardened {
        true => json!({
            "allowPrivilegeEscalation": false, "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}
        }),
        false => json!({"privileged": true}),
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0", "securityContext": context,
                                  "ports": [{"containerPort": 8080}]}]}
    })
}

/// The benchmark's mix of requests: an admitted pod, a denied pod, and a Deployment
/// that is admitted with a warning and an audit annotation.
pub fn sample_reviews() -> Vec<Vec<u8>> {
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": sample_pod("web", false)["spec"].clone()}}
    });
    vec![
        review_body(create_request("bench-allowed", "locked", ("", "pods"), sample_pod("ok", true))),
        review_body(create_request("bench-denied", "locked", ("", "pods"), sample_pod("bad", false))),
        review_body(create_request("bench-warned", "team", ("apps", "deployments"), deployment)),
    ]
}

/// What to run.
pub struct Options {
    /// The webhook.
    pub addr: SocketAddr,
    /// Client TLS trusting the webhook's certificate.
    pub tls: Arc<rustls::ClientConfig>,
    /// Requests per second to send.
    pub rate: u32,
    /// For how long.
    pub duration: Duration,
    /// Kept-alive connections to spread them over.
    pub connections: usize,
    /// Bodies to send, in turn.
    pub bodies: Vec<Vec<u8>>,
    /// The server's process, to sample its resident memory.
    pub pid: Option<u32>,
}

/// What a run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Requests per second asked for.
    pub rate_requested: f64,
    /// Answers per second received, over the run.
    pub rate_achieved: f64,
    /// Requests answered with HTTP 200.
    pub answered: usize,
    /// Requests that failed or got another status.
    pub errors: usize,
    /// Latency percentiles in milliseconds, from when a request was due (or, when its
    /// connection was idle and the timer woke late, from when it was sent).
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Service time percentiles (from sending to the whole answer read), in milliseconds.
    pub service_p50_ms: f64,
    /// 99th percentile of the service time.
    pub service_p99_ms: f64,
    /// The server's resident memory before the load, in KiB.
    pub rss_idle_kib: Option<u64>,
    /// Its largest resident memory during the load, in KiB.
    pub rss_peak_kib: Option<u64>,
}

/// A process's resident memory in KiB (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Runs the load on a runtime of its own.
pub fn run(options: Options) -> Result<Report, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(load(options))
}

async fn load(o: Options) -> Result<Report, String> {
    if o.rate == 0 || o.bodies.is_empty() || o.connections == 0 {
        return Err("rate, connections and bodies must be more than zero".into());
    }
    let total = (o.rate as f64 * o.duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / o.rate as f64);
    let rss_idle = o.pid.and_then(rss_kib);
    let mut clients = Vec::with_capacity(o.connections);
    for _ in 0..o.connections {
        clients.push(Client::connect(o.addr, o.tls.clone()).await?);
    }
    let bodies = Arc::new(o.bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<(Duration, Duration)>::with_capacity(total)));
    let errors = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = o.pid.map(|pid| {
        let (peak, done, stop) = (peak.clone(), done.clone(), total);
        tokio::spawn(async move {
            while done.load(Ordering::Relaxed) < stop {
                if let Some(k) = rss_kib(pid) {
                    peak.fetch_max(k as usize, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    });
    let mut workers = Vec::new();
    for mut client in clients {
        let (bodies, next, latencies, errors, done) =
            (bodies.clone(), next.clone(), latencies.clone(), errors.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = start + interval.mul_f64(i as f64);
                // Behind schedule (every connection was busy): the wait counts. Ahead of
                // it: the timer's wake-up slack (up to a millisecond) is not the server's.
                let from = match tokio::time::Instant::now() >= due {
                    true => due,
                    false => {
                        tokio::time::sleep_until(due).await;
                        tokio::time::Instant::now()
                    }
                };
                let body = bodies[i % bodies.len()].clone();
                let sent = tokio::time::Instant::now();
                let result = client.review(body).await;
                let end = tokio::time::Instant::now();
                match result {
                    Ok((status, _)) if status == StatusCode::OK => {
                        latencies.lock().map(|mut l| l.push((end.duration_since(from), end.duration_since(sent)))).ok();
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())?;
    }
    let end = tokio::time::Instant::now();
    if let Some(s) = sampler {
        s.await.map_err(|e| e.to_string())?;
    }
    let pairs: Vec<(Duration, Duration)> = std::mem::take(&mut *latencies.lock().map_err(|e| e.to_string())?);
    let mut lat: Vec<Duration> = pairs.iter().map(|p| p.0).collect();
    let mut service: Vec<Duration> = pairs.iter().map(|p| p.1).collect();
    lat.sort();
    service.sort();
    let elapsed = end.duration_since(start).as_secs_f64();
    let peak = peak.load(Ordering::Relaxed) as u64;
    Ok(Report {
        rate_requested: o.rate as f64,
        rate_achieved: (lat.len() as f64) / elapsed.max(1e-9),
        answered: lat.len(),
        errors: errors.load(Ordering::Relaxed),
        p50_ms: percentile(&lat, 50.0),
        p99_ms: percentile(&lat, 99.0),
        max_ms: lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        service_p50_ms: percentile(&service, 50.0),
        service_p99_ms: percentile(&service, 99.0),
        rss_idle_kib: rss_idle,
        rss_peak_kib: o.pid.map(|_| peak).filter(|&p| p > 0),
    })
}

/// Waits until the webhook answers `/healthz`, up to `patience`.
pub fn wait_healthy(addr: SocketAddr, tls: Arc<rustls::ClientConfig>, patience: Duration) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + patience;
    runtime.block_on(async move {
        loop {
            let last = match Client::connect(addr, tls.clone()).await {
                Ok(mut c) => match c.send("GET", "/healthz", Vec::new()).await {
                    Ok((StatusCode::OK, _)) => return Ok(()),
                    Ok((s, _)) => format!("/healthz answered {s}"),
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if Instant::now() > deadline {
                return Err(format!("the webhook at {addr} did not come up: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}
