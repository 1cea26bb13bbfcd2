//! `podwall explain`: what applies to one pod, and what it may send and receive.
use std::collections::BTreeSet;
use std::process::ExitCode;

use podwall_engine::{governing_tiers, Addr, Index};
use podwall_ir::{Cluster, Direction, EndpointId, Protocol, TierDefault};

use crate::input::{load, resolve};
use crate::output::{EffectiveOut, ExplainDirectionOut, ExplainOut, ExplainPolicyOut, ExplainRuleOut};
use crate::words::rule_match;
use crate::{Failure, Format, InputArgs};

/// Flags of `explain`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// The pod: `NS/NAME` or `NS/KIND/NAME`.
    pod: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn names(cluster: &Cluster, ids: &[EndpointId], limit: usize) -> String {
    let mut s: Vec<&str> = ids.iter().take(limit).map(|&i| cluster.endpoints[i].name.as_str()).collect();
    if ids.len() > limit {
        s.push("…");
    }
    s.join(", ")
}

/// Runs `explain`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let cluster = load(&a.input)?;
    let Addr::Endpoint(id) = resolve(&cluster, &a.pod)? else {
        return Err(Failure::Error(format!("{} is an address, not a pod: nothing applies to it", a.pod)));
    };
    let ep = &cluster.endpoints[id];
    let index = Index::new(&cluster);
    let all_ports = cluster.declared_ports();
    // One matrix per declared port, shared by both directions.
    let matrices: std::collections::BTreeMap<(Protocol, u16), podwall_engine::Matrix> =
        all_ports.iter().map(|&(pr, po)| ((pr, po), index.matrix(pr, Some(po)))).collect();
    let n = cluster.endpoints.len();
    let mut json_dirs: Vec<ExplainDirectionOut> = Vec::new();
    let mut text = String::new();
    let ip = if ep.addresses.is_empty() {
        "no address".to_string()
    } else {
        ep.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
    };
    let ports: Vec<String> = ep
        .ports
        .iter()
        .map(|p| match &p.name {
            Some(nm) => format!("{nm} {}/{}", p.protocol, p.port),
            None => format!("{}/{}", p.protocol, p.port),
        })
        .collect();
    text +=
        &format!("{} ({ip}; ports: {})\n", ep.name, if ports.is_empty() { "none".into() } else { ports.join(", ") });
    if let Some(owner) = &ep.owner {
        let pods = cluster.represented.get(owner).map_or(1, Vec::len);
        text += &format!(
            "  made by {owner}: the workload's {pods} pod(s) in the input stand for it (its template is no endpoint of its own)\n"
        );
    }
    if ep.host_network {
        text += "  host-network pod: it is not a policy endpoint; only address rules see it\n";
    }
    let notes = crate::words::caveats(&cluster, Addr::Endpoint(id), Addr::Endpoint(id));
    for n in &notes {
        text += &format!("  note: {n}\n");
    }
    for dir in [Direction::Ingress, Direction::Egress] {
        let groups = governing_tiers(&cluster, id, dir);
        let mut jpol = Vec::new();
        if groups.is_empty() {
            text += &format!("{dir}: not isolated — no policy selects this pod for {dir}; everything is allowed\n");
        } else {
            text += &format!(
                "{dir}: governed by {} polic{}\n",
                groups.iter().map(|g| g.policies.len()).sum::<usize>(),
                if groups.iter().map(|g| g.policies.len()).sum::<usize>() == 1 { "y" } else { "ies" }
            );
        }
        let tiers = cluster.policies.tiers();
        for g in &groups {
            let t = &tiers[g.tier];
            let order = t.order.map(|o| format!(" (order {o})")).unwrap_or_default();
            match g.unreachable_after {
                Some(by) => {
                    text += &format!(
                        "  tier {:?}{order} — never reached: tier {:?} ends in Deny and has no Pass rule here\n",
                        t.name, tiers[by].name
                    )
                }
                None => text += &format!("  tier {:?}{order}, in order:\n", t.name),
            }
            for &pi in &g.policies {
                let p = &t.policies[pi];
                let at = p.source.as_ref().map(|s| format!("  [{s}]")).unwrap_or_default();
                text += &format!("    {}{at}\n", p.display_name());
                let rules = p.rules(dir).unwrap_or_default();
                if rules.is_empty() {
                    text += "      no rules: admits nothing by itself\n";
                }
                let mut jr = Vec::new();
                for r in rules {
                    let words = rule_match(r, dir);
                    let name = r.name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default();
                    text += &format!("      {}.{name} {} {words}\n", r.index + 1, r.action);
                    jr.push(ExplainRuleOut {
                        action: r.action.to_string(),
                        matches: words,
                        name: r.name.clone(),
                        rule: r.index + 1,
                    });
                }
                jpol.push(ExplainPolicyOut {
                    kind: p.kind.to_string(),
                    name: p.name.clone(),
                    namespace: p.namespace.clone(),
                    rules: jr,
                    tier: t.name.clone(),
                });
            }
            text += &match t.default_action {
                TierDefault::Deny => "    anything no rule decides here is denied\n".to_string(),
                TierDefault::Pass => "    anything no rule decides here goes on to the next tier\n".to_string(),
            };
        }
        // Effective allowances, from the matrix.
        let mut jeff = Vec::new();
        let targets: Vec<(Protocol, u16)> = match dir {
            Direction::Ingress => {
                ep.ports.iter().map(|p| (p.protocol, p.port)).collect::<BTreeSet<_>>().into_iter().collect()
            }
            Direction::Egress => all_ports.clone(),
        };
        for (proto, port) in targets {
            let m = &matrices[&(proto, port)];
            // "Reaches" as `matrix --summary` counts it: every endpoint, itself included
            // (a StatefulSet's replicas talk to each other). On egress, how many of them
            // serve the port is shown beside it.
            let peers: Vec<EndpointId> = (0..n)
                .filter(|&o| match dir {
                    Direction::Ingress => m.allowed(o, id),
                    Direction::Egress => m.allowed(id, o),
                })
                .collect();
            let serving =
                |o: &EndpointId| cluster.endpoints[*o].ports.iter().any(|p| p.protocol == proto && p.port == port);
            let (verb, listening) = match dir {
                Direction::Ingress => ("reachable from", String::new()),
                Direction::Egress => {
                    let k = peers.iter().filter(|o| serving(o)).count();
                    ("reaches", format!(" ({k} of them serve {proto}/{port})"))
                }
            };
            let shown: Vec<EndpointId> = match dir {
                Direction::Egress => peers.iter().copied().filter(|o| serving(o)).collect(),
                Direction::Ingress => peers.clone(),
            };
            text += &format!(
                "  {proto}/{port}: {verb} {} of {n} endpoints{listening}{}{}\n",
                peers.len(),
                if shown.is_empty() { "" } else { ": " },
                names(&cluster, &shown, 6)
            );
            jeff.push(EffectiveOut {
                count: peers.len(),
                of: n,
                pods: peers.iter().map(|&i| cluster.endpoints[i].name.clone()).collect(),
                port,
                protocol: proto.to_string(),
            });
        }
        json_dirs.push(ExplainDirectionOut { effective: jeff, isolated: !groups.is_empty(), policies: jpol });
    }
    match a.format {
        Format::Text => {
            use std::io::Write as _;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
        Format::Json => {
            // Ingress first, then egress, as the loop above runs.
            let [ingress, egress]: [ExplainDirectionOut; 2] =
                json_dirs.try_into().map_err(|_| Failure::Error("explain: two directions expected".into()))?;
            let out = ExplainOut {
                addresses: ep.addresses.iter().map(|a| a.to_string()).collect(),
                egress,
                host_network: ep.host_network,
                ingress,
                ip: ep.ip.map(|i| i.to_string()),
                notes,
                owner: ep.owner.clone(),
                pod: ep.name.clone(),
            };
            crate::outln!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
