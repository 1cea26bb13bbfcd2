//! Delegated plugins (section 4): `ipam.type` is run from `CNI_PATH` with the same
//! environment and the whole configuration on standard input; its standard error goes to
//! podwall's.
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::error::{Error, DELEGATE_FAILED, INVALID_ENVIRONMENT};
use crate::types::Success;
use crate::Env;

/// Finds `plugin` in the folders of `CNI_PATH`.
pub fn find(env: &Env, plugin: &str) -> Result<PathBuf, Error> {
    if env.path.is_empty() {
        return Err(Error::new(
            INVALID_ENVIRONMENT,
            format!("CNI_PATH is empty: the delegated plugin {plugin:?} cannot be found"),
        ));
    }
    env.path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::new(DELEGATE_FAILED, format!("failed to find plugin {plugin:?} in path [{}]", env.path)))
}

/// Runs `plugin` with `command`, the caller's environment and `stdin`; its result, if it
/// printed one.
pub fn run(env: &Env, plugin: &str, command: &str, stdin: &[u8]) -> Result<Option<Success>, Error> {
    let exe = find(env, plugin)?;
    let mut cmd = Command::new(&exe);
    cmd.env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", &env.container_id)
        .env("CNI_NETNS", &env.netns)
        .env("CNI_IFNAME", &env.ifname)
        .env("CNI_ARGS", &env.args)
        .env("CNI_PATH", &env.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| Error::new(DELEGATE_FAILED, format!("{}: {e}", exe.display())))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin)
            .map_err(|e| Error::new(DELEGATE_FAILED, format!("{}: writing its input: {e}", exe.display())))?;
    }
    let out = child.wait_with_output().map_err(|e| Error::new(DELEGATE_FAILED, format!("{}: {e}", exe.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(match serde_json::from_str::<Error>(&text) {
            Ok(mut e) => {
                e.msg = format!("{plugin} {command}: {}", e.msg);
                e
            }
            Err(_) => Error::new(DELEGATE_FAILED, format!("{plugin} {command} failed ({})", out.status))
                .details(text.trim().to_string()),
        });
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::new(DELEGATE_FAILED, format!("{plugin} {command}: its result is not a CNI result: {e}"))
            .details(text.trim().to_string())
    })
}
