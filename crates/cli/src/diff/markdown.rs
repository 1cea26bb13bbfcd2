//! `diff -o markdown`: a pull-request comment. A headline ("opens N flows, closes M, adds
//! K findings (H high)"), then tables of the changed flows and of the findings added and
//! fixed; past the first rows of a table, the rest is folded in a `<details>` block.
use std::fmt::Write as _;

use podwall_findings::Finding;
use podwall_ir::Direction;

use super::{gate_words, local_name, names, per_port, plural, port_words, same_groups, sign, Report};

/// Rows shown before a table folds.
const OPEN_ROWS: usize = 10;
/// Rows in a fold without --all: GitHub refuses a comment over 65,536 characters, and
/// four tables of 50 long rows stay under it.
const FOLDED_ROWS: usize = 40;

/// A table cell: no pipe or line break breaks the row, and no `<` opens an HTML tag.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ").replace('<', "&lt;")
}

/// A table of `rows` under `header`, folded after [`OPEN_ROWS`].
fn table(out: &mut String, header: &str, rows: &[String], all: bool) {
    let columns = header.matches('|').count().saturating_sub(1);
    let rule = format!("|{}\n", "---|".repeat(columns));
    let _ = write!(out, "{header}\n{rule}");
    for r in rows.iter().take(OPEN_ROWS) {
        let _ = writeln!(out, "{r}");
    }
    if rows.len() <= OPEN_ROWS {
        out.push('\n');
        return;
    }
    let rest = &rows[OPEN_ROWS..];
    let _ = write!(out, "\n<details><summary>and {} more</summary>\n\n{header}\n{rule}", rest.len());
    let cap = if all { rest.len() } else { FOLDED_ROWS };
    for r in rest.iter().take(cap) {
        let _ = writeln!(out, "{r}");
    }
    if rest.len() > cap {
        let _ = writeln!(out, "\n… and {} more (`podwall diff -o json` lists every one)", rest.len() - cap);
    }
    out.push_str("\n</details>\n\n");
}

fn finding_row(f: &Finding) -> String {
    format!(
        "| {} | `{}` | {} | {} | {} |",
        f.severity,
        f.id,
        cell(&f.origin.as_ref().map(ToString::to_string).unwrap_or_default()),
        cell(&f.about().unwrap_or_default()),
        cell(&f.message)
    )
}

/// The comment.
pub fn report(r: &Report, all: bool) -> String {
    let mut out = String::from("## podwall diff\n\n");
    let t = &r.tally;
    let f = &r.findings;
    let high = f.added_at_least(podwall_findings::Severity::High);
    let _ = writeln!(
        out,
        "**opens {}, closes {}, adds {} ({high} high)**\n",
        plural(t.opened, "flow", "flows"),
        t.closed,
        plural(f.added.len(), "finding", "findings")
    );
    let mut more = vec![format!("fixes {}", plural(f.fixed.len(), "finding", "findings"))];
    if !r.diff.objects.is_empty() {
        more.push(plural(r.diff.objects.len(), "object changed", "objects changed"));
    }
    if !r.added.is_empty() || !r.removed.is_empty() {
        more.push(format!("{} added, {} removed", plural(r.added.len(), "endpoint", "endpoints"), r.removed.len()));
    }
    more.push(format!("{} compared", plural(r.ports.len(), "port", "ports")));
    let _ = writeln!(out, "{}\n", more.join(" · "));
    if let Some(g) = gate_words(r) {
        let _ = writeln!(out, "`{g}`\n");
    }
    // Flows: ports whose changes read alike share rows, as in the text.
    let mut sections: Vec<(Vec<usize>, &Vec<podwall_engine::diff::judge::Shown>)> = Vec::new();
    for (k, groups) in r.shown.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
        match sections.iter_mut().find(|(_, g)| same_groups(g, groups)) {
            Some(sec) => sec.0.push(k),
            None => sections.push((vec![k], groups)),
        }
    }
    let mut rows = Vec::new();
    for (ks, groups) in &sections {
        let ports: Vec<String> = ks.iter().map(|&k| port_words(r.ports[k])).collect();
        for g in groups.iter() {
            let dirs = [(Direction::Egress, &g.sources), (Direction::Ingress, &g.destinations)];
            let mut why = Vec::new();
            for (turn, (dir, ids)) in g.turns.iter().zip(dirs) {
                let Some((_, now)) = turn else { continue };
                let now = &r.sayings.list[*now as usize];
                let verdict = if now.0.allowed { "allowed" } else { "denied" };
                why.push(format!("{dir} {verdict}: {}", now.0.reason.render(local_name(r.new, ids, dir))));
            }
            rows.push(format!(
                "| {} | {} | {} | {} | {} | {} |",
                if g.allowed { "opened" } else { "closed" },
                cell(&names(r.new, &g.sources, all)),
                cell(&names(r.new, &g.destinations, all)),
                cell(&ports.join(", ")),
                g.pairs,
                cell(&why.join("; "))
            ));
        }
    }
    if !rows.is_empty() {
        out.push_str("### Flows\n\n");
        let header = "| | from | to | ports | pairs (each port) | why, now |";
        table(&mut out, header, &rows, all);
    }
    let header = "| severity | ID | where | object | finding |";
    for (title, list) in [("Findings added", &f.added), ("Findings fixed", &f.fixed)] {
        if !list.is_empty() {
            let _ = writeln!(out, "### {title}\n");
            let rows: Vec<String> = list.iter().map(finding_row).collect();
            table(&mut out, header, &rows, all);
        }
    }
    for (title, list, c) in [("Endpoints added", &r.added, r.new), ("Endpoints removed", &r.removed, r.old)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        let rows: Vec<String> = list
            .iter()
            .map(|(id, sums)| {
                format!("| {} | {} |", cell(&c.endpoints[*id].name), cell(&per_port(r.ports, sums).join(", ")))
            })
            .collect();
        table(&mut out, "| endpoint | reaches/reached by, per port |", &rows, all);
    }
    if !r.diff.objects.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>{}</summary>\n",
            plural(r.diff.objects.len(), "object changed", "objects changed")
        );
        let cap = if all { r.diff.objects.len() } else { FOLDED_ROWS };
        for c in r.diff.objects.iter().take(cap) {
            let detail = c.detail.as_ref().map(|x| format!(" ({x})")).unwrap_or_default();
            let _ = writeln!(out, "- `{}` {}{}", sign(c.how), cell(&c.object.to_string()), cell(&detail));
        }
        if r.diff.objects.len() > cap {
            let _ = writeln!(out, "- … and {} more", r.diff.objects.len() - cap);
        }
        out.push_str("\n</details>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_table_folds_after_its_first_rows() {
        let rows: Vec<String> = (0..13).map(|i| format!("| {i} |")).collect();
        let mut out = String::new();
        table(&mut out, "| n |", &rows, false);
        let (open, folded) = out.split_once("<details>").expect("folded");
        assert_eq!(open.matches("| ").count(), 1 + OPEN_ROWS, "{out}");
        assert!(folded.starts_with("<summary>and 3 more</summary>"), "{out}");
        assert!(folded.contains("| 12 |") && folded.trim_end().ends_with("</details>"), "{out}");
        assert_eq!(cell("a|b\n<c>"), "a\\|b &lt;c>");
        let mut short = String::new();
        table(&mut short, "| n |", &rows[..2], false);
        assert!(!short.contains("<details>") && short.starts_with("| n |\n|---|\n"), "{short}");
    }
}
