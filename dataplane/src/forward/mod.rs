//! The four forwarding modes, one module each: what a packet of a session becomes on its way to
//! the backend, on its way back to the client, and what an ICMP error about it becomes.
//!
//! | mode | to the backend | to the client | ICMP error to the backend |
//! |---|---|---|---|
//! | [`dr`] | MACs only | (bypasses the gateway) | MACs only |
//! | [`tun`] | IPIP outer header, or frag-needed back | (bypasses the gateway) | IPIP |
//! | [`nat`] | TTL, dst := backend | TTL, src := VIP | dst and quote := backend |
//! | [`fullnat`] | TTL, src := local, dst := backend, TOA | TTL, src := VIP, dst := client | NAT's, and local |
//!
//! The worker ([`crate::worker`]) has found the session and done the accounting; these functions
//! only rewrite the frame and name the port. Errors are [`DropReason`]s; the helpers below write
//! the checks every mode shares once (the port, the TTL).

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{rewrite_quoted_endpoint, set_macs, Family};
use crate::session::{FwdMethod, Session};
use crate::snapshot::{PortInfo, Snapshot};
use crate::types::{L4Proto, PortIdx};
use crate::wire::DropReason;
use crate::worker::{Admit, Pkt, Verdict};

pub(crate) mod dr;
mod fragment;
pub(crate) mod fullnat;
pub(crate) mod held;
pub(crate) mod mss;
pub(crate) mod nat;
pub(crate) mod proxy;
pub mod syncookie;
pub(crate) mod synproxy;
pub(crate) mod tun;

pub(crate) use fragment::later_fragment;

/// What a forwarding step returns: a verdict, or why the frame is dropped.
pub(crate) type Fwd = Result<Verdict, DropReason>;

/// TTL of headers the gateway originates (TUN outer header, ICMP errors, echo replies).
pub(crate) const ORIGIN_TTL: u8 = 64;

/// The port `idx` of the snapshot; one the snapshot does not have has no route.
#[inline(always)]
pub(crate) fn port(snap: &Snapshot, idx: PortIdx) -> Result<&PortInfo, DropReason> {
    snap.ports.get(usize::from(idx)).ok_or(DropReason::NoRoute)
}

/// Decrement the TTL / hop limit of the IP header at `l3` (the gateway routes); a packet whose
/// TTL would reach 0 is not forwarded.
#[inline(always)]
pub(crate) fn dec_ttl<A: Family>(d: &mut [u8], l3: usize) -> Result<(), DropReason> {
    if A::dec_ttl(d, l3) {
        Ok(())
    } else {
        Err(DropReason::TtlExceeded)
    }
}

/// Rewrite a client packet of session `s` for its backend, out of `port` (the session's
/// backend port). FullNAT's TOA is the worker's step after this one (it marks the session).
#[inline(always)]
pub(crate) fn to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
    c: &WorkerCounters,
    admit: &mut Admit,
) -> Fwd {
    match s.method() {
        FwdMethod::Dr => Ok(dr::to_backend(pkt, s, port)),
        FwdMethod::Tun => tun::to_backend(pkt, s, port, c, admit),
        FwdMethod::Nat => nat::to_backend(pkt, s, port),
        FwdMethod::FullNat => fullnat::to_backend(pkt, s, port),
    }
}

/// Rewrite a backend's reply of session `s` for the client (NAT and FullNAT; DR and TUN replies
/// bypass the gateway).
#[inline(always)]
pub(crate) fn to_client<A: Family, F: Frame>(pkt: &mut Pkt<'_, F>, s: &Session<A>) -> Fwd {
    let out = s.client_port;
    let port = port(pkt.snap, out)?;
    if s.flags & Session::<A>::FLAG_CLIENT_UNKNOWN != 0 {
        // A synced session that has not seen its client here yet: no next hop to send to.
        return Err(DropReason::NoRoute);
    }
    let d = pkt.frame.data_mut();
    let routed = if s.method() == FwdMethod::FullNat {
        fullnat::to_client(d, pkt.p, s)
    } else {
        nat::to_client(d, pkt.p, s)
    };
    if !routed {
        return Err(DropReason::TtlExceeded);
    }
    set_macs(d, &s.client_mac, &port.mac);
    Ok(Verdict::Tx(out))
}

/// Where the packet an ICMP error quotes sits in the frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quote {
    /// Offset of the quoted IP header.
    pub(crate) l3: usize,
    /// Offset of the quoted L4 header.
    pub(crate) l4: usize,
    /// Bytes of the quoted L4 header and payload present.
    pub(crate) l4_len: usize,
    /// The quoted transport protocol.
    pub(crate) proto: L4Proto,
}

/// Translate an ICMP error that quotes a packet the gateway sent towards the backend: tell the
/// client about its own packet as it sent it (the same in every mode: the session knows the
/// client and the VIP).
pub(crate) fn icmp_to_client<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    q: &Quote,
) -> Fwd {
    let port = port(pkt.snap, s.client_port)?;
    let (l3, l4, end) = (pkt.p.l3_off, pkt.p.l4_off, pkt.p.l3_end);
    let d = pkt.frame.data_mut();
    dec_ttl::<A>(d, l3)?;
    A::set_src(d, l3, s.vip());
    A::set_dst(d, l3, s.client());
    rewrite_quote(d, q, true, s.client(), s.cport());
    rewrite_quote(d, q, false, s.vip(), s.vport());
    A::fill_icmp_checksum(d, l3, l4, end);
    set_macs(d, &s.client_mac, &port.mac);
    Ok(Verdict::Tx(s.client_port))
}

/// Translate an ICMP error that quotes a reply towards the client: pass it to the backend, in
/// the terms of the packet the backend sent.
pub(crate) fn icmp_to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    q: &Quote,
    c: &WorkerCounters,
    admit: &mut Admit,
) -> Fwd {
    let port = port(pkt.snap, s.backend_port)?;
    match s.method() {
        FwdMethod::Dr => Ok(dr::to_backend(pkt, s, port)),
        FwdMethod::Tun => tun::to_backend(pkt, s, port, c, admit),
        FwdMethod::Nat => nat::icmp_to_backend(pkt, s, q, port),
        FwdMethod::FullNat => fullnat::icmp_to_backend(pkt, s, q, port),
    }
}

/// Rewrite one endpoint (source or destination) of the packet quoted in an ICMP error.
#[inline]
pub(crate) fn rewrite_quote<A: Family>(d: &mut [u8], q: &Quote, src: bool, addr: A, port: u16) {
    rewrite_quoted_endpoint(d, (q.l3, q.l4, q.l4_len), q.proto, src, addr, port);
}
