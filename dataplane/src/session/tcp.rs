//! IPVS's TCP connection states, their transition table and per-state timeouts.
//!
//! Contract: [`tcp_transition`] is the kernel's `set_tcp_state()` (`net/netfilter/ipvs/
//! ip_vs_proto_tcp.c`) with the normal table `tcp_states[]`: the flag precedence RST > SYN >
//! FIN > ACK picks the row, the packet's direction picks the block (INPUT = from the client,
//! OUTPUT = from the backend, INPUT-ONLY = connections whose replies bypass us, DR and TUN), and
//! the current state picks the column. As in the kernel, a segment with none of SYN, FIN, ACK,
//! RST moves the connection to CLOSE. The `secure_tcp` defence table (`tcp_states_dos`) is not
//! implemented.
//!
//! [`Timeouts`] holds the per-state timeouts in seconds with the kernel defaults
//! (`tcp_timeouts[]`, `udp_timeouts[]`) and the `ipvsadm --set tcp tcpfin udp` semantics: the three
//! values replace the ESTABLISHED, FIN_WAIT and UDP timeouts, 0 leaves one unchanged, and values
//! above 31 days are refused (ipvsadm's `parse_timeout` limit, 86400 * 31).

use crate::types::L4Proto;

/// A TCP connection state as IPVS tracks it (`IP_VS_TCP_S_*`, same numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum TcpState {
    /// No segment seen yet (also the state of persistence templates).
    #[default]
    None = 0,
    /// Three-way handshake completed.
    Established = 1,
    /// SYN seen from the backend side.
    SynSent = 2,
    /// SYN seen from the client.
    SynRecv = 3,
    /// FIN seen; closing.
    FinWait = 4,
    /// Both sides closed.
    TimeWait = 5,
    /// Reset or closed.
    Close = 6,
    /// The client closed first.
    CloseWait = 7,
    /// Waiting for the last ACK.
    LastAck = 8,
    /// Listening (kept for parity with IPVS; not entered by the normal table from NONE).
    Listen = 9,
    /// SYN-ACK state (used by IPVS's secure_tcp table; kept for parity).
    SynAck = 10,
}

/// Number of TCP states (`IP_VS_TCP_S_LAST`).
pub const TCP_STATE_COUNT: usize = 11;

impl TcpState {
    /// All states in kernel order.
    pub const ALL: [TcpState; TCP_STATE_COUNT] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::SynAck,
    ];

    /// The upper-case name `ipvsadm -L -c` prints (`tcp_state_name_table`).
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// Whether IPVS counts a connection in this state as ActiveConn (only ESTABLISHED) rather
    /// than InActConn.
    pub const fn is_active(self) -> bool {
        matches!(self, TcpState::Established)
    }

    /// The state with kernel number `n`, if there is one.
    pub const fn from_u8(n: u8) -> Option<Self> {
        if (n as usize) < TCP_STATE_COUNT {
            Some(Self::ALL[n as usize])
        } else {
            None
        }
    }
}

/// The TCP header flags the state machine looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// ACK.
    pub ack: bool,
    /// RST.
    pub rst: bool,
}

impl TcpFlags {
    /// FIN bit in the TCP flags byte (RFC 9293 §3.1).
    pub const FIN_BIT: u8 = 0x01;
    /// SYN bit in the TCP flags byte.
    pub const SYN_BIT: u8 = 0x02;
    /// RST bit in the TCP flags byte.
    pub const RST_BIT: u8 = 0x04;
    /// ACK bit in the TCP flags byte.
    pub const ACK_BIT: u8 = 0x10;

    /// Decode the flags byte (offset 13 of the TCP header); other bits are ignored.
    pub const fn from_bits(bits: u8) -> Self {
        Self {
            syn: bits & Self::SYN_BIT != 0,
            fin: bits & Self::FIN_BIT != 0,
            ack: bits & Self::ACK_BIT != 0,
            rst: bits & Self::RST_BIT != 0,
        }
    }

    /// The table row the kernel uses (`tcp_state_idx`): RST > SYN > FIN > ACK, `None` if none set.
    const fn row(self) -> Option<usize> {
        if self.rst {
            Some(3)
        } else if self.syn {
            Some(0)
        } else if self.fin {
            Some(1)
        } else if self.ack {
            Some(2)
        } else {
            None
        }
    }
}

/// Which block of the transition table a segment uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpDir {
    /// From the client towards the virtual service (kernel `TCP_DIR_INPUT`).
    Input,
    /// From the backend back through us (kernel `TCP_DIR_OUTPUT`).
    Output,
    /// From the client, on a connection whose replies bypass us, DR and TUN (kernel
    /// `TCP_DIR_INPUT_ONLY`, chosen by `IP_VS_CONN_F_NOOUTPUT`).
    InputOnly,
}

