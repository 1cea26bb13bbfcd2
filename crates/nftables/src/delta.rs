//! Updates: what the kernel holds, kept as a value, and the smallest transaction that
//! turns one such value into another.
//!
//! Sets are named after what they stand for and chains after what they do (see
//! `compile`), so the same policy situation compiled from two states of a cluster has the
//! same chain, and a peer whose members changed is the same set with other elements.
//! The delta therefore creates only chains that are new, deletes only chains nothing
//! uses any more, and otherwise changes elements: of address sets, and of the dispatch
//! maps that send an interface to its chains. Chains it does not name are not touched.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::render::{map_element, map_entries, set_type};
use crate::{render_rule, Ruleset, SetKind};

/// A named set as installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledSet {
    /// What it holds.
    pub kind: SetKind,
    /// Whether it is an interval set.
    pub interval: bool,
    /// Its elements as nft writes them.
    pub elements: BTreeSet<String>,
}

/// A dispatch-map element as installed: the chain an interface jumps to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    /// The chain.
    pub chain: String,
    /// The element's comment (the endpoint's name).
    pub comment: String,
}

/// A regular chain as installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledChain {
    /// Its comment.
    pub comment: String,
    /// Its rules as nft writes them.
    pub rules: Vec<String>,
}

/// What podwall's table holds (beside the base chain, which never changes): the value a
/// node keeps of what it installed, so that the next change is computed against it
/// without reading the kernel back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The table's name.
    pub table: String,
    /// Named sets, by name (the base chain's too).
    pub sets: BTreeMap<String, InstalledSet>,
    /// The dispatch maps (`egress`, `ingress`): interface → entry.
    pub maps: BTreeMap<String, BTreeMap<String, MapEntry>>,
    /// Regular chains, by name.
    pub chains: BTreeMap<String, InstalledChain>,
}

impl Ruleset {
    /// What loading this ruleset installs.
    pub fn installed(&self) -> Installed {
        let sets = self
            .base_sets()
            .into_iter()
            .chain(self.sets.iter().cloned())
            .map(|s| {
                (
                    s.name,
                    InstalledSet { kind: s.kind, interval: s.interval, elements: s.elements.into_iter().collect() },
                )
            })
            .collect();
        let mut maps: BTreeMap<String, BTreeMap<String, MapEntry>> = BTreeMap::new();
        for m in [crate::render::EGRESS_MAP, crate::render::INGRESS_MAP] {
            maps.insert(m.to_string(), BTreeMap::new());
        }
        for (map, interface, chain, comment) in map_entries(self) {
            maps.entry(map.to_string()).or_default().insert(interface, MapEntry { chain, comment });
        }
        let chains = self
            .chains
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    InstalledChain { comment: c.comment.clone(), rules: c.rules.iter().map(render_rule).collect() },
                )
            })
            .collect();
        Installed { table: self.table.clone(), sets, maps, chains }
    }
}

/// Elements added to and removed from one set that stays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetChange {
    /// The set.
    pub set: String,
    /// Its kind.
    pub kind: SetKind,
    /// Whether it is an interval set.
    pub interval: bool,
    /// Elements to delete.
    pub removed: Vec<String>,
    /// Elements to add.
    pub added: Vec<String>,
}

/// One interface's entry of a dispatch map, before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapChange {
    /// The map (`egress` or `ingress`).
    pub map: String,
    /// The interface.
    pub interface: String,
    /// The entry installed now.
    pub old: Option<MapEntry>,
    /// The entry wanted.
    pub new: Option<MapEntry>,
}

/// The changes that turn one [`Installed`] into another, as one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta {
    /// The table.
    pub table: String,
    /// Sets to create, with their elements.
    pub new_sets: Vec<(String, InstalledSet)>,
    /// Chains to create, with their rules.
    pub new_chains: Vec<(String, InstalledChain)>,
    /// Chains that stay but whose rules differ (flushed and filled again, which nft does
    /// in the same transaction).
    pub refilled_chains: Vec<(String, InstalledChain)>,
    /// Element changes of sets that stay.
    pub set_changes: Vec<SetChange>,
    /// Dispatch-map entries that change.
    pub map_changes: Vec<MapChange>,
    /// Chains to delete (nothing jumps to them any more).
    pub removed_chains: Vec<String>,
    /// Sets to delete (no rule reads them any more).
    pub removed_sets: Vec<String>,
    /// Chains left exactly as they are.
    pub kept_chains: usize,
}

