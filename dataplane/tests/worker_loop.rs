//! The real worker loop (`dataplane::worker_loop`, what `ferrovs run` and `ferrovs-bench` run)
//! on in-memory queues and rings: frames forwarded, punted, redirected between two workers,
//! injected; every ring-full drop counted; the timer wheel run; the loop stops on its flag;
//! an idle worker sleeps in sleep mode and not in busy mode; nothing allocates once running.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use dataplane::counters::WorkerCounters;
use dataplane::frame::Frame;
use dataplane::fuzzing::{backend_mac, port_mac, snapshot};
use dataplane::io::mem::{Channel, MemFrame};
use dataplane::io::{Clock, PortMap, StdClock};
use dataplane::snapshot::Snapshot;
use dataplane::wire::DropReason;
use dataplane::worker::{nat_owner, Worker, WorkerConfig};
use dataplane::worker_loop::{self, IdleMode, LoopEnv, WorkerIo, WorkerLoop, SLEEP_AFTER};
use testkit::packet::{arp_request, from_backend, icmp, ip, tcp, udp, FROM_CLIENT, SYN};

/// Device port ids of the snapshot's three gateway ports (not 0, 1, 2, so a missing mapping
/// shows).
const DEV: [u16; 3] = [10, 11, 12];

type Io = WorkerIo<Channel<MemFrame>, Channel<MemFrame>, Channel<MemFrame>, Channel<MemFrame>>;

/// The far ends of one worker's queues, for the test to feed and read.
struct Wires {
    rx: Vec<Channel<MemFrame>>,
    tx: Vec<Channel<MemFrame>>,
    punt: Channel<MemFrame>,
    inject: Channel<MemFrame>,
}

/// A worker's queues: three ports, a punt ring of `punt_cap` and TX queues of `tx_cap`, no
/// redirect rings (one worker).
fn io(tx_cap: usize, punt_cap: usize) -> (Io, Wires) {
    let rx: Vec<_> = (0..3).map(|_| Channel::new(1024)).collect();
    let tx: Vec<_> = (0..3).map(|_| Channel::new(tx_cap)).collect();
    let punt = Channel::new(punt_cap);
    let inject = Channel::new(1024);
    let io = WorkerIo {
        rx: rx.clone(),
        tx: tx.clone(),
        punt: punt.clone(),
        redirect_out: vec![None],
        redirect_in: vec![],
        inject_in: inject.clone(),
    };
    (
        io,
        Wires {
            rx,
            tx,
            punt,
            inject,
        },
    )
}

fn worker(id: u16, workers: u16) -> Worker {
    Worker::new(WorkerConfig {
        id,
        workers,
        sessions4: 1024,
        sessions6: 1024,
        templates: 64,
        max_services: 32,
        max_backends: 32,
        ..WorkerConfig::default()
    })
}

fn ports() -> PortMap {
    PortMap::new(DEV.iter().zip(0u8..).map(|(&d, i)| (d, i)).collect())
}

fn shared() -> Arc<ArcSwap<Snapshot>> {
    Arc::new(ArcSwap::from_pointee(snapshot()))
}

/// A frame arriving on gateway port `port`.
fn frame(data: &[u8], port: usize) -> MemFrame {
    MemFrame::new(data, DEV[port])
}

/// Wait (up to 10 s: the machine may be busy) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sets the flag when dropped: a failing test (a panic) still stops the loops it started.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Run `w` on `io` on a thread of its own while `test` runs; stop it and return the worker.
fn running<K: Clock + Send + Sync>(
    mut w: Worker,
    mut io: Io,
    shared: &ArcSwap<Snapshot>,
    clock: K,
    idle: IdleMode,
    test: impl FnOnce(&WorkerCounters),
) -> Worker {
    let stop = AtomicBool::new(false);
    let map = ports();
    let c = w.counters().clone();
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let env = LoopEnv {
                shared,
                stop: &stop,
                ports: &map,
                clock,
                idle,
            };
            worker_loop::run(&mut w, &mut io, &env, &mut ());
        });
        let _stop = StopOnDrop(&stop);
        test(&c);
        drop(_stop);
        h.join().expect("the loop does not panic");
    });
    w
}

