//! Why the pairs a change turned were answered as they were, before and after, and
//! which of them read alike.
//!
//! [`judge`] asks the reference evaluator about each direction of the changed group
//! pairs of [`Changes`], in both states: once per set of remote ends the index says it
//! judges alike ([`Index::alike`]), one endpoint standing for each group (its members
//! share a class in each state, so every rule treats them alike). A direction the index
//! knows reads the same before and after is not asked about. The pairs whose changed
//! directions say the same are then put together ([`Shown`]).
//!
//! What "says the same" means is the caller's: a [`Saying`] is a direction's verdict as
//! it will be shown, and two sayings with equal [`Saying::words`] give the same verdict
//! for the same reason.
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use podwall_ir::{Cluster, Direction, EndpointId, Protocol};
use rayon::prelude::*;

use crate::{evaluate_direction_with, Addr, Changes, DirectionVerdict, GroupPair, Index, Packet};

/// A direction's verdict as it is shown.
pub trait Saying: Clone + Eq + Hash + Send {
    /// What says why (with the verdict), leaving out details that do not change the
    /// reason (Log rules that fired, every policy that applied).
    type Words: Clone + Eq + Hash;
    /// Whether the direction lets the connection through.
    fn allowed(&self) -> bool;
    /// The verdict and its reason.
    fn words(&self) -> Self::Words;
}

/// Every distinct saying, once, by number; and each one's words by number.
pub struct Sayings<S: Saying> {
    /// The sayings; a number in [`Shown::turns`] is an index here.
    pub list: Vec<S>,
    ids: HashMap<S, u32>,
    /// Per saying: the number of its words.
    words: Vec<u32>,
    word_ids: HashMap<S::Words, u32>,
}

impl<S: Saying> Default for Sayings<S> {
    fn default() -> Self {
        Sayings { list: Vec::new(), ids: HashMap::new(), words: Vec::new(), word_ids: HashMap::new() }
    }
}

impl<S: Saying> Sayings<S> {
    fn id(&mut self, s: S) -> u32 {
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let next = self.word_ids.len() as u32;
        let w = *self.word_ids.entry(s.words()).or_insert(next);
        let id = self.list.len() as u32;
        self.words.push(w);
        self.list.push(s.clone());
        self.ids.insert(s, id);
        id
    }

    /// Whether two sayings give the same verdict for the same reason.
    fn same_words(&self, a: u32, b: u32) -> bool {
        self.words[a as usize] == self.words[b as usize]
    }
}

/// Per direction (egress, ingress) whose verdict turned: what it said before (`None`
/// when the pairs of the group said different things) and what it says now, as numbers
/// in [`Sayings`].
pub type Shift = [Option<(Option<u32>, u32)>; 2];

/// Changed pairs shown together: every source to every destination (a pod to itself
/// excepted), all allowed now or all denied now, and in each direction whose verdict
/// turned, for the same new reason. A direction whose verdict did not turn is not what
/// changed the pair, and does not split groups even when its wording changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// Allowed now (denied before), or denied now.
    pub allowed: bool,
    /// The sources, endpoints of the new state, ascending.
    pub sources: Vec<EndpointId>,
    /// The destinations, endpoints of the new state, ascending.
    pub destinations: Vec<EndpointId>,
    /// How many pairs they make.
    pub pairs: usize,
    /// Egress and ingress, where the verdict turned.
    pub turns: Shift,
}

/// The two states, each with an index.
pub struct States<'a> {
    old: &'a Cluster,
    new: &'a Cluster,
    old_index: &'a Index,
    new_index: &'a Index,
    /// Per endpoint of the new state: its id in the old state (`usize::MAX`: none).
    old_ids: Vec<EndpointId>,
}

/// One state's verdicts on a direction for many remotes: each distinct one, and per
/// remote the number of its.
struct Judged<S> {
    cells: Vec<S>,
    of: Vec<usize>,
}

/// Egress and ingress: the sayings before and after of a direction whose verdict or
/// reason changed; `None` for one that reads the same.
type Turns = [Option<(u32, u32)>; 2];

impl<'a> States<'a> {
    /// The state before and after, each with an index of its own.
    pub fn new(old: &'a Cluster, new: &'a Cluster, old_index: &'a Index, new_index: &'a Index) -> Self {
        let old_ids = new.endpoints.iter().map(|e| old.endpoint(&e.name).unwrap_or(usize::MAX)).collect();
        States { old, new, old_index, new_index, old_ids }
    }

    /// The old state's id of an endpoint of the new state present in both.
    fn in_old(&self, id: EndpointId) -> EndpointId {
        let o = self.old_ids[id];
        debug_assert!(o != usize::MAX, "present in both states");
        o
    }

    /// Judges `dir` at endpoint `local` (of the new state) for each of `remotes`, before
    /// and after, with the reference evaluator: once per set of remotes the index says it
    /// judges alike.
    fn judge<S: Saying>(
        &self,
        local: EndpointId,
        dir: Direction,
        (proto, port): (Protocol, u16),
        remotes: &[EndpointId],
        say: &(impl Fn(&Cluster, &DirectionVerdict) -> S + Sync),
    ) -> [Judged<S>; 2] {
        let one = |c: &Cluster, index: &Index, local: EndpointId, remotes: &[EndpointId]| -> Judged<S> {
            let policies = index.applicable_policies(local, dir);
            let of = index.alike(local, dir, proto, Some(port), remotes);
            let mut cells: Vec<S> = Vec::new();
            for (&remote, &cell) in remotes.iter().zip(&of) {
                if cell == cells.len() {
                    let (s, d) = match dir {
                        Direction::Egress => (local, remote),
                        Direction::Ingress => (remote, local),
                    };
                    let pkt = Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), proto, port);
                    cells.push(say(c, &evaluate_direction_with(c, &pkt, dir, &policies)));
                }
            }
            Judged { cells, of }
        };
        let old_remotes: Vec<EndpointId> = remotes.iter().map(|&r| self.in_old(r)).collect();
        let before = one(self.old, self.old_index, self.in_old(local), &old_remotes);
        let after = one(self.new, self.new_index, local, remotes);
        [before, after]
    }
}