use TcpState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynRecv as SR, SynSent as SS, TimeWait as TW,
};

/// The kernel's `tcp_states[]`, rows syn, fin, ack, rst; columns are the current state in kernel
/// order: NONE ES SS SR FW TW CL CW LA LI SA.
#[rustfmt::skip]
const TABLE: [[[TcpState; TCP_STATE_COUNT]; 4]; 3] = [
    // INPUT
    [
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    // OUTPUT
    [
        /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    // INPUT-ONLY
    [
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

/// The next state for a segment with `flags` travelling `dir` on a connection in `state`.
pub const fn tcp_transition(state: TcpState, dir: TcpDir, flags: TcpFlags) -> TcpState {
    let block = match dir {
        TcpDir::Input => 0,
        TcpDir::Output => 1,
        TcpDir::InputOnly => 2,
    };
    match flags.row() {
        Some(row) => TABLE[block][row][state as usize],
        // Kernel: `new_state = IP_VS_TCP_S_CLOSE` stays when `tcp_state_idx() < 0`.
        None => TcpState::Close,
    }
}

/// The state of a session that a segment other than a SYN opens (`sloppy_tcp`: a flow another
/// gateway started): [`tcp_transition`] from NONE, except that an ACK (the usual mid-flow
/// segment) opens it ESTABLISHED, as the kernel's tables do since `sloppy_tcp` exists (their
/// `ack` rows say ESTABLISHED in the NONE column; the older table kept above says CLOSE, which
/// without `sloppy_tcp` no segment reaches). A FIN, or a segment without flags, opens it CLOSE.
pub const fn sloppy_tcp_state(dir: TcpDir, flags: TcpFlags) -> TcpState {
    match flags.row() {
        Some(2) => TcpState::Established,
        _ => tcp_transition(TcpState::None, dir, flags),
    }
}

/// ipvsadm's upper limit for `--set` values and `-p`: 31 days in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 86_400 * 31;

/// Kernel default TCP timeouts in seconds, indexed by [`TcpState`] (`tcp_timeouts[]`).
pub const DEFAULT_TCP_TIMEOUTS: [u32; TCP_STATE_COUNT] = [
    2,       // NONE
    15 * 60, // ESTABLISHED
    2 * 60,  // SYN_SENT
    60,      // SYN_RECV
    2 * 60,  // FIN_WAIT
    2 * 60,  // TIME_WAIT
    10,      // CLOSE
    60,      // CLOSE_WAIT
    30,      // LAST_ACK
    2 * 60,  // LISTEN
    120,     // SYNACK
];

/// Kernel default UDP timeout in seconds (`udp_timeouts[IP_VS_UDP_S_NORMAL]`).
pub const DEFAULT_UDP_TIMEOUT: u32 = 5 * 60;

/// A `--set` value outside 0..=31 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutError {
    /// Which value: `"tcp"`, `"tcpfin"` or `"udp"`.
    pub which: &'static str,
    /// The refused value in seconds.
    pub secs: u64,
}

impl core::fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} timeout {} s is out of range (0..={MAX_TIMEOUT_SECS}, 0 = unchanged)",
            self.which, self.secs
        )
    }
}

impl std::error::Error for TimeoutError {}

