//! What endpoints live in: namespaces (relabelled in place), and network sets, service
//! accounts and nodes (a rebuild where answers can depend on them).
use std::collections::BTreeMap;
use std::sync::Arc;

use podwall_ir::{Endpoint, Namespace, NetworkSet, Node, ServiceAccount};

use super::super::classes;
use super::{Live, Update};

impl Live {
    /// Whether some endpoint or network set lives in namespace `name`, so that
    /// selectors read its labels.
    pub(super) fn namespace_in_use(&self, name: &str) -> bool {
        let index = &self.index;
        let endpoints =
            index.sel.namespaces.get(name).is_some_and(|b| b.iter().any(|c| !index.classes[c].members.is_empty()));
        endpoints || index.cluster.network_sets.iter().any(|s| s.namespace.as_deref() == Some(name))
    }

    /// Classes emptied by removals whose last member `forget` matches can no longer be
    /// joined in place: what they were resolved against is gone.
    pub(super) fn forget_ghosts(&mut self, forget: impl Fn(&Endpoint) -> bool) {
        for c in &mut self.index.classes {
            if c.ghost.as_deref().is_some_and(&forget) {
                c.ghost = None;
            }
        }
    }

    /// Notes as touched the endpoints of these namespaces and those whose address lies
    /// in one of their network sets (selectors read those sets' namespace labels).
    pub(super) fn touch_namespaces(&mut self, names: &[String]) {
        let nets: Vec<ipnet::IpNet> = self
            .index
            .cluster
            .network_sets
            .iter()
            .filter(|s| s.namespace.as_ref().is_some_and(|n| names.contains(n)))
            .flat_map(|s| s.nets.iter().copied())
            .collect();
        self.touch_where(|e| names.contains(&e.namespace) || nets.iter().any(|n| classes::contains(n, e.ip)));
    }

    /// Adds or replaces a namespace. See [`Live::upsert_namespaces`].
    pub fn upsert_namespace(&mut self, ns: Namespace) -> Update {
        self.upsert_namespaces(vec![ns])
    }

    /// Adds or replaces namespaces. The classes of a relabelled namespace are read again
    /// in place (see [`Live::recolumn`]). A namespace holding network sets also has the
    /// classes inside their ranges read again: Calico selectors on its labels pick those
    /// ranges, and the classes are grouped by every range, so only their bits can turn.
    pub fn upsert_namespaces(&mut self, list: Vec<Namespace>) -> Update {
        let names: Vec<String> = list
            .iter()
            .filter(|ns| self.index.cluster.namespaces.get(&ns.name).is_none_or(|old| old.labels != ns.labels))
            .map(|ns| ns.name.clone())
            .collect();
        let index = &self.index;
        let set_nets: Vec<ipnet::IpNet> = index
            .cluster
            .network_sets
            .iter()
            .filter(|s| s.namespace.as_ref().is_some_and(|n| names.contains(n)))
            .flat_map(|s| s.nets.iter().copied())
            .collect();
        if let Some(net) = set_nets.iter().find(|net| !index.sel.net_bits.contains_key(net)) {
            // (Every range of a network set groups the classes; should one not, rebuild.)
            let why = format!("the range {net} of a relabelled namespace's network set is not indexed");
            self.touch_namespaces(&names);
            let mut cluster = (*self.index.cluster).clone();
            for ns in list {
                cluster.namespaces.insert(ns.name.clone(), ns);
            }
            return self.rebuild(Arc::new(cluster), why);
        }
        // Their endpoints, and the classes in the ranges of their network sets, read new
        // labels (`recolumn` notes them as touched).
        let index = &self.index;
        let mut ks: Vec<usize> = names
            .iter()
            .filter_map(|n| index.sel.namespaces.get(n))
            .chain(set_nets.iter().map(|net| &index.sel.net_bits[net]))
            .flat_map(|b| b.iter())
            .collect();
        ks.sort_unstable();
        ks.dedup();
        // Their classes leave the label indexes under the old labels...
        let index = &mut self.index;
        index.sel.forget_labels(
            &super::super::selectors::Universe { cluster: &index.cluster, classes: &index.classes },
            &ks,
        );
        // ...the namespaces change (declared or not, each is stored)...
        let cluster = Arc::make_mut(&mut index.cluster);
        for ns in list {
            cluster.namespaces.insert(ns.name.clone(), ns);
        }
        if names.is_empty() {
            return Update::in_place(0, 0);
        }
        // ...and the classes are read again under the new ones.
        self.recolumn(&ks, None)
    }

