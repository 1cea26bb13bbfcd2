//! Addresses allocated the way the reference `host-local` plugin allocates them, in its
//! on-disk layout: a folder per network under `dataDir` (default `/var/lib/cni/networks`)
//! holding one file per address (named by the address, holding `CONTAINERID\r\nIFNAME`),
//! `last_reserved_ip.N` per range set (allocation goes round-robin from there) and a
//! `lock` file that every change holds exclusively (flock), so concurrent ADDs never
//! hand out one address twice.
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use podwall_nftables::ranges::{ip_number, number_ip};

use crate::config::{HostLocal, RangeConf};
use crate::error::{io as io_err, Error, ADDRESSES_EXHAUSTED, INVALID_CONFIG, IO_FAILURE};
use crate::types::{Attachment, Dns, IpConfig, Success};

/// Where allocations live unless `dataDir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// One range, its defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// The subnet.
    pub subnet: IpNet,
    /// First address handed out.
    pub start: IpAddr,
    /// Last address handed out.
    pub end: IpAddr,
    /// The gateway (never handed out).
    pub gateway: IpAddr,
}

impl Range {
    fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.start.is_ipv4()
            && ip_number(ip) >= ip_number(self.start)
            && ip_number(ip) <= ip_number(self.end)
    }

    fn overlaps(&self, o: &Range) -> bool {
        self.contains(o.start) || self.contains(o.end) || o.contains(self.start) || o.contains(self.end)
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(INVALID_CONFIG, msg)
}

fn parse_ip(what: &str, s: &str) -> Result<IpAddr, Error> {
    s.parse().map_err(|_| invalid(format!("{what} {s:?}: not an IP address")))
}

/// Fills in a range's defaults and checks it as host-local does: a subnet with room
/// for hosts, given as its network address; start and end inside it.
pub fn canonical(r: &RangeConf) -> Result<Range, Error> {
    let subnet: IpNet = r.subnet.parse().map_err(|_| invalid(format!("subnet {:?}: not a CIDR", r.subnet)))?;
    let bits = if subnet.addr().is_ipv4() { 32 } else { 128 };
    if subnet.prefix_len() > bits - 2 {
        return Err(invalid(format!("network {subnet} too small to allocate from")));
    }
    if subnet.addr() != subnet.network() {
        return Err(invalid(format!(
            "subnet {subnet}: has host bits set; for a prefix of {} the network address is {}",
            subnet.prefix_len(),
            subnet.network()
        )));
    }
    let v6 = subnet.addr().is_ipv6();
    let net = ip_number(subnet.network());
    let first = number_ip(net + 1, v6);
    let last = number_ip(ip_number(subnet.broadcast()) - u128::from(!v6), v6);
    let inside = |what: &str, s: &Option<String>, default: IpAddr| -> Result<IpAddr, Error> {
        let Some(s) = s else { return Ok(default) };
        let ip = parse_ip(what, s)?;
        if !subnet.contains(&ip) {
            return Err(invalid(format!("{what} {ip} not in network {subnet}")));
        }
        Ok(ip)
    };
    let start = inside("rangeStart", &r.range_start, first)?;
    let end = inside("rangeEnd", &r.range_end, last)?;
    let gateway = match &r.gateway {
        None => first,
        Some(g) => parse_ip("gateway", g)?,
    };
    if ip_number(start) > ip_number(end) {
        return Err(invalid(format!("rangeStart {start} is after rangeEnd {end}")));
    }
    Ok(Range { subnet, start, end, gateway })
}

/// The allocator's configuration: range sets (one address from each), routes, DNS, the
/// network's folder.
#[derive(Clone, Debug)]
pub struct Pool {
    /// Range sets.
    pub sets: Vec<Vec<Range>>,
    /// Routes for the pod.
    pub routes: Vec<crate::types::Route>,
    /// The network's folder (`dataDir/NAME`).
    pub dir: PathBuf,
    /// DNS from `resolvConf`.
    pub resolv_conf: Option<PathBuf>,
}

