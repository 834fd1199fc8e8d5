//! What the benchmark forwards: the device under test (a ferrovs forwarding mode or a
//! testpmd-style reference loop), the snapshot ferrovs runs on, and the generator's frames.
//!
//! Addresses follow the dataplane criterion benches: one service per mode and protocol on
//! 198.18.0.100-103:80 with 16 round-robin backends on 198.18.1.0/24 behind gateway port 1
//! (FullNAT with 17 local addresses); clients are 10.0.0.0/8, 256 source ports per address.

use std::net::{IpAddr, Ipv4Addr};

use dataplane::fuzzing::{backend_mac, port_mac};
use dataplane::sched::SchedulerKind;
use dataplane::session::FwdMethod;
use dataplane::snapshot::{BackendSpec, PortInfo, Route, ServiceSpec, Snapshot, SnapshotBuilder};
use dataplane::types::L4Proto;
use dataplane::wire::checksum;
use etherparse::PacketBuilder;

/// Frame length: 64 bytes on the wire less the 4-byte FCS.
pub const FRAME: usize = 60;
/// The longest frame [`Flows::with_len`] builds: a 1500-byte IP packet in Ethernet.
pub const FRAME_MAX: usize = 1514;
const BACKENDS: u8 = 16;
/// Coprime with `BACKENDS`, so backends and local addresses do not move in step.
const LADDRS: u8 = 17;
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xc1];
const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

/// What runs on the device-under-test lcore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dut {
    /// testpmd `io`: receive on port 0, send the same mbufs on port 1, data untouched.
    Io,
    /// testpmd `macswap`: as `io`, swapping the Ethernet addresses of every frame.
    Macswap,
    /// The ferrovs worker loop, direct routing.
    Dr,
    /// The ferrovs worker loop, NAT (DNAT).
    Nat,
    /// The ferrovs worker loop, IPIP tunnel.
    Tun,
    /// The ferrovs worker loop, FullNAT.
    FullNat,
    /// The ferrovs worker loop, frames to an address it does not serve: every one is dropped
    /// (`not_for_us`). Measures the drop path (the DUT's RX rate; nothing comes back).
    Drop,
}

impl Dut {
    /// Every kind, references first.
    pub const ALL: [Dut; 7] = [
        Dut::Io,
        Dut::Macswap,
        Dut::Dr,
        Dut::Nat,
        Dut::Tun,
        Dut::FullNat,
        Dut::Drop,
    ];
    const MODES: [Dut; 4] = [Dut::Dr, Dut::Nat, Dut::Tun, Dut::FullNat];

    /// The longest frame this DUT can forward whole: [`FRAME_MAX`], less TUN's 20-byte outer
    /// header (longer frames would leave as fragments or ICMP errors).
    pub fn max_frame(self) -> usize {
        FRAME_MAX - if self == Dut::Tun { 20 } else { 0 }
    }

    /// Return the name used on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            Dut::Io => "io",
            Dut::Macswap => "macswap",
            Dut::Dr => "dr",
            Dut::Nat => "nat",
            Dut::Tun => "tun",
            Dut::FullNat => "fullnat",
            Dut::Drop => "drop",
        }
    }

    /// Parse a name from [`Dut::name`].
    pub fn parse(s: &str) -> Option<Dut> {
        Dut::ALL.into_iter().find(|d| d.name() == s)
    }

    /// Return true for the ferrovs modes (sessions matter), false for the references.
    pub fn is_ferrovs(self) -> bool {
        Dut::MODES.contains(&self)
    }

    /// Return true for what runs the ferrovs worker loop: the modes and the drop case.
    pub fn runs_ferrovs(self) -> bool {
        self.is_ferrovs() || self == Dut::Drop
    }

    /// Return the VIP the frames go to (references use DR's; they do not look).
    pub fn vip(self) -> Ipv4Addr {
        let k = match self {
            Dut::Io | Dut::Macswap | Dut::Dr => 0,
            Dut::Nat => 1,
            Dut::Tun => 2,
            Dut::FullNat => 3,
            // No service there.
            Dut::Drop => 99,
        };
        Ipv4Addr::new(198, 18, 0, 100 + k)
    }

    fn method(self) -> FwdMethod {
        match self {
            Dut::Nat => FwdMethod::Nat,
            Dut::Tun => FwdMethod::Tun,
            Dut::FullNat => FwdMethod::FullNat,
            Dut::Io | Dut::Macswap | Dut::Dr | Dut::Drop => FwdMethod::Dr,
        }
    }
}

