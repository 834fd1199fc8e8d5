//! The workers' session events ([`SyncEvent`]) to channel records ([`SyncSession`]) and back.
//!
//! What changes on the way:
//! - The kind becomes an operation: created, state change and dump entry are all
//!   [`SyncOp::Update`] (the receiver creates or updates); a deletion is [`SyncOp::Delete`] or
//!   [`SyncOp::Expire`] by its reason. Back, an update is [`SyncKind::Created`] (live) or
//!   [`SyncKind::Dump`] (part of a full resync); the installer treats both alike.
//! - The local endpoint travels only for FullNAT (for NAT it is the client, for DR and TUN
//!   there is none); back, it is rebuilt the way the workers write it. A FullNAT persistence
//!   template has no local endpoint of its own: it travels as the unspecified address, port 0.
//! - The client side's next hop travels when the worker knew it (a MAC other than zero).
//! - Dump markers are the worker's business with control: they never become records.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use dataplane::session::FwdMethod;
use dataplane::sync::{DeleteReason, SyncEvent, SyncKind};

use super::record::{ClientHop, SyncOp, SyncSession};

/// Why a peer's record cannot become a worker event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// Its addresses are not all of one family (the workers keep each flow in one family).
    #[error("a synced session's addresses are not all of one family")]
    MixedFamilies,
    /// Its client-side port index does not fit a gateway port.
    #[error("a synced session's client port index {0} is out of range")]
    PortIndex(u16),
}

/// The record for a worker's event; `None` for a dump marker.
pub fn to_record(ev: &SyncEvent) -> Option<SyncSession> {
    let op = match ev.kind {
        SyncKind::Created | SyncKind::State | SyncKind::Dump => SyncOp::Update,
        SyncKind::Deleted(DeleteReason::Expired) => SyncOp::Expire,
        SyncKind::Deleted(DeleteReason::Removed) => SyncOp::Delete,
        SyncKind::DumpBegin | SyncKind::DumpEnd => return None,
    };
    let local = (ev.method == FwdMethod::FullNat).then(|| {
        if ev.template {
            SocketAddr::new(unspecified(ev.backend.is_ipv6()), 0)
        } else {
            SocketAddr::new(ev.laddr, ev.lport)
        }
    });
    let client_hop = (ev.client_mac != [0; 6]).then_some(ClientHop {
        port: u16::from(ev.client_port),
        mac: ev.client_mac,
    });
    Some(SyncSession {
        op,
        proto: ev.proto,
        client: SocketAddr::new(ev.client, ev.cport),
        vip: SocketAddr::new(ev.vip, ev.vport),
        local,
        backend: SocketAddr::new(ev.backend, ev.bport),
        method: ev.method,
        tcp_state: ev.state,
        timeout_s: ev.timeout,
        template: ev.template.then_some(ev.prefix_len),
        flags: ev.flags,
        client_hop,
        proxy: ev.proxy,
        synproxy: ev.synproxy,
    })
}

/// The worker event for a peer's record; `resync` when it came in a full resync.
///
/// # Errors
///
/// Addresses of mixed families, or a client port index no gateway port has.
pub fn to_event(rec: &SyncSession, resync: bool) -> Result<SyncEvent, ConvertError> {
    let v6 = rec.client.is_ipv6();
    if rec.vip.is_ipv6() != v6
        || rec.backend.is_ipv6() != v6
        || rec.local.is_some_and(|l| l.is_ipv6() != v6)
    {
        return Err(ConvertError::MixedFamilies);
    }
    let kind = match (rec.op, resync) {
        (SyncOp::Update, false) => SyncKind::Created,
        (SyncOp::Update, true) => SyncKind::Dump,
        (SyncOp::Delete, _) => SyncKind::Deleted(DeleteReason::Removed),
        (SyncOp::Expire, _) => SyncKind::Deleted(DeleteReason::Expired),
    };
    let template = rec.template.is_some();
    let (laddr, lport) = match rec.method {
        FwdMethod::FullNat if !template => rec
            .local
            .map_or((unspecified(v6), 0), |l| (l.ip(), l.port())),
        FwdMethod::Nat if !template => (rec.client.ip(), rec.client.port()),
        _ => (unspecified(v6), 0),
    };
    let (client_port, client_mac) = match rec.client_hop {
        Some(h) => (
            u8::try_from(h.port).map_err(|_| ConvertError::PortIndex(h.port))?,
            h.mac,
        ),
        None => (0, [0; 6]),
    };
    Ok(SyncEvent {
        kind,
        template,
        proto: rec.proto,
        method: rec.method,
        state: rec.tcp_state,
        prefix_len: rec.template.unwrap_or(0),
        flags: rec.flags,
        client: rec.client.ip(),
        cport: rec.client.port(),
        vip: rec.vip.ip(),
        vport: rec.vip.port(),
        laddr,
        lport,
        backend: rec.backend.ip(),
        bport: rec.backend.port(),
        timeout: rec.timeout_s,
        client_port,
        client_mac,
        proxy: rec.proxy,
        synproxy: rec.synproxy,
    })
}

const fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::session::TcpState;
    use dataplane::types::L4Proto;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal")
    }

    /// A session event as a worker writes it for `method` in the family of `v6`.
    fn event(method: FwdMethod, v6: bool) -> SyncEvent {
        let (client, vip, backend, laddr) = if v6 {
            (
                "2001:2:0:1::10",
                "2001:2::100",
                "2001:2:0:2::11",
                "2001:2:0:2::200",
            )
        } else {
            ("198.18.1.10", "198.18.0.100", "198.18.2.11", "198.18.2.200")
        };
        let (laddr, lport) = match method {
            FwdMethod::FullNat => (ip(laddr), 5003),
            FwdMethod::Nat => (ip(client), 40000),
            FwdMethod::Dr | FwdMethod::Tun => (unspecified(v6), 0),
        };
        SyncEvent {
            kind: SyncKind::Created,
            template: false,
            proto: L4Proto::Tcp,
            method,
            state: TcpState::Established,
            prefix_len: 0,
            flags: 2,
            client: ip(client),
            cport: 40000,
            vip: ip(vip),
            vport: 80,
            laddr,
            lport,
            backend: ip(backend),
            bport: 8080,
            timeout: 897,
            client_port: 1,
            client_mac: [2, 0, 0, 0, 0, 9],
            proxy: None,
            synproxy: None,
        }
    }

    /// The template event a worker writes for a persistent service with `-M /prefix`.
    fn template(method: FwdMethod, v6: bool) -> SyncEvent {
        let mut t = event(method, v6);
        t.template = true;
        t.state = TcpState::None;
        t.prefix_len = if v6 { 64 } else { 24 };
        t.flags = 0;
        t.cport = 0;
        t.laddr = unspecified(v6);
        t.lport = 0;
        t.client_port = 0;
        t.client_mac = [0; 6];
        t.timeout = 360;
        t
    }

    const METHODS: [FwdMethod; 4] = [
        FwdMethod::Dr,
        FwdMethod::Nat,
        FwdMethod::Tun,
        FwdMethod::FullNat,
    ];

    #[test]
    fn sessions_and_templates_round_trip_in_every_mode_and_family() {
        for v6 in [false, true] {
            for m in METHODS {
                for ev in [event(m, v6), template(m, v6)] {
                    let rec = to_record(&ev).expect("a session");
                    assert_eq!(rec.validate(), Ok(()), "{m:?} v6={v6}: {rec:?}");
                    assert_eq!(rec.op, SyncOp::Update);
                    assert_eq!(rec.method, m);
                    assert_eq!(rec.client.ip(), ev.client);
                    assert_eq!(rec.vip, SocketAddr::new(ev.vip, 80));
                    assert_eq!(rec.backend, SocketAddr::new(ev.backend, 8080));
                    assert_eq!(rec.timeout_s, ev.timeout);
                    assert_eq!(rec.front_v6(), v6);
                    let back = to_event(&rec, false).expect("converts back");
                    assert_eq!(back, ev, "{m:?} v6={v6} template={}", ev.template);
                    let dumped = to_event(&rec, true).expect("converts back");
                    assert_eq!(dumped.kind, SyncKind::Dump);
                }
            }
        }
    }

    #[test]
    fn the_local_endpoint_travels_only_for_fullnat() {
        for v6 in [false, true] {
            let f = to_record(&event(FwdMethod::FullNat, v6)).expect("a session");
            let l = f.local.expect("FullNAT carries its local endpoint");
            assert_eq!(l.port(), 5003);
            assert_eq!(l.ip(), event(FwdMethod::FullNat, v6).laddr);
            for m in [FwdMethod::Dr, FwdMethod::Nat, FwdMethod::Tun] {
                assert_eq!(to_record(&event(m, v6)).expect("a session").local, None);
            }
            let t = to_record(&template(FwdMethod::FullNat, v6)).expect("a template");
            assert_eq!(t.template, Some(if v6 { 64 } else { 24 }));
            assert_eq!(
                t.local.map(|l| (l.ip().is_unspecified(), l.port())),
                Some((true, 0))
            );
            assert_eq!(t.client_hop, None, "no next hop known for a template");
        }
    }

    #[test]
    fn kinds_map_to_operations_and_back() {
        let mut ev = event(FwdMethod::Nat, false);
        for (kind, op) in [
            (SyncKind::Created, SyncOp::Update),
            (SyncKind::State, SyncOp::Update),
            (SyncKind::Dump, SyncOp::Update),
            (SyncKind::Deleted(DeleteReason::Removed), SyncOp::Delete),
            (SyncKind::Deleted(DeleteReason::Expired), SyncOp::Expire),
        ] {
            ev.kind = kind;
            let rec = to_record(&ev).expect("a session");
            assert_eq!(rec.op, op, "{kind:?}");
            let back = to_event(&rec, false).expect("converts back").kind;
            match kind {
                SyncKind::Deleted(_) => assert_eq!(back, kind),
                _ => assert_eq!(back, SyncKind::Created),
            }
        }
        for k in [SyncKind::DumpBegin, SyncKind::DumpEnd] {
            assert_eq!(to_record(&SyncEvent::marker(k, 3)), None);
        }
    }

    #[test]
    fn the_proxy_state_travels_both_ways_and_is_absent_without_it() {
        let mut ev = event(FwdMethod::FullNat, false);
        assert_eq!(to_record(&ev).expect("a session").proxy, None);
        let st = dataplane::session::ProxyState {
            isn1: 0xffff_fff0,
            len: 45,
            v2: false,
        };
        ev = ev.with_proxy(dataplane::sync::PROXY_FLAGS, st);
        let rec = to_record(&ev).expect("a session");
        assert_eq!(rec.proxy, Some(st));
        assert_eq!(
            rec.flags & dataplane::sync::PROXY_FLAGS,
            dataplane::sync::PROXY_FLAGS
        );
        assert_eq!(rec.validate(), Ok(()));
        assert_eq!(to_event(&rec, false), Ok(ev));
    }

    #[test]
    fn the_syn_proxy_state_travels_both_ways_with_its_flags() {
        let st = crate::sync::record::tests::synproxy_state();
        for method in [FwdMethod::Nat, FwdMethod::FullNat] {
            let mut ev = event(method, true);
            assert_eq!(to_record(&ev).expect("a session").synproxy, None);
            ev = ev.with_synproxy(dataplane::sync::SYNPROXY_FLAGS, st);
            let rec = to_record(&ev).expect("a session");
            assert_eq!(rec.synproxy, Some(st));
            assert_eq!(
                rec.flags & dataplane::sync::SYNPROXY_FLAGS,
                dataplane::sync::SYNPROXY_FLAGS,
                "open"
            );
            assert_eq!(rec.validate(), Ok(()));
            assert_eq!(to_event(&rec, false), Ok(ev));
        }
    }

    #[test]
    fn udp_sessions_carry_no_state() {
        let mut ev = event(FwdMethod::FullNat, true);
        ev.proto = L4Proto::Udp;
        ev.state = TcpState::None;
        let rec = to_record(&ev).expect("a session");
        assert_eq!(rec.validate(), Ok(()));
        assert_eq!(to_event(&rec, false), Ok(ev));
    }

    #[test]
    fn a_peer_record_that_no_worker_can_hold_is_refused() {
        let mut rec = to_record(&event(FwdMethod::FullNat, false)).expect("a session");
        rec.backend = "[2001:2:0:2::11]:8080".parse().expect("literal");
        rec.local = Some("[2001:2:0:2::200]:5003".parse().expect("literal"));
        assert_eq!(to_event(&rec, false), Err(ConvertError::MixedFamilies));
        let mut rec = to_record(&event(FwdMethod::Nat, false)).expect("a session");
        rec.client_hop = Some(ClientHop {
            port: 300,
            mac: [2, 0, 0, 0, 0, 1],
        });
        assert_eq!(to_event(&rec, false), Err(ConvertError::PortIndex(300)));
        rec.client_hop = None;
        let ev = to_event(&rec, false).expect("converts");
        assert_eq!(
            (ev.client_port, ev.client_mac),
            (0, [0; 6]),
            "learnt from traffic"
        );
    }
}
