//! The webhook over real HTTPS, with real AdmissionReview JSON, against what upstream's
//! PodSecurity admission (admission/admission.go, admission/response.go) answers.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use podwall_pod_security::config::{self, Config};
use podwall_webhook::bench::{create_request, review_body, Client, SAMPLE_NAMESPACES};
use podwall_webhook::namespaces::Unknown;
use podwall_webhook::review::ReviewOut;
use podwall_webhook::{tls, Admission, Namespaces};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The namespaces beyond the benchmark's `locked` (enforce restricted) and `team`
/// (enforce baseline, warn and audit restricted).
const MORE_NAMESPACES: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: quiet
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: privileged
---
apiVersion: v1
kind: Namespace
metadata:
  name: typo
  labels:
    pod-security.kubernetes.io/enforce: Restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: open
";

const EXEMPTING: &str = "\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
    exemptions:
      namespaces: [locked-but-exempt]
      runtimeClasses: [kata]
      usernames: [ci-bot]
";

fn scratch(name: &str, text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "podwall-webhook-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("scratch file");
    path
}

struct Webhook {
    client: Client,
    tls: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A webhook on a loopback port, with a fresh self-signed certificate read from PEM
/// files, the test namespaces read from a manifest file, and `config`.
async fn start(config: Option<&str>) -> Webhook {
    start_with(config, Unknown::Refuse).await
}

/// [`start`], with what a namespace not in the files gets.
async fn start_with(config: Option<&str>, unknown: Unknown) -> Webhook {
    let (cert, key) = tls::self_signed().expect("certificate");
    let quiet: tls::ReloadLog = Arc::new(|_| ());
    let server_tls =
        tls::server_config(&scratch("tls.crt", &cert), &scratch("tls.key", &key), quiet).expect("server TLS");
    let config = match config {
        Some(text) => config::from_file(scratch("admission.yaml", text).to_str().expect("path")).expect("config"),
        None => Config::default(),
    };
    let (namespaces, _) = Namespaces::load(
        &[scratch("namespaces.yaml", &format!("{SAMPLE_NAMESPACES}---\n{MORE_NAMESPACES}"))],
        config.defaults,
    )
    .expect("namespaces");
    let admission = podwall_webhook::server::State::new(Admission::new(config, namespaces.with_unknown(unknown)));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(podwall_webhook::server::serve(listener, server_tls, admission, async {
        let _ = stopped.await;
    }));
    let tls = tls::client_config(&cert).expect("client TLS");
    let client = Client::connect(addr, tls.clone()).await.expect("connect");
    Webhook { client, tls, addr, _stop: stop }
}

fn pod(name: &str, container: Value) -> Value {
    let mut c = json!({"name": "app", "image": "registry.example/app:1.0"});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
        c.extend(extra.clone());
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [c]}})
}

fn hardened() -> Value {
    json!({"securityContext": {
        "allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}
    }})
}

fn privileged() -> Value {
    json!({"securityContext": {"privileged": true}})
}

fn deployment(name: &str, pod: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod["spec"].clone()}}
    })
}

impl Webhook {
    async fn ask(&mut self, request: Value) -> ReviewOut {
        let (status, body) = self.client.review(review_body(request)).await.expect("an answer");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("an AdmissionReview")
    }

    async fn create(&mut self, namespace: &str, resource: (&str, &str), object: Value) -> ReviewOut {
        self.ask(create_request("uid-1", namespace, resource, object)).await
    }
}

