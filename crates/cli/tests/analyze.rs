//! `podwall analyze` as a user runs it on the shipped example cluster: one report of
//! every check, worst first, its formats and filters, its exit codes, and the README's
//! catalogue of finding IDs kept equal to the code's.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .expect("run podwall")
}

fn json(args: &[&str]) -> Value {
    let out = podwall(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn ids(v: &Value) -> Vec<String> {
    v["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_example_cluster_gathers_network_lint_and_rbac_findings_worst_first() {
    let v = json(&["analyze", "-f", "examples/", "--format", "json"]);
    let ids = ids(&v);
    for id in ["NP001", "NP002", "RB101", "RB102", "PL007"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing: {ids:?}");
    }
    let rank = |s: &str| ["critical", "high", "medium", "low", "info"].iter().position(|x| *x == s).unwrap();
    let sev: Vec<usize> =
        v["findings"].as_array().unwrap().iter().map(|f| rank(f["severity"].as_str().unwrap())).collect();
    assert!(sev.windows(2).all(|w| w[0] <= w[1]), "worst first: {sev:?}");
    // The unisolated debug pod is found from the engine, with its file and line.
    let debug = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "NP001" && f["origin"]["file"].as_str().is_some_and(|p| p.ends_with("debug.yaml")))
        .expect("NP001 on default/debug");
    assert_eq!(debug["origin"]["line"], 3);
}

#[test]
fn exit_is_1_only_with_a_finding_at_or_above_fail_on_severity() {
    assert_eq!(podwall(&["analyze", "-f", "examples/"]).status.code(), Some(0));
    assert_eq!(podwall(&["analyze", "-f", "examples/", "--fail-on-severity", "critical"]).status.code(), Some(1));
    let quiet = podwall(&["analyze", "-f", "examples/", "--fail-on-severity", "critical", "--disable", "RB101"]);
    assert_eq!(quiet.status.code(), Some(0), "the only critical finding is disabled");
}

#[test]
fn severity_and_disable_filter_the_report() {
    let v = json(&["analyze", "-f", "examples/", "--format", "json", "--severity", "high", "--disable", "RB102"]);
    assert_eq!(ids(&v), ["RB101"]);
}

#[test]
fn sarif_names_every_rule_and_locates_results_relative_to_the_repository() {
    let v = json(&["analyze", "-f", "examples/", "--format", "sarif"]);
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif"), "{}", v["$schema"]);
    let run = &v["runs"][0];
    let rules: Vec<&str> =
        run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for r in run["results"].as_array().unwrap() {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()), "{r}");
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()), "{r}");
        assert!(r["partialFingerprints"].is_object(), "{r}");
        if let Some(uri) = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str() {
            assert!(uri.starts_with("examples/"), "relative to the repository: {uri}");
        }
    }
}

#[test]
fn the_readme_lists_every_finding_id_the_code_knows() {
    let out = podwall(&["analyze", "--list-checks"]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let start =
        readme.find("<!-- checks:begin -->\n").expect("README marks the catalogue") + "<!-- checks:begin -->\n".len();
    let end = readme.find("<!-- checks:end -->").expect("README marks the catalogue's end");
    assert_eq!(
        &readme[start..end],
        table,
        "README's catalogue differs from `podwall analyze --list-checks`: paste its output"
    );
}

/// The OASIS SARIF 2.1.0 schema (errata 01), as published with the standard: what code
/// scanning services validate an upload against.
fn sarif_schema() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("schema JSON");
    jsonschema::draft4::new(&schema).expect("a valid draft-04 schema")
}

