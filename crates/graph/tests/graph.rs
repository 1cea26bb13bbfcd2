//! The graph from the semantics: edges are exactly the flows the policies allow, with
//! their ports; the renderers give valid DOT (checked by Graphviz's `dot` when it is
//! installed; required under `PODWALL_REQUIRE_PRIVILEGED_TESTS=1`), well-formed Mermaid,
//! and an SVG whose labels overlap no node.
use podwall_engine::{Index, PortRange};
use podwall_graph::{dot, layout, mermaid, svg, Edge, Graph, Grouping, Node};
use podwall_ir::Protocol;

fn graph(yaml: &str, grouping: Grouping) -> Graph {
    let input = podwall_load::load_str("test.yaml", yaml).unwrap_or_else(|e| panic!("load: {e}"));
    let cluster = podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"));
    Graph::build(&Index::new(&cluster), grouping)
}

fn pod(ns: &str, name: &str, app: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {app}}}}}\nspec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80, name: http}}]}}]}}\n"
    )
}

const NAMESPACES: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";

/// Namespace b admits ingress from namespace a on TCP/80 only; a admits no ingress.
fn a_to_b_on_80() -> String {
    let from_a = "{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}], ports: [{protocol: TCP, port: 80}]}";
    let policies = format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: from-a, namespace: b}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress], ingress: [{from_a}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny-ingress, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"
    );
    format!(
        "{NAMESPACES}{}{}{}{policies}",
        pod("a", "client", "client"),
        pod("a", "other", "other"),
        pod("b", "web", "web")
    )
}

/// The namespace graph of [`a_to_b_on_80`] with one piece of its text replaced.
fn a_to_b_with(from: &str, to: &str) -> Graph {
    let yaml = a_to_b_on_80();
    assert!(yaml.contains(from), "{from} is in the base case");
    graph(&yaml.replace(from, to), Grouping::Namespaces)
}

fn tcp(lo: u16, hi: u16) -> PortRange {
    PortRange { protocol: Protocol::TCP, lo, hi }
}

#[test]
fn a_namespace_admitting_another_on_tcp_80_only_gives_exactly_that_edge() {
    let g = graph(&a_to_b_on_80(), Grouping::Namespaces);
    let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(g.nodes[0].detail, "2 endpoints");
    assert_eq!(g.edges, [Edge { from: 0, to: 1, ports: vec![tcp(80, 80)], every_pair: true }]);
    assert_eq!(g.edges[0].label(), "TCP/80");
}

#[test]
fn without_policies_every_namespace_reaches_every_other_on_all_ports() {
    let yaml = format!("{NAMESPACES}{}{}{}", pod("a", "x", "x"), pod("a", "y", "y"), pod("b", "z", "z"));
    let g = graph(&yaml, Grouping::Namespaces);
    let pairs: Vec<(usize, usize, String)> = g.edges.iter().map(|e| (e.from, e.to, e.label())).collect();
    // b holds one pod: its traffic to itself is no edge.
    assert_eq!(pairs, [(0, 0, "all".into()), (0, 1, "all".into()), (1, 0, "all".into())]);
    assert!(g.edges.iter().all(|e| e.every_pair));
}

#[test]
fn an_edge_is_dashed_when_only_some_pairs_of_the_two_nodes_connect() {
    // Only app=client of namespace a may reach b: a → b holds for one of a's two pods.
    let g = a_to_b_with(
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}",
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}, podSelector: {matchLabels: {app: client}}",
    );
    assert_eq!(g.edges, [Edge { from: 0, to: 1, ports: vec![tcp(80, 80)], every_pair: false }]);
    assert!(dot::render(&g).contains("style=dashed"));
    assert!(mermaid::render(&g).contains("n0 -.->|\"TCP/80\"| n1"));
}

