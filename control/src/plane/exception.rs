//! The exception path: the box's own traffic (ping, SSH, BGP, BFD, health-probe replies, and
//! whatever IP protocol goes to its addresses or to link-local multicast: VRRP, OSPF,
//! IGMP/MLD) goes to a kernel TAP interface per port, and what the kernel sends there goes to
//! the wire: everything but its solicited ARP replies (control answers ARP itself), so
//! keepalived's adverts and gratuitous ARPs (requests or replies) leave. Counted per port and
//! direction.

use std::net::IpAddr;
use std::sync::atomic::AtomicU64;

use dataplane::snapshot::Snapshot;
use dataplane::wire::{ArpPacket, ParsedFrame, L3};

use super::{Control, FrameIo};
use crate::metrics::ExceptionPathCounters;

impl<Io: FrameIo> Control<Io> {
    fn count(&self, port: u8, which: impl Fn(&ExceptionPathCounters) -> &AtomicU64, n: u64) {
        if let Some(c) = self.exception.get(usize::from(port)) {
            ExceptionPathCounters::add(which(c), n);
        }
    }

    /// Copy a frame to port `port`'s exception path; false when it has none.
    pub(super) fn copy_to_kernel(&mut self, port: u8, m: &Io::Frame) -> bool {
        if !self.io.has_tap(port) {
            return false;
        }
        if let Some(c) = self.io.alloc(Io::data(m)) {
            let mut v = vec![c];
            self.io.send_to_kernel(port, &mut v);
            let sent = u64::from(v.is_empty());
            self.stats.to_kernel += sent;
            self.count(port, |c| &c.to_kernel, sent);
            self.count(port, |c| &c.dropped_tap_full, 1 - sent);
        }
        true
    }

    /// Copy the box's own frame to the kernel, or count it dropped when `port` has no
    /// exception path.
    pub(super) fn give_kernel(&mut self, port: u8, m: &Io::Frame) {
        if !self.copy_to_kernel(port, m) {
            self.stats.local_dropped += 1;
            self.count(port, |c| &c.dropped_no_tap, 1);
        }
    }

    /// Forward what the kernel sends on its TAP interfaces to the wire; return true if any.
    /// `buf` is scratch space, left empty.
    pub fn forward_from_kernel(&mut self, buf: &mut Vec<Io::Frame>) -> bool {
        let mut any = false;
        for port in 0..self.macs.len() {
            let port = u8::try_from(port).unwrap_or(u8::MAX);
            if !self.io.has_tap(port) {
                continue;
            }
            self.io.recv_from_kernel(port, buf);
            if buf.is_empty() {
                continue;
            }
            any = true;
            // Control answers ARP for the box's addresses itself; the kernel's answers would be
            // duplicates. Gratuitous ones (keepalived's, arping -A) are announcements: they go.
            let before = buf.len();
            buf.retain(|m| !is_solicited_arp_reply(Io::data(m)));
            let n = buf.len() as u64;
            self.count(port, |c| &c.dropped_duplicate_arp_reply, before as u64 - n);
            self.stats.from_kernel += n;
            self.count(port, |c| &c.from_kernel, n);
            self.io.send(port, buf);
            buf.clear();
        }
        any
    }
}

/// An ARP reply (EtherType 0x0806, operation 2) that answers someone: sender and target
/// protocol addresses differ (a gratuitous reply has them equal).
fn is_solicited_arp_reply(frame: &[u8]) -> bool {
    frame.len() >= 42
        && frame[12..14] == [0x08, 0x06]
        && frame[20..22] == [0, 2]
        && frame[28..32] != frame[38..42]
}

/// Whether a neighbour frame concerns the box's own addresses (ARP target, or an ND message to
/// one of them or to a multicast group), so the kernel behind the exception path should see it.
pub(super) fn neighbour_frame_for_kernel(frame: &[u8], p: &ParsedFrame, snap: &Snapshot) -> bool {
    match p.l3 {
        L3::Arp => ArpPacket::new_checked(&frame[p.l3_off..])
            .is_ok_and(|a| snap.is_own(IpAddr::V4(a.tpa()))),
        L3::Ipv6 { dst, .. } => dst.is_multicast() || snap.is_own(IpAddr::V6(dst)),
        L3::Ipv4 { .. } => false,
    }
}

/// Whether a frame is addressed to the box itself: its own addresses (not VIPs or local
/// addresses, whose traffic the pipeline handles) and link-local multicast.
pub(super) fn is_for_box(l3: &L3, snap: &Snapshot) -> bool {
    match *l3 {
        L3::Ipv4 { dst, .. } => snap.is_for_box(IpAddr::V4(dst)),
        L3::Ipv6 { dst, .. } => snap.is_for_box(IpAddr::V6(dst)),
        L3::Arp => false,
    }
}
