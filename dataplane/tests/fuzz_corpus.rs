//! Replays the committed fuzz seed corpus (`fuzz/corpus/pipeline/`) through the fuzz harness, so
//! stable CI exercises what the fuzzer does; an ignored test replays the crash reproducers a
//! local fuzzing run left (`fuzz/artifacts/pipeline/`).
//!
//! The seeds are written by the ignored test `write_seed_corpus` (which keeps the `repro-*`
//! files: reproducers of crashes a fuzzing run found, fixed since):
//! `cargo test -p dataplane --test fuzz_corpus -- --ignored write_seed_corpus`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use dataplane::frame::{Frame, VecFrame};
use dataplane::fuzzing::{encode, fuzz_one, run_records, snapshot, with_start, worker, Start};
use dataplane::snapshot::Snapshot;
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker};
use etherparse::TcpOptionElement;
use testkit::corpus::files_under;
use testkit::packet::*;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn replay_seed_corpus() {
    let files = files_under(&fuzz_dir().join("corpus/pipeline"));
    assert!(files.len() >= 30, "seed corpus has {} files", files.len());
    let (mut sent, mut checked) = (0, 0);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        let judged = r.unwrap_or_else(|_| panic!("{} panicked", f.display()));
        sent += judged.sent;
        checked += judged.checksums;
    }
    // The seeds are built with correct checksums, so the checksum oracle judges most of what
    // the pipeline sends (the rest: ARP replies and frames built broken on purpose).
    assert!(
        sent >= 40,
        "the seeds made the pipeline send only {sent} frames"
    );
    assert!(
        checked * 2 >= sent,
        "checksums checked on {checked} of {sent} frames sent"
    );
}

/// Crash reproducers a local `cargo fuzz run` left in `fuzz/artifacts/` (never committed, so a
/// clone has none): after fuzzing, `cargo test -p dataplane --test fuzz_corpus -- --ignored
/// replay_fuzz_artifacts`. Fixed ones belong in the seed corpus, which every run replays.
#[test]
#[ignore = "needs fuzz/artifacts/ from a local cargo fuzz run"]
fn replay_fuzz_artifacts() {
    let files = files_under(&fuzz_dir().join("artifacts"));
    assert!(
        !files.is_empty(),
        "no reproducers under {}: run cargo fuzz first",
        fuzz_dir().join("artifacts").display()
    );
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        assert!(r.is_ok(), "{} panicked", f.display());
    }
}

#[test]
fn harness_survives_edge_inputs() {
    fuzz_one(&[]);
    fuzz_one(&[0]);
    fuzz_one(&[0, 0]);
    fuzz_one(&[0xff, 0xff, 0xff]);
    fuzz_one(&[0; 200]);
    fuzz_one(&[0xff; 200]);
}

/// What one input did: each record's verdict and frame afterwards, and the counters at the end.
type Trace = (Vec<(Verdict, Vec<u8>)>, String);

fn trace(data: &[u8], start: Start) -> Trace {
    let Some((&config, records)) = data.split_first() else {
        return Trace::default();
    };
    with_start(config, start, |snap, w| {
        let mut seen = Vec::new();
        run_records(snap, w, records, |v, f| seen.push((v, f.to_vec())));
        (seen, format!("{:?}", w.counters()))
    })
}

fn seeds() -> Vec<(PathBuf, Vec<u8>)> {
    files_under(&fuzz_dir().join("corpus/pipeline"))
        .into_iter()
        .map(|f| {
            let d = std::fs::read(&f).unwrap();
            (f, d)
        })
        .collect()
}

/// `fuzz_one` starts every input from a copy of one synced worker, not a worker built for it:
/// each seed must do exactly what it does from a fresh worker (verdicts, frames, counters).
/// The fragment table hashes with a random key per table, so two datagrams' fragments in
/// flight at once could share a slot in one worker and not the other; no seed has two.
#[test]
fn copied_worker_runs_every_seed_as_a_fresh_one() {
    for (f, d) in seeds() {
        let fresh = trace(&d, Start::Fresh);
        assert_eq!(trace(&d, Start::Copy), fresh, "{}", f.display());
    }
}

