//! How far the TLB reaches over huge pages: a pointer chase through lines each in its own
//! 4 KiB page, scattered over a buffer on 2 MiB pages, against the same lines packed 64 to a
//! page. The lines fit the L2 either way, so the difference is address translation. Where the
//! TLB holds the 2 MiB pages as such, a few thousand scattered pages cost about what packed
//! lines do; on a KVM guest whose host backs it with 4 KiB pages, each one walks.
//!
//! `ferrovs doctor` takes one [`measure`]ment (its `tlb` check), and the `tlb_reach` example
//! (`make bench`'s first step) the whole curve. Safe code: it only reads and writes a `Vec`.

use std::hint::black_box;
use std::time::Instant;

use crate::{on_huge_pages, Placement};

/// A cache line.
pub const LINE: usize = 64;
/// A small page.
pub const PAGE: usize = 4096;

/// A small xorshift: the same sequence every run.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n`. Panics if `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "a value below 0");
        (self.next_u64() % n as u64) as usize
    }
}

/// Lines in a small page.
const PAGE_LINES: usize = PAGE / LINE;
/// Consecutive scattered lines whose pages' low five bits all differ (see [`lines`]).
const PAGE_BITS_RUN: usize = 32;

/// `n` lines (as `u64` word offsets), one in each of `n` pages scattered over a buffer of
/// `buf_bytes` (`spread`), or packed 64 to a page.
///
/// Scattered: line `i` is in page `i * s` modulo the buffer's pages, `s` the first number from
/// 40503 up that shares no factor with the page count (so the pages are distinct), at line
/// `(i + i / 32) % 64` of its page. The L2's set index is address bits 6-16, which a 2 MiB page
/// keeps from virtual to physical: the page's low five bits follow `i % 32`, and for each of
/// those the line number runs through all 64 values as `i / 32` does, so `n` lines fill
/// `min(n, 2048)` sets evenly; the L1's (bits 6-11) spread too. (The line number taken from
/// `i % 64` alone would repeat the same 64 L2 sets, and on a machine that maps 2 MiB pages as
/// such the chase would measure L2 conflicts, not translation.)
///
/// Panics unless `n` is between 1 and the buffer's page count.
pub fn lines(buf_bytes: usize, n: usize, spread: bool) -> Vec<usize> {
    let pages = buf_bytes / PAGE;
    assert!(
        n >= 1 && n <= pages,
        "{n} lines need a buffer of at least {n} pages of 4 KiB ({pages} given)"
    );
    let mut stride = 40503;
    while gcd(stride, pages) != 1 {
        stride += 1;
    }
    (0..n)
        .map(|i| {
            let byte = if spread {
                (i * stride % pages) * PAGE + ((i + i / PAGE_BITS_RUN) % PAGE_LINES) * LINE
            } else {
                i * LINE
            };
            byte / 8
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Nanoseconds a load of `loads` loads chasing through `lines` (word offsets into `buf`, at
/// least one, each its own) in a random cyclic order.
pub fn chase(buf: &mut [u64], lines: &mut [usize], rng: &mut Rng, loads: usize) -> f64 {
    assert!(!lines.is_empty(), "a chase needs a line");
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.below(i + 1));
    }
    for (i, &at) in lines.iter().enumerate() {
        buf[at] = lines[(i + 1) % lines.len()] as u64;
    }
    let mut p = lines[0];
    for _ in 0..lines.len() * 4 {
        p = buf[p] as usize;
    }
    let t = Instant::now();
    for _ in 0..loads {
        p = buf[p] as usize;
    }
    let ns = t.elapsed().as_nanos() as f64 / loads.max(1) as f64;
    black_box(p);
    ns
}

/// One reading: `pages` lines scattered over `mib` MiB against the same lines packed.
#[derive(Clone, Debug)]
pub struct Reading {
    /// Lines chased, each in its own 4 KiB page when scattered.
    pub pages: usize,
    /// The buffer's size.
    pub mib: usize,
    /// Nanoseconds a load, scattered.
    pub spread_ns: f64,
    /// Nanoseconds a load, packed.
    pub packed_ns: f64,
    /// Where the buffer went: the reading is about huge pages only if `huge_bytes` covers it.
    pub placement: Placement,
}

impl Reading {
    /// Whether the whole buffer sat on huge pages.
    pub fn on_huge_pages(&self) -> bool {
        self.placement.huge_bytes >= self.mib << 20
    }
}

/// Chase `pages` lines scattered over a buffer of `mib` MiB made on huge pages (when the
/// process's allocator is [`crate::TableAlloc`] and enough are free), then packed; `loads`
/// loads each. Panics unless `pages` is between 1 and the buffer's 4 KiB pages.
pub fn measure(mib: usize, pages: usize, loads: usize) -> Reading {
    let bytes = mib << 20;
    let (mut buf, placement) = on_huge_pages(|| vec![0u64; bytes / 8]);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let spread_ns = chase(&mut buf, &mut lines(bytes, pages, true), &mut rng, loads);
    let packed_ns = chase(&mut buf, &mut lines(bytes, pages, false), &mut rng, loads);
    Reading {
        pages,
        mib,
        spread_ns,
        packed_ns,
        placement,
    }
}
