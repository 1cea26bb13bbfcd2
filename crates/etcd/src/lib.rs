//! etcd as kube-apiserver uses it, from outside the API server: a small blocking client
//! of etcd's v3 JSON gateway (`http`: HTTP/1.1 over TCP or rustls; `kv`: range, count,
//! compare-and-swap), where each resource is stored (`paths`), and rewrapping stored
//! values under the encryption configuration's current write key (`rewrap`).
//!
//! Synchronous on purpose: one request at a time per connection is what a
//! compare-and-swap per key needs, and it keeps the async stack out of this crate.
#![forbid(unsafe_code)]

pub mod http;
pub mod kv;
pub mod paths;
pub mod rewrap;

pub use kv::Etcd;
