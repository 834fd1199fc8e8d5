//! The worker's side of session sync ([`crate::sync`]): the hooks that publish events, the
//! install entry point for a peer's sessions, redirect stubs, and the full dump.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::account::moved;
use super::{Family, Pkt, Worker};
use crate::counters::WorkerCounters;
use crate::forward::proxy;
use crate::frame::Frame;
use crate::rewrite::src_mac;
use crate::session::{
    Direction, FwdMethod, NewSession, ProxyState, Session, SessionAddr, SessionTable, SlotId,
    SynProxyState, TcpState, Template,
};
use crate::snapshot::{ProxyProtocol, Service, Snapshot};
use crate::sync::{
    DeleteReason, Install, Refusal, Role, SyncEvent, SyncKind, WorkerSync, EXPIRY_GRACE_S,
    PROXY_FLAGS, SYNPROXY_FLAGS,
};
use crate::types::{BackendIdx, PortIdx, ServiceIdx};
use crate::types::{L4Proto, Mac};

/// What [`Worker::install`] did with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallOutcome {
    /// A new session, template or stub is in the table.
    Installed,
    /// An existing one took the synced state and timeout.
    Updated,
    /// A deletion was applied.
    Removed,
    /// Nothing to do: a dump marker, a deletion of something not here (or kept alive here).
    Ignored,
    /// A local session with the same key differs (another backend, local address or port, or
    /// a template to another backend): the local one wins.
    Conflict,
    /// Refused (see the reason).
    Refused(Refusal),
}

/// Session flags a synced session takes from the peer.
const SYNCED_FLAGS: u8 = Session::<Ipv4Addr>::FLAG_TOA_SENT | Session::<Ipv4Addr>::FLAG_REPLY_SEEN;

/// Publish `kind` for session `s`, if sync is on (a free function, so callers can hold the
/// tables and the link apart).
#[inline(always)]
pub(super) fn publish<A: Family>(
    sync: &mut Option<WorkerSync>,
    c: &WorkerCounters,
    kind: SyncKind,
    s: &Session<A>,
    now: u32,
) {
    if let Some(l) = sync {
        l.publish(SyncEvent::session_with(kind, s, now, A::ip), c);
    }
}

/// [`publish`] on a rare path (a removal), kept out of line.
#[cold]
#[inline(never)]
pub(super) fn publish_cold<A: Family>(
    sync: &mut Option<WorkerSync>,
    c: &WorkerCounters,
    kind: SyncKind,
    s: &Session<A>,
    now: u32,
) {
    publish(sync, c, kind, s, now);
}

/// Publish the creation of a persistence template of service `svc` for `client` to backend
/// `bid`, if sync is on.
#[inline]
pub(super) fn publish_template<A: Family>(
    sync: &mut Option<WorkerSync>,
    c: &WorkerCounters,
    snap: &Snapshot,
    svc: &Service,
    client: A,
    bid: BackendIdx,
    timeout: u32,
) {
    if let Some(l) = sync {
        if let Some(ev) = template_event(SyncKind::Created, snap, svc, client.ip(), bid, timeout) {
            l.publish(ev, c);
        }
    }
}

