//! Reads a live cluster, read-only, through the Kubernetes API (kube-rs).
//!
//! [`load`] connects with a kubeconfig (a file, or the default one, and a context) or
//! with the in-cluster service account, lists every kind the loader reads
//! ([`kinds::served`] says where each is served), page by page (`limit` and
//! `continue`), and hands the objects to the loader as documents named
//! `cluster:<context>/<namespace>/<Kind>/<name>` ([`podwall_load::load_documents`]), so
//! that every rule of files applies to them. It only ever sends `GET` requests: lists,
//! watches ([`watch`]) and, for one object asked for by name, a get ([`get`]).
//!
//! - A kind the server refuses to list (403) is left out and recorded in
//!   [`podwall_load::Input::gaps`]: the result is partial, and says so (finding `IN003`).
//! - A kind the server does not serve (404: its CRD is not installed) is a gap too
//!   (`IN004`, for information).
//! - A continue token that expired (410) lists that kind again from the start.
//! - A request that gets no answer within [`Settings::timeout`], a server that cannot be
//!   reached and any other refusal are an [`Error`] naming the server.
#![forbid(unsafe_code)]

pub mod get;
pub mod kinds;
mod list;
pub mod metrics;
pub mod watch;

use std::path::PathBuf;
use std::time::Duration;

use podwall_load::{Input, InputError, Options};

/// Which cluster to read, and as whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A kubeconfig: this file, or the default one (`KUBECONFIG`, else
    /// `~/.kube/config`), with this context or its current one.
    Kubeconfig {
        /// The file; `None` for the default.
        path: Option<PathBuf>,
        /// The context; `None` for the file's current context.
        context: Option<String>,
    },
    /// The service account of the pod podwall runs in (`KUBERNETES_SERVICE_HOST`, the
    /// mounted token and CA).
    InCluster,
}

/// How requests are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Objects asked for per page (`limit`).
    pub page_size: u32,
    /// How long one request may take, connecting included, before the read fails.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        // kubectl's default chunk size.
        Settings { page_size: 500, timeout: Duration::from_secs(60) }
    }
}

/// Why a cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig or the in-cluster configuration could not be used.
    #[error("{0}")]
    Config(String),
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the API server at {server}: {message}")]
    Unreachable {
        /// The server's URL.
        server: String,
        /// What failed.
        message: String,
    },
    /// A request got no whole answer in time.
    #[error("the API server at {server} did not answer {path} within {seconds} s (raise --request-timeout)")]
    Timeout {
        /// The server's URL.
        server: String,
        /// What was asked.
        path: String,
        /// The timeout.
        seconds: u64,
    },
    /// The server answered with an error other than 403, 404 or an expired token.
    #[error("the API server at {server} refused {path}: HTTP {code} {message}")]
    Refused {
        /// The server's URL.
        server: String,
        /// What was asked.
        path: String,
        /// The HTTP status.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// The answer was not a list podwall can read.
    #[error("the API server at {server} answered {path} with something that is not a list: {message}")]
    Malformed {
        /// The server's URL.
        server: String,
        /// What was asked.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An object the loader refuses, as it would refuse it in a file.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// Reads every kind the loader reads from the cluster, and loads the objects as
/// [`podwall_load::load_documents`] does with `options`. What the server did not hand
/// over is in the input's `gaps`.
pub fn load(target: &Target, settings: &Settings, options: Options<'_>) -> Result<Input, Error> {
    let read = read(target, settings)?;
    let mut input = podwall_load::load_documents(&read.documents, options)?;
    input.gaps = read.gaps;
    Ok(input)
}

/// What was read from a cluster, before loading.
#[derive(Clone, Debug, Default)]
pub struct Read {
    /// The context's name (`in-cluster` for the in-cluster configuration).
    pub context: String,
    /// The server's URL.
    pub server: String,
    /// Each object's source name and JSON text, kinds in the loader's table order,
    /// objects in the server's order.
    pub documents: Vec<(String, String)>,
    /// The kinds not handed over.
    pub gaps: Vec<podwall_load::Gap>,
}

/// Lists every kind the loader reads.
pub fn read(target: &Target, settings: &Settings) -> Result<Read, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the client: {e}")))?;
    runtime.block_on(async {
        let (config, context) = config(target).await?;
        let client = list::Client::new(config, settings)?;
        list::read_all(&client, &context).await
    })
}

/// The client configuration and the context's name.
async fn config(target: &Target) -> Result<(kube::Config, String), Error> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    match target {
        Target::InCluster => {
            let config = kube::Config::incluster()
                .map_err(|e| Error::Config(format!("in-cluster configuration (KUBERNETES_SERVICE_HOST): {e}")))?;
            Ok((config, "in-cluster".into()))
        }
        Target::Kubeconfig { path, context } => {
            let (file, where_) = match path {
                Some(p) => (Kubeconfig::read_from(p), p.display().to_string()),
                None => (Kubeconfig::read(), "the default kubeconfig (KUBECONFIG, else ~/.kube/config)".into()),
            };
            let file = file.map_err(|e| Error::Config(format!("{where_}: {e}")))?;
            let name = context.clone().or_else(|| file.current_context.clone()).unwrap_or_default();
            if name.is_empty() {
                return Err(Error::Config(format!("{where_}: no current context: name one with --context")));
            }
            if !file.contexts.iter().any(|c| c.name == name) {
                let known: Vec<&str> = file.contexts.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::Config(format!(
                    "{where_}: no context {name:?} (contexts: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            }
            let options = KubeConfigOptions { context: Some(name.clone()), ..Default::default() };
            let config = kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| Error::Config(format!("{where_}: context {name:?}: {e}")))?;
            Ok((config, name))
        }
    }
}
