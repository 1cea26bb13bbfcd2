//! Rewrapping: every value stored under the configured resources' prefixes read with the
//! configuration's providers and, when the current write provider and key did not write
//! it, written again with them — each key on its own, by a compare-and-swap on the mod
//! revision it was read at. A key changed in between is read again and judged again,
//! never overwritten: a concurrent writer's value always stays (it is usually already
//! current, the API server having written it with the same configuration).
//!
//! Keys are visited in key order, page by page; a page's keys are shared among
//! `workers` connections. Running it again is harmless (current values are skipped),
//! and [`Stopped::resume`] says where to start after a lost connection.
use podwall_encryption::{Config, Transformer};

use crate::http;
use crate::kv::{self, Etcd, Kv, Swap};
use crate::paths;

/// One resource to rewrap and where it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The resource, as the configuration names it.
    pub resource: String,
    /// Its etcd key prefix, ending in `/`.
    pub prefix: String,
}

/// The targets of `resources`, or, when empty, of every resource the configuration
/// names; in key order of their prefixes, each prefix once.
pub fn targets(config: &Config, resources: &[String], etcd_prefix: &str) -> Result<Vec<Target>, String> {
    let named: Vec<String> = if resources.is_empty() {
        config.entries.iter().flat_map(|e| e.resources.iter().cloned()).collect()
    } else {
        resources.to_vec()
    };
    let mut out: Vec<Target> = Vec::new();
    for resource in named {
        let prefix = paths::resource_prefix(etcd_prefix, &resource)?;
        if !out.iter().any(|t| t.prefix == prefix) {
            out.push(Target { resource, prefix });
        }
    }
    if out.is_empty() {
        return Err("the configuration names no resource".into());
    }
    // A prefix inside another (`services/` holds `services/specs/`) would visit keys
    // twice and judge them with two transformers.
    for a in &out {
        if let Some(b) = out.iter().find(|b| b.prefix != a.prefix && b.prefix.starts_with(&a.prefix)) {
            return Err(format!("{} ({}) lies inside {} ({})", b.resource, b.prefix, a.resource, a.prefix));
        }
    }
    out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    Ok(out)
}

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Read and judge, write nothing.
    pub dry_run: bool,
    /// Start at this key (inclusive); keys before it are not visited.
    pub from_key: Option<Vec<u8>>,
    /// Keys read per range request.
    pub page: usize,
    /// Connections writing in parallel.
    pub workers: usize,
    /// Times a key changed under the rewrap is read again before it counts as failed.
    pub retries: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { dry_run: false, from_key: None, page: 500, workers: 8, retries: 10 }
    }
}

/// What happened to one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written again under the current key (with `dry_run`: would be).
    Rewritten,
    /// Already under the current write provider and key.
    Current,
    /// Deleted while the rewrap ran.
    Gone,
    /// Not readable with the configuration, not writable, or changing too often; why.
    Failed(String),
}

/// The counts of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Keys visited.
    pub visited: u64,
    /// Rewritten (or, in a dry run, that would be).
    pub rewritten: u64,
    /// Already current.
    pub skipped: u64,
    /// Deleted during the run.
    pub gone: u64,
    /// Not rewrapped.
    pub failed: u64,
    /// Compare-and-swaps lost to a concurrent write (each read again).
    pub conflicts: u64,
}

/// What the caller is told as the run goes.
pub enum Event<'a> {
    /// The number of keys under a target, before it is visited.
    Counted(&'a Target, u64),
    /// One key done.
    Key(&'a [u8], &'a Outcome),
}

/// A run cut short by etcd: what was done, the key to resume at, and why.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Stopped {
    /// The counts until then.
    pub counts: Counts,
    /// The first key not known to be done: `--from-key` for the next run.
    pub resume: Vec<u8>,
    /// What failed.
    pub error: kv::Error,
}

/// Opens one connection; called once per worker.
pub type Connect<'a> = dyn Fn() -> Result<Etcd, http::Error> + Sync + 'a;

