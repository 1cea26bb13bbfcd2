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
}

/// Runs `graph`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let cluster = load(&a.input)?;
    let index = Index::new(&cluster);
    let graph = Graph::build(&index, if a.pods { Grouping::Classes } else { Grouping::Namespaces });
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
