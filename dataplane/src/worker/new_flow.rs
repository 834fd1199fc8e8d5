//! The first packet of a flow to a service: persistence template, else the scheduler, else the
//! sorry server; the next hop; FullNAT's local port; the session; then the packet goes on as
//! the session's first.

use crate::forward::{proxy, Fwd};
use crate::frame::Frame;
use crate::rewrite::{src_mac, Family};
use crate::sched::{hash, BackendLoad, PickCtx};
use crate::session::{
    sloppy_tcp_state, tcp_transition, Direction, FwdMethod, InsertError, NewSession, ProxyState,
    Session, SlotId, SynProxyState, TcpDir, TcpState,
};
use crate::snapshot::{NextHopError, ProxyProtocol, Service, Snapshot};
use crate::sync::{DeleteReason, SyncKind};
use crate::types::{BackendIdx, FlowKey, L4Proto, ServiceIdx};
use crate::wire::{DropReason, TcpPacket};

use super::{account, sync, Pkt, Punt, Verdict, Worker};

/// The PROXY protocol state of a new session, when its service asks for the header and the
/// flow starts with a SYN to a NAT/FullNAT backend (TCP; config refuses the header elsewhere).
#[cold]
#[inline(never)]
fn proxy_state<A: Family, F: Frame>(
    pkt: &Pkt<'_, F>,
    svc: &Service,
    client: (A, u16),
    vip: (A, u16),
    method: FwdMethod,
    mid_flow: bool,
) -> Option<ProxyState> {
    if svc.proto != L4Proto::Tcp || mid_flow || !method.sees_replies() {
        return None;
    }
    let mut hdr = [0u8; proxy::MAX_LEN];
    let v = svc.proxy_protocol;
    let len = proxy::write_header(v, client, vip, &mut hdr);
    let seq = TcpPacket::new_unchecked(&pkt.frame.data()[pkt.p.l4_off..]).seq_number();
    Some(ProxyState {
        isn1: seq.wrapping_add(1),
        len: len as u16,
        v2: v == ProxyProtocol::V2,
    })
}

/// Slots a full table looks at for a session to give up before it refuses a new flow: under a
/// SYN flood nearly every slot is one, so the first probes find it; a table of established
/// flows costs this many record reads per refused flow, no more.
const EVICT_PROBES: usize = 64;

