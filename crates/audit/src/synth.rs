//! Generated audit logs, for tests and for measuring the readers on large files: a mix
//! of users and service accounts, namespaced and cluster-wide resources, subresources,
//! creates, lists with and without a name, URLs, refusals and impersonation, each
//! request written at `RequestReceived` and `ResponseComplete` as the API server does.
use std::io::Write;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const USERS: &[&str] = &["jane", "bob", "system:serviceaccount:ci:deployer", "system:serviceaccount:prod:api", "admin"];
const NAMESPACES: &[&str] = &["prod", "dev", "ci", "kube-system"];
/// `(group, resource, subresource, namespaced)`.
const RESOURCES: &[(&str, &str, &str, bool)] = &[
    ("", "pods", "", true),
    ("", "pods", "log", true),
    ("", "pods", "eviction", true),
    ("", "secrets", "", true),
    ("", "configmaps", "", true),
    ("apps", "deployments", "", true),
    ("apps", "deployments", "scale", true),
    ("batch", "jobs", "", true),
    ("", "nodes", "", false),
    ("", "namespaces", "", false),
    ("rbac.authorization.k8s.io", "clusterroles", "", false),
    ("example.com", "widgets", "", true),
];
const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const URLS: &[&str] = &["/healthz", "/version", "/metrics", "/api", "/apis/apps/v1"];

/// Writes `requests` requests (two events each) generated from `seed` to `out`.
pub fn write_log(out: &mut impl Write, requests: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in 0..requests {
        let user = USERS[rng.random_range(0..USERS.len())];
        let impersonating = user == "admin" && rng.random_ratio(1, 4);
        let denied = rng.random_ratio(1, 20);
        let (verb, uri, object) = if rng.random_ratio(1, 10) {
            let url = URLS[rng.random_range(0..URLS.len())];
            ("get", url.to_string(), None)
        } else {
            let (group, resource, sub, namespaced) = RESOURCES[rng.random_range(0..RESOURCES.len())];
            let verb = match sub {
                "eviction" => "create",
                "log" => "get",
                "scale" => ["get", "update", "patch"][rng.random_range(0..3)],
                _ => VERBS[rng.random_range(0..VERBS.len())],
            };
            let collection = matches!(verb, "list" | "watch" | "deletecollection");
            let named_list = collection && verb != "deletecollection" && rng.random_ratio(1, 5);
            let name =
                if !collection || named_list { format!("obj-{}", rng.random_range(0..8)) } else { String::new() };
            let all_namespaces = collection && namespaced && rng.random_ratio(1, 6);
            let namespace =
                if namespaced && !all_namespaces { NAMESPACES[rng.random_range(0..NAMESPACES.len())] } else { "" };
            let prefix = if group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{group}/v1") };
            let ns_part = if namespace.is_empty() { String::new() } else { format!("/namespaces/{namespace}") };
            let mut uri = format!("{prefix}{ns_part}/{resource}");
            if (verb != "create" || !sub.is_empty()) && !collection {
                uri.push_str(&format!("/{name}"));
            }
            if !sub.is_empty() {
                uri.push_str(&format!("/{sub}"));
            }
            if named_list {
                uri.push_str(&format!("?fieldSelector=metadata.name%3D{name}"));
            }
            // The API server gives a Namespace object its own name as namespace.
            let namespace =
                if resource == "namespaces" && !collection && verb != "create" { name.as_str() } else { namespace };
            let mut o = json!({"resource": resource, "apiVersion": "v1"});
            for (k, v) in [("namespace", namespace), ("name", name.as_str()), ("apiGroup", group), ("subresource", sub)]
            {
                if !v.is_empty() {
                    o[k] = json!(v);
                }
            }
            (verb, uri, Some(o))
        };
        let groups = if user.starts_with("system:serviceaccount:") {
            json!(["system:serviceaccounts", "system:authenticated"])
        } else {
            json!(["developers", "system:authenticated"])
        };
        let code = if denied { 403 } else { 200 };
        let decision = if denied { "forbid" } else { "allow" };
        for stage in ["RequestReceived", "ResponseComplete"] {
            let mut e = json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("{:08x}-0000-4000-8000-{:012x}", seed as u32, i),
                "stage": stage, "requestURI": uri, "verb": verb,
                "user": {"username": user, "uid": format!("uid-{user}"), "groups": groups},
                "sourceIPs": ["10.0.0.7"], "userAgent": "kubectl/v1.33.0 (linux/amd64) kubernetes/abcdef0",
                "requestReceivedTimestamp": "2026-12-01T10:00:00.000000Z",
                "stageTimestamp": "2026-12-01T10:00:00.004000Z",
            });
            if let Some(o) = &object {
                e["objectRef"] = o.clone();
            }
            if impersonating {
                e["impersonatedUser"] = json!({"username": "jane", "groups": ["developers", "system:authenticated"]});
            }
            if stage == "ResponseComplete" {
                e["responseStatus"] = json!({"metadata": {}, "code": code});
                e["annotations"] =
                    json!({"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": ""});
            }
            serde_json::to_writer(&mut *out, &e)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}