/// Per-state session timeouts in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    tcp: [u32; TCP_STATE_COUNT],
    udp: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Timeouts {
    /// The kernel defaults: ESTABLISHED 900, FIN_WAIT 120, UDP 300, and the rest of `tcp_timeouts[]`.
    pub const DEFAULT: Self = Self {
        tcp: DEFAULT_TCP_TIMEOUTS,
        udp: DEFAULT_UDP_TIMEOUT,
    };

    /// Apply `ipvsadm --set tcp tcpfin udp`: 0 leaves a value unchanged.
    ///
    /// # Errors
    /// A value above 31 days; then nothing is changed.
    pub fn set(&mut self, tcp: u64, tcpfin: u64, udp: u64) -> Result<(), TimeoutError> {
        for (which, secs) in [("tcp", tcp), ("tcpfin", tcpfin), ("udp", udp)] {
            if secs > u64::from(MAX_TIMEOUT_SECS) {
                return Err(TimeoutError { which, secs });
            }
        }
        // The checks above bound every value by MAX_TIMEOUT_SECS, so the casts are lossless.
        let fit = |s: u64| s as u32;
        if tcp != 0 {
            self.tcp[TcpState::Established as usize] = fit(tcp);
        }
        if tcpfin != 0 {
            self.tcp[TcpState::FinWait as usize] = fit(tcpfin);
        }
        if udp != 0 {
            self.udp = fit(udp);
        }
        Ok(())
    }

    /// The three values `ipvsadm -L --timeout` prints: (tcp, tcpfin, udp).
    pub const fn listed(&self) -> (u32, u32, u32) {
        (
            self.tcp[TcpState::Established as usize],
            self.tcp[TcpState::FinWait as usize],
            self.udp,
        )
    }

    /// Set one TCP state's timeout (the kernel's per-state table; not reachable from ipvsadm).
    ///
    /// # Errors
    /// `secs` of 0 or above 31 days.
    pub fn set_tcp_state(&mut self, state: TcpState, secs: u32) -> Result<(), TimeoutError> {
        if secs == 0 || secs > MAX_TIMEOUT_SECS {
            return Err(TimeoutError {
                which: state.name(),
                secs: u64::from(secs),
            });
        }
        self.tcp[state as usize] = secs;
        Ok(())
    }

    /// The timeout of a TCP connection in `state`, in seconds.
    #[inline]
    pub const fn tcp(&self, state: TcpState) -> u32 {
        self.tcp[state as usize]
    }

    /// The UDP timeout, in seconds.
    #[inline]
    pub const fn udp(&self) -> u32 {
        self.udp
    }

    /// The timeout of a session of `proto` in `state` (UDP has one), in seconds.
    #[inline(always)]
    pub const fn of(&self, proto: L4Proto, state: TcpState) -> u32 {
        match proto {
            L4Proto::Tcp => self.tcp(state),
            L4Proto::Udp => self.udp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState as S;

    const SYN: TcpFlags = TcpFlags::from_bits(TcpFlags::SYN_BIT);
    const SYNACK: TcpFlags = TcpFlags::from_bits(TcpFlags::SYN_BIT | TcpFlags::ACK_BIT);
    const ACK: TcpFlags = TcpFlags::from_bits(TcpFlags::ACK_BIT);
    const FINACK: TcpFlags = TcpFlags::from_bits(TcpFlags::FIN_BIT | TcpFlags::ACK_BIT);
    const RST: TcpFlags = TcpFlags::from_bits(TcpFlags::RST_BIT);
    const RSTACK: TcpFlags = TcpFlags::from_bits(TcpFlags::RST_BIT | TcpFlags::ACK_BIT);

    fn walk(start: S, steps: &[(TcpDir, TcpFlags)]) -> Vec<S> {
        let mut s = start;
        steps
            .iter()
            .map(|&(d, f)| {
                s = tcp_transition(s, d, f);
                s
            })
            .collect()
    }

    #[test]
    fn normal_open_and_client_close_through_nat() {
        use TcpDir::{Input as I, Output as O};
        let states = walk(
            S::None,
            &[
                (I, SYN),
                (O, SYNACK),
                (I, ACK),
                (I, ACK),
                (I, FINACK),
                (O, ACK),
                (O, FINACK),
                (I, ACK),
            ],
        );
        assert_eq!(
            states,
            [
                S::SynRecv,
                S::SynRecv,
                S::Established,
                S::Established,
                S::CloseWait,
                S::CloseWait,
                S::TimeWait,
                S::TimeWait
            ]
        );
    }

    #[test]
    fn backend_closes_first() {
        use TcpDir::{Input as I, Output as O};
        let states = walk(
            S::Established,
            &[(O, FINACK), (I, ACK), (I, FINACK), (O, ACK)],
        );
        assert_eq!(states, [S::FinWait, S::FinWait, S::TimeWait, S::TimeWait]);
    }

    #[test]
    fn rst_closes_from_either_side_but_not_syn_recv_on_input() {
        assert_eq!(tcp_transition(S::Established, TcpDir::Input, RST), S::Close);
        assert_eq!(
            tcp_transition(S::Established, TcpDir::Output, RSTACK),
            S::Close
        );
        // The kernel keeps SYN_RECV on an inbound RST (a spoofed RST must not kill a handshake).
        assert_eq!(tcp_transition(S::SynRecv, TcpDir::Input, RST), S::SynRecv);
        assert_eq!(tcp_transition(S::SynRecv, TcpDir::Output, RST), S::Close);
        // RST wins over SYN in the row choice.
        let rst_syn = TcpFlags::from_bits(TcpFlags::RST_BIT | TcpFlags::SYN_BIT);
        assert_eq!(tcp_transition(S::None, TcpDir::Input, rst_syn), S::Close);
    }

    #[test]
    fn input_only_for_dr_and_tun() {
        use TcpDir::InputOnly as IO;
        let states = walk(S::None, &[(IO, SYN), (IO, ACK), (IO, FINACK), (IO, ACK)]);
        // A client FIN on an established DR connection is FIN_WAIT (the INPUT table says CLOSE_WAIT).
        assert_eq!(states, [S::SynRecv, S::Established, S::FinWait, S::FinWait]);
        assert_eq!(tcp_transition(S::Established, IO, RST), S::Close);
        assert_eq!(tcp_transition(S::SynRecv, IO, RST), S::SynRecv);
        assert_eq!(tcp_transition(S::SynAck, IO, RST), S::Close);
        assert_eq!(tcp_transition(S::FinWait, IO, SYN), S::SynRecv);
    }

    #[test]
    fn ack_without_syn_on_a_new_connection_closes_it() {
        assert_eq!(tcp_transition(S::None, TcpDir::Input, ACK), S::Close);
        assert_eq!(tcp_transition(S::None, TcpDir::Output, ACK), S::Established);
    }

    #[test]
    fn a_sloppy_ack_opens_an_established_session() {
        for dir in [TcpDir::Input, TcpDir::InputOnly, TcpDir::Output] {
            assert_eq!(sloppy_tcp_state(dir, ACK), S::Established);
            let psh_ack = TcpFlags::from_bits(0x18);
            assert_eq!(sloppy_tcp_state(dir, psh_ack), S::Established);
        }
        for dir in [TcpDir::Input, TcpDir::InputOnly] {
            assert_eq!(sloppy_tcp_state(dir, FINACK), S::Close);
            assert_eq!(sloppy_tcp_state(dir, TcpFlags::default()), S::Close);
            assert_eq!(sloppy_tcp_state(dir, SYN), S::SynRecv);
        }
    }

    #[test]
    fn no_flags_means_close() {
        assert_eq!(
            tcp_transition(S::Established, TcpDir::Input, TcpFlags::default()),
            S::Close
        );
    }

    #[test]
    fn names_and_activity_match_ipvsadm() {
        let names: Vec<_> = TcpState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "NONE",
                "ESTABLISHED",
                "SYN_SENT",
                "SYN_RECV",
                "FIN_WAIT",
                "TIME_WAIT",
                "CLOSE",
                "CLOSE_WAIT",
                "LAST_ACK",
                "LISTEN",
                "SYNACK"
            ]
        );
        for s in TcpState::ALL {
            assert_eq!(s.is_active(), s == S::Established);
            assert_eq!(TcpState::from_u8(s as u8), Some(s));
        }
        assert_eq!(TcpState::from_u8(11), None);
    }

    #[test]
    fn default_timeouts_are_the_kernels() {
        let t = Timeouts::default();
        assert_eq!(t.listed(), (900, 120, 300));
        let expect = [
            (S::None, 2),
            (S::Established, 900),
            (S::SynSent, 120),
            (S::SynRecv, 60),
            (S::FinWait, 120),
            (S::TimeWait, 120),
            (S::Close, 10),
            (S::CloseWait, 60),
            (S::LastAck, 30),
            (S::Listen, 120),
            (S::SynAck, 120),
        ];
        for (s, secs) in expect {
            assert_eq!(t.tcp(s), secs, "{}", s.name());
        }
        assert_eq!(t.udp(), 300);
    }

    #[test]
    fn set_changes_established_fin_wait_and_udp_and_zero_keeps() {
        let mut t = Timeouts::default();
        t.set(3600, 0, 60).unwrap();
        assert_eq!(t.listed(), (3600, 120, 60));
        t.set(0, 30, 0).unwrap();
        assert_eq!(t.listed(), (3600, 30, 60));
        // The other states are untouched.
        assert_eq!(t.tcp(S::TimeWait), 120);
        assert_eq!(t.tcp(S::Close), 10);
    }

    #[test]
    fn set_refuses_more_than_31_days_atomically() {
        let mut t = Timeouts::default();
        t.set(u64::from(MAX_TIMEOUT_SECS), 0, 0).unwrap();
        assert_eq!(t.listed().0, 2_678_400);
        let before = t;
        let err = t.set(100, 0, 2_678_401).unwrap_err();
        assert_eq!(
            err,
            TimeoutError {
                which: "udp",
                secs: 2_678_401
            }
        );
        assert_eq!(t, before, "a refused --set changes nothing");
        assert!(err.to_string().contains("udp timeout 2678401"));
    }

    #[test]
    fn set_tcp_state_refuses_zero() {
        let mut t = Timeouts::default();
        assert!(t.set_tcp_state(S::Close, 0).is_err());
        t.set_tcp_state(S::Close, 3).unwrap();
        assert_eq!(t.tcp(S::Close), 3);
    }
}
