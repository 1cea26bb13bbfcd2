//! `audit rbac`'s promise, proved with the RBAC authorizer: the generated roles allow
//! every request the user made, and the names they restrict to are the only ones.
use podwall_audit::least::{Access, Names, Recorder};
use podwall_audit::log::{self, Event};
use podwall_rbac::{Rbac, Request, User};

fn events(requests: u64, seed: u64) -> Vec<Event> {
    let mut buf = vec![];
    podwall_audit::synth::write_log(&mut buf, requests, seed).unwrap();
    let mut out = vec![];
    log::read("gen.log", &buf[..], |e| out.push(e), |b| panic!("{b}")).unwrap();
    out
}

/// The authorizer's request, derived from the request URI the way the API server's
/// request info does, independently of the event's object reference: `/api/v1` or
/// `/apis/GROUP/VERSION`, then `namespaces/NS` (a Namespace object is its own
/// namespace), the resource, the name and the subresource; a list or watch names its
/// object only through a `metadata.name` field selector.
fn request(e: &Event) -> Request {
    let (path, query) = e.request_uri.split_once('?').unwrap_or((&e.request_uri, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, mut rest) = match parts.as_slice() {
        ["api", _v, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", g, _v, rest @ ..] if !rest.is_empty() => (*g, rest),
        _ => return Request::url(&e.verb, path),
    };
    let mut namespace = "";
    if rest[0] == "namespaces" && rest.len() > 1 {
        namespace = rest[1];
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let resource = rest[0];
    let mut name = rest.get(1).copied().unwrap_or("").to_string();
    let sub = rest.get(2).copied().unwrap_or("");
    if name.is_empty() && matches!(e.verb.as_str(), "list" | "watch") {
        if let Some(v) = query.split('&').find_map(|kv| kv.strip_prefix("fieldSelector=metadata.name%3D")) {
            name = v.to_string();
        }
    }
    Request::resource(&e.verb, namespace, group, resource, sub, &name)
}

fn generated(user: &str, events: &[Event], threshold: usize) -> (Recorder, Rbac) {
    let mut r = Recorder::new(user, threshold);
    events.iter().for_each(|e| r.add(e));
    let yaml = r.generate("podwall:audit:test").to_yaml().unwrap();
    let input = podwall_load::load_str("generated.yaml", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    (r, Rbac::from_input(&input).unwrap_or_else(|e| panic!("{e:?}\n{yaml}")))
}

#[test]
fn the_generated_roles_allow_every_request_the_user_made() {
    let events = events(3000, 7);
    for user in ["jane", "bob", "system:serviceaccount:ci:deployer", "admin"] {
        for threshold in [0, 3, 100] {
            let (r, rbac) = generated(user, &events, threshold);
            assert!(r.requests() > 0, "{user}: no requests generated");
            // Only the identity RBAC knows of: no groups, so nothing but the generated
            // bindings can allow.
            let who = User::impersonate(user, &[]);
            for e in events.iter().filter(|e| e.effective_user().username == user) {
                let d = rbac.authorize(&who, &request(e));
                assert!(d.allowed(), "{user} (threshold {threshold}): {} {:?} refused", e.verb, e.target());
            }
        }
    }
}

#[test]
fn names_are_restricted_to_the_objects_touched_and_no_others() {
    let events = events(3000, 11);
    let (r, rbac) = generated("bob", &events, 100);
    let who = User::impersonate("bob", &[]);
    let (resources, _) = r.accesses();
    let mut restricted = 0;
    for Access { namespace: ns, group, resource, verb, names } in resources {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        if let Names::Only(set) = names {
            restricted += 1;
            let other = Request::resource(verb, ns, group, resource, sub, "never-touched");
            assert!(!rbac.authorize(&who, &other).allowed(), "{verb} {resource} allowed beyond {set:?}");
            let first = set.iter().next().unwrap();
            assert!(rbac.authorize(&who, &Request::resource(verb, ns, group, resource, sub, first)).allowed());
        }
    }
    assert!(restricted > 10, "too few name-restricted rules to prove anything: {restricted}");
}

#[test]
fn the_impersonator_gets_exactly_the_right_to_impersonate() {
    let events = events(3000, 13);
    let (_, rbac) = generated("admin", &events, 5);
    let admin = User::impersonate("admin", &[]);
    let imp = |resource: &str, name: &str| Request::resource("impersonate", "", "", resource, "", name);
    assert!(rbac.authorize(&admin, &imp("users", "jane")).allowed());
    assert!(rbac.authorize(&admin, &imp("groups", "developers")).allowed());
    assert!(!rbac.authorize(&admin, &imp("users", "bob")).allowed());
    assert!(!rbac.authorize(&admin, &imp("groups", "system:masters")).allowed());
}
