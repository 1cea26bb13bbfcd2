//! `/healthz` and `/metrics` on a local port: a small blocking HTTP/1.1 server on one
//! thread, answering one request per connection (`Connection: close`).
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use podwall_cluster::metrics::Histogram;

/// Upper bounds (seconds) of the sync latency histogram's buckets (a [`Histogram`]'s
/// default ones).
pub const BUCKETS: &[f64] = podwall_cluster::metrics::DEFAULT_BUCKETS;

/// What the agent reports: its state, updated after each sync.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// Whether a ruleset was installed by this run (before that the agent is starting).
    pub installed: bool,
    /// Why the last attempt failed, when it did (the last good state stays enforced).
    pub error: Option<String>,
    /// When the last attempt failed.
    pub last_error: Option<SystemTime>,
    /// When a ruleset was last installed.
    pub last_sync: Option<SystemTime>,
    /// Successful syncs, by how they went to the kernel (`netlink`, `nft-delta`, ...).
    pub syncs: std::collections::BTreeMap<&'static str, u64>,
    /// Failed syncs.
    pub failures: u64,
    /// Sync latencies, in the buckets of [`BUCKETS`].
    pub latency: Histogram,
    /// Objects read, by kind.
    pub objects: std::collections::BTreeMap<String, u64>,
    /// Pods attached on this node.
    pub attachments: u64,
    /// Chains installed (regular chains of podwall's table).
    pub chains: u64,
    /// Elements installed: of named sets and of the dispatch maps.
    pub elements: u64,
    /// The last error of any kind (a failed sync, or the API server away), as text.
    pub last_error_text: Option<String>,
    /// Kinds the API server does not answer for now, and why (empty in folder mode).
    pub away: std::collections::BTreeMap<String, String>,
    /// Objects held from the API's lists and watches, by kind.
    pub watched: std::collections::BTreeMap<String, u64>,
    /// Lists made again because a watch's resource version expired (410 Gone).
    pub relists: u64,
    /// Failed list or watch requests (each followed by a backoff).
    pub source_failures: u64,
    /// What the agent waits for before its first sync, when it does.
    pub waiting: Option<String>,
    /// Where the last successful sync's time went.
    pub last_stages: Option<crate::Stages>,
}

impl Status {
    /// Records one sync's latency (from seeing the change to the kernel's ack).
    pub fn observe(&mut self, took: Duration) {
        self.latency.observe(took);
    }

