//! Loading the cluster and resolving names the user types.
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use podwall_engine::Addr;
use podwall_ir::{Cluster, Protocol};

use crate::{Failure, InputArgs};

/// Unreadable input skipped under `--strict`: the command answers, then exits 2.
static STRICT_SKIPS: AtomicUsize = AtomicUsize::new(0);

/// How many files or objects were skipped under `--strict`.
pub fn strict_skips() -> usize {
    STRICT_SKIPS.load(Ordering::Relaxed)
}

/// Counts what `--skip-invalid` passed over, for `--strict`.
pub fn count_invalid(args: &InputArgs, invalid: usize) {
    if args.strict {
        STRICT_SKIPS.fetch_add(invalid, Ordering::Relaxed);
    }
}

/// Loads and compiles the input, printing warnings and the skipped-object count to stderr.
pub fn load(args: &InputArgs) -> Result<Cluster, Failure> {
    size_threads(&args.files);
    let loaded = compile_input(args)?;
    report(args, &loaded.cluster, &loaded.skipped)?;
    count_invalid(args, loaded.invalid);
    Ok(loaded.cluster)
}

/// Prints the warnings (among them what `--skip-invalid` passed over) and what was
/// skipped; with `--fail-on-unknown-policy`, a policy podwall cannot evaluate ends the
/// command.
fn report(args: &InputArgs, cluster: &Cluster, skipped: &Skipped) -> Result<(), Failure> {
    for w in &cluster.warnings {
        eprintln!("warning[{}]: {w}", w.id);
    }
    report_skipped(skipped, args.verbose, "");
    if args.fail_on_unknown_policy && !cluster.unevaluated.is_empty() {
        let names: Vec<&str> = cluster.unevaluated.iter().map(|u| u.object.as_str()).collect();
        return Err(Failure::Error(format!(
            "{} polic{} podwall cannot evaluate (--fail-on-unknown-policy): {}",
            names.len(),
            if names.len() == 1 { "y" } else { "ies" },
            names.join(", ")
        )));
    }
    Ok(())
}

/// Below this much input, worker threads cost more than they save (starting them and
/// waking them is about a millisecond; the whole job is a few).
const PARALLEL_FROM_BYTES: u64 = 4 << 20;

/// Runs everything on the calling thread when the input is small, unless
/// `RAYON_NUM_THREADS` says otherwise. Must run before anything uses rayon.
pub fn size_threads(files: &[String]) {
    // No files: a live cluster, whose size is not known before it is read.
    if std::env::var_os("RAYON_NUM_THREADS").is_some() || files.is_empty() {
        return;
    }
    let mut bytes = 0u64;
    for f in files {
        if f == "-" {
            return;
        }
        let Ok(files) = podwall_load::manifest_files(std::path::Path::new(f)) else { return };
        bytes += files.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum::<u64>();
    }
    if bytes < PARALLEL_FROM_BYTES {
        // Fails only if the pool exists already, and then it is simply used.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build_global();
    }
}

/// The full endpoint name a user's `NS/NAME`, `NS/KIND/NAME` or `NAME` stands for; `None`
/// for an IP address.
fn endpoint_name(what: &str) -> Option<String> {
    if what.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(if what.contains('/') { what.to_string() } else { format!("default/{what}") })
}

/// Loads what can bear on the connection `from → to` (names or addresses as the user
/// typed them) and resolves both ends. Other pods and the policies of other namespaces
/// are parsed but not typed. With an address among the ends any pod may be meant, and
/// with a name that is not found the error lists the namespace's pods: then everything
/// is loaded.
pub fn load_pair(args: &InputArgs, from: &str, to: &str) -> Result<(Cluster, Addr, Addr), Failure> {
    size_threads(&args.files);
    // From a cluster, reading is the cost, not typing: everything is read once.
    let names = endpoint_name(from).zip(endpoint_name(to)).filter(|_| !crate::live::is_live(args));
    if let Some(r) = names.and_then(|(s, d)| podwall_dialects::Relevance::between(&[&s, &d])) {
        let options =
            podwall_load::Options { keep: &|k| r.keeps(k), skip_invalid: args.skip_invalid, ..Default::default() };
        let mut input = podwall_load::load_paths_with(&args.files, options)?;
        let cluster = podwall_dialects::compile_lenient(&mut input)?;
        if let (Ok(s), Ok(d)) = (resolve(&cluster, from), resolve(&cluster, to)) {
            report(args, &cluster, &input.skipped)?;
            count_invalid(args, input.invalid.len());
            if args.verbose {
                eprintln!(
                    "note: {} object(s) cannot bear on this connection and were not read past their names",
                    input.unread
                );
            }
            return Ok((cluster, s, d));
        }
    }
    let cluster = load(args)?;
    let (s, d) = (resolve(&cluster, from)?, resolve(&cluster, to)?);
    Ok((cluster, s, d))
}

/// Objects passed over because podwall does not read their kind: kind → where each was.
pub type Skipped = std::collections::BTreeMap<String, Vec<podwall_ir::Source>>;

/// A compiled input and what reading it passed over.
pub struct Loaded {
    /// The cluster; its warnings name each file or object `--skip-invalid` skipped.
    pub cluster: Cluster,
    /// Objects of kinds podwall does not read.
    pub skipped: Skipped,
    /// How many files or objects `--skip-invalid` skipped.
    pub invalid: usize,
}

/// Loads and compiles what the input flags name (files or a cluster), printing nothing.
pub fn compile_input(args: &InputArgs) -> Result<Loaded, Failure> {
    let options = podwall_load::Options { skip_invalid: args.skip_invalid, ..Default::default() };
    let mut input = crate::live::read(args, options)?;
    let cluster = podwall_dialects::compile_lenient(&mut input)?;
    Ok(Loaded { cluster, skipped: input.skipped, invalid: input.invalid.len() })
}

