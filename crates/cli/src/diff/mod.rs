//! `podwall diff`: what a change of the manifests does to reachability.
//!
//! Both states are loaded and compiled as every command does. The engine lists the
//! object changes, applies them one by one to a `Live` index of the old state, and
//! returns the pairs of endpoints (present in both states) whose answer changed, per
//! port, as pairs of groups that were answered alike before and are answered alike now;
//! `podwall_engine::diff::judge` asks the reference evaluator why, and puts together the
//! group pairs whose changed directions read the same. This module words and prints it.
//!
//! Both states also go through every check of `podwall analyze`; the findings only the
//! new state has are added, those only the old one had fixed
//! (`podwall_report::changes`). `--fail-on` turns either into the exit code (`gate.rs`),
//! `-o markdown` writes a pull-request comment (`markdown.rs`), and `--base-rev` with
//! `--head-rev` reads `-f` from git (`sides.rs`).
mod gate;
mod markdown;
mod sides;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use podwall_engine::diff::judge::{judge, Saying, Sayings, Shown, States};
use podwall_engine::diff::{Diff, How, Object, ObjectChange};
use podwall_engine::{DirectionVerdict, Index, RowSummary};
use podwall_ir::{Cluster, Direction, EndpointId, Protocol};
use podwall_report::changes::{compare, Files, FindingChanges};
use podwall_report::{gather, Filter, Subject};

use crate::input::{protocol, report_skipped};
use crate::output::{
    ChangeOut, DiffFindingOut, DiffFindingsOut, DiffFlowsOut, DiffOut, DiffPortOut, DirectionOut, GateOut,
    LoneEndpointOut, ObjectOut, PortReachOut, TurnOut, UpdateOut, DIFF_VERSION,
};
use crate::words::{direction_of, Reason};
use crate::{Failure, InputArgs};
use gate::{Condition, Tally};

/// Output formats of `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// For people.
    Text,
    /// For scripts: every change, whatever --all says.
    Json,
    /// A pull-request comment: a headline, tables, long lists collapsed.
    Markdown,
}

/// Flags of `diff`.
#[derive(clap::Args)]
#[command(after_help = "Exit codes: without --fail-on, 0 when no pair changed and no endpoint came or went, 1 when \
something did; with --fail-on, 1 when a condition it names holds, else 0 (changes or not); 2 on bad input or \
usage (an unreadable file, an unknown --fail-on word, not a git repository, an unknown revision).")]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// The state after: a manifest file, a folder (read recursively) or `-` for standard
    /// input; repeatable. (-f gives the state before.)
    #[arg(long = "to", value_name = "NEW", required_unless_present = "base_rev", conflicts_with = "base_rev")]
    to: Vec<String>,
    /// Compare -f as it is at two git revisions of the repository holding it: this one
    /// before, --head-rev after. Read through `git`, never checking anything out; files
    /// are named from the repository's top. A path with no manifests at one revision is
    /// empty there (a folder the change adds is all new).
    #[arg(long, value_name = "REV", requires = "head_rev")]
    base_rev: Option<String>,
    /// The revision after (with --base-rev), e.g. HEAD.
    #[arg(long, value_name = "REV", requires = "base_rev")]
    head_rev: Option<String>,
    /// Destination port (1-65535); without it, every port an endpoint declares in either state.
    #[arg(long, value_parser = crate::input::port_number)]
    port: Option<u16>,
    /// Protocol of --port: TCP, UDP, SCTP, or a number.
    #[arg(long, default_value = "TCP")]
    protocol: String,
    /// Output format. JSON lists every change whatever --all says.
    #[arg(short = 'o', long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Text and Markdown output: list every group of changed pairs, every name, every
    /// object and every finding.
    #[arg(long)]
    all: bool,
    /// Exit 1 when any of these holds, else 0 (for CI): opened-flows (a flow newly
    /// allowed, or a new endpoint that reaches or is reached by another), closed-flows
    /// (the reverse), new-findings (a finding of `podwall analyze` the old state did not
    /// have), new-findings:SEVERITY (one at or above it), any (any of these).
    /// Comma-separated or repeated.
    #[arg(long, value_name = "CONDITIONS", value_delimiter = ',', value_parser = gate::parse)]
    fail_on: Vec<Condition>,
}

