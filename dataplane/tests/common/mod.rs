//! What the TCP tests of `proxy.rs`, `mss_clamp.rs` and `synproxy.rs` share: one case's addresses and a
//! snapshot with one TCP service.

use std::net::IpAddr;

use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, Route, ServiceSpec, Snapshot, ToaMode};
use dataplane::types::L4Proto;
use testkit::topology::two_ports;

/// The real server's MAC.
pub const RS_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The addresses of one case: client, VIP, backend, local address (FullNAT).
pub struct Net {
    pub client: IpAddr,
    pub vip: IpAddr,
    pub backend: IpAddr,
    pub laddr: IpAddr,
}

pub fn net(v6: bool) -> Net {
    if v6 {
        Net {
            client: ip("2001:2::50"),
            vip: ip("2001:2::100"),
            backend: ip("2001:2:1::11"),
            laddr: ip("2001:2:1::200"),
        }
    } else {
        Net {
            client: ip("198.18.0.50"),
            vip: ip("198.18.0.100"),
            backend: ip("198.18.1.11"),
            laddr: ip("198.18.1.200"),
        }
    }
}

/// One TCP service on VIP port 80 with the one real server by `method` (port 80 for DR and TUN,
/// which cannot change it, else 8080), TOA off; `tune` sets the rest of the service.
#[allow(dead_code)]
pub fn snapshot(n: &Net, method: FwdMethod, tune: impl FnOnce(&mut ServiceSpec)) -> Snapshot {
    snapshot_keys(n, method, tune, None)
}

/// [`snapshot`] with SYN cookie keys (`synproxy.rs`).
#[allow(dead_code)]
pub fn snapshot_keys(
    n: &Net,
    method: FwdMethod,
    tune: impl FnOnce(&mut ServiceSpec),
    keys: Option<dataplane::syncookie::CookieKeys>,
) -> Snapshot {
    let mut b = dataplane::snapshot::SnapshotBuilder::new(1);
    b.syn_cookies(keys);
    two_ports(&mut b, true);
    for (p, len) in [("198.18.1.0", 24), ("2001:2:1::", 64)] {
        b.route(Route {
            prefix: ip(p),
            len,
            port: 1,
            via: None,
        });
    }
    b.neighbour(n.backend, RS_MAC);
    let mut s = ServiceSpec::new(n.vip, 80, L4Proto::Tcp);
    if method == FwdMethod::FullNat {
        s.laddrs = vec![n.laddr];
    }
    s.toa = ToaMode::Off;
    let bport = if matches!(method, FwdMethod::Dr | FwdMethod::Tun) {
        80
    } else {
        8080
    };
    s.backends = vec![BackendSpec::new(n.backend, bport, method)];
    tune(&mut s);
    b.service(s);
    b.build()
}
