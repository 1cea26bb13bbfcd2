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
    /// Classes whose address is IPv6.
    pub ipv6: Bits,
}

impl Selectors {
    /// Empty caches over `n` classes.
    pub fn new(
        net_bits: HashMap<IpNet, Bits>,
        namespaces: HashMap<String, Bits>,
        not_host: Bits,
        unaddressed: Bits,
        ipv6: Bits,
    ) -> Self {
        Selectors {
            keys: HashMap::new(),
            namespaces,
            exprs: HashMap::new(),
            peers: HashMap::new(),
            net_bits,
            not_host,
            unaddressed,
            ipv6,
        }
    }

    /// The number of classes the sets range over.
    pub fn n(&self) -> usize {
        self.not_host.len()
    }

    /// The cached peer sets.
    pub fn peer_sets(&self) -> impl Iterator<Item = &Arc<Bits>> {
        self.peers.values()
    }

    /// Makes room for one more class, `ep`'s: every cached set grows by one index, and
    /// the facts read straight off the endpoint (namespace, address ranges, host network,
    /// address) are set. Selector bits for it come from [`Selectors::recolumn`].
    pub fn grow(&mut self, ep: &podwall_ir::Endpoint) -> usize {
        let k = self.n();
        let n = k + 1;
        for (_, has) in self.keys.values_mut() {
            has.grow(n);
        }
        for b in self.namespaces.values_mut() {
            b.grow(n);
        }
        self.namespaces.entry(ep.namespace.clone()).or_insert_with(|| Bits::empty(n)).insert(k);
        for b in self.exprs.values_mut().chain(self.peers.values_mut()) {
            Arc::make_mut(b).grow(n);
        }
        for (net, b) in self.net_bits.iter_mut() {
            b.grow(n);
            b.set(k, super::classes::contains(net, ep.ip));
        }
        self.not_host.grow(n);
        self.not_host.set(k, !ep.host_network);
        self.unaddressed.grow(n);
        self.unaddressed.set(k, ep.ip.is_none());
        self.ipv6.grow(n);
        self.ipv6.set(k, ep.ip.is_some_and(|ip| ip.is_ipv6()));
        k
    }

    /// Takes classes `ks` out of the label indexes, by the labels they have now: call it
    /// before their labels change, then [`Selectors::recolumn`] after.
    pub fn forget_labels(&mut self, u: &Universe, ks: &[usize]) {
        for ((scope, key), (values, has)) in self.keys.iter_mut() {
            for &k in ks {
                let Some(ep) = u.classes[k].sample(u.cluster) else { continue };
                if let Some(list) = u.cluster.endpoint_view(ep).label(*scope, key).and_then(|v| values.get_mut(v)) {
                    if let Ok(at) = list.binary_search(&(k as u32)) {
                        list.remove(at);
                    }
                }
                has.remove(k);
            }
        }
    }

    /// Reads classes `ks` again (new, or their namespace's labels changed, after
    /// [`Selectors::forget_labels`]): every cached label index, selector and peer list
    /// gets its bits at those classes recomputed from the labels. Callers must hold no
    /// other reference to the cached peer sets (`Arc`s), or they are copied.
    pub fn recolumn(&mut self, u: &Universe, ks: &[usize]) {
        let eps: Vec<(usize, &podwall_ir::Endpoint)> =
            ks.iter().filter_map(|&k| u.classes[k].sample(u.cluster).map(|ep| (k, ep))).collect();
        for ((scope, key), (values, has)) in self.keys.iter_mut() {
            for &(k, ep) in &eps {
                if let Some(v) = u.cluster.endpoint_view(ep).label(*scope, key) {
                    has.insert(k);
                    let list = values.entry(v.to_string()).or_default();
                    if let Err(at) = list.binary_search(&(k as u32)) {
                        list.insert(at, k as u32);
                    }
                }
            }
        }
        for (e, b) in self.exprs.iter_mut() {
            let b = Arc::make_mut(b);
            for &(k, ep) in &eps {
                b.set(k, e.matches(&u.cluster.endpoint_view(ep)));
            }
        }
        let mut peers = std::mem::take(&mut self.peers);
        for (list, b) in peers.iter_mut() {
            let b = Arc::make_mut(b);
            for &(k, ep) in &eps {
                b.set(k, list.iter().any(|p| self.peer_bit(u, p, k, ep)));
            }
        }
        self.peers = peers;
    }

    /// [`Selectors::peer`] for the single class `k` (standing for `ep`).
    fn peer_bit(&self, u: &Universe, p: &Peer, k: usize, ep: &podwall_ir::Endpoint) -> bool {
        let view = u.cluster.endpoint_view(ep);
        let in_nets = |nets: &[IpNet]| nets.iter().any(|n| self.net_bits.get(n).is_some_and(|b| b.contains(k)));
        let selected = |sel: &Expr| {
            (sel.matches(&view) && self.not_host.contains(k))
                || (p.network_sets
                    && (0..u.cluster.network_sets.len()).any(|i| {
                        sel.matches(&u.cluster.network_set_view(i)) && in_nets(&u.cluster.network_sets[i].nets)
                    }))
        };
        p.selector.as_ref().is_none_or(&selected)
            && !p.not_selector.as_ref().is_some_and(&selected)
            && (p.nets.is_empty() || in_nets(&p.nets))
            && !in_nets(&p.not_nets)
            && (p.not_nets.is_empty() || !self.unaddressed.contains(k))
    }

    fn key(&mut self, u: &Universe, scope: Scope, key: &str) -> &KeyIndex {
        let k = (scope, key.to_string());
        let n = self.n();
        self.keys.entry(k).or_insert_with(|| {
            let mut values: HashMap<String, Vec<u32>> = HashMap::new();
            let mut has = Bits::empty(n);
            // A class emptied by endpoint removals reads the labels of the last member it
            // had: a pod like it may join it again, in place.
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
            for i in network_sets_matching(u.cluster, sel) {
                b.or_with(&self.nets(&u.cluster.network_sets[i].nets));
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

/// The network sets whose labels `sel` matches, by position.
pub(super) fn network_sets_matching<'a>(cluster: &'a Cluster, sel: &'a Expr) -> impl Iterator<Item = usize> + 'a {
    (0..cluster.network_sets.len()).filter(move |&i| sel.matches(&cluster.network_set_view(i)))
}
