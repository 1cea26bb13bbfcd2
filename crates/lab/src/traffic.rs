//! Traffic for the data-plane benchmark: a small-packet UDP flood, UDP request/response
//! round trips on one flow, TCP connect-request-response cycles (each a new connection,
//! so each is judged by the ruleset), and a paced UDP flow that counts what it loses
//! while something else runs. Sockets are made inside the pods' namespaces and used from
//! threads of this process.
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::netns;

/// Two pods of a lab: the client's namespace, the server's namespace and address.
#[derive(Clone, Debug)]
pub struct Pair {
    /// The client's network namespace.
    pub client: String,
    /// The server's network namespace.
    pub server: String,
    /// The server's address.
    pub address: IpAddr,
}

fn any(a: IpAddr) -> SocketAddr {
    if a.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    }
}

fn udp_in(ns: &str, at: SocketAddr) -> io::Result<UdpSocket> {
    netns::run_in(ns, move || UdpSocket::bind(at))
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Packets per second the server receives while the client sends 64-byte UDP
/// datagrams as fast as it can for `time`.
pub fn udp_rate(p: &Pair, port: u16, time: Duration) -> io::Result<f64> {
    let at = SocketAddr::new(p.address, port);
    let server = udp_in(&p.server, at)?;
    server.set_read_timeout(Some(Duration::from_millis(50)))?;
    let client = udp_in(&p.client, any(p.address))?;
    client.connect(at)?;
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicU64::new(0));
    let counter = {
        let (stop, got) = (stop.clone(), got.clone());
        std::thread::spawn(move || {
            let mut b = [0u8; 128];
            while !stop.load(Ordering::Relaxed) {
                if server.recv(&mut b).is_ok() {
                    got.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let payload = [0x5au8; 64];
    // Warm up: the flow's conntrack entry exists before counting starts.
    for _ in 0..100 {
        let _ = client.send(&payload);
    }
    std::thread::sleep(Duration::from_millis(20));
    let start_count = got.load(Ordering::Relaxed);
    let start = Instant::now();
    while start.elapsed() < time {
        for _ in 0..64 {
            let _ = client.send(&payload);
        }
    }
    let elapsed = start.elapsed();
    std::thread::sleep(Duration::from_millis(20));
    let received = got.load(Ordering::Relaxed) - start_count;
    stop.store(true, Ordering::Relaxed);
    let _ = counter.join();
    Ok(received as f64 / elapsed.as_secs_f64())
}

/// The median round trip, in µs, of `n` one-byte UDP requests on one flow, each echoed.
pub fn udp_rr(p: &Pair, port: u16, n: usize) -> io::Result<f64> {
    let at = SocketAddr::new(p.address, port);
    let server = udp_in(&p.server, at)?;
    server.set_read_timeout(Some(Duration::from_millis(100)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut b = [0u8; 16];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((len, from)) = server.recv_from(&mut b) {
                    let _ = server.send_to(&b[..len], from);
                }
            }
        })
    };
    let client = udp_in(&p.client, any(p.address))?;
    client.connect(at)?;
    client.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut times = Vec::with_capacity(n);
    let mut b = [0u8; 16];
    for i in 0..n + n / 10 {
        let t = Instant::now();
        client.send(&[1])?;
        client.recv(&mut b)?;
        // The first tenth warms caches and the flow's conntrack entry.
        if i >= n / 10 {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    Ok(median(&mut times))
}

/// The median time, in µs, of `n` TCP cycles: connect, one byte each way, close. Every
/// cycle is a new connection, so every one is judged by the ruleset.
pub fn tcp_crr(p: &Pair, port: u16, n: usize) -> io::Result<f64> {
    let at = SocketAddr::new(p.address, port);
    let listener = netns::run_in(&p.server, move || TcpListener::bind(at))?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.set_nonblocking(false);
                        if c.read_exact(&mut b).is_ok() {
                            let _ = c.write_all(&b);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_micros(20)),
                }
            }
        })
    };
    let client_ns = p.client.clone();
    let result = netns::run_in(&client_ns, move || {
        let mut times = Vec::with_capacity(n);
        let mut b = [0u8; 1];
        for i in 0..n + n / 10 {
            let t = Instant::now();
            let mut s = TcpStream::connect_timeout(&at, Duration::from_secs(1))?;
            s.set_nodelay(true)?;
            s.write_all(&[7])?;
            s.read_exact(&mut b)?;
            drop(s);
            if i >= n / 10 {
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        Ok(median(&mut times))
    });
    stop.store(true, Ordering::Relaxed);
    let _ = server.join();
    result
}

/// Runs `work` while the client sends numbered UDP datagrams to the server every
/// `interval`; returns (sent, lost) once the flow drained.
pub fn udp_loss_during(p: &Pair, port: u16, interval: Duration, work: impl FnOnce()) -> io::Result<(u64, u64)> {
    let at = SocketAddr::new(p.address, port);
    let server = udp_in(&p.server, at)?;
    server.set_read_timeout(Some(Duration::from_millis(50)))?;
    let client = udp_in(&p.client, any(p.address))?;
    client.connect(at)?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicU64::new(0));
    let counter = {
        let (done, got) = (done.clone(), got.clone());
        std::thread::spawn(move || {
            let mut b = [0u8; 16];
            while !done.load(Ordering::Relaxed) {
                if server.recv(&mut b).is_ok() {
                    got.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    // The flow is established before the work starts.
    client.send(&0u64.to_be_bytes())?;
    std::thread::sleep(Duration::from_millis(20));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sent = 1u64;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if client.send(&sent.to_be_bytes()).is_ok() {
                    sent += 1;
                }
                next += interval;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            sent
        })
    };
    work();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().map_err(|_| io::Error::other("sender panicked"))?;
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    let _ = counter.join();
    let received = got.load(Ordering::Relaxed);
    Ok((sent, sent.saturating_sub(received)))
}
