//! The fuzzing harness for the worker pipeline, shared by the `cargo fuzz` target
//! (`dataplane/fuzz/fuzz_targets/pipeline.rs`) and the corpus replay test
//! (`dataplane/tests/fuzz_corpus.rs`), so stable CI runs exactly what the fuzzer runs.
//!
//! Contract: [`fuzz_one`] accepts any bytes and never panics unless the pipeline breaks one of
//! its promises: it panicked, it sent a frame to a port that does not exist, it transmitted
//! a frame that no longer parses, or a frame that arrived with correct IP and L4 checksums left
//! with a wrong one ([`frame_checksums_ok`]). Every input starts from a worker in the state a
//! fresh [`Worker`] has once it has taken the snapshot, so a reproducer is one file: building
//! and syncing one costs milliseconds (the FullNAT local-port pools are filled port by port),
//! so the harness does it once per worker configuration and resets one worker to it before
//! each input ([`Worker::copy_from`], [`Start::Copy`]; `tests/fuzz_corpus.rs` checks every
//! seed runs the same as from a fresh worker, and that nothing carries over between inputs).
//!
//! Input format (so one input can open a flow and then send its replies and ICMP errors):
//!
//! ```text
//! input  := config:u8 record*
//! config := bit 0: two workers (else one); bit 1: this worker is id 1 (with two workers)
//! record := ctl:u8 len:u16le frame[len]     (a short last record takes the bytes left)
//! ctl    := bits 0-1: receiving port (3 is no port); bits 2-4: seconds to advance the clock;
//!           bit 5: run tick() afterwards; bit 6: advance the clock by 1000 s first
//! ```
//!
//! [`snapshot`] has every forwarding mode for both families, with the addresses below, so the
//! seed corpus (and the allocation test and benches) can aim frames at each of them.
//!
//! | service                 | proto | backends (method)                                     |
//! |-------------------------|-------|-------------------------------------------------------|
//! | 198.18.0.100:80         | TCP   | 198.18.1.10:80 (DR)                                   |
//! | 198.18.0.100:53         | UDP   | 198.18.1.10:53 (DR)                                   |
//! | 198.18.0.101:80         | TCP   | 198.18.1.11:8080, 198.18.1.12:8080 (NAT, rr)          |
//! | 198.18.0.101:53         | UDP   | 198.18.1.11:53 (NAT)                                  |
//! | 198.18.0.102:80         | TCP   | 198.18.1.13:80 (TUN)                                  |
//! | 198.18.0.103:80         | TCP   | 198.18.1.14:8080 (FullNAT, laddrs .1.200/.201, TOA on ACK) |
//! | 198.18.0.103:53         | UDP   | 198.18.1.14:53 (FullNAT, laddr .1.200)                |
//! | 198.18.0.104:0          | TCP   | 198.18.1.10:0, .1.15:0 (DR, persistent /24, wlc)      |
//! | 198.18.0.105:80         | TCP   | 198.18.2.13:80 (TUN on port 2, MTU 576)               |
//! | 198.18.0.106:80         | TCP   | 198.18.1.99:80 (NAT, neighbour unresolved)            |
//! | 198.18.0.107:80         | TCP   | 198.18.1.16 down; sorry server 198.18.1.10:80 (DR)    |
//! | 198.18.0.108:80         | TCP   | none                                                  |
//! | 198.18.0.109:80         | TCP   | 198.18.1.14:9090 (FullNAT, TOA on SYN, mh), 203.0.113.5 (no route) |
//! | \[2001:db8::100\]:80    | TCP   | 2001:db8:1::10 (DR)                                   |
//! | \[2001:db8::101\]:80/53 | TCP/UDP | 2001:db8:1::11:8080 / :53 (NAT)                     |
//! | \[2001:db8::102\]:80    | TCP   | 2001:db8:1::13 (TUN: unsupported for IPv6)            |
//! | \[2001:db8::103\]:80/53 | TCP/UDP | 2001:db8:1::14:8080 / :53 (FullNAT, laddr 2001:db8:1::200) |
//! | 198.18.0.110:80         | TCP   | 198.18.1.10, 198.18.1.15 (DR, mh: a mid-flow ACK opens a session, `sloppy_tcp`) |
//! | 198.18.0.111:80         | TCP   | 198.18.1.11:8080 (NAT, SYN proxy)                     |
//! | 198.18.0.112:80         | TCP   | 198.18.1.14:8080 (FullNAT, SYN proxy, laddr .1.200, TOA on ACK) |
//! | \[2001:db8::112\]:80    | TCP   | 2001:db8:1::14:8080 (FullNAT, SYN proxy, laddr 2001:db8:1::200) |
//!
//! The SYN cookies' secret is [`COOKIE_SECRET`] and the worker's wall clock [`WALL_CLOCK`], so
//! a seed can carry a valid cookie.
//! Ports: 0 = clients (198.18.0.1, 2001:db8::1), 1 = backends (198.18.1.1, 2001:db8:1::1),
//! 2 = a small-MTU backend network (198.18.2.1, MTU 576). MACs are `02:00:00:00:00:1p` for port
//! `p`, `02:00:00:00:01:xx` for the backend ending in `xx`.