    /// Removes a namespace; `None` when there is none of that name. In place when no
    /// endpoint or network set lives in it any more; otherwise the index is rebuilt.
    pub fn remove_namespace(&mut self, name: &str) -> Option<Update> {
        if !self.index.cluster.namespaces.contains_key(name) {
            return None;
        }
        if self.namespace_in_use(name) {
            self.touch_namespaces(&[name.to_string()]);
            let mut cluster = (*self.index.cluster).clone();
            cluster.namespaces.remove(name);
            let why = format!("namespace {name} was removed while endpoints or network sets live in it");
            return Some(self.rebuild(Arc::new(cluster), why));
        }
        self.forget_ghosts(|g| g.namespace == name);
        Arc::make_mut(&mut self.index.cluster).namespaces.remove(name);
        Some(Update::in_place(0, 0))
    }

    /// Replaces the network sets. Calico selectors pick their address ranges, and the
    /// ranges group the classes, so different sets rebuild the index.
    pub fn set_network_sets(&mut self, sets: Vec<NetworkSet>) -> Update {
        if self.index.cluster.network_sets == sets {
            return Update::in_place(0, 0);
        }
        let mut names: Vec<&str> = Vec::new();
        let old = &self.index.cluster.network_sets;
        for s in old.iter().filter(|s| !sets.contains(s)).chain(sets.iter().filter(|s| !old.contains(s))) {
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
        let why = format!("network sets changed ({}): selectors pick their ranges", names.join(", "));
        // Endpoints in the ranges of the sets that changed are picked otherwise now.
        let nets: Vec<ipnet::IpNet> = old
            .iter()
            .filter(|s| !sets.contains(s))
            .chain(sets.iter().filter(|s| !old.contains(s)))
            .flat_map(|s| s.nets.iter().copied())
            .collect();
        self.touch_where(|e| nets.iter().any(|n| classes::contains(n, e.ip)));
        let mut cluster = (*self.index.cluster).clone();
        cluster.network_sets = sets;
        self.rebuild(Arc::new(cluster), why)
    }

    /// Replaces the service accounts. Changes to ones no endpoint runs as are made in
    /// place; a service account some endpoint runs as (Calico `pcsa.*` labels and
    /// serviceAccounts selectors read it) rebuilds the index.
    pub fn set_service_accounts(&mut self, accounts: BTreeMap<(String, String), ServiceAccount>) -> Update {
        let old = &self.index.cluster.service_accounts;
        let mut touched: Vec<(String, String)> = Vec::new();
        for (k, v) in old {
            if accounts.get(k) != Some(v) {
                touched.push(k.clone());
            }
        }
        for k in accounts.keys() {
            if !old.contains_key(k) {
                touched.push(k.clone());
            }
        }
        if touched.is_empty() {
            return Update::in_place(0, 0);
        }
        let uses = |ep: &Endpoint, (ns, sa): &(String, String)| ep.namespace == *ns && ep.service_account == *sa;
        let in_use: Vec<String> = touched
            .iter()
            .filter(|k| self.index.cluster.endpoints.iter().any(|e| uses(e, k)))
            .map(|(ns, sa)| format!("{ns}/{sa}"))
            .collect();
        if !in_use.is_empty() {
            self.touch_where(|e| touched.iter().any(|k| uses(e, k)));
            let mut cluster = (*self.index.cluster).clone();
            cluster.service_accounts = accounts;
            let why = format!("service accounts endpoints run as changed ({}): selectors read them", in_use.join(", "));
            return self.rebuild(Arc::new(cluster), why);
        }
        self.forget_ghosts(|g| touched.iter().any(|k| uses(g, k)));
        Arc::make_mut(&mut self.index.cluster).service_accounts = accounts;
        Update::in_place(0, 0)
    }

    /// Replaces the nodes. Nodes reach answers only through what the dialects compile
    /// from them (AdminNetworkPolicy `nodes` peers become address ranges, host-network
    /// pods take their node's address): the index reads none of them, so nothing is
    /// re-answered.
    pub fn set_nodes(&mut self, nodes: BTreeMap<String, Node>) -> Update {
        Arc::make_mut(&mut self.index.cluster).nodes = nodes;
        Update::in_place(0, 0)
    }
}
