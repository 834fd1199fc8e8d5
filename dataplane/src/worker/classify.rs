//! Sorting a parsed frame: a packet of a session, the first packet of a flow to a service, the
//! box's own (exception path), ICMP, or not ours (with the reason it is dropped).

use crate::counters::WorkerCounters;
use crate::forward::Fwd;
use crate::frame::Frame;
use crate::rewrite::Family;
use crate::snapshot::{is_link_local_multicast, Snapshot};
use crate::types::{FlowKey, L4Proto};
use crate::wire::fragment::peek_fragment;
use crate::wire::{peek_ip, DropReason, IcmpInner, L3, L4};

use super::{sync, Pkt, Punt, Verdict, Worker};

/// A frame [`crate::wire::parse_frame`] refused. One refused for its IP protocol is the box's
/// own when it is addressed to the box (VRRP, OSPF, IGMP, PIM, ... to one of its addresses or a
/// link-local group), for the kernel behind the exception path to judge, malformed or not;
/// a fragment of ICMP to a VIP (a large ping) goes to control, which reassembles and answers
/// it; dropped otherwise. Only refused frames come here, so the forwarding path pays nothing
/// for it.
#[cold]
#[inline(never)]
pub(super) fn refused(snap: &Snapshot, data: &[u8], r: DropReason) -> Verdict {
    match (r, peek_ip(data)) {
        (DropReason::UnsupportedL4Proto, Some(k)) if snap.is_for_box(k.dst) => {
            Verdict::Punt(Punt::Local)
        }
        (DropReason::Ipv4Fragment | DropReason::Ipv6Fragment, _)
            if peek_fragment(data).is_some_and(|k| k.is_icmp() && snap.is_vip(k.dst)) =>
        {
            Verdict::Punt(Punt::Local)
        }
        _ => Verdict::Drop(r),
    }
}

/// Count a frame to an address this gateway does not own (director HA). Out of line: the
/// set lookup stays off the forwarding path, which only tests the snapshot's flag.
#[cold]
#[inline(never)]
pub(super) fn count_not_owned(c: &WorkerCounters, snap: &Snapshot, l3: &L3) {
    let dst = match *l3 {
        L3::Ipv4 { dst, .. } => core::net::IpAddr::V4(dst),
        L3::Ipv6 { dst, .. } => core::net::IpAddr::V6(dst),
        L3::Arp => return,
    };
    if !snap.is_owned(dst) {
        c.ha_not_owned.inc();
    }
}

impl Worker {
    /// Sort a parsed frame by its network layer.
    #[inline]
    pub(super) fn classify<F: Frame>(&mut self, pkt: &mut Pkt<'_, F>) -> Verdict {
        match pkt.p.l3 {
            L3::Arp => Verdict::Punt(Punt::Arp),
            L3::Ipv4 { src, dst } => self.ip(pkt, src, dst),
            L3::Ipv6 { src, dst } => self.ip(pkt, src, dst),
        }
    }

    /// Sort an IP packet by its transport layer. Like [`Worker::forward`], the steps on the
    /// path of every packet return a [`Verdict`]; the others a `Result`, turned into one here.
    fn ip<A: Family, F: Frame>(&mut self, pkt: &mut Pkt<'_, F>, src: A, dst: A) -> Verdict
    where
        L4: IcmpOf<A>,
    {
        match pkt.p.l4 {
            L4::Tcp {
                src_port, dst_port, ..
            } => self.l4(pkt, A::flow_key(src, src_port, dst, dst_port, L4Proto::Tcp)),
            L4::Udp { src_port, dst_port } => {
                self.l4(pkt, A::flow_key(src, src_port, dst, dst_port, L4Proto::Udp))
            }
            L4::Icmpv4 { .. } | L4::Icmpv6 { .. } => {
                let (msg_type, inner) = <L4 as IcmpOf<A>>::icmp(&pkt.p.l4);
                verdict(self.icmp(pkt, src, dst, msg_type, inner))
            }
            L4::None => {
                if pkt.snap.is_for_box(dst.ip()) {
                    Verdict::Punt(Punt::Local)
                } else {
                    Verdict::Drop(DropReason::UnsupportedL4Proto)
                }
            }
        }
    }

    /// A TCP or UDP packet: its session's, else a new flow to a service, else see
    /// [`Worker::no_session`].
    fn l4<A: Family, F: Frame>(&mut self, pkt: &mut Pkt<'_, F>, key: FlowKey<A>) -> Verdict {
        let t = A::sessions(&mut self.tables);
        let h = t.hash(&key);
        if let Some((slot, dir)) = t.lookup_hashed(h, &key) {
            if let Some(home) = sync::on_hit(t, slot, dir, pkt.now, pkt.in_port, &*pkt.frame) {
                return Verdict::Redirect(home);
            }
            if self.sync.is_some() {
                return self.forward_synced::<A, F>(pkt, slot, dir);
            }
            return self.forward::<A, F>(pkt, slot, dir, false);
        }
        if let Some(sid) = pkt.snap.service_for(key.dst.ip(), key.dport, key.proto) {
            return verdict(self.new_flow(pkt, sid, (&key, h)));
        }
        verdict(self.no_session(pkt.snap, &key))
    }

    /// A TCP or UDP packet with neither a session nor a service here: the box's own, a reply
    /// whose session another worker holds, or dropped with the reason.
    fn no_session<A: Family>(&self, snap: &Snapshot, key: &FlowKey<A>) -> Fwd {
        let (src_ip, dst_ip) = (key.src.ip(), key.dst.ip());
        if snap.is_own(dst_ip) {
            return Ok(Verdict::Punt(Punt::Local));
        }
        let laddr = snap.is_laddr(dst_ip);
        let nat_reply = snap.is_nat_backend(src_ip, key.sport, key.proto);
        if let Some(o) = self.reply_owner(laddr, nat_reply, key) {
            return Ok(Verdict::Redirect(o));
        }
        if laddr || nat_reply {
            Err(DropReason::NoSession)
        } else if snap.is_vip(dst_ip) {
            Err(DropReason::NoService)
        } else if is_link_local_multicast(dst_ip) {
            // RIP, mDNS, DHCPv6, ... on the link: the kernel's (checked last, off the path of
            // every packet that is ours to forward).
            Ok(Verdict::Punt(Punt::Local))
        } else {
            Err(DropReason::NotForUs)
        }
    }
}

/// The verdict of a step: its own, or the drop it returned.
#[inline(always)]
fn verdict(r: Fwd) -> Verdict {
    r.unwrap_or_else(Verdict::Drop)
}

/// Pull the ICMP fields of one family out of the parsed L4.
pub(crate) trait IcmpOf<A> {
    /// (message type, quoted packet of an error).
    fn icmp(&self) -> (u8, Option<IcmpInner<A>>);
}

impl IcmpOf<core::net::Ipv4Addr> for L4 {
    fn icmp(&self) -> (u8, Option<IcmpInner<core::net::Ipv4Addr>>) {
        match *self {
            L4::Icmpv4 {
                msg_type, inner, ..
            } => (msg_type, inner),
            _ => (0xff, None),
        }
    }
}

impl IcmpOf<core::net::Ipv6Addr> for L4 {
    fn icmp(&self) -> (u8, Option<IcmpInner<core::net::Ipv6Addr>>) {
        match *self {
            L4::Icmpv6 {
                msg_type, inner, ..
            } => (msg_type, inner),
            _ => (0xff, None),
        }
    }
}
