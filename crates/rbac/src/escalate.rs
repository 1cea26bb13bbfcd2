//! Multi-hop escalation: a graph over identities where an edge is "can become or act
//! as", searched for the shortest path from every subject to cluster-admin equivalence.
//!
//! Edges, each carrying the binding → role → rule that grants it:
//! - a service account or user is a member of `system:serviceaccounts[:NS]` and
//!   `system:authenticated` (and holds what they are granted);
//! - creating pods or workloads (create, or update/patch to change a template) in a
//!   namespace runs code as any service account there;
//! - exec/attach/portforward or ephemeral containers act as the service accounts of the
//!   pods running there (from the input's pods and workloads); `nodes/proxy` as every
//!   running pod's;
//! - `create serviceaccounts/token` and impersonating service accounts become those
//!   service accounts; impersonating users becomes those users;
//! - impersonating the group `system:masters` (with any user to impersonate), `bind` on
//!   an admin-equivalent ClusterRole with `create clusterrolebindings`, `escalate` with
//!   `update` on ClusterRoles it is bound to, and approving certificate requests for API
//!   clients (with creating them) reach cluster-admin at once;
//! - holding cluster-admin's rule (`*` verbs, groups and resources) through a
//!   ClusterRoleBinding, or being in `system:masters`, is cluster-admin.
//!
//! The search is one breadth-first walk back from cluster-admin, so every identity's
//! shortest path comes out of one pass over the edges.
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::authorize::Grant;
use crate::objects::{BindingKind, RoleKind, Rule, SubjectKind};
use crate::risky::{grants, grants_any, is_admin_rule, Names, EXEC_RESOURCES, WORKLOAD_RESOURCES, WORKLOAD_VERBS};
use crate::user::{
    service_accounts_group, split_service_account, ALL_SERVICE_ACCOUNTS, ANONYMOUS, AUTHENTICATED, MASTERS,
    UNAUTHENTICATED,
};
use crate::Rbac;
use podwall_findings::{Finding, Origin, Severity};

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// A user.
    User(String),
    /// A group (whoever is in it).
    Group(String),
    /// A service account (namespace, name).
    ServiceAccount(String, String),
    /// Whichever service account of a namespace one picks.
    AnyServiceAccountIn(String),
    /// Whichever pod running in a namespace one picks.
    PodsIn(String),
    /// Cluster-admin, or anything equivalent.
    ClusterAdmin,
}

impl Node {
    /// How the node reads.
    pub fn display(&self) -> String {
        match self {
            Node::User(n) => format!("User {n}"),
            Node::Group(n) => format!("Group {n}"),
            Node::ServiceAccount(ns, n) => format!("ServiceAccount {ns}/{n}"),
            Node::AnyServiceAccountIn(ns) => format!("any service account of namespace {ns}"),
            Node::PodsIn(ns) => format!("the pods running in namespace {ns}"),
            Node::ClusterAdmin => "cluster-admin".to_string(),
        }
    }

    /// Whether it stands for a subject (not a choice or the goal).
    pub fn is_identity(&self) -> bool {
        matches!(self, Node::User(_) | Node::Group(_) | Node::ServiceAccount(..))
    }
}

/// What an edge does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum How {
    /// Is a member of a group.
    MemberOf,
    /// Creates or changes pods or workloads in a namespace.
    RunsPods,
    /// Picks one of the namespace's service accounts (for its pod, token, ...).
    Picks,
    /// A pod runs as this service account.
    RunsAs,
    /// Execs (attaches, port-forwards, adds ephemeral containers) into running pods.
    Execs,
    /// Reaches every node's kubelet through `nodes/proxy`.
    NodesProxy,
    /// Mints a token for the service account.
    MintsToken,
    /// Impersonates.
    Impersonates,
    /// Binds an admin-equivalent ClusterRole to itself.
    Binds,
    /// Rewrites a ClusterRole it is bound to (`escalate` and `update`).
    Escalates,
    /// Has a client certificate approved for any user or group.
    ApprovesCertificates,
    /// Holds cluster-admin's rule.
    HoldsAdmin,
    /// `system:masters`: allowed everything by the API server.
    Superuser,
}

