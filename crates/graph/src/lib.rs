//! Who may talk to whom, as a picture.
//!
//! [`Graph::build`] reads the exact engine's [`Index`]: nodes are namespaces, or with
//! [`Grouping::Classes`] the index's equivalence classes of endpoints (endpoints every
//! rule treats alike), or the namespaces or pods that share a label's value
//! ([`Grouping::NamespaceLabel`], [`Grouping::PodLabel`]), so that a large cluster stays a
//! readable picture; an edge `a → b` says
//! that some endpoint of `a` may open a connection to some endpoint of `b`, labelled with
//! the ports it may use. Ports are TCP, UDP and SCTP; `all` is every port of the three.
//! Nothing here judges a policy: every edge is a count from [`podwall_engine::Matrix::between`]
//! over the ranges of [`Index::port_ranges`].
//!
//! Renderers: [`dot`] (Graphviz), [`mermaid`] and [`svg`] (laid out here by [`layout`],
//! no Graphviz needed).
//!
//! ```
//! let input = podwall_load::load_str("c.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n").unwrap();
//! let cluster = podwall_dialects::compile(&input).unwrap();
//! let index = podwall_engine::Index::new(&cluster);
//! let graph = podwall_graph::Graph::build(&index, podwall_graph::Grouping::Namespaces);
//! assert_eq!(graph.nodes[0].name, "x");
//! assert!(podwall_graph::dot::render(&graph).starts_with("digraph"));
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};

use podwall_engine::{Index, PortRange, PORT_PROTOCOLS};

pub mod dot;
pub mod layout;
pub mod mermaid;
pub mod svg;

/// What a node stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// One node per namespace.
    Namespaces,
    /// One node per equivalence class of endpoints (same namespace, labels, ports,
    /// service account: every rule treats them alike).
    Classes,
    /// One node per value of this namespace label (`team=payments`: every namespace
    /// labelled so); a namespace without the label is a node of its own.
    NamespaceLabel(String),
    /// Within each namespace, one node per value of this pod label (`shop/app=web`);
    /// endpoints without it, one node per equivalence class as with [`Grouping::Classes`].
    PodLabel(String),
}

/// A node: a namespace, a class of endpoints, or the endpoints sharing a label value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its name: the namespace, the class's first endpoint, or `key=value`
    /// (`namespace/key=value` for a pod label).
    pub name: String,
    /// A second line: how many endpoints it holds.
    pub detail: String,
    /// How many endpoints it holds.
    pub endpoints: usize,
}

/// Flows allowed from one node to another (or to itself: between its endpoints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Source node.
    pub from: usize,
    /// Destination node.
    pub to: usize,
    /// The ports some source endpoint may open to some destination endpoint, adjacent
    /// ranges merged, in protocol then port order.
    pub ports: Vec<PortRange>,
    /// On every one of those ports, every pair of distinct endpoints is allowed (not
    /// only some).
    pub every_pair: bool,
}

impl Edge {
    /// Whether every port of TCP, UDP and SCTP is allowed.
    pub fn all_ports(&self) -> bool {
        PORT_PROTOCOLS.iter().all(|&p| self.ports.iter().any(|r| r.protocol == p && r.lo == 1 && r.hi == 65535))
    }

    /// The ports as text: `all`, or `TCP/80, TCP/8000-8080, UDP/all`.
    pub fn label(&self) -> String {
        self.label_at_most(usize::MAX)
    }

    /// The label with at most `max` port entries, then `+N more`.
    pub fn label_at_most(&self, max: usize) -> String {
        if self.all_ports() {
            return "all".into();
        }
        let mut parts: Vec<String> = self.ports.iter().take(max).map(port_text).collect();
        if self.ports.len() > max {
            parts.push(format!("+{} more", self.ports.len() - max));
        }
        parts.join(", ")
    }
}

fn port_text(r: &PortRange) -> String {
    match (r.lo, r.hi) {
        (1, 65535) => format!("{}/all", r.protocol),
        (lo, hi) if lo == hi => format!("{}/{lo}", r.protocol),
        (lo, hi) => format!("{}/{lo}-{hi}", r.protocol),
    }
}

/// The most nodes [`svg`] lays out: past it a picture is no longer readable (and the
/// label placement, quadratic in edges, no longer quick).
pub const DRAWABLE_NODES: usize = 100;
/// The most edges [`svg`] lays out.
pub const DRAWABLE_EDGES: usize = 1000;

