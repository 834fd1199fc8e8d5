//! A packet of a session: the `drop` session policy, the TCP state and timer, the counters,
//! then the mode's rewrite ([`crate::forward`]) in the packet's direction.

use crate::forward::{self, fullnat, proxy, Fwd};
use crate::frame::Frame;
use crate::rewrite::Family;
use crate::session::{Direction, Session, SlotId};
use crate::snapshot::Snapshot;
use crate::sync::{DeleteReason, SyncKind};
use crate::types::ServiceIdx;
use crate::wire::DropReason;

use super::{account, sync, Flow, Pkt, Verdict, Worker};

impl Worker {
    /// Forward a packet of the session in `slot` in direction `dir` (`fresh`: the session's
    /// first packet, which created it).
    ///
    /// Returns the [`Verdict`] itself, not a [`Fwd`]: the steps inside use `?`, and the result
    /// is turned into a verdict here, while it is still in registers. A `Result` returned
    /// through memory and converted by the caller cost 3-4% of an established packet (its
    /// narrow stores read back wide, a store-forwarding stall; measured with `hot_ir`).
    /// Inlined always: the compiler inlined it into the lookup by itself until the SYN proxy's
    /// out-of-line branches tipped its estimate (`hot_ir`: +37-53 instructions an established
    /// packet without the attribute).
    #[inline(always)]
    pub(super) fn forward<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        slot: SlotId,
        dir: Direction,
        fresh: bool,
    ) -> Verdict {
        match self.forward_steps::<A, F>(pkt, slot, dir, fresh) {
            Ok(v) => v,
            Err(r) => Verdict::Drop(r),
        }
    }

    /// [`Worker::forward`] of a segment the SYN proxy made, towards the server: the same steps,
    /// out of line, so that `forward` keeps its call sites (and its inlining into the
    /// established path; `hot_ir` saw +37-53 instructions a packet when it lost it).
    #[cold]
    #[inline(never)]
    pub(super) fn forward_cold<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        slot: SlotId,
        fresh: bool,
    ) -> Verdict {
        match self.forward_steps::<A, F>(pkt, slot, Direction::Inbound, fresh) {
            Ok(v) => v,
            Err(r) => Verdict::Drop(r),
        }
    }

    /// [`Worker::forward`]'s steps.
    #[inline(always)]
    fn forward_steps<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        slot: SlotId,
        dir: Direction,
        fresh: bool,
    ) -> Fwd {
        let (snap, now) = (pkt.snap, pkt.now);
        let t = A::sessions(&mut self.tables);
        // The `drop` session policy: one flag load unless some backend or service uses it.
        if !fresh && snap.drops_sessions() {
            if let Some(s) = t.get(slot).filter(|s| backend_dead(snap, s)) {
                let (sid, bid, active) = (s.service(), s.backend_idx(), s.is_active());
                if let Some(s) = t.remove(slot) {
                    let why = SyncKind::Deleted(DeleteReason::Removed);
                    sync::publish_cold(&mut self.sync, &self.counters, why, &s, now);
                    self.lport_released(&s);
                }
                account::gone(&self.counters, sid, bid, active);
                return Err(DropReason::BackendDown);
            }
        }
        // One copy of the session: the rewrite may need `self` (TOA marks the record). Taken
        // before the state update: that writes the record with narrow stores, and the copy's
        // wide loads after it waited for them (a store-forwarding stall, the hottest
        // instruction of an established packet in `perf` on the ring path). The common path
        // reads none of the fields the update changes (state, expiry, `sys`); the PROXY and
        // SYN proxy paths, which do, read the record again ([`Worker::refreshed`]).
        let f = match t.get(slot) {
            Some(&s) => Flow { s, slot },
            None => return Err(DropReason::NoSession),
        };
        let change = if pkt.p.l4_proto == 6 && !fresh {
            t.update_tcp_state(slot, now, dir, pkt.flags)
        } else {
            if !fresh {
                t.touch_from(slot, now, dir);
            }
            None
        };
        let (sid, bid) = (f.s.service(), f.s.backend_idx());
        if let Some(ch) = change {
            account::moved(&self.counters, sid, bid, ch);
        }
        let bytes = (pkt.p.l3_end - pkt.p.l3_off) as u64;
        account::packet(&self.counters, sid, bid, dir, bytes);
        match dir {
            Direction::Inbound => {
                // Before the rewrite: TUN's outer header would move the TCP header.
                if pkt.flags.syn && snap.clamps_mss() {
                    clamp_mss(pkt, f.s.service());
                }
                self.towards_backend(pkt, &f)
            }
            Direction::Reply => {
                // One test for PROXY and the SYN proxy (sessions without both pay only it).
                if f.s.flags & (Session::<A>::FLAG_PROXY | Session::<A>::FLAG_SYNPROXY) != 0 {
                    return self.special_to_client(pkt, &f);
                }
                let v = forward::to_client(pkt, &f.s)?;
                // After PROXY's own lowering, so the two compose as the smaller.
                if pkt.flags.syn && snap.clamps_mss() {
                    clamp_mss(pkt, f.s.service());
                }
                Ok(v)
            }
        }
    }

    /// Rewrite a client packet for its backend; FullNAT inserts TOA on the packet its service
    /// asks for.
    #[inline(always)]
    fn towards_backend<A: Family, F: Frame>(&mut self, pkt: &mut Pkt<'_, F>, f: &Flow<A>) -> Fwd {
        let s = &f.s;
        // One test for PROXY and the SYN proxy (sessions without both pay only it).
        if s.flags & (Session::<A>::FLAG_PROXY | Session::<A>::FLAG_SYNPROXY) != 0 {
            return self.special_to_backend(pkt, f);
        }
        let port = forward::port(pkt.snap, s.backend_port)?;
        let v = forward::to_backend(pkt, s, port, &self.counters, &mut self.admit)?;
        // A fragment cannot take TOA: growing it would shift every later fragment's offset.
        if fullnat::toa_due(pkt, s) && !pkt.p.frag {
            fullnat::insert_toa(pkt, s, port.mtu, &self.counters);
            // One attempt per connection: mark it either way so a header without room is not
            // re-examined on every packet.
            if let Some(rec) = A::sessions(&mut self.tables).get_mut(f.slot) {
                rec.flags |= Session::<A>::FLAG_TOA_SENT;
            }
        }
        Ok(v)
    }

    /// A client packet of a PROXY or SYN proxy session. Out of line: only such sessions come
    /// here.
    #[cold]
    #[inline(never)]
    fn special_to_backend<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        f: &Flow<A>,
    ) -> Fwd {
        let f = &self.refreshed(f)?;
        let s = &f.s;
        if s.flags & Session::<A>::FLAG_SYNPROXY != 0 {
            return self.syn_proxy_to_backend(pkt, f);
        }
        let port = forward::port(pkt.snap, s.backend_port)?;
        let v = forward::to_backend(pkt, s, port, &self.counters, &mut self.admit)?;
        // A fragment cannot take the PROXY header: growing it would shift every later
        // fragment's offset.
        if pkt.p.frag {
            return Err(DropReason::FragmentBad);
        }
        self.proxy_to_backend(pkt, f, port.mtu)?;
        Ok(v)
    }
}

