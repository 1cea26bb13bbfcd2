//! Compiling again after a change, in proportion to what changed.
//!
//! [`Incremental`] keeps what its last compile built (see `compile::State`): the
//! engine's [`podwall_engine::Live`] index, which says which policies apply to each
//! endpoint and takes policy changes in place; each policy's compiled rules; every
//! situation's chains and the sets they read. Given the next state of the cluster, it
//! finds the policies that were added, changed or removed (a changed policy gets a new
//! content id), applies them to the live index, and builds only the situations whose
//! applicable policies changed; the others keep their chains, whose origins are moved to
//! the policies' new positions. Anything else that changed — endpoints, namespaces,
//! network sets, service accounts, nodes, tiers, the attached endpoints — compiles
//! everything again, as [`crate::compile`] does. Either way the ruleset is equal to what
//! [`crate::compile`] gives for the same input.
use std::collections::HashMap;

use podwall_ir::{Cluster, Policy, PolicyKind};

use crate::compile::{check_attachments, check_table, State};
use crate::{Attachment, CompileError, Options, Ruleset};

/// A compiler that keeps its last compile, so that the next one builds only what a
/// policy change touches.
pub struct Incremental {
    options: Options,
    state: Option<State>,
    last: Option<Recompiled>,
}

/// How an [`Incremental::update`] went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recompiled {
    /// Everything compiled from scratch, and why.
    Whole(String),
    /// Only what the changed policies touch.
    Changes {
        /// Policies added, changed or removed.
        policies: usize,
        /// Situations (groups of chains) compiled again; the others were kept.
        situations: usize,
    },
}

impl std::fmt::Display for Recompiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recompiled::Whole(why) => write!(f, "compiled whole ({why})"),
            Recompiled::Changes { policies, situations } => {
                write!(f, "compiled {situations} situation(s) for {policies} changed policy(ies)")
            }
        }
    }
}

impl Incremental {
    /// A compiler that has compiled nothing yet.
    pub fn new(options: Options) -> Self {
        Incremental { options, state: None, last: None }
    }

    /// Compiles `cluster` for `attachments`, building only what changed since the last
    /// update; the ruleset equals `compile(cluster, attachments, options)`. Returns it with
    /// how it was built. On an error the last ruleset is kept.
    pub fn update(
        &mut self,
        cluster: &Cluster,
        attachments: &[Attachment],
    ) -> Result<(&Ruleset, &Recompiled), CompileError> {
        check_table(&self.options.table)?;
        let attachments = check_attachments(cluster, attachments)?;
        let table = self.options.table.clone();
        let (state, how) = match self.state.take() {
            None => (State::whole(cluster, attachments, &table), Recompiled::Whole("the first compile".into())),
            Some(s) if s.caches.collided => (
                State::whole(cluster, attachments, &table),
                Recompiled::Whole("two definitions had one name: names depend on the order of compiling".into()),
            ),
            Some(mut s) => match advance(&mut s, cluster, attachments.clone()) {
                Ok(_) if s.caches.collided => (
                    State::whole(cluster, attachments, &table),
                    Recompiled::Whole("two definitions had one name: names depend on the order of compiling".into()),
                ),
                Ok(policies) => {
                    let situations = s.built;
                    (s, Recompiled::Changes { policies, situations })
                }
                Err(why) => (State::whole(cluster, attachments, &table), Recompiled::Whole(why)),
            },
        };
        let state = self.state.insert(state);
        Ok((&state.ruleset, self.last.insert(how)))
    }

    /// The last ruleset compiled.
    pub fn ruleset(&self) -> Option<&Ruleset> {
        self.state.as_ref().map(|s| &s.ruleset)
    }

    /// How the last update went.
    pub fn last(&self) -> Option<&Recompiled> {
        self.last.as_ref()
    }
}

