//! What a series of changes did to the answers of a [`Live`] index.
//!
//! [`Live::snapshot`] keeps the answers of every watched port; after changes,
//! [`Live::changes_since`] finds the endpoint pairs whose answer differs. Endpoints
//! present at both moments are grouped by (class before, class after): every pair of
//! two such groups was answered alike before and is answered alike now, so the
//! comparison runs over group pairs, never endpoint pairs. While the index was not
//! rebuilt, class numbers and walks compare directly: only the classes whose walk
//! changed are compared, and only against the remote classes where the walks differ.
//! Endpoints that moved to another class (a relabelled pod) are compared against every
//! group. After a rebuild class numbers mean nothing across it: the groups holding an
//! endpoint some change since the snapshot touched (one a changed policy applies to, a
//! relabelled namespace's, …) are compared against every group, and pairs of untouched
//! groups keep their answers.
use std::collections::HashMap;

use podwall_ir::{Cluster, EndpointId, EndpointKind, Protocol};
use rayon::prelude::*;

use super::live::Live;
use super::matrix::Side;
use crate::Bits;

/// The answers of every watched port at one moment, to compare later ones with.
pub struct Snapshot {
    /// Its number among the snapshots of its index.
    number: u64,
    generation: u64,
    /// Endpoint names, in endpoint order (sorted).
    names: Vec<String>,
    /// Each endpoint's class.
    class_of: Vec<usize>,
    /// Per watched port: its ingress and egress sides.
    ports: Vec<(Protocol, Option<u16>, [Side; 2])>,
    /// Per class: the ids of the policies applying to it, in order.
    applicable: Vec<Vec<u32>>,
}

/// A pair of groups whose answer changed: every endpoint of `from` to every endpoint of
/// `to` — except a pod to itself, which is always allowed and so never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupPair {
    /// The sources' group (an index into [`Changes::groups`]).
    pub from: u32,
    /// The destinations' group.
    pub to: u32,
    /// Allowed now (and denied before), or denied now (and allowed before).
    pub allowed: bool,
}

/// The changed pairs of one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortChanges {
    /// The protocol.
    pub protocol: Protocol,
    /// The port.
    pub port: Option<u16>,
    /// The group pairs whose answer changed, sorted.
    pub pairs: Vec<GroupPair>,
}

/// The endpoint pairs whose answer changed between a [`Snapshot`] and now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// Endpoints present at both moments, as endpoints of the current cluster, grouped
    /// by (class then, class now); each group ascending, groups by first member.
    pub groups: Vec<Vec<EndpointId>>,
    /// Per port watched at both moments, in the snapshot's order.
    pub ports: Vec<PortChanges>,
    /// Per group: whether its endpoints kept their class (and the index was not rebuilt).
    pub kept_class: Vec<bool>,
    /// Per group: whether its endpoints kept their class and exactly the policies that
    /// apply to them (a changed policy counts as another one). A direction judged at such
    /// a group, towards a group that kept its class, has the same verdict for the same
    /// reason before and after: the same rules meet the same remote classes.
    pub steady: Vec<bool>,
}

impl Changes {
    /// How many endpoint pairs a group pair stands for (a pod's pair with itself left out).
    pub fn pair_count(&self, cluster: &Cluster, p: &GroupPair) -> usize {
        let (a, b) = (self.groups[p.from as usize].len(), self.groups[p.to as usize].len());
        let own = if p.from == p.to {
            self.groups[p.from as usize].iter().filter(|&&e| cluster.endpoints[e].kind == EndpointKind::Pod).count()
        } else {
            0
        };
        a * b - own
    }

    /// Every changed endpoint pair of one port: (source, destination, allowed now).
    pub fn expand<'a>(
        &'a self,
        cluster: &'a Cluster,
        port: &'a PortChanges,
    ) -> impl Iterator<Item = (EndpointId, EndpointId, bool)> + 'a {
        port.pairs.iter().flat_map(move |p| {
            self.groups[p.from as usize].iter().flat_map(move |&s| {
                self.groups[p.to as usize]
                    .iter()
                    .filter(move |&&d| s != d || cluster.endpoints[s].kind != EndpointKind::Pod)
                    .map(move |&d| (s, d, p.allowed))
            })
        })
    }
}

/// A group of endpoints present at both moments.
struct Group {
    old: usize,
    new: usize,
}

/// Whether class `s` may open a connection to class `d` in a view's sides.
fn allowed(sides: &[Side; 2], s: usize, d: usize) -> bool {
    sides[1].row(s).contains(d) && sides[0].row(d).contains(s)
}

/// The classes whose walk in this side differs between `old` and `new` (same generation:
/// walk numbers of `old` are valid in `new`, which only appends walks).
fn changed_rows(old: &Side, new: &Side) -> Bits {
    let n = new.of_class.len();
    let mut out = Bits::empty(n);
    for c in 0..n {
        let (a, b) = (old.of_class[c], new.of_class[c]);
        if a != b && old.walks[a as usize] != new.walks[b as usize] {
            out.insert(c);
        }
    }
    out
}

