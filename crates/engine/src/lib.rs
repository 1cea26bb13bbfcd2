//! Evaluation of the tiered intermediate form.
//!
//! Two evaluators read the same [`podwall_ir::Cluster`]:
//! - [`evaluate`] walks the tiers for one connection and returns the [`Verdict`] of
//!   each direction with the tier, policy and rule that decided it (and the Log rules
//!   that fired). It evaluates selectors directly on labels: it is the reference
//!   semantics, used by `check` and `explain`, and the oracle of the property tests.
//! - [`Index`] groups endpoints into equivalence classes, resolves every selector to a
//!   bitset over classes, and computes whole rows of the reachability matrix with set
//!   operations ([`Index::matrix`]).
//!
//! Both follow one algorithm per direction: tiers in order; in a tier the policies
//! that apply to the local endpoint, in order; the first matching Allow or Deny
//! decides, Pass leaves the tier, Log goes on; an applicable tier that decides nothing
//! ends in its default action; when no tier decides, the profile allows.
#![forbid(unsafe_code)]

mod bits;
mod eval;
mod index;
mod packet;

pub use bits::Bits;
pub use eval::{applies, evaluate, evaluate_direction, own_traffic, Decision, DirectionVerdict, RuleRef, Verdict};
pub use index::{Index, Live, Matrix, RowSummary, Update};
pub use packet::{Addr, HttpRequest, Packet};
