//! Listing: one kind page by page, every kind at once.
use std::time::Duration;

use podwall_load::{Gap, GapReason, KindInfo, Source};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::kinds::{served, Api, Served};
use crate::{Error, Read, Settings};

/// How often one kind is listed again from the start after its continue token expired,
/// before the read gives up.
const RELISTS: usize = 5;

/// A connected client and what its messages name.
#[derive(Clone)]
pub struct Client {
    pub(crate) client: kube::Client,
    pub(crate) server: String,
    page_size: u32,
    pub(crate) timeout: Duration,
}

impl Client {
    /// A client for `config`, with the settings' timeout on every request.
    pub fn new(mut config: kube::Config, settings: &Settings) -> Result<Self, Error> {
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        config.read_timeout = Some(settings.timeout);
        config.connect_timeout = Some(config.connect_timeout.map_or(settings.timeout, |c| c.min(settings.timeout)));
        let client = kube::Client::try_from(config)
            .map_err(|e| Error::Config(format!("cannot set up a client for {server}: {}", chain(&e))))?;
        Ok(Client { client, server, page_size: settings.page_size.max(1), timeout: settings.timeout })
    }
}

/// One page of a list, as the API returns it.
#[derive(Deserialize)]
struct Page<'a> {
    /// Where the next page starts; empty or absent on the last.
    #[serde(default)]
    metadata: ListMeta,
    /// The objects (`null` when there are none).
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    #[serde(rename = "continue", default)]
    next: Option<String>,
    /// The state the list is of, from which a watch starts.
    #[serde(default)]
    resource_version: Option<String>,
}

/// What is read of an item before it is handed on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemHead {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<ItemMeta>,
}

#[derive(Deserialize, Default)]
struct ItemMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

/// What listing one kind gave.
enum Listed {
    /// Its objects: source name and text.
    Objects(Vec<(String, String)>),
    /// A gap.
    Gap(Gap),
}

/// `Kind` for the core group, else `Kind.group`: how a kind is named in sources and notes.
pub(crate) fn kind_name(kind: &str, group: &str) -> String {
    match group {
        "" => kind.to_string(),
        g => format!("{kind}.{g}"),
    }
}

/// Lists every kind the loader reads, all at once; the documents come in the loader's
/// table order. The first error in that order ends the read.
pub async fn read_all(client: &Client, context: &str) -> Result<Read, Error> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, info) in podwall_load::kinds::KINDS.iter().enumerate() {
        let Served::At(apis) = served(info) else { continue };
        let (client, context) = (client.clone(), context.to_string());
        tasks.spawn(async move { (i, list_kind(&client, &context, info, apis).await) });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.map_err(|e| Error::Config(format!("a listing task failed: {e}")))?);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut read = Read { context: context.to_string(), server: client.server.clone(), ..Read::default() };
    for (_, listed) in results {
        match listed? {
            Listed::Objects(docs) => read.documents.extend(docs),
            Listed::Gap(gap) => read.gaps.push(gap),
        }
    }
    Ok(read)
}

/// Lists one kind at the first place it is served.
async fn list_kind(
    client: &Client,
    context: &str,
    info: &'static KindInfo,
    apis: &'static [Api],
) -> Result<Listed, Error> {
    let source = Source { file: format!("{}{context}", podwall_load::CLUSTER_SOURCE), line: 0 };
    for api in apis {
        match list_at(client, context, info, api).await? {
            Some(Ok((objects, _))) => return Ok(Listed::Objects(objects)),
            Some(Err(why)) => {
                let kind = kind_name(info.kind, api.group);
                return Ok(Listed::Gap(Gap { source, kind, reason: GapReason::Forbidden(why) }));
            }
            None => continue,
        }
    }
    let kind = kind_name(info.kind, info.groups.first().copied().unwrap_or_default());
    Ok(Listed::Gap(Gap { source, kind, reason: GapReason::NotServed }))
}

