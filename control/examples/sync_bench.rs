//! Session-sync channel figures (issue 15 item 8), not a test: two [`Channel`]s in this one
//! thread, wired back to back in memory (no sockets, no loss), with the real codec, HMAC-SHA256,
//! window and acknowledgements. One core does both ends' work, so the rates are what one control
//! core sustains sending *and* receiving; a sender alone does about half the work per session.
//!
//! - live: `--sessions N` records queued as a gateway's workers would publish them (in batches
//!   of 4096, pumping in between), delivered to the peer: sessions/s, datagrams, and the lag
//!   from queueing to delivery (p50/p99, microseconds) as the receiver's events report it;
//! - resync: a full table of `--sessions N` streamed to the peer (`begin_resync`): the time to
//!   the peer's `ResyncComplete`.
//!
//! `cargo run --release -p control --example sync_bench -- --sessions 1000000`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use control::sync::{
    unix_epoch_now, Channel, Event, Settings, Snapshot, SyncOp, SyncSession, Timing,
};
use dataplane::session::{FwdMethod, TcpState};
use dataplane::types::L4Proto;

const A: &str = "198.18.0.10:8848";
const B: &str = "198.18.0.11:8848";

fn settings(me: &str, peer: &str) -> Settings {
    Settings {
        listen: me.parse().expect("literal"),
        peers: vec![peer.parse().expect("literal")],
        group: None,
        ttl: 1,
        key: vec![0x5a; 32],
        syncid: 1,
        max_datagram: 1400,
        rate: 0,
        mode: config::SyncMode::Both,
        expect_peers: 0,
        timing: Timing::default(),
    }
}

/// Session `n`: a FullNAT TCP connection, distinct client and local endpoints.
fn session(n: u32) -> SyncSession {
    let [a, b, c, d] = n.to_be_bytes();
    SyncSession {
        op: SyncOp::Update,
        proto: L4Proto::Tcp,
        client: SocketAddr::from(([10, a, b, c], 1024 + u16::from(d))),
        vip: "198.18.0.100:80".parse().expect("literal"),
        local: Some(SocketAddr::from((
            [198, 18, 1, 200],
            1024 + (n % 60000) as u16,
        ))),
        backend: "198.18.1.14:8080".parse().expect("literal"),
        method: FwdMethod::FullNat,
        tcp_state: TcpState::Established,
        timeout_s: 900,
        template: None,
        flags: 0,
        client_hop: None,
        proxy: None,
        synproxy: None,
    }
}

struct Pair {
    a: Channel,
    b: Channel,
    addr_a: SocketAddr,
    addr_b: SocketAddr,
    datagrams: u64,
    bytes: u64,
    /// Sessions B received (live, resync).
    live: u64,
    resync: u64,
    resync_done: bool,
    /// B asked A for its table.
    requested: bool,
    lags_us: Vec<u64>,
}