#[test]
fn pods_group_by_equivalence_class() {
    let yaml = format!("{}{}", a_to_b_on_80(), pod("b", "web-2", "web"));
    let g = graph(&yaml, Grouping::Classes);
    let nodes: Vec<(&str, &str)> = g.nodes.iter().map(|n| (n.name.as_str(), n.detail.as_str())).collect();
    assert_eq!(nodes, [("a/client", "1 endpoint"), ("a/other", "1 endpoint"), ("b/web", "and 1 alike")]);
    let edges: Vec<(usize, usize, String)> = g.edges.iter().map(|e| (e.from, e.to, e.label())).collect();
    assert_eq!(edges, [(0, 2, "TCP/80".into()), (1, 2, "TCP/80".into())]);
}

#[test]
fn ports_merge_into_ranges_and_label_every_protocol() {
    // b admits from a every TCP port but 80 and 81, and every UDP port.
    let g = a_to_b_with(
        "ports: [{protocol: TCP, port: 80}]",
        "ports: [{protocol: TCP, port: 1, endPort: 79}, {protocol: TCP, port: 82, endPort: 65535}, {protocol: UDP}]",
    );
    assert_eq!(g.edges.len(), 1);
    assert_eq!(g.edges[0].label(), "TCP/1-79, TCP/82-65535, UDP/all");
    assert!(!g.edges[0].all_ports());
}

/// Names that would break each format if not escaped.
fn nasty() -> Graph {
    let node = |name: &str| Node { name: name.into(), detail: "1 endpoint".into(), endpoints: 1 };
    Graph {
        nodes: vec![node("q\"uote\\"), node("<script>alert(1)</script>"), node("pipe|#hash&amp")],
        edges: vec![
            Edge { from: 0, to: 1, ports: vec![tcp(80, 80)], every_pair: true },
            Edge { from: 1, to: 2, ports: vec![tcp(1, 65535)], every_pair: false },
            Edge { from: 2, to: 2, ports: vec![tcp(53, 53)], every_pair: true },
        ],
    }
}

fn required() -> bool {
    std::env::var("PODWALL_REQUIRE_PRIVILEGED_TESTS").is_ok_and(|v| v == "1")
}

/// Runs Graphviz's `dot -Tsvg` on the text: `Some(stderr)` on a refusal.
fn graphviz(text: &str) -> Option<Result<(), String>> {
    use std::io::Write as _;
    let child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if required() => panic!("Graphviz `dot` is required here (PODWALL_REQUIRE_PRIVILEGED_TESTS=1): {e}"),
        Err(e) => {
            eprintln!(
                "skipped: Graphviz `dot` cannot run ({e}); set PODWALL_REQUIRE_PRIVILEGED_TESTS=1 to fail instead"
            );
            return None;
        }
    };
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("write to dot");
    let out = child.wait_with_output().expect("dot runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    Some(if out.status.success() && stderr.trim().is_empty() { Ok(()) } else { Err(stderr) })
}

#[test]
fn graphviz_accepts_the_dot_output() {
    for g in [graph(&a_to_b_on_80(), Grouping::Namespaces), graph(&a_to_b_on_80(), Grouping::Classes), nasty()] {
        let text = dot::render(&g);
        if let Some(r) = graphviz(&text) {
            r.unwrap_or_else(|e| panic!("dot refused:\n{text}\n{e}"));
        }
    }
    // The check can fail: an unescaped quote is refused.
    if let Some(r) = graphviz("digraph x { n0 [label=\"a\"b\"]; }") {
        assert!(r.is_err(), "dot accepted a broken string");
    }
}

