//! Reachability for one (protocol, port): one walk per distinct signature, and counts.
use std::collections::HashMap;
use std::sync::Arc;

use podwall_ir::{Direction, EndpointId, Protocol};
use rayon::prelude::*;

use podwall_ir::Rule;

use super::walk::{PortSet, PortSets, TOKEN_MIN};
use super::{dir_index, Index, RuleSets};
use crate::Bits;

/// One direction of a port view: each class's signature, and the walk of each signature.
/// Different signatures may share a walk (equal sets are kept once).
#[derive(Clone, Debug, Default)]
pub(super) struct Side {
    /// Per class: its walk's number (always `walk_of_sig[sig_of_class[c]]`, kept flat for
    /// the lookups every matrix row and count makes).
    pub of_class: Vec<u32>,
    /// Per walk number: the remote classes allowed.
    pub walks: Vec<Bits>,
    /// Signature → its number.
    pub sigs: HashMap<Vec<u32>, u32>,
    /// Per signature number: its walk's number.
    pub walk_of_sig: Vec<u32>,
    /// Per class: its signature's number (kept so that a change to a few classes need not
    /// take every class's signature again).
    pub sig_of_class: Vec<u32>,
}

impl Side {
    /// The remote classes class `c` allows in this direction.
    pub fn row(&self, c: usize) -> &Bits {
        &self.walks[self.of_class[c] as usize]
    }

    /// The number of signature `sig`, added (with no walk yet) when new.
    fn sig_number(&mut self, sig: Vec<u32>) -> (u32, bool) {
        let next = self.walk_of_sig.len() as u32;
        let n = *self.sigs.entry(sig).or_insert(next);
        if n == next {
            self.walk_of_sig.push(u32::MAX);
        }
        (n, n == next)
    }
}

/// The reachability of every class pair for one (protocol, port), owned so that it can
/// be kept and patched as policies change.
#[derive(Clone, Debug)]
pub(super) struct PortView {
    pub protocol: Protocol,
    pub port: Option<u16>,
    /// Per policy id, per direction, per rule.
    pub port_sets: PortSets,
    /// Named-port destination sets, by name.
    pub named: HashMap<String, Arc<Bits>>,
    /// Ingress (0) and egress (1).
    pub sides: [Side; 2],
}

impl PortView {
    /// Whether class `s` may open a connection to class `d`.
    pub fn allowed(&self, s: usize, d: usize) -> bool {
        self.sides[1].row(s).contains(d) && self.sides[0].row(d).contains(s)
    }
}

/// A policy replaced by a new version (under a new id), as [`Index::rewalk_swapped`]
/// needs the old one.
pub(super) struct Swap<'a> {
    pub old_id: u32,
    pub new_id: u32,
    /// The classes the old version applied to.
    pub old_applies: &'a Bits,
    /// Its resolved peers, per direction.
    pub old_sets: &'a [Vec<RuleSets>; 2],
    /// Its rules, per direction.
    pub old_rules: [Option<&'a [Rule]>; 2],
    /// Whether the new version sits where the old one did: same tier, and the same
    /// policies before it.
    pub same_place: bool,
}

impl Index {
    /// The port sets of every policy's rules for (protocol, port), with the named-port
    /// sets they were made from.
    fn port_sets(&self, protocol: Protocol, port: Option<u16>) -> (PortSets, HashMap<String, Arc<Bits>>) {
        let mut named = HashMap::new();
        let sets = (0..self.entries.len() as u32).map(|id| self.policy_ports(id, protocol, port, &mut named)).collect();
        (sets, named)
    }

