//! Policies and tiers added, changed and removed in place: a policy is resolved alone and only
//! the classes it selects (before or after) are walked again.
use std::sync::Arc;

use podwall_ir::{Policy, PolicyKind, Tier, TierDefault};

use super::super::{classes, Entry};
use super::{Live, Update};
use crate::Bits;

impl Live {
    /// Registers the address ranges of `policy` the classes were not grouped by. Returns
    /// the first range that cuts through a class (nothing is registered from it on):
    /// then only a rebuild can place the policy.
    pub(super) fn register_nets(&mut self, policy: &Policy) -> Option<ipnet::IpNet> {
        for net in classes::policy_nets(policy) {
            if self.index.sel.net_bits.contains_key(&net) {
                continue;
            }
            let mut bits = Bits::empty(self.index.classes.len());
            for (ci, c) in self.index.classes.iter().enumerate() {
                let inside =
                    c.members.iter().filter(|&&e| classes::contains(&net, self.index.cluster.endpoints[e].ip)).count();
                if inside == c.members.len() {
                    // An emptied class is inside or not as its last member was.
                    let ghost_in = c.ghost.as_ref().is_none_or(|g| classes::contains(&net, g.ip));
                    if !c.members.is_empty() || ghost_in {
                        bits.insert(ci);
                    }
                } else if inside > 0 {
                    return Some(net);
                }
            }
            self.index.sel.net_bits.insert(net, bits);
        }
        None
    }

    /// Adds a policy to tier `tier`, replacing one of the same kind, namespace and name.
    pub fn upsert_policy(&mut self, tier: &str, policy: Policy) -> Result<Update, String> {
        let Some(ti) = self.index.cluster.policies.tier_index(tier) else {
            return Err(format!("tier {tier:?} does not exist"));
        };
        // An address range the classes were not grouped by must not cut through a class.
        if let Some(net) = self.register_nets(&policy) {
            // What it applied to before and applies to after may have turned.
            let (kind, namespace, name) = (policy.kind, policy.namespace.clone(), policy.name.clone());
            if let Some(before) = self.applies_of(kind, namespace.as_deref(), &name) {
                self.touch_classes(&before);
            }
            let mut cluster = (*self.index.cluster).clone();
            if let Some((oti, opi)) = cluster.policies.find(policy.kind, policy.namespace.as_deref(), &policy.name) {
                cluster.policies.remove(oti, opi);
            }
            cluster.policies.insert(ti, policy);
            let update = self.rebuild(Arc::new(cluster), format!("the range {net} splits an equivalence class"));
            if let Some(after) = self.applies_of(kind, namespace.as_deref(), &name) {
                self.touch_classes(&after);
            }
            return Ok(update);
        }
        let (changed, replaced) = self.place_policy(ti, policy);
        Ok(self.refresh_with(&changed, replaced.as_ref()))
    }

    /// Puts a policy whose ranges are registered into tier `ti` (replacing one of the
    /// same kind, namespace and name) without re-walking; returns the classes whose
    /// answers may have changed, and the policy it replaced.
    pub(super) fn place_policy(&mut self, ti: usize, policy: Policy) -> (Bits, Option<Replaced>) {
        let n = self.index.classes.len();
        let mut changed = Bits::empty(n);
        let mut old = None;
        if let Some((oti, opi)) =
            self.index.cluster.policies.find(policy.kind, policy.namespace.as_deref(), &policy.name)
        {
            let (old_id, entry, policy) = self.take_at(oti, opi);
            changed.or_with(&entry.applies);
            old = Some((old_id, entry, policy, (oti, opi)));
        }
        let pi = Arc::make_mut(&mut self.index.cluster).policies.insert(ti, policy);
        let id = self.index.entries.len() as u32;
        for &later in &self.index.ids[ti][pi..] {
            if let Some(e) = self.index.entries[later as usize].as_mut() {
                e.pos += 1;
            }
        }
        self.index.ids[ti].insert(pi, id);
        let entry = self.index.resolve(ti, pi);
        for c in entry.applies.iter() {
            let list = &self.index.applicable[c];
            let at = list.partition_point(|&x| {
                let e = self.index.entry(x);
                (e.tier, e.pos) < (ti, pi)
            });
            self.index.applicable[c].insert(at, id);
        }
        changed.or_with(&entry.applies);
        self.index.entries.push(Some(entry));
        for w in &mut self.watched {
            let ports = self.index.policy_ports(id, w.view.protocol, w.view.port, &mut w.view.named);
            w.view.port_sets.push(ports);
        }
        let replaced = old.map(|(old_id, entry, policy, at)| Replaced {
            old_id,
            new_id: id,
            entry,
            policy,
            same_place: at == (ti, pi),
        });
        (changed, replaced)
    }