/// A copy carries nothing from the inputs run before it in the same process, so a reproducer
/// replayed alone does what it did in the campaign: every seed traced again, in reverse order,
/// after all of them ran, gives the same trace.
#[test]
fn copies_carry_nothing_between_inputs() {
    let seeds = seeds();
    let first: Vec<Trace> = seeds.iter().map(|(_, d)| trace(d, Start::Copy)).collect();
    for (_, d) in &seeds {
        fuzz_one(d);
    }
    for ((f, d), t) in seeds.iter().zip(&first).rev() {
        assert_eq!(&trace(d, Start::Copy), t, "{}", f.display());
    }
}

/// Drives a worker exactly as `fuzz_one` will, recording the inputs, so seeds can quote what
/// the gateway really sent (FullNAT local ports, rewritten headers).
struct Sim {
    config: u8,
    snap: Snapshot,
    w: Worker,
    now: u32,
    records: Vec<(u8, Vec<u8>)>,
    verdicts: Vec<Verdict>,
}

impl Sim {
    fn new(config: u8) -> Self {
        Sim {
            config,
            snap: snapshot(),
            w: worker(config),
            now: 1,
            records: Vec::new(),
            verdicts: Vec::new(),
        }
    }

    /// Send `frame` with control byte `ctl`; return the verdict and the frame afterwards.
    fn send(&mut self, ctl: u8, frame: &[u8]) -> (Verdict, Vec<u8>) {
        if ctl & 0x40 != 0 {
            self.now = self.now.wrapping_add(1000);
        }
        self.now = self.now.wrapping_add(u32::from(ctl >> 2 & 7));
        let mut f = [VecFrame::new(frame)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        self.w
            .process(&self.snap, self.now, ctl & 3, &mut f, &mut v);
        if ctl & 0x20 != 0 {
            self.w.tick(self.now);
        }
        self.records.push((ctl, frame.to_vec()));
        self.verdicts.push(v[0]);
        (v[0], f[0].data().to_vec())
    }

    fn write(self, dir: &Path, name: &str) {
        eprintln!("{name}: {:?}", self.verdicts);
        let recs: Vec<(u8, &[u8])> = self
            .records
            .iter()
            .map(|(c, f)| (*c, f.as_slice()))
            .collect();
        std::fs::write(dir.join(format!("{name}.bin")), encode(self.config, &recs)).unwrap();
    }
}

/// Client-side port 0, clock +1 s.
const C0: u8 = 0x04;
/// Backend-side port 1, clock +1 s.
const C1: u8 = 0x05;

const CLIENT4: &str = "203.0.113.50";
const CLIENT6: &str = "2001:db8:ff::50";

/// A flow seed: client SYN (and optionally the rest of a handshake and replies) to `vip:vport`.
/// Returns the simulator after the SYN and the frame the gateway sent.
fn syn_flow(
    config: u8,
    client: &str,
    vip: &str,
    vport: u16,
    tcp_proto: bool,
) -> (Sim, Verdict, Vec<u8>) {
    let mut sim = Sim::new(config);
    let (c, v) = (ip(client), ip(vip));
    let f = if tcp_proto {
        tcp(FROM_CLIENT, c, v, 40000, vport, SYN, &[])
    } else {
        udp(FROM_CLIENT, c, v, 40000, vport, b"query")
    };
    let (verdict, out) = sim.send(C0, &f);
    (sim, verdict, out)
}

#[test]
#[ignore = "writes the seed corpus; run by hand after changing the harness or the snapshot"]
fn write_seed_corpus() {
    let dir = fuzz_dir().join("corpus/pipeline");
    std::fs::create_dir_all(&dir).unwrap();
    // Reproducers a fuzzing run found (`repro-*`) are kept: they are not written here.
    for f in files_under(&dir) {
        let repro = f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("repro-"));
        if !repro {
            std::fs::remove_file(f).unwrap();
        }
    }
    let c4 = ip(CLIENT4);
    let c6 = ip(CLIENT6);

