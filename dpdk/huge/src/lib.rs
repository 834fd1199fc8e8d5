//! Session tables on 2 MiB huge pages (`hugepages = true`).
//!
//! A worker's session slab, index and side arrays are plain `Vec`s of the dataplane crate, which
//! has no `unsafe` and no DPDK; what they sit on is decided here, by the process's allocator.
//! [`TableAlloc`] (the gateway binary's `#[global_allocator]`) is the system allocator, except
//! on a thread inside [`on_huge_pages`]: there, blocks of at least [`HUGE_PAGE`] bytes are
//! anonymous `mmap(MAP_HUGETLB)` mappings (2 MiB pages, from the kernel's reserved pool, the one
//! `scripts/deps.sh` fills and DPDK's EAL draws from too). A mapping that fails (no free huge
//! pages, `ENOMEM`) leaves that block on normal pages and [`Placement`] says why, for the one
//! log line the caller writes. Huge mappings are recorded in a fixed registry so that freeing
//! one unmaps it; nothing else changes for other allocations (one thread-local flag test for
//! blocks of 2 MiB and more).
//!
//! Why not DPDK memory (`rte_malloc_socket`): the tables are made before the EAL's memory is
//! sized for them (`-m`/`--socket-mem` count mbuf pools), and a test or bench without an EAL
//! must still run the same code. NUMA placement follows first touch: the tables are filled on
//! the thread that builds the worker.
//!
//! Its own crate, beside `dpdk` (which re-exports it as `dpdk::huge`), because it links no DPDK:
//! the dataplane's criterion benches place their tables the way the gateway does with it.
//! `unsafe` is allowed here as in the other dpdk crates; every block says why it is sound.
#![allow(unsafe_code)]

pub mod reach;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Huge page size used (x86-64 and arm64 default).
pub const HUGE_PAGE: usize = 2 << 20;

/// Live huge mappings at most (a worker makes a handful: two slabs, two indexes, side arrays).
const SLOTS: usize = 256;

/// Base addresses of live huge mappings (0: free slot).
static BASE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

thread_local! {
    /// Whether this thread is inside [`on_huge_pages`].
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Bytes mapped on huge pages inside the current [`on_huge_pages`].
    static HUGE: Cell<usize> = const { Cell::new(0) };
    /// Bytes of large blocks left on normal pages inside it.
    static NORMAL: Cell<usize> = const { Cell::new(0) };
    /// The last reason a block was left on normal pages (an errno, or [`REGISTRY_FULL`]).
    static WHY: Cell<i32> = const { Cell::new(0) };
}

/// [`Placement::reason`]: the registry of huge mappings is full.
const REGISTRY_FULL: i32 = -1;

/// The process allocator: the system's, with the large blocks made inside [`on_huge_pages`] on
/// huge pages. Install it with `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableAlloc;

/// Where the large blocks made inside [`on_huge_pages`] went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Bytes on 2 MiB huge pages (whole pages).
    pub huge_bytes: usize,
    /// Bytes of blocks of at least [`HUGE_PAGE`] left on normal pages.
    pub normal_bytes: usize,
    /// Why the last of those was: an errno of `mmap` (`ENOMEM`: no free huge pages), or -1 when
    /// too many huge mappings were live; 0 when none was.
    pub reason: i32,
}

impl Placement {
    /// Why blocks fell back, in words (`None` when none did).
    pub fn reason_text(&self) -> Option<String> {
        match self.reason {
            0 => None,
            REGISTRY_FULL => Some(format!("more than {SLOTS} huge mappings live")),
            e => Some(format!(
                "mmap(MAP_HUGETLB): {} (free 2 MiB huge pages: {})",
                std::io::Error::from_raw_os_error(e),
                free_huge_pages().map_or_else(|| "unknown".to_owned(), |n| n.to_string())
            )),
        }
    }

    /// Where the blocks went, in one phrase for a bench's results: `huge (N MiB on 2 MiB
    /// pages)`, or `normal (...)` with both sizes and the reason when some fell back, or when
    /// no block was large enough to place.
    pub fn summary(&self) -> String {
        let mib = |b: usize| b.div_ceil(1 << 20);
        match self.reason_text() {
            None if self.huge_bytes == 0 => "normal (no block of 2 MiB or more)".to_owned(),
            None => format!("huge ({} MiB on 2 MiB pages)", mib(self.huge_bytes)),
            Some(why) => format!(
                "normal ({} MiB on 4 KiB pages, {} MiB on 2 MiB pages: {why})",
                mib(self.normal_bytes),
                mib(self.huge_bytes)
            ),
        }
    }
}

