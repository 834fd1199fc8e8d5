//! The session index (`session::index`, a bucketized cuckoo table) against
//! `hashbrown::HashTable<u32>` (issue 18): lookups that hit, lookups that miss, inserts, and
//! bytes per session, at 1K, 1M and 10M sessions.
//!
//! Both index the same slab of 64-byte records (a record per session, as the session tables
//! have) by the same 64-bit flow hash (`SessionAddr::hash_key`, the tables' seeded folded
//! multiply): each stores a 32-bit slot and confirms a candidate by comparing the record's key,
//! as the session tables do. Sizing as the gateway sizes a table for N sessions:
//! `Index::with_entries(N)` (at most 50% load) and `HashTable::with_capacity(N)`; both hold N.
//!
//! - `lookup/*`: bursts of 32 IPv4 keys taken from a shuffled list of up to 2^20 live flows
//!   (consecutive lookups hit unrelated sessions); per key: hash, find, key compare.
//!   `cuckoo_prefetch` first hashes the burst and touches each home bucket (the worker's
//!   pre-pass), then looks up; `hashbrown` has no prefetch in its API (its group and slot
//!   addresses are private), so it looks up directly; `cuckoo` does the same for comparison.
//! - `miss/*`: the same, for the same keys to another port, none of them live: a new flow's
//!   lookups.
//! - `insert/*`: N inserts (hash and insert) into an empty index sized for N, the allocation
//!   outside the timed region.
//! - Memory: printed as `index: ...` lines (the index alone; the slab is the same for both).
//!
//! Sizes: `FERROVS_INDEX_SIZES` (default `1000,1000000,10000000`; 10M takes about 1 GB).
//! Run: `cargo bench -p dataplane --bench index -- --warm-up-time 1 --measurement-time 3`.
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use dataplane::session::index_bench::CuckooIndex;
use dataplane::session::{HashSeed, SessionAddr};
use dataplane::types::{FlowKey, L4Proto};
use hashbrown::HashTable;

const BURST: usize = 32;
/// At most this many keys in the lookup list (16 MiB).
const MAX_PROBES: usize = 1 << 20;
const SEED: HashSeed = HashSeed::new(0x5eed_1d3c);

/// A session record's stand-in: the key in the first of 64 bytes.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Rec {
    key: FlowKey<Ipv4Addr>,
}

fn key(i: usize) -> FlowKey<Ipv4Addr> {
    let i = u32::try_from(i).expect("fewer than 2^32 flows");
    FlowKey {
        src: Ipv4Addr::from_bits(0x0a00_0000 | (i >> 8)),
        dst: Ipv4Addr::new(198, 18, 0, 100),
        sport: 1024 + (i & 0xff) as u16,
        dport: 80,
        proto: L4Proto::Tcp,
    }
}

#[inline(always)]
fn hash(k: &FlowKey<Ipv4Addr>) -> u64 {
    <Ipv4Addr as SessionAddr>::hash_key(&SEED, k)
}

/// `min(n, MAX_PROBES)` distinct live keys in a shuffled order (xorshift Fisher-Yates).
fn probes(n: usize) -> Vec<FlowKey<Ipv4Addr>> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        idx.swap(i, (x % (i as u64 + 1)) as usize);
    }
    idx.truncate(MAX_PROBES);
    idx.into_iter().map(key).collect()
}

fn cuckoo(recs: &[Rec]) -> CuckooIndex {
    let mut ix = CuckooIndex::with_entries(recs.len());
    for (i, r) in recs.iter().enumerate() {
        assert!(ix.insert(hash(&r.key), i as u32), "cuckoo full at {i}");
    }
    ix
}

