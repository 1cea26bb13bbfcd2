//! The webhook following a recorded Kubernetes API served over real HTTP (lists, watch
//! streams, a dropped connection, a server that is away), as the PodSecurity plugin
//! follows its namespace and pod informers: requests are answered from what the API
//! delivered, refused as an unsynced lister refuses them before the first lists, and from
//! the last state while the API server is away. A namespace the watch has not delivered
//! is read with one GET, as the plugin's namespace getter reads it when its cache misses.
#[path = "../../cluster/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use podwall_cluster::watch::Backoff;
use podwall_pod_security::config::Config;
use podwall_webhook::bench::{create_request, review_body};
use podwall_webhook::follow;
use podwall_webhook::lookup::Lookup;
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
    /// What a GET of one namespace answers, by name (else 404 NotFound).
    gets: Arc<Mutex<HashMap<String, Answer>>>,
}

impl Api {
    /// The GETs of one namespace seen so far.
    fn gets_of(&self, name: &str) -> usize {
        let path = format!("/api/v1/namespaces/{name}");
        self.server.requests().iter().filter(|r| r.path == path && r.method == "GET").count()
    }
}

fn api(namespaces: &[Value], pods: &[Value]) -> Api {
    let ns_items = Arc::new(Mutex::new(namespaces.iter().map(Value::to_string).collect::<Vec<_>>()));
    let pod_items: Vec<String> = pods.iter().map(Value::to_string).collect();
    let (ns_watch, pod_watch) = (Streams::default(), Streams::default());
    let lists = Arc::new(AtomicBool::new(true));
    let gets: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
    let (n, nw, pw, l, g) = (ns_items.clone(), ns_watch.clone(), pod_watch.clone(), lists.clone(), gets.clone());
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
            (path, false) if path.starts_with("/api/v1/namespaces/") => {
                let name = &path["/api/v1/namespaces/".len()..];
                g.lock()
                    .unwrap()
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Answer::status(404, "NotFound", &format!("namespaces {name:?} not found")))
            }
            _ => Answer::not_found(),
        }
    });
    Api { server, namespaces: ns_items, ns_watch, pod_watch, lists, gets }
}

/// The webhook following `api`, answering from the returned state.
struct Following {
    state: Arc<State>,
    /// Where reviews are answered as the server answers them (the fallback's client
    /// lives on it).
    runtime: tokio::runtime::Runtime,
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
    follow_api_with(api, name, unknown, None)
}

/// [`follow_api`], with the namespace lookup's fallback when `lookup` gives its timeout.
fn follow_api_with(api: &Api, name: &str, unknown: Unknown, lookup: Option<Duration>) -> Following {
    let dir = support::scratch(name);
    let target =
        podwall_cluster::Target::Kubeconfig { path: Some(support::kubeconfig(&dir, &api.server.url())), context: None };
    let settings = podwall_cluster::Settings { timeout: Duration::from_secs(20), ..Default::default() };
    let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(400) };
    let watch = podwall_cluster::watch::watch(&target, &settings, backoff, &follow::watched_kinds()).unwrap();
    let state = follow::starting(Config::default(), unknown);
    if let Some(timeout) = lookup {
        assert!(state.set_lookup(Arc::new(Lookup::new(target, timeout))));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st) = (state.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        follow::follow(&s, Config::default(), unknown, watch, || st.load(Ordering::Relaxed)).expect("follows")
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    Following { state, runtime, stop, thread: Some(thread) }
}

impl Following {
    /// The answer to `request` as the server gives it: with the fallback, when the
    /// namespace is not among those watched.
    fn answer(&self, request: Value) -> Response {
        let review = decode(&review_body(request)).expect("a valid review");
        self.runtime.block_on(self.state.answer(&review))
    }
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

/// A Deployment in `ns` whose pods would be privileged.
fn privileged_deployment(ns: &str) -> Value {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": ns},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x", "securityContext": {"privileged": true}}]}}}});
    create_request("uid-d", ns, ("apps", "deployments"), deployment)
}

/// A namespace as a GET answers it.
fn got(name: &str, labels: Value) -> Answer {
    let mut ns = namespace(name, labels);
    ns["apiVersion"] = json!("v1");
    ns["kind"] = json!("Namespace");
    Answer::ok(ns.to_string())
}

fn metric(state: &State, line_start: &str) -> Option<String> {
    state.metrics_text().lines().find(|l| l.starts_with(line_start)).map(str::to_string)
}

