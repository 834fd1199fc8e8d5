//! ferrovs's routing table over rtnetlink: read it, add and remove the VIP host routes, and
//! bring it in line with the routes wanted ([`RouteTable::sync`]).
//!
//! One plain blocking `NETLINK_ROUTE` socket (`netlink-sys`), messages built and read with
//! `netlink-packet-route`, as the HA watcher does. Every request waits for the kernel's answer
//! (at most [`ANSWER_WITHIN`]), so a refusal is reported with its errno. The routes are
//! `VIP/32|128 dev DEVICE proto 247 scope link table N` (unicast); a route of another protocol
//! in the table is not ours: it is never touched, and reported ([`SyncOutcome::foreign`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::ha::watcher::{messages, readable};

/// The protocol number of ferrovs's routes (`config::ANNOUNCE_PROTOCOL`).
pub const PROTOCOL: u8 = config::ANNOUNCE_PROTOCOL;
/// `RT_TABLE_COMPAT`: the header's table for ids above 255 (the real id is in `RTA_TABLE`).
const RT_TABLE_COMPAT: u8 = 252;
/// `ESRCH`: no such route (a delete of a route already gone).
const ESRCH: i32 = 3;
/// How long the kernel may take to answer one request.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Receive buffer: larger than any netlink datagram the kernel sends.
const RECV_BUF: usize = 64 << 10;

/// Why the table could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The socket could not be opened or used.
    #[error("rtnetlink {op}: {source}")]
    Socket {
        /// What was being done.
        op: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
    /// The kernel refused a request.
    #[error("rtnetlink {op}: {}", std::io::Error::from_raw_os_error(-code))]
    Refused {
        /// Which request.
        op: String,
        /// The (negative) errno.
        code: i32,
    },
    /// The kernel did not answer in time.
    #[error("rtnetlink {0}: no answer within 2 s")]
    Timeout(&'static str),
}

/// A route of the table, as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelRoute {
    /// Destination.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// The routing protocol that added it.
    pub protocol: u8,
    /// Its output interface, if one.
    pub oif: Option<u32>,
}

impl KernelRoute {
    /// Whether this is a host route of ferrovs's.
    pub fn ours(&self) -> bool {
        self.protocol == PROTOCOL
    }
}

impl std::fmt::Display for KernelRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} proto {}",
            self.dst, self.prefix_len, self.protocol
        )
    }
}

/// What one [`RouteTable::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Routes added or replaced (a missing route, or one on the wrong interface).
    pub added: Vec<IpAddr>,
    /// Routes of ours removed (not wanted).
    pub removed: Vec<IpAddr>,
    /// Routes in the table that are not ours (left alone).
    pub foreign: Vec<KernelRoute>,
    /// What failed, one line each (a missing interface, a refused route); the rest was done.
    pub problems: Vec<String>,
}

/// ferrovs's routing table `id`, through an rtnetlink socket.
#[derive(Debug)]
pub struct RouteTable {
    sock: Socket,
    seq: u32,
    id: u32,
}

impl RouteTable {
    /// Open a socket for table `id`.
    ///
    /// # Errors
    /// The socket cannot be opened.
    pub fn open(id: u32) -> Result<Self, TableError> {
        let err = |op| move |source| TableError::Socket { op, source };
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(err("socket"))?;
        sock.bind_auto().map_err(err("bind"))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(err("connect"))?;
        // Let the kernel filter route dumps by table (Linux 4.20+): a box with a large main
        // table is not dumped whole every second. Older kernels dump everything; the table is
        // then filtered here, as it always is.
        let _ = sock.set_netlink_get_strict_chk(true);
        Ok(Self { sock, seq: 0, id })
    }

