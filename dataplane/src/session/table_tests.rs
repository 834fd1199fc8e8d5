//! Tests of the session table (included from `table.rs`).

use super::*;
use crate::types::{FlowKey4, FlowKey6};
use proptest::prelude::*;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn client(i: u32) -> Ipv4Addr {
    Ipv4Addr::from_bits(0xc633_0000 | (i >> 16)) // 198.51.x.y
}

/// A FullNAT TCP session for client number `i` (the client port and local port vary with `i`).
fn fnat(i: u32) -> NewSession<Ipv4Addr> {
    NewSession {
        client: client(i),
        cport: (i & 0xffff) as u16,
        vip: VIP,
        vport: 80,
        backend: Ipv4Addr::new(192, 168, 1, 11 + (i % 4) as u8),
        bport: 8080,
        laddr: Ipv4Addr::new(192, 168, 100, (i / 60_000) as u8),
        lport: 1024 + (i % 60_000) as u16,
        proto: L4Proto::Tcp,
        method: FwdMethod::FullNat,
        state: TcpState::SynRecv,
        service: ServiceIdx::new(3),
        backend_idx: BackendIdx::new((i % 4) as u16),
        next_hop_mac: [2, 0, 0, 0, 0, 1],
        client_mac: [2, 0, 0, 0, 0, 2],
        backend_port: 1,
        client_port: 0,
        flags: 0,
    }
}

fn udp_nat(i: u32) -> NewSession<Ipv4Addr> {
    let mut n = fnat(i);
    n.proto = L4Proto::Udp;
    n.method = FwdMethod::Nat;
    n.laddr = n.client;
    n.lport = n.cport;
    n.state = TcpState::None;
    n
}

fn in_key(n: &NewSession<Ipv4Addr>) -> FlowKey4 {
    FlowKey4 {
        src: n.client,
        dst: n.vip,
        sport: n.cport,
        dport: n.vport,
        proto: n.proto,
    }
}

fn out_key(n: &NewSession<Ipv4Addr>) -> FlowKey4 {
    FlowKey4 {
        src: n.backend,
        dst: n.laddr,
        sport: n.bport,
        dport: n.lport,
        proto: n.proto,
    }
}

fn table(cap: usize) -> SessionTable4 {
    SessionTable4::with_capacity(cap, HashSeed::new(0x5eed))
}

const SYN: TcpFlags = TcpFlags::from_bits(TcpFlags::SYN_BIT);
const SYNACK: TcpFlags = TcpFlags::from_bits(TcpFlags::SYN_BIT | TcpFlags::ACK_BIT);
const ACK: TcpFlags = TcpFlags::from_bits(TcpFlags::ACK_BIT);
const FIN: TcpFlags = TcpFlags::from_bits(TcpFlags::FIN_BIT | TcpFlags::ACK_BIT);
const RST: TcpFlags = TcpFlags::from_bits(TcpFlags::RST_BIT);

#[test]
fn ipv4_record_is_one_cache_line() {
    assert_eq!(core::mem::size_of::<Session4>(), 64);
    assert_eq!(core::mem::align_of::<Session4>(), 64);
    assert_eq!(core::mem::size_of::<Session6>(), 128);
}

#[test]
fn fullnat_session_is_found_in_both_directions() {
    let mut t = table(16);
    let n = fnat(7);
    let slot = t.insert(100, &n).unwrap();
    assert_eq!(t.lookup(&in_key(&n)), Some((slot, Direction::Inbound)));
    assert_eq!(t.lookup(&out_key(&n)), Some((slot, Direction::Reply)));
    // The hashed split gives the same answer.
    let h = t.hash(&out_key(&n));
    t.prefetch(h);
    assert_eq!(
        t.lookup_hashed(h, &out_key(&n)),
        Some((slot, Direction::Reply))
    );
    // Reversed keys and other ports are not sessions.
    assert_eq!(t.lookup(&in_key(&n).reversed()), None);
    let mut other = in_key(&n);
    other.sport ^= 1;
    assert_eq!(t.lookup(&other), None);
    let s = t.get(slot).unwrap();
    assert_eq!(
        (s.client(), s.cport(), s.vip(), s.vport()),
        (n.client, n.cport, VIP, 80)
    );
    assert_eq!(
        (s.backend(), s.bport(), s.laddr(), s.lport()),
        (n.backend, 8080, n.laddr, n.lport)
    );
    assert_eq!(s.state_name(), "SYN_RECV");
    assert_eq!(s.expires(), 160);
    assert_eq!(s.key(Direction::Reply), out_key(&n));
    assert_eq!(t.len(), 1);
}

