//! `podwall webhook`: the PodSecurity validating admission webhook. The serving, the
//! judging and the following of the API are `podwall-webhook`'s; this file reads flags
//! and files.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use podwall_pod_security::config::{self, Config};
use podwall_webhook::namespaces::Unknown;
use podwall_webhook::server::State;
use podwall_webhook::{follow, lookup, server, tls, Admission, Namespaces};

use crate::live::{source_of, LiveArgs, Source};
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
    /// answers when its namespace lookup fails (see `--unknown-namespaces`). Without
    /// -f, with --kubeconfig or --context or inside a pod, the namespaces and pods are
    /// listed and watched from the API server instead.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    #[command(flatten)]
    live: LiveArgs,
    /// A namespace not among the known ones (the `-f` ones, or the cluster's):
    /// `refuse` (the plugin's answer to a failed lookup: a Pod is refused with an
    /// internal error, a workload admitted with the error in its audit annotations) or
    /// `defaults` (taken as unlabelled). With neither -f nor a cluster no namespace is
    /// known and `defaults` is the default; else `refuse`.
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
    // No input at all is no namespace known, not an error.
    let target = match source_of(&a.files, &a.live) {
        Ok(Source::Cluster(t)) => Some(t),
        Ok(Source::Files(_)) | Err(_) => None,
    };
    let unknown = match a.unknown_namespaces {
        Some(UnknownNamespaces::Refuse) => Unknown::Refuse,
        Some(UnknownNamespaces::Defaults) => Unknown::Defaults,
        None if a.files.is_empty() && target.is_none() => Unknown::Defaults,
        None => Unknown::Refuse,
    };
    let others = match unknown {
        Unknown::Refuse => "others refused as unknown",
        Unknown::Defaults => "others take the defaults",
    };
    let cert = a.tls_cert.display().to_string();
    let log: tls::ReloadLog = std::sync::Arc::new(move |r| match r {
        Ok(()) => eprintln!("podwall webhook: {cert} changed; serving the new certificate"),
        Err(e) => eprintln!("warning: {cert} changed but does not load ({e}); still serving the previous certificate"),
    });
    let tls = tls::server_config(&a.tls_cert, &a.tls_key, log)?;
    if let Some(target) = target {
        let settings =
            podwall_cluster::Settings { timeout: Duration::from_secs(a.live.request_timeout), ..Default::default() };
        let watch = podwall_cluster::watch::watch(&target, &settings, Default::default(), &follow::watched_kinds())
            .map_err(|e| Failure::Error(e.to_string()))?;
        follow::log(&format!(
            "watching Namespace and Pod at {} ({}); a namespace not delivered yet is read with a GET ({} ms at most); {others}",
            watch.server,
            watch.context,
            lookup::TIMEOUT.as_millis()
        ));
        let state = follow::starting(config.clone(), unknown);
        state.set_lookup(std::sync::Arc::new(lookup::Lookup::new(target, lookup::TIMEOUT)));
        let following = state.clone();
        std::thread::Builder::new()
            .name("follow".into())
            .spawn(move || {
                if let Err(e) = follow::follow(&following, config, unknown, watch, || false) {
                    follow::log(&format!("error: {e}"));
                    std::process::exit(1);
                }
            })
            .map_err(|e| Failure::Error(format!("cannot start following the API: {e}")))?;
        server::run(a.listen, tls, state, |addr| {
            follow::log(&format!("serving https://{addr} (POST /validate, GET /healthz, GET /metrics)"));
        })
        .map_err(|e| Failure::Error(format!("listening on {}: {e}", a.listen)))?;
        return Ok(ExitCode::SUCCESS);
    }
    let (namespaces, objects) = match a.files.is_empty() {
        true => (Namespaces::default(), Vec::new()),
        false => Namespaces::load(&a.files, config.defaults)?,
    };
    let namespaces = namespaces.with_unknown(unknown);
    for o in &objects {
        for e in namespaces.get(&o.name).map(|n| n.errors.as_slice()).unwrap_or_default() {
            let f = e.finding(&o.name, &o.source);
            eprintln!("warning[{}]: {f}", f.id);
        }
    }
    let (known, pods) = (namespaces.len(), namespaces.pod_count());
    let state = State::new(Admission::new(config, namespaces));
    server::run(a.listen, tls, state, |addr| {
        eprintln!("podwall webhook: serving https://{addr} (POST /validate, GET /healthz, GET /metrics); {known} namespace(s) known, {others}; {pods} existing pod(s)");
    })
    .map_err(|e| Failure::Error(format!("listening on {}: {e}", a.listen)))?;
    Ok(ExitCode::SUCCESS)
}
