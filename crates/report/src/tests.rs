use podwall_findings::{Finding, Origin, Severity};

use super::*;

#[test]
fn every_catalogue_id_is_unique() {
    let mut ids: Vec<&str> = catalogue().iter().map(|c| c.id).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[test]
fn a_report_lists_worst_first_and_counts_every_severity() {
    let r = report(
        vec![
            Finding::new("NP004", Severity::Low, "a"),
            Finding::new("NP003", Severity::High, "b"),
            Finding::new("NP001", Severity::Medium, "c"),
        ],
        &Filter::default(),
    );
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, ["NP003", "NP001", "NP004"]);
    assert_eq!(r.summary.by_severity["critical"], 0);
    assert_eq!(r.summary.by_area["network"], 3);
}

#[test]
fn severity_and_disable_filters_drop_findings() {
    let all = vec![Finding::new("NP004", Severity::Low, "a"), Finding::new("NP003", Severity::High, "b")];
    let r = report(all.clone(), &Filter { min_severity: Some(Severity::Medium), disabled: vec![] });
    assert_eq!(r.findings.len(), 1);
    let r = report(all, &Filter { min_severity: None, disabled: vec!["NP003".into()] });
    assert_eq!(r.findings[0].id, "NP004");
}

#[test]
fn sarif_has_every_rule_and_a_fingerprint_that_ignores_the_line() {
    let at = |line| {
        Finding::new("NP004", Severity::Low, "selects no endpoint")
            .subject("NetworkPolicy a/b")
            .origin(Origin::file("x/p.yaml", line))
    };
    let files = crate::changes::Files::as_read(&["x/p.yaml".into(), "x/q.yaml".into()]);
    let one = sarif::sarif(&report(vec![at(3)], &Filter::default()), None, &files);
    let two = sarif::sarif(&report(vec![at(9)], &Filter::default()), None, &files);
    assert_eq!(one["version"], "2.1.0");
    let rules = one["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), catalogue().len());
    let r = &one["runs"][0]["results"][0];
    assert_eq!(r["level"], "note");
    assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "x/p.yaml");
    assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
    assert_eq!(r["partialFingerprints"], two["runs"][0]["results"][0]["partialFingerprints"]);
    // Nor the line of another place the message names (a duplicate's other copy).
    let naming = |line: usize| {
        let f = Finding::new("NM001", Severity::Medium, format!("given 2 times; also at x/q.yaml:{line}"))
            .subject("NetworkPolicy a/b")
            .origin(Origin::file("x/p.yaml", 3));
        let log = sarif::sarif(&report(vec![f], &Filter::default()), None, &files);
        log["runs"][0]["results"][0]["partialFingerprints"]["podwall/v2"].clone()
    };
    assert!(naming(12).is_string());
    assert_eq!(naming(12), naming(40));
}

fn graph_of(names: &[&str]) -> podwall_graph::Graph {
    let nodes = names
        .iter()
        .map(|n| podwall_graph::Node { name: n.to_string(), detail: "1 endpoint".into(), endpoints: 1 })
        .collect();
    let ports = vec![podwall_engine::PortRange { protocol: podwall_ir::Protocol::TCP, lo: 80, hi: 80 }];
    let edges =
        if names.len() > 1 { vec![podwall_graph::Edge { from: 0, to: 1, ports, every_pair: true }] } else { vec![] };
    podwall_graph::Graph { nodes, edges }
}

