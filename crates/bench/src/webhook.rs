//! `podwall-bench webhook`: the webhook under a fixed request rate on loopback. It starts
//! `podwall webhook` as a child process with a fresh self-signed certificate, so that
//! the memory sampled is the server's alone, sends the load, and stops the child.
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use podwall_webhook::bench::{self, Report};
use podwall_webhook::tls;

use crate::{Failure, Format};

/// Flags of `bench webhook`.
#[derive(clap::Args)]
pub struct Args {
    /// Requests per second to send (open loop: each is due at a fixed time).
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Seconds to send for.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Kept-alive connections the requests are spread over.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The `podwall` binary to start as the webhook (default: the one beside this
    /// program, else the first on PATH).
    #[arg(long)]
    podwall: Option<std::path::PathBuf>,
}

/// Kills the child webhook when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the benchmark.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let dir = std::env::temp_dir().join(format!("podwall-bench-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (cert, key) = tls::self_signed()?;
    let (cert_file, key_file, ns_file) = (dir.join("tls.crt"), dir.join("tls.key"), dir.join("namespaces.yaml"));
    std::fs::write(&cert_file, &cert)?;
    std::fs::write(&key_file, &key)?;
    std::fs::write(&ns_file, bench::SAMPLE_NAMESPACES)?;
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let child = Command::new(crate::podwall_binary(a.podwall.as_deref())?)
        .arg("webhook")
        .arg("--tls-cert")
        .arg(&cert_file)
        .arg("--tls-key")
        .arg(&key_file)
        .arg("-f")
        .arg(&ns_file)
        .arg("--listen")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server(child);
    let client_tls = tls::client_config(&cert)?;
    let result = bench::wait_healthy(addr, client_tls.clone(), Duration::from_secs(20)).and_then(|()| {
        bench::run(bench::Options {
            addr,
            tls: client_tls,
            rate: a.rate,
            duration: Duration::from_secs(a.duration),
            connections: a.connections,
            bodies: bench::sample_reviews(),
            pid: Some(server.0.id()),
        })
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let report = result.map_err(Failure::Error)?;
    match a.format {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print(&report)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print(r: &Report) -> Result<(), Failure> {
    let kib = |k: Option<u64>| k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "?".into());
    crate::outln!("rate       {:.0} requests/s asked, {:.1} answered/s", r.rate_requested, r.rate_achieved);
    crate::outln!("answered   {} (errors {})", r.answered, r.errors);
    crate::outln!(
        "latency    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (from when each request was due)",
        r.p50_ms,
        r.p99_ms,
        r.max_ms
    );
    crate::outln!("service    p50 {:.2} ms, p99 {:.2} ms (sending to answer read)", r.service_p50_ms, r.service_p99_ms);
    crate::outln!("server RSS {} idle, {} peak under load", kib(r.rss_idle_kib), kib(r.rss_peak_kib));
    Ok(())
}