#[test]
fn nat_reply_key_goes_to_the_client() {
    let mut t = table(16);
    let n = udp_nat(9);
    let slot = t.insert(0, &n).unwrap();
    let reply = FlowKey4 {
        src: n.backend,
        sport: n.bport,
        dst: n.client,
        dport: n.cport,
        proto: L4Proto::Udp,
    };
    assert_eq!(t.lookup(&reply), Some((slot, Direction::Reply)));
    assert_eq!(t.get(slot).unwrap().state_name(), "UDP");
    assert_eq!(t.get(slot).unwrap().expires(), 300);
}

#[test]
fn dr_sessions_index_only_the_inbound_key() {
    let mut t = table(16);
    let mut n = fnat(1);
    n.method = FwdMethod::Dr;
    n.bport = n.vport;
    let slot = t.insert(0, &n).unwrap();
    assert_eq!(t.lookup(&in_key(&n)), Some((slot, Direction::Inbound)));
    assert_eq!(t.lookup(&out_key(&n)), None);
    assert_eq!(t.index.count(), 1);
    t.remove(slot).unwrap();
    assert_eq!(t.index.count(), 0);
}

#[test]
fn duplicate_keys_are_refused() {
    let mut t = table(16);
    let n = fnat(1);
    t.insert(0, &n).unwrap();
    assert_eq!(
        t.insert(0, &n),
        Err(InsertError::Duplicate(Direction::Inbound))
    );
    // Same reply tuple (same backend and local port) from a different client.
    let mut m = fnat(1);
    m.cport += 1;
    assert_eq!(
        t.insert(0, &m),
        Err(InsertError::Duplicate(Direction::Reply))
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t.index.count(), 2);
}

#[test]
fn insert_absent_indexes_both_keys_and_still_refuses_a_taken_reply_key() {
    let mut t = table(16);
    let n = fnat(1);
    let h = t.hash(&in_key(&n));
    assert_eq!(t.lookup_hashed(h, &in_key(&n)), None);
    let slot = t.insert_absent(0, &n, h).unwrap();
    assert_eq!(t.lookup(&in_key(&n)), Some((slot, Direction::Inbound)));
    assert_eq!(t.lookup(&out_key(&n)), Some((slot, Direction::Reply)));
    // Another client whose reply tuple (backend, local port) is taken.
    let mut m = fnat(1);
    m.cport += 1;
    let hm = t.hash(&in_key(&m));
    assert_eq!(
        t.insert_absent(0, &m, hm),
        Err(InsertError::Duplicate(Direction::Reply))
    );
    assert_eq!((t.len(), t.index.count()), (1, 2));
}

/// The caller's promise (the inbound key was just looked up and missed) is checked in debug
/// builds: a broken promise would index a key twice.
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "insert_absent: the inbound key is indexed")]
fn insert_absent_of_an_indexed_key_is_caught_in_debug_builds() {
    let mut t = table(16);
    let n = fnat(1);
    t.insert(0, &n).unwrap();
    let h = t.hash(&in_key(&n));
    let _ = t.insert_absent(0, &n, h);
}

#[test]
fn remove_frees_the_slot_and_both_keys() {
    let mut t = table(2);
    let a = fnat(1);
    let b = fnat(2);
    let sa = t.insert(0, &a).unwrap();
    let sb = t.insert(0, &b).unwrap();
    let old = t.remove(sa).unwrap();
    assert_eq!(old.client(), a.client);
    assert_eq!(t.remove(sa), None);
    assert_eq!(t.get(sa), None);
    assert_eq!(t.lookup(&in_key(&a)), None);
    assert_eq!(t.lookup(&out_key(&a)), None);
    assert_eq!(t.lookup(&in_key(&b)), Some((sb, Direction::Inbound)));
    assert_eq!(t.len(), 1);
    // The freed slot is reused, and the removed session never expires.
    let sc = t.insert(0, &fnat(3)).unwrap();
    assert_eq!(sc, sa);
    assert_eq!(t.expire(10_000, usize::MAX, |_, _| {}), 2);
}

