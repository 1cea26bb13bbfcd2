//! Kubernetes audit policy, as the API server's policy checker reads and evaluates it
//! (`policy`, `check`), and findings about a policy proved with that checker (`lint`).
//!
//! ```
//! use podwall_audit::check::{Request, Target, User};
//! use podwall_audit::Level;
//! let doc = serde_json::json!({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
//!     "rules": [{"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}]});
//! let source = podwall_load::Source { file: "policy.yaml".into(), line: 1 };
//! let policy = podwall_audit::policy::from_value(&doc, &source).unwrap();
//! let get = |resource: &str| Request {
//!     user: User { name: "jane".into(), groups: vec![] },
//!     verb: "get".into(),
//!     target: Target::Resource { group: "".into(), resource: resource.into(), subresource: "".into(),
//!         name: "".into(), namespace: "prod".into() },
//! };
//! assert_eq!(policy.evaluate(&get("secrets")).level, Level::Metadata);
//! assert_eq!(policy.evaluate(&get("pods")).level, Level::None);
//! ```
#![forbid(unsafe_code)]

pub mod check;
pub mod least;
pub mod lint;
pub mod log;
pub mod policy;
pub mod summary;
pub mod synth;

pub use policy::{Level, Policy, Rule, Stage};
