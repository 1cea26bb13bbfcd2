//! One direction of one class, walked over whole sets of remote classes.
use std::collections::HashMap;
use std::sync::Arc;

use podwall_ir::{Action, Direction, IpVersion, PortMatch, Ports, Protocol, Rule, TierDefault};

use super::{dir_index, Index};
use crate::Bits;

/// The destination classes a rule's ports accept, for one (protocol, port).
#[derive(Clone, Debug)]
pub(super) enum PortSet {
    /// Every destination.
    All,
    /// No destination: the rule cannot match.
    Nothing,
    /// These destination classes (named ports).
    Some(Arc<Bits>),
}

/// Per policy id, per direction, per rule: the rule's port set.
pub(super) type PortSets = Vec<[Vec<PortSet>; 2]>;

impl Index {
    /// Destination classes whose declared ports let a port entry match (protocol, port).
    fn port_bits(
        &self,
        pm: &PortMatch,
        protocol: Protocol,
        port: Option<u16>,
        named: &mut HashMap<String, Arc<Bits>>,
    ) -> PortSet {
        if pm.protocol.is_some_and(|p| p != protocol) {
            return PortSet::Nothing;
        }
        match &pm.ports {
            Ports::Any => PortSet::All,
            Ports::Range(lo, hi) if port.is_some_and(|p| *lo <= p && p <= *hi) => PortSet::All,
            Ports::Range(..) => PortSet::Nothing,
            Ports::Named(name) => {
                let n = self.classes.len();
                let b = named.entry(name.clone()).or_insert_with(|| {
                    let mut b = Bits::empty(n);
                    if let Some(port) = port {
                        for (ci, c) in self.classes.iter().enumerate() {
                            let Some(ep) = c.sample(&self.cluster) else { continue };
                            if !ep.host_network && ep.has_named_port(name, protocol, port) {
                                b.insert(ci);
                            }
                        }
                    }
                    Arc::new(b)
                });
                if b.none() {
                    PortSet::Nothing
                } else {
                    PortSet::Some(b.clone())
                }
            }
        }
    }

    /// The destination classes a rule's port lists accept.
    pub(super) fn rule_ports(
        &self,
        rule: &Rule,
        protocol: Protocol,
        port: Option<u16>,
        named: &mut HashMap<String, Arc<Bits>>,
    ) -> PortSet {
        let n = self.classes.len();
        let mut acc = PortSet::All;
        if !rule.destination.ports.is_empty() {
            acc = PortSet::Nothing;
            for pm in &rule.destination.ports {
                acc = match (acc, self.port_bits(pm, protocol, port, named)) {
                    (PortSet::All, _) | (_, PortSet::All) => PortSet::All,
                    (a, PortSet::Nothing) => a,
                    (PortSet::Nothing, b) => b,
                    (PortSet::Some(a), PortSet::Some(b)) => {
                        let mut u = (*a).clone();
                        u.or_with(&b);
                        PortSet::Some(Arc::new(u))
                    }
                };
            }
        }
        for pm in &rule.destination.not_ports {
            acc = match (acc, self.port_bits(pm, protocol, port, named)) {
                (PortSet::Nothing, _) | (_, PortSet::All) => PortSet::Nothing,
                (a, PortSet::Nothing) => a,
                (a, PortSet::Some(ex)) => {
                    let mut left = match a {
                        PortSet::Some(b) => (*b).clone(),
                        _ => Bits::full(n),
                    };
                    left.and_not_with(&ex);
                    PortSet::Some(Arc::new(left))
                }
            };
        }
        acc
    }

    /// The port sets of policy `id`'s rules for (protocol, port); empty for a removed id.
    pub(super) fn policy_ports(
        &self,
        id: u32,
        protocol: Protocol,
        port: Option<u16>,
        named: &mut HashMap<String, Arc<Bits>>,
    ) -> [Vec<PortSet>; 2] {
        let Some(e) = &self.entries[id as usize] else { return [vec![], vec![]] };
        let p = &self.cluster.policies.tiers()[e.tier].policies[e.pos];
        let mut f = |rs: Option<&[Rule]>| -> Vec<PortSet> {
            rs.unwrap_or_default().iter().map(|r| self.rule_ports(r, protocol, port, named)).collect()
        };
        [f(p.ingress.as_deref()), f(p.egress.as_deref())]
    }

