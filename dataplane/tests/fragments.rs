//! Fragmented TCP/UDP datagrams through every mode (issue 17 item 4): the first fragment finds
//! or makes the session, later fragments follow it through the worker's fragment table, and the
//! fragments that come out reassemble (here, in the test) into the datagram the mode's rewrite
//! makes of the whole one: addresses, ports, and an L4 checksum that verifies over all of it.
//! Later fragments with no first fragment, expired or evicted entries, and malformed fragments
//! are dropped and counted, never a panic.
//!
//! Fragmenting and reassembling are written here, independently of the code under test; the
//! checksum is summed in full by [`l4_checksum_ok`].

use std::net::IpAddr;

use dataplane::frame::{Frame, VecFrame};
use dataplane::fuzzing::frame_checksums_ok;
use dataplane::snapshot::Snapshot;
use dataplane::wire::{fragmenter, DropReason};
use dataplane::worker::{Punt, Verdict, Worker, WorkerConfig, FRAGMENT_TTL};
use testkit::golden::{
    redirect_owner_worker_config, redirect_worker_config, snapshot, CLIENT_MAC, GW0_MAC, GW1_MAC,
    RS_DR_MAC, RS_FNAT_MAC, RS_NAT_MAC, RS_TUN_MAC,
};
use testkit::packet::{self, fragment};