/// Checks Mermaid's structure: a header, node definitions with quoted labels before any
/// use, and edges `nI -->|"..."| nJ` or `-.->`, no raw quote inside a string.
fn check_mermaid(text: &str) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    let mut defined = std::collections::BTreeSet::new();
    let quoted = |s: &str| s.starts_with('"') && s.ends_with('"') && s.len() >= 2 && !s[1..s.len() - 1].contains('"');
    for line in lines {
        let line = line.strip_prefix("  ").unwrap_or_else(|| panic!("not indented: {line}"));
        if let Some((id, rest)) = line.split_once('[') {
            let label = rest.strip_suffix(']').unwrap_or_else(|| panic!("unclosed node: {line}"));
            assert!(quoted(label), "node label not one quoted string: {line}");
            assert!(
                !label.contains('<') || label.matches('<').count() == label.matches("<br/>").count(),
                "markup: {line}"
            );
            assert!(id.starts_with('n') && id[1..].parse::<usize>().is_ok(), "bad id: {line}");
            defined.insert(id.to_string());
        } else {
            let (from, rest) = line.split_once(' ').unwrap_or_else(|| panic!("not an edge: {line}"));
            let rest = rest
                .strip_prefix("-->")
                .or_else(|| rest.strip_prefix("-.->"))
                .unwrap_or_else(|| panic!("arrow: {line}"));
            let rest = rest.strip_prefix('|').unwrap_or_else(|| panic!("label: {line}"));
            let (label, to) = rest.rsplit_once("| ").unwrap_or_else(|| panic!("label end: {line}"));
            assert!(quoted(label), "edge label not one quoted string: {line}");
            assert!(!label.contains('|'), "pipe in a label: {line}");
            assert!(defined.contains(from) && defined.contains(to), "edge before its nodes: {line}");
        }
    }
}

#[test]
fn mermaid_output_is_a_well_formed_flowchart() {
    for g in [graph(&a_to_b_on_80(), Grouping::Namespaces), nasty()] {
        check_mermaid(&mermaid::render(&g));
    }
    assert_eq!(
        mermaid::render(&graph(&a_to_b_on_80(), Grouping::Namespaces)),
        "flowchart LR\n  n0[\"a<br/>2 endpoints\"]\n  n1[\"b<br/>1 endpoint\"]\n  n0 -->|\"TCP/80\"| n1\n"
    );
}

#[test]
fn svg_escapes_every_name_and_draws_each_edge() {
    let g = nasty();
    let s = svg::render(&g);
    assert!(!s.contains("<script"), "{s}");
    assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(s.contains("q&quot;uote\\"));
    assert_eq!(s.matches("marker-end=").count(), g.edges.len());
    assert_eq!(s.matches("stroke-dasharray").count(), 1);
    assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
}

#[test]
fn labels_overlap_no_node_and_nodes_overlap_each_other_nowhere() {
    for n in 1..40usize {
        let nodes: Vec<Node> = (0..n)
            .map(|i| Node {
                name: format!("ns-{}", "x".repeat((i * 7) % 23)),
                detail: format!("{i} endpoints"),
                endpoints: i,
            })
            .collect();
        let mut edges = Vec::new();
        for a in 0..n {
            for b in 0..n {
                if (a * 31 + b * 17) % 5 < 2 {
                    let ports =
                        vec![tcp(80, 80 + (a % 3) as u16), PortRange { protocol: Protocol::UDP, lo: 53, hi: 53 }];
                    edges.push(Edge { from: a, to: b, ports, every_pair: (a + b) % 2 == 0 });
                }
            }
        }
        let g = Graph { nodes, edges };
        let l = layout::layout(&g);
        for (i, a) in l.nodes.iter().enumerate() {
            for b in &l.nodes[i + 1..] {
                assert!(!a.overlaps(b, 0.0), "{n} nodes: two nodes overlap");
            }
        }
        for e in &l.edges {
            for v in &l.nodes {
                assert!(!e.label_box.overlaps(v, 0.0), "{n} nodes: the label of edge {} overlaps a node", e.edge);
            }
        }
        let (x0, y0, x1, y1) = l.bounds;
        for b in l.nodes.iter().chain(l.edges.iter().map(|e| &e.label_box)) {
            assert!(
                b.x - b.hw >= x0 - 1e-6
                    && b.x + b.hw <= x1 + 1e-6
                    && b.y - b.hh >= y0 - 1e-6
                    && b.y + b.hh <= y1 + 1e-6
            );
        }
        assert_eq!(layout::layout(&g), l, "the layout is deterministic");
    }
}

