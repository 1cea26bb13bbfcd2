//! `podwall secrets`: encryption at rest as kube-apiserver stores values in etcd. The
//! formats, the prefix transformer and the findings are `podwall-encryption`'s; this
//! file reads flags, standard input and renders. Keys are never printed (except by
//! `rotate-config`, whose output is a configuration).
use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use podwall_encryption::{validate, Config, Transformer};

use crate::{Failure, Format};

/// Flags of `secrets`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(clap::Subcommand)]
enum SecretsCommand {
    /// Standard input as kube-apiserver would store it in etcd (standard output): the
    /// first provider's first key writes. Exit 2 on a configuration the API server
    /// refuses, or a kms write provider (not reachable offline).
    Encrypt(CryptArgs),
    /// A stored value (standard input) back to plaintext (standard output), reading by
    /// prefix as the API server does. On tampered data, a wrong key, another key path
    /// (aesgcm) or no matching provider: exit 2 and nothing on standard output.
    Decrypt(CryptArgs),
    /// Findings about an EncryptionConfiguration: the API server's refusals (EN001–EN012)
    /// and weaknesses it accepts (EN020–EN024). Exit 0: no finding; 1: some.
    Validate(ValidateArgs),
    /// The configuration with a fresh random 32-byte key first in every entry's write
    /// provider and the old keys kept after it for reading, as YAML. The output holds
    /// every key.
    RotateConfig(RotateArgs),
    /// Every value stored in etcd under the configured resources read with the
    /// configuration and, when the current write provider and key did not write it,
    /// written again with them: one compare-and-swap per key on the revision read (a
    /// concurrent write is read again, never overwritten). Counts on standard output,
    /// failed keys on standard error, a progress bar on a terminal. Exit 0: nothing
    /// failed; 1: some key failed; 2: bad input, or etcd lost (the key to resume at is
    /// printed).
    Rewrap(RewrapArgs),
}

#[derive(clap::Args)]
struct CryptArgs {
    /// The EncryptionConfiguration, as given to `--encryption-provider-config`.
    #[arg(long)]
    config: String,
    /// The resource whose providers apply: `secrets`, `configmaps`, `deployments.apps`.
    #[arg(long, default_value = "secrets")]
    resource: String,
    /// The value's etcd key, e.g. `/registry/secrets/NS/NAME` (aesgcm authenticates it).
    #[arg(long)]
    key_path: String,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The EncryptionConfiguration.
    #[arg(long)]
    config: String,
    /// Output format. JSON: the list of findings.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(clap::Args)]
struct RotateArgs {
    /// The EncryptionConfiguration.
    #[arg(long)]
    config: String,
    /// The new key's name (default: `key-<seconds since 1970>`).
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args)]
struct RewrapArgs {
    /// The EncryptionConfiguration (the API server's `--encryption-provider-config`,
    /// already rotated: its first provider's first key is the one to write with).
    #[arg(long)]
    config: String,
    /// etcd's client URL (its JSON gateway): `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(long, default_value = "http://127.0.0.1:2379")]
    etcd: String,
    /// The API server's `--etcd-prefix`.
    #[arg(long, default_value = "/registry")]
    prefix: String,
    /// Only these resources (repeatable; needed when the configuration names a
    /// wildcard such as `*.*`). Default: every resource the configuration names.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// Read and judge every value, write nothing; the counts say what would change.
    #[arg(long)]
    dry_run: bool,
    /// Start at this etcd key (as printed when a run stops); earlier keys are left.
    #[arg(long)]
    from_key: Option<String>,
    /// PEM CA bundle of etcd's server certificate (https).
    #[arg(long)]
    cacert: Option<std::path::PathBuf>,
    /// PEM client certificate, when etcd asks for one (`--client-cert-auth`).
    #[arg(long)]
    cert: Option<std::path::PathBuf>,
    /// PEM private key of `--cert`.
    #[arg(long)]
    key: Option<std::path::PathBuf>,
    /// Connections writing in parallel.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Keys read per range request.
    #[arg(long, default_value_t = 500)]
    page: usize,
    /// Seconds to wait for etcd on each request.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Output format. JSON: the counts.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `secrets`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    match a.command {
        SecretsCommand::Encrypt(c) => crypt(&c, true),
        SecretsCommand::Decrypt(c) => crypt(&c, false),
        SecretsCommand::Validate(v) => validate_config(&v),
        SecretsCommand::RotateConfig(r) => rotate(&r),
        SecretsCommand::Rewrap(r) => rewrap(&r),
    }
}

