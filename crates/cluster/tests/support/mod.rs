//! A recorded Kubernetes API served over real HTTP on the loopback address, and a
//! kubeconfig that points at it. Answers are list pages in the API's format
//! (`kind: PodList`, `metadata.resourceVersion`, `metadata.continue`, `items`), written
//! from the Kubernetes API reference, not captured from a server. A watch is answered
//! as the API server streams one: chunked, one JSON event per line, held open until the
//! test ends it (cleanly, or by dropping the connection).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A watch stream's lines as the test sends them: `Some(line)` is one event, `None`
/// drops the connection without ending the stream; the sender dropped ends it cleanly.
pub type Lines = Arc<Mutex<std::sync::mpsc::Receiver<Option<String>>>>;

/// One answer.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
    /// How long to wait before answering.
    pub delay: Duration,
    /// A streamed answer (a watch): the body is sent first, then each line as it comes.
    pub stream: Option<Lines>,
}

impl Answer {
    pub fn ok(body: String) -> Self {
        Answer { status: 200, body, delay: Duration::ZERO, stream: None }
    }

    /// A watch stream fed by the returned sender.
    pub fn watch() -> (Self, std::sync::mpsc::Sender<Option<String>>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let answer = Answer { status: 200, stream: Some(Arc::new(Mutex::new(rx))), ..Answer::default() };
        (answer, tx)
    }

    /// A `metav1.Status` failure, as the API server sends with an error code.
    pub fn status(code: u16, reason: &str, message: &str) -> Self {
        let body = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        });
        Answer { status: code, body: body.to_string(), ..Answer::default() }
    }

    /// What the server answers for a path it does not serve.
    pub fn not_found() -> Self {
        Answer { status: 404, body: "404 page not found\n".into(), ..Answer::default() }
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query's pairs.
    pub query: BTreeMap<String, String>,
}

type Route = dyn Fn(&Seen) -> Answer + Send + Sync;

/// The server; it stops when dropped (and by itself after a minute).
pub struct Server {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    /// While set, every connection is closed as soon as it is accepted: a server that
    /// is away.
    pub down: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Server {
    /// Serves `route` on 127.0.0.1, one thread per connection.
    pub fn start(route: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let down = Arc::new(AtomicBool::new(false));
        let route: Arc<Route> = Arc::new(route);
        let (s, st, dn) = (seen.clone(), stop.clone(), down.clone());
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(120);
            while !st.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((stream, _)) if dn.load(Ordering::Relaxed) => drop(stream),
                    Ok((stream, _)) => {
                        let (route, seen, down) = (route.clone(), s.clone(), dn.clone());
                        std::thread::spawn(move || serve(stream, &*route, &seen, &down));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Server { port, seen, stop, down }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests seen, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, route: &Route, seen: &Mutex<Vec<Seen>>, down: &AtomicBool) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    // Keep-alive: answer requests on this connection until the client closes it.
    for _ in 0..1000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut head = String::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            head.push_str(&h);
        }
        // Away: a connection kept from before answers nothing either.
        if down.load(Ordering::Relaxed) {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), unescape(v))
            })
            .collect();
        let request = Seen { method, path: path.to_string(), query };
        seen.lock().expect("lock").push(request.clone());
        let answer = route(&request);
        std::thread::sleep(answer.delay);
        let reason = match answer.status {
            200 => "OK",
            403 => "Forbidden",
            404 => "Not Found",
            410 => "Gone",
            _ => "Error",
        };
        if let Some(lines) = &answer.stream {
            if !stream_lines(&mut out, lines) {
                return;
            }
            continue;
        }
        let kind = if answer.body.starts_with('{') { "application/json" } else { "text/plain" };
        let response = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{}",
            answer.status,
            answer.body.len(),
            answer.body
        );
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A chunked 200 answer, one chunk per line; whether the connection may go on.
fn stream_lines(out: &mut TcpStream, lines: &Lines) -> bool {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if out.write_all(head.as_bytes()).and_then(|_| out.flush()).is_err() {
        return false;
    }
    let rx = lines.lock().expect("lock");
    loop {
        match rx.recv() {
            Ok(Some(line)) => {
                let line = format!("{line}\n");
                let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                if out.write_all(chunk.as_bytes()).and_then(|_| out.flush()).is_err() {
                    return false;
                }
            }
            Ok(None) => {
                let _ = out.shutdown(std::net::Shutdown::Both);
                return false;
            }
            Err(_) => return out.write_all(b"0\r\n\r\n").and_then(|_| out.flush()).is_ok(),
        }
    }
}