impl Worker {
    /// Start a flow `key` (client -> VIP) to service `sid`: persistence, scheduler, session,
    /// then forward.
    pub(super) fn new_flow<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        sid: ServiceIdx,
        (key, key_hash): (&FlowKey<A>, u64),
    ) -> Fwd {
        let svc = pkt.snap.service(sid).ok_or(DropReason::NoService)?;
        // One test for services without the SYN proxy.
        if svc.syn_proxy {
            return self.syn_proxy_flow(pkt, sid, svc, (key, key_hash));
        }
        self.new_flow_with(pkt, sid, (key, key_hash), None)
    }

    /// [`Worker::new_flow`]'s steps; `sp`: the state of a SYN proxy session a valid cookie
    /// opens (its first packet is the client's ACK, which becomes the SYN to the server).
    /// `key_hash`: the hash under which `key` was just looked up and not found.
    #[inline(always)]
    pub(super) fn new_flow_with<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        sid: ServiceIdx,
        (key, key_hash): (&FlowKey<A>, u64),
        sp: Option<SynProxyState>,
    ) -> Fwd {
        let snap = pkt.snap;
        let svc = snap.service(sid).ok_or(DropReason::NoService)?;
        let (client, vip, cport, vport, proto) =
            (key.src, key.dst, key.sport, key.dport, key.proto);
        // Redirect before the SYN check: a NAT or persistent connection's session lives on the
        // owner, so its non-SYN packets miss here on every other worker and must follow.
        if let Some(o) = self.new_flow_owner(svc, client.ip()) {
            return Ok(Verdict::Redirect(o));
        }
        let flags = pkt.flags;
        let mid_flow =
            sp.is_none() && proto == L4Proto::Tcp && !(flags.syn && !flags.ack && !flags.rst);
        // IPVS's `sloppy_tcp`: any packet but a RST may start the flow, where every gateway
        // would pick the same backend (ECMP moved the flow here, or its session expired).
        if mid_flow && (flags.rst || !svc.sloppy_tcp) {
            return Err(DropReason::NotSynForNewTcp);
        }
        // Admission control: one flag test and one pointer test for a gateway and a service
        // that limit nothing.
        if snap.clients.is_some() || svc.limits.is_some() {
            self.admit(snap, sid, svc, client.ip(), pkt.now)?;
        }
        let bid = self
            .choose_backend(snap, pkt.now, sid, svc, key)
            .ok_or(DropReason::NoBackend)?;
        let b = snap.backend(bid).ok_or(DropReason::NoBackend)?;
        let baddr = A::from_ip(b.addr).ok_or(DropReason::UnsupportedMode)?;
        if A::V6 && b.method == FwdMethod::Tun {
            return Err(DropReason::UnsupportedMode);
        }
        // A port-0 real server of a port-0 (persistent, any-port) service takes the client's
        // destination port, as IPVS does.
        let bport = if b.port == 0 { vport } else { b.port };
        let (out_port, mac) = match snap.backend_next_hop(bid) {
            Ok(hop) => hop,
            Err(NextHopError::NoRoute) => return Err(DropReason::NoRoute),
            Err(NextHopError::Unresolved { port, .. }) => {
                return Ok(Verdict::Punt(Punt::Resolve { port }));
            }
        };
        let (laddr, lport) = match b.method {
            FwdMethod::FullNat => match self.pick_lport(svc, (bid, baddr, bport), proto) {
                Some(l) => l,
                None => {
                    self.counters.insert_failures.inc();
                    return Err(DropReason::LocalPortsExhausted);
                }
            },
            FwdMethod::Nat => (client, cport),
            FwdMethod::Dr | FwdMethod::Tun => (A::UNSPECIFIED, 0),
        };
        let dir = if b.method.sees_replies() {
            TcpDir::Input
        } else {
            TcpDir::InputOnly
        };
        // Out of line, behind one test: services without PROXY pay the test only.
        let proxy = if svc.proxy_protocol == ProxyProtocol::Off {
            None
        } else {
            proxy_state(pkt, svc, (client, cport), (vip, vport), b.method, mid_flow)
        };
        let mut new = NewSession {
            client,
            cport,
            vip,
            vport,
            backend: baddr,
            bport,
            laddr,
            lport,
            proto,
            method: b.method,
            state: if sp.is_some() {
                // As if the client's SYN had come through.
                TcpState::SynRecv
            } else if mid_flow {
                sloppy_tcp_state(dir, flags)
            } else {
                tcp_transition(TcpState::None, dir, flags)
            },
            service: sid,
            backend_idx: bid,
            next_hop_mac: mac,
            backend_port: out_port,
            client_port: pkt.in_port,
            client_mac: src_mac(pkt.frame.data()),
            flags: if proxy.is_some() {
                Session::<A>::FLAG_PROXY
            } else if sp.is_some() {
                Session::<A>::FLAG_SYNPROXY
            } else {
                0
            },
        };
        let now = pkt.now;
        let inserted = match self.insert_session(now, &mut new, key_hash) {
            Err(InsertError::TableFull) => self.make_room_and_insert::<A>(now, &mut new, key_hash),
            done => done,
        };
        let slot = match inserted {
            Ok(slot) => slot,
            Err(e) => {
                self.counters.insert_failures.inc();
                if e != InsertError::Duplicate(Direction::Reply) {
                    self.lport_unused(&new);
                }
                return Err(match e {
                    InsertError::Duplicate(Direction::Reply) => DropReason::LocalPortsExhausted,
                    _ => DropReason::SessionTableFull,
                });
            }
        };
        let t = A::sessions(&mut self.tables);
        if let Some(st) = proxy {
            t.set_proxy(slot, st);
        }
        let active = t.get(slot).is_some_and(Session::is_active);
        account::opened(&self.counters, sid, bid, active, mid_flow);
        let v = Ok(match sp {
            Some(st) => self.syn_proxy_start::<A, F>(pkt, slot, st),
            None => self.forward::<A, F>(pkt, slot, Direction::Inbound, true),
        });
        // Published after the rewrite, which may have set flags (TOA on the SYN).
        if self.sync.is_some() {
            self.publish_slot::<A>(SyncKind::Created, slot, now);
        }
        v
    }

    /// A full table: give up one session that carries no connection (a half-open or closed TCP
    /// one, an unanswered UDP one) to make room for `new`, never an established one (issue 17,
    /// table pressure). Out of line: the common insert keeps its one call site on the hot path.
    #[cold]
    #[inline(never)]
    fn make_room_and_insert<A: Family>(
        &mut self,
        now: u32,
        new: &mut NewSession<A>,
        key_hash: u64,
    ) -> Result<SlotId, InsertError> {
        let t = A::sessions(&mut self.tables);
        let old = t
            .evict_for_room(EVICT_PROBES)
            .ok_or(InsertError::TableFull)?;
        let c = &self.counters;
        c.sessions_evicted.inc();
        if !old.is_sync_stub() {
            account::gone(c, old.service(), old.backend_idx(), old.is_active());
            let why = SyncKind::Deleted(DeleteReason::Removed);
            sync::publish_cold(&mut self.sync, c, why, &old, now);
            self.lport_released(&old);
        }
        // Evicting another session leaves the new flow's key unindexed.
        self.insert_session(now, new, key_hash)
    }

    /// Insert a new flow's session; a FullNAT one through [`Self::insert_fullnat`] (its local
    /// port from a pool may turn out taken, or go back on failure).
    #[inline]
    fn insert_session<A: Family>(
        &mut self,
        now: u32,
        new: &mut NewSession<A>,
        key_hash: u64,
    ) -> Result<SlotId, InsertError> {
        if new.method == FwdMethod::FullNat {
            self.insert_fullnat(now, new, key_hash)
        } else {
            A::sessions(&mut self.tables).insert_absent(now, new, key_hash)
        }
    }

    /// Persistence template, else the scheduler, else the sorry server, for the flow `key`.
    fn choose_backend<A: Family>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        sid: ServiceIdx,
        svc: &Service,
        key: &FlowKey<A>,
    ) -> Option<BackendIdx> {
        let client = key.src;
        let persist = svc.persistence;
        if let Some(ps) = persist {
            let mask = A::prefix_mask(ps.prefix_len);
            let pt = A::persist(&mut self.tables);
            if let Some(bid) = pt.lookup(now, sid, client, mask, ps.timeout_s) {
                // A template keeps pointing at a quiescent (weight 0) server, as IPVS does, but
                // not at one that is gone or failed its health check, nor at an inhibited
                // (weight 0) one that is down under the `drop` policy (the kernel's
                // `expire_quiescent_template`). The pick below replaces such a template.
                if snap
                    .backend(bid)
                    .is_some_and(|b| b.service == sid && b.available && !b.drop_sessions)
                {
                    return Some(bid);
                }
            }
        }
        let state = self.sched.get_mut(sid.index())?.as_mut().map(|(_, s)| s)?;
        self.loads.clear();
        if svc.needs_loads {
            for &bid in &svc.backends {
                let l = self
                    .counters
                    .backend(bid)
                    .map_or(BackendLoad::default(), |tc| BackendLoad {
                        active: u32::try_from(tc.active.get()).unwrap_or(u32::MAX),
                        inactive: u32::try_from(tc.inactive.get()).unwrap_or(u32::MAX),
                    });
                self.loads.push(l);
            }
        }
        let ctx = PickCtx {
            src_hash: hash::addr(client.ip()),
            dst_hash: hash::addr(key.dst.ip()),
            src_port: key.sport,
            loads: &self.loads,
        };
        let picked = svc.scheduler.pick(state, &ctx).or(svc.sorry)?;
        if let Some(ps) = persist {
            let mask = A::prefix_mask(ps.prefix_len);
            // A full template table only costs stickiness for this client; the flow goes on.
            let pt = A::persist(&mut self.tables);
            if pt
                .insert(now, sid, client, mask, picked, ps.timeout_s)
                .is_ok()
            {
                let c = &self.counters;
                sync::publish_template(&mut self.sync, c, snap, svc, client, picked, ps.timeout_s);
            }
        }
        Some(picked)
    }
}
