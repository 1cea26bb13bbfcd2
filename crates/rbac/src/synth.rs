//! Deterministic synthetic RBAC for measurements: namespaces with service accounts and
//! pods, Roles and ClusterRoles drawn from a palette of ordinary and dangerous rules
//! (aggregated ClusterRoles among them), and bindings to users, groups and service
//! accounts, so that escalation paths of several hops exist.
use serde_json::{json, Value};

/// How much to make.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Roles and ClusterRoles together.
    pub roles: usize,
    /// RoleBindings and ClusterRoleBindings together.
    pub bindings: usize,
    /// Namespaces.
    pub namespaces: usize,
    /// Seed.
    pub seed: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A palette of rules, ordinary first; every tenth pick is from the dangerous end.
fn palette() -> Vec<Value> {
    let r = |groups: &[&str], resources: &[&str], verbs: &[&str]| json!({"apiGroups": groups, "resources": resources, "verbs": verbs});
    vec![
        r(&[""], &["pods", "services", "configmaps"], &["get", "list", "watch"]),
        r(&["apps"], &["deployments", "replicasets"], &["get", "list", "watch"]),
        r(&[""], &["pods/log"], &["get"]),
        r(&["batch"], &["jobs", "cronjobs"], &["get", "list"]),
        r(&["networking.k8s.io"], &["networkpolicies", "ingresses"], &["get", "list", "watch"]),
        r(&[""], &["events"], &["create", "patch"]),
        r(&["coordination.k8s.io"], &["leases"], &["get", "create", "update"]),
        r(&["example.com"], &["widgets", "widgets/status"], &["get", "update"]),
        r(&[""], &["configmaps"], &["update"]),
        // dangerous
        r(&[""], &["secrets"], &["get", "list"]),
        r(&["apps"], &["deployments"], &["create", "update", "patch"]),
        r(&[""], &["pods"], &["create"]),
        r(&[""], &["pods/exec"], &["create"]),
        r(&[""], &["serviceaccounts/token"], &["create"]),
        r(&[""], &["serviceaccounts"], &["impersonate"]),
        r(&["*"], &["*/scale"], &["update"]),
    ]
}

const ORDINARY: usize = 9;

/// The objects, in `kubectl get -o json` form (each a plain object).
pub fn generate(s: Sizes) -> Vec<Value> {
    let mut rng = Rng(s.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let pal = palette();
    let ns_count = s.namespaces.max(1);
    let ns = |i: usize| if i == 0 { "kube-system".to_string() } else { format!("ns-{i}") };
    let mut out = Vec::new();
    let rbac = "rbac.authorization.k8s.io/v1";
    // Service accounts and pods: three of each per namespace.
    for n in 0..ns_count {
        for k in 0..3 {
            out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{k}"), "namespace": ns(n)}}));
            out.push(
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("pod-{k}"), "namespace": ns(n)},
                "spec": {"serviceAccountName": format!("sa-{k}"), "containers": [{"name": "c", "image": "i"}]}}),
            );
        }
    }
    let pick_rules = |rng: &mut Rng| -> Vec<Value> {
        let count = 1 + rng.below(4);
        (0..count)
            .map(|_| {
                if rng.below(10) == 0 {
                    pal[ORDINARY + rng.below(pal.len() - ORDINARY)].clone()
                } else {
                    pal[rng.below(ORDINARY)].clone()
                }
            })
            .collect()
    };
    // ClusterRoles: a tenth of the roles; cluster-admin, and aggregated ones.
    let cluster_roles = (s.roles / 10).max(2);
    out.push(json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "cluster-admin"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]}));
    for c in 1..cluster_roles {
        let labels = json!({"tier": format!("t{}", c % 7)});
        if c % 25 == 0 {
            out.push(json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": format!("cr-{c}"), "labels": {"tier": format!("t{}", (c + 1) % 7)}},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"tier": format!("t{}", c % 7)}}]}}));
        } else {
            out.push(json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": format!("cr-{c}"), "labels": labels}, "rules": pick_rules(&mut rng)}));
        }
    }
    for r in 0..s.roles.saturating_sub(cluster_roles) {
        out.push(json!({"apiVersion": rbac, "kind": "Role", "metadata": {"name": format!("role-{r}"), "namespace": ns(r % ns_count)}, "rules": pick_rules(&mut rng)}));
    }
    let roles_per_ns = (s.roles.saturating_sub(cluster_roles) / ns_count).max(1);
    let subject = |rng: &mut Rng, own_ns: &str| -> Value {
        match rng.below(4) {
            0 => {
                json!({"kind": "User", "name": format!("user-{}", rng.below(2000)), "apiGroup": "rbac.authorization.k8s.io"})
            }
            1 => {
                json!({"kind": "Group", "name": format!("group-{}", rng.below(200)), "apiGroup": "rbac.authorization.k8s.io"})
            }
            _ => json!({"kind": "ServiceAccount", "name": format!("sa-{}", rng.below(3)), "namespace": own_ns}),
        }
    };
    // A few ClusterRoleBindings: cluster-admin to one kube-system account, the rest to
    // random ClusterRoles.
    let cluster_bindings = (s.bindings / 50).max(1);
    out.push(json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "crb-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa-0", "namespace": "kube-system"}]}));
    for b in 1..cluster_bindings {
        let n = ns(rng.below(ns_count));
        let subjects: Vec<Value> = (0..1 + rng.below(2)).map(|_| subject(&mut rng, &n)).collect();
        out.push(json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": format!("crb-{b}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr-{}", 1 + rng.below(cluster_roles - 1))},
            "subjects": subjects}));
    }
    for b in 0..s.bindings.saturating_sub(cluster_bindings) {
        let n = b % ns_count;
        let nsname = ns(n);
        let (kind, name) = if rng.below(3) == 0 {
            ("ClusterRole", format!("cr-{}", 1 + rng.below(cluster_roles - 1)))
        } else {
            let r = n + ns_count * rng.below(roles_per_ns);
            ("Role", format!("role-{r}"))
        };
        let subjects: Vec<Value> = (0..1 + rng.below(3)).map(|_| subject(&mut rng, &nsname)).collect();
        out.push(json!({"apiVersion": rbac, "kind": "RoleBinding", "metadata": {"name": format!("rb-{b}"), "namespace": nsname},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}, "subjects": subjects}));
    }
    out
}

/// The objects as one `kind: List`, as `kubectl get -o json` prints several.
pub fn as_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}
