//! Where each dialect's policies sit in the one tiered form: the tiers the dialects
//! create and their orders. Evaluation order, lowest first: the Admin tier of
//! ClusterNetworkPolicy (900), AdminNetworkPolicy (1,000), Calico tiers by their own
//! `order`, the default tier with Kubernetes NetworkPolicies (1,000,000), the
//! BaselineAdminNetworkPolicy (10,000,000), the Baseline tier of ClusterNetworkPolicy
//! (20,000,000).

/// The name of Calico's default tier, which holds Kubernetes NetworkPolicies.
pub const DEFAULT_TIER: &str = "default";
/// The default tier's order.
pub const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;
/// The order Kubernetes NetworkPolicies take inside the default tier.
pub const K8S_POLICY_ORDER: f64 = 1000.0;
/// The name of the tier holding AdminNetworkPolicies.
pub const ADMIN_TIER: &str = "adminnetworkpolicy";
/// Its order.
pub const ADMIN_TIER_ORDER: f64 = 1_000.0;
/// The name of the tier holding the BaselineAdminNetworkPolicy.
pub const BASELINE_TIER: &str = "baselineadminnetworkpolicy";
/// Its order.
pub const BASELINE_TIER_ORDER: f64 = 10_000_000.0;
/// The tier holding Admin-tier ClusterNetworkPolicies.
pub const CNP_ADMIN_TIER: &str = "clusternetworkpolicy-admin";
/// Its order: before the AdminNetworkPolicy tier (1,000).
pub const CNP_ADMIN_TIER_ORDER: f64 = 900.0;
/// The tier holding Baseline-tier ClusterNetworkPolicies.
pub const CNP_BASELINE_TIER: &str = "clusternetworkpolicy-baseline";
/// Its order: after the BaselineAdminNetworkPolicy tier (10,000,000).
pub const CNP_BASELINE_TIER_ORDER: f64 = 20_000_000.0;