fn schema_errors(validator: &jsonschema::Validator, v: &Value) -> Vec<String> {
    validator.iter_errors(v).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0_by_the_oasis_schema() {
    let validator = sarif_schema();
    // The example cluster: every area's findings, with files and lines.
    let full = json(&["analyze", "-f", "examples/", "--format", "sarif"]);
    assert!(full["runs"][0]["results"].as_array().is_some_and(|r| r.len() > 10), "{full}");
    assert_eq!(schema_errors(&validator, &full), Vec::<String>::new());
    // No result at all still lists every rule and is a valid log.
    let none =
        json(&["analyze", "-f", "examples/", "--format", "sarif", "--severity", "critical", "--disable", "RB101"]);
    assert_eq!(none["runs"][0]["results"].as_array().map(Vec::len), Some(0), "{none}");
    assert_eq!(schema_errors(&validator, &none), Vec::<String>::new());
    // The schema is really applied: a level SARIF does not define is refused.
    let mut bad = full.clone();
    bad["runs"][0]["results"][0]["level"] = Value::from("severe");
    assert!(!schema_errors(&validator, &bad).is_empty(), "the validator must refuse an unknown level");
}

/// A Deployment, the ReplicaSet it made and three of its Pods, as `kubectl get
/// deploy,rs,pods -o yaml` hands them over: the pods name the ReplicaSet as owner, the
/// ReplicaSet the Deployment. One pod has a sidecar its template does not have.
fn deployment_dump() -> String {
    let container = "{name: web, image: nginx}";
    let template = format!("{{metadata: {{labels: {{app: web}}}}, spec: {{containers: [{container}]}}}}");
    let mut docs = vec![
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n".to_string(),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\n\
             spec: {{replicas: 3, selector: {{matchLabels: {{app: web}}}}, template: {template}}}\n"
        ),
        format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: web-5d4f, namespace: shop, \
             ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}}]}}\n\
             spec: {{replicas: 3, selector: {{matchLabels: {{app: web}}}}, template: {template}}}\n"
        ),
    ];
    for (k, sidecar) in
        [("a", ""), ("b", ""), ("c", ", {name: proxy, image: envoy, securityContext: {privileged: true}}")]
    {
        docs.push(format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-5d4f-{k}, namespace: shop, labels: {{app: web}}, \
             ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4f, uid: u2, controller: true}}]}}\n\
             spec: {{containers: [{container}{sidecar}]}}\nstatus: {{podIP: 10.0.0.{}}}\n",
            k.as_bytes()[0] - b'a' + 10
        ));
    }
    docs.join("---\n")
}

#[test]
fn findings_an_owner_already_has_are_said_once_on_it_with_how_many_it_owns() {
    let dir = std::env::temp_dir().join(format!("podwall-owned-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("dump.yaml");
    std::fs::write(&file, deployment_dump()).expect("dump");
    let v = json(&["analyze", "-f", file.to_str().expect("UTF-8 path"), "--format", "json"]);
    let findings = v["findings"].as_array().expect("findings");
    let on = |kind: &str, name: &str| -> Vec<&Value> {
        findings.iter().filter(|f| f["object"]["kind"] == kind && f["object"]["name"] == name).collect()
    };
    // The template's image has no tag (PL001).
    let deployment = on("Deployment", "web");
    let pl001: Vec<&&Value> = deployment.iter().filter(|f| f["id"] == "PL001").collect();
    assert_eq!(pl001.len(), 1, "{deployment:#?}");
    let message = pl001[0]["message"].as_str().expect("message");
    // The ReplicaSet and its three pods have it too: four objects, said on the Deployment.
    assert!(message.ends_with("(the same on 4 objects it owns in the input)"), "{message}");
    assert!(on("ReplicaSet", "web-5d4f").is_empty(), "{:#?}", on("ReplicaSet", "web-5d4f"));
    for pod in ["web-5d4f-a", "web-5d4f-b"] {
        assert!(on("Pod", pod).is_empty(), "{pod}: {:#?}", on("Pod", pod));
    }
    // The sidecar's findings are the third pod's own: its template has no such container.
    let c = on("Pod", "web-5d4f-c");
    assert!(!c.is_empty(), "the sidecar is reported");
    for f in &c {
        let m = f["message"].as_str().expect("message");
        assert!(m.contains("proxy") || m.contains("privileged"), "only the sidecar's: {m}");
    }
    assert!(c.iter().any(|f| f["id"] == "privileged"), "PSS baseline: a privileged container {c:#?}");
    std::fs::remove_dir_all(&dir).ok();
}