/// Watch answers handed out in order; when none is left, a stream that stays open.
#[derive(Clone, Default)]
pub struct Streams {
    queued: Arc<Mutex<std::collections::VecDeque<Answer>>>,
    open: Arc<Mutex<Vec<std::sync::mpsc::Sender<Option<String>>>>>,
}

impl Streams {
    pub fn push(&self, a: Answer) {
        self.queued.lock().unwrap().push_back(a);
    }

    /// A stream fed by the returned sender, answered to the next watch.
    pub fn stream(&self) -> std::sync::mpsc::Sender<Option<String>> {
        let (a, tx) = Answer::watch();
        self.push(a);
        tx
    }

    pub fn next(&self) -> Answer {
        if let Some(a) = self.queued.lock().unwrap().pop_front() {
            return a;
        }
        let (a, tx) = Answer::watch();
        self.open.lock().unwrap().push(tx);
        a
    }

    pub fn open_forever(&self) -> Answer {
        let (a, tx) = Answer::watch();
        self.open.lock().unwrap().push(tx);
        a
    }
}

/// A watch event line: `{"type": TYPE, "object": OBJECT}`.
pub fn event(kind: &str, object: &str) -> String {
    format!("{{\"type\":\"{kind}\",\"object\":{object}}}")
}

/// The `ERROR` event the API server sends when a watch's version is too old.
pub fn expired_event() -> String {
    event(
        "ERROR",
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (4711)","reason":"Expired","code":410}"#,
    )
}

fn unescape(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match (hex, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A kubeconfig in `dir` whose context `recorded` points at `server` with a token.
pub fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: recorded\n  cluster:\n    server: {server}\nusers:\n- name: reader\n  user:\n    token: not-a-secret\ncontexts:\n- name: recorded\n  context:\n    cluster: recorded\n    user: reader\ncurrent-context: recorded\n"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// A fresh folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("podwall-cluster-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// One page of a list, as the API server writes it.
pub fn list_page(list_kind: &str, api_version: &str, items: &[String], next: Option<&str>) -> String {
    let next = next.map(|t| format!(",\"continue\":\"{t}\"")).unwrap_or_default();
    format!(
        "{{\"kind\":\"{list_kind}\",\"apiVersion\":\"{api_version}\",\"metadata\":{{\"resourceVersion\":\"4711\"{next}}},\"items\":[{}]}}",
        items.join(",")
    )
}

/// `items` served in pages of the request's `limit`, continue tokens `page-<offset>`.
pub fn paged(list_kind: &str, api_version: &str, items: &[String], seen: &Seen) -> Answer {
    let limit: usize = seen.query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(items.len().max(1));
    let from: usize = match seen.query.get("continue") {
        None => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Answer::status(400, "BadRequest", "invalid continue token"),
        },
    };
    let to = (from + limit.max(1)).min(items.len());
    let token = (to < items.len()).then(|| format!("page-{to}"));
    Answer::ok(list_page(list_kind, api_version, &items[from..to], token.as_deref()))
}

/// The shipped example cluster (`examples/`).
pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every document of the example files, grouped by the list path that serves it, as
/// list items: built-in kinds without `apiVersion` and `kind`, as the API server lists
/// them; custom resources with them.
pub fn served_items() -> BTreeMap<String, (String, String, Vec<String>)> {
    let mut out: BTreeMap<String, (String, String, Vec<String>)> = BTreeMap::new();
    for file in podwall_load::manifest_files(&examples()).expect("examples") {
        let text = std::fs::read_to_string(&file).expect("read");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: serde_json::Value = serde::Deserialize::deserialize(doc).expect("yaml");
            if value.is_null() {
                continue;
            }
            let api_version = value["apiVersion"].as_str().expect("apiVersion").to_string();
            let kind = value["kind"].as_str().expect("kind").to_string();
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g).to_string();
            let (_, api) = podwall_cluster::kinds::listed()
                .into_iter()
                .find(|(info, api)| info.kind == kind && api.group == group)
                .unwrap_or_else(|| panic!("{api_version} {kind} is not listed"));
            let built_in = ["", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"].contains(&api.group);
            let mut item = value.clone();
            if built_in {
                let map = item.as_object_mut().expect("object");
                map.remove("apiVersion");
                map.remove("kind");
            }
            let entry =
                out.entry(api.list_path()).or_insert_with(|| (format!("{kind}List"), api.api_version(), vec![]));
            entry.2.push(item.to_string());
        }
    }
    out
}

pub fn serve_examples() -> Server {
    let items = served_items();
    Server::start(move |seen| match items.get(&seen.path) {
        Some((list, version, items)) => paged(list, version, items, seen),
        None => Answer::not_found(),
    })
}
