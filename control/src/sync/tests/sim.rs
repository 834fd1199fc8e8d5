//! A simulated network of gateways running [`Channel`]s: seeded loss, duplication, delay
//! jitter (so reordering), partitions, restarts; simulated time.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dataplane::session::{FwdMethod, TcpState};
use dataplane::types::L4Proto;

use crate::sync::{Channel, Event, PeerState, Settings, SyncOp, SyncSession, Timing};

/// A deterministic xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub const KEY: [u8; 32] = [0x11; 32];

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 18, 0, 10 + u8::try_from(i).expect("few nodes")], 8848))
}

/// A session numbered `n` from gateway `node`: distinct client port and address per number.
pub fn session(node: usize, n: u32) -> SyncSession {
    let [a, b, c, d] = n.to_be_bytes();
    SyncSession {
        op: SyncOp::Update,
        proto: L4Proto::Tcp,
        client: SocketAddr::from((
            [10, 100 + u8::try_from(node).expect("few"), b ^ a, c],
            1024 + u16::from(d),
        )),
        vip: "198.18.0.100:80".parse().expect("literal"),
        local: Some(SocketAddr::from((
            [198, 18, 1, 200 + u8::try_from(node).expect("few")],
            5000 + u16::from(d),
        ))),
        backend: "198.18.1.14:8080".parse().expect("literal"),
        method: FwdMethod::FullNat,
        tcp_state: TcpState::Established,
        timeout_s: n,
        template: None,
        flags: 0,
        client_hop: None,
        proxy: None,
        synproxy: None,
    }
}

/// The key a gateway indexes a session by.
pub type Key = (SocketAddr, SocketAddr, L4Proto);

pub fn key(s: &SyncSession) -> Key {
    (s.client, s.vip, s.proto)
}

pub fn settings(i: usize, n: usize, timing: Timing) -> Settings {
    Settings {
        listen: addr(i),
        peers: (0..n).filter(|&j| j != i).map(addr).collect(),
        key: KEY.to_vec(),
        syncid: 1,
        group: None,
        ttl: 1,
        max_datagram: 1400,
        rate: 0,
        mode: config::SyncMode::Both,
        expect_peers: 0,
        timing,
    }
}

/// One gateway: its channel, its own table (what it would snapshot), and what it learned.
pub struct Node {
    pub ch: Channel,
    /// Every session this gateway holds (own and learned): what a resync sends.
    pub table: BTreeMap<Key, SyncSession>,
    /// Every record received, per peer, in delivery order (live and resync).
    pub received: HashMap<SocketAddr, Vec<(SyncSession, bool)>>,
    pub completes: Vec<SocketAddr>,
    /// Live (not resync) `Sessions` events.
    pub live_batches: u64,
    pub requested: Vec<SocketAddr>,
    pub states: Vec<(SocketAddr, PeerState)>,
    /// Whether it is running (a stopped node neither sends nor receives).
    pub up: bool,
    /// Whether the test answers resync requests itself (pushing records), instead of the
    /// node handing its table over as an iterator.
    pub push: bool,
}

/// Rewrites a datagram (from, to, bytes) as it is sent.
pub type Tamper = Box<dyn FnMut(usize, usize, &[u8]) -> Vec<u8>>;

/// A datagram on the wire.
struct Flying {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// The network.
pub struct Net {
    pub t0: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    flying: Vec<Flying>,
    pub rng: Rng,
    pub loss: f64,
    pub dup: f64,
    pub latency: Duration,
    pub jitter: Duration,
    /// Links (from, to) that drop everything.
    pub cut: Vec<(usize, usize)>,
    /// Every datagram that was put on the wire (from, to, bytes), for replay tests.
    pub capture: Vec<(usize, usize, Vec<u8>)>,
    pub capturing: bool,
    /// Rewrites each datagram (from, to, bytes) as it is sent: a newer peer's format.
    pub tamper: Option<Tamper>,
    next_epoch: u64,
    /// Most numbered messages in flight / buffered / queued seen at any step, per node.
    pub high_water: (usize, usize, usize),
}

impl Net {
    pub fn new(n: usize, timing: Timing, seed: u64) -> Self {
        Self::with(n, seed, |i| settings(i, n, timing))
    }

    pub fn with(n: usize, seed: u64, f: impl Fn(usize) -> Settings) -> Self {
        let t0 = Instant::now();
        let nodes = (0..n)
            .map(|i| Node {
                ch: Channel::new(f(i), 1000 + i as u64, t0),
                table: BTreeMap::new(),
                received: HashMap::new(),
                completes: Vec::new(),
                live_batches: 0,
                requested: Vec::new(),
                states: Vec::new(),
                up: true,
                push: false,
            })
            .collect();
        Self {
            t0,
            now: t0,
            nodes,
            flying: Vec::new(),
            rng: Rng::new(seed),
            loss: 0.0,
            dup: 0.0,
            latency: Duration::from_micros(200),
            jitter: Duration::ZERO,
            cut: Vec::new(),
            capture: Vec::new(),
            capturing: false,
            tamper: None,
            next_epoch: 2000,
            high_water: (0, 0, 0),
        }
    }

    fn index(&self, a: SocketAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| addr(i) == a)
    }

    /// Restart node `i`: a new channel with a new (higher) epoch and, unless `keep_table`, an
    /// empty table (a crash).
    pub fn restart(&mut self, i: usize, keep_table: bool, s: Settings) {
        self.next_epoch += 1;
        let n = &mut self.nodes[i];
        n.ch = Channel::new(s, self.next_epoch, self.now);
        if !keep_table {
            n.table.clear();
        }
        n.received.clear();
        n.completes.clear();
        n.requested.clear();
        n.up = true;
    }