fn compile(values: Vec<serde_json::Value>) -> podwall_ir::Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// On generated clusters, each namespace edge holds a port range exactly when the
/// reference evaluator (connection by connection, not the index) allows some pair of
/// distinct endpoints of the two namespaces on it, at both ends of the range; it is
/// solid exactly when every such pair is allowed on every range it holds.
#[test]
fn namespace_edges_are_what_the_reference_evaluator_allows() {
    use podwall_engine::{evaluate, Addr, Packet};
    let (mut ranges_checked, mut solid, mut dashed) = (0, 0, 0);
    for seed in 0..12 {
        let c = compile(if seed % 2 == 0 {
            podwall_synth::generate_small(seed)
        } else {
            podwall_synth::generate_small_mixed(seed)
        });
        let index = Index::new(&c);
        let g = Graph::build(&index, Grouping::Namespaces);
        let node = |ns: &str| g.nodes.iter().position(|n| n.name == ns).expect("every namespace is a node");
        let of: Vec<usize> = c.endpoints.iter().map(|e| node(&e.namespace)).collect();
        let n = c.endpoints.len();
        // (from, to) → (ranges with an allowed pair, whether every pair was allowed on them).
        let mut want: std::collections::BTreeMap<(usize, usize), (Vec<PortRange>, bool)> = Default::default();
        for r in index.port_ranges() {
            let mut some = std::collections::BTreeSet::new();
            let mut denied = std::collections::BTreeSet::new();
            for s in 0..n {
                for d in (0..n).filter(|&d| d != s) {
                    let allowed = |port| {
                        evaluate(&c, &Packet::new(Addr::Endpoint(s), Addr::Endpoint(d), r.protocol, port)).allowed
                    };
                    let (lo, hi) = (allowed(r.lo), allowed(r.hi));
                    assert_eq!(lo, hi, "seed {seed}: {}/{}-{} is not one answer", r.protocol, r.lo, r.hi);
                    if lo {
                        some.insert((of[s], of[d]))
                    } else {
                        denied.insert((of[s], of[d]))
                    };
                }
            }
            for pair in some {
                let e = want.entry(pair).or_insert((Vec::new(), true));
                e.0.push(r);
                e.1 &= !denied.contains(&pair);
            }
            ranges_checked += 1;
        }
        let covers =
            |e: &Edge, r: &PortRange| e.ports.iter().any(|p| p.protocol == r.protocol && p.lo <= r.lo && r.hi <= p.hi);
        let got: Vec<(usize, usize)> = g.edges.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(got, want.keys().copied().collect::<Vec<_>>(), "seed {seed}: which namespace pairs have an edge");
        for e in &g.edges {
            let (ranges, every) = &want[&(e.from, e.to)];
            for r in index.port_ranges() {
                assert_eq!(
                    covers(e, &r),
                    ranges.contains(&r),
                    "seed {seed}: edge {} -> {} on {}/{}-{}",
                    e.from,
                    e.to,
                    r.protocol,
                    r.lo,
                    r.hi
                );
            }
            assert_eq!(e.every_pair, *every, "seed {seed}: edge {} -> {} solid", e.from, e.to);
            if e.every_pair {
                solid += 1;
            } else {
                dashed += 1;
            }
        }
    }
    assert!(ranges_checked > 50, "too few port ranges compared: {ranges_checked}");
    assert!(solid > 5 && dashed > 5, "both kinds of edge compared: {solid} solid, {dashed} dashed");
}