/// The event for a template of `svc` for `client` (or its network) to backend `bid`.
fn template_event(
    kind: SyncKind,
    snap: &Snapshot,
    svc: &Service,
    client: IpAddr,
    bid: BackendIdx,
    timeout: u32,
) -> Option<SyncEvent> {
    let ps = svc.persistence?;
    let b = snap.backend(bid)?;
    let none = match client {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    Some(SyncEvent {
        kind,
        template: true,
        proto: svc.proto,
        method: b.method,
        state: TcpState::None,
        prefix_len: ps.prefix_len,
        flags: 0,
        client,
        cport: 0,
        vip: svc.vip,
        vport: svc.port,
        laddr: none,
        lport: 0,
        backend: b.addr,
        bport: b.port,
        timeout,
        client_port: 0,
        client_mac: [0; 6],
        proxy: None,
        synproxy: None,
    })
}

/// The synced-session cases of a lookup hit, one flag test on the common path: a redirect stub
/// is refreshed and names the worker that holds the flow's session; a synced session learns its
/// client side from its first client packet here.
#[inline(always)]
pub(super) fn on_hit<A: SessionAddr, F: Frame>(
    t: &mut SessionTable<A>,
    slot: SlotId,
    dir: Direction,
    now: u32,
    in_port: PortIdx,
    frame: &F,
) -> Option<u16> {
    let special = Session::<A>::FLAG_SYNC_STUB | Session::<A>::FLAG_CLIENT_UNKNOWN;
    if t.flags(slot) & special == 0 {
        return None;
    }
    synced_hit(t, slot, dir, now, in_port, frame.data())
}

#[cold]
#[inline(never)]
fn synced_hit<A: SessionAddr>(
    t: &mut SessionTable<A>,
    slot: SlotId,
    dir: Direction,
    now: u32,
    in_port: PortIdx,
    frame: &[u8],
) -> Option<u16> {
    if let Some(home) = stub_home(t, slot, now) {
        return Some(home);
    }
    if dir == Direction::Inbound {
        let s = t.get_mut(slot)?;
        s.client_mac = src_mac(frame);
        s.client_port = in_port;
        s.flags &= !Session::<A>::FLAG_CLIENT_UNKNOWN;
    }
    None
}

/// If the session in `slot` is a redirect stub, refresh it and return the worker that holds
/// the flow's session.
#[inline(always)]
pub(super) fn stub_home<A: SessionAddr>(
    t: &mut SessionTable<A>,
    slot: SlotId,
    now: u32,
) -> Option<u16> {
    let s = t.get(slot)?;
    if !s.is_sync_stub() {
        return None;
    }
    // A stub keeps its home worker's id where a session keeps its backend's.
    let home = s.backend_idx().get();
    t.touch(slot, now);
    Some(home)
}

/// The service and backend of a synced session or template here, by their keys.
fn resolve(snap: &Snapshot, ev: &SyncEvent) -> Result<(ServiceIdx, BackendIdx), Refusal> {
    let sid = snap
        .service_for(ev.vip, ev.vport, ev.proto)
        .ok_or(Refusal::NoService)?;
    let svc = snap.service(sid).ok_or(Refusal::NoService)?;
    let bid = svc
        .backends
        .iter()
        .chain(svc.sorry.iter())
        .copied()
        .find(|&bid| {
            snap.backend(bid).is_some_and(|b| {
                b.addr == ev.backend
                    && b.method == ev.method
                    && (b.port == ev.bport || (b.port == 0 && ev.bport == ev.vport))
            })
        })
        .ok_or(Refusal::NoBackend)?;
    Ok((sid, bid))
}

/// The addresses of `ev` in family `A` (client, VIP, backend) and the endpoint replies come
/// back to: the local address and port for FullNAT, the client for NAT (whatever the event
/// says: a peer may leave them out), none for DR and TUN. `None` if an address is of the
/// other family.
fn addrs<A: Family>(ev: &SyncEvent) -> Option<Addrs<A>> {
    let client = A::from_ip(ev.client)?;
    let (laddr, lport) = match ev.method {
        FwdMethod::FullNat => (A::from_ip(ev.laddr)?, ev.lport),
        FwdMethod::Nat => (client, ev.cport),
        FwdMethod::Dr | FwdMethod::Tun => (A::UNSPECIFIED, 0),
    };
    Some(Addrs {
        client,
        vip: A::from_ip(ev.vip)?,
        backend: A::from_ip(ev.backend)?,
        laddr,
        lport,
    })
}

/// A synced flow's addresses in one family (see [`addrs`]).
#[derive(Clone, Copy)]
struct Addrs<A> {
    client: A,
    vip: A,
    backend: A,
    laddr: A,
    lport: u16,
}

/// Whether local session `s` is the flow `ev` describes (same backend, method, local
/// endpoint).
fn same_flow<A: Family>(s: &Session<A>, ev: &SyncEvent, a: &Addrs<A>) -> bool {
    s.backend() == a.backend
        && s.bport() == ev.bport
        && s.method() == ev.method
        && (!ev.method.sees_replies() || (s.laddr() == a.laddr && s.lport() == a.lport))
}

impl Worker {
    /// [`Worker::forward`] of an established flow's packet with sync on: a TCP state change is
    /// published after the rewrite (which may have set flags: TOA on the first ACK). Kept apart
    /// so the forwarding path with sync off pays one branch for it.
    pub(super) fn forward_synced<A: Family, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        slot: SlotId,
        dir: Direction,
    ) -> super::Verdict {
        let now = pkt.now;
        let old = A::sessions(&mut self.tables).get(slot).map(Session::state);
        let v = self.forward::<A, F>(pkt, slot, dir, false);
        let new = A::sessions(&mut self.tables).get(slot).map(Session::state);
        if new.is_some() && new != old {
            self.publish_slot::<A>(SyncKind::State, slot, now);
        }
        v
    }

    /// Publish `kind` for the session in `slot` (sync is on; off the common path).
    #[cold]
    #[inline(never)]
    pub(super) fn publish_slot<A: Family>(&mut self, kind: SyncKind, slot: SlotId, now: u32) {
        let t = A::sessions(&mut self.tables);
        if let (Some(l), Some(ev)) = (&mut self.sync, session_event(t, slot.index(), kind, now)) {
            l.publish(ev, &self.counters);
        }
    }

    /// Attach a sync link ([`crate::sync::link`]): from now on this worker publishes session
    /// events to it and takes installs from it. Returns the link it replaces.
    pub fn attach_sync(&mut self, link: WorkerSync) -> Option<WorkerSync> {
        self.sync.replace(link)
    }

    /// Detach the sync link (sync turned off): no more events, no more installs.
    pub fn detach_sync(&mut self) -> Option<WorkerSync> {
        self.sync.take()
    }

    /// Whether a sync link is attached.
    pub fn sync_attached(&self) -> bool {
        self.sync.is_some()
    }

    /// Sync work between bursts (call once per loop iteration; one branch when sync is off):
    /// apply up to [`crate::sync::SyncConfig::install_budget`] installs from control, and take
    /// one bounded step of a full dump if one is asked for or running. Returns the installs
    /// applied. Allocates nothing.
    pub fn serve_sync(&mut self, snap: &Snapshot, now: u32) -> usize {
        let Some(l) = self.sync.as_ref() else {
            return 0;
        };
        let budget = l.cfg.install_budget;
        let mut n = 0;
        while n < budget {
            let Some(Ok(req)) = self.sync.as_mut().map(|l| l.installs.pop()) else {
                break;
            };
            self.install(snap, now, &req);
            n += 1;
        }
        self.dump_step(snap, now);
        n
    }

    /// Apply one synced session, template or deletion from a peer gateway at `now` (what
    /// [`Self::serve_sync`] does with each request; public for tests and single-threaded use).
    ///
    /// Rules:
    /// - The backend is resolved by its key in `snap`'s service (with the method); the next
    ///   hop towards it from `snap`'s routes and neighbours; the client side (port, MAC) comes
    ///   from the peer. A FullNAT local address must be one of this gateway's. Otherwise the
    ///   request is refused and counted.
    /// - A session goes in with the synced TCP state and the remaining timeout, both directions
    ///   indexed as a local one, the same local address and port (which reserves that port
    ///   here), and ages like a local one from then on. Its packets publish events like a local
    ///   session's; the installation itself does not.
    /// - Syncing a session that exists (same key, same backend and local endpoint) updates its
    ///   state and timeout. One that contradicts a local session (same inbound key, or same
    ///   reply key, but another backend or local endpoint) is refused and counted as a
    ///   conflict: **the local session wins**. Templates follow the same rule (a template to
    ///   another backend wins); a synced template never shortens a local one.
    /// - A deletion removes the matching session, except that an expiry leaves a copy that is
    ///   not due here within [`EXPIRY_GRACE_S`] (traffic on this gateway keeps it alive).
    /// - A session of a persistent service refreshes this worker's template for the client, as
    ///   its connection refreshed the template on the peer (the wire record does not say
    ///   whether it is new, so every synced session does).
    /// - The worker checks what it can of the placement (FullNAT: it owns the local port; NAT
    ///   and persistent services: it is their owner) and refuses a misplaced session.
    pub fn install(&mut self, snap: &Snapshot, now: u32, req: &Install) -> InstallOutcome {
        let ev = &req.event;
        let out = if ev.is_marker() {
            InstallOutcome::Ignored
        } else if ev.is_v6() {
            self.install_family::<Ipv6Addr>(snap, now, ev, req.role)
        } else {
            self.install_family::<Ipv4Addr>(snap, now, ev, req.role)
        };
        let c = &self.counters;
        match out {
            InstallOutcome::Installed => c.sync_installed.inc(),
            InstallOutcome::Updated => c.sync_updated.inc(),
            InstallOutcome::Removed => c.sync_removed.inc(),
            InstallOutcome::Conflict => c.sync_conflicts.inc(),
            InstallOutcome::Refused(_) => c.sync_refused.inc(),
            InstallOutcome::Ignored => {}
        }
        out
    }

    fn install_family<A: Family>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        ev: &SyncEvent,
        role: Role,
    ) -> InstallOutcome {
        let Some(a) = addrs::<A>(ev) else {
            return InstallOutcome::Refused(Refusal::Malformed);
        };
        let r = match (ev.kind, role, ev.template) {
            (SyncKind::DumpBegin | SyncKind::DumpEnd, ..) => Ok(InstallOutcome::Ignored),
            (SyncKind::Deleted(_), _, true) => Ok(InstallOutcome::Ignored),
            (SyncKind::Deleted(why), Role::Home, false) => {
                Ok(self.delete_session(now, ev, &a, why))
            }
            (SyncKind::Deleted(_), Role::Stub { .. }, false) => Ok(self.delete_stub(ev, &a)),
            (_, Role::Home, true) => self.install_template(snap, now, ev, a.client),
            (_, Role::Stub { .. }, true) => Err(Refusal::Misplaced),
            (_, Role::Home, false) => self.install_session(snap, now, ev, &a),
            (_, Role::Stub { home }, false) => self.install_stub(snap, now, ev, &a, home),
        };
        r.unwrap_or_else(InstallOutcome::Refused)
    }

    fn install_session<A: Family>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        ev: &SyncEvent,
        a: &Addrs<A>,
    ) -> Result<InstallOutcome, Refusal> {
        let (sid, bid) = resolve(snap, ev)?;
        let svc = snap.service(sid).ok_or(Refusal::NoService)?;
        if ev.method == FwdMethod::FullNat && !snap.is_laddr(ev.laddr) {
            return Err(Refusal::NoLocalAddress);
        }
        let n = self.cfg.workers;
        let owner = match ev.method {
            FwdMethod::FullNat if n > 1 => Some(
                self.cfg
                    .reply_steering
                    .owner(ev.backend, ev.bport, ev.laddr, ev.lport, n),
            ),
            _ => self.decided_owner(svc, ev.client),
        };
        if owner.is_some_and(|o| o != self.cfg.id) {
            return Err(Refusal::Misplaced);
        }
        let (out_port, mac) = snap.next_hop(ev.backend).map_err(|_| Refusal::NoRoute)?;
        let (client_port, client_mac, learn) = client_side(snap, ev);
        let proxy = match ev.proxy {
            Some(st) if proxy_fits(ev, a, st) => Some(st),
            Some(_) => return Err(Refusal::Malformed),
            None => None,
        };
        let synproxy = match ev.synproxy {
            Some(_) if proxy.is_some() || !synproxy_fits(ev) => return Err(Refusal::Malformed),
            Some(_) if !A::sessions(&mut self.tables).synproxy_enabled() => {
                return Err(Refusal::SynProxyOff)
            }
            sp => sp,
        };
        let kept = SYNCED_FLAGS
            | if proxy.is_some() { PROXY_FLAGS } else { 0 }
            | if synproxy.is_some() {
                SYNPROXY_FLAGS
            } else {
                0
            };
        let t = A::sessions(&mut self.tables);
        let in_key = A::flow_key(a.client, ev.cport, a.vip, ev.vport, ev.proto);
        match t.lookup(&in_key) {
            Some((slot, Direction::Inbound)) => {
                let Some(&s) = t.get(slot) else {
                    return Err(Refusal::Malformed);
                };
                if s.is_sync_stub() {
                    // The flow's session moved here (a different steering): the stub goes.
                    t.remove(slot);
                } else if same_flow(&s, ev, a) {
                    let ch = t.set_state(slot, ev.state);
                    t.set_expiry(slot, now.saturating_add(ev.timeout));
                    if let Some(rec) = t.get_mut(slot) {
                        rec.flags |= ev.flags & kept;
                    }
                    if let Some(st) = proxy {
                        t.set_proxy(slot, st);
                    }
                    if let Some(st) = synproxy {
                        synproxy_install(t, slot, st, now);
                    }
                    if let Some(ch) = ch {
                        moved(&self.counters, s.service(), s.backend_idx(), ch);
                    }
                    self.refresh_template(svc, sid, now, ev, a.client);
                    return Ok(InstallOutcome::Updated);
                } else {
                    return Ok(InstallOutcome::Conflict);
                }
            }
            Some((_, Direction::Reply)) => return Ok(InstallOutcome::Conflict),
            None => {}
        }
        if ev.method.sees_replies() {
            let reply = A::flow_key(a.backend, ev.bport, a.laddr, a.lport, ev.proto);
            if t.lookup(&reply).is_some() {
                return Ok(InstallOutcome::Conflict);
            }
        }
        let unknown = if learn {
            Session::<A>::FLAG_CLIENT_UNKNOWN
        } else {
            0
        };
        let new = NewSession {
            client: a.client,
            cport: ev.cport,
            vip: a.vip,
            vport: ev.vport,
            backend: a.backend,
            bport: ev.bport,
            laddr: a.laddr,
            lport: a.lport,
            proto: ev.proto,
            method: ev.method,
            state: ev.state,
            service: sid,
            backend_idx: bid,
            next_hop_mac: mac,
            backend_port: out_port,
            client_port,
            client_mac,
            flags: (ev.flags & kept) | unknown,
        };
        let slot = t.insert(now, &new).map_err(|_| Refusal::TableFull)?;
        t.set_expiry(slot, now.saturating_add(ev.timeout));
        if let Some(st) = proxy {
            t.set_proxy(slot, st);
        }
        if let Some(st) = synproxy {
            synproxy_install(t, slot, st, now);
        }
        let active = t.get(slot).is_some_and(Session::is_active);
        self.lport_claimed(&new);
        let c = &self.counters;
        for tc in [c.service(sid), c.backend(bid)].into_iter().flatten() {
            if active {
                tc.active.inc();
            } else {
                tc.inactive.inc();
            }
        }
        self.refresh_template(svc, sid, now, ev, a.client);
        Ok(InstallOutcome::Installed)
    }

    /// A synced connection of a persistent service refreshes its client's template, where this
    /// worker holds it: the peer refreshed it when it scheduled the connection, and IPVS keeps
    /// a template while connections it controls live (a full dump refreshes it so).
    fn refresh_template<A: Family>(
        &mut self,
        svc: &Service,
        sid: ServiceIdx,
        now: u32,
        ev: &SyncEvent,
        client: A,
    ) {
        let Some(ps) = svc.persistence else {
            return;
        };
        if self
            .decided_owner(svc, ev.client)
            .is_some_and(|o| o != self.cfg.id)
        {
            return;
        }
        let mask = A::prefix_mask(ps.prefix_len);
        A::persist(&mut self.tables).refresh(now, sid, client, mask, ps.timeout_s);
    }

    fn install_stub<A: Family>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        ev: &SyncEvent,
        a: &Addrs<A>,
        home: u16,
    ) -> Result<InstallOutcome, Refusal> {
        if home == self.cfg.id || home >= self.cfg.workers {
            return Err(Refusal::Misplaced);
        }
        let (sid, _) = resolve(snap, ev)?;
        let svc = snap.service(sid).ok_or(Refusal::NoService)?;
        let t = A::sessions(&mut self.tables);
        let in_key = A::flow_key(a.client, ev.cport, a.vip, ev.vport, ev.proto);
        let mut outcome = InstallOutcome::Installed;
        match t.lookup(&in_key) {
            Some((slot, Direction::Inbound)) if t.get(slot).is_some_and(|s| s.is_sync_stub()) => {
                // Re-inserted below (the home may have changed).
                t.remove(slot);
                outcome = InstallOutcome::Updated;
            }
            Some(_) => return Ok(InstallOutcome::Conflict),
            None => {}
        }
        let new = NewSession {
            client: a.client,
            cport: ev.cport,
            vip: a.vip,
            vport: ev.vport,
            backend: a.backend,
            bport: ev.bport,
            laddr: A::UNSPECIFIED,
            lport: 0,
            proto: ev.proto,
            // Indexed by its inbound key only.
            method: FwdMethod::Dr,
            state: ev.state,
            service: sid,
            // The home worker, where a stub keeps it ([`Session::FLAG_SYNC_STUB`]).
            backend_idx: BackendIdx::new(home),
            next_hop_mac: [0; 6],
            backend_port: 0,
            client_port: ev.client_port,
            client_mac: ev.client_mac,
            flags: Session::<A>::FLAG_SYNC_STUB,
        };
        let slot = t.insert(now, &new).map_err(|_| Refusal::TableFull)?;
        t.set_expiry(slot, now.saturating_add(ev.timeout));
        self.refresh_template(svc, sid, now, ev, a.client);
        Ok(outcome)
    }

    fn delete_session<A: Family>(
        &mut self,
        now: u32,
        ev: &SyncEvent,
        a: &Addrs<A>,
        why: DeleteReason,
    ) -> InstallOutcome {
        let t = A::sessions(&mut self.tables);
        let in_key = A::flow_key(a.client, ev.cport, a.vip, ev.vport, ev.proto);
        let Some((slot, Direction::Inbound)) = t.lookup(&in_key) else {
            return InstallOutcome::Ignored;
        };
        let Some(&s) = t.get(slot) else {
            return InstallOutcome::Ignored;
        };
        if s.is_sync_stub() || !same_flow(&s, ev, a) {
            return InstallOutcome::Ignored;
        }
        if why == DeleteReason::Expired && s.expires() > now.saturating_add(EXPIRY_GRACE_S) {
            return InstallOutcome::Ignored;
        }
        t.remove(slot);
        self.lport_released(&s);
        let c = &self.counters;
        for tc in [c.service(s.service()), c.backend(s.backend_idx())]
            .into_iter()
            .flatten()
        {
            if s.is_active() {
                tc.active.dec();
            } else {
                tc.inactive.dec();
            }
        }
        InstallOutcome::Removed
    }

    fn delete_stub<A: Family>(&mut self, ev: &SyncEvent, a: &Addrs<A>) -> InstallOutcome {
        let t = A::sessions(&mut self.tables);
        let in_key = A::flow_key(a.client, ev.cport, a.vip, ev.vport, ev.proto);
        match t.lookup(&in_key) {
            Some((slot, Direction::Inbound)) if t.get(slot).is_some_and(|s| s.is_sync_stub()) => {
                t.remove(slot);
                InstallOutcome::Removed
            }
            _ => InstallOutcome::Ignored,
        }
    }

    fn install_template<A: Family>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        ev: &SyncEvent,
        client: A,
    ) -> Result<InstallOutcome, Refusal> {
        let (sid, bid) = resolve(snap, ev)?;
        let svc = snap.service(sid).ok_or(Refusal::NoService)?;
        let ps = svc.persistence.ok_or(Refusal::Malformed)?;
        if ps.prefix_len != ev.prefix_len {
            return Err(Refusal::Malformed);
        }
        if self
            .decided_owner(svc, ev.client)
            .is_some_and(|o| o != self.cfg.id)
        {
            return Err(Refusal::Misplaced);
        }
        let mask = A::prefix_mask(ps.prefix_len);
        let pt = A::persist(&mut self.tables);
        let (timeout, outcome) = match pt.peek(now, sid, client, mask) {
            Some(t) if t.backend != bid => return Ok(InstallOutcome::Conflict),
            Some(t) => (
                ev.timeout.max(t.expires.saturating_sub(now)),
                InstallOutcome::Updated,
            ),
            None => (ev.timeout, InstallOutcome::Installed),
        };
        pt.insert(now, sid, client, mask, bid, timeout)
            .map_err(|_| Refusal::TableFull)?;
        Ok(outcome)
    }

    /// One bounded step of a full dump: start one if asked and due, then publish the sessions
    /// and templates of up to `dump_step` table positions, while the ring has room to spare.
    fn dump_step(&mut self, snap: &Snapshot, now: u32) {
        let Some(l) = self.sync.as_mut() else {
            return;
        };
        let c = &self.counters;
        if l.cursor.is_none() {
            if !l.dump_due(now) || l.dump_room() == 0 {
                return;
            }
            l.start_dump(now);
            l.publish(SyncEvent::marker(SyncKind::DumpBegin, l.seq), c);
        }
        let Some(mut pos) = l.cursor else {
            return;
        };
        let tb = &self.tables;
        let (c4, c6) = (tb.s4.capacity(), tb.s6.capacity());
        let (p4, p6) = (tb.p4.positions(), tb.p6.positions());
        let total = c4 + c6 + p4 + p6;
        let end = pos.saturating_add(l.cfg.dump_step);
        let mut room = l.dump_room();
        while pos < end && room > 0 {
            if pos >= total {
                l.publish(SyncEvent::marker(SyncKind::DumpEnd, l.seq), c);
                l.finish_dump();
                return;
            }
            let ev = if pos < c4 {
                dumped_session(&tb.s4, pos, now)
            } else if pos < c4 + c6 {
                dumped_session(&tb.s6, pos - c4, now)
            } else if pos < c4 + c6 + p4 {
                dumped_template(snap, tb.p4.template_at(pos - c4 - c6, now), now)
            } else {
                dumped_template(snap, tb.p6.template_at(pos - c4 - c6 - p4, now), now)
            };
            if let Some(ev) = ev {
                l.publish(ev, c);
                room -= 1;
            }
            pos += 1;
        }
        l.cursor = Some(pos);
    }
}

