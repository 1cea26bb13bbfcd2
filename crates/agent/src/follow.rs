//! Following the Kubernetes API: the kinds the agent watches ([`WATCHED`]), the picture
//! of the cluster kept from their events, and the loop that syncs the node on each change
//! ([`follow`]).
//!
//! Nothing is installed before every watched kind was listed once: a partial picture
//! (policies not read yet) would open what the cluster closes. While the API server is
//! away the last installed ruleset stays, and the log, `/healthz` and `/metrics` say so;
//! the watches back off and resume by themselves.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use podwall_cluster::watch::{Event, Watch};
use podwall_load::KindInfo;

use crate::{log, Agent};

/// The kinds the agent lists and watches, as (API group, kind) rows of the loader's table:
/// what decides which pods exist and where, and every policy dialect the data plane
/// enforces. Workloads are not read (a node enforces on pods), nor Staged policies (they
/// enforce nothing), nor Cilium's (podwall does not evaluate them), nor RBAC. The
/// ClusterRole in `deploy/agent` grants exactly these (a test derives it from this list).
pub const WATCHED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Pod"),
    ("", "Node"),
    ("", "ServiceAccount"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("projectcalico.org", "Tier"),
    ("projectcalico.org", "NetworkPolicy"),
    ("projectcalico.org", "GlobalNetworkPolicy"),
    ("projectcalico.org", "NetworkSet"),
    ("projectcalico.org", "GlobalNetworkSet"),
    ("policy.networking.k8s.io", "AdminNetworkPolicy"),
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
    ("policy.networking.k8s.io", "ClusterNetworkPolicy"),
];

/// The rows of the loader's table for [`WATCHED`].
pub fn watched_kinds() -> Vec<&'static KindInfo> {
    WATCHED
        .iter()
        .map(|(group, kind)| podwall_load::kind_info(group, kind).expect("every watched kind is in the loader's table"))
        .collect()
}

/// What the agent knows of the cluster, from the events.
#[derive(Default)]
pub struct Picture {
    /// Objects by kind, then by source name: their text.
    kinds: BTreeMap<String, BTreeMap<String, String>>,
    /// Kinds listed at least once.
    listed: BTreeSet<String>,
    /// Kinds that cannot be read now, and why.
    away: BTreeMap<String, String>,
}

impl Picture {
    /// Takes in one event; says whether the objects changed.
    pub fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::Listed { kind, objects, relist, served } => {
                if relist {
                    log(&format!(
                        "{kind}: listed again ({} object(s)): the watch's resource version expired (410 Gone)",
                        objects.len()
                    ));
                } else if !served && !self.listed.contains(&kind) {
                    log(&format!("{kind}: not served by this cluster (no CRD); looked for again every 5 minutes"));
                }
                self.listed.insert(kind.clone());
                let now: BTreeMap<String, String> = objects.into_iter().collect();
                let before = self.kinds.insert(kind, now.clone());
                before.as_ref() != Some(&now)
            }
            Event::Applied { kind, source, text } => {
                let objects = self.kinds.entry(kind).or_default();
                if objects.get(&source) == Some(&text) {
                    return false;
                }
                objects.insert(source, text);
                true
            }
            Event::Deleted { kind, source } => self.kinds.entry(kind).or_default().remove(&source).is_some(),
            Event::Away { kind, reason, retry_in } => {
                log(&format!(
                    "{kind}: {reason}; trying again in {} ms; the last installed ruleset stays enforced",
                    retry_in.as_millis()
                ));
                self.away.insert(kind, reason);
                false
            }
            Event::Back { kind } => {
                log(&format!("{kind}: the API server answers again"));
                self.away.remove(&kind);
                false
            }
        }
    }

    /// Whether every kind of `kinds` was listed.
    pub fn whole(&self, kinds: &[String]) -> bool {
        kinds.iter().all(|k| self.listed.contains(k))
    }

    /// Every object, kinds in order.
    pub fn objects(&self) -> Vec<(String, String)> {
        self.kinds.values().flat_map(|m| m.iter().map(|(s, t)| (s.clone(), t.clone()))).collect()
    }

    /// Objects held, by kind.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.kinds.iter().map(|(k, m)| (k.clone(), m.len() as u64)).collect()
    }
}

/// Follows the API for ever (or until `stop` returns true, checked at least every
/// 100 ms): each batch of events that arrive together becomes one sync, once every kind
/// was listed. A failed sync is logged and reported; the last good ruleset stays.
/// Returns an error only when the watch itself ends.
pub fn follow(agent: &mut Agent, watch: Watch, mut stop: impl FnMut() -> bool) -> Result<(), String> {
    let mut picture = Picture::default();
    // When the oldest change not yet installed arrived.
    let mut pending: Option<Instant> = None;
    let mut whole = false;
    while !stop() {
        let first = match watch.events.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("the watch of the API server ended".into()),
        };
        let arrived = Instant::now();
        let mut batch = vec![first];
        batch.extend(watch.events.try_iter());
        let (mut relists, mut failures) = (0, 0);
        for event in batch {
            relists += u64::from(matches!(event, Event::Listed { relist: true, .. }));
            failures += u64::from(matches!(event, Event::Away { .. }));
            if picture.apply(event) && pending.is_none() {
                pending = Some(arrived);
            }
        }
        if !whole && picture.whole(&watch.kinds) {
            whole = true;
            let n: u64 = picture.counts().values().sum();
            log(&format!("every watched kind listed: {n} object(s) from {} ({})", watch.server, watch.context));
        }
        {
            let mut st = agent.status.lock().unwrap_or_else(|p| p.into_inner());
            st.relists += relists;
            st.source_failures += failures;
            st.watched = picture.counts();
            st.away = picture.away.clone();
            if let Some((kind, reason)) = picture.away.iter().next() {
                st.last_error_text = Some(format!("{kind}: {reason}"));
                st.last_error = Some(std::time::SystemTime::now());
            }
            st.waiting = (!whole).then(|| {
                let missing: Vec<&str> =
                    watch.kinds.iter().filter(|k| !picture.listed.contains(*k)).map(String::as_str).collect();
                format!("waiting for the first list of {}", missing.join(", "))
            });
        }
        let Some(since) = pending.filter(|_| whole) else { continue };
        pending = None;
        match agent.sync_objects(&picture.objects(), since) {
            Ok(s) => {
                for w in &s.warnings {
                    log(&format!("warning: {w}"));
                }
                log(&format!(
                    "synced in {} ms ({}), {} local pod(s): {}",
                    s.took.as_millis(),
                    s.path,
                    s.local,
                    s.summary
                ));
            }
            Err(e) => log(&format!("error: {e}; keeping the last good ruleset")),
        }
    }
    Ok(())
}
