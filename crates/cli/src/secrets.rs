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

/// Runs `secrets`.
pub fn run(a: Args) -> Result<ExitCode, Failure> {
    match a.command {
        SecretsCommand::Encrypt(c) => crypt(&c, true),
        SecretsCommand::Decrypt(c) => crypt(&c, false),
        SecretsCommand::Validate(v) => validate_config(&v),
        SecretsCommand::RotateConfig(r) => rotate(&r),
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