/// Where this gateway sends a synced flow's replies: its own route to the client when it has
/// one resolved, else the peer's (an HA pair shares its upstream router and numbers its ports
/// alike), else unknown until the client's first packet here (the third value).
fn client_side(snap: &Snapshot, ev: &SyncEvent) -> (PortIdx, Mac, bool) {
    match snap.next_hop(ev.client) {
        Ok((port, mac)) => (port, mac, false),
        Err(_) if ev.client_mac != [0; 6] => (ev.client_port, ev.client_mac, false),
        Err(_) => (0, [0; 6], true),
    }
}

/// Whether a peer's PROXY protocol state fits its session: TCP through NAT or FullNAT, and the
/// length of the header this gateway rebuilds from the client and VIP in that version (what
/// the peer inserted, so the sequence shift is the same).
fn proxy_fits<A: Family>(ev: &SyncEvent, a: &Addrs<A>, st: ProxyState) -> bool {
    let v = if st.v2 {
        ProxyProtocol::V2
    } else {
        ProxyProtocol::V1
    };
    let mut hdr = [0u8; proxy::MAX_LEN];
    let len = proxy::write_header(v, (a.client, ev.cport), (a.vip, ev.vport), &mut hdr);
    ev.proto == L4Proto::Tcp && ev.method.sees_replies() && usize::from(st.len) == len
}

