//! The exception path: the box's own traffic (ping, SSH, BGP, health-probe replies) goes to a
//! kernel TAP interface per port, and what the kernel sends there goes to the wire.

use std::net::IpAddr;

use dataplane::snapshot::Snapshot;
use dataplane::wire::{ArpPacket, ParsedFrame, L3};

use super::{Control, FrameIo};

impl<Io: FrameIo> Control<Io> {
    /// Copy a frame to port `port`'s exception path; false when it has none.
    pub(super) fn copy_to_kernel(&mut self, port: u8, m: &Io::Frame) -> bool {
        if !self.io.has_tap(port) {
            return false;
        }
        if let Some(c) = self.io.alloc(Io::data(m)) {
            let mut v = vec![c];
            self.io.send_to_kernel(port, &mut v);
            self.stats.to_kernel += u64::from(v.is_empty());
        }
        true
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
            // duplicates.
            buf.retain(|m| !is_arp_reply(Io::data(m)));
            self.stats.from_kernel += buf.len() as u64;
            self.io.send(port, buf);
            buf.clear();
        }
        any
    }
}

/// An ARP reply (EtherType 0x0806, operation 2).
fn is_arp_reply(frame: &[u8]) -> bool {
    frame.len() >= 22 && frame[12..14] == [0x08, 0x06] && frame[20..22] == [0, 2]
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

/// Whether a frame is addressed to the box itself (its own addresses, not VIPs or local
/// addresses, whose traffic the pipeline handles).
pub(super) fn is_for_box(l3: &L3, snap: &Snapshot) -> bool {
    match *l3 {
        L3::Ipv4 { dst, .. } => snap.is_own(IpAddr::V4(dst)),
        L3::Ipv6 { dst, .. } => snap.is_own(IpAddr::V6(dst)),
        L3::Arp => false,
    }
}
