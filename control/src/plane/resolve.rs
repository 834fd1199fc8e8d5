//! Neighbours: what the workers punt (ARP/ND answered and learned from, the box's own traffic
//! to the exception path, frames whose next hop is unknown held), asking for the neighbours the
//! snapshot needs, and announcing VIPs and local addresses with gratuitous ARP. Addresses
//! director HA does not own now get no answers and no announcements.

use std::net::IpAddr;
use std::time::Instant;

use dataplane::snapshot::Snapshot;
use dataplane::wire::fragment::peek_fragment;
use dataplane::wire::{fragmenter, parse_frame, peek_ip, ParsedFrame, L3, L4};

use super::exception::{is_for_box, neighbour_frame_for_kernel};
use super::{Control, FrameIo};
use crate::echo::echo_reply;
use crate::{neigh, topology};

impl<Io: FrameIo> Control<Io> {
    /// Handle a punted frame; return true when the neighbour table changed (publish then).
    pub fn punted(&mut self, m: Io::Frame, snap: &Snapshot, now: Instant) -> bool {
        let port = self.io.in_port(&m);
        let Some(&mac) = self.macs.get(usize::from(port)) else {
            return false;
        };
        let cfg = &self.cfg;
        let out = neigh::handle(Io::data(&m), mac, |ip| {
            topology::answers_for(cfg, snap, usize::from(port), ip)
        });
        if let Some(reply) = &out.reply {
            self.send(port, reply);
        }
        if self.echo_fragment(port, Io::data(&m), snap, now) {
            return false;
        }
        let Ok(p) = parse_frame(Io::data(&m)) else {
            // A protocol the pipeline does not parse (VRRP, OSPF, IGMP, PIM ...): the workers
            // punt it when it is for the box, and it is the kernel's to judge, malformed or not.
            if peek_ip(Io::data(&m)).is_some_and(|k| snap.is_for_box(k.dst)) {
                self.give_kernel(port, &m);
            }
            return false;
        };
        let neighbour_frame = out.reply.is_some() || is_neighbour_frame(&p);
        if neighbour_frame && neighbour_frame_for_kernel(Io::data(&m), &p, snap) {
            // The kernel behind the exception path keeps its own neighbour table (it answers
            // nothing: its ARP replies are dropped on the way out, control already answered).
            self.copy_to_kernel(port, &m);
        }
        if let Some((ip, mac)) = out.learned {
            return self.neighbours.learn(ip, mac, port, now);
        }
        if neighbour_frame {
            return false;
        }
        if is_for_box(&p.l3, snap) {
            // The box's own traffic (ping, SSH, BGP, BFD, probe replies, link-local multicast):
            // the kernel's.
            self.give_kernel(port, &m);
        } else {
            self.hold(m, now);
        }
        false
    }

    /// Take what the workers punted and control's own RX queues received: punted frames are
    /// handled here, received ones go to a worker. Returns (any frame, neighbour table
    /// changed). `buf` is scratch space, left empty.
    pub fn poll_frames(&mut self, buf: &mut Vec<Io::Frame>, now: Instant) -> (bool, bool) {
        let (mut busy, mut changed) = (false, false);
        self.io.recv_punted(buf);
        if !buf.is_empty() {
            busy = true;
            let snap = self.shared.load_full();
            for m in buf.drain(..) {
                changed |= self.punted(m, &snap, now);
            }
        }
        // Control's own RX queues: peers that spread flows over every queue (AF_PACKET fanout,
        // memif queue pairs) deliver data here too; a worker runs it through the pipeline and
        // punts back what is control's.
        self.io.recv_own(buf);
        if !buf.is_empty() {
            busy = true;
            self.inject(buf);
        }
        busy |= self.forward_from_kernel(buf);
        (busy, changed)
    }