#[test]
fn full_table_refuses_new_flows_and_keeps_the_old() {
    let cap = 1000;
    let mut t = table(cap);
    let slots: Vec<SlotId> = (0..cap as u32)
        .map(|i| t.insert(0, &fnat(i)).unwrap())
        .collect();
    assert_eq!(t.len(), cap);
    assert_eq!(t.insert(0, &fnat(5000)), Err(InsertError::TableFull));
    assert_eq!(t.insert(0, &fnat(1)), Err(InsertError::TableFull));
    for (i, &slot) in slots.iter().enumerate() {
        let n = fnat(i as u32);
        assert_eq!(t.lookup(&in_key(&n)), Some((slot, Direction::Inbound)));
        assert_eq!(t.lookup(&out_key(&n)), Some((slot, Direction::Reply)));
    }
    t.remove(slots[500]).unwrap();
    t.insert(0, &fnat(5000)).unwrap();
}

#[test]
fn zero_capacity_table_is_always_full() {
    let mut t = table(0);
    assert_eq!(t.insert(0, &fnat(1)), Err(InsertError::TableFull));
    assert_eq!(t.capacity(), 0);
}

#[test]
fn sessions_expire_at_last_touch_plus_state_timeout() {
    let mut t = table(16);
    let a = t.insert(1000, &udp_nat(1)).unwrap(); // 300 s
    let b = t.insert(1000, &udp_nat(2)).unwrap();
    let mut dead = Vec::new();
    // `b` is touched every 100 s and must survive; `a` is not.
    for now in (1001..=1299).step_by(7) {
        assert_eq!(
            t.expire(now, usize::MAX, |s, _| dead.push(s)),
            0,
            "at {now}"
        );
        if now % 100 < 7 {
            t.touch(b, now);
        }
    }
    assert_eq!(t.expire(1300, usize::MAX, |s, _| dead.push(s)), 1);
    assert_eq!(dead, [a]);
    assert_eq!(t.get(a), None);
    let last = t.get(b).unwrap().expires();
    assert_eq!(t.expire(last - 1, usize::MAX, |_, _| {}), 0);
    assert_eq!(t.expire(last, usize::MAX, |_, _| {}), 1);
    assert!(t.is_empty());
}

#[test]
fn shorter_timeout_after_a_state_change_takes_effect_at_once() {
    let mut t = table(16);
    let s = t.insert(0, &fnat(1)).unwrap(); // SYN_RECV, 60 s
    let c = t.update_tcp_state(s, 1, Direction::Inbound, ACK).unwrap();
    assert_eq!((c.old, c.new), (TcpState::SynRecv, TcpState::Established));
    assert!(c.activity_changed());
    assert_eq!(t.get(s).unwrap().expires(), 901);
    let c = t.update_tcp_state(s, 10, Direction::Reply, RST).unwrap();
    assert_eq!(c.new, TcpState::Close);
    assert!(c.activity_changed());
    assert_eq!(t.get(s).unwrap().expires(), 20);
    assert_eq!(t.expire(19, usize::MAX, |_, _| {}), 0);
    let mut seen = None;
    assert_eq!(
        t.expire(20, usize::MAX, |_, sess| seen = Some(sess.state())),
        1
    );
    assert_eq!(seen, Some(TcpState::Close));
}

#[test]
fn dr_connection_uses_the_input_only_table() {
    let mut t = table(16);
    let mut n = fnat(1);
    n.method = FwdMethod::Dr;
    n.state = tcp_transition(TcpState::None, TcpDir::InputOnly, SYN);
    let s = t.insert(0, &n).unwrap();
    assert_eq!(t.get(s).unwrap().state(), TcpState::SynRecv);
    t.update_tcp_state(s, 1, Direction::Inbound, ACK).unwrap();
    let c = t.update_tcp_state(s, 2, Direction::Inbound, FIN).unwrap();
    // INPUT-ONLY: ESTABLISHED + client FIN -> FIN_WAIT (the two-way table would say CLOSE_WAIT).
    assert_eq!(c.new, TcpState::FinWait);
    assert_eq!(t.get(s).unwrap().expires(), 122);
}

