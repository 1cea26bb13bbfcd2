//! Attachment records: what ADD made for (network, container, interface), written
//! before the kernel is touched and removed by DEL, so that DEL and GC can undo an
//! attachment without `prevResult` and never touch another container's interface.
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io as io_err, Error, IO_FAILURE};

/// What one attachment made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_IFNAME.
    pub ifname: String,
    /// CNI_NETNS.
    pub netns: String,
    /// The node-side interface.
    pub host: String,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
}

/// The folder of network `name`'s records.
pub fn dir(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(name)
}

fn file(state_dir: &Path, name: &str, id: &str, ifname: &str) -> PathBuf {
    // Container ids and interface names hold no '/'; the id starts with an alphanumeric.
    dir(state_dir, name).join(format!("{id}.{ifname}.json"))
}

/// Writes `r` (atomically: a temporary file renamed).
pub fn save(state_dir: &Path, name: &str, r: &Record) -> Result<(), Error> {
    let d = dir(state_dir, name);
    std::fs::create_dir_all(&d).map_err(io_err(IO_FAILURE, d.display()))?;
    let p = file(state_dir, name, &r.container_id, &r.ifname);
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(r).expect("plain data")).map_err(io_err(IO_FAILURE, tmp.display()))?;
    std::fs::rename(&tmp, &p).map_err(io_err(IO_FAILURE, p.display()))
}

/// The record of (`id`, `ifname`), if any.
pub fn load(state_dir: &Path, name: &str, id: &str, ifname: &str) -> Result<Option<Record>, Error> {
    let p = file(state_dir, name, id, ifname);
    match std::fs::read(&p) {
        Ok(b) => {
            serde_json::from_slice(&b).map(Some).map_err(|e| Error::new(IO_FAILURE, format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(IO_FAILURE, format!("{}: {e}", p.display()))),
    }
}

/// Removes the record of (`id`, `ifname`); none is no error.
pub fn remove(state_dir: &Path, name: &str, id: &str, ifname: &str) -> Result<(), Error> {
    let p = file(state_dir, name, id, ifname);
    match std::fs::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::new(IO_FAILURE, format!("{}: {e}", p.display())))
        }
        _ => Ok(()),
    }
}

/// Every record of network `name`.
pub fn all(state_dir: &Path, name: &str) -> Vec<Record> {
    let Ok(d) = std::fs::read_dir(dir(state_dir, name)) else { return Vec::new() };
    let mut v: Vec<Record> = d
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    v.sort_by(|a, b| (&a.container_id, &a.ifname).cmp(&(&b.container_id, &b.ifname)));
    v
}
