//! [`SyncSession`]: one session (or persistence template) as it travels between gateways.
//!
//! A record holds everything another gateway needs to rebuild the session in its own tables,
//! and nothing that only makes sense on the sender: no service or backend index (the receiver
//! finds its service by VIP, virtual port and protocol, its backend by address and port), no
//! worker id, no MAC or egress port (the receiver resolves its own next hops), no absolute
//! expiry time (the *remaining* timeout instead, since the gateways' clocks differ).
//!
//! The dataplane's own types are used where they fit ([`L4Proto`], [`FwdMethod`], [`TcpState`]);
//! the conversion from and to the workers' session events lives in control, next to the code
//! that drains the workers' event rings (dataplane does not depend on control).
//!
//! # Order and conflicts
//!
//! The channel hands a peer's records to the caller in the order the peer queued them, each
//! once, whatever the network lost, reordered or duplicated. A record for a session the
//! receiver already has (same client, VIP, virtual port and protocol) is an update. What the
//! installer does when an update contradicts an entry this gateway created itself (same key,
//! another backend) is the installer's one documented rule (issue 15, "Bad input"); the
//! channel only guarantees the order it relies on.

use core::net::SocketAddr;

use dataplane::session::{FwdMethod, ProxyState, Session, SynProxyState, TcpState};
use dataplane::types::L4Proto;

/// What a record asks the receiver to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncOp {
    /// Create the session, or update it if it exists.
    Update,
    /// Remove the session: the sender removed it (backend gone, `drop` policy).
    Delete,
    /// The session timed out on the sender: the receiver removes its copy unless that copy
    /// is kept alive by traffic there (the installer's grace rule).
    Expire,
}

/// The client side's next hop as the sender saw it: the gateway port towards the client and
/// the MAC replies go to (the upstream router, which an HA pair shares). The receiver uses it
/// for NAT and FullNAT replies until the client's own packets show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientHop {
    /// The gateway port index towards the client (HA peers number their ports alike).
    pub port: u16,
    /// The destination MAC towards the client.
    pub mac: [u8; 6],
}

/// A session or persistence template as the sync channel carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncSession {
    /// Create/update or delete.
    pub op: SyncOp,
    /// The transport protocol (part of the service key).
    pub proto: L4Proto,
    /// The client's address and port. For a persistence template: the client *network* (the
    /// client address masked with the service's netmask) and port 0.
    pub client: SocketAddr,
    /// The virtual service's address and port (with `proto`, the service key). Port 0 for a
    /// persistent all-ports service's template.
    pub vip: SocketAddr,
    /// FullNAT: the local address and port the session's packets leave from towards the
    /// backend. `None` for DR, NAT and TUN.
    pub local: Option<SocketAddr>,
    /// The real server's address and port.
    pub backend: SocketAddr,
    /// The forwarding method.
    pub method: FwdMethod,
    /// The IPVS TCP state (`None` for UDP and for templates).
    pub tcp_state: TcpState,
    /// Seconds left before the session expires on the sender, at the time it was sent.
    pub timeout_s: u32,
    /// `Some(prefix length)` for a persistence template (`ipvsadm -p -M netmask`); `None` for
    /// a connection.
    pub template: Option<u8>,
    /// The pipeline's per-session flag bits (`dataplane::session::Session::flags`: TOA already
    /// inserted, reply seen), carried opaquely so a FullNAT rewrite continues as it was.
    pub flags: u8,
    /// The client side's next hop, when the sender knows it.
    pub client_hop: Option<ClientHop>,
    /// A PROXY protocol connection's state (header version and length, the client's ISN + 1),
    /// which the receiver needs to keep shifting its sequence numbers; `flags` then carries
    /// the PROXY bits too. `None` in records of senders that predate it.
    pub proxy: Option<ProxyState>,
    /// A SYN proxy connection's state (what the cookie said; once the server leg opened, the
    /// sequence and timestamp deltas), which the receiver needs to keep translating; `flags`
    /// then carries the SYN proxy bits too (whether the leg is open). Travels as a critical
    /// extension: a gateway that cannot read it does not install the connection.
    pub synproxy: Option<SynProxyState>,
}

/// The SYN proxy's session flag ([`Session::FLAG_SYNPROXY`]).
const FLAG_SYNPROXY: u8 = Session::<core::net::Ipv4Addr>::FLAG_SYNPROXY;

impl SyncSession {
    /// Whether the client side (client and VIP) is IPv6.
    pub fn front_v6(&self) -> bool {
        self.client.is_ipv6()
    }

    /// Whether the backend side (local address and backend) is IPv6.
    pub fn back_v6(&self) -> bool {
        self.backend.is_ipv6()
    }

