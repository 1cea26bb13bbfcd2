//! A validating admission webhook that judges Pods and workload pod templates as the
//! built-in PodSecurity admission plugin does, speaking `admission.k8s.io/v1`
//! `AdmissionReview` over HTTPS.
//!
//! - [`review`]: the wire form: a request body decoded into an [`review::Request`]
//!   (never a panic: anything malformed is a [`review::DecodeError`] saying why), and
//!   the [`review::Response`] written back.
//! - [`admit`]: what the plugin does with one request, in upstream's order: ignored
//!   subresources, namespace and user exemptions, fully privileged namespaces, decoding,
//!   insignificant pod updates, runtime-class exemptions, then enforce, audit and warn
//!   through `podwall_pod_security::admission` (the checks are that crate's alone); a
//!   namespace update that tightens enforce dry-runs the namespace's existing pods.
//! - [`namespaces`]: the namespaces' `pod-security.kubernetes.io/*` labels, and the
//!   Pods, read from manifests; a namespace not among them has the configured defaults.
//! - [`follow`]: the namespaces and pods listed and watched from the API server instead,
//!   through `podwall_cluster::watch`, the state requests are answered from replaced
//!   after each batch of events.
//! - [`lookup`]: a namespace the watch has not delivered yet, asked of the API server
//!   with one `GET`, as the plugin's namespace getter asks when its cache misses.
//! - [`server`]: the HTTPS server (`POST /validate`, `GET /healthz`, `GET /metrics`).
//! - [`metrics`]: the counters `/metrics` reports.
//! - [`bench`]: a fixed-rate load generator for the server, over loopback.
#![forbid(unsafe_code)]

pub mod admit;
pub mod bench;
pub mod follow;
pub mod lookup;
pub mod metrics;
pub mod namespaces;
pub mod review;
pub mod server;
pub mod tls;

pub use admit::Admission;
pub use namespaces::Namespaces;
