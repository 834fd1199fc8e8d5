//! A `net_memif` client port made as the gateway makes it (`dpdk::devargs`: buffers of
//! `MEMIF_CLIENT_BSIZE` bytes, not memif's 2048), against a real peer: `dpdk-testpmd` as the
//! memif server in `io` mode, which sends every frame back on the port it came in on. Small and
//! full-size frames must come back byte for byte.
//!
//! Its own test binary: the EAL starts once per process.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dpdk::devargs::{with_defaults, MEMIF_CLIENT_BSIZE};
use dpdk::eal::Eal;
use dpdk::ethdev::{Port, PortConfig};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::{Mempool, DEFAULT_DATA_ROOM};

/// testpmd as the memif server; killed (and reaped) when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// What testpmd printed so far (for failure messages).
    fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

fn testpmd() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("dpdk-testpmd"))
        .find(|p| p.is_file())
}

/// Start testpmd serving `socket`, forwarding (io) each frame back out of its one port.
fn serve(testpmd: &Path, socket: &Path, dir: &Path) -> Server {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let log = dir.join("testpmd.log");
    let out = std::fs::File::create(&log).expect("testpmd log");
    // Line-buffered, so that the log says when testpmd forwards (see `wait_forwarding`).
    let child = Command::new("stdbuf")
        .arg("-oL")
        .arg(testpmd)
        .args([
            "--no-huge",
            "--no-pci",
            "--no-telemetry",
            "-m",
            "256",
            "--lcores",
            &format!("0@0,1@{}", cpus - 1),
            "--file-prefix",
            &format!("ferrovs-memif-srv-{}", std::process::id()),
            "--vdev",
            &format!(
                "net_memif0,role=server,id=0,socket={},socket-abstract=no",
                socket.display()
            ),
            "--",
            "--forward-mode=io",
            "--port-topology=loop",
            "--total-num-mbufs=4096",
            "--auto-start",
        ])
        // testpmd forwards until its stdin reaches the end: keep it open.
        .stdin(Stdio::piped())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start dpdk-testpmd");
    Server { child, log }
}

/// Wait until testpmd forwards (its port started). A client that connects earlier, while the
/// server's port is still being set up (which a loaded machine stretches), is turned away and
/// does not try again: its link never comes up.
fn wait_forwarding(server: &Server) {
    let t0 = Instant::now();
    while !server.log().contains("Press enter to exit") {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "testpmd not forwarding in 60 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn frame(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (i.wrapping_mul(131) ^ j.wrapping_mul(7)) as u8)
        .collect()
}

#[test]
fn test_memif_client_with_the_gateway_defaults_round_trips_small_and_full_frames() {
    let Some(testpmd) = testpmd() else {
        assert!(
            !common::required(),
            "dpdk-testpmd is required (CI=true or FERROVS_REQUIRE_ALL=1)"
        );
        eprintln!("dpdk-testpmd not found; skipped (FERROVS_REQUIRE_ALL=1 makes this a failure)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ferrovs-memif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let socket = dir.join("m.sock");
    let server = serve(&testpmd, &socket, &dir);
    wait_forwarding(&server);

    let prefix = format!("ferrovs-memif-cli-{}", std::process::id());
    let eal = Eal::init(common::eal_args("dpdk-memif-test", "0", &prefix)).expect("EAL init");
    let spec = format!(
        "net_memif0,role=client,id=0,socket={},socket-abstract=no",
        socket.display()
    );
    let spec = with_defaults(&spec)
        .expect("a memif client gets the defaults")
        .spec;
    assert!(
        spec.ends_with(&format!(",bsize={MEMIF_CLIENT_BSIZE}")),
        "{spec}"
    );
    let pool = Mempool::new(&eal, "memif_pool", 2047, 0, DEFAULT_DATA_ROOM, None).expect("pool");
    let mut port = Port::probe(&eal, &spec).expect("probe the memif client");
    port.configure(&PortConfig {
        rx_queues: 1,
        tx_queues: 1,
        ..Default::default()
    })
    .expect("configure");
    let mut rx = port.rx_queue_setup(0, 256, &pool).expect("rx queue");
    let mut tx = port.tx_queue_setup(0, 256).expect("tx queue");
    port.start().expect("start");
    let t0 = Instant::now();
    while !port.link().is_ok_and(|l| l.up) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "memif link not up in 60 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The client lends the server the buffers of its receive ring when it first polls it;
    // testpmd drops what it cannot send at once, so poll before sending.
    let mut burst: Vec<Mbuf> = Vec::with_capacity(32);
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_millis(200) {
        rx.rx_burst(&mut burst);
        Mbuf::free_bulk(&mut burst);
    }

    // 60 bytes (64 on the wire), a 1514-byte frame (one buffer holds it), and between.
    let sizes = [60, 1514, 512, 60, 1514];
    let sent: Vec<Vec<u8>> = (0..64).map(|i| frame(i, sizes[i % sizes.len()])).collect();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<Mbuf> = sent
        .iter()
        .map(|f| pool.alloc_from(f).expect("mbuf"))
        .collect();
    let t0 = Instant::now();
    while got.len() < sent.len() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{} of {} frames back in 30 s:\n{}",
            got.len(),
            sent.len(),
            server.log()
        );
        if !pending.is_empty() {
            tx.tx_burst(&mut pending);
        }
        rx.rx_burst(&mut burst);
        got.extend(burst.iter().map(|m| m.data().to_vec()));
        Mbuf::free_bulk(&mut burst);
    }
    assert_eq!(got, sent, "frames came back changed or out of order");
    drop((rx, tx));
    let _ = port.stop();
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
