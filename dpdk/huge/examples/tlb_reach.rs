//! How many 4 KiB pages the TLB reaches on this machine, and what a session table's random
//! accesses pay beyond it: a probe for "where the time goes" at 1M and 10M sessions.
//!
//! **Reach.** A pointer chase over `N` cache lines, each in its own 4 KiB page, the pages
//! scattered over a buffer of MIB (`dpdk::huge::reach`, which `ferrovs doctor` reads once). The
//! lines spread over the cache sets, and 8192 of them are 512 KiB, which the L2 holds. The
//! control chases the same number of lines packed 64 to a page. On huge pages, the scattered
//! lines lie in at most MIB / 2 pages of 2 MiB: if the TLB caches those at that size, spread
//! and packed cost about the same up to thousands of lines. If spread climbs once `N` outgrows
//! the TLB's 4 KiB entries, translations are cached at 4 KiB whatever the process maps: a KVM
//! guest whose host backs its memory with 4 KiB pages.
//!
//! **Two lines a packet.** What a lookup reads at a large table, in bursts of 32 with the
//! worker's two prefetch stages: a random "bucket" line, then the "record" line it points at,
//! random in a second buffer (apart: the index and the slab are two arrays), or in the second
//! half of the bucket's own 4 KiB page (beside: a layout that would put each record in its
//! bucket's page). Both layouts span the same memory. A third reads one random line of a buffer
//! as large (direct: a record found from the hash alone, no bucket), the floor for any layout
//! whose lookup reads one line, not two. Three schedules: the loads alone; each
//! packet followed by about 40 ns of dependent work (a DR packet's own cost at 1K sessions);
//! and that work with the next burst's buckets asked for a burst ahead. Whether the misses
//! hide behind the work, and how much a record beside its bucket would save, bound what a
//! change to the tables' layout or the loop could gain.
//!
//! ```text
//! cargo run --release -p dpdk-huge --example tlb_reach [MIB] [--json]
//! ```
//!
//! Needs 2 x MIB (default 1024) of free 2 MiB huge pages for the huge rows; without them those
//! rows say they ran on normal pages. `--json`: one JSON line a row (`make bench`'s `tlb` step).

use std::hint::black_box;
use std::time::Instant;

use dpdk_huge::reach::{chase, lines, Rng, LINE, PAGE};
use dpdk_huge::{on_huge_pages, TableAlloc};
use serde_json::json;

#[global_allocator]
static ALLOC: TableAlloc = TableAlloc;

/// `u64` words in a line.
const WORDS: usize = LINE / 8;
/// Buckets in a page, beside: the first half of its lines (the records take the second).
const HALF: usize = PAGE / LINE / 2;
const BURST: usize = 32;
/// Loads a chase point takes.
const LOADS: usize = 10_000_000;
/// The smallest buffer: the reach's 8192 scattered lines need 8192 pages of 4 KiB.
const MIN_MIB: usize = 32;

/// Ask for `r`'s cache line, as the worker's burst stages do (`prefetcht0`; nothing elsewhere).
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    safe_arch::prefetch_t0(r);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = r;
}

/// Nanoseconds to two decimals, for the JSON lines.
fn ns2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A buffer of `bytes`, zeroed, on huge pages if `huge` (and enough are free).
fn buffer(bytes: usize, huge: bool) -> (Vec<u64>, String) {
    let make = || vec![0u64; bytes / 8];
    if huge {
        let (v, p) = on_huge_pages(make);
        (v, p.summary())
    } else {
        (make(), "normal (4 KiB pages)".to_owned())
    }
}

/// Where a lookup finds its record.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// A bucket line points at a record line in a second buffer (the index and the slab).
    Apart,
    /// A bucket line points at a record line in the second half of its own 4 KiB page.
    Beside,
    /// The record line is found from the hash alone: one line a lookup, no bucket.
    Direct,
}

/// The two-line pattern's memory: `lines` buckets, each pointing at its record, in `records`
/// or (`Beside`) in another line of the bucket's own page; `Direct`: `2 * lines` records
/// (the same span) and no buckets.
struct TwoLines {
    buckets: Vec<u64>,
    records: Vec<u64>,
    layout: Layout,
    lines: usize,
    placed: String,
}

