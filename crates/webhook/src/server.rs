//! The HTTPS server: `POST /validate` answers an AdmissionReview, `GET /healthz` says
//! how the webhook is (`ok`; 503 while it cannot answer as the plugin would yet),
//! `GET /metrics` reports counters in the Prometheus text format ([`crate::metrics`]). A body
//! that is not an AdmissionReview gets HTTP 400 and a plain-text body that says why; the
//! connection and the server go on.
//!
//! Requests are answered from a [`State`]: the admission behind a lock held only to
//! clone an `Arc`, replaced whole when what it knows changes, so that a request sees one
//! state from start to end and an update never waits for a request.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::admit::{kind_of, Admission};
use crate::lookup::Lookup;
use crate::metrics::{Metrics, Outcome};
use crate::review;

/// The largest request body read: an API server sends objects of at most a few MiB.
pub const MAX_BODY: usize = 8 << 20;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Reply = hyper::Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: String) -> Reply {
    reply(status, "text/plain; charset=utf-8", body + "\n")
}

/// What the server answers from: the admission, the health it reports, its counters,
/// and (following an API server) the namespace lookup's fallback.
pub struct State {
    admission: RwLock<Arc<Admission>>,
    health: RwLock<Health>,
    metrics: Metrics,
    lookup: OnceLock<Arc<Lookup>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("admission", &self.admission).field("health", &self.health).finish()
    }
}

/// What `GET /healthz` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// Whether the webhook can answer as the plugin would (HTTP 200, else 503).
    pub ready: bool,
    /// The body: `ok`, `starting: ...`, `degraded: ...`.
    pub text: String,
}

impl Health {
    /// Ready, `ok`.
    pub fn ok() -> Self {
        Health { ready: true, text: "ok".into() }
    }
}

impl State {
    /// A state answering from `admission`, healthy.
    pub fn new(admission: Admission) -> Arc<Self> {
        Arc::new(State {
            admission: RwLock::new(Arc::new(admission)),
            health: RwLock::new(Health::ok()),
            metrics: Metrics::default(),
            lookup: OnceLock::new(),
        })
    }

    /// Asks the API server for a namespace not among the known ones through `lookup`
    /// from now on (set once; `false` when one was set already).
    pub fn set_lookup(&self, lookup: Arc<Lookup>) -> bool {
        self.lookup.set(lookup).is_ok()
    }

    /// The namespace lookup's fallback, when there is one.
    pub fn lookup(&self) -> Option<&Arc<Lookup>> {
        self.lookup.get()
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// What `/metrics` says now.
    pub fn metrics_text(&self) -> String {
        let namespaces = self.admission().namespaces.len();
        self.metrics.text(namespaces, self.lookup().map(|l| l.counts()))
    }

    /// The answer to one decoded review, from the admission of now: when its namespace
    /// is not among the known ones and there is a fallback, after asking the API server
    /// for it ([`crate::lookup`]).
    pub async fn answer(&self, request: &review::Request) -> review::Response {
        let admission = self.admission();
        let looked = match (self.lookup(), admission.unwatched(request)) {
            (Some(lookup), Some(namespace)) => Some(lookup.namespace(namespace).await),
            _ => None,
        };
        admission.review_looked_up(request, looked.as_ref())
    }

    /// The admission requests are answered from now.
    pub fn admission(&self) -> Arc<Admission> {
        self.admission.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Answers the next requests from `admission`; requests under way finish with the
    /// one they took.
    pub fn replace(&self, admission: Arc<Admission>) {
        *self.admission.write().unwrap_or_else(|p| p.into_inner()) = admission;
    }

    /// What `/healthz` says now.
    pub fn health(&self) -> Health {
        self.health.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets what `/healthz` says.
    pub fn set_health(&self, health: Health) {
        *self.health.write().unwrap_or_else(|p| p.into_inner()) = health;
    }
}

/// The answer to one HTTP request.
pub async fn handle(state: &State, request: hyper::Request<Incoming>) -> Reply {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => {
            let h = state.health();
            let status = if h.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            text(status, h.text)
        }
        (&Method::GET, "/metrics") => {
            reply(StatusCode::OK, podwall_cluster::metrics::CONTENT_TYPE, state.metrics_text())
        }
        (&Method::POST, "/validate") => {
            let started = Instant::now();
            let (reply, counted) = validate(state, request).await;
            let (kind, outcome) = counted.unwrap_or(("unknown", Outcome::Error));
            state.metrics.request(kind, outcome, started.elapsed());
            reply
        }
        (_, "/healthz" | "/validate" | "/metrics") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into()),
        (_, path) => {
            text(StatusCode::NOT_FOUND, format!("no such path {path:?}: POST /validate, GET /healthz, GET /metrics"))
        }
    }
}

/// The answer to `POST /validate`, and what the request was about and how it ended
/// (`None` when it was not a review).
async fn validate(state: &State, request: hyper::Request<Incoming>) -> (Reply, Option<(&'static str, Outcome)>) {
    if let Some(ct) = request.headers().get(CONTENT_TYPE) {
        let json = ct.to_str().is_ok_and(|s| s.split(';').next().is_some_and(|t| t.trim() == "application/json"));
        if !json {
            let why = format!("Content-Type must be application/json, not {ct:?}");
            return (text(StatusCode::UNSUPPORTED_MEDIA_TYPE, why), None);
        }
    }
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return (text(StatusCode::PAYLOAD_TOO_LARGE, format!("request body over {MAX_BODY} bytes")), None);
        }
        Err(e) => return (text(StatusCode::BAD_REQUEST, format!("reading the request body: {e}")), None),
    };
    match review::decode(&body) {
        Ok(req) => {
            let response = state.answer(&req).await;
            let counted = (kind_of(&req.resource.group, &req.resource.resource), Outcome::of(&response));
            (reply(StatusCode::OK, "application/json", review::encode(response)), Some(counted))
        }
        Err(e) => (text(StatusCode::BAD_REQUEST, e.to_string()), None),
    }
}

/// Serves HTTPS on `listener` until `shutdown` completes. Each connection runs on its
/// own task; a failed handshake or connection ends only that connection.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a little, go on serving.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else { return };
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds `addr` and serves until interrupted (SIGINT or SIGTERM), on a runtime of its
/// own. `ready` is called with the bound address once the server listens.
pub fn run(
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        serve(listener, tls, state, interrupted()).await
    })
}

async fn interrupted() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
