//! The reader against a recorded API served over real HTTP: pagination, a forbidden
//! kind, an expired continue token, a slow server, a server that is not there, and the
//! same objects read from the cluster and from files.
mod support;

use std::time::Duration;

use podwall_cluster::{Error, Settings, Target};
use podwall_load::{GapReason, Options};
use support::{Answer, Seen, Server};

fn namespace(name: &str) -> String {
    format!(r#"{{"metadata":{{"name":"{name}","labels":{{"kubernetes.io/metadata.name":"{name}"}}}}}}"#)
}

fn pod(ns: &str, name: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"app":"{name}"}}}},"spec":{{"containers":[{{"name":"c","image":"x:1"}}]}},"status":{{"podIP":"10.0.0.{}"}}}}"#,
        name.len()
    )
}

fn target(dir: &std::path::Path, server: &Server) -> Target {
    Target::Kubeconfig { path: Some(support::kubeconfig(dir, &server.url())), context: None }
}

fn small_pages() -> Settings {
    Settings { page_size: 2, timeout: Duration::from_secs(10) }
}

/// Five namespaces and seven pods; every other path is not served.
fn cluster(seen: &Seen) -> Answer {
    let namespaces: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|n| namespace(n)).collect();
    let pods: Vec<String> = (1..=7).map(|i| pod("a", &format!("p{}", "x".repeat(i)))).collect();
    match seen.path.as_str() {
        "/api/v1/namespaces" => support::paged("NamespaceList", "v1", &namespaces, seen),
        "/api/v1/pods" => support::paged("PodList", "v1", &pods, seen),
        _ => Answer::not_found(),
    }
}

