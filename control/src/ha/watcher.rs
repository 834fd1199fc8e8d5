//! The kernel's interface addresses over rtnetlink, as [`Event`]s on a channel.
//!
//! One thread, two plain blocking `NETLINK_ROUTE` sockets (`netlink-sys`), messages built and
//! read with `netlink-packet-route`: a request socket dumps the links (index -> name) and the
//! addresses, and an event socket subscribed to the link, IPv4 address and IPv6 address groups
//! reports changes. Order at start and on every resync: subscribe, drain what queued, dump
//! (so no change falls between the dump and the notifications). A notification the kernel could
//! not queue (`ENOBUFS`), or an address on an interface the watcher does not know yet, makes it
//! dump again, so the state it reports never drifts from the kernel's. Messages it does not
//! expect are ignored and counted; a socket error is reported ([`Watcher::problem`]) and the
//! sockets reopened a second later.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::{Event, KernelAddr};

/// `RTNLGRP_LINK` (linux/rtnetlink.h): link notifications.
const RTNLGRP_LINK: u32 = 1;
/// `RTNLGRP_IPV4_IFADDR`: IPv4 address notifications.
const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// `RTNLGRP_IPV6_IFADDR`: IPv6 address notifications.
const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// `ENOBUFS`: the kernel dropped notifications for this socket.
const ENOBUFS: i32 = 105;
/// Receive buffer: larger than any netlink datagram the kernel sends (dumps use at most 32 KiB).
const RECV_BUF: usize = 64 << 10;
/// How often the thread looks at its stop flag while nothing happens.
const POLL: Duration = Duration::from_millis(200);
/// How long to wait before reopening the sockets after an error.
const RETRY: Duration = Duration::from_secs(1);

/// Why the watcher cannot read the kernel's addresses.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A netlink socket could not be opened, bound or used.
    #[error("rtnetlink {op}: {source}")]
    Socket {
        /// What was being done.
        op: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
    /// The kernel refused a dump request.
    #[error("rtnetlink {op}: the kernel answered error {code}")]
    Refused {
        /// Which dump.
        op: &'static str,
        /// The (negative) errno.
        code: i32,
    },
    /// The thread could not be started.
    #[error("starting the address watcher thread: {0}")]
    Thread(std::io::Error),
}

/// What the watcher has counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchCounts {
    /// Events sent (dumps included).
    pub events: u64,
    /// Messages it did not expect (ignored).
    pub unexpected: u64,
    /// Messages that did not decode (ignored).
    pub undecodable: u64,
    /// Dumps after the first (lost notifications, unknown interfaces, socket errors).
    pub resyncs: u64,
    /// Socket errors.
    pub errors: u64,
}

#[derive(Debug, Default)]
struct Shared {
    events: AtomicU64,
    unexpected: AtomicU64,
    undecodable: AtomicU64,
    resyncs: AtomicU64,
    errors: AtomicU64,
    problem: Mutex<Option<String>>,
}

impl Shared {
    fn set_problem(&self, p: Option<String>) {
        if let Ok(mut g) = self.problem.lock() {
            *g = p;
        }
    }
}