/// Run `f` with the large blocks it allocates on huge pages, and say where they went. Without
/// [`TableAlloc`] installed as the global allocator nothing is placed (both byte counts 0).
pub fn on_huge_pages<R>(f: impl FnOnce() -> R) -> (R, Placement) {
    HUGE.set(0);
    NORMAL.set(0);
    WHY.set(0);
    let was = ACTIVE.replace(true);
    let r = f();
    ACTIVE.set(was);
    let p = Placement {
        huge_bytes: HUGE.get(),
        normal_bytes: NORMAL.get(),
        reason: WHY.get(),
    };
    (r, p)
}

/// Free 2 MiB huge pages in the kernel's pool (`/proc/meminfo`, `HugePages_Free`).
pub fn free_huge_pages() -> Option<u64> {
    let m = std::fs::read_to_string("/proc/meminfo").ok()?;
    m.lines()
        .find_map(|l| l.strip_prefix("HugePages_Free:"))?
        .trim()
        .parse()
        .ok()
}

/// The page size the kernel maps `addr` with, in KiB (`/proc/self/smaps`' `KernelPageSize`):
/// 2048 on a huge page. For tests and diagnostics.
pub fn kernel_page_kib(addr: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for l in smaps.lines() {
        let first = l.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                inside = (a..b).contains(&addr);
                continue;
            }
        }
        if inside {
            if let Some(v) = l.strip_prefix("KernelPageSize:") {
                return v.trim().trim_end_matches("kB").trim().parse().ok();
            }
        }
    }
    None
}

/// `len` rounded up to whole huge pages.
const fn huge_len(len: usize) -> usize {
    len.div_ceil(HUGE_PAGE) * HUGE_PAGE
}

/// Whether a block of this layout is made on huge pages on this thread now.
fn wants_huge(l: Layout) -> bool {
    l.size() >= HUGE_PAGE && l.align() <= HUGE_PAGE && ACTIVE.get()
}

/// Map `len` bytes on huge pages and record the mapping; null (reason noted) on failure.
fn map_huge(len: usize) -> *mut u8 {
    let len = huge_len(len);
    // SAFETY: an anonymous private mapping at an address the kernel chooses touches no
    // existing memory; the result is checked against MAP_FAILED before use.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        WHY.set(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
        return core::ptr::null_mut();
    }
    let addr = p as usize;
    if BASE.iter().any(|b| {
        b.compare_exchange(0, addr, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }) {
        HUGE.set(HUGE.get() + len);
        return p.cast();
    }
    // SAFETY: `p` is the mapping of `len` bytes made above and handed to no one.
    unsafe { libc::munmap(p, len) };
    WHY.set(REGISTRY_FULL);
    core::ptr::null_mut()
}

/// If `p` is a recorded huge mapping, forget it and return true.
fn unregister(p: *mut u8) -> bool {
    let addr = p as usize;
    BASE.iter().any(|b| {
        b.compare_exchange(addr, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

// SAFETY: every block comes from `System` or from `map_huge`, and goes back the same way: a
// huge mapping is recorded in `BASE` from its creation until `dealloc` finds and unmaps it;
// `System` blocks are never recorded (their addresses cannot equal a live mapping's base).
// Huge mappings are aligned to 2 MiB, enough for any layout `wants_huge` accepts.
unsafe impl GlobalAlloc for TableAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if wants_huge(l) {
            let p = map_huge(l.size());
            if !p.is_null() {
                return p;
            }
            NORMAL.set(NORMAL.get() + l.size());
        }
        // SAFETY: the caller's layout contract is forwarded unchanged.
        unsafe { System.alloc(l) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if wants_huge(l) {
            // Fresh anonymous mappings are zero-filled.
            let p = map_huge(l.size());
            if !p.is_null() {
                return p;
            }
            NORMAL.set(NORMAL.get() + l.size());
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if l.size() >= HUGE_PAGE && unregister(p) {
            // SAFETY: `p` was a recorded mapping of `huge_len(l.size())` bytes (the caller
            // passes the layout it allocated with), now unrecorded so unmapped once only.
            unsafe { libc::munmap(p.cast(), huge_len(l.size())) };
            return;
        }
        // SAFETY: not a huge mapping, so a `System` block with this layout.
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let huge =
            l.size() >= HUGE_PAGE && BASE.iter().any(|b| b.load(Ordering::Acquire) == p as usize);
        // SAFETY: `new_size` and `l.align()` form a valid layout (the caller's contract).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, l.align()) };
        if !huge && !wants_huge(new) {
            // SAFETY: a `System` block, resized by `System`.
            return unsafe { System.realloc(p, l, new_size) };
        }
        // SAFETY: `new` is a valid non-zero layout; `p` is live for `l.size()` bytes and the
        // new block for `new_size`; they do not overlap; `p` is freed once, with its layout.
        unsafe {
            let q = self.alloc(new);
            if !q.is_null() {
                core::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                self.dealloc(p, l);
            }
            q
        }
    }
}
