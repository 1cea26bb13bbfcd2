//! The webhook following a recorded Kubernetes API served over real HTTP (lists, watch
//! streams, a dropped connection, a server that is away), as the PodSecurity plugin
//! follows its namespace and pod informers: requests are answered from what the API
//! delivered, refused as an unsynced lister refuses them before the first lists, and from
//! the last state while the API server is away.
#[path = "../../cluster/tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use podwall_cluster::watch::Backoff;
use podwall_pod_security::config::Config;
use podwall_webhook::bench::{create_request, review_body};
use podwall_webhook::follow;
use podwall_webhook::namespaces::Unknown;
use podwall_webhook::review::{decode, Response};
use podwall_webhook::server::State;
use serde_json::{json, Value};
use support::{Answer, Seen, Server, Streams};

const WITHIN: Duration = Duration::from_secs(10);

fn namespace(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels, "resourceVersion": "5"}})
}

fn pod(namespace: &str, name: &str, security_context: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": namespace, "resourceVersion": "6"},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0", "securityContext": security_context}]}})
}

fn enforce(level: &str) -> Value {
    json!({"pod-security.kubernetes.io/enforce": level})
}

/// The recorded API: lists from `namespaces` and `pods` (as they are at each request),
/// watches from `ns_watch` and `pod_watch`.
struct Api {
    server: Server,
    namespaces: Arc<Mutex<Vec<String>>>,
    ns_watch: Streams,
    pod_watch: Streams,
    /// While unset, lists wait (the first list has not come back).
    lists: Arc<AtomicBool>,
}

fn api(namespaces: &[Value], pods: &[Value]) -> Api {
    let ns_items = Arc::new(Mutex::new(namespaces.iter().map(Value::to_string).collect::<Vec<_>>()));
    let pod_items: Vec<String> = pods.iter().map(Value::to_string).collect();
    let (ns_watch, pod_watch) = (Streams::default(), Streams::default());
    let lists = Arc::new(AtomicBool::new(true));
    let (n, nw, pw, l) = (ns_items.clone(), ns_watch.clone(), pod_watch.clone(), lists.clone());
    let server = Server::start(move |seen: &Seen| {
        let watching = seen.query.get("watch").is_some_and(|w| w == "true" || w == "1");
        if !watching {
            while !l.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        match (seen.path.as_str(), watching) {
            ("/api/v1/namespaces", true) => nw.next(),
            ("/api/v1/pods", true) => pw.next(),
            ("/api/v1/namespaces", false) => support::paged("NamespaceList", "v1", &n.lock().unwrap(), seen),
            ("/api/v1/pods", false) => support::paged("PodList", "v1", &pod_items, seen),
            _ => Answer::not_found(),
        }
    });
    Api { server, namespaces: ns_items, ns_watch, pod_watch, lists }
}

/// The webhook following `api`, answering from the returned state.
struct Following {
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn follow_api(api: &Api, name: &str, unknown: Unknown) -> Following {
    let dir = support::scratch(name);
    let target =
        podwall_cluster::Target::Kubeconfig { path: Some(support::kubeconfig(&dir, &api.server.url())), context: None };
    let settings = podwall_cluster::Settings { timeout: Duration::from_secs(20), ..Default::default() };
    let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(400) };
    let watch = podwall_cluster::watch::watch(&target, &settings, backoff, &follow::watched_kinds()).unwrap();
    let state = follow::starting(Config::default(), unknown);
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st) = (state.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        follow::follow(&s, Config::default(), unknown, watch, || st.load(Ordering::Relaxed)).expect("follows")
    });
    Following { state, stop, thread: Some(thread) }
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WITHIN, "{what}: not within {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ask(state: &State, request: Value) -> Response {
    state.admission().review(&decode(&review_body(request)).expect("a valid review"))
}

/// A request to create a privileged pod in `ns`.
fn privileged_pod(ns: &str) -> Value {
    let mut p = pod(ns, "new", json!({"privileged": true}));
    p["apiVersion"] = json!("v1");
    p["kind"] = json!("Pod");
    create_request("uid-pod", ns, ("", "pods"), p)
}

fn code(r: &Response) -> Option<i32> {
    r.status.as_ref().and_then(|s| s.code)
}

fn watch_event(kind: &str, object: &Value) -> Option<String> {
    Some(support::event(kind, &object.to_string()))
}

#[test]
fn the_webhook_follows_namespace_labels_from_the_api() {
    let api = api(&[namespace("shop", enforce("privileged"))], &[]);
    let ns_stream = api.ns_watch.stream();
    let f = follow_api(&api, "follows", Unknown::Refuse);
    wait("the first lists", || f.state.health().ready);
    assert!(ask(&f.state, privileged_pod("shop")).allowed, "privileged enforce admits a privileged pod");

    // A watch event relabels the namespace: the next review of a violating pod is refused
    // as the plugin refuses it (403 Forbidden).
    ns_stream.send(watch_event("MODIFIED", &namespace("shop", enforce("baseline")))).unwrap();
    wait("the relabelled namespace", || !ask(&f.state, privileged_pod("shop")).allowed);
    let r = ask(&f.state, privileged_pod("shop"));
    assert_eq!(code(&r), Some(403), "{r:?}");
    assert!(format!("{:?}", r.status).contains("violates PodSecurity \\\"baseline:latest\\\""), "{r:?}");
    assert!(api.server.requests().iter().all(|r| r.method == "GET"), "only lists and watches");
}

