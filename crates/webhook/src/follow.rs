//! Following the Kubernetes API, as the plugin follows it through its namespace and pod
//! informers: Namespaces and Pods ([`WATCHED`]) listed, then watched, through
//! `podwall_cluster::watch`; the [`State`] the server answers from replaced after each
//! batch of events that arrive together.
//!
//! - Until both kinds were listed once, every namespace lookup fails, as a lister whose
//!   informer has not synced finds nothing, and `/healthz` answers 503 `starting: ...`.
//! - While the API server is away the last state answers; stderr and `/healthz` (200,
//!   `degraded: ...`: the webhook still answers, and a failing probe would only take
//!   the last state away) say so. The watches back off and resume by themselves.
//! - A namespace deleted in the cluster is unknown from then on (`--unknown-namespaces`).
//! - A namespace not delivered yet is asked of the API server ([`crate::lookup`]); each
//!   batch drops what those `GET`s found of the namespaces it holds events about (all
//!   of them after a new list), before it is published.
//! - The watch's health goes to `/metrics` ([`crate::metrics::Watching`]).
//!
//! What an event costs: a Namespace event reads that namespace's labels; a Pod event
//! reads that pod and marks its namespace, whose dry-run store ([`ExistingPods`]) is
//! rebuilt once per batch, from that namespace's pods alone. Publishing a batch clones
//! the namespace table (each namespace's policy, and a pointer to its pod store), so a
//! batch costs the size of the namespaces it touched plus the number of namespaces,
//! never the number of pods of the whole cluster.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podwall_cluster::watch::{Event, Watch};
use podwall_load::KindInfo;
use podwall_pod_security::admission::ExistingPods;
use podwall_pod_security::config::Config;
use serde::Deserialize;

use crate::metrics::Watching;
use crate::namespaces::{field_error, Namespaces, Unknown};
use crate::server::{Health, State};
use crate::Admission;

/// The kinds the webhook lists and watches, as (API group, kind) rows of the loader's
/// table: the plugin's informers. The ClusterRole in `deploy/webhook` grants `list` and
/// `watch` on exactly these (a test derives it from this list).
pub const WATCHED: &[(&str, &str)] = &[("", "Namespace"), ("", "Pod")];

/// The rows of the loader's table for [`WATCHED`].
pub fn watched_kinds() -> Vec<&'static KindInfo> {
    WATCHED
        .iter()
        .map(|(group, kind)| podwall_load::kind_info(group, kind).expect("every watched kind is in the loader's table"))
        .collect()
}

/// What every lookup fails with before the first lists.
pub const UNSYNCED: &str = "the namespaces and pods have not been listed from the API server yet";

/// One line on stderr, with the time.
pub fn log(msg: &str) {
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    eprintln!("{}.{:03} podwall webhook: {msg}", t.as_secs(), t.subsec_millis());
}

/// What the dry run reads of a pod: its name, the annotations and owner references of
/// its metadata, and its spec.
type Pod = Arc<(ObjectMeta, PodSpec)>;

#[derive(Deserialize)]
struct PodDoc {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<PodSpec>,
}

#[derive(Deserialize)]
struct NamespaceDoc {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// What the webhook knows of the cluster, from the events.
pub struct Cluster {
    config: Config,
    /// What is published: policies by namespace, pod stores by namespace.
    namespaces: Namespaces,
    /// Namespace names by source.
    namespace_sources: HashMap<String, String>,
    /// Pods by namespace, then name.
    pods: HashMap<String, BTreeMap<String, Pod>>,
    /// (namespace, name) of each pod by source.
    pod_sources: HashMap<String, (String, String)>,
    /// Namespaces whose pod store must be rebuilt.
    dirty: BTreeSet<String>,
    /// Kinds listed at least once.
    listed: BTreeSet<String>,
    /// Kinds that cannot be read now, and why.
    away: BTreeMap<String, String>,
    /// Namespaces events were about since the last [`Cluster::namespace_changes`].
    touched: Vec<String>,
    /// Whether the namespaces were listed since then.
    relisted: bool,
    /// Lists made again after 410 Gone.
    relists: u64,
    /// Failed list or watch requests.
    failures: u64,
}

impl Cluster {
    /// Nothing known yet: every lookup fails until [`Cluster::whole`].
    pub fn new(config: Config, unknown: Unknown) -> Self {
        Cluster {
            config,
            namespaces: Namespaces::unsynced(UNSYNCED.into()).with_unknown(unknown),
            namespace_sources: HashMap::new(),
            pods: HashMap::new(),
            pod_sources: HashMap::new(),
            dirty: BTreeSet::new(),
            listed: BTreeSet::new(),
            away: BTreeMap::new(),
            touched: Vec::new(),
            relisted: false,
            relists: 0,
            failures: 0,
        }
    }

