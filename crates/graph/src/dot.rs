//! Graphviz DOT: `dot -Tsvg` draws it. Every name is a quoted, escaped string.
use std::fmt::Write as _;

use crate::Graph;

/// A DOT quoted string: backslashes and quotes escaped, line breaks as `\n`.
fn quoted(s: &str) -> String {
    let inner = crate::replace_chars(s, |c| match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '\n' => Some("\\n"),
        '\r' => Some(""),
        _ => None,
    });
    format!("\"{inner}\"")
}

/// The graph as a DOT digraph: boxes for nodes, edges labelled with their ports,
/// dashed where only some pairs of endpoints are allowed.
pub fn render(g: &Graph) -> String {
    let mut out = String::from("digraph podwall {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n  edge [fontname=\"monospace\", fontsize=10];\n");
    for (i, n) in g.nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{i} [label={}];", quoted(&format!("{}\n{}", n.name, n.detail)));
    }
    for e in &g.edges {
        let style = if e.every_pair { "" } else { ", style=dashed" };
        let _ = writeln!(out, "  n{} -> n{} [label={}{style}];", e.from, e.to, quoted(&e.label()));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quotes_and_backslashes_are_escaped_in_dot_strings() {
        assert_eq!(quoted("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }
}
