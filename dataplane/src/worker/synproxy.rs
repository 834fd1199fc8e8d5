//! The worker's side of the SYN proxy ([`crate::forward::synproxy`] says what and why): the
//! cookie answer, the valid ACK that opens a session and the server leg, client segments
//! while it opens, the server's answer, and the translation of open sessions. All out of
//! line: only packets of SYN-proxied services and sessions come here.

use crate::forward::syncookie::{self, CookieError, Tuple};
use crate::forward::synproxy::{self as sp, flag, Seg};
use crate::forward::{self, fullnat, Fwd};
use crate::frame::Frame;
use crate::rewrite::{set_macs, src_mac, Family};
use crate::session::{Session, SlotId, SynProxyState, TcpFlags, TcpState};
use crate::snapshot::Service;
use crate::sync::{DeleteReason, SyncKind};
use crate::types::{FlowKey, ServiceIdx};
use crate::wire::{parse_frame, DropReason, ParsedFrame, TcpPacket, L4};

use super::{account, sync, Flow, Pkt, Verdict, Worker};

/// The default MSS a SYN without the option means (RFC 9293; IPv6's minimum MTU - 60).
const fn default_mss(v6: bool) -> u16 {
    if v6 {
        1220
    } else {
        536
    }
}

/// A copy of `p` for a frame rewritten into a new TCP segment at `(l4, end)` with `flags`.
fn reparsed(p: &ParsedFrame, l4: usize, end: usize, flags: u8) -> ParsedFrame {
    let mut q = *p;
    q.l4_off = l4;
    q.l3_end = end;
    q.ttl = forward::ORIGIN_TTL;
    q.frag = false;
    if let L4::Tcp {
        src_port, dst_port, ..
    } = p.l4
    {
        q.l4 = L4::Tcp {
            src_port,
            dst_port,
            flags,
        };
    }
    q
}

impl Worker {
    /// Set the Unix time in seconds (the SYN cookies' clock, shared by every gateway of a
    /// group); the worker loop sets it every iteration.
    pub fn set_wall_clock(&mut self, unix_s: u64) {
        self.wall_s = unix_s;
    }