/// The delta from `old` (installed) to `new` (wanted); `None` when no delta can express
/// it (another table, or a set whose type changed under its name) and the table must be
/// loaded whole.
pub fn delta(old: &Installed, new: &Installed) -> Option<Delta> {
    if old.table != new.table {
        return None;
    }
    let mut d = Delta {
        table: new.table.clone(),
        new_sets: vec![],
        new_chains: vec![],
        refilled_chains: vec![],
        set_changes: vec![],
        map_changes: vec![],
        removed_chains: vec![],
        removed_sets: vec![],
        kept_chains: 0,
    };
    for (name, set) in &new.sets {
        match old.sets.get(name) {
            None => d.new_sets.push((name.clone(), set.clone())),
            Some(o) if o.kind != set.kind || o.interval != set.interval => return None,
            Some(o) => {
                let removed: Vec<String> = o.elements.difference(&set.elements).cloned().collect();
                let added: Vec<String> = set.elements.difference(&o.elements).cloned().collect();
                if !removed.is_empty() || !added.is_empty() {
                    d.set_changes.push(SetChange {
                        set: name.clone(),
                        kind: set.kind,
                        interval: set.interval,
                        removed,
                        added,
                    });
                }
            }
        }
    }
    d.removed_sets = old.sets.keys().filter(|n| !new.sets.contains_key(*n)).cloned().collect();
    for (name, chain) in &new.chains {
        match old.chains.get(name) {
            None => d.new_chains.push((name.clone(), chain.clone())),
            Some(o) if o.rules != chain.rules => d.refilled_chains.push((name.clone(), chain.clone())),
            Some(_) => d.kept_chains += 1,
        }
    }
    d.removed_chains = old.chains.keys().filter(|n| !new.chains.contains_key(*n)).cloned().collect();
    let empty = BTreeMap::new();
    let map_names: BTreeSet<&String> = old.maps.keys().chain(new.maps.keys()).collect();
    for map in map_names {
        let (o, n) = (old.maps.get(map).unwrap_or(&empty), new.maps.get(map).unwrap_or(&empty));
        let interfaces: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for i in interfaces {
            let (a, b) = (o.get(i), n.get(i));
            if a != b {
                d.map_changes.push(MapChange {
                    map: map.clone(),
                    interface: i.clone(),
                    old: a.cloned(),
                    new: b.cloned(),
                });
            }
        }
    }
    Some(d)
}

impl Delta {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.new_sets.is_empty()
            && self.new_chains.is_empty()
            && self.refilled_chains.is_empty()
            && self.set_changes.is_empty()
            && self.map_changes.is_empty()
            && self.removed_chains.is_empty()
            && self.removed_sets.is_empty()
    }

    /// Whether the delta only changes elements of hash sets and dispatch maps (no chain,
    /// no set made or deleted, no interval set touched): what can be sent as element
    /// messages alone.
    pub fn elements_only(&self) -> bool {
        self.new_sets.is_empty()
            && self.new_chains.is_empty()
            && self.refilled_chains.is_empty()
            && self.removed_chains.is_empty()
            && self.removed_sets.is_empty()
            && self.set_changes.iter().all(|c| !c.interval)
    }

    /// What the transaction does, in one line: chains and sets made, deleted and kept,
    /// elements changed.
    pub fn summary(&self) -> String {
        format!(
            "{} chain(s) added, {} deleted, {} kept untouched; {} set(s) added, {} deleted; {} element(s) changed",
            self.new_chains.len() + self.refilled_chains.len(),
            self.removed_chains.len(),
            self.kept_chains,
            self.new_sets.len(),
            self.removed_sets.len(),
            self.element_count()
        )
    }

    /// Elements added and removed, in sets and maps.
    pub fn element_count(&self) -> usize {
        let sets: usize = self.set_changes.iter().map(|c| c.added.len() + c.removed.len()).sum();
        let maps: usize =
            self.map_changes.iter().map(|m| usize::from(m.old.is_some()) + usize::from(m.new.is_some())).sum();
        sets + maps
    }

    /// The delta as an `nft -f` script: one transaction, in an order the kernel accepts
    /// (what is referenced exists before it is referenced, and is deleted after the last
    /// reference is gone).
    pub fn render(&self) -> String {
        let t = &self.table;
        let mut s = String::new();
        for (name, set) in &self.new_sets {
            let _ = write!(s, "add set inet {t} {name} {{ type {};", set_type(set.kind));
            if set.interval {
                s.push_str(" flags interval;");
            }
            if !set.elements.is_empty() {
                let list: Vec<&str> = set.elements.iter().map(String::as_str).collect();
                let _ = write!(s, " elements = {{ {} }};", list.join(", "));
            }
            s.push_str(" }\n");
        }
        for (name, chain) in &self.new_chains {
            let _ = writeln!(s, "add chain inet {t} {name} {{ comment \"{}\"; }}", chain.comment);
        }
        for (name, chain) in &self.new_chains {
            for r in &chain.rules {
                let _ = writeln!(s, "add rule inet {t} {name} {r}");
            }
        }
        for (name, chain) in &self.refilled_chains {
            let _ = writeln!(s, "flush chain inet {t} {name}");
            for r in &chain.rules {
                let _ = writeln!(s, "add rule inet {t} {name} {r}");
            }
        }
        // Deleting first: an interval set refuses an element that overlaps one it holds.
        for c in &self.set_changes {
            if !c.removed.is_empty() {
                let _ = writeln!(s, "delete element inet {t} {} {{ {} }}", c.set, c.removed.join(", "));
            }
        }
        for c in &self.set_changes {
            if !c.added.is_empty() {
                let _ = writeln!(s, "add element inet {t} {} {{ {} }}", c.set, c.added.join(", "));
            }
        }
        for m in &self.map_changes {
            if m.old.is_some() {
                let _ = writeln!(s, "delete element inet {t} {} {{ \"{}\" }}", m.map, m.interface);
            }
        }
        for m in &self.map_changes {
            if let Some(e) = &m.new {
                let _ = writeln!(
                    s,
                    "add element inet {t} {} {{ {} }}",
                    m.map,
                    map_element(&m.interface, &e.chain, &e.comment)
                );
            }
        }
        // A removed chain may `goto` another removed one: empty them all, then delete.
        for c in &self.removed_chains {
            let _ = writeln!(s, "flush chain inet {t} {c}");
        }
        for c in &self.removed_chains {
            let _ = writeln!(s, "delete chain inet {t} {c}");
        }
        for set in &self.removed_sets {
            let _ = writeln!(s, "delete set inet {t} {set}");
        }
        s
    }
}