    /// A fragment of an ICMP datagram to a VIP (the workers punt those): reassemble it, and
    /// answer a whole echo request in fragments of the port's MTU. Returns false for any
    /// other frame.
    fn echo_fragment(&mut self, port: u8, data: &[u8], snap: &Snapshot, now: Instant) -> bool {
        let Some(k) = peek_fragment(data) else {
            return false;
        };
        if !snap.is_vip(k.dst) || !k.is_icmp() {
            return false;
        }
        let req = match self.echo.add(data, now) {
            Ok(Some(req)) => req,
            Ok(None) => return true,
            Err(_) => {
                self.stats.echo_dropped += 1;
                return true;
            }
        };
        let (Some(&mac), Some(info)) = (
            self.macs.get(usize::from(port)),
            snap.ports.get(usize::from(port)),
        ) else {
            return true;
        };
        let mut frames = Vec::new();
        let id = self.echo.next_id();
        let io = &mut self.io;
        let sent = echo_reply(&req, mac).is_some_and(|reply| {
            fragmenter::fragment(&reply, info.mtu, id, |head, payload| {
                let mut bytes = Vec::with_capacity(head.len() + payload.len());
                bytes.extend_from_slice(head);
                bytes.extend_from_slice(payload);
                io.alloc(&bytes).map(|f| frames.push(f)).is_some()
            })
            .is_ok()
        });
        if sent {
            self.io.send(port, &mut frames);
            self.stats.echo_answered += 1;
        } else {
            self.stats.echo_dropped += 1;
        }
        true
    }

    /// Ask for every wanted neighbour that is missing or stale.
    pub fn resolve(&mut self, snap: &Snapshot, now: Instant) {
        let stale = self.neighbours.stale(now);
        for (hop, port, src) in topology::wanted_neighbours(&self.cfg, snap) {
            if self.neighbours.get(&hop).is_some() && !stale.iter().any(|(ip, _)| *ip == hop) {
                continue;
            }
            let Some(&mac) = self.macs.get(usize::from(port)) else {
                continue;
            };
            let frame = match (hop, src) {
                (IpAddr::V4(t), IpAddr::V4(s)) => neigh::arp_request(mac, s, t),
                (IpAddr::V6(t), IpAddr::V6(s)) => neigh::neighbour_solicitation(mac, s, t),
                _ => continue,
            };
            self.send(port, &frame);
        }
    }

    /// The periodic neighbour pass: forget expired neighbours, ask for missing and stale
    /// ones, drop held frames that waited too long. Returns true when the table changed.
    pub fn neighbour_pass(&mut self, now: Instant) -> bool {
        let changed = self.neighbours.expire(now);
        let snap = self.shared.load_full();
        self.resolve(&snap, now);
        self.expire_held(now);
        changed
    }

    /// Gratuitous ARP for `ips` (VIPs) and every local address, on every port; not for those
    /// director HA does not own now (they are announced when they become owned).
    pub fn announce(&mut self, ips: &[IpAddr]) {
        let mut ips = ips.to_vec();
        for p in &self.cfg.local_address_pools {
            ips.extend(p.addresses.iter().copied());
        }
        ips.sort();
        ips.dedup();
        ips.retain(|ip| !self.is_not_owned(*ip));
        for port in 0..self.macs.len() {
            let mac = self.macs[port];
            for ip in &ips {
                if let IpAddr::V4(v4) = ip {
                    let f = neigh::gratuitous_arp(mac, *v4);
                    self.send(u8::try_from(port).unwrap_or(0), &f);
                }
            }
        }
    }

    /// Announce every VIP and local address (at start).
    pub fn announce_all(&mut self) {
        let vips: Vec<IpAddr> = self.cfg.services.iter().map(|s| s.vip).collect();
        self.announce(&vips);
    }
}

/// ARP, or an ICMPv6 neighbour discovery message.
fn is_neighbour_frame(p: &ParsedFrame) -> bool {
    match (p.l3, p.l4) {
        (L3::Arp, _) => true,
        (L3::Ipv6 { .. }, L4::Icmpv6 { msg_type, .. }) => (133..=137).contains(&msg_type),
        _ => false,
    }
}