/// Without --all, the text shows this many groups of changed pairs per port, names per
/// list, objects, and endpoints only in one state.
const GROUPS_SHOWN: usize = 20;
const NAMES_SHOWN: usize = 3;
const OBJECTS_SHOWN: usize = 30;
const ENDPOINTS_SHOWN: usize = 20;

/// One direction of one pair in one state, as `check -o json` says it, the local end
/// left to name until the group it explains is known.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Said(DirectionOut<Reason>);

/// Equal sayings have equal verdicts and reasons: hashing those is enough.
impl std::hash::Hash for Said {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.allowed.hash(h);
        self.0.reason.hash(h);
    }
}

impl Said {
    fn new(cluster: &Cluster, v: &DirectionVerdict) -> Self {
        Said(direction_of(cluster, v))
    }

    /// The saying, its local end named `local`.
    fn named(&self, local: &str) -> DirectionOut<String> {
        self.0.clone().map_reason(|r| r.render(local))
    }
}

impl Saying for Said {
    type Words = (bool, Reason);
    fn allowed(&self) -> bool {
        self.0.allowed
    }
    fn words(&self) -> (bool, Reason) {
        (self.0.allowed, self.0.reason.clone())
    }
}

/// `a, b, c and 4 more` (every name with `all`).
fn names(cluster: &Cluster, ids: &[EndpointId], all: bool) -> String {
    let cap = if all { ids.len() } else { NAMES_SHOWN };
    let shown: Vec<&str> = ids.iter().take(cap).map(|&i| cluster.endpoints[i].name.as_str()).collect();
    let mut out = shown.join(", ");
    if ids.len() > cap {
        let _ = write!(out, " and {} more", ids.len() - cap);
    }
    out
}

/// The name a reason gives the local end of a direction: the endpoint when there is
/// one, else "the source" or "the destination".
fn local_name<'c>(cluster: &'c Cluster, ids: &[EndpointId], dir: Direction) -> &'c str {
    match (ids, dir) {
        ([one], _) => cluster.endpoints[*one].name.as_str(),
        (_, Direction::Egress) => "the source",
        (_, Direction::Ingress) => "the destination",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The kind of an object, in counts: (one, many).
fn kind_words(o: &Object) -> (&'static str, &'static str) {
    match o {
        Object::Tier(_) => ("tier", "tiers"),
        Object::Policy { .. } => ("policy", "policies"),
        Object::Namespace(_) => ("namespace", "namespaces"),
        Object::Endpoint { .. } => ("pod", "pods"),
        Object::NetworkSet(_) => ("network set", "network sets"),
        Object::ServiceAccount { .. } => ("service account", "service accounts"),
        Object::Node(_) => ("node", "nodes"),
    }
}

fn sign(how: How) -> char {
    match how {
        How::Added => '+',
        How::Changed => '~',
        How::Removed => '-',
    }
}

fn object_out(c: &ObjectChange) -> ObjectOut {
    let (kind, namespace, name) = match &c.object {
        Object::Tier(n) => ("Tier".to_string(), None, n.clone()),
        Object::Policy { kind, namespace, name } => (kind.to_string(), namespace.clone(), name.clone()),
        Object::Namespace(n) => ("Namespace".into(), None, n.clone()),
        Object::Endpoint { name, template } => {
            let kind = if *template { "PodTemplate" } else { "Pod" };
            (kind.to_string(), name.split('/').next().map(str::to_string), name.clone())
        }
        Object::NetworkSet(n) => ("NetworkSet".into(), None, n.clone()),
        Object::ServiceAccount { namespace, name } => ("ServiceAccount".into(), Some(namespace.clone()), name.clone()),
        Object::Node(n) => ("Node".into(), None, n.clone()),
    };
    ObjectOut { change: c.how.to_string(), detail: c.detail.clone(), kind, name, namespace }
}

/// Endpoints of `cluster` the other state lacks, with what each reaches and is reached
/// by per port (`sums`: per port, per endpoint of `cluster`).
fn only_here(cluster: &Cluster, other: &Cluster, sums: &[Vec<RowSummary>]) -> Vec<(EndpointId, Vec<RowSummary>)> {
    (0..cluster.endpoints.len())
        .filter(|&i| other.endpoint(&cluster.endpoints[i].name).is_none())
        .map(|i| (i, sums.iter().map(|s| s[i]).collect()))
        .collect()
}

/// Everything the report shows.
struct Report<'a> {
    old: &'a Cluster,
    new: &'a Cluster,
    diff: &'a Diff,
    ports: &'a [(Protocol, u16)],
    /// Per port.
    shown: Vec<Vec<Shown>>,
    /// What the turns of `shown` refer to.
    sayings: Sayings<Said>,
    added: Vec<(EndpointId, Vec<RowSummary>)>,
    removed: Vec<(EndpointId, Vec<RowSummary>)>,
    /// Findings added and fixed.
    findings: FindingChanges,
    /// The files of each side (old, new) as read: what their SARIF fingerprints see.
    read_files: (Files, Files),
    /// What `--fail-on` judges.
    tally: Tally,
    /// The conditions asked for, and which of them hold.
    gate: Option<(Vec<Condition>, Vec<Condition>)>,
}

