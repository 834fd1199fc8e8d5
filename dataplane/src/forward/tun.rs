//! IP-in-IP tunnelling (TUN): an outer IPv4 header (gateway -> backend) goes in front of the
//! client's packet, which the backend decapsulates and answers directly. A packet that no longer
//! fits the port's MTU with Don't Fragment set is answered with ICMP "fragmentation needed";
//! one with Don't Fragment clear is sent in fragments of the tunnel packet (RFC 2003 §5.1:
//! the outer header copies the inner DF bit), which the backend reassembles before it
//! decapsulates.

use core::net::{IpAddr, Ipv4Addr};

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{set_macs, src_mac, Family};
use crate::session::Session;
use crate::snapshot::PortInfo;
use crate::types::PortIdx;
use crate::wire::{
    ethernet, icmpv4, ipv4, DropReason, Icmpv4Message, Icmpv4Packet, IpProtocol, Ipv4Packet,
    Ipv4Repr,
};
use crate::worker::{Admit, Pkt, Verdict};

use super::{port, Fwd, ORIGIN_TTL};

/// Encapsulate the packet for the backend of `s`, out of `port` (its backend port). Too big
/// with DF set: ICMP "fragmentation needed" back to the client instead (counted in `c`), within
/// the gateway's ICMP error rate (`admit`); with DF clear, sent in fragments.
pub(crate) fn to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
    c: &WorkerCounters,
    admit: &mut Admit,
) -> Fwd {
    let IpAddr::V4(backend) = s.backend().ip() else {
        return Err(DropReason::UnsupportedMode);
    };
    let Some(&outer_src) = port.addrs4.first() else {
        return Err(DropReason::TunNoSource);
    };
    let p = pkt.p;
    let inner_len = p.l3_end - p.l3_off;
    if inner_len + ipv4::HEADER_LEN > usize::from(port.mtu) {
        return too_big(pkt, s, port, c, admit, (outer_src, backend));
    }
    encapsulate(pkt, s, port, outer_src, backend)?;
    Ok(Verdict::Tx(s.backend_port))
}

/// A packet that no longer fits the MTU once encapsulated: DF set, ICMP "fragmentation
/// needed" to the client; DF clear, encapsulated and sent in fragments. Out of line, so the
/// common path keeps its shape.
#[cold]
#[inline(never)]
fn too_big<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
    c: &WorkerCounters,
    admit: &mut Admit,
    (outer_src, backend): (Ipv4Addr, Ipv4Addr),
) -> Fwd {
    if pkt.p.dont_frag {
        if !admit.icmp_error(pkt.now) {
            return Err(DropReason::IcmpRateLimit);
        }
        let v = frag_needed(pkt, port.mtu.saturating_sub(20), s.client_port)?;
        c.icmp_frag_needed_sent.inc();
        return Ok(v);
    }
    encapsulate(pkt, s, port, outer_src, backend)?;
    Ok(Verdict::TxFragment {
        port: s.backend_port,
        mtu: port.mtu,
    })
}

/// Put the outer header (`outer_src` -> `backend`, DF copied from the inner) in front of the
/// packet and address the frame to the backend's next hop.
#[inline]
fn encapsulate<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
    outer_src: Ipv4Addr,
    backend: Ipv4Addr,
) -> Result<(), DropReason> {
    let p = pkt.p;
    let inner_len = p.l3_end - p.l3_off;
    let frame = &mut *pkt.frame;
    let l2 = p.l3_off;
    let pad = frame.len() - p.l3_end;
    if pad > 0 && !frame.trim(pad) {
        return Err(DropReason::MtuExceeded);
    }
    let outer = ipv4::HEADER_LEN;
    let d = frame.prepend(outer).ok_or(DropReason::MtuExceeded)?;
    // The Ethernet header moves to the new front. `set_macs` below writes its addresses, so
    // only what follows them moves: the ethertype alone (no `memmove` call), or a VLAN tag too.
    if l2 == ethernet::HEADER_LEN {
        let ethertype = [d[outer + 12], d[outer + 13]];
        d[12..ethernet::HEADER_LEN].copy_from_slice(&ethertype);
    } else {
        d.copy_within(outer + 12..outer + l2, 12);
    }
    let (head, inner) = d[l2..].split_at_mut(outer);
    Ipv4Repr {
        src_addr: outer_src,
        dst_addr: backend,
        protocol: IpProtocol::IpIp.into(),
        payload_len: inner_len,
        ttl: ORIGIN_TTL,
        tos: Ipv4Packet::new_unchecked(&*inner).tos(),
        ident: 0,
        dont_frag: p.dont_frag,
    }
    .emit(&mut Ipv4Packet::new_unchecked(head));
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(())
}

/// Replace the frame by an ICMP "fragmentation needed" (type 3 code 4) to its sender, quoting
/// its IP header and first 8 payload bytes, sent back out of `in_port`, the client's port.
fn frag_needed<F: Frame>(pkt: &mut Pkt<'_, F>, mtu: u16, in_port: PortIdx) -> Fwd {
    let port = port(pkt.snap, in_port)?;
    let (p, frame) = (pkt.p, &mut *pkt.frame);
    let l3 = p.l3_off;
    let quote_len = (p.l4_off - l3 + icmpv4::QUOTED_L4_LEN).min(p.l3_end - l3);
    let mut quote = [0u8; ipv4::MAX_HEADER_LEN + icmpv4::QUOTED_L4_LEN];
    let (client, gw_src) = {
        let d = frame.data();
        quote[..quote_len].copy_from_slice(&d[l3..l3 + quote_len]);
        let ip = Ipv4Packet::new_unchecked(&d[l3..]);
        let vip = ip.dst_addr();
        (ip.src_addr(), port.addrs4.first().copied().unwrap_or(vip))
    };
    let icmp_len = icmpv4::HEADER_LEN + quote_len;
    let new_len = l3 + ipv4::HEADER_LEN + icmp_len;
    if frame.len() < new_len || !frame.trim(frame.len() - new_len) {
        return Err(DropReason::MtuExceeded);
    }
    let d = frame.data_mut();
    let peer = src_mac(d);
    set_macs(d, &peer, &port.mac);
    let (head, msg) = d[l3..].split_at_mut(ipv4::HEADER_LEN);
    Ipv4Repr {
        src_addr: gw_src,
        dst_addr: client,
        protocol: IpProtocol::Icmp.into(),
        payload_len: icmp_len,
        ttl: ORIGIN_TTL,
        tos: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut Ipv4Packet::new_unchecked(head));
    let mut icmp = Icmpv4Packet::new_unchecked(msg);
    icmp.set_msg_type(Icmpv4Message::DstUnreachable);
    icmp.set_msg_code(icmpv4::CODE_FRAG_NEEDED);
    icmp.set_next_hop_mtu(mtu);
    icmp.data_mut().copy_from_slice(&quote[..quote_len]);
    icmp.fill_checksum();
    Ok(Verdict::Tx(in_port))
}
