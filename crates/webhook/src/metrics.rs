//! What `GET /metrics` reports, in the Prometheus text format the agent's `/metrics`
//! uses too (`podwall_cluster::metrics`):
//!
//! - `podwall_webhook_requests_total{kind, outcome}`: reviews answered, by what they
//!   were about (`Pod`, `Namespace`, a workload kind, `other`, or `unknown` for a body
//!   that is not a review) and how (`allowed`; `denied`, refused by the policy or for a
//!   bad object; `error`, refused because the namespace lookup failed, or not answered
//!   with a review at all: a malformed body, a wrong `Content-Type`, a body too large).
//! - `podwall_webhook_request_seconds`: the time from a request's head to its answer.
//! - `podwall_webhook_namespaces`: namespaces known (from `-f`, or delivered by the
//!   watch).
//! - Following an API server: `podwall_webhook_api_up`, `podwall_webhook_relists_total`,
//!   `podwall_webhook_api_failures_total`, as the agent names them, and the namespace
//!   lookup's fallback (`podwall_webhook_namespace_gets_total{result}`: `found`,
//!   `not_found`, `failed`; `podwall_webhook_namespace_gets_saved_total`, lookups
//!   answered from what an earlier `GET` found).
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use podwall_cluster::metrics::{Histogram, Text, Type};

use crate::lookup::Counts;
use crate::review::Response;

/// Upper bounds (seconds) of the request latency histogram: from 100 µs (a review
/// answered from memory) to 10 s (the API server's limit for the whole webhook).
pub const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Admitted.
    Allowed,
    /// Refused by the policy, or for an object that does not decode.
    Denied,
    /// Refused because the namespace could not be looked up, or not a review.
    Error,
}

impl Outcome {
    /// How `response` ended.
    pub fn of(response: &Response) -> Self {
        match (response.allowed, response.status.as_ref().and_then(|s| s.code)) {
            (true, _) => Outcome::Allowed,
            (false, Some(500)) => Outcome::Error,
            (false, _) => Outcome::Denied,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

/// What the watch did, when the webhook follows an API server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watching {
    /// Whether every watched kind answers now.
    pub up: bool,
    /// Lists made again because a watch's version expired (410 Gone).
    pub relists: u64,
    /// Failed list or watch requests, each followed by a backoff.
    pub failures: u64,
}

#[derive(Debug)]
struct Inner {
    requests: BTreeMap<(&'static str, Outcome), u64>,
    latency: Histogram,
    watching: Option<Watching>,
}

/// The counters, updated as requests are answered and as the watch goes.
#[derive(Debug)]
pub struct Metrics(Mutex<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics(Mutex::new(Inner { requests: BTreeMap::new(), latency: Histogram::new(BUCKETS), watching: None }))
    }
}

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one request about `kind`, ended as `outcome` after `took`.
    pub fn request(&self, kind: &'static str, outcome: Outcome, took: Duration) {
        let mut m = self.inner();
        *m.requests.entry((kind, outcome)).or_default() += 1;
        m.latency.observe(took);
    }

    /// How the watch goes (set once following an API server).
    pub fn set_watching(&self, watching: Watching) {
        self.inner().watching = Some(watching);
    }

    /// How the watch goes, when following.
    pub fn watching(&self) -> Option<Watching> {
        self.inner().watching
    }

    /// The exposition, with the namespaces known now and the fallback's counts (when
    /// there is one).
    pub fn text(&self, namespaces: usize, lookup: Option<Counts>) -> String {
        let m = self.inner();
        let mut t = Text::new();
        t.family(
            "podwall_webhook_requests_total",
            Type::Counter,
            "Reviews answered, by what they were about and how they ended (allowed, denied, error).",
        );
        for ((kind, outcome), n) in &m.requests {
            t.sample("podwall_webhook_requests_total", &[("kind", *kind), ("outcome", outcome.as_str())], n);
        }
        t.histogram("podwall_webhook_request_seconds", "Time from a request's head to its answer.", &m.latency);
        t.single(
            "podwall_webhook_namespaces",
            Type::Gauge,
            "Namespaces known (from the files, or delivered by the watch).",
            namespaces,
        );
        if let Some(w) = m.watching {
            t.single(
                "podwall_webhook_api_up",
                Type::Gauge,
                "0 while the API server does not answer the watch of some kind.",
                u8::from(w.up),
            );
            t.single(
                "podwall_webhook_relists_total",
                Type::Counter,
                "Lists made again because a watch's version expired (410 Gone).",
                w.relists,
            );
            t.single(
                "podwall_webhook_api_failures_total",
                Type::Counter,
                "Failed list or watch requests, each followed by a backoff.",
                w.failures,
            );
        }
        if let Some(c) = lookup {
            let name = "podwall_webhook_namespace_gets_total";
            t.family(name, Type::Counter, "GETs of a namespace the watch had not delivered, by what they found.");
            t.sample(name, &[("result", "found")], c.found);
            t.sample(name, &[("result", "not_found")], c.not_found);
            t.sample(name, &[("result", "failed")], c.failed);
            t.single(
                "podwall_webhook_namespace_gets_saved_total",
                Type::Counter,
                "Lookups of a namespace the watch had not delivered answered from an earlier GET.",
                c.kept,
            );
        }
        t.finish()
    }
}
