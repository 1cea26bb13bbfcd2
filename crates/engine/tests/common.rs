//! Helpers shared by the engine's integration tests: load a cluster, read an
//! expectation file, judge each line with both evaluators.
#![allow(dead_code)]

use std::path::Path;

use podwall_engine::{evaluate, Addr, Index, Packet};
use podwall_ir::{Cluster, Protocol};
use podwall_load::InputError;

/// Two nodes (`node-1` role=worker, 192.168.0.1 and fd00::1; `node-2`
/// role=control-plane, 192.168.0.2) and a host-network pod `kube-system/agent` on the
/// first one, in the `kube-system` Namespace.
pub const NODES: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system, labels: {app: agent}}
spec:
  hostNetwork: true
  nodeName: node-1
  containers: [{name: agent, image: agent}]
status: {podIP: 192.168.0.1}
---
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {role: worker}}
status:
  addresses:
    - {type: InternalIP, address: 192.168.0.1}
    - {type: InternalIP, address: "fd00::1"}
    - {type: Hostname, address: node-1}
---
apiVersion: v1
kind: Node
metadata: {name: node-2, labels: {role: control-plane}}
status:
  addresses:
    - {type: InternalIP, address: 192.168.0.2}
"#;

/// Loads and compiles manifests from paths.
pub fn cluster(paths: &[&Path]) -> Cluster {
    let input = podwall_load::load_paths(paths).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// Compiles manifests from text.
pub fn cluster_str(text: &str) -> Cluster {
    let input = podwall_load::load_str("test.yaml", text).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// The error compiling manifests from text gives (loading must succeed).
pub fn compile_error(text: &str) -> InputError {
    let input = podwall_load::load_str("test.yaml", text).unwrap_or_else(|e| panic!("load: {e}"));
    match podwall_dialects::compile(&input) {
        Ok(_) => panic!("expected a compile error"),
        Err(e) => e,
    }
}

/// A NetworkPolicy isolating every pod of `ns` in `dir` (Ingress or Egress), admitting nothing.
pub fn isolate(ns: &str, dir: &str) -> String {
    format!(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: isolate-{dir}, namespace: {ns}}}
spec:
  podSelector: {{}}
  policyTypes: [{dir}]
"#
    )
}

/// A NetworkPolicy in `ns` admitting everything in `dir` (so it selects its pods, and allows).
pub fn np_allow_all(ns: &str, dir: &str) -> String {
    let rules = if dir == "Ingress" { "ingress: [{}]" } else { "egress: [{}]" };
    format!(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-all-{dir}, namespace: {ns}}}
spec:
  podSelector: {{}}
  policyTypes: [{dir}]
  {rules}
"#
    )
}

/// Resolves a name or address.
pub fn addr(c: &Cluster, s: &str) -> Addr {
    if let Ok(ip) = s.parse() {
        return c.endpoint_by_ip(ip).map(Addr::Endpoint).unwrap_or(Addr::Ip(ip));
    }
    Addr::Endpoint(c.endpoint(s).unwrap_or_else(|| panic!("no endpoint {s}")))
}

/// Judges `from → to` on `proto/port` with the reference evaluator and, when both ends
/// are endpoints, with the set-based matrix; panics if they disagree.
pub fn allowed(c: &Cluster, from: &str, to: &str, proto: Protocol, port: Option<u16>) -> bool {
    let (s, d) = (addr(c, from), addr(c, to));
    let icmp = (!proto.has_ports()).then_some((8, 0));
    let pkt = Packet { src: s, dst: d, protocol: proto, port, icmp, http: None };
    let v = evaluate(c, &pkt).allowed;
    if let (Addr::Endpoint(si), Addr::Endpoint(di), true) = (s, d, proto.has_ports()) {
        let index = Index::new(c);
        let m = index.matrix(proto, port);
        assert_eq!(m.allowed(si, di), v, "matrix and reference evaluator disagree on {from} -> {to} {proto}/{port:?}");
        let q = index.query(si, di, proto, port);
        assert_eq!(q, v, "pair query and reference evaluator disagree on {from} -> {to} {proto}/{port:?}");
    }
    v
}

/// One line of an expectation file.
pub struct Expect {
    pub line: usize,
    pub from: String,
    pub to: String,
    pub proto: Protocol,
    pub port: Option<u16>,
    pub allow: bool,
}

/// Reads `from to PROTO/PORT allow|deny` lines (`#` starts a comment).
pub fn expectations(path: &Path) -> Vec<Expect> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let body = line.split('#').next().unwrap_or_default().trim();
        if body.is_empty() {
            continue;
        }
        let cols: Vec<&str> = body.split_whitespace().collect();
        assert_eq!(cols.len(), 4, "{}:{line_no}: expected 4 columns", path.display());
        let (proto, port) = match cols[2].split_once('/') {
            Some((p, n)) => (p, Some(n.parse().unwrap_or_else(|_| panic!("{}:{line_no}: bad port", path.display())))),
            None => (cols[2], None),
        };
        let proto = Protocol::parse(proto).unwrap_or_else(|| panic!("{}:{line_no}: bad protocol", path.display()));
        let allow = match cols[3] {
            "allow" => true,
            "deny" => false,
            other => panic!("{}:{line_no}: verdict {other:?}", path.display()),
        };
        out.push(Expect { line: line_no, from: cols[0].into(), to: cols[1].into(), proto, port, allow });
    }
    out
}

/// Checks every expectation of `expect` against `c`; returns the failures.
pub fn check_all(c: &Cluster, expect: &Path) -> Vec<String> {
    let exps = expectations(expect);
    assert!(!exps.is_empty(), "{} has no expectations", expect.display());
    exps.iter()
        .filter_map(|e| {
            let got = allowed(c, &e.from, &e.to, e.proto, e.port);
            (got != e.allow).then(|| {
                format!(
                    "{}:{}: {} -> {} {}/{:?}: expected {}, got {}",
                    expect.display(),
                    e.line,
                    e.from,
                    e.to,
                    e.proto,
                    e.port,
                    if e.allow { "allow" } else { "deny" },
                    if got { "allow" } else { "deny" }
                )
            })
        })
        .collect()
}