    /// One side of a view: every class's signature, and one walk per distinct signature.
    fn side(&self, dir: Direction, protocol: Protocol, port_sets: &PortSets) -> Side {
        let mut side = Side::default();
        let mut reps = Vec::new();
        for c in 0..self.classes.len() {
            let (num, new) = side.sig_number(self.signature(c, dir, port_sets));
            if new {
                reps.push(c);
            }
            side.sig_of_class.push(num);
        }
        let walks: Vec<Bits> = reps.par_iter().map(|&c| self.walk(c, dir, protocol, port_sets)).collect();
        // Different signatures often walk to the same set (every namespace's deny-all
        // walks to nothing): keep one copy of each, so the counts run over fewer sets.
        let mut by_content: HashMap<&Bits, u32> = HashMap::new();
        for (num, w) in walks.iter().enumerate() {
            let next = by_content.len() as u32;
            let id = *by_content.entry(w).or_insert(next);
            if id == next {
                side.walks.push(w.clone());
            }
            side.walk_of_sig[num] = id;
        }
        side.of_class = side.sig_of_class.iter().map(|&num| side.walk_of_sig[num as usize]).collect();
        side
    }

    /// Computes the sides of a view for every class.
    pub(super) fn view(&self, protocol: Protocol, port: Option<u16>) -> PortView {
        let (port_sets, named) = self.port_sets(protocol, port);
        let (ingress, egress) = rayon::join(
            || self.side(Direction::Ingress, protocol, &port_sets),
            || self.side(Direction::Egress, protocol, &port_sets),
        );
        PortView { protocol, port, port_sets, named, sides: [ingress, egress] }
    }

    /// Per port of `ports`, the per-endpoint counts: `summaries(ports)[k]` is
    /// `matrix(ports[k]).summary()`. A side of a view reads the port only through the
    /// protocol and the destination classes each rule's ports accept in that direction,
    /// so ports on which those agree share one side, walked once: most egress rules name
    /// no port, and most ports get the same egress side.
    pub fn summaries(&self, ports: &[(Protocol, Option<u16>)]) -> Vec<Vec<RowSummary>> {
        let sets: Vec<PortSets> = ports.par_iter().map(|&(pr, po)| self.port_sets(pr, po).0).collect();
        // Per direction, per port: its group, by (protocol, each rule's accepted set).
        // Accepted sets by content, numbered from 2; the same set is mostly one shared
        // allocation, so it is looked up by address first.
        let mut distinct: HashMap<&Bits, u32> = HashMap::new();
        let mut by_address: HashMap<*const Bits, u32> = HashMap::new();
        let mut groups: [HashMap<(Protocol, Vec<u32>), usize>; 2] = Default::default();
        let mut group_of = vec![[0usize; 2]; ports.len()];
        // Per group: (direction, the first port in it).
        let mut jobs: Vec<(Direction, usize)> = Vec::new();
        for (k, port_sets) in sets.iter().enumerate() {
            for dir in [Direction::Ingress, Direction::Egress] {
                let d = dir_index(dir);
                let mut key = Vec::new();
                for rules in port_sets {
                    key.extend(rules[d].iter().map(|ps| match ps {
                        PortSet::All => 0,
                        PortSet::Nothing => 1,
                        PortSet::Some(b) => *by_address.entry(Arc::as_ptr(b)).or_insert_with(|| {
                            let next = distinct.len() as u32 + 2;
                            *distinct.entry(b).or_insert(next)
                        }),
                    }));
                }
                let next = jobs.len();
                let g = *groups[d].entry((ports[k].0, key)).or_insert(next);
                if g == next {
                    jobs.push((dir, k));
                }
                group_of[k][d] = g;
            }
        }
        let sides: Vec<Side> = jobs.par_iter().map(|&(dir, k)| self.side(dir, ports[k].0, &sets[k])).collect();
        group_of.par_iter().map(|&[i, e]| summary_of(self, &sides[i], &sides[e])).collect()
    }

    /// Re-walks classes `changed` in `dir` of a view after the policies changed.
    pub(super) fn rewalk(&self, view: &mut PortView, dir: Direction, changed: &Bits) {
        let d = dir_index(dir);
        for c in changed.iter() {
            let sig = self.signature(c, dir, &view.port_sets);
            let (num, new) = view.sides[d].sig_number(sig);
            if new {
                let walk = self.walk(c, dir, view.protocol, &view.port_sets);
                let side = &mut view.sides[d];
                side.walk_of_sig[num as usize] = side.walks.len() as u32;
                side.walks.push(walk);
            }
            let side = &mut view.sides[d];
            side.sig_of_class[c] = num;
            side.of_class[c] = side.walk_of_sig[num as usize];
        }
    }