impl Report<'_> {
    /// Whether reachability changed: a pair turned, or an endpoint came or went.
    fn changed(&self) -> bool {
        self.shown.iter().any(|s| !s.is_empty()) || !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// Runs `diff`: without `--fail-on`, exit 0 when reachability is unchanged, 1 when it
/// changed; with it, 1 when a condition it names holds.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let revs = a.base_rev.as_deref().zip(a.head_rev.as_deref());
    if revs.is_none() && a.input.files.iter().any(|f| f == "-") && a.to.iter().any(|f| f == "-") {
        return Err(Failure::Error("standard input (-) can be read once: give it to -f or to --to, not both".into()));
    }
    let proto = protocol(&a.protocol)?;
    if !proto.has_ports() {
        return Err(Failure::Error(format!("diff needs a protocol with ports (TCP, UDP, SCTP), not {proto}")));
    }
    let skip = a.input.skip_invalid;
    let (old, new) = match revs {
        Some((base, head)) => {
            if a.input.files.is_empty() {
                return Err(Failure::Error(
                    "--base-rev and --head-rev read the -f paths at two revisions: give -f (a file or folder of the \
                     repository)"
                        .into(),
                ));
            }
            let [old, new] = sides::from_revisions(&a.input.files, [base, head], skip)?;
            (old, new)
        }
        None => {
            crate::input::size_threads(&[a.input.files.clone(), a.to.clone()].concat());
            // The state before may be a live cluster (--kubeconfig): what a change would do to it.
            (sides::from_input(&a.input)?, sides::from_paths(&a.to, skip)?)
        }
    };
    crate::input::count_invalid(&a.input, old.input.invalid.len() + new.input.invalid.len());
    // The new state's warnings, and those of the old state it no longer has.
    for w in &new.cluster.warnings {
        eprintln!("warning[{}]: {w}", w.id);
    }
    let gone = |w: &&podwall_ir::Finding| {
        !new.cluster.warnings.iter().any(|n| n.about() == w.about() && n.message == w.message)
    };
    for w in old.cluster.warnings.iter().filter(gone) {
        eprintln!("warning[{}]: (old state) {w}", w.id);
    }
    report_skipped(&old.input.skipped, a.input.verbose, "in the old state ");
    report_skipped(&new.input.skipped, a.input.verbose, "in the new state ");
    let ports: Vec<(Protocol, u16)> = match a.port {
        Some(p) => vec![(proto, p)],
        None => {
            let mut p = old.cluster.declared_ports();
            p.extend(new.cluster.declared_ports());
            p.sort();
            p.dedup();
            p
        }
    };
    let old_files = Files::new(&old.input.files, &old.roots);
    let new_files = Files::new(&new.input.files, &new.roots);
    let read_files = (Files::as_read(&old.input.files), Files::as_read(&new.input.files));
    let (old_input, new_input) = (old.input, new.input);
    let (old, new) = (Arc::new(old.cluster), Arc::new(new.cluster));
    let d = podwall_engine::diff::diff(old.clone(), &new, &ports);
    // The reasons: the old state gets an index of its own (the live one moved on).
    let old_index = Index::build(old.clone());
    let states = States::new(&old, &new, &old_index, d.live.index());
    let mut sayings = Sayings::default();
    let shown: Vec<Vec<Shown>> =
        (0..d.changes.ports.len()).map(|k| judge(&states, &d.changes, k, ports[k], &mut sayings, &Said::new)).collect();
    // The findings of each state, as `analyze` reports them.
    let new_index = Index::build(new.clone());
    let filter = Filter::default();
    let before = gather(&Subject::new(&old_input, &old, &old_index), &filter)?;
    let after = gather(&Subject::new(&new_input, &new, &new_index), &filter)?;
    let findings = compare(&before.findings, &old_files, &after.findings, &new_files);
    let added = only_here(&new, &old, &d.after);
    let removed = only_here(&old, &new, &d.before);
    let sum = |allowed: bool| shown.iter().flatten().filter(|g| g.allowed == allowed).map(|g| g.pairs).sum::<usize>();
    let tally = Tally {
        opened: sum(true),
        closed: sum(false),
        new_endpoints_with_flows: with_others(&new_index, &added, &ports),
        gone_endpoints_with_flows: with_others(&old_index, &removed, &ports),
    };
    let gate = (!a.fail_on.is_empty()).then(|| {
        let mut asked: Vec<Condition> = Vec::new();
        for &c in &a.fail_on {
            if !asked.contains(&c) {
                asked.push(c);
            }
        }
        let held = asked.iter().copied().filter(|&c| gate::holds(c, &tally, &|s| findings.added_at_least(s))).collect();
        (asked, held)
    });
    let report = Report {
        old: &old,
        new: &new,
        diff: &d,
        ports: &ports,
        shown,
        sayings,
        added,
        removed,
        findings,
        read_files,
        tally,
        gate,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match a.format {
        DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &json_report(&report))?;
            writeln!(out)?;
        }
        DiffFormat::Text => out.write_all(text_report(&report, a.all, a.input.verbose).as_bytes())?,
        DiffFormat::Markdown => out.write_all(markdown::report(&report, a.all).as_bytes())?,
    }
    out.flush()?;
    let fail = match &report.gate {
        Some((_, held)) => !held.is_empty(),
        None => report.changed(),
    };
    Ok(if fail { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// How many of `lone` (endpoints of the state `index` is over) reach, or are reached by,
/// an endpoint other than themselves on some port.
fn with_others(index: &Index, lone: &[(EndpointId, Vec<RowSummary>)], ports: &[(Protocol, u16)]) -> usize {
    lone.iter()
        .filter(|(id, sums)| {
            ports.iter().zip(sums).any(|(&(proto, port), s)| {
                // The counts hold the endpoint itself when it may reach itself.
                let own = usize::from(index.query(*id, *id, proto, Some(port)));
                s.egress_peers > own || s.ingress_peers > own
            })
        })
        .count()
}

/// Whether two ports' changes read the same: same pairs, verdicts and reasons.
fn same_groups(a: &[Shown], b: &[Shown]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.allowed == y.allowed && x.sources == y.sources && x.destinations == y.destinations && x.turns == y.turns
        })
}