/// The identity of a policy: kind, namespace and name.
fn same_policy(a: &Policy, b: &Policy) -> bool {
    a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

/// Whether two policies compile alike: everything the compiler reads (not where they
/// were read from).
fn same_content(a: &Policy, b: &Policy) -> bool {
    same_policy(a, b)
        && a.order.map(f64::to_bits) == b.order.map(f64::to_bits)
        && a.selector == b.selector
        && a.ingress == b.ingress
        && a.egress == b.egress
}

type Identity = (PolicyKind, Option<String>, String);

fn identity(p: &Policy) -> Identity {
    (p.kind, p.namespace.clone(), p.name.clone())
}

/// Brings `s` to `cluster` when only policies changed; returns how many. `Err(why)`
/// when something else changed (then `s` may be half updated, and is dropped).
fn advance(s: &mut State, cluster: &Cluster, attachments: Vec<Attachment>) -> Result<usize, String> {
    if s.attachments != attachments {
        return Err("the endpoints attached to this node changed".into());
    }
    let old = s.live.index().cluster();
    if old.endpoints != cluster.endpoints {
        return Err("endpoints changed".into());
    }
    if old.namespaces != cluster.namespaces
        || old.network_sets != cluster.network_sets
        || old.service_accounts != cluster.service_accounts
        || old.nodes != cluster.nodes
    {
        return Err("namespaces, network sets, service accounts or nodes changed".into());
    }
    let (ot, nt) = (old.policies.tiers(), cluster.policies.tiers());
    let same_tiers = ot.len() == nt.len()
        && ot.iter().zip(nt).all(|(a, b)| {
            a.name == b.name
                && a.order.map(f64::to_bits) == b.order.map(f64::to_bits)
                && a.default_action == b.default_action
        });
    if !same_tiers {
        return Err("tiers changed".into());
    }
    let mut removed: Vec<Identity> = Vec::new();
    let mut upserts: Vec<(String, Policy)> = Vec::new();
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(nt.len());
    for (ti, (o, n)) in ot.iter().zip(nt).enumerate() {
        let (o, n) = (&o.policies, &n.policies);
        let old_ids = &s.ids[ti];
        // Most of a tier is as it was: a common head and tail by identity, and a map
        // over what lies between.
        let mut head = 0;
        while head < o.len() && head < n.len() && same_policy(&o[head], &n[head]) {
            head += 1;
        }
        let mut tail = 0;
        while tail < o.len() - head
            && tail < n.len() - head
            && same_policy(&o[o.len() - 1 - tail], &n[n.len() - 1 - tail])
        {
            tail += 1;
        }
        let mut middle: HashMap<Identity, usize> = (head..o.len() - tail).map(|i| (identity(&o[i]), i)).collect();
        let mut list = Vec::with_capacity(n.len());
        for (j, p) in n.iter().enumerate() {
            let before = if j < head {
                Some(j)
            } else if j >= n.len() - tail {
                Some(o.len() - (n.len() - j))
            } else {
                middle.remove(&identity(p))
            };
            match before {
                Some(i) if same_content(&o[i], p) => list.push(old_ids[i]),
                _ => {
                    list.push(s.next_id);
                    s.next_id += 1;
                    upserts.push((nt[ti].name.clone(), p.clone()));
                }
            }
        }
        removed.extend(middle.into_keys());
        ids.push(list);
    }
    // A policy that moved to another tier is removed from one and added to the other:
    // take it out of the live index only when no tier has it any more.
    removed.retain(|(kind, ns, name)| {
        !upserts.iter().any(|(_, p)| p.kind == *kind && &p.namespace == ns && &p.name == name)
    });
    let changed = removed.len() + upserts.len();
    if changed == 0 {
        s.built = 0;
        return Ok(0);
    }
    for (kind, namespace, name) in &removed {
        s.live.remove_policy(*kind, namespace.as_deref(), name);
    }
    for (tier, policy) in upserts {
        s.live.upsert_policy(&tier, policy)?;
    }
    // The live index must hold the policies where the cluster has them (positions are
    // what origins and the applicable lists are read in).
    let live = s.live.index().cluster().policies.tiers();
    let in_place = live.len() == nt.len()
        && live.iter().zip(nt).all(|(a, b)| {
            a.policies.len() == b.policies.len() && a.policies.iter().zip(&b.policies).all(|(x, y)| same_policy(x, y))
        });
    if !in_place {
        return Err("policies of one order and name sort apart".into());
    }
    s.ids = ids;
    s.assemble(cluster);
    Ok(changed)
}