    // ---- Each mode, each family, each protocol: a whole flow where replies come back. ----
    for (name, client, vip, vport, tcp_proto) in [
        ("dr4-tcp", CLIENT4, "198.18.0.100", 80, true),
        ("dr4-udp", CLIENT4, "198.18.0.100", 53, false),
        ("nat4-tcp", CLIENT4, "198.18.0.101", 80, true),
        ("nat4-udp", CLIENT4, "198.18.0.101", 53, false),
        ("tun4-tcp", CLIENT4, "198.18.0.102", 80, true),
        ("fnat4-tcp", CLIENT4, "198.18.0.103", 80, true),
        ("fnat4-udp", CLIENT4, "198.18.0.103", 53, false),
        ("persist4-tcp", CLIENT4, "198.18.0.104", 443, true),
        ("unresolved4-tcp", CLIENT4, "198.18.0.106", 80, true),
        ("sorry4-tcp", CLIENT4, "198.18.0.107", 80, true),
        ("nobackend4-tcp", CLIENT4, "198.18.0.108", 80, true),
        ("mh-toa-syn4-tcp", CLIENT4, "198.18.0.109", 80, true),
        ("dr6-tcp", CLIENT6, "2001:db8::100", 80, true),
        ("nat6-tcp", CLIENT6, "2001:db8::101", 80, true),
        ("nat6-udp", CLIENT6, "2001:db8::101", 53, false),
        ("tun6-tcp", CLIENT6, "2001:db8::102", 80, true),
        ("fnat6-tcp", CLIENT6, "2001:db8::103", 80, true),
        ("fnat6-udp", CLIENT6, "2001:db8::103", 53, false),
    ] {
        let (mut sim, v, out) = syn_flow(0, client, vip, vport, tcp_proto);
        let (c, vi) = (ip(client), ip(vip));
        if let Verdict::Tx(1) = v {
            let backend_nat = name.starts_with("nat") || name.starts_with("fnat");
            if backend_nat {
                let r = reply_to(&out, SYN | ACK, tcp_proto);
                sim.send(C1, &r);
            }
            if tcp_proto {
                let (_, out2) = sim.send(C0, &tcp(FROM_CLIENT, c, vi, 40000, vport, ACK, &[]));
                sim.send(
                    C0,
                    &tcp(
                        FROM_CLIENT,
                        c,
                        vi,
                        40000,
                        vport,
                        PSH | ACK,
                        b"GET / HTTP/1.0\r\n\r\n",
                    ),
                );
                if backend_nat {
                    sim.send(C1, &reply_to(&out2, ACK | PSH, true));
                    sim.send(C1, &reply_to(&out2, FIN | ACK, true));
                }
                sim.send(C0, &tcp(FROM_CLIENT, c, vi, 40000, vport, FIN | ACK, &[]));
            } else {
                sim.send(C0, &udp(FROM_CLIENT, c, vi, 40000, vport, b"again"));
            }
            // Let it all expire.
            sim.send(0x40 | 0x20, &[]);
        }
        sim.write(&dir, name);
    }

    // ---- ICMP errors about sessions, both ways, for each mode and family. ----
    for (name, client, vip, vport) in [
        ("icmp-dr4", CLIENT4, "198.18.0.100", 80),
        ("icmp-nat4", CLIENT4, "198.18.0.101", 80),
        ("icmp-tun4", CLIENT4, "198.18.0.102", 80),
        ("icmp-fnat4", CLIENT4, "198.18.0.103", 80),
        ("icmp-fnat4-udp", CLIENT4, "198.18.0.103", 53),
        ("icmp-nat6", CLIENT6, "2001:db8::101", 80),
        ("icmp-fnat6", CLIENT6, "2001:db8::103", 80),
    ] {
        let tcp_proto = vport == 80;
        let (mut sim, _, out) = syn_flow(0, client, vip, vport, tcp_proto);
        let (c, vi) = (ip(client), ip(vip));
        let router = if c.is_ipv4() {
            ip("198.18.1.1")
        } else {
            ip("2001:db8:1::fe")
        };
        // From the backend side, quoting what the gateway sent the backend.
        let (gw_src, _) = addrs(&out);
        sim.send(
            C1,
            &icmp_error_quoting(from_backend(1), router, gw_src, &out, 8),
        );
        // From the client side, quoting a reply as the client saw it.
        let reply = if tcp_proto {
            tcp(FROM_CLIENT, vi, c, vport, 40000, SYN | ACK, &[])
        } else {
            udp(FROM_CLIENT, vi, c, vport, 40000, b"answer")
        };
        let client_router = if c.is_ipv4() {
            ip("203.0.113.1")
        } else {
            ip("2001:db8:ff::1")
        };
        sim.send(
            C0,
            &icmp_error_quoting(FROM_CLIENT, client_router, vi, &reply, 8),
        );
        // A quote cut inside the ports.
        sim.send(
            C0,
            &icmp_error_quoting(FROM_CLIENT, client_router, vi, &reply, 2),
        );
        sim.write(&dir, name);
    }