fn dr_syn(cport: u16) -> Vec<u8> {
    tcp(
        FROM_CLIENT,
        ip("10.0.0.1"),
        ip("198.18.0.100"),
        cport,
        80,
        SYN,
        &[],
    )
}

#[test]
fn test_forwards_and_drops_with_counts() {
    let (io, wires) = io(1024, 1024);
    let shared = shared();
    running(
        worker(0, 1),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Busy,
        |c| {
            for p in 0..40 {
                assert!(wires.rx[0].push(frame(&dr_syn(1000 + p), 0)));
            }
            // Malformed: a truncated IPv4 header.
            assert!(wires.rx[0].push(frame(&dr_syn(999)[..20], 0)));
            wait_for("40 frames sent on port 1", || wires.tx[1].len() == 40);
            wait_for("the drop counted", || {
                c.drops.iter().map(|d| d.get()).sum::<u64>() == 1
            });
            let out = wires.tx[1].take_all();
            for f in &out {
                assert_eq!(
                    &f.data()[..6],
                    &backend_mac(10),
                    "DR: to the real server's MAC"
                );
                assert_eq!(&f.data()[6..12], &port_mac(1));
            }
            assert_eq!(c.rx.get(), 41);
            assert_eq!(c.tx.get(), 40);
            assert!(wires.tx[0].is_empty() && wires.tx[2].is_empty());
            assert!(wires.punt.is_empty());
            assert!(c.busy_polls.get() >= 2, "40 frames take two bursts of 32");
            wait_for("idle polls once the queue is empty", || {
                c.idle_polls.get() > 0
            });
            assert_eq!(c.idle_sleeps.get(), 0, "busy mode never sleeps");
        },
    );
}

#[test]
fn test_punts_and_counts_ring_full_drops() {
    // Room for 2 punted frames and 3 sent ones.
    let (io, wires) = io(3, 2);
    let shared = shared();
    running(
        worker(0, 1),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Busy,
        |c| {
            // One burst: 4 ARP requests for a VIP, 5 DR SYNs.
            for i in 0..4 {
                wires.rx[0].push(frame(
                    &arp_request([198, 18, 0, 9 + i], [198, 18, 0, 100]),
                    0,
                ));
            }
            for p in 0..5 {
                wires.rx[0].push(frame(&dr_syn(2000 + p), 0));
            }
            wait_for("the burst handled", || c.rx.get() == 9);
            wait_for("drops counted", || {
                c.drops_of(DropReason::PuntRingFull) == 2 && c.drops_of(DropReason::TxRingFull) == 2
            });
            assert_eq!(c.punted.get(), 4);
            assert_eq!(wires.punt.len(), 2, "the punt ring took what fitted");
            assert_eq!(wires.tx[1].len(), 3, "the TX queue took what fitted");
            let arp = wires.punt.take_all();
            assert_eq!(
                &arp[0].data()[12..14],
                &[0x08, 0x06],
                "ARP reaches control unchanged"
            );
            assert_eq!(arp[0].port, DEV[0], "with the port it came in on");
        },
    );
}

#[test]
fn test_injected_frames_take_their_port_from_the_port_map() {
    let (io, wires) = io(1024, 1024);
    let shared = shared();
    running(
        worker(0, 1),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Busy,
        |c| {
            // An echo request to a VIP is answered on the port it came in on: injected with
            // port 1's device id, it must leave on port 1.
            let ping = |m| {
                icmp(
                    m,
                    ip("198.18.1.50"),
                    ip("198.18.0.100"),
                    8,
                    0,
                    [0, 1, 0, 1],
                    b"x",
                )
            };
            wires
                .inject
                .push(frame(&ping((backend_mac(50), port_mac(1))), 1));
            wait_for("the echo reply on port 1", || wires.tx[1].len() == 1);
            wires.inject.push(frame(&ping(FROM_CLIENT), 0));
            wait_for("the echo reply on port 0", || wires.tx[0].len() == 1);
            assert_eq!(c.icmp_echo_answered.get(), 2);
            assert!(wires.tx[2].is_empty());
            let r = wires.tx[1].take_all();
            assert_eq!(&r[0].data()[..6], &backend_mac(50), "back to the sender");
        },
    );
}