#[test]
fn a_namespace_missing_from_the_watch_is_read_with_one_get_and_judged_by_its_labels() {
    let api = api(&[namespace("other", enforce("privileged"))], &[]);
    api.gets.lock().unwrap().insert("shop".into(), got("shop", enforce("baseline")));
    let ns_stream = api.ns_watch.stream();
    let f = follow_api_with(&api, "fallback-found", Unknown::Refuse, Some(Duration::from_secs(2)));
    wait("the first lists", || f.state.health().ready);
    // Not delivered by the watch: one GET, and the pod is judged by the labels the API
    // server holds (baseline: 403), not refused as in an unknown namespace (500).
    let r = f.answer(privileged_pod("shop"));
    assert_eq!(code(&r), Some(403), "{r:?}");
    assert!(format!("{:?}", r.status).contains("violates PodSecurity \\\"baseline:latest\\\""), "{r:?}");
    assert_eq!(api.gets_of("shop"), 1);
    // What the GET found is kept: the next request asks nothing.
    assert_eq!(code(&f.answer(privileged_pod("shop"))), Some(403));
    assert_eq!(api.gets_of("shop"), 1, "the GET's result is kept");
    assert_eq!(
        metric(&f.state, "podwall_webhook_namespace_gets_total{result=\"found\"}").as_deref(),
        Some("podwall_webhook_namespace_gets_total{result=\"found\"} 1")
    );
    // The watch's event follows, with newer labels: the watch answers from then on.
    ns_stream.send(watch_event("ADDED", &namespace("shop", enforce("privileged")))).unwrap();
    wait("the watched namespace", || f.answer(privileged_pod("shop")).allowed);
    // Deleted in the cluster: the watch's deletion is not undone by what the GET found;
    // the namespace is looked for again, and is gone.
    api.gets.lock().unwrap().clear();
    ns_stream.send(watch_event("DELETED", &namespace("shop", enforce("privileged")))).unwrap();
    wait("the deletion", || code(&f.answer(privileged_pod("shop"))) == Some(500));
    let r = f.answer(privileged_pod("shop"));
    assert_eq!(r.audit_annotations.get("error").map(String::as_str), Some("namespace \"shop\" not found"), "{r:?}");
    assert_eq!(api.gets_of("shop"), 2, "one GET after the deletion, its 404 kept");
    assert!(api.server.requests().iter().all(|r| r.method == "GET"), "only reads");
}

#[test]
fn a_namespace_the_get_does_not_find_is_unknown() {
    let api = api(&[namespace("other", enforce("privileged"))], &[]);
    let f = follow_api_with(&api, "fallback-404", Unknown::Refuse, Some(Duration::from_secs(2)));
    wait("the first lists", || f.state.health().ready);
    let r = f.answer(privileged_pod("ghost"));
    assert_eq!(code(&r), Some(500), "--unknown-namespaces refuse: {r:?}");
    assert!(format!("{:?}", r.status).contains("failed to lookup namespace \\\"ghost\\\""), "{r:?}");
    assert_eq!(r.audit_annotations.get("error").map(String::as_str), Some("namespace \"ghost\" not found"));
    assert_eq!(api.gets_of("ghost"), 1);
    assert!(metric(&f.state, "podwall_webhook_namespace_gets_total{result=\"not_found\"} 1").is_some());
    // With --unknown-namespaces defaults, a namespace that does not exist takes them.
    let api = self::api(&[namespace("other", enforce("privileged"))], &[]);
    let f = follow_api_with(&api, "fallback-404-defaults", Unknown::Defaults, Some(Duration::from_secs(2)));
    wait("the first lists", || f.state.health().ready);
    assert!(f.answer(privileged_pod("ghost")).allowed, "the defaults (privileged) decide");
    assert_eq!(api.gets_of("ghost"), 1);
}

#[test]
fn when_the_namespace_get_fails_the_request_is_answered_as_a_failed_lookup_never_with_the_defaults() {
    let api = api(&[namespace("other", enforce("privileged"))], &[]);
    api.gets
        .lock()
        .unwrap()
        .insert("slow".into(), Answer { delay: Duration::from_secs(3), ..got("slow", enforce("privileged")) });
    api.gets.lock().unwrap().insert("refused".into(), Answer::status(403, "Forbidden", "namespaces is forbidden"));
    let f = follow_api_with(&api, "fallback-fails", Unknown::Defaults, Some(Duration::from_millis(300)));
    wait("the first lists", || f.state.health().ready);
    // Too slow: refused within the lookup's timeout, as a failed lookup is refused, even
    // though unknown namespaces take the defaults (which would admit it).
    let started = Instant::now();
    let r = f.answer(privileged_pod("slow"));
    assert!(started.elapsed() < Duration::from_secs(2), "the GET's timeout bounds the answer: {:?}", started.elapsed());
    assert!(!r.allowed && code(&r) == Some(500), "{r:?}");
    assert!(format!("{:?}", r.status).contains("failed to lookup namespace \\\"slow\\\""), "{r:?}");
    assert!(r.audit_annotations.get("error").is_some_and(|e| e.contains("within 300 ms")), "{r:?}");
    // Refused by the API server (no `get` granted): the same.
    let r = f.answer(privileged_pod("refused"));
    assert!(!r.allowed && code(&r) == Some(500), "{r:?}");
    assert!(r.audit_annotations.get("error").is_some_and(|e| e.contains("HTTP 403")), "{r:?}");
    // A failure is not kept: the next request asks again.
    assert_eq!(api.gets_of("refused"), 1);
    assert_eq!(code(&f.answer(privileged_pod("refused"))), Some(500));
    assert_eq!(api.gets_of("refused"), 2);
    // The API server away: a pod is refused, a workload admitted with the error.
    api.server.down.store(true, Ordering::Relaxed);
    let r = f.answer(privileged_pod("new"));
    assert!(!r.allowed && code(&r) == Some(500), "{r:?}");
    let r = f.answer(privileged_deployment("new"));
    assert!(r.allowed, "a workload is never refused: {r:?}");
    assert!(
        r.audit_annotations.get("error").is_some_and(|e| e.starts_with("failed to lookup namespace \"new\": ")),
        "{r:?}"
    );
    assert_eq!(
        metric(&f.state, "podwall_webhook_namespace_gets_total{result=\"failed\"}").as_deref(),
        Some("podwall_webhook_namespace_gets_total{result=\"failed\"} 5")
    );
}

