//! FullNAT local ports: a local address and port for a new flow whose reply tuple is free and
//! reaches this worker, either by the port's low bits ([`ReplySteering::Modulo`]: the port is
//! `k * workers + id`) or by the NIC's RSS ([`ReplySteering::Rss`]: the port's reply tuple
//! hashes to this worker).

use core::net::IpAddr;

use crate::rewrite::Family;
use crate::rss::RssSteer;
use crate::session::SessionTable;
use crate::snapshot::Service;
use crate::types::{FlowKey, L4Proto};

use super::{ReplySteering, Worker};

/// How many local ports a new FullNAT flow tries before giving up.
const LPORT_TRIES: u32 = 16;
/// RSS-aware choice: candidate ports hashed per try to find one whose reply lands on this
/// worker (about `workers` are needed on average with a round-robin redirection table; each
/// costs two table reads).
const RSS_SCAN: u32 = 1024;

/// Where the next choice starts.
#[derive(Debug)]
pub(super) struct Cursor {
    /// The next try: its local address (modulo their number) and, under modulo steering, its
    /// port.
    laddr: u32,
    /// RSS-aware choice: where the next scan for a port starts.
    rss_port: u32,
}

impl Cursor {
    /// Cursors of worker `id`, spread so workers do not walk in step.
    pub(super) fn new(id: u16) -> Cursor {
        Cursor {
            laddr: u32::from(id).wrapping_mul(0x9e37),
            rss_port: u32::from(id).wrapping_mul(0x9e37_79b9),
        }
    }
}

impl Worker {
    /// Choose a FullNAT local address and a port this worker owns whose reply key is free.
    pub(super) fn pick_lport<A: Family>(
        &mut self,
        svc: &Service,
        backend: A,
        bport: u16,
        proto: L4Proto,
    ) -> Option<(A, u16)> {
        let laddrs = &svc.laddrs;
        let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
        if let ReplySteering::Rss(rs) = &self.cfg.reply_steering {
            // The reply tuple with the local endpoint still to fill in.
            let reply = A::flow_key(backend, bport, A::UNSPECIFIED, 0, proto);
            let t = A::sessions(&mut self.tables);
            let owner = (self.cfg.id, self.cfg.lport_min);
            return pick_lport_rss(rs, t, laddrs, &mut self.lports, owner, reply);
        }
        let workers = u32::from(self.cfg.workers);
        let id = u32::from(self.cfg.id);
        // Ports base + k*workers + id, k in 0..span, all owned by this worker.
        let base = u32::from(self.cfg.lport_min).div_ceil(workers) * workers;
        let span = (65536 - base - id).div_ceil(workers);
        let t = A::sessions(&mut self.tables);
        for _ in 0..LPORT_TRIES {
            let c = self.lports.laddr;
            self.lports.laddr = c.wrapping_add(1);
            let Some(laddr) = A::from_ip(laddrs[(c % n) as usize]) else {
                continue;
            };
            let lport = u16::try_from(base + ((c / n) % span) * workers + id).ok()?;
            let reply = A::flow_key(backend, bport, laddr, lport, proto);
            if t.lookup(&reply).is_none() {
                return Some((laddr, lport));
            }
        }
        None
    }
}

/// [`Worker::pick_lport`] under [`ReplySteering::Rss`]: a local address in turn, then the next
/// port from the scan cursor whose reply tuple (`backend:bport -> laddr:lport`, `reply` with
/// the local endpoint left out) RSS delivers to worker `id`, if its reply key is free. The
/// hash of the fixed part of the tuple is computed once per address; each candidate port costs
/// two table reads (see [`crate::rss`]).
fn pick_lport_rss<A: Family>(
    rs: &RssSteer,
    t: &mut SessionTable<A>,
    laddrs: &[IpAddr],
    cursor: &mut Cursor,
    (id, lport_min): (u16, u16),
    reply: FlowKey<A>,
) -> Option<(A, u16)> {
    let (backend, bport, proto) = (reply.src, reply.sport, reply.proto);
    let n = u32::try_from(laddrs.len()).ok().filter(|&n| n > 0)?;
    let span = 65536 - u32::from(lport_min);
    for _ in 0..LPORT_TRIES {
        let c = cursor.laddr;
        cursor.laddr = c.wrapping_add(1);
        let Some(laddr) = A::from_ip(laddrs[(c % n) as usize]) else {
            continue;
        };
        let Some(partial) = rs.toeplitz().partial(backend.ip(), laddr.ip(), bport) else {
            continue;
        };
        for _ in 0..RSS_SCAN {
            let k = cursor.rss_port;
            cursor.rss_port = k.wrapping_add(1);
            let Ok(lport) = u16::try_from(u32::from(lport_min) + k % span) else {
                continue;
            };
            if rs.worker(rs.lport_hash(partial, A::V6, lport)) != id {
                continue;
            }
            let reply = A::flow_key(backend, bport, laddr, lport, proto);
            if t.lookup(&reply).is_none() {
                return Some((laddr, lport));
            }
            // Taken: the next try moves to the next address.
            break;
        }
    }
    None
}
