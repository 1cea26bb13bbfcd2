//! A deterministic circular layout: nodes on a circle in name order, edges as curves
//! that bow to their right (so `a → b` and `b → a` never coincide), loops outward, and
//! each edge label placed where it overlaps no node.
//!
//! Sizes assume a monospace font: 12px node text, 11px label text.
use crate::Graph;

/// Width of one character of node text.
pub const NODE_CHAR: f64 = 7.3;
/// Width of one character of label text.
pub const LABEL_CHAR: f64 = 6.7;
const NODE_H: f64 = 38.0;
const LABEL_H: f64 = 16.0;
/// Port entries shown on a label before `+N more`.
pub const LABEL_PORTS: usize = 4;

/// An axis-aligned rectangle: its centre and half extents.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Centre x.
    pub x: f64,
    /// Centre y.
    pub y: f64,
    /// Half width.
    pub hw: f64,
    /// Half height.
    pub hh: f64,
}

impl Rect {
    /// Whether the two overlap, with `gap` to spare around them.
    pub fn overlaps(&self, o: &Rect, gap: f64) -> bool {
        (self.x - o.x).abs() < self.hw + o.hw + gap && (self.y - o.y).abs() < self.hh + o.hh + gap
    }

    /// Where a ray from the centre towards (dx, dy) leaves the rectangle.
    fn exit(&self, dx: f64, dy: f64) -> (f64, f64) {
        let tx = if dx.abs() > 1e-9 { self.hw / dx.abs() } else { f64::INFINITY };
        let ty = if dy.abs() > 1e-9 { self.hh / dy.abs() } else { f64::INFINITY };
        let t = tx.min(ty);
        (self.x + dx * t, self.y + dy * t)
    }
}

/// An edge drawn: its SVG path and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedEdge {
    /// The edge in the graph.
    pub edge: usize,
    /// SVG path data.
    pub path: String,
    /// The label's text and box.
    pub label: String,
    /// Where the label sits.
    pub label_box: Rect,
}

/// Positions of everything, in one coordinate space.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Per node, its box.
    pub nodes: Vec<Rect>,
    /// Per edge, its curve and label.
    pub edges: Vec<PlacedEdge>,
    /// The bounding box of everything: (min x, min y, max x, max y).
    pub bounds: (f64, f64, f64, f64),
}