/// One edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Where it leads.
    pub to: usize,
    /// What it is.
    pub how: How,
    /// The grant that makes it (none for memberships and choices).
    pub via: Option<Grant>,
    /// A second grant it needs (for two-permission escalations).
    pub with: Option<Grant>,
}

/// The escalation graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Nodes.
    pub nodes: Vec<Node>,
    index: HashMap<Node, usize>,
    /// Edges out of each node.
    pub edges: Vec<Vec<Edge>>,
}

/// A shortest path to cluster-admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The starting node.
    pub from: usize,
    /// The edges taken, in order; the last leads to cluster-admin.
    pub steps: Vec<Edge>,
}

impl Graph {
    fn node(&mut self, n: Node) -> usize {
        if let Some(&i) = self.index.get(&n) {
            return i;
        }
        self.nodes.push(n.clone());
        self.edges.push(Vec::new());
        self.index.insert(n, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, how: How, via: Option<Grant>, with: Option<Grant>) {
        self.edges[from].push(Edge { to, how, via, with });
    }

    /// The index of a node, if the graph has it.
    pub fn find(&self, n: &Node) -> Option<usize> {
        self.index.get(n).copied()
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.iter().map(Vec::len).sum()
    }

    /// For every node, the first edge of a shortest path to cluster-admin (`None` when
    /// it has none, and for cluster-admin itself).
    pub fn shortest(&self) -> Vec<Option<usize>> {
        let n = self.nodes.len();
        let mut next: Vec<Option<usize>> = vec![None; n];
        let Some(goal) = self.find(&Node::ClusterAdmin) else { return next };
        let mut back: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for (u, out) in self.edges.iter().enumerate() {
            for (k, e) in out.iter().enumerate() {
                back[e.to].push((u, k));
            }
        }
        let mut seen = vec![false; n];
        seen[goal] = true;
        let mut queue = VecDeque::from([goal]);
        while let Some(v) = queue.pop_front() {
            for &(u, k) in &back[v] {
                if !seen[u] {
                    seen[u] = true;
                    next[u] = Some(k);
                    queue.push_back(u);
                }
            }
        }
        next
    }

    /// The shortest path from `from`, given [`Graph::shortest`]'s answer.
    pub fn path(&self, next: &[Option<usize>], from: usize) -> Option<Path> {
        let mut steps = Vec::new();
        let mut at = from;
        while let Some(k) = next[at] {
            let e = self.edges[at][k].clone();
            at = e.to;
            steps.push(e);
        }
        (!steps.is_empty()).then_some(Path { from, steps })
    }
}

/// What one identity is granted, as the graph needs it (each with the grant).
#[derive(Default)]
struct Caps {
    admin: Option<Grant>,
    runs_pods: Vec<(Option<String>, Grant)>,
    execs: Vec<(Option<String>, Names, Grant)>,
    nodes_proxy: Option<Grant>,
    tokens: Vec<(Option<String>, Names, Grant)>,
    impersonate_sas: Vec<(Option<String>, Names, Grant)>,
    impersonate_users: Vec<(Names, Grant)>,
    impersonate_groups: Vec<(Names, Grant)>,
    bind_cluster_roles: Vec<(Names, Grant)>,
    create_cluster_role_bindings: Option<Grant>,
    escalate_cluster_roles: Option<Grant>,
    update_cluster_roles: Option<Grant>,
    csr_create: Option<Grant>,
    csr_approve: Option<Grant>,
    bound_cluster_roles: BTreeSet<usize>,
}

const GROUP: &str = crate::objects::GROUP;

impl Caps {
    fn add(&mut self, rule: &Rule, scope: Option<&str>, g: Grant) {
        let cluster = scope.is_none();
        let ns = scope.map(str::to_string);
        if cluster && is_admin_rule(rule) {
            self.admin.get_or_insert(g);
        }
        if grants_any(rule, WORKLOAD_VERBS, WORKLOAD_RESOURCES).is_some() {
            self.runs_pods.push((ns.clone(), g));
        }
        let execs = grants_any(rule, &["create", "get"], EXEC_RESOURCES)
            .or_else(|| grants_any(rule, &["update", "patch"], &[("", "pods", "ephemeralcontainers")]));
        if let Some(n) = execs {
            self.execs.push((ns.clone(), n, g));
        }
        if let Some(n) = grants_any(rule, &["create"], &[("", "serviceaccounts", "token")]) {
            self.tokens.push((ns.clone(), n, g));
        }
        if let Some(n) = grants(rule, "impersonate", "", "serviceaccounts", "") {
            self.impersonate_sas.push((ns.clone(), n, g));
        }
        if !cluster {
            return; // what follows is about cluster-scoped resources
        }
        if grants_any(rule, &["get", "create"], &[("", "nodes", "proxy")]).is_some() {
            self.nodes_proxy.get_or_insert(g);
        }
        if let Some(n) = grants(rule, "impersonate", "", "users", "") {
            self.impersonate_users.push((n, g));
        }
        if let Some(n) = grants(rule, "impersonate", "", "groups", "") {
            self.impersonate_groups.push((n, g));
        }
        if let Some(n) = grants(rule, "bind", GROUP, "clusterroles", "") {
            self.bind_cluster_roles.push((n, g));
        }
        if grants(rule, "create", GROUP, "clusterrolebindings", "").is_some() {
            self.create_cluster_role_bindings.get_or_insert(g);
        }
        if grants(rule, "escalate", GROUP, "clusterroles", "") == Some(Names::Any) {
            self.escalate_cluster_roles.get_or_insert(g);
        }
        if grants_any(rule, &["update", "patch"], &[(GROUP, "clusterroles", "")]) == Some(Names::Any) {
            self.update_cluster_roles.get_or_insert(g);
        }
        if grants(rule, "create", "certificates.k8s.io", "certificatesigningrequests", "").is_some() {
            self.csr_create.get_or_insert(g);
        }
        let approval = grants_any(
            rule,
            &["update", "patch"],
            &[("certificates.k8s.io", "certificatesigningrequests", "approval")],
        );
        let signer = grants(rule, "approve", "certificates.k8s.io", "signers", "");
        if approval.is_some()
            && signer.is_some_and(|n| n.has("kubernetes.io/kube-apiserver-client") || n.has("kubernetes.io/*"))
        {
            self.csr_approve.get_or_insert(g);
        }
    }
}

impl Rbac {
    /// The identity a binding subject is (a User named like a service account is that
    /// service account).
    fn subject_node(&self, binding: usize, s: usize) -> Option<Node> {
        let b = &self.bindings[binding];
        let subject = &b.subjects[s];
        Some(match subject.kind {
            SubjectKind::User => match split_service_account(&subject.name) {
                Some((ns, n)) => Node::ServiceAccount(ns.into(), n.into()),
                None => Node::User(subject.name.clone()),
            },
            SubjectKind::Group => Node::Group(subject.name.clone()),
            SubjectKind::ServiceAccount => {
                let ns = subject.namespace.clone().or_else(|| b.namespace.clone())?;
                if b.kind == BindingKind::ClusterRoleBinding && subject.namespace.is_none() {
                    return None;
                }
                Node::ServiceAccount(ns, subject.name.clone())
            }
        })
    }