/// Judges the changed group pairs of port `k` of `changes` (`port`) and puts those with
/// the same verdict and reasons together: first the sources of each destination group,
/// then the destinations with the same sources. Newly denied groups come first, then by
/// destination and source.
pub fn judge<S: Saying>(
    st: &States,
    changes: &Changes,
    k: usize,
    port: (Protocol, u16),
    sayings: &mut Sayings<S>,
    say: &(impl Fn(&Cluster, &DirectionVerdict) -> S + Sync),
) -> Vec<Shown> {
    let pairs = &changes.ports[k].pairs;
    let rep = |g: u32| changes.groups[g as usize][0];
    let mut turns: Vec<Turns> = vec![[None, None]; pairs.len()];
    for (d, dir) in [Direction::Egress, Direction::Ingress].into_iter().enumerate() {
        // The pairs by their local group: the source's for egress, the destination's for ingress.
        let local_of = |p: &GroupPair| if dir == Direction::Egress { p.from } else { p.to };
        let remote_of = |p: &GroupPair| if dir == Direction::Egress { p.to } else { p.from };
        // A direction the engine knows reads the same before and after is not judged.
        let settled = |p: &GroupPair| changes.steady[local_of(p) as usize] && changes.kept_class[remote_of(p) as usize];
        let mut order: Vec<usize> = (0..pairs.len()).filter(|&i| !settled(&pairs[i])).collect();
        order.sort_by_key(|&i| local_of(&pairs[i]));
        let buckets: Vec<&[usize]> = order.chunk_by(|&a, &b| local_of(&pairs[a]) == local_of(&pairs[b])).collect();
        let judged: Vec<[Judged<S>; 2]> = buckets
            .par_iter()
            .map(|bucket| {
                let local = rep(local_of(&pairs[bucket[0]]));
                let remotes: Vec<EndpointId> = bucket.iter().map(|&i| rep(remote_of(&pairs[i]))).collect();
                st.judge(local, dir, port, &remotes, say)
            })
            .collect();
        for (bucket, [before, after]) in buckets.iter().zip(judged) {
            let b: Vec<u32> = before.cells.into_iter().map(|s| sayings.id(s)).collect();
            let a: Vec<u32> = after.cells.into_iter().map(|s| sayings.id(s)).collect();
            for (j, &i) in bucket.iter().enumerate() {
                let (b, a) = (b[before.of[j]], a[after.of[j]]);
                if !sayings.same_words(b, a) {
                    turns[i][d] = Some((b, a));
                }
            }
        }
    }
    // Only directions whose verdict turned group pairs: by their new saying.
    let verdict_turned = |t: &Turns| -> [Option<u32>; 2] {
        t.map(|d| {
            d.filter(|&(b, a)| sayings.list[b as usize].allowed() != sayings.list[a as usize].allowed()).map(|(_, a)| a)
        })
    };
    type Key = (bool, [Option<u32>; 2]);
    let mut by_dst: BTreeMap<(Key, u32), Vec<u32>> = BTreeMap::new();
    let mut before: HashMap<(u32, u32), [Option<u32>; 2]> = HashMap::new();
    for (p, t) in pairs.iter().zip(&turns) {
        by_dst.entry(((p.allowed, verdict_turned(t)), p.to)).or_default().push(p.from);
        before.insert((p.from, p.to), t.map(|d| d.map(|(b, _)| b)));
    }
    let mut by_src: BTreeMap<(Key, Vec<u32>), Vec<u32>> = BTreeMap::new();
    for ((key, to), from) in by_dst {
        by_src.entry((key, from)).or_default().push(to);
    }
    let members = |gs: &[u32]| -> Vec<EndpointId> {
        let mut v: Vec<EndpointId> = gs.iter().flat_map(|&g| changes.groups[g as usize].iter().copied()).collect();
        v.sort_unstable();
        v
    };
    let mut out: Vec<Shown> = by_src
        .into_iter()
        .map(|(((allowed, now), from), to)| {
            let pairs = from
                .iter()
                .flat_map(|&f| to.iter().map(move |&t| GroupPair { from: f, to: t, allowed }))
                .map(|gp| changes.pair_count(st.new, &gp))
                .sum();
            let mut turns: Shift = [None, None];
            for d in 0..2 {
                let Some(a) = now[d] else { continue };
                let mut was = from.iter().flat_map(|&f| to.iter().map(move |&t| (f, t))).map(|k| before[&k][d]);
                let first = was.next().flatten();
                let same = was.all(|b| b == first);
                turns[d] = Some((first.filter(|_| same), a));
            }
            Shown { allowed, sources: members(&from), destinations: members(&to), pairs, turns }
        })
        .collect();
    out.sort_by(|a, b| (a.allowed, a.destinations[0], a.sources[0]).cmp(&(b.allowed, b.destinations[0], b.sources[0])));
    out
}