    /// A packet with no session to a SYN-proxied service: a SYN gets the cookie answer, an ACK
    /// with a valid cookie opens the session; anything else starts nothing. An `auto` service
    /// whose proxy this worker has not engaged takes the normal path (its SYNs counted).
    #[cold]
    #[inline(never)]
    pub(super) fn syn_proxy_flow<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        sid: ServiceIdx,
        svc: &Service,
        (key, key_hash): (&FlowKey<A>, u64),
    ) -> Fwd {
        let fl = pkt.flags;
        if svc.syn_proxy_auto {
            let syn = fl.syn && !fl.ack && !fl.rst;
            let engaged = self.auto.engaged(sid);
            if syn {
                // A SYN that goes to its owner worker is counted there, once.
                if !engaged {
                    if let Some(o) = self.new_flow_owner(svc, key.src.ip()) {
                        return Ok(Verdict::Redirect(o));
                    }
                }
                self.auto.count_syn(sid);
            }
            if !engaged && (syn || !self.auto.checks_cookies(sid, pkt.now)) {
                return self.new_flow_with(pkt, sid, (key, key_hash), None);
            }
        }
        let keys = pkt.snap.syn_cookies.as_ref().ok_or(DropReason::NoService)?;
        // Here the gateway is the TCP endpoint, so it checks the checksum as one does: a
        // corrupt SYN gets no cookie answer and a corrupt ACK opens nothing (the client sends
        // either again).
        let (l3, l4, end) = (pkt.p.l3_off, pkt.p.l4_off, pkt.p.l3_end);
        if !A::tcp_checksum_ok(pkt.frame.data(), l3, l4, end) {
            return Err(DropReason::BadTcpChecksum);
        }
        let tuple = Tuple {
            client: key.src,
            cport: key.sport,
            vip: key.dst,
            vport: key.dport,
        };
        let count = syncookie::count_of(self.wall_s);
        if fl.syn && !fl.ack && !fl.rst {
            return self.syn_answer(pkt, svc, &tuple, &keys.current, count);
        }
        if !fl.ack || fl.syn || fl.rst {
            return Err(DropReason::NotSynForNewTcp);
        }
        if let Some(o) = self.new_flow_owner(svc, key.src.ip()) {
            return Ok(Verdict::Redirect(o));
        }
        let (d, l4) = (pkt.frame.data(), pkt.p.l4_off);
        let t = TcpPacket::new_unchecked(&d[l4..]);
        let (isn, cookie) = (
            t.seq_number().wrapping_sub(1),
            t.ack_number().wrapping_sub(1),
        );
        let mssi = syncookie::check(keys, &tuple, isn, cookie, count).map_err(|e| match e {
            CookieError::Stale => DropReason::SynProxyCookieStale,
            CookieError::Bad => DropReason::SynProxyCookieBad,
        })?;
        self.counters.syn_cookies_valid.inc();
        let st = sp::opening_state::<A>(cookie, isn, mssi, &sp::read_opts(d, l4));
        self.new_flow_with(pkt, sid, (key, key_hash), Some(st))
    }

    /// Answer a SYN with the cookie SYN-ACK, in place, out of the port it came in on.
    fn syn_answer<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        svc: &Service,
        t: &Tuple<A>,
        key: &syncookie::CookieKey,
        count: u32,
    ) -> Fwd {
        let port = forward::port(pkt.snap, pkt.in_port)?;
        let (l3, l4) = (pkt.p.l3_off, pkt.p.l4_off);
        let d = pkt.frame.data();
        let isn = TcpPacket::new_unchecked(&d[l4..]).seq_number();
        let client = sp::read_opts(d, l4);
        let peer = src_mac(d);
        let mut mss = port.mtu.saturating_sub(if A::V6 { 60 } else { 40 });
        if svc.mss_clamp != 0 {
            mss = mss.min(svc.mss_clamp);
        }
        let cmss = client.mss.unwrap_or(default_mss(A::V6));
        let mssi = syncookie::mss_index::<A>(cmss);
        let cookie = syncookie::make(key, t, isn, count, mssi);
        let (_, opts) = sp::synack_opts(mss, &client, (self.wall_s as u32).wrapping_mul(1000));
        let seg = Seg {
            src: t.vip,
            dst: t.client,
            sport: t.vport,
            dport: t.cport,
            seq: cookie,
            ack: isn.wrapping_add(1),
            flags: flag::SYN | flag::ACK,
            window: 65535,
            opts: opts.as_slice(),
        };
        sp::write_segment::<A, F>(pkt.frame, l3, &seg)?;
        set_macs(pkt.frame.data_mut(), &peer, &port.mac);
        self.counters.syn_cookies_sent.inc();
        Ok(Verdict::Tx(pkt.in_port))
    }

    /// A session opened by a valid cookie: hold the ACK's data, turn the frame into the
    /// client's SYN for the server, and send it as the session's first packet.
    pub(super) fn syn_proxy_start<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        slot: SlotId,
        st: SynProxyState,
    ) -> Verdict {
        A::sessions(&mut self.tables).set_synproxy(slot, st);
        // A frame a previous session of this slot left (it ended before its server answered)
        // is not this connection's.
        self.held.drop_slot(A::V6, slot.index() as u32);
        // `syn_proxy_flow` verified this ACK's checksum before it checked the cookie.
        self.hold_data::<A, F>(pkt, slot, true);
        let s = match A::sessions(&mut self.tables).get(slot) {
            Some(&s) => s,
            None => return Verdict::Drop(DropReason::NoSession),
        };
        self.send_syn(pkt, &s, slot, &st)
    }

    /// Keep a copy of the client segment's frame if it carries data, its checksum verifies
    /// (the gateway replays it as the server leg's first data; a corrupt one is left for the
    /// client to send again, as a TCP endpoint drops it) and the session has none held yet.
    /// `verified`: the caller already checked this frame's checksum.
    fn hold_data<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        slot: SlotId,
        verified: bool,
    ) {
        let (l3, l4, end) = (pkt.p.l3_off, pkt.p.l4_off, pkt.p.l3_end);
        let d = pkt.frame.data();
        let hl = TcpPacket::new_unchecked(&d[l4..]).header_len();
        let idx = slot.index() as u32;
        if end > l4 + hl
            && !self.held.has(A::V6, idx)
            && (verified || A::tcp_checksum_ok(d, l3, l4, end))
            && self.held.hold(A::V6, idx, pkt.now, &d[..end])
        {
            self.counters.syn_proxy_held.inc();
        }
    }

    /// Rewrite the frame into the client's SYN (client -> VIP) and forward it to the server.
    fn send_syn<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        s: &Session<A>,
        slot: SlotId,
        st: &SynProxyState,
    ) -> Verdict {
        let (l3, l4) = (pkt.p.l3_off, pkt.p.l4_off);
        let d = pkt.frame.data();
        let t = TcpPacket::new_unchecked(&d[l4..]);
        let window = t.window_len();
        let tsval = sp::read_opts(d, l4).ts.map_or(0, |(v, _)| v);
        let opts = sp::server_syn_opts(st, tsval);
        let seg = Seg {
            src: s.client(),
            dst: s.vip(),
            sport: s.cport(),
            dport: s.vport(),
            seq: st.client_isn,
            ack: 0,
            flags: flag::SYN,
            window,
            opts: opts.as_slice(),
        };
        let (l4, end) = match sp::write_segment::<A, F>(pkt.frame, l3, &seg) {
            Ok(x) => x,
            Err(r) => return Verdict::Drop(r),
        };
        A::sessions(&mut self.tables).set_synproxy_syn_at(slot, pkt.now as u8);
        let p = reparsed(pkt.p, l4, end, flag::SYN);
        let mut syn = Pkt {
            snap: pkt.snap,
            now: pkt.now,
            in_port: pkt.in_port,
            frame: &mut *pkt.frame,
            p: &p,
            flags: TcpFlags::from_bits(flag::SYN),
        };
        self.forward_cold::<A, F>(&mut syn, slot, true)
    }

    /// A client segment of a SYN proxy session (the caller tested the flag): while the server
    /// leg opens, hold it or send the SYN again; once open, forward it translated, with TOA.
    #[cold]
    #[inline(never)]
    pub(super) fn syn_proxy_to_backend<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        f: &Flow<A>,
    ) -> Fwd {
        let s = &f.s;
        if sp::opening(s) && !pkt.flags.syn {
            return self.syn_proxy_pending(pkt, f);
        }
        let port = forward::port(pkt.snap, s.backend_port)?;
        let v = forward::to_backend(pkt, s, port, &self.counters, &mut self.admit)?;
        if !sp::opening(s) {
            let st = A::sessions(&mut self.tables).synproxy(f.slot);
            sp::to_server(pkt.frame.data_mut(), pkt.p.l4_off, &st);
        }
        if fullnat::toa_due(pkt, s) && !pkt.p.frag {
            fullnat::insert_toa(pkt, s, port.mtu, &self.counters);
            if let Some(rec) = A::sessions(&mut self.tables).get_mut(f.slot) {
                rec.flags |= Session::<A>::FLAG_TOA_SENT;
            }
        }
        Ok(v)
    }

    /// A client segment while the server leg opens.
    fn syn_proxy_pending<A: Family, F: Frame>(&mut self, pkt: &mut Pkt<'_, F>, f: &Flow<A>) -> Fwd {
        let (slot, s) = (f.slot, &f.s);
        let t = A::sessions(&mut self.tables);
        // The state table took an ACK in SYN_RECV for ESTABLISHED: not yet.
        if s.state() != TcpState::SynRecv {
            if let Some(ch) = t.set_state(slot, TcpState::SynRecv) {
                account::moved(&self.counters, s.service(), s.backend_idx(), ch);
            }
        }
        if pkt.flags.rst {
            self.syn_proxy_remove::<A>(slot, pkt.now);
            return Err(DropReason::SynProxyPending);
        }
        self.hold_data::<A, F>(pkt, slot, false);
        let t = A::sessions(&mut self.tables);
        let due = (pkt.now as u8).wrapping_sub(t.synproxy_syn_at(slot)) >= 1;
        if !due {
            return Err(DropReason::SynProxyPending);
        }
        let st = t.synproxy(slot);
        Ok(self.send_syn(pkt, s, slot, &st))
    }

    /// Remove a SYN proxy session that never opened (client RST, server refusal).
    fn syn_proxy_remove<A: Family>(&mut self, slot: SlotId, now: u32) {
        self.held.drop_slot(A::V6, slot.index() as u32);
        if let Some(s) = A::sessions(&mut self.tables).remove(slot) {
            account::gone(&self.counters, s.service(), s.backend_idx(), s.is_active());
            let why = SyncKind::Deleted(DeleteReason::Removed);
            sync::publish_cold(&mut self.sync, &self.counters, why, &s, now);
        }
    }

    /// A server segment of a SYN proxy session (the caller tested the flag): the answer to our
    /// SYN while the leg opens; translated for the client afterwards.
    #[cold]
    #[inline(never)]
    pub(super) fn syn_proxy_to_client<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        f: &Flow<A>,
    ) -> Fwd {
        if sp::opening(&f.s) {
            return self.syn_proxy_server_answer(pkt, f);
        }
        let v = forward::to_client(pkt, &f.s)?;
        let st = A::sessions(&mut self.tables).synproxy(f.slot);
        sp::to_client(pkt.frame.data_mut(), pkt.p.l4_off, &st);
        Ok(v)
    }

    /// The server's answer to our SYN: a SYN-ACK opens the leg (the frame becomes the client's
    /// ACK, with its held data); a RST goes to the client as the RST its handshake deserves.
    fn syn_proxy_server_answer<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        f: &Flow<A>,
    ) -> Fwd {
        let (slot, s) = (f.slot, f.s);
        let fl = pkt.flags;
        let (l3, l4) = (pkt.p.l3_off, pkt.p.l4_off);
        let d = pkt.frame.data();
        let t = TcpPacket::new_unchecked(&d[l4..]);
        let (seq, ack) = (t.seq_number(), t.ack_number());
        let mut st = A::sessions(&mut self.tables).synproxy(slot);
        let want = st.client_isn.wrapping_add(1);
        if fl.rst {
            if fl.ack && ack != want {
                return Err(DropReason::SynProxyServerBad);
            }
            return self.syn_proxy_refused(pkt, &s, slot, &st);
        }
        if !(fl.syn && fl.ack) || ack != want {
            return Err(DropReason::SynProxyServerBad);
        }
        let srv = sp::read_opts(d, l4);
        // The client's terms: its TSval we sent the server (echoed), our TSval and ISN.
        let (client_ts, our_ts, cookie) = (srv.ts.map_or(0, |(_, e)| e), st.ts, st.seq);
        sp::open_state(&mut st, seq, &srv);
        let tab = A::sessions(&mut self.tables);
        tab.set_synproxy(slot, st);
        if let Some(rec) = tab.get_mut(slot) {
            rec.flags |= Session::<A>::FLAG_SYNPROXY_OPEN;
        }
        self.counters.syn_proxy_opened.inc();
        if !self
            .held
            .take_into(A::V6, slot.index() as u32, &mut *pkt.frame)
        {
            let ws = st.opts & 0xf;
            let window = 65535u16 >> if ws == syncookie::NO_WSCALE { 0 } else { ws };
            let ts = (st.opts & sp::OPT_TS != 0).then_some((client_ts, our_ts));
            let mut ob = [0u8; 12];
            let n = match ts {
                Some((v, e)) => {
                    ob[..4].copy_from_slice(&[1, 1, 8, 10]);
                    ob[4..8].copy_from_slice(&v.to_be_bytes());
                    ob[8..12].copy_from_slice(&e.to_be_bytes());
                    12
                }
                None => 0,
            };
            let seg = Seg {
                src: s.client(),
                dst: s.vip(),
                sport: s.cport(),
                dport: s.vport(),
                seq: want,
                ack: cookie.wrapping_add(1),
                flags: flag::ACK,
                window,
                opts: &ob[..n],
            };
            sp::write_segment::<A, F>(pkt.frame, l3, &seg)?;
        }
        let p = parse_frame(pkt.frame.data())?;
        // Defence in depth: the frame is this connection's client segment.
        let d = pkt.frame.data();
        let sport = d
            .get(p.l4_off..p.l4_off + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]));
        if A::src(d, p.l3_off) != s.client() || sport != Some(s.cport()) {
            return Err(DropReason::SynProxyServerBad);
        }
        let mut ackp = super::Pkt::new(pkt.snap, pkt.now, pkt.in_port, &mut *pkt.frame, &p);
        Ok(self.forward_cold::<A, F>(&mut ackp, slot, false))
    }

    /// The server refused our SYN: the client gets a RST from the VIP at our ISN + 1; the
    /// session goes.
    fn syn_proxy_refused<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        s: &Session<A>,
        slot: SlotId,
        st: &SynProxyState,
    ) -> Fwd {
        let port = forward::port(pkt.snap, s.client_port)?;
        let seg = Seg {
            src: s.vip(),
            dst: s.client(),
            sport: s.vport(),
            dport: s.cport(),
            seq: st.seq.wrapping_add(1),
            ack: 0,
            flags: flag::RST,
            window: 0,
            opts: &[],
        };
        sp::write_segment::<A, F>(pkt.frame, pkt.p.l3_off, &seg)?;
        set_macs(pkt.frame.data_mut(), &s.client_mac, &port.mac);
        self.counters.syn_proxy_refused.inc();
        self.syn_proxy_remove::<A>(slot, pkt.now);
        Ok(Verdict::Tx(s.client_port))
    }
}
