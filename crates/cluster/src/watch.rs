//! Watching: each kind listed, then watched from the list's resource version, for as long
//! as the receiver of the events lives. The caller needs no async runtime: the watches
//! run on a thread of their own and speak through a channel.
//!
//! - An object added, changed or deleted is an [`Event`] naming its kind and its source
//!   (the same `cluster:<context>/...` name a list gives it, so that a list and a watch
//!   agree on every object).
//! - A watch the server ends (its `timeoutSeconds`) starts again from the last resource
//!   version seen, bookmarks included.
//! - `410 Gone` — the version is older than the server keeps — as the watch request's
//!   answer or as an `ERROR` event with code 410, lists the kind again
//!   ([`Event::Listed`] with `relist`), replacing everything known of it.
//! - A server that cannot be reached, a connection that breaks, a timeout, any other
//!   refusal (403 included): an [`Event::Away`] with the reason, then another try after
//!   a bounded exponential backoff with jitter ([`Backoff`]); the first answer after that
//!   is an [`Event::Back`]. Nothing is dropped meanwhile: the watch resumes from the last
//!   version seen, or relists if the server no longer has it.
//! - A kind no place serves (its CRD is not installed) is [`Event::Listed`] with no
//!   objects and `served: false`, and looked for again every [`NOT_SERVED_RETRY`].
//!
//! Only `GET` list and watch requests are sent.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use futures::AsyncBufReadExt;
use podwall_load::KindInfo;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::kinds::{served, Api, Served};
use crate::list::{self, chain, document, kind_name, Client};
use crate::{Error, Settings, Target};

/// How often a kind that no place serves is looked for again.
pub const NOT_SERVED_RETRY: Duration = Duration::from_secs(300);

/// How long to wait before trying again after a failure: `first · 2^n`, at most `max`,
/// of which a random part of the second half ("equal jitter", so that the nodes of a
/// cluster do not come back at the same moment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure (before jitter).
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (1 for the first), with `random`
    /// choosing within the jitter.
    pub fn delay(&self, failures: u32, random: u64) -> Duration {
        let doubling = 1u32.checked_shl(failures.saturating_sub(1).min(24)).unwrap_or(u32::MAX);
        let base = self.first.saturating_mul(doubling).min(self.max);
        let half = base / 2;
        let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(if span == 0 { 0 } else { random % (span + 1) })
    }
}

/// What a watch reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A kind listed (first, again after `410 Gone`, or looked for again when it was not
    /// served): all its objects now, as source name and JSON text; they replace whatever
    /// was known of the kind.
    Listed {
        /// The kind, as [`kind_key`] names it.
        kind: String,
        /// Its objects.
        objects: Vec<(String, String)>,
        /// Listed again because the watch's version expired (410 Gone).
        relist: bool,
        /// `false` when no place serves it (no objects, then).
        served: bool,
    },
    /// An object added or changed.
    Applied {
        /// Its kind.
        kind: String,
        /// Its source name.
        source: String,
        /// Its JSON text.
        text: String,
    },
    /// An object deleted.
    Deleted {
        /// Its kind.
        kind: String,
        /// Its source name.
        source: String,
    },
    /// A kind could not be read: why, and how long until the next try.
    Away {
        /// The kind.
        kind: String,
        /// What failed.
        reason: String,
        /// The backoff before the next try.
        retry_in: Duration,
    },
    /// A kind that was away answers again.
    Back {
        /// The kind.
        kind: String,
    },
}

/// A running watch of some kinds.
pub struct Watch {
    /// The events, in the order each kind's happened (kinds interleave).
    pub events: mpsc::Receiver<Event>,
    /// The context's name.
    pub context: String,
    /// The server's URL.
    pub server: String,
    /// The kinds watched, as [`kind_key`] names them: each is [`Event::Listed`] before
    /// the picture of the cluster is whole.
    pub kinds: Vec<String>,
}

/// How a kind is named in events: `Kind` for the core group, else `Kind.group` with the
/// first group of the loader's table (`NetworkPolicy.projectcalico.org`, whichever of
/// Calico's groups serves it).
pub fn kind_key(info: &KindInfo) -> String {
    kind_name(info.kind, info.groups.first().copied().unwrap_or_default())
}

