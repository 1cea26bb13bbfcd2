//! `podwall cni`: the CNI plugin. The runtime runs it with `CNI_*` variables and the
//! network configuration on standard input; the result or the error JSON goes to
//! standard output (the error also to standard error, for people). Installed in the
//! runtime's CNI folder as `podwall` and run without arguments, the binary does the same.
use std::io::{Read, Write};
use std::process::ExitCode;

use crate::Failure;

/// Flags of `cni` (none: the protocol is the environment and standard input).
#[derive(clap::Args)]
pub struct Args {}

/// Runs one CNI invocation.
pub fn run(_: Args) -> Result<ExitCode, Failure> {
    Ok(invoke())
}

/// Whether the binary was started as a CNI plugin: no arguments and `CNI_COMMAND` set.
pub fn started_as_plugin() -> bool {
    std::env::args_os().len() == 1 && std::env::var_os("CNI_COMMAND").is_some()
}

/// One invocation with the process's environment and standard input.
pub fn invoke() -> ExitCode {
    let mut stdin = Vec::new();
    let command = std::env::var("CNI_COMMAND").unwrap_or_default();
    let read = if command == "VERSION" { Ok(0) } else { std::io::stdin().read_to_end(&mut stdin) };
    let out = match read {
        Ok(_) => podwall_cni::run(&|k| std::env::var(k).ok(), &stdin),
        Err(e) => {
            let err =
                podwall_cni::error::Error::new(podwall_cni::error::IO_FAILURE, format!("reading standard input: {e}"));
            podwall_cni::Outcome { stdout: serde_json::to_string(&err).unwrap_or_default(), code: 1, error: Some(err) }
        }
    };
    if let Some(e) = &out.error {
        eprintln!("podwall cni {command}: {e}");
    }
    let mut so = std::io::stdout().lock();
    let _ =
        so.write_all(out.stdout.as_bytes())
            .and_then(|()| if out.stdout.is_empty() { Ok(()) } else { so.write_all(b"\n") });
    ExitCode::from(out.code)
}