fn crypt(a: &CryptArgs, encrypt: bool) -> Result<ExitCode, Failure> {
    let input = podwall_load::load_paths(&[a.config.as_str()])?;
    let config = Config::load(&input.objects, &a.config)?;
    let transformer = Transformer::for_resource(&config, &a.resource);
    let mut data = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin().lock().read_to_end(&mut data)?;
    // Everything is computed before the first byte is written: a failure writes nothing.
    let out = if encrypt {
        zeroize::Zeroizing::new(transformer.write(&data, a.key_path.as_bytes())?)
    } else {
        transformer.read(&data, a.key_path.as_bytes())?.data
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn validate_config(a: &ValidateArgs) -> Result<ExitCode, Failure> {
    let input = podwall_load::load_paths(&[a.config.as_str()])?;
    let config = Config::read(&input.objects, &a.config)?;
    let findings = validate::findings(&config);
    crate::output::findings(&findings, a.format, &format!("{} entries", config.entries.len()))
}

fn rotate(a: &RotateArgs) -> Result<ExitCode, Failure> {
    let input = podwall_load::load_paths(&[a.config.as_str()])?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => {
            let secs =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            format!("key-{secs}")
        }
    };
    let yaml = podwall_encryption::rotate::rotate(&input.objects, &a.config, &name)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(yaml.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Failed keys listed on standard error before the rest are only counted.
const FAILURES_SHOWN: u64 = 20;

fn rewrap(a: &RewrapArgs) -> Result<ExitCode, Failure> {
    use podwall_etcd::{http, rewrap, Etcd};
    use std::io::IsTerminal as _;
    let input = podwall_load::load_paths(&[a.config.as_str()])?;
    let config = Config::load(&input.objects, &a.config)?;
    let targets = rewrap::targets(&config, &a.resources, &a.prefix).map_err(|e| format!("{}: {e}", a.config))?;
    let tls = http::Tls { ca: a.cacert.clone(), cert: a.cert.clone(), key: a.key.clone() };
    let timeout = std::time::Duration::from_secs(a.timeout.max(1));
    // Checked before anything is sent: a bad endpoint or TLS file is bad input.
    http::Client::new(&a.etcd, &tls, timeout)?;
    let connect = || http::Client::new(&a.etcd, &tls, timeout).map(Etcd::new);
    let options = rewrap::Options {
        dry_run: a.dry_run,
        from_key: a.from_key.as_ref().map(|k| k.as_bytes().to_vec()),
        page: a.page.max(1),
        workers: a.workers.max(1),
        ..rewrap::Options::default()
    };
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template("{wide_bar} {pos}/{len} keys {per_sec} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    });
    let mut failed = 0u64;
    let result = rewrap::run(&connect, &config, &targets, &options, |event| match event {
        rewrap::Event::Counted(_, n) => {
            if let Some(b) = &bar {
                b.inc_length(n);
            }
        }
        rewrap::Event::Key(key, outcome) => {
            if let rewrap::Outcome::Failed(why) = outcome {
                failed += 1;
                if failed <= FAILURES_SHOWN {
                    let line = format!("failed: {}: {why}", String::from_utf8_lossy(key));
                    match &bar {
                        Some(b) => b.println(line),
                        None => eprintln!("{line}"),
                    }
                }
            }
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if failed > FAILURES_SHOWN {
        eprintln!("... and {} more failed keys", failed - FAILURES_SHOWN);
    }
    let what = targets.iter().map(|t| t.prefix.as_str()).collect::<Vec<_>>().join(" ");
    match result {
        Ok(counts) => {
            crate::output::rewrap(&counts, a.dry_run, &what, None, a.format)?;
            Ok(if counts.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Err(stopped) => {
            let resume = String::from_utf8_lossy(&stopped.resume).into_owned();
            crate::output::rewrap(&stopped.counts, a.dry_run, &what, Some(&resume), a.format)?;
            if resume.is_empty() {
                return Err(Failure::Error(stopped.error.to_string()));
            }
            Err(Failure::Error(format!("{}; resume with --from-key {resume}", stopped.error)))
        }
    }
}
