//! Gateways of one ECMP group must pick the same real server for a flow: the `mh`, `sh` and
//! `dh` choices may depend only on the configuration, never on the process (hash seeds,
//! `HashMap` iteration order, addresses, time) nor on the order the file lists the real
//! servers in. This test runs itself twice as child processes (two "gateways"), each building
//! the same services from the real servers in its own random order (seeded by the process's
//! `RandomState`), and compares what they write byte for byte, and with a third build in this
//! process:
//!
//! - every Maglev table, slot by slot, as the slot's real server (address and port);
//! - the same service's raw table (backend ids) when built in the file's order;
//! - the real server each scheduler picks for 40,000 flows.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use dataplane::sched::{hash, PickCtx, SchedFlag, SchedFlags, SchedulerKind};
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, ServiceSpec, Snapshot, SnapshotBuilder};
use dataplane::types::{BackendIdx, L4Proto};

/// Set in a child: the file to write the dump to.
const DUMP_TO: &str = "FERROVS_SCHED_DUMP_TO";
/// Set in a child: its number, which also rotates its order of the real servers.
const CHILD: &str = "FERROVS_SCHED_CHILD";
const FLOWS: u32 = 40_000;

/// One test service: VIP, scheduler, flags, real servers (address, weight, healthy).
struct Svc {
    vip: IpAddr,
    kind: SchedulerKind,
    flags: &'static [SchedFlag],
    servers: Vec<(IpAddr, u32, bool)>,
}

fn v4(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, a, b))
}

/// The "configuration": the same in every process.
fn services() -> Vec<Svc> {
    let weighted = |n: u8| -> Vec<(IpAddr, u32, bool)> {
        (0..n)
            .map(|k| (v4(1, 10 + k), u32::from(k % 4) + 1, true))
            .collect()
    };
    let mut mh = weighted(40);
    mh[7].1 = 0; // quiescent: no slots
    mh[11].2 = false; // down: no slots
    let v6: Vec<(IpAddr, u32, bool)> = (0..7u16)
        .map(|k| {
            let a = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10 + k);
            (IpAddr::V6(a), 1, true)
        })
        .collect();
    vec![
        Svc {
            vip: v4(0, 100),
            kind: SchedulerKind::Mh,
            flags: &[],
            servers: mh,
        },
        Svc {
            vip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x101)),
            kind: SchedulerKind::Mh,
            flags: &[SchedFlag::MhPort],
            servers: v6,
        },
        Svc {
            vip: v4(0, 102),
            kind: SchedulerKind::Sh,
            flags: &[],
            servers: weighted(10),
        },
        Svc {
            vip: v4(0, 103),
            kind: SchedulerKind::Sh,
            flags: &[SchedFlag::ShPort],
            servers: weighted(9),
        },
        Svc {
            vip: v4(0, 104),
            kind: SchedulerKind::Dh,
            flags: &[],
            servers: weighted(5),
        },
    ]
}

/// A permutation of `0..n` from `seed` (Fisher-Yates over a xorshift generator).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        p.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    p
}

/// Build the services with each one's real servers in the order `order(service, count)`.
fn build(order: &dyn Fn(usize, usize) -> Vec<usize>) -> Snapshot {
    let mut b = SnapshotBuilder::new(1);
    for (i, s) in services().into_iter().enumerate() {
        let mut spec = ServiceSpec::new(s.vip, 80, L4Proto::Tcp);
        spec.scheduler = s.kind;
        spec.flags = SchedFlags::new(s.kind, s.flags).expect("flags");
        spec.backends = order(i, s.servers.len())
            .into_iter()
            .map(|k| {
                let (addr, weight, up) = s.servers[k];
                let mut rs = BackendSpec::new(addr, 80, FwdMethod::Dr).weight(weight);
                rs.available = up;
                rs
            })
            .collect();
        b.service(spec);
    }
    b.build()
}

