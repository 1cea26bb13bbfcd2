//! Reading one object by name (`GET .../NAME`), for a caller that follows a kind through
//! [`crate::watch`] and is asked about an object the watch has not delivered yet: the
//! PodSecurity plugin, whose namespace informer can lag behind a namespace created a
//! moment before its first pod, asks the API server for that namespace directly.
//!
//! The answer is the object's source name and JSON text, named as a list or a watch
//! names it (`cluster:<context>/<Kind>/<name>`), so that what a `GET` found and what the
//! watch delivers later are the same object to the caller. A `404` is `Ok(None)`.
//!
//! The client is made on first use, on the runtime of whoever calls [`Getter::get`], so
//! that its connections are driven there and not by the watch's thread.
use podwall_load::KindInfo;

use crate::kinds::{served, Api, Served};
use crate::list::{chain, document, Client};
use crate::{Error, Settings, Target};

/// Reads objects one at a time, each request bounded by the settings' timeout.
pub struct Getter {
    target: Target,
    settings: Settings,
    client: tokio::sync::OnceCell<(Client, String)>,
}

impl Getter {
    /// A getter for the cluster `target` names. Nothing is read or checked until the
    /// first [`Getter::get`].
    pub fn new(target: Target, settings: Settings) -> Self {
        Getter { target, settings, client: tokio::sync::OnceCell::new() }
    }

    /// The timeout each request has.
    pub fn timeout(&self) -> std::time::Duration {
        self.settings.timeout
    }

    async fn client(&self) -> Result<&(Client, String), Error> {
        self.client
            .get_or_try_init(|| async {
                let (config, context) = crate::config(&self.target).await?;
                Ok::<_, Error>((Client::new(config, &self.settings)?, context))
            })
            .await
    }

    /// The object of kind `info` named `name` (in `namespace`, for a namespaced kind):
    /// its source name and text, or `None` when the server says it does not exist (404).
    /// A timeout, a server that cannot be reached, any other refusal (403 included) and
    /// an answer that is not an object are an [`Error`].
    pub async fn get(
        &self,
        info: &'static KindInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(String, String)>, Error> {
        let (client, context) = self.client().await?;
        let api = match served(info) {
            Served::At(apis) => apis.first(),
            _ => None,
        };
        let Some(api) = api else {
            return Err(Error::Config(format!("{} is not read from the API server", info.kind)));
        };
        let path = object_path(api, namespace);
        let request = kube::core::Request::new(&path)
            .get(name, &Default::default())
            .map_err(|e| Error::Config(format!("GET {path}/{name}: {e}")))?;
        let full = format!("{path}/{name}");
        let text = match tokio::time::timeout(client.timeout, client.client.request_text(request)).await {
            Err(_) => {
                return Err(Error::Timeout {
                    server: client.server.clone(),
                    path: full,
                    seconds: client.timeout.as_secs().max(1),
                })
            }
            Ok(Ok(text)) => text,
            Ok(Err(kube::Error::Api(status))) if status.code == 404 => return Ok(None),
            Ok(Err(kube::Error::Api(status))) => {
                return Err(Error::Refused {
                    server: client.server.clone(),
                    path: full,
                    code: status.code,
                    message: status.message.clone(),
                })
            }
            Ok(Err(e)) => return Err(Error::Unreachable { server: client.server.clone(), message: chain(&e) }),
        };
        let malformed =
            |message: String| Error::Malformed { server: client.server.clone(), path: full.clone(), message };
        let item: Box<serde_json::value::RawValue> =
            serde_json::from_str(&text).map_err(|e| malformed(format!("not JSON: {e}")))?;
        document(context, info, api, &api.api_version(), &item).map(Some).map_err(malformed)
    }
}

/// Where the objects of `api` are (in `namespace`, for a namespaced kind).
fn object_path(api: &Api, namespace: Option<&str>) -> String {
    let root = match api.group {
        "" => format!("/api/{}", api.version),
        g => format!("/apis/{g}/{}", api.version),
    };
    match namespace {
        Some(ns) => format!("{root}/namespaces/{ns}/{}", api.resource),
        None => format!("{root}/{}", api.resource),
    }
}