#[test]
fn nat_connection_full_lifecycle() {
    let mut t = table(16);
    let mut n = fnat(1);
    n.method = FwdMethod::Nat;
    n.state = tcp_transition(TcpState::None, TcpDir::Input, SYN);
    let s = t.insert(0, &n).unwrap();
    let steps = [
        (Direction::Reply, SYNACK, TcpState::SynRecv),
        (Direction::Inbound, ACK, TcpState::Established),
        (Direction::Inbound, FIN, TcpState::CloseWait),
        (Direction::Reply, FIN, TcpState::TimeWait),
        (Direction::Inbound, ACK, TcpState::TimeWait),
    ];
    for (now, (dir, flags, want)) in steps.into_iter().enumerate() {
        let c = t.update_tcp_state(s, now as u32, dir, flags).unwrap();
        assert_eq!(c.new, want, "step {now}");
    }
    assert_eq!(t.get(s).unwrap().expires(), 4 + 120);
}

#[test]
fn set_timeouts_apply_from_the_next_packet() {
    let mut t = table(16);
    let s = t.insert(0, &udp_nat(1)).unwrap();
    let mut to = *t.timeouts();
    to.set(0, 0, 30).unwrap();
    t.set_timeouts(to);
    assert_eq!(t.get(s).unwrap().expires(), 300);
    t.touch(s, 5);
    assert_eq!(t.get(s).unwrap().expires(), 35);
    assert_eq!(t.expire(35, usize::MAX, |_, _| {}), 1);
}

#[test]
fn expire_budget_bounds_the_work_per_call() {
    let mut t = table(100);
    for i in 0..100 {
        t.insert(0, &udp_nat(i)).unwrap();
    }
    // Ticks 0..=299 are empty slots (one unit each), then 100 sessions at tick 300.
    let mut total = 0;
    let mut calls = 0;
    while !t.is_empty() {
        let n = t.expire(300, 25, |_, _| {});
        assert!(n <= 25);
        total += n;
        calls += 1;
    }
    assert_eq!(total, 100);
    assert!(calls >= 100 / 25 + 300 / 25, "calls {calls}");
}

#[test]
fn pipeline_fields_are_writable() {
    let mut t = table(4);
    let s = t.insert(0, &fnat(1)).unwrap();
    let rec = t.get_mut(s).unwrap();
    rec.flags |= Session4::FLAG_TOA_SENT;
    rec.next_hop_mac = [2, 0, 0, 0, 0, 9];
    assert_eq!(t.get(s).unwrap().flags, Session4::FLAG_TOA_SENT);
    assert_eq!(t.iter().count(), 1);
    assert!(format!("{:?}", t.get(s).unwrap()).contains("SYN_RECV"));
}

#[test]
fn ipv6_sessions() {
    let mut t = SessionTable6::with_capacity(8, HashSeed::new(1));
    let c: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let v: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let b: Ipv6Addr = "fd00::11".parse().unwrap();
    let l: Ipv6Addr = "fd00::fe".parse().unwrap();
    let n = NewSession {
        client: c,
        cport: 40000,
        vip: v,
        vport: 443,
        backend: b,
        bport: 443,
        laddr: l,
        lport: 5000,
        proto: L4Proto::Tcp,
        method: FwdMethod::FullNat,
        state: TcpState::SynRecv,
        service: ServiceIdx::new(1),
        backend_idx: BackendIdx::new(1),
        next_hop_mac: [0; 6],
        client_mac: [0; 6],
        backend_port: 0,
        client_port: 0,
        flags: 0,
    };
    let s = t.insert(0, &n).unwrap();
    let k = FlowKey6 {
        src: c,
        dst: v,
        sport: 40000,
        dport: 443,
        proto: L4Proto::Tcp,
    };
    assert_eq!(t.lookup(&k), Some((s, Direction::Inbound)));
    let r = FlowKey6 {
        src: b,
        dst: l,
        sport: 443,
        dport: 5000,
        proto: L4Proto::Tcp,
    };
    assert_eq!(t.lookup(&r), Some((s, Direction::Reply)));
    assert_eq!(t.lookup(&k.reversed()), None);
}

