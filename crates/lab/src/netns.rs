//! Named network namespaces, made the way `ip netns add` makes them (a bind mount of the
//! namespace on `/run/netns/NAME`, so `ip netns` sees them), and threads that run inside one.
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Where named namespaces live.
pub const NETNS_DIR: &str = "/run/netns";

/// The file of namespace `name`.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

fn cstr(p: &std::path::Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| io::Error::other("NUL in a path"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Creates namespace `name` and runs `f` inside it, on a thread of its own (unsharing
/// moves only that thread). Fails if the name is taken.
pub fn create<T: Send + 'static>(name: &str, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    std::fs::create_dir_all(NETNS_DIR)?;
    let target = path(name);
    std::fs::OpenOptions::new().write(true).create_new(true).open(&target)?;
    let t = target.clone();
    let made = std::thread::spawn(move || -> io::Result<T> {
        // SAFETY: unshare(2) affects the calling thread only; it is this short-lived one.
        check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
        let src = cstr(std::path::Path::new("/proc/thread-self/ns/net"))?;
        let dst = cstr(&t)?;
        // SAFETY: both paths are NUL-terminated and live across the call.
        check(unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) })?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?;
    if made.is_err() {
        let _ = remove(name);
    }
    made
}

/// Moves the calling thread into namespace `name`. Use it on threads of one's own.
pub fn enter(ns: &File) -> io::Result<()> {
    // SAFETY: setns(2) on an open namespace file; moves the calling thread only.
    check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })
}

/// Opens namespace `name`.
pub fn open(name: &str) -> io::Result<File> {
    File::open(path(name))
}

/// Runs `f` in namespace `name` on a thread of its own.
pub fn run_in<T: Send + 'static>(name: &str, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    let ns = open(name)?;
    std::thread::spawn(move || {
        enter(&ns)?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Deletes namespace `name`: unmounts and unlinks its file. The namespace itself goes
/// away with the last process or socket in it.
pub fn remove(name: &str) -> io::Result<()> {
    let p = path(name);
    let c = cstr(&p)?;
    // SAFETY: NUL-terminated path; an unmounted path only yields EINVAL, ignored.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    match std::fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The named namespaces whose names start with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else { return Vec::new() };
    let mut v: Vec<String> =
        dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with(prefix)).collect();
    v.sort();
    v
}

/// Writes a sysctl of the calling thread's network namespace (`/proc/sys/net` is read
/// through the caller's namespace).
pub fn sysctl(key: &str, value: &str) -> io::Result<()> {
    let p = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&p, value).map_err(|e| io::Error::new(e.kind(), format!("{p}: {e}")))
}