    /// Removes a policy; `None` when there is none of that kind, namespace and name.
    pub fn remove_policy(&mut self, kind: PolicyKind, namespace: Option<&str>, name: &str) -> Option<Update> {
        let (ti, pi) = self.index.cluster.policies.find(kind, namespace, name)?;
        let changed = self.remove_at(ti, pi);
        Some(self.refresh(&changed))
    }

    /// Adds a tier, or changes the order or default action of one. A new tier holds no
    /// policy and changes no answer; a changed one takes its policies out and puts them
    /// back in their new place, re-walking the classes they apply to.
    pub fn upsert_tier(&mut self, name: &str, order: Option<f64>, default_action: TierDefault) -> Update {
        let mut changed = Bits::empty(self.index.classes.len());
        let mut policies = Vec::new();
        if let Some(ti) = self.index.cluster.policies.tier_index(name) {
            let t = &self.index.cluster.policies.tiers()[ti];
            if t.order == order && t.default_action == default_action {
                return Update::in_place(0, 0);
            }
            policies = self.empty_tier(ti, &mut changed);
            self.drop_tier(ti);
        }
        let tier = Tier { name: name.to_string(), order, default_action, policies: vec![] };
        let ti = Arc::make_mut(&mut self.index.cluster).policies.insert_tier(tier);
        self.index.ids.insert(ti, Vec::new());
        for e in self.index.entries.iter_mut().flatten() {
            if e.tier >= ti {
                e.tier += 1;
            }
        }
        for p in policies {
            // Their ranges were registered when they first came in.
            changed.or_with(&self.place_policy(ti, p).0);
        }
        self.refresh(&changed)
    }

    /// Removes a tier and its policies; `None` when there is no tier of that name.
    pub fn remove_tier(&mut self, name: &str) -> Option<Update> {
        let ti = self.index.cluster.policies.tier_index(name)?;
        let mut changed = Bits::empty(self.index.classes.len());
        self.empty_tier(ti, &mut changed);
        self.drop_tier(ti);
        Some(self.refresh(&changed))
    }

    /// Takes every policy out of tier `ti`, adding the classes they applied to to
    /// `changed`; returns them.
    pub(super) fn empty_tier(&mut self, ti: usize, changed: &mut Bits) -> Vec<Policy> {
        let mut out = Vec::new();
        while !self.index.ids[ti].is_empty() {
            out.push(self.index.cluster.policies.tiers()[ti].policies[0].clone());
            changed.or_with(&self.remove_at(ti, 0));
        }
        out
    }

    /// Removes the empty tier `ti` from the cluster and the index.
    pub(super) fn drop_tier(&mut self, ti: usize) {
        debug_assert!(self.index.ids[ti].is_empty(), "only an empty tier is dropped");
        Arc::make_mut(&mut self.index.cluster).policies.remove_tier(ti);
        self.index.ids.remove(ti);
        for e in self.index.entries.iter_mut().flatten() {
            if e.tier > ti {
                e.tier -= 1;
            }
        }
    }

    /// Takes the policy at (tier, position) out of the index and the cluster; returns the
    /// classes it applied to.
    pub(super) fn remove_at(&mut self, ti: usize, pi: usize) -> Bits {
        self.take_at(ti, pi).1.applies
    }

    /// Takes the policy at (tier, position) out of the index and the cluster; returns
    /// its id, its entry and the policy.
    pub(super) fn take_at(&mut self, ti: usize, pi: usize) -> (u32, Entry, Policy) {
        let index = &mut self.index;
        let id = index.ids[ti].remove(pi);
        for &later in &index.ids[ti][pi..] {
            if let Some(e) = index.entries[later as usize].as_mut() {
                e.pos -= 1;
            }
        }
        let entry = index.entries[id as usize].take().expect("a policy in the tier lists is live");
        for c in entry.applies.iter() {
            index.applicable[c].retain(|&x| x != id);
        }
        let policy = Arc::make_mut(&mut index.cluster).policies.remove(ti, pi);
        (id, entry, policy)
    }
}

/// A policy that a new version replaced, kept so that the walks can be patched.
pub(super) struct Replaced {
    pub old_id: u32,
    pub new_id: u32,
    pub entry: Entry,
    pub policy: Policy,
    /// Whether the new version took the old one's place: same tier and position.
    pub same_place: bool,
}
