//! Evaluation of the tiered intermediate form.
//!
//! Two evaluators read the same [`podwall_ir::Cluster`]:
//! - [`evaluate`] walks the tiers for one connection and returns the [`Verdict`] of
//!   each direction with the tier, policy and rule that decided it (and the Log rules
//!   that fired). It evaluates selectors directly on labels: it is the reference
//!   semantics, used by `check` and `explain`, and the oracle of the property tests.
//! - [`Index`] groups endpoints into equivalence classes, resolves every selector to a
//!   bitset over classes, and computes whole rows of the reachability matrix with set
//!   operations ([`Index::matrix`]); [`Live`] keeps such answers up to date as
//!   objects change, and [`mod@diff`] compares two clusters through it.
//!
//! Both follow one algorithm per direction: tiers in order; in a tier the policies
//! that apply to the local endpoint, in order; the first matching Allow or Deny
//! decides, Pass leaves the tier, Log goes on; an applicable tier that decides nothing
//! ends in its default action; when no tier decides, the profile allows.
#![forbid(unsafe_code)]

mod bits;
pub mod diff;
mod eval;
mod index;
pub mod json;
mod packet;

pub use bits::Bits;
pub use eval::{
    applicable_policies, applies, evaluate, evaluate_direction, evaluate_direction_with, evaluate_with,
    governing_tiers, governing_tiers_of, own_traffic, Decision, DirectionVerdict, GoverningTier, RuleRef, Verdict, Why,
};
pub use index::{
    Changes, GroupPair, Index, Live, Matrix, PortChanges, PortRange, RowSummary, Snapshot, Update, PORT_PROTOCOLS,
};
pub use packet::{Addr, HttpRequest, Packet};