/// Each direction's key in one cache line: a lookup compares only the key its index entry
/// names, so it reads one record line (the module's layout comment).
#[test]
fn each_key_lies_in_one_cache_line() {
    use core::mem::offset_of;
    macro_rules! key_span {
        ($t:ty: $($f:ident),+) => {
            (
                [$(offset_of!($t, $f)),+].into_iter().min().unwrap(),
                [$(offset_of!($t, $f) + size_of_field::<$t, _>(|s: &$t| &s.$f)),+]
                    .into_iter()
                    .max()
                    .unwrap(),
            )
        };
    }
    fn size_of_field<T, F>(_: impl Fn(&T) -> &F) -> usize {
        core::mem::size_of::<F>()
    }
    // IPv6: the inbound key in bytes 0..64, the reply key (with its copy of the protocol) in
    // 64..128.
    assert_eq!(
        key_span!(Session6: client, vip, cport, vport, proto),
        (0, 37)
    );
    assert_eq!(
        key_span!(Session6: backend, laddr, bport, lport, reply_proto),
        (64, 101)
    );
    assert_eq!(core::mem::size_of::<Session6>(), 128);
    // IPv4: the whole record, both keys with it, in bytes 0..64 (no copy of the protocol).
    assert_eq!(
        key_span!(Session4: client, vip, cport, vport, proto),
        (0, 13)
    );
    assert_eq!(key_span!(Session4: backend, laddr, bport, lport), (40, 52));
    assert_eq!(
        core::mem::size_of::<<Ipv4Addr as SessionAddr>::ProtoCopy>(),
        0
    );
    assert_eq!(core::mem::size_of::<Session4>(), 64);
}

/// The IPv6 reply key's protocol is its own copy in the second line: TCP and UDP sessions on
/// the same addresses and ports are told apart in both directions.
#[test]
fn ipv6_reply_keys_differ_by_protocol() {
    let mut t = SessionTable6::with_capacity(8, HashSeed::new(2));
    let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let new = |proto| NewSession {
        client: a("2001:2::7"),
        cport: 40000,
        vip: a("2001:2::1"),
        vport: 53,
        backend: a("2001:2:1::11"),
        bport: 53,
        laddr: a("2001:2:1::fe"),
        lport: 5000,
        proto,
        method: FwdMethod::FullNat,
        state: TcpState::SynRecv,
        service: ServiceIdx::new(1),
        backend_idx: BackendIdx::new(1),
        next_hop_mac: [0; 6],
        client_mac: [0; 6],
        backend_port: 0,
        client_port: 0,
        flags: 0,
    };
    let tcp = t.insert(0, &new(L4Proto::Tcp)).unwrap();
    let udp = t.insert(0, &new(L4Proto::Udp)).unwrap();
    for (slot, proto) in [(tcp, L4Proto::Tcp), (udp, L4Proto::Udp)] {
        let n = new(proto);
        let k = Ipv6Addr::flow_key(n.client, n.cport, n.vip, n.vport, proto);
        let r = Ipv6Addr::flow_key(n.backend, n.bport, n.laddr, n.lport, proto);
        assert_eq!(t.lookup(&k), Some((slot, Direction::Inbound)));
        assert_eq!(t.lookup(&r), Some((slot, Direction::Reply)));
        assert_eq!(t.get(slot).unwrap().key(Direction::Reply), r);
    }
    t.remove(tcp).unwrap();
    let n = new(L4Proto::Tcp);
    let r = Ipv6Addr::flow_key(n.backend, n.bport, n.laddr, n.lport, L4Proto::Tcp);
    assert_eq!(t.lookup(&r), None);
}

