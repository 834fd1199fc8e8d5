//! The channel's kernel UDP socket: bound to `[sync].listen` (an address of an exception-path
//! TAP or a management interface), non-blocking, read by a thread that feeds a bounded
//! crossbeam channel the control loop selects on; sends go straight out from the control loop.
//!
//! With a multicast group ([`UdpTransport::bind_group`]) a second socket is bound to the
//! group's address and port and joins the group on the interface holding `listen`
//! (`IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP`); the same reader thread reads both. Everything is
//! sent from the `listen` socket (so a hello's source is the address peers then talk to), with
//! the outgoing multicast interface set to `listen`'s (`IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`),
//! the TTL of `[sync] ttl`, and loopback off (a gateway does not hear its own hellos).
//!
//! A flood cannot grow memory: the reader drops datagrams when the channel to the control loop
//! is full (counted), and the kernel drops them when the socket buffer is.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use super::channel::Transmit;
use super::stats::TransportTotals;

/// Datagrams waiting for the control loop, at most.
pub const QUEUE: usize = 4096;
/// How often the reader checks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// One datagram read from the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its source.
    pub from: SocketAddr,
}

/// Counters of the socket.
#[derive(Debug, Default)]
pub struct TransportCounters {
    /// Datagrams dropped because the control loop was behind.
    pub dropped: AtomicU64,
    /// Datagrams the kernel refused to send (the channel resends what matters).
    pub send_errors: AtomicU64,
    /// Errors reading the socket.
    pub recv_errors: AtomicU64,
}

/// The sync socket and its reader thread; dropping it stops the thread.
#[derive(Debug)]
pub struct UdpTransport {
    socket: Arc<UdpSocket>,
    rx: Receiver<Datagram>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    counters: Arc<TransportCounters>,
}

impl UdpTransport {
    /// Bind `listen` and start the reader.
    ///
    /// # Errors
    ///
    /// The address cannot be bound (not an address of this host, port in use) or the thread
    /// cannot start.
    pub fn bind(listen: SocketAddr) -> io::Result<Self> {
        Self::start(UdpSocket::bind(listen)?, None)
    }

