//! The namespace lookup's fallback, as the PodSecurity plugin's namespace getter does it:
//! a request in a namespace the watch has not delivered (created a moment before its
//! first pod, the watch's event still on its way) is not judged as unknown at once;
//! the namespace is read from the API server with one `GET`, bounded by a short timeout.
//!
//! - Found: judged by the labels the API server holds now.
//! - `404`: the namespace does not exist; it is unknown (`--unknown-namespaces`).
//! - Anything else (a timeout, a refusal, a server away): the lookup failed, and the
//!   request is answered as a failed lookup is answered (a Pod refused with 500
//!   `failed to lookup namespace`, a workload admitted with the error in its audit
//!   annotations), whatever `--unknown-namespaces` says.
//!
//! What a `GET` found, or did not find, is kept, so that the next requests in that
//! namespace do not ask again; requests asking at the same moment share one `GET`. The
//! watch stays the authority: what it delivers is looked at first, and every event it
//! delivers about a namespace (and every new list of namespaces) drops what is kept of
//! it, a `GET` still under way included (its answer serves its own requests, and is not
//! kept), so a namespace the watch deleted is never brought back by an older `GET`.
//! A failed `GET` is not kept: the next request asks again.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podwall_cluster::get::Getter;
use serde::Deserialize;
use tokio::sync::OnceCell;

/// The kinds read with a `GET` when the watch has not delivered them, as (API group,
/// kind) rows of the loader's table. The ClusterRole in `deploy/webhook` grants `get` on
/// exactly these (a test derives it from this list and [`crate::follow::WATCHED`]).
pub const FETCHED: &[(&str, &str)] = &[("", "Namespace")];

/// How long the `GET` of a namespace may take, connecting included: well within the
/// 10 s the shipped `ValidatingWebhookConfiguration` gives the whole review.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// How many namespaces are kept at most; beyond, all are dropped (the watch delivers
/// the real ones soon, and a client cannot grow the memory without bound).
const KEPT: usize = 4096;

/// What the lookup of one namespace found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Looked {
    /// The namespace, with its labels.
    Found(BTreeMap<String, String>),
    /// The API server says it does not exist.
    NotFound,
    /// The API server could not be asked, or refused: why.
    Failed(String),
}

/// How the fallback went, since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `GET`s that found the namespace.
    pub found: u64,
    /// `GET`s answered 404.
    pub not_found: u64,
    /// `GET`s that failed.
    pub failed: u64,
    /// Lookups answered from what an earlier `GET` found, without one of their own.
    pub kept: u64,
}

type Cell = Arc<OnceCell<Looked>>;

/// The fallback: a getter, and what it found.
pub struct Lookup {
    getter: Getter,
    timeout: Duration,
    kept: Mutex<HashMap<String, Cell>>,
    found: AtomicU64,
    not_found: AtomicU64,
    failed: AtomicU64,
    answered_from_kept: AtomicU64,
}

#[derive(Deserialize)]
struct NamespaceDoc {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// Whether `name` can name a namespace (a DNS-1123 label); no `GET` is sent for one
/// that cannot.
fn namespace_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

impl Lookup {
    /// A fallback reading from `target`, each `GET` bounded by `timeout`.
    pub fn new(target: podwall_cluster::Target, timeout: Duration) -> Self {
        let settings = podwall_cluster::Settings { timeout, ..Default::default() };
        Lookup {
            getter: Getter::new(target, settings),
            timeout,
            kept: Mutex::new(HashMap::new()),
            found: AtomicU64::new(0),
            not_found: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            answered_from_kept: AtomicU64::new(0),
        }
    }

    fn cells(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cell>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The namespace `name`: what an earlier `GET` found, else what one `GET` finds now.
    pub async fn namespace(&self, name: &str) -> Looked {
        if !namespace_name(name) {
            return Looked::NotFound;
        }
        let cell = {
            let mut cells = self.cells();
            if cells.len() >= KEPT && !cells.contains_key(name) {
                cells.clear();
            }
            cells.entry(name.to_string()).or_default().clone()
        };
        let mut asked = false;
        let looked = cell
            .get_or_init(|| {
                asked = true;
                self.get(name)
            })
            .await
            .clone();
        if !asked {
            self.answered_from_kept.fetch_add(1, Ordering::Relaxed);
        }
        if matches!(looked, Looked::Failed(_)) {
            let mut cells = self.cells();
            if cells.get(name).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                cells.remove(name);
            }
        }
        looked
    }

    async fn get(&self, name: &str) -> Looked {
        let info = podwall_load::kind_info("", "Namespace").expect("Namespace is in the loader's table");
        let looked = match tokio::time::timeout(self.timeout, self.getter.get(info, None, name)).await {
            Err(_) | Ok(Err(podwall_cluster::Error::Timeout { .. })) => Looked::Failed(format!(
                "the API server did not answer GET /api/v1/namespaces/{name} within {} ms",
                self.timeout.as_millis()
            )),
            Ok(Err(e)) => Looked::Failed(format!("GET /api/v1/namespaces/{name}: {e}")),
            Ok(Ok(None)) => Looked::NotFound,
            Ok(Ok(Some((_, text)))) => match serde_json::from_str::<NamespaceDoc>(&text) {
                Ok(doc) => Looked::Found(doc.metadata.labels.unwrap_or_default()),
                Err(e) => Looked::Failed(format!("GET /api/v1/namespaces/{name}: not a Namespace: {e}")),
            },
        };
        let (counter, said) = match &looked {
            Looked::Found(_) => (&self.found, "found; judged by its labels until the watch delivers it".to_string()),
            Looked::NotFound => (&self.not_found, "not found (404): it does not exist".to_string()),
            Looked::Failed(e) => (&self.failed, format!("failed ({e}): answered as a failed lookup")),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        crate::follow::log(&format!("namespace {name:?} is not among those watched; read from the API server: {said}"));
        looked
    }

    /// Drops what is kept of `name`: the watch delivered something about it.
    pub fn forget(&self, name: &str) {
        self.cells().remove(name);
    }

    /// Drops everything kept: the watch listed the namespaces again.
    pub fn forget_all(&self) {
        self.cells().clear();
    }

    /// How the fallback went.
    pub fn counts(&self) -> Counts {
        Counts {
            found: self.found.load(Ordering::Relaxed),
            not_found: self.not_found.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            kept: self.answered_from_kept.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dns_labels_are_asked_for() {
        for ok in ["shop", "a", "team-1", &"a".repeat(63)] {
            assert!(namespace_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Shop", "a/b", "a.b", "..", &"a".repeat(64), "a?watch=1"] {
            assert!(!namespace_name(bad), "{bad}");
        }
    }
}
