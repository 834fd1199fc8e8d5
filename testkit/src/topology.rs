//! The two-armed gateway most dataplane tests start from.

use crate::packet::ip;
use dataplane::snapshot::{PortInfo, Route, SnapshotBuilder};

/// The gateway's MAC on the client side (port 0) of [`two_port_lan`].
pub const GW0: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
/// The gateway's MAC on the server side (port 1) of [`two_port_lan`].
pub const GW1: [u8; 6] = [2, 0, 0, 0, 0, 0x11];

/// A snapshot builder for a two-armed gateway: port 0 198.18.0.1 (clients), port 1 198.18.1.1
/// with the connected route 198.18.1.0/24 (servers).
pub fn two_port_lan(generation: u64) -> SnapshotBuilder {
    let mut b = SnapshotBuilder::new(generation);
    for (mac, addr) in [(GW0, [198, 18, 0, 1]), (GW1, [198, 18, 1, 1])] {
        b.port(PortInfo {
            mac,
            addrs4: vec![addr.into()],
            addrs6: vec![],
            mtu: 1500,
        });
    }
    b.route(Route {
        prefix: ip("198.18.1.0"),
        len: 24,
        port: 1,
        via: None,
    });
    b
}