#[test]
fn html_escapes_every_text_from_the_input() {
    let evil = "<script>alert(1)</script>";
    let f = Finding::new("NP004", Severity::Low, format!("selects {evil} & \"more\""))
        .subject(format!("NetworkPolicy a/{evil}"))
        .origin(Origin::file(&format!("dir/{evil}.yaml"), 7))
        .remediation(format!("remove '{evil}'"));
    let page = html::html(&report(vec![f], &Filter::default()), &graph_of(&[evil, "b"]), &html::Pods::default());
    // The page's own script is the only one.
    assert_eq!(page.to_lowercase().matches("<script").count(), 1, "{page}");
    assert!(page.contains(&format!("<script>{}</script>", html::SCRIPT)));
    assert!(page.contains("NetworkPolicy a/&lt;script&gt;alert(1)&lt;/script&gt;"), "object escaped");
    assert!(page.contains("dir/&lt;script&gt;alert(1)&lt;/script&gt;.yaml:7"), "file:line escaped");
    assert!(page.contains("selects &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;"), "message escaped");
    assert!(page.contains("remove &#39;&lt;script&gt;"), "fix escaped");
    assert!(page.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</text>"), "graph node escaped");
}

#[test]
fn html_groups_findings_by_severity_then_check_with_object_and_place() {
    let at = |id, sev, name: &str, line| {
        Finding::new(id, sev, format!("about {name}"))
            .subject(format!("shop/{name}"))
            .origin(Origin::file("shop.yaml", line))
    };
    let r = report(
        vec![
            at("NP004", Severity::Low, "p", 40),
            at("NP001", Severity::Medium, "api", 3),
            at("NP003", Severity::High, "db", 20),
            at("NP001", Severity::Medium, "web", 12),
        ],
        &Filter::default(),
    );
    let page = html::html(&r, &graph_of(&["shop"]), &html::Pods::default());
    let pos = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing:\n{page}"));
    // Worst first; a severity with no finding has no section.
    assert!(pos("<section id=\"high\">") < pos("<section id=\"medium\">"));
    assert!(pos("<section id=\"medium\">") < pos("<section id=\"low\">"));
    assert!(!page.contains("<section id=\"critical\">") && !page.contains("<section id=\"info\">"));
    // Both NP001 findings sit in one group of two, inside the medium section.
    assert_eq!(page.matches("<code>NP001</code>").count(), 1);
    assert!(page.contains("(2)</summary>"));
    let np001 = pos("<code>NP001</code>");
    assert!(pos("<section id=\"medium\">") < np001 && np001 < pos("<section id=\"low\">"));
    for (object, place) in [("shop/api", "shop.yaml:3"), ("shop/web", "shop.yaml:12")] {
        let row = format!("<td class=\"object\">{object}</td><td class=\"where\">{place}</td>");
        assert!(pos(&row) > np001 && pos(&row) < pos("<section id=\"low\">"), "{row}");
    }
    assert!(page.contains("<strong>4 finding(s):</strong>"));
    assert!(page.contains("<span class=\"medium\">2 medium</span>"));
}

#[test]
fn html_loads_nothing_from_anywhere() {
    let f = Finding::new("NP001", Severity::Medium, "m").subject("a/b").origin(Origin::file("a.yaml", 1));
    let page = html::html(&report(vec![f], &Filter::default()), &graph_of(&["a", "b"]), &html::Pods::default());
    assert!(page.starts_with("<!doctype html>"));
    let policy =
        format!("content=\"default-src 'none'; style-src 'unsafe-inline'; script-src '{}'\"", html::SCRIPT_SHA256);
    assert!(page.contains(&policy), "a policy forbids fetching, and any script but the page's own");
    for attr in ["src=", "href=", "@import", "<link", "<img", "<iframe"] {
        assert!(!page.contains(attr), "{attr} in the page");
    }
    assert_eq!(page.matches("<script").count(), 1, "one script, inline");
    // The only url() is the SVG's own arrow marker; the only address is the SVG namespace.
    assert_eq!(page.matches("url(").count(), page.matches("url(#podwall-arrow)").count());
    assert_eq!(page.matches("//").count(), page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "the graph is inline");
}

#[test]
fn html_says_why_instead_of_drawing_a_graph_too_large_to_read() {
    let names: Vec<String> = (0..=podwall_graph::DRAWABLE_NODES).map(|i| format!("ns-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let page = html::html(&report(vec![], &Filter::default()), &graph_of(&refs), &html::Pods::default());
    assert!(!page.contains("<svg"), "no picture");
    assert!(page.contains("<p>101 nodes and 1 edges are too many to draw legibly"), "{page}");
    assert!(page.contains("<p>No findings.</p>"));
}

#[test]
fn the_content_security_policy_allows_the_script_by_its_sha256() {
    use base64::Engine as _;
    use sha2::Digest as _;
    // CSP Level 2 hash sources: the base64 of the digest of the script element's text.
    let digest = sha2::Sha256::digest(html::SCRIPT.as_bytes());
    let source = format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest));
    assert_eq!(html::SCRIPT_SHA256, source, "the script changed: put its new hash in SCRIPT_SHA256");
}
