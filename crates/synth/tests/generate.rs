mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::{check_cluster, replica_share, Counts};
use podwall_synth::{generate, write, Params};
use serde_json::Value;

fn params(pods: usize, namespaces: usize, policies: usize, seed: u64) -> Params {
    Params { pods, namespaces, policies, seed, ..Params::default() }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "podwall-synth-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn same_seed_same_output() {
    let p = params(500, 20, 80, 42);
    assert_eq!(generate(&p), generate(&p));
    let q = Params { seed: 43, ..p };
    assert_ne!(generate(&p), generate(&q));
}

#[test]
fn exact_counts_and_well_formed() {
    let cases = [
        (0, 1, 0),
        (0, 3, 5),
        (1, 1, 1),
        (5, 2, 3),
        (3, 3, 0),
        (4, 3, 7),
        (10, 4, 10),
        (12, 12, 40),
        (1000, 50, 200),
        (3000, 300, 600),
        (20_000, 40, 1000),
    ];
    for (pods, namespaces, policies) in cases {
        for seed in 0..3 {
            let objects = generate(&params(pods, namespaces, policies, seed));
            let counts =
                check_cluster(&objects).unwrap_or_else(|e| panic!("{pods}/{namespaces}/{policies} seed {seed}: {e}"));
            assert_eq!(counts, Counts { namespaces, pods, policies }, "{pods}/{namespaces}/{policies} seed {seed}");
        }
    }
}

#[test]
fn no_namespaces_no_objects() {
    assert!(generate(&params(10, 0, 10, 1)).is_empty());
}

#[test]
fn system_namespaces() {
    let objects = generate(&params(200, 5, 30, 9));
    let ns: Vec<&str> =
        objects.iter().filter(|o| o["kind"] == "Namespace").filter_map(|o| o["metadata"]["name"].as_str()).collect();
    assert_eq!(ns, ["ns-0000", "ns-0001", "ns-0002", "monitoring", "kube-system"]);
    let dns: Vec<&Value> =
        objects.iter().filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == "kube-system").collect();
    assert_eq!(dns.len(), 2);
    for d in dns {
        assert_eq!(d["metadata"]["labels"]["k8s-app"], "kube-dns");
        let ports = &d["spec"]["containers"][0]["ports"];
        assert!(ports
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "dns" && p["containerPort"] == 53 && p["protocol"] == "UDP"));
        assert!(ports
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "dns-tcp" && p["containerPort"] == 53 && p["protocol"] == "TCP"));
    }
    assert!(objects.iter().any(|o| o["kind"] == "Pod"
        && o["metadata"]["namespace"] == "monitoring"
        && o["metadata"]["labels"]["app"] == "prometheus"));

    // Below three namespaces there are no system namespaces.
    let objects = generate(&params(20, 2, 5, 9));
    assert!(objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .all(|o| o["metadata"]["name"].as_str().unwrap().starts_with("ns-")));
}

#[test]
fn realistic_shape() {
    let objects = generate(&params(20_000, 500, 2000, 5));
    let share = replica_share(&objects);
    assert!((0.6..=0.85).contains(&share), "replica share {share}");

    // Pods carry the documented labels.
    for o in
        objects.iter().filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"].as_str().unwrap().starts_with("ns-"))
    {
        let l = &o["metadata"]["labels"];
        for key in ["app", "tier", "version", "team", "env"] {
            assert!(l[key].is_string(), "{key} missing on {o}");
        }
    }

    // Pods are skewed: the biggest namespace holds far more than the average.
    let mut per_ns = std::collections::HashMap::<&str, usize>::new();
    for o in objects.iter().filter(|o| o["kind"] == "Pod") {
        *per_ns.entry(o["metadata"]["namespace"].as_str().unwrap()).or_default() += 1;
    }
    let max = per_ns.values().copied().max().unwrap();
    assert!(max > 20 * 20_000 / 500, "max namespace holds {max} pods");

    // Every policy shape shows up, and all the selector operators.
    let text = serde_json::to_string(&objects).unwrap();
    for needle in [
        "default-deny-ingress-",
        "default-deny-all-",
        "allow-same-app-",
        "allow-monitoring-",
        "allow-dns-egress-",
        "allow-internet-egress-",
        "allow-ipblock-",
        "allow-tier-",
        "allow-selected-",
        "allow-port-ranges-",
        "allow-backend-egress-",
        "allow-all-ingress-",
        "allow-from-namespace-",
        "allow-dns-ingress-",
        "prometheus-egress-",
        r#""operator":"In""#,
        r#""operator":"NotIn""#,
        r#""operator":"Exists""#,
        r#""operator":"DoesNotExist""#,
        r#""endPort""#,
        r#""except""#,
        r#""protocol":"UDP""#,
    ] {
        assert!(text.contains(needle), "{needle} never generated");
    }
}

