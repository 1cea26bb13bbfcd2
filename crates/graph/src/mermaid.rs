//! Mermaid flowcharts (what GitHub renders in Markdown). Node ids are `n0`, `n1`, ...;
//! every text is a quoted string whose quotes, angle brackets, `&` and `#` are Mermaid
//! entity codes, so no name can end a string or open markup.
use std::fmt::Write as _;

use crate::Graph;

/// Text for inside a Mermaid quoted string.
fn text(s: &str) -> String {
    crate::replace_chars(s, |c| match c {
        '"' => Some("#quot;"),
        '#' => Some("#35;"),
        '<' => Some("#lt;"),
        '>' => Some("#gt;"),
        '&' => Some("#amp;"),
        '|' => Some("#124;"),
        '\n' | '\r' => Some(" "),
        _ => None,
    })
}

/// The graph as a `flowchart LR`: solid arrows where every pair of endpoints is
/// allowed on the ports shown, dotted where only some are.
pub fn render(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, n) in g.nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[\"{}<br/>{}\"]", text(&n.name), text(&n.detail));
    }
    for e in &g.edges {
        let arrow = if e.every_pair { "-->" } else { "-.->" };
        let _ = writeln!(out, "  n{} {arrow}|\"{}\"| n{}", e.from, text(&e.label()), e.to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn mermaid_text_cannot_close_its_string_or_open_markup() {
        assert_eq!(text("a\"<b>|#&"), "a#quot;#lt;b#gt;#124;#35;#amp;");
    }
}
