//! `kubectl auth can-i --list`'s table: the rules a user holds, each broken down into one
//! verb, group, resource and name, then rules that differ only in their verb merged
//! back (verbs in the order met), sorted by the text Go prints for a `PolicyRule`
//! (so by verbs first), and printed with Go's tab writer as kubectl configures it.
use std::collections::HashMap;

use crate::objects::Rule;

fn single(x: &str) -> Vec<String> {
    vec![x.to_string()]
}

/// The rule broken into rules of one verb, one group, one resource and at most one name
/// (and one verb per URL).
pub fn breakdown(rule: &Rule) -> Vec<Rule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                let base = Rule { verbs: single(v), api_groups: single(g), resources: single(r), ..Rule::default() };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    for n in &rule.resource_names {
                        out.push(Rule { resource_names: single(n), ..base.clone() });
                    }
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(Rule { verbs: single(v), non_resource_urls: single(u), ..Rule::default() });
        }
    }
    out
}

/// Merges the verbs of rules that name one group, one resource and at most one name
/// and nothing else; other rules stay as they are.
pub fn compact(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut simple: Vec<Rule> = Vec::new();
    let mut at: HashMap<(String, String, Option<String>), usize> = HashMap::new();
    for rule in rules {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            out.push(rule);
            continue;
        }
        let key = (rule.api_groups[0].clone(), rule.resources[0].clone(), rule.resource_names.first().cloned());
        match at.get(&key) {
            Some(&i) => simple[i].verbs.extend(rule.verbs),
            None => {
                at.insert(key, simple.len());
                simple.push(rule);
            }
        }
    }
    out.extend(simple);
    out
}

/// Go's `%v` of a string slice: `[a b c]`.
pub fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// The text Go's `PolicyRule.String()` gives, which kubectl sorts the rows by.
fn sort_key(r: &Rule) -> String {
    format!(
        "&PolicyRule{{Verbs:{},APIGroups:{},Resources:{},ResourceNames:{},NonResourceURLs:{},}}",
        go_list(&r.verbs),
        go_list(&r.api_groups),
        go_list(&r.resources),
        go_list(&r.resource_names),
        go_list(&r.non_resource_urls)
    )
}

/// `Resources` as kubectl shows it: the first resource, `.group` unless core, then
/// `/subresource`.
pub fn resource_column(r: &Rule) -> String {
    let Some(first) = r.resources.first() else { return String::new() };
    let (res, sub) = match first.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (first.as_str(), None),
    };
    let mut s = res.to_string();
    if let Some(g) = r.api_groups.first().filter(|g| !g.is_empty()) {
        s.push('.');
        s.push_str(g);
    }
    if let Some(sub) = sub {
        s.push('/');
        s.push_str(sub);
    }
    s
}

/// The rows of the table, in kubectl's order.
pub fn rows<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> Vec<Rule> {
    let broken: Vec<Rule> = rules.into_iter().flat_map(breakdown).collect();
    let mut rows = compact(broken);
    rows.sort_by_cached_key(sort_key);
    rows
}

/// The table as kubectl prints it (Go's tabwriter: minimum width 6, padding 3).
pub fn table(rows: &[Rule], headers: bool) -> String {
    let mut lines: Vec<[String; 4]> = Vec::new();
    if headers {
        lines.push(["Resources".into(), "Non-Resource URLs".into(), "Resource Names".into(), "Verbs".into()]);
    }
    for r in rows {
        lines.push([resource_column(r), go_list(&r.non_resource_urls), go_list(&r.resource_names), go_list(&r.verbs)]);
    }
    let mut widths = [0usize; 3];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l.iter()) {
            *w = (*w).max((cell.chars().count() + 3).max(6));
        }
    }
    let mut out = String::new();
    for l in &lines {
        for (cell, w) in l.iter().zip(widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        out.push_str(&l[3]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Rule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Rule { verbs: v(verbs), api_groups: v(groups), resources: v(resources), ..Rule::default() }
    }

    #[test]
    fn rows_merge_verbs_per_resource_and_sort_by_verbs_first() {
        let rows = rows(&[
            r(&["list", "get"], &[""], &["pods", "secrets"]),
            r(&["create"], &["apps"], &["deployments/scale"]),
        ]);
        let text = table(&rows, true);
        assert_eq!(
            text,
            "Resources                Non-Resource URLs   Resource Names   Verbs\n\
             deployments.apps/scale   []                  []               [create]\n\
             pods                     []                  []               [list get]\n\
             secrets                  []                  []               [list get]\n"
        );
    }
}