#[test]
fn write_matches_generate() {
    let p = params(700, 30, 120, 3);
    let dir = TempDir::new("write");
    let paths = write(&p, &dir.0).unwrap();
    assert_eq!(paths.len(), 30);
    let mut read = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["kind"], "List");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items[0]["kind"], "Namespace");
        let ns = items[0]["metadata"]["name"].as_str().unwrap();
        assert_eq!(name, format!("{ns}.json"));
        for item in &items[1..] {
            assert_eq!(item["metadata"]["namespace"], ns);
        }
        read.extend(items.iter().cloned());
    }
    assert!(paths.iter().any(|p| p.ends_with("ns-0001.json")));
    assert!(paths.iter().any(|p| p.ends_with("kube-system.json")));
    assert_eq!(read, generate(&p));

    // Writing again gives the same bytes.
    let first: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let again = write(&p, &dir.0).unwrap();
    assert_eq!(again, paths);
    let second: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(first, second);
}

fn with_crds(p: Params, calico_policies: usize, admin_policies: usize) -> Params {
    Params { calico_policies, admin_policies, ..p }
}

fn count(objects: &[Value], api: &str, kinds: &[&str]) -> usize {
    objects.iter().filter(|o| o["apiVersion"] == api && kinds.contains(&o["kind"].as_str().unwrap_or(""))).count()
}

/// Calico and AdminNetworkPolicy objects come after the Kubernetes ones, which do not
/// change when they are asked for.
#[test]
fn calico_and_admin_objects_leave_the_kubernetes_objects_alone() {
    for (pods, namespaces, policies) in [(0, 1, 0), (5, 2, 3), (700, 30, 120)] {
        let p = params(pods, namespaces, policies, 4);
        let plain = generate(&p);
        let mixed = generate(&with_crds(p, 40, 9));
        assert_eq!(mixed[..plain.len()], plain[..], "{p:?}");
        let api = |o: &Value| o["apiVersion"].as_str().unwrap_or_default().to_string();
        assert!(
            mixed[plain.len()..]
                .iter()
                .all(|o| ["projectcalico.org/v3", "policy.networking.k8s.io/v1alpha1"].contains(&api(o).as_str())),
            "{p:?}"
        );
        assert_eq!(generate(&with_crds(p, 0, 0)), plain);
    }
}

#[test]
fn exact_calico_and_admin_counts() {
    const CALICO: &str = "projectcalico.org/v3";
    const ANP: &str = "policy.networking.k8s.io/v1alpha1";
    for (k, a) in [(0, 0), (1, 0), (0, 1), (2, 3), (6, 3), (7, 4), (250, 40)] {
        let p = with_crds(params(1000, 50, 100, 2), k, a);
        let objects = generate(&p);
        assert_eq!(count(&objects, CALICO, &["NetworkPolicy", "GlobalNetworkPolicy"]), k, "{p:?}");
        assert_eq!(count(&objects, ANP, &["AdminNetworkPolicy"]), a, "{p:?}");
        assert_eq!(count(&objects, ANP, &["BaselineAdminNetworkPolicy"]), usize::from(a > 0), "{p:?}");
        assert_eq!(count(&objects, CALICO, &["Tier"]), if k > 0 { 2 } else { 0 }, "{p:?}");
        assert_eq!(count(&objects, CALICO, &["GlobalNetworkSet"]) > 0, k > 0, "{p:?}");
        // The Kubernetes part keeps its counts and is well-formed.
        let k8s: Vec<Value> =
            objects.iter().filter(|o| o["apiVersion"] != CALICO && o["apiVersion"] != ANP).cloned().collect();
        assert_eq!(check_cluster(&k8s).unwrap(), Counts { namespaces: 50, pods: 1000, policies: 100 });
        // Namespaced objects live in declared namespaces; names are unique.
        let declared: std::collections::HashSet<&str> = objects
            .iter()
            .filter(|o| o["kind"] == "Namespace")
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        let mut names = std::collections::HashSet::new();
        for o in &objects[k8s.len()..] {
            if let Some(ns) = o["metadata"]["namespace"].as_str() {
                assert!(declared.contains(ns), "{o}");
            }
            let key =
                (o["kind"].to_string(), o["metadata"]["namespace"].to_string(), o["metadata"]["name"].to_string());
            assert!(names.insert(key), "duplicate {o}");
        }
        // Priorities are in range and distinct (there are few enough here).
        let priorities: Vec<i64> = objects.iter().filter_map(|o| o["spec"]["priority"].as_i64()).collect();
        assert!(priorities.iter().all(|p| (0..=1000).contains(p)), "{priorities:?}");
        let distinct: std::collections::HashSet<i64> = priorities.iter().copied().collect();
        assert_eq!(distinct.len(), priorities.len(), "{priorities:?}");
    }
}