#[test]
fn metrics_follow_the_watch_and_the_fallback() {
    let api = api(&[namespace("shop", enforce("baseline"))], &[]);
    let ns_stream = api.ns_watch.stream();
    let f = follow_api_with(&api, "metrics", Unknown::Refuse, Some(Duration::from_secs(2)));
    wait("the first lists", || f.state.health().ready);
    let text = f.state.metrics_text();
    for line in [
        "podwall_webhook_namespaces 1",
        "podwall_webhook_api_up 1",
        "podwall_webhook_relists_total 0",
        "podwall_webhook_api_failures_total 0",
        "podwall_webhook_namespace_gets_total{result=\"found\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
    }
    api.server.down.store(true, Ordering::Relaxed);
    ns_stream.send(None).unwrap();
    wait("the outage in the metrics", || {
        metric(&f.state, "podwall_webhook_api_up").as_deref() == Some("podwall_webhook_api_up 0")
    });
    assert!(metric(&f.state, "podwall_webhook_api_failures_total").is_some_and(|l| !l.ends_with(" 0")));
    api.ns_watch.push(Answer::status(410, "Expired", "too old resource version"));
    api.server.down.store(false, Ordering::Relaxed);
    wait("the relist", || {
        metric(&f.state, "podwall_webhook_relists_total").is_some_and(|l| !l.ends_with(" 0"))
            && metric(&f.state, "podwall_webhook_api_up").as_deref() == Some("podwall_webhook_api_up 1")
    });
}

#[test]
fn requests_at_the_same_moment_in_an_unwatched_namespace_share_one_get() {
    let api = api(&[namespace("other", enforce("privileged"))], &[]);
    api.gets
        .lock()
        .unwrap()
        .insert("burst".into(), Answer { delay: Duration::from_millis(300), ..got("burst", enforce("baseline")) });
    let f = follow_api_with(&api, "fallback-burst", Unknown::Refuse, Some(Duration::from_secs(2)));
    wait("the first lists", || f.state.health().ready);
    // A ReplicaSet creating its pods at once, in a namespace created just before.
    let answers: Vec<Response> = f.runtime.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (state, review) = (f.state.clone(), decode(&review_body(privileged_pod("burst"))).unwrap());
                tokio::spawn(async move { state.answer(&review).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert!(answers.iter().all(|r| code(r) == Some(403)), "{answers:?}");
    assert_eq!(api.gets_of("burst"), 1, "one GET for all of them");
    let saved = metric(&f.state, "podwall_webhook_namespace_gets_saved_total").expect("saved");
    assert_eq!(saved, "podwall_webhook_namespace_gets_saved_total 7");
}

#[test]
fn a_get_under_way_when_the_watch_deletes_the_namespace_is_not_kept() {
    let api = api(&[namespace("other", enforce("privileged"))], &[]);
    api.gets
        .lock()
        .unwrap()
        .insert("brief".into(), Answer { delay: Duration::from_millis(600), ..got("brief", enforce("baseline")) });
    let ns_stream = api.ns_watch.stream();
    let f = follow_api_with(&api, "fallback-race", Unknown::Refuse, Some(Duration::from_secs(2)));
    wait("the first lists", || f.state.health().ready);
    let (state, review) = (f.state.clone(), decode(&review_body(privileged_pod("brief"))).unwrap());
    let under_way = f.runtime.spawn(async move { state.answer(&review).await });
    wait("the GET sent", || api.gets_of("brief") == 1);
    // While it is under way the watch delivers the namespace, then its deletion.
    ns_stream.send(watch_event("ADDED", &namespace("brief", enforce("baseline")))).unwrap();
    ns_stream.send(watch_event("DELETED", &namespace("brief", enforce("baseline")))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r = f.runtime.block_on(under_way).unwrap();
    assert_eq!(code(&r), Some(403), "the GET's answer serves its own request: {r:?}");
    // What it found is not kept: the namespace is looked for again, and is gone.
    api.gets.lock().unwrap().clear();
    let r = f.answer(privileged_pod("brief"));
    assert_eq!(code(&r), Some(500), "{r:?}");
    assert_eq!(api.gets_of("brief"), 2);
}
