//! `podwall-bench dataplane`: what enforcement costs, measured in a lab.
//!
//! Two pods (a client and a server in namespace `bench`) carry the traffic; the ruleset
//! loaded in the node is compiled from a generated cluster of `--pods` pods and 0, 1,000
//! or 10,000 NetworkPolicies, every pod attached to this node (as `dataplane compile`
//! does), plus the server's own policy admitting the client. Configurations, measured in
//! turn in each round (the starting one rotates):
//! - `none`: no podwall table at all (conntrack idle);
//! - `ct`: a table that only accepts established traffic (conntrack's own cost);
//! - `podwall-N`: podwall's ruleset at N policies;
//! - `linear-N`: the same policies as one linear chain after the established fast path:
//!   one rule per policy, ingress rule and port (`ip daddr { pods it selects } … accept`),
//!   the bench pair's rule last, the structure of iptables-based enforcers.
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use podwall_ir::Cluster;
use podwall_lab::traffic::{median, Pair};
use podwall_nftables::{compile, default_attachments, Incremental, Installed, Options, Ruleset};
use serde::Serialize;

use crate::{Failure, Format};

/// Flags of `bench dataplane`.
#[derive(clap::Args)]
pub struct Args {
    /// Pods of the generated cluster (all attached to the node's ruleset).
    #[arg(long, default_value_t = 1_000)]
    pods: usize,
    /// Policy counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "0,1000,10000")]
    policies: Vec<usize>,
    /// Rounds over all configurations.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds of UDP flood per measurement.
    #[arg(long, default_value_t = 1.0)]
    flood_seconds: f64,
    /// UDP request/response round trips per measurement.
    #[arg(long, default_value_t = 2_000)]
    rr: usize,
    /// TCP connect/request/response cycles per measurement.
    #[arg(long, default_value_t = 300)]
    crr: usize,
    /// Lab sizes to time `lab up` for.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    lab_pods: Vec<usize>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

const LAB: &str = "bench-dp";
const UDP_PORT: u16 = 9000;
const TCP_PORT: u16 = 9001;

#[derive(Serialize, Default, Clone)]
struct ConfigResult {
    name: String,
    /// Rules in the table (regular chains and base chain).
    rules: usize,
    /// Full atomic load with `nft -f`, median, ms.
    load_ms: f64,
    /// Small-packet UDP rate, median, packets/s.
    udp_pps: f64,
    /// UDP request/response round trip on one flow, median of medians, µs.
    udp_rr_us: f64,
    /// TCP connect-request-response cycle, median of medians, µs.
    tcp_crr_us: f64,
}

/// One configuration's measurements over the rounds.
#[derive(Clone, Default)]
struct Samples {
    load: Vec<f64>,
    pps: Vec<f64>,
    rr: Vec<f64>,
    crr: Vec<f64>,
}

#[derive(Serialize, Default)]
struct Change {
    /// What changed.
    what: String,
    /// How it was sent.
    path: String,
    /// Compiling the whole new ruleset (pure), ms.
    compile_ms: f64,
    /// Compiling it with the compiler that compiled the old one (`Incremental`: only
    /// the situations a policy change touches; a pod change compiles whole), ms.
    update_ms: f64,
    /// Computing the delta, ms.
    delta_ms: f64,
    /// Sending it until the kernel committed, median of the repetitions, ms.
    send_ms: f64,
    /// Elements and chains the delta touches.
    elements: usize,
    chains_added: usize,
    chains_kept: usize,
}

#[derive(Serialize, Default)]
struct Loss {
    what: String,
    updates: usize,
    sent: u64,
    lost: u64,
    seconds: f64,
}

#[derive(Serialize, Default)]
struct Report {
    load_average: String,
    pods: usize,
    rounds: usize,
    configs: Vec<ConfigResult>,
    changes: Vec<Change>,
    loss: Vec<Loss>,
    /// Lab size → `lab up` seconds.
    lab_up_seconds: BTreeMap<usize, f64>,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cluster_of(values: Vec<serde_json::Value>) -> Result<Cluster, Failure> {
    Ok(podwall_dialects::compile(&podwall_load::load_values("generated", values)?)?)
}

fn generated(pods: usize, policies: usize) -> Result<Cluster, Failure> {
    let p = podwall_synth::Params {
        pods,
        namespaces: (pods / 20).max(3),
        policies,
        seed: 1,
        ..podwall_synth::Params::default()
    };
    let mut values = podwall_synth::generate(&p);
    values.extend(podwall_lab::bench::objects());
    cluster_of(values)
}

fn table_script(body: &str) -> String {
    let t = podwall_lab::TABLE;
    format!("table inet {t}\ndelete table inet {t}\n{body}")
}

const BASE: &str = "\t\ttype filter hook forward priority filter; policy accept;\n\t\tct state established,related accept\n\t\tct state invalid drop\n";

fn rule_count(r: &Ruleset) -> usize {
    r.chains.iter().map(|c| c.rules.len()).sum::<usize>() + 6
}

fn load(lab: &podwall_lab::Lab, script: &str) -> Result<f64, Failure> {
    let t = Instant::now();
    podwall_lab::load_ruleset(lab, script)?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A pod relabelled so that only set elements change, if one of the first few does
/// (with the time the last compile took, ms).
fn relabelled(cluster: &Cluster, installed: &Installed) -> Option<(Cluster, Ruleset, f64)> {
    for e in (0..cluster.endpoints.len()).filter(|&e| cluster.endpoints[e].namespace != "bench").take(40) {
        for (key, value) in [("version", "v9"), ("env", "bench"), ("team", "bench"), ("tier", "bench")] {
            let mut c = cluster.clone();
            if c.endpoints[e].labels.insert(key.to_string(), value.to_string()).is_none() {
                continue;
            }
            let t = Instant::now();
            let r = compile(&c, &default_attachments(&c), &Options::default()).ok()?;
            let cm = ms(t.elapsed());
            if let Some(d) = podwall_nftables::delta(installed, &r.installed()) {
                if !d.is_empty() && d.elements_only() {
                    return Some((c, r, cm));
                }
            }
        }
    }
    None
}

/// The time to compile `after` with the compiler that compiled `before`, ms.
fn update_ms(before: &Cluster, after: &Cluster) -> Result<f64, Failure> {
    let mut inc = Incremental::new(Options::default());
    inc.update(before, &default_attachments(before))?;
    let t = Instant::now();
    inc.update(after, &default_attachments(after))?;
    Ok(ms(t.elapsed()))
}

/// Measures sending `a → b` and back `times` times each; returns the change's figures.
fn change(
    lab: &podwall_lab::Lab,
    what: &str,
    a: &Ruleset,
    b: &Ruleset,
    compile_ms: f64,
    update_ms: f64,
    times: usize,
) -> Result<Change, Failure> {
    let (ia, ib) = (a.installed(), b.installed());
    let t = Instant::now();
    let forth = podwall_nftables::delta(&ia, &ib).ok_or_else(|| Failure::Error("no delta".into()))?;
    let delta_ms = ms(t.elapsed());
    let back = podwall_nftables::delta(&ib, &ia).ok_or_else(|| Failure::Error("no delta".into()))?;
    let netlink = forth.elements_only() && back.elements_only();
    let mut sends = Vec::new();
    if netlink {
        // The socket is opened once, as a node agent keeps it: the figure is the batch.
        let mut sock = podwall_lab::apply::node_socket(lab)?;
        let batches = [podwall_lab::nf_tables::Batch::of(&forth)?, podwall_lab::nf_tables::Batch::of(&back)?];
        for _ in 0..times {
            for b in &batches {
                let t = Instant::now();
                podwall_lab::apply::send_batch(lab, &mut sock, b)?;
                sends.push(ms(t.elapsed()));
            }
        }
    } else {
        for _ in 0..times {
            for d in [&forth, &back] {
                let t = Instant::now();
                send(lab, d, netlink)?;
                sends.push(ms(t.elapsed()));
            }
        }
    }
    Ok(Change {
        what: what.into(),
        path: if netlink { "netlink batch" } else { "nft -f delta" }.into(),
        compile_ms,
        update_ms,
        delta_ms,
        send_ms: median(&mut sends),
        elements: forth.element_count(),
        chains_added: forth.new_chains.len(),
        chains_kept: forth.kept_chains,
    })
}

/// 100 back-to-back updates between `base` and `r` (forth, back, forth, ...) while a UDP
/// flow runs between `pair`: how many of its packets were lost.
fn loss_during_updates(
    lab: &podwall_lab::Lab,
    pair: &Pair,
    base: &Ruleset,
    r: &Ruleset,
    port: u16,
    netlink: bool,
    what: &str,
) -> Result<Loss, Failure> {
    let (ia, ib) = (base.installed(), r.installed());
    let forth = podwall_nftables::delta(&ia, &ib).ok_or_else(|| Failure::Error("no delta".into()))?;
    let back = podwall_nftables::delta(&ib, &ia).ok_or_else(|| Failure::Error("no delta".into()))?;
    let mut failed = None;
    let t = Instant::now();
    let (sent, lost) = podwall_lab::traffic::udp_loss_during(pair, port, Duration::from_micros(100), || {
        for k in 0..100 {
            if let Err(e) = send(lab, if k % 2 == 0 { &forth } else { &back }, netlink) {
                failed = Some(e);
                return;
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Loss { what: what.into(), updates: 100, sent, lost, seconds: t.elapsed().as_secs_f64() })
}

fn send(lab: &podwall_lab::Lab, d: &podwall_nftables::Delta, netlink: bool) -> Result<(), Failure> {
    if netlink {
        podwall_lab::apply::send_elements(lab, d)?;
    } else {
        podwall_lab::nft(lab, &["-f", "-"], &d.render())?;
    }
    Ok(())
}

fn measure(a: &Args) -> Result<Report, Failure> {
    let mut report = Report { load_average: load_average(), pods: a.pods, rounds: a.rounds, ..Report::default() };
    // The lab: the two bench pods.
    let small = cluster_of(podwall_lab::bench::objects())?;
    let (small, allocated) = podwall_lab::lab_cluster(&small)?;
    let lab = podwall_lab::plan(LAB, &small, &allocated)?;
    podwall_lab::up(&lab, &small, true)?;
    let pod = |n: &str| lab.pods.iter().find(|p| p.name == n).cloned().expect("bench pod");
    let (client, server) = (pod("bench/client"), pod("bench/server"));
    let pair = Pair { client: client.netns.clone(), server: server.netns.clone(), address: server.address };

    eprintln!("bench dataplane: compiling the configurations ({} pods)", a.pods);
    let mut configs: Vec<(String, String, usize)> = vec![
        ("none".into(), table_script(""), 0),
        (
            "ct".into(),
            table_script(&format!("table inet {} {{\n\tchain forward {{\n{BASE}\t}}\n}}\n", podwall_lab::TABLE)),
            3,
        ),
    ];
    let mut compiled: BTreeMap<usize, (Cluster, Ruleset, f64)> = BTreeMap::new();
    for &n in &a.policies {
        let cluster = generated(a.pods, n)?;
        let t = Instant::now();
        let r = compile(&cluster, &default_attachments(&cluster), &Options::default())?;
        let compile_ms = ms(t.elapsed());
        configs.push((format!("podwall-{n}"), r.render(), rule_count(&r)));
        if n > 0 {
            let tail = "\t\tip saddr 10.200.0.1 ip daddr 10.200.0.2 accept\n\t\tip daddr 10.200.0.2 drop\n";
            let (script, rules) = podwall_lab::bench::linear(&cluster, "bench", BASE, tail);
            configs.push((format!("linear-{n}"), script, rules));
        }
        compiled.insert(n, (cluster, r, compile_ms));
    }
    let mut results: Vec<Samples> = vec![Samples::default(); configs.len()];
    for round in 0..a.rounds {
        for k in 0..configs.len() {
            let i = (k + round) % configs.len();
            let (name, script, _) = &configs[i];
            eprintln!("bench dataplane: round {}/{}: {name}", round + 1, a.rounds);
            let r = &mut results[i];
            r.load.push(load(&lab, script)?);
            r.pps.push(podwall_lab::traffic::udp_rate(&pair, UDP_PORT, Duration::from_secs_f64(a.flood_seconds))?);
            r.rr.push(podwall_lab::traffic::udp_rr(&pair, UDP_PORT + 2, a.rr)?);
            r.crr.push(podwall_lab::traffic::tcp_crr(&pair, TCP_PORT, a.crr)?);
        }
    }
    for ((name, _, rules), mut r) in configs.iter().zip(results) {
        report.configs.push(ConfigResult {
            name: name.clone(),
            rules: *rules,
            load_ms: median(&mut r.load),
            udp_pps: median(&mut r.pps),
            udp_rr_us: median(&mut r.rr),
            tcp_crr_us: median(&mut r.crr),
        });
    }

    if let Some((cluster, base, _)) = compiled.iter().next_back().map(|(_, v)| v) {
        let n = *compiled.keys().next_back().unwrap_or(&0);
        podwall_lab::load_ruleset(&lab, &base.render())?;
        if let Some(c) = podwall_lab::bench::edited(cluster, "bench") {
            let t = Instant::now();
            let r = compile(&c, &default_attachments(&c), &Options::default())?;
            let cm = ms(t.elapsed());
            let um = update_ms(cluster, &c)?;
            report.changes.push(change(
                &lab,
                &format!("one policy's ports edited, at {n} policies"),
                base,
                &r,
                cm,
                um,
                10,
            )?);
            eprintln!("bench dataplane: 100 back-to-back policy edits under a UDP flow");
            report.loss.push(loss_during_updates(
                &lab,
                &pair,
                base,
                &r,
                UDP_PORT + 4,
                false,
                "policy edits (nft -f deltas)",
            )?);
        }
        if let Some((c, r, cm)) = relabelled(cluster, &base.installed()) {
            let um = update_ms(cluster, &c)?;
            report.changes.push(change(
                &lab,
                &format!("one pod relabelled (peer sets only), at {n} policies"),
                base,
                &r,
                cm,
                um,
                10,
            )?);
            report.loss.push(loss_during_updates(
                &lab,
                &pair,
                base,
                &r,
                UDP_PORT + 6,
                true,
                "relabels (netlink batches)",
            )?);
        }
    }
    podwall_lab::down(LAB)?;

    for &n in &a.lab_pods {
        eprintln!("bench dataplane: lab up with {n} pods");
        let p = podwall_synth::Params {
            pods: n,
            namespaces: (n / 10).max(3),
            policies: n / 5,
            seed: 2,
            ..podwall_synth::Params::default()
        };
        let c = cluster_of(podwall_synth::generate(&p))?;
        let (c, allocated) = podwall_lab::lab_cluster(&c)?;
        let name = format!("bench-up{n}");
        let lab = podwall_lab::plan(&name, &c, &allocated)?;
        let t = Instant::now();
        let up = podwall_lab::up(&lab, &c, true);
        let took = t.elapsed().as_secs_f64();
        podwall_lab::down(&name)?;
        up?;
        report.lab_up_seconds.insert(lab.pods.len(), took);
    }
    Ok(report)
}

/// Runs `bench dataplane`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    podwall_lab::require_root()?;
    let report = measure(&a);
    if report.is_err() {
        let _ = podwall_lab::down(LAB);
    }
    let report = report?;
    match a.output {
        Format::Json => {
            crate::outln!("{}", serde_json::to_string_pretty(&report).map_err(|e| Failure::Error(e.to_string()))?)
        }
        Format::Text => print_table(&report)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(r: &Report) -> Result<(), Failure> {
    let none = r.configs.iter().find(|c| c.name == "none").cloned().unwrap_or_default();
    crate::outln!(
        "data plane, {} pods attached, medians of {} alternated rounds; load average at start {}",
        r.pods,
        r.rounds,
        r.load_average
    );
    crate::outln!(
        "{:<14} {:>7} {:>9} {:>11} {:>6} {:>9} {:>6} {:>10} {:>6}",
        "config",
        "rules",
        "load ms",
        "UDP pps",
        "x",
        "RR µs",
        "x",
        "CRR µs",
        "x"
    );
    for c in &r.configs {
        crate::outln!(
            "{:<14} {:>7} {:>9.1} {:>11.0} {:>6.2} {:>9.1} {:>6.2} {:>10.1} {:>6.2}",
            c.name,
            c.rules,
            c.load_ms,
            c.udp_pps,
            c.udp_pps / none.udp_pps,
            c.udp_rr_us,
            c.udp_rr_us / none.udp_rr_us,
            c.tcp_crr_us,
            c.tcp_crr_us / none.tcp_crr_us
        );
    }
    for c in &r.changes {
        crate::outln!(
            "change: {}: compile {:.1} ms (only what changed: {:.2} ms), delta {:.2} ms, send {:.2} ms ({}; {} element(s), {} chain(s) added, {} kept)",
            c.what,
            c.compile_ms,
            c.update_ms,
            c.delta_ms,
            c.send_ms,
            c.path,
            c.elements,
            c.chains_added,
            c.chains_kept
        );
    }
    for l in &r.loss {
        crate::outln!(
            "established flow during {} {}: {} of {} packets lost ({:.1} s)",
            l.updates,
            l.what,
            l.lost,
            l.sent,
            l.seconds
        );
    }
    for (pods, s) in &r.lab_up_seconds {
        crate::outln!("lab up, {pods} pods: {s:.2} s");
    }
    Ok(())
}
