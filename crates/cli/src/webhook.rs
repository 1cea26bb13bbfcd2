//! `podwall webhook`: the PodSecurity validating admission webhook. The serving and the
//! judging are `podwall-webhook`'s; this file reads flags and files.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use podwall_pod_security::config::{self, Config};
use podwall_webhook::namespaces::Unknown;
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
    /// folders, `-`; repeatable), and the Pods a namespace update that tightens enforce
    /// checks. A request in a namespace not among them is answered as the plugin
    /// answers when its namespace lookup fails (see `--unknown-namespaces`).
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    /// A namespace not among the `-f` ones: `refuse` (the plugin's answer to a failed
    /// lookup: a Pod is refused with an internal error, a workload admitted with the
    /// error in its audit annotations) or `defaults` (taken as unlabelled). Without
    /// `-f` no namespace is known and `defaults` is the default.
    #[arg(long, value_enum, value_name = "WHAT")]
    unknown_namespaces: Option<UnknownNamespaces>,
    /// The API server's admission configuration (an AdmissionConfiguration whose
    /// PodSecurity plugin holds a PodSecurityConfiguration, or that alone): defaults
    /// and exemptions.
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
}

/// What a namespace not among the known ones gets.
#[derive(Clone, Copy, clap::ValueEnum)]
enum UnknownNamespaces {
    Refuse,
    Defaults,
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
    let unknown = match a.unknown_namespaces {
        Some(UnknownNamespaces::Refuse) => Unknown::Refuse,
        Some(UnknownNamespaces::Defaults) => Unknown::Defaults,
        None if a.files.is_empty() => Unknown::Defaults,
        None => Unknown::Refuse,
    };
    let namespaces = namespaces.with_unknown(unknown);
    for o in &objects {
        for e in namespaces.get(&o.name).map(|n| n.errors.as_slice()).unwrap_or_default() {
            let f = e.finding(&o.name, &o.source);
            eprintln!("warning[{}]: {f}", f.id);
        }
    }
    let cert = a.tls_cert.display().to_string();
    let log: tls::ReloadLog = std::sync::Arc::new(move |r| match r {
        Ok(()) => eprintln!("podwall webhook: {cert} changed; serving the new certificate"),
        Err(e) => eprintln!("warning: {cert} changed but does not load ({e}); still serving the previous certificate"),
    });
    let tls = tls::server_config(&a.tls_cert, &a.tls_key, log)?;
    let (known, pods) = (namespaces.len(), namespaces.pod_count());
    let admission = Admission::new(config, namespaces);
    server::run(a.listen, tls, admission, |addr| {
        let others = match unknown {
            Unknown::Refuse => "others refused as unknown",
            Unknown::Defaults => "others take the defaults",
        };
        eprintln!("podwall webhook: serving https://{addr} (POST /validate, GET /healthz); {known} namespace(s) known, {others}; {pods} existing pod(s)");
    })
    .map_err(|e| Failure::Error(format!("listening on {}: {e}", a.listen)))?;
    Ok(ExitCode::SUCCESS)
}
