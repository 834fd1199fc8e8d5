//! NAT (masquerading): the destination becomes the backend, the backend's replies come back
//! through the gateway and their source becomes the VIP again. The gateway routes, so the TTL
//! goes down by one each way.

use crate::frame::Frame;
use crate::rewrite::{self, set_macs, Family};
use crate::session::Session;
use crate::snapshot::PortInfo;
use crate::wire::{DropReason, ParsedFrame};
use crate::worker::{Pkt, Verdict};

use super::{dec_ttl, rewrite_quote, Fwd, Quote};

/// Rewrite the client's packet for the backend: destination := backend:bport.
#[inline(always)]
pub(crate) fn to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
) -> Fwd {
    let p = pkt.p;
    let d = pkt.frame.data_mut();
    let dst = Some((s.backend(), s.bport()));
    if !rewrite::route_rewrite(d, p.l3_off, p.l4_off, s.proto(), None, dst) {
        return Err(DropReason::TtlExceeded);
    }
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(Verdict::Tx(s.backend_port))
}

/// Rewrite a reply for the client, TTL included: source := VIP:vport. False (untouched) when
/// the TTL would reach 0.
#[inline(always)]
pub(crate) fn to_client<A: Family>(d: &mut [u8], p: &ParsedFrame, s: &Session<A>) -> bool {
    let src = Some((s.vip(), s.vport()));
    rewrite::route_rewrite(d, p.l3_off, p.l4_off, s.proto(), src, None)
}

/// Pass an ICMP error about a reply to the backend: the error's destination and the quoted
/// packet's source become the backend, as the backend sent it.
pub(crate) fn icmp_to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    q: &Quote,
    port: &PortInfo,
) -> Fwd {
    let p = pkt.p;
    let d = pkt.frame.data_mut();
    icmp_rewrite(d, p.l3_off, s, q)?;
    A::fill_icmp_checksum(d, p.l3_off, p.l4_off, p.l3_end);
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(Verdict::Tx(s.backend_port))
}

/// The NAT part of an ICMP error's translation to the backend (FullNAT adds its local
/// address): TTL, destination, the quote's source.
#[inline]
pub(super) fn icmp_rewrite<A: Family>(
    d: &mut [u8],
    l3: usize,
    s: &Session<A>,
    q: &Quote,
) -> Result<(), crate::wire::DropReason> {
    dec_ttl::<A>(d, l3)?;
    A::set_dst(d, l3, s.backend());
    rewrite_quote(d, q, true, s.backend(), s.bport());
    Ok(())
}
