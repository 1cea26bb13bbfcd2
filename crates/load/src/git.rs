//! Manifests as they are at a git revision, read through the `git` program
//! (`rev-parse`, `ls-tree -r -z`, `cat-file --batch`): the working tree and the index are
//! never touched, so a dirty checkout reads the same as a clean one.
//!
//! A path names a file or folder inside a repository (it need not exist in the working
//! tree: it may exist only at a revision). Its files are named by their path from the
//! repository's top in every message, and go through [`crate::load_documents_with`]:
//! exactly the rules files on disk are read with.
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::read::{is_manifest, load_documents_with, Document, Input, Options};
use crate::InputError;
use podwall_ir::Source;

/// A git repository's working tree, found from a path inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Its top level.
    top: PathBuf,
}

/// What a path is at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtRevision {
    /// A file, or a folder holding manifests: its documents, and whether they were found
    /// by walking a folder (then `--skip-invalid` may pass over them).
    Found {
        /// The files, named from the repository's top.
        documents: Vec<Document>,
        /// Whether the path is a folder.
        walked: bool,
    },
    /// The path does not exist at that revision.
    Absent,
    /// A folder with no `.yaml`, `.yml` or `.json` file below it.
    NoManifests,
}

fn error(file: &str, message: impl Into<String>) -> InputError {
    InputError::at(Source { file: file.to_string(), line: 0 }, message)
}

/// `path` made absolute and without `.` or `..` (lexically: it may not exist).
fn absolute(path: &Path) -> Result<PathBuf, std::io::Error> {
    let joined = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Runs git with `args` in `dir`; its standard output, or its first line of complaint.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `git` ({e}): reading a revision needs the git program on PATH"))?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let first = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("git failed").trim();
    Err(first.strip_prefix("fatal: ").unwrap_or(first).to_string())
}

impl Repository {
    /// The repository whose working tree holds `path`, and `path` as git names it there
    /// (from the top, `/`-separated; empty for the top itself). `path` need not exist:
    /// the nearest folder above it that does says which repository it is in.
    pub fn containing(path: &Path) -> Result<(Repository, String), InputError> {
        let shown = path.display().to_string();
        let abs = absolute(path).map_err(|e| error(&shown, e.to_string()))?;
        let mut dir = abs.clone();
        let mut rest: Vec<String> = Vec::new();
        while !dir.is_dir() {
            let Some(name) = dir.file_name() else { return Err(error(&shown, "no folder of this path exists")) };
            rest.push(name.to_string_lossy().into_owned());
            dir.pop();
        }
        rest.reverse();
        let top = git(&dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            error(&shown, format!("not inside a git repository (--base-rev and --head-rev read a repository): {e}"))
        })?;
        let top = PathBuf::from(String::from_utf8_lossy(&top).trim_end_matches(['\n', '\r']));
        if top.as_os_str().is_empty() {
            return Err(error(&shown, "not inside a git working tree (a bare repository has no paths to name)"));
        }
        let (top_real, dir_real) = match (std::fs::canonicalize(&top), std::fs::canonicalize(&dir)) {
            (Ok(t), Ok(d)) => (t, d),
            (Err(e), _) | (_, Err(e)) => return Err(error(&shown, e.to_string())),
        };
        let inside = dir_real.strip_prefix(&top_real).map_err(|_| error(&shown, "not inside its git working tree"))?;
        let mut parts: Vec<String> =
            inside.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        parts.extend(rest);
        Ok((Repository { top: top_real }, parts.join("/")))
    }

    /// The commit `rev` names (a branch, a tag, `HEAD~2`, an object name).
    pub fn commit(&self, rev: &str) -> Result<String, String> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(format!("{rev:?} is not a revision"));
        }
        let spec = format!("{rev}^{{commit}}");
        let out = git(&self.top, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])
            .map_err(|_| format!("unknown revision {rev:?} (not a branch, tag or commit of this repository)"))?;
        let id = String::from_utf8_lossy(&out).trim().to_string();
        if id.is_empty() {
            return Err(format!("unknown revision {rev:?} (not a branch, tag or commit of this repository)"));
        }
        Ok(id)
    }

    /// What `inner` (as [`Repository::containing`] gives it) is at `commit`.
    pub fn at(&self, commit: &str, inner: &str) -> Result<AtRevision, String> {
        let mut args = vec!["ls-tree", "-r", "-z", "--full-tree", commit];
        if !inner.is_empty() {
            args.extend(["--", inner]);
        }
        let listing = git(&self.top, &args)?;
        // `<mode> <type> <object>\t<path>`, each ended by NUL. Symbolic links and
        // submodules are not followed.
        let mut blobs: Vec<(String, String)> = Vec::new();
        let mut exact = false;
        for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((meta, path)) = entry.split_once('\t') else { continue };
            let under =
                inner.is_empty() || path == inner || path.strip_prefix(inner).is_some_and(|r| r.starts_with('/'));
            let mut m = meta.split(' ');
            let (mode, kind, object) = (m.next().unwrap_or(""), m.next().unwrap_or(""), m.next().unwrap_or(""));
            if !under || kind != "blob" || mode == "120000" {
                continue;
            }
            if path == inner {
                exact = true;
                blobs = vec![(object.to_string(), path.to_string())];
                break;
            }
            if is_manifest(Path::new(path)) {
                blobs.push((object.to_string(), path.to_string()));
            }
        }
        if blobs.is_empty() {
            // An empty folder is not in a tree: a path git lists nothing under is absent,
            // unless it is a folder of other files.
            let any = listing.split(|b| *b == 0).any(|e| !e.is_empty());
            return Ok(if any { AtRevision::NoManifests } else { AtRevision::Absent });
        }
        let documents = self.blobs(&blobs)?;
        Ok(AtRevision::Found { documents, walked: !exact })
    }

    /// The contents of `(object, path)` blobs, through one `git cat-file --batch`.
    fn blobs(&self, blobs: &[(String, String)]) -> Result<Vec<Document>, String> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run `git cat-file` ({e})"))?;
        let mut stdin = child.stdin.take().ok_or("git cat-file: no standard input")?;
        let names: Vec<String> = blobs.iter().map(|(o, _)| o.clone()).collect();
        // Written from another thread: git answers while it reads, and a pipe is small.
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            for n in names {
                writeln!(stdin, "{n}")?;
            }
            Ok(())
        });
        let mut out = BufReader::new(child.stdout.take().ok_or("git cat-file: no standard output")?);
        let mut documents = Vec::with_capacity(blobs.len());
        for (object, path) in blobs {
            let mut header = String::new();
            out.read_line(&mut header).map_err(|e| format!("git cat-file: {e}"))?;
            let size = match header.trim_end().split(' ').collect::<Vec<_>>()[..] {
                [_, "blob", size] => size.parse::<usize>().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("git cat-file could not read {path} ({object}): {}", header.trim_end()))?;
            let mut bytes = vec![0; size + 1];
            out.read_exact(&mut bytes).map_err(|e| format!("git cat-file: {e}"))?;
            bytes.pop(); // the newline after the content
            documents.push(Document { path: path.clone(), bytes });
        }
        drop(out);
        let _ = writer.join();
        let _ = child.wait();
        Ok(documents)
    }
}