    /// The remote classes one direction of local class `local` allows.
    pub(super) fn walk(&self, local: usize, dir: Direction, protocol: Protocol, port_sets: &PortSets) -> Bits {
        let n = self.classes.len();
        let d = dir_index(dir);
        let tiers = self.cluster.policies.tiers();
        let mut undecided = Bits::full(n);
        let mut allowed = Bits::empty(n);
        let mut current: Option<usize> = None;
        let mut passed = Bits::empty(n);
        // Ends tier `ti`: its default action takes what is still undecided.
        let end_tier = |ti: usize, undecided: &mut Bits, passed: &mut Bits| {
            if tiers[ti].default_action == TierDefault::Deny {
                undecided.clear();
            }
            undecided.or_with(passed);
            passed.clear();
        };
        // The matched set of each rule, in one reused buffer.
        let mut m = Bits::empty(n);
        for (id, ti, rules) in self.applicable(local, dir) {
            if let Some(prev) = current.filter(|&c| c != ti) {
                end_tier(prev, &mut undecided, &mut passed);
            }
            current = Some(ti);
            let entry = self.entry(id);
            for ((rule, sets), ports) in rules.iter().zip(&entry.sets[d]).zip(&port_sets[id as usize][d]) {
                if !self.rule_match(local, dir, protocol, (rule, sets, ports), &undecided, &mut m) {
                    continue;
                }
                match rule.action {
                    Action::Allow => allowed.or_with(&m),
                    Action::Pass => passed.or_with(&m),
                    Action::Deny | Action::Log => {}
                }
                undecided.and_not_with(&m);
            }
        }
        if let Some(prev) = current {
            end_tier(prev, &mut undecided, &mut passed);
        }
        allowed.or_with(&undecided);
        allowed
    }

    /// Whether one direction of class `local` allows the single remote class `remote`:
    /// [`Index::walk`] for one column, with booleans for sets.
    pub(super) fn walk_one(
        &self,
        local: usize,
        remote: usize,
        dir: Direction,
        protocol: Protocol,
        port_sets: &PortSets,
    ) -> bool {
        let d = dir_index(dir);
        let tiers = self.cluster.policies.tiers();
        let (mut undecided, mut allowed, mut passed) = (true, false, false);
        let end_tier = |ti: usize, undecided: &mut bool, passed: &mut bool| {
            if tiers[ti].default_action == TierDefault::Deny {
                *undecided = false;
            }
            *undecided |= *passed;
            *passed = false;
        };
        let mut current: Option<usize> = None;
        for (id, ti, rules) in self.applicable(local, dir) {
            if let Some(prev) = current.filter(|&c| c != ti) {
                end_tier(prev, &mut undecided, &mut passed);
            }
            current = Some(ti);
            if !undecided {
                continue;
            }
            let entry = self.entry(id);
            for ((rule, sets), ports) in rules.iter().zip(&entry.sets[d]).zip(&port_sets[id as usize][d]) {
                if rule.action == Action::Log || !Self::packet_ok(rule, protocol) {
                    continue;
                }
                let (local_peers, remote_peers) = sets.local_remote(dir);
                if local_peers.as_ref().is_some_and(|b| !b.contains(local))
                    || remote_peers.as_ref().is_some_and(|b| !b.contains(remote))
                {
                    continue;
                }
                let (src, dst) = if dir == Direction::Ingress { (remote, local) } else { (local, remote) };
                if rule.ip_version.is_some_and(|v| v != self.pair_family(src, dst)) {
                    continue;
                }
                match ports {
                    PortSet::Nothing => continue,
                    PortSet::Some(pb) if !pb.contains(dst) => continue,
                    _ => {}
                }
                match rule.action {
                    Action::Allow => allowed = true,
                    Action::Pass => passed = true,
                    Action::Deny | Action::Log => {}
                }
                undecided = false;
                break;
            }
        }
        if let Some(prev) = current {
            end_tier(prev, &mut undecided, &mut passed);
        }
        allowed || undecided
    }

    /// What one direction's walk for class `local` depends on besides the remote side:
    /// the policies that apply, whether the local end satisfies each rule's local-side
    /// peers, and (ingress) whether its ports satisfy each rule's ports. Classes with
    /// equal signatures have equal walks.
    pub(super) fn signature(&self, local: usize, dir: Direction, port_sets: &PortSets) -> Vec<u32> {
        let mut sig = Vec::new();
        for (id, _, rules) in self.applicable(local, dir) {
            sig.push(id);
            let d = dir_index(dir);
            self.local_tokens(local, dir, rules, &self.entry(id).sets[d], &port_sets[id as usize][d], &mut sig);
        }
        sig
    }