/// Lays the graph out.
pub fn layout(g: &Graph) -> Layout {
    let n = g.nodes.len();
    let widths: Vec<f64> = g
        .nodes
        .iter()
        .map(|v| NODE_CHAR * v.name.chars().count().max(v.detail.chars().count()) as f64 + 20.0)
        .collect();
    let labels: Vec<String> = g.edges.iter().map(|e| e.label_at_most(LABEL_PORTS)).collect();
    let label_w = |s: &str| LABEL_CHAR * s.chars().count() as f64 + 10.0;
    let max_w = widths.iter().copied().fold(0.0, f64::max);
    let max_label = labels.iter().map(|s| label_w(s)).fold(0.0, f64::max);
    // The circle is long enough for every box side by side, and wide enough that its
    // middle holds the longest label clear of every node.
    let around: f64 = widths.iter().map(|w| w + 60.0).sum::<f64>() / std::f64::consts::TAU;
    let r = if n <= 1 { 0.0 } else { around.max(max_w / 2.0 + max_label / 2.0 + 40.0).max(160.0) };
    let angle = |i: usize| -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n.max(1) as f64;
    let nodes: Vec<Rect> = (0..n)
        .map(|i| Rect { x: r * angle(i).cos(), y: r * angle(i).sin(), hw: widths[i] / 2.0, hh: NODE_H / 2.0 })
        .collect();
    let mut placed: Vec<Rect> = Vec::new();
    let mut edges = Vec::new();
    for (k, e) in g.edges.iter().enumerate() {
        let text = labels[k].clone();
        let (lw, lh) = (label_w(&text) / 2.0, LABEL_H / 2.0);
        let (path, candidates) = if e.from == e.to {
            let a = &nodes[e.from];
            let out = if n <= 1 { -std::f64::consts::FRAC_PI_2 } else { angle(e.from) };
            let dir = |t: f64| ((out + t).cos(), (out + t).sin());
            let (s, t) = (a.exit(dir(0.45).0, dir(0.45).1), a.exit(dir(-0.45).0, dir(-0.45).1));
            let (c1, c2) = (
                (s.0 + dir(0.45).0 * 70.0, s.1 + dir(0.45).1 * 70.0),
                (t.0 + dir(-0.45).0 * 70.0, t.1 + dir(-0.45).1 * 70.0),
            );
            let path = format!(
                "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                s.0, s.1, c1.0, c1.1, c2.0, c2.1, t.0, t.1
            );
            let tip = a.exit(dir(0.0).0, dir(0.0).1);
            let along = |d: f64| (tip.0 + dir(0.0).0 * d, tip.1 + dir(0.0).1 * d);
            let ext = dir(0.0).0.abs() * lw + dir(0.0).1.abs() * lh;
            let cands: Vec<(f64, f64)> = (0..40).map(|i| along(56.0 + ext + 12.0 * i as f64)).collect();
            (path, cands)
        } else {
            let (a, b) = (&nodes[e.from], &nodes[e.to]);
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            // Bow to the right of the direction of travel.
            let bow = 0.15 * len;
            let ctrl = ((a.x + b.x) / 2.0 - dy / len * bow, (a.y + b.y) / 2.0 + dx / len * bow);
            let s = a.exit(ctrl.0 - a.x, ctrl.1 - a.y);
            let t = b.exit(ctrl.0 - b.x, ctrl.1 - b.y);
            let path = format!("M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}", s.0, s.1, ctrl.0, ctrl.1, t.0, t.1);
            let at = |u: f64| {
                let v = 1.0 - u;
                (v * v * s.0 + 2.0 * v * u * ctrl.0 + u * u * t.0, v * v * s.1 + 2.0 * v * u * ctrl.1 + u * u * t.1)
            };
            let mut cands: Vec<(f64, f64)> = [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8].iter().map(|&u| at(u)).collect();
            // Then from the curve's middle towards the centre of the circle, and past it.
            let m = at(0.5);
            cands.extend((1..=80).map(|i| {
                let f = i as f64 / 40.0;
                (m.0 * (1.0 - f), m.1 * (1.0 - f))
            }));
            (path, cands)
        };
        let boxed = |(x, y): (f64, f64)| Rect { x, y, hw: lw, hh: lh };
        let clear_of_nodes = |c: &Rect| !nodes.iter().any(|v| v.overlaps(c, 3.0));
        let best = candidates
            .iter()
            .map(|&c| boxed(c))
            .find(|c| clear_of_nodes(c) && !placed.iter().any(|p| p.overlaps(c, 1.0)))
            .or_else(|| candidates.iter().map(|&c| boxed(c)).find(|c| clear_of_nodes(c)))
            .unwrap_or_else(|| boxed(candidates[0]));
        placed.push(best);
        edges.push(PlacedEdge { edge: k, path, label: text, label_box: best });
    }
    let mut bounds = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    // Loops reach about 90 past their node.
    let loops: Vec<Rect> = g
        .edges
        .iter()
        .filter(|e| e.from == e.to)
        .map(|e| Rect { hw: nodes[e.from].hw + 90.0, hh: nodes[e.from].hh + 90.0, ..nodes[e.from] })
        .collect();
    for b in nodes.iter().chain(&placed).chain(&loops) {
        bounds.0 = bounds.0.min(b.x - b.hw);
        bounds.1 = bounds.1.min(b.y - b.hh);
        bounds.2 = bounds.2.max(b.x + b.hw);
        bounds.3 = bounds.3.max(b.y + b.hh);
    }
    if n == 0 {
        bounds = (0.0, 0.0, 0.0, 0.0);
    }
    Layout { nodes, edges, bounds }
}