/// Nodes and the flows between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// Nodes, by name.
    pub nodes: Vec<Node>,
    /// Edges, by (from, to).
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Whether [`svg`] lays it out: at most [`DRAWABLE_NODES`] nodes and
    /// [`DRAWABLE_EDGES`] edges. DOT and Mermaid have no limit.
    pub fn drawable(&self) -> bool {
        self.nodes.len() <= DRAWABLE_NODES && self.edges.len() <= DRAWABLE_EDGES
    }

    /// Why it is not drawn, when it is not [`drawable`](Graph::drawable).
    pub fn too_large(&self) -> Option<String> {
        (!self.drawable()).then(|| {
            format!(
                "{} nodes and {} edges are too many to draw legibly (at most {DRAWABLE_NODES} nodes and {DRAWABLE_EDGES} edges); `podwall graph --group-by team` draws namespaces grouped by a label (`--pods --group-by app`: pods by one), and `--format dot` gives the graph for Graphviz",
                self.nodes.len(),
                self.edges.len()
            )
        })
    }

    /// The flows the index allows between the nodes of `grouping`. An endpoint's
    /// traffic to itself is left out; traffic between two endpoints of one node is an
    /// edge from the node to itself.
    pub fn build(index: &Index, grouping: Grouping) -> Graph {
        let cluster = index.cluster();
        let (group, mut nodes) = groups(index, &grouping);
        let mut namespaces: Vec<std::collections::BTreeSet<&str>> = vec![Default::default(); nodes.len()];
        for (e, g) in group.iter().enumerate() {
            if let Some(g) = g {
                namespaces[*g as usize].insert(cluster.endpoints[e].namespace.as_str());
            }
        }
        for (n, spaces) in nodes.iter_mut().zip(&namespaces) {
            let noun = if n.endpoints == 1 { "endpoint" } else { "endpoints" };
            let labelled = n.name.contains('=');
            n.detail = match &grouping {
                Grouping::NamespaceLabel(_) if labelled && spaces.len() != 1 => {
                    format!("{} {noun} in {} namespaces", n.endpoints, spaces.len())
                }
                Grouping::Namespaces | Grouping::NamespaceLabel(_) => format!("{} {noun}", n.endpoints),
                Grouping::PodLabel(_) if labelled => format!("{} {noun}", n.endpoints),
                Grouping::Classes | Grouping::PodLabel(_) if n.endpoints == 1 => "1 endpoint".into(),
                Grouping::Classes | Grouping::PodLabel(_) => format!("and {} alike", n.endpoints - 1),
            };
        }
        let size: Vec<u64> = nodes.iter().map(|n| n.endpoints as u64).collect();
        let pairs = |g: u32, h: u32| size[g as usize] * size[h as usize] - if g == h { size[g as usize] } else { 0 };
        // (from, to) → per range allowed: (range, every pair). Hashed, then sorted once:
        // a large cluster has a million group pairs and dozens of ranges.
        let mut flows: HashMap<(u32, u32), Vec<(PortRange, bool)>> = HashMap::new();
        if !cluster.endpoints.is_empty() {
            for r in index.port_ranges() {
                let m = index.matrix(r.protocol, Some(r.lo));
                for ((g, h), n) in m.between(&group, &group) {
                    flows.entry((g, h)).or_default().push((r, n == pairs(g, h)));
                }
            }
        }
        let mut flows: Vec<_> = flows.into_iter().collect();
        flows.sort_unstable_by_key(|(pair, _)| *pair);
        let edges = flows
            .into_iter()
            .map(|((g, h), mut rs)| {
                rs.sort();
                Edge { from: g as usize, to: h as usize, every_pair: rs.iter().all(|r| r.1), ports: merge(&rs) }
            })
            .collect();
        Graph { nodes, edges }
    }
}

/// Per endpoint its node, and the nodes (names and sizes), sorted by name.
fn groups(index: &Index, grouping: &Grouping) -> (Vec<Option<u32>>, Vec<Node>) {
    use std::borrow::Cow;
    let cluster = index.cluster();
    // A class is named after its first endpoint (endpoints are sorted by name).
    let mut first: BTreeMap<usize, String> = BTreeMap::new();
    let mut class = |e: usize, name: &str| first.entry(index.class_of(e)).or_insert_with(|| name.to_string()).clone();
    let names: Vec<Cow<str>> = cluster
        .endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| match grouping {
            Grouping::Namespaces => Cow::Borrowed(ep.namespace.as_str()),
            Grouping::Classes => Cow::Owned(class(e, &ep.name)),
            Grouping::NamespaceLabel(key) => {
                match cluster.namespaces.get(&ep.namespace).and_then(|n| n.labels.get(key)) {
                    Some(value) => Cow::Owned(format!("{key}={value}")),
                    None => Cow::Borrowed(ep.namespace.as_str()),
                }
            }
            Grouping::PodLabel(key) => match ep.labels.get(key) {
                Some(value) => Cow::Owned(format!("{}/{key}={value}", ep.namespace)),
                None => Cow::Owned(class(e, &ep.name)),
            },
        })
        .collect();
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &names {
        *sizes.entry(n.as_ref()).or_default() += 1;
    }
    let ids: BTreeMap<&str, u32> = sizes.keys().enumerate().map(|(i, n)| (*n, i as u32)).collect();
    let group = names.iter().map(|n| Some(ids[n.as_ref()])).collect();
    let nodes =
        sizes.iter().map(|(n, &k)| Node { name: (*n).to_string(), detail: String::new(), endpoints: k }).collect();
    (group, nodes)
}

/// Text with each character `swap` names replaced by what it gives (the renderers'
/// escaping).
pub(crate) fn replace_chars(s: &str, swap: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match swap(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    out
}

/// Adjacent ranges of one protocol merged.
fn merge(rs: &[(PortRange, bool)]) -> Vec<PortRange> {
    let mut out: Vec<PortRange> = Vec::new();
    for &(r, _) in rs {
        match out.last_mut() {
            Some(last) if last.protocol == r.protocol && u32::from(last.hi) + 1 == u32::from(r.lo) => last.hi = r.hi,
            _ => out.push(r),
        }
    }
    out
}
