//! ClusterRole aggregation, as the aggregation controller computes it: an aggregated
//! ClusterRole's rules are replaced by the rules of every other ClusterRole its
//! selectors match (selectors in order, roles in name order, a rule equal to one already
//! taken skipped). A selected role that is aggregated itself contributes its computed
//! rules; the controller keeps syncing until nothing changes, and so does this.
use crate::objects::{Role, RoleKind, Rule};

/// The result of aggregation.
pub struct Aggregation {
    /// Aggregated ClusterRoles whose rules did not settle (selectors that feed each
    /// other in a cycle that keeps changing), by index.
    pub unsettled: Vec<usize>,
}

/// Computes the rules of every aggregated ClusterRole in place.
pub fn aggregate(roles: &mut [Role]) -> Aggregation {
    let mut cluster: Vec<usize> = (0..roles.len()).filter(|&i| roles[i].kind == RoleKind::ClusterRole).collect();
    cluster.sort_by(|&a, &b| roles[a].name.cmp(&roles[b].name));
    let aggregated: Vec<usize> = cluster.iter().copied().filter(|&i| roles[i].aggregation.is_some()).collect();
    let mut changed_last = Vec::new();
    // Each round syncs every aggregated role once, in name order, each seeing the rules
    // the ones before it computed. A chain of N roles settles in N rounds.
    for _round in 0..=aggregated.len() + 1 {
        changed_last.clear();
        for &i in &aggregated {
            let Some(selectors) = roles[i].aggregation.clone() else { continue };
            let mut rules: Vec<Rule> = Vec::new();
            for sel in &selectors {
                for &j in &cluster {
                    if j == i || !sel.matches(&roles[j].labels) {
                        continue;
                    }
                    for r in &roles[j].rules {
                        if !rules.contains(r) {
                            rules.push(r.clone());
                        }
                    }
                }
            }
            if rules != roles[i].rules {
                roles[i].rules = rules;
                changed_last.push(i);
            }
        }
        if changed_last.is_empty() {
            break;
        }
    }
    Aggregation { unsettled: changed_last }
}