    /// Brings classes `changed` of one side up to date after policy `swap.old_id` was
    /// replaced by `swap.new_id`. Where both versions apply in `dir` and sit in the same
    /// place among the other policies, a class's signature is the old one with the
    /// policy's part exchanged, and its walk differs from the old one only on the remote
    /// classes the two versions treat differently ([`Index::policy_outcomes`]): none
    /// keeps the walk, a few have those columns walked again, many a whole walk. Other
    /// classes are re-walked as by [`Index::rewalk`].
    pub(super) fn rewalk_swapped(&self, view: &mut PortView, dir: Direction, changed: &Bits, swap: &Swap<'_>) {
        let d = dir_index(dir);
        let n = self.classes.len();
        let new = self.entry(swap.new_id);
        let new_rules = self.cluster.policies.tiers()[new.tier].policies[new.pos].rules(dir);
        let old_rules = swap.old_rules[d];
        let mut fallback = Bits::empty(n);
        let mut spliced = Vec::new();
        for c in changed.iter() {
            let was = old_rules.is_some() && swap.old_applies.contains(c);
            let is = new_rules.is_some() && new.applies.contains(c);
            match (was, is) {
                // The policy takes no part in this direction's walk, before or after.
                (false, false) => {}
                (true, true) if swap.same_place => spliced.push(c),
                _ => fallback.insert(c),
            }
        }
        if let (Some(old_rules), Some(new_rules), false) = (old_rules, new_rules, spliced.is_empty()) {
            let PortView { protocol, port_sets, sides, .. } = &mut *view;
            let (protocol, port_sets, side) = (*protocol, &*port_sets, &mut sides[d]);
            // The old signatures name a policy that is gone: no class takes them again.
            let mut wanted = vec![false; side.walk_of_sig.len()];
            spliced.iter().for_each(|&c| wanted[side.sig_of_class[c] as usize] = true);
            let old_sigs: HashMap<u32, Vec<u32>> =
                side.sigs.extract_if(|_, num| wanted[*num as usize]).map(|(sig, num)| (num, sig)).collect();
            let (old_sets, old_ports) = (&swap.old_sets[d], &port_sets[swap.old_id as usize][d]);
            let (new_sets, new_ports) = (&new.sets[d], &port_sets[swap.new_id as usize][d]);
            // Per old signature number: (the policy's new part, the new signature number).
            let mut by_old: HashMap<u32, Vec<(Vec<u32>, u32)>> = HashMap::new();
            // Per (old part, new part): the remote classes whose walk column can differ.
            let mut differs: HashMap<(Vec<u32>, Vec<u32>), Bits> = HashMap::new();
            let mut part = Vec::new();
            for c in spliced {
                part.clear();
                self.local_tokens(c, dir, new_rules, new_sets, new_ports, &mut part);
                let old_num = side.sig_of_class[c];
                let known = by_old.get(&old_num).and_then(|v| v.iter().find(|(p, _)| *p == part)).map(|&(_, num)| num);
                let num = match (known, old_sigs.get(&old_num)) {
                    (Some(num), _) => num,
                    (None, Some(old_sig)) => {
                        // The old signature names the policy; should it not, the class is
                        // walked whole, as for any splice that is not its signature.
                        let Some(at) = old_sig.iter().position(|&x| x == swap.old_id) else {
                            fallback.insert(c);
                            continue;
                        };
                        let end =
                            old_sig[at + 1..].iter().position(|&x| x < TOKEN_MIN).map_or(old_sig.len(), |k| at + 1 + k);
                        let old_part = old_sig[at + 1..end].to_vec();
                        let mut sig = old_sig[..at].to_vec();
                        sig.push(swap.new_id);
                        sig.extend_from_slice(&part);
                        sig.extend_from_slice(&old_sig[end..]);
                        // The splice stands for the class's signature; should it not be
                        // (a token layout this code does not expect), walk the class whole
                        // rather than file it under a wrong signature. Once per distinct
                        // (old signature, new part), not per class.
                        if sig != self.signature(c, dir, port_sets) {
                            fallback.insert(c);
                            continue;
                        }
                        let (num, fresh) = side.sig_number(sig);
                        if fresh {
                            let old_walk = side.walk_of_sig[old_num as usize];
                            let diff = differs.entry((old_part.clone(), part.clone())).or_insert_with(|| {
                                let [a, b, p] = self.policy_outcomes(c, dir, protocol, old_rules, old_sets, old_ports);
                                let [mut x, y, z] =
                                    self.policy_outcomes(c, dir, protocol, new_rules, new_sets, new_ports);
                                x.xor_with(&a);
                                for (mut q, r) in [(y, b), (z, p)] {
                                    q.xor_with(&r);
                                    x.or_with(&q);
                                }
                                x
                            });
                            // (Equal old walks may still change apart: what the policies
                            // before and after this one decide differs with the signature.)
                            let walk = if diff.none() {
                                old_walk
                            } else {
                                let walk = if diff.count() * 256 <= n {
                                    let mut w = side.walks[old_walk as usize].clone();
                                    for x in diff.iter() {
                                        w.set(x, self.walk_one(c, x, dir, protocol, port_sets));
                                    }
                                    w
                                } else {
                                    self.walk(c, dir, protocol, port_sets)
                                };
                                side.walks.push(walk);
                                side.walks.len() as u32 - 1
                            };
                            side.walk_of_sig[num as usize] = walk;
                        }
                        by_old.entry(old_num).or_default().push((part.clone(), num));
                        num
                    }
                    // (Every signature a class holds is in the map; should one not be,
                    // the class is re-walked whole.)
                    (None, None) => {
                        fallback.insert(c);
                        continue;
                    }
                };
                side.sig_of_class[c] = num;
                side.of_class[c] = side.walk_of_sig[num as usize];
            }
        }
        self.rewalk(view, dir, &fallback);
    }