/// The bytes of a real server: its address as IPv6 (IPv4-mapped) and its port.
fn server_bytes(out: &mut Vec<u8>, snap: &Snapshot, id: BackendIdx) {
    let b = snap.backend(id).expect("backend of a table");
    let v6 = match b.addr {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    out.extend_from_slice(&v6.octets());
    out.extend_from_slice(&b.port.to_be_bytes());
}

/// Everything a gateway's choice depends on, as bytes.
fn dump() -> Vec<u8> {
    let mut out = Vec::new();
    // The file's order: the raw tables (backend ids, little-endian).
    let plain = build(&|_, n| (0..n).collect());
    for s in plain.services.iter().flatten() {
        if let Some(t) = s.scheduler.table() {
            out.extend(t.iter().flat_map(|id| id.get().to_le_bytes()));
        }
    }
    // This process's own order of the real servers.
    let child: u64 = std::env::var(CHILD).map_or(0, |c| c.parse().unwrap());
    let mut h = RandomState::new().build_hasher();
    h.write_u64(child);
    let seed = h.finish() | 1;
    let snap = build(&|i, n| {
        let mut p = permutation(n, seed.wrapping_add(i as u64));
        p.rotate_left(child as usize % n);
        p
    });
    for s in snap.services.iter().flatten() {
        if let Some(t) = s.scheduler.table() {
            for &id in t {
                server_bytes(&mut out, &snap, id);
            }
        }
        let mut st = s.scheduler.new_state();
        for f in 0..FLOWS {
            let client = IpAddr::V4(Ipv4Addr::from(
                0x0a00_0000_u32.wrapping_add(f.wrapping_mul(2_654_435)),
            ));
            // dh hashes the destination: vary it too.
            let dst = IpAddr::V4(Ipv4Addr::from(0xac10_0000 + f * 7));
            let ctx = PickCtx::new(
                hash::addr(client),
                hash::addr(dst),
                1024 + (f % 60_000) as u16,
            );
            let id = s.scheduler.pick(&mut st, &ctx).expect("a pick");
            server_bytes(&mut out, &snap, id);
        }
    }
    out
}

fn run_child(exe: &Path, n: u32, to: &Path) {
    let out = Command::new(exe)
        .args([
            "--exact",
            "tables_and_picks_are_identical_across_processes",
            "--test-threads=1",
        ])
        .env(DUMP_TO, to)
        .env(CHILD, n.to_string())
        .output()
        .expect("spawn this test binary");
    assert!(
        out.status.success(),
        "child {n}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tables_and_picks_are_identical_across_processes() {
    if let Some(to) = std::env::var_os(DUMP_TO) {
        std::fs::write(to, dump()).expect("write the dump");
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let dir = std::env::temp_dir().join(format!("ferrovs-sched-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = (1..=2).map(|n| dir.join(format!("gw{n}.bin"))).collect();
    for (n, f) in (1..=2).zip(&files) {
        run_child(&exe, n, f);
    }
    let a = std::fs::read(&files[0]).unwrap();
    let b = std::fs::read(&files[1]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let here = dump();
    // Two Maglev tables of 65537 slots as ids (2 bytes) and as servers (18 bytes), and
    // 5 x 40,000 picks (18 bytes each).
    let want = 2 * 65_537 * (2 + 18) + 5 * FLOWS as usize * 18;
    assert_eq!(a.len(), want);
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        panic!("the two processes differ first at byte {i} of {}", a.len());
    }
    assert_eq!(a, b, "two processes");
    assert!(a == here, "a child and this process differ");
    // The tables are not degenerate: every eligible server of the first service has slots.
    let snap = build(&|_, n| (0..n).collect());
    let t = snap
        .services
        .iter()
        .flatten()
        .next()
        .unwrap()
        .scheduler
        .table()
        .unwrap();
    let mut ids: Vec<BackendIdx> = t.to_vec();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 38, "40 servers less one quiescent and one down");
}

/// Without a new process: the order of the real servers in the file never changes a choice.
#[test]
fn the_order_of_the_real_servers_changes_nothing() {
    let reference = build(&|_, n| (0..n).collect());
    let reversed = build(&|_, n| (0..n).rev().collect());
    let server = |snap: &Snapshot, id: BackendIdx| {
        let b = snap.backend(id).unwrap();
        (b.addr, b.port)
    };
    for (s, r) in reference
        .services
        .iter()
        .flatten()
        .zip(reversed.services.iter().flatten())
    {
        if let (Some(ts), Some(tr)) = (s.scheduler.table(), r.scheduler.table()) {
            assert!(ts
                .iter()
                .zip(tr)
                .all(|(&a, &b)| server(&reference, a) == server(&reversed, b)));
        }
        let (mut ss, mut sr) = (s.scheduler.new_state(), r.scheduler.new_state());
        for f in 0..5_000u32 {
            let ctx = PickCtx::new(
                hash::hash_u64(7, u64::from(f)),
                hash::hash_u64(8, u64::from(f)),
                f as u16,
            );
            let a = s.scheduler.pick(&mut ss, &ctx).unwrap();
            let b = r.scheduler.pick(&mut sr, &ctx).unwrap();
            assert_eq!(server(&reference, a), server(&reversed, b));
        }
    }
}
