//! `podwall-bench rewrap`: `secrets rewrap` against a scratch etcd. It starts `etcd`
//! (from `PATH`) on loopback ports with a temporary data folder, writes N secrets under
//! an old aescbc key, rewraps them under a new aesgcm key, runs again (everything
//! current), and stops etcd.
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use podwall_encryption::{Config, Transformer};
use podwall_etcd::{http, rewrap, Etcd};

use crate::{Failure, Format};

/// Flags of `bench rewrap`.
#[derive(clap::Args)]
pub struct Args {
    /// Secrets to write and rewrap.
    #[arg(long, default_value_t = 10_000)]
    secrets: usize,
    /// Bytes of each secret's (plaintext) value.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Connections writing in parallel.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// The etcd binary.
    #[arg(long, default_value = "etcd")]
    etcd_binary: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The figures of one run.
#[derive(serde::Serialize)]
struct Report {
    secrets: usize,
    value_bytes: usize,
    workers: usize,
    seed_seconds: f64,
    rewrap_seconds: f64,
    rewrap_keys_per_second: f64,
    current_pass_seconds: f64,
    current_pass_keys_per_second: f64,
    counts: rewrap::Counts,
}

/// Stops etcd and removes its data when the bench ends, however it ends.
struct Scratch(Child, std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// A configuration for `secrets` whose providers are `(type, key name, key)` in order.
fn config(providers: &[(&str, &str, &[u8])]) -> Result<Config, Failure> {
    let providers: Vec<String> = providers
        .iter()
        .map(|(kind, name, secret)| {
            let secret = base64::engine::general_purpose::STANDARD.encode(secret);
            format!(r#"{{"{kind}": {{"keys": [{{"name": "{name}", "secret": "{secret}"}}]}}}}"#)
        })
        .collect();
    let doc = format!(
        r#"{{"apiVersion": "{}", "kind": "EncryptionConfiguration",
            "resources": [{{"resources": ["secrets"], "providers": [{}]}}]}}"#,
        podwall_encryption::config::API_VERSION,
        providers.join(",")
    );
    let doc: serde_json::Value = serde_json::from_str(&doc)?;
    Ok(Config::from_value(&doc, &podwall_load::Source { file: "bench".into(), line: 1 })?)
}

/// Runs the benchmark.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    let old_key = ("aescbc", "old", &b"0123456789abcdef0123456789abcdef"[..]);
    let old = config(&[old_key])?;
    let new = config(&[("aesgcm", "new", &b"fedcba9876543210fedcba9876543210"[..]), old_key])?;

    let dir = std::env::temp_dir().join(format!("podwall-bench-rewrap-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = || -> Result<u16, Failure> { Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port()) };
    let (client, peer) = (port()?, port()?);
    let endpoint = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new(&a.etcd_binary)
        .args(["--name", "bench", "--log-level", "error"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .arg("--initial-cluster")
        .arg(format!("bench={peer_url}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e} (Debian: apt-get install etcd-server)", a.etcd_binary))?;
    let _scratch = Scratch(child, dir);
    let timeout = Duration::from_secs(30);
    let connect = || http::Client::new(&endpoint, &http::Tls::default(), timeout).map(Etcd::new);
    let mut etcd = connect()?;
    let started = Instant::now();
    while etcd.count(b"\0", b"\0").is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(Failure::Error(format!("etcd did not answer at {endpoint}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let t = Transformer::for_resource(&old, "secrets");
    let started = Instant::now();
    let mut value = vec![b'x'; a.size];
    for i in 0..a.secrets {
        let key = format!("/registry/secrets/ns{}/secret-{i:06}", i % 100);
        value[..8.min(a.size)].copy_from_slice(&format!("{i:08}").as_bytes()[..8.min(a.size)]);
        etcd.put(key.as_bytes(), &t.write(&value, key.as_bytes())?)?;
    }
    let seed = started.elapsed().as_secs_f64();

    let targets = rewrap::targets(&new, &[], "/registry")?;
    let options = rewrap::Options { workers: a.workers.max(1), ..rewrap::Options::default() };
    let started = Instant::now();
    let counts = rewrap::run(&connect, &new, &targets, &options, |_| {})?;
    let first = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = rewrap::run(&connect, &new, &targets, &options, |_| {})?;
    let second = started.elapsed().as_secs_f64();
    if counts.rewritten != a.secrets as u64 || again.skipped != a.secrets as u64 {
        return Err(Failure::Error(format!("rewrap did not rewrite every secret: {counts:?}, then {again:?}")));
    }
    let r = Report {
        secrets: a.secrets,
        value_bytes: a.size,
        workers: options.workers,
        seed_seconds: seed,
        rewrap_seconds: first,
        rewrap_keys_per_second: a.secrets as f64 / first,
        current_pass_seconds: second,
        current_pass_keys_per_second: a.secrets as f64 / second,
        counts,
    };
    match a.format {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(&r)?),
        Format::Text => {
            crate::outln!("{} secrets of {} bytes, {} workers", r.secrets, r.value_bytes, r.workers);
            crate::outln!("seed (one put at a time)  {:>8.2} s", r.seed_seconds);
            crate::outln!(
                "rewrap                    {:>8.2} s  {:>8.0} keys/s",
                r.rewrap_seconds,
                r.rewrap_keys_per_second
            );
            crate::outln!(
                "second pass (all current) {:>8.2} s  {:>8.0} keys/s",
                r.current_pass_seconds,
                r.current_pass_keys_per_second
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