    /// Recomputes one side of a view after classes `ks` (also given as the set `in_k`)
    /// were read again or added. Only the classes in `ks` take their signature again
    /// (every class does when `all_signatures`: a rule's ports started or stopped naming
    /// any class). A signature held by a class outside `ks` keeps that class's walk, with
    /// only the columns `ks` walked again; one held only by classes in `ks` is walked
    /// whole. Walk numbers change.
    pub(super) fn recolumn_side(
        &self,
        view: &mut PortView,
        dir: Direction,
        ks: &[usize],
        in_k: &Bits,
        all_signatures: bool,
    ) {
        let d = dir_index(dir);
        let n = self.classes.len();
        let old = std::mem::take(&mut view.sides[d]);
        let old_n = old.of_class.len();
        let mut side = Side { of_class: vec![0; n], sig_of_class: vec![0; n], ..Side::default() };
        let fresh = |c: usize| all_signatures || c >= old_n || in_k.contains(c);
        if !all_signatures {
            side.sigs = old.sigs.clone();
            side.walk_of_sig = vec![u32::MAX; old.walk_of_sig.len()];
        }
        // Per signature number: a class holding it, outside `ks` when one is.
        let mut rep: Vec<Option<usize>> = vec![None; side.walk_of_sig.len()];
        for c in 0..n {
            let num =
                if fresh(c) { side.sig_number(self.signature(c, dir, &view.port_sets)).0 } else { old.sig_of_class[c] };
            side.sig_of_class[c] = num;
            rep.resize(side.walk_of_sig.len(), None);
            let r = &mut rep[num as usize];
            if r.is_none_or(|r| in_k.contains(r) && !in_k.contains(c) && c < old_n) {
                *r = Some(c);
            }
        }
        // A walk kept from before with the same new columns is the same set: one copy.
        let mut kept: HashMap<(u32, Vec<bool>), u32> = HashMap::new();
        for (num, r) in rep.into_iter().enumerate() {
            let Some(r) = r else { continue };
            let id = if !in_k.contains(r) && r < old_n {
                let cols: Vec<bool> =
                    ks.iter().map(|&k| self.walk_one(r, k, dir, view.protocol, &view.port_sets)).collect();
                match kept.entry((old.of_class[r], cols)) {
                    std::collections::hash_map::Entry::Occupied(e) => *e.get(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let mut w = old.row(r).clone();
                        w.grow(n);
                        for (&k, &on) in ks.iter().zip(&e.key().1) {
                            w.set(k, on);
                        }
                        side.walks.push(w);
                        *e.insert(side.walks.len() as u32 - 1)
                    }
                }
            } else {
                side.walks.push(self.walk(r, dir, view.protocol, &view.port_sets));
                side.walks.len() as u32 - 1
            };
            side.walk_of_sig[num] = id;
        }
        // Signatures no class holds now keep no walk: forget them.
        let gone: Vec<Vec<u32>> = side
            .sigs
            .iter()
            .filter(|(_, &num)| side.walk_of_sig[num as usize] == u32::MAX)
            .map(|(s, _)| s.clone())
            .collect();
        for s in gone {
            side.sigs.remove(&s);
        }
        side.of_class = side.sig_of_class.iter().map(|&num| side.walk_of_sig[num as usize]).collect();
        view.sides[d] = side;
    }

