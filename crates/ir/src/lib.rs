//! The tiered intermediate form.
//!
//! Every policy dialect (Kubernetes NetworkPolicy, Calico, AdminNetworkPolicy) is
//! compiled into these types; the evaluator, the explainer and the data-plane
//! compiler read nothing else. This crate does no I/O and knows no dialect.
//!
//! - [`Cluster`]: the universe — namespaces, endpoints, network sets — and the
//!   [`PolicySet`] that governs it.
//! - [`PolicySet`] → [`Tier`]s by order → [`Policy`]s by order → [`Rule`]s, each with
//!   an [`Action`] and a match on the packet.
#![forbid(unsafe_code)]

mod cluster;
mod policy;
mod proto;

pub use cluster::*;
pub use podwall_findings::{Finding, ObjectRef, Origin, Severity};
pub use podwall_selector::{Context, Expr, Label, LabelSource, Scope};
pub use policy::*;
pub use proto::*;
