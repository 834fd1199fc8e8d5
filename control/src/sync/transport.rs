//! The channel's kernel UDP socket: bound to `[sync].listen` (an address of an exception-path
//! TAP or a management interface), non-blocking, read by a thread that feeds a bounded
//! crossbeam channel the control loop selects on; sends go straight out from the control loop.
//!
//! A flood cannot grow memory: the reader drops datagrams when the channel to the control loop
//! is full (counted), and the kernel drops them when the socket buffer is.

use std::io;
use std::net::{SocketAddr, UdpSocket};
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
        let socket = Arc::new(UdpSocket::bind(listen)?);
        socket.set_nonblocking(true)?;
        let (tx, rx) = bounded(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(TransportCounters::default());
        let reader = {
            let (socket, stop, counters) = (socket.clone(), stop.clone(), counters.clone());
            std::thread::Builder::new()
                .name("ferrovs-sync-rx".into())
                .spawn(move || read_loop(&socket, &tx, &stop, &counters))?
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

fn read_loop(
    socket: &UdpSocket,
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
        let mut fds = [PollFd::new(socket, PollFlags::IN)];
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
        loop {
            match socket.recv_from(&mut buf) {
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
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // ICMP port unreachable from a peer that is down surfaces here on Linux.
                    counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
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