fn hashbrown(recs: &[Rec]) -> HashTable<u32> {
    let mut t = HashTable::with_capacity(recs.len());
    for (i, r) in recs.iter().enumerate() {
        t.insert_unique(hash(&r.key), i as u32, |&v| hash(&recs[v as usize].key));
    }
    t
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
        n if n >= 1000 => format!("{}K", n / 1000),
        n => n.to_string(),
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("FERROVS_INDEX_SIZES")
        .unwrap_or_else(|_| "1000,1000000,10000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in sizes() {
        let recs: Vec<Rec> = (0..n).map(|i| Rec { key: key(i) }).collect();
        let keys = probes(n);
        let ck = cuckoo(&recs);
        let hb = hashbrown(&recs);
        println!(
            "index: {n} sessions: cuckoo {} bytes = {:.1} bytes/session; hashbrown {} bytes = {:.1} bytes/session",
            ck.memory_bytes(),
            ck.memory_bytes() as f64 / n as f64,
            hb.allocation_size(),
            hb.allocation_size() as f64 / n as f64
        );
        let slab = &recs[..];
        let mut g = c.benchmark_group("lookup");
        lookups(&mut g, label(n), &keys, BURST as u32, (&ck, &hb, slab));
        g.finish();
        // The same keys to port 81: none is live (a new flow's lookups, all misses).
        let absent: Vec<FlowKey<Ipv4Addr>> =
            keys.iter().map(|k| FlowKey { dport: 81, ..*k }).collect();
        let mut g = c.benchmark_group("miss");
        lookups(&mut g, label(n), &absent, 0, (&ck, &hb, slab));
        g.finish();
        drop((ck, hb));

        let mut g = c.benchmark_group("insert");
        g.throughput(Throughput::Elements(n as u64));
        g.sampling_mode(SamplingMode::Flat);
        if n >= 1_000_000 {
            g.sample_size(10);
        }
        g.bench_function(BenchmarkId::new("cuckoo", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let mut ix = CuckooIndex::with_entries(n);
                    let t0 = Instant::now();
                    for (i, r) in recs.iter().enumerate() {
                        assert!(ix.insert(hash(&r.key), i as u32));
                    }
                    t += t0.elapsed();
                    black_box(&ix);
                }
                t
            });
        });
        g.bench_function(BenchmarkId::new("hashbrown", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let mut tb: HashTable<u32> = HashTable::with_capacity(n);
                    let t0 = Instant::now();
                    for (i, r) in recs.iter().enumerate() {
                        tb.insert_unique(hash(&r.key), i as u32, |&v| hash(&recs[v as usize].key));
                    }
                    t += t0.elapsed();
                    black_box(&tb);
                }
                t
            });
        });
        g.finish();
    }
}

/// Lookups of `keys` in bursts of 32 through both indexes, each burst finding `want` of them:
/// `cuckoo_prefetch` (the worker's pre-pass first), `cuckoo` and `hashbrown`. Each loop is
/// written out: folded into one generic loop, hashbrown's lookups at 1K took 10-17% longer (its
/// key check behind one more closure), which would tilt the comparison.
fn lookups(
    g: &mut BenchmarkGroup<'_, WallTime>,
    size: String,
    keys: &[FlowKey<Ipv4Addr>],
    want: u32,
    (ck, hb, slab): (&CuckooIndex, &HashTable<u32>, &[Rec]),
) {
    g.throughput(Throughput::Elements(BURST as u64));
    let bursts = (keys.len() / BURST).max(1);
    let matches = move |k: FlowKey<Ipv4Addr>| move |v: u32| slab[v as usize].key == k;
    g.bench_function(BenchmarkId::new("cuckoo_prefetch", &size), |b| {
        let mut i = 0;
        let mut h = [0u64; BURST];
        b.iter(|| {
            let burst = &keys[i * BURST..(i + 1) * BURST];
            i = (i + 1) % bursts;
            for (h, k) in h.iter_mut().zip(burst) {
                *h = hash(k);
                ck.prefetch(*h);
            }
            let mut found = 0u32;
            for (&h, &k) in h.iter().zip(burst) {
                found += u32::from(ck.find(h, matches(k)).is_some());
            }
            assert_eq!(found, want);
            black_box(found)
        });
    });
    g.bench_function(BenchmarkId::new("cuckoo", &size), |b| {
        let mut i = 0;
        b.iter(|| {
            let burst = &keys[i * BURST..(i + 1) * BURST];
            i = (i + 1) % bursts;
            let mut found = 0u32;
            for &k in burst {
                found += u32::from(ck.find(hash(&k), matches(k)).is_some());
            }
            assert_eq!(found, want);
            black_box(found)
        });
    });
    g.bench_function(BenchmarkId::new("hashbrown", &size), |b| {
        let mut i = 0;
        b.iter(|| {
            let burst = &keys[i * BURST..(i + 1) * BURST];
            i = (i + 1) % bursts;
            let mut found = 0u32;
            for &k in burst {
                let m = matches(k);
                found += u32::from(hb.find(hash(&k), |&v| m(v)).is_some());
            }
            assert_eq!(found, want);
            black_box(found)
        });
    });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
