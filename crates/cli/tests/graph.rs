//! `podwall graph` on the shipped example cluster: its edges are the flows the example's
//! expected verdicts (examples/expect.txt) allow, with their ports, in every format.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdin(Stdio::null())
        .output()
        .expect("run podwall")
}

fn stdout(args: &[&str]) -> String {
    let out = podwall(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The DOT edges as (from, to, label), with node ids replaced by the node's first line.
fn dot_edges(dot: &str) -> Vec<(String, String, String)> {
    let mut names = std::collections::HashMap::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        let label =
            |l: &str| l.split_once("[label=\"").map(|(_, r)| r.split('"').next().unwrap_or_default().to_string());
        if let Some((from, rest)) = line.split_once(" -> ") {
            let (to, _) = rest.split_once(' ').expect("an edge has attributes");
            edges.push((from.to_string(), to.to_string(), label(rest).expect("an edge has a label")));
        } else if let Some(l) = label(line) {
            let id = line.split_once(' ').expect("a node has attributes").0;
            names.insert(id.to_string(), l.split("\\n").next().unwrap_or_default().to_string());
        }
    }
    edges.into_iter().map(|(f, t, l)| (names[&f].clone(), names[&t].clone(), l)).collect()
}

fn edge<'a>(edges: &'a [(String, String, String)], from: &str, to: &str) -> Option<&'a str> {
    edges.iter().find(|(f, t, _)| f == from && t == to).map(|(_, _, l)| l.as_str())
}

#[test]
fn the_example_pods_reach_each_other_only_on_the_ports_expect_txt_allows() {
    let edges = dot_edges(&stdout(&["graph", "-f", "examples/", "--format", "dot", "--pods"]));
    // frontend → api on the named port http (8080) only; the quarantined canary not at all.
    assert_eq!(edge(&edges, "shop/frontend", "shop/api"), Some("TCP/8080"));
    assert_eq!(edge(&edges, "shop/frontend-canary", "shop/api"), None);
    // api → database on TCP/5432, not UDP; nothing else reaches the database.
    assert_eq!(edge(&edges, "shop/api", "shop/database"), Some("TCP/5432"));
    let into_db: Vec<_> = edges.iter().filter(|(_, t, _)| t == "shop/database").collect();
    assert_eq!(into_db.len(), 1, "{into_db:?}");
    // Prometheus scrapes api on its metrics port (9090) only, and no other shop pod.
    assert_eq!(edge(&edges, "monitoring/prometheus", "shop/api"), Some("TCP/9090"));
    assert_eq!(edge(&edges, "monitoring/prometheus", "shop/frontend"), None);
    // DNS: every shop pod reaches coredns on TCP and UDP 53; nothing on metrics-server.
    for pod in ["shop/frontend", "shop/api", "shop/database", "shop/Deployment/worker"] {
        assert_eq!(edge(&edges, pod, "kube-system/coredns"), Some("TCP/53, UDP/53"), "{pod}");
        assert_eq!(edge(&edges, pod, "kube-system/metrics-server"), None, "{pod}");
    }
}

#[test]
fn namespace_edges_are_dashed_where_only_some_pods_connect() {
    let dot = stdout(&["graph", "-f", "examples/", "--format", "dot"]);
    let edges = dot_edges(&dot);
    // Inside shop only api → database and frontend → api connect: some pairs only.
    assert_eq!(edge(&edges, "shop", "shop"), Some("TCP/5432, TCP/8080"));
    assert!(dot.contains("[label=\"TCP/5432, TCP/8080\", style=dashed]"), "{dot}");
    assert_eq!(edge(&edges, "monitoring", "shop"), Some("TCP/9090"));
    assert_eq!(edge(&edges, "shop", "monitoring"), None, "shop's egress is DNS and api only");
}

#[test]
fn every_format_writes_to_a_file_with_o() {
    let dir = std::env::temp_dir().join(format!("podwall-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (format, start) in [("dot", "digraph podwall {"), ("mermaid", "flowchart LR"), ("svg", "<svg xmlns=")] {
        let file = dir.join(format!("g.{format}"));
        let out = podwall(&["graph", "-f", "examples/", "--format", format, "-o", file.to_str().expect("UTF-8 path")]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty(), "{format}: nothing on standard output with -o");
        let text = std::fs::read_to_string(&file).expect("written");
        assert!(text.starts_with(start), "{format}: {text}");
        assert_eq!(
            text,
            stdout(&["graph", "-f", "examples/", "--format", format]),
            "{format}: -o writes what stdout gets"
        );
    }
    let svg = std::fs::read_to_string(dir.join("g.svg")).expect("svg");
    assert!(svg.contains(">TCP/9090</text>") && svg.contains(">shop</text>"), "{svg}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let out = podwall(&["graph", "-f", "crates/cli/tests/bad/invalid-cidr.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid-cidr.yaml"));
}

#[test]
fn a_cluster_too_large_to_draw_is_drawn_grouped_by_a_namespace_label() {
    // 150 namespaces are past what an SVG shows legibly: refused, naming the way out;
    // grouped by their team label they fit, each namespace counted in its team's node.
    let dir = std::env::temp_dir().join(format!("podwall-graph-large-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let p = podwall_synth::Params { pods: 600, namespaces: 150, policies: 60, ..podwall_synth::Params::default() };
    podwall_synth::write(&p, &dir).expect("write the cluster");
    let d = dir.display().to_string();
    let out = podwall(&["graph", "-f", &d, "--format", "svg"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("too many to draw legibly") && err.contains("--group-by team"), "{err}");
    let svg = stdout(&["graph", "-f", &d, "--format", "svg", "--group-by", "team"]);
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("team=platform"), "the teams are nodes");
    let dot = stdout(&["graph", "-f", &d, "--format", "dot", "--group-by", "team"]);
    let nodes = dot.lines().filter(|l| l.contains("[label=") && !l.contains(" -> ")).count();
    assert!(nodes < 100, "{nodes} nodes once grouped");
    // A label nobody carries groups nothing, and says so.
    let out = podwall(&["graph", "-f", &d, "--format", "dot", "--group-by", "no-such-label"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no namespace carries the label \"no-such-label\""));
    let out = podwall(&["graph", "-f", &d, "--group-by", ""]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
