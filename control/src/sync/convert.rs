//! Between the workers' session events ([`SyncEvent`], what a worker publishes on its ring and
//! takes on its install ring) and the channel's records ([`SyncSession`], what travels).
//!
//! Outgoing: [`record_of`] maps created, state-change and dumped sessions and templates to
//! [`SyncOp::Update`], an expiry to [`SyncOp::Expire`] and a removal to [`SyncOp::Delete`]; a
//! template's client becomes its network (the record's form); dump markers have no record
//! (they frame a resync, which the channel frames itself). Incoming: [`event_of`] is the
//! inverse, and [`dataplane::sync::placement`] then says which worker installs it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use dataplane::session::{FwdMethod, SessionAddr, TcpState};
use dataplane::sync::{DeleteReason, SyncEvent, SyncKind};

use super::record::{ClientHop, RecordError, SyncOp, SyncSession};

/// Why a record cannot become a worker event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The record breaks one of its own invariants.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The client side and the backend side are of different families (the workers' tables
    /// hold one family per session).
    #[error("client and backend are of different address families")]
    MixedFamilies,
}

/// The record for a worker's event; `None` for a dump marker.
pub fn record_of(ev: &SyncEvent) -> Option<SyncSession> {
    let op = match ev.kind {
        SyncKind::DumpBegin | SyncKind::DumpEnd => return None,
        SyncKind::Created | SyncKind::State | SyncKind::Dump => SyncOp::Update,
        SyncKind::Deleted(DeleteReason::Expired) => SyncOp::Expire,
        SyncKind::Deleted(DeleteReason::Removed) => SyncOp::Delete,
    };
    let client = if ev.template {
        network(ev.client, ev.prefix_len)
    } else {
        ev.client
    };
    let hop = (!ev.template && ev.client_mac != [0; 6]).then_some(ClientHop {
        port: u16::from(ev.client_port),
        mac: ev.client_mac,
    });
    Some(SyncSession {
        op,
        proto: ev.proto,
        client: SocketAddr::new(client, ev.cport),
        vip: SocketAddr::new(ev.vip, ev.vport),
        local: (ev.method == FwdMethod::FullNat).then(|| SocketAddr::new(ev.laddr, ev.lport)),
        backend: SocketAddr::new(ev.backend, ev.bport),
        method: ev.method,
        tcp_state: if ev.template {
            TcpState::None
        } else {
            ev.state
        },
        timeout_s: ev.timeout,
        template: ev.template.then_some(ev.prefix_len),
        flags: ev.flags,
        client_hop: hop,
    })
}