    // ---- Maglev over a FullNAT backend (TOA on the SYN) and one without a route. ----
    {
        let mut sim = Sim::new(0);
        for i in 0..8u32 {
            let c = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i * 7919));
            sim.send(
                C0,
                &tcp(FROM_CLIENT, c, ip("198.18.0.109"), 40000, 80, SYN, &[]),
            );
        }
        sim.write(&dir, "mh-toa-syn4-many");
    }

    // ---- TUN towards a small-MTU network: fragmentation needed, or dropped without DF. ----
    {
        let mut sim = Sim::new(0);
        let vip = ip("198.18.0.105");
        sim.send(C0, &tcp(FROM_CLIENT, c4, vip, 40001, 80, SYN, &[]));
        let big = tcp(FROM_CLIENT, c4, vip, 40001, 80, ACK, &[0x55; 600]);
        sim.send(C0, &big);
        let mut no_df = big.clone();
        no_df[20] &= !0x40; // clear DF
        fix_ipv4_checksum(&mut no_df);
        sim.send(C0, &no_df);
        sim.write(&dir, "tun4-frag-needed");
    }

    // ---- Echo, ARP, ND, own addresses. ----
    {
        let mut sim = Sim::new(0);
        sim.send(
            C0,
            &icmp(
                FROM_CLIENT,
                c4,
                ip("198.18.0.100"),
                8,
                0,
                [0, 1, 0, 1],
                b"ping",
            ),
        );
        sim.send(
            C0,
            &icmp(
                FROM_CLIENT,
                c4,
                ip("198.18.0.1"),
                8,
                0,
                [0, 1, 0, 2],
                b"ping",
            ),
        );
        sim.send(
            C0,
            &icmp(
                FROM_CLIENT,
                c4,
                ip("198.51.100.1"),
                8,
                0,
                [0, 1, 0, 3],
                b"ping",
            ),
        );
        sim.send(
            C0,
            &icmp(
                FROM_CLIENT,
                c4,
                ip("198.18.0.100"),
                13,
                0,
                [0; 4],
                b"tstamp",
            ),
        );
        sim.write(&dir, "echo4");
        let mut sim = Sim::new(0);
        sim.send(
            C0,
            &icmp(
                FROM_CLIENT,
                c6,
                ip("2001:db8::100"),
                128,
                0,
                [0, 1, 0, 1],
                b"ping",
            ),
        );
        sim.send(
            C0,
            &icmp(
                FROM_CLIENT,
                c6,
                ip("2001:db8::1"),
                128,
                0,
                [0, 1, 0, 2],
                b"ping",
            ),
        );
        sim.write(&dir, "echo6");
        let mut sim = Sim::new(0);
        sim.send(C0, &arp_request([203, 0, 113, 50], [198, 18, 0, 100]));
        sim.write(&dir, "arp");
        let mut sim = Sim::new(0);
        sim.send(C0, &neighbour_solicitation(c6, ip("2001:db8::100")));
        sim.write(&dir, "nd");
        let mut sim = Sim::new(0);
        sim.send(
            C0,
            &tcp(FROM_CLIENT, c4, ip("198.18.0.1"), 40000, 22, SYN, &[]),
        );
        sim.send(
            C0,
            &tcp(FROM_CLIENT, c6, ip("2001:db8::1"), 40000, 22, SYN, &[]),
        );
        sim.send(
            C0,
            &tcp(FROM_CLIENT, c4, ip("198.18.0.100"), 40000, 81, SYN, &[]),
        );
        sim.send(
            C0,
            &tcp(FROM_CLIENT, c4, ip("198.51.100.9"), 40000, 80, SYN, &[]),
        );
        sim.send(
            C1,
            &tcp(
                from_backend(11),
                ip("198.18.1.11"),
                c4,
                8080,
                40000,
                ACK,
                &[],
            ),
        );
        sim.send(
            C1,
            &tcp(
                from_backend(14),
                ip("198.18.1.14"),
                ip("198.18.1.200"),
                8080,
                1500,
                ACK,
                &[],
            ),
        );
        sim.write(&dir, "local-and-strays");
    }

    // ---- Malformed and unusual frames. ----
    let syn4 = tcp(FROM_CLIENT, c4, ip("198.18.0.101"), 40000, 80, SYN, &[]);
    let syn6 = tcp(FROM_CLIENT, c6, ip("2001:db8::103"), 40000, 80, SYN, &[]);
    let one = |name: &str, frame: &[u8]| {
        let mut sim = Sim::new(0);
        sim.send(C0, frame);
        sim.write(&dir, name);
    };
    one("truncated-ethernet", &syn4[..10]);
    let vlan = vlan(&syn4, 0x0064);
    one("vlan-syn4", &vlan);
    one("truncated-vlan", &vlan[..15]);
    let mut bad = syn4.clone();
    bad[24] ^= 0xff;
    one("bad-ipv4-checksum", &bad);
    let mut frag = syn4.clone();
    frag[20] = 0x20; // MF
    fix_ipv4_checksum(&mut frag);
    one("ipv4-fragment", &frag);
    let mut ihl = syn4.clone();
    ihl[14] = 0x44;
    fix_ipv4_checksum(&mut ihl);
    one("bad-ihl", &ihl);
    let mut ver = syn4.clone();
    ver[14] = 0x65;
    fix_ipv4_checksum(&mut ver);
    one("bad-ip-version", &ver);
    one("truncated-tcp", &trunc_ipv4(&syn4, 14 + 20 + 10));
    one("truncated-ipv6", &syn6[..40]);
    let mut ethertype = syn4.clone();
    ethertype[12..14].copy_from_slice(&[0x88, 0xcc]);
    one("unknown-ethertype", &ethertype);
    let mut gre = syn4.clone();
    gre[23] = 47;
    fix_ipv4_checksum(&mut gre);
    one("gre-to-vip", &gre);
    one(
        "ttl1-nat4",
        &tcp_ttl(FROM_CLIENT, c4, ip("198.18.0.101"), 40000, 80, SYN, &[], 1),
    );
    one("ipv6-hop-by-hop", &with_ipv6_ext(&syn6, 0, 8));
    one("ipv6-fragment", &with_ipv6_ext(&syn6, 44, 8));
    one("ipv4-options", &with_ipv4_options(&syn4));
    one(
        "not-syn-new-flow",
        &tcp(FROM_CLIENT, c4, ip("198.18.0.103"), 40000, 80, ACK, &[]),
    );
    one(
        "rst-new-flow",
        &tcp(FROM_CLIENT, c4, ip("198.18.0.103"), 40000, 80, RST, &[]),
    );
    one(
        "short-arp",
        &arp_request([203, 0, 113, 50], [198, 18, 0, 100])[..30],
    );

    // ---- Two workers: NAT flows owned elsewhere, FullNAT replies to another worker's port. ----
    for config in [1u8, 3] {
        let (mut sim, _, out) = syn_flow(config, CLIENT4, "198.18.0.103", 80, true);
        if let (IpAddr::V4(_), _) = addrs(&out) {
            let r = reply_to(&out, SYN | ACK, true);
            sim.send(C1, &r);
            let mut other = r.clone();
            let l4 = 34;
            let dp = u16::from_be_bytes([other[l4 + 2], other[l4 + 3]]) ^ 1;
            other[l4 + 2..l4 + 4].copy_from_slice(&dp.to_be_bytes());
            sim.send(C1, &other);
        }
        for p in 40000..40004u16 {
            sim.send(
                C0,
                &tcp(FROM_CLIENT, c4, ip("198.18.0.101"), p, 80, SYN, &[]),
            );
        }
        sim.write(&dir, &format!("two-workers-{config}"));
    }

    // ---- Fill the 16-session table, then expire. ----
    {
        let mut sim = Sim::new(0);
        for p in 0..20u16 {
            sim.send(
                0,
                &udp(FROM_CLIENT, c4, ip("198.18.0.103"), 30000 + p, 53, b"q"),
            );
        }
        sim.send(0x7f & !0x03, &[]);
        sim.send(
            C0,
            &udp(FROM_CLIENT, c4, ip("198.18.0.103"), 29999, 53, b"q"),
        );
        sim.write(&dir, "table-full");
    }

    syn_proxy_seeds(&dir);
}

