//! The report as one self-contained HTML page: the counts, the reachability graph (the
//! SVG of `podwall-graph`, inline), every finding grouped by severity, then by check,
//! each with its object, file:line, message and fix, and the per-pod summary. The page
//! fetches nothing (inline CSS, one inline script, a Content-Security-Policy that forbids
//! loading anything and runs no script but that one, named by its SHA-256), and every
//! text from the input is escaped.
//!
//! The findings can be filtered by severity and by area without the script: one checkbox
//! per severity and per area comes before the findings, and a CSS rule per box hides what
//! it stands for while it is unticked (`#show-high:not(:checked) ~ .findings #high`); a
//! filtered page prints as it is shown. The script only sorts a table by the column whose
//! heading is clicked; the page reads the same where scripts are off.
use std::fmt::Write as _;

use podwall_findings::Finding;
use podwall_graph::svg::escape;
use podwall_graph::Graph;

use crate::{Report, SEVERITIES};

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .3rem; }
.counts span { display: inline-block; margin: 0 .4rem .4rem 0; padding: .15rem .6rem; border-radius: 1rem; font-weight: 600; }
.critical { background: #7a0010; color: #fff; }
.high { background: #d1242f; color: #fff; }
.medium { background: #e3a008; color: #222; }
.low { background: #3b82c4; color: #fff; }
.info { background: #d0d7de; color: #222; }
.graph { overflow: auto; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; background: #fff; }
h3 { display: inline-block; padding: .2rem .8rem; border-radius: 4px; margin: 1.5rem 0 .5rem; }
details { margin: .4rem 0 .8rem; }
summary { cursor: pointer; font-weight: 600; }
summary .meaning { font-weight: normal; color: #555; }
table { border-collapse: collapse; width: 100%; margin-top: .4rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.where, td.object { font-family: ui-monospace, monospace; white-space: nowrap; }
th[aria-sort='ascending']::after { content: ' \\25B2'; }
th[aria-sort='descending']::after { content: ' \\25BC'; }
table.pods td { text-align: right; }
table.pods td.object { text-align: left; white-space: normal; }
td.fix { color: #444; }
.filters { position: absolute; opacity: 0; pointer-events: none; }
.filter-bar label { display: inline-block; margin: 0 .3rem .3rem 0; padding: .1rem .5rem; border: 1px solid #d0d7de; border-radius: 1rem; cursor: pointer; user-select: none; }
.filter-bar label::before { content: '\\2713  '; }
";

/// The page: a heading with the counts by severity and area, the graph of who may reach
/// whom, then one section per severity with findings, worst first, holding one group per
/// check ID in the report's order.
pub fn html(r: &Report, graph: &Graph, pods: &Pods) -> String {
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src '{SCRIPT_SHA256}'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>podwall report</title>\n<style>"
    );
    let catalogue = crate::catalogue();
    let known = crate::Areas::new();
    let area_of = |id: &str| known.of(id);
    let mut areas: Vec<&str> = r.findings.iter().map(|f| area_of(f.id)).collect();
    areas.sort_unstable();
    areas.dedup();
    out.push_str(STYLE);
    out.push_str(&filter_rules(&areas));
    out.push_str("</style>\n</head>\n<body>\n<h1>podwall analyze</h1>\n");
    let _ = write!(out, "<p class=\"counts\"><strong>{} finding(s):</strong> ", r.summary.total);
    for s in SEVERITIES {
        let n = r.summary.by_severity.get(&s.to_string()).copied().unwrap_or(0);
        let _ = write!(out, "<span class=\"{s}\">{n} {s}</span>");
    }
    out.push_str("</p>\n");
    if !r.summary.by_area.is_empty() {
        let areas: Vec<String> = r.summary.by_area.iter().map(|(a, n)| format!("{} {n}", escape(a))).collect();
        let _ = writeln!(out, "<p>By area: {}.</p>", areas.join(", "));
    }
    out.push_str(
        "<h2>Who may reach whom</h2>\n<p>An arrow from one namespace to another: some pod of the first may \
         open a connection to some pod of the second, on the ports written on it, as the policies decide.</p>\n\
         <div class=\"graph\">\n",
    );
    match graph.too_large() {
        Some(why) => {
            let _ = writeln!(out, "<p>{}.</p>", escape(&why));
        }
        None => out.push_str(&podwall_graph::svg::render(graph)),
    }
    out.push_str("</div>\n<h2>Findings</h2>\n");
    filters(&mut out, &areas);
    out.push_str("<div class=\"findings\">\n");
    if r.findings.is_empty() {
        out.push_str("<p>No findings.</p>\n");
    }
    for s in SEVERITIES {
        let of: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == s).collect();
        if of.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<section id=\"{s}\">\n<h3 class=\"{s}\">{s}: {}</h3>", of.len());
        for group in of.chunk_by(|a, b| a.id == b.id) {
            let id = group[0].id;
            let meaning = catalogue.iter().find(|c| c.id == id).map_or("", |c| c.summary);
            let _ = writeln!(
                out,
                "<details open class=\"area-{}\">\n<summary><code>{}</code> <span class=\"meaning\">{}</span> ({})</summary>\n\
                 <table>\n<tr><th>object</th><th>where</th><th>finding</th><th>fix</th></tr>",
                area_of(id),
                escape(id),
                escape(meaning),
                group.len()
            );
            for f in group {
                row(&mut out, f);
            }
            out.push_str("</table>\n</details>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</div>\n");
    pods.render(&mut out);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// The page's one script: a click (or Enter) on a column heading of a table sorts its
/// rows by that column, numbers as numbers, and again the other way round. The page
/// reads the same without it. The Content-Security-Policy allows this script by its hash
/// and nothing else.
pub const SCRIPT: &str = r#"
document.querySelectorAll("table").forEach(function (table) {
  var heads = table.querySelectorAll("th");
  heads.forEach(function (th, col) {
    th.tabIndex = 0;
    th.title = "sort by this column";
    function sort() {
      var rows = Array.prototype.slice.call(table.querySelectorAll("tr")).slice(1);
      var up = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      function key(row) {
        var cell = row.children[col];
        return cell ? (cell.getAttribute("data-sort") || cell.textContent) : "";
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = Number(x), ny = Number(y);
        var d = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, undefined, { numeric: true });
        return up ? d : -d;
      });
      rows.forEach(function (row) { row.parentNode.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
});
"#;

/// `sha256-` and the base64 of the SHA-256 of [`SCRIPT`], as a CSP source (a test
/// computes it again from the script).
pub const SCRIPT_SHA256: &str = "sha256-kuJJ9OM8YU+S1k7nuWIZiAy9b7qjEg7R8PUIYjBaADI=";

/// Rows of the per-pod summary shown at most: past that the page names the command
/// that gives them all.
pub const POD_ROWS: usize = 500;

/// The per-pod summary of the page: whether each pod is isolated in each direction, and
/// on each declared port how many pods it may reach and be reached by (as `podwall
/// matrix --summary`). Pods of one equivalence class with the same numbers share a row.
pub struct Pods {
    ports: Vec<(podwall_ir::Protocol, u16)>,
    rows: Vec<PodRow>,
    /// Rows left out past [`POD_ROWS`].
    more: usize,
}

impl Default for Pods {
    /// No pods: a page without its summary.
    fn default() -> Self {
        Pods { ports: Vec::new(), rows: Vec::new(), more: 0 }
    }
}

/// What makes two pods share a row: their class and every number of the row.
type RowKey = (usize, (bool, bool), Vec<(usize, usize)>);

struct PodRow {
    /// The first few names, and how many pods the row stands for.
    names: Vec<String>,
    count: usize,
    isolated: (bool, bool),
    /// Per port: (reaches, reached by).
    cells: Vec<(usize, usize)>,
}

impl Pods {
    /// The summary of the index's cluster on every declared port.
    pub fn of(index: &podwall_engine::Index) -> Self {
        use podwall_ir::Direction;
        let cluster = index.cluster();
        let ports = cluster.declared_ports();
        let keys: Vec<(podwall_ir::Protocol, Option<u16>)> = ports.iter().map(|&(pr, p)| (pr, Some(p))).collect();
        let sums: Vec<Vec<podwall_engine::RowSummary>> = index.summaries(&keys);
        let mut rows: Vec<PodRow> = Vec::new();
        // (class, isolation, cells) → its row.
        let mut at: std::collections::HashMap<RowKey, usize> = std::collections::HashMap::new();
        for (id, e) in cluster.endpoints.iter().enumerate() {
            let isolated = (index.isolated(id, Direction::Ingress), index.isolated(id, Direction::Egress));
            let cells: Vec<(usize, usize)> = sums.iter().map(|s| (s[id].egress_peers, s[id].ingress_peers)).collect();
            let key = (index.class_of(id), isolated, cells);
            let k = *at.entry(key).or_insert_with_key(|(_, isolated, cells)| {
                rows.push(PodRow { names: Vec::new(), count: 0, isolated: *isolated, cells: cells.clone() });
                rows.len() - 1
            });
            let row = &mut rows[k];
            row.count += 1;
            if row.names.len() < 3 {
                row.names.push(e.name.clone());
            }
        }
        let more = rows.len().saturating_sub(POD_ROWS);
        rows.truncate(POD_ROWS);
        Pods { ports, rows, more }
    }

    fn render(&self, out: &mut String) {
        out.push_str(
            "<h2>Pods</h2>\n<p>Per pod: isolated (some policy selects it) or open in each direction, and on each \
             port how many pods it may reach / be reached by. Pods alike in every answer share a row. A click on a \
             heading sorts.</p>\n",
        );
        if self.rows.is_empty() {
            out.push_str("<p>No pods.</p>\n");
            return;
        }
        out.push_str("<table class=\"pods\">\n<tr><th>pods</th><th>count</th><th>ingress</th><th>egress</th>");
        for (pr, p) in &self.ports {
            let _ = write!(out, "<th>{pr}/{p} out</th><th>{pr}/{p} in</th>");
        }
        out.push_str("</tr>\n");
        let word = |isolated: bool| if isolated { "isolated" } else { "open" };
        for r in &self.rows {
            let mut names = r.names.iter().map(|n| escape(n)).collect::<Vec<_>>().join(", ");
            if r.count > r.names.len() {
                let _ = write!(names, " and {} more", r.count - r.names.len());
            }
            let _ = write!(
                out,
                "<tr><td class=\"object\">{names}</td><td>{}</td><td>{}</td><td>{}</td>",
                r.count,
                word(r.isolated.0),
                word(r.isolated.1)
            );
            for (reaches, reached) in &r.cells {
                let _ = write!(out, "<td>{reaches}</td><td>{reached}</td>");
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        if self.more > 0 {
            let _ = writeln!(
                out,
                "<p>{} more rows are left out; <code>podwall matrix -f … --summary</code> gives every pod.</p>",
                self.more
            );
        }
    }
}

/// The filter boxes (all ticked) and their labels. Areas are the catalogue's names
/// (lower-case words), so they make safe IDs and class names as they are.
fn filters(out: &mut String, areas: &[&str]) {
    for s in SEVERITIES {
        let _ = write!(out, "<input type=\"checkbox\" class=\"filters\" id=\"show-{s}\" checked>");
    }
    for a in areas {
        let _ = write!(out, "<input type=\"checkbox\" class=\"filters\" id=\"area-{a}\" checked>");
    }
    out.push_str("\n<p class=\"filter-bar\">Show: ");
    for s in SEVERITIES {
        let _ = write!(out, "<label for=\"show-{s}\" class=\"{s}\">{s}</label>");
    }
    out.push_str(" in ");
    for a in areas {
        let _ = write!(out, "<label for=\"area-{a}\">{a}</label>");
    }
    out.push_str("</p>\n");
}

/// The rules that hide a severity's section or an area's groups while its box is
/// unticked, and mark the box's label as off.
fn filter_rules(areas: &[&str]) -> String {
    let mut rules = String::new();
    let boxes = SEVERITIES
        .iter()
        .map(|s| (format!("show-{s}"), format!("#{s}")))
        .chain(areas.iter().map(|a| (format!("area-{a}"), format!(".area-{a}"))));
    for (id, hides) in boxes {
        let _ = writeln!(rules, "#{id}:not(:checked) ~ .findings {hides} {{ display: none; }}");
        let _ = writeln!(
            rules,
            "#{id}:not(:checked) ~ .filter-bar label[for={id}] {{ opacity: .45; }} \
             #{id}:not(:checked) ~ .filter-bar label[for={id}]::before {{ content: \"\"; }}"
        );
    }
    rules
}

fn row(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "<tr><td class=\"object\">{}</td><td class=\"where\">{}</td><td>{}</td><td class=\"fix\">{}</td></tr>",
        escape(&f.about().unwrap_or_default()),
        escape(&f.origin.as_ref().map(ToString::to_string).unwrap_or_default()),
        escape(&f.message),
        escape(f.remediation.as_deref().unwrap_or_default())
    );
}