/// Two workers joined by redirect rings: a NAT connection from a client that worker 1 owns,
/// received by worker 0, crosses the ring and leaves worker 1 towards the real server.
#[test]
fn test_redirects_to_the_owner_across_rings() {
    let client = (1..=255u8)
        .map(|i| ip(&format!("10.0.1.{i}")))
        .find(|&a| nat_owner(a, 2) == 1)
        .expect("some client belongs to worker 1");
    let ring01 = Channel::new(1024);
    let ring10 = Channel::new(1024);
    let (mut io0, w0) = io(1024, 1024);
    let (mut io1, w1) = io(1024, 1024);
    io0.redirect_out = vec![None, Some(ring01.clone())];
    io1.redirect_in = vec![ring01];
    io1.redirect_out = vec![Some(ring10.clone()), None];
    io0.redirect_in = vec![ring10];
    let shared = shared();
    let stop = AtomicBool::new(false);
    let map = ports();
    let (mut wk0, mut wk1) = (worker(0, 2), worker(1, 2));
    let (c0, c1) = (wk0.counters().clone(), wk1.counters().clone());
    let env = LoopEnv {
        shared: &shared,
        stop: &stop,
        ports: &map,
        clock: StdClock::default(),
        idle: IdleMode::Busy,
    };
    let env = &env;
    std::thread::scope(|s| {
        let h0 = s.spawn(move || worker_loop::run(&mut wk0, &mut io0, env, &mut ()));
        let h1 = s.spawn(move || worker_loop::run(&mut wk1, &mut io1, env, &mut ()));
        let _stop = StopOnDrop(&stop);
        let syn = tcp(FROM_CLIENT, client, ip("198.18.0.101"), 4000, 80, SYN, &[]);
        w0.rx[0].push(frame(&syn, 0));
        wait_for("worker 1 forwards it", || w1.tx[1].len() == 1);
        assert_eq!(c0.redirected.get(), 1);
        assert_eq!(
            c1.sessions_created.get(),
            1,
            "the session lives on the owner"
        );
        assert_eq!(c0.sessions_created.get(), 0);
        assert!(w0.tx.iter().all(Channel::is_empty));
        let out = w1.tx[1].take_all();
        assert_eq!(
            &out[0].data()[..6],
            &backend_mac(11),
            "NAT: to the first rr server"
        );
        drop(_stop);
        h0.join().unwrap();
        h1.join().unwrap();
    });
}

#[test]
fn test_redirect_ring_full_is_counted() {
    let client = (1..=255u8)
        .map(|i| ip(&format!("10.0.1.{i}")))
        .find(|&a| nat_owner(a, 2) == 1)
        .expect("some client belongs to worker 1");
    let (mut io, wires) = io(1024, 1024);
    io.redirect_out = vec![None, Some(Channel::new(1))];
    let shared = shared();
    running(
        worker(0, 2),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Busy,
        |c| {
            for p in 0..3 {
                let syn = tcp(
                    FROM_CLIENT,
                    client,
                    ip("198.18.0.101"),
                    5000 + p,
                    80,
                    SYN,
                    &[],
                );
                wires.rx[0].push(frame(&syn, 0));
            }
            wait_for("two of three counted", || {
                c.drops_of(DropReason::RedirectRingFull) == 2
            });
            assert_eq!(c.redirected.get(), 3);
        },
    );
}

/// A clock the test sets (seconds, so `hz` is 1).
#[derive(Clone, Debug, Default)]
struct ManualClock(Arc<AtomicU64>);

