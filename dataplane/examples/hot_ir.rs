//! Instructions per packet on the worker's hot path, for A/B comparisons that a loaded host
//! cannot disturb: run under cachegrind, counting only inside `measured`:
//!
//! ```text
//! cargo build --release -p dataplane --example hot_ir
//! valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
//!     --toggle-collect='*measured*' target/release/examples/hot_ir fullnat reply off
//! ```
//!
//! Arguments: the flows (`dr`, `nat`, `tun`, `fullnat` to `dataplane::fuzzing::snapshot()`'s
//! services; `fullnat6` to its IPv6 FullNAT service, from IPv6 clients; `dr_mh` to a Maglev DR
//! service of 16 real servers; `cookie` to the SYN-proxied FullNAT service, whose SYNs get
//! cookie SYN-ACKs), what is measured (`syn`: new
//! flows; `open`, `cookie` only: client ACKs with a valid cookie and 64 bytes of data, each
//! opening a session (its data held while the pool has room) and sending the server its SYN;
//! `midflow`: new flows opened by an ACK, `dr_mh` only (`sloppy_tcp`); `ack`: established
//! client packets; `reply`: backend replies, NAT and FullNAT), `on`/`off` for session-sync
//! events, and optionally `limits`: admission control on (a global deny list of 1000 prefixes
//! no client is in, and on the service a 100-prefix deny list, a connection cap and a rate,
//! none reached), to measure what the checks cost a new flow. 1024 flows, each
//! packet 16 times over (new flows: 16 batches of 1024 fresh ones), bursts of 32; I refs divided by
//! the packets measured gives instructions per packet.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dataplane::frame::{Frame, VecFrame};
use dataplane::fuzzing::snapshot;
use dataplane::snapshot::Snapshot;
use dataplane::sync::{link, SyncConfig};
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use testkit::packet::{reply_to, tcp, tcp_segment, ACK, FROM_CLIENT, PSH, SYN};

const FLOWS: usize = 1024;
const ROUNDS: usize = 16;
const BURST: usize = 32;

fn client(v6: bool, i: usize) -> std::net::IpAddr {
    if v6 {
        std::net::IpAddr::from([0x2001, 2, 0, 0, 0, 0, 0, (i % 250) as u16 + 1])
    } else {
        std::net::IpAddr::from([203, 0, 113, (i % 250) as u8 + 1])
    }
}