impl Pair {
    /// Move every datagram both ways and run due timers until nothing moves.
    fn pump(&mut self) {
        loop {
            let now = Instant::now();
            let mut moved = false;
            for ev in self.a.handle_timeout(now) {
                self.on_a(ev);
            }
            for ev in self.b.handle_timeout(now) {
                self.on_b(ev);
            }
            while let Some(t) = self.a.poll_transmit(now) {
                moved = true;
                self.datagrams += 1;
                self.bytes += t.bytes.len() as u64;
                for ev in self.b.on_datagram(&t.bytes, self.addr_a, now) {
                    self.on_b(ev);
                }
            }
            while let Some(t) = self.b.poll_transmit(now) {
                moved = true;
                for ev in self.a.on_datagram(&t.bytes, self.addr_b, now) {
                    self.on_a(ev);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn on_a(&mut self, ev: Event) {
        if let Event::ResyncRequested { .. } = ev {
            self.requested = true;
        }
    }

    /// Wait for B's resync request, answer it with `table`, and pump until B has it all.
    fn resync(&mut self, table: Snapshot, limit: Duration) -> f64 {
        let deadline = Instant::now() + limit;
        while !self.requested {
            assert!(Instant::now() < deadline, "B never asked for a resync");
            self.pump();
            std::thread::sleep(Duration::from_millis(1));
        }
        self.requested = false;
        self.resync_done = false;
        let start = Instant::now();
        self.a
            .begin_resync(self.addr_b, table, start)
            .expect("begin_resync");
        while !self.resync_done {
            assert!(
                Instant::now() < deadline,
                "resync: {} sessions after {limit:?}",
                self.resync
            );
            self.pump();
        }
        start.elapsed().as_secs_f64()
    }

    fn on_b(&mut self, ev: Event) {
        match ev {
            Event::Sessions {
                sessions,
                sent_unix_us,
                resync,
                ..
            } => {
                let n = sessions.len() as u64;
                if resync {
                    self.resync += n;
                } else {
                    self.live += n;
                    let lag = unix_epoch_now().saturating_sub(sent_unix_us);
                    self.lags_us.push(lag);
                }
            }
            Event::ResyncComplete { .. } => self.resync_done = true,
            _ => {}
        }
    }
}

fn percentile(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn main() {
    let mut sessions: u32 = 1_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sessions" => {
                sessions = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--sessions N");
            }
            other => panic!("unknown argument {other}; usage: sync_bench [--sessions N]"),
        }
    }
    let t0 = Instant::now();
    let mut p = Pair {
        // Epochs are the channels' start times in Unix microseconds, as the gateway gives them:
        // the receiver's events then carry real Unix times.
        a: Channel::new(settings(A, B), unix_epoch_now(), t0),
        b: Channel::new(settings(B, A), unix_epoch_now() + 1, t0),
        addr_a: A.parse().expect("literal"),
        addr_b: B.parse().expect("literal"),
        datagrams: 0,
        bytes: 0,
        live: 0,
        resync: 0,
        resync_done: false,
        requested: false,
        lags_us: Vec::new(),
    };
    // Hellos until each knows the other (a resync needs the peer's epoch).
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.a.peer_state(p.addr_b).is_none_or(|s| s.name() == "down")
        || p.b.peer_state(p.addr_a).is_none_or(|s| s.name() == "down")
    {
        assert!(Instant::now() < deadline, "the two channels never met");
        p.pump();
        std::thread::sleep(Duration::from_millis(1));
    }
    // B asks for A's table when they meet; live updates flow once it has it (empty here).
    p.resync(Box::new(std::iter::empty()), Duration::from_secs(5));
    let base = (p.live, p.datagrams, p.bytes);

    // Live updates.
    let start = Instant::now();
    let mut n = 0;
    while n < sessions {
        let now = Instant::now();
        for _ in 0..4096.min(sessions - n) {
            p.a.queue(session(n), now).expect("queue");
            n += 1;
        }
        p.pump();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.live - base.0 < u64::from(sessions) {
        assert!(
            Instant::now() < deadline,
            "live: {} of {sessions} delivered",
            p.live
        );
        p.pump();
    }
    let live_s = start.elapsed().as_secs_f64();
    let dgrams = p.datagrams - base.1;
    let bytes = p.bytes - base.2;
    let mut lags = std::mem::take(&mut p.lags_us);
    println!(
        "live: {sessions} sessions in {live_s:.3} s = {:.0} sessions/s (both ends on one core); \
         {dgrams} datagrams, {:.1} sessions and {:.0} bytes per datagram; lag p50 {} us, p99 {} \
         us (per delivered batch, {} batches)",
        f64::from(sessions) / live_s,
        f64::from(sessions) / dgrams as f64,
        bytes as f64 / dgrams as f64,
        percentile(&mut lags, 0.50),
        percentile(&mut lags, 0.99),
        lags.len()
    );

    // A full resync of a table of the same size, as B asks again (after a restart).
    p.b.request_resync(p.addr_a, Instant::now())
        .expect("request_resync");
    let before = p.resync;
    let resync_s = p.resync(
        Box::new((0..sessions).map(session)),
        Duration::from_secs(120),
    );
    p.resync -= before;
    println!(
        "resync: {} sessions in {resync_s:.3} s = {:.0} sessions/s",
        p.resync,
        p.resync as f64 / resync_s
    );
}
