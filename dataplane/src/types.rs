//! Small types shared by the wire, session, scheduler and forwarding modules; those other crates
//! share too (protocol, MAC) come from the `types` crate.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Transport protocols the gateway load-balances: the shared vocabulary's [`types::Protocol`].
pub use ::types::Protocol as L4Proto;

/// A 5-tuple as seen on the wire, in host byte order, over an address family (`Ipv4Addr` or
/// `Ipv6Addr`).
///
/// `src` is whoever sent the packet: the client for inbound traffic, the backend for replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey<A> {
    /// Source address.
    pub src: A,
    /// Destination address.
    pub dst: A,
    /// Source port (0 for a persistence template's client port).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Transport protocol.
    pub proto: L4Proto,
}

/// An IPv4 5-tuple.
pub type FlowKey4 = FlowKey<Ipv4Addr>;
/// An IPv6 5-tuple.
pub type FlowKey6 = FlowKey<Ipv6Addr>;

impl<A: Copy> FlowKey<A> {
    /// Return the key of the same flow travelling the other way.
    pub const fn reversed(&self) -> Self {
        Self {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            proto: self.proto,
        }
    }
}

/// Indices of a virtual service and of a real server (backend, global across services) in the
/// published snapshot: the shared vocabulary's newtypes.
pub use ::types::{BackendIdx, ServiceIdx};
/// Index of a DPDK port as the gateway numbers them (0-based, dense).
pub type PortIdx = u8;

/// An Ethernet address.
pub use ::types::Mac;
