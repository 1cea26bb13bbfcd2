//! Pod Security Standards, judged exactly as the Kubernetes PodSecurity admission plugin
//! judges them, for every policy version from v1.0 to the newest.
//!
//! - [`level`]: levels and versions, parsed as the plugin parses its labels.
//! - [`checks`]: every baseline and restricted check with its revisions;
//!   [`checks::evaluate`] judges one pod spec.
//! - [`pods`]: the pods and pod templates of loaded objects, judged and turned into
//!   [`podwall_findings::Finding`]s.
//! - [`policy`]: a namespace's `pod-security.kubernetes.io/*` labels over the defaults;
//!   [`config`]: the API server's `PodSecurityConfiguration` (defaults, exemptions);
//!   [`admission`]: what the plugin does with one request (exempt, reject, audit, warn).
//! - [`lint`]: workload hygiene beyond Pod Security (`PL…` findings).
//!
//! ```
//! use k8s_openapi::api::core::v1::PodSpec;
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
//! use podwall_pod_security::{evaluate, Level, LevelVersion, Version};
//! let spec: PodSpec = serde_json::from_value(serde_json::json!({
//!     "hostNetwork": true, "containers": [{"name": "app", "image": "nginx"}]
//! })).unwrap();
//! let v = evaluate(LevelVersion::new(Level::Baseline, Version::Latest), &ObjectMeta::default(), &spec);
//! assert_eq!(v[0].check, "hostNamespaces");
//! assert_eq!(v[0].fail.detail, "hostNetwork=true");
//! ```
#![forbid(unsafe_code)]

pub mod admission;
pub mod checks;
pub mod config;
pub mod level;
pub mod lint;
pub mod pods;
pub mod policy;

pub use checks::{evaluate, forbidden_detail, forbidden_reason, Fail, Violation};
pub use level::{Level, LevelVersion, Version};
