//! Compiling after a change: after any sequence of changes, the ruleset an
//! `Incremental` compiler keeps is equal to a whole `compile` of the same cluster, on
//! generated clusters of every dialect; policy changes compile only what they touch.
use podwall_ir::{Cluster, Policy, PolicySet, PortMatch, Ports, Protocol};
use podwall_nftables::{compile, default_attachments, Incremental, Options, Recompiled};

fn compile_values(values: Vec<serde_json::Value>) -> Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// A small deterministic generator of choices.
struct Pick(u64);

impl Pick {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// The cluster with its tiers' policies rewritten by `f`.
fn with_policies(c: &Cluster, f: impl FnOnce(&mut Vec<podwall_ir::Tier>)) -> Cluster {
    let mut tiers = c.policies.tiers().to_vec();
    f(&mut tiers);
    Cluster { policies: PolicySet::new(tiers), ..c.clone() }
}

/// (tier, position) of every policy.
fn places(c: &Cluster) -> Vec<(usize, usize)> {
    c.policies.tiers().iter().enumerate().flat_map(|(t, tier)| (0..tier.policies.len()).map(move |p| (t, p))).collect()
}

/// A policy edited: its rules get another port, lose their last rule, or its subject
/// changes.
fn edit(p: &mut Policy, how: usize) {
    let rules = [p.ingress.as_mut(), p.egress.as_mut()].into_iter().flatten().find(|r| !r.is_empty());
    match (how % 3, rules) {
        (0, Some(rules)) => {
            rules[0].destination.ports =
                vec![PortMatch { protocol: Some(Protocol::TCP), ports: Ports::Range(7777, 7777) }]
        }
        (1, Some(rules)) => {
            rules.pop();
        }
        _ => p.selector = podwall_ir::Expr::All,
    }
}

/// One change of the cluster, drawn by `pick`: a policy edited, removed, added (a copy
/// under a new name, sometimes ordered first in its tier), or a pod relabelled, added or
/// removed. Returns the new cluster and whether only policies changed.
fn change(c: &Cluster, pick: &mut Pick, step: usize) -> (Cluster, bool) {
    let at = places(c);
    let kind = pick.below(7);
    if at.is_empty() && kind < 3 {
        return (c.clone(), true);
    }
    match kind {
        0 => {
            let (t, p) = at[pick.below(at.len())];
            let how = pick.below(3);
            (with_policies(c, |tiers| edit(&mut tiers[t].policies[p], how)), true)
        }
        1 => {
            let (t, p) = at[pick.below(at.len())];
            (with_policies(c, |tiers| drop(tiers[t].policies.remove(p))), true)
        }
        2 => {
            let (t, p) = at[pick.below(at.len())];
            let first = pick.below(2) == 0;
            let added = with_policies(c, |tiers| {
                let mut copy = tiers[t].policies[p].clone();
                copy.name = format!("{}-copy{step}", copy.name);
                if first {
                    copy.name = format!("aaa-{}", copy.name);
                    copy.order = copy.order.map(|o| o - 1.0);
                }
                tiers[t].policies.push(copy);
            });
            (added, true)
        }
        3 if !c.endpoints.is_empty() => {
            let mut c = c.clone();
            let e = pick.below(c.endpoints.len());
            c.endpoints[e].labels.insert("app".into(), "relabelled".into());
            (c, false)
        }
        4 if !c.endpoints.is_empty() => {
            let mut c = c.clone();
            let e = pick.below(c.endpoints.len());
            let mut pod = c.endpoints[e].clone();
            pod.name = format!("{}-twin{step}", pod.name);
            pod.ip = pod.ip.map(|ip| match ip {
                std::net::IpAddr::V4(v4) => {
                    std::net::IpAddr::V4(std::net::Ipv4Addr::from(u32::from(v4) + 200 + step as u32))
                }
                std::net::IpAddr::V6(v6) => {
                    std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) + 200 + step as u128))
                }
            });
            pod.addresses = pod.ip.into_iter().collect();
            c.endpoints.push(pod);
            c.endpoints.sort_by(|a, b| a.name.cmp(&b.name));
            (c, false)
        }
        5 if !c.endpoints.is_empty() => {
            let mut c = c.clone();
            let e = pick.below(c.endpoints.len());
            c.endpoints.remove(e);
            (c, false)
        }
        _ => (c.clone(), true),
    }
}

/// A set the ruleset declares is read by some rule (a set that only an unused chain read
/// would be a kernel object no packet consults).
fn every_set_is_read(r: &podwall_nftables::Ruleset, what: &str) {
    let text = r.render();
    for set in &r.sets {
        let at = format!("@{}", set.name);
        let read = text
            .match_indices(&at)
            .any(|(i, _)| text[i + at.len()..].chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_')));
        assert!(read, "{what}: set {} is declared but no rule reads it", set.name);
    }
}

#[test]
fn after_any_sequence_of_changes_the_kept_ruleset_equals_a_whole_compile() {
    let options = Options::default();
    let (mut steps, mut incremental) = (0, 0);
    for seed in 0..120 {
        let values =
            if seed % 2 == 0 { podwall_synth::generate_small(seed) } else { podwall_synth::generate_small_mixed(seed) };
        let mut c = compile_values(values);
        let mut inc = Incremental::new(options.clone());
        let mut pick = Pick(seed);
        for step in 0..8 {
            let att = default_attachments(&c);
            let kept = inc.update(&c, &att).unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}")).0.clone();
            let whole = compile(&c, &att, &options).unwrap();
            assert!(
                kept == whole,
                "seed {seed} step {step}: the kept ruleset differs from a whole compile ({:?})",
                inc.last()
            );
            assert_eq!(kept.render(), whole.render(), "seed {seed} step {step}");
            every_set_is_read(&whole, &format!("seed {seed} step {step}"));
            steps += 1;
            incremental += usize::from(matches!(inc.last(), Some(Recompiled::Changes { .. })));
            let (next, policies_only) = change(&c, &mut pick, step);
            if policies_only {
                // Only policies changed: the next update must not compile whole.
                let att = default_attachments(&next);
                inc.update(&next, &att).unwrap();
                assert!(
                    matches!(inc.last(), Some(Recompiled::Changes { .. })),
                    "seed {seed} step {step}: a policy change compiled whole: {:?}",
                    inc.last()
                );
                let whole = compile(&next, &att, &options).unwrap();
                assert!(inc.ruleset() == Some(&whole), "seed {seed} step {step}: after a policy change");
            }
            c = next;
        }
    }
    assert!(incremental * 4 >= steps, "only {incremental} of {steps} updates compiled only what changed");
}