#[test]
fn before_the_first_list_pods_are_refused_as_an_unsynced_lister_refuses_them() {
    let api = api(&[namespace("shop", enforce("privileged"))], &[]);
    api.lists.store(false, Ordering::Relaxed);
    let f = follow_api(&api, "unsynced", Unknown::Defaults);
    // Not listed yet: even with --unknown-namespaces defaults, the lookup fails: 500
    // `failed to lookup namespace`, and health is not ready.
    let r = ask(&f.state, privileged_pod("shop"));
    assert!(!r.allowed && code(&r) == Some(500), "{r:?}");
    assert!(format!("{:?}", r.status).contains("failed to lookup namespace \\\"shop\\\""), "{r:?}");
    let h = f.state.health();
    assert!(!h.ready && h.text.starts_with("starting: waiting for the first list of"), "{h:?}");
    // A workload is admitted, the error in its audit annotations.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x", "securityContext": {"privileged": true}}]}}}});
    let r = ask(&f.state, create_request("uid-d", "shop", ("apps", "deployments"), deployment));
    assert!(r.allowed && r.audit_annotations.get("error").is_some_and(|e| e.contains("failed to lookup namespace")));

    api.lists.store(true, Ordering::Relaxed);
    wait("the first lists", || f.state.health().ready);
    assert_eq!(f.state.health().text, "ok");
    assert!(ask(&f.state, privileged_pod("shop")).allowed);
}

#[test]
fn a_deleted_namespace_becomes_unknown() {
    let api = api(&[namespace("shop", enforce("privileged"))], &[]);
    let ns_stream = api.ns_watch.stream();
    let f = follow_api(&api, "deleted", Unknown::Refuse);
    wait("the first lists", || f.state.health().ready);
    assert!(ask(&f.state, privileged_pod("shop")).allowed);
    ns_stream.send(watch_event("DELETED", &namespace("shop", enforce("privileged")))).unwrap();
    wait("the deletion", || !ask(&f.state, privileged_pod("shop")).allowed);
    let r = ask(&f.state, privileged_pod("shop"));
    assert_eq!(code(&r), Some(500), "--unknown-namespaces refuse: the failed lookup's answer: {r:?}");
    assert_eq!(r.audit_annotations.get("error").map(String::as_str), Some("namespace \"shop\" not found"));
}

#[test]
fn while_the_api_is_away_the_last_state_answers_and_health_says_so() {
    let api = api(&[namespace("shop", enforce("baseline"))], &[]);
    let ns_stream = api.ns_watch.stream();
    let f = follow_api(&api, "away", Unknown::Refuse);
    wait("the first lists", || f.state.health().ready);
    // The connection drops and the server is away.
    api.server.down.store(true, Ordering::Relaxed);
    ns_stream.send(None).unwrap();
    wait("the outage in health", || f.state.health().text.contains("the API server is away"));
    let h = f.state.health();
    assert!(h.ready && h.text.starts_with("degraded: ") && h.text.contains("Namespace: "), "{h:?}");
    assert!(h.text.contains("answered from the state last listed"), "{h:?}");
    let r = ask(&f.state, privileged_pod("shop"));
    assert_eq!(code(&r), Some(403), "the last state still enforces baseline: {r:?}");
    // Back: the watch resumes (or relists) and health is ok again.
    *api.namespaces.lock().unwrap() = vec![namespace("shop", enforce("privileged")).to_string()];
    api.ns_watch.push(Answer::status(410, "Expired", "too old resource version"));
    api.server.down.store(false, Ordering::Relaxed);
    wait("the recovery", || f.state.health().text == "ok");
    wait("the relisted state", || ask(&f.state, privileged_pod("shop")).allowed);
}

#[test]
fn a_namespace_update_dry_runs_the_pods_the_api_lists() {
    let api = api(
        &[namespace("shop", enforce("privileged"))],
        &[pod("shop", "web", json!({"privileged": true})), pod("shop", "ok", json!({}))],
    );
    let pod_stream = api.pod_watch.stream();
    let f = follow_api(&api, "dry-run", Unknown::Refuse);
    wait("the first lists", || f.state.health().ready);
    let relabel = || {
        let new = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": enforce("baseline")}});
        let old = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": enforce("privileged")}});
        let mut request = create_request("uid-ns", "shop", ("", "namespaces"), new);
        request["operation"] = json!("UPDATE");
        request["oldObject"] = old;
        ask(&f.state, request)
    };
    let r = relabel();
    assert!(r.allowed, "{r:?}");
    assert_eq!(
        r.warnings,
        [
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "web: privileged",
        ],
    );
    // A watch event adds another violating pod: the next dry run counts it.
    pod_stream.send(watch_event("ADDED", &pod("shop", "api", json!({"privileged": true})))).unwrap();
    wait("the added pod", || {
        relabel().warnings.len() == 2 && relabel().warnings[1].starts_with("api (and 1 other pod)")
    });
    // The pods deleted: nothing left to warn about.
    pod_stream.send(watch_event("DELETED", &pod("shop", "api", json!({"privileged": true})))).unwrap();
    pod_stream.send(watch_event("DELETED", &pod("shop", "web", json!({"privileged": true})))).unwrap();
    wait("the deleted pods", || relabel().warnings.is_empty());
}
