//! `podwall graph`: the flows allowed between namespaces (or classes of endpoints), as
//! DOT, Mermaid or SVG. The graph and its renderers are `podwall-graph`'s.
use std::process::ExitCode;

use podwall_engine::Index;
use podwall_graph::{Graph, Grouping};

use crate::input::load;
use crate::{Failure, InputArgs};

/// Picture formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`dot -Tsvg` draws it).
    Dot,
    /// A Mermaid flowchart (GitHub renders it in Markdown).
    Mermaid,
    /// An SVG laid out by podwall.
    Svg,
}

/// Flags of `graph`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
    format: GraphFormat,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// One node per class of endpoints every rule treats alike (same namespace, labels,
    /// ports, service account) instead of one per namespace.
    #[arg(long)]
    pods: bool,
    /// One node per value of this namespace label (`--group-by team`: a node
    /// `team=payments` for every namespace labelled so); a namespace without the label
    /// stays a node of its own. With --pods, a pod label instead, within each namespace
    /// (`shop/app=web`); pods without it group by class.
    #[arg(long, value_name = "LABEL")]
    group_by: Option<String>,
}

/// Runs `graph`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let cluster = load(&a.input)?;
    let index = Index::new(&cluster);
    let grouping = match (a.pods, a.group_by) {
        (false, None) => Grouping::Namespaces,
        (true, None) => Grouping::Classes,
        (false, Some(key)) => Grouping::NamespaceLabel(key),
        (true, Some(key)) => Grouping::PodLabel(key),
    };
    if a_key_is_empty(&grouping) {
        return Err(Failure::Error("--group-by needs a label key (e.g. --group-by team)".into()));
    }
    let graph = Graph::build(&index, grouping.clone());
    if let Grouping::NamespaceLabel(key) | Grouping::PodLabel(key) = &grouping {
        if !graph.nodes.iter().any(|n| n.name.contains('=')) {
            let what = if a.pods { "pod" } else { "namespace" };
            eprintln!("warning: --group-by {key}: no {what} carries the label {key:?}; nothing was grouped by it");
        }
    }
    let text = match a.format {
        GraphFormat::Dot => podwall_graph::dot::render(&graph),
        GraphFormat::Mermaid => podwall_graph::mermaid::render(&graph),
        GraphFormat::Svg => match graph.too_large() {
            Some(why) => return Err(Failure::Error(format!("--format svg: {why}"))),
            None => podwall_graph::svg::render(&graph),
        },
    };
    crate::input::write_out(a.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

fn a_key_is_empty(g: &Grouping) -> bool {
    matches!(g, Grouping::NamespaceLabel(k) | Grouping::PodLabel(k) if k.trim().is_empty())
}