    /// Check the invariants the codec relies on: the client and the VIP are of one family,
    /// the local address and the backend of one family, `local` is set exactly for FullNAT, a
    /// template's prefix length fits its family and a template has no TCP state.
    ///
    /// # Errors
    ///
    /// The first broken invariant.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.client.is_ipv6() != self.vip.is_ipv6() {
            return Err(RecordError::MixedFront);
        }
        if let Some(l) = self.local {
            if l.is_ipv6() != self.backend.is_ipv6() {
                return Err(RecordError::MixedBack);
            }
        }
        if (self.method == FwdMethod::FullNat) != self.local.is_some() {
            return Err(RecordError::LocalAddress);
        }
        if let Some(len) = self.template {
            let max = if self.front_v6() { 128 } else { 32 };
            if len > max {
                return Err(RecordError::PrefixLen(len));
            }
            if self.tcp_state != TcpState::None {
                return Err(RecordError::TemplateState);
            }
        }
        if self.proto == L4Proto::Udp && self.tcp_state != TcpState::None {
            return Err(RecordError::UdpState);
        }
        if let Some(p) = self.proxy {
            let ok_len = if p.v2 {
                // Signature and fixed part, two addresses, two ports.
                p.len == if self.front_v6() { 52 } else { 28 }
            } else {
                (PROXY_V1_MIN..=PROXY_V1_MAX).contains(&p.len)
            };
            if self.proto != L4Proto::Tcp
                || !matches!(self.method, FwdMethod::Nat | FwdMethod::FullNat)
                || self.template.is_some()
                || !ok_len
            {
                return Err(RecordError::Proxy);
            }
        }
        if self.synproxy.is_some() != (self.flags & FLAG_SYNPROXY != 0) {
            return Err(RecordError::SynProxy);
        }
        if let Some(st) = self.synproxy {
            // Bits 6-7 of the options byte mean nothing yet: a canonical record has them 0.
            if self.proto != L4Proto::Tcp
                || !matches!(self.method, FwdMethod::Nat | FwdMethod::FullNat)
                || self.template.is_some()
                || self.proxy.is_some()
                || st.opts & 0xc0 != 0
            {
                return Err(RecordError::SynProxy);
            }
        }
        Ok(())
    }
}

/// Shortest PROXY v1 header (`PROXY TCP4 a.b.c.d e.f.g.h p q` with one-digit fields, CRLF).
const PROXY_V1_MIN: u16 = 32;
/// Longest PROXY v1 header the spec allows.
const PROXY_V1_MAX: u16 = 107;

/// A record that breaks an invariant of [`SyncSession::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The client and the VIP are of different families.
    #[error("client and VIP are of different address families")]
    MixedFront,
    /// The local address and the backend are of different families.
    #[error("local address and backend are of different address families")]
    MixedBack,
    /// A FullNAT session without a local address, or another method with one.
    #[error("a local address goes with FullNAT, and only with it")]
    LocalAddress,
    /// A template prefix length longer than the family's address.
    #[error("template prefix length {0} is longer than the address")]
    PrefixLen(u8),
    /// A template with a TCP state.
    #[error("a persistence template has no TCP state")]
    TemplateState,
    /// A UDP session with a TCP state.
    #[error("a UDP session has no TCP state")]
    UdpState,
    /// PROXY protocol state on something other than a NAT or FullNAT TCP connection, or with
    /// a header length its version and family cannot have.
    #[error("PROXY protocol state only goes with a NAT or FullNAT TCP connection, of a valid header length")]
    Proxy,
    /// SYN proxy state on something other than a NAT or FullNAT TCP connection, with PROXY
    /// state, with undefined option bits, or without the SYN proxy's session flag (or that
    /// flag without the state).
    #[error("SYN proxy state only goes with a NAT or FullNAT TCP connection with the SYN proxy flag, and without PROXY state")]
    SynProxy,
}

/// Map a forwarding method to its wire code (the dataplane's discriminant).
pub(crate) const fn method_code(m: FwdMethod) -> u8 {
    m as u8
}

/// Map a wire code back to a forwarding method.
pub(crate) const fn method_from_code(c: u8) -> Option<FwdMethod> {
    match c {
        0 => Some(FwdMethod::Dr),
        1 => Some(FwdMethod::Nat),
        2 => Some(FwdMethod::Tun),
        3 => Some(FwdMethod::FullNat),
        _ => None,
    }
}

