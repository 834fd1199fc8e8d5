//! Per-worker session (connection) table, IPVS TCP states and timeouts, persistence templates.
//!
//! Contract:
//! - One [`SessionTable`] per worker ([`SessionTable4`], [`SessionTable6`]), never shared. Its
//!   capacity is fixed at construction, where *all* its memory is allocated; `insert`, `lookup`,
//!   `touch`, `update_tcp_state`, `remove` and `expire` never allocate.
//! - Both directions are indexed: the inbound key (client -> vip) and, for NAT and FullNAT, the
//!   reply key (backend -> local address, which is the client for NAT). DR and TUN replies
//!   bypass the gateway, so their sessions have one index entry.
//! - Table full: `insert` fails with [`InsertError::TableFull`]; the caller drops the new flow
//!   and counts it; existing sessions are untouched.
//! - Time is whole seconds passed in by the caller (`now`, monotonic since start); nothing here
//!   reads a clock. Expiry runs from [`SessionTable::expire`], called from the worker loop with a
//!   work budget, and is exact to the second (a session dies at the first `expire` call with
//!   `now >= last refresh + timeout of its state`, budget permitting).
//! - TCP states, the transition table and the per-state timeouts are IPVS's ([`tcp`]); UDP
//!   sessions use the UDP timeout. Per-backend ActiveConn/InActConn counts are kept by the caller
//!   from the [`StateChange`]s it is handed and the sessions passed to the expiry callback.
//! - Persistence templates (`ipvsadm -p`, `-M`) live in a separate fixed-capacity
//!   [`PersistTable`].
//!
//! Design (VPP's sticky table and DPVS's connection table, STYLE rule 13): a slab of 64-byte
//! records (IPv4; IPv6 records are 128 bytes), a bucketized cuckoo index of 64-byte buckets
//! holding 10 (16-bit signature, 32-bit slot) entries, sized for 50% load, and a hashed timer
//! wheel with intrusive `u32` links and lazy re-arming, so the per-packet refresh is one store.
//! Memory per IPv4 session: 64 bytes of record plus 25.6 bytes of index (two entries at 50%
//! load) plus 4 bytes of PROXY protocol side array, about 94 bytes (see
//! [`SessionTable::memory_bytes`]).

use core::fmt::Debug;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::types::{FlowKey, L4Proto};

mod hash;
mod index;
#[cfg(feature = "fuzzing")]
pub mod index_bench;
pub mod persist;
pub(crate) mod prefetch;
mod table;
pub mod tcp;
mod timer;

pub use hash::HashSeed;
pub use persist::{PersistFull, PersistTable, PersistTable4, PersistTable6, Template};
pub use table::{
    InsertError, NewSession, ProxyState, Session, Session4, Session6, SessionTable, SessionTable4,
    SessionTable6, SlotId, StateChange, SynProxyState, MAX_CAPACITY,
};
pub use tcp::{
    sloppy_tcp_state, tcp_transition, TcpDir, TcpFlags, TcpState, TimeoutError, Timeouts,
};

/// Which way a packet travels relative to its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Direction {
    /// Client to virtual service (IPVS "input").
    Inbound = 0,
    /// Backend back through the gateway (IPVS "output"); NAT and FullNAT only.
    Reply = 1,
}

/// How packets of a session are forwarded to the backend: the shared vocabulary's
/// [`types::Forward`], under the name the dataplane has always used.
pub use ::types::Forward as FwdMethod;

mod sealed {
    pub trait Sealed {}
    impl Sealed for core::net::Ipv4Addr {}
    impl Sealed for core::net::Ipv6Addr {}
}

/// An address family the session tables are generic over: [`Ipv4Addr`] or [`Ipv6Addr`].
pub trait SessionAddr: Copy + Eq + Debug + sealed::Sealed + 'static {
    /// The all-zeros address.
    const UNSPECIFIED: Self;
    /// Address length in bits (32 or 128).
    const BITS: u8;
    /// What a session record keeps of the protocol beside its reply key: a copy where the reply
    /// key has a cache line of its own (IPv6), nothing where the record is one line (IPv4).
    type ProtoCopy: Copy + Eq + Debug;
    /// [`Self::ProtoCopy`] of TCP (a free record's).
    const PROTO_COPY_TCP: Self::ProtoCopy;
    /// The copy to keep of `proto`.
    fn proto_copy(proto: L4Proto) -> Self::ProtoCopy;
    /// The reply key's protocol: the copy, or the record's `proto` where there is none.
    fn reply_proto(copy: Self::ProtoCopy, proto: L4Proto) -> L4Proto;

    /// Build a flow key.
    #[inline(always)]
    fn flow_key(src: Self, sport: u16, dst: Self, dport: u16, proto: L4Proto) -> FlowKey<Self> {
        FlowKey {
            src,
            dst,
            sport,
            dport,
            proto,
        }
    }
    /// Hash a flow key with a table seed.
    fn hash_key(seed: &HashSeed, key: &FlowKey<Self>) -> u64;
    /// Hash an address together with a small extra word (a service index).
    fn hash_addr(seed: &HashSeed, addr: Self, extra: u64) -> u64;
    /// The netmask with the first `len` bits set (`len` is clamped to [`Self::BITS`]).
    fn prefix_mask(len: u8) -> Self;
    /// Bitwise AND of an address with a netmask.
    fn masked(self, mask: Self) -> Self;
}