    /// The reachability of every endpoint pair for one protocol and port (layer 4:
    /// rules with an HTTP match count as matching). Each direction is walked once per
    /// distinct signature, not once per endpoint.
    pub fn matrix(&self, protocol: Protocol, port: Option<u16>) -> Matrix<'_> {
        Matrix { index: self, view: self.view(protocol, port) }
    }
}

/// Per-endpoint counts of a matrix row and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowSummary {
    /// How many endpoints this endpoint may open connections to.
    pub egress_peers: usize,
    /// How many endpoints may open connections to this endpoint.
    pub ingress_peers: usize,
}

/// Reachability between every pair of endpoints for one protocol and port.
///
/// Stored as one allowed-set per distinct walk of each direction: `src → dst` is allowed when the
/// egress set of `src`'s signature holds `dst`'s class and the ingress set of `dst`'s
/// signature holds `src`'s class.
pub struct Matrix<'i> {
    pub(super) index: &'i Index,
    pub(super) view: PortView,
}

impl Matrix<'_> {
    /// Whether endpoint `src` may open a connection to endpoint `dst`.
    pub fn allowed(&self, src: EndpointId, dst: EndpointId) -> bool {
        self.view.allowed(self.index.class_of[src], self.index.class_of[dst])
            || (src == dst
                && crate::own_traffic(&self.index.cluster, crate::Addr::Endpoint(src), crate::Addr::Endpoint(dst)))
    }

    /// Whether `src` reaches each endpoint, in endpoint order.
    pub fn row(&self, src: EndpointId) -> Vec<bool> {
        let s = self.index.class_of[src];
        let e = self.view.sides[1].row(s);
        let ingress = &self.view.sides[0];
        let mut row: Vec<bool> =
            self.index.class_of.iter().map(|&d| e.contains(d) && ingress.row(d).contains(s)).collect();
        row[src] |= crate::own_traffic(&self.index.cluster, crate::Addr::Endpoint(src), crate::Addr::Endpoint(src));
        row
    }

    /// The number of distinct (egress, ingress) walks the matrix is made of.
    pub fn signatures(&self) -> (usize, usize) {
        (self.view.sides[1].walks.len(), self.view.sides[0].walks.len())
    }

    /// Per endpoint, how many endpoints it reaches and is reached by (itself included
    /// when the policies allow it).
    pub fn summary(&self) -> Vec<RowSummary> {
        summary_of(self.index, &self.view.sides[0], &self.view.sides[1])
    }
}

