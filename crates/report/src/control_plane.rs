//! The control plane's configuration files when the input holds them: the CIS API
//! server checks (`AP…`) on each kube-apiserver static pod, joined to the input's
//! EncryptionConfiguration for CIS 1.2.28, and that configuration's own findings
//! (`EN…`, the rules of `secrets validate`).
use podwall_findings::Finding;
use podwall_load::InputError;

use crate::{CheckInfo, Subject};

/// The API server checks.
pub fn apiserver_catalogue() -> Vec<CheckInfo> {
    podwall_apiserver::CHECKS
        .iter()
        .map(|c| CheckInfo {
            id: c.id,
            area: "apiserver",
            severity: c.severity,
            summary: c.title,
            remediation: "set the flag as the CIS section the finding names asks",
        })
        .collect()
}

/// The first EncryptionConfiguration of the input, read as it is written.
fn encryption_config(s: &Subject<'_>) -> Result<Option<podwall_encryption::Config>, InputError> {
    let Some(o) = s.input.objects.iter().find(|o| o.kind == "EncryptionConfiguration") else { return Ok(None) };
    podwall_encryption::Config::read(std::slice::from_ref(o), &o.source.file).map(Some)
}

/// The API server checks on every kube-apiserver Pod of the input.
pub fn apiserver(s: &Subject<'_>) -> Result<Vec<Finding>, InputError> {
    let encryption = encryption_config(s)?;
    let mut out = Vec::new();
    for o in &s.input.objects {
        if let Some(flags) = podwall_apiserver::flags::from_pod(o)? {
            let report = podwall_apiserver::checks::run_with(&flags, encryption.as_ref())?;
            out.extend(report.outcomes.into_iter().filter_map(|(_, f)| f));
        }
    }
    Ok(out)
}

/// The encryption configuration findings.
pub fn encryption_catalogue() -> Vec<CheckInfo> {
    podwall_encryption::validate::catalogue()
        .into_iter()
        .map(|(id, severity, summary, remediation)| CheckInfo {
            id,
            area: "encryption",
            severity,
            summary,
            remediation,
        })
        .collect()
}

/// Findings about the input's EncryptionConfiguration.
pub fn encryption(s: &Subject<'_>) -> Result<Vec<Finding>, InputError> {
    Ok(encryption_config(s)?.map(|c| podwall_encryption::validate::findings(&c)).unwrap_or_default())
}
