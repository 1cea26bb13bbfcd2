//! Namespaces, endpoints, nodes and service accounts.
use std::collections::BTreeMap;
use std::net::IpAddr;

use podwall_ir::{Cluster, Endpoint, EndpointKind, LabelMap, NamedPort, Namespace, Node, ServiceAccount, Source};
use podwall_load::pods::Spec as PodSpec;
use podwall_load::{Input, InputError, Object, Resource};
use rayon::prelude::*;

use podwall_ir::NAMESPACE_NAME_LABEL as NAME_LABEL;

fn ports(spec: Option<&PodSpec>, src: &Source, object: &str) -> Result<Vec<NamedPort>, InputError> {
    let mut out = Vec::new();
    let Some(spec) = spec else { return Ok(out) };
    for (ci, c) in spec.containers.iter().enumerate() {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let field = format!("spec.containers[{ci}].ports[{pi}]");
            let err = |f: &str, m: String| InputError::field(src, object, format!("{field}.{f}"), m);
            let protocol = crate::k8s::protocol(p.protocol.as_deref()).map_err(|m| err("protocol", m))?;
            let port = crate::k8s::port_number(p.container_port.into()).map_err(|m| err("containerPort", m))?;
            out.push(NamedPort { name: p.name.clone(), protocol, port });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn labels(m: Option<&BTreeMap<String, String>>) -> LabelMap {
    m.cloned().unwrap_or_default()
}

fn service_account(spec: Option<&PodSpec>) -> String {
    spec.and_then(|s| s.service_account_name.clone().or_else(|| s.service_account.clone()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// An endpoint and its owners' endpoint names (`NS/KIND/NAME`).
type Owned = (Endpoint, Vec<String>);

/// The endpoint an object stands for, with its owners' endpoint names (`NS/KIND/NAME`).
fn endpoint(obj: &Object) -> Result<Option<Owned>, InputError> {
    let ns = obj.namespace.clone().unwrap_or_else(|| "default".into());
    let object = obj.display();
    let src = &obj.source;
    match &obj.resource {
        Resource::Pod(pod) => {
            let spec = pod.spec.as_ref();
            let status = pod.status.as_ref();
            let parse = |s: &str, field: &str| {
                s.parse::<IpAddr>()
                    .map_err(|_| InputError::field(src, &object, field, format!("{s:?} is not an IP address")))
            };
            let ip = match status.and_then(|s| s.pod_ip.as_deref()).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(parse(s, "status.podIP")?),
            };
            let mut addresses: Vec<IpAddr> = ip.into_iter().collect();
            for (i, a) in status.and_then(|s| s.pod_ips.as_ref()).into_iter().flatten().enumerate() {
                let a = parse(&a.ip, &format!("status.podIPs[{i}].ip"))?;
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
            let owners = pod.metadata.owners().map(|(k, n)| format!("{ns}/{k}/{n}")).collect();
            Ok(Some((
                Endpoint {
                    name: format!("{ns}/{}", obj.name),
                    namespace: ns,
                    labels: labels(pod.metadata.labels.as_ref()),
                    ip: ip.or(addresses.first().copied()),
                    addresses,
                    ports: ports(spec, src, &object)?,
                    service_account: service_account(spec),
                    host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
                    kind: EndpointKind::Pod,
                    owner: None,
                    source: Some(src.clone()),
                },
                owners,
            )))
        }
        Resource::Workload(w) => {
            let spec = w.template.spec.as_ref();
            let meta = w.template.metadata.as_ref();
            let owners = w.owners.iter().map(|(k, n)| format!("{ns}/{k}/{n}")).collect();
            Ok(Some((
                Endpoint {
                    name: format!("{ns}/{}/{}", w.kind, obj.name),
                    namespace: ns,
                    labels: labels(meta.and_then(|m| m.labels.as_ref())),
                    ip: None,
                    addresses: vec![],
                    ports: ports(spec, src, &object).map_err(|mut e| {
                        e.field =
                            e.field.map(|f| format!("{}{}", template_path(&w.kind), f.trim_start_matches("spec.")));
                        e
                    })?,
                    service_account: service_account(spec),
                    host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
                    kind: EndpointKind::Template(w.kind.clone()),
                    owner: None,
                    source: Some(src.clone()),
                },
                owners,
            )))
        }
        _ => Ok(None),
    }
}

fn template_path(kind: &str) -> &'static str {
    if kind == "CronJob" {
        "spec.jobTemplate.spec.template.spec."
    } else {
        "spec.template.spec."
    }
}

/// Builds the universe: every namespace (declared or referred to), every endpoint,
/// node and service account. Policies are left empty.
pub fn build(input: &Input) -> Result<Cluster, InputError> {
    let mut cluster = Cluster::default();
    for obj in &input.objects {
        match &obj.resource {
            Resource::Namespace(ns) => {
                let mut l = labels(ns.metadata.labels.as_ref());
                l.insert(NAME_LABEL.into(), obj.name.clone());
                cluster
                    .namespaces
                    .insert(obj.name.clone(), Namespace { name: obj.name.clone(), labels: l, declared: true });
            }
            Resource::Node(node) => {
                let addresses = node
                    .status
                    .as_ref()
                    .and_then(|s| s.addresses.as_ref())
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.address.parse().ok())
                    .collect();
                cluster.nodes.insert(
                    obj.name.clone(),
                    Node { name: obj.name.clone(), labels: labels(node.metadata.labels.as_ref()), addresses },
                );
            }
            Resource::ServiceAccount(sa) => {
                let ns = obj.namespace.clone().unwrap_or_default();
                cluster.service_accounts.insert(
                    (ns.clone(), obj.name.clone()),
                    ServiceAccount {
                        namespace: ns,
                        name: obj.name.clone(),
                        labels: labels(sa.metadata.labels.as_ref()),
                    },
                );
            }
            _ => {}
        }
    }
    // Endpoints are built in parallel; the first error in input order is reported.
    let endpoints: Vec<Result<Option<Owned>, InputError>> = input.objects.par_iter().map(endpoint).collect();
    let mut owners: Vec<Vec<String>> = Vec::new();
    for ep in endpoints {
        if let Some((ep, o)) = ep? {
            cluster.endpoints.push(ep);
            owners.push(o);
        }
    }
    stand_for_owners(&mut cluster, owners);
    // Every namespace any object lives in exists, carrying only its name label.
    for obj in &input.objects {
        if let Some(ns) = &obj.namespace {
            cluster.namespaces.entry(ns.clone()).or_insert_with(|| Namespace::implied(ns));
        }
    }
    cluster.endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    // `compile` keeps one object per kind, namespace and name, so endpoint names are unique.
    debug_assert!(cluster.endpoints.windows(2).all(|w| w[0].name != w[1].name));
    Ok(cluster)
}

/// Pods stand for the workloads they were made from: a workload whose pods (through
/// `ownerReferences`, a ReplicaSet's own owner included) are in the input is not an
/// endpoint of its own, as a cluster dump holds a Deployment, its ReplicaSet and their
/// Pods. A template is an endpoint only when none of its pods is given.
fn stand_for_owners(cluster: &mut Cluster, owners: Vec<Vec<String>>) {
    let by_name: std::collections::HashMap<String, usize> = cluster
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, EndpointKind::Template(_)))
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    if by_name.is_empty() {
        return;
    }
    let mut represented = vec![false; cluster.endpoints.len()];
    for i in 0..cluster.endpoints.len() {
        if cluster.endpoints[i].kind != EndpointKind::Pod {
            continue;
        }
        // Climb the owner chain through the templates the input holds.
        let mut top = None;
        let mut next: Option<&String> = owners[i].iter().find(|o| by_name.contains_key(*o));
        let mut seen = 0;
        while let Some(o) = next {
            let t = by_name[o];
            represented[t] = true;
            top = Some(o.clone());
            cluster.represented.entry(o.clone()).or_default().push(cluster.endpoints[i].name.clone());
            next = owners[t].iter().find(|o| by_name.contains_key(*o));
            seen += 1;
            if seen > by_name.len() {
                break; // an ownership cycle: no real cluster has one
            }
        }
        cluster.endpoints[i].owner = top;
    }
    let mut keep = represented.iter().map(|r| !r);
    cluster.endpoints.retain(|_| keep.next().unwrap_or(true));
}