use core::cell::RefCell;
use core::net::IpAddr;

use crate::forward::syncookie::{CookieKey, CookieKeys};
use crate::frame::{Frame, VecFrame};
use crate::sched::SchedulerKind;
use crate::session::FwdMethod;
use crate::snapshot::{
    BackendSpec, Persistence, PortInfo, Route, ServiceSpec, Snapshot, SnapshotBuilder, ToaMode,
};
use crate::types::L4Proto;
use crate::wire::{parse_frame, DropReason};
use crate::worker::{Verdict, Worker, WorkerConfig};

mod checksums;
pub use checksums::frame_checksums_ok;

/// The MAC of gateway port `p`.
pub const fn port_mac(p: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, 0x10 + p]
}

/// The MAC a backend whose address ends in `last` resolves to.
pub const fn backend_mac(last: u8) -> [u8; 6] {
    [2, 0, 0, 0, 1, last]
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

/// The SYN cookies' secret of [`snapshot`].
pub const COOKIE_SECRET: [u8; 16] = *b"fuzzing-cookie-k";

/// The Unix time a [`worker`] believes it is (the SYN cookies' clock).
pub const WALL_CLOCK: u64 = 1_800_000_000;

/// Build the all-modes snapshot described in the module documentation (generation 1).
pub fn snapshot() -> Snapshot {
    let mut b = SnapshotBuilder::new(1);
    b.port(PortInfo {
        mac: port_mac(0),
        addrs4: vec!["198.18.0.1".parse().expect("literal")],
        addrs6: vec!["2001:db8::1".parse().expect("literal")],
        mtu: 1500,
    });
    b.port(PortInfo {
        mac: port_mac(1),
        addrs4: vec!["198.18.1.1".parse().expect("literal")],
        addrs6: vec!["2001:db8:1::1".parse().expect("literal")],
        mtu: 1500,
    });
    b.port(PortInfo {
        mac: port_mac(2),
        addrs4: vec!["198.18.2.1".parse().expect("literal")],
        addrs6: vec![],
        mtu: 576,
    });
    for (prefix, len, port) in [
        ("198.18.1.0", 24, 1),
        ("198.18.2.0", 24, 2),
        ("2001:db8:1::", 64, 1),
    ] {
        b.route(Route {
            prefix: ip(prefix),
            len,
            port,
            via: None,
        });
    }
    for last in [10u8, 11, 12, 13, 14, 15, 16] {
        b.neighbour(ip(&format!("198.18.1.{last}")), backend_mac(last));
        b.neighbour(ip(&format!("2001:db8:1::{last}")), backend_mac(last));
    }
    b.neighbour(ip("198.18.2.13"), backend_mac(13));

    let svc = |vip: &str, port: u16, proto: L4Proto, backends: &[(&str, u16, FwdMethod)]| {
        let mut s = ServiceSpec::new(ip(vip), port, proto);
        s.backends = backends
            .iter()
            .map(|&(a, p, m)| BackendSpec::new(ip(a), p, m))
            .collect();
        s
    };
    use FwdMethod::{Dr, FullNat, Nat, Tun};
    use L4Proto::{Tcp, Udp};
    b.service(svc("198.18.0.100", 80, Tcp, &[("198.18.1.10", 80, Dr)]));
    b.service(svc("198.18.0.100", 53, Udp, &[("198.18.1.10", 53, Dr)]));
    let mut nat = svc(
        "198.18.0.101",
        80,
        Tcp,
        &[("198.18.1.11", 8080, Nat), ("198.18.1.12", 8080, Nat)],
    );
    nat.scheduler = SchedulerKind::Rr;
    b.service(nat);
    b.service(svc("198.18.0.101", 53, Udp, &[("198.18.1.11", 53, Nat)]));
    b.service(svc("198.18.0.102", 80, Tcp, &[("198.18.1.13", 80, Tun)]));
    let mut fnat = svc("198.18.0.103", 80, Tcp, &[("198.18.1.14", 8080, FullNat)]);
    fnat.laddrs = vec![ip("198.18.1.200"), ip("198.18.1.201")];
    fnat.toa = ToaMode::Ack;
    b.service(fnat);
    let mut fnat_udp = svc("198.18.0.103", 53, Udp, &[("198.18.1.14", 53, FullNat)]);
    fnat_udp.laddrs = vec![ip("198.18.1.200")];
    b.service(fnat_udp);
    let mut persist = svc(
        "198.18.0.104",
        0,
        Tcp,
        &[("198.18.1.10", 0, Dr), ("198.18.1.15", 0, Dr)],
    );
    persist.persistence = Some(Persistence {
        timeout_s: 300,
        prefix_len: 24,
    });
    b.service(persist);
    b.service(svc("198.18.0.105", 80, Tcp, &[("198.18.2.13", 80, Tun)]));
    b.service(svc("198.18.0.106", 80, Tcp, &[("198.18.1.99", 80, Nat)]));
    let mut sorry = svc("198.18.0.107", 80, Tcp, &[("198.18.1.16", 80, Dr)]);
    sorry.backends[0].available = false;
    sorry.sorry = Some(BackendSpec::new(ip("198.18.1.10"), 80, Dr));
    b.service(sorry);
    b.service(svc("198.18.0.108", 80, Tcp, &[]));
    let mut mh = svc(
        "198.18.0.109",
        80,
        Tcp,
        &[("198.18.1.14", 9090, FullNat), ("203.0.113.5", 80, FullNat)],
    );
    mh.scheduler = SchedulerKind::Mh;
    mh.laddrs = vec![ip("198.18.1.200")];
    mh.toa = ToaMode::Syn;
    b.service(mh);

    b.service(svc("2001:db8::100", 80, Tcp, &[("2001:db8:1::10", 80, Dr)]));
    b.service(svc(
        "2001:db8::101",
        80,
        Tcp,
        &[("2001:db8:1::11", 8080, Nat)],
    ));
    b.service(svc(
        "2001:db8::101",
        53,
        Udp,
        &[("2001:db8:1::11", 53, Nat)],
    ));
    b.service(svc(
        "2001:db8::102",
        80,
        Tcp,
        &[("2001:db8:1::13", 80, Tun)],
    ));
    for (port, bport) in [(80, 8080), (53, 53)] {
        let proto = if port == 80 { Tcp } else { Udp };
        let mut s = svc(
            "2001:db8::103",
            port,
            proto,
            &[("2001:db8:1::14", bport, FullNat)],
        );
        s.laddrs = vec![ip("2001:db8:1::200")];
        b.service(s);
    }
    // Last, so that the services above keep their ids.
    let mut mh_dr = svc(
        "198.18.0.110",
        80,
        Tcp,
        &[("198.18.1.10", 80, Dr), ("198.18.1.15", 80, Dr)],
    );
    mh_dr.scheduler = SchedulerKind::Mh;
    b.service(mh_dr);
    syn_proxied(&mut b);
    b.build()
}

/// The SYN-proxied services of [`snapshot`], after the others (which keep their ids).
fn syn_proxied(b: &mut SnapshotBuilder) {
    b.syn_cookies(Some(CookieKeys {
        current: CookieKey::new(COOKIE_SECRET),
        previous: None,
    }));
    for (vip, backend, method, laddr) in [
        ("198.18.0.111", "198.18.1.11", FwdMethod::Nat, None),
        (
            "198.18.0.112",
            "198.18.1.14",
            FwdMethod::FullNat,
            Some("198.18.1.200"),
        ),
        (
            "2001:db8::112",
            "2001:db8:1::14",
            FwdMethod::FullNat,
            Some("2001:db8:1::200"),
        ),
    ] {
        let mut s = ServiceSpec::new(ip(vip), 80, L4Proto::Tcp);
        s.backends = vec![BackendSpec::new(ip(backend), 8080, method)];
        s.laddrs = laddr.map(ip).into_iter().collect();
        if vip == "198.18.0.112" {
            s.toa = ToaMode::Ack;
        }
        s.syn_proxy = true;
        b.service(s);
    }
}

/// Encode an input for [`fuzz_one`]: a config byte and `(ctl, frame)` records.
pub fn encode(config: u8, records: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![config];
    for &(ctl, frame) in records {
        let len = u16::try_from(frame.len()).expect("frame under 64 KiB");
        out.push(ctl);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// The worker [`fuzz_one`] starts from for an input's config byte: small tables, so an input
/// can fill one.
pub fn worker(config: u8) -> Worker {
    let workers = if config & 1 != 0 { 2 } else { 1 };
    let id = if workers == 2 {
        u16::from(config >> 1 & 1)
    } else {
        0
    };
    let mut w = Worker::new(WorkerConfig {
        id,
        workers,
        sessions4: 16,
        sessions6: 16,
        templates: 8,
        max_services: 32,
        max_backends: 32,
        // Enough to catch the timer wheel up over a 1000 s jump in one tick.
        expire_budget: 8192,
        // Small, so an input can fill it (and a worker resets in microseconds, not copying
        // the 1024-entry tables of a gateway).
        fragments: 16,
        // Fuzz the burst prefetch stages too.
        prefetch_from: 0,
        ..WorkerConfig::default()
    });
    w.set_wall_clock(WALL_CLOCK);
    w
}

/// Where an input's worker comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A worker reset to one built and synced once per configuration (what [`fuzz_one`] runs).
    Copy,
    /// A worker built for this input alone ([`worker`]).
    Fresh,
}

/// What every input runs against, built once per thread: the snapshot; the workers inputs
/// start from, synced to it, one per distinct setting of the config byte's two bits (one
/// worker; two, as id 0; two, as id 1); and the worker an input runs on, reset to one of those
/// first. Per thread, so that tests running side by side share no scheduler rotation (and a
/// worker is not `Sync`).
struct Fixture {
    snap: Snapshot,
    synced: [Worker; 3],
    scratch: RefCell<Worker>,
}

impl Fixture {
    fn new() -> Self {
        let snap = snapshot();
        let synced = [0, 1, 3].map(|config| {
            let mut w = worker(config);
            w.sync(&snap);
            w
        });
        let scratch = RefCell::new(worker(0));
        Fixture {
            snap,
            synced,
            scratch,
        }
    }
}

thread_local! {
    static FIXTURE: Fixture = Fixture::new();
}

/// Call `f` with the snapshot and the worker an input with config byte `config` starts from,
/// in the state a new input sees: the snapshot's `rr`/`wrr` rotations restarted (they are
/// shared state, and would otherwise carry over from the input before).
pub fn with_start<R>(config: u8, start: Start, f: impl FnOnce(&Snapshot, &mut Worker) -> R) -> R {
    FIXTURE.with(|fx| {
        fx.snap.restart_rotations();
        match start {
            Start::Copy => {
                let i = match (config & 1, config >> 1 & 1) {
                    (0, _) => 0,
                    (_, 0) => 1,
                    _ => 2,
                };
                let mut w = fx.scratch.borrow_mut();
                w.copy_from(&fx.synced[i]);
                f(&fx.snap, &mut w)
            }
            Start::Fresh => f(&fx.snap, &mut worker(config)),
        }
    })
}

/// Run one fuzz input (see the module documentation for its format) through a worker copied
/// from its configuration's synced one.
///
/// # Panics
/// When the pipeline panics, transmits on a port that does not exist, transmits a frame that
/// no longer parses, or breaks an IP or L4 checksum that was correct on arrival: each is a bug.
pub fn fuzz_one(data: &[u8]) -> Judged {
    let Some((&config, records)) = data.split_first() else {
        return Judged::default();
    };
    with_start(config, Start::Copy, |snap, w| {
        run_records(snap, w, records, |_, _| {})
    })
}

/// Run the records of an input (its bytes after the config byte) through `w`, judging every
/// verdict as [`fuzz_one`] does; `observe` sees each record's verdict and frame afterwards.
///
/// # Panics
/// As [`fuzz_one`].
pub fn run_records(
    snap: &Snapshot,
    w: &mut Worker,
    mut rest: &[u8],
    mut observe: impl FnMut(Verdict, &[u8]),
) -> Judged {
    let mut judged = Judged::default();
    let mut now: u32 = 1;
    let mut verdict = [Verdict::Drop(DropReason::NotForUs)];
    while let Some((&ctl, r)) = rest.split_first() {
        let (len, r) = match r {
            [a, b, r @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), r),
            _ => (r.len(), &[][..]),
        };
        let (bytes, r) = r.split_at(len.min(r.len()));
        rest = r;
        if ctl & 0x40 != 0 {
            now = now.wrapping_add(1000);
        }
        now = now.wrapping_add(u32::from(ctl >> 2 & 7));
        let in_port = ctl & 3;
        let arrived_sound = frame_checksums_ok(bytes) == Some(true);
        let mut frame = [VecFrame::new(bytes)];
        w.process(snap, now, in_port, &mut frame, &mut verdict);
        observe(verdict[0], frame[0].data());
        let (sent, mtu) = match verdict[0] {
            Verdict::Tx(p) => (Some(p), None),
            Verdict::TxFragment { port, mtu } => (Some(port), Some(mtu)),
            _ => (None, None),
        };
        if let Some(mtu) = mtu {
            check_fragments(frame[0].data(), mtu);
        }
        if let Some(p) = sent {
            assert!(usize::from(p) < snap.ports.len(), "tx on missing port {p}");
            check_parses(frame[0].data());
            judged.sent += 1;
            if arrived_sound {
                judged.checksums += 1;
                assert_ne!(
                    frame_checksums_ok(frame[0].data()),
                    Some(false),
                    "a frame that arrived with correct checksums left with a wrong one"
                );
            }
        }
        if ctl & 0x20 != 0 {
            w.tick(now);
        }
    }
    judged
}

/// What [`fuzz_one`] checked, so the corpus replay can show that its oracles had work to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// Frames transmitted (each checked to parse, on an existing port).
    pub sent: usize,
    /// Of those, frames that arrived with correct checksums, so theirs were checked on the way out.
    pub checksums: usize,
}

