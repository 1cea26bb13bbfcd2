//! Element changes sent to nf_tables over netlink, in-process: one batch
//! (`NFNL_MSG_BATCH_BEGIN`, `NFT_MSG_DELSETELEM`/`NFT_MSG_NEWSETELEM`,
//! `NFNL_MSG_BATCH_END`) that the kernel commits atomically, or not at all.
//!
//! Only element changes of hash sets and dispatch maps go this way (a [`Delta`] that
//! [`Delta::elements_only`] accepts); chains, rules and set creation go through one
//! `nft -f` transaction (see [`crate::apply`]). Elements are encoded from the text nft
//! writes (`10.0.0.5`, `"pw…" . 10.0.0.5`, `10.0.0.5 . 6 . 8080`), in the kernel's layout:
//! each field of a concatenated key is padded to 4 bytes, addresses and ports in network
//! order, interface names as 16 bytes (IFNAMSIZ) padded with zeros.
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::netlink::{read_acks, send_to_kernel, socket, Msg};
use std::time::Duration;

use podwall_nftables::{Delta, Family, SetKind};

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFPROTO_INET: u8 = 1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
/// `NFT_JUMP`, a negative verdict code.
const NFT_JUMP: i32 = -3;
/// nft's user-data tag for an element's comment.
const UDATA_SET_ELEM_COMMENT: u8 = 0;
const IFNAMSIZ: usize = 16;
/// Elements per message: keeps each message far below the kernel's attribute limits.
const PER_MESSAGE: usize = 512;

/// One element to add or delete: its key, and for a dispatch map the chain it jumps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The key in the kernel's layout.
    pub key: Vec<u8>,
    /// `jump CHAIN` (dispatch maps).
    pub jump: Option<String>,
    /// The element's comment.
    pub comment: Option<String>,
}

/// Why an element cannot be encoded.
fn bad(set: &str, element: &str, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("set {set}: element {element}: {why}"))
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn ifname(v: &mut Vec<u8>, word: &str) -> Result<(), &'static str> {
    let name = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')).ok_or("an interface name in quotes")?;
    if name.is_empty() || name.len() >= IFNAMSIZ {
        return Err("an interface name of 1-15 bytes");
    }
    let mut b = [0u8; IFNAMSIZ];
    b[..name.len()].copy_from_slice(name.as_bytes());
    v.extend_from_slice(&b);
    Ok(())
}

fn address(v: &mut Vec<u8>, word: &str, family: Family) -> Result<(), &'static str> {
    match (word.parse::<IpAddr>().map_err(|_| "an address")?, family) {
        (IpAddr::V4(a), Family::V4) => v.extend_from_slice(&a.octets()),
        (IpAddr::V6(a), Family::V6) => v.extend_from_slice(&a.octets()),
        _ => return Err("an address of the set's family"),
    }
    Ok(())
}

/// The key of `element` (as nft writes it) in a set of `kind`, in the kernel's layout.
pub fn encode_key(set: &str, kind: SetKind, element: &str) -> io::Result<Vec<u8>> {
    let fields: Vec<&str> = element.split(" . ").map(str::trim).collect();
    let mut v = Vec::with_capacity(32);
    let r = match (kind, fields.as_slice()) {
        (SetKind::Addresses(f), [a]) => address(&mut v, a, f),
        (SetKind::Interfaces, [i]) => ifname(&mut v, i),
        (SetKind::Sources(f), [i, a]) => ifname(&mut v, i).and_then(|_| address(&mut v, a, f)),
        (SetKind::DestinationPorts(f), [a, p, port]) => address(&mut v, a, f).and_then(|_| {
            let p: u8 = p.parse().map_err(|_| "a protocol number")?;
            v.push(p);
            pad4(&mut v);
            let port: u16 = port.parse().map_err(|_| "a port")?;
            v.extend_from_slice(&port.to_be_bytes());
            pad4(&mut v);
            Ok(())
        }),
        _ => Err("the set's number of fields"),
    };
    r.map_err(|why| bad(set, element, &format!("expected {why}")))?;
    pad4(&mut v);
    Ok(v)
}

/// A message of the nfnetlink family: the netlink header and `nfgenmsg` (family,
/// version 0, resource id in network order).
fn nfnl(ty: u16, flags: u16, family: u8, res_id: u16) -> Msg {
    let mut m = Msg::bare(ty, flags);
    let mut head = vec![family, 0];
    head.extend_from_slice(&res_id.to_be_bytes());
    m.raw(&head);
    m
}

