//! The report as one self-contained HTML page: the counts, the reachability graph (the
//! SVG of `podwall-graph`, inline), and every finding grouped by severity, then by check,
//! each with its object, file:line, message and fix. The page fetches nothing (inline
//! CSS, no script, a Content-Security-Policy that forbids loading anything), and every
//! text from the input is escaped.
//!
//! The findings can be filtered by severity and by area in the page itself, without a
//! script: one checkbox per severity and per area comes before the findings, and a CSS
//! rule per box hides what it stands for while it is unticked (`#show-high:not(:checked)
//! ~ .findings #high`). A filter shows in print too, so a filtered page prints as seen.
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
td.fix { color: #444; }
.filters { position: absolute; opacity: 0; pointer-events: none; }
.filter-bar label { display: inline-block; margin: 0 .3rem .3rem 0; padding: .1rem .5rem; border: 1px solid #d0d7de; border-radius: 1rem; cursor: pointer; user-select: none; }
.filter-bar label::before { content: '\\2713  '; }
";

/// The page: a heading with the counts by severity and area, the graph of who may reach
/// whom, then one section per severity with findings, worst first, holding one group per
/// check ID in the report's order.
pub fn html(r: &Report, graph: &Graph) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>podwall report</title>\n<style>",
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
    out.push_str("</div>\n</body>\n</html>\n");
    out
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