/// The worker event for a peer's record.
///
/// # Errors
/// [`ConvertError::Record`] for a record that breaks its invariants,
/// [`ConvertError::MixedFamilies`] for one whose client and backend families differ.
pub fn event_of(r: &SyncSession) -> Result<SyncEvent, ConvertError> {
    r.validate()?;
    if r.front_v6() != r.back_v6() {
        return Err(ConvertError::MixedFamilies);
    }
    let none = if r.front_v6() {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let kind = match r.op {
        SyncOp::Update => SyncKind::State,
        SyncOp::Expire => SyncKind::Deleted(DeleteReason::Expired),
        SyncOp::Delete => SyncKind::Deleted(DeleteReason::Removed),
    };
    // NAT's replies come back to the client itself; DR and TUN have no reply endpoint.
    let (laddr, lport) = match (r.local, r.method) {
        (Some(l), _) => (l.ip(), l.port()),
        (None, FwdMethod::Nat) => (r.client.ip(), r.client.port()),
        (None, _) => (none, 0),
    };
    // A gateway port index beyond the dataplane's range is no hint: learnt from traffic.
    let hop = r
        .client_hop
        .and_then(|h| u8::try_from(h.port).ok().map(|p| (p, h.mac)));
    let (client_port, client_mac) = hop.unwrap_or((0, [0; 6]));
    Ok(SyncEvent {
        kind,
        template: r.template.is_some(),
        proto: r.proto,
        method: r.method,
        state: r.tcp_state,
        prefix_len: r.template.unwrap_or(0),
        flags: r.flags,
        client: r.client.ip(),
        cport: r.client.port(),
        vip: r.vip.ip(),
        vport: r.vip.port(),
        laddr,
        lport,
        backend: r.backend.ip(),
        bport: r.backend.port(),
        timeout: r.timeout_s,
        client_port,
        client_mac,
    })
}

/// `addr` masked to its first `prefix_len` bits.
fn network(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(a.masked(Ipv4Addr::prefix_mask(prefix_len))),
        IpAddr::V6(a) => IpAddr::V6(a.masked(Ipv6Addr::prefix_mask(prefix_len))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::types::L4Proto;

    fn ev(method: FwdMethod) -> SyncEvent {
        let ip = |s: &str| s.parse::<IpAddr>().expect("literal");
        SyncEvent {
            kind: SyncKind::Created,
            template: false,
            proto: L4Proto::Tcp,
            method,
            state: TcpState::Established,
            prefix_len: 0,
            flags: 1,
            client: ip("203.0.113.7"),
            cport: 40000,
            vip: ip("198.18.0.103"),
            vport: 80,
            laddr: match method {
                FwdMethod::FullNat => ip("198.18.1.200"),
                FwdMethod::Nat => ip("203.0.113.7"),
                _ => ip("0.0.0.0"),
            },
            lport: match method {
                FwdMethod::FullNat => 5001,
                FwdMethod::Nat => 40000,
                _ => 0,
            },
            backend: ip("198.18.1.14"),
            bport: 8080,
            timeout: 899,
            client_port: 0,
            client_mac: [2, 0, 0, 0, 0, 0xc1],
        }
    }

    #[test]
    fn sessions_go_there_and_back() {
        for m in [
            FwdMethod::Dr,
            FwdMethod::Nat,
            FwdMethod::Tun,
            FwdMethod::FullNat,
        ] {
            let e = ev(m);
            let r = record_of(&e).expect("a session has a record");
            assert_eq!(r.validate(), Ok(()));
            assert_eq!(r.op, SyncOp::Update);
            assert_eq!(r.local.is_some(), m == FwdMethod::FullNat);
            let back = event_of(&r).expect("valid");
            // Everything but the kind (the record does not say created or changed).
            assert_eq!(
                back,
                SyncEvent {
                    kind: SyncKind::State,
                    ..e
                },
                "{m:?}"
            );
        }
    }

    #[test]
    fn deletions_keep_their_reason_and_markers_have_no_record() {
        let mut e = ev(FwdMethod::Nat);
        e.kind = SyncKind::Deleted(DeleteReason::Expired);
        assert_eq!(record_of(&e).map(|r| r.op), Some(SyncOp::Expire));
        let back = event_of(&record_of(&e).unwrap()).unwrap();
        assert_eq!(back.kind, e.kind);
        e.kind = SyncKind::Deleted(DeleteReason::Removed);
        assert_eq!(record_of(&e).map(|r| r.op), Some(SyncOp::Delete));
        assert_eq!(record_of(&SyncEvent::marker(SyncKind::DumpEnd, 3)), None);
    }

    #[test]
    fn templates_travel_as_networks() {
        let mut e = ev(FwdMethod::Dr);
        e.template = true;
        e.prefix_len = 24;
        e.state = TcpState::None;
        e.cport = 0;
        let r = record_of(&e).unwrap();
        assert_eq!(r.client.ip(), "203.0.113.0".parse::<IpAddr>().unwrap());
        assert_eq!(r.template, Some(24));
        assert_eq!(r.client_hop, None);
        let back = event_of(&r).unwrap();
        assert!(back.template);
        assert_eq!(back.prefix_len, 24);
        assert_eq!(back.client, r.client.ip());
    }

    #[test]
    fn a_record_without_hop_leaves_the_client_side_to_learn() {
        let mut r = record_of(&ev(FwdMethod::FullNat)).unwrap();
        r.client_hop = None;
        let e = event_of(&r).unwrap();
        assert_eq!((e.client_port, e.client_mac), (0, [0; 6]));
        r.client_hop = Some(ClientHop {
            port: 300,
            mac: [2, 0, 0, 0, 0, 1],
        });
        assert_eq!(
            event_of(&r).unwrap().client_mac,
            [0; 6],
            "port out of range"
        );
    }

    #[test]
    fn bad_records_are_refused() {
        let mut r = record_of(&ev(FwdMethod::FullNat)).unwrap();
        r.local = None;
        assert_eq!(
            event_of(&r),
            Err(ConvertError::Record(RecordError::LocalAddress))
        );
        let mut r = record_of(&ev(FwdMethod::Dr)).unwrap();
        r.backend = "[2001:db8:1::14]:80".parse().unwrap();
        assert_eq!(event_of(&r), Err(ConvertError::MixedFamilies));
    }
}
