//! The two-armed gateway most dataplane tests start from.

use crate::packet::ip;
use dataplane::snapshot::{PortInfo, Route, SnapshotBuilder};

/// The gateway's MAC on the client side (port 0) of [`two_port_lan`].
pub const GW0: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
/// The gateway's MAC on the server side (port 1) of [`two_port_lan`].
pub const GW1: [u8; 6] = [2, 0, 0, 0, 0, 0x11];

/// Both ports' MTU.
pub const MTU: u16 = 1500;

/// Port 0's and port 1's addresses: (IPv4, IPv6).
const PORT_ADDRS: [(&str, &str); 2] = [
    ("198.18.0.1", "2001:db8::1"),
    ("198.18.1.1", "2001:db8:1::1"),
];

/// The two ports of a two-armed gateway: port 0 (MAC [`GW0`]) 198.18.0.1, 2001:db8::1 on the
/// clients' side, port 1 (MAC [`GW1`]) 198.18.1.1, 2001:db8:1::1 on the servers' side, MTU
/// [`MTU`]; the IPv6 addresses only with `v6`. No routes.
pub fn two_ports(b: &mut SnapshotBuilder, v6: bool) {
    for (mac, (a4, a6)) in [GW0, GW1].into_iter().zip(PORT_ADDRS) {
        b.port(PortInfo {
            mac,
            addrs4: vec![a4.parse().expect("literal")],
            addrs6: if v6 {
                vec![a6.parse().expect("literal")]
            } else {
                vec![]
            },
            mtu: MTU,
        });
    }
}

/// A snapshot builder for a two-armed gateway: [`two_ports`] (IPv4 only) and the connected
/// route 198.18.1.0/24 (servers) on port 1.
pub fn two_port_lan(generation: u64) -> SnapshotBuilder {
    let mut b = SnapshotBuilder::new(generation);
    two_ports(&mut b, false);
    b.route(Route {
        prefix: ip("198.18.1.0"),
        len: 24,
        port: 1,
        via: None,
    });
    b
}