/// Every documented Calico and AdminNetworkPolicy shape shows up.
#[test]
fn calico_and_admin_shapes() {
    let objects = generate(&with_crds(params(20_000, 500, 2000, 5), 1000, 60));
    let text = serde_json::to_string(&objects).unwrap();
    for needle in [
        r#""name":"security"}"#,
        r#""name":"platform"}"#,
        r#""defaultAction":"Pass""#,
        "cloud-metadata",
        "link-local",
        "threat-feed-",
        "corp-ranges",
        "partner-apis",
        r#""kind":"NetworkSet""#,
        "security.quarantine",
        "security.block-metadata",
        "security.block-threats",
        "platform.allow-dns",
        "platform.allow-monitoring",
        "platform.pass-rest",
        "platform.pass-team-",
        "platform.deny-dev-to-prod",
        "security.deny-dev-to-",
        "platform.allow-corp-egress-",
        "security.log-external",
        "allow-partners-",
        "deny-canary-",
        "backend-egress-",
        "platform.isolate-",
        "-from-sa-",
        "db-only-from-backends-",
        "&& tier in {'backend', 'db'}",
        r#""action":"Log""#,
        r#""action":"Pass""#,
        r#""action":"Deny""#,
        r#""notSelector""#,
        r#""notNets""#,
        r#""serviceAccounts""#,
        r#""8000:8999""#,
        "allow-monitoring",
        "protect-kube-system",
        "deny-metadata",
        "isolate-team-",
        "deny-to-",
        "pass-frontends-",
        "deny-egress-ranges-",
        r#""name":"itself""#,
        r#""namedPort""#,
        r#""portRange""#,
        r#""networks""#,
        r#""kind":"BaselineAdminNetworkPolicy""#,
    ] {
        assert!(text.contains(needle), "{needle} never generated");
    }
    // Calico policies without an order run after the Kubernetes NetworkPolicies.
    assert!(objects.iter().any(|o| o["apiVersion"] == "projectcalico.org/v3"
        && o["kind"] == "NetworkPolicy"
        && o["spec"].get("order").is_none()));
}

#[test]
fn write_puts_calico_and_admin_objects_in_their_own_files() {
    let plain = params(700, 30, 120, 3);
    let p = with_crds(plain, 50, 6);
    let dir = TempDir::new("write-crds");
    let paths = write(&p, &dir.0).unwrap();
    assert_eq!(paths.len(), 32);
    assert!(paths[30].ends_with("calico.json") && paths[31].ends_with("admin.json"), "{paths:?}");
    let mut read = Vec::new();
    for path in &paths {
        let list: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!((&list["apiVersion"], &list["kind"]), (&Value::from("v1"), &Value::from("List")));
        read.extend(list["items"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(read, generate(&p));
    // The per-namespace files are those of the plain cluster, byte for byte.
    let plain_dir = TempDir::new("write-plain");
    let plain_paths = write(&plain, &plain_dir.0).unwrap();
    assert_eq!(plain_paths.len(), 30);
    for (a, b) in plain_paths.iter().zip(&paths) {
        assert_eq!(a.file_name(), b.file_name());
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap(), "{}", b.display());
    }
}

/// `cargo test -p podwall-synth --release -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release mode"]
fn big_cluster_timing() {
    let p = params(100_000, 5_000, 10_000, 1);
    let t = Instant::now();
    let objects = generate(&p);
    let gen = t.elapsed();
    let counts = check_cluster(&objects).unwrap();
    assert_eq!(counts, Counts { namespaces: 5_000, pods: 100_000, policies: 10_000 });
    let share = replica_share(&objects);
    drop(objects);
    let dir = TempDir::new("big");
    let t = Instant::now();
    let paths = write(&p, &dir.0).unwrap();
    let wrote = t.elapsed();
    let bytes: u64 = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    println!(
        "generate: {gen:?}; generate+write: {wrote:?} ({} files, {:.1} MiB); replica share {share:.3}",
        paths.len(),
        bytes as f64 / (1 << 20) as f64
    );
}