impl Clock for ManualClock {
    fn ticks(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn hz(&self) -> u64 {
        1
    }
}

#[test]
fn test_timer_wheel_runs_without_traffic() {
    let (io, wires) = io(1024, 1024);
    let shared = shared();
    let clock = ManualClock::default();
    let t = clock.0.clone();
    let w = running(worker(0, 1), io, &shared, clock, IdleMode::Busy, |c| {
        let dns = udp(
            FROM_CLIENT,
            ip("10.0.0.7"),
            ip("198.18.0.100"),
            5353,
            53,
            b"q",
        );
        wires.rx[0].push(frame(&dns, 0));
        wait_for("a UDP session", || c.sessions_created.get() == 1);
        wait_for("the gauge updated by a tick", || c.sessions4.get() == 1);
        // A day later, with no traffic, the loop's periodic tick expires it.
        t.store(86_400, Ordering::Relaxed);
        wait_for("expired by the idle loop", || c.sessions_expired.get() == 1);
        wait_for("the gauge follows", || c.sessions4.get() == 0);
    });
    assert_eq!(w.sessions4().len(), 0);
}

#[test]
fn test_stops_on_the_flag_and_syncs_generations() {
    let (mut io, _wires) = io(1024, 1024);
    let shared = shared();
    let map = ports();
    let stop = AtomicBool::new(true);
    let mut w = worker(0, 1);
    let mut env = LoopEnv {
        shared: &shared,
        stop: &stop,
        ports: &map,
        clock: StdClock::default(),
        idle: IdleMode::Busy,
    };
    // Set before the start: not a single iteration.
    worker_loop::run(&mut w, &mut io, &env, &mut ());
    let c = w.counters().clone();
    assert_eq!(c.busy_polls.get() + c.idle_polls.get(), 0);
    // Running: an idle worker takes a new generation (control's reload confirmation), and
    // stops when told, from the per-iteration service here.
    let stop2 = AtomicBool::new(false);
    env.stop = &stop2;
    let mut served = 0u32;
    let mut service = |w: &Worker, _now: u32| {
        served += 1;
        if served == 10 {
            let mut next = snapshot();
            next.generation = 7;
            shared.store(Arc::new(next));
        }
        if w.counters().generation.get() == 7 {
            stop2.store(true, Ordering::Relaxed);
        }
    };
    worker_loop::run(&mut w, &mut io, &env, &mut service);
    assert_eq!(
        served, 11,
        "synced on the iteration after the store, then stopped"
    );
    assert_eq!(
        c.idle_polls.get(),
        11,
        "one poll per iteration until the stop"
    );
}

#[test]
fn test_idle_worker_sleeps_in_sleep_mode_and_wakes_for_a_frame() {
    let (io, wires) = io(1024, 1024);
    let shared = shared();
    running(
        worker(0, 1),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Sleep,
        |c| {
            let t0 = Instant::now();
            wait_for("some sleeps", || c.idle_sleeps.get() >= 20);
            std::thread::sleep(Duration::from_millis(200));
            let (polls, sleeps) = (c.idle_polls.get(), c.idle_sleeps.get());
            let elapsed_us = t0.elapsed().as_micros() as u64;
            // Every empty poll past the first run of SLEEP_AFTER is followed by a pause.
            assert!(
                polls <= u64::from(SLEEP_AFTER) + sleeps + 1,
                "{polls} empty polls, {sleeps} sleeps"
            );
            // Asleep most of the time (the pauses reach their cap quickly).
            assert!(
                c.idle_sleep_us.get() * 2 > elapsed_us,
                "slept {} of {elapsed_us} us",
                c.idle_sleep_us.get()
            );
            // The first frame wakes it (within a pause or so) and is forwarded.
            wires.rx[0].push(frame(&dr_syn(3000), 0));
            wait_for("forwarded while in sleep mode", || wires.tx[1].len() == 1);
            assert_eq!(c.busy_polls.get(), 1);
        },
    );
}

#[test]
fn test_busy_mode_polls_without_sleeping() {
    let (io, _wires) = io(1024, 1024);
    let shared = shared();
    running(
        worker(0, 1),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Busy,
        |c| {
            wait_for("many empty polls", || {
                c.idle_polls.get() > 10 * u64::from(SLEEP_AFTER)
            });
            assert_eq!(c.idle_sleeps.get(), 0);
            assert_eq!(c.idle_sleep_us.get(), 0);
        },
    );
}

/// A service that stops the loop on its `limit`th iteration.
fn stop_after(stop: &AtomicBool, limit: u32) -> impl FnMut(&Worker, u32) + '_ {
    let mut n = 0;
    move |_, _| {
        n += 1;
        if n >= limit {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Once running, the loop allocates nothing: receiving, forwarding, punting, dropping,
/// redirecting, the ring-full paths and the timer wheel included.
#[test]
fn test_loop_does_not_allocate() {
    let client = (1..=255u8)
        .map(|i| ip(&format!("10.0.1.{i}")))
        .find(|&a| nat_owner(a, 2) == 1)
        .expect("some client belongs to worker 1");
    let (mut io, wires) = io(16, 4);
    let redirect = Channel::new(4);
    io.redirect_out = vec![None, Some(redirect.clone())];
    io.redirect_in = vec![Channel::new(64)];
    let shared = shared();
    let map = ports();
    let stop = AtomicBool::new(false);
    let mut w = worker(0, 2);
    let env = LoopEnv {
        shared: &shared,
        stop: &stop,
        ports: &map,
        clock: StdClock::default(),
        idle: IdleMode::Busy,
    };
    let mut wl = WorkerLoop::new(&io);
    // Frames built before measuring: new flows (some past the TX queue's room), ARP (past the
    // punt ring's), redirects (past the ring's), malformed ones, injected ones.
    let mut frames = Vec::new();
    for p in 0..40 {
        frames.push((0, frame(&dr_syn(6000 + p), 0)));
        frames.push((
            0,
            frame(&arp_request([198, 18, 0, 2], [198, 18, 0, 100]), 0),
        ));
        let syn = tcp(
            FROM_CLIENT,
            client,
            ip("198.18.0.101"),
            6000 + p,
            80,
            SYN,
            &[],
        );
        frames.push((0, frame(&syn, 0)));
        frames.push((0, frame(&syn[..30], 0)));
        let reply = tcp(
            from_backend(10),
            ip("198.18.1.10"),
            ip("10.0.0.1"),
            80,
            6000 + p,
            0x10,
            &[],
        );
        frames.push((1, frame(&reply, 1)));
    }
    let (warm, rest) = frames.split_at(10);
    let feed = |batch: &[(usize, MemFrame)]| {
        for (port, f) in batch {
            wires.rx[*port].push(f.clone());
        }
    };
    let batch: Vec<_> = rest.to_vec();
    let injected: Vec<_> = (0..8).map(|p| frame(&dr_syn(7000 + p), 0)).collect();
    for f in injected {
        wires.inject.push(f);
    }
    // Warm up: the first sync builds the scheduler state.
    feed(warm);
    wl.run(&mut w, &mut io, &env, &mut stop_after(&stop, 200));
    stop.store(false, Ordering::Relaxed);
    feed(&batch);
    let mut service = stop_after(&stop, 500);
    let probe = allocation_counter::measure(|| {
        drop(std::hint::black_box(Vec::<u8>::with_capacity(64)));
    });
    assert_eq!(probe.count_total, 1, "the counting allocator is not in use");
    let info = allocation_counter::measure(|| {
        wl.run(&mut w, &mut io, &env, &mut service);
    });
    let c = w.counters();
    assert!(
        c.drops_of(DropReason::TxRingFull) > 0,
        "the TX-full path ran"
    );
    assert!(
        c.drops_of(DropReason::PuntRingFull) > 0,
        "the punt-full path ran"
    );
    assert!(
        c.drops_of(DropReason::RedirectRingFull) > 0,
        "the redirect-full path ran"
    );
    assert!(c.rx.get() >= 200, "the frames went through");
    assert_eq!(info.count_total, 0, "the running loop allocated");
}

/// Session sync through the running loop: a new flow's event reaches control's end, a peer's
/// session handed to the install ring is installed between bursts, and a full dump asked for
/// lists both, framed by its markers.
#[test]
fn test_loop_publishes_installs_and_dumps_synced_sessions() {
    use dataplane::frame::VecFrame;
    use dataplane::sync::{link, Install, Role, SyncConfig, SyncKind};
    use dataplane::worker::Verdict;
    // The peer: another gateway's worker opens a flow; its creation event is what arrives.
    let snap = snapshot();
    let mut peer = worker(0, 1);
    let (pl, mut pc) = link(SyncConfig::default());
    peer.attach_sync(pl);
    let mut f = [VecFrame::new(&dr_syn(2000))];
    let mut v = [Verdict::Drop(DropReason::NotForUs)];
    peer.process(&snap, 1, 0, &mut f, &mut v);
    assert_eq!(v[0], Verdict::Tx(1));
    let from_peer = pc.events.pop().expect("the peer's creation event");

    let (io, wires) = io(1024, 1024);
    let shared = shared();
    let mut w = worker(0, 1);
    let (wl, mut ctl) = link(SyncConfig::default());
    w.attach_sync(wl);
    let w = running(w, io, &shared, StdClock::default(), IdleMode::Busy, |c| {
        wires.rx[0].push(frame(&dr_syn(1000), 0));
        wait_for("the creation published", || c.sync_events.get() == 1);
        ctl.installs
            .push(Install {
                event: from_peer,
                role: Role::Home,
            })
            .unwrap();
        wait_for("the peer's session installed", || {
            c.sync_installed.get() == 1
        });
        ctl.request_dump();
        wait_for("a full dump", || ctl.dumps_done() == 1);
    });
    assert_eq!(w.sessions4().len(), 2);
    let evs: Vec<_> = std::iter::from_fn(|| ctl.events.pop().ok()).collect();
    let kinds: Vec<SyncKind> = evs.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            SyncKind::Created,
            SyncKind::DumpBegin,
            SyncKind::Dump,
            SyncKind::Dump,
            SyncKind::DumpEnd
        ]
    );
    assert_eq!(evs[0].cport, 1000);
    let mut dumped: Vec<u16> = evs[2..4].iter().map(|e| e.cport).collect();
    dumped.sort_unstable();
    assert_eq!(dumped, [1000, 2000], "the local and the installed session");
}

/// A reply too big for the port's MTU (a large ping of a VIP that arrived whole: the lab's
/// AF_PACKET reassembles, as GRO/LRO would) leaves in fragments that fit, built by the loop.
#[test]
fn test_fragments_what_the_worker_sends_too_big() {
    let (io, wires) = io(1024, 1024);
    let shared = shared();
    let data: Vec<u8> = (0..3000).map(|i| (i % 253) as u8).collect();
    let ping = icmp(
        FROM_CLIENT,
        ip("10.0.0.1"),
        ip("198.18.0.100"),
        8,
        0,
        [0, 7, 0, 1],
        &data,
    );
    running(
        worker(0, 1),
        io,
        &shared,
        StdClock::default(),
        IdleMode::Busy,
        |c| {
            assert!(wires.rx[0].push(frame(&ping, 0)));
            wait_for("the reply's fragments", || wires.tx[0].len() == 3);
            assert_eq!(c.fragments_sent.get(), 1);
            assert_eq!(c.tx.get(), 1, "one datagram");
            let mut whole = vec![0u8; 8 + 3000];
            for (i, f) in wires.tx[0].take_all().iter().enumerate() {
                let d = f.data();
                assert!(d.len() <= 14 + 1500);
                assert_eq!(&d[6..12], &port_mac(0));
                let tl = usize::from(u16::from_be_bytes([d[16], d[17]]));
                let fo = u16::from_be_bytes([d[20], d[21]]);
                assert_eq!(fo & 0x4000, 0, "DF clear");
                assert_eq!(fo & 0x2000 != 0, i < 2, "MF on all but the last");
                assert_eq!(&d[26..30], &[198, 18, 0, 100], "from the VIP");
                let off = usize::from(fo & 0x1fff) * 8;
                whole[off..off + tl - 20].copy_from_slice(&d[34..14 + tl]);
            }
            assert_eq!(whole[0], 0, "an echo reply");
            assert_eq!(&whole[8..], &data[..]);
            let sum = whole
                .chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
                .sum::<u32>();
            let folded = (sum & 0xffff) + (sum >> 16);
            assert_eq!((folded & 0xffff) + (folded >> 16), 0xffff, "ICMP checksum");
        },
    );
}