    /// `ok`, or `degraded: REASON` / `starting`; and whether that is healthy.
    pub fn health(&self) -> (bool, String) {
        if !self.away.is_empty() {
            let why: Vec<String> = self.away.iter().map(|(k, r)| format!("{k}: {r}")).collect();
            let kept = if self.installed {
                "the last installed ruleset is still enforced"
            } else {
                "nothing installed by this run; a table a previous run installed stays"
            };
            return (false, format!("degraded: the API server is away ({}); {kept}", why.join("; ")));
        }
        if let (None, false, Some(w)) = (&self.error, self.installed, &self.waiting) {
            return (false, format!("starting: {w}"));
        }
        match (&self.error, self.installed) {
            (Some(e), true) => (false, format!("degraded: {e} (the last good ruleset is still enforced)")),
            (Some(e), false) => (false, format!("degraded: {e} (nothing installed by this run)")),
            (None, true) => (true, "ok".into()),
            (None, false) => (false, "starting".into()),
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn metrics(&self) -> String {
        use podwall_cluster::metrics::{Text, Type};
        let secs = |t: &Option<SystemTime>| {
            t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0.0, |d| d.as_secs_f64())
        };
        let (healthy, _) = self.health();
        let mut m = Text::new();
        m.single(
            "podwall_agent_healthy",
            Type::Gauge,
            "1 when the last sync succeeded, 0 when degraded or starting.",
            u8::from(healthy),
        );
        m.family("podwall_agent_syncs_total", Type::Counter, "Syncs that reached the kernel, by how they were sent.");
        for (path, n) in &self.syncs {
            m.sample("podwall_agent_syncs_total", &[("path", *path)], n);
        }
        m.single(
            "podwall_agent_sync_failures_total",
            Type::Counter,
            "Syncs that failed (bad input or kernel refusal).",
            self.failures,
        );
        m.histogram("podwall_agent_sync_seconds", "Time from seeing a change to the kernel holding it.", &self.latency);
        m.family("podwall_agent_objects", Type::Gauge, "Objects read from the source, by kind.");
        for (kind, n) in &self.objects {
            m.sample("podwall_agent_objects", &[("kind", kind.as_str())], n);
        }
        for (name, help, v) in [
            ("podwall_agent_attachments", "Pod interfaces the ruleset dispatches on this node.", self.attachments),
            ("podwall_agent_chains", "Regular chains in podwall's table.", self.chains),
            ("podwall_agent_set_elements", "Elements of podwall's named sets and dispatch maps.", self.elements),
        ] {
            m.single(name, Type::Gauge, help, v);
        }
        m.single(
            "podwall_agent_last_sync_timestamp_seconds",
            Type::Gauge,
            "When a ruleset was last installed (0: never).",
            secs(&self.last_sync),
        );
        m.family(
            "podwall_agent_watched_objects",
            Type::Gauge,
            "Objects held from the API's lists and watches, by kind.",
        );
        for (kind, n) in &self.watched {
            m.sample("podwall_agent_watched_objects", &[("kind", kind.as_str())], n);
        }
        m.single(
            "podwall_agent_api_up",
            Type::Gauge,
            "0 while the API server does not answer for some kind.",
            u8::from(self.away.is_empty()),
        );
        for (name, help, v) in [
            (
                "podwall_agent_relists_total",
                "Lists made again because a watch's version expired (410 Gone).",
                self.relists,
            ),
            (
                "podwall_agent_api_failures_total",
                "Failed list or watch requests, each followed by a backoff.",
                self.source_failures,
            ),
        ] {
            m.single(name, Type::Counter, help, v);
        }
        m.family(
            "podwall_agent_last_error",
            Type::Gauge,
            "The last error (a failed sync or the API server away), as a label.",
        );
        if let Some(e) = &self.last_error_text {
            m.sample("podwall_agent_last_error", &[("error", e.as_str())], 1);
        }
        m.single(
            "podwall_agent_last_error_timestamp_seconds",
            Type::Gauge,
            "When a sync last failed or the API server was last away (0: never).",
            secs(&self.last_error),
        );
        m.finish()
    }
}

/// Starts serving `status` on `addr` in a thread of its own; returns the bound address
/// (port 0 picks one).
pub fn serve(addr: SocketAddr, status: Arc<Mutex<Status>>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("health".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn, &status);
        }
    })?;
    Ok(bound)
}

fn answer(mut conn: TcpStream, status: &Mutex<Status>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // The headers are read to their end and ignored; a request has no body we read.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (code, kind, body) = match (method, path) {
        ("GET" | "HEAD", "/healthz") => {
            let (ok, text) = status.lock().map(|s| s.health()).unwrap_or((false, "status lock poisoned".into()));
            (if ok { "200 OK" } else { "503 Service Unavailable" }, "text/plain; charset=utf-8", text + "\n")
        }
        ("GET" | "HEAD", "/metrics") => {
            let text = status.lock().map(|s| s.metrics()).unwrap_or_default();
            ("200 OK", podwall_cluster::metrics::CONTENT_TYPE, text)
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: /healthz, /metrics\n".into()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "GET only\n".into()),
    };
    let head = format!(
        "HTTP/1.1 {code}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    if method != "HEAD" {
        conn.write_all(body.as_bytes())?;
    }
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn healthz_is_503_until_a_sync_and_after_a_failure_and_metrics_are_prometheus_text() {
        let status = Arc::new(Mutex::new(Status::default()));
        let addr = serve("127.0.0.1:0".parse().unwrap(), status.clone()).unwrap();
        assert!(get(addr, "/healthz").starts_with("HTTP/1.1 503"), "starting is not healthy");
        {
            let mut s = status.lock().unwrap();
            s.installed = true;
            s.observe(Duration::from_millis(3));
            s.chains = 7;
        }
        assert!(get(addr, "/healthz").starts_with("HTTP/1.1 200"));
        let m = get(addr, "/metrics");
        assert!(
            m.contains("podwall_agent_sync_seconds_bucket{le=\"0.005\"} 1\r\n")
                || m.contains("podwall_agent_sync_seconds_bucket{le=\"0.005\"} 1\n")
        );
        assert!(
            m.contains("podwall_agent_sync_seconds_bucket{le=\"0.0025\"} 0\n"),
            "buckets are cumulative from below"
        );
        assert!(m.contains("podwall_agent_chains 7\n"));
        status.lock().unwrap().error = Some("API away".into());
        let h = get(addr, "/healthz");
        assert!(h.starts_with("HTTP/1.1 503") && h.contains("degraded: API away"), "{h}");
        assert!(get(addr, "/nothing").starts_with("HTTP/1.1 404"));
    }
}
