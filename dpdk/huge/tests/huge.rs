//! Session tables on huge pages: a worker built inside `on_huge_pages`, with `TableAlloc` as
//! the allocator, has its session slab on 2 MiB pages, as the kernel reports for the slab's
//! address (`/proc/self/smaps`), not only as our own accounting says.
//!
//! Needs free 2 MiB huge pages (`make deps` reserves 512, or 1024 with 16 GiB of memory): without them this fails, saying so.

use dataplane::worker::{Worker, WorkerConfig};
use dpdk_huge::{free_huge_pages, kernel_page_kib, on_huge_pages, TableAlloc, HUGE_PAGE};

#[global_allocator]
static ALLOC: TableAlloc = TableAlloc;

/// 1M IPv4 sessions: a 64 MiB slab, a 26 MiB index; 64 MiB of huge pages would not do.
const SESSIONS: usize = 1 << 20;

fn slab_addr(w: &Worker) -> usize {
    w.sessions4().slab_addr()
}

#[test]
fn test_worker_tables_are_on_huge_pages_inside_on_huge_pages() {
    let free = free_huge_pages().expect("/proc/meminfo has HugePages_Free");
    assert!(
        free >= 128,
        "this test needs at least 128 free 2 MiB huge pages (has {free}): run `make deps` \
         (scripts/deps.sh reserves them), or echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
    );
    let cfg = WorkerConfig {
        sessions4: SESSIONS,
        sessions6: 1024,
        ..WorkerConfig::default()
    };
    let (w, placed) = on_huge_pages(|| Worker::new(cfg.clone()));
    assert_eq!(placed.reason, 0, "{:?}", placed.reason_text());
    assert_eq!(placed.normal_bytes, 0);
    let slab = SESSIONS * 64;
    assert!(placed.huge_bytes >= slab, "{placed:?}");
    assert_eq!(placed.huge_bytes % HUGE_PAGE, 0);
    let mib = placed.huge_bytes >> 20;
    assert_eq!(placed.summary(), format!("huge ({mib} MiB on 2 MiB pages)"));
    assert_eq!(
        kernel_page_kib(slab_addr(&w)),
        Some(2048),
        "the kernel maps the slab with 2 MiB pages"
    );
    // The same worker outside the scope: normal pages, nothing placed.
    let ((), none) = on_huge_pages(|| ());
    assert_eq!(none, Default::default());
    assert_eq!(none.summary(), "normal (no block of 2 MiB or more)");
    let w2 = Worker::new(cfg);
    assert_eq!(kernel_page_kib(slab_addr(&w2)), Some(4));
    // Dropping the huge worker unmaps its tables.
    let addr = slab_addr(&w);
    drop(w);
    assert_eq!(kernel_page_kib(addr), None, "the slab's mapping is gone");
}

/// More than the free huge pages: the block falls back to normal pages, and the placement says
/// why (ENOMEM from mmap) for the gateway's log line.
#[test]
fn test_a_block_larger_than_the_free_huge_pages_falls_back_and_says_why() {
    let free = free_huge_pages().expect("/proc/meminfo has HugePages_Free");
    let len = (free as usize + 64) * HUGE_PAGE;
    let (v, placed) = on_huge_pages(|| Vec::<u8>::with_capacity(len));
    assert_eq!(placed.huge_bytes, 0, "{placed:?}");
    assert_eq!(placed.normal_bytes, len);
    assert_eq!(placed.reason, ENOMEM);
    let why = placed.reason_text().expect("a reason");
    assert!(
        why.contains("mmap(MAP_HUGETLB)") && why.contains("free 2 MiB huge pages"),
        "{why}"
    );
    assert_eq!(kernel_page_kib(v.as_ptr() as usize), Some(4));
    // The reason is read again (the free count may move: the other test runs beside this one).
    let mib = len >> 20;
    let summary = placed.summary();
    assert!(
        summary.starts_with(&format!(
            "normal ({mib} MiB on 4 KiB pages, 0 MiB on 2 MiB pages: mmap(MAP_HUGETLB): "
        )),
        "{summary}"
    );
}

/// Linux's errno for "Cannot allocate memory".
const ENOMEM: i32 = 12;
