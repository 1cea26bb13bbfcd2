//! Just enough rtnetlink to build the lab: links (veth pairs), addresses, routes and
//! neighbour entries, sent on a socket that belongs to one network namespace.
//!
//! A netlink socket talks to the namespace it was created in, whatever namespace the
//! thread using it is in later; [`crate::netns`] creates each socket inside its namespace.
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_GETADDR: u16 = 22;
const NLMSG_DONE: u16 = 3;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_LINK: u16 = 5;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_NEWNEIGH: u16 = 28;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_F_NODAD: u8 = 0x02;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NUD_PERMANENT: u16 = 0x80;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 0x1;

/// A MAC address.
pub type Mac = [u8; 6];

/// One netlink message under construction: header, fixed part, attributes. Shared by
/// the route socket here and the nf_tables batches of [`crate::nf_tables`].
pub(crate) struct Msg {
    pub(crate) buf: Vec<u8>,
}

impl Msg {
    /// A request that asks for an acknowledgement.
    pub(crate) fn new(ty: u16, flags: u16) -> Self {
        Msg::bare(ty, flags | NLM_F_ACK)
    }

    /// A request with exactly these flags (and `NLM_F_REQUEST`).
    pub(crate) fn bare(ty: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set by `finish`
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        Msg { buf }
    }

    /// Appends bytes (a fixed part), padded to 4.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// Appends an attribute.
    pub(crate) fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = u16::try_from(4 + data.len()).expect("small attribute");
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.raw(data);
    }

    /// Appends a NUL-terminated string attribute.
    pub(crate) fn string(&mut self, ty: u16, s: &str) {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.attr(ty, &bytes);
    }

    /// Opens a nested attribute; [`Msg::end`] closes it.
    pub(crate) fn begin(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.attr(ty, &[]);
        at
    }

    /// Closes the nested attribute opened at `at`.
    pub(crate) fn end(&mut self, at: usize) {
        let len = u16::try_from(self.buf.len() - at).expect("small nest");
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn ifname(&mut self, name: &str) {
        self.string(IFLA_IFNAME, name);
    }

    /// Sets the length and sequence number and appends the message to `out`.
    pub(crate) fn finish(mut self, seq: u32, out: &mut Vec<u8>) {
        let len = u32::try_from(self.buf.len()).expect("message under 4 GiB");
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&self.buf);
    }
}