const NOW: u32 = 1;
const ID: u32 = 0x1234;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `198.18.<net>.<host>` or `2001:db8:<net>::<host>`, the golden topology's addresses.
fn a(v6: bool, net: u8, host: u8) -> IpAddr {
    if v6 {
        ip(&format!("2001:db8:{net}::{host}"))
    } else {
        ip(&format!("198.18.{net}.{host}"))
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// One's-complement sum of `b` onto `acc` (folded).
fn sum(b: &[u8], acc: u32) -> u16 {
    let mut s = u64::from(acc);
    for c in b.chunks(2) {
        s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The datagram fragments reassemble into.
#[derive(Debug)]
struct Datagram {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    /// The L4 header and payload.
    l4: Vec<u8>,
}

/// Reassemble the IP fragments of `frames` (after `skip` bytes of outer header: TUN's 20);
/// every fragment must carry the same addresses, a valid IPv4 header checksum, and together
/// cover the datagram exactly once.
fn reassemble(frames: &[Vec<u8>], skip: usize) -> Datagram {
    let mut l4 = Vec::new();
    let mut covered = 0;
    let mut ends = None;
    let mut first: Option<(IpAddr, IpAddr, u8)> = None;
    for f in frames {
        let p = &f[14 + skip..];
        let (src, dst, proto, off, more, data) = if p[0] >> 4 == 6 {
            let s: [u8; 16] = p[8..24].try_into().unwrap();
            let d: [u8; 16] = p[24..40].try_into().unwrap();
            assert_eq!(p[6], 44, "fragment header kept");
            let pl = usize::from(u16::from_be_bytes([p[4], p[5]]));
            let flo = u16::from_be_bytes([p[42], p[43]]);
            assert_eq!(u32::from_be_bytes(p[44..48].try_into().unwrap()), ID);
            let (off, more) = (usize::from(flo & 0xfff8), flo & 1 != 0);
            (
                IpAddr::from(s),
                IpAddr::from(d),
                p[40],
                off,
                more,
                &p[48..40 + pl],
            )
        } else {
            let hl = usize::from(p[0] & 0xf) * 4;
            assert_eq!(sum(&p[..hl], 0), 0xffff, "IPv4 header checksum");
            let tl = usize::from(u16::from_be_bytes([p[2], p[3]]));
            let fo = u16::from_be_bytes([p[6], p[7]]);
            let s: [u8; 4] = p[12..16].try_into().unwrap();
            let d: [u8; 4] = p[16..20].try_into().unwrap();
            let (off, more) = (usize::from(fo & 0x1fff) * 8, fo & 0x2000 != 0);
            (
                IpAddr::from(s),
                IpAddr::from(d),
                p[9],
                off,
                more,
                &p[hl..tl],
            )
        };
        match first {
            None => first = Some((src, dst, proto)),
            Some(x) => assert_eq!(x, (src, dst, proto), "every fragment rewritten alike"),
        }
        if l4.len() < off + data.len() {
            l4.resize(off + data.len(), 0);
        }
        l4[off..off + data.len()].copy_from_slice(data);
        covered += data.len();
        if !more {
            ends = Some(off + data.len());
        }
    }
    assert_eq!(ends, Some(l4.len()), "last fragment ends the datagram");
    assert_eq!(covered, l4.len(), "fragments cover the datagram once");
    let (src, dst, proto) = first.unwrap();
    Datagram {
        src,
        dst,
        proto,
        l4,
    }
}

/// The L4 checksum of `d` verifies over its pseudo-header and the whole datagram.
fn l4_checksum_ok(d: &Datagram) -> bool {
    let mut ph = Vec::new();
    match (d.src, d.dst) {
        (IpAddr::V4(s), IpAddr::V4(t)) => {
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&t.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(t)) => {
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&t.octets());
        }
        _ => return false,
    }
    ph.extend_from_slice(&[0, d.proto]);
    ph.extend_from_slice(&u16::try_from(d.l4.len()).unwrap().to_be_bytes());
    let acc = u32::from(sum(&ph, 0));
    sum(&d.l4, acc) == 0xffff
}

fn ports(d: &Datagram) -> (u16, u16) {
    (
        u16::from_be_bytes([d.l4[0], d.l4[1]]),
        u16::from_be_bytes([d.l4[2], d.l4[3]]),
    )
}

/// Run `frames` through `w` on `in_port` at `now`; return the verdicts and the frames as sent.
fn run(
    w: &mut Worker,
    snap: &Snapshot,
    now: u32,
    in_port: u8,
    frames: &[Vec<u8>],
) -> (Vec<Verdict>, Vec<Vec<u8>>) {
    let mut vs = Vec::new();
    let mut out = Vec::new();
    for f in frames {
        let mut fr = VecFrame::with_room(f, 128, 256);
        let v = w.process_one(snap, now, in_port, &mut fr);
        if let Verdict::Tx(_) = v {
            // IPv6 fragments: the oracle reads no further than the IP header (`None`).
            assert_ne!(frame_checksums_ok(fr.data()), Some(false), "{v:?}");
            out.push(fr.data().to_vec());
        }
        vs.push(v);
    }
    (vs, out)
}

fn drops(w: &Worker, r: DropReason) -> u64 {
    w.counters().drops[r.index()].get()
}

/// A client's UDP datagram of `len` payload bytes to `vip`:53, in fragments of 1000 bytes (the
/// first is offset 0 with the UDP header, the last is shorter).
fn client_datagram(v6: bool, vip: IpAddr, len: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let body = payload(len);
    let f = packet::udp((CLIENT_MAC, GW0_MAC), a(v6, 0, 50), vip, 40000, 53, &body);
    (body, fragment(&f, 1000, ID))
}

struct Mode {
    name: &'static str,
    vip: u8,
    /// Backend host (198.18.1.x), its port and MAC.
    rs: (u8, u16, [u8; 6]),
    /// TUN's outer header.
    tun: bool,
    /// FullNAT's local address (198.18.1.x).
    laddr: Option<u8>,
}

const MODES: [Mode; 4] = [
    Mode {
        name: "dr",
        vip: 101,
        rs: (21, 53, RS_DR_MAC),
        tun: false,
        laddr: None,
    },
    Mode {
        name: "tun",
        vip: 102,
        rs: (22, 53, RS_TUN_MAC),
        tun: true,
        laddr: None,
    },
    Mode {
        name: "nat",
        vip: 103,
        rs: (23, 5353, RS_NAT_MAC),
        tun: false,
        laddr: None,
    },
    Mode {
        name: "fullnat",
        vip: 104,
        rs: (24, 5353, RS_FNAT_MAC),
        tun: false,
        laddr: Some(200),
    },
];

#[test]
fn fragmented_udp_datagrams_go_through_every_mode_both_ways() {
    let snap = snapshot();
    for v6 in [false, true] {
        for m in &MODES {
            let what = format!("{} v6={v6}", m.name);
            let mut w = Worker::new(WorkerConfig::default());
            let vip = a(v6, 0, m.vip);
            let (body, frags) = client_datagram(v6, vip, 4000);
            assert_eq!(frags.len(), 5);
            let (vs, out) = run(&mut w, &snap, NOW, 0, &frags);
            if m.tun && v6 {
                // TUN is IPv4 only: the first fragment is refused as a whole packet would be,
                // so the later ones have no entry.
                assert_eq!(vs[0], Verdict::Drop(DropReason::UnsupportedMode), "{what}");
                assert!(vs[1..]
                    .iter()
                    .all(|v| *v == Verdict::Drop(DropReason::FragmentNoSession)));
                continue;
            }
            assert!(vs.iter().all(|v| *v == Verdict::Tx(1)), "{what}: {vs:?}");
            assert!(out.iter().all(|f| f[..6] == m.rs.2 && f[6..12] == GW1_MAC));
            let skip = if m.tun { 20 } else { 0 };
            if m.tun {
                for f in &out {
                    assert_eq!(f[14 + 9], 4, "IPIP");
                    assert_eq!(&f[14 + 16..14 + 20], &[198, 18, 1, 22]);
                }
            }
            let d = reassemble(&out, skip);
            let rewrites = m.laddr.is_some() || m.rs.1 == 5353;
            let want_dst = if rewrites { a(v6, 1, m.rs.0) } else { vip };
            assert_eq!(d.dst, want_dst, "{what}");
            let want_src = m.laddr.map_or(a(v6, 0, 50), |l| a(v6, 1, l));
            assert_eq!(d.src, want_src, "{what}");
            let (sport, dport) = ports(&d);
            assert_eq!(dport, m.rs.1, "{what}");
            assert_eq!(&d.l4[8..], &body[..], "{what}: payload intact");
            assert!(l4_checksum_ok(&d), "{what}: UDP checksum over the datagram");
            assert_eq!(w.counters().fragments_tracked.get(), 1);
            if !rewrites {
                continue;
            }
            // The backend's reply, fragmented too, goes back to the client as from the VIP.
            let rs = a(v6, 1, m.rs.0);
            let to = (d.src, sport);
            let reply_body = payload(3000);
            let r = packet::udp((m.rs.2, GW1_MAC), rs, to.0, m.rs.1, to.1, &reply_body);
            let (vs, out) = run(&mut w, &snap, NOW, 1, &fragment(&r, 1200, ID));
            assert!(
                vs.iter().all(|v| *v == Verdict::Tx(0)),
                "{what} reply: {vs:?}"
            );
            assert!(out
                .iter()
                .all(|f| f[..6] == CLIENT_MAC && f[6..12] == GW0_MAC));
            let d = reassemble(&out, 0);
            assert_eq!((d.src, d.dst), (vip, a(v6, 0, 50)), "{what} reply");
            assert_eq!(ports(&d), (53, 40000), "{what} reply");
            assert_eq!(&d.l4[8..], &reply_body[..]);
            assert!(l4_checksum_ok(&d), "{what} reply: UDP checksum");
            assert_eq!(w.counters().fragments_tracked.get(), 2);
        }
    }
}

#[test]
fn a_later_fragment_before_its_first_is_dropped_and_counted() {
    let snap = snapshot();
    for v6 in [false, true] {
        let mut w = Worker::new(WorkerConfig::default());
        let (_, frags) = client_datagram(v6, a(v6, 0, 103), 4000);
        let (vs, _) = run(&mut w, &snap, NOW, 0, &frags[1..2]);
        assert_eq!(vs, [Verdict::Drop(DropReason::FragmentNoSession)]);
        // The rest, first fragment first, goes through; the early one stays lost (no
        // reassembly).
        let rest: Vec<_> = [&frags[..1], &frags[2..]].concat();
        let (vs, _) = run(&mut w, &snap, NOW, 0, &rest);
        assert!(vs.iter().all(|v| *v == Verdict::Tx(1)), "{vs:?}");
        assert_eq!(drops(&w, DropReason::FragmentNoSession), 1);
    }
}

#[test]
fn entries_expire_after_the_fragment_ttl() {
    let snap = snapshot();
    let mut w = Worker::new(WorkerConfig::default());
    let (_, frags) = client_datagram(false, a(false, 0, 104), 4000);
    run(&mut w, &snap, NOW, 0, &frags[..1]);
    let (vs, _) = run(&mut w, &snap, NOW + FRAGMENT_TTL, 0, &frags[1..2]);
    assert_eq!(vs, [Verdict::Tx(1)]);
    let (vs, _) = run(&mut w, &snap, NOW + FRAGMENT_TTL + 1, 0, &frags[2..3]);
    assert_eq!(vs, [Verdict::Drop(DropReason::FragmentExpired)]);
    assert_eq!(drops(&w, DropReason::FragmentExpired), 1);
}

#[test]
fn a_full_table_overwrites_entries_and_counts_every_one() {
    let snap = snapshot();
    let cfg = WorkerConfig {
        fragments: 16,
        ..WorkerConfig::default()
    };
    let mut w = Worker::new(cfg);
    let n = 200u32;
    let body = payload(2000);
    let client = a(false, 0, 50);
    let datagrams: Vec<_> = (0..n)
        .map(|i| {
            let sport = 20000 + u16::try_from(i).unwrap();
            let f = packet::udp(
                (CLIENT_MAC, GW0_MAC),
                client,
                a(false, 0, 103),
                sport,
                53,
                &body,
            );
            fragment(&f, 1024, i)
        })
        .collect();
    for d in &datagrams {
        let (vs, _) = run(&mut w, &snap, NOW, 0, &d[..1]);
        assert_eq!(vs, [Verdict::Tx(1)]);
    }
    let evicted = w.counters().fragments_evicted.get();
    assert!(evicted >= u64::from(n) - 16, "evicted {evicted}");
    let mut sent = 0;
    for d in &datagrams {
        let (vs, _) = run(&mut w, &snap, NOW, 0, &d[1..]);
        sent += vs.iter().filter(|v| **v == Verdict::Tx(1)).count() as u64;
    }
    // Every datagram whose entry survived is completed; every overwritten one is counted.
    assert_eq!(drops(&w, DropReason::FragmentNoSession), evicted);
    assert_eq!(sent + evicted, u64::from(n));
}

#[test]
fn bad_fragments_are_dropped_with_a_reason_and_never_panic() {
    let snap = snapshot();
    let mut w = Worker::new(WorkerConfig::default());
    let vip = a(false, 0, 103);
    let body = payload(3000);
    let f = packet::udp(
        (CLIENT_MAC, GW0_MAC),
        a(false, 0, 50),
        vip,
        40000,
        53,
        &body,
    );
    // A first fragment too short for the UDP header (4 bytes: the tiny-fragment attack; a
    // non-last fragment that is not a multiple of 8 bytes).
    let tiny = fragment(&f, 8, ID)[0].clone();
    let mut tiny4 = tiny.clone();
    tiny4.truncate(tiny4.len() - 4);
    tiny4[17] -= 4;
    let c = {
        tiny4[24..26].copy_from_slice(&[0, 0]);
        !sum(&tiny4[14..34], 0)
    };
    tiny4[24..26].copy_from_slice(&c.to_be_bytes());
    let (vs, _) = run(&mut w, &snap, NOW, 0, &[tiny4.clone()]);
    assert_eq!(vs, [Verdict::Drop(DropReason::FragmentBad)]);
    // 8 bytes, the UDP header alone, is a first fragment like any other.
    let (vs, _) = run(&mut w, &snap, NOW, 0, &[tiny]);
    assert_eq!(
        vs,
        [Verdict::Tx(1)],
        "an 8-byte first fragment holds the UDP header"
    );
    // A non-last fragment whose payload is not a multiple of 8.
    let mut frags = fragment(&f, 1000, ID);
    let mut odd = frags[0].clone();
    odd.truncate(odd.len() - 3);
    let tl = u16::from_be_bytes([odd[16], odd[17]]) - 3;
    odd[16..18].copy_from_slice(&tl.to_be_bytes());
    odd[24..26].copy_from_slice(&[0, 0]);
    let c = !sum(&odd[14..34], 0);
    odd[24..26].copy_from_slice(&c.to_be_bytes());
    let (vs, _) = run(&mut w, &snap, NOW, 0, &[odd]);
    assert_eq!(vs, [Verdict::Drop(DropReason::FragmentBad)]);
    // A fragment whose end passes 65535 bytes.
    let last = frags.last_mut().unwrap();
    last[20..22].copy_from_slice(&0x1fffu16.to_be_bytes());
    last[24..26].copy_from_slice(&[0, 0]);
    let c = !sum(&last[14..34], 0);
    last[24..26].copy_from_slice(&c.to_be_bytes());
    let (vs, _) = run(&mut w, &snap, NOW, 0, &frags[frags.len() - 1..]);
    assert_eq!(vs, [Verdict::Drop(DropReason::FragmentBad)]);
    // Every byte of the fragment headers (and the first bytes after them) flipped, one at a
    // time, in both families: no panic, and every frame sent has valid checksums (`run`).
    for v6 in [false, true] {
        let (_, frags) = client_datagram(v6, a(v6, 0, 104), 3000);
        for base in &frags {
            let end = 14 + if v6 { 56 } else { 28 };
            for i in 14..end.min(base.len()) {
                for bit in 0..8 {
                    let mut g = base.clone();
                    g[i] ^= 1 << bit;
                    run(&mut w, &snap, NOW, 0, &[g]);
                }
            }
        }
    }
}

/// Two workers: the NAT session of the golden client is worker 1's. Worker 0 redirects the
/// first fragment and, through its redirect entry, the later ones after it (NICs hash fragments
/// by addresses only, so all of a datagram's arrive on one worker); worker 1 forwards them all.
/// A later fragment on a worker that saw no first fragment is dropped and counted.
#[test]
fn fragments_follow_their_first_to_the_owning_worker() {
    let snap = snapshot();
    for v6 in [false, true] {
        let mut w0 = Worker::new(redirect_worker_config());
        let mut w1 = Worker::new(redirect_owner_worker_config());
        let (body, frags) = client_datagram(v6, a(v6, 0, 103), 4000);
        let (vs, _) = run(&mut w0, &snap, NOW, 0, &frags);
        assert!(vs.iter().all(|v| *v == Verdict::Redirect(1)), "{vs:?}");
        let (vs, out) = run(&mut w1, &snap, NOW, 0, &frags);
        assert!(vs.iter().all(|v| *v == Verdict::Tx(1)), "{vs:?}");
        let d = reassemble(&out, 0);
        assert_eq!(d.dst, a(v6, 1, 23));
        assert_eq!(&d.l4[8..], &body[..]);
        assert!(l4_checksum_ok(&d));
        let mut w0 = Worker::new(redirect_worker_config());
        let (vs, _) = run(&mut w0, &snap, NOW, 0, &frags[1..]);
        assert!(vs
            .iter()
            .all(|v| *v == Verdict::Drop(DropReason::FragmentNoSession)));
    }
}

/// A fragmented TCP segment (a SYN with 3000 bytes of data) through NAT and through FullNAT
/// with TOA on the SYN: forwarded whole with the mode's ports and a checksum that verifies, and
/// no TOA inserted into the fragment (it would shift every later fragment's offset).
#[test]
fn fragmented_tcp_goes_through_and_gets_no_toa() {
    let snap = snapshot();
    for v6 in [false, true] {
        for (vip, rs, bport) in [(103, 23, 8080), (105, 25, 8080)] {
            let mut w = Worker::new(WorkerConfig::default());
            let body = payload(3000);
            let f = packet::tcp(
                (CLIENT_MAC, GW0_MAC),
                a(v6, 0, 50),
                a(v6, 0, vip),
                40000,
                80,
                packet::SYN,
                &body,
            );
            let frags = fragment(&f, 1000, ID);
            let (vs, out) = run(&mut w, &snap, NOW, 0, &frags);
            assert!(vs.iter().all(|v| *v == Verdict::Tx(1)), "{vip}: {vs:?}");
            let d = reassemble(&out, 0);
            assert_eq!(d.dst, a(v6, 1, rs));
            assert_eq!(ports(&d).1, bport);
            assert_eq!(d.l4.len(), 20 + body.len(), "no option inserted");
            assert_eq!(&d.l4[20..], &body[..]);
            assert!(l4_checksum_ok(&d), "{vip} v6={v6}: TCP checksum");
            assert_eq!(w.counters().toa_inserted.get(), 0);
        }
    }
}

/// TUN with Don't Fragment clear (RFC 2003 §5.1): full-size fragments (1480 bytes of payload)
/// that the outer header pushes past the 1500-byte MTU are sent in fragments of the tunnel
/// packet (the loop splits them, here the same fragmenter); the backend's kernel reassembles
/// those, decapsulates, and reassembles the client's datagram. With DF set it is ICMP
/// "fragmentation needed" instead (`frag_needed_tells_the_client_the_mtu` in golden).
#[test]
fn tun_fragments_the_tunnel_packet_when_df_is_clear() {
    let snap = snapshot();
    let mut w = Worker::new(WorkerConfig::default());
    let body = payload(4000);
    let f = packet::udp(
        (CLIENT_MAC, GW0_MAC),
        a(false, 0, 50),
        a(false, 0, 102),
        40000,
        53,
        &body,
    );
    let mut tunnelled = Vec::new();
    for frag in fragment(&f, 1480, ID) {
        let mut fr = VecFrame::with_room(&frag, 128, 256);
        let v = w.process_one(&snap, NOW, 0, &mut fr);
        let Verdict::TxFragment { port, mtu } = v else {
            assert_eq!(
                frag.len(),
                14 + 20 + 1048,
                "only the short last one fits: {v:?}"
            );
            assert!(matches!(v, Verdict::Tx(_)));
            tunnelled.push(fr.data().to_vec());
            continue;
        };
        assert_eq!((port, mtu), (1, 1500));
        // The outer fragments: each fits, DF clear, one identification, and together the
        // tunnel packet.
        let mut outer = Vec::new();
        fragmenter::fragment(fr.data(), mtu, 77, |h, p| {
            outer.push([h, p].concat());
            true
        })
        .unwrap();
        assert_eq!(outer.len(), 2);
        let mut inner = Vec::new();
        for o in &outer {
            assert!(o.len() <= 14 + 1500);
            assert_eq!(o[14 + 9], 4, "IP-in-IP");
            assert_eq!(&o[..6], &RS_TUN_MAC);
            inner.extend_from_slice(&o[34..]);
        }
        let mut whole = outer[0][..34].to_vec();
        whole.extend_from_slice(&inner);
        tunnelled.push(whole);
    }
    assert_eq!(tunnelled.len(), 3);
    let d = reassemble(&tunnelled, 20);
    assert!(l4_checksum_ok(&d));
    assert_eq!(&d.l4[8..], &body[..]);
    assert_eq!(drops(&w, DropReason::MtuExceeded), 0);
}

/// A large ping of a VIP arrives in fragments: the worker does not reassemble, it hands them
/// to control (which does). ICMP fragments to anything else are dropped as before.
#[test]
fn icmp_fragments_to_a_vip_go_to_control() {
    let snap = snapshot();
    let mut w = Worker::new(WorkerConfig::default());
    for v6 in [false, true] {
        for (dst, want) in [
            (a(v6, 0, 103), None),
            (
                a(v6, 0, 222),
                Some(if v6 {
                    DropReason::Ipv6Fragment
                } else {
                    DropReason::Ipv4Fragment
                }),
            ),
        ] {
            let (ty, rest) = (if v6 { 128 } else { 8 }, [0, 1, 0, 1]);
            let ping = packet::icmp(
                (CLIENT_MAC, GW0_MAC),
                a(v6, 0, 50),
                dst,
                ty,
                0,
                rest,
                &payload(3000),
            );
            for frag in fragment(&ping, 1448, ID) {
                let mut fr = VecFrame::with_room(&frag, 128, 256);
                let v = w.process_one(&snap, NOW, 0, &mut fr);
                match want {
                    None => assert_eq!(v, Verdict::Punt(Punt::Local), "{dst}"),
                    Some(r) => assert_eq!(v, Verdict::Drop(r), "{dst}"),
                }
            }
        }
    }
}

/// A PROXY protocol session's fragmented first data segment cannot take the header (the
/// fragment would grow and shift every later fragment's offset): dropped as `fragment_bad`,
/// and its later fragments find no entry.
#[test]
fn a_proxy_sessions_fragment_is_dropped() {
    use dataplane::session::FwdMethod;
    use dataplane::snapshot::{BackendSpec, ProxyProtocol, ServiceSpec};
    use dataplane::types::L4Proto;
    let mut b = testkit::topology::two_port_lan(1);
    b.neighbour(ip("198.18.1.11"), [2, 0, 0, 0, 0, 0xa1]);
    let mut s = ServiceSpec::new(ip("198.18.0.100"), 80, L4Proto::Tcp);
    s.proxy_protocol = ProxyProtocol::V2;
    s.backends = vec![BackendSpec::new(ip("198.18.1.11"), 8080, FwdMethod::Nat)];
    b.service(s);
    let snap = b.build();
    let mut w = Worker::new(WorkerConfig::default());
    let (client, vip) = (ip("198.18.0.50"), ip("198.18.0.100"));
    let macs = (CLIENT_MAC, testkit::topology::GW0);
    let syn = packet::tcp(macs, client, vip, 40000, 80, packet::SYN, &[]);
    let (vs, _) = run(&mut w, &snap, NOW, 0, &[syn]);
    assert_eq!(vs, [Verdict::Tx(1)]);
    let data = packet::tcp(
        macs,
        client,
        vip,
        40000,
        80,
        packet::PSH | packet::ACK,
        &payload(3000),
    );
    let (vs, _) = run(&mut w, &snap, NOW, 0, &fragment(&data, 1000, ID));
    assert_eq!(vs[0], Verdict::Drop(DropReason::FragmentBad));
    assert!(vs[1..]
        .iter()
        .all(|v| *v == Verdict::Drop(DropReason::FragmentNoSession)));
}