/// Loads and compiles files, folders or `-`, printing nothing; `skip_invalid` passes
/// over what cannot be read in the folders' files (see `--skip-invalid`).
pub fn compile(files: &[String], skip_invalid: bool) -> Result<Loaded, Failure> {
    let options = podwall_load::Options { skip_invalid, ..Default::default() };
    let mut input = podwall_load::load_paths_with(files, options)?;
    let cluster = podwall_dialects::compile_lenient(&mut input)?;
    Ok(Loaded { cluster, skipped: input.skipped, invalid: input.invalid.len() })
}

/// Prints the skipped objects (`verbose`) or their count; `what` names the input when
/// there are several (e.g. `"in the old state "`).
pub fn report_skipped(skipped: &Skipped, verbose: bool, what: &str) {
    let count: usize = skipped.values().map(Vec::len).sum();
    if count == 0 {
        return;
    }
    if verbose {
        for (kind, places) in skipped {
            for p in places {
                eprintln!("skipped: {p}: {kind} (podwall does not read this kind)");
            }
        }
    } else {
        eprintln!("note: skipped {count} object(s) {what}of kinds podwall does not read (--verbose names them)");
    }
}

/// Resolves `NS/NAME`, `NS/KIND/NAME`, `NAME` (in `default`) or an IP address. An IP
/// that is a pod's address means that pod.
pub fn resolve(cluster: &Cluster, what: &str) -> Result<Addr, Failure> {
    if let Ok(ip) = what.parse::<IpAddr>() {
        return Ok(cluster.endpoint_by_ip(ip).map(Addr::Endpoint).unwrap_or(Addr::Ip(ip)));
    }
    let name = endpoint_name(what).unwrap_or_default();
    if let Some(id) = cluster.endpoint(&name) {
        return Ok(Addr::Endpoint(id));
    }
    if let Some(pods) = cluster.represented.get(&name) {
        return Err(Failure::Error(format!(
            "{what} is not an endpoint of its own: its pods in the input stand for it ({})",
            pods.join(", ")
        )));
    }
    // `ns/deployment/web`: kinds are matched in any case, as kubectl does.
    if let [ns, kind, n] = name.splitn(3, '/').collect::<Vec<_>>()[..] {
        let same = |e: &&podwall_ir::Endpoint| match &e.kind {
            podwall_ir::EndpointKind::Template(k) => {
                k.eq_ignore_ascii_case(kind) && e.namespace == ns && e.name.ends_with(&format!("/{n}"))
            }
            podwall_ir::EndpointKind::Pod => false,
        };
        if let Some(e) = cluster.endpoints.iter().find(same) {
            return Ok(Addr::Endpoint(cluster.endpoint(&e.name).unwrap_or_default()));
        }
    }
    let ns = name.split('/').next().unwrap_or_default();
    let short = name.rsplit('/').next().unwrap_or_default();
    // A workload of that name, when the user named it like a pod.
    let workloads: Vec<&str> = cluster
        .endpoints
        .iter()
        .filter(|e| e.namespace == ns && e.name != name && e.name.rsplit('/').next() == Some(short))
        .map(|e| e.name.as_str())
        .collect();
    if !workloads.is_empty() {
        return Err(Failure::Error(format!(
            "no pod or workload named {what:?}; did you mean {}?",
            workloads.join(" or ")
        )));
    }
    const SHOWN: usize = 8;
    let near: Vec<&str> = cluster.endpoints.iter().filter(|e| e.namespace == ns).map(|e| e.name.as_str()).collect();
    let hint = if near.is_empty() {
        let namespaces: Vec<&str> = cluster.namespaces.keys().map(String::as_str).take(SHOWN).collect();
        format!("namespace {ns:?} has no pods in the input; namespaces: {}", namespaces.join(", "))
    } else {
        let more = near.len().saturating_sub(SHOWN);
        let rest = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("pods in {ns}: {}{rest}", near[..near.len().min(SHOWN)].join(", "))
    };
    Err(Failure::Error(format!("no pod or workload named {what:?} ({hint})")))
}

/// Parses a protocol flag.
pub fn protocol(s: &str) -> Result<Protocol, Failure> {
    Protocol::parse(s)
        .ok_or_else(|| Failure::Error(format!("unknown protocol {s:?} (expected TCP, UDP, SCTP, ICMP or a number)")))
}

/// Parses a port flag: a number from 1 to 65535. A name is refused with what to do: a
/// named port means a number only on the pod that declares it.
pub fn port_number(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        Ok(n) => Err(format!("port {n} is out of range (1-65535)")),
        Err(_) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => Err(format!(
            "{s:?} is a port name; a named port is a number only on the pod that declares it: give the number (`podwall explain` lists each pod's ports)"
        )),
        Err(_) => Err(format!("{s:?} is not a port number")),
    }
}

/// Streams a command's output to `file`, or to standard output without one, through a
/// buffer: for outputs too large to build as one string first.
pub fn write_with(
    file: Option<&str>,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Failure> {
    use std::io::Write as _;
    match file {
        Some(file) => {
            let name = |e: std::io::Error| Failure::Error(format!("{file}: {e}"));
            let mut out = std::io::BufWriter::new(std::fs::File::create(file).map_err(name)?);
            write(&mut out).and_then(|()| out.flush()).map_err(name)?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Writes a command's whole output to `file`, or to standard output without one.
pub fn write_out(file: Option<&str>, text: &str) -> Result<(), Failure> {
    match file {
        Some(file) => std::fs::write(file, text).map_err(|e| Failure::Error(format!("{file}: {e}")))?,
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
