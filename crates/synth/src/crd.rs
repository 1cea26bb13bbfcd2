//! Small builders for the Calico (`projectcalico.org/v3`), AdminNetworkPolicy
//! (`policy.networking.k8s.io/v1alpha1`) and core objects the generators emit beside
//! Namespaces, Pods and NetworkPolicies.

use serde_json::{json, Map, Value};

/// `apiVersion` of Calico objects.
pub(crate) const CALICO_API: &str = "projectcalico.org/v3";
/// `apiVersion` of AdminNetworkPolicy objects.
pub(crate) const ANP_API: &str = "policy.networking.k8s.io/v1alpha1";

/// A JSON number for a policy or tier order: an integer when it is one.
pub(crate) fn order(o: f64) -> Value {
    if o.fract() == 0.0 && o.abs() < 1e15 {
        Value::from(o as i64)
    } else {
        Value::from(o)
    }
}

fn meta(name: &str, namespace: Option<&str>, labels: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    if let Some(ns) = namespace {
        m.insert("namespace".into(), ns.into());
    }
    if let Some(l) = labels {
        m.insert("labels".into(), l);
    }
    Value::Object(m)
}

/// A Calico Tier; `default_action` is left out when `None` (it defaults to Deny).
pub(crate) fn tier(name: &str, order_: Option<f64>, default_action: Option<&str>) -> Value {
    let mut spec = Map::new();
    if let Some(o) = order_ {
        spec.insert("order".into(), order(o));
    }
    if let Some(a) = default_action {
        spec.insert("defaultAction".into(), a.into());
    }
    json!({ "apiVersion": CALICO_API, "kind": "Tier", "metadata": meta(name, None, None), "spec": spec })
}

/// A Calico NetworkPolicy (with a namespace) or GlobalNetworkPolicy (without).
pub(crate) fn calico_policy(name: &str, namespace: Option<&str>, spec: Value) -> Value {
    let kind = if namespace.is_some() { "NetworkPolicy" } else { "GlobalNetworkPolicy" };
    json!({ "apiVersion": CALICO_API, "kind": kind, "metadata": meta(name, namespace, None), "spec": spec })
}

/// A Calico NetworkSet (with a namespace) or GlobalNetworkSet (without).
pub(crate) fn network_set(name: &str, namespace: Option<&str>, labels: Value, nets: &[String]) -> Value {
    let kind = if namespace.is_some() { "NetworkSet" } else { "GlobalNetworkSet" };
    json!({
        "apiVersion": CALICO_API,
        "kind": kind,
        "metadata": meta(name, namespace, Some(labels)),
        "spec": { "nets": nets },
    })
}

/// An AdminNetworkPolicy.
pub(crate) fn admin_policy(name: &str, spec: Value) -> Value {
    json!({ "apiVersion": ANP_API, "kind": "AdminNetworkPolicy", "metadata": meta(name, None, None), "spec": spec })
}

/// The BaselineAdminNetworkPolicy (always named `default`).
pub(crate) fn baseline_policy(spec: Value) -> Value {
    json!({
        "apiVersion": ANP_API,
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": meta("default", None, None),
        "spec": spec,
    })
}

/// The API version of ClusterNetworkPolicy.
pub(crate) const CNP_API: &str = "policy.networking.k8s.io/v1alpha2";

/// A ClusterNetworkPolicy (v1alpha2).
pub(crate) fn cluster_policy(name: &str, spec: Value) -> Value {
    json!({ "apiVersion": CNP_API, "kind": "ClusterNetworkPolicy", "metadata": meta(name, None, None), "spec": spec })
}

/// A `v1` ServiceAccount.
pub(crate) fn service_account(name: &str, namespace: &str, labels: Value) -> Value {
    json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, Some(namespace), Some(labels)) })
}

/// A `v1` Node with one internal address.
pub(crate) fn node(name: &str, labels: Value, address: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(name, None, Some(labels)),
        "status": { "addresses": [{ "type": "InternalIP", "address": address }] },
    })
}

/// An ANP `portNumber` entry; `protocol` is left out when `None` (TCP).
pub(crate) fn anp_port_number(protocol: Option<&str>, port: u16) -> Value {
    let mut m = Map::new();
    if let Some(p) = protocol {
        m.insert("protocol".into(), p.into());
    }
    m.insert("port".into(), port.into());
    json!({ "portNumber": m })
}

/// An ANP `portRange` entry.
pub(crate) fn anp_port_range(protocol: Option<&str>, start: u16, end: u16) -> Value {
    let mut m = Map::new();
    if let Some(p) = protocol {
        m.insert("protocol".into(), p.into());
    }
    m.insert("start".into(), start.into());
    m.insert("end".into(), end.into());
    json!({ "portRange": m })
}

/// An ANP `namedPort` entry.
pub(crate) fn anp_named_port(name: &str) -> Value {
    json!({ "namedPort": name })
}