/// Whether a peer's SYN proxy state fits its session: a TCP connection through NAT or FullNAT
/// (the proxy translates the replies), with the SYN proxy's flag.
fn synproxy_fits(ev: &SyncEvent) -> bool {
    ev.proto == L4Proto::Tcp
        && ev.method.sees_replies()
        && !ev.template
        && ev.flags & Session::<Ipv4Addr>::FLAG_SYNPROXY != 0
}

/// Give the synced session in `slot` its SYN proxy state. One whose server leg was still
/// opening on the peer is due to send the server its SYN again at the client's next segment
/// (the server's SYN-ACK may have gone to the peer): a server in SYN_RECV answers a repeated
/// SYN with its SYN-ACK, which opens the leg here.
fn synproxy_install<A: SessionAddr>(
    t: &mut SessionTable<A>,
    slot: SlotId,
    st: SynProxyState,
    now: u32,
) {
    t.set_synproxy(slot, st);
    t.set_synproxy_syn_at(slot, (now as u8).wrapping_sub(1));
}

/// The dump entry of a live, unexpired session at `pos` (stubs are not sessions).
fn dumped_session<A: Family>(t: &SessionTable<A>, pos: usize, now: u32) -> Option<SyncEvent> {
    t.get_at(pos)
        .filter(|s| !s.is_sync_stub() && !s.is_expired(now))
        .and_then(|_| session_event(t, pos, SyncKind::Dump, now))
}

/// The event for the live session at `pos`, with its PROXY protocol or SYN proxy state if it
/// has one.
#[inline]
fn session_event<A: Family>(
    t: &SessionTable<A>,
    pos: usize,
    kind: SyncKind,
    now: u32,
) -> Option<SyncEvent> {
    let s = t.get_at(pos)?;
    let ev = SyncEvent::session_with(kind, s, now, A::ip);
    Some(if s.flags & Session::<A>::FLAG_PROXY != 0 {
        ev.with_proxy(s.flags, t.proxy_at(pos))
    } else if s.flags & Session::<A>::FLAG_SYNPROXY != 0 {
        ev.with_synproxy(s.flags, t.synproxy_at(pos))
    } else {
        ev
    })
}

/// The dump entry of a live template whose service and backend the snapshot still has.
fn dumped_template<A: Family>(
    snap: &Snapshot,
    t: Option<Template<A>>,
    now: u32,
) -> Option<SyncEvent> {
    let t = t?;
    let svc = snap.service(t.service)?;
    template_event(
        SyncKind::Dump,
        snap,
        svc,
        t.net.ip(),
        t.backend,
        t.expires.saturating_sub(now),
    )
}