fn backend_addr(k: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 1, 10 + k))
}

/// The snapshot every ferrovs DUT runs: two ports (0: clients, 1: backends), static
/// neighbours for the backends, and for every mode one TCP and one UDP service.
pub fn snapshot() -> Snapshot {
    let mut b = SnapshotBuilder::new(1);
    for p in 0..2 {
        b.port(PortInfo {
            mac: port_mac(p),
            addrs4: vec![Ipv4Addr::new(198, 18, p, 1)],
            addrs6: vec![],
            mtu: 1500,
        });
    }
    b.route(Route {
        prefix: IpAddr::V4(Ipv4Addr::new(198, 18, 1, 0)),
        len: 24,
        port: 1,
        via: None,
    });
    for k in 0..BACKENDS {
        b.neighbour(backend_addr(k), backend_mac(10 + k));
    }
    for mode in Dut::MODES {
        for proto in [L4Proto::Tcp, L4Proto::Udp] {
            let mut s = ServiceSpec::new(IpAddr::V4(mode.vip()), 80, proto);
            s.scheduler = SchedulerKind::Rr;
            let bport = if matches!(mode, Dut::Dr | Dut::Tun) {
                80
            } else {
                8080
            };
            s.backends = (0..BACKENDS)
                .map(|k| BackendSpec::new(backend_addr(k), bport, mode.method()))
                .collect();
            if mode == Dut::FullNat {
                s.laddrs = (0..LADDRS)
                    .map(|k| IpAddr::V4(Ipv4Addr::new(198, 18, 1, 200 + k)))
                    .collect();
            }
            b.service(s);
        }
    }
    b.build()
}

/// Which packet of a flow the generator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// TCP SYN (opens the session) or, for UDP, the flow's first datagram.
    Open,
    /// TCP ACK or, for UDP, any later datagram.
    Data,
}

/// Frames of `flows` flows from distinct clients to one VIP, written into mbufs in place.
///
/// Only the client address, source port, TCP flags and the IPv4 header checksum change from
/// one frame to the next. The TCP checksum stays that of flow 0 (ferrovs, like the NICs it
/// runs behind, leaves L4 checksum verification to offload); UDP carries none (0).
#[derive(Clone, Debug)]
pub struct Flows {
    base: Vec<u8>,
    proto: L4Proto,
    flows: usize,
    stride: usize,
}

impl Flows {
    /// Frames of `flows` flows of `proto` to the VIP of `dut`, [`FRAME`] bytes each.
    pub fn new(dut: Dut, proto: L4Proto, flows: usize) -> Flows {
        Self::with_len(dut, proto, flows, FRAME)
    }

    /// [`Flows::new`] with frames of `len` bytes ([`FRAME`] to [`FRAME_MAX`]). A [`FRAME`]-byte
    /// frame carries no payload and is padded after its IP packet, as before; a longer one
    /// carries zeros up to `len`, and its IP and UDP lengths count them.
    pub fn with_len(dut: Dut, proto: L4Proto, flows: usize, len: usize) -> Flows {
        assert!(flows > 0 && flows < 1 << 31, "flow count out of range");
        assert!(
            (FRAME..=FRAME_MAX).contains(&len),
            "frame length out of range"
        );
        let eth = PacketBuilder::ethernet2(CLIENT_MAC, port_mac(0));
        let ip = eth.ipv4([10, 0, 0, 0], dut.vip().octets(), 64);
        let mut base = Vec::with_capacity(len);
        // Headers alone: Ethernet 14, IPv4 20, then TCP 20 or UDP 8.
        let headers = if proto == L4Proto::Tcp { 54 } else { 42 };
        let payload = if len > FRAME {
            vec![0u8; len - headers]
        } else {
            Vec::new()
        };
        match proto {
            L4Proto::Tcp => ip
                .tcp(1024, 80, 1, 64240)
                .write(&mut base, &payload)
                .expect("build tcp"),
            _ => ip
                .udp(1024, 80)
                .write(&mut base, &payload)
                .expect("build udp"),
        }
        base.resize(len, 0);
        if proto != L4Proto::Tcp {
            base[40..42].fill(0);
        }
        // A stride coprime with the flow count visits every flow once per cycle, and far
        // apart, so consecutive packets hit unrelated sessions as on a busy link.
        let mut stride = 1_000_003 % flows;
        while gcd(stride, flows) != 1 {
            stride += 1;
        }
        Flows {
            base,
            proto,
            flows,
            stride,
        }
    }