/// Every object at one place, and the resource version of the list: `None` when it is
/// not served, `Some(Err(message))` when listing it is forbidden.
pub(crate) async fn list_at(
    client: &Client,
    context: &str,
    info: &KindInfo,
    api: &Api,
) -> Result<Option<Result<(Vec<(String, String)>, String), String>>, Error> {
    let path = api.list_path();
    let api_version = api.api_version();
    let mut objects = Vec::new();
    let mut next: Option<String> = None;
    let mut relists = 0;
    let mut version = String::new();
    loop {
        let mut params = kube::api::ListParams::default().limit(client.page_size);
        if let Some(token) = &next {
            params = params.continue_token(token);
        }
        let request = kube::core::Request::new(&path).list(&params).map_err(|e| Error::Config(e.to_string()))?;
        let answer = tokio::time::timeout(client.timeout, client.client.request_text(request)).await;
        let text = match answer {
            Err(_) => {
                return Err(Error::Timeout {
                    server: client.server.clone(),
                    path: path.clone(),
                    seconds: client.timeout.as_secs().max(1),
                })
            }
            Ok(Ok(text)) => text,
            Ok(Err(kube::Error::Api(status))) => match status.code {
                403 => return Ok(Some(Err(status.message.clone()))),
                404 if next.is_none() => return Ok(None),
                410 if next.is_some() && relists < RELISTS => {
                    // The token expired (the server compacted past it): the pages read
                    // so far are of a state that is gone; read the kind again.
                    relists += 1;
                    objects.clear();
                    next = None;
                    continue;
                }
                code => {
                    let message = match (code, relists) {
                        (410, RELISTS) => format!("{} (the continue token expired {RELISTS} times)", status.message),
                        _ => status.message.clone(),
                    };
                    return Err(Error::Refused { server: client.server.clone(), path, code, message });
                }
            },
            Ok(Err(e)) => return Err(Error::Unreachable { server: client.server.clone(), message: chain(&e) }),
        };
        let malformed =
            |message: String| Error::Malformed { server: client.server.clone(), path: path.clone(), message };
        let page: Page<'_> = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        for item in page.items.unwrap_or_default() {
            objects.push(document(context, info, api, &api_version, item).map_err(malformed)?);
        }
        if let Some(v) = page.metadata.resource_version.filter(|v| !v.is_empty()) {
            version = v;
        }
        match page.metadata.next.filter(|t| !t.is_empty()) {
            Some(token) => next = Some(token),
            None => return Ok(Some(Ok((objects, version)))),
        }
    }
}

/// One item as a document: its source name, and its text with `apiVersion` and `kind`
/// (list items of built-in kinds come without them).
pub(crate) fn document(
    context: &str,
    info: &KindInfo,
    api: &Api,
    api_version: &str,
    item: &RawValue,
) -> Result<(String, String), String> {
    let head: ItemHead = serde_json::from_str(item.get()).map_err(|e| format!("an item is not an object: {e}"))?;
    let meta = head.metadata.unwrap_or_default();
    let name = meta.name.unwrap_or_default();
    let kind = kind_name(info.kind, api.group);
    let source = match meta.namespace.filter(|n| !n.is_empty() && info.is_namespaced()) {
        Some(ns) => format!("{}{context}/{ns}/{kind}/{name}", podwall_load::CLUSTER_SOURCE),
        None => format!("{}{context}/{kind}/{name}", podwall_load::CLUSTER_SOURCE),
    };
    let mut missing = Vec::new();
    if head.api_version.is_none() {
        missing.push(format!("\"apiVersion\":{}", serde_json::Value::from(api_version)));
    }
    if head.kind.is_none() {
        missing.push(format!("\"kind\":{}", serde_json::Value::from(info.kind)));
    }
    Ok((source, with_keys(item.get(), &missing)))
}

/// The JSON object `text` with `keys` (`"key":value` pairs) put first.
fn with_keys(text: &str, keys: &[String]) -> String {
    if keys.is_empty() {
        return text.to_string();
    }
    let body = text.trim_start().strip_prefix('{').unwrap_or(text);
    let sep = if body.trim_start().starts_with('}') { "" } else { "," };
    format!("{{{}{sep}{body}", keys.join(","))
}

/// An error with its causes, the way a person reads them.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_without_type_get_the_listed_kind_first() {
        let keys = ["\"apiVersion\":\"v1\"".to_string(), "\"kind\":\"Pod\"".to_string()];
        assert_eq!(with_keys("{\"metadata\":{}}", &keys), "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{}}");
        assert_eq!(with_keys(" { } ", &keys), "{\"apiVersion\":\"v1\",\"kind\":\"Pod\" } ");
        assert_eq!(with_keys("{\"a\":1}", &[]), "{\"a\":1}");
    }

    #[test]
    fn sources_name_context_namespace_kind_and_name() {
        let pod = podwall_load::kind_info("", "Pod").expect("row");
        let api = Api { group: "", version: "v1", resource: "pods" };
        let item: Box<RawValue> =
            serde_json::from_str(r#"{"metadata":{"name":"web","namespace":"shop"}}"#).expect("json");
        let (source, text) = document("prod", pod, &api, "v1", &item).expect("document");
        assert_eq!(source, "cluster:prod/shop/Pod/web");
        assert!(text.starts_with(r#"{"apiVersion":"v1","kind":"Pod","#), "{text}");
        let np = podwall_load::kind_info("projectcalico.org", "GlobalNetworkPolicy").expect("row");
        let api = Api { group: "crd.projectcalico.org", version: "v1", resource: "globalnetworkpolicies" };
        let item: Box<RawValue> = serde_json::from_str(
            r#"{"apiVersion":"crd.projectcalico.org/v1","kind":"GlobalNetworkPolicy","metadata":{"name":"d"}}"#,
        )
        .expect("json");
        let (source, text) = document("prod", np, &api, "crd.projectcalico.org/v1", &item).expect("document");
        assert_eq!(source, "cluster:prod/GlobalNetworkPolicy.crd.projectcalico.org/d");
        assert_eq!(text, item.get());
    }
}
