//! Tests that boot a real EAL (no hugepages, no PCI) and move frames through virtual devices.
//!
//! The EAL can only start once per process, so every test here shares one (`eal()`); with
//! nextest each test is its own process and starts its own, with its own file prefix.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use dpdk::eal::Eal;
use dpdk::ethdev::{Port, PortConfig};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::{Mempool, DEFAULT_DATA_ROOM};
use dpdk::{lcore, ring, Error};
use testkit::pcap;

fn eal() -> &'static Eal {
    static EAL: OnceLock<Eal> = OnceLock::new();
    EAL.get_or_init(|| {
        let prefix = format!("ferrovs-test-{}", std::process::id());
        let lcores = if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
            "0-1"
        } else {
            "0"
        };
        Eal::init(common::eal_args("dpdk-tests", lcores, &prefix))
            .expect("EAL init with --no-huge --no-pci")
    })
}

fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{name}{}", N.fetch_add(1, Ordering::Relaxed))
}

fn pool() -> Mempool {
    Mempool::new(eal(), &unique("pool"), 1023, 0, DEFAULT_DATA_ROOM, None).expect("mempool")
}

fn frame(i: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| i.wrapping_mul(31).wrapping_add(j as u8))
        .collect()
}

fn start_simple(port: &mut Port, pool: &Mempool) -> (dpdk::ethdev::RxQueue, dpdk::ethdev::TxQueue) {
    port.configure(&PortConfig {
        rx_queues: 1,
        tx_queues: 1,
        ..Default::default()
    })
    .expect("configure");
    let rx = port.rx_queue_setup(0, 256, pool).expect("rx queue");
    let tx = port.tx_queue_setup(0, 256).expect("tx queue");
    port.start().expect("start");
    (rx, tx)
}

#[test]
fn test_second_init_is_an_error() {
    eal();
    assert_eq!(
        Eal::init(["again", "--no-huge"]).unwrap_err(),
        Error::AlreadyInitialized
    );
}

#[test]
fn test_frames_round_trip_through_ring_pair() {
    let pool = pool();
    let (mut a, mut b) = Port::ring_pair(eal(), &unique("rp"), 1, 1024).expect("ring pair");
    let (mut _arx, mut atx) = start_simple(&mut a, &pool);
    let (mut brx, mut _btx) = start_simple(&mut b, &pool);
    assert!(a.link().expect("link").up);

    let sent: Vec<Vec<u8>> = (0..40u8)
        .map(|i| frame(i, 60 + usize::from(i) * 7))
        .collect();
    let mut burst: Vec<Mbuf> = sent
        .iter()
        .map(|f| pool.alloc_from(f).expect("alloc"))
        .collect();
    assert_eq!(atx.tx_burst(&mut burst), sent.len());
    assert!(burst.is_empty());

    let mut got: Vec<Mbuf> = Vec::with_capacity(64);
    assert_eq!(brx.rx_burst(&mut got), sent.len());
    for (m, f) in got.iter().zip(&sent) {
        assert_eq!(m.data(), &f[..]);
        assert!(m.is_contiguous());
    }
    Mbuf::free_bulk(&mut got);
    assert_eq!(pool.in_use(), 0, "every mbuf went back to the pool");

    let stats = a.stats().expect("stats");
    assert_eq!(stats.opackets, sent.len() as u64);
    assert!(!b.xstats().expect("xstats").is_empty());
    drop((_arx, atx, brx, _btx));
    a.stop().expect("stop once queues are gone");
}

#[test]
fn test_port_refuses_stop_while_queue_alive() {
    let pool = pool();
    let (mut a, _b) = Port::ring_pair(eal(), &unique("busy"), 1, 256).expect("ring pair");
    let (rx, tx) = start_simple(&mut a, &pool);
    assert!(matches!(a.stop(), Err(Error::Busy(_))));
    drop((rx, tx));
    a.stop().expect("stop");
}

