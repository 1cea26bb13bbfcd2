//! Policy changes applied in place.
//!
//! [`Live`] keeps an [`Index`] and the views of the ports it watches. Adding, changing or
//! removing a policy resolves that one policy, updates the applicable lists of the
//! classes it selects (before or after), re-walks only those classes, and patches the
//! per-class counts by the pairs whose answer can have changed. A new version of a policy
//! in the old one's place keeps each class's walk except on the remote classes the two
//! versions treat differently. Tiers are added, reordered and removed the same way
//! (through their policies). A pod unlike every other gets a class of its own, and a
//! relabelled namespace has its classes (and those inside its network sets' ranges) read
//! again: their bits in every cached set, and their rows and columns in every view
//! (`recolumn`). A change that splits an equivalence class (an address range that cuts
//! through one), and label changes that address ranges depend on (network sets, service
//! accounts in use) rebuild the index, and say so.
//!
//! By concern: `policies.rs` (policies and tiers), `endpoints.rs` (pods and templates,
//! new classes, `recolumn`), `universe.rs` (namespaces, network sets, service accounts,
//! nodes); here, the index, its watched ports, rebuilds and the re-walk of changed classes.
mod endpoints;
mod policies;
mod universe;

use std::collections::HashSet;
use std::sync::Arc;

use podwall_ir::{Cluster, Direction, Endpoint, EndpointId, PolicyKind, Protocol};

use super::matrix::{class_counts, PortView, Swap};
use super::{Index, RowSummary};
use crate::Bits;

/// What applying a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Why the whole index was rebuilt, when it was.
    pub rebuilt: Option<String>,
    /// Equivalence classes whose answers were recomputed.
    pub classes: usize,
    /// Endpoints in those classes.
    pub endpoints: usize,
}

impl Update {
    fn in_place(classes: usize, endpoints: usize) -> Self {
        Update { rebuilt: None, classes, endpoints }
    }
}

/// A watched port: its view and per-class counts.
pub(super) struct Watched {
    pub view: PortView,
    out: Vec<i64>,
    inn: Vec<i64>,
}

/// The endpoints whose answers changes may have turned since a snapshot.
pub(super) enum Touched {
    /// These, by name: a pair with neither end among them was not turned.
    Names(HashSet<String>),
    /// Any.
    All,
}

/// An index that takes policy changes.
pub struct Live {
    pub(super) index: Index,
    pub(super) watched: Vec<Watched>,
    /// How many times the index was rebuilt: class and walk numbers compare only
    /// within one generation.
    pub(super) generation: u64,
    /// Since the last snapshot (its number): the endpoints changes may have turned.
    pub(super) touched: Option<(u64, Touched)>,
    /// Snapshots taken.
    pub(super) snapshots: u64,
}