fn annotation<'a>(r: &'a ReviewOut, key: &str) -> Option<&'a str> {
    r.response.audit_annotations.get(key).map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_denies_a_pod_with_upstreams_forbidden_status_and_no_warning() {
    let mut w = start(None).await;
    let r = w.create("locked", ("", "pods"), pod("bad", privileged())).await;
    assert_eq!((r.api_version.as_str(), r.kind.as_str()), ("admission.k8s.io/v1", "AdmissionReview"));
    assert_eq!(r.response.uid, "uid-1", "the uid is echoed");
    assert!(!r.response.allowed);
    let status = r.response.status.as_ref().expect("a status");
    assert_eq!((status.code, status.reason.as_deref()), (Some(403), Some("Forbidden")));
    let message = status.message.as_deref().unwrap_or_default();
    let prefix = "pods \"bad\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"app\" must set securityContext.allowPrivilegeEscalation=false)";
    assert!(message.starts_with(prefix), "{message}");
    let details = status.details.as_ref().expect("details");
    assert_eq!((details.kind.as_deref(), details.name.as_deref()), (Some("pods"), Some("bad")));
    assert_eq!(annotation(&r, "enforce-policy"), Some("restricted:latest"));
    assert!(r.response.warnings.is_empty(), "upstream sends no warning with a denial");
    assert_eq!(annotation(&r, "audit-violations"), None, "audit is privileged here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admitted_pod_carries_the_enforce_policy_it_was_judged_at() {
    let mut w = start(None).await;
    let r = w.create("locked", ("", "pods"), pod("ok", hardened())).await;
    assert!(r.response.allowed && r.response.status.is_none() && r.response.warnings.is_empty());
    assert_eq!(r.response.audit_annotations.len(), 1);
    assert_eq!(annotation(&r, "enforce-policy"), Some("restricted:latest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_mode_warns_and_audit_mode_annotates_a_pod_enforce_admits() {
    let mut w = start(None).await;
    let r = w.create("team", ("", "pods"), pod("plain", json!({}))).await;
    assert!(r.response.allowed);
    let expected = "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"app\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"app\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"app\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"app\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")";
    assert_eq!(r.response.warnings, [expected]);
    assert_eq!(annotation(&r, "audit-violations"), Some(expected));
    assert_eq!(annotation(&r, "enforce-policy"), Some("baseline:latest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_is_never_denied_and_warns_at_the_enforce_level_when_no_warn_label_is_set() {
    let mut w = start(None).await;
    let r = w.create("locked", ("apps", "deployments"), deployment("web", pod("web", privileged()))).await;
    assert!(r.response.allowed && r.response.status.is_none());
    assert_eq!(r.response.warnings.len(), 1);
    assert!(r.response.warnings[0]
        .starts_with("would violate PodSecurity \"restricted:latest\": privileged (container \"app\""));
    assert_eq!(annotation(&r, "enforce-policy"), None, "enforce does not judge workload objects");
    // An explicit warn=privileged silences it, as upstream: audit and warn privileged.
    let r = w.create("quiet", ("apps", "deployments"), deployment("web", pod("web", privileged()))).await;
    assert!(r.response.allowed && r.response.warnings.is_empty() && r.response.audit_annotations.is_empty());
    // Every kind with a pod template is judged, the CronJob's two levels down.
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": pod("x", privileged())}}}});
    let r = w.create("locked", ("batch", "cronjobs"), cron).await;
    assert!(r.response.allowed && r.response.warnings.len() == 1, "{:?}", r.response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemptions_by_namespace_user_and_runtime_class_admit_with_the_reason() {
    let mut w = start(Some(EXEMPTING)).await;
    let r = w.create("locked-but-exempt", ("", "pods"), pod("a", privileged())).await;
    assert!(r.response.allowed);
    assert_eq!(annotation(&r, "exempt"), Some("namespace"));
    let mut request = create_request("uid-2", "locked", ("", "pods"), pod("b", privileged()));
    request["userInfo"]["username"] = json!("ci-bot");
    let r = w.ask(request).await;
    assert!(r.response.allowed);
    assert_eq!(annotation(&r, "exempt"), Some("user"));
    let mut kata = pod("c", privileged());
    kata["spec"]["runtimeClassName"] = json!("kata");
    let r = w.create("locked", ("", "pods"), kata).await;
    assert!(r.response.allowed);
    assert_eq!(annotation(&r, "exempt"), Some("runtimeClass"));
    // Not exempt: denied.
    let r = w.create("locked", ("", "pods"), pod("d", privileged())).await;
    assert!(!r.response.allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlabelled_namespace_takes_the_configured_defaults() {
    let mut w = start(None).await;
    let r = w.create("open", ("", "pods"), pod("p", privileged())).await;
    assert!(r.response.allowed);
    assert_eq!(annotation(&r, "enforce-policy"), Some("privileged:latest"));
    let mut w = start_with(Some(EXEMPTING), Unknown::Defaults).await;
    let r = w.create("not-in-the-files", ("", "pods"), pod("p", privileged())).await;
    assert!(!r.response.allowed, "defaults enforce baseline");
    let message = r.response.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.starts_with("pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": privileged"),
        "{message}"
    );
}

/// admission.go `ValidatePod`: when the namespace cannot be fetched the plugin answers
/// `NewInternalError("failed to lookup namespace %q")` — a Pod is refused, whatever
/// the defaults; `ValidatePodController` admits a workload with the lookup error in
/// the audit annotations. Exemptions are checked before the lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_the_plugin_cannot_look_up_refuses_pods_and_admits_workloads() {
    let mut w = start(None).await;
    let r = w.create("not-in-the-files", ("", "pods"), pod("p", hardened())).await;
    assert!(!r.response.allowed, "a pod in an unknown namespace is refused");
    let status = r.response.status.clone().expect("status");
    assert_eq!(status.code, Some(500));
    assert_eq!(status.reason.as_deref(), Some("InternalError"));
    assert_eq!(
        status.message.as_deref(),
        Some("Internal error occurred: failed to lookup namespace \"not-in-the-files\"")
    );
    assert_eq!(annotation(&r, "error"), Some("namespace \"not-in-the-files\" not found"));
    let r = w.create("not-in-the-files", ("apps", "deployments"), deployment("d", pod("p", privileged()))).await;
    assert!(r.response.allowed, "a workload is never refused");
    assert_eq!(
        annotation(&r, "error"),
        Some("failed to lookup namespace \"not-in-the-files\": namespace \"not-in-the-files\" not found")
    );
    // `locked-but-exempt` is in no file: its exemption answers before any lookup.
    let mut w = start(Some(EXEMPTING)).await;
    let r = w.create("locked-but-exempt", ("", "pods"), pod("p", privileged())).await;
    assert!(r.response.allowed, "an exempt namespace is never looked up");
    assert_eq!(annotation(&r, "exempt"), Some("namespace"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_enforce_label_fails_closed_and_is_named_in_the_error_annotation() {
    let mut w = start(None).await;
    let r = w.create("typo", ("", "pods"), pod("p", json!({}))).await;
    assert!(!r.response.allowed, "an unreadable enforce level is restricted");
    assert_eq!(
        annotation(&r, "error"),
        Some("Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"Restricted\": must be one of privileged, baseline, restricted")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_update_is_judged_only_when_an_image_or_container_changes() {
    let mut w = start(None).await;
    let old = pod("p", privileged());
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    let mut request = create_request("uid-3", "locked", ("", "pods"), relabelled);
    request["operation"] = json!("UPDATE");
    request["oldObject"] = old.clone();
    let r = w.ask(request.clone()).await;
    assert!(r.response.allowed && r.response.audit_annotations.is_empty(), "{:?}", r.response);
    request["object"]["spec"]["containers"][0]["image"] = json!("registry.example/app:2.0");
    let r = w.ask(request).await;
    assert!(!r.response.allowed, "a new image is judged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_pod_subresources_pass_and_ephemeral_containers_are_judged() {
    let mut w = start(None).await;
    let mut request = create_request("uid-4", "locked", ("", "pods"), pod("p", privileged()));
    request["subResource"] = json!("status");
    assert!(w.ask(request.clone()).await.response.allowed);
    request["subResource"] = json!("ephemeralcontainers");
    request["operation"] = json!("UPDATE");
    let mut debugged = pod("p", hardened());
    debugged["spec"]["ephemeralContainers"] =
        json!([{"name": "debug", "image": "busybox", "securityContext": {"privileged": true}}]);
    request["object"] = debugged;
    request["oldObject"] = pod("p", hardened());
    let r = w.ask(request).await;
    assert!(!r.response.allowed);
    let message = r.response.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains("container \"debug\" must not set securityContext.privileged=true"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_with_a_label_the_plugin_cannot_read_is_refused_as_invalid() {
    let mut w = start(None).await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "new", "labels": {"pod-security.kubernetes.io/enforce-version": "v1.05"}}});
    let r = w.create("", ("", "namespaces"), ns).await;
    assert!(!r.response.allowed);
    let status = r.response.status.expect("a status");
    assert_eq!((status.code, status.reason.as_deref()), (Some(422), Some("Invalid")));
    assert_eq!(
        status.message.as_deref(),
        Some("Namespace \"new\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: \"v1.05\": must be \"latest\" or \"v1.x\"")
    );
    let fine = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}});
    assert!(w.create("", ("", "namespaces"), fine).await.response.allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_review_gets_http_400_saying_why_and_the_server_goes_on() {
    let mut w = start(None).await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "malformed AdmissionReview: expected ident"),
        (
            br#"{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}"#.to_vec(),
            "request",
        ),
        (br#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}"#.to_vec(), "no `request` in the review"),
        (
            br#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "kind": 5}}"#
                .to_vec(),
            "request.kind",
        ),
        (
            review_body(
                json!({"uid": "", "kind": {"kind": "Pod"}, "resource": {"resource": "pods"}, "operation": "CREATE"}),
            ),
            "request.uid is empty",
        ),
        (br#"{"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}"#.to_vec(), "kind must be \"AdmissionReview\""),
    ];
    for (body, says) in cases {
        let (status, answer) = w.client.review(body.clone()).await.expect("an answer on the same connection");
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(answer.contains(says), "{answer:?} should say {says:?}");
    }
    let (status, answer) = w
        .client
        .review(br#"{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}"#.to_vec())
        .await
        .expect("answer");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&answer).contains("apiVersion must be \"admission.k8s.io/v1\""));
    // Still serving, on the same connection and on a new one.
    let r = w.create("locked", ("", "pods"), pod("ok", hardened())).await;
    assert!(r.response.allowed);
    let mut other = Client::connect(w.addr, w.tls.clone()).await.expect("a new connection");
    let (status, body) = other.send("GET", "/healthz", Vec::new()).await.expect("healthz");
    assert_eq!((status.as_u16(), body.as_slice()), (200, b"ok\n".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_and_other_paths_and_methods_are_refused() {
    let mut w = start(None).await;
    let (status, _) = w.client.send("GET", "/healthz", Vec::new()).await.expect("answer");
    assert_eq!(status, 200);
    let (status, _) = w.client.send("GET", "/validate", Vec::new()).await.expect("answer");
    assert_eq!(status, 405);
    let (status, _) = w.client.send("POST", "/mutate", Vec::new()).await.expect("answer");
    assert_eq!(status, 404);
}

/// Whether a fresh connection's handshake succeeds, trusting exactly `ca`, and the
/// webhook answers on it.
async fn healthy_trusting(addr: std::net::SocketAddr, ca: &str) -> bool {
    let Ok(mut client) = Client::connect(addr, tls::client_config(ca).expect("client TLS")).await else { return false };
    client.send("GET", "/healthz", Vec::new()).await.is_ok_and(|(status, _)| status == 200)
}

#[tokio::test]
async fn a_replaced_certificate_is_served_without_a_restart_and_a_broken_one_keeps_the_last() {
    let (cert_a, key_a) = tls::self_signed().expect("certificate");
    let cert = scratch("tls.crt", &cert_a);
    let key = cert.with_file_name("tls.key");
    std::fs::write(&key, &key_a).expect("key");
    let events = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let heard = events.clone();
    let log: tls::ReloadLog =
        Arc::new(move |r| heard.lock().expect("log").push(format!("{:?}", r.err().map(|e| e.to_string()))));
    let server_tls = tls::server_config(&cert, &key, log).expect("server TLS");
    let (namespaces, _) =
        Namespaces::load(&[scratch("ns.yaml", SAMPLE_NAMESPACES)], Config::default().defaults).expect("ns");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let admission = podwall_webhook::server::State::new(Admission::new(Config::default(), namespaces));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(podwall_webhook::server::serve(listener, server_tls, admission, async {
        let _ = stopped.await;
    }));
    assert!(healthy_trusting(addr, &cert_a).await, "serves the first certificate");

    // Replaced the way a Secret volume is: new files renamed into place, both of them.
    let (cert_b, key_b) = tls::self_signed().expect("certificate");
    for (path, text) in [(&cert, &cert_b), (&key, &key_b)] {
        let next = path.with_extension("next");
        std::fs::write(&next, text).expect("write");
        std::fs::rename(&next, path).expect("rename");
    }
    tokio::time::sleep(tls::RECHECK + std::time::Duration::from_millis(200)).await;
    assert!(healthy_trusting(addr, &cert_b).await, "serves the replaced certificate");
    assert!(!healthy_trusting(addr, &cert_a).await, "the first certificate is no longer served");

    // Half a rotation: a certificate whose key is not there yet. The last good pair stays.
    let (cert_c, _) = tls::self_signed().expect("certificate");
    std::fs::write(&cert, &cert_c).expect("write");
    tokio::time::sleep(tls::RECHECK + std::time::Duration::from_millis(200)).await;
    assert!(healthy_trusting(addr, &cert_b).await, "a pair that does not match keeps the previous one");
    assert!(!healthy_trusting(addr, &cert_c).await);
    let events = events.lock().expect("log").clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], "None", "{events:?}");
    assert!(events[1].contains("tls.crt") || events[1].contains("TLS"), "{events:?}");
}

/// Every line of a text exposition is a comment (`# HELP NAME TEXT`, `# TYPE NAME
/// counter|gauge|histogram`) or a sample `NAME{LABELS} VALUE` whose family was typed
/// before it; the samples by name and labels.
fn exposition(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut typed = std::collections::BTreeSet::new();
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE NAME KIND");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name = series.split('{').next().expect("name");
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        let family =
            ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).filter(|f| typed.contains(*f));
        assert!(typed.contains(name) || family.is_some(), "{name} sampled before its TYPE");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        }
        samples.insert(series.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("value of {line:?}")));
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_text_exposition_and_count_reviews_by_kind_and_outcome() {
    let mut w = start(None).await;
    let (status, content_type, body) = w.client.get("/metrics").await.expect("metrics");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let before = exposition(&String::from_utf8(body).expect("UTF-8"));
    assert_eq!(before.get("podwall_webhook_namespaces"), Some(&5.0), "the five namespaces of the files: {before:?}");
    assert_eq!(before.get("podwall_webhook_request_seconds_count"), Some(&0.0));
    assert!(!before.contains_key("podwall_webhook_api_up"), "no API server followed: {before:?}");

    assert!(w.create("locked", ("", "pods"), pod("ok", hardened())).await.response.allowed);
    assert!(!w.create("locked", ("", "pods"), pod("bad", json!({}))).await.response.allowed);
    assert!(!w.create("locked", ("", "pods"), pod("bad2", json!({}))).await.response.allowed);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}});
    assert!(w.create("team", ("apps", "deployments"), deployment).await.response.allowed);
    let r = w.create("nowhere", ("", "pods"), pod("lost", hardened())).await;
    assert_eq!(r.response.status.as_ref().and_then(|s| s.code), Some(500), "an unknown namespace: a failed lookup");
    let (status, _) = w.client.review(b"{not json".to_vec()).await.expect("answer");
    assert_eq!(status, 400);

    let (_, _, body) = w.client.get("/metrics").await.expect("metrics");
    let after = exposition(&String::from_utf8(body).expect("UTF-8"));
    let count = |series: &str| after.get(series).copied().unwrap_or_else(|| panic!("{series} missing: {after:?}"));
    assert_eq!(count("podwall_webhook_requests_total{kind=\"Pod\",outcome=\"allowed\"}"), 1.0);
    assert_eq!(count("podwall_webhook_requests_total{kind=\"Pod\",outcome=\"denied\"}"), 2.0);
    assert_eq!(count("podwall_webhook_requests_total{kind=\"Pod\",outcome=\"error\"}"), 1.0);
    assert_eq!(count("podwall_webhook_requests_total{kind=\"Deployment\",outcome=\"allowed\"}"), 1.0);
    assert_eq!(count("podwall_webhook_requests_total{kind=\"unknown\",outcome=\"error\"}"), 1.0);
    assert_eq!(count("podwall_webhook_request_seconds_count"), 6.0);
    assert_eq!(count("podwall_webhook_request_seconds_bucket{le=\"+Inf\"}"), 6.0);
    assert!(count("podwall_webhook_request_seconds_sum") > 0.0);
    let buckets: Vec<f64> = after.iter().filter(|(k, _)| k.contains("_seconds_bucket{")).map(|(_, v)| *v).collect();
    assert!(buckets.iter().all(|b| *b <= 6.0), "cumulative, none above the count: {buckets:?}");
    assert!(
        !after.keys().any(|k| k.starts_with("podwall_webhook_namespace_gets")),
        "no fallback without an API server"
    );
    let (status, _) = w.client.send("POST", "/metrics", Vec::new()).await.expect("answer");
    assert_eq!(status, 405);
}