/// The running watcher; dropping it (or [`Watcher::stop`]) ends the thread.
#[derive(Debug)]
pub struct Watcher {
    events: Receiver<Event>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Open the sockets (here, so a failure stops the start with its reason) and start the
    /// thread; its first event is the dump.
    ///
    /// # Errors
    /// The sockets cannot be opened or subscribed, or the thread not started.
    pub fn start() -> Result<Self, WatchError> {
        let socks = Sockets::open()?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("ferrovs-ha-watch".into())
            .spawn(move || run(socks, &tx, &s, &st))
            .map_err(WatchError::Thread)?;
        Ok(Self {
            events: rx,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The events, for the control loop (`select!` on it, or `try_recv`).
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Return what the watcher counted so far.
    pub fn counts(&self) -> WatchCounts {
        let s = &self.shared;
        WatchCounts {
            events: s.events.load(Ordering::Relaxed),
            unexpected: s.unexpected.load(Ordering::Relaxed),
            undecodable: s.undecodable.load(Ordering::Relaxed),
            resyncs: s.resyncs.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
        }
    }

    /// Return why the watcher cannot follow the kernel now (a socket error it is retrying),
    /// or `None` while it works.
    pub fn problem(&self) -> Option<String> {
        self.shared.problem.lock().ok().and_then(|g| g.clone())
    }

    /// Stop the thread and wait for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The request socket (dumps) and the event socket (notifications).
struct Sockets {
    request: Socket,
    events: Socket,
    seq: u32,
}

impl Sockets {
    fn open() -> Result<Self, WatchError> {
        let err = |op| move |source| WatchError::Socket { op, source };
        let mut request = Socket::new(NETLINK_ROUTE).map_err(err("socket"))?;
        request.bind_auto().map_err(err("bind"))?;
        request
            .connect(&SocketAddr::new(0, 0))
            .map_err(err("connect"))?;
        let mut events = Socket::new(NETLINK_ROUTE).map_err(err("socket"))?;
        events.bind_auto().map_err(err("bind"))?;
        for g in [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR] {
            events.add_membership(g).map_err(err("subscribe"))?;
        }
        Ok(Self {
            request,
            events,
            seq: 0,
        })
    }

    /// Dump the links, then the addresses; return the index -> name map and the addresses.
    fn dump(&mut self) -> Result<(HashMap<u32, String>, Vec<KernelAddr>), WatchError> {
        let mut links = HashMap::new();
        for m in self.request_dump(
            "link dump",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
        )? {
            if let RouteNetlinkMessage::NewLink(l) = m {
                if let Some(name) = link_name(&l) {
                    links.insert(l.header.index, name);
                }
            }
        }
        let mut addrs = Vec::new();
        for m in self.request_dump(
            "address dump",
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        )? {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                if let (Some(ifname), Some(addr)) = (links.get(&a.header.index), address(&a)) {
                    addrs.push(KernelAddr {
                        ifname: ifname.clone(),
                        addr,
                    });
                }
            }
        }
        addrs.sort();
        addrs.dedup();
        Ok((links, addrs))
    }

    fn request_dump(
        &mut self,
        op: &'static str,
        req: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, WatchError> {
        self.seq = self.seq.wrapping_add(1);
        let mut msg = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(req));
        msg.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        restart(|| self.request.send(&buf, 0))
            .map_err(|source| WatchError::Socket { op, source })?;
        let mut out = Vec::new();
        let mut rx = vec![0u8; RECV_BUF];
        loop {
            let n = restart(|| self.request.recv(&mut &mut rx[..], 0))
                .map_err(|source| WatchError::Socket { op, source })?;
            for m in messages(&rx[..n.min(rx.len())]) {
                let Ok(m) = m else { continue };
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            return Err(WatchError::Refused {
                                op,
                                code: code.get(),
                            });
                        }
                    }
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
        }
    }

    /// Throw away notifications queued before a dump (the dump supersedes them).
    fn drain(&self, rx: &mut [u8]) {
        while let Ok(true) = readable(&self.events, Duration::ZERO) {
            if restart(|| self.events.recv(&mut &mut rx[..], 0)).is_err() {
                break;
            }
        }
    }
}

/// Wait up to `timeout` for `sock` to be readable.
pub(crate) fn readable(sock: &Socket, timeout: Duration) -> std::io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(sock, PollFlags::IN)];
    let ts = Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    poll_outcome(poll(&mut fds, Some(&ts)))
}

/// What a `poll` result means: readable or not. A signal that interrupts the wait is a wakeup
/// with nothing to read, not a socket error: the gateway process handles signals (DPDK
/// installs handlers of its own, ferrovs its SIGHUP reload), and the kernel hands a process's
/// signal to whichever thread it picks, this one included.
fn poll_outcome(r: rustix::io::Result<usize>) -> std::io::Result<bool> {
    match r {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Make a socket call again while a signal interrupts it (see [`poll_outcome`]).
fn restart<T>(mut call: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// The thread: dump, then follow notifications; on errors report, wait, reopen, dump again.
fn run(first: Sockets, tx: &Sender<Event>, shared: &Shared, stop: &AtomicBool) {
    let mut socks = Some(first);
    let mut dumps = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut s = match socks.take().map_or_else(Sockets::open, Ok) {
            Ok(s) => s,
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                shared.set_problem(Some(e.to_string()));
                std::thread::sleep(RETRY);
                continue;
            }
        };
        match follow(&mut s, tx, shared, stop, &mut dumps) {
            Ok(()) => return,
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                shared.set_problem(Some(e.to_string()));
                std::thread::sleep(RETRY);
            }
        }
    }
}