/// Assert that a transmitted frame parses; for IP-in-IP (which the parser does not take as a
/// packet to forward) the inner packet must parse behind the same Ethernet header.
fn check_parses(d: &[u8]) {
    match parse(d) {
        Ok(()) => {}
        Err(DropReason::UnsupportedL4Proto) => {
            let l3 = if d[12..14] == [0x81, 0x00] { 18 } else { 14 };
            assert!(
                d[l3] >> 4 == 4 && d[l3 + 9] == 4,
                "transmitted frame does not parse: UnsupportedL4Proto"
            );
            let inner_l3 = l3 + usize::from(d[l3] & 0xf) * 4;
            let mut inner = d[..l3].to_vec();
            inner.extend_from_slice(&d[inner_l3..]);
            if let Err(r) = parse(&inner) {
                panic!("IP-in-IP inner packet does not parse: {r:?}");
            }
        }
        Err(r) => panic!("transmitted frame does not parse: {r:?}"),
    }
}

/// Split a frame the worker hands its loop to fragment as the loop does: when it can be split,
/// every piece must fit `mtu`, carry a valid IPv4 header checksum, and the pieces together the
/// datagram's payload.
fn check_fragments(d: &[u8], mtu: u16) {
    let l3 = if d[12..14] == [0x81, 0x00] { 18 } else { 14 };
    let mut carried = 0;
    let r = crate::wire::fragmenter::fragment(d, mtu, 1, |head, payload| {
        let ip = head.len() - l3 + payload.len();
        assert!(
            ip <= usize::from(mtu),
            "a fragment of {ip} bytes for MTU {mtu}"
        );
        if head[l3] >> 4 == 4 {
            let h = crate::wire::Ipv4Packet::new_unchecked(&head[l3..]);
            assert!(h.verify_checksum(), "a fragment with a bad header checksum");
            carried += usize::from(h.total_len()) - h.header_len();
        } else {
            carried += payload.len();
        }
        true
    });
    if r.is_ok() {
        let v4 = d[l3] >> 4 == 4;
        let payload = if v4 {
            let h = crate::wire::Ipv4Packet::new_unchecked(&d[l3..]);
            usize::from(h.total_len()) - h.header_len()
        } else {
            usize::from(u16::from_be_bytes([d[l3 + 4], d[l3 + 5]]))
        };
        // The worker hands over only frames larger than the MTU, so there are always pieces.
        assert!(
            r != Ok(1),
            "a frame that fits {mtu} handed over for fragmenting"
        );
        assert_eq!(
            carried, payload,
            "the fragments carry {carried} of {payload} bytes"
        );
    }
}

/// Parse a frame as the worker does: a fragment through the fragment parser.
fn parse(d: &[u8]) -> Result<(), DropReason> {
    match parse_frame(d) {
        Ok(_) => Ok(()),
        Err(DropReason::Ipv4Fragment | DropReason::Ipv6Fragment) => {
            crate::wire::parse_fragment(d).map(|_| ())
        }
        Err(r) => Err(r),
    }
}
