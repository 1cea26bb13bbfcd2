//! Selectors and peers resolved to bitsets over classes, with caches that survive
//! policy changes.
use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use podwall_ir::{Cluster, Expr, LabelSource, Peer, Scope};

use super::Class;
use crate::Bits;

/// The cluster and its classes, as the resolver reads them.
pub(super) struct Universe<'a> {
    pub cluster: &'a Cluster,
    pub classes: &'a [Class],
}

/// One label key: value → classes carrying it (ascending), and the classes having the key.
type KeyIndex = (HashMap<String, Vec<u32>>, Bits);

/// Caches of resolved selectors. Valid as long as the classes and labels do not change.
pub(super) struct Selectors {
    /// (scope, key) → value → classes (ascending); and the classes having the key. Values
    /// keep lists, not bitsets: a key with many values (a namespace's name, an app name)
    /// then costs memory in proportion to the classes, not to values × classes.
    keys: HashMap<(Scope, String), KeyIndex>,
    /// Namespace → its classes.
    pub namespaces: HashMap<String, Bits>,
    exprs: HashMap<Expr, Arc<Bits>>,
    peers: HashMap<Vec<Peer>, Arc<Bits>>,
    /// Address range → classes whose address lies in it.
    pub net_bits: HashMap<IpNet, Bits>,
    /// Classes that are not host-network.
    pub not_host: Bits,
    /// Classes without an address (templates, pending pods).
    pub unaddressed: Bits,
}

impl Selectors {
    /// Empty caches over `n` classes.
    pub fn new(
        net_bits: HashMap<IpNet, Bits>,
        namespaces: HashMap<String, Bits>,
        not_host: Bits,
        unaddressed: Bits,
    ) -> Self {
        Selectors {
            keys: HashMap::new(),
            namespaces,
            exprs: HashMap::new(),
            peers: HashMap::new(),
            net_bits,
            not_host,
            unaddressed,
        }
    }

    fn n(&self) -> usize {
        self.not_host.len()
    }

    fn key(&mut self, u: &Universe, scope: Scope, key: &str) -> &KeyIndex {
        let k = (scope, key.to_string());
        let n = self.n();
        self.keys.entry(k).or_insert_with(|| {
            let mut values: HashMap<String, Vec<u32>> = HashMap::new();
            let mut has = Bits::empty(n);
            // A class emptied by endpoint removals is read through its last member.
            for (ci, c) in u.classes.iter().enumerate() {
                let Some(ep) = c.sample(u.cluster) else { continue };
                if let Some(v) = u.cluster.endpoint_view(ep).label(scope, key) {
                    has.insert(ci);
                    values.entry(v.to_string()).or_default().push(ci as u32);
                }
            }
            (values, has)
        })
    }

    fn union_where(&mut self, u: &Universe, scope: Scope, key: &str, pred: impl Fn(&str) -> bool) -> Bits {
        let n = self.n();
        let (values, _) = self.key(u, scope, key);
        let mut out = Bits::empty(n);
        for (v, classes) in values {
            if pred(v) {
                classes.iter().for_each(|&c| out.insert(c as usize));
            }
        }
        out
    }

    /// The classes whose labels match `e` (host-network classes included; callers mask).
    pub fn expr(&mut self, u: &Universe, e: &Expr) -> Arc<Bits> {
        if let Some(b) = self.exprs.get(e) {
            return b.clone();
        }
        let n = self.n();
        let value = |this: &mut Self, l: &podwall_ir::Label, v: &str| {
            let mut b = Bits::empty(n);
            for &c in this.key(u, l.scope, &l.key).0.get(v).into_iter().flatten() {
                b.insert(c as usize);
            }
            b
        };
        let b = match e {
            Expr::All | Expr::Global => Bits::full(n),
            Expr::Has(l) => self.key(u, l.scope, &l.key).1.clone(),
            Expr::Eq(l, v) => value(self, l, v),
            Expr::Ne(l, v) => value(self, l, v).not(),
            Expr::In(l, set) => self.union_where(u, l.scope, &l.key, |v| set.contains(v)),
            Expr::NotIn(l, set) => self.union_where(u, l.scope, &l.key, |v| set.contains(v)).not(),
            Expr::Contains(l, s) => self.union_where(u, l.scope, &l.key, |v| v.contains(s.as_str())),
            Expr::StartsWith(l, s) => self.union_where(u, l.scope, &l.key, |v| v.starts_with(s.as_str())),
            Expr::EndsWith(l, s) => self.union_where(u, l.scope, &l.key, |v| v.ends_with(s.as_str())),
            Expr::InNamespace(ns) => self.namespaces.get(ns).cloned().unwrap_or_else(|| Bits::empty(n)),
            Expr::Not(inner) => self.expr(u, inner).not(),
            Expr::And(es) => {
                let mut acc = Bits::full(n);
                for x in es {
                    acc.and_with(&self.expr(u, x));
                }
                acc
            }
            Expr::Or(es) => {
                let mut acc = Bits::empty(n);
                for x in es {
                    acc.or_with(&self.expr(u, x));
                }
                acc
            }
        };
        let b = Arc::new(b);
        self.exprs.insert(e.clone(), b.clone());
        b
    }

    fn nets(&self, nets: &[IpNet]) -> Bits {
        let mut out = Bits::empty(self.n());
        for net in nets {
            if let Some(b) = self.net_bits.get(net) {
                out.or_with(b);
            }
        }
        out
    }

    /// The classes a policy selector picks (never host-network ones).
    pub fn applies(&mut self, u: &Universe, sel: &Expr) -> Bits {
        let mut b = (*self.expr(u, sel)).clone();
        b.and_with(&self.not_host);
        b
    }

    /// The classes a selector picks as a peer: endpoints by labels, and (Calico) the
    /// addresses of matching network sets.
    fn selected(&mut self, u: &Universe, sel: &Expr, network_sets: bool) -> Bits {
        let mut b = self.applies(u, sel);
        if network_sets {
            for i in 0..u.cluster.network_sets.len() {
                if sel.matches(&u.cluster.network_set_view(i)) {
                    b.or_with(&self.nets(&u.cluster.network_sets[i].nets));
                }
            }
        }
        b
    }

    fn peer(&mut self, u: &Universe, p: &Peer) -> Bits {
        let mut b = match &p.selector {
            Some(s) => self.selected(u, s, p.network_sets),
            None => Bits::full(self.n()),
        };
        if let Some(s) = &p.not_selector {
            b.and_not_with(&self.selected(u, s, p.network_sets));
        }
        if !p.nets.is_empty() {
            b.and_with(&self.nets(&p.nets));
        }
        b.and_not_with(&self.nets(&p.not_nets));
        // An unknown address is outside the excluded ranges only when there are none.
        if !p.not_nets.is_empty() {
            b.and_not_with(&self.unaddressed);
        }
        b
    }

    /// The classes a peer list (OR) picks; `None` for an empty list (any address).
    pub fn peers(&mut self, u: &Universe, peers: &[Peer]) -> Option<Arc<Bits>> {
        if peers.is_empty() {
            return None;
        }
        if let Some(b) = self.peers.get(peers) {
            return Some(b.clone());
        }
        let mut acc = Bits::empty(self.n());
        for p in peers {
            acc.or_with(&self.peer(u, p));
        }
        let acc = Arc::new(acc);
        self.peers.insert(peers.to_vec(), acc.clone());
        Some(acc)
    }
}