    /// Bind `listen`, and `group` (a multicast address and port) joined on the interface that
    /// holds `listen`'s address; multicast sends leave that interface with hop limit `ttl`.
    ///
    /// # Errors
    ///
    /// As [`Self::bind`]; the interface holding `listen` cannot be found (IPv6), or the kernel
    /// refuses the membership or an option.
    pub fn bind_group(listen: SocketAddr, group: SocketAddr, ttl: u8) -> io::Result<Self> {
        use rustix::net::sockopt;
        let socket = UdpSocket::bind(listen)?;
        let rx = UdpSocket::bind(group)?;
        match (listen.ip(), group.ip()) {
            (IpAddr::V4(l), IpAddr::V4(g)) => {
                sockopt::set_ip_add_membership(&rx, &g, &l)?;
                sockopt::set_ip_multicast_if(&socket, &l)?;
                sockopt::set_ip_multicast_ttl(&socket, u32::from(ttl))?;
                sockopt::set_ip_multicast_loop(&socket, false)?;
            }
            (IpAddr::V6(l), IpAddr::V6(g)) => {
                let ifindex = ifindex_of_v6(l)?;
                sockopt::set_ipv6_add_membership(&rx, &g, ifindex)?;
                sockopt::set_ipv6_multicast_if(&socket, ifindex)?;
                sockopt::set_ipv6_multicast_hops(&socket, u32::from(ttl))?;
                sockopt::set_ipv6_multicast_loop(&socket, false)?;
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the sync group is not of the listen address's family",
                ))
            }
        }
        Self::start(socket, Some(rx))
    }

    fn start(socket: UdpSocket, group: Option<UdpSocket>) -> io::Result<Self> {
        let socket = Arc::new(socket);
        socket.set_nonblocking(true)?;
        // The group's socket is the reader's alone: it only receives.
        if let Some(g) = &group {
            g.set_nonblocking(true)?;
        }
        let (tx, rx) = bounded(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(TransportCounters::default());
        let reader = {
            let (socket, stop, counters) = (socket.clone(), stop.clone(), counters.clone());
            std::thread::Builder::new()
                .name("ferrovs-sync-rx".into())
                .spawn(move || read_loop(&socket, group.as_ref(), &tx, &stop, &counters))?
        };
        Ok(Self {
            socket,
            rx,
            stop,
            reader: Some(reader),
            counters,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// As `UdpSocket::local_addr`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The datagrams read, for a `select!` arm.
    pub fn datagrams(&self) -> &Receiver<Datagram> {
        &self.rx
    }

    /// Send one datagram without blocking; returns false (and counts) when the kernel refused
    /// it: the channel's resend covers a lost numbered message.
    pub fn send(&self, t: &Transmit) -> bool {
        match self.socket.send_to(&t.bytes, t.dst) {
            Ok(_) => true,
            Err(_) => {
                self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The socket's counters.
    pub fn counters(&self) -> &TransportCounters {
        &self.counters
    }

    /// The socket's counters as plain numbers, for [`super::ChannelStats::transport`].
    pub fn totals(&self) -> TransportTotals {
        let c = &self.counters;
        TransportTotals {
            dropped: c.dropped.load(Ordering::Relaxed),
            send_errors: c.send_errors.load(Ordering::Relaxed),
            recv_errors: c.recv_errors.load(Ordering::Relaxed),
        }
    }
}

impl Drop for UdpTransport {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

/// The index of the interface that holds `addr` (`/proc/net/if_inet6`: address in hex,
/// index in hex, ...).
fn ifindex_of_v6(addr: Ipv6Addr) -> io::Result<u32> {
    let want: String = addr.octets().iter().map(|b| format!("{b:02x}")).collect();
    let table = std::fs::read_to_string("/proc/net/if_inet6")?;
    table
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == want)
                .then(|| u32::from_str_radix(f.next()?, 16).ok())
                .flatten()
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("no interface holds {addr}"),
            )
        })
}

fn read_loop(
    socket: &UdpSocket,
    group: Option<&UdpSocket>,
    tx: &Sender<Datagram>,
    stop: &AtomicBool,
    counters: &TransportCounters,
) {
    let mut buf = vec![0u8; 65536];
    let wait = Timespec::try_from(STOP_CHECK).unwrap_or(Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    });
    while !stop.load(Ordering::Relaxed) {
        let mut fds = vec![PollFd::new(socket, PollFlags::IN)];
        if let Some(g) = group {
            fds.push(PollFd::new(g, PollFlags::IN));
        }
        match poll(&mut fds, Some(&wait)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => {
                counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(STOP_CHECK);
                continue;
            }
        }
        for s in core::iter::once(socket).chain(group) {
            if !drain(s, &mut buf, tx, counters) {
                return;
            }
        }
    }
}

/// Read what `socket` has; false when the control loop is gone.
fn drain(
    socket: &UdpSocket,
    buf: &mut [u8],
    tx: &Sender<Datagram>,
    counters: &TransportCounters,
) -> bool {
    loop {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                let d = Datagram {
                    bytes: buf[..n].to_vec(),
                    from,
                };
                match tx.try_send(d) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // ICMP port unreachable from a peer that is down surfaces here on Linux.
                counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn sync_transport_carries_datagrams_over_loopback() {
        let a = UdpTransport::bind("127.0.0.1:0".parse().expect("literal")).expect("bind a");
        let b = UdpTransport::bind("127.0.0.1:0".parse().expect("literal")).expect("bind b");
        let (aa, ba) = (a.local_addr().expect("a"), b.local_addr().expect("b"));
        for i in 0..3u8 {
            assert!(a.send(&Transmit {
                dst: ba,
                bytes: vec![i; 10 + usize::from(i)],
            }));
        }
        let start = Instant::now();
        for i in 0..3u8 {
            let d = b
                .datagrams()
                .recv_timeout(Duration::from_secs(5))
                .expect("datagram arrives");
            assert_eq!(d.from, aa);
            assert_eq!(d.bytes, vec![i; 10 + usize::from(i)]);
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(b);
        // The peer is gone: sends still do not block or fail the caller.
        let _ = a.send(&Transmit {
            dst: ba,
            bytes: vec![1],
        });
    }
}