    /// Builds the escalation graph.
    pub fn escalation_graph(&self) -> Graph {
        let mut g = Graph::default();
        let admin = g.node(Node::ClusterAdmin);
        let masters = g.node(Node::Group(MASTERS.into()));
        g.edge(masters, admin, How::Superuser, None, None);
        // Every identity, and what each is granted.
        let mut caps: HashMap<usize, Caps> = HashMap::new();
        for (b, binding) in self.bindings.iter().enumerate() {
            let role = self.role_of(binding);
            for s in 0..binding.subjects.len() {
                let Some(node) = self.subject_node(b, s) else { continue };
                let id = g.node(node);
                let Some(r) = role else { continue };
                let c = caps.entry(id).or_default();
                if binding.kind == BindingKind::ClusterRoleBinding && self.roles[r].kind == RoleKind::ClusterRole {
                    c.bound_cluster_roles.insert(r);
                }
                for (i, rule) in self.roles[r].rules.iter().enumerate() {
                    c.add(rule, binding.namespace.as_deref(), Grant { binding: b, role: r, rule: i, subject: s });
                }
            }
        }
        let mut sa_by_ns: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for sa in &self.service_accounts {
            let id = g.node(Node::ServiceAccount(sa.namespace.clone(), sa.name.clone()));
            sa_by_ns.entry(sa.namespace.clone()).or_default().insert(id);
        }
        let mut pods_by_ns: BTreeMap<String, BTreeMap<usize, Vec<String>>> = BTreeMap::new();
        for p in &self.pods {
            let id = g.node(Node::ServiceAccount(p.namespace.clone(), p.service_account.clone()));
            sa_by_ns.entry(p.namespace.clone()).or_default().insert(id);
            pods_by_ns.entry(p.namespace.clone()).or_default().entry(id).or_default().push(p.name.clone());
        }
        for i in 0..g.nodes.len() {
            if let Node::ServiceAccount(ns, _) = &g.nodes[i] {
                let ns = ns.clone();
                sa_by_ns.entry(ns).or_default().insert(i);
            }
        }
        // Memberships in the groups the API server puts everyone in.
        let group_ids: HashMap<String, usize> = g
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Group(name) => Some((name.clone(), i)),
                _ => None,
            })
            .collect();
        for i in 0..g.nodes.len() {
            let groups: Vec<String> = match &g.nodes[i] {
                Node::ServiceAccount(ns, _) => {
                    vec![ALL_SERVICE_ACCOUNTS.into(), service_accounts_group(ns), AUTHENTICATED.into()]
                }
                Node::User(n) if n == ANONYMOUS => vec![UNAUTHENTICATED.into()],
                Node::User(_) => vec![AUTHENTICATED.into()],
                _ => Vec::new(),
            };
            for grp in groups {
                if let Some(&to) = group_ids.get(&grp) {
                    g.edge(i, to, How::MemberOf, None, None);
                }
            }
        }
        // Choices: any service account of a namespace, the pods running there.
        let namespaces: Vec<String> = sa_by_ns.keys().cloned().collect();
        for ns in &namespaces {
            let hub = g.node(Node::AnyServiceAccountIn(ns.clone()));
            for &sa in &sa_by_ns[ns] {
                g.edge(hub, sa, How::Picks, None, None);
            }
        }
        for (ns, sas) in &pods_by_ns {
            let hub = g.node(Node::PodsIn(ns.clone()));
            for &sa in sas.keys() {
                g.edge(hub, sa, How::RunsAs, None, None);
            }
        }
        let in_scope = |scope: &Option<String>| -> Vec<String> {
            match scope {
                Some(ns) => vec![ns.clone()],
                None => namespaces.clone(),
            }
        };
        let users: Vec<(String, usize)> = g
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::User(u) => Some((u.clone(), i)),
                _ => None,
            })
            .collect();
        let admin_roles: BTreeSet<&str> = self
            .roles
            .iter()
            .filter(|r| r.kind == RoleKind::ClusterRole && r.rules.iter().any(is_admin_rule))
            .map(|r| r.name.as_str())
            .collect();
        let mut ids: Vec<usize> = caps.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let c = &caps[&id];
            if let Some(gr) = c.admin {
                g.edge(id, admin, How::HoldsAdmin, Some(gr), None);
            }
            for (scope, gr) in &c.runs_pods {
                for ns in in_scope(scope) {
                    if let Some(hub) = g.find(&Node::AnyServiceAccountIn(ns)) {
                        g.edge(id, hub, How::RunsPods, Some(*gr), None);
                    }
                }
            }
            for (scope, names, gr) in &c.execs {
                for ns in in_scope(scope) {
                    let Some(pods) = pods_by_ns.get(&ns) else { continue };
                    if *names == Names::Any {
                        if let Some(hub) = g.find(&Node::PodsIn(ns)) {
                            g.edge(id, hub, How::Execs, Some(*gr), None);
                        }
                        continue;
                    }
                    for (&sa, pod_names) in pods {
                        if pod_names.iter().any(|p| names.has(p)) {
                            g.edge(id, sa, How::Execs, Some(*gr), None);
                        }
                    }
                }
            }
            if let Some(gr) = c.nodes_proxy {
                for ns in pods_by_ns.keys() {
                    if let Some(hub) = g.find(&Node::PodsIn(ns.clone())) {
                        g.edge(id, hub, How::NodesProxy, Some(gr), None);
                    }
                }
            }
            for (list, how) in [(&c.tokens, How::MintsToken), (&c.impersonate_sas, How::Impersonates)] {
                for (scope, names, gr) in list {
                    for ns in in_scope(scope) {
                        if *names == Names::Any {
                            if let Some(hub) = g.find(&Node::AnyServiceAccountIn(ns)) {
                                g.edge(id, hub, how.clone(), Some(*gr), None);
                            }
                            continue;
                        }
                        for &sa in sa_by_ns.get(&ns).into_iter().flatten() {
                            if let Node::ServiceAccount(_, n) = &g.nodes[sa] {
                                if names.has(n) {
                                    g.edge(id, sa, how.clone(), Some(*gr), None);
                                }
                            }
                        }
                    }
                }
            }
            for (names, gr) in &c.impersonate_users {
                for (u, to) in &users {
                    if names.has(u) && *to != id {
                        g.edge(id, *to, How::Impersonates, Some(*gr), None);
                    }
                }
            }
            // Groups are impersonated along with some user or service account.
            let some_user = c.impersonate_users.first().map(|x| x.1).or_else(|| c.impersonate_sas.first().map(|x| x.2));
            if let Some(user_grant) = some_user {
                for (names, gr) in &c.impersonate_groups {
                    if names.has(MASTERS) {
                        g.edge(id, admin, How::Impersonates, Some(*gr), Some(user_grant));
                        continue;
                    }
                    for (name, &to) in &group_ids {
                        if names.has(name) && to != id {
                            g.edge(id, to, How::Impersonates, Some(*gr), Some(user_grant));
                        }
                    }
                }
            }
            if let Some(create) = c.create_cluster_role_bindings {
                let bindable = c.bind_cluster_roles.iter().find(|(names, _)| match names {
                    // Every cluster has the bootstrap `cluster-admin` to bind.
                    Names::Any => true,
                    Names::Only(n) => n.iter().any(|x| admin_roles.contains(x.as_str())),
                });
                if let Some((_, gr)) = bindable {
                    g.edge(id, admin, How::Binds, Some(*gr), Some(create));
                }
            }
            if let (Some(esc), Some(upd)) = (c.escalate_cluster_roles, c.update_cluster_roles) {
                if !c.bound_cluster_roles.is_empty() {
                    g.edge(id, admin, How::Escalates, Some(esc), Some(upd));
                }
            }
            if let (Some(create), Some(approve)) = (c.csr_create, c.csr_approve) {
                g.edge(id, admin, How::ApprovesCertificates, Some(approve), Some(create));
            }
        }
        g
    }

    /// One step of a path in words.
    pub fn step_text(&self, graph: &Graph, e: &Edge) -> String {
        let to = graph.nodes[e.to].display();
        let via = |gr: &Option<Grant>| gr.map(|g| format!(" ({})", self.describe(&g))).unwrap_or_default();
        let with = if e.with == e.via { String::new() } else { via(&e.with) };
        match e.how {
            How::MemberOf => format!("is in {to}"),
            How::RunsPods => format!("creates pods or workloads{}, so runs as {to}", via(&e.via)),
            How::Picks => format!("picks {to}"),
            How::RunsAs => format!("whose pod runs as {to}"),
            How::Execs => format!("execs into pods{}, so acts as {to}", via(&e.via)),
            How::NodesProxy => format!("reaches the kubelets through nodes/proxy{}, so acts as {to}", via(&e.via)),
            How::MintsToken => format!("mints a token{} for {to}", via(&e.via)),
            How::Impersonates => match e.to == graph.find(&Node::ClusterAdmin).unwrap_or(usize::MAX) {
                true => format!("impersonates group system:masters together with a user{}{with}: {to}", via(&e.via)),
                false => format!("impersonates{} {to}", via(&e.via)),
            },
            How::Binds => format!(
                "binds an admin-equivalent ClusterRole to itself{} with a new ClusterRoleBinding{with}: {to}",
                via(&e.via)
            ),
            How::Escalates => format!(
                "rewrites a ClusterRole it is bound to into cluster-admin's (escalate{}, update{with}): {to}",
                via(&e.via)
            ),
            How::ApprovesCertificates => format!(
                "approves its own client certificate for any user or group{}, having requested it{with}: {to}",
                via(&e.via)
            ),
            How::HoldsAdmin => format!("holds cluster-admin's rule{}", via(&e.via)),
            How::Superuser => "is allowed everything by the API server (system:masters)".to_string(),
        }
    }
}