/// Map a wire code (IPVS's `IP_VS_TCP_S_*` numbering) back to a TCP state.
pub(crate) fn tcp_state_from_code(c: u8) -> Option<TcpState> {
    TcpState::ALL.get(usize::from(c)).copied()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid FullNAT IPv4 TCP session.
    pub(crate) fn fnat4() -> SyncSession {
        SyncSession {
            op: SyncOp::Update,
            proto: L4Proto::Tcp,
            client: "203.0.113.7:40000".parse().expect("literal"),
            vip: "198.18.0.103:80".parse().expect("literal"),
            local: Some("198.18.1.200:5001".parse().expect("literal")),
            backend: "198.18.1.14:8080".parse().expect("literal"),
            method: FwdMethod::FullNat,
            tcp_state: TcpState::Established,
            timeout_s: 899,
            template: None,
            flags: 3,
            client_hop: None,
            proxy: None,
            synproxy: None,
        }
    }

    /// An open SYN proxy session's state.
    pub(crate) fn synproxy_state() -> SynProxyState {
        SynProxyState {
            seq: 0x8000_0001,
            ts: 12345,
            client_isn: 0xdead_beef,
            mss: 1460,
            opts: 0x37,
            ws: 0x97,
        }
    }

    #[test]
    fn validate_checks_families_local_and_templates() {
        assert_eq!(fnat4().validate(), Ok(()));
        let mut r = fnat4();
        r.vip = "[2001:db8::103]:80".parse().expect("literal");
        assert_eq!(r.validate(), Err(RecordError::MixedFront));
        let mut r = fnat4();
        r.local = Some("[2001:db8:1::200]:5001".parse().expect("literal"));
        assert_eq!(r.validate(), Err(RecordError::MixedBack));
        let mut r = fnat4();
        r.method = FwdMethod::Nat;
        assert_eq!(r.validate(), Err(RecordError::LocalAddress));
        let mut r = fnat4();
        r.local = None;
        assert_eq!(r.validate(), Err(RecordError::LocalAddress));
        let mut r = fnat4();
        r.template = Some(33);
        assert_eq!(r.validate(), Err(RecordError::PrefixLen(33)));
        r.template = Some(24);
        assert_eq!(r.validate(), Err(RecordError::TemplateState));
        r.tcp_state = TcpState::None;
        assert_eq!(r.validate(), Ok(()));
        let mut r = fnat4();
        r.proto = L4Proto::Udp;
        assert_eq!(r.validate(), Err(RecordError::UdpState));
    }

    #[test]
    fn proxy_state_goes_with_nat_and_fullnat_tcp_of_a_valid_length() {
        let st = |len, v2| Some(ProxyState { isn1: 7, len, v2 });
        let mut r = fnat4();
        for (len, v2) in [(28, true), (32, false), (107, false)] {
            r.proxy = st(len, v2);
            assert_eq!(r.validate(), Ok(()), "len {len} v2 {v2}");
        }
        for (len, v2) in [
            (0, false),
            (31, false),
            (108, false),
            (52, true),
            (27, true),
        ] {
            r.proxy = st(len, v2);
            assert_eq!(r.validate(), Err(RecordError::Proxy), "len {len} v2 {v2}");
        }
        r.proxy = st(28, true);
        r.method = FwdMethod::Dr;
        r.local = None;
        assert_eq!(r.validate(), Err(RecordError::Proxy), "DR");
        let mut r = fnat4();
        r.proxy = st(28, true);
        r.proto = L4Proto::Udp;
        r.tcp_state = TcpState::None;
        assert_eq!(r.validate(), Err(RecordError::Proxy), "UDP");
        let mut r = fnat4();
        r.client = "[2001:2::7]:40000".parse().expect("literal");
        r.vip = "[2001:2::103]:80".parse().expect("literal");
        r.proxy = st(52, true);
        assert_eq!(r.validate(), Ok(()), "v2 over IPv6");
    }

    #[test]
    fn synproxy_state_goes_with_nat_and_fullnat_tcp_and_its_flag() {
        let mut r = fnat4();
        r.flags |= FLAG_SYNPROXY;
        assert_eq!(
            r.validate(),
            Err(RecordError::SynProxy),
            "flag without state"
        );
        r.synproxy = Some(synproxy_state());
        assert_eq!(r.validate(), Ok(()));
        r.method = FwdMethod::Nat;
        r.local = None;
        assert_eq!(r.validate(), Ok(()), "NAT");
        let mut bad = r.clone();
        bad.flags &= !FLAG_SYNPROXY;
        assert_eq!(
            bad.validate(),
            Err(RecordError::SynProxy),
            "state without flag"
        );
        let mut bad = r.clone();
        bad.method = FwdMethod::Dr;
        assert_eq!(bad.validate(), Err(RecordError::SynProxy), "DR");
        let mut bad = r.clone();
        bad.proto = L4Proto::Udp;
        bad.tcp_state = TcpState::None;
        assert_eq!(bad.validate(), Err(RecordError::SynProxy), "UDP");
        let mut bad = r.clone();
        bad.proxy = Some(ProxyState {
            isn1: 7,
            len: 28,
            v2: true,
        });
        assert_eq!(bad.validate(), Err(RecordError::SynProxy), "with PROXY");
        let mut bad = r.clone();
        bad.synproxy = Some(SynProxyState {
            opts: 0x40,
            ..synproxy_state()
        });
        assert_eq!(
            bad.validate(),
            Err(RecordError::SynProxy),
            "undefined option bit"
        );
    }

    #[test]
    fn codes_round_trip() {
        for m in [
            FwdMethod::Dr,
            FwdMethod::Nat,
            FwdMethod::Tun,
            FwdMethod::FullNat,
        ] {
            assert_eq!(method_from_code(method_code(m)), Some(m));
        }
        assert_eq!(method_from_code(4), None);
        for s in TcpState::ALL {
            assert_eq!(tcp_state_from_code(s as u8), Some(s));
        }
        assert_eq!(tcp_state_from_code(11), None);
    }
}
