//! Noticing that a folder changed, by polling: each tick lists the manifest files (as the
//! loader walks them) with their modification time and size; only when that list differs
//! are the files read and hashed, and only a different content hash counts as a change
//! (a `touch` or a rewrite with the same bytes does not).
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One file as listed: path, modification time, size.
type Stat = (PathBuf, Option<SystemTime>, u64);

/// What the watcher last saw of the folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    stats: Vec<Stat>,
    /// A hash of every file's path and bytes, in walk order.
    pub content: u64,
}

impl Seen {
    /// The newest modification time among the files.
    pub fn newest(&self) -> Option<SystemTime> {
        self.stats.iter().filter_map(|s| s.1).max()
    }
}

fn stats(dir: &Path) -> Result<Vec<Stat>, String> {
    let files = podwall_load::manifest_files(dir).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let m = std::fs::metadata(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        out.push((f, m.modified().ok(), m.len()));
    }
    Ok(out)
}

fn hash(stats: &[Stat]) -> Result<u64, String> {
    let mut h = DefaultHasher::new();
    for (f, _, _) in stats {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        f.hash(&mut h);
        bytes.hash(&mut h);
    }
    Ok(h.finish())
}

/// Looks at `dir` now.
pub fn look(dir: &Path) -> Result<Seen, String> {
    let stats = stats(dir)?;
    let content = hash(&stats)?;
    Ok(Seen { stats, content })
}

/// Whether `dir` changed since `seen`: `Ok(Some(now))` when its content did, `Ok(None)`
/// when not (reading no file when no time or size moved).
pub fn changed(dir: &Path, seen: &Seen) -> Result<Option<Seen>, String> {
    let stats = stats(dir)?;
    if stats == seen.stats {
        return Ok(None);
    }
    let content = hash(&stats)?;
    let now = Seen { stats, content };
    Ok(if content == seen.content { None } else { Some(now) })
}

/// Like [`changed`], but also saying when only times or sizes moved, so that the caller
/// remembers the new listing and does not hash again.
pub fn relisted(dir: &Path, seen: &Seen) -> Result<(Seen, bool), String> {
    let stats = stats(dir)?;
    if stats == seen.stats {
        return Ok((seen.clone(), false));
    }
    let content = hash(&stats)?;
    let changed = content != seen.content;
    Ok((Seen { stats, content }, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podwall-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn same_bytes_rewritten_is_no_change_and_other_bytes_of_the_same_size_are() {
        let d = dir("bytes");
        std::fs::write(d.join("a.yaml"), "kind: A\n").unwrap();
        let seen = look(&d).unwrap();
        std::fs::write(d.join("a.yaml"), "kind: A\n").unwrap();
        let (seen, changed) = relisted(&d, &seen).unwrap();
        assert!(!changed, "the same bytes written again are no change");
        std::fs::write(d.join("a.yaml"), "kind: B\n").unwrap();
        let (_, changed) = relisted(&d, &seen).unwrap();
        assert!(changed, "other bytes of the same size are a change");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_new_or_removed_manifest_is_a_change_and_other_files_are_not_watched() {
        let d = dir("files");
        std::fs::write(d.join("a.yaml"), "kind: A\n").unwrap();
        let seen = look(&d).unwrap();
        std::fs::write(d.join("notes.txt"), "not a manifest").unwrap();
        assert!(changed(&d, &seen).unwrap().is_none(), "a file the loader does not read is no change");
        std::fs::write(d.join("b.yml"), "kind: B\n").unwrap();
        let seen = changed(&d, &seen).unwrap().expect("a new manifest is a change");
        std::fs::remove_file(d.join("a.yaml")).unwrap();
        assert!(changed(&d, &seen).unwrap().is_some(), "a removed manifest is a change");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
