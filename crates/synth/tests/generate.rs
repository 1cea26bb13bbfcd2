mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::{check_cluster, replica_share, Counts};
use podwall_synth::{generate, write, Params};
use serde_json::Value;

fn params(pods: usize, namespaces: usize, policies: usize, seed: u64) -> Params {
    Params { pods, namespaces, policies, seed }
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