    /// Return the number of flows.
    pub fn len(&self) -> usize {
        self.flows
    }

    /// Return the step between flows of consecutive steady-state packets.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Bytes a frame (less the FCS).
    pub fn frame_len(&self) -> usize {
        self.base.len()
    }

    /// Write the `kind` packet of flow `i` into `out` (exactly [`Flows::frame_len`] bytes).
    #[inline]
    pub fn write(&self, i: usize, kind: Kind, out: &mut [u8]) {
        out.copy_from_slice(&self.base);
        let i = u32::try_from(i).unwrap_or(0);
        let ip = 0x0a00_0000 + (i >> 8);
        out[26..30].copy_from_slice(&ip.to_be_bytes());
        let port = 1024 + u16::try_from(i & 0xff).unwrap_or(0);
        out[34..36].copy_from_slice(&port.to_be_bytes());
        if self.proto == L4Proto::Tcp {
            out[47] = match kind {
                Kind::Open => TCP_SYN,
                Kind::Data => TCP_ACK,
            };
        }
        out[24..26].fill(0);
        let c = checksum::ipv4_header_checksum(&out[14..34]);
        out[24..26].copy_from_slice(&c.to_be_bytes());
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::frame::VecFrame;
    use dataplane::worker::{Verdict, Worker, WorkerConfig};

    /// Every mode forwards the generator's frames to the backend port, for both protocols.
    #[test]
    fn test_generated_frames_forward_in_every_mode() {
        let snap = snapshot();
        for dut in Dut::MODES {
            for (proto, len) in [
                (L4Proto::Tcp, FRAME),
                (L4Proto::Udp, FRAME),
                (L4Proto::Tcp, Dut::Tun.max_frame()),
                (L4Proto::Udp, 512),
            ] {
                let flows = Flows::with_len(dut, proto, 1000, len);
                let mut w = Worker::new(WorkerConfig {
                    sessions4: 4096,
                    ..WorkerConfig::default()
                });
                for kind in [Kind::Open, Kind::Data, Kind::Data] {
                    for i in [0, 1, 255, 256, 999] {
                        let mut f = vec![0u8; len];
                        flows.write(i, kind, &mut f);
                        let mut frames = [VecFrame::with_room(&f, 128, 64)];
                        let mut v = [Verdict::Tx(9)];
                        w.process(&snap, 1, 0, &mut frames, &mut v);
                        assert_eq!(
                            v[0],
                            Verdict::Tx(1),
                            "{dut:?} {proto:?} {len} {kind:?} flow {i}"
                        );
                    }
                }
                assert_eq!(w.sessions4().len(), 5);
            }
        }
    }

    /// Longer frames carry the extra bytes as payload: the IP (and UDP) lengths cover them.
    #[test]
    fn test_frame_length_is_in_the_headers() {
        for proto in [L4Proto::Udp, L4Proto::Tcp] {
            let f = Flows::with_len(Dut::FullNat, proto, 10, FRAME_MAX);
            let mut out = vec![0u8; FRAME_MAX];
            f.write(3, Kind::Data, &mut out);
            assert_eq!(f.frame_len(), FRAME_MAX);
            assert_eq!(u16::from_be_bytes([out[16], out[17]]), 1500, "{proto:?}");
            if proto == L4Proto::Udp {
                assert_eq!(u16::from_be_bytes([out[38], out[39]]), 1500 - 20);
            }
            // The 60-byte frame is the headers alone, padded: IP counts no payload.
            let short = Flows::new(Dut::FullNat, proto, 10);
            assert_eq!(short.frame_len(), FRAME);
            short.write(3, Kind::Data, &mut out[..FRAME]);
            let ip_len = if proto == L4Proto::Udp { 28 } else { 40 };
            assert_eq!(u16::from_be_bytes([out[16], out[17]]), ip_len, "{proto:?}");
        }
    }

    #[test]
    fn test_stride_visits_every_flow() {
        for n in [1, 2, 1000, 1_000_003, 4096] {
            let f = Flows::new(Dut::Dr, L4Proto::Udp, n);
            assert_eq!(gcd(f.stride(), n), 1, "{n}");
        }
    }
}
