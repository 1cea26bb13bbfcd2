//! The graph as a standalone SVG, laid out by [`crate::layout`]: boxes, curved arrows,
//! labels on a white ground, and a legend. Every text is XML-escaped, so the SVG can be
//! embedded in an HTML page as it is.
use std::fmt::Write as _;

use crate::layout::{layout, Rect};
use crate::Graph;

/// Text escaped for XML character data and attribute values.
pub fn escape(s: &str) -> String {
    crate::replace_chars(s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        c if c.is_control() && c != '\n' && c != '\t' => Some("\u{fffd}"),
        _ => None,
    })
}

const LEGEND: &str = "solid: every pair of endpoints may connect on the ports shown; dashed: only some pairs";

/// The SVG document; for a graph that is not [`Graph::drawable`], one line saying so
/// instead of a picture.
pub fn render(g: &Graph) -> String {
    if let Some(why) = g.too_large() {
        return format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"podwall-graph\" width=\"{:.0}\" height=\"30\" font-family=\"monospace\"><text x=\"4\" y=\"20\" font-size=\"12\">{}</text></svg>\n",
            crate::layout::NODE_CHAR * why.len() as f64 + 8.0,
            escape(&why)
        );
    }
    let l = layout(g);
    let pad = 20.0;
    let legend_w = crate::layout::LABEL_CHAR * LEGEND.len() as f64;
    let (x0, y0) = (l.bounds.0 - pad, l.bounds.1 - pad);
    let w = (l.bounds.2 - l.bounds.0 + 2.0 * pad).max(legend_w + 2.0 * pad);
    let h = l.bounds.3 - l.bounds.1 + 2.0 * pad + 24.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="podwall-graph" viewBox="{x0:.1} {y0:.1} {w:.1} {h:.1}" width="{w:.0}" height="{h:.0}" font-family="monospace">"##
    );
    out.push_str(r##"<defs><marker id="podwall-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##);
    out.push('\n');
    if g.nodes.is_empty() {
        let _ = writeln!(out, r#"<text x="{:.1}" y="{:.1}" font-size="12">no endpoints</text>"#, x0 + pad, y0 + pad);
    }
    out.push_str("<g class=\"edges\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.3\">\n");
    for p in &l.edges {
        let e = &g.edges[p.edge];
        let dash = if e.every_pair { "" } else { r#" stroke-dasharray="5,4""# };
        let _ = writeln!(
            out,
            r#"<path d="{}"{dash} marker-end="url(#podwall-arrow)"><title>{} → {}: {}</title></path>"#,
            p.path,
            escape(&g.nodes[e.from].name),
            escape(&g.nodes[e.to].name),
            escape(&e.label())
        );
    }
    out.push_str("</g>\n<g class=\"labels\" font-size=\"11\">\n");
    for p in &l.edges {
        let b = &p.label_box;
        rect(&mut out, b, "#fff", "#ccc");
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            b.x,
            b.y + 4.0,
            escape(&p.label)
        );
    }
    out.push_str("</g>\n<g class=\"nodes\" font-size=\"12\">\n");
    for (v, b) in g.nodes.iter().zip(&l.nodes) {
        rect(&mut out, b, "#eef3fb", "#3a5f9f");
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            b.x,
            b.y - 3.0,
            escape(&v.name),
            b.x,
            b.y + 12.0,
            escape(&v.detail)
        );
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        r##"<text class="legend" x="{:.1}" y="{:.1}" font-size="11" fill="#555">{}</text>"##,
        x0 + pad,
        y0 + h - 10.0,
        escape(LEGEND)
    );
    out.push_str("</svg>\n");
    out
}

fn rect(out: &mut String, b: &Rect, fill: &str, stroke: &str) {
    let _ = writeln!(
        out,
        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="4" fill="{fill}" stroke="{stroke}"/>"#,
        b.x - b.hw,
        b.y - b.hh,
        2.0 * b.hw,
        2.0 * b.hh
    );
}