impl Pool {
    /// The pool of network `name` configured by `c`, checked as host-local checks it:
    /// at least one range, no mixed families within a set, no overlap anywhere.
    pub fn new(name: &str, c: &HostLocal) -> Result<Pool, Error> {
        let mut sets: Vec<Vec<RangeConf>> = Vec::new();
        if let Some(subnet) = &c.subnet {
            sets.push(vec![RangeConf {
                subnet: subnet.clone(),
                range_start: c.range_start.clone(),
                range_end: c.range_end.clone(),
                gateway: c.gateway.clone(),
            }]);
        } else if c.range_start.is_some() || c.range_end.is_some() || c.gateway.is_some() {
            return Err(invalid("ipam: rangeStart, rangeEnd and gateway at the top level need `subnet`"));
        }
        sets.extend(c.ranges.iter().cloned());
        if sets.is_empty() {
            return Err(invalid("ipam: no IP ranges specified"));
        }
        let mut out: Vec<Vec<Range>> = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            if set.is_empty() {
                return Err(invalid(format!("ipam: range set {i}: empty")));
            }
            let rs: Vec<Range> = set
                .iter()
                .map(canonical)
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(format!("ipam: range set {i}: {}", e.msg)))?;
            if rs.iter().any(|r| r.start.is_ipv4() != rs[0].start.is_ipv4()) {
                return Err(invalid(format!("ipam: range set {i}: mixed address families")));
            }
            for (a, r1) in rs.iter().enumerate() {
                for r2 in &rs[a + 1..] {
                    if r1.overlaps(r2) {
                        return Err(invalid(format!("ipam: range set {i}: subnets {r1} and {r2} overlap")));
                    }
                }
            }
            for (j, earlier) in out.iter().enumerate() {
                if earlier.iter().any(|a| rs.iter().any(|b| a.overlaps(b))) {
                    return Err(invalid(format!("ipam: range set {j} overlaps with {i}")));
                }
            }
            out.push(rs);
        }
        let data_dir = c.data_dir.clone().unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        Ok(Pool {
            sets: out,
            routes: c.routes.clone(),
            dir: Path::new(&data_dir).join(name),
            resolv_conf: c.resolv_conf.as_ref().map(PathBuf::from),
        })
    }

    /// Takes the network's lock (created with its folder), held until the guard drops.
    pub fn lock(&self) -> Result<Lock, Error> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(IO_FAILURE, self.dir.display()))?;
        let p = self.dir.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(IO_FAILURE, p.display()))?;
        // SAFETY: flock(2) on a descriptor we own; blocks until the lock is ours.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::new(IO_FAILURE, format!("{}: {}", p.display(), io::Error::last_os_error())));
        }
        Ok(Lock { _file: f })
    }

    /// Allocates one address per range set to (`id`, `ifname`); all or none.
    pub fn allocate(&self, id: &str, ifname: &str) -> Result<Success, Error> {
        let _lock = self.lock()?;
        let mine = self.owned_by(id, ifname);
        if let Some(ip) = mine.first() {
            return Err(invalid(format!("{ip} has been allocated to {id}, duplicate allocation is not allowed")));
        }
        let mut ips = Vec::new();
        let mut taken = Vec::new();
        for (i, set) in self.sets.iter().enumerate() {
            match self.reserve(i, set, id, ifname) {
                Ok(Some((ip, range))) => {
                    taken.push(ip);
                    ips.push(IpConfig {
                        version: None,
                        address: format!("{ip}/{}", range.subnet.prefix_len()),
                        gateway: Some(range.gateway.to_string()),
                        interface: None,
                    });
                }
                r => {
                    for ip in &taken {
                        let _ = std::fs::remove_file(self.dir.join(ip.to_string()));
                    }
                    let set_text = set.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",");
                    return Err(match r {
                        Ok(_) => Error::new(
                            ADDRESSES_EXHAUSTED,
                            format!("no IP addresses available in range set {set_text}"),
                        )
                        .details(format!(
                            "failed to allocate for range set {i}; every address is taken in {}",
                            self.dir.display()
                        )),
                        Err(e) => e,
                    });
                }
            }
        }
        let dns = match &self.resolv_conf {
            None => Dns::default(),
            Some(p) => resolv_conf(p)?,
        };
        Ok(Success { cni_version: String::new(), interfaces: Vec::new(), ips, routes: self.routes.clone(), dns })
    }

    /// Reserves the first free address of range set `i`, going on from the last one
    /// reserved there (round-robin) and skipping each range's gateway.
    fn reserve(&self, i: usize, set: &[Range], id: &str, ifname: &str) -> Result<Option<(IpAddr, Range)>, Error> {
        let last_file = self.dir.join(format!("last_reserved_ip.{i}"));
        let last: Option<IpAddr> = std::fs::read_to_string(&last_file).ok().and_then(|s| s.trim().parse().ok());
        // Position to start from: the range holding the last reservation and the address after it.
        let (mut r, mut n) = match last.and_then(|ip| set.iter().position(|r| r.contains(ip)).map(|r| (r, ip))) {
            Some((r, ip)) => (r, ip_number(ip) + 1),
            None => (0, ip_number(set[0].start)),
        };
        let total: u128 = set.iter().map(|r| ip_number(r.end) - ip_number(r.start) + 1).sum();
        let mut tried: u128 = 0;
        while tried <= total {
            if n > ip_number(set[r].end) {
                r = (r + 1) % set.len();
                n = ip_number(set[r].start);
            }
            let range = &set[r];
            let ip = number_ip(n, range.start.is_ipv6());
            tried += 1;
            n += 1;
            if ip == range.gateway {
                continue;
            }
            let path = self.dir.join(ip.to_string());
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let written =
                        f.write_all(format!("{}\r\n{ifname}", id.trim()).as_bytes()).and_then(|()| f.sync_data());
                    if let Err(e) = written {
                        let _ = std::fs::remove_file(&path);
                        return Err(Error::new(IO_FAILURE, format!("{}: {e}", path.display())));
                    }
                    std::fs::write(&last_file, ip.to_string()).map_err(io_err(IO_FAILURE, last_file.display()))?;
                    return Ok(Some((ip, range.clone())));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::new(IO_FAILURE, format!("{}: {e}", path.display()))),
            }
        }
        Ok(None)
    }

    /// Every allocation: (address, container id, interface name).
    pub fn allocations(&self) -> Vec<(IpAddr, String, String)> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out = Vec::new();
        for e in dir.flatten() {
            let Some(ip) = e.file_name().to_str().and_then(|n| n.parse::<IpAddr>().ok()) else { continue };
            let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
            let mut lines = text.split("\r\n");
            let id = lines.next().unwrap_or("").trim().to_string();
            let ifname = lines.next().unwrap_or("").trim().to_string();
            out.push((ip, id, ifname));
        }
        out.sort();
        out
    }

    fn owned_by(&self, id: &str, ifname: &str) -> Vec<IpAddr> {
        self.allocations()
            .into_iter()
            .filter(|(_, i, f)| i == id.trim() && (f == ifname || f.is_empty()))
            .map(|(ip, _, _)| ip)
            .collect()
    }

    /// The addresses held by (`id`, `ifname`).
    pub fn held(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, Error> {
        let _lock = self.lock()?;
        Ok(self.owned_by(id, ifname))
    }

    /// Releases what (`id`, `ifname`) holds; nothing held is no error.
    pub fn release(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, Error> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let mine = self.owned_by(id, ifname);
        for ip in &mine {
            let p = self.dir.join(ip.to_string());
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(Error::new(IO_FAILURE, format!("{}: {e}", p.display())))
                }
                _ => {}
            }
        }
        Ok(mine)
    }

    /// Releases every allocation whose attachment is not in `valid`; returns them.
    pub fn collect(&self, valid: &HashSet<Attachment>) -> Result<Vec<(IpAddr, String, String)>, Error> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let mut gone = Vec::new();
        for (ip, id, ifname) in self.allocations() {
            let keep = valid.contains(&Attachment { container_id: id.clone(), ifname: ifname.clone() })
                || (ifname.is_empty() && valid.iter().any(|a| a.container_id == id));
            if !keep {
                let p = self.dir.join(ip.to_string());
                std::fs::remove_file(&p).map_err(io_err(IO_FAILURE, p.display()))?;
                gone.push((ip, id, ifname));
            }
        }
        Ok(gone)
    }

    /// Whether some range set has no free address left.
    pub fn exhausted(&self) -> Option<usize> {
        let held: HashSet<IpAddr> = self.allocations().into_iter().map(|(ip, _, _)| ip).collect();
        self.sets.iter().position(|set| {
            let size: u128 = set
                .iter()
                .map(|r| {
                    let n = ip_number(r.end) - ip_number(r.start) + 1;
                    n - u128::from(r.contains(r.gateway))
                })
                .sum();
            let used =
                held.iter().filter(|ip| set.iter().any(|r| r.contains(**ip) && **ip != r.gateway)).count() as u128;
            used >= size
        })
    }
}

/// The held network lock.
pub struct Lock {
    _file: File,
}

/// Reads name servers, domain, search list and options from a resolv.conf.
pub fn resolv_conf(p: &Path) -> Result<Dns, Error> {
    let text = std::fs::read_to_string(p).map_err(io_err(IO_FAILURE, format!("resolvConf {}", p.display())))?;
    let mut dns = Dns::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.nameservers.extend(words.next().map(str::to_string)),
            Some("domain") => dns.domain = words.next().unwrap_or("").to_string(),
            Some("search") => dns.search = words.map(str::to_string).collect(),
            Some("options") => dns.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    Ok(dns)
}
