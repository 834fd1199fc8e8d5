//! IP-in-IP tunnelling (TUN): an outer IPv4 header (gateway -> backend) goes in front of the
//! client's packet, which the backend decapsulates and answers directly. A packet that no longer
//! fits the port's MTU with Don't Fragment set is answered with ICMP "fragmentation needed".

use core::net::{IpAddr, Ipv4Addr};

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{set_macs, src_mac, wr16, Family};
use crate::session::Session;
use crate::snapshot::PortInfo;
use crate::types::PortIdx;
use crate::wire::{checksum, DropReason};
use crate::worker::{Pkt, Verdict};

use super::{fill_ipv4_header_checksum, port, Fwd, ORIGIN_TTL};

/// Encapsulate the packet for the backend of `s`, out of `port` (its backend port). Too big
/// with DF set: ICMP "fragmentation needed" back to the client instead (counted in `c`).
pub(crate) fn to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
    c: &WorkerCounters,
) -> Fwd {
    let IpAddr::V4(backend) = s.backend().ip() else {
        return Err(DropReason::UnsupportedMode);
    };
    let Some(&outer_src) = port.addrs4.first() else {
        return Err(DropReason::TunNoSource);
    };
    let p = pkt.p;
    let inner_len = p.l3_end - p.l3_off;
    if inner_len + 20 > usize::from(port.mtu) {
        if p.dont_frag {
            let v = frag_needed(pkt, port.mtu.saturating_sub(20), s.client_port)?;
            c.icmp_frag_needed_sent.inc();
            return Ok(v);
        }
        return Err(DropReason::MtuExceeded);
    }
    let frame = &mut *pkt.frame;
    let l2 = p.l3_off;
    let pad = frame.len() - p.l3_end;
    if pad > 0 && !frame.trim(pad) {
        return Err(DropReason::MtuExceeded);
    }
    let d = frame.prepend(20).ok_or(DropReason::MtuExceeded)?;
    d.copy_within(20..20 + l2, 0);
    let tos = d[l2 + 20 + 1];
    let total = u16::try_from(inner_len + 20).unwrap_or(u16::MAX);
    let o = &mut d[l2..l2 + 20];
    o[0] = 0x45;
    o[1] = tos;
    o[2..4].copy_from_slice(&total.to_be_bytes());
    o[4..6].copy_from_slice(&[0, 0]);
    o[6..8].copy_from_slice(&(if p.dont_frag { 0x4000u16 } else { 0 }).to_be_bytes());
    o[8] = ORIGIN_TTL;
    o[9] = 4; // IP-in-IP
    o[12..16].copy_from_slice(&outer_src.octets());
    o[16..20].copy_from_slice(&backend.octets());
    fill_ipv4_header_checksum(d, l2, l2 + 20);
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(Verdict::Tx(s.backend_port))
}

/// Replace the frame by an ICMP "fragmentation needed" (type 3 code 4) to its sender, quoting
/// its IP header and first 8 payload bytes, sent back out of `in_port`, the client's port.
fn frag_needed<F: Frame>(pkt: &mut Pkt<'_, F>, mtu: u16, in_port: PortIdx) -> Fwd {
    let port = port(pkt.snap, in_port)?;
    let (p, frame) = (pkt.p, &mut *pkt.frame);
    let (l2, l3) = (p.l3_off, p.l3_off);
    let quote_len = (p.l4_off - l3 + 8).min(p.l3_end - l3);
    let mut quote = [0u8; 68];
    let (client, gw_src) = {
        let d = frame.data();
        quote[..quote_len].copy_from_slice(&d[l3..l3 + quote_len]);
        let client = Ipv4Addr::new(d[l3 + 12], d[l3 + 13], d[l3 + 14], d[l3 + 15]);
        let vip = Ipv4Addr::new(d[l3 + 16], d[l3 + 17], d[l3 + 18], d[l3 + 19]);
        (client, port.addrs4.first().copied().unwrap_or(vip))
    };
    let total = 20 + 8 + quote_len;
    let new_len = l2 + total;
    if frame.len() < new_len || !frame.trim(frame.len() - new_len) {
        return Err(DropReason::MtuExceeded);
    }
    let d = frame.data_mut();
    let peer = src_mac(d);
    set_macs(d, &peer, &port.mac);
    let o = &mut d[l3..l3 + 20];
    o[0] = 0x45;
    o[1] = 0;
    o[2..4].copy_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
    o[4..8].copy_from_slice(&[0, 0, 0, 0]);
    o[8] = ORIGIN_TTL;
    o[9] = 1;
    o[12..16].copy_from_slice(&gw_src.octets());
    o[16..20].copy_from_slice(&client.octets());
    fill_ipv4_header_checksum(d, l3, l3 + 20);
    let i = l3 + 20;
    d[i] = 3;
    d[i + 1] = 4;
    d[i + 4..i + 6].copy_from_slice(&[0, 0]);
    d[i + 6..i + 8].copy_from_slice(&mtu.to_be_bytes());
    d[i + 8..i + 8 + quote_len].copy_from_slice(&quote[..quote_len]);
    wr16(d, i + 2, 0);
    let c = checksum::checksum(&d[i..i + 8 + quote_len]);
    wr16(d, i + 2, c);
    Ok(Verdict::Tx(in_port))
}