fn port_words((proto, port): (Protocol, u16)) -> String {
    format!("{proto}/{port}")
}

fn text_report(r: &Report, all: bool, verbose: bool) -> String {
    let (new, d) = (r.new, r.diff);
    let mut t = String::new();
    // The objects.
    if d.objects.is_empty() {
        t += "objects: no change\n";
    } else {
        let mut tally: BTreeMap<(&str, How), (&str, &str, usize)> = BTreeMap::new();
        for c in &d.objects {
            let (one, many) = kind_words(&c.object);
            tally.entry((one, c.how)).or_insert((one, many, 0)).2 += 1;
        }
        let words: Vec<String> =
            tally.iter().map(|((_, how), (one, many, n))| format!("{} {how}", plural(*n, one, many))).collect();
        let _ = writeln!(t, "objects: {}", words.join(", "));
        let cap = if all { d.objects.len() } else { OBJECTS_SHOWN };
        for c in d.objects.iter().take(cap) {
            let detail = c.detail.as_ref().map(|x| format!(" ({x})")).unwrap_or_default();
            let _ = writeln!(t, "  {} {}{detail}", sign(c.how), c.object);
        }
        if d.objects.len() > cap {
            let _ = writeln!(t, "  … and {} more (--all lists them)", d.objects.len() - cap);
        }
    }
    // How the index took them.
    let rebuilds = d.steps.iter().filter(|s| s.update.rebuilt.is_some()).count();
    if verbose && !d.steps.is_empty() {
        t += "index updates:\n";
        for s in &d.steps {
            let how = match &s.update.rebuilt {
                Some(why) => format!("rebuilt: {why}"),
                None => format!(
                    "in place, {} re-answered ({})",
                    plural(s.update.classes, "class", "classes"),
                    plural(s.update.endpoints, "endpoint", "endpoints")
                ),
            };
            let _ = writeln!(t, "  {}: {how}", s.what);
        }
    } else if rebuilds > 0 {
        let _ =
            writeln!(t, "(the index was rebuilt for {}; --verbose says why)", plural(rebuilds, "change", "changes"));
    }
    // Reachability.
    let sum = |allowed: bool| r.shown.iter().flatten().filter(|g| g.allowed == allowed).map(|g| g.pairs).sum::<usize>();
    let (plus, minus) = (sum(true), sum(false));
    let n_ports = plural(r.ports.len(), "port", "ports");
    let mut summary = if plus + minus == 0 {
        format!("reachability: no pair changed on {n_ports}")
    } else {
        let turned = r.shown.iter().filter(|s| !s.is_empty()).count();
        format!(
            "reachability: {} newly allowed, {} newly denied, on {turned} of {n_ports}",
            plural(plus, "pair", "pairs"),
            plural(minus, "pair", "pairs"),
        )
    };
    if !r.added.is_empty() || !r.removed.is_empty() {
        let _ =
            write!(summary, "; {} added, {} removed", plural(r.added.len(), "endpoint", "endpoints"), r.removed.len());
    }
    if r.ports.is_empty() {
        summary += " (no endpoint declares a container port in either state; give --port)";
    }
    let _ = writeln!(t, "\n{summary}");
    // Ports whose changes read the same are shown once.
    let mut sections: Vec<(Vec<usize>, &Vec<Shown>)> = Vec::new();
    for (k, groups) in r.shown.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
        match sections.iter_mut().find(|(_, g)| same_groups(g, groups)) {
            Some(sec) => sec.0.push(k),
            None => sections.push((vec![k], groups)),
        }
    }
    for (ks, groups) in sections {
        let p: usize = groups.iter().filter(|g| g.allowed).map(|g| g.pairs).sum();
        let m: usize = groups.iter().filter(|g| !g.allowed).map(|g| g.pairs).sum();
        let which: Vec<String> = ks.iter().map(|&k| port_words(r.ports[k])).collect();
        let each = if ks.len() > 1 { " on each" } else { "" };
        let _ = writeln!(t, "\n{}: +{p} -{m}{each}", which.join(", "));
        let cap = if all { groups.len() } else { GROUPS_SHOWN };
        for g in groups.iter().take(cap) {
            let count = if g.pairs > 1 { format!("  ({} pairs)", g.pairs) } else { String::new() };
            let mark = if g.allowed { '+' } else { '-' };
            let _ = writeln!(t, "{mark} {} → {}{count}", names(new, &g.sources, all), names(new, &g.destinations, all));
            let dirs = [(Direction::Egress, &g.sources), (Direction::Ingress, &g.destinations)];
            for (turn, (dir, ids)) in g.turns.iter().zip(dirs) {
                let Some((b, f)) = turn else { continue };
                let local = local_name(new, ids, dir);
                let word = |ok: bool| if ok { "allowed:" } else { "denied:" };
                let f = &r.sayings.list[*f as usize];
                let dir = dir.to_string();
                match b.map(|b| &r.sayings.list[b as usize]) {
                    Some(b) => {
                        let _ = writeln!(t, "    {dir:<8} was {:<8} {}", word(b.0.allowed), b.0.reason.render(local));
                    }
                    None => {
                        let _ = writeln!(
                            t,
                            "    {dir:<8} was {:<8} (for reasons that differ between these pairs)",
                            word(!f.0.allowed)
                        );
                    }
                }
                let _ = writeln!(t, "    {:<8} now {:<8} {}", "", word(f.0.allowed), f.0.reason.render(local));
            }
        }
        if groups.len() > cap {
            let rest: usize = groups[cap..].iter().map(|g| g.pairs).sum();
            let _ = writeln!(
                t,
                "… and {} more in {} (--all lists them)",
                plural(rest, "pair", "pairs"),
                plural(groups.len() - cap, "group", "groups")
            );
        }
    }
    // Endpoints only one state has.
    for (title, mark, list, c) in
        [("only in the new state", '+', &r.added, r.new), ("only in the old state", '-', &r.removed, r.old)]
    {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(t, "\nendpoints {title} (reaches/reached by, per port):");
        let cap = if all { list.len() } else { ENDPOINTS_SHOWN };
        for (id, sums) in list.iter().take(cap) {
            let _ = writeln!(t, "{mark} {}  {}", c.endpoints[*id].name, per_port(r.ports, sums).join("  "));
        }
        if list.len() > cap {
            let _ = writeln!(t, "… and {} more (--all lists them)", list.len() - cap);
        }
    }
    // Findings.
    let f = &r.findings;
    // Indented as the objects are: lines that start with a sign are changed pairs.
    let high = f.added_at_least(podwall_findings::Severity::High);
    let _ = writeln!(t, "\nfindings: {} added ({high} high or worse), {} fixed", f.added.len(), f.fixed.len());
    for (mark, list) in [('+', &f.added), ('-', &f.fixed)] {
        let cap = if all { list.len() } else { GROUPS_SHOWN };
        for x in list.iter().take(cap) {
            let _ = writeln!(t, "  {mark} {:<8} {:<6} {x}", x.severity.to_string(), x.id);
        }
        if list.len() > cap {
            let _ = writeln!(t, "  {mark} … and {} more (--all lists them)", list.len() - cap);
        }
    }
    if let Some(g) = gate_words(r) {
        let _ = writeln!(t, "\n{g}");
    }
    t
}

