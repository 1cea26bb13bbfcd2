//! `podwall matrix`: every pod pair for a port.
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use podwall_engine::Index;
use podwall_ir::{Cluster, Protocol};

use crate::input::{load, protocol};
use crate::{Failure, Format, InputArgs};

/// Flags of `matrix`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Destination port (1-65535); without it, one matrix for every port a pod declares.
    #[arg(long, value_parser = crate::input::port_number)]
    port: Option<u16>,
    /// Protocol: TCP, UDP, SCTP, or a number (TCP when only --port is given). Without
    /// --port, only the declared ports of this protocol.
    #[arg(long)]
    protocol: Option<String>,
    /// Output format. JSON: `{"version": 2, "port", "protocol", "pods", "allowed"}` with
    /// `allowed[i][j]` meaning pods[i] → pods[j]; an array of those without --port. The
    /// port is a number (version 1 gave it as a string).
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Per pod instead of per pair: isolated or not in each direction, and how many pods
    /// it reaches and is reached by on each port.
    #[arg(long)]
    summary: bool,
}

fn write_summary(
    out: &mut impl Write,
    cluster: &Cluster,
    index: &Index,
    ports: &[(Protocol, u16)],
    json: bool,
) -> std::io::Result<()> {
    use podwall_ir::Direction;
    let keys: Vec<(Protocol, Option<u16>)> = ports.iter().map(|&(pr, p)| (pr, Some(p))).collect();
    let sums: Vec<Vec<podwall_engine::RowSummary>> = index.summaries(&keys);
    let n = cluster.endpoints.len();
    // Text columns are as wide as their widest cell, header included.
    let cols: Vec<String> = ports.iter().map(|(pr, p)| format!("{pr}/{p} out/in")).collect();
    let widths: Vec<usize> = cols
        .iter()
        .zip(&sums)
        .map(|(h, s)| {
            s.iter().map(|r| format!("{}/{}", r.egress_peers, r.ingress_peers).len()).fold(h.len(), usize::max)
        })
        .collect();
    let name_width = cluster.endpoints.iter().map(|e| e.name.chars().count()).fold(3, usize::max);
    let row = |name: &str, ingress: &str, egress: &str, cells: &[String]| {
        let cells: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        format!("{name:<name_width$}  {ingress:<8}  {egress:<8}  {}", cells.join("  ")).trim_end().to_string()
    };
    if json {
        write!(out, "[")?;
    } else {
        writeln!(out, "{}", row("POD", "INGRESS", "EGRESS", &cols))?;
    }
    for i in 0..n {
        let e = &cluster.endpoints[i];
        let (gi, ge) = (index.isolated(i, Direction::Ingress), index.isolated(i, Direction::Egress));
        if json {
            let row = crate::output::SummaryRowOut {
                isolated: crate::output::IsolationOut { egress: ge, ingress: gi },
                pod: &e.name,
                ports: ports
                    .iter()
                    .zip(&sums)
                    .map(|(&(pr, p), s)| crate::output::PortReachOut {
                        port: p,
                        protocol: pr.to_string(),
                        reached_by: s[i].ingress_peers,
                        reaches: s[i].egress_peers,
                    })
                    .collect(),
            };
            let row = serde_json::to_string(&row)?;
            write!(out, "{}\n  {}", if i == 0 { "" } else { "," }, row)?;
        } else {
            let word = |g: bool| if g { "isolated" } else { "open" };
            let cells: Vec<String> =
                sums.iter().map(|s| format!("{}/{}", s[i].egress_peers, s[i].ingress_peers)).collect();
            writeln!(out, "{}", row(&e.name, word(gi), word(ge), &cells))?;
        }
    }
    if json {
        writeln!(out, "]")?;
    }
    Ok(())
}

fn write_json(
    out: &mut impl Write,
    cluster: &Cluster,
    index: &Index,
    proto: Protocol,
    port: u16,
) -> std::io::Result<()> {
    let m = index.matrix(proto, Some(port));
    let pods: Vec<&str> = cluster.endpoints.iter().map(|e| e.name.as_str()).collect();
    podwall_engine::json::write_matrix(out, proto, port, &pods, |i| m.row(i))
}

fn write_grid(
    out: &mut impl Write,
    cluster: &Cluster,
    index: &Index,
    proto: Protocol,
    port: u16,
) -> std::io::Result<()> {
    let m = index.matrix(proto, Some(port));
    let n = cluster.endpoints.len();
    let width = cluster.endpoints.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let num = n.saturating_sub(1).to_string().len();
    writeln!(out, "{proto}/{port}   rows: source, columns: destination   . allowed   X denied")?;
    // Column headers: the row numbers, written vertically.
    for digit in 0..num {
        write!(out, "{:w$}  ", "", w = width + num + 1)?;
        for j in 0..n {
            let s = format!("{j:>num$}");
            write!(out, "{}", &s[digit..digit + 1])?;
        }
        writeln!(out)?;
    }
    for (i, e) in cluster.endpoints.iter().enumerate() {
        write!(out, "{i:>num$} {:<width$}  ", e.name)?;
        for a in m.row(i) {
            write!(out, "{}", if a { '.' } else { 'X' })?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Runs `matrix`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let cluster = load(&a.input)?;
    let proto = protocol(a.protocol.as_deref().unwrap_or("TCP"))?;
    if !proto.has_ports() {
        return Err(Failure::Error(format!("matrix needs a protocol with ports (TCP, UDP, SCTP), not {proto}")));
    }
    let index = Index::new(&cluster);
    let ports: Vec<(Protocol, u16)> = match a.port {
        Some(p) => vec![(proto, p)],
        None => {
            let all = cluster.declared_ports();
            match a.protocol {
                Some(_) => all.into_iter().filter(|&(pr, _)| pr == proto).collect(),
                None => all,
            }
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 18, stdout.lock());
    if a.summary {
        write_summary(&mut out, &cluster, &index, &ports, a.format == Format::Json)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    match a.format {
        Format::Json => {
            let many = a.port.is_none();
            if many {
                write!(out, "[")?;
            }
            for (k, (pr, p)) in ports.iter().enumerate() {
                if k > 0 {
                    writeln!(out, ",")?;
                }
                write_json(&mut out, &cluster, &index, *pr, *p)?;
            }
            if many {
                write!(out, "]")?;
            }
            writeln!(out)?;
        }
        Format::Text => {
            if ports.is_empty() {
                writeln!(out, "no pod declares a container port; give --port")?;
            }
            for (k, (pr, p)) in ports.iter().enumerate() {
                if k > 0 {
                    writeln!(out)?;
                }
                write_grid(&mut out, &cluster, &index, *pr, *p)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
