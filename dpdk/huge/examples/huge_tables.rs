//! Established packets through the worker (`Worker::process`, what the gateway's loop calls per
//! burst) at 1M sessions: session tables on 2 MiB huge pages (`dpdk::huge`, as the gateway
//! makes them with `hugepages = true`) against normal 4 KiB pages, each with the burst prefetch
//! on and off. Four workers hold the same sessions; they take the same shuffled packets in
//! turn, round after round, and the fastest round of each is printed (ns per packet): on a
//! shared machine the least disturbed round is the comparable one.
//!
//! ```text
//! cargo run --release -p dpdk-huge --example huge_tables [FLOWS [ROUNDS]]
//! ```
//!
//! Needs about 100 free 2 MiB huge pages (per huge worker, 1M sessions).

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dataplane::frame::VecFrame;
use dataplane::fuzzing::snapshot;
use dataplane::snapshot::Snapshot;
use dataplane::wire::DropReason;
use dataplane::worker::{Verdict, Worker, WorkerConfig};
use dpdk_huge::{on_huge_pages, TableAlloc};
use testkit::packet::{tcp, ACK, FROM_CLIENT, SYN};

#[global_allocator]
static ALLOC: TableAlloc = TableAlloc;

const BURST: usize = 32;

/// Client endpoint of flow `i`.
fn client(i: usize) -> (IpAddr, u16) {
    let i = u32::try_from(i).expect("flows fit u32");
    (
        IpAddr::from((0x0a00_0000 + (i >> 8)).to_be_bytes()),
        1024 + (i & 0xff) as u16,
    )
}

fn frame(i: usize, flags: u8) -> Vec<u8> {
    // The fixture's DR service: established packets are looked up by their inbound key.
    let (c, p) = client(i);
    tcp(
        FROM_CLIENT,
        c,
        "198.18.0.100".parse().unwrap(),
        p,
        80,
        flags,
        &[],
    )
}

fn run(w: &mut Worker, snap: &Snapshot, frames: &[Vec<u8>], fs: &mut [VecFrame]) {
    let mut v = [Verdict::Drop(DropReason::NotForUs); BURST];
    for chunk in frames.chunks(BURST) {
        for (f, t) in fs.iter_mut().zip(chunk) {
            f.reset(t);
        }
        w.process(snap, 2, 0, &mut fs[..chunk.len()], &mut v[..chunk.len()]);
        black_box(&v);
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let flows = args.first().copied().unwrap_or(1 << 20);
    let rounds = args.get(1).copied().unwrap_or(7);
    let snap = snapshot();
    let cfg = |prefetch: bool| WorkerConfig {
        sessions4: flows + flows / 8,
        sessions6: 1024,
        // 0: prefetch every burst; MAX: never.
        prefetch_from: if prefetch { 0 } else { usize::MAX },
        ..WorkerConfig::default()
    };
    let mut fs: Vec<VecFrame> = (0..BURST)
        .map(|_| VecFrame::with_room(&[], 128, 256))
        .collect();
    let mut workers = Vec::new();
    for (name, huge, prefetch) in [
        ("huge pages, prefetch", true, true),
        ("huge pages, no prefetch", true, false),
        ("4 KiB pages, prefetch", false, true),
        ("4 KiB pages, no prefetch", false, false),
    ] {
        let mut w = if huge {
            let (w, placed) = on_huge_pages(|| Worker::new(cfg(prefetch)));
            assert!(
                placed.reason == 0 && placed.huge_bytes > 0,
                "tables not on huge pages: {:?}",
                placed.reason_text()
            );
            w
        } else {
            Worker::new(cfg(prefetch))
        };
        // Open every flow (SYN then ACK), in bursts.
        for flags in [SYN, ACK] {
            let opening: Vec<Vec<u8>> = (0..flows).map(|i| frame(i, flags)).collect();
            run(&mut w, &snap, &opening, &mut fs);
        }
        assert_eq!(w.sessions4().len(), flows, "{name}: every flow opened");
        workers.push((name, w, Duration::MAX));
    }
    // The measured packets: ACKs of every flow, in a shuffled order (a multiplicative walk).
    let step = (0..)
        .map(|k| 1_000_003 + 2 * k)
        .find(|s| gcd(*s, flows) == 1)
        .unwrap();
    let acks: Vec<Vec<u8>> = (0..flows).map(|i| frame(i * step % flows, ACK)).collect();
    for _ in 0..rounds {
        for (_, w, best) in &mut workers {
            let t0 = Instant::now();
            run(w, &snap, &acks, &mut fs);
            *best = (*best).min(t0.elapsed());
        }
    }
    println!("{flows} sessions, {rounds} rounds, fastest round:");
    for (name, _, best) in &workers {
        println!(
            "  {name:26} {:6.1} ns/packet",
            best.as_nanos() as f64 / flows as f64
        );
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
