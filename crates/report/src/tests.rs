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
    let one = sarif::sarif(&report(vec![at(3)], &Filter::default()), None);
    let two = sarif::sarif(&report(vec![at(9)], &Filter::default()), None);
    assert_eq!(one["version"], "2.1.0");
    let rules = one["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), catalogue().len());
    let r = &one["runs"][0]["results"][0];
    assert_eq!(r["level"], "note");
    assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "x/p.yaml");
    assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
    assert_eq!(r["partialFingerprints"], two["runs"][0]["results"][0]["partialFingerprints"]);
}