impl Worker {
    /// `f`'s session as the table holds it now: after this packet's state update, which
    /// [`Worker::forward`]'s copy predates.
    #[inline]
    fn refreshed<A: Family>(&mut self, f: &Flow<A>) -> Result<Flow<A>, DropReason> {
        match A::sessions(&mut self.tables).get(f.slot) {
            Some(&s) => Ok(Flow { s, slot: f.slot }),
            None => Err(DropReason::NoSession),
        }
    }

    /// A PROXY protocol session's client segment: the header, or the sequence shift
    /// ([`proxy`]). Out of line: only such sessions come here.
    #[cold]
    #[inline(never)]
    fn proxy_to_backend<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        f: &Flow<A>,
        mtu: u16,
    ) -> Result<(), DropReason> {
        let st = A::sessions(&mut self.tables).proxy(f.slot);
        let p = pkt.p;
        let offs = (p.l3_off, p.l4_off, p.l3_end);
        proxy::to_backend(pkt.frame, offs, pkt.flags, &f.s, st, mtu, &self.counters)
    }

    /// A server packet of a PROXY or SYN proxy session. Out of line: only such sessions come
    /// here.
    #[cold]
    #[inline(never)]
    fn special_to_client<A: Family, F: Frame>(&mut self, pkt: &mut Pkt<'_, F>, f: &Flow<A>) -> Fwd {
        let f = &self.refreshed(f)?;
        if f.s.flags & Session::<A>::FLAG_SYNPROXY != 0 {
            return self.syn_proxy_to_client(pkt, f);
        }
        let v = forward::to_client(pkt, &f.s)?;
        self.proxy_to_client(pkt, f);
        // After PROXY's own lowering, so the two compose as the smaller.
        if pkt.flags.syn && pkt.snap.clamps_mss() {
            clamp_mss(pkt, f.s.service());
        }
        Ok(v)
    }

    /// A PROXY protocol session's server segment: acknowledgements back to the client's
    /// numbering; note when the server has the whole header.
    #[cold]
    #[inline(never)]
    fn proxy_to_client<A: Family, F: Frame>(&mut self, pkt: &mut Pkt<'_, F>, f: &Flow<A>) {
        let t = A::sessions(&mut self.tables);
        let st = t.proxy(f.slot);
        let d = pkt.frame.data_mut();
        if proxy::server_segment(d, pkt.p.l4_off, pkt.flags, st)
            && f.s.flags & Session::<A>::FLAG_PROXY_ACKED == 0
        {
            if let Some(rec) = t.get_mut(f.slot) {
                rec.flags |= Session::<A>::FLAG_PROXY_ACKED;
            }
        }
    }
}

/// A SYN (or SYN-ACK) of service `sid`: lower its MSS option to the service's `mss_clamp`, if
/// set ([`forward::mss`]). Out of line: only SYNs come here, while some service sets it;
/// other packets pay one test.
#[cold]
#[inline(never)]
fn clamp_mss<F: Frame>(pkt: &mut Pkt<'_, F>, sid: ServiceIdx) {
    let max = pkt.snap.service(sid).map_or(0, |s| s.mss_clamp);
    // A fragment's TCP header may be cut short; leave such a SYN alone.
    if max == 0 || pkt.p.frag {
        return;
    }
    forward::mss::clamp(pkt.frame.data_mut(), pkt.p.l4_off, max);
}

/// Whether session `s` belongs to a backend whose sessions the `drop` policy ends: one marked
/// down by its health check, or one no longer in the session's service (its id free, or reused
/// by another server) when the service expires such sessions.
#[inline]
fn backend_dead<A: Family>(snap: &Snapshot, s: &Session<A>) -> bool {
    match snap.backend(s.backend_idx()) {
        Some(b)
            if b.service == s.service()
                && (b.port == 0 || b.port == s.bport())
                && A::from_ip(b.addr) == Some(s.backend()) =>
        {
            b.drop_sessions
        }
        _ => snap
            .service(s.service())
            .is_some_and(|svc| svc.expire_nodest),
    }
}