/// A TCP segment with sequence and acknowledgement numbers and options, window 65535.
fn seg(
    macs: ([u8; 6], [u8; 6]),
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    numbers: (u32, Option<u32>),
    flags: u8,
    opts: &[TcpOptionElement],
    payload: &[u8],
) -> Vec<u8> {
    tcp_segment(macs, src, dst, numbers, flags, 65535, opts, payload)
}

fn tcp_u32(frame: &[u8], at: usize) -> u32 {
    let l4 = if frame[14] >> 4 == 4 { 34 } else { 54 };
    u32::from_be_bytes(frame[l4 + at..l4 + at + 4].try_into().unwrap())
}

/// The SYN-proxied services: a whole connection (cookie, valid ACK with data, the server's
/// SYN-ACK, data both ways with SACK and timestamps, an ICMP error each way, RST), a forged
/// cookie, and a server that refuses.
fn syn_proxy_seeds(dir: &Path) {
    use TcpOptionElement as O;
    for (name, client, vip) in [
        ("synproxy-nat4", CLIENT4, "198.18.0.111"),
        ("synproxy-fnat4", CLIENT4, "198.18.0.112"),
        ("synproxy-fnat6", CLIENT6, "2001:db8::112"),
    ] {
        let (c, v) = ((ip(client), 40000), (ip(vip), 80));
        let mut sim = Sim::new(0);
        let syn_opts = [
            O::MaximumSegmentSize(1460),
            O::SelectiveAcknowledgementPermitted,
            O::Timestamp(1000, 0),
            O::WindowScale(7),
        ];
        let (verdict, sa) = sim.send(
            C0,
            &seg(FROM_CLIENT, c, v, (999, None), SYN, &syn_opts, &[]),
        );
        assert_eq!(verdict, Verdict::Tx(0), "{name}: the cookie SYN-ACK");
        let cookie = tcp_u32(&sa, 4);
        let ts = [O::Timestamp(1001, 1_800_000_000u32.wrapping_mul(1000))];
        let ack = seg(
            FROM_CLIENT,
            c,
            v,
            (1000, Some(cookie + 1)),
            PSH,
            &ts,
            b"GET /",
        );
        let (verdict, server_syn) = sim.send(C0, &ack);
        assert_eq!(verdict, Verdict::Tx(1), "{name}: the server's SYN");
        let (laddr, backend) = addrs(&server_syn);
        let (lport, bport) = ports(&server_syn);
        let last = match backend {
            IpAddr::V4(a) => a.octets()[3],
            IpAddr::V6(a) => a.octets()[15],
        };
        let srv = from_backend(last);
        let (b, l) = ((backend, bport), (laddr, lport));
        let sa_opts = [
            O::MaximumSegmentSize(1400),
            O::SelectiveAcknowledgementPermitted,
            O::Timestamp(9000, 1001),
            O::WindowScale(9),
        ];
        let (verdict, _) = sim.send(C1, &seg(srv, b, l, (7000, Some(1000)), SYN, &sa_opts, &[]));
        assert_eq!(
            verdict,
            Verdict::Tx(1),
            "{name}: the held data to the server"
        );
        let data = seg(
            srv,
            b,
            l,
            (7001, Some(1005)),
            PSH,
            &[O::Timestamp(9001, 1001)],
            b"HTTP",
        );
        let (verdict, down) = sim.send(C1, &data);
        assert_eq!(verdict, Verdict::Tx(0), "{name}: data to the client");
        let l1 = cookie + 1;
        let sack = [
            O::Noop,
            O::Noop,
            O::Timestamp(1002, 9001),
            O::Noop,
            O::Noop,
            O::SelectiveAcknowledgement((l1 + 10, l1 + 20), [None; 3]),
        ];
        let (verdict, up) = sim.send(
            C0,
            &seg(FROM_CLIENT, c, v, (1005, Some(l1 + 4)), 0, &sack, &[]),
        );
        assert_eq!(verdict, Verdict::Tx(1), "{name}: the client's ACK");
        // ICMP errors: from the client's side about the data, from the server's about the ACK.
        sim.send(C0, &icmp_error_quoting(FROM_CLIENT, c.0, v.0, &down, 40));
        sim.send(C1, &icmp_error_quoting(srv, b.0, l.0, &up, 40));
        sim.send(
            C0,
            &seg(FROM_CLIENT, c, v, (1005, Some(l1 + 4)), RST, &[], &[]),
        );
        // A forged cookie, then a connection the server refuses.
        let c2 = (c.0, 40001);
        sim.send(
            C0,
            &seg(FROM_CLIENT, c2, v, (1000, Some(12345)), 0, &[], &[]),
        );
        let (_, sa) = sim.send(C0, &seg(FROM_CLIENT, c2, v, (999, None), SYN, &[], &[]));
        let cookie = tcp_u32(&sa, 4);
        let (_, syn) = sim.send(
            C0,
            &seg(FROM_CLIENT, c2, v, (1000, Some(cookie + 1)), 0, &[], &[]),
        );
        let (lport, _) = ports(&syn);
        sim.send(
            C1,
            &seg(srv, b, (laddr, lport), (0, Some(1000)), RST, &[], &[]),
        );
        sim.write(dir, name);
    }
}

