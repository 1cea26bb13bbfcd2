//! Watching against a recorded API served over real HTTP: a list, then a watch from its
//! resource version; a 410 Gone (as an answer and as an ERROR event) that lists the kind
//! again; a dropped connection and a server that is away, backed off from, reported and
//! recovered from without a relist.
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use podwall_cluster::watch::{Backoff, Event, Watch};
use podwall_cluster::{Settings, Target};
use support::{Answer, Seen, Server, Streams};

fn namespace(name: &str) -> String {
    format!(r#"{{"metadata":{{"name":"{name}","resourceVersion":"10"}}}}"#)
}

fn pod(name: &str, version: u32, app: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"a","resourceVersion":"{version}","labels":{{"app":"{app}"}}}},"spec":{{"containers":[{{"name":"c","image":"x:1"}}]}}}}"#
    )
}

/// Lists a namespace and whatever pods `pods` holds; pod watches come from `streams`.
fn server(pods: Arc<Mutex<Vec<String>>>, streams: Streams) -> Server {
    Server::start(move |seen: &Seen| {
        let watching = seen.query.get("watch").is_some_and(|w| w == "true" || w == "1");
        match (seen.path.as_str(), watching) {
            ("/api/v1/namespaces", false) => support::paged("NamespaceList", "v1", &[namespace("a")], seen),
            ("/api/v1/pods", false) => support::paged("PodList", "v1", &pods.lock().unwrap(), seen),
            ("/api/v1/pods", true) => streams.next(),
            // Namespaces never change here.
            ("/api/v1/namespaces", true) => streams.open_forever(),
            _ => Answer::not_found(),
        }
    })
}

fn start(server: &Server, name: &str) -> Watch {
    let dir = support::scratch(name);
    let target = Target::Kubeconfig { path: Some(support::kubeconfig(&dir, &server.url())), context: None };
    let settings = Settings { timeout: Duration::from_secs(20), ..Default::default() };
    let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(400) };
    let kinds =
        [podwall_load::kind_info("", "Namespace").expect("row"), podwall_load::kind_info("", "Pod").expect("row")];
    podwall_cluster::watch::watch(&target, &settings, backoff, &kinds).expect("watch starts")
}

/// The next event for which `want` holds, collecting those before it.
fn until(w: &Watch, mut want: impl FnMut(&Event) -> bool) -> (Event, Vec<Event>) {
    let end = Instant::now() + Duration::from_secs(15);
    let mut before = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let e = w.events.recv_timeout(left).unwrap_or_else(|_| panic!("no such event; saw {before:#?}"));
        if want(&e) {
            return (e, before);
        }
        before.push(e);
    }
}

fn pod_watches(server: &Server) -> Vec<Seen> {
    server.requests().into_iter().filter(|r| r.path == "/api/v1/pods" && r.query.contains_key("watch")).collect()
}

fn pod_lists(server: &Server) -> usize {
    server.requests().iter().filter(|r| r.path == "/api/v1/pods" && !r.query.contains_key("watch")).count()
}

