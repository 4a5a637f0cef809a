//! Synchronous rtnetlink, by hand: requests are appended to one buffer, sent
//! with one send(2), and only the last asks for an acknowledgement (the kernel
//! reports every failure anyway). No runtime, no per-message allocation.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_SETLINK: u16 = 19;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_NEWROUTE: u16 = 24;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MASTER: u16 = 10;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_GROUP: u16 = 27;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFLA_NUM_TX_QUEUES: u16 = 31;
pub const IFLA_NUM_RX_QUEUES: u16 = 32;
pub const IFLA_INFO_KIND: u16 = 1;
pub const IFLA_INFO_DATA: u16 = 2;
pub const IFLA_BR_MCAST_SNOOPING: u16 = 23;
pub const VETH_INFO_PEER: u16 = 1;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_BROADCAST: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;

pub const IFF_UP: u32 = libc::IFF_UP as u32;

const HEADER_LEN: usize = 16;

/// `struct ifinfomsg`: which link, and which flags to change.
pub fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

/// `struct ifaddrmsg` for an IPv4 address with prefix `len` on link `index`.
pub fn ifaddrmsg_v4(len: u8, index: u32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[0] = libc::AF_INET as u8;
    m[1] = len;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

/// `struct rtmsg` for an IPv4 unicast route in the main table, `proto boot`
/// as `ip route add` makes it.
pub fn rtmsg_v4(dst_len: u8) -> [u8; 12] {
    let mut m = [0u8; 12];
    m[0] = libc::AF_INET as u8;
    m[1] = dst_len;
    m[4] = libc::RT_TABLE_MAIN;
    m[5] = libc::RTPROT_BOOT;
    m[6] = libc::RT_SCOPE_UNIVERSE;
    m[7] = libc::RTN_UNICAST;
    m
}

/// A NETLINK_ROUTE socket, bound to the namespace of the thread that opened it.
pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    pub fn open() -> io::Result<Socket> {
        // SAFETY: plain socket(2); the descriptor is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(Self::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn from_fd(fd: OwnedFd) -> Socket {
        Socket { fd }
    }

    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Join multicast groups (e.g. RTMGRP_LINK) with a receive buffer large
    /// enough for a burst of notifications.
    pub fn subscribe(&self, groups: u32, rcvbuf: i32) -> io::Result<()> {
        // SAFETY: setsockopt and bind with properly sized, initialised arguments.
        unsafe {
            let size = std::mem::size_of::<i32>() as libc::socklen_t;
            if libc::setsockopt(
                self.raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &rcvbuf as *const i32 as *const libc::c_void,
                size,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as u16;
            addr.nl_groups = groups;
            if libc::bind(
                self.raw_fd(),
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Requests queued for one send, and the buffer their answers arrive in;
/// reused for every socket, so a socket costs no allocation.
pub struct Batch {
    out: Vec<u8>,
    inbox: Vec<u8>,
    seq: u32,
    /// Sequence number of the batch's first request.
    first_seq: u32,
    /// Offset of the message being written, and of the last one.
    open: Option<usize>,
    last: Option<usize>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            out: Vec::with_capacity(16 << 10),
            inbox: vec![0; 32 << 10],
            seq: 0,
            first_seq: 1,
            open: None,
            last: None,
        }
    }

    /// Start a request: header and fixed part; attributes follow.
    pub fn request(&mut self, kind: u16, flags: u16, fixed: &[u8]) -> &mut Self {
        self.end_message();
        self.seq += 1;
        if self.out.is_empty() {
            self.first_seq = self.seq;
        }
        let start = self.out.len();
        self.out.extend_from_slice(&0u32.to_ne_bytes());
        self.out.extend_from_slice(&kind.to_ne_bytes());
        self.out
            .extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        self.out.extend_from_slice(&self.seq.to_ne_bytes());
        self.out.extend_from_slice(&0u32.to_ne_bytes());
        self.out.extend_from_slice(fixed);
        self.pad();
        self.open = Some(start);
        self
    }

    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        self.out
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.out.extend_from_slice(&kind.to_ne_bytes());
        self.out.extend_from_slice(data);
        self.pad();
        self
    }

    pub fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// A NUL-terminated string attribute (link names, kinds).
    pub fn attr_str(&mut self, kind: u16, text: &str) -> &mut Self {
        let mut data = [0u8; 32];
        data[..text.len()].copy_from_slice(text.as_bytes());
        self.attr(kind, &data[..=text.len()])
    }

    /// Open a nested attribute; returns its offset for [`Socket::nest_end`].
    pub fn nest(&mut self, kind: u16) -> usize {
        let at = self.out.len();
        self.attr(kind, &[]);
        at
    }

    /// Fixed bytes inside a nest (the peer's ifinfomsg of a veth).
    pub fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.out.extend_from_slice(data);
        self.pad();
        self
    }

    pub fn nest_end(&mut self, at: usize) -> &mut Self {
        let len = (self.out.len() - at) as u16;
        self.out[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn end_message(&mut self) {
        if let Some(start) = self.open.take() {
            let len = (self.out.len() - start) as u32;
            self.out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
            self.last = Some(start);
        }
    }

    /// Send every queued request in one write; the last one is acknowledged.
    /// Fails with the first error the kernel reports.
    pub fn commit(&mut self, socket: &Socket) -> io::Result<()> {
        self.end_message();
        let Some(last) = self.last.take() else {
            return Ok(());
        };
        let flags = u16::from_ne_bytes([self.out[last + 6], self.out[last + 7]]) | NLM_F_ACK;
        self.out[last + 6..last + 8].copy_from_slice(&flags.to_ne_bytes());
        let result = self.send_queued(socket);
        self.out.clear();
        result?;
        let last_seq = self.seq;
        let mut failure = None;
        loop {
            let len = self.receive(socket)?;
            let mut at = 0;
            while at + HEADER_LEN <= len {
                let (msg_len, kind, seq) = self.header_at(at);
                if kind == NLMSG_ERROR {
                    let code = i32::from_ne_bytes(self.inbox[at + 16..at + 20].try_into().unwrap());
                    if code != 0 && failure.is_none() {
                        // The error carries the failed request's header.
                        let request =
                            u16::from_ne_bytes([self.inbox[at + 24], self.inbox[at + 25]]);
                        let cause = io::Error::from_raw_os_error(-code);
                        failure = Some(io::Error::new(
                            cause.kind(),
                            format!(
                                "request {} of the batch (type {request}): {cause}",
                                seq - self.first_seq + 1
                            ),
                        ));
                    }
                    if seq == last_seq {
                        return failure.map_or(Ok(()), Err);
                    }
                }
                at += align(msg_len);
            }
        }
    }

    fn send_queued(&self, socket: &Socket) -> io::Result<()> {
        // SAFETY: sending an initialised buffer on our own socket (to the kernel: no address).
        let sent = unsafe {
            libc::send(
                socket.raw_fd(),
                self.out.as_ptr() as *const libc::c_void,
                self.out.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn receive(&mut self, socket: &Socket) -> io::Result<usize> {
        // SAFETY: receiving into our own buffer of the given length.
        let len = unsafe {
            libc::recv(
                socket.raw_fd(),
                self.inbox.as_mut_ptr() as *mut libc::c_void,
                self.inbox.len(),
                0,
            )
        };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(len as usize)
    }

    fn header_at(&self, at: usize) -> (usize, u16, u32) {
        let b = &self.inbox[at..at + HEADER_LEN];
        (
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            u16::from_ne_bytes(b[4..6].try_into().unwrap()),
            u32::from_ne_bytes(b[8..12].try_into().unwrap()),
        )
    }

    /// Send the queued dump request and hand every link message of the
    /// answer (type, index, name) to `each`.
    pub fn dump_links(
        &mut self,
        socket: &Socket,
        mut each: impl FnMut(u16, i32, &str),
    ) -> io::Result<()> {
        self.end_message();
        self.last = None;
        let result = self.send_queued(socket);
        self.out.clear();
        result?;
        loop {
            let len = self.receive(socket)?;
            if self.links_in(len, &mut each)? {
                return Ok(());
            }
        }
    }

    /// Wait for link notifications (after [`Socket::subscribe`]) and hand each
    /// to `each`; returns when `each` says it has seen enough.
    pub fn watch_links(
        &mut self,
        socket: &Socket,
        mut each: impl FnMut(u16, i32, &str) -> bool,
    ) -> io::Result<()> {
        let mut done = false;
        while !done {
            let len = self.receive(socket)?;
            self.links_in(len, &mut |kind, index, name| {
                done |= each(kind, index, name)
            })?;
        }
        Ok(())
    }

    /// Walk link messages in the inbox; true at the end of a dump.
    fn links_in(&self, len: usize, each: &mut impl FnMut(u16, i32, &str)) -> io::Result<bool> {
        let mut at = 0;
        while at + HEADER_LEN <= len {
            let (msg_len, kind, _) = self.header_at(at);
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code = i32::from_ne_bytes(self.inbox[at + 16..at + 20].try_into().unwrap());
                    return Err(io::Error::from_raw_os_error(-code));
                }
                // AF_UNSPEC: the link itself, not a bridge's report on its port.
                RTM_NEWLINK | RTM_DELLINK
                    if self.inbox[at + HEADER_LEN] == libc::AF_UNSPEC as u8 =>
                {
                    let msg = &self.inbox[at..at + msg_len];
                    let index = i32::from_ne_bytes(msg[20..24].try_into().unwrap());
                    each(kind, index, link_name(&msg[HEADER_LEN + 16..]));
                }
                _ => {}
            }
            at += align(msg_len);
        }
        Ok(false)
    }
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// IFLA_IFNAME among a link message's attributes.
fn link_name(mut attrs: &[u8]) -> &str {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            break;
        }
        if kind == IFLA_IFNAME {
            let name = &attrs[4..len];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            return std::str::from_utf8(name).unwrap_or("");
        }
        attrs = &attrs[align(len).min(attrs.len())..];
    }
    ""
}
