//! Small builders for the Kubernetes JSON shapes the generators emit.

use serde_json::{json, Map, Value};

/// `apiVersion` of NetworkPolicy objects.
pub(crate) const NETPOL_API: &str = "networking.k8s.io/v1";
/// The label every namespace carries with its own name.
pub(crate) const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A JSON object of string labels.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    Value::Object(m)
}

/// A `v1` Namespace.
pub(crate) fn namespace(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": labels },
        "spec": { "finalizers": ["kubernetes"] },
        "status": { "phase": "Active" },
    })
}

/// A `v1` Pod, running, with `status.podIP`.
pub(crate) fn pod(name: String, ns: &str, labels: Value, containers: Value, ip: u32) -> Value {
    let ip = ipv4(ip);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": ns, "labels": labels },
        "spec": { "containers": containers },
        "status": { "phase": "Running", "podIP": ip, "podIPs": [ { "ip": ip } ] },
    })
}

/// A `networking.k8s.io/v1` NetworkPolicy.
pub(crate) fn policy(name: String, ns: &str, spec: Value) -> Value {
    json!({
        "apiVersion": NETPOL_API,
        "kind": "NetworkPolicy",
        "metadata": { "name": name, "namespace": ns },
        "spec": spec,
    })
}

/// One container port.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CPort {
    /// Port name (an IANA_SVC_NAME), if named.
    pub name: Option<&'static str>,
    /// `containerPort`.
    pub number: u16,
    /// `protocol`.
    pub proto: &'static str,
    /// Leave `protocol` out (it defaults to TCP); only honoured for TCP.
    pub omit_proto: bool,
}

impl CPort {
    /// A named port.
    pub(crate) fn named(name: &'static str, number: u16, proto: &'static str) -> Self {
        CPort { name: Some(name), number, proto, omit_proto: false }
    }

    /// The `ports[]` entry of a container.
    pub(crate) fn to_json(self) -> Value {
        let mut m = Map::new();
        if let Some(n) = self.name {
            m.insert("name".into(), n.into());
        }
        m.insert("containerPort".into(), self.number.into());
        if !(self.omit_proto && self.proto == "TCP") {
            m.insert("protocol".into(), self.proto.into());
        }
        Value::Object(m)
    }
}

/// A container with the given ports (the `ports` key is left out when empty).
pub(crate) fn container(name: &str, image: &str, ports: &[CPort]) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    m.insert("image".into(), image.into());
    if !ports.is_empty() {
        m.insert("ports".into(), Value::Array(ports.iter().map(|p| p.to_json()).collect()));
    }
    Value::Object(m)
}

/// `{matchLabels: {...}}`.
pub(crate) fn match_labels(pairs: &[(&str, &str)]) -> Value {
    json!({ "matchLabels": labels(pairs) })
}

/// One `matchExpressions` entry; `values` is left out when empty.
pub(crate) fn expr(key: &str, op: &str, values: &[&str]) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), key.into());
    m.insert("operator".into(), op.into());
    if !values.is_empty() {
        m.insert("values".into(), Value::Array(values.iter().map(|v| Value::from(*v)).collect()));
    }
    Value::Object(m)
}

/// `{matchExpressions: [...]}`.
pub(crate) fn match_exprs(exprs: Vec<Value>) -> Value {
    json!({ "matchExpressions": exprs })
}

/// A NetworkPolicyPort with a numeric port.
pub(crate) fn port_num(proto: Option<&str>, port: u16) -> Value {
    let mut m = Map::new();
    if let Some(p) = proto {
        m.insert("protocol".into(), p.into());
    }
    m.insert("port".into(), port.into());
    Value::Object(m)
}

/// A NetworkPolicyPort with a named port.
pub(crate) fn port_named(proto: Option<&str>, name: &str) -> Value {
    let mut m = Map::new();
    if let Some(p) = proto {
        m.insert("protocol".into(), p.into());
    }
    m.insert("port".into(), name.into());
    Value::Object(m)
}

/// A NetworkPolicyPort with a `port`..=`endPort` range.
pub(crate) fn port_range(proto: Option<&str>, from: u16, to: u16) -> Value {
    debug_assert!(from <= to);
    let mut m = Map::new();
    if let Some(p) = proto {
        m.insert("protocol".into(), p.into());
    }
    m.insert("port".into(), from.into());
    m.insert("endPort".into(), to.into());
    Value::Object(m)
}

/// An `ipBlock` peer; `except` is left out when empty.
pub(crate) fn ip_block(cidr: String, except: Vec<String>) -> Value {
    let mut b = Map::new();
    b.insert("cidr".into(), cidr.into());
    if !except.is_empty() {
        b.insert("except".into(), except.into());
    }
    json!({ "ipBlock": b })
}

/// Dotted-quad form of an IPv4 address.
pub(crate) fn ipv4(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

/// `a.b.c.d/len` with the host bits of `addr` cleared.
pub(crate) fn cidr(addr: u32, len: u8) -> String {
    format!("{}/{}", ipv4(addr & mask(len)), len)
}

/// The network mask of a prefix length.
pub(crate) fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// `10.1.0.0`: the first pod address (pods get `10.1.0.1`, `10.1.0.2`, ...).
pub(crate) const POD_BASE: u32 = 0x0A01_0000;
