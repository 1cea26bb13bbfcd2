//! `podwall apiserver`: the CIS API server checks on a kube-apiserver's flags. Reading
//! the flags and judging them are `podwall-apiserver`'s; this file reads flags and renders.
use std::process::ExitCode;

use crate::{Failure, Format};

/// Flags of `apiserver`.
#[derive(clap::Args)]
pub struct Args {
    /// The kube-apiserver static pod manifest (e.g. /etc/kubernetes/manifests/kube-apiserver.yaml).
    #[arg(short = 'f', long = "filename", required_unless_present = "flags", conflicts_with = "flags")]
    file: Option<String>,
    /// A flags file instead: the server's command line, flags separated by spaces or
    /// lines, `#` comments.
    #[arg(long)]
    flags: Option<String>,
    /// The file `--encryption-provider-config` names, as a local copy: CIS 1.2.28 (AP028,
    /// Secrets written encrypted) is judged on it, and its own findings (`EN…`, the
    /// rules of `secrets validate`) are reported with the others.
    #[arg(long = "encryption-provider-config", value_name = "FILE")]
    encryption: Option<String>,
    /// Output format. JSON: the list of findings.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `apiserver`: exit 0 without findings, 1 with some, 2 on bad input.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let flags = match (&a.file, &a.flags) {
        (Some(file), _) => {
            let options = podwall_load::Options { raw: &podwall_load::podspec::carries_pod_spec, ..Default::default() };
            let input = podwall_load::load_paths_with(&[file], options)?;
            podwall_apiserver::flags::from_manifest(&input.objects, file)?
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| Failure::Error(format!("{path}: {e}")))?;
            podwall_apiserver::flags::from_text(path, &text)?
        }
        (None, None) => return Err(Failure::Error("give -f MANIFEST or --flags FILE".into())),
    };
    let encryption = match &a.encryption {
        Some(file) => {
            let input = podwall_load::load_paths(&[file.as_str()])?;
            Some(podwall_encryption::Config::read(&input.objects, file)?)
        }
        None => None,
    };
    let report = podwall_apiserver::checks::run_with(&flags, encryption.as_ref())?;
    crate::output::findings(&report.findings(), a.format, &format!("{} checks", report.outcomes.len()))
}