/// A graph past the drawable size is never laid out (the label placement is quadratic
/// in edges): the SVG says why in one line, and the limit is exact.
#[test]
fn a_graph_too_large_to_lay_out_gets_a_line_instead_of_a_picture() {
    let star = |n: usize| {
        let nodes =
            (0..n).map(|i| Node { name: format!("ns-{i}"), detail: "1 endpoint".into(), endpoints: 1 }).collect();
        let edges = (1..n).map(|i| Edge { from: 0, to: i, ports: vec![tcp(80, 80)], every_pair: true }).collect();
        Graph { nodes, edges }
    };
    assert!(star(podwall_graph::DRAWABLE_NODES).drawable());
    let big = star(podwall_graph::DRAWABLE_NODES + 1);
    assert!(!big.drawable());
    let s = svg::render(&big);
    assert!(!s.contains("<path") && !s.contains("<rect"), "{s}");
    assert!(s.contains("101 nodes and 100 edges are too many to draw legibly"), "{s}");
    // Edges count too; DOT draws any size.
    let mut dense = star(3);
    dense.edges = (0..=podwall_graph::DRAWABLE_EDGES).map(|_| dense.edges[0].clone()).collect();
    assert!(dense.too_large().is_some());
    assert_eq!(dot::render(&dense).matches(" -> ").count(), podwall_graph::DRAWABLE_EDGES + 1);
}

#[test]
fn namespaces_group_by_a_label_value_and_a_namespace_without_it_stays_alone() {
    // a and b carry team=shop, c carries no team: two nodes, team=shop holding the pods of
    // both namespaces. Without policies everything reaches everything.
    let namespaces = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: shop}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {team: shop}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n";
    let yaml = format!("{namespaces}{}{}{}", pod("a", "x", "x"), pod("b", "y", "y"), pod("c", "z", "z"));
    let g = graph(&yaml, Grouping::NamespaceLabel("team".into()));
    let nodes: Vec<(&str, &str, usize)> =
        g.nodes.iter().map(|n| (n.name.as_str(), n.detail.as_str(), n.endpoints)).collect();
    assert_eq!(nodes, [("c", "1 endpoint", 1), ("team=shop", "2 endpoints in 2 namespaces", 2)]);
    let edges: Vec<(usize, usize, String, bool)> =
        g.edges.iter().map(|e| (e.from, e.to, e.label(), e.every_pair)).collect();
    assert_eq!(edges, [(0, 1, "all".into(), true), (1, 0, "all".into(), true), (1, 1, "all".into(), true)]);
}

#[test]
fn a_grouped_edge_is_dashed_when_only_some_of_its_namespaces_connect() {
    // a and b are one group (team=shop); only a's pods may reach b's, not b's pods a's:
    // the group's edge to itself holds for some pairs only.
    let namespaces = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: shop}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {team: shop}}\n";
    let yaml = a_to_b_on_80().replacen(NAMESPACES, namespaces, 1);
    let g = graph(&yaml, Grouping::NamespaceLabel("team".into()));
    assert_eq!(g.nodes.len(), 1, "{:?}", g.nodes);
    assert_eq!(g.edges, [Edge { from: 0, to: 0, ports: vec![tcp(80, 80)], every_pair: false }]);
}

#[test]
fn pods_group_by_a_label_within_their_namespace_and_the_rest_by_class() {
    // Two app=client pods in a are one node; b's web pods one; a pod of a without app
    // falls back to its class.
    let bare = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: bare, namespace: a}\nspec: {containers: [{name: c, image: i}]}\n";
    let yaml = format!("{}{}{}{bare}", a_to_b_on_80(), pod("a", "client-2", "client"), pod("b", "web-2", "web"));
    let g = graph(&yaml, Grouping::PodLabel("app".into()));
    let nodes: Vec<(&str, &str)> = g.nodes.iter().map(|n| (n.name.as_str(), n.detail.as_str())).collect();
    assert_eq!(
        nodes,
        [
            ("a/app=client", "2 endpoints"),
            ("a/app=other", "1 endpoint"),
            ("a/bare", "1 endpoint"),
            ("b/app=web", "2 endpoints")
        ]
    );
    let edges: Vec<(usize, usize, String, bool)> =
        g.edges.iter().map(|e| (e.from, e.to, e.label(), e.every_pair)).collect();
    // b admits from a on TCP/80 only; b's two web pods may not reach each other (b
    // admits only a), and a admits nothing.
    assert_eq!(edges, [(0, 3, "TCP/80".into(), true), (1, 3, "TCP/80".into(), true), (2, 3, "TCP/80".into(), true)]);
}