impl SessionAddr for Ipv4Addr {
    const UNSPECIFIED: Self = Ipv4Addr::UNSPECIFIED;
    const BITS: u8 = 32;
    type ProtoCopy = ();
    const PROTO_COPY_TCP: () = ();

    #[inline(always)]
    fn proto_copy(_: L4Proto) {}

    #[inline(always)]
    fn reply_proto((): (), proto: L4Proto) -> L4Proto {
        proto
    }

    #[inline(always)]
    fn hash_key(seed: &HashSeed, k: &FlowKey<Self>) -> u64 {
        // Each address in its own word: (src << 32 | dst) was one 8-byte load of a key whose
        // addresses had just been stored as two 4-byte words, which waited for both stores to
        // retire (a store-forwarding stall, the hottest instruction in `perf` on the ring path).
        let a =
            (u64::from(k.src.to_bits()) << 32) | (u64::from(k.sport) << 16) | u64::from(k.dport);
        let b = (u64::from(k.dst.to_bits()) << 8) | u64::from(k.proto.number());
        seed.hash2(a, b)
    }

    #[inline(always)]
    fn hash_addr(seed: &HashSeed, addr: Self, extra: u64) -> u64 {
        seed.hash2(u64::from(addr.to_bits()), extra)
    }

    fn prefix_mask(len: u8) -> Self {
        let len = u32::from(len.min(32));
        Ipv4Addr::from_bits(u32::MAX.checked_shl(32 - len).unwrap_or(0))
    }

    #[inline(always)]
    fn masked(self, mask: Self) -> Self {
        self & mask
    }
}

impl SessionAddr for Ipv6Addr {
    const UNSPECIFIED: Self = Ipv6Addr::UNSPECIFIED;
    const BITS: u8 = 128;
    type ProtoCopy = L4Proto;
    const PROTO_COPY_TCP: L4Proto = L4Proto::Tcp;

    #[inline(always)]
    fn proto_copy(proto: L4Proto) -> L4Proto {
        proto
    }

    #[inline(always)]
    fn reply_proto(copy: L4Proto, _: L4Proto) -> L4Proto {
        copy
    }

    #[inline(always)]
    fn hash_key(seed: &HashSeed, k: &FlowKey<Self>) -> u64 {
        let s = k.src.to_bits();
        let d = k.dst.to_bits();
        let rest =
            (u64::from(k.sport) << 24) | (u64::from(k.dport) << 8) | u64::from(k.proto.number());
        seed.hash5((s >> 64) as u64, s as u64, (d >> 64) as u64, d as u64, rest)
    }

    #[inline(always)]
    fn hash_addr(seed: &HashSeed, addr: Self, extra: u64) -> u64 {
        let a = addr.to_bits();
        let h = seed.hash2((a >> 64) as u64, a as u64);
        seed.hash2(h, extra)
    }

    fn prefix_mask(len: u8) -> Self {
        let len = u32::from(len.min(128));
        Ipv6Addr::from_bits(u128::MAX.checked_shl(128 - len).unwrap_or(0))
    }

    #[inline(always)]
    fn masked(self, mask: Self) -> Self {
        self & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_masks() {
        assert_eq!(Ipv4Addr::prefix_mask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(Ipv4Addr::prefix_mask(0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(Ipv4Addr::prefix_mask(32), Ipv4Addr::BROADCAST);
        assert_eq!(Ipv4Addr::prefix_mask(40), Ipv4Addr::BROADCAST);
        assert_eq!(
            Ipv6Addr::prefix_mask(64),
            "ffff:ffff:ffff:ffff::".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(Ipv6Addr::prefix_mask(0), Ipv6Addr::UNSPECIFIED);
        assert_eq!(
            "2001:db8::1"
                .parse::<Ipv6Addr>()
                .unwrap()
                .masked(Ipv6Addr::prefix_mask(32)),
            "2001:db8::".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn only_nat_and_fullnat_see_replies() {
        assert!(!FwdMethod::Dr.sees_replies());
        assert!(!FwdMethod::Tun.sees_replies());
        assert!(FwdMethod::Nat.sees_replies());
        assert!(FwdMethod::FullNat.sees_replies());
    }
}
