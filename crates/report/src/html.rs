//! The report as one self-contained HTML page: the counts, the reachability graph (the
//! SVG of `podwall-graph`, inline), and every finding grouped by severity, then by check,
//! each with its object, file:line, message and fix. The page fetches nothing (inline
//! CSS, no script, a Content-Security-Policy that forbids loading anything), and every
//! text from the input is escaped.
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
    out.push_str(STYLE);
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
    if r.findings.is_empty() {
        out.push_str("<p>No findings.</p>\n");
    }
    let catalogue = crate::catalogue();
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
                "<details open>\n<summary><code>{}</code> <span class=\"meaning\">{}</span> ({})</summary>\n\
                 <table>\n<tr><th>object</th><th>where</th><th>finding</th><th>fix</th></tr>",
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
    out.push_str("</body>\n</html>\n");
    out
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
