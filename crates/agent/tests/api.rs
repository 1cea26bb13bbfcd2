//! The agent following a recorded Kubernetes API served over real HTTP, installing into a
//! lab's node on real network namespaces: the initial list, a watch event that changes a
//! policy (the kernel's verdict follows), a 410 Gone that forces a relist (the kernel
//! follows the relisted state), a dropped connection and a server that is away (the
//! last ruleset stays enforced, health and metrics say so), and the recovery after it.
//! Only the pods of this node are on its interfaces; a pod of another node is a peer.
mod common;
#[path = "../../cluster/tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{lab, reaches, DB_FROM_A, DB_FROM_B_CLIENT, PODS};
use podwall_agent::{Agent, Config, Local, Source};
use podwall_cluster::watch::Backoff;
use podwall_lab::install::Node;
use support::{Answer, Seen, Server, Streams};

/// The longest a change may take from the watch event to the kernel's verdict.
const WITHIN: Duration = Duration::from_secs(10);

const NODE: &str = "node-1";

/// A pod of another node, and a finished pod whose address was handed on.
const OTHER_PODS: &str = include_str!("fixtures/other-pods.yaml");

/// Each document of `yaml` as JSON.
fn json(yaml: &str) -> Vec<serde_json::Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

/// A list item: built-in kinds come without `apiVersion` and `kind` in a list.
fn item(v: &serde_json::Value) -> String {
    let mut v = v.clone();
    let map = v.as_object_mut().expect("object");
    map.remove("apiVersion");
    map.remove("kind");
    v.to_string()
}

fn of_kind(yaml: &str, kind: &str) -> Vec<String> {
    json(yaml).iter().filter(|v| v["kind"] == kind).map(item).collect()
}

/// The API: namespaces and pods as above, the NetworkPolicies `policies` holds; watches
/// of policies from `streams`, every other watch open and quiet; other kinds not served.
fn api(policies: Arc<Mutex<Vec<String>>>, streams: Streams) -> Server {
    let pods = [PODS, OTHER_PODS].map(|y| of_kind(y, "Pod")).concat();
    let namespaces = of_kind(PODS, "Namespace");
    let quiet = Streams::default();
    Server::start(move |seen: &Seen| {
        let watching = seen.query.get("watch").is_some_and(|w| w == "true" || w == "1");
        match (seen.path.as_str(), watching) {
            ("/apis/networking.k8s.io/v1/networkpolicies", true) => streams.next(),
            ("/api/v1/namespaces" | "/api/v1/pods", true) => quiet.open_forever(),
            ("/api/v1/namespaces", false) => support::paged("NamespaceList", "v1", &namespaces, seen),
            ("/api/v1/pods", false) => support::paged("PodList", "v1", &pods, seen),
            ("/apis/networking.k8s.io/v1/networkpolicies", false) => {
                support::paged("NetworkPolicyList", "networking.k8s.io/v1", &policies.lock().unwrap(), seen)
            }
            ("/api/v1/nodes" | "/api/v1/serviceaccounts", false) => support::paged("List", "v1", &[], seen),
            (_, true) => quiet.open_forever(),
            _ => Answer::not_found(),
        }
    })
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}

fn wait(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WITHIN, "{what}: not within {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
    start.elapsed()
}

fn policy(yaml: &str) -> String {
    json(yaml)[0].to_string()
}