impl Live {
    /// Keeps the current answers of every watched port, to compare with later ones.
    /// From now on the index notes which endpoints its changes may turn, so that after a
    /// rebuild [`Live::changes_since`] compares only those (for this snapshot, the latest).
    pub fn snapshot(&mut self) -> Snapshot {
        self.snapshots += 1;
        self.touched = Some((self.snapshots, super::live::Touched::Names(Default::default())));
        let index = &self.index;
        Snapshot {
            number: self.snapshots,
            generation: self.generation,
            names: index.cluster.endpoints.iter().map(|e| e.name.clone()).collect(),
            class_of: index.class_of.clone(),
            ports: self.watched.iter().map(|w| (w.view.protocol, w.view.port, w.view.sides.clone())).collect(),
            applicable: index.applicable.clone(),
        }
    }

    /// The pairs of endpoints present then and now whose answer differs, per port
    /// watched at both moments. Equal to comparing the two full matrices.
    pub fn changes_since(&self, before: &Snapshot) -> Changes {
        let index = &self.index;
        let endpoints = &index.cluster.endpoints;
        // Endpoints present at both moments, by name (both lists are sorted).
        let mut by_classes: HashMap<(usize, usize), usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut members: Vec<Vec<EndpointId>> = Vec::new();
        let (mut i, mut k) = (0, 0);
        while i < before.names.len() && k < endpoints.len() {
            match before.names[i].as_str().cmp(endpoints[k].name.as_str()) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => k += 1,
                std::cmp::Ordering::Equal => {
                    let key = (before.class_of[i], index.class_of[k]);
                    let g = *by_classes.entry(key).or_insert_with(|| {
                        groups.push(Group { old: key.0, new: key.1 });
                        members.push(Vec::new());
                        groups.len() - 1
                    });
                    members[g].push(k);
                    i += 1;
                    k += 1;
                }
            }
        }
        let same = before.generation == self.generation;
        // After a rebuild, endpoints no change touched keep their answers with each other.
        let touched = match &self.touched {
            Some((n, super::live::Touched::Names(set))) if !same && *n == before.number => Some(set),
            _ => None,
        };
        // The group of each class that kept its endpoints' class, by class number.
        let mut diagonal: Vec<Option<usize>> = vec![None; if same { index.classes.len() } else { 0 }];
        let mut cross = Vec::new();
        for (g, grp) in groups.iter().enumerate() {
            if same && grp.old == grp.new {
                diagonal[grp.new] = Some(g);
            } else if touched.is_none_or(|t| members[g].iter().any(|&e| t.contains(&endpoints[e].name))) {
                cross.push(g);
            }
        }
        let mut is_cross = vec![false; groups.len()];
        for &g in &cross {
            is_cross[g] = true;
        }
        let mut ports = Vec::new();
        for (protocol, port, old) in &before.ports {
            let Some(w) = self.watched.iter().find(|w| w.view.protocol == *protocol && w.view.port == *port) else {
                continue;
            };
            let new = &w.view.sides;
            let changed = |a: usize, b: usize| -> Option<GroupPair> {
                let (ga, gb) = (&groups[a], &groups[b]);
                let now = allowed(new, ga.new, gb.new);
                (allowed(old, ga.old, gb.old) != now).then_some(GroupPair {
                    from: a as u32,
                    to: b as u32,
                    allowed: now,
                })
            };
            let mut pairs: Vec<GroupPair> = Vec::new();
            if same {
                // Only a class whose walk changed can change a pair it is in: on the
                // egress side as the source, on the ingress side as the destination.
                let eg = changed_rows(&old[1], &new[1]);
                let ing = changed_rows(&old[0], &new[0]);
                for s in eg.iter() {
                    let Some(a) = diagonal[s] else { continue };
                    let mut remote = old[1].row(s).clone();
                    remote.xor_with(new[1].row(s));
                    remote.or_with(&ing);
                    pairs.extend(remote.iter().filter_map(|d| diagonal[d].and_then(|b| changed(a, b))));
                }
                for d in ing.iter() {
                    let Some(b) = diagonal[d] else { continue };
                    let mut remote = old[0].row(d).clone();
                    remote.xor_with(new[0].row(d));
                    remote.and_not_with(&eg);
                    pairs.extend(remote.iter().filter_map(|s| diagonal[s].and_then(|a| changed(a, b))));
                }
            }
            // Groups that changed class, or every group after a rebuild: against all.
            let all = groups.len();
            let found: Vec<GroupPair> = cross
                .par_iter()
                .flat_map_iter(|&a| {
                    let row = (0..all).filter_map(move |b| changed(a, b));
                    let col = (0..all).filter(|&b| !is_cross[b]).filter_map(move |b| changed(b, a));
                    row.chain(col).collect::<Vec<_>>()
                })
                .collect();
            pairs.extend(found);
            // A group's only pod with itself is no pair at all.
            pairs.retain(|p| {
                let m = &members[p.from as usize];
                p.from != p.to || m.len() > 1 || endpoints[m[0]].kind != EndpointKind::Pod
            });
            pairs.sort_unstable();
            ports.push(PortChanges { protocol: *protocol, port: *port, pairs });
        }
        let kept_class: Vec<bool> = groups.iter().map(|g| same && g.old == g.new).collect();
        let steady = groups
            .iter()
            .zip(&kept_class)
            .map(|(g, &kept)| kept && before.applicable[g.old] == index.applicable[g.new])
            .collect();
        Changes { groups: members, ports, kept_class, steady }
    }
}
