//! The worker loop (`dataplane::worker_loop`) on DPDK's own queues, rings and mbufs: frames in
//! through one `net_ring` port, forwarded out of the other, ARP punted through an mbuf ring,
//! an injected frame handled, what does not fit the TX queue counted and freed (bulk), and
//! every mbuf back in the pool at the end.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use arc_swap::ArcSwap;
use dataplane::fuzzing::{backend_mac, port_mac, snapshot};
use dataplane::io::PortMap;
use dataplane::wire::DropReason;
use dataplane::worker::{Worker, WorkerConfig};
use dataplane::worker_loop::{self, IdleMode, LoopEnv, WorkerIo};
use dpdk::eal::Eal;
use dpdk::ethdev::{Port, PortConfig, RxQueue, TxQueue};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::{Mempool, DEFAULT_DATA_ROOM};
use dpdk::ring;
use etherparse::PacketBuilder;

fn eal() -> &'static Eal {
    static EAL: OnceLock<Eal> = OnceLock::new();
    EAL.get_or_init(|| {
        let prefix = format!("ferrovs-wl-{}", std::process::id());
        Eal::init(common::eal_args("dpdk-worker-loop-tests", "0", &prefix))
            .expect("EAL init with --no-huge --no-pci")
    })
}

fn start(port: &mut Port, pool: &Mempool) -> (RxQueue, TxQueue) {
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

fn dr_syn(cport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0xc1], port_mac(0))
        .ipv4([10, 0, 0, 1], [198, 18, 0, 100], 64)
        .tcp(cport, 80, 1000, 65535)
        .syn();
    let mut out = Vec::with_capacity(b.size(0));
    b.write(&mut out, &[]).expect("frame");
    out
}

fn arp_for_vip() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0xc1, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0xc1, 198, 18, 0, 9]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[198, 18, 0, 100]);
    f
}

#[test]
fn test_worker_loop_on_dpdk_queues_and_rings() {
    let eal = eal();
    let pool = Mempool::new(eal, "wl_pool", 2047, 0, DEFAULT_DATA_ROOM, None).expect("mempool");
    // Clients <-> gateway port 0: room for every frame; gateway port 1 -> real servers: a
    // 16-slot ring (15 usable), so a burst of 40 overflows the TX queue.
    let (mut client, mut gw0) = Port::ring_pair(eal, "wlc", 1, 256).expect("ring pair");
    let (mut gw1, mut servers) = Port::ring_pair(eal, "wlb", 1, 16).expect("ring pair");
    let (mut _crx, mut ctx) = start(&mut client, &pool);
    let (mut srx, mut _stx) = start(&mut servers, &pool);
    let (g0rx, g0tx) = start(&mut gw0, &pool);
    let (g1rx, g1tx) = start(&mut gw1, &pool);
    let (punt, mut punted) = ring::mbuf_ring(eal, "wl_punt", 64).expect("punt ring");
    let (mut inject, inject_in) = ring::mbuf_ring(eal, "wl_inj", 64).expect("inject ring");
    let mut io = WorkerIo {
        rx: vec![g0rx, g1rx],
        tx: vec![g0tx, g1tx],
        punt,
        redirect_out: vec![None],
        redirect_in: Vec::<ring::Consumer>::new(),
        inject_in,
    };

    let mut burst: Vec<Mbuf> = (0..40)
        .map(|p| pool.alloc_from(&dr_syn(1000 + p)).expect("mbuf"))
        .collect();
    burst.push(pool.alloc_from(&arp_for_vip()).expect("mbuf"));
    assert_eq!(ctx.tx_burst(&mut burst), 41);
    let mut injected = vec![pool.alloc_from(&dr_syn(2000)).expect("mbuf")];
    assert_eq!(inject.enqueue_burst(&mut injected), 1);

    let shared = ArcSwap::from_pointee(snapshot());
    let stop = AtomicBool::new(false);
    let map = PortMap::new(vec![(gw0.id().0, 0), (gw1.id().0, 1)]);
    let env = LoopEnv {
        shared: &shared,
        stop: &stop,
        ports: &map,
        clock: eal.tsc_clock(),
        idle: IdleMode::Busy,
    };
    let mut w = Worker::new(WorkerConfig {
        sessions4: 1024,
        sessions6: 1024,
        templates: 64,
        max_services: 32,
        max_backends: 32,
        ..WorkerConfig::default()
    });
    let mut iters = 0;
    worker_loop::run(&mut w, &mut io, &env, &mut |_: &Worker, _: u32| {
        iters += 1;
        if iters == 100 {
            stop.store(true, Ordering::Relaxed);
        }
    });

    let c = w.counters();
    assert_eq!(c.rx.get(), 42, "41 received, 1 injected");
    assert_eq!(c.tx.get(), 41, "every SYN forwarded");
    assert_eq!(c.punted.get(), 1);
    let mut out: Vec<Mbuf> = Vec::with_capacity(64);
    let sent = srx.rx_burst(&mut out);
    assert!(sent > 0 && sent < 41, "the small ring took some ({sent})");
    for m in &out {
        assert_eq!(&m.data()[..6], &backend_mac(10), "DR: to the real server");
    }
    assert_eq!(
        c.drops_of(DropReason::TxRingFull),
        41 - sent as u64,
        "what did not fit is counted"
    );
    Mbuf::free_bulk(&mut out);
    let mut arp: Vec<Mbuf> = Vec::with_capacity(64);
    assert_eq!(punted.dequeue_burst(&mut arp), 1);
    assert_eq!(&arp[0].data()[12..14], &[0x08, 0x06]);
    drop(arp);
    assert!(c.busy_polls.get() >= 2 && c.idle_polls.get() > 0);
    drop(io);
    assert_eq!(pool.in_use(), 0, "no mbuf leaked on any path");
}