/// Every path of `paths` as it is at revision `rev`, read as [`crate::load_paths_with`]
/// reads files and folders.
#[derive(Debug, Default)]
pub struct Revision {
    /// What was read.
    pub input: Input,
    /// The paths (as given) that hold no manifest at this revision, and why: they add
    /// nothing to it.
    pub empty: Vec<(String, &'static str)>,
    /// Each path as git names it (from its repository's top), in the order given.
    pub roots: Vec<String>,
}

/// Reads `paths` (files or folders inside git working trees) as they are at `rev`.
/// Errors name the path: not in a repository, an unknown revision, a blob git cannot
/// give, and every reading error of the files (named from the repository's top).
pub fn load_at_revision<P: AsRef<Path>>(paths: &[P], rev: &str, options: Options<'_>) -> Result<Revision, InputError> {
    let mut out = Revision::default();
    for p in paths {
        let p = p.as_ref();
        let shown = p.display().to_string();
        if shown == "-" {
            return Err(error("-", "standard input has no git revisions: give a file or folder of a repository"));
        }
        let (repo, inner) = Repository::containing(p)?;
        let commit = repo.commit(rev).map_err(|e| error(&shown, e))?;
        out.roots.push(inner.clone());
        match repo.at(&commit, &inner).map_err(|e| error(&shown, format!("at revision {rev}: {e}")))? {
            AtRevision::Found { documents, walked } => {
                out.input.merge(load_documents_with(&documents, walked, options)?);
            }
            AtRevision::Absent => out.empty.push((shown, "does not exist")),
            AtRevision::NoManifests => out.empty.push((shown, "holds no manifests (.yaml, .yml or .json files)")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_absolute_lexically() {
        let p = absolute(Path::new("/a/./b/../c")).expect("absolute");
        assert_eq!(p, PathBuf::from("/a/c"));
    }
}