#[test]
fn memory_per_ipv4_session_at_one_million() {
    let cap = 1_000_000;
    let mut t = table(cap);
    let per = t.memory_bytes() as f64 / cap as f64;
    println!(
        "SessionTable4: capacity {cap}, memory_bytes {} = {per:.2} bytes/session \
         (record {} + index {:.2} + wheel {:.3})",
        t.memory_bytes(),
        core::mem::size_of::<Session4>(),
        t.index.memory_bytes() as f64 / cap as f64,
        t.wheel.memory_bytes() as f64 / cap as f64,
    );
    assert!(per <= 96.0, "{per} bytes per session");
    // And the index really holds two entries for every one of them.
    for i in 0..cap as u32 {
        t.insert(0, &fnat(i)).unwrap();
    }
    assert_eq!(t.insert(0, &fnat(cap as u32)), Err(InsertError::TableFull));
    for i in (0..cap as u32).step_by(997) {
        assert!(t.lookup(&out_key(&fnat(i))).is_some());
    }
}

/// Operations for the model test; keys come from a small space so collisions and reuse happen.
#[derive(Clone, Debug)]
enum Op {
    Insert(u32),
    Remove(u32),
    Lookup(u32),
    Touch(u32),
    Advance(u32),
    Expire(usize),
    SetUdpTimeout(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..64).prop_map(Op::Insert),
        1 => (0u32..64).prop_map(Op::Remove),
        2 => (0u32..64).prop_map(Op::Lookup),
        2 => (0u32..64).prop_map(Op::Touch),
        2 => prop_oneof![0u32..5, 0u32..700].prop_map(Op::Advance),
        2 => (1usize..40).prop_map(Op::Expire),
        1 => prop_oneof![Just(2u32), Just(3), Just(300), Just(5000)].prop_map(Op::SetUdpTimeout),
    ]
}