    /// Takes in one event; says whether what requests are answered from changed.
    pub fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::Listed { kind, objects, relist, .. } => {
                if relist {
                    self.relists += 1;
                    log(&format!(
                        "{kind}: listed again ({} object(s)): the watch's resource version expired (410 Gone)",
                        objects.len()
                    ));
                }
                self.listed.insert(kind.clone());
                match kind.as_str() {
                    "Namespace" => {
                        self.relisted = true;
                        self.namespaces.clear();
                        self.namespace_sources.clear();
                        for (source, text) in objects {
                            self.namespace_applied(source, &text);
                        }
                    }
                    "Pod" => {
                        self.dirty.extend(self.pods.drain().map(|(ns, _)| ns));
                        self.pod_sources.clear();
                        for (source, text) in objects {
                            self.pod_applied(source, &text);
                        }
                    }
                    _ => {}
                }
                true
            }
            Event::Applied { kind, source, text } => {
                match kind.as_str() {
                    "Namespace" => self.namespace_applied(source, &text),
                    "Pod" => self.pod_applied(source, &text),
                    _ => {}
                }
                true
            }
            Event::Deleted { kind, source } => match kind.as_str() {
                "Namespace" => match self.namespace_sources.remove(&source) {
                    Some(name) => {
                        let known = self.namespaces.remove(&name);
                        self.touched.push(name);
                        known
                    }
                    // Not known from the watch, but perhaps from a `GET`.
                    None => {
                        self.touched.extend(source.rsplit('/').next().map(str::to_string));
                        false
                    }
                },
                "Pod" => self.pod_deleted(&source),
                _ => false,
            },
            Event::Away { kind, reason, retry_in } => {
                self.failures += 1;
                log(&format!("{kind}: {reason}; trying again in {} ms; {}", retry_in.as_millis(), self.answering()));
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

    fn answering(&self) -> &'static str {
        match self.listed.len() >= WATCHED.len() {
            true => "requests are answered from the state last listed and watched",
            false => "nothing listed yet: pods are refused as the plugin refuses them before its informer syncs",
        }
    }

    fn namespace_applied(&mut self, source: String, text: &str) {
        let meta = match serde_json::from_str::<NamespaceDoc>(text) {
            Ok(d) => d.metadata,
            Err(e) => {
                log(&format!("warning: {source}: not a Namespace the webhook can read ({e}); left out"));
                return;
            }
        };
        let name = meta.name.unwrap_or_default();
        if let Some(before) = self.namespace_sources.insert(source, name.clone()).filter(|b| *b != name) {
            self.namespaces.remove(&before);
            self.touched.push(before);
        }
        self.touched.push(name.clone());
        let ns = self.namespaces.set(&name, &meta.labels.unwrap_or_default(), self.config.defaults);
        for e in &ns.errors {
            log(&format!("warning: namespace {name:?}: {}", field_error(e)));
        }
    }

    fn pod_applied(&mut self, source: String, text: &str) {
        let doc = match serde_json::from_str::<PodDoc>(text) {
            Ok(d) => d,
            Err(e) => {
                log(&format!("warning: {source}: not a Pod the webhook can read ({e}); left out of dry runs"));
                self.pod_deleted(&source);
                return;
            }
        };
        let namespace = doc.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let name = doc.metadata.name.clone().unwrap_or_default();
        let kept = ObjectMeta {
            annotations: doc.metadata.annotations,
            owner_references: doc.metadata.owner_references,
            ..ObjectMeta::default()
        };
        if let Some((ns, n)) = self.pod_sources.insert(source, (namespace.clone(), name.clone())) {
            if (ns.as_str(), n.as_str()) != (namespace.as_str(), name.as_str()) {
                self.forget_pod(&ns, &n);
            }
        }
        self.pods.entry(namespace.clone()).or_default().insert(name, Arc::new((kept, doc.spec.unwrap_or_default())));
        self.dirty.insert(namespace);
    }

    fn pod_deleted(&mut self, source: &str) -> bool {
        match self.pod_sources.remove(source) {
            Some((ns, name)) => {
                self.forget_pod(&ns, &name);
                true
            }
            None => false,
        }
    }

    fn forget_pod(&mut self, namespace: &str, name: &str) {
        if let Some(pods) = self.pods.get_mut(namespace) {
            pods.remove(name);
            if pods.is_empty() {
                self.pods.remove(namespace);
            }
        }
        self.dirty.insert(namespace.to_string());
    }