    /// The table id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Every route of the table, ours or not.
    ///
    /// # Errors
    /// The dump failed.
    pub fn routes(&mut self) -> Result<Vec<KernelRoute>, TableError> {
        let mut out = Vec::new();
        let mut filter = RouteMessage::default();
        filter.header.table = self.header_table();
        filter.attributes.push(RouteAttribute::Table(self.id));
        let req = RouteNetlinkMessage::GetRoute(filter);
        for m in self.request("route dump", req, NLM_F_DUMP)? {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            if table_of(&r) != self.id {
                continue;
            }
            let Some(dst) = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
                RouteAttribute::Destination(RouteAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
                _ => None,
            }) else {
                // A default route (no destination) is nobody's VIP: it is foreign.
                out.push(KernelRoute {
                    dst: unspecified(r.header.address_family),
                    prefix_len: 0,
                    protocol: u8::from(r.header.protocol),
                    oif: None,
                });
                continue;
            };
            out.push(KernelRoute {
                dst,
                prefix_len: r.header.destination_prefix_length,
                protocol: u8::from(r.header.protocol),
                oif: r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Oif(i) => Some(*i),
                    _ => None,
                }),
            });
        }
        Ok(out)
    }

    /// The routes of the table that are not ferrovs's (`ferrovs check` refuses the table then).
    ///
    /// # Errors
    /// The dump failed.
    pub fn foreign(&mut self) -> Result<Vec<KernelRoute>, TableError> {
        Ok(self.routes()?.into_iter().filter(|r| !r.ours()).collect())
    }

    /// Every interface's index by name.
    ///
    /// # Errors
    /// The dump failed.
    pub fn links(&mut self) -> Result<HashMap<String, u32>, TableError> {
        let mut out = HashMap::new();
        let req = RouteNetlinkMessage::GetLink(LinkMessage::default());
        for m in self.request("link dump", req, NLM_F_DUMP)? {
            if let RouteNetlinkMessage::NewLink(l) = m {
                if let Some(name) = l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                }) {
                    out.insert(name, l.header.index);
                }
            }
        }
        Ok(out)
    }

    /// Add (or replace) the host route of `vip` through interface `oif`.
    ///
    /// # Errors
    /// The kernel refused it (the interface is down, IPv6 is off on it...).
    pub fn add(&mut self, vip: IpAddr, oif: u32) -> Result<(), TableError> {
        let mut r = self.host_route(vip);
        r.attributes.push(RouteAttribute::Oif(oif));
        self.request(
            &format!("add {vip}"),
            RouteNetlinkMessage::NewRoute(r),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .map(drop)
    }

    /// Remove ferrovs's host route of `vip`; a route already gone is not an error.
    ///
    /// # Errors
    /// The kernel refused it.
    pub fn remove(&mut self, vip: IpAddr) -> Result<(), TableError> {
        let r = self.host_route(vip);
        match self.request(
            &format!("remove {vip}"),
            RouteNetlinkMessage::DelRoute(r),
            0,
        ) {
            Err(TableError::Refused { code, .. }) if code == -ESRCH => Ok(()),
            other => other.map(drop),
        }
    }

    /// Make the table hold exactly `want` (VIP, interface name) among ferrovs's routes: add
    /// what is missing or on another interface, remove ours that are not wanted, leave the
    /// others alone. Everything that can be done is done; what failed is in
    /// [`SyncOutcome::problems`].
    ///
    /// # Errors
    /// The table or the interfaces could not be read.
    pub fn sync(&mut self, want: &[(IpAddr, String)]) -> Result<SyncOutcome, TableError> {
        let routes = self.routes()?;
        let links = self.links()?;
        let mut out = SyncOutcome::default();
        let host = |r: &KernelRoute| r.prefix_len == if r.dst.is_ipv4() { 32 } else { 128 };
        for r in &routes {
            if !r.ours() {
                out.foreign.push(r.clone());
            } else if !want.iter().any(|(v, _)| *v == r.dst) || !host(r) {
                match self.remove(r.dst) {
                    Ok(()) => out.removed.push(r.dst),
                    Err(e) => out.problems.push(e.to_string()),
                }
            }
        }
        for (vip, dev) in want {
            let Some(&oif) = links.get(dev) else {
                out.problems
                    .push(format!("{vip}: interface {dev} does not exist"));
                continue;
            };
            let present = routes
                .iter()
                .any(|r| r.ours() && r.dst == *vip && host(r) && r.oif == Some(oif));
            if present {
                continue;
            }
            match self.add(*vip, oif) {
                Ok(()) => out.added.push(*vip),
                Err(e) => out.problems.push(format!("{e} dev {dev}")),
            }
        }
        Ok(out)
    }

    /// The header's table field: the id, or `RT_TABLE_COMPAT` above 255 (`RTA_TABLE` has it).
    fn header_table(&self) -> u8 {
        u8::try_from(self.id).unwrap_or(RT_TABLE_COMPAT)
    }

    fn host_route(&self, vip: IpAddr) -> RouteMessage {
        let mut r = RouteMessage::default();
        r.header.address_family = if vip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        r.header.destination_prefix_length = if vip.is_ipv4() { 32 } else { 128 };
        r.header.table = self.header_table();
        r.header.protocol = RouteProtocol::from(PROTOCOL);
        r.header.scope = RouteScope::Link;
        r.header.kind = RouteType::Unicast;
        r.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(vip)));
        r.attributes.push(RouteAttribute::Table(self.id));
        r
    }

    /// Send one request and collect its answer: the messages of a dump, or the ack.
    fn request(
        &mut self,
        op: &str,
        req: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, TableError> {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        self.seq = self.seq.wrapping_add(1);
        let mut msg = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(req));
        msg.header.flags = NLM_F_REQUEST | flags | if dump { 0 } else { NLM_F_ACK };
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        let sock_err = |source| TableError::Socket {
            op: if dump { "dump" } else { "request" },
            source,
        };
        self.sock.send(&buf, 0).map_err(sock_err)?;
        let mut out = Vec::new();
        let mut rx = vec![0u8; RECV_BUF];
        loop {
            if !readable(&self.sock, ANSWER_WITHIN).map_err(sock_err)? {
                return Err(TableError::Timeout(if dump { "dump" } else { "request" }));
            }
            let n = self.sock.recv(&mut &mut rx[..], 0).map_err(sock_err)?;
            for m in messages(&rx[..n.min(rx.len())]) {
                let Ok(m) = m else { continue };
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            Some(code) => Err(TableError::Refused {
                                op: op.to_owned(),
                                code: code.get(),
                            }),
                            // The ack of a change.
                            None => Ok(out),
                        };
                    }
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
        }
    }
}

/// The table a route message belongs to: `RTA_TABLE` when present (ids above 255 need it),
/// else the header's.
fn table_of(r: &RouteMessage) -> u32 {
    r.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(r.header.table))
}

fn unspecified(f: AddressFamily) -> IpAddr {
    if f == AddressFamily::Inet6 {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_routes_carry_the_table_protocol_and_scope() {
        let t = RouteTable::open(4242).expect("a netlink socket");
        let r = t.host_route("198.18.1.100".parse().expect("ip"));
        assert_eq!(
            r.header.table, RT_TABLE_COMPAT,
            "ids above 255 go in RTA_TABLE"
        );
        assert_eq!(table_of(&r), 4242);
        assert_eq!(u8::from(r.header.protocol), 247);
        assert_eq!(r.header.destination_prefix_length, 32);
        let t = RouteTable::open(100).expect("a netlink socket");
        let r = t.host_route("2001:2::100".parse().expect("ip"));
        assert_eq!((r.header.table, table_of(&r)), (100, 100));
        assert_eq!(r.header.destination_prefix_length, 128);
        assert_eq!(r.header.address_family, AddressFamily::Inet6);
    }
}