/// Key number -> session: UDP NAT or FullNAT by parity, so both index shapes are exercised.
fn model_session(k: u32) -> NewSession<Ipv4Addr> {
    if k.is_multiple_of(2) {
        udp_nat(k * 7919)
    } else {
        let mut n = fnat(k * 7919);
        n.proto = L4Proto::Udp;
        n
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_a_hashmap(
        ops in proptest::collection::vec(op(), 1..200),
        cap in 1usize..24,
        udp in prop_oneof![Just(3u32), Just(300), Just(5000)],
    ) {
        let mut t = table(cap);
        let mut udp = udp;
        let mut to = Timeouts::default();
        to.set(0, 0, u64::from(udp)).unwrap();
        t.set_timeouts(to);
        // Model: key number -> (slot, expires).
        let mut model: HashMap<u32, (SlotId, u32)> = HashMap::new();
        let mut now = 0u32;
        for op in ops {
            match op {
                Op::Insert(k) => {
                    let n = model_session(k);
                    let got = t.insert(now, &n);
                    let full = model.len() == cap;
                    match model.entry(k) {
                        _ if full => prop_assert_eq!(got, Err(InsertError::TableFull)),
                        Entry::Occupied(_) => prop_assert_eq!(
                            got,
                            Err(InsertError::Duplicate(Direction::Inbound))
                        ),
                        Entry::Vacant(v) => {
                            v.insert((got.unwrap(), now + udp));
                        }
                    }
                }
                Op::Remove(k) => {
                    if let Some((slot, _)) = model.remove(&k) {
                        let old = t.remove(slot).unwrap();
                        prop_assert_eq!(old.key(Direction::Inbound), in_key(&model_session(k)));
                    }
                }
                Op::Lookup(k) => {
                    let n = model_session(k);
                    let want = model.get(&k).map(|&(s, _)| s);
                    prop_assert_eq!(t.lookup(&in_key(&n)).map(|x| x.0), want);
                    prop_assert_eq!(t.lookup(&out_key(&n)).map(|x| x.0), want);
                    if let Some((s, d)) = t.lookup(&out_key(&n)) {
                        prop_assert_eq!(d, Direction::Reply);
                        prop_assert_eq!(t.get(s).unwrap().expires(), model[&k].1);
                    }
                }
                Op::Touch(k) => {
                    if let Some(e) = model.get_mut(&k) {
                        prop_assert!(t.touch(e.0, now));
                        e.1 = now + udp;
                    }
                }
                Op::Advance(d) => now += d,
                Op::SetUdpTimeout(secs) => {
                    // Shorter timeouts make touched sessions expire earlier than armed.
                    udp = secs;
                    let mut to = *t.timeouts();
                    to.set(0, 0, u64::from(secs)).unwrap();
                    t.set_timeouts(to);
                }
                Op::Expire(budget) => {
                    // A bounded call, then one to completion; together they must expire exactly
                    // the sessions the model says are due.
                    let mut dead = Vec::new();
                    let n = t.expire(now, budget, |s, sess| dead.push((s, sess.expires())));
                    prop_assert!(n <= budget);
                    t.expire(now, usize::MAX, |s, sess| dead.push((s, sess.expires())));
                    let mut want: Vec<(SlotId, u32)> =
                        model.values().filter(|&&(_, e)| e <= now).copied().collect();
                    model.retain(|_, &mut (_, e)| e > now);
                    dead.sort_unstable();
                    want.sort_unstable();
                    prop_assert_eq!(dead, want);
                }
            }
            prop_assert_eq!(t.len(), model.len());
        }
        prop_assert_eq!(t.index.count(), 2 * model.len());
    }
}

#[test]
#[ignore = "timing report; run with --release -- --ignored --nocapture"]
fn throughput_report() {
    use std::time::Instant;
    for cap in [1_000_000usize, 10_000_000] {
        let mut t = table(cap);
        let news: Vec<NewSession<Ipv4Addr>> = (0..cap as u32).map(fnat).collect();
        let start = Instant::now();
        for n in &news {
            t.insert(0, n).unwrap();
        }
        let ins = start.elapsed().as_secs_f64();
        // Look up in a scrambled order so the slab is not walked sequentially.
        let keys: Vec<FlowKey4> = (0..cap as u64)
            .map(|i| out_key(&news[((i * 0x9e37_79b1) % cap as u64) as usize]))
            .collect();
        let start = Instant::now();
        let mut found = 0usize;
        for k in &keys {
            found += usize::from(t.lookup(k).is_some());
        }
        let plain = start.elapsed().as_secs_f64();
        assert_eq!(found, cap);
        let start = Instant::now();
        found = 0;
        for burst in keys.chunks(32) {
            let mut hashes = [0u64; 32];
            for (h, k) in hashes.iter_mut().zip(burst) {
                *h = t.hash(k);
                t.prefetch(*h);
            }
            for (h, k) in hashes.iter().zip(burst) {
                found += usize::from(t.lookup_hashed(*h, k).is_some());
            }
        }
        let burst = start.elapsed().as_secs_f64();
        assert_eq!(found, cap);
        let start = Instant::now();
        let expired = t.expire(10_000, usize::MAX, |_, _| {});
        let exp = start.elapsed().as_secs_f64();
        assert_eq!(expired, cap);
        let m = cap as f64 / 1e6;
        println!(
            "cap {cap}: {:.1} B/session; insert {:.2} M/s; lookup {:.2} M/s, burst+prefetch {:.2} M/s; \
             expire {:.2} M/s",
            t.memory_bytes() as f64 / cap as f64,
            m / ins,
            m / plain,
            m / burst,
            m / exp
        );
    }
}

#[test]
fn a_full_table_gives_up_half_open_connections_never_established_ones() {
    let cap = 64;
    let mut t = table(cap);
    // Half the table established, half SYN_RECV, interleaved.
    let slots: Vec<SlotId> = (0..cap as u32)
        .map(|i| t.insert(0, &fnat(i)).unwrap())
        .collect();
    for (i, &slot) in slots.iter().enumerate() {
        if i % 2 == 0 {
            t.update_tcp_state(slot, 0, Direction::Reply, SYNACK)
                .unwrap();
            t.update_tcp_state(slot, 0, Direction::Inbound, ACK)
                .unwrap();
            assert_eq!(t.get(slot).unwrap().state(), TcpState::Established);
        }
    }
    assert_eq!(t.insert(0, &fnat(5000)), Err(InsertError::TableFull));
    let mut evicted = 0;
    while let Some(old) = t.evict_for_room(8) {
        assert_eq!(old.state(), TcpState::SynRecv, "{old:?}");
        assert_eq!(old.cport() % 2, 1, "{old:?}");
        assert!(t.lookup(&in_key(&fnat(u32::from(old.cport())))).is_none());
        evicted += 1;
    }
    assert_eq!(evicted, cap / 2, "every half-open one, and only those");
    for (i, &slot) in slots.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        assert_eq!(
            t.lookup(&in_key(&fnat(i as u32))),
            Some((slot, Direction::Inbound))
        );
    }
    for i in 0..evicted as u32 {
        t.insert(0, &fnat(5000 + i)).unwrap();
    }
    assert_eq!(t.len(), cap);
}