#[test]
fn test_alloc_bulk_is_all_or_nothing() {
    let pool = pool();
    let mut v = Vec::new();
    assert!(pool.alloc_bulk(&mut v, 1000));
    assert_eq!(v.len(), 1000);
    assert!(v.iter().all(|m| m.data_len() == 0 && m.headroom() == 128));
    assert!(!pool.alloc_bulk(&mut v, 24), "only 23 left");
    assert_eq!(
        v.len(),
        1000,
        "a failed bulk allocation leaves the vector alone"
    );
    assert!(pool.alloc_bulk(&mut v, 23));
    assert_eq!(pool.in_use(), 1023);
    Mbuf::free_bulk(&mut v);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn test_mbuf_prepend_trim_headroom_invariants() {
    let pool = pool();
    let mut m = pool.alloc().expect("alloc");
    let head = m.headroom();
    assert_eq!(head, 128, "RTE_PKTMBUF_HEADROOM");
    assert_eq!(m.data_len(), 0);
    m.append(100)
        .expect("append")
        .copy_from_slice(&frame(1, 100));
    assert_eq!(m.data_len(), 100);
    assert_eq!(m.pkt_len(), 100);

    let tail = m.tailroom();
    assert!(
        m.prepend(head + 1).is_none(),
        "prepend beyond the headroom fails"
    );
    assert_eq!(m.data(), &frame(1, 100)[..], "and changes nothing");
    m.prepend(20).expect("prepend 20")[..20].fill(0xee);
    assert_eq!(m.headroom(), head - 20);
    assert_eq!(m.data_len(), 120);
    assert_eq!(&m.data()[20..], &frame(1, 100)[..]);
    assert_eq!(m.tailroom(), tail, "prepend leaves the tailroom");

    assert!(m.adj(20));
    assert_eq!(m.headroom(), head);
    assert_eq!(m.data(), &frame(1, 100)[..]);
    assert!(!m.trim(101), "trim beyond the length fails");
    assert!(m.trim(30));
    assert_eq!(m.data(), &frame(1, 100)[..70]);
    assert_eq!(m.pkt_len(), 70);
    assert!(
        m.append(tail + 31).is_none(),
        "append beyond the tailroom fails"
    );
    assert!(!m.adj(71));

    m.set_ol_flags(0);
    m.set_tx_offload(14, 20, 20);
    assert_eq!(m.ol_flags(), 0);
    drop(m);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn test_bad_vdev_name_is_a_clear_error() {
    let err = Port::probe(eal(), "net_bogus0,foo=bar").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Device { .. }), "{err:?}");
    assert!(text.contains("net_bogus0"), "{text}");
    assert!(text.contains("driver name"), "{text}");
}

#[test]
fn test_bad_pci_address_is_a_clear_error() {
    let err = Port::probe(eal(), "0000:ff:1f.7").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("0000:ff:1f.7") && text.contains("vfio-pci"),
        "{text}"
    );
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrovs-{}-{}", name, std::process::id()));
    std::fs::create_dir_all(&d).expect("tmpdir");
    d
}