impl Live {
    /// Indexes the cluster.
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Live { index: Index::build(cluster), watched: vec![], generation: 0, touched: None, snapshots: 0 }
    }

    /// Notes endpoints whose answers a change may have turned (while a snapshot waits).
    fn touch<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        if let Some((_, Touched::Names(set))) = &mut self.touched {
            set.extend(names.into_iter().map(str::to_string));
        }
    }

    /// Notes the current members of `classes` as touched.
    fn touch_classes(&mut self, classes: &Bits) {
        if let Some((_, Touched::Names(set))) = &mut self.touched {
            let index = &self.index;
            for c in classes.iter() {
                set.extend(index.classes[c].members.iter().map(|&e| index.cluster.endpoints[e].name.clone()));
            }
        }
    }

    /// Notes the endpoints of the current cluster that `pick` picks as touched.
    fn touch_where(&mut self, pick: impl Fn(&Endpoint) -> bool) {
        if let Some((_, Touched::Names(set))) = &mut self.touched {
            set.extend(self.index.cluster.endpoints.iter().filter(|e| pick(e)).map(|e| e.name.clone()));
        }
    }

    /// The classes a policy applies to, if the index has it.
    fn applies_of(&self, kind: PolicyKind, namespace: Option<&str>, name: &str) -> Option<Bits> {
        let (ti, pi) = self.index.cluster.policies.find(kind, namespace, name)?;
        Some(self.index.entry(self.index.ids[ti][pi]).applies.clone())
    }

    /// The current index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Keeps the full answers for (protocol, port) up to date from now on.
    pub fn watch(&mut self, protocol: Protocol, port: Option<u16>) {
        let view = self.index.view(protocol, port);
        let (out, inn) = class_counts(&self.index, &view);
        self.watched.push(Watched { view, out, inn });
    }

    fn find(&self, protocol: Protocol, port: Option<u16>) -> Option<&Watched> {
        self.watched.iter().find(|w| w.view.protocol == protocol && w.view.port == port)
    }

    /// Per endpoint counts for a watched port.
    pub fn summary(&self, protocol: Protocol, port: Option<u16>) -> Option<Vec<RowSummary>> {
        let w = self.find(protocol, port)?;
        let own = self.index.own_traffic_fix(|s, d| w.view.allowed(s, d));
        Some(
            self.index
                .class_of
                .iter()
                .zip(own)
                .map(|(&c, own)| RowSummary {
                    egress_peers: w.out[c] as usize + own,
                    ingress_peers: w.inn[c] as usize + own,
                })
                .collect(),
        )
    }

    /// Whether `src` may open a connection to `dst` (from the watched view when there is one).
    pub fn allowed(&self, src: EndpointId, dst: EndpointId, protocol: Protocol, port: Option<u16>) -> bool {
        match self.find(protocol, port) {
            Some(w) => {
                w.view.allowed(self.index.class_of[src], self.index.class_of[dst])
                    || crate::own_traffic(self.index.cluster(), crate::Addr::Endpoint(src), crate::Addr::Endpoint(dst))
            }
            None => self.index.query(src, dst, protocol, port),
        }
    }

    /// Rebuilds everything from `cluster`, keeping the watched ports.
    fn rebuild(&mut self, cluster: Arc<Cluster>, why: String) -> Update {
        let ports: Vec<(Protocol, Option<u16>)> = self.watched.iter().map(|w| (w.view.protocol, w.view.port)).collect();
        self.index = Index::build(cluster);
        self.generation += 1;
        self.watched.clear();
        for (pr, po) in ports {
            self.watch(pr, po);
        }
        Update { rebuilt: Some(why), classes: self.index.classes.len(), endpoints: self.index.class_of.len() }
    }

    /// Replaces the whole cluster and rebuilds the index, keeping the watched ports:
    /// for changes nothing finer describes. `why` is reported in the update.
    pub fn reset(&mut self, cluster: Arc<Cluster>, why: impl Into<String>) -> Update {
        if let Some((_, t)) = &mut self.touched {
            *t = Touched::All;
        }
        self.rebuild(cluster, why.into())
    }

    /// Re-walks the changed classes of every watched port and patches the counts.
    fn refresh(&mut self, changed: &Bits) -> Update {
        self.refresh_with(changed, None)
    }

    /// [`Live::refresh`] after a policy was replaced by a new version (`replaced`): the
    /// classes both versions apply to keep their walks where the two versions agree.
    fn refresh_with(&mut self, changed: &Bits, replaced: Option<&policies::Replaced>) -> Update {
        self.touch_classes(changed);
        let index = &self.index;
        let n = index.classes.len();
        let weight: Vec<i64> = index.classes.iter().map(|c| c.members.len() as i64).collect();
        let swap = replaced.map(|r| Swap {
            old_id: r.old_id,
            new_id: r.new_id,
            old_applies: &r.entry.applies,
            old_sets: &r.entry.sets,
            old_rules: [r.policy.ingress.as_deref(), r.policy.egress.as_deref()],
            same_place: r.same_place,
        });
        for w in &mut self.watched {
            // Walks are only ever appended: the old rows stay readable by number.
            let before: [Vec<u32>; 2] = [0, 1].map(|d| changed.iter().map(|c| w.view.sides[d].of_class[c]).collect());
            for dir in [Direction::Egress, Direction::Ingress] {
                match &swap {
                    Some(swap) => index.rewalk_swapped(&mut w.view, dir, changed, swap),
                    None => index.rewalk(&mut w.view, dir, changed),
                }
            }
            let (egress, ingress) = (&w.view.sides[1], &w.view.sides[0]);
            // The classes whose rows took another walk, with their old rows.
            let old: Vec<(usize, &Bits, &Bits)> = changed
                .iter()
                .zip(before[1].iter().zip(&before[0]))
                .filter(|&(c, (&e, &i))| egress.of_class[c] != e || ingress.of_class[c] != i)
                .map(|(c, (&e, &i))| (c, &egress.walks[e as usize], &ingress.walks[i as usize]))
                .collect();
            // Many changed classes: recounting everything is cheaper than patching.
            if old.len() * 8 > n {
                (w.out, w.inn) = class_counts(index, &w.view);
                continue;
            }
            let mut moved = Bits::empty(n);
            old.iter().for_each(|&(c, _, _)| moved.insert(c));
            for &(c, old_e, old_i) in &old {
                // The changed class itself: recount exactly.
                w.out[c] = egress.row(c).iter().filter(|&d| ingress.row(d).contains(c)).map(|d| weight[d]).sum();
                w.inn[c] = ingress.row(c).iter().filter(|&s| egress.row(s).contains(c)).map(|s| weight[s]).sum();
                // Others: only pairs with a changed end can have changed.
                let mut diff = old_i.clone();
                diff.xor_with(ingress.row(c));
                for t in diff.iter().filter(|&t| !moved.contains(t)) {
                    if egress.row(t).contains(c) {
                        w.out[t] += if ingress.row(c).contains(t) { weight[c] } else { -weight[c] };
                    }
                }
                let mut diff = old_e.clone();
                diff.xor_with(egress.row(c));
                for t in diff.iter().filter(|&t| !moved.contains(t)) {
                    if ingress.row(t).contains(c) {
                        w.inn[t] += if egress.row(c).contains(t) { weight[c] } else { -weight[c] };
                    }
                }
            }
        }
        let endpoints = changed.iter().map(|c| index.classes[c].members.len()).sum();
        Update::in_place(changed.count(), endpoints)
    }
}