#[test]
fn an_all_established_table_evicts_nothing_within_the_probe_budget() {
    let mut t = table(32);
    for i in 0..32 {
        let slot = t.insert(0, &fnat(i)).unwrap();
        t.update_tcp_state(slot, 0, Direction::Inbound, ACK)
            .unwrap();
        t.update_tcp_state(slot, 0, Direction::Reply, ACK).unwrap();
    }
    assert_eq!(t.evict_for_room(1000), None);
    assert_eq!(t.len(), 32);
    assert_eq!(table(0).evict_for_room(8), None);
}

#[test]
fn udp_is_embryonic_until_its_first_reply_and_dr_udp_never() {
    let mut t = table(8);
    let answered = t.insert(0, &udp_nat(1)).unwrap();
    let silent = t.insert(0, &udp_nat(2)).unwrap();
    let mut dr = udp_nat(3);
    dr.method = FwdMethod::Dr;
    let dr = t.insert(0, &dr).unwrap();
    assert!(t.touch_from(answered, 1, Direction::Reply));
    assert!(t.touch_from(silent, 1, Direction::Inbound));
    assert!(!t.get(answered).unwrap().is_embryonic());
    assert!(t.get(silent).unwrap().is_embryonic());
    assert!(!t.get(dr).unwrap().is_embryonic());
    let old = t.evict_for_room(8).unwrap();
    assert_eq!(old.cport(), 2);
    assert_eq!(t.evict_for_room(8), None);
    assert_eq!(t.len(), 2);
}

#[test]
fn ended_connections_make_room_half_closed_ones_do_not() {
    let mut t = table(4);
    let ended = t.insert(0, &fnat(1)).unwrap();
    let half_closed = t.insert(0, &fnat(2)).unwrap();
    let live = t.insert(0, &fnat(3)).unwrap();
    let closed = t.insert(0, &fnat(4)).unwrap();
    for s in [ended, half_closed, live, closed] {
        t.update_tcp_state(s, 0, Direction::Reply, SYNACK).unwrap();
        t.update_tcp_state(s, 0, Direction::Inbound, ACK).unwrap();
    }
    t.update_tcp_state(ended, 0, Direction::Inbound, RST)
        .unwrap();
    t.update_tcp_state(half_closed, 0, Direction::Inbound, FIN)
        .unwrap();
    // The backend closes first, the client answers: TIME_WAIT.
    for (dir, flags) in [
        (Direction::Reply, FIN),
        (Direction::Inbound, ACK),
        (Direction::Inbound, FIN),
        (Direction::Reply, ACK),
    ] {
        t.update_tcp_state(closed, 0, dir, flags).unwrap();
    }
    assert_eq!(t.get(ended).unwrap().state(), TcpState::Close);
    assert!(t.get(ended).unwrap().is_evictable());
    assert_eq!(t.get(closed).unwrap().state(), TcpState::TimeWait);
    assert!(t.get(closed).unwrap().is_evictable());
    assert!(
        !t.get(half_closed).unwrap().is_evictable(),
        "{:?}",
        t.get(half_closed)
    );
    assert!(!t.get(live).unwrap().is_evictable());
    let mut gone = [t.evict_for_room(10), t.evict_for_room(10)].map(|s| s.map(|s| s.cport()));
    gone.sort_unstable();
    assert_eq!(gone, [Some(1), Some(4)]);
    assert_eq!(t.evict_for_room(10), None);
}