/// The measured region: `frames` through `w` in bursts, `ROUNDS` times.
#[inline(never)]
fn measured(w: &mut Worker, snap: &Snapshot, port: u8, frames: &[Vec<u8>], fs: &mut [VecFrame]) {
    let mut v = [Verdict::Drop(DropReason::NotForUs); BURST];
    for _ in 0..ROUNDS {
        for chunk in frames.chunks(BURST) {
            for (f, t) in fs.iter_mut().zip(chunk) {
                f.reset(t);
            }
            w.process(snap, 2, port, &mut fs[..chunk.len()], &mut v[..chunk.len()]);
            black_box(&v);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, what, events, limits] = [0, 1, 2, 3].map(|i| args.get(i).map_or("", String::as_str));
    let vip = match mode {
        "dr" => "198.18.0.100",
        "nat" => "198.18.0.101",
        "tun" => "198.18.0.102",
        "fullnat" => "198.18.0.103",
        "fullnat6" => "2001:db8::103",
        "dr_mh" => "198.18.0.110",
        "cookie" => "198.18.0.112",
        _ => panic!("mode: dr, nat, tun, fullnat, fullnat6, dr_mh or cookie"),
    };
    let vip: std::net::IpAddr = vip.parse().unwrap();
    let v6 = vip.is_ipv6();
    let client = |i: usize| client(v6, i);
    let replies = mode == "nat" || mode == "fullnat" || mode == "fullnat6";
    let mut snap = if mode == "dr_mh" {
        mh_snapshot(vip)
    } else {
        snapshot()
    };
    if limits == "limits" {
        with_limits(&mut snap, vip);
    }
    let mut w = Worker::new(WorkerConfig::default());
    let _ctl = (events == "on").then(|| {
        let (ws, cs) = link(SyncConfig::default());
        w.attach_sync(ws);
        cs
    });
    let mut fs: Vec<VecFrame> = (0..BURST)
        .map(|_| VecFrame::with_room(&[], 128, 256))
        .collect();
    let syn = |i: usize, base: u16| tcp(FROM_CLIENT, client(i), vip, base + i as u16, 80, SYN, &[]);
    if what == "open" && mode == "cookie" {
        let all = cookie_acks(&snap, vip, ROUNDS * FLOWS);
        let fresh = || {
            let mut w = Worker::new(WorkerConfig::default());
            w.process::<VecFrame>(&snap, 1, 0, &mut [], &mut []);
            w
        };
        let mut w = fresh();
        measured_syn(&mut w, &snap, &all, &mut fs);
        assert_eq!(w.sessions4().len(), all.len(), "every cookie ACK opens");
        // The pool holds 256 frames a worker, and the clock stands still here, so it fills.
        let held = w.counters().syn_proxy_held.get();
        assert!(held > 0, "data held");
        println!("{} packets, {held} held", all.len());
        best_of(all.len(), || {
            let mut w = fresh();
            let t0 = Instant::now();
            measured_syn(&mut w, &snap, &all, &mut fs);
            t0.elapsed()
        });
        return;
    }
    if what == "syn" || what == "midflow" {
        // Fresh flows each round: ROUNDS x FLOWS new sessions.
        let flags = if what == "syn" { SYN } else { ACK };
        let all: Vec<Vec<u8>> = (0..ROUNDS * FLOWS)
            .map(|i| tcp(FROM_CLIENT, client(i), vip, 1024 + i as u16, 80, flags, &[]))
            .collect();
        w.process::<VecFrame>(&snap, 1, 0, &mut [], &mut []);
        measured_syn(&mut w, &snap, &all, &mut fs);
        // The SYN proxy answers each SYN with a cookie and keeps nothing.
        let kept = if mode == "cookie" { 0 } else { all.len() };
        assert_eq!(w.sessions4().len() + w.sessions6().len(), kept);
        println!("{} packets", all.len());
        best_of(all.len(), || {
            let mut w = Worker::new(WorkerConfig::default());
            w.process::<VecFrame>(&snap, 1, 0, &mut [], &mut []);
            let t0 = Instant::now();
            measured_syn(&mut w, &snap, &all, &mut fs);
            t0.elapsed()
        });
        return;
    }
    // Open FLOWS flows (SYN, the backend's SYN-ACK, the client's ACK), unmeasured.
    let mut acks = Vec::new();
    let mut back = Vec::new();
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    for i in 0..FLOWS {
        let mut f = [VecFrame::new(&syn(i, 1024))];
        w.process(&snap, 1, 0, &mut f, &mut v);
        assert_eq!(v[0], Verdict::Tx(1));
        let out = f[0].data().to_vec();
        if replies {
            let mut r = [VecFrame::new(&reply_to(&out, SYN | ACK, true))];
            w.process(&snap, 1, 1, &mut r, &mut v);
            assert_eq!(v[0], Verdict::Tx(0));
            back.push(reply_to(&out, ACK | PSH, true));
        }
        let ack = tcp(FROM_CLIENT, client(i), vip, 1024 + i as u16, 80, ACK, &[]);
        let mut a = [VecFrame::new(&ack)];
        w.process(&snap, 1, 0, &mut a, &mut v);
        assert_eq!(v[0], Verdict::Tx(1));
        acks.push(tcp(
            FROM_CLIENT,
            client(i),
            vip,
            1024 + i as u16,
            80,
            PSH | ACK,
            &[],
        ));
    }
    let (port, frames) = match what {
        "ack" => (0, &acks),
        "reply" if replies => (1, &back),
        _ => panic!("what: syn, ack or reply (NAT and FullNAT)"),
    };
    measured(&mut w, &snap, port, frames, &mut fs);
    println!("{} packets", frames.len() * ROUNDS);
    best_of(frames.len() * ROUNDS, || {
        let t0 = Instant::now();
        measured(&mut w, &snap, port, frames, &mut fs);
        t0.elapsed()
    });
}

/// With `HOT_IR_TIME=N` (and not under valgrind), time the measured region `N` more times and
/// print the fastest, in ns per packet: on a loaded host the fastest of many short runs is the
/// one least disturbed, which makes two builds comparable when run alternately.
fn best_of(packets: usize, mut run: impl FnMut() -> Duration) {
    let Some(n) = std::env::var("HOT_IR_TIME")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    let best = (0..n).map(|_| run()).min().unwrap_or_default();
    println!(
        "best of {n}: {:.1} ns/packet",
        best.as_nanos() as f64 / packets as f64
    );
}

/// Admission control on for every service on `vip`:80, limits no test client (203.0.113.x)
/// reaches.
fn with_limits(snap: &mut Snapshot, vip: std::net::IpAddr) {
    use dataplane::admission::{ClientLists, Rate, ServiceLimits};
    let deny = |n: u32| -> Vec<(std::net::IpAddr, u8)> {
        (0..n)
            .map(|i| {
                (
                    std::net::IpAddr::from(std::net::Ipv4Addr::from((10u32 << 24) | (i << 8))),
                    24,
                )
            })
            .collect()
    };
    snap.clients = Some(Box::new(ClientLists::new(&[], &deny(1000))));
    for s in snap.services.iter_mut().flatten() {
        if s.vip == vip && s.port == 80 {
            s.limits = Some(Box::new(ServiceLimits {
                new_conns: Some(Rate {
                    per_s: u32::MAX,
                    burst: u32::MAX,
                }),
                max_conns: u32::MAX,
                clients: ClientLists::new(&[], &deny(100)),
            }));
        }
    }
}

/// A Maglev DR service on `vip`:80 over 16 real servers, in `fuzzing::snapshot()`'s topology.
fn mh_snapshot(vip: std::net::IpAddr) -> Snapshot {
    use dataplane::sched::SchedulerKind;
    use dataplane::session::FwdMethod;
    use dataplane::snapshot::{BackendSpec, ServiceSpec};
    let mut b = testkit::topology::two_port_lan(1);
    let mut s = ServiceSpec::new(vip, 80, dataplane::types::L4Proto::Tcp);
    s.scheduler = SchedulerKind::Mh;
    for k in 0..16u8 {
        let addr = std::net::IpAddr::from([198, 18, 1, 10 + k]);
        b.neighbour(addr, dataplane::fuzzing::backend_mac(10 + k));
        s.backends.push(BackendSpec::new(addr, 80, FwdMethod::Dr));
    }
    b.service(s);
    b.build()
}

/// The measured region for new flows: every SYN once.
#[inline(never)]
/// `n` client ACKs, each with 64 bytes of data, answering the cookie SYN-ACKs a worker sends
/// for `n` fresh SYNs to `vip`:80 (unmeasured).
fn cookie_acks(snap: &Snapshot, vip: std::net::IpAddr, n: usize) -> Vec<Vec<u8>> {
    let mut w = Worker::new(WorkerConfig::default());
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    (0..n)
        .map(|i| {
            let (c, port) = (client(false, i), 1024 + i as u16);
            let mut f = [VecFrame::new(&tcp(FROM_CLIENT, c, vip, port, 80, SYN, &[]))];
            w.process(snap, 1, 0, &mut f, &mut v);
            assert_eq!(v[0], Verdict::Tx(0), "a cookie SYN-ACK");
            let d = f[0].data();
            let l4 = 14 + usize::from(d[14] & 0xf) * 4;
            let at = |o: usize| {
                u32::from_be_bytes([d[l4 + o], d[l4 + o + 1], d[l4 + o + 2], d[l4 + o + 3]])
            };
            let (cookie, isn1) = (at(4), at(8));
            tcp_segment(
                FROM_CLIENT,
                (c, port),
                (vip, 80),
                (isn1, Some(cookie.wrapping_add(1))),
                PSH,
                65535,
                &[],
                &[b'x'; 64],
            )
        })
        .collect()
}

fn measured_syn(w: &mut Worker, snap: &Snapshot, frames: &[Vec<u8>], fs: &mut [VecFrame]) {
    let mut v = [Verdict::Drop(DropReason::NotForUs); BURST];
    for chunk in frames.chunks(BURST) {
        for (f, t) in fs.iter_mut().zip(chunk) {
            f.reset(t);
        }
        w.process(snap, 2, 0, &mut fs[..chunk.len()], &mut v[..chunk.len()]);
        black_box(&v);
    }
}
