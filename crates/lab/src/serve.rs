//! Responders: on every pod, a TCP listener that accepts and answers, and a UDP socket
//! that echoes, on each declared port. One thread per pod, bound inside the pod's
//! namespace, polling its sockets so that it can be stopped.
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use podwall_ir::Protocol;

use crate::{netns, state_dir, Lab, LabError};

/// What a TCP responder writes before it closes.
pub const ANSWER: &[u8] = b"podwall\n";

/// Running responders; dropping them stops them and closes their sockets.
pub struct Responders {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Responders {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

enum Sock {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

fn bind(pod: &crate::Pod) -> io::Result<Vec<Sock>> {
    let mut socks = Vec::new();
    for &(proto, port) in &pod.ports {
        let at = SocketAddr::new(pod.address, port);
        let what = |e: io::Error| io::Error::new(e.kind(), format!("{}/{port}: {e}", Protocol(proto)));
        let s = if proto == Protocol::TCP.0 {
            let l = TcpListener::bind(at).map_err(what)?;
            l.set_nonblocking(true)?;
            Sock::Tcp(l)
        } else {
            let u = UdpSocket::bind(at).map_err(what)?;
            u.set_nonblocking(true)?;
            Sock::Udp(u)
        };
        socks.push(s);
    }
    Ok(socks)
}

fn fd(s: &Sock) -> i32 {
    match s {
        Sock::Tcp(l) => l.as_raw_fd(),
        Sock::Udp(u) => u.as_raw_fd(),
    }
}

fn respond(socks: Vec<Sock>, stop: Arc<AtomicBool>) {
    let mut fds: Vec<libc::pollfd> =
        socks.iter().map(|s| libc::pollfd { fd: fd(s), events: libc::POLLIN, revents: 0 }).collect();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `fds` is a live array of pollfd of the length given.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        if n <= 0 {
            continue;
        }
        for (p, s) in fds.iter_mut().zip(&socks) {
            if p.revents == 0 {
                continue;
            }
            p.revents = 0;
            match s {
                Sock::Tcp(l) => {
                    while let Ok((mut c, _)) = l.accept() {
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_write_timeout(Some(Duration::from_millis(200)));
                        let _ = c.write_all(ANSWER);
                    }
                }
                Sock::Udp(u) => {
                    while let Ok((len, from)) = u.recv_from(&mut buf) {
                        let _ = u.send_to(&buf[..len], from);
                    }
                }
            }
        }
    }
}

/// Starts the responders of every pod of `lab` in this process; returns once every
/// socket is bound.
pub fn start(lab: &Lab) -> Result<Responders, LabError> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut bound = Vec::new();
    for pod in &lab.pods {
        if pod.ports.is_empty() {
            continue;
        }
        let p = pod.clone();
        let socks = netns::run_in(&pod.netns, move || bind(&p))
            .map_err(|e| LabError(format!("pod {} (namespace {}): responder: {e}", pod.name, pod.netns)))?;
        bound.push(socks);
    }
    for socks in bound {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || respond(socks, stop)));
    }
    Ok(Responders { stop, threads })
}

fn pid_file(name: &str) -> PathBuf {
    state_dir(name).join("serve.pid")
}

fn ready_file(name: &str) -> PathBuf {
    state_dir(name).join("serve.ready")
}

/// The body of `podwall lab serve`: responders for lab `name` until killed. Writes its pid
/// and, once every socket is bound, a readiness mark. `lock_fd` is the lab's lock as
/// inherited from the `lab up` that started it ([`spawn_process`]): held until the mark is
/// written, so that no `down` of the lab runs before the pid is on record.
pub fn run_forever(name: &str, lock_fd: Option<i32>) -> Result<(), LabError> {
    // Only a descriptor that really is this lab's lock file (the same file, whatever path
    // leads to it) is let go of later.
    let lock_fd = lock_fd.filter(|fd| {
        use std::os::unix::fs::MetadataExt;
        let open = std::fs::metadata(format!("/proc/self/fd/{fd}"));
        let file = std::fs::metadata(crate::lock::path(name));
        matches!((open, file), (Ok(a), Ok(b)) if a.dev() == b.dev() && a.ino() == b.ino())
    });
    let started = (|| {
        let lab = crate::load(name)?;
        std::fs::write(pid_file(name), std::process::id().to_string())
            .map_err(|e| LabError(format!("{}: {e}", pid_file(name).display())))?;
        let responders = start(&lab);
        let mark = match &responders {
            Ok(_) => "ready".to_string(),
            Err(e) => format!("error: {e}"),
        };
        std::fs::write(ready_file(name), mark).map_err(|e| LabError(format!("{}: {e}", ready_file(name).display())))?;
        responders
    })();
    if let Some(fd) = lock_fd {
        crate::lock::release_inherited(fd);
    }
    let _keep = started?;
    loop {
        std::thread::park();
    }
}

/// Starts `exe lab serve --name NAME` as a detached process (own session, no terminal)
/// and waits until its responders are bound. The process inherits `lock` (the lab's) and
/// holds it until it is ready, also if the caller dies first.
pub fn spawn_process(exe: &std::path::Path, lock: &crate::Lock) -> Result<(), LabError> {
    start_process(exe, lock)?;
    wait_ready(lock.name())
}

/// Starts the responder process as [`spawn_process`] does, without waiting for it to be
/// ready.
pub fn start_process(exe: &std::path::Path, lock: &crate::Lock) -> Result<std::process::Child, LabError> {
    use std::os::unix::process::CommandExt;
    let name = lock.name();
    let fd = lock.fd();
    let mut cmd = Command::new(exe);
    // The name last: `ps` shows which lab a responder serves at the end of its line.
    cmd.args(["lab", "serve", "--lock-fd", &fd.to_string(), "--name", name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid(2) and fcntl(2) are async-signal-safe, as the child between fork and
    // exec requires; clearing close-on-exec of the lock's descriptor in the child keeps
    // it open across exec there only.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| LabError(format!("lab {name}: starting the responder {}: {e}", exe.display())))
}

fn wait_ready(name: &str) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mark) = std::fs::read_to_string(ready_file(name)) {
            return match mark.strip_prefix("error: ") {
                Some(e) => Err(LabError(e.to_string())),
                None => Ok(()),
            };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(LabError(format!("lab {name}: the responder did not get ready in 20 s")))
}

/// Kills lab `name`'s responder process if its pid file names a live `lab serve` of
/// this lab (a recycled pid is left alone).
pub fn stop_process(name: &str) {
    let Ok(pid) = std::fs::read_to_string(pid_file(name)) else { return };
    let Ok(pid) = pid.trim().parse::<i32>() else { return };
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let ours = args.windows(2).any(|w| w == [b"lab".as_slice(), b"serve".as_slice()])
        && args.windows(2).any(|w| w == [b"--name".as_slice(), name.as_bytes()]);
    if !ours {
        return;
    }
    // SAFETY: kill(2) of a process checked above to be this lab's responder.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether some thread of process `pid` still runs. A killed process whose parent has not
/// reaped it yet is a zombie: its sockets are closed and it holds no namespace, so it
/// counts as gone (waiting for the reaper, which may be slow, took seconds per `down`).
fn alive(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.filter_map(|t| t.ok()).any(|t| {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else { return false };
        // The state is the field after the command name, which is in parentheses.
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    })
}
