//! ICMP: echo to a VIP is answered by the gateway, errors quoting a packet of a session are
//! translated for the flow's other end (so path-MTU discovery works through NAT and FullNAT;
//! the mode's translation is in [`crate::forward`]), the rest goes to the box (its own
//! addresses, neighbour discovery) or is dropped.

use crate::forward::{self, synproxy, Fwd, Quote, ORIGIN_TTL};
use crate::frame::Frame;
use crate::rewrite::{set_macs, src_mac, Family};
use crate::session::Session;
use crate::snapshot::is_link_local_multicast;
use crate::types::L4Proto;
use crate::wire::{
    DropReason, IcmpInner, Icmpv4Message, Icmpv4Packet, Icmpv6Message, Icmpv6Packet, Ipv4Packet,
    Ipv6Packet,
};

use super::{sync, Pkt, Punt, Verdict, Worker};

impl Worker {
    /// An ICMP message `msg_type` from `src` to `dst` (`inner`: the packet an error quotes).
    pub(super) fn icmp<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        src: A,
        dst: A,
        msg_type: u8,
        inner: Option<IcmpInner<A>>,
    ) -> Fwd {
        let snap = pkt.snap;
        let own = snap.is_own(dst.ip());
        let (echo_req, nd) = if A::V6 {
            (128, (133..=137).contains(&msg_type))
        } else {
            (8, false)
        };
        if nd {
            return Ok(Verdict::Punt(Punt::Nd));
        }
        if let Some(inner) = inner {
            return match self.icmp_error(pkt, inner) {
                Err(DropReason::IcmpNoSession) if own => Ok(Verdict::Punt(Punt::Local)),
                v => v,
            };
        }
        if own {
            return Ok(Verdict::Punt(Punt::Local));
        }
        if msg_type == echo_req && snap.is_vip(dst.ip()) {
            self.counters.icmp_echo_answered.inc();
            return echo_reply(pkt, src, dst);
        }
        if snap.is_vip(dst.ip()) {
            Err(DropReason::UnsupportedIcmpType)
        } else if is_link_local_multicast(dst.ip()) {
            // MLD, echo to all-nodes, router solicitations: the kernel's.
            Ok(Verdict::Punt(Punt::Local))
        } else {
            Err(DropReason::NotForUs)
        }
    }

    /// Translate an ICMP error quoting a packet of a session and send it to the flow's other
    /// end; an error about another worker's flow goes to that worker.
    fn icmp_error<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        inner: IcmpInner<A>,
    ) -> Fwd {
        let proto = L4Proto::from_number(inner.proto).ok_or(DropReason::IcmpNoSession)?;
        // The quote is a packet as it was sent; its reverse is how the session knows the flow.
        let rev = A::flow_key(inner.dst, inner.dst_port, inner.src, inner.src_port, proto);
        let now = pkt.now;
        let t = A::sessions(&mut self.tables);
        let Some((slot, dir)) = t.lookup(&rev) else {
            // ICMP carries no ports for RSS, so an error about another worker's flow lands
            // anywhere: send it to the owner when the quote names one (DESIGN §5).
            return match self.icmp_owner(pkt.snap, &inner, proto) {
                Some(o) => Ok(Verdict::Redirect(o)),
                None => Err(DropReason::IcmpNoSession),
            };
        };
        if let Some(home) = sync::stub_home(t, slot, now) {
            return Ok(Verdict::Redirect(home));
        }
        t.touch(slot, now);
        let Some(&s) = t.get(slot) else {
            return Err(DropReason::IcmpNoSession);
        };
        let q = Quote {
            l3: inner.l3_off,
            l4: inner.l4_off,
            l4_len: pkt.p.l3_end.saturating_sub(inner.l4_off),
            proto,
        };
        if proto == L4Proto::Tcp && s.flags & Session::<A>::FLAG_SYNPROXY_OPEN != 0 {
            let to_server = dir == crate::session::Direction::Inbound;
            synproxy::quote(pkt.frame.data_mut(), &q, &t.synproxy(slot), to_server);
        }
        self.counters.icmp_translated.inc();
        match dir {
            // The quote is a packet we sent towards the backend: tell the client about its own
            // packet as it sent it.
            crate::session::Direction::Reply => forward::icmp_to_client(pkt, &s, &q),
            // The quote is a reply towards the client: pass the error to the backend, in the
            // terms of the packet the backend sent.
            crate::session::Direction::Inbound => {
                forward::icmp_to_backend(pkt, &s, &q, &self.counters, &mut self.admit)
            }
        }
    }
}

/// Answer an echo request to a VIP from the gateway itself, out of the port it came in on; a
/// reply larger than the port's MTU (a large ping that arrived reassembled, or on a larger
/// MTU) goes in fragments.
fn echo_reply<A: Family, F: Frame>(pkt: &mut Pkt<'_, F>, src: A, dst: A) -> Fwd {
    let in_port = pkt.in_port;
    let port = forward::port(pkt.snap, in_port)?;
    let p = pkt.p;
    let d = pkt.frame.data_mut();
    let peer = src_mac(d);
    set_macs(d, &peer, &port.mac);
    A::set_src(d, p.l3_off, dst);
    A::set_dst(d, p.l3_off, src);
    if A::V6 {
        Ipv6Packet::new_unchecked(&mut d[p.l3_off..]).set_hop_limit(ORIGIN_TTL);
        Icmpv6Packet::new_unchecked(&mut d[p.l4_off..]).set_msg_type(Icmpv6Message::EchoReply);
    } else {
        let mut ip = Ipv4Packet::new_unchecked(&mut d[p.l3_off..]);
        ip.set_ttl(ORIGIN_TTL);
        ip.fill_checksum();
        Icmpv4Packet::new_unchecked(&mut d[p.l4_off..]).set_msg_type(Icmpv4Message::EchoReply);
    }
    A::fill_icmp_checksum(d, p.l3_off, p.l4_off, p.l3_end);
    if p.l3_end - p.l3_off > usize::from(port.mtu) {
        // The gateway is the reply's source: it may fragment, IPv6 included.
        if !A::V6 {
            Ipv4Packet::new_unchecked(&mut d[p.l3_off..]).set_frag(false, false, 0);
        }
        return Ok(Verdict::TxFragment {
            port: in_port,
            mtu: port.mtu,
        });
    }
    Ok(Verdict::Tx(in_port))
}