/// Starts watching `kinds` (rows of the loader's table). Fails at once when the
/// configuration cannot be used; everything after is an [`Event`].
pub fn watch(
    target: &Target,
    settings: &Settings,
    backoff: Backoff,
    kinds: &[&'static KindInfo],
) -> Result<Watch, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the client: {e}")))?;
    let (client, context) = runtime.block_on(async {
        let (config, context) = crate::config(target).await?;
        Ok::<_, Error>((Client::new(config, settings)?, context))
    })?;
    let (tx, events) = mpsc::channel();
    let server = client.server.clone();
    let keys = kinds.iter().map(|k| kind_key(k)).collect();
    let kinds = kinds.to_vec();
    let ctx = context.clone();
    std::thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for info in kinds {
                    tasks.spawn(watch_kind(client.clone(), ctx.clone(), info, backoff, tx.clone()));
                }
                while tasks.join_next().await.is_some() {}
            })
        })
        .map_err(|e| Error::Config(format!("cannot start the watch thread: {e}")))?;
    Ok(Watch { events, context, server, kinds: keys })
}

/// How one watch request ended.
enum Ended {
    /// The server closed the stream (its timeout): watch again from the version.
    Closed,
    /// 410: the version is gone; list again.
    Gone,
    /// The connection failed or the server refused: back off.
    Failed(String),
    /// Nobody listens any more.
    Receiver,
}

/// A pseudo-random number for jitter (no cryptographic use).
fn random() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    // splitmix64 over the time and a counter.
    let mut z = t ^ N.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lists and watches one kind until the receiver is gone.
