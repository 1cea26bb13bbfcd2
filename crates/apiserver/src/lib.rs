//! kube-apiserver hardening: the flags of a kube-apiserver, read from its static pod
//! manifest (`flags::from_manifest`) or a flags file (`flags::from_text`) the way the
//! server's own flag parser reads them, and the CIS Kubernetes Benchmark's API server
//! checks (section 1.2) judged on them with the server's defaults (`checks`), each a
//! `podwall_findings::Finding` with a stable ID that names its CIS section.
//!
//! ```
//! let flags = podwall_apiserver::flags::from_text("flags.txt",
//!     "--anonymous-auth=false --authorization-mode=Node,RBAC").unwrap();
//! let report = podwall_apiserver::checks::run(&flags).unwrap();
//! assert!(report.failed("AP001").is_none());
//! assert!(report.failed("AP008").is_some(), "profiling is on by default");
//! ```
#![forbid(unsafe_code)]

pub mod admission;
pub mod authorization;
pub mod checks;
pub mod flags;
pub mod tls;

pub use checks::{Check, Report, CHECKS};
pub use flags::Flags;