#[test]
fn the_agent_follows_the_api_through_a_watch_a_410_and_an_outage() {
    if !podwall_lab::privileged_test("the_agent_follows_the_api_through_a_watch_a_410_and_an_outage") {
        return;
    }
    let l = lab("apf", &[]);
    let policies = Arc::new(Mutex::new(of_kind(DB_FROM_A, "NetworkPolicy")));
    let streams = Streams::default();
    let first = streams.stream();
    let server = api(policies.clone(), streams.clone());
    let state = l.dir.join("state");
    let mut agent = Agent::new(Config {
        source: Source::Api,
        node: Node::Named(l.lab.node.clone()),
        state: state.clone(),
        local: Local::Node(NODE.into()),
    });
    let status = agent.status.clone();
    let health = podwall_agent::health::serve("127.0.0.1:0".parse().unwrap(), status.clone()).unwrap();
    let target =
        podwall_cluster::Target::Kubeconfig { path: Some(support::kubeconfig(&l.dir, &server.url())), context: None };
    let settings = podwall_cluster::Settings { timeout: Duration::from_secs(20), ..Default::default() };
    let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(400) };
    let watch =
        podwall_cluster::watch::watch(&target, &settings, backoff, &podwall_agent::follow::watched_kinds()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let follower = std::thread::spawn(move || {
        podwall_agent::follow(&mut agent, watch, || stopped.load(Ordering::Relaxed)).expect("follows")
    });

    // The initial list: installed once every kind was listed.
    wait("the first sync", || status.lock().unwrap().installed);
    assert!(get(health, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(reaches(&l, "a/client", "b/db") && !reaches(&l, "b/client", "b/db"), "db takes only namespace a");
    {
        let st = status.lock().unwrap();
        assert_eq!(st.attachments, 3, "only node-1's running pods are on its interfaces");
        assert_eq!(st.watched.get("Pod"), Some(&5), "every pod is watched, finished and remote ones too");
    }
    let installed = std::fs::read_to_string(state.join("installed.json")).unwrap();
    let remote_interface = podwall_nftables::interface_name("b/remote");
    assert!(!installed.contains(&remote_interface), "a pod of another node has no interface here");

    // A watch event changes the policy: the kernel follows.
    first.send(Some(support::event("MODIFIED", &policy(DB_FROM_B_CLIENT)))).unwrap();
    let took = wait("the watched change", || reaches(&l, "b/client", "b/db"));
    eprintln!("the kernel followed the watch event {} ms after it was sent", took.as_millis());
    assert!(!reaches(&l, "a/client", "b/db"));
    let installed = std::fs::read_to_string(state.join("installed.json")).unwrap();
    assert!(installed.contains("10.0.3.7"), "the remote client is a peer, an element of db's ingress set");

    // 410 Gone: the server forgot the version; what it lists now (the old policy again,
    // changed while the watch was gone) is what the node enforces.
    *policies.lock().unwrap() = of_kind(DB_FROM_A, "NetworkPolicy");
    let after_relist = streams.stream();
    first.send(Some(support::expired_event())).unwrap();
    wait("the relisted state", || !reaches(&l, "b/client", "b/db"));
    assert!(reaches(&l, "a/client", "b/db"));
    assert_eq!(status.lock().unwrap().relists, 1);

    // The connection drops and the server is away: the last ruleset stays enforced, and
    // health and metrics say why.
    let after_outage = streams.stream();
    server.down.store(true, Ordering::Relaxed);
    after_relist.send(None).unwrap();
    wait("the outage in health", || get(health, "/healthz").contains("the API server is away"));
    let h = get(health, "/healthz");
    assert!(h.starts_with("HTTP/1.1 503") && h.contains("NetworkPolicy.networking.k8s.io"), "{h}");
    assert!(h.contains("the last installed ruleset is still enforced"), "{h}");
    let m = get(health, "/metrics");
    assert!(m.contains("podwall_agent_api_up 0\n"), "{m}");
    assert!(m.contains("podwall_agent_last_error{error=\"NetworkPolicy.networking.k8s.io: "), "{m}");
    assert!(m.contains("podwall_agent_watched_objects{kind=\"Pod\"} 5\n"), "{m}");
    assert!(!reaches(&l, "b/client", "b/db") && reaches(&l, "a/client", "b/db"), "still enforced while away");

    // Back: the watch resumes, and the next change is installed.
    server.down.store(false, Ordering::Relaxed);
    wait("the recovery in health", || get(health, "/healthz").starts_with("HTTP/1.1 200"));
    after_outage.send(Some(support::event("MODIFIED", &policy(DB_FROM_B_CLIENT)))).unwrap();
    wait("the change after the outage", || reaches(&l, "b/client", "b/db"));
    let m = get(health, "/metrics");
    assert!(m.contains("podwall_agent_api_up 1\n"), "{m}");
    assert!(m.contains("podwall_agent_sync_seconds_count 4\n"), "list, event, relist, event: {m}");
    stop.store(true, Ordering::Relaxed);
    follower.join().unwrap();
    assert!(server.requests().iter().all(|r| r.method == "GET"), "the agent only reads");
}
