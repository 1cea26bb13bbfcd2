//! The two states `diff` compares: files and folders (`-f`, `--to`), or `-f` as it is at
//! two git revisions (`--base-rev`, `--head-rev`). Each is read with pod specs kept, for
//! the posture checks, and compiled as every command compiles.
use podwall_ir::Cluster;
use podwall_load::{Input, Options};

use crate::{Failure, InputArgs};

/// One state.
pub struct Side {
    /// Everything read.
    pub input: Input,
    /// Its network model.
    pub cluster: Cluster,
    /// The paths it was read from, as its files' names start (for finding identities).
    pub roots: Vec<String>,
}

fn options(skip_invalid: bool) -> Options<'static> {
    Options { raw: &podwall_load::podspec::carries_pod_spec, skip_invalid, ..Default::default() }
}

fn compiled(mut input: Input, roots: Vec<String>) -> Result<Side, Failure> {
    let cluster = podwall_dialects::compile_lenient(&mut input)?;
    Ok(Side { input, cluster, roots })
}

/// A state read from files, folders or `-`.
pub fn from_paths(paths: &[String], skip_invalid: bool) -> Result<Side, Failure> {
    let input = podwall_load::load_paths_with(paths, options(skip_invalid))?;
    compiled(input, paths.to_vec())
}

/// The state the input flags name: `-f`, or a live cluster (`--kubeconfig`).
pub fn from_input(args: &InputArgs) -> Result<Side, Failure> {
    let input = crate::live::read(args, options(args.skip_invalid))?;
    compiled(input, args.files.clone())
}

/// Both states from `paths` at two revisions (`which` names them in messages: `base`,
/// `head`). A path that holds no manifests at one revision adds nothing to that side (a
/// folder added by the change is all new, one removed all gone), said on standard
/// error; at neither revision, it is an error.
pub fn from_revisions(paths: &[String], revs: [&str; 2], skip_invalid: bool) -> Result<[Side; 2], Failure> {
    let read = |rev: &str, which: &str| {
        podwall_load::git::load_at_revision(paths, rev, options(skip_invalid))
            .map_err(|e| Failure::Error(format!("{which} revision {rev}: {e}")))
    };
    let (base, head) = (read(revs[0], "base")?, read(revs[1], "head")?);
    for p in paths {
        let why = |r: &podwall_load::git::Revision| r.empty.iter().find(|(q, _)| q == p).map(|(_, w)| *w);
        match (why(&base), why(&head)) {
            (Some(b), Some(h)) => {
                return Err(Failure::Error(format!(
                    "{p}: no manifests at either revision (at {}: {b}; at {}: {h})",
                    revs[0], revs[1]
                )))
            }
            (Some(w), None) => {
                eprintln!("note: {p} {w} at base revision {}: everything under it is new", revs[0])
            }
            (None, Some(w)) => {
                eprintln!("note: {p} {w} at head revision {}: everything under it is gone", revs[1])
            }
            (None, None) => {}
        }
    }
    let side = |r: podwall_load::git::Revision, which: &str, rev: &str| {
        let roots = r.roots;
        compiled(r.input, roots).map_err(|e| match e {
            Failure::Error(m) => Failure::Error(format!("{which} revision {rev}: {m}")),
            other => other,
        })
    };
    Ok([side(base, "base", revs[0])?, side(head, "head", revs[1])?])
}
