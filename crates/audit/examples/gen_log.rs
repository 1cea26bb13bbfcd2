//! Writes a generated audit log to standard output, to measure the log readers on large
//! files: `cargo run --release -p podwall-audit --example gen_log -- REQUESTS [SEED] > audit.log`
//! (each request is two events, about 1.2 KB).
use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let requests = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    podwall_audit::synth::write_log(&mut out, requests, seed)?;
    out.flush()
}