#[test]
fn test_pcap_port_pair_copies_input_to_output_unchanged() {
    let dir = tmpdir("pcap");
    let input = dir.join("in.pcap");
    let output = dir.join("out.pcap");
    let frames: Vec<Vec<u8>> = (0..25u8)
        .map(|i| frame(i, 60 + usize::from(i) * 50))
        .collect();
    pcap::write_pcap(&input, &frames).expect("write pcap");

    let pool = pool();
    let rx_name = unique("net_pcap_rx");
    let tx_name = unique("net_pcap_tx");
    let mut inp =
        Port::probe(eal(), &format!("{rx_name},rx_pcap={}", input.display())).expect("rx pcap");
    let mut outp =
        Port::probe(eal(), &format!("{tx_name},tx_pcap={}", output.display())).expect("tx pcap");
    assert_eq!(inp.info().expect("info").driver_name, "net_pcap");
    let (mut rx, _itx) = start_simple(&mut inp, &pool);
    let (_orx, mut tx) = start_simple(&mut outp, &pool);

    let mut moved = 0;
    let mut buf: Vec<Mbuf> = Vec::with_capacity(32);
    for _ in 0..1000 {
        if rx.rx_burst(&mut buf) == 0 && moved == frames.len() {
            break;
        }
        while !buf.is_empty() {
            moved += tx.tx_burst(&mut buf);
        }
    }
    assert_eq!(moved, frames.len());
    drop((rx, _itx, _orx, tx));
    drop(outp); // closing the port flushes the pcap dumper
    drop(inp);
    assert_eq!(pcap::read_pcap(&output).expect("read pcap"), frames);
    assert_eq!(pool.in_use(), 0);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn test_lcore_launch_and_join() {
    let workers = lcore::workers(eal());
    let Some(&w) = workers.first() else {
        assert!(
            !common::required(),
            "one CPU only: no worker lcore to launch on (required under CI=true or FERROVS_REQUIRE_ALL=1)"
        );
        eprintln!("one CPU only: no worker lcore to launch on; skipped");
        return;
    };
    let job = lcore::launch(eal(), w, move || {
        i32::try_from(lcore::current().expect("on an lcore").0).expect("small id") + 40
    })
    .expect("launch");
    assert_eq!(job.join(), i32::try_from(w.0).unwrap() + 40);
    assert!(
        lcore::launch(eal(), lcore::main_lcore(eal()), || 0).is_err(),
        "main lcore is not a worker"
    );
}

#[test]
fn test_spsc_ring_moves_mbufs_between_lcores() {
    let pool = pool();
    let (mut tx, mut rx) = ring::mbuf_ring(eal(), &unique("spsc"), 64).expect("ring");
    assert!(
        ring::mbuf_ring(eal(), "bad", 100).is_err(),
        "size must be a power of two"
    );
    let mut batch: Vec<Mbuf> = (0..70u8)
        .map(|i| pool.alloc_from(&frame(i, 64)).expect("alloc"))
        .collect();
    assert_eq!(tx.enqueue_burst(&mut batch), 63, "a ring of 64 holds 63");
    assert_eq!(batch.len(), 7);
    let producer = std::thread::spawn(move || {
        let mut rest = batch;
        while !rest.is_empty() {
            tx.enqueue_burst(&mut rest);
        }
    });
    let mut got: Vec<Mbuf> = Vec::with_capacity(128);
    while got.len() < 70 {
        rx.dequeue_burst(&mut got);
    }
    producer.join().expect("producer");
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.data(), &frame(i as u8, 64)[..]);
    }
    drop(got);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn test_ring_drop_frees_queued_mbufs() {
    let pool = pool();
    let (mut tx, rx) = ring::mbuf_ring(eal(), &unique("drop"), 16).expect("ring");
    let mut batch: Vec<Mbuf> = (0..5u8)
        .map(|i| pool.alloc_from(&frame(i, 64)).expect("alloc"))
        .collect();
    tx.enqueue_burst(&mut batch);
    assert_eq!(pool.in_use(), 5);
    drop((tx, rx));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn test_rte_flow_probe_reports_unsupported_on_ring_port() {
    let pool = pool();
    let (mut a, _b) = Port::ring_pair(eal(), &unique("flow"), 1, 256).expect("ring pair");
    let (_rx, _tx) = start_simple(&mut a, &pool);
    let rule = dpdk::flow::SteerRule {
        dst: "198.18.0.10".parse().unwrap(),
        port_spec: 1,
        port_mask: 1,
        tcp: true,
        queue: 0,
    };
    let err = dpdk::flow::validate(&a, &rule).unwrap_err();
    assert!(err.to_string().contains("rte_flow_validate"), "{err}");
    // The IPv6 / UDP shape is refused the same way, and nothing can be created.
    let v6 = dpdk::flow::SteerRule {
        dst: "2001:db8::10".parse().unwrap(),
        tcp: false,
        ..rule
    };
    let err = dpdk::flow::validate(&a, &v6).unwrap_err();
    assert!(err.to_string().contains("rte_flow_validate"), "{err}");
    let err = dpdk::flow::create(&a, &v6).unwrap_err();
    assert!(err.to_string().contains("rte_flow_create"), "{err}");
}

#[test]
fn test_device_info_and_versions() {
    let pool = pool();
    let (mut a, _b) = Port::ring_pair(eal(), &unique("info"), 2, 256).expect("ring pair");
    let info = a.info().expect("info");
    assert_eq!(info.driver_name, "net_ring");
    assert!(info.max_rx_queues >= 2);
    a.configure(&PortConfig {
        rx_queues: 2,
        tx_queues: 2,
        ..Default::default()
    })
    .expect("2 queues");
    let _q: Vec<_> = (0..2)
        .map(|q| a.rx_queue_setup(q, 64, &pool).expect("rxq"))
        .collect();
    // The bindings were generated from the DPDK pkg-config finds, and the library linked at run
    // time is that same release.
    let probed = std::process::Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
        .expect("pkg-config (make deps installs it)");
    assert!(probed.status.success(), "pkg-config --modversion libdpdk");
    let probed = String::from_utf8_lossy(&probed.stdout).trim().to_owned();
    assert_eq!(dpdk::build_version(), probed);
    assert_eq!(dpdk::version(), format!("DPDK {probed}"));
    let mut parts = probed
        .split('.')
        .map(|p| p.parse::<u32>().expect("numeric version"));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(
        (major, minor) >= (22, 11),
        "DPDK {probed} is older than 22.11"
    );
}

#[test]
fn test_softrss_matches_known_vector() {
    // Microsoft's RSS verification suite: 66.9.149.187:2794 -> 161.142.100.80:1766, IPv4+TCP,
    // with the standard key, hashes to 0x51ccc178.
    let key: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];
    let src = u32::from(std::net::Ipv4Addr::new(66, 9, 149, 187));
    let dst = u32::from(std::net::Ipv4Addr::new(161, 142, 100, 80));
    let ports = (2794u32 << 16) | 1766;
    assert_eq!(dpdk::thash::softrss(&[src, dst, ports], &key), 0x51cc_c178);
}