/// Opens a netlink socket of `protocol` in the calling thread's network namespace.
pub(crate) fn socket(protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before it is owned.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `bytes` (one or more messages) to the kernel as one datagram.
pub(crate) fn send_to_kernel(fd: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: zeroed sockaddr_nl is the kernel's address (pid 0, no groups).
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: the buffer and address outlive the call; lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            (&raw const kernel).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads replies and hands each message to `f` as (type, sequence number, payload after
/// the header) until `f` gives an answer.
fn each_reply<T>(fd: &OwnedFd, mut f: impl FnMut(u16, u32, &[u8]) -> Option<T>) -> io::Result<T> {
    let mut reply = vec![0u8; 1 << 16];
    loop {
        // SAFETY: the buffer is ours and its length is given.
        let got = unsafe { libc::recv(fd.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = got as usize;
        let mut at = 0;
        while at + 16 <= got {
            let word = |i: usize| u32::from_ne_bytes([reply[i], reply[i + 1], reply[i + 2], reply[i + 3]]);
            let mlen = (word(at) as usize).min(got - at);
            if mlen < 16 {
                break;
            }
            let ty = u16::from_ne_bytes([reply[at + 4], reply[at + 5]]);
            if let Some(t) = f(ty, word(at + 8), &reply[at + 16..at + mlen]) {
                return Ok(t);
            }
            at += (mlen + 3) & !3;
        }
    }
}

/// The error code of an `NLMSG_ERROR` payload (0 for an acknowledgement).
fn error_code(payload: &[u8]) -> Option<i32> {
    payload.get(..4).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads replies until `ack` says it has what it waits for: `ack(seq, code)` is called
/// for each acknowledgement or error (`code` 0 or a negative errno) and returns whether
/// to stop.
pub(crate) fn read_acks(fd: &OwnedFd, mut ack: impl FnMut(u32, i32) -> bool) -> io::Result<()> {
    each_reply(fd, |ty, seq, p| match error_code(p) {
        Some(code) if ty == NLMSG_ERROR && ack(seq, code) => Some(()),
        _ => None,
    })
}

fn ifinfomsg(index: i32, up: bool) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    if up {
        b[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
        b[12..16].copy_from_slice(&IFF_UP.to_ne_bytes());
    }
    b
}

fn family(ip: &IpAddr) -> u8 {
    (if ip.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 }) as u8
}

fn octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn full_prefix(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// A link as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its index in its namespace.
    pub index: i32,
    /// Its hardware address (zeros when it has none).
    pub mac: Mac,
    /// For a veth: the index of its peer (in the peer's namespace).
    pub peer: Option<i32>,
}

/// Iterates over the attributes in `b` as (type without flags, payload).
fn attributes(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((ty, &b[4..len]));
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out
}

/// A route socket of one network namespace.
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

impl Rtnl {
    /// Opens a route socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        Ok(Rtnl { fd: socket(libc::NETLINK_ROUTE)?, seq: 0 })
    }

    /// Sends one request and waits for its acknowledgement.
    fn send(&mut self, msg: Msg) -> io::Result<()> {
        self.seq += 1;
        let mut bytes = Vec::with_capacity(msg.buf.len());
        msg.finish(self.seq, &mut bytes);
        send_to_kernel(&self.fd, &bytes)?;
        let mut result = Ok(());
        let want = self.seq;
        read_acks(&self.fd, |seq, code| {
            if seq != want {
                return false;
            }
            if code != 0 {
                result = Err(io::Error::from_raw_os_error(-code));
            }
            true
        })?;
        result
    }

    /// Sends one request and collects the payloads (after the netlink header) of the
    /// messages of type `want` that answer it, until its acknowledgement or the end of a
    /// dump. An error reply is the error.
    fn query(&mut self, msg: Msg, want: u16) -> io::Result<Vec<Vec<u8>>> {
        self.seq += 1;
        let mut bytes = Vec::with_capacity(msg.buf.len());
        msg.finish(self.seq, &mut bytes);
        send_to_kernel(&self.fd, &bytes)?;
        let (want_seq, mut out) = (self.seq, Vec::new());
        each_reply(&self.fd, |ty, seq, p| {
            if seq != want_seq {
                return None;
            }
            match ty {
                NLMSG_ERROR => Some(match error_code(p) {
                    Some(0) | None => Ok(()),
                    Some(code) => Err(io::Error::from_raw_os_error(-code)),
                }),
                NLMSG_DONE => Some(Ok(())),
                t if t == want => {
                    out.push(p.to_vec());
                    None
                }
                _ => None,
            }
        })??;
        Ok(out)
    }

    /// The link named `name`, if there is one.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        // Asked with an acknowledgement, so that the reply is followed by an end.
        let mut m = Msg::new(RTM_GETLINK, 0);
        m.raw(&ifinfomsg(0, false));
        m.ifname(name);
        let replies = match self.query(m, RTM_NEWLINK) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(None),
            r => r?,
        };
        let Some(p) = replies.first().filter(|p| p.len() >= 16) else { return Ok(None) };
        let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
        let mut link = Link { index, mac: [0; 6], peer: None };
        for (ty, data) in attributes(&p[16..]) {
            match ty {
                IFLA_ADDRESS if data.len() == 6 => link.mac.copy_from_slice(data),
                IFLA_LINK if data.len() == 4 => {
                    link.peer = Some(i32::from_ne_bytes([data[0], data[1], data[2], data[3]]))
                }
                _ => {}
            }
        }
        Ok(Some(link))
    }

    /// Deletes the link named `name` (a veth takes its peer with it); `false` if there
    /// was none.
    pub fn delete_link(&mut self, name: &str) -> io::Result<bool> {
        let mut m = Msg::new(RTM_DELLINK, 0);
        m.raw(&ifinfomsg(0, false));
        m.ifname(name);
        match self.send(m) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The addresses on link `index`, with their prefix lengths.
    pub fn addresses(&mut self, index: i32) -> io::Result<Vec<(IpAddr, u8)>> {
        let mut m = Msg::bare(RTM_GETADDR, NLM_F_DUMP);
        m.raw(&[0u8; 8]);
        let mut out = Vec::new();
        for p in self.query(m, RTM_NEWADDR)?.iter().filter(|p| p.len() >= 8) {
            if i32::from_ne_bytes([p[4], p[5], p[6], p[7]]) != index {
                continue;
            }
            let attrs = attributes(&p[8..]);
            let pick = |want: u16| attrs.iter().find(|(t, _)| *t == want).map(|(_, d)| *d);
            let ip = match pick(IFA_LOCAL).or_else(|| pick(IFA_ADDRESS)) {
                Some(d) if d.len() == 4 => IpAddr::from(<[u8; 4]>::try_from(d).expect("four bytes")),
                Some(d) if d.len() == 16 => IpAddr::from(<[u8; 16]>::try_from(d).expect("sixteen bytes")),
                _ => continue,
            };
            out.push((ip, p[1]));
        }
        Ok(out)
    }

    /// Creates a veth pair: `name` (index `index`, address `mac`) here, its peer
    /// `peer_name` (index `peer_index`, address `peer_mac`) in the namespace open as
    /// `peer_ns`. Both ends stay down: a veth end cannot come up before its peer exists
    /// (the kernel says ENOTCONN), so [`Rtnl::link_up`] follows.
    #[allow(clippy::too_many_arguments)]
    pub fn add_veth(
        &mut self,
        name: &str,
        index: i32,
        mac: Mac,
        peer_name: &str,
        peer_index: i32,
        peer_mac: Mac,
        peer_ns: RawFd,
    ) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.raw(&ifinfomsg(index, false));
        m.ifname(name);
        m.attr(IFLA_ADDRESS, &mac);
        let info = m.begin(IFLA_LINKINFO);
        m.attr(IFLA_INFO_KIND, b"veth");
        let data = m.begin(IFLA_INFO_DATA);
        let peer = m.begin(VETH_INFO_PEER);
        m.raw(&ifinfomsg(peer_index, false));
        m.ifname(peer_name);
        m.attr(IFLA_ADDRESS, &peer_mac);
        m.attr(IFLA_NET_NS_FD, &(peer_ns as u32).to_ne_bytes());
        m.end(peer);
        m.end(data);
        m.end(info);
        self.send(m)
    }

    /// Brings link `index` up.
    pub fn link_up(&mut self, index: i32) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.raw(&ifinfomsg(index, true));
        self.send(m)
    }

    /// Adds `ip` as a host address (/32 or /128, no duplicate detection) on link `index`.
    pub fn add_address(&mut self, index: i32, ip: IpAddr) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        let mut head = [0u8; 8];
        head[0] = family(&ip);
        head[1] = full_prefix(&ip);
        head[2] = IFA_F_NODAD;
        head[3] = RT_SCOPE_UNIVERSE;
        head[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        m.raw(&head);
        m.attr(IFA_LOCAL, &octets(&ip));
        m.attr(IFA_ADDRESS, &octets(&ip));
        self.send(m)
    }

    /// Adds a route out of link `index`: to `dst` (a host route), or the default route
    /// when `dst` is `None`; through `gateway` if given, else on-link.
    pub fn add_route(&mut self, index: i32, dst: Option<IpAddr>, gateway: Option<IpAddr>) -> io::Result<()> {
        self.add_prefix_route(index, dst.map(|d| (d, full_prefix(&d))), gateway)
    }

    /// Adds a route out of link `index` to `dst` (address and prefix length; `None`: the
    /// default route), through `gateway` if given, else on-link.
    pub fn add_prefix_route(
        &mut self,
        index: i32,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
    ) -> io::Result<()> {
        let fam_of = dst.map(|d| d.0).or(gateway).expect("a route names a destination or a gateway");
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        let link_scope = gateway.is_none() && fam_of.is_ipv4();
        m.raw(&[
            family(&fam_of),
            dst.map_or(0, |d| d.1),
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            if link_scope { RT_SCOPE_LINK } else { RT_SCOPE_UNIVERSE },
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ]);
        if let Some((d, _)) = dst.filter(|d| d.1 > 0) {
            m.attr(RTA_DST, &octets(&d));
        }
        if let Some(g) = gateway {
            m.attr(RTA_GATEWAY, &octets(&g));
        }
        m.attr(RTA_OIF, &(index as u32).to_ne_bytes());
        self.send(m)
    }

    /// Writes a permanent neighbour entry: `ip` is at `mac` on link `index`.
    pub fn add_neighbour(&mut self, index: i32, ip: IpAddr, mac: Mac) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
        let mut head = [0u8; 12];
        head[0] = family(&ip);
        head[4..8].copy_from_slice(&index.to_ne_bytes());
        head[8..10].copy_from_slice(&NUD_PERMANENT.to_ne_bytes());
        m.raw(&head);
        m.attr(NDA_DST, &octets(&ip));
        m.attr(NDA_LLADDR, &mac);
        self.send(m)
    }
}