    /// Queue `rec` on node `i` (and hold it in its table).
    pub fn queue(&mut self, i: usize, rec: SyncSession) {
        let n = &mut self.nodes[i];
        match rec.op {
            SyncOp::Update => n.table.insert(key(&rec), rec.clone()),
            SyncOp::Delete | SyncOp::Expire => n.table.remove(&key(&rec)),
        };
        n.ch.queue(rec, self.now).expect("valid record");
    }

    fn handle(&mut self, i: usize, events: Vec<Event>) {
        let now = self.now;
        let n = &mut self.nodes[i];
        for e in events {
            match e {
                Event::Sessions {
                    peer,
                    sessions,
                    resync,
                    ..
                } => {
                    n.live_batches += u64::from(!resync);
                    for s in sessions {
                        match s.op {
                            SyncOp::Update => n.table.insert(key(&s), s.clone()),
                            SyncOp::Delete | SyncOp::Expire => n.table.remove(&key(&s)),
                        };
                        n.received.entry(peer).or_default().push((s, resync));
                    }
                }
                Event::ResyncRequested { peer } => {
                    n.requested.push(peer);
                    if n.push {
                        continue;
                    }
                    let snap: Vec<SyncSession> = n.table.values().cloned().collect();
                    n.ch.begin_resync(peer, Box::new(snap.into_iter()), now)
                        .expect("peer is known");
                }
                Event::ResyncComplete { peer, .. } => n.completes.push(peer),
                Event::PeerState { peer, state } => n.states.push((peer, state)),
            }
        }
    }

    /// Send what every running node has to send.
    fn flush(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                continue;
            }
            let mut guard = 0;
            while let Some(t) = self.nodes[i].ch.poll_transmit(self.now) {
                guard += 1;
                assert!(guard < 100_000, "poll_transmit never runs dry");
                assert!(t.bytes.len() <= self.nodes[i].ch.settings().max_datagram);
                // The multicast group reaches every other node, each copy lost on its own.
                let targets: Vec<usize> = if t.dst.ip().is_multicast() {
                    (0..self.nodes.len()).filter(|&j| j != i).collect()
                } else {
                    self.index(t.dst).into_iter().collect()
                };
                for j in targets {
                    let t = match &mut self.tamper {
                        Some(f) => crate::sync::Transmit {
                            bytes: f(i, j, &t.bytes),
                            ..t.clone()
                        },
                        None => t.clone(),
                    };
                    if self.capturing {
                        self.capture.push((i, j, t.bytes.clone()));
                    }
                    if self.cut.contains(&(i, j)) || self.rng.chance(self.loss) {
                        continue;
                    }
                    let copies = if self.rng.chance(self.dup) { 2 } else { 1 };
                    for _ in 0..copies {
                        let jit = if self.jitter.is_zero() {
                            Duration::ZERO
                        } else {
                            Duration::from_micros(self.rng.below(self.jitter.as_micros() as u64))
                        };
                        self.flying.push(Flying {
                            at: self.now + self.latency + jit,
                            from: addr(i),
                            to: addr(j),
                            bytes: t.bytes.clone(),
                        });
                    }
                }
            }
        }
    }

    /// Deliver a datagram to node `to` now (outside the simulated wire).
    pub fn inject(&mut self, to: usize, from: SocketAddr, bytes: &[u8]) {
        let ev = self.nodes[to].ch.on_datagram(bytes, from, self.now);
        self.handle(to, ev);
        self.flush();
    }

    /// Run until `until` (simulated).
    pub fn run_until(&mut self, until: Instant) {
        self.flush();
        let mut idle_steps = 0u32;
        loop {
            let mut next = self.flying.iter().map(|f| f.at).min();
            for n in self.nodes.iter().filter(|n| n.up) {
                if let Some(t) = n.ch.next_timeout() {
                    next = Some(next.map_or(t, |x: Instant| x.min(t)));
                }
            }
            let Some(next) = next else { break };
            if next > until {
                break;
            }
            if next <= self.now {
                idle_steps += 1;
                assert!(
                    idle_steps < 100_000,
                    "the channel asks to be woken without progress"
                );
            } else {
                idle_steps = 0;
                self.now = next;
            }
            // Deliver everything due.
            let due: Vec<Flying> = {
                let now = self.now;
                let (due, rest) = self.flying.drain(..).partition(|f| f.at <= now);
                self.flying = rest;
                due
            };
            for f in due {
                let Some(j) = self.index(f.to) else { continue };
                if !self.nodes[j].up {
                    continue;
                }
                let ev = self.nodes[j].ch.on_datagram(&f.bytes, f.from, self.now);
                self.handle(j, ev);
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].up {
                    let ev = self.nodes[i].ch.handle_timeout(self.now);
                    self.handle(i, ev);
                }
            }
            self.flush();
            for n in &self.nodes {
                for p in n.ch.stats().peers {
                    let hw = &mut self.high_water;
                    hw.0 = hw.0.max(p.in_flight);
                    hw.1 = hw.1.max(p.buffered);
                    hw.2 = hw.2.max(p.pending);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Run for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Run until `cond` holds, at most `limit` of simulated time; returns whether it held.
    pub fn run_while_not(&mut self, limit: Duration, mut cond: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if cond(self) {
                return true;
            }
            self.run_for(Duration::from_millis(10));
        }
        cond(self)
    }

    /// The records node `i` received from node `j`, live ones only.
    pub fn live_from(&self, i: usize, j: usize) -> Vec<SyncSession> {
        self.nodes[i]
            .received
            .get(&addr(j))
            .map(|v| {
                v.iter()
                    .filter(|(_, r)| !r)
                    .map(|(s, _)| s.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