async fn watch_kind(
    client: Client,
    context: String,
    info: &'static KindInfo,
    backoff: Backoff,
    tx: mpsc::Sender<Event>,
) {
    let kind = kind_key(info);
    let Served::At(apis) = served(info) else {
        let _ = tx.send(Event::Listed { kind, objects: vec![], relist: false, served: false });
        return;
    };
    let mut failures = 0u32;
    let mut away = false;
    let mut relist = false;
    loop {
        let (api, mut version) = match first_served(&client, &context, info, apis).await {
            Ok(Some((api, objects, version))) => {
                if std::mem::take(&mut away) && tx.send(Event::Back { kind: kind.clone() }).is_err() {
                    return;
                }
                failures = 0;
                if tx.send(Event::Listed { kind: kind.clone(), objects, relist, served: true }).is_err() {
                    return;
                }
                (api, version)
            }
            Ok(None) => {
                if tx.send(Event::Listed { kind: kind.clone(), objects: vec![], relist, served: false }).is_err() {
                    return;
                }
                relist = false;
                tokio::time::sleep(NOT_SERVED_RETRY).await;
                continue;
            }
            Err(reason) => {
                away = true;
                if !back_off(&tx, &kind, reason, &mut failures, backoff).await {
                    return;
                }
                continue;
            }
        };
        loop {
            match watch_once(&client, &context, info, api, &mut version, &tx, &kind, &mut away).await {
                Ended::Closed => failures = 0,
                Ended::Gone => {
                    relist = true;
                    break;
                }
                Ended::Receiver => return,
                Ended::Failed(reason) => {
                    away = true;
                    if !back_off(&tx, &kind, reason, &mut failures, backoff).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Counts a failure, says so, and waits its backoff; `false` when nobody listens.
async fn back_off(tx: &mpsc::Sender<Event>, kind: &str, reason: String, failures: &mut u32, backoff: Backoff) -> bool {
    *failures += 1;
    let retry_in = backoff.delay(*failures, random());
    if tx.send(Event::Away { kind: kind.to_string(), reason, retry_in }).is_err() {
        return false;
    }
    tokio::time::sleep(retry_in).await;
    true
}

/// The first place of `apis` that serves the kind: there, its objects and the list's
/// resource version. `None` when none serves it; `Err` with the reason when a list
/// fails or is forbidden.
async fn first_served(
    client: &Client,
    context: &str,
    info: &'static KindInfo,
    apis: &'static [Api],
) -> Result<Option<(&'static Api, Vec<(String, String)>, String)>, String> {
    for api in apis {
        match list::list_at(client, context, info, api).await {
            Ok(Some(Ok((objects, version)))) => return Ok(Some((api, objects, version))),
            Ok(Some(Err(message))) => return Err(format!("listing {} is forbidden: {message}", api.list_path())),
            Ok(None) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(None)
}

/// One line of a watch stream.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    object: &'a RawValue,
}

#[derive(Deserialize, Default)]
struct Versioned {
    #[serde(default)]
    metadata: VersionMeta,
    /// Set on a `Status` (an `ERROR` event).
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VersionMeta {
    #[serde(default)]
    resource_version: Option<String>,
}

/// One watch request from `version`, read to its end.
#[allow(clippy::too_many_arguments)]
async fn watch_once(
    client: &Client,
    context: &str,
    info: &'static KindInfo,
    api: &Api,
    version: &mut String,
    tx: &mpsc::Sender<Event>,
    kind: &str,
    away: &mut bool,
) -> Ended {
    let path = api.list_path();
    let server = &client.server;
    // The server ends the watch a little before the client would give up on a silent
    // connection, so that a quiet kind is no failure.
    let seconds = client.timeout.as_secs().saturating_sub(5).clamp(1, 290) as u32;
    let params = kube::api::WatchParams { timeout: Some(seconds), bookmarks: true, ..Default::default() };
    let request = match kube::core::Request::new(&path).watch(&params, version) {
        Ok(r) => r,
        Err(e) => return Ended::Failed(format!("watch request for {path}: {e}")),
    };
    let stream = match tokio::time::timeout(client.timeout, client.client.request_stream(request)).await {
        Err(_) => {
            return Ended::Failed(format!(
                "the API server at {server} did not answer the watch of {path} within {} s",
                client.timeout.as_secs()
            ))
        }
        Ok(Err(kube::Error::Api(status))) if status.code == 410 => return Ended::Gone,
        Ok(Err(kube::Error::Api(status))) => {
            return Ended::Failed(format!(
                "the API server at {server} refused the watch of {path}: HTTP {} {}",
                status.code, status.message
            ))
        }
        Ok(Err(e)) => return Ended::Failed(format!("cannot reach the API server at {server}: {}", chain(&e))),
        Ok(Ok(stream)) => stream,
    };
    if std::mem::take(away) && tx.send(Event::Back { kind: kind.to_string() }).is_err() {
        return Ended::Receiver;
    }
    let api_version = api.api_version();
    let mut reader = Box::pin(stream);
    let mut line = String::new();
    loop {
        line.clear();
        let read = tokio::time::timeout(client.timeout + Duration::from_secs(5), reader.read_line(&mut line)).await;
        match read {
            Err(_) => return Ended::Failed(format!("the watch of {path} at {server} went silent")),
            Ok(Err(e)) => return Ended::Failed(format!("the watch of {path} at {server} broke: {}", chain(&e))),
            Ok(Ok(0)) => return Ended::Closed,
            Ok(Ok(_)) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |m: String| Ended::Failed(format!("the watch of {path} at {server} sent {m}"));
        let Ok(event) = serde_json::from_str::<Line<'_>>(&line) else {
            return malformed(format!("a line that is not a watch event: {}", line.trim()));
        };
        let head: Versioned = serde_json::from_str(event.object.get()).unwrap_or_default();
        let sent = match event.kind {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let (source, text) = match document(context, info, api, &api_version, event.object) {
                    Ok(d) => d,
                    Err(m) => return malformed(m),
                };
                if event.kind == "DELETED" {
                    tx.send(Event::Deleted { kind: kind.to_string(), source })
                } else {
                    tx.send(Event::Applied { kind: kind.to_string(), source, text })
                }
            }
            "BOOKMARK" => Ok(()),
            "ERROR" => {
                return match head.code {
                    Some(410) => Ended::Gone,
                    code => Ended::Failed(format!(
                        "the watch of {path} at {server} ended with an error{}: {}",
                        code.map(|c| format!(" (code {c})")).unwrap_or_default(),
                        head.message.unwrap_or_default()
                    )),
                }
            }
            other => return malformed(format!("an event of unknown type {other:?}")),
        };
        if sent.is_err() {
            return Ended::Receiver;
        }
        if let Some(v) = head.metadata.resource_version.filter(|v| !v.is_empty()) {
            *version = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound_and_jitters_within_the_upper_half() {
        let b = Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1) };
        assert_eq!(b.delay(1, 0), Duration::from_millis(50));
        assert_eq!(b.delay(1, u64::MAX), Duration::from_millis(50) + Duration::from_nanos(u64::MAX % 50_000_001));
        assert_eq!(b.delay(2, 0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 0), Duration::from_millis(200));
        for n in [5, 10, 40, u32::MAX] {
            let d = b.delay(n, random());
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1), "{n}: {d:?}");
        }
    }
}