#[test]
fn a_watch_starts_from_the_lists_resource_version_and_streams_each_change() {
    let pods = Arc::new(Mutex::new(vec![pod("web", 11, "web")]));
    let streams = Streams::default();
    let tx = streams.stream();
    let server = server(pods, streams);
    let w = start(&server, "stream");
    assert_eq!(w.kinds, ["Namespace", "Pod"]);
    let (listed, _) = until(&w, |e| matches!(e, Event::Listed { kind, .. } if kind == "Pod"));
    let Event::Listed { objects, relist, served, .. } = listed else { unreachable!() };
    assert!(!relist && served);
    assert_eq!(objects.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["cluster:recorded/a/Pod/web"]);

    tx.send(Some(support::event("ADDED", &pod("db", 12, "db")))).unwrap();
    tx.send(Some(support::event("MODIFIED", &pod("web", 13, "shop")))).unwrap();
    tx.send(Some(support::event(
        "BOOKMARK",
        r#"{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"20"}}"#,
    )))
    .unwrap();
    tx.send(Some(support::event("DELETED", &pod("db", 21, "db")))).unwrap();
    let (added, _) = until(&w, |e| matches!(e, Event::Applied { .. }));
    assert!(matches!(&added, Event::Applied { source, text, .. }
        if source == "cluster:recorded/a/Pod/db" && text.contains(r#""app":"db""#)));
    let (changed, _) = until(&w, |e| matches!(e, Event::Applied { .. }));
    assert!(matches!(&changed, Event::Applied { source, text, .. }
        if source == "cluster:recorded/a/Pod/web" && text.contains(r#""app":"shop""#)));
    let (deleted, _) = until(&w, |e| matches!(e, Event::Deleted { .. }));
    assert_eq!(deleted, Event::Deleted { kind: "Pod".into(), source: "cluster:recorded/a/Pod/db".into() });

    let watches = pod_watches(&server);
    assert_eq!(watches.len(), 1);
    assert_eq!(watches[0].query.get("resourceVersion").map(String::as_str), Some("4711"), "from the list's version");
    assert_eq!(watches[0].query.get("allowWatchBookmarks").map(String::as_str), Some("true"));
    // The server ends the stream (its timeout): the next watch starts from the last
    // version seen, the deletion's, with no new list.
    drop(tx);
    let end = Instant::now() + Duration::from_secs(10);
    while pod_watches(&server).len() < 2 {
        assert!(Instant::now() < end, "no second watch");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pod_watches(&server)[1].query.get("resourceVersion").map(String::as_str), Some("21"));
    assert_eq!(pod_lists(&server), 1, "a watch the server ended is no reason to list again");
    assert!(server.requests().iter().all(|r| r.method == "GET"), "read-only");
}

#[test]
fn a_410_gone_lists_the_kind_again_as_an_answer_or_as_an_error_event() {
    let pods = Arc::new(Mutex::new(vec![pod("web", 11, "web")]));
    let streams = Streams::default();
    let first = streams.stream();
    // The second watch is answered 410 outright.
    streams.push(Answer::status(410, "Expired", "too old resource version: 4711 (5000)"));
    let server = server(pods.clone(), streams);
    let w = start(&server, "gone");
    until(&w, |e| matches!(e, Event::Listed { kind, .. } if kind == "Pod"));
    // Meanwhile the pods changed, and the server forgot the version: an ERROR event.
    *pods.lock().unwrap() = vec![pod("api", 30, "api")];
    first.send(Some(support::expired_event())).unwrap();
    let (again, before) = until(&w, |e| matches!(e, Event::Listed { kind, .. } if kind == "Pod"));
    assert!(before.iter().all(|e| !matches!(e, Event::Away { .. })), "an expired version is no outage: {before:?}");
    let Event::Listed { objects, relist, .. } = again else { unreachable!() };
    assert!(relist);
    assert_eq!(objects.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["cluster:recorded/a/Pod/api"]);
    // The watch after that relist gets HTTP 410: listed a third time.
    let (third, _) = until(&w, |e| matches!(e, Event::Listed { kind, .. } if kind == "Pod"));
    assert!(matches!(third, Event::Listed { relist: true, .. }));
    assert_eq!(pod_lists(&server), 3);
}

#[test]
fn a_dropped_connection_and_a_server_away_are_reported_backed_off_from_and_recovered_from() {
    let pods = Arc::new(Mutex::new(vec![pod("web", 11, "web")]));
    let streams = Streams::default();
    let first = streams.stream();
    let after = streams.stream();
    let server = server(pods, streams);
    let w = start(&server, "away");
    until(&w, |e| matches!(e, Event::Listed { kind, .. } if kind == "Pod"));
    first.send(Some(support::event("ADDED", &pod("db", 12, "db")))).unwrap();
    until(&w, |e| matches!(e, Event::Applied { .. }));
    // The connection drops mid-stream, and the server is away for a while.
    server.down.store(true, std::sync::atomic::Ordering::Relaxed);
    first.send(None).unwrap();
    let mut waits = Vec::new();
    let away_since = Instant::now();
    while waits.len() < 3 {
        let (e, _) = until(&w, |e| matches!(e, Event::Away { .. }));
        let Event::Away { kind, reason, retry_in } = e else { unreachable!() };
        assert_eq!(kind, "Pod");
        assert!(reason.contains("127.0.0.1"), "the reason names the server: {reason}");
        waits.push(retry_in);
    }
    // Bounded exponential with jitter: each wait within its doubling's upper half.
    for (n, wait) in waits.iter().enumerate() {
        let base = Duration::from_millis(100 * (1 << n)).min(Duration::from_millis(400));
        assert!(*wait >= base / 2 && *wait <= base, "wait {n}: {wait:?} not in [{:?}, {base:?}]", base / 2);
    }
    assert!(away_since.elapsed() >= waits[0] + waits[1], "the tries were spaced by their backoff");
    server.down.store(false, std::sync::atomic::Ordering::Relaxed);
    let (back, _) = until(&w, |e| matches!(e, Event::Back { kind } if kind == "Pod"));
    assert_eq!(back, Event::Back { kind: "Pod".into() });
    after.send(Some(support::event("MODIFIED", &pod("db", 14, "db2")))).unwrap();
    let (changed, before) = until(&w, |e| matches!(e, Event::Applied { .. }));
    assert!(matches!(changed, Event::Applied { text, .. } if text.contains("db2")));
    assert!(before.iter().all(|e| !matches!(e, Event::Listed { kind, .. } if kind == "Pod")), "no relist: {before:?}");
    let watches = pod_watches(&server);
    assert_eq!(
        watches.last().and_then(|r| r.query.get("resourceVersion")).map(String::as_str),
        Some("12"),
        "resumed from the last version seen"
    );
    assert_eq!(pod_lists(&server), 1);
}