impl Rbac {
    /// Every identity's shortest escalation path that starts with a grant of its own
    /// (identities that hold cluster-admin's rule directly, or only through a group's
    /// path, are reported by that grant and that group), shortest first.
    pub fn escalation_paths(&self, graph: &Graph) -> Vec<Path> {
        let next = graph.shortest();
        let mut paths: Vec<Path> = (0..graph.nodes.len())
            .filter(|&i| graph.nodes[i].is_identity())
            .filter_map(|i| graph.path(&next, i))
            .filter(|p| !matches!(p.steps[0].how, How::HoldsAdmin | How::Superuser | How::MemberOf))
            .collect();
        paths.sort_by(|a, b| {
            a.steps.len().cmp(&b.steps.len()).then_with(|| graph.nodes[a.from].cmp(&graph.nodes[b.from]))
        });
        paths
    }

    /// A path as a finding: the subject, each step, and where its first grant was read.
    pub fn escalation_finding(&self, graph: &Graph, path: &Path) -> Finding {
        let hops = path.steps.iter().filter(|e| e.via.is_some()).count();
        let steps: Vec<String> = path.steps.iter().map(|e| self.step_text(graph, e)).collect();
        let mut f = Finding::new(
            crate::risky::ids::ESCALATION,
            if hops <= 2 { Severity::Critical } else { Severity::High },
            format!("reaches cluster-admin in {}: {}", plural(path.steps.len()), steps.join("; then ")),
        )
        .subject(graph.nodes[path.from].display())
        .remediation("remove the first grant of the path, or the service accounts and pods it leads to");
        if let Some(g) = path.steps.iter().find_map(|e| e.via) {
            let b = &self.bindings[g.binding];
            f = f.origin(Origin::file(&b.source.file, b.source.line));
        }
        f
    }
}

/// `1 step`, `3 steps`.
pub fn plural(steps: usize) -> String {
    if steps == 1 {
        "1 step".into()
    } else {
        format!("{steps} steps")
    }
}