/// Rewraps every key of `targets`.
pub fn run(
    connect: &Connect<'_>,
    config: &Config,
    targets: &[Target],
    options: &Options,
    mut on: impl FnMut(Event<'_>),
) -> Result<Counts, Box<Stopped>> {
    let stopped = |counts: &Counts, resume: &[u8], error: kv::Error| {
        Box::new(Stopped { counts: counts.clone(), resume: resume.to_vec(), error })
    };
    let mut counts = Counts::default();
    let workers = options.workers.max(1);
    let mut conns: Vec<Etcd> = Vec::new();
    for _ in 0..workers {
        let start = options.from_key.clone().unwrap_or_default();
        conns.push(connect().map_err(|e| stopped(&counts, &start, e.into()))?);
    }
    for target in targets {
        let end = kv::prefix_end(target.prefix.as_bytes());
        let mut from = target.prefix.as_bytes().to_vec();
        if let Some(k) = &options.from_key {
            if k.as_slice() >= end.as_slice() {
                continue;
            }
            from = from.max(k.clone());
        }
        let transformer = Transformer::for_resource(config, &target.resource);
        let total = conns[0].count(&from, &end).map_err(|e| stopped(&counts, &from, e))?;
        on(Event::Counted(target, total));
        loop {
            let page = conns[0].range(&from, &end, options.page.max(1)).map_err(|e| stopped(&counts, &from, e))?;
            let Some(last) = page.kvs.last() else { break };
            let mut next = last.key.clone();
            next.push(0);
            let outcomes = rewrap_page(&mut conns, &transformer, page.kvs, options, &mut counts)
                .map_err(|e| stopped(&counts, &from, e))?;
            for (key, outcome) in &outcomes {
                counts.visited += 1;
                match outcome {
                    Outcome::Rewritten => counts.rewritten += 1,
                    Outcome::Current => counts.skipped += 1,
                    Outcome::Gone => counts.gone += 1,
                    Outcome::Failed(_) => counts.failed += 1,
                }
                on(Event::Key(key, outcome));
            }
            if !page.more {
                break;
            }
            from = next;
        }
    }
    Ok(counts)
}

/// A worker's keys with their outcomes, and the swaps it lost.
type Judged = (Vec<(Vec<u8>, Outcome)>, u64);

/// The page's keys shared among the connections, in key order, each with its outcome.
fn rewrap_page(
    conns: &mut [Etcd],
    transformer: &Transformer<'_>,
    kvs: Vec<Kv>,
    options: &Options,
    counts: &mut Counts,
) -> Result<Vec<(Vec<u8>, Outcome)>, kv::Error> {
    let share = kvs.len().div_ceil(conns.len()).max(1);
    let mut chunks: Vec<Vec<Kv>> = Vec::new();
    let mut rest = kvs;
    while !rest.is_empty() {
        let tail = rest.split_off(share.min(rest.len()));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    let results: Vec<Result<Judged, kv::Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .zip(chunks)
            .map(|(conn, chunk)| {
                s.spawn(move || {
                    let mut conflicts = 0;
                    let mut out = Vec::with_capacity(chunk.len());
                    for kv in chunk {
                        let key = kv.key.clone();
                        out.push((key, rewrap_key(conn, transformer, kv, options, &mut conflicts)?));
                    }
                    Ok((out, conflicts))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a rewrap worker panicked")).collect()
    });
    let mut out = Vec::new();
    for r in results {
        let (done, conflicts) = r?;
        counts.conflicts += conflicts;
        out.extend(done);
    }
    Ok(out)
}

/// One key as read (`kv`): judged, and swapped when stale; on a lost swap, the value
/// now stored is judged again. Lost swaps are added to `counts.conflicts`.
pub fn rewrap_one(
    etcd: &mut Etcd,
    transformer: &Transformer<'_>,
    kv: Kv,
    options: &Options,
    counts: &mut Counts,
) -> Result<Outcome, kv::Error> {
    rewrap_key(etcd, transformer, kv, options, &mut counts.conflicts)
}

fn rewrap_key(
    etcd: &mut Etcd,
    transformer: &Transformer<'_>,
    mut kv: Kv,
    options: &Options,
    conflicts: &mut u64,
) -> Result<Outcome, kv::Error> {
    for _ in 0..=options.retries {
        let plain = match transformer.read(&kv.value, &kv.key) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        if !plain.stale {
            return Ok(Outcome::Current);
        }
        let stored = match transformer.write(&plain.data, &kv.key) {
            Ok(s) => zeroize::Zeroizing::new(s),
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        if options.dry_run {
            return Ok(Outcome::Rewritten);
        }
        match etcd.swap(&kv.key, kv.mod_revision, &stored)? {
            Swap::Done => return Ok(Outcome::Rewritten),
            Swap::Changed(None) => return Ok(Outcome::Gone),
            Swap::Changed(Some(now)) => {
                *conflicts += 1;
                kv = now;
            }
        }
    }
    Ok(Outcome::Failed(format!("changed {} times while being rewrapped", options.retries + 1)))
}