impl TwoLines {
    /// `bytes` of buckets; the records take as much again, in their own buffer (apart) or in
    /// the second half of each bucket's page (beside), so both layouts span the same memory.
    /// Direct: `2 * bytes` of records alone.
    fn new(bytes: usize, huge: bool, layout: Layout) -> Self {
        if layout == Layout::Direct {
            let (mut records, placed) = buffer(2 * bytes, huge);
            // Written, as the other layouts' lines are: a page never written reads as the
            // kernel's one zero page (or faults on first touch).
            for (i, line) in records.chunks_mut(WORDS).enumerate() {
                line[1] = i as u64;
            }
            return TwoLines {
                buckets: Vec::new(),
                records,
                layout,
                lines: 2 * bytes / LINE,
                placed,
            };
        }
        let beside = layout == Layout::Beside;
        let lines = bytes / LINE;
        let (mut buckets, placed) = buffer(if beside { 2 * bytes } else { bytes }, huge);
        let mut records = if beside {
            Vec::new()
        } else {
            buffer(bytes, huge).0
        };
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for b in 0..lines {
            // Bucket `b`'s first word says where its record's word is: a random line of
            // `records`, or of the second half of the bucket's own page.
            let (bucket, at) = if beside {
                let page = b / HALF * PAGE / 8;
                (
                    page + b % HALF * WORDS,
                    page + (HALF + rng.below(HALF)) * WORDS,
                )
            } else {
                (b * WORDS, rng.below(lines) * WORDS)
            };
            buckets[bucket] = at as u64;
            let rec = if beside { &mut buckets } else { &mut records };
            rec[at] = b as u64;
        }
        TwoLines {
            buckets,
            records,
            layout,
            lines,
            placed,
        }
    }

    /// Bucket `b`'s first word (direct: record `b`'s, the line a lookup starts from).
    fn bucket(&self, b: usize) -> &u64 {
        match self.layout {
            Layout::Beside => &self.buckets[b / HALF * PAGE / 8 + b % HALF * WORDS],
            Layout::Apart => &self.buckets[b * WORDS],
            Layout::Direct => &self.records[b * WORDS],
        }
    }

    fn record(&self, at: usize) -> &u64 {
        match self.layout {
            Layout::Beside => &self.buckets[at],
            Layout::Apart | Layout::Direct => &self.records[at],
        }
    }

    /// Nanoseconds a packet: per burst of 32, prefetch the buckets, read them and prefetch
    /// the records, then read the records, each followed by `work` rounds of a dependent
    /// multiply (the packet's own work). `ahead`: the next burst's buckets are asked for
    /// before this burst's work, a burst ahead.
    fn run(&self, work: u32, ahead: bool) -> f64 {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = [0usize; BURST];
        let fill = |idx: &mut [usize; BURST], rng: &mut Rng| {
            for i in idx.iter_mut() {
                *i = rng.below(self.lines);
                prefetch(self.bucket(*i));
            }
        };
        if ahead {
            fill(&mut next, &mut rng);
        }
        let packets = 2_000_000;
        let mut sum = 0u64;
        let mut rec = [0usize; BURST];
        let t = Instant::now();
        for _ in 0..packets / BURST {
            let mut idx = next;
            if !ahead {
                fill(&mut idx, &mut rng);
            }
            for (r, &i) in rec.iter_mut().zip(&idx) {
                if self.layout == Layout::Direct {
                    // The line asked for in the first stage is the record itself.
                    *r = i * WORDS;
                } else {
                    *r = *self.bucket(i) as usize;
                    prefetch(self.record(*r));
                }
            }
            if ahead {
                fill(&mut next, &mut rng);
            }
            for &r in &rec {
                sum = sum.wrapping_add(*self.record(r));
                for _ in 0..work {
                    sum = sum.wrapping_mul(0x5851_f42d_4c95_7f2d) ^ (sum >> 29);
                }
            }
        }
        let ns = t.elapsed().as_nanos() as f64 / packets as f64;
        black_box(sum);
        ns
    }
}