fn fix_ipv4_checksum(f: &mut [u8]) {
    let ihl = usize::from(f[14] & 0xf) * 4;
    if ihl < 20 || f.len() < 14 + ihl {
        return;
    }
    f[24] = 0;
    f[25] = 0;
    let mut sum = 0u32;
    for w in f[14..14 + ihl].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Cut an IPv4 frame to `len` bytes, fixing the total length and header checksum.
fn trunc_ipv4(f: &[u8], len: usize) -> Vec<u8> {
    let mut out = f[..len].to_vec();
    let total = u16::try_from(len - 14).unwrap();
    out[16..18].copy_from_slice(&total.to_be_bytes());
    fix_ipv4_checksum(&mut out);
    out
}

/// Insert an IPv6 extension header of type `ext` (`len` bytes) before the L4 header.
fn with_ipv6_ext(f: &[u8], ext: u8, len: usize) -> Vec<u8> {
    let mut out = f[..54].to_vec();
    let next = out[20];
    out[20] = ext;
    let mut hdr = vec![0u8; len];
    hdr[0] = next;
    hdr[1] = u8::try_from(len / 8 - 1).unwrap();
    out.extend_from_slice(&hdr);
    out.extend_from_slice(&f[54..]);
    let pl = u16::from_be_bytes([out[18], out[19]]) + u16::try_from(len).unwrap();
    out[18..20].copy_from_slice(&pl.to_be_bytes());
    out
}

/// Add 4 bytes of IPv4 options (NOPs and an end-of-list).
fn with_ipv4_options(f: &[u8]) -> Vec<u8> {
    let mut out = f[..34].to_vec();
    out.extend_from_slice(&[1, 1, 1, 0]);
    out.extend_from_slice(&f[34..]);
    out[14] = 0x46;
    let total = u16::from_be_bytes([out[16], out[17]]) + 4;
    out[16..18].copy_from_slice(&total.to_be_bytes());
    fix_ipv4_checksum(&mut out);
    out
}