/// Follow the kernel on open sockets until stopped (Ok) or a socket fails (Err).
fn follow(
    s: &mut Sockets,
    tx: &Sender<Event>,
    shared: &Shared,
    stop: &AtomicBool,
    dumps: &mut u64,
) -> Result<(), WatchError> {
    let mut rx = vec![0u8; RECV_BUF];
    let mut links = HashMap::new();
    let mut resync = true;
    while !stop.load(Ordering::Relaxed) {
        if resync {
            s.drain(&mut rx);
            let (l, addrs) = s.dump()?;
            links = l;
            if *dumps > 0 {
                shared.resyncs.fetch_add(1, Ordering::Relaxed);
            }
            *dumps += 1;
            shared.set_problem(None);
            send(tx, shared, Event::Dump(addrs));
            resync = false;
        }
        let ready = readable(&s.events, POLL)
            .map_err(|source| WatchError::Socket { op: "poll", source })?;
        if !ready {
            continue;
        }
        let n = match s.events.recv(&mut &mut rx[..], 0) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(ENOBUFS) => {
                // Notifications were lost: only a new dump tells the truth.
                resync = true;
                continue;
            }
            Err(source) => {
                return Err(WatchError::Socket {
                    op: "receive",
                    source,
                })
            }
        };
        for m in messages(&rx[..n.min(rx.len())]) {
            match m.map(|m| note(m, &mut links)) {
                Err(()) => {
                    shared.undecodable.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Note::Event(ev)) => send(tx, shared, ev),
                Ok(Note::Quiet) => {}
                Ok(Note::Resync) => resync = true,
                Ok(Note::Unexpected) => {
                    shared.unexpected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(())
}

fn send(tx: &Sender<Event>, shared: &Shared, ev: Event) {
    shared.events.fetch_add(1, Ordering::Relaxed);
    // The receiver goes only when control stops, and then nobody needs the event.
    let _ = tx.send(ev);
}

/// Split a datagram into its netlink messages; `Err` for one that does not decode (the rest of
/// the datagram cannot be framed after it, so it ends the list).
pub(crate) fn messages(
    mut buf: &[u8],
) -> impl Iterator<Item = Result<NetlinkMessage<RouteNetlinkMessage>, ()>> + '_ {
    std::iter::from_fn(move || {
        if buf.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            buf = &[];
            return Some(Err(()));
        }
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..len]).map_err(|_| ());
        // NLMSG_ALIGN: messages start on 4-byte boundaries.
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or(&[]);
        Some(m)
    })
}

/// What one notification means to the watcher.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Note {
    /// Report this.
    Event(Event),
    /// Nothing to report (a link's name learnt, a no-op).
    Quiet,
    /// Dump again (an address on an interface not known yet).
    Resync,
    /// A message the watcher did not ask for.
    Unexpected,
}

/// Interpret one notification; `links` (index -> name) is kept up to date.
pub(crate) fn note(
    m: NetlinkMessage<RouteNetlinkMessage>,
    links: &mut HashMap<u32, String>,
) -> Note {
    let inner = match m.payload {
        NetlinkPayload::InnerMessage(inner) => inner,
        NetlinkPayload::Noop | NetlinkPayload::Done(_) => return Note::Quiet,
        NetlinkPayload::Overrun(_) => return Note::Resync,
        _ => return Note::Unexpected,
    };
    match inner {
        RouteNetlinkMessage::NewLink(l) => {
            if let Some(name) = link_name(&l) {
                links.insert(l.header.index, name);
            }
            Note::Quiet
        }
        RouteNetlinkMessage::DelLink(l) => {
            let name = links.remove(&l.header.index).or_else(|| link_name(&l));
            name.map_or(Note::Quiet, |n| Note::Event(Event::LinkGone(n)))
        }
        RouteNetlinkMessage::NewAddress(a) => address_note(&a, links, Event::Added),
        RouteNetlinkMessage::DelAddress(a) => address_note(&a, links, Event::Removed),
        _ => Note::Unexpected,
    }
}

/// An address notification: the event, or a resync when its interface is not known yet.
fn address_note(
    a: &AddressMessage,
    links: &HashMap<u32, String>,
    event: fn(KernelAddr) -> Event,
) -> Note {
    let Some(addr) = address(a) else {
        return Note::Unexpected;
    };
    match links.get(&a.header.index) {
        Some(ifname) => Note::Event(event(KernelAddr {
            ifname: ifname.clone(),
            addr,
        })),
        None => Note::Resync,
    }
}

/// The interface address of an address message: `IFA_LOCAL` where present (IPv4; on a
/// point-to-point link `IFA_ADDRESS` is the peer's), else `IFA_ADDRESS` (IPv6).
fn address(a: &AddressMessage) -> Option<IpAddr> {
    let local = a.attributes.iter().find_map(|at| match at {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        a.attributes.iter().find_map(|at| match at {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

fn link_name(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|at| match at {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
