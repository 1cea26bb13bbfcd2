//! A namespace update that tightens enforce dry-runs the namespace's existing pods, as
//! upstream's `ValidateNamespace` and `EvaluatePodsInNamespace` do
//! (k8s.io/pod-security-admission, admission/admission.go): AdmissionReview JSON in,
//! the AdmissionReview answered out; the pods are the Pods of the `-f` files.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use podwall_pod_security::admission::DryRunLimits;
use podwall_pod_security::config::{Config, Exemptions};
use podwall_webhook::bench::{create_request, review_body};
use podwall_webhook::review::{decode, encode, Response, ReviewOut};
use podwall_webhook::{Admission, Namespaces};
use serde_json::{json, Value};

fn scratch(text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "podwall-existing-pods-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join("cluster.json");
    std::fs::write(&path, text).expect("scratch file");
    path
}

/// A Pod in `namespace`, its one container `app` with this security context.
fn pod(namespace: &str, name: &str, security_context: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0", "securityContext": security_context}]}})
}

/// [`pod`], made by the controller with this UID.
fn owned(namespace: &str, name: &str, uid: &str, security_context: Value) -> Value {
    let mut p = pod(namespace, name, security_context);
    p["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true}]);
    p
}

fn privileged() -> Value {
    json!({"privileged": true})
}

/// Passes baseline, fails restricted.
fn plain() -> Value {
    json!({})
}

fn hardened() -> Value {
    json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}})
}