/// Rounds of the probe's per-packet work: about 40 ns here (the 1 MiB rows' "work" less "no
/// work"), a DR packet's own cost at 1K sessions in criterion.
const WORK: u32 = 40;

/// The schedules the two-line pattern runs: (name, work rounds, a burst ahead).
const SCHEDULES: [(&str, u32, bool); 3] = [
    ("no work", 0, false),
    ("work", WORK, false),
    ("work, a burst ahead", WORK, true),
];

/// Where the rows go: words for a reader, or JSON lines for `make bench`.
#[derive(Clone, Copy)]
struct Out {
    json: bool,
}

fn reach(out: Out, bytes: usize, huge: bool) {
    let (mut buf, placed) = buffer(bytes, huge);
    if !out.json {
        println!("reach, buffer {} MiB: {placed}", bytes >> 20);
        println!("  pages   spread ns/load   packed ns/load");
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in [256, 512, 1024, 1536, 2048, 3072, 4096, 8192] {
        let spread = chase(&mut buf, &mut lines(bytes, n, true), &mut rng, LOADS);
        let packed = chase(&mut buf, &mut lines(bytes, n, false), &mut rng, LOADS);
        if out.json {
            let row = json!({"kind": "reach", "mib": bytes >> 20, "huge": huge, "placed": placed,
                "lines": n, "spread_ns": ns2(spread), "packed_ns": ns2(packed)});
            println!("{row}");
        } else {
            println!("  {n:>5}   {spread:>14.2}   {packed:>14.2}");
        }
    }
}

fn main() {
    let mut out = Out { json: false };
    let mut mib = None;
    for a in std::env::args().skip(1) {
        match (a.as_str(), a.parse::<usize>()) {
            ("--json", _) => out.json = true,
            (_, Ok(n)) if n >= MIN_MIB && mib.is_none() => mib = Some(n),
            _ => {
                eprintln!(
                    "usage: tlb_reach [MIB] [--json]: MIB, at least {MIN_MIB}, the buffers' size \
                     (default 1024); --json, a JSON line a row"
                );
                std::process::exit(2);
            }
        }
    }
    let mib = mib.unwrap_or(1024);
    let bytes = mib << 20;
    for huge in [true, false] {
        reach(out, bytes, huge);
    }
    if !out.json {
        println!("two lines a packet (bursts of {BURST}, both prefetch stages)");
    }
    let mut sizes = vec![1, 64, mib];
    sizes.sort_unstable();
    sizes.dedup();
    for m in sizes {
        for huge in [true, false] {
            // One layout at a time, so each finds the same free huge pages.
            let measure = |layout: Layout| {
                let t = TwoLines::new(m << 20, huge, layout);
                let ns = SCHEDULES.map(|(_, work, ahead)| t.run(work, ahead));
                (ns, t.placed)
            };
            let (apart, placed) = measure(Layout::Apart);
            let (beside, beside_placed) = measure(Layout::Beside);
            let (direct, direct_placed) = measure(Layout::Direct);
            // Beside and direct span twice the buckets' bytes, so their summaries' sizes
            // differ; say each only when one layout fell back to normal pages and another
            // did not.
            let kind = |p: &str| p.split(' ').next().unwrap_or("").to_owned();
            let placed =
                if kind(&placed) == kind(&beside_placed) && kind(&placed) == kind(&direct_placed) {
                    placed
                } else {
                    format!("apart {placed}, beside {beside_placed}, one line {direct_placed}")
                };
            for ((((name, _, _), a), b), d) in SCHEDULES.iter().zip(apart).zip(beside).zip(direct) {
                if out.json {
                    let row = json!({"kind": "two_lines", "mib": m, "huge": huge,
                        "placed": placed, "schedule": name, "apart_ns": ns2(a),
                        "beside_ns": ns2(b), "direct_ns": ns2(d)});
                    println!("{row}");
                } else {
                    println!(
                        "  {m:>5} MiB, {placed}, {name}: record apart {a:.2} ns, beside its bucket {b:.2} ns, one line {d:.2} ns"
                    );
                }
            }
        }
    }
}
