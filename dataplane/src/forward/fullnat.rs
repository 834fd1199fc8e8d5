//! FullNAT: both ends are rewritten, client:cport -> VIP:vport becomes laddr:lport ->
//! backend:bport, so replies come back to the gateway whatever the backend's routes; the
//! client's address travels to the backend in a TOA TCP option. The local port is chosen by
//! the worker ([`crate::worker`]'s local ports) so that replies reach the worker that owns
//! the session.

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{self, set_macs, Family};
use crate::session::{Session, TcpFlags};
use crate::snapshot::{PortInfo, ToaMode};
use crate::wire::{DropReason, ParsedFrame};
use crate::worker::{Pkt, Verdict};

use super::{nat, rewrite_quote, Fwd, Quote};

/// Rewrite the client's packet for the backend: source := laddr:lport, destination :=
/// backend:bport.
#[inline(always)]
pub(crate) fn to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
) -> Fwd {
    let p = pkt.p;
    let d = pkt.frame.data_mut();
    let (src, dst) = (Some((s.laddr(), s.lport())), Some((s.backend(), s.bport())));
    if !rewrite::route_rewrite(d, p.l3_off, p.l4_off, s.proto(), src, dst) {
        return Err(DropReason::TtlExceeded);
    }
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(Verdict::Tx(s.backend_port))
}

/// Whether this packet of `s` is the one its service wants the TOA option on (SYN, or the
/// first ACK), and no attempt was made yet.
#[inline(always)]
pub(crate) fn toa_due<A: Family, F>(pkt: &Pkt<'_, F>, s: &Session<A>) -> bool {
    s.method() == crate::session::FwdMethod::FullNat
        && s.proto() == crate::types::L4Proto::Tcp
        // One test for both: a PROXY session never gets TOA (config refuses the pair).
        && s.flags & (Session::<A>::FLAG_TOA_SENT | Session::<A>::FLAG_PROXY) == 0
        && pkt.snap.service(s.service()).is_some_and(|svc| {
            let fl: TcpFlags = pkt.flags;
            match svc.toa {
                ToaMode::Off => false,
                ToaMode::Syn => fl.syn && !fl.ack,
                ToaMode::Ack => fl.ack && !fl.syn && !fl.rst,
            }
        })
}

/// Insert the client's address and port as a TOA option into the (rewritten) segment, if it
/// fits `mtu`, and count the outcome. The caller marks the session either way.
pub(crate) fn insert_toa<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    mtu: u16,
    c: &WorkerCounters,
) {
    let p = pkt.p;
    if rewrite::insert_toa(
        pkt.frame,
        p.l3_off,
        p.l4_off,
        p.l3_end,
        mtu,
        s.client(),
        s.cport(),
    ) {
        c.toa_inserted.inc();
    } else {
        c.toa_skipped.inc();
    }
}

/// Rewrite a reply for the client, TTL included: source := VIP:vport, destination :=
/// client:cport. False (untouched) when the TTL would reach 0.
#[inline(always)]
pub(crate) fn to_client<A: Family>(d: &mut [u8], p: &ParsedFrame, s: &Session<A>) -> bool {
    let (src, dst) = (Some((s.vip(), s.vport())), Some((s.client(), s.cport())));
    rewrite::route_rewrite(d, p.l3_off, p.l4_off, s.proto(), src, dst)
}

/// Pass an ICMP error about a reply to the backend: NAT's translation, and the error's source
/// and the quote's destination become the local address and port.
pub(crate) fn icmp_to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    q: &Quote,
    port: &PortInfo,
) -> Fwd {
    let p = pkt.p;
    let d = pkt.frame.data_mut();
    nat::icmp_rewrite(d, p.l3_off, s, q)?;
    A::set_src(d, p.l3_off, s.laddr());
    rewrite_quote(d, q, false, s.laddr(), s.lport());
    A::fill_icmp_checksum(d, p.l3_off, p.l4_off, p.l3_end);
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(Verdict::Tx(s.backend_port))
}
