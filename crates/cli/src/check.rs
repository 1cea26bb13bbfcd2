//! `podwall check`: one connection, both directions, with reasons.
use std::process::ExitCode;

use podwall_engine::{evaluate, HttpRequest, Packet};

use crate::input::{load_pair, protocol};
use crate::output::{CheckOut, IcmpOut};
use crate::words::{direction_out, reason, rule_ref};
use crate::{Failure, Format, InputArgs};

/// Flags of `check`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// The source: `NS/NAME`, `NS/KIND/NAME` or an IP address.
    #[arg(long)]
    from: String,
    /// The destination: `NS/NAME`, `NS/KIND/NAME` or an IP address.
    #[arg(long)]
    to: String,
    /// Destination port (required for TCP, UDP and SCTP): a number, or the name of a port
    /// the destination pod declares.
    #[arg(long)]
    port: Option<String>,
    /// Protocol: TCP, UDP, SCTP, ICMP, or a number.
    #[arg(long, default_value = "TCP")]
    protocol: String,
    /// ICMP type (with --protocol ICMP).
    #[arg(long)]
    icmp_type: Option<u8>,
    /// ICMP code (with --protocol ICMP).
    #[arg(long, default_value_t = 0)]
    icmp_code: u8,
    /// HTTP method, to evaluate rules with an HTTP match.
    #[arg(long)]
    http_method: Option<String>,
    /// HTTP path, to evaluate rules with an HTTP match.
    #[arg(long)]
    http_path: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `check`: exit 0 when allowed, 1 when denied.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let proto = protocol(&a.protocol)?;
    if proto.has_ports() && a.port.is_none() {
        return Err(Failure::Error(format!("--port is required for {proto}")));
    }
    if !proto.has_ports() && a.port.is_some() {
        return Err(Failure::Error(format!(
            "--port does not apply to {proto}, which has no ports (give --icmp-type for ICMP)"
        )));
    }
    if proto.has_ports() && (a.icmp_type.is_some() || a.icmp_code != 0) {
        return Err(Failure::Error(format!("--icmp-type and --icmp-code apply to ICMP, not {proto}")));
    }
    let (cluster, src, dst) = load_pair(&a.input, &a.from, &a.to)?;
    let port = match a.port.as_deref() {
        None => None,
        Some(p) => Some(match crate::input::port_number(p) {
            Ok(n) => n,
            Err(why) => {
                // A name: the destination's declared port of that name and protocol.
                let declared = dst.policy_endpoint(&cluster).and_then(|d| {
                    cluster.endpoints[d].ports.iter().find(|q| q.name.as_deref() == Some(p) && q.protocol == proto)
                });
                match declared {
                    Some(q) if p.parse::<u32>().is_err() => q.port,
                    _ => {
                        return Err(Failure::Error(format!(
                            "--port: {why}; the destination declares no {proto} port named {p:?}"
                        )))
                    }
                }
            }
        }),
    };
    let http = (a.http_method.is_some() || a.http_path.is_some())
        .then(|| HttpRequest { method: a.http_method.clone(), path: a.http_path.clone() });
    let icmp = (!proto.has_ports()).then(|| (a.icmp_type.unwrap_or(8), a.icmp_code));
    let pkt = Packet { src, dst, protocol: proto, port: port.filter(|_| proto.has_ports()), icmp, http };
    let v = evaluate(&cluster, &pkt);
    let (sname, dname) = (src.display(&cluster), dst.display(&cluster));
    let notes = crate::words::caveats(&cluster, src, dst);
    match a.format {
        Format::Json => {
            let out = CheckOut {
                allowed: v.allowed,
                egress: direction_out(&cluster, &v.egress, &sname),
                from: sname.clone(),
                icmp: pkt.icmp.map(|(kind, code)| IcmpOut { code, kind }),
                ingress: direction_out(&cluster, &v.ingress, &dname),
                notes: notes.clone(),
                port: pkt.port,
                protocol: proto.to_string(),
                to: dname.clone(),
            };
            crate::outln!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text => {
            let what = match (pkt.port, pkt.icmp) {
                (Some(p), _) => format!("{proto}/{p}"),
                (None, Some((t, c))) => format!("{proto} type {t} code {c}"),
                (None, None) => proto.to_string(),
            };
            crate::outln!("{} — {sname} → {dname} {what}", if v.allowed { "ALLOWED" } else { "DENIED" });
            for (d, local) in [(&v.egress, &sname), (&v.ingress, &dname)] {
                let word = if d.allowed { "allowed" } else { "denied" };
                crate::outln!("  {:<8} {word}: {}", d.direction.to_string(), reason(&cluster, d, local));
                for r in &d.logged {
                    crate::outln!("           logged by {}", rule_ref(&cluster, r, d.direction));
                }
                for r in &d.passed {
                    crate::outln!("           passed on by {}", rule_ref(&cluster, r, d.direction));
                }
                for r in &d.unchecked_http {
                    crate::outln!(
                        "           note: {} has an HTTP match that was not evaluated (give --http-method/--http-path); counted as matching",
                        rule_ref(&cluster, r, d.direction)
                    );
                }
            }
        }
    }
    if a.format == Format::Text {
        for n in &notes {
            crate::outln!("  note: {n}");
        }
    }
    Ok(if v.allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
