//! The posture report: every check podwall can make, run over one input, gathered into
//! one list of [`Finding`]s, filtered and rendered.
//!
//! A check is an entry of [`checks`]: its catalogue (IDs, area, default severity,
//! meaning) and a function from the [`Subject`] to its findings. Adding a check adds an
//! entry; nothing else changes (the catalogue, `--disable`, the README table and every
//! format follow).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use podwall_engine::Index;
use podwall_findings::{Finding, Severity};
use podwall_ir::Cluster;
use podwall_load::{InputError, Resource};

pub mod changes;
mod control_plane;
pub mod html;
pub mod network;
mod posture;
pub mod render;
pub mod sarif;

/// One finding ID in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckInfo {
    /// Its stable ID.
    pub id: &'static str,
    /// The area it belongs to (`network`, `pss`, `lint`, `rbac`, `audit`, `apiserver`,
    /// `encryption`, `input`).
    pub area: &'static str,
    /// Its default severity (some checks grade a finding higher or lower).
    pub severity: Severity,
    /// What it means, in one line.
    pub summary: &'static str,
    /// What to do about it.
    pub remediation: &'static str,
}

/// What the checks read: the loaded input, its compiled cluster and the index over it.
pub struct Subject<'a> {
    /// Every object read (posture kinds kept with their documents).
    pub input: &'a podwall_load::Input,
    /// The network model of the same input.
    pub cluster: &'a Cluster,
    /// The index over it.
    pub index: &'a Index,
    /// The Pods and pod templates with their whole pod specs, typed once for every
    /// check that reads them (Pod Security and lint).
    pods: std::sync::OnceLock<Result<Vec<podwall_pod_security::pods::Subject<'a>>, InputError>>,
}

impl<'a> Subject<'a> {
    /// The checks' view of an input, its cluster and index.
    pub fn new(input: &'a podwall_load::Input, cluster: &'a Cluster, index: &'a Index) -> Self {
        Subject { input, cluster, index, pods: std::sync::OnceLock::new() }
    }

    /// Every Pod and pod template of the input with its pod spec, typed on first use.
    pub fn pods(&self) -> Result<&[podwall_pod_security::pods::Subject<'a>], InputError> {
        let input = self.input;
        match self.pods.get_or_init(|| podwall_pod_security::pods::subjects(&input.objects)) {
            Ok(pods) => Ok(pods),
            Err(e) => Err(e.clone()),
        }
    }
}

/// A check: its IDs and how it finds.
pub struct Check {
    /// The area.
    pub area: &'static str,
    /// Every ID it can report.
    pub catalogue: fn() -> Vec<CheckInfo>,
    /// Its findings on the subject.
    pub run: fn(&Subject<'_>) -> Result<Vec<Finding>, InputError>,
}

/// Every check the report runs, in the order their findings are gathered.
pub fn checks() -> Vec<Check> {
    vec![
        Check { area: "input", catalogue: posture::input_catalogue, run: |s| Ok(s.cluster.warnings.clone()) },
        Check { area: "network", catalogue: network::catalogue, run: |s| Ok(network::findings(s.cluster, s.index)) },
        Check { area: "pss", catalogue: posture::pss_catalogue, run: posture::pss },
        Check { area: "lint", catalogue: posture::lint_catalogue, run: posture::lint },
        Check { area: "rbac", catalogue: posture::rbac_catalogue, run: posture::rbac },
        Check { area: "audit", catalogue: posture::audit_catalogue, run: posture::audit },
        Check { area: "apiserver", catalogue: control_plane::apiserver_catalogue, run: control_plane::apiserver },
        Check { area: "encryption", catalogue: control_plane::encryption_catalogue, run: control_plane::encryption },
    ]
}

/// The catalogue of every ID, in check order.
pub fn catalogue() -> Vec<CheckInfo> {
    checks().iter().flat_map(|c| (c.catalogue)()).collect()
}

/// Each ID's area, looked up once per report rather than once per finding.
struct Areas(BTreeMap<&'static str, &'static str>);

impl Areas {
    fn new() -> Self {
        Areas(catalogue().into_iter().map(|c| (c.id, c.area)).collect())
    }

    /// The area of a finding ID, `other` when the catalogue does not know it.
    fn of(&self, id: &str) -> &'static str {
        self.0.get(id).copied().unwrap_or("other")
    }

    /// Where the area comes in the report's order.
    fn rank(&self, id: &str) -> usize {
        const ORDER: [&str; 6] = ["network", "pss", "rbac", "audit", "lint", "input"];
        let area = self.of(id);
        ORDER.iter().position(|a| *a == area).unwrap_or(ORDER.len())
    }
}

/// Which findings a report keeps.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Keep findings at or above this severity.
    pub min_severity: Option<Severity>,
    /// Drop these IDs.
    pub disabled: Vec<String>,
}

/// The report: findings worst first.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Counts by severity (every severity, worst first) and by area.
    pub summary: Summary,
    /// Findings, worst first, then by area, ID and place.
    pub findings: Vec<Finding>,
}

/// Counts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Total findings.
    pub total: usize,
    /// Severity name → count, for every severity.
    pub by_severity: BTreeMap<String, usize>,
    /// Area → count, for the areas with findings.
    pub by_area: BTreeMap<String, usize>,
}

/// Runs every check not entirely disabled and gathers the kept findings.
pub fn gather(subject: &Subject<'_>, filter: &Filter) -> Result<Report, InputError> {
    let mut all = Vec::new();
    for c in checks() {
        let ids = (c.catalogue)();
        if !ids.is_empty() && ids.iter().all(|i| filter.disabled.iter().any(|d| d == i.id)) {
            continue;
        }
        all.extend((c.run)(subject)?);
    }
    Ok(report(all, filter))
}

/// Filters and orders findings into a report.
pub fn report(mut findings: Vec<Finding>, filter: &Filter) -> Report {
    findings
        .retain(|f| filter.min_severity.is_none_or(|m| f.severity >= m) && !filter.disabled.iter().any(|d| d == f.id));
    let areas = Areas::new();
    // The area's rank and the object in words are computed once per finding, not once
    // per comparison: a large cluster has hundreds of thousands of findings.
    let mut keyed: Vec<(usize, Option<String>, Finding)> =
        findings.into_iter().map(|f| (areas.rank(f.id), f.about(), f)).collect();
    keyed.sort_by(|(ra, aa, a), (rb, ab, b)| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| ra.cmp(rb))
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.origin.cmp(&b.origin))
            .then_with(|| aa.cmp(ab))
            .then_with(|| a.message.cmp(&b.message))
    });
    let mut findings: Vec<Finding> = keyed.into_iter().map(|(_, _, f)| f).collect();
    findings.dedup();
    let mut by_severity: BTreeMap<String, usize> = SEVERITIES.iter().map(|s| (s.to_string(), 0)).collect();
    let mut by_area: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        *by_severity.entry(f.severity.to_string()).or_default() += 1;
        *by_area.entry(areas.of(f.id).to_string()).or_default() += 1;
    }
    Report { summary: Summary { total: findings.len(), by_severity, by_area }, findings }
}

/// Severities, worst first.
pub const SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

/// Parses a severity name.
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    SEVERITIES
        .into_iter()
        .find(|x| x.to_string().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown severity {s:?} (expected critical, high, medium, low or info)"))
}

/// Whether the input holds an object of this kind (for checks that need one).
pub(crate) fn has_namespace_labels(o: &podwall_load::Object) -> Option<BTreeMap<String, String>> {
    match &o.resource {
        Resource::Namespace(ns) => Some(ns.metadata.labels.clone().unwrap_or_default()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