    /// Whether every watched kind was listed.
    pub fn whole(&self) -> bool {
        WATCHED.iter().all(|(_, kind)| self.listed.contains(*kind))
    }

    /// The namespaces as requests should see them now: the pod stores of the namespaces
    /// changed since the last call rebuilt, the others shared.
    pub fn namespaces(&mut self) -> Namespaces {
        for ns in std::mem::take(&mut self.dirty) {
            let store = self.pods.get(&ns).map(|pods| {
                Arc::new(ExistingPods::new(pods.iter().map(|(name, p)| (name.clone(), p.0.clone(), p.1.clone()))))
            });
            self.namespaces.set_pods(&ns, store);
        }
        self.namespaces.set_unsynced((!self.whole()).then(|| UNSYNCED.to_string()));
        self.namespaces.clone()
    }

    /// What `/healthz` says.
    pub fn health(&self) -> Health {
        let away = (!self.away.is_empty()).then(|| {
            let why: Vec<String> = self.away.iter().map(|(k, r)| format!("{k}: {r}")).collect();
            format!("the API server is away ({})", why.join("; "))
        });
        if !self.whole() {
            let missing: Vec<&str> = WATCHED.iter().map(|(_, k)| *k).filter(|k| !self.listed.contains(*k)).collect();
            let away = away.map(|a| format!("; {a}")).unwrap_or_default();
            return Health {
                ready: false,
                text: format!("starting: waiting for the first list of {}{away}", missing.join(", ")),
            };
        }
        match away {
            Some(a) => Health {
                ready: true,
                text: format!("degraded: {a}; requests are answered from the state last listed and watched"),
            },
            None => Health::ok(),
        }
    }

    /// Whether the namespaces were listed, and which namespaces events were about,
    /// since the last call.
    pub fn namespace_changes(&mut self) -> (bool, Vec<String>) {
        (std::mem::take(&mut self.relisted), std::mem::take(&mut self.touched))
    }

    /// How the watch goes, for `/metrics`.
    pub fn watching(&self) -> Watching {
        Watching { up: self.away.is_empty(), relists: self.relists, failures: self.failures }
    }

    /// How many namespaces and pods are known.
    pub fn counts(&self) -> (usize, usize) {
        (self.namespaces.len(), self.pod_sources.len())
    }
}

/// Drops what the fallback's `GET`s found of the namespaces the watch delivered events
/// about: from now on the watch's state (or, for a deleted namespace, its absence)
/// answers.
fn forget_fetched(state: &State, cluster: &mut Cluster) {
    let (relisted, touched) = cluster.namespace_changes();
    let Some(lookup) = state.lookup() else { return };
    if relisted {
        lookup.forget_all();
    }
    for name in &touched {
        lookup.forget(name);
    }
}

/// The state to serve before anything was listed: every lookup failing, not ready.
pub fn starting(config: Config, unknown: Unknown) -> Arc<State> {
    let cluster = Cluster::new(config.clone(), unknown);
    let state = State::new(Admission::new(config, cluster.namespaces.clone()));
    state.set_health(cluster.health());
    state.metrics().set_watching(cluster.watching());
    state
}

/// Follows the API for ever (or until `stop` returns true, checked at least every
/// 100 ms), answering requests from `state` with `config` and what the watch delivers.
/// Returns an error only when the watch itself ends.
pub fn follow(
    state: &State,
    config: Config,
    unknown: Unknown,
    watch: Watch,
    mut stop: impl FnMut() -> bool,
) -> Result<(), String> {
    let mut cluster = Cluster::new(config.clone(), unknown);
    let publish = |cluster: &mut Cluster| {
        let admission = Admission::new(config.clone(), cluster.namespaces());
        state.replace(Arc::new(admission));
        state.set_health(cluster.health());
    };
    publish(&mut cluster);
    let mut whole = false;
    while !stop() {
        let first = match watch.events.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("the watch of the API server ended".into()),
        };
        let mut changed = false;
        for event in std::iter::once(first).chain(watch.events.try_iter()) {
            changed |= cluster.apply(event);
        }
        if !whole && cluster.whole() {
            whole = true;
            let (namespaces, pods) = cluster.counts();
            log(&format!(
                "Namespace and Pod listed: {namespaces} namespace(s), {pods} pod(s) from {} ({}); answering",
                watch.server, watch.context
            ));
        }
        forget_fetched(state, &mut cluster);
        match changed {
            true => publish(&mut cluster),
            false => state.set_health(cluster.health()),
        }
        state.metrics().set_watching(cluster.watching());
    }
    Ok(())
}
