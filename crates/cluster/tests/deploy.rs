//! The shipped ClusterRole (deploy/reader) grants the reader exactly what it asks: as
//! the RBAC authorizer decides it, every list request the reader makes is allowed, and
//! nothing else is, neither another resource nor another verb.
use std::path::PathBuf;

use podwall_rbac::{Rbac, Request, User};

const READER: &str = "system:serviceaccount:podwall-system:podwall-reader";

fn rbac() -> Rbac {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/reader");
    let input = podwall_load::load_paths(&[path]).expect("deploy/reader loads");
    let rbac = Rbac::from_input(&input).expect("valid RBAC");
    assert!(rbac.findings.is_empty(), "{:?}", rbac.findings);
    rbac
}

fn allowed(rbac: &Rbac, verb: &str, namespace: &str, group: &str, resource: &str) -> bool {
    let user = User::impersonate(READER, &[]);
    rbac.authorize(&user, &Request::resource(verb, namespace, group, resource, "", "")).allowed()
}

#[test]
fn every_list_request_the_reader_makes_is_allowed() {
    let rbac = rbac();
    let listed = podwall_cluster::kinds::listed();
    assert!(listed.len() > 20, "the reader lists the loader's kinds");
    for (_, api) in &listed {
        assert!(allowed(&rbac, "list", "", api.group, api.resource), "list {}.{} is refused", api.resource, api.group);
    }
}

#[test]
fn the_role_grants_nothing_but_those_lists() {
    let rbac = rbac();
    let listed = podwall_cluster::kinds::listed();
    let is_listed =
        |group: &str, resource: &str| listed.iter().any(|(_, a)| a.group == group && a.resource == resource);
    // Every resource the API serves (and every one the reader lists): only the listed
    // ones may be listed, and no other verb is allowed on anything.
    let mut asked = 0;
    let mut resources: Vec<(String, String)> =
        rbac.resources.all.iter().map(|r| (r.group.clone(), r.plural.clone())).collect();
    resources.extend(listed.iter().map(|(_, a)| (a.group.to_string(), a.resource.to_string())));
    for (group, resource) in &resources {
        // Every verb RBAC knows for resources.
        for verb in
            "get list watch create update patch delete deletecollection use bind escalate impersonate".split(' ')
        {
            for namespace in ["", "kube-system"] {
                let want = verb == "list" && is_listed(group, resource);
                assert_eq!(
                    allowed(&rbac, verb, namespace, group, resource),
                    want,
                    "{verb} {resource}.{group} in {namespace:?}"
                );
                asked += 1;
            }
        }
    }
    assert!(asked > 500, "{asked}");
    assert!(!allowed(&rbac, "list", "", "", "secrets"), "no Secrets");
    let url = Request::url("get", "/api");
    assert!(!rbac.authorize(&User::impersonate(READER, &[]), &url).allowed(), "no non-resource URL");
}

#[test]
fn podwall_finds_no_risky_grant_in_its_own_role() {
    let findings = rbac().risky();
    assert!(findings.is_empty(), "{findings:#?}");
}
