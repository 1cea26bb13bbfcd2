//! Probes: real connections from each pod's namespace to every pod, in parallel.
//!
//! A verdict is "reached" when the destination's kernel answered: a TCP connection
//! accepted, a UDP echo, or a refusal (RST or ICMP port unreachable: the packet got
//! through and nothing listens there). It is "blocked" when nothing came back before the
//! timeout, which is what the ruleset's drop does. So a pod that does not declare a port
//! still gives an exact network verdict for it, as the model's matrix does.
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use podwall_ir::Protocol;

use crate::{netns, Lab, LabError};

/// How long a probe waits for an answer.
pub const TIMEOUT: Duration = Duration::from_millis(300);
/// Probes in flight at once.
const WORKERS: usize = 96;

fn refused(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset)
}

fn tcp(dst: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&dst, TIMEOUT) {
        Ok(mut s) => {
            let _ = s.set_read_timeout(Some(TIMEOUT));
            let mut b = [0u8; 16];
            // Connected is reached; the answer only confirms it is the responder.
            let _ = s.read(&mut b);
            true
        }
        Err(e) => refused(&e),
    }
}

fn udp(dst: SocketAddr) -> bool {
    let any: SocketAddr =
        if dst.is_ipv4() { "0.0.0.0:0".parse().expect("addr") } else { "[::]:0".parse().expect("addr") };
    let Ok(s) = UdpSocket::bind(any) else { return false };
    if s.connect(dst).is_err() || s.set_read_timeout(Some(TIMEOUT)).is_err() {
        return false;
    }
    let msg = b"podwall probe";
    if let Err(e) = s.send(msg) {
        return refused(&e);
    }
    let mut b = [0u8; 64];
    match s.recv(&mut b) {
        Ok(n) => &b[..n] == msg,
        Err(e) => refused(&e),
    }
}

/// Probes every ordered pod pair of `lab` on `protocol`/`port`: `result[i][j]` says
/// whether pod i reached pod j.
pub fn probe(lab: &Lab, protocol: Protocol, port: u16) -> Result<Vec<Vec<bool>>, LabError> {
    if protocol != Protocol::TCP && protocol != Protocol::UDP {
        return Err(LabError(format!("the lab probes TCP and UDP, not {protocol}")));
    }
    let n = lab.pods.len();
    let mut files = Vec::with_capacity(n);
    for p in &lab.pods {
        files
            .push(netns::open(&p.netns).map_err(|e| LabError(format!("pod {} (namespace {}): {e}", p.name, p.netns)))?);
    }
    let files = Arc::new(files);
    let addrs: Arc<Vec<std::net::IpAddr>> = Arc::new(lab.pods.iter().map(|p| p.address).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let jobs = n * n;
    let workers: Vec<_> = (0..WORKERS.min(jobs.max(1)))
        .map(|_| {
            let (files, addrs, next) = (files.clone(), addrs.clone(), next.clone());
            std::thread::spawn(move || -> io::Result<Vec<(usize, bool)>> {
                let mut out = Vec::new();
                let mut here = usize::MAX;
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= jobs {
                        return Ok(out);
                    }
                    let (i, j) = (k / n, k % n);
                    if here != i {
                        netns::enter(&files[i])?;
                        here = i;
                    }
                    let dst = SocketAddr::new(addrs[j], port);
                    let ok = if protocol == Protocol::TCP { tcp(dst) } else { udp(dst) };
                    out.push((k, ok));
                }
            })
        })
        .collect();
    let mut result = vec![vec![false; n]; n];
    for w in workers {
        let got = w.join().map_err(|_| LabError("a probe thread panicked".into()))?;
        for (k, ok) in got.map_err(|e| LabError(format!("lab {}: entering a pod namespace: {e}", lab.name)))? {
            result[k / n][k % n] = ok;
        }
    }
    Ok(result)
}