    /// The part of a signature one policy's rules contribute after its id (see
    /// [`Index::signature`]): what the local end decides of each rule. Every token is at
    /// least [`TOKEN_MIN`], above any policy id.
    pub(super) fn local_tokens(
        &self,
        local: usize,
        dir: Direction,
        rules: &[Rule],
        sets: &[super::RuleSets],
        ports: &[PortSet],
        sig: &mut Vec<u32>,
    ) {
        for ((sets, ports), rule) in sets.iter().zip(ports).zip(rules) {
            if rule.ip_version.is_some() {
                // The local end's family decides which remote ends such a rule meets.
                sig.push(u32::MAX - 5 - self.family(local).map_or(0, |f| 1 + (f == IpVersion::V6) as u32));
            }
            let local_peers = sets.local_remote(dir).0;
            if let Some(b) = local_peers {
                sig.push(u32::MAX - b.contains(local) as u32);
            }
            if let (Direction::Ingress, PortSet::Some(pb)) = (dir, ports) {
                sig.push(u32::MAX - 2 - pb.contains(local) as u32);
            }
        }
    }

    /// Per remote class, what one policy's rules do for local class `local` in `dir` if
    /// the remote is still undecided when the walk reaches the policy: (allowed, denied,
    /// passed), disjoint; a remote in none is left to the policies after it. A walk is
    /// made of independent columns, so two versions of a policy in the same place give
    /// the same walk except where these sets differ.
    pub(super) fn policy_outcomes(
        &self,
        local: usize,
        dir: Direction,
        protocol: Protocol,
        rules: &[Rule],
        sets: &[super::RuleSets],
        ports: &[PortSet],
    ) -> [Bits; 3] {
        let n = self.classes.len();
        let mut rest = Bits::full(n);
        let mut out = [Bits::empty(n), Bits::empty(n), Bits::empty(n)];
        let mut m = Bits::empty(n);
        for ((rule, sets), ports) in rules.iter().zip(sets).zip(ports) {
            if !self.rule_match(local, dir, protocol, (rule, sets, ports), &rest, &mut m) {
                continue;
            }
            let slot = match rule.action {
                Action::Allow => 0,
                Action::Deny | Action::Log => 1,
                Action::Pass => 2,
            };
            out[slot].or_with(&m);
            rest.and_not_with(&m);
        }
        out
    }

    /// The remote classes of `candidates` one rule matches for local class `local` in
    /// `dir`, written to `m`; `false` (and `m` untouched) when the rule cannot match at
    /// all: a Log rule, a packet condition the question fails, local-side peers or
    /// (ingress) ports the local end lacks, or ports no destination has.
    #[inline]
    fn rule_match(
        &self,
        local: usize,
        dir: Direction,
        protocol: Protocol,
        (rule, sets, ports): (&Rule, &super::RuleSets, &PortSet),
        candidates: &Bits,
        m: &mut Bits,
    ) -> bool {
        if rule.action == Action::Log || !Self::packet_ok(rule, protocol) {
            return false;
        }
        let (local_peers, remote_peers) = sets.local_remote(dir);
        if local_peers.as_ref().is_some_and(|b| !b.contains(local)) {
            return false;
        }
        // Cheap exits first: ports the local end lacks, or that no destination has.
        match (ports, dir) {
            (PortSet::Nothing, _) => return false,
            // Ports belong to the destination: on ingress, the local endpoint.
            (PortSet::Some(pb), Direction::Ingress) if !pb.contains(local) => return false,
            _ => {}
        }
        m.copy_from(candidates);
        if let Some(b) = remote_peers {
            m.and_with(b);
        }
        if let Some(b) = rule.ip_version.and_then(|v| self.family_remotes(local, dir, v)) {
            m.and_with(&b);
        }
        if let (PortSet::Some(pb), Direction::Egress) = (ports, dir) {
            m.and_with(pb);
        }
        true
    }
}

/// The least signature token: policy ids stay below it.
pub(super) const TOKEN_MIN: u32 = u32::MAX - 7;