/// Per endpoint counts of the view made of these sides.
fn summary_of(index: &Index, ingress: &Side, egress: &Side) -> Vec<RowSummary> {
    let (out, inn) = side_counts(index, ingress, egress);
    let own = index.own_traffic_fix(|s, d| egress.row(s).contains(d) && ingress.row(d).contains(s));
    index
        .class_of
        .iter()
        .zip(own)
        .map(|(&c, own)| RowSummary { egress_peers: out[c] as usize + own, ingress_peers: inn[c] as usize + own })
        .collect()
}

/// Per class: the weight (endpoint count) of the classes it reaches and is reached by.
/// Computed per signature pair, never per endpoint pair.
pub(super) fn class_counts(index: &Index, view: &PortView) -> (Vec<i64>, Vec<i64>) {
    side_counts(index, &view.sides[0], &view.sides[1])
}

/// [`class_counts`] of the view made of these sides.
fn side_counts(index: &Index, ingress: &Side, egress: &Side) -> (Vec<i64>, Vec<i64>) {
    let weight: Vec<i64> = index.classes.iter().map(|c| c.members.len() as i64).collect();
    let (na, nb) = (egress.walks.len(), ingress.walks.len());
    // w_dst[a][b]: weight of the destinations of egress signature a whose ingress signature is b.
    let w_dst = histogram(&egress.walks, &ingress.of_class, nb, &weight);
    // w_src[b][a]: weight of the sources admitted by ingress signature b whose egress signature is a.
    let w_src = histogram(&ingress.walks, &egress.of_class, na, &weight);
    // out(s) = Σ over b with s ∈ I_b of w_dst[esig(s)][b].
    let out = accumulate(&ingress.walks, &egress.of_class, na, |b, a| w_dst[a * nb + b] as i64);
    // in(d) = Σ over a with d ∈ E_a of w_src[isig(d)][a].
    let inn = accumulate(&egress.walks, &ingress.of_class, nb, |a, b| w_src[b * na + a] as i64);
    (out, inn)
}

/// For each set g and key k: the weight of the members x of `sets[g]` with `key[x] == k`,
/// as a dense `sets.len() × nkeys` table. Dense sets are walked through their complement.
/// Weights are endpoint counts, so `i32` holds them and halves the table.
fn histogram(sets: &[Bits], key: &[u32], nkeys: usize, weight: &[i64]) -> Vec<i32> {
    let n = key.len();
    let weight: Vec<i32> = weight.iter().map(|&w| w as i32).collect();
    let mut totals = vec![0i32; nkeys];
    for (x, &k) in key.iter().enumerate() {
        totals[k as usize] += weight[x];
    }
    let mut table = vec![0i32; sets.len() * nkeys];
    for (g, set) in sets.iter().enumerate() {
        let row = &mut table[g * nkeys..(g + 1) * nkeys];
        if set.count() * 2 <= n {
            for x in set.iter() {
                row[key[x] as usize] += weight[x];
            }
        } else {
            row.copy_from_slice(&totals);
            for x in set.not().iter() {
                row[key[x] as usize] -= weight[x];
            }
        }
    }
    table
}

/// For each item x: the sum of `value(g, key[x])` over the sets g holding x. Dense sets
/// are walked through their complement.
fn accumulate(sets: &[Bits], key: &[u32], nkeys: usize, value: impl Fn(usize, usize) -> i64) -> Vec<i64> {
    let n = key.len();
    let mut out = vec![0i64; n];
    let mut base = vec![0i64; nkeys];
    for (g, set) in sets.iter().enumerate() {
        if set.count() * 2 <= n {
            for x in set.iter() {
                out[x] += value(g, key[x] as usize);
            }
        } else {
            for (k, b) in base.iter_mut().enumerate() {
                *b += value(g, k);
            }
            for x in set.not().iter() {
                out[x] -= value(g, key[x] as usize);
            }
        }
    }
    for (x, o) in out.iter_mut().enumerate() {
        *o += base[key[x] as usize];
    }
    out
}
