//! `podwall webhook`: the PodSecurity validating admission webhook. The serving and the
//! judging are `podwall-webhook`'s; this file reads flags and files.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use podwall_pod_security::config::{self, Config};
use podwall_webhook::{server, tls, Admission, Namespaces};

use crate::Failure;

/// Flags of `webhook`.
#[derive(clap::Args)]
pub struct Args {
    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// Manifests holding the namespaces whose pod-security labels decide (files,
    /// folders, `-`; repeatable). A namespace not among them has the defaults.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    /// The API server's admission configuration (an AdmissionConfiguration whose
    /// PodSecurity plugin holds a PodSecurityConfiguration, or that alone): defaults
    /// and exemptions.
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
}

/// Runs the webhook until SIGINT or SIGTERM.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let config = match &a.config {
        Some(file) => config::from_file(file)?,
        None => Config::default(),
    };
    let (namespaces, objects) = match a.files.is_empty() {
        true => (Namespaces::default(), Vec::new()),
        false => Namespaces::load(&a.files, config.defaults)?,
    };
    for o in &objects {
        for e in namespaces.get(&o.name).map(|n| n.errors.as_slice()).unwrap_or_default() {
            let f = e.finding(&o.name, &o.source);
            eprintln!("warning[{}]: {f}", f.id);
        }
    }
    let tls = tls::server_config(&a.tls_cert, &a.tls_key)?;
    let known = namespaces.len();
    let admission = Admission::new(config, namespaces);
    server::run(a.listen, tls, admission, |addr| {
        eprintln!("podwall webhook: serving https://{addr} (POST /validate, GET /healthz); {known} namespace(s) known");
    })
    .map_err(|e| Failure::Error(format!("listening on {}: {e}", a.listen)))?;
    Ok(ExitCode::SUCCESS)
}