/// The webhook, configured with `config`, reading `objects` as its `-f` file.
fn webhook(config: Config, objects: &[Value]) -> Admission {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let (namespaces, _) = Namespaces::load(&[scratch(&list.to_string())], config.defaults).expect("the input reads");
    Admission::new(config, namespaces)
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

/// A namespace UPDATE from `old` labels to `new` ones, as the API server sends it (the
/// request's namespace is the namespace's name).
fn relabel(name: &str, old: Value, new: Value) -> Value {
    let mut request = create_request("uid-ns", name, ("", "namespaces"), namespace(name, new));
    request["operation"] = json!("UPDATE");
    request["oldObject"] = namespace(name, old);
    request["options"] = json!({"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"});
    request
}

/// The answer to `request`, read back from the AdmissionReview written.
fn ask(admission: &Admission, request: Value) -> Response {
    let request = decode(&review_body(request)).expect("a valid review");
    let out: ReviewOut = serde_json::from_slice(&encode(admission.review(&request))).expect("an AdmissionReview");
    assert_eq!(out.response.uid, "uid-ns");
    assert!(out.response.allowed && out.response.status.is_none(), "never refused: {:?}", out.response);
    out.response
}

fn enforce(level: &str) -> Value {
    json!({"pod-security.kubernetes.io/enforce": level})
}

const RESTRICTED_REASONS: &str =
    "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile";

#[test]
fn tightening_enforce_warns_with_the_existing_pods_that_would_violate_it() {
    let admission = webhook(
        Config::default(),
        &[
            namespace("shop", enforce("baseline")),
            pod("shop", "web", privileged()),
            pod("shop", "api", plain()),
            pod("shop", "ok", hardened()),
            pod("elsewhere", "other", privileged()),
        ],
    );
    let r = ask(&admission, relabel("shop", enforce("baseline"), enforce("restricted")));
    assert_eq!(
        r.warnings,
        [
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:latest\""
                .to_string(),
            format!("api: {RESTRICTED_REASONS}"),
            format!("web: privileged, {RESTRICTED_REASONS}"),
        ]
    );
    assert!(r.audit_annotations.is_empty());
    // From privileged (no label) to baseline: only the privileged pod.
    let r = ask(&admission, relabel("shop", json!({}), enforce("baseline")));
    assert_eq!(
        r.warnings,
        [
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "web: privileged"
        ]
    );
    // Tightened, but every pod complies: nothing to say.
    let admission = webhook(Config::default(), &[pod("shop", "ok", hardened())]);
    assert!(ask(&admission, relabel("shop", json!({}), enforce("restricted"))).warnings.is_empty());
}

#[test]
fn a_new_enforce_version_is_evaluated_whichever_way_it_moves() {
    // Passes restricted before v1.22 (no capabilities check), fails it at latest.
    let keeps_capabilities =
        json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    let admission = webhook(Config::default(), &[pod("shop", "caps", keeps_capabilities), pod("shop", "web", plain())]);
    let at = |version: &str| json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": version});
    let r = ask(&admission, relabel("shop", at("v1.21"), at("latest")));
    assert_eq!(
        r.warnings,
        [
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:latest\""
                .to_string(),
            "caps: unrestricted capabilities".to_string(),
            format!("web: {RESTRICTED_REASONS}"),
        ]
    );
    // To an older version too, and to a lower level at another version.
    let r = ask(&admission, relabel("shop", at("latest"), at("v1.21")));
    assert_eq!(
        r.warnings,
        [
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:v1.21\"",
            "web: allowPrivilegeEscalation != false, runAsNonRoot != true, seccompProfile",
        ]
    );
    let baseline_v1_20 = json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.20"});
    let r = ask(&admission, relabel("shop", at("latest"), baseline_v1_20));
    assert!(r.warnings.is_empty(), "evaluated, and nothing fails baseline: {:?}", r.warnings);
}

#[test]
fn pods_of_one_owner_are_named_once_with_a_count() {
    let admission = webhook(
        Config::default(),
        &[
            owned("shop", "web-b", "rs-1", privileged()),
            owned("shop", "web-a", "rs-1", privileged()),
            owned("shop", "web-c", "rs-1", privileged()),
            owned("shop", "db-1", "rs-2", json!({"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}})),
            owned("shop", "db-0", "rs-2", json!({"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}})),
            // Different specs, the same reasons: one warning, named by the first name.
            pod("shop", "z-lonely", json!({"privileged": true, "runAsUser": 0})),
            pod("shop", "fine", plain()),
        ],
    );
    let r = ask(&admission, relabel("shop", json!({}), enforce("baseline")));
    assert_eq!(
        r.warnings,
        [
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "db-0 (and 1 other pod): non-default capabilities, privileged",
            "web-a (and 3 other pods): privileged",
        ]
    );
}

#[test]
fn loosening_or_an_unchanged_level_evaluates_nothing() {
    let admission = webhook(Config::default(), &[pod("shop", "web", privileged())]);
    let cases = [
        ("restricted to baseline", enforce("restricted"), enforce("baseline")),
        ("unchanged", enforce("restricted"), enforce("restricted")),
        ("to privileged", enforce("restricted"), enforce("privileged")),
        ("label removed", enforce("baseline"), json!({})),
        (
            "other modes changed",
            enforce("baseline"),
            json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}),
        ),
        (
            "explicit latest",
            enforce("baseline"),
            json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest"}),
        ),
        ("privileged at an older version", json!({}), json!({"pod-security.kubernetes.io/enforce-version": "v1.0"})),
    ];
    for (case, old, new) in cases {
        assert!(ask(&admission, relabel("shop", old, new)).warnings.is_empty(), "{case}");
    }
    // The same change evaluates the pods.
    assert_eq!(ask(&admission, relabel("shop", enforce("privileged"), enforce("baseline"))).warnings.len(), 2);
}

#[test]
fn creating_a_namespace_evaluates_no_pods() {
    let admission = webhook(Config::default(), &[pod("shop", "web", privileged())]);
    let mut request = create_request("uid-ns", "shop", ("", "namespaces"), namespace("shop", enforce("restricted")));
    request["name"] = json!("shop");
    assert!(ask(&admission, request).warnings.is_empty());
}

#[test]
fn the_pod_check_limit_is_named_in_a_warning() {
    // Pods after the first of their controller go last, so the limit reaches the
    // other pods first (upstream's prioritizePods).
    let objects = [
        owned("shop", "rs-pod-1", "rs-1", privileged()),
        owned("shop", "rs-pod-2", "rs-1", privileged()),
        owned("shop", "rs-pod-3", "rs-1", privileged()),
        pod("shop", "unique", json!({"privileged": true, "runAsUser": 0})),
        pod("shop", "caps", json!({"capabilities": {"add": ["SYS_ADMIN"]}})),
    ];
    let mut admission = webhook(Config::default(), &objects);
    admission.dry_run.max_pods = 3;
    let r = ask(&admission, relabel("shop", json!({}), enforce("baseline")));
    assert_eq!(
        r.warnings,
        [
            "new PodSecurity enforce level only checked against the first 3 of 5 existing pods",
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "caps: non-default capabilities",
            "rs-pod-1 (and 1 other pod): privileged",
        ]
    );
    // Out of time after the first pod: one pod checked.
    admission.dry_run = DryRunLimits { timeout: Duration::ZERO, ..DryRunLimits::default() };
    let r = ask(&admission, relabel("shop", json!({}), enforce("baseline")));
    assert_eq!(
        r.warnings,
        [
            "new PodSecurity enforce level only checked against the first 1 of 5 existing pods",
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "rs-pod-1: privileged",
        ]
    );
}

#[test]
fn upstreams_limits_are_3000_pods_and_one_second() {
    assert_eq!(DryRunLimits::default(), DryRunLimits { max_pods: 3000, timeout: Duration::from_secs(1) });
    let pods: Vec<Value> = (0..3001).map(|i| pod("big", &format!("pod-{i:04}"), privileged())).collect();
    let mut admission = webhook(Config::default(), &pods);
    admission.dry_run.timeout = Duration::from_secs(600);
    let r = ask(&admission, relabel("big", json!({}), enforce("baseline")));
    assert_eq!(
        r.warnings,
        [
            "new PodSecurity enforce level only checked against the first 3000 of 3001 existing pods",
            "existing pods in namespace \"big\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "pod-0000 (and 2999 other pods): privileged",
        ]
    );
    let existing = admission.namespaces.pods_in("big").expect("pods");
    assert_eq!((existing.len(), existing.distinct_specs()), (3001, 1), "one spec, kept and judged once");
}

#[test]
fn an_exempt_namespace_evaluates_nothing() {
    let config = Config {
        exemptions: Exemptions { namespaces: vec!["shop".into()], ..Exemptions::default() },
        ..Config::default()
    };
    let admission = webhook(config, &[pod("shop", "web", privileged())]);
    let r = ask(&admission, relabel("shop", json!({}), enforce("restricted")));
    assert_eq!(
        r.warnings,
        ["namespace \"shop\" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored"]
    );
    // Upstream's own case: every mode set is named, with the version it takes.
    let labels = json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.0",
        "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "baseline"});
    let r = ask(&admission, relabel("shop", json!({}), labels.clone()));
    assert_eq!(
        r.warnings,
        ["namespace \"shop\" is exempt from Pod Security, and the policy (enforce=restricted:v1.0, audit=restricted:latest, warn=baseline:latest) will be ignored"]
    );
    // The same warning on CREATE; none when nothing is tightened or set.
    let mut request = create_request("uid-ns", "shop", ("", "namespaces"), namespace("shop", labels));
    request["name"] = json!("shop");
    assert_eq!(ask(&admission, request).warnings.len(), 1);
    assert!(ask(&admission, relabel("shop", enforce("restricted"), enforce("baseline"))).warnings.is_empty());
    assert!(ask(&admission, relabel("shop", json!({}), json!({"team": "a"}))).warnings.is_empty());
}

#[test]
fn existing_pods_of_an_exempt_runtime_class_are_left_out_and_an_exempt_user_changes_nothing() {
    let config = Config {
        exemptions: Exemptions {
            runtime_classes: vec!["kata".into()],
            usernames: vec!["ci-bot".into()],
            ..Exemptions::default()
        },
        ..Config::default()
    };
    let mut sandboxed = pod("shop", "sandboxed", privileged());
    sandboxed["spec"]["runtimeClassName"] = json!("kata");
    let mut other_class = pod("shop", "gvisor", privileged());
    other_class["spec"]["runtimeClassName"] = json!("gvisor");
    let mut admission = webhook(config, &[sandboxed, other_class, pod("shop", "web", privileged())]);
    admission.dry_run.max_pods = 1;
    let mut request = relabel("shop", json!({}), enforce("baseline"));
    request["userInfo"]["username"] = json!("ci-bot");
    let r = ask(&admission, request);
    assert_eq!(
        r.warnings,
        [
            "new PodSecurity enforce level only checked against the first 1 of 2 existing pods",
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "gvisor: privileged",
        ],
        "the exempt class counts neither among the checked nor the total"
    );
}

#[test]
fn without_pods_in_the_files_there_is_nothing_to_evaluate() {
    let admission = webhook(Config::default(), &[namespace("shop", enforce("baseline"))]);
    assert!(ask(&admission, relabel("shop", enforce("baseline"), enforce("restricted"))).warnings.is_empty());
    let admission = Admission::new(Config::default(), Namespaces::default());
    assert!(ask(&admission, relabel("shop", json!({}), enforce("restricted"))).warnings.is_empty());
}
