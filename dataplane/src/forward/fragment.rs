//! A later fragment of a datagram whose first fragment was forwarded: the first fragment's
//! address rewrite, IP header only (it has no ports; the L4 checksum, which covers the whole
//! datagram, was updated in the first fragment for the same pseudo-header change).

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{set_macs, Family};
use crate::session::{Direction, FwdMethod, Session};
use crate::worker::{Admit, Pkt, Verdict};

use super::{dec_ttl, dr, port, tun, Fwd};

/// Rewrite a later fragment of session `s` travelling in `dir` as its first fragment was.
pub(crate) fn later_fragment<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    dir: Direction,
    c: &WorkerCounters,
    admit: &mut Admit,
) -> Fwd {
    if dir == Direction::Reply {
        return to_client(pkt, s);
    }
    let port = port(pkt.snap, s.backend_port)?;
    let method = s.method();
    match method {
        FwdMethod::Dr => return Ok(dr::to_backend(pkt, s, port)),
        FwdMethod::Tun => return tun::to_backend(pkt, s, port, c, admit),
        FwdMethod::Nat | FwdMethod::FullNat => {}
    }
    let l3 = pkt.p.l3_off;
    let d = pkt.frame.data_mut();
    dec_ttl::<A>(d, l3)?;
    if method == FwdMethod::FullNat {
        A::set_src(d, l3, s.laddr());
    }
    A::set_dst(d, l3, s.backend());
    set_macs(d, &s.next_hop_mac, &port.mac);
    Ok(Verdict::Tx(s.backend_port))
}

/// A later fragment of a backend's reply (NAT, FullNAT).
fn to_client<A: Family, F: Frame>(pkt: &mut Pkt<'_, F>, s: &Session<A>) -> Fwd {
    let port = port(pkt.snap, s.client_port)?;
    if s.flags & Session::<A>::FLAG_CLIENT_UNKNOWN != 0 {
        return Err(crate::wire::DropReason::NoRoute);
    }
    let l3 = pkt.p.l3_off;
    let d = pkt.frame.data_mut();
    dec_ttl::<A>(d, l3)?;
    A::set_src(d, l3, s.vip());
    if s.method() == FwdMethod::FullNat {
        A::set_dst(d, l3, s.client());
    }
    set_macs(d, &s.client_mac, &port.mac);
    Ok(Verdict::Tx(s.client_port))
}