/// `TCP/80 4/5` for each port: how many endpoints a lone one reaches and is reached by.
fn per_port(ports: &[(Protocol, u16)], sums: &[RowSummary]) -> Vec<String> {
    ports.iter().zip(sums).map(|(&p, s)| format!("{} {}/{}", port_words(p), s.egress_peers, s.ingress_peers)).collect()
}

/// What `--fail-on` decided, in one line.
fn gate_words(r: &Report) -> Option<String> {
    let (asked, held) = r.gate.as_ref()?;
    let list = |c: &[Condition]| c.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    Some(match held.is_empty() {
        true => format!("--fail-on {}: passes", list(asked)),
        false => format!("--fail-on {}: fails on {}", list(asked), list(held)),
    })
}

fn json_report(r: &Report) -> DiffOut {
    let new = r.new;
    let name_list =
        |c: &Cluster, ids: &[EndpointId]| -> Vec<String> { ids.iter().map(|&i| c.endpoints[i].name.clone()).collect() };
    let said = |id: u32, local: &str| r.sayings.list[id as usize].named(local);
    let ports = r
        .shown
        .iter()
        .zip(r.ports)
        .map(|(groups, &(proto, port))| {
            let sum = |allowed: bool| groups.iter().filter(|g| g.allowed == allowed).map(|g| g.pairs).sum::<usize>();
            let changes = groups
                .iter()
                .map(|g| {
                    let dirs = [(Direction::Egress, &g.sources), (Direction::Ingress, &g.destinations)];
                    let [egress, ingress] = [0, 1].map(|d| {
                        let (dir, ids) = dirs[d];
                        g.turns[d].map(|(b, f)| {
                            let local = local_name(new, ids, dir);
                            TurnOut { after: said(f, local), before: b.map(|b| said(b, local)) }
                        })
                    });
                    ChangeOut {
                        allowed: g.allowed,
                        egress,
                        from: name_list(new, &g.sources),
                        ingress,
                        pairs: g.pairs,
                        to: name_list(new, &g.destinations),
                    }
                })
                .collect();
            DiffPortOut {
                changes,
                newly_allowed: sum(true),
                newly_denied: sum(false),
                port,
                protocol: proto.to_string(),
            }
        })
        .collect();
    let endpoints = |c: &Cluster, list: &[(EndpointId, Vec<RowSummary>)]| -> Vec<LoneEndpointOut> {
        list.iter()
            .map(|(id, sums)| LoneEndpointOut {
                endpoint: c.endpoints[*id].name.clone(),
                ports: r
                    .ports
                    .iter()
                    .zip(sums)
                    .map(|(&(pr, po), s)| PortReachOut {
                        port: po,
                        protocol: pr.to_string(),
                        reached_by: s.ingress_peers,
                        reaches: s.egress_peers,
                    })
                    .collect(),
            })
            .collect()
    };
    let updates = r
        .diff
        .steps
        .iter()
        .map(|s| UpdateOut {
            change: s.what.clone(),
            classes: s.update.classes,
            endpoints: s.update.endpoints,
            rebuilt: s.update.rebuilt.clone(),
        })
        .collect();
    let names = |c: &[Condition]| c.iter().map(ToString::to_string).collect();
    DiffOut {
        added: endpoints(r.new, &r.added),
        changed: r.changed(),
        findings: DiffFindingsOut {
            added: r.findings.added.iter().map(|f| DiffFindingOut::of(f, &r.read_files.1)).collect(),
            fixed: r.findings.fixed.iter().map(|f| DiffFindingOut::of(f, &r.read_files.0)).collect(),
        },
        flows: DiffFlowsOut {
            closed: r.tally.closed,
            gone_endpoints_with_flows: r.tally.gone_endpoints_with_flows,
            new_endpoints_with_flows: r.tally.new_endpoints_with_flows,
            opened: r.tally.opened,
        },
        gate: r.gate.as_ref().map(|(asked, held)| GateOut { conditions: names(asked), failed: names(held) }),
        objects: r.diff.objects.iter().map(object_out).collect(),
        ports,
        removed: endpoints(r.old, &r.removed),
        updates,
        version: DIFF_VERSION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podwall_ir::EndpointKind;

    #[test]
    fn lists_of_names_are_shortened() {
        let mut c = Cluster::default();
        for n in ["a/1", "a/2", "a/3", "a/4", "a/5"] {
            c.endpoints.push(podwall_ir::Endpoint {
                name: n.into(),
                namespace: "a".into(),
                labels: Default::default(),
                ip: None,
                addresses: vec![],
                owner: None,
                ports: vec![],
                service_account: "default".into(),
                host_network: false,
                kind: EndpointKind::Pod,
                source: None,
            });
        }
        assert_eq!(names(&c, &[0, 1, 2, 3, 4], false), "a/1, a/2, a/3 and 2 more");
        assert_eq!(names(&c, &[0, 1, 2, 3, 4], true), "a/1, a/2, a/3, a/4, a/5");
        assert_eq!(names(&c, &[1], false), "a/2");
        assert_eq!(local_name(&c, &[1], Direction::Egress), "a/2");
        assert_eq!(local_name(&c, &[1, 2], Direction::Ingress), "the destination");
    }
}