#[test]
fn pages_are_followed_through_their_continue_tokens_to_every_object() {
    let server = Server::start(cluster);
    let dir = support::scratch("pages");
    let input = podwall_cluster::load(&target(&dir, &server), &small_pages(), Options::default()).expect("reads");
    let count = |kind: &str| input.objects.iter().filter(|o| o.kind == kind).count();
    assert_eq!((count("Namespace"), count("Pod")), (5, 7));
    let pods: Vec<Seen> = server.requests().into_iter().filter(|r| r.path == "/api/v1/pods").collect();
    let tokens: Vec<Option<&str>> = pods.iter().map(|r| r.query.get("continue").map(String::as_str)).collect();
    assert_eq!(tokens, [None, Some("page-2"), Some("page-4"), Some("page-6")]);
    assert!(pods.iter().all(|r| r.query.get("limit").map(String::as_str) == Some("2")));
    // Objects are named after where they were read, and nothing but lists was asked.
    let first = input.objects.iter().find(|o| o.kind == "Pod").expect("a pod");
    assert_eq!(first.source.file, "cluster:recorded/a/Pod/px");
    assert!(server.requests().iter().all(|r| r.method == "GET" && r.query.contains_key("limit")), "only lists");
    // Kinds the server does not serve are said, not skipped silently.
    let not_served: Vec<&str> =
        input.gaps.iter().filter(|g| g.reason == GapReason::NotServed).map(|g| g.kind.as_str()).collect();
    assert!(not_served.contains(&"Tier.projectcalico.org"), "{not_served:?}");
    assert!(not_served.contains(&"AdminNetworkPolicy.policy.networking.k8s.io"), "{not_served:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_forbidden_kind_is_left_out_and_the_result_says_it_is_partial() {
    let server = Server::start(|seen| {
        match seen.path.as_str() {
        "/apis/rbac.authorization.k8s.io/v1/roles" => Answer::status(
            403,
            "Forbidden",
            "roles.rbac.authorization.k8s.io is forbidden: User \"system:serviceaccount:x:y\" cannot list resource \"roles\"",
        ),
        _ => cluster(seen),
    }
    });
    let dir = support::scratch("forbidden");
    let mut input = podwall_cluster::load(&target(&dir, &server), &small_pages(), Options::default()).expect("reads");
    assert_eq!(input.objects.iter().filter(|o| o.kind == "Pod").count(), 7, "the other kinds are read");
    let forbidden: Vec<_> = input.gaps.iter().filter(|g| matches!(g.reason, GapReason::Forbidden(_))).collect();
    assert_eq!(forbidden.len(), 1, "{forbidden:?}");
    assert_eq!(forbidden[0].kind, "Role.rbac.authorization.k8s.io");
    // Compiled, it is a finding of the answer.
    let cluster = podwall_dialects::compile_lenient(&mut input).expect("compiles");
    let partial: Vec<String> = cluster.warnings.iter().filter(|w| w.id == "IN003").map(|w| w.to_string()).collect();
    assert_eq!(partial.len(), 1, "{:?}", cluster.warnings);
    assert!(partial[0].contains("cluster recorded") && partial[0].contains("partial"), "{}", partial[0]);
    assert!(partial[0].contains("cannot list resource"), "the server's reason is kept: {}", partial[0]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_expired_continue_token_lists_the_kind_again_from_the_start() {
    let expired = std::sync::atomic::AtomicBool::new(false);
    let server = Server::start(move |seen| {
        let token = seen.query.get("continue").map(String::as_str);
        if seen.path == "/api/v1/pods"
            && token == Some("page-4")
            && !expired.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Answer::status(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result.",
            );
        }
        cluster(seen)
    });
    let dir = support::scratch("expired");
    let input = podwall_cluster::load(&target(&dir, &server), &small_pages(), Options::default()).expect("reads");
    let names: Vec<&str> = input.objects.iter().filter(|o| o.kind == "Pod").map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), 7, "every pod once, none twice: {names:?}");
    let tokens: Vec<Option<String>> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .map(|r| r.query.get("continue").cloned())
        .collect();
    let starts = tokens.iter().filter(|t| t.is_none()).count();
    assert_eq!(starts, 2, "listed again from the start after the 410: {tokens:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_slow_server_ends_the_read_with_a_timeout_naming_it() {
    let server = Server::start(|seen| {
        let mut answer = cluster(seen);
        if seen.path == "/api/v1/namespaces" {
            answer.delay = Duration::from_secs(3);
        }
        answer
    });
    let dir = support::scratch("slow");
    let settings = Settings { page_size: 2, timeout: Duration::from_millis(400) };
    let started = std::time::Instant::now();
    let err = podwall_cluster::load(&target(&dir, &server), &settings, Options::default()).expect_err("times out");
    assert!(started.elapsed() < Duration::from_secs(3), "gave up in time: {:?}", started.elapsed());
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&server.url()) && text.contains("/api/v1/namespaces"), "{text}");
    assert!(text.contains("--request-timeout"), "says what to do: {text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_server_that_is_not_there_is_named() {
    // A port that was free a moment ago and has no listener now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = support::scratch("absent");
    let url = format!("http://127.0.0.1:{port}");
    let target = Target::Kubeconfig { path: Some(support::kubeconfig(&dir, &url)), context: None };
    let err = podwall_cluster::load(&target, &small_pages(), Options::default()).expect_err("no server");
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_context_the_kubeconfig_does_not_have_is_refused_with_the_ones_it_has() {
    let dir = support::scratch("context");
    let path = support::kubeconfig(&dir, "http://127.0.0.1:9");
    let target = Target::Kubeconfig { path: Some(path), context: Some("prod".into()) };
    let err = podwall_cluster::load(&target, &small_pages(), Options::default()).expect_err("no such context");
    assert!(err.to_string().contains("no context \"prod\" (contexts: recorded)"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn calico_is_read_from_its_crds_when_its_api_server_is_not_installed() {
    let server = Server::start(|seen| match seen.path.as_str() {
        "/apis/crd.projectcalico.org/v1/globalnetworkpolicies" => {
            let item = r#"{"apiVersion":"crd.projectcalico.org/v1","kind":"GlobalNetworkPolicy","metadata":{"name":"deny-all"},"spec":{"selector":"all()","types":["Ingress"]}}"#;
            Answer::ok(support::list_page("GlobalNetworkPolicyList", "crd.projectcalico.org/v1", &[item.into()], None))
        }
        _ => cluster(seen),
    });
    let dir = support::scratch("calico");
    let input = podwall_cluster::load(&target(&dir, &server), &small_pages(), Options::default()).expect("reads");
    let gnp: Vec<_> = input.objects.iter().filter(|o| o.kind == "GlobalNetworkPolicy").collect();
    assert_eq!(gnp.len(), 1);
    assert!(matches!(gnp[0].resource, podwall_load::Resource::CalicoPolicy { global: true, .. }));
    assert!(!input.gaps.iter().any(|g| g.kind.starts_with("GlobalNetworkPolicy.")), "{:?}", input.gaps);
    let asked: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    let v3 = asked.iter().position(|p| p == "/apis/projectcalico.org/v3/globalnetworkpolicies");
    let crd = asked.iter().position(|p| p == "/apis/crd.projectcalico.org/v1/globalnetworkpolicies");
    assert!(v3.is_some() && v3 < crd, "projectcalico.org/v3 is asked first: {asked:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_object_the_loader_refuses_in_a_file_is_refused_from_the_cluster_too() {
    let server = Server::start(|seen| match seen.path.as_str() {
        "/apis/networking.k8s.io/v1/networkpolicies" => {
            let item = r#"{"metadata":{"name":"bad","namespace":"a"},"spec":{"podSelector":{},"ingress":[{"ports":[{"port":[1]}]}]}}"#;
            Answer::ok(support::list_page("NetworkPolicyList", "networking.k8s.io/v1", &[item.into()], None))
        }
        _ => cluster(seen),
    });
    let dir = support::scratch("refused");
    let err = podwall_cluster::load(&target(&dir, &server), &small_pages(), Options::default()).expect_err("refused");
    let text = err.to_string();
    assert!(text.starts_with("cluster:recorded/a/NetworkPolicy.networking.k8s.io/bad"), "{text}");
    assert!(text.contains("spec.ingress[0].ports[0].port"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