fn element_message(ty: u16, flags: u16, table: &str, set: &str, elements: &[Element]) -> Msg {
    let mut m = nfnl(NFNL_SUBSYS_NFTABLES << 8 | ty, flags | NLM_F_ACK, NFPROTO_INET, 0);
    m.string(NFTA_SET_ELEM_LIST_TABLE, table);
    m.string(NFTA_SET_ELEM_LIST_SET, set);
    let list = m.begin(NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
    for e in elements {
        let item = m.begin(NFTA_LIST_ELEM | NLA_F_NESTED);
        let key = m.begin(NFTA_SET_ELEM_KEY | NLA_F_NESTED);
        m.attr(NFTA_DATA_VALUE, &e.key);
        m.end(key);
        if let Some(chain) = &e.jump {
            let data = m.begin(NFTA_SET_ELEM_DATA | NLA_F_NESTED);
            let verdict = m.begin(NFTA_DATA_VERDICT | NLA_F_NESTED);
            m.attr(NFTA_VERDICT_CODE, &NFT_JUMP.to_be_bytes());
            m.string(NFTA_VERDICT_CHAIN, chain);
            m.end(verdict);
            m.end(data);
        }
        if let Some(c) = e.comment.as_ref().filter(|c| !c.is_empty() && c.len() < 255) {
            let mut u = vec![UDATA_SET_ELEM_COMMENT, (c.len() + 1) as u8];
            u.extend_from_slice(c.as_bytes());
            u.push(0);
            m.attr(NFTA_SET_ELEM_USERDATA, &u);
        }
        m.end(item);
    }
    m.end(list);
    m
}

/// The element operations of a delta, in the order the batch carries them: deletions
/// first (of sets, then of map entries), then additions.
pub struct Batch {
    /// (delete?, set, elements), in order.
    ops: Vec<(bool, String, Vec<Element>)>,
    table: String,
}

impl Batch {
    /// The element operations of `delta`, which must be [`Delta::elements_only`].
    pub fn of(delta: &Delta) -> io::Result<Batch> {
        if !delta.elements_only() {
            return Err(io::Error::other("the delta makes or deletes chains or sets: not an element batch"));
        }
        let mut ops = Vec::new();
        let encode = |set: &str, kind: SetKind, list: &[String]| -> io::Result<Vec<Element>> {
            list.iter().map(|e| Ok(Element { key: encode_key(set, kind, e)?, jump: None, comment: None })).collect()
        };
        for c in &delta.set_changes {
            if !c.removed.is_empty() {
                ops.push((true, c.set.clone(), encode(&c.set, c.kind, &c.removed)?));
            }
        }
        let map_key =
            |m: &podwall_nftables::MapChange| encode_key(&m.map, SetKind::Interfaces, &format!("\"{}\"", m.interface));
        for m in delta.map_changes.iter().filter(|m| m.old.is_some()) {
            ops.push((true, m.map.clone(), vec![Element { key: map_key(m)?, jump: None, comment: None }]));
        }
        for c in &delta.set_changes {
            if !c.added.is_empty() {
                ops.push((false, c.set.clone(), encode(&c.set, c.kind, &c.added)?));
            }
        }
        for m in &delta.map_changes {
            if let Some(e) = &m.new {
                let el = Element { key: map_key(m)?, jump: Some(e.chain.clone()), comment: Some(e.comment.clone()) };
                ops.push((false, m.map.clone(), vec![el]));
            }
        }
        Ok(Batch { ops, table: delta.table.clone() })
    }

    /// The batch as bytes, with sequence numbers from `seq`; also the sequence numbers
    /// whose acknowledgement the kernel owes.
    pub fn encode(&self, seq: u32) -> (Vec<u8>, Vec<u32>) {
        let mut out = Vec::new();
        let mut s = seq;
        nfnl(NFNL_MSG_BATCH_BEGIN, 0, libc::AF_UNSPEC as u8, NFNL_SUBSYS_NFTABLES).finish(s, &mut out);
        let mut acked = Vec::new();
        for (delete, set, elements) in &self.ops {
            for chunk in elements.chunks(PER_MESSAGE) {
                s += 1;
                let (ty, flags) = if *delete { (NFT_MSG_DELSETELEM, 0) } else { (NFT_MSG_NEWSETELEM, NLM_F_CREATE) };
                element_message(ty, flags, &self.table, set, chunk).finish(s, &mut out);
                acked.push(s);
            }
        }
        s += 1;
        nfnl(NFNL_MSG_BATCH_END, 0, libc::AF_UNSPEC as u8, NFNL_SUBSYS_NFTABLES).finish(s, &mut out);
        (out, acked)
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A netfilter netlink socket of one network namespace (the one it was opened in).
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Socket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Socket> {
        let fd = socket(NETLINK_NETFILTER)?;
        let timeout = libc::timeval { tv_sec: 5, tv_usec: 0 };
        // SAFETY: the option value is a live timeval of the size given.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        })?;
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Ok(Socket { fd, seq: seed.as_secs() as u32 })
    }

    fn set_buffer(&self, option: libc::c_int, bytes: usize) -> io::Result<()> {
        let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: the option value is a live c_int of the size given.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
    }

    /// Sends `batch` and waits until the kernel acknowledged every message: then it is
    /// committed. An error means the kernel committed nothing of it.
    pub fn send(&mut self, batch: &Batch) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let (bytes, mut owed) = batch.encode(self.seq);
        self.seq = self.seq.wrapping_add(owed.len() as u32 + 2);
        // The batch must arrive as one datagram; as root the buffer may exceed the limit.
        if bytes.len() > 200_000 {
            self.set_buffer(libc::SO_SNDBUFFORCE, bytes.len() * 2)?;
        }
        self.set_buffer(libc::SO_RCVBUFFORCE, (owed.len() * 64).max(1 << 16))?;
        send_to_kernel(&self.fd, &bytes)?;
        let mut failed = None;
        read_acks(&self.fd, |seq, code| {
            if code != 0 {
                failed = Some(code);
                return true;
            }
            owed.retain(|&s| s != seq);
            owed.is_empty()
        })?;
        match failed {
            Some(code) => Err(io::Error::from_raw_os_error(-code)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_keys_pad_every_field_to_four_bytes_in_network_order() {
        let k = encode_key("s", SetKind::DestinationPorts(Family::V4), "10.0.0.5 . 6 . 8080").unwrap();
        assert_eq!(k, [10, 0, 0, 5, 6, 0, 0, 0, 0x1f, 0x90, 0, 0]);
        let k = encode_key("s", SetKind::Sources(Family::V4), "\"pw1\" . 10.0.0.5").unwrap();
        assert_eq!(k.len(), 20);
        assert_eq!(&k[..4], b"pw1\0");
        assert_eq!(&k[16..], [10, 0, 0, 5]);
        assert_eq!(encode_key("s", SetKind::Addresses(Family::V6), "fd00::1").unwrap().len(), 16);
    }

    #[test]
    fn elements_that_do_not_fit_the_set_are_refused_naming_them() {
        for (kind, e) in [
            (SetKind::Addresses(Family::V4), "fd00::1"),
            (SetKind::Addresses(Family::V4), "10.0.0.0/8"),
            (SetKind::Interfaces, "pw1"),
            (SetKind::Interfaces, "\"an-interface-name-too-long\""),
            (SetKind::DestinationPorts(Family::V4), "10.0.0.5 . 6"),
        ] {
            let err = encode_key("a4_x", kind, e).unwrap_err().to_string();
            assert!(err.contains("a4_x") && err.contains(e), "{err}");
        }
    }

    #[test]
    fn a_batch_is_begin_messages_end_with_an_ack_owed_per_message() {
        let e = Element { key: vec![0; 16], jump: Some("c".into()), comment: Some("ns/p".into()) };
        let many = vec![Element { key: vec![1; 4], jump: None, comment: None }; PER_MESSAGE + 1];
        let b = Batch {
            ops: vec![(false, "egress".into(), vec![e]), (true, "a4_x".into(), many)],
            table: "podwall".into(),
        };
        let (bytes, owed) = b.encode(7);
        assert_eq!(owed, [8, 9, 10], "one message per map change, two for a set change over {PER_MESSAGE} elements");
        let mut at = 0;
        let mut types = Vec::new();
        while at < bytes.len() {
            let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            assert!(len.is_multiple_of(4) && len >= 20);
            types.push(u16::from_ne_bytes([bytes[at + 4], bytes[at + 5]]));
            at += len;
        }
        let new = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM;
        let del = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DELSETELEM;
        assert_eq!(types, [NFNL_MSG_BATCH_BEGIN, new, del, del, NFNL_MSG_BATCH_END]);
    }
}
