//! One lab at a time per name: the commands that make, change or remove lab `NAME`
//! (`lab up`, `lab apply`, `lab down`) hold an exclusive `flock` on
//! `/run/podwall/labs/NAME.lock`, so that two of them on one name run one after the
//! other instead of interleaving (a `down` that runs while an `up` is starting its
//! responder would otherwise miss the responder, which then outlives the lab). Labs of
//! different names never share a lock, nor anything else.
//!
//! The lock belongs to the open file, not to the process: the responder that `lab up`
//! starts inherits it and lets go only once it has recorded its pid and bound its
//! sockets, so even a `lab up` killed right after starting it leaves a responder that
//! the next `down` or `--force` finds. Whoever leaves the name with no lab behind
//! deletes the lock file; a waiter that then gets the lock of a deleted file takes the
//! file again.
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;

use crate::{check_name, LabError, STATE_DIR};

/// The lock file of lab `name`: next to the lab's state folder, not inside it, since
/// `down` removes the folder while holding the lock. A lab name has no dot, so no lab's
/// folder is named like this.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("{name}.lock"))
}

/// The exclusive hold of one lab name. Nested holds on one thread share it (`up
/// --force` removes the old lab under the lock it holds); other threads and processes
/// wait. Released when the last clone is dropped.
#[derive(Clone)]
pub struct Lock {
    held: Arc<Held>,
}

struct Held {
    name: String,
    file: File,
}

impl Lock {
    /// The lab name held.
    pub fn name(&self) -> &str {
        &self.held.name
    }

    /// The locked file's descriptor, for a process started under the lock that must keep
    /// holding it (see the module documentation).
    pub fn fd(&self) -> RawFd {
        self.held.file.as_raw_fd()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Still holding the lock: no lab of this name can appear until the file closes.
        if !crate::exists(&self.name) {
            let _ = std::fs::remove_file(path(&self.name));
        }
    }
}

/// The holds of this process, by lab name and thread.
static HELD: Mutex<Vec<(String, ThreadId, Weak<Held>)>> = Mutex::new(Vec::new());

/// Waits until this thread holds lab `name`.
pub fn lock(name: &str) -> Result<Lock, LabError> {
    check_name(name)?;
    let me = std::thread::current().id();
    {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|(_, _, h)| h.strong_count() > 0);
        if let Some(h) = held.iter().filter(|(n, t, _)| n == name && *t == me).find_map(|(_, _, h)| h.upgrade()) {
            return Ok(Lock { held: h });
        }
    }
    let p = path(name);
    let file = acquire(&p).map_err(|e| LabError(format!("lab {name}: locking {}: {e}", p.display())))?;
    let held = Arc::new(Held { name: name.to_string(), file });
    HELD.lock().unwrap_or_else(|e| e.into_inner()).push((name.to_string(), me, Arc::downgrade(&held)));
    Ok(Lock { held })
}

fn acquire(p: &std::path::Path) -> io::Result<File> {
    std::fs::create_dir_all(STATE_DIR)?;
    loop {
        let file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(p)?;
        loop {
            // SAFETY: flock(2) on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        // The holder before may have deleted the file (its lab gone) after this one
        // opened it: a lock on a file no longer at the path excludes nobody.
        let mine = file.metadata()?;
        match std::fs::metadata(p) {
            Ok(now) if now.dev() == mine.dev() && now.ino() == mine.ino() => return Ok(file),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
}

/// In a process started under a lock (the responder): lets go of the inherited
/// descriptor `fd`. The lock itself ends when no process has it open any more.
pub fn release_inherited(fd: RawFd) {
    // SAFETY: `fd` was named by the parent as the lock it passed on and nothing in this
    // process opened or owns it; close(2) of a descriptor that is not open only fails.
    unsafe { libc::close(fd) };
}
